// Package ws serves WebSocket connections: an HTTP/1.1 connection whose
// Lua service accepted an upgrade (serve/http1 sends the 101) is handed
// here with its stream, whose coroutine goes on running. Frames are parsed
// on the loop with proto/ws's Reader from the connection's inbound bytes,
// written with its Writer through the connection's transport.Conn; the
// service receives and sends whole messages (lj/lua/websocket.lua).
//
// A Conn belongs to one loop and is used from that loop's goroutine only.
package ws

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/ws"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// Frontend is an HTTP frontend's WebSocket settings. It is built once from
// the configuration and shared by every loop; only open changes.
type Frontend struct {
	Limits  ws.Limits // frame and message sizes
	Deflate bool      // permessage-deflate may be negotiated
	// MaxConns bounds the frontend's WebSocket connections over every loop
	// (0: no bound); past it an upgrade is refused with 503.
	MaxConns int64
	// Idle closes (1001) a connection that carried no message either way
	// for that long; 0: never.
	Idle time.Duration
	// PingInterval: a ping is sent after that long without a frame from
	// the client; the connection closes if nothing arrives within
	// PingTimeout of it.
	PingInterval, PingTimeout time.Duration
	// CloseTimeout bounds the wait for the client's close frame after
	// ours, and for the client to end the TCP connection after that.
	CloseTimeout time.Duration
	Track        *sticktable.Table // the tracking table whose ConnClose is ours to call
	// Hooks: the frontend's ws chain runs hook scripts, whose ws_open and
	// ws_close a relay runs too (Relay.Hooks).
	Hooks bool

	open atomic.Int64 // WebSocket connections open, over every loop
}

// Admit takes a place for one more WebSocket connection; false when the
// frontend has MaxConns already. The place is given back when the
// connection closes.
func (f *Frontend) Admit() bool {
	n := f.open.Add(1)
	if f.MaxConns > 0 && n > f.MaxConns {
		f.open.Add(-1)
		return false
	}
	return true
}

// Open returns how many WebSocket connections of the frontend are open.
func (f *Frontend) Open() int64 { return f.open.Load() }

// Loop is what the WebSocket connections of one loop share. It is used
// from that loop's goroutine only.
type Loop struct {
	Env   *stream.Env
	Conns map[*Conn]struct{} // open connections, for deadlines and draining
	// Flate is the loop's compressors and decompressor: a message is
	// compressed or inflated within one call, so connections hold none.
	Flate ws.Flate

	byID map[int64]*Conn // the open connections by connection id, for the Lua gate

	// Publishing (hub.go): the hub, the subscribers by topic, how many
	// subscriptions there are (read by other loops' publishes), and the
	// framing of published messages.
	hub     *Hub
	hubID   int
	topics  map[string]map[*Conn]struct{}
	subs    atomic.Int64
	pubW    ws.Writer
	pubBufs [variants][]byte
}

// Conn returns the open connection of id on this loop, or nil.
func (l *Loop) Conn(id int64) *Conn { return l.byID[id] }

// Sizes of the buffers a connection keeps between messages, and the
// inbound bytes past which reading stops while the script has not taken
// the last message.
const (
	bodyKept    = 64 << 10
	inboundHigh = 256 << 10
)

