// Package http2 serves HTTP/2 client connections over cleartext TCP with
// prior knowledge (h2c: the client opens with the HTTP/2 preface). The
// wire format is proto/http2's; each request runs as its own
// stream.Stream, several at once on the connection's loop.
package http2

import (
	"net"
	"time"
	"unsafe"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// Frontend is an HTTP frontend as its HTTP/2 connections see it. It is
// built once from the configuration and shared, read-only, by every loop.
type Frontend struct {
	Stream *stream.Frontend
	stream.HTTPOptions
	Limits http2.Limits
	// WS is the frontend's WebSocket settings, for WebSocket over HTTP/2
	// (Limits.ExtendedConnect, ws.go); nil: none.
	WS *servews.Frontend
}

// Loop is what the HTTP/2 connections of one loop share. It is used from
// that loop's goroutine only. It does not list the connections: their
// owner does, and calls CheckDeadline and Drain on them.
type Loop struct {
	Env *stream.Env
	// WS serves the WebSockets of extended CONNECT streams; NewConnID
	// gives each such stream a connection id of its own. nil: none.
	WS        *servews.Loop
	NewConnID func() int64
}

// Sniff tells whether the first bytes of a connection are the HTTP/2
// client preface (h2), or cannot be (decided and not h2); with too few
// bytes to say, decided is false.
func Sniff(buf []byte) (h2, decided bool) {
	k := min(len(buf), len(http2.ClientPreface))
	if string(buf[:k]) != http2.ClientPreface[:k] {
		return false, true
	}
	return k == len(http2.ClientPreface), k == len(http2.ClientPreface)
}

// Conn is one HTTP/2 client connection and its streams.
type Conn struct {
	l     *Loop
	fe    *Frontend
	stats *metrics.Frontend // this loop's counters of the frontend
	c     transport.Conn
	id    int64
	prog  int
	h2    *http2.Conn // the connection's protocol state; its output is written by flush

	// Addresses, formatted once per connection for the fetches src and dst.
	srcIP, dstIP     []byte
	srcPort, dstPort int
	trackKey         string // the client's key in the frontend's tracking table ("": none)
	// Bytes exchanged with the client not yet in the tracking table:
	// what Feed consumed, what was written.
	bytes sticktable.ByteCount

	// streams are the requests being answered, by stream id. A stream
	// stays until its response has been queued whole (or it was reset).
	streams map[uint32]*reqStream

	// WSFilter is the frontend's ws_filters chain in the loop's Lua state
	// (0: none), for the tunnels of forwarded extended CONNECTs; set by
	// whoever made the Conn.
	WSFilter int

	// scratch is this connection's buffer for small values built while
	// answering (a date, a content-length, an error body).
	scratch []byte

	deadline     time.Time // of an idle connection (no stream)
	headerSince  time.Time // when a header block or frame left unfinished was first seen by CheckDeadline
	busy         bool      // inside a handler: OnClose must not free what the stack uses
	closed       bool
	ending       bool // end was called: output done, input dropped, closing
	outHeld      bool // the client does not read: output stays in h2 (flush)
	shutdown     bool // a graceful GOAWAY was begun
	sessVars     bool // a script of this connection set sess.* variables
	sessionEnded bool
	uncounted    bool // the closed connection left its frontend's count (stats.Sessions)
}

// New serves connection c of frontend fe on loop l once its first bytes
// showed the HTTP/2 preface; id is the connection's number (for sess.*
// variables), prog the frontend's program in the loop's Lua state. The
// connection may have been counted and tracked already (serve/http1's
// Handoff): trackKey is its tracking key, whose ConnClose is now this
// Conn's to call; stats.Sessions is decremented when it closes.
func New(l *Loop, fe *Frontend, stats *metrics.Frontend, c transport.Conn, id int64, prog int, trackKey string) *Conn {
	h := &Conn{l: l, fe: fe, stats: stats, c: c, id: id, prog: prog, trackKey: trackKey,
		h2: http2.NewConn(fe.Limits), streams: map[uint32]*reqStream{}}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		h.srcIP, h.srcPort = []byte(a.IP.String()), a.Port
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		h.dstIP, h.dstPort = []byte(a.IP.String()), a.Port
	}
	h.deadline = h.now().Add(fe.KeepAlive)
	return h
}

func (h *Conn) now() time.Time { return h.l.Env.Loop.Now() }

// OnTraffic feeds what arrived to the protocol and acts on its events.
func (h *Conn) OnTraffic() {
	if h.ending {
		h.c.Discard(-1)
		return
	}
	h.busy = true
	h.process()
	checkNoOutput(h)
	h.busy = false
	h.afterWork()
}

