package http2

import (
	"net"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http2"
	"github.com/luaedge/luaedge/proto/ws"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/transport"
)

// WebSocket over HTTP/2 (RFC 8441). On a frontend with http2.websocket,
// the connection's SETTINGS allow extended CONNECT; a Lua service's
// ws:accept() on such a stream (:protocol websocket) answers 200, and
// from then on the stream's DATA frames carry the WebSocket's frames both
// ways. The stream is handed to serve/ws as a transport.Conn of its own
// (wsStream), so a WebSocket is served alike over HTTP/1.1 and HTTP/2:
// its frames, limits, pings, close handshake and deadlines are serve/ws's.

// Upgrade answers the script's ws:accept (stream.Upgrader) on an
// extended CONNECT: it checks the request (RFC 8441 §5) with what the
// script asked for, and either refuses it or sends the 200 and hands the
// stream to serve/ws.
func (rs *reqStream) Upgrade() {
	h := rs.h
	s := rs.st.S()
	refuse := func(status int, why string) { s.SetWS(0, status, []byte(why)) }
	switch {
	case h.fe.WS == nil || h.l.WS == nil || rs.gone:
		refuse(400, "WebSocket is not served on this connection")
		return
	case string(s.Method()) != "CONNECT" || string(s.Protocol()) != "websocket":
		refuse(400, "not a WebSocket request: over HTTP/2, a WebSocket is an extended CONNECT with :protocol websocket (RFC 8441)")
		return
	case rs.bodyTotal > 0 || rs.bodyDone:
		refuse(400, "the client sent data, or ended its stream, before the WebSocket was accepted")
		return
	}
	o, opt := h.fe.WS.Offer(s)
	res, err := o.AcceptConnect(&opt)
	if status, why := h.fe.WS.Refusal(err, h.l.Env.Draining()); status != 0 {
		refuse(status, why)
		return
	}
	h.h2.StartHeaders(rs.id, 200)
	for i, n := 0, s.NumRFields(); i < n; i++ {
		if name, value := s.RField(i); !ws.HandshakeField(name) {
			h.h2.AddField(name, value)
		}
	}
	if res.Protocol != "" {
		h.h2.AddField([]byte("sec-websocket-protocol"), []byte(res.Protocol))
	}
	if res.Deflate.On {
		h.h2.AddField([]byte("sec-websocket-extensions"), res.Deflate.AppendExtension(nil))
	}
	if h.fe.Date {
		h.scratch = appendDate(h.scratch[:0], h.now())
		h.h2.AddField([]byte("date"), h.scratch)
	}
	if h.fe.Server != nil {
		h.h2.AddField([]byte("server"), h.fe.Server)
	}
	sent := h.h2.SendHeaders(false) == nil
	rs.headSent = true
	rs.deadline = time.Time{}
	w := &wsStream{rs: rs}
	rs.ws = w
	// serve/ws counts the WebSocket as a session of the frontend and
	// ends it when it closes.
	h.stats.Sessions.Inc()
	s.SetKind(cgo.KindWebSocket)
	s.SetWS(0, 0, []byte(res.Protocol))
	w.ws = servews.New(h.l.WS, h.fe.WS, h.stats, w, rs.connID, "", rs.st, res.Deflate)
	if !sent {
		// Reset meanwhile: the WebSocket is closed as soon as it exists
		// (its script sees 1006), which gives its place back.
		h.forget(rs)
		w.lost()
	}
}

// wsStream is one HTTP/2 stream as the connection of a WebSocket. The
// client's DATA are copied into in (their bytes alias the Conn's input
// only until its next Feed) and credited back to the client's windows as
// they arrive, as a socket's bytes are read: a frame larger than the
// stream window must be whole before serve/ws parses it. While serve/ws
// pauses reading (its script has a message to take and 256 KiB more
// wait), what arrives is not credited, which stops the client within a
// window. What the WebSocket writes goes out in DATA frames, the rest
// waiting in the reqStream's pending for the client's windows. It belongs
// to its Conn, on the Conn's loop.
type wsStream struct {
	rs *reqStream
	ws *servews.Conn
	in []byte

	paused   bool // the WebSocket stopped reading: what arrives is not credited
	withheld int  // arrived while paused, credited on ResumeRead
	ended    bool // our END_STREAM went out
	closed   bool // the stream is over: the WebSocket is told (OnClose)
}

