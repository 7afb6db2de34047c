package ws

import (
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/proto/ws"
	"github.com/luaedge/luaedge/stream"
)

// Relay carries a WebSocket forwarded to a backend whose frontend has
// ws_filters: instead of tunnelling the bytes, it reads the frames each
// way, runs the filters (one coroutine run, lj.EntryWSFilter) on each
// whole message, and frames what they let through (or answer) anew.
// Control frames are relayed as they come. No extension is negotiated
// (proxy drops Sec-WebSocket-Extensions), so messages are plain.
//
// A Relay belongs to the client connection's loop and is driven by that
// connection (serve/http1): what the client sent (FromClient), what the
// server sent (FromServer). A filter may wait (core.msleep, a socket, a
// forced yield): meanwhile the client is not read (Busy) and what the
// server sends waits in the relay (Pending, counted in the client's
// backlog, so the server is throttled); messages keep their order.
type Relay struct {
	l      *Loop
	st     *stream.Stream // runs the filters: one run per message
	chain  int            // the frontend's chain in the loop's Lua state
	connID int64
	handle func(func())      // runs a function as a handler of the client connection
	fail   func(code uint16) // closes both sides, after close frames with code

	client, server relaySide
	from           *relaySide // the sender of the message being filtered; nil when none is
	failed         bool
	frame          []byte // scratch: the frame being written

	// head is the upgrade request's, for the hook scripts the chain runs
	// (nil: none), copied into each run's stream; closed: their ws_close
	// has been run.
	head   *reqHead
	closed bool
	// The drain at shutdown (Drain): closing, a close frame was relayed
	// (the peers' own closing handshake is under way); draining, the
	// server stops; closesSent, our close frames went to both sides,
	// after which their frames are dropped but for the close that
	// answers ours (relaySide.answered).
	closing, draining, closesSent bool
}

// relaySide is one end of the relay: what it sent is parsed with r, what
// goes to it is framed with w and handed to send.
type relaySide struct {
	r       ws.Reader
	w       ws.Writer
	send    func([]byte)
	pending []byte // what it sent that is not parsed yet: a frame not complete, or what came while a filter ran
	msg     []byte // the message going on
	fromID  int32  // ws_code for the filters: 0 the client, 1 the server
	other   *relaySide
	// answered: its close frame came after ours (Drain).
	answered bool
}

// NewRelay makes the relay of one forwarded WebSocket: chain is the
// frontend's filter chain (lj.State.WSFilterChain), toClient and
// toServer write bytes to either side, handle runs a function as a
// handler of the client connection, fail ends the connection.
func NewRelay(l *Loop, fe *Frontend, chain int, connID int64, toClient, toServer func([]byte), handle func(func()), fail func(code uint16)) *Relay {
	r := &Relay{l: l, chain: chain, connID: connID, handle: handle, fail: fail}
	r.client.r.Init(ws.Server, fe.Limits, ws.Deflate{}, nil)
	r.client.w.Init(ws.Server, ws.Deflate{}, nil)
	r.client.send = toClient
	r.server.r.Init(ws.Client, fe.Limits, ws.Deflate{}, nil)
	r.server.w.Init(ws.Client, ws.Deflate{}, nil)
	r.server.send, r.server.fromID = toServer, 1
	r.client.other, r.server.other = &r.server, &r.client
	r.st = stream.New(l.Env, r, stream.KindHTTP, nil)
	r.st.BecomeWebSocket(r)
	return r
}

// FromClient takes what the client sent; the caller does not call it
// while Busy.
func (r *Relay) FromClient(p []byte) { r.take(&r.client, p) }

// FromServer takes what the server sent.
func (r *Relay) FromServer(p []byte) { r.take(&r.server, p) }

// Busy reports that a filter is running (it waits for something): the
// client's bytes are left unread meanwhile.
func (r *Relay) Busy() bool { return r.from != nil }

// Pending is how many bytes the relay holds: the server's, while a filter
// runs, count as the client's backlog.
func (r *Relay) Pending() int { return len(r.client.pending) + len(r.server.pending) }

// take parses what src sent. p is the caller's (its connection's input,
// discarded after): what is not parsed now is copied to wait.
func (r *Relay) take(src *relaySide, p []byte) {
	if r.failed {
		return
	}
	if r.Busy() || len(src.pending) > 0 {
		src.pending = append(src.pending, p...)
		r.pump()
		return
	}
	n := r.parse(src, p)
	src.pending = append(src.pending[:0], p[n:]...)
	r.pump()
}