// Conn is one WebSocket connection and the stream of its service.
type Conn struct {
	l        *Loop
	fe       *Frontend
	stats    *metrics.Frontend // this loop's counters of the frontend
	c        transport.Conn
	id       int64
	trackKey string
	st       *stream.Stream

	r        ws.Reader
	w        ws.Writer
	maxFrame int
	variant  int // how published messages are framed for it (hub.go)

	topics map[string]struct{} // the topics it subscribed to

	// out holds the frames the running handler assembles: borrowed from
	// the loop's pool on the handler's first write, given back empty by
	// flush before the handler returns.
	out *transport.Buf
	// dropped assembles the messages that arrive once the service has
	// ended (they are read for the close frame after them, and dropped).
	dropped []byte

	lastIn  time.Time // the last frame from the client
	lastMsg time.Time // the last message either way
	pingAt  time.Time // the ping not answered yet; zero: none
	closeAt time.Time // closeSent or lingering: when the TCP connection closes at the latest

	// started: the script ran on from its accept (the first Handle);
	// until then no message is handed to it, so that it reads accept's
	// outcome before the stream's fields carry a message.
	started  bool
	waiting  bool   // the script waits in receive
	waitGen  uint64 // counts waits, so that a stale receive timer does nothing
	waitCode uint16 // the close code the script gets once the connection is gone
	// waitReason goes with waitCode once the client's close frame came
	// or the client broke the protocol (tellClose).
	waitReason string

	busy       bool // inside a handler: OnClose must not free what the stack uses
	closed     bool // OnClose ran
	closeSent  bool // our close frame is queued: nothing more is sent
	closeRecv  bool // the client's close frame arrived: nothing more is read
	failed     bool // the client broke the protocol: nothing more is read
	closing    bool // end the TCP connection once the output has left
	abort      bool // close at once, without lingering
	lingering  bool // half-closed: dropping what arrives until the client ends
	readPaused bool
	ended      bool // afterWork released the stream and the session
}

// New serves connection c as a WebSocket after its 101: st is the stream
// of the service that accepted it (it becomes the WebSocket's), d the
// permessage-deflate agreement, trackKey the client's tracking key ("":
// none) whose ConnClose is now this Conn's; stats.Sessions is decremented
// and the frontend's place (Admit) given back when it closes.
func New(l *Loop, fe *Frontend, stats *metrics.Frontend, c transport.Conn, id int64, trackKey string, st *stream.Stream, d ws.Deflate) *Conn {
	h := &Conn{l: l, fe: fe, stats: stats, c: c, id: id, trackKey: trackKey, st: st}
	h.r.Init(ws.Server, fe.Limits, d, &l.Flate)
	h.w.Init(ws.Server, d, &l.Flate)
	h.maxFrame = fe.Limits.MaxFrame
	if h.maxFrame <= 0 {
		h.maxFrame = ws.DefaultMaxFrame
	}
	now := h.now()
	h.lastIn, h.lastMsg = now, now
	if d.On {
		bits := int(d.ServerMaxWindowBits)
		if bits == 0 {
			bits = 15
		}
		h.variant = bits - 7
	}
	l.Conns[h] = struct{}{}
	if l.byID == nil {
		l.byID = map[int64]*Conn{}
	}
	l.byID[id] = h
	st.BecomeWebSocket(h)
	return h
}

func (h *Conn) now() time.Time { return h.l.Env.Loop.Now() }

// OnTraffic reads what arrived.
func (h *Conn) OnTraffic() {
	checkNoOutput(h)
	if h.lingering {
		h.c.Discard(-1)
		return
	}
	// Bytes arriving show the client alive, parsed yet or not (a service
	// slow to take its messages leaves frames, its pongs among them, unread).
	h.lastIn, h.pingAt = h.now(), time.Time{}
	h.busy = true
	h.read()
	h.flush()
	h.busy = false
	h.afterWork()
}

// Handle runs fn as a handler of this connection (a resumed script), then
// reads what waits and flushes.
func (h *Conn) Handle(fn func()) {
	if h.busy {
		fn()
		return
	}
	checkNoOutput(h)
	h.busy = true
	fn()
	h.started = true
	h.read()
	h.flush()
	h.busy = false
	h.afterWork()
}

