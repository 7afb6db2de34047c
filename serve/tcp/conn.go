// Package tcp serves the client connections of mode: tcp frontends. One
// stream per connection runs its tcp-request rules (which read the
// client's bytes through txn.req), then either a TCP service (AppletTCP)
// or a tunnel to a server, after the tcp-response rules saw the server's
// bytes (stream runs those, within the backend's inspect delay).
package tcp

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// Frontend is a TCP frontend as its connections see it. It is built once
// from the configuration and shared, read-only, by every loop.
type Frontend struct {
	Stream    *stream.Frontend
	KeepAlive time.Duration // how long a connection may stay silent
	// InspectDelay bounds, from the accept, the waits of the tcp-request
	// rules' channel reads (0: none).
	InspectDelay time.Duration
	Track        *sticktable.Table
}

// Loop is what the TCP connections of one loop share; used from that
// loop's goroutine only. It does not list the connections: their owner
// does, and calls CheckIdle on them.
type Loop struct {
	Env *stream.Env
}

// Writes this large go straight to the socket instead of through the
// connection's output buffer.
const directWrite = 16 << 10

// trackBytesEvery is how many bytes a tracked connection relays between two
// updates of the tracking table, so that long tunnels show up before they end.
const trackBytesEvery = 64 << 10

// Conn is one client connection of a TCP frontend.
type Conn struct {
	l     *Loop
	fe    *Frontend
	stats *metrics.Frontend
	c     transport.Conn
	id    int64
	st    *stream.Stream
	step  func() // st.Step, made once: a method value passed on allocates

	// out holds what the running handler sends to the client: borrowed
	// from the loop's pool on the first write and given back empty by
	// flush before the handler returns.
	out *transport.Buf

	busy         bool // inside a handler: OnClose must not free what the stack uses
	closed       bool
	closing      bool // close once what is buffered has left
	lingering    bool // closing: the output has left or is leaving, input is dropped
	lingerUntil  time.Time
	waiting      bool // the script waits for client bytes
	clientDone   bool // the client closed its side
	readPaused   bool // reading from the client stopped: the script holds enough unread
	sessionEnded bool // the sess.* variables of the closed connection were dropped
	uncounted    bool // the closed connection left its frontend's count (stats.Sessions)
	lastSeen     time.Time

	// inspectEnd is when the inspect delay ends (zero: no delay);
	// inspectArmed, that its timer runs; inspectOver, that it ended and
	// the stream was told (FlagInspectOver).
	inspectEnd   time.Time
	inspectArmed bool
	inspectOver  bool

	trackKey string               // the client's key in the frontend's tracking table
	bytes    sticktable.ByteCount // bytes exchanged with the client not yet in the tracking table
}

// New serves connection c of frontend fe on loop l and starts its stream.
func New(l *Loop, fe *Frontend, stats *metrics.Frontend, c transport.Conn, id int64, prog int) *Conn {
	t := &Conn{l: l, fe: fe, stats: stats, c: c, id: id, lastSeen: l.Env.Loop.Now()}
	if fe.InspectDelay > 0 {
		t.inspectEnd = t.lastSeen.Add(fe.InspectDelay)
	}
	t.st = stream.New(l.Env, t, stream.KindTCP, fe.Stream)
	t.step = t.st.Step
	if t.trackKey = sticktable.TrackKey(fe.Track, c.RemoteAddr()); t.trackKey != "" {
		fe.Track.ConnOpen(t.trackKey)
	}
	if err := t.st.Start(lj.EntryTCP, prog, id); err != nil {
		l.Env.Log.Error("no coroutine for a connection", "err", err)
		t.closeNow()
		return t
	}
	var src, dst []byte
	var sp, dp int
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src, sp = []byte(a.IP.String()), a.Port
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		dst, dp = []byte(a.IP.String()), a.Port
	}
	t.st.S().SetKind(cgo.KindTCP)
	t.st.S().SetAddrs(src, sp, dst, dp)
	stream.SetConnTLS(t.st.S(), c)
	stream.SetConnProxy(t.st.S(), c)
	if t.trackKey != "" {
		// The stick counters the scripts read, without a gate call each.
		l.Env.Lua.FillStick(t.st.S(), fe.Track, t.trackKey)
	}
	t.st.Src = src
	if c.Unread() {
		// What the client sent with its connection is read before the
		// rules' first run, as HAProxy receives before it analyses:
		// OnTraffic, at the loop's next turn, runs them on it.
		t.waiting = true
		return t
	}
	t.Handle(t.step)
	return t
}

// Handle runs fn as a handler of the connection, then flushes and frees
// what a close left behind.
func (t *Conn) Handle(fn func()) {
	if t.busy {
		fn()
		return
	}
	checkNoOutput(t)
	t.busy = true
	fn()
	t.flush()
	t.busy = false
	t.afterWork()
}