// Upgrade starts a connection that HTTP/1 handed over after answering 101
// to an Upgrade: h2c request: settings are its HTTP2-Settings (already
// checked), req the request, which becomes stream 1. The client preface
// may already be buffered.
func (h *Conn) Upgrade(settings []byte, req *http2.Event) {
	h.busy = true
	if err := h.h2.Upgrade(settings); err != nil {
		h.l.Env.Log.Debug("HTTP/2 upgrade refused", "err", err, "remote", h.c.RemoteAddr())
		h.h2.GoAway(http2.ErrCodeProtocol)
		h.end()
	} else {
		h.request(req)
		h.process()
	}
	checkNoOutput(h)
	h.busy = false
	h.afterWork()
}

// process consumes the buffered input, then flushes.
func (h *Conn) process() {
	buf := h.c.Peek()
	n, err := h.h2.Feed(buf)
	h.bytes.In += int64(n)
	if err == nil {
		// The events alias buf: they are handled before it is discarded.
		for _, ev := range h.h2.Events() {
			if h.closed {
				break
			}
			h.event(&ev)
		}
	}
	h.c.Discard(n)
	if err != nil {
		h.l.Env.Log.Debug("HTTP/2 connection error", "err", err, "remote", h.c.RemoteAddr())
		h.logNoPreface(true, err.Error())
		h.closeAll()
		h.end()
		return
	}
	h.flush()
}

func (h *Conn) event(ev *http2.Event) {
	switch ev.Kind {
	case http2.EventRequest:
		h.request(ev)
	case http2.EventData:
		if rs := h.streams[ev.Stream]; rs != nil && rs.ws != nil {
			rs.ws.data(ev.Data, ev.End)
		} else if rs != nil && rs.tunnel != nil {
			rs.tunnel.data(ev.Data, ev.End)
		} else if rs != nil {
			rs.data(ev.Data, ev.End)
		} else {
			h.h2.Consumed(ev.Stream, len(ev.Data))
		}
	case http2.EventTrailers:
		if rs := h.streams[ev.Stream]; rs != nil && rs.ws != nil {
			rs.ws.Close() // the client's end of the stream
		} else if rs != nil && rs.tunnel != nil {
			rs.tunnel.data(nil, true)
		} else if rs != nil {
			rs.trailers(ev.Fields)
		}
	case http2.EventReset:
		if rs := h.streams[ev.Stream]; rs != nil {
			h.forget(rs)
			if rs.ws != nil {
				rs.ws.lost()
			} else {
				rs.st.Close()
			}
		}
	case http2.EventWindow:
		if rs := h.streams[ev.Stream]; rs != nil {
			rs.sendPending()
		}
	}
}

// bytesOf views a string the protocol decoded as bytes, for the C
// stream's setters, which copy them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// request starts the stream of a request head.
func (h *Conn) request(ev *http2.Event) {
	rs := &reqStream{h: h, id: ev.Stream, connID: h.id, bodyDone: ev.End, head: ev.Method == "HEAD"}
	if ev.Protocol != "" && h.l.NewConnID != nil {
		rs.connID = h.l.NewConnID()
	}
	rs.st = stream.New(h.l.Env, rs, stream.KindHTTP, h.fe.Stream)
	rs.st.Src = h.srcIP
	h.streams[ev.Stream] = rs
	if ev.ContentLength > h.fe.MaxBody {
		rs.st.LogRequestLine(bytesOf(ev.Method), bytesOf(ev.Path), 2, 0)
		rs.refuse(413, "content-length over limits.max_body")
		return
	}
	if err := rs.st.Start(lj.EntryHTTP, h.prog, rs.connID); err != nil {
		h.l.Env.Log.Error("no coroutine for a request", "err", err)
		rs.refuse(503, "no coroutine: "+err.Error())
		return
	}
	h.stats.Requests.Inc()
	if h.trackKey != "" {
		h.fe.Track.HTTPRequest(h.trackKey)
		h.bytes.AddTo(h.fe.Track, h.trackKey)
	}
	rs.st.SetHead(ev.Method == "HEAD")
	s := rs.st.S()
	s.SetKind(cgo.KindHTTP2)
	s.SetStreamID(ev.Stream)
	target := bytesOf(ev.Path)
	path, query := target, []byte(nil)
	for i, b := range target {
		if b == '?' {
			path, query = target[:i], target[i+1:]
			break
		}
	}
	s.SetRequestLine(bytesOf(ev.Method), target, path, query, 2, 0)
	s.SetAddrs(h.srcIP, h.srcPort, h.dstIP, h.dstPort)
	stream.SetConnTLS(s, h.c)
	stream.SetConnProxy(s, h.c)
	if h.trackKey != "" {
		h.l.Env.Lua.FillStick(s, h.fe.Track, h.trackKey)
	}
	s.SetAuthority(bytesOf(ev.Authority))
	s.SetScheme(bytesOf(ev.Scheme)) // the client's :scheme
	if ev.Protocol != "" {
		s.SetProtocol(bytesOf(ev.Protocol))
	}
	s.SetContentLength(ev.ContentLength)
	hasHost := false
	for _, f := range ev.Fields {
		hasHost = hasHost || f.Name == "host"
		if !s.AddField(bytesOf(f.Name), bytesOf(f.Value)) {
			rs.refuse(500, "no memory for the request head")
			return
		}
	}
	// Scripts written for HTTP/1 read the host header: :authority stands
	// for it (RFC 9113 §8.3.1).
	if !hasHost && ev.Authority != "" && !s.AddField([]byte("host"), bytesOf(ev.Authority)) {
		rs.refuse(500, "no memory for the request head")
		return
	}
	if rs.bodyDone {
		rs.st.BodyEnd(nil)
	} else if h.fe.BufferRequest {
		rs.buffering = true
		rs.deadline = h.now().Add(h.fe.BodyTime)
		return
	}
	rs.st.Step()
}