// read parses the inbound frames: control frames are answered here, data
// messages go to the script one at a time (into its stream's body, the
// only copy of their bytes before Lua's string). It stops while the script
// has not taken the last one, pausing the socket once enough waits.
func (h *Conn) read() {
	for !h.closed && !h.closeRecv && !h.failed && !h.lingering {
		if h.c.Inbound() < max(1, h.r.Need()) {
			break // nothing, or not the whole of the frame begun
		}
		in := h.c.Peek()
		s := h.st.S()
		if s != nil && (!h.started || s.WSOp() != 0) {
			break // the script has not taken the last message
		}
		msg := h.dropped
		if s != nil {
			b, ok := s.BodyRoom(min(len(in), h.maxFrame+14))
			if !ok {
				h.closeWith(ws.CloseInternalError, "")
				h.closing = true
				break
			}
			msg = b
		}
		ev, n, err := h.r.Next(in, &msg)
		if err == ws.ErrIncomplete {
			break
		}
		if err != nil {
			h.protocolError(err)
			break
		}
		now := h.now()
		h.lastIn, h.pingAt = now, time.Time{}
		switch ev.Op {
		case ws.OpPing:
			if !h.closeSent {
				o := h.outBuf()
				o.B = h.w.AppendPong(o.B, ev.Payload)
			}
		case ws.OpClose:
			h.closeRecv = true
			h.closeWith(ev.Code, string(ev.Payload)) // the RFC's echo
			h.closing = true
			h.tellClose(ev.Code, ev.Payload)
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			if s == nil {
				h.dropped = msg[:0]
				if ev.Op == ws.OpContinuation {
					h.dropped = msg
				}
				break
			}
			if !s.SetBody(msg) {
				h.closeWith(ws.CloseInternalError, "")
				h.closing = true
				break
			}
			if ev.Op != ws.OpContinuation {
				h.lastMsg = now
				op := cgo.MsgText
				if ev.Op == ws.OpBinary {
					op = cgo.MsgBinary
				}
				s.SetWS(op, 0, nil)
				h.wake()
			}
		}
		h.c.Discard(n)
	}
	h.throttle()
}

// throttle stops reading from the client while the script has a message
// to take and more waits than inboundHigh, and reads again once it took
// it; an idle connection's large body buffer is freed.
func (h *Conn) throttle() {
	if h.closed {
		return
	}
	s := h.st.S()
	blocked := s != nil && (!h.started || s.WSOp() != 0) && h.c.Inbound() > 0
	switch {
	case blocked && !h.readPaused && h.c.Inbound() >= inboundHigh:
		h.readPaused = true
		h.c.PauseRead()
	case !blocked && h.readPaused:
		h.readPaused = false
		h.c.ResumeRead()
	}
	if s != nil && s.WSOp() == 0 && s.BodyUnread() == 0 && h.c.Inbound() == 0 {
		s.TrimBody(bodyKept)
	}
	if cap(h.dropped) > bodyKept {
		h.dropped = nil
	}
}

// wake resumes the script if it waits for a message.
func (h *Conn) wake() {
	if !h.waiting {
		return
	}
	h.waiting = false
	h.waitGen++
	h.st.Step()
}

// tellClose gives the script the close (code, reason) if it waits for a
// message; otherwise WaitBody does when it next waits: meanwhile the
// stream's io may hold what the script waits on (a socket's bytes).
func (h *Conn) tellClose(code uint16, reason []byte) {
	h.waitCode, h.waitReason = code, string(reason)
	s := h.st.S()
	if !h.waiting || s == nil || s.WSOp() != 0 {
		return
	}
	s.SetWS(cgo.MsgClose, int(code), reason)
	h.wake()
}

// protocolError fails the connection (RFC 6455 §7.1.7): a close frame
// with the error's code, then the TCP connection ends.
func (h *Conn) protocolError(err error) {
	var e *ws.Error
	code, reason := ws.CloseProtocolError, err.Error()
	if errors.As(err, &e) {
		code = e.Code
	}
	h.l.Env.Log.Debug("WebSocket protocol error", "code", code, "err", err, "remote", h.c.RemoteAddr())
	h.failed = true
	h.closeWith(code, reason)
	h.closing = true
	h.tellClose(code, []byte(reason))
}

// closeWith queues our close frame, unless one was sent already.
func (h *Conn) closeWith(code uint16, reason string) {
	if h.closeSent || h.closed {
		return
	}
	h.closeSent = true
	h.closeAt = h.now().Add(h.fe.CloseTimeout)
	if code != ws.CloseNoStatus && !ws.ValidCloseCode(code) {
		code, reason = ws.CloseNormal, ""
	}
	o := h.outBuf()
	o.B = h.w.AppendClose(o.B, code, reason)
}