// OnTraffic passes the client's bytes to the tunnel or the script.
func (t *Conn) OnTraffic() {
	checkNoOutput(t)
	if t.lingering {
		t.c.Discard(-1)
		return
	}
	t.lastSeen = t.l.Env.Loop.Now()
	buf := t.c.Peek()
	if len(buf) == 0 {
		return
	}
	t.countBytes(int64(len(buf)), 0)
	if tun := t.st.Tunnel(); tun != nil {
		t.st.LogBytesIn(len(buf))
		tun.Write(buf)
		t.c.Discard(len(buf))
		if t.clientDone {
			t.ended()
		}
		if tun.Backlog() >= transport.HighWater {
			t.st.Throttle(t.c, tun.Backlog, func() bool { return t.st.Tunnel() != tun || t.closed })
		}
		return
	}
	if !t.st.Running() {
		t.c.Discard(len(buf)) // the rules or service are over; the rest is dropped
		return
	}
	if !t.st.Body(buf) {
		t.l.Env.Log.Error("no memory for a TCP client's bytes; closing the connection", "frontend", t.fe.Stream.Name)
		t.Handle(func() {
			t.st.Close()
			t.closeNow()
		})
		return
	}
	t.c.Discard(len(buf))
	if t.waiting {
		t.waiting = false
		t.Handle(t.step)
	}
	if t.clientDone && t.c.Inbound() == 0 {
		t.ended()
	}
	if !t.waiting && t.st.Running() && t.st.Unread() > stream.UnreadHigh && !t.readPaused {
		t.readPaused = true
		t.c.PauseRead()
	}
}

// resumeRead reads from the client again after the script caught up.
func (t *Conn) resumeRead() {
	if t.readPaused {
		t.readPaused = false
		t.c.ResumeRead()
	}
}

// BodyConsumed reads from the client again once the script holds little
// unread.
func (t *Conn) BodyConsumed(unread int) {
	if unread < stream.UnreadLow {
		t.resumeRead()
	}
}

// SendHead is not used on TCP streams.
func (t *Conn) SendHead(*stream.Head) {}

// SendData sends bytes to the client.
func (t *Conn) SendData(p []byte) {
	t.lastSeen = t.l.Env.Loop.Now() // sending counts as activity too
	if len(p) >= directWrite {
		t.flush()
		if !t.closed {
			t.send(p)
		}
		return
	}
	if t.out == nil {
		t.out = t.l.Env.Bufs.Get()
	}
	t.out.B = append(t.out.B, p...)
}

// SendTrailers is not used on TCP streams.
func (t *Conn) SendTrailers(*stream.Trailers) {}

// EndResponse closes the connection once what was sent has left.
func (t *Conn) EndResponse() { t.closing = true }

// Abort closes the connection.
func (t *Conn) Abort() { t.closeNow() }

// Fail closes the connection: TCP has no error answer.
func (t *Conn) Fail(int) { t.closeNow() }

// WaitBody waits for more client bytes, unless the client closed (then
// the stream has FlagBodyEnd: the rules' next run is their last). Until
// the inspect delay ends, a timer is armed that ends it (once): the
// stream then gets FlagInspectOver, and a script waiting is resumed.
func (t *Conn) WaitBody() bool {
	if t.clientDone && t.c.Inbound() == 0 {
		t.st.S().SetFlag(cgo.FlagBodyEnd)
		return false
	}
	if !t.inspectEnd.IsZero() && !t.inspectOver {
		left := t.inspectEnd.Sub(t.l.Env.Loop.Now())
		if left <= 0 {
			t.endInspect()
			return false
		}
		if !t.inspectArmed {
			t.inspectArmed = true
			t.after(left, func() { t.Handle(t.inspectTimeout) })
		}
	}
	t.waiting = true
	t.resumeRead()
	return true
}

// inspectTimeout ends the inspect delay and resumes a waiting script.
func (t *Conn) inspectTimeout() {
	if t.closed || t.inspectOver || !t.st.Running() {
		return
	}
	t.endInspect()
	if t.waiting {
		t.waiting = false
		t.step()
	}
}

func (t *Conn) endInspect() {
	t.inspectOver = true
	t.st.S().SetFlag(cgo.FlagInspectOver)
}

// Backlog is how many bytes sent to the client have not left yet.
func (t *Conn) Backlog() int {
	if t.out == nil {
		return t.c.Outbound()
	}
	return t.c.Outbound() + len(t.out.B)
}

// SetSockopts applies TXN:set_tos and set_mark to the client socket.
func (t *Conn) SetSockopts(tos, mark int) {
	if err := transport.SetTOSMark(t.c, tos, mark); err != nil {
		t.l.Env.Log.Debug("set_tos / set_mark", "err", err)
	}
}

// Forwarded is not used on TCP streams (they tunnel).
func (t *Conn) Forwarded(stream.Upstream) {}