// wsKept bounds the input buffer an idle WebSocket stream keeps.
const wsKept = 64 << 10

// data takes what a DATA frame carried; end is the client's END_STREAM,
// the end of what it sends (as a TCP FIN).
func (w *wsStream) data(p []byte, end bool) {
	if w.closed {
		w.rs.h.h2.Consumed(w.rs.id, len(p))
		return
	}
	w.in = append(w.in, p...)
	if w.paused {
		w.withheld += len(p)
	} else {
		w.rs.h.h2.Consumed(w.rs.id, len(p))
	}
	w.ws.OnTraffic()
	if end {
		w.Close()
	}
}

// lost ends the stream from the client's side or the connection's:
// nothing more is sent, and the WebSocket is told.
func (w *wsStream) lost() {
	if w.closed {
		return
	}
	w.closed = true
	w.ws.OnClose(nil)
}

// output writes what the stream queued in the connection's protocol,
// unless a handler of the connection runs, which writes it when done.
func (w *wsStream) output() {
	if !w.rs.h.busy {
		w.rs.h.flush()
	}
}

// The transport.Conn serve/ws reads and writes through.

func (w *wsStream) Peek() []byte  { return w.in }
func (w *wsStream) Inbound() int  { return len(w.in) }
func (w *wsStream) Idle() bool    { return len(w.in) == 0 }
func (w *wsStream) Outbound() int { return len(w.rs.pending) + w.rs.h.c.Outbound() }

// Unread is false: a stream has no socket of its own; its DATA arrives
// through the connection's handler.
func (w *wsStream) Unread() bool { return false }

func (w *wsStream) Discard(n int) {
	if n < 0 || n > len(w.in) {
		n = len(w.in)
	}
	if n == 0 {
		return
	}
	w.in = w.in[:copy(w.in, w.in[n:])]
	if len(w.in) == 0 && cap(w.in) > wsKept {
		w.in = nil
	}
}

// Write sends p in DATA frames within the client's windows; what they do
// not take waits in pending (sent on the client's WINDOW_UPDATE).
func (w *wsStream) Write(p []byte) {
	rs := w.rs
	if w.closed || w.ended || len(p) == 0 {
		return
	}
	if len(rs.pending) > 0 {
		rs.pending = append(rs.pending, p...)
		return
	}
	n, err := rs.writeData(p)
	if err != nil {
		return
	}
	if n < len(p) {
		rs.pending = append(rs.pending, p[n:]...)
	}
	w.output()
}

// CloseWrite ends what we send (END_STREAM), once pending has left.
func (w *wsStream) CloseWrite() {
	if w.closed || w.ended || len(w.rs.pending) > 0 {
		return
	}
	w.ended = true
	w.rs.h.h2.WriteData(w.rs.id, nil, true)
	w.output()
}

// Close ends the stream: with END_STREAM when all we sent has left, else
// with RST_STREAM (CANCEL); the WebSocket is told on the next loop turn,
// as a connection's OnClose follows its Close.
func (w *wsStream) Close() {
	if w.closed {
		return
	}
	rs, h := w.rs, w.rs.h
	switch {
	case !w.ended && len(rs.pending) == 0:
		w.ended = true
		h.h2.WriteData(rs.id, nil, true)
	case !w.ended:
		h.h2.Reset(rs.id, http2.ErrCodeCancel)
	}
	if w.withheld > 0 {
		h.h2.Consumed(rs.id, w.withheld)
		w.withheld = 0
	}
	w.closed = true
	h.forget(rs)
	w.output()
	h.l.Env.Loop.Post(func() { w.ws.OnClose(nil) })
}

func (w *wsStream) PauseRead() { w.paused = true }

func (w *wsStream) ResumeRead() {
	w.paused = false
	if w.withheld > 0 && !w.closed {
		w.rs.h.h2.Consumed(w.rs.id, w.withheld)
		w.withheld = 0
		w.output()
	}
}

func (w *wsStream) SetSockopt(level, opt, value int) error {
	return w.rs.h.c.SetSockopt(level, opt, value)
}
func (w *wsStream) RemoteAddr() net.Addr { return w.rs.h.c.RemoteAddr() }
func (w *wsStream) LocalAddr() net.Addr  { return w.rs.h.c.LocalAddr() }

var _ transport.Conn = (*wsStream)(nil)