// SendMessage frames a message the script sent. Nothing is sent after
// our close frame.
func (h *Conn) SendMessage(p []byte, flags uint8) {
	if h.closed || h.closeSent {
		return
	}
	switch flags {
	case cgo.MsgText:
		o := h.outBuf()
		o.B = h.w.AppendMessage(o.B, ws.OpText, p)
		h.lastMsg = h.now()
	case cgo.MsgBinary:
		o := h.outBuf()
		o.B = h.w.AppendMessage(o.B, ws.OpBinary, p)
		h.lastMsg = h.now()
	case cgo.MsgPing:
		o := h.outBuf()
		o.B = h.w.AppendPing(o.B, p[:min(len(p), ws.MaxControlPayload)])
	case cgo.MsgPong:
		o := h.outBuf()
		o.B = h.w.AppendPong(o.B, p[:min(len(p), ws.MaxControlPayload)])
	case cgo.MsgClose:
		code := ws.CloseNoStatus
		if len(p) >= 2 {
			code = binary.BigEndian.Uint16(p)
			p = p[2:]
		}
		h.closeWith(code, string(p))
		if h.closeRecv {
			h.closing = true
		}
	}
	if h.outLen() >= writeAt {
		h.c.Write(h.out.B)
		h.out.B = h.out.B[:0]
	}
}

// writeAt is how many bytes of frames the output buffer collects before
// they are written, so that it stays a small pool buffer.
const writeAt = 64 << 10

// WaitBody is the script waiting for a message (receive): false when one
// is there or none will come (the script resumes on the next loop turn).
// The timeout the script gave (milliseconds, in its op's argument) resumes
// it without one.
func (h *Conn) WaitBody() bool {
	s := h.st.S()
	if s.WSOp() != 0 {
		return false
	}
	if h.closed || h.closeRecv || h.failed {
		code, reason := h.waitCode, "connection closed"
		if code == 0 {
			code = ws.CloseAbnormal
		}
		if h.closeRecv || h.failed {
			reason = h.waitReason
		}
		s.SetWS(cgo.MsgClose, int(code), []byte(reason))
		return false
	}
	h.waiting = true
	h.waitGen++
	if _, ms := s.Op(); ms > 0 {
		gen := h.waitGen
		h.l.Env.Loop.After(time.Duration(ms*float64(time.Millisecond)), func() {
			if h.waitGen != gen || !h.waiting || h.closed {
				return
			}
			h.waiting = false
			h.waitGen++
			h.Handle(h.st.Step)
		})
	}
	return true
}

// EndResponse: the service returned. The connection closes (1000), once
// the client answered our close or at the close timeout.
func (h *Conn) EndResponse() {
	h.waiting = false
	h.closeWith(ws.CloseNormal, "")
	if h.closeRecv || h.failed {
		h.closing = true
	}
}

// Fail: the service failed (1011).
func (h *Conn) Fail(int) {
	h.waiting = false
	h.closeWith(ws.CloseInternalError, "")
	h.closing = true
}

// Abort closes the connection without a close handshake.
func (h *Conn) Abort() {
	h.waiting = false
	h.closing, h.abort = true, true
}

// Backlog is how many bytes sent to the client have not left yet.
func (h *Conn) Backlog() int { return h.c.Outbound() + h.outLen() }

// SetSockopts applies TXN:set_tos and set_mark to the client socket.
func (h *Conn) SetSockopts(tos, mark int) {
	if err := transport.SetTOSMark(h.c, tos, mark); err != nil {
		h.l.Env.Log.Debug("set_tos / set_mark", "err", err)
	}
}

// The HTTP parts of stream.Protocol: after the 101 the stream sends
// messages only, and receives no body.
func (h *Conn) SendHead(*stream.Head)         {}
func (h *Conn) SendData([]byte)               {}
func (h *Conn) SendTrailers(*stream.Trailers) {}
func (h *Conn) BodyConsumed(int)              {}
func (h *Conn) Forwarded(stream.Upstream)     {}