// flush writes what the running handler assembled and gives the buffer
// back to the loop's pool, empty.
func (t *Conn) flush() {
	if t.out != nil {
		if len(t.out.B) > 0 && !t.closed {
			t.send(t.out.B)
		}
		t.l.Env.Bufs.Put(t.out)
		t.out = nil
	}
	if t.closing && !t.closed {
		t.close()
	}
}

// send writes p to the client, counting it for the tracking table.
func (t *Conn) send(p []byte) {
	t.countBytes(0, int64(len(p)))
	t.c.Write(p)
}

// countBytes counts bytes from (in) and to (out) a tracked client.
func (t *Conn) countBytes(in, out int64) {
	if t.trackKey == "" {
		return
	}
	t.bytes.In += in
	t.bytes.Out += out
	if t.bytes.In+t.bytes.Out >= trackBytesEvery {
		t.bytes.AddTo(t.fe.Track, t.trackKey)
	}
}

// lingerFor is how long a closing connection keeps dropping what its
// client still sends before it closes.
const lingerFor = 2 * time.Second

// close ends the connection without destroying what was sent: closing a
// socket with unread input makes the kernel reset the connection, and the
// reset can overtake the last bytes. So the connection half-closes once
// its output has left, drops what still arrives, and closes when the
// client does or after lingerFor.
func (t *Conn) close() {
	if t.closed || t.lingering {
		return
	}
	if t.clientDone {
		t.c.Close() // the client sent all it will: nothing to drop
		return
	}
	t.lingering = true
	t.lingerUntil = t.l.Env.Loop.Now().Add(lingerFor)
	transport.CloseWriteWhenSent(t.after, t.c, func() bool { return t.closed })
}

// after runs fn on the loop after d.
func (t *Conn) after(d time.Duration, fn func()) { t.l.Env.Loop.After(d, fn) }

func (t *Conn) closeNow() {
	t.closing = true
	t.flush()
}

// OnPeerEOF keeps the connection when its client ended its side while
// its session goes on (eventloop.HalfCloser): what the client sent goes
// to the script or the server, the server's input ends after it, and
// what the script or the server sends back still reaches the client,
// as HAProxy passes a shutdown on in both directions. traffic and end
// are the OnTraffic and OnClose of the connection's owner.
func (t *Conn) OnPeerEOF(traffic func(), end func(error)) bool {
	if t.closed || t.closing || t.lingering || t.busy || (t.st.Tunnel() == nil && !t.st.Running()) {
		return false
	}
	if transport.Detach(t.c, t.l.Env.Loop.Post, traffic, end, t.fe.KeepAlive) != nil {
		return false
	}
	traffic() // what arrived with the end, unless reading is paused
	t.clientDone = true
	if t.c.Inbound() == 0 {
		t.ended()
	}
	return true
}

// ended passes on, once the stream has all the client sent, that no
// more comes: to the tunnel, and to a script waiting for bytes.
func (t *Conn) ended() {
	t.st.ClientEnded()
	if t.st.Running() && t.waiting {
		t.waiting = false
		t.st.S().SetFlag(cgo.FlagBodyEnd)
		t.Handle(t.step)
	}
}

// OnClose lets a script waiting for bytes see the end, then frees the
// connection's stream. A client that closed its side (not one that reset
// the connection) ends the session normally: HAProxy's --, not CD.
func (t *Conn) OnClose(err error) {
	if errors.Is(err, io.EOF) {
		t.st.LogTerm("--", "")
	}
	t.closed = true
	t.clientDone = true
	if t.trackKey != "" {
		t.bytes.AddTo(t.fe.Track, t.trackKey)
		t.fe.Track.ConnClose(t.trackKey)
	}
	if t.st.Running() && t.waiting && !t.busy {
		t.waiting = false
		t.st.S().SetFlag(cgo.FlagBodyEnd)
		t.Handle(t.step)
	}
	if !t.busy {
		t.afterWork()
	}
}

func (t *Conn) afterWork() {
	if !t.closed || t.busy {
		return
	}
	t.st.Close()
	if !t.uncounted {
		// Once its line is written: the line's %ac and %fc count the
		// connection, as HAProxy's do.
		t.uncounted = true
		t.stats.Sessions.Dec()
	}
	if t.st.SessVars() && !t.sessionEnded {
		t.sessionEnded = true
		stream.EndSession(t.l.Env, t.id)
	}
}

// CheckIdle closes a connection silent for longer than the frontend's
// keep_alive timeout, or the backend's tunnel timeout once it is piped.
func (t *Conn) CheckIdle(now time.Time) {
	if t.lingering {
		if !t.closed && now.After(t.lingerUntil) {
			t.c.Close()
		}
		return
	}
	limit := t.fe.KeepAlive
	if tun := t.st.Tunnel(); tun != nil && tun.IdleTimeout() > 0 {
		limit = tun.IdleTimeout()
	}
	if !t.closed && now.Sub(t.lastSeen) > limit {
		t.Handle(func() {
			t.st.LogTerm("cD", "idle timeout")
			t.st.Close()
			t.closeNow()
		})
	}
}