// forget drops a stream whose exchange is over.
func (h *Conn) forget(rs *reqStream) {
	if h.streams[rs.id] != rs {
		return
	}
	delete(h.streams, rs.id)
	if rs.tunnel != nil {
		rs.tunnel.close()
	}
	rs.gone = true
	if rs.ws == nil {
		// A WebSocket's stream has a connection id of its own, whose
		// session serve/ws ends.
		h.sessVars = h.sessVars || rs.st.SessVars()
	}
	rs.pending = nil
	if len(h.streams) == 0 {
		h.deadline = h.now().Add(h.fe.KeepAlive)
	}
}

// Handle runs fn as a handler of this connection (a resumed script or a
// backend's event), then flushes.
func (h *Conn) Handle(fn func()) {
	if h.busy {
		fn()
		return
	}
	h.busy = true
	fn()
	h.flush()
	checkNoOutput(h)
	h.busy = false
	h.afterWork()
}

// flush writes what the protocol queued, and closes a connection that is
// going away once its last stream is done.
//
// While the client leaves more than transport.HighWater unread, the
// protocol's output is held instead: the acknowledgements and resets the
// client makes us queue then count against Limits.MaxQueuedControl, which
// cuts off a client that floods PING or SETTINGS without reading (written
// out, they would pile up in the connection's output buffer without
// bound). Response bodies are not held (writeData writes them out): their
// scripts wait on Backlog.
func (h *Conn) flush() {
	if h.closed || h.ending {
		return
	}
	if h.c.Outbound() >= transport.HighWater {
		h.holdOutput()
	} else {
		h.writeOut()
	}
	if h.h2.Closing() && len(h.streams) == 0 && h.h2.Idle() {
		h.end()
	}
}

// holdOutput leaves the protocol's output queued until the client has
// read its backlog down to transport.LowWater, then flushes.
func (h *Conn) holdOutput() {
	if h.outHeld {
		return
	}
	h.outHeld = true
	var check func()
	check = func() {
		if h.closed || h.ending {
			return
		}
		if h.c.Outbound() > transport.LowWater {
			h.l.Env.Loop.After(transport.Recheck, check)
			return
		}
		h.outHeld = false
		h.Handle(func() {})
	}
	h.l.Env.Loop.After(transport.Recheck, check)
}

// writeOut writes what the protocol queued to the connection.
func (h *Conn) writeOut() {
	if h.closed || h.ending {
		return
	}
	if out := h.h2.Output(); len(out) > 0 {
		h.bytes.Out += int64(len(out))
		h.c.Write(out)
	}
}

// end closes the connection once, after writing what is queued. The
// client may have sent more meanwhile (a PING, a stream), and closing a
// socket with unread input resets it, which can overtake the GOAWAY: so
// the connection half-closes once its output has left, drops what still
// arrives, and closes when the client does or at its linger deadline.
func (h *Conn) end() {
	if h.closed || h.ending {
		return
	}
	if out := h.h2.Output(); len(out) > 0 {
		h.bytes.Out += int64(len(out))
		h.c.Write(out)
	}
	h.ending = true
	h.deadline = h.l.Env.Loop.Now().Add(transport.Linger)
	transport.CloseWriteWhenSent(func(d time.Duration, fn func()) { h.l.Env.Loop.After(d, fn) }, h.c, func() bool { return h.closed })
}