// CheckDeadline sends pings, and closes a connection whose client stopped
// answering, stayed idle too long, or did not answer our close.
func (h *Conn) CheckDeadline(now time.Time) {
	if h.closed {
		return
	}
	if h.readPaused {
		// Paused for its service, the client is not late: it is waited for.
		h.lastIn, h.pingAt = now, time.Time{}
	}
	switch {
	case h.lingering || h.closeSent:
		if now.After(h.closeAt) {
			h.c.Close()
		}
		return
	case !h.pingAt.IsZero():
		if now.Sub(h.pingAt) >= h.fe.PingTimeout {
			h.l.Env.Log.Debug("WebSocket ping timeout", "remote", h.c.RemoteAddr())
			h.c.Close()
		}
		return
	}
	h.busy = true
	switch {
	case h.fe.Idle > 0 && now.Sub(h.lastMsg) >= h.fe.Idle:
		h.closeWith(ws.CloseGoingAway, "idle timeout")
		h.waitCode = ws.CloseGoingAway
	case h.fe.PingInterval > 0 && now.Sub(h.lastIn) >= h.fe.PingInterval:
		h.pingAt = now
		o := h.outBuf()
		o.B = h.w.AppendPing(o.B, nil)
	}
	h.flush()
	h.busy = false
	h.afterWork()
}

// Drain is called at shutdown: the connection closes with 1001 once the
// client answered (or at the close timeout).
func (h *Conn) Drain() {
	if h.closed || h.busy {
		return
	}
	h.busy = true
	h.closeWith(ws.CloseGoingAway, "server shutting down")
	h.flush()
	h.busy = false
	h.afterWork()
}

// outBuf returns the connection's output buffer, borrowing an empty one
// from the loop's pool if the running handler has not written yet.
func (h *Conn) outBuf() *transport.Buf {
	if h.out == nil {
		h.out = h.l.Env.Bufs.Get()
	}
	return h.out
}

// outLen is how many bytes the running handler assembled.
func (h *Conn) outLen() int {
	if h.out == nil {
		return 0
	}
	return len(h.out.B)
}

// flush writes what the running handler assembled and gives the buffer
// back to the loop's pool, empty; then ends the connection if it is
// closing. Every handler flushes before it returns.
func (h *Conn) flush() {
	if h.out != nil {
		if len(h.out.B) > 0 && !h.closed {
			h.c.Write(h.out.B)
		}
		h.l.Env.Bufs.Put(h.out)
		h.out = nil
	}
	if !h.closing || h.closed || h.lingering {
		return
	}
	if h.abort {
		h.c.Close()
		return
	}
	// Our close frame must not be overtaken by a reset: half-close once it
	// has left, drop what still arrives, close when the client does or at
	// the close timeout.
	h.lingering = true
	h.closeAt = h.now().Add(h.fe.CloseTimeout)
	transport.CloseWriteWhenSent(h.after, h.c, func() bool { return h.closed })
}

// after runs fn on the loop after d.
func (h *Conn) after(d time.Duration, fn func()) { h.l.Env.Loop.After(d, fn) }

// OnClose releases what the connection holds. A script waiting for a
// message gets the close (1006 unless a close frame came) and runs until
// it waits again; then its stream ends.
func (h *Conn) OnClose(error) {
	if h.closed {
		return
	}
	h.closed = true
	h.stats.Sessions.Dec()
	h.fe.open.Add(-1)
	if h.trackKey != "" {
		h.fe.Track.ConnClose(h.trackKey)
	}
	delete(h.l.Conns, h)
	delete(h.l.byID, h.id)
	h.unsubscribeAll()
	if h.busy {
		return
	}
	if h.waiting {
		h.waiting = false
		h.waitGen++
		if s := h.st.S(); s != nil && s.WSOp() == 0 {
			s.SetWS(cgo.MsgClose, int(ws.CloseAbnormal), []byte("connection closed"))
			h.st.Step()
		}
	}
	h.afterWork()
}

// afterWork frees what a closed connection still holds once no code on
// the stack uses it.
func (h *Conn) afterWork() {
	if !h.closed || h.ended {
		return
	}
	h.ended = true
	if h.out != nil {
		h.l.Env.Bufs.Put(h.out)
		h.out = nil
	}
	h.st.Close()
	if h.st.SessVars() {
		stream.EndSession(h.l.Env, h.id)
	}
}