// pump parses what waits on either side, until a filter waits or nothing
// complete is left.
func (r *Relay) pump() {
	for _, src := range [...]*relaySide{&r.client, &r.server} {
		if r.Busy() || r.failed || len(src.pending) < max(1, src.r.Need()) {
			continue // nothing, or not the whole of the frame begun
		}
		n := r.parse(src, src.pending)
		src.pending = append(src.pending[:0], src.pending[n:]...)
	}
	for _, src := range [...]*relaySide{&r.client, &r.server} {
		if cap(src.pending) > bodyKept && len(src.pending) == 0 {
			src.pending = nil
		}
	}
}

// parse reads the frames at the start of in that src sent, until one is
// not complete or a filter waits, and returns the bytes used.
func (r *Relay) parse(src *relaySide, in []byte) int {
	used := 0
	for used < len(in) && !r.failed && !r.Busy() {
		ev, n, err := src.r.Next(in[used:], &src.msg)
		if err == ws.ErrIncomplete {
			break
		}
		if err != nil {
			code := ws.CloseProtocolError
			if e, ok := err.(*ws.Error); ok {
				code = e.Code
			}
			r.l.Env.Log.Debug("WebSocket protocol error on a filtered connection", "code", code, "err", err)
			r.stop(code)
			return len(in)
		}
		used += n
		dst := src.other
		if r.closesSent {
			// Drained: only the close that answers ours counts.
			src.msg = src.msg[:0]
			if ev.Op == ws.OpClose {
				src.answered = true
				if src.other.answered {
					r.l.Env.Loop.Post(r.drained)
				}
			}
			continue
		}
		switch ev.Op {
		case ws.OpPing:
			r.write(dst, dst.w.AppendPing(r.frame[:0], ev.Payload))
		case ws.OpPong:
			r.write(dst, dst.w.AppendPong(r.frame[:0], ev.Payload))
		case ws.OpClose:
			r.closing = true
			r.write(dst, dst.w.AppendClose(r.frame[:0], ev.Code, string(ev.Payload)))
		case ws.OpText, ws.OpBinary:
			r.filter(src, ev.Op)
		}
	}
	return used
}

func (r *Relay) write(dst *relaySide, frame []byte) {
	r.frame = frame
	dst.send(frame)
}

// filter runs the chain on the message src sent; what the filters let
// through goes out in SendMessage, during the run.
func (r *Relay) filter(src *relaySide, op ws.Opcode) {
	if err := r.st.Start(lj.EntryWSFilter, r.chain, r.connID); err != nil {
		r.l.Env.Log.Error("no coroutine for a WebSocket filter", "err", err)
		r.stop(ws.CloseInternalError)
		return
	}
	s := r.st.S()
	r.head.fill(s)
	flag := cgo.MsgText
	if op == ws.OpBinary {
		flag = cgo.MsgBinary
	}
	if !s.AppendBody(src.msg) {
		r.st.End()
		r.stop(ws.CloseInternalError)
		return
	}
	s.SetWS(flag, int(src.fromID), nil)
	if cap(src.msg) > bodyKept {
		src.msg = nil
	}
	src.msg = src.msg[:0]
	r.from = src
	r.st.Step()
	r.stepped()
}

// stepped notes the end of the filters' run, unless they wait; a drain
// that waited for it sends its close frames.
func (r *Relay) stepped() {
	if !r.st.Running() {
		r.from = nil
		if r.draining && !r.closesSent && !r.closing && !r.failed {
			r.sendCloses()
		}
	}
}

// Drain closes the relayed WebSocket at shutdown: both sides get a close
// frame (1001, "going away") at once, or once the filter running has
// sent what it lets through; from then on what they send is dropped but
// for the close frames that answer ours, and once both came the
// connection ends (or at shutdown_timeout). When a close frame was
// relayed already, the peers' own closing handshake goes on.
func (r *Relay) Drain() {
	if r.failed || r.draining {
		return
	}
	r.draining = true
	if !r.closing && !r.Busy() {
		r.sendCloses()
	}
}

// sendCloses sends our close frames to both sides.
func (r *Relay) sendCloses() {
	r.closesSent = true
	r.write(&r.client, r.client.w.AppendClose(r.frame[:0], ws.CloseGoingAway, "server shutting down"))
	r.write(&r.server, r.server.w.AppendClose(r.frame[:0], ws.CloseGoingAway, "server shutting down"))
}

// drained ends the connection once both sides answered the drain's close
// frames; it runs as a task of its own, not under the relaying of what a
// side sent.
func (r *Relay) drained() {
	if !r.failed {
		r.failed = true
		r.fail(ws.CloseGoingAway)
	}
}