// CheckDeadline enforces the timeouts: of an idle connection, of a header
// block or the preface (or, without streams, a frame) left unfinished, of
// a script waiting for body, of a response the
// client's windows hold back; and, on a draining server, begins the
// graceful GOAWAY.
func (h *Conn) CheckDeadline(now time.Time) {
	if h.ending && !h.closed && now.After(h.deadline) {
		h.c.Close()
		return
	}
	if h.closed || h.ending {
		return
	}
	h.busy = true
	if h.l.Env.Draining() {
		h.Drain()
	}
	switch {
	// A header block or the client preface left unfinished, or a frame
	// on a connection without streams (slowloris).
	case h.h2.InHeaderBlock() || h.h2.InPreface() || (len(h.streams) == 0 && h.c.Inbound() > 0):
		if h.headerSince.IsZero() {
			h.headerSince = now
		} else if now.Sub(h.headerSince) > h.fe.RequestTime {
			h.h2.GoAway(http2.ErrCodeEnhanceYourCalm)
			h.closeAll()
			h.end()
		}
	default:
		h.headerSince = time.Time{}
	}
	if !h.ending && len(h.streams) == 0 && now.After(h.deadline) {
		h.h2.GoAway(http2.ErrCodeNo)
		h.end()
	}
	for _, rs := range h.streams {
		if !h.ending && !rs.deadline.IsZero() && now.After(rs.deadline) {
			rs.timedOut()
		}
	}
	h.flush()
	h.busy = false
	h.afterWork()
}

// Drain begins a graceful shutdown: GOAWAY, then the streams in flight
// finish and the connection closes once the last is done.
func (h *Conn) Drain() {
	if h.shutdown || h.closed {
		return
	}
	h.shutdown = true
	h.h2.Shutdown()
	for _, rs := range h.streams {
		if rs.tunnel != nil {
			rs.tunnel.drain()
		}
	}
	if !h.busy {
		h.flush()
	}
}

// DrainWebSocket closes the forwarded WebSockets (tunnels) of the
// connection with 1001 when a reload retires the generation; its other
// streams go on.
func (h *Conn) DrainWebSocket() {
	if h.closed || h.ending {
		return
	}
	h.Handle(func() {
		for _, rs := range h.streams {
			if rs.tunnel != nil {
				rs.tunnel.drain()
			}
		}
	})
}

// closeAll ends every stream: the connection is going.
func (h *Conn) closeAll() {
	for _, rs := range h.streams {
		h.forget(rs)
		if rs.ws != nil {
			rs.ws.lost()
		} else {
			rs.st.Close()
		}
	}
}

// OnClose releases what the connection holds.
func (h *Conn) OnClose(error) {
	if !h.ending {
		h.logNoPreface(h.h2.InPreface(), "client closed: no HTTP/2 preface")
	}
	h.closed = true
	if h.trackKey != "" {
		h.bytes.AddTo(h.fe.Track, h.trackKey)
		h.fe.Track.ConnClose(h.trackKey)
	}
	if !h.busy {
		h.afterWork()
	}
}

// logNoPreface logs a connection that ends, by its client's close or its
// bytes, before its client preface was whole, as HAProxy does: PR
// <BADREQ> with the status 0; sent says the client sent bytes: one that
// sent none is logged only if the frontend logs empty connections
// (access_log.log_empty, HAProxy without option dontlognull). Timed out
// without the preface, it is not logged (nor by HAProxy).
func (h *Conn) logNoPreface(sent bool, cause string) {
	lg := h.fe.Stream.Log
	if h.h2.PrefaceDone() || len(h.streams) > 0 || lg == nil || !sent && !lg.Empty {
		return
	}
	rs := &reqStream{h: h, connID: h.id, gone: true}
	rs.st = stream.New(h.l.Env, rs, stream.KindHTTP, h.fe.Stream)
	rs.st.Src = h.srcIP
	rs.st.NoRequest(cause)
	rs.st.Close()
}

// afterWork frees what a closed connection still holds once no code on the
// stack uses it.
func (h *Conn) afterWork() {
	if !h.closed {
		return
	}
	h.closeAll()
	if !h.uncounted {
		// Once the streams' lines are written: their %ac and %fc count
		// the connection, as HAProxy's do.
		h.uncounted = true
		h.stats.Sessions.Dec()
	}
	if h.sessVars && !h.sessionEnded {
		h.sessionEnded = true
		stream.EndSession(h.l.Env, h.id)
	}
}

// appendDate appends the value of a Date field for now.
func appendDate(b []byte, now time.Time) []byte {
	const prefix = len("Date: ")
	start := len(b)
	b = http1.AppendDate(b, now)
	n := copy(b[start:], b[start+prefix:len(b)-2])
	return b[:start+n]
}