// SendMessage sends on what a filter let through, or its answer back to
// the sender (cgo.MsgReply).
func (r *Relay) SendMessage(p []byte, flags uint8) {
	if r.from == nil || r.failed {
		return
	}
	dst := r.from.other
	if flags&cgo.MsgReply != 0 {
		dst = r.from
	}
	op := ws.OpText
	if flags&cgo.MsgBinary != 0 {
		op = ws.OpBinary
	}
	r.write(dst, dst.w.AppendMessage(r.frame[:0], op, p))
	if cap(r.frame) > bodyKept {
		r.frame = nil
	}
}

// Handle resumes the filters (they waited) as a handler of the client
// connection; once they are done, what waited is parsed.
func (r *Relay) Handle(fn func()) {
	r.handle(func() {
		fn()
		r.stepped()
		r.pump()
	})
}

// Backlog is the client's backlog, for a filter whose sends park.
func (r *Relay) Backlog() int { return 0 }

// stop ends the relay: both sides get a close frame with code, and the
// connection ends.
func (r *Relay) stop(code uint16) {
	if r.failed {
		return
	}
	r.failed = true
	r.from = nil
	r.write(&r.client, r.client.w.AppendClose(r.frame[:0], code, ""))
	r.write(&r.server, r.server.w.AppendClose(r.frame[:0], code, ""))
	r.fail(code)
}

// Close releases the filters' stream (the connection closed), after the
// hooks' ws_close.
func (r *Relay) Close() {
	r.failed = true
	r.st.Close()
	if r.head != nil && !r.closed {
		r.closed = true
		r.event(cgo.MsgClose)
	}
}

// Hooks has the chain run its hook scripts' ws_open now and ws_close when
// the relay closes, and gives them the upgrade request s (copied).
func (r *Relay) Hooks(s *cgo.Stream) {
	r.head = copyHead(s)
	r.event(0)
}

// event runs the chain's hooks on an event of the WebSocket: 0 it opened,
// cgo.MsgClose it closed.
func (r *Relay) event(op int) {
	if err := r.st.Start(lj.EntryWSFilter, r.chain, r.connID); err != nil {
		r.l.Env.Log.Error("no coroutine for WebSocket hooks", "err", err)
		return
	}
	s := r.st.S()
	r.head.fill(s)
	s.SetWS(op, 0, nil)
	r.from = &r.client // messages wait while the hooks run
	r.st.Step()
	r.stepped()
}

// reqHead is a copy of a request's head, for the runs of hooks that
// outlive the request's stream.
type reqHead struct {
	method, target, path, query, authority, scheme, src, dst []byte
	srcPort, dstPort, major, minor                           int
	kind                                                     cgo.Kind
	fields                                                   [][2][]byte
}

func copyHead(s *cgo.Stream) *reqHead {
	c := func(b []byte) []byte { return append([]byte(nil), b...) }
	h := &reqHead{method: c(s.Method()), target: c(s.Target()), path: c(s.Path()), query: c(s.Query()),
		authority: c(s.Authority()), scheme: c(s.Scheme()), kind: s.Kind()}
	src, srcPort, dst, dstPort := s.Addrs()
	h.src, h.srcPort, h.dst, h.dstPort = c(src), srcPort, c(dst), dstPort
	h.major, h.minor = s.Version()
	for i, n := 0, s.NumFields(); i < n; i++ {
		if name, value := s.Field(i); len(name) > 0 {
			h.fields = append(h.fields, [2][]byte{c(name), c(value)})
		}
	}
	return h
}

// fill writes the head into s (nothing when h is nil).
func (h *reqHead) fill(s *cgo.Stream) {
	if h == nil {
		return
	}
	s.SetRequestLine(h.method, h.target, h.path, h.query, h.major, h.minor)
	s.SetAuthority(h.authority)
	s.SetScheme(h.scheme)
	s.SetAddrs(h.src, h.srcPort, h.dst, h.dstPort)
	s.SetKind(h.kind)
	for _, f := range h.fields {
		s.AddField(f[0], f[1])
	}
}

// SessVars reports whether a filter set sess.* variables of the
// connection: they are dropped when it closes.
func (r *Relay) SessVars() bool { return r.st.SessVars() }

// What the filters' stream asks of its protocol: a failed filter stops
// the relay; the rest has nothing to do.
func (r *Relay) Fail(int)                      { r.stop(ws.CloseInternalError) }
func (r *Relay) Abort()                        { r.stop(ws.CloseInternalError) }
func (r *Relay) EndResponse()                  {}
func (r *Relay) WaitBody() bool                { return false }
func (r *Relay) BodyConsumed(int)              {}
func (r *Relay) SetSockopts(int, int)          {}
func (r *Relay) Forwarded(stream.Upstream)     {}
func (r *Relay) SendHead(*stream.Head)         {}
func (r *Relay) SendData([]byte)               {}
func (r *Relay) SendTrailers(*stream.Trailers) {}
