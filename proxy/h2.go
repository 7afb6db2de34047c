package proxy

import (
	"bytes"
	"errors"
	"time"
	"unsafe"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// HTTP/2 to backend servers (a backend with proto: h2): a loop keeps one
// connection to a server and multiplexes the exchanges forwarded to it as
// streams, opening another only when the server takes no more streams on
// it. Request and response bodies move within HTTP/2's flow control: a
// response body is credited back to the server only once it is on its way
// to the client, so a slow client slows its own stream, not the others.

var errRefused = errors.New("server refused the stream")

// h2Conn is one HTTP/2 connection from a loop to a backend server. It
// belongs to the loop that dialled it, like its streams.
type h2Conn struct {
	p  *Pool
	be *Backend
	serverConn
	cc      *http2.ClientConn
	streams map[uint32]*h2Stream
	busy    bool // inside OnTraffic: events are being handled
}

// h2Stream is one exchange forwarded on an h2Conn: the stream.Upstream
// of its client stream.
type h2Stream struct {
	h        *h2Conn
	st       *stream.Stream // nil once the exchange ended or was abandoned
	id       uint32
	slot     bool // holds one of the server's connection slots
	deadline time.Time

	// Request body the server's windows hold back (copied), sent on
	// ClientWindow; end, with trailers, once it has all left.
	pending  []byte
	endAfter bool
	trailers []http1.Header

	// Response.
	headDone bool
	held     []byte // body not yet relayed (rules running, client slow); not yet credited
	ended    bool   // the server's END_STREAM arrived
	resp     []http1.Header
	rechecks bool          // a recheck of the client's backlog is scheduled
	persist  persist       // the backend's persistence cookie in this exchange
	timeout  time.Duration // the server timeout: the backend's, or the request's set-timeout
}

// openH2 forwards the request of st on an HTTP/2 connection to srv.
func (p *Pool) openH2(st *stream.Stream, b *Backend, srv *backend.Server) (stream.Upstream, int, string) {
	h, err := p.h2Conn(b, srv)
	if err != nil {
		srv.Done()
		return nil, 502, err.Error()
	}
	s := st.S()
	bodyDone := s.Flags()&cgo.FlagBodyEnd != 0 && s.BodyUnread() == 0 && s.NumTrailers() == 0
	cc := h.cc
	cc.StartRequest(s.Method(), []byte("http"), requestAuthority(s, srv), originForm(s.Target(), s.Path()))
	tokens := connectionTokens(p.tokens[:0], s.NumFields(), s.Field)
	p.tokens = tokens
	ps := persistenceOf(s, b, srv, p.loop.Now().Unix())
	sn := serverName{b.NameHeader, srv.Name()}
	for i, n := 0, s.NumFields(); i < n; i++ {
		name, value := s.Field(i)
		if len(name) == 0 || isHopByHop(name) || (len(tokens) > 0 && listed(tokens, name)) || sn.replaces(name) {
			continue
		}
		if http1.EqualFold(name, "cookie") {
			if value = ps.forwardCookie(value); value == nil {
				continue
			}
		}
		cc.AddField(name, value)
	}
	if sn.field != "" {
		cc.AddField([]byte(sn.field), []byte(sn.name))
	}
	id, err := cc.SendRequest(bodyDone)
	if err != nil {
		srv.Done()
		return nil, 502, err.Error()
	}
	timeout, _ := b.timeouts(s)
	u := &h2Stream{h: h, st: st, id: id, slot: true, timeout: timeout, deadline: p.loop.Now().Add(timeout), persist: ps}
	h.streams[id] = u
	if !bodyDone {
		if s.BodyUnread() > 0 {
			u.Body(s.TakeBody())
		}
		if s.Flags()&cgo.FlagBodyEnd != 0 {
			var tr []http1.Header
			for i := range s.NumTrailers() {
				name, value := s.Trailer(i)
				tr = append(tr, http1.Header{Name: bytes.Clone(name), Value: bytes.Clone(value)})
			}
			u.EndBody(tr)
		}
	}
	h.flush()
	return u, 0, ""
}

// h2Conn returns a connection to srv that takes one more stream, dialling
// one if none does.
func (p *Pool) h2Conn(b *Backend, srv *backend.Server) (*h2Conn, error) {
	for _, h := range p.h2[srv] {
		if !h.closed && h.cc.CanOpen() {
			return h, nil
		}
	}
	addr, err := dialAddrOf(srv.Addr())
	if err != nil {
		return nil, err
	}
	h := &h2Conn{p: p, be: b, serverConn: serverConn{srv: srv}, cc: http2.NewClientConn(http2.Limits{}), streams: map[uint32]*h2Stream{}}
	if err := p.loop.Dial(addr, h); err != nil {
		return nil, err
	}
	h.timer = p.loop.After(b.ConnectTimeout, func() {
		if h.c == nil && !h.closed {
			h.connectFailed(errConnectTimeout)
		}
	})
	p.h2[srv] = append(p.h2[srv], h)
	return h, nil
}

// requestAuthority is the :authority of a forwarded request: the
// client's (its :authority or host), else the server's address.
func requestAuthority(s *cgo.Stream, srv *backend.Server) []byte {
	if a := s.Authority(); len(a) > 0 {
		return a
	}
	for i, n := 0, s.NumFields(); i < n; i++ {
		if name, value := s.Field(i); http1.EqualFold(name, "host") {
			return value
		}
	}
	return []byte(srv.Addr())
}

// originForm is the :path of a forwarded request: the target itself,
// unless it is in absolute form (http://host/path?q), whose path and
// query are taken.
func originForm(target, path []byte) []byte {
	if len(target) == 0 || target[0] == '/' || string(target) == "*" {
		return target
	}
	if i := bytes.Index(target, []byte("://")); i >= 0 {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		if j := bytes.IndexByte(rest, '?'); j >= 0 {
			return append([]byte("/"), rest[j:]...)
		}
		return []byte("/")
	}
	return path
}

// Opened is called on the loop when the dial completed; to a server
// with TLS, the handshake comes first (ALPN h2).
func (h *h2Conn) Opened(c transport.Conn) {
	h.opened(c, h.p.loop, h.p.handshakes, h.be.ConnectTimeout, (*clearH2Conn)(h), h.connectFailed)
	h.flush()
}

// clearH2Conn is an h2Conn as the handler of its TLS connection's clear
// side.
type clearH2Conn h2Conn

func (c *clearH2Conn) OnTraffic()        { (*h2Conn)(c).traffic() }
func (c *clearH2Conn) OnClose(err error) { (*h2Conn)(c).onClose(err) }

// DialFailed is called on the loop when the dial failed.
func (h *h2Conn) DialFailed(err error) { h.connectFailed(err) }

func (h *h2Conn) connectFailed(err error) {
	if h.closed {
		return
	}
	h.srv.ReportConnectError()
	h.fail(err)
}

// flush writes what the connection's protocol queued.
func (h *h2Conn) flush() {
	if out := h.cc.Output(); len(out) > 0 && !h.closed {
		h.send(out)
	}
}

// OnTraffic is the gnet event of the connection: its TLS's, if any.
func (h *h2Conn) OnTraffic() {
	if h.tc != nil {
		h.tc.OnTraffic()
		return
	}
	h.traffic()
}

// OnClose is the gnet event of the connection: its TLS's, if any.
func (h *h2Conn) OnClose(err error) {
	if h.tc != nil {
		h.tc.OnClose(err)
		return
	}
	h.onClose(err)
}

// traffic feeds the server's frames to the protocol and hands each
// stream what concerns it.
func (h *h2Conn) traffic() {
	if h.closed {
		return
	}
	h.busy = true
	buf := h.c.Peek()
	n, err := h.cc.Feed(buf)
	if err == nil {
		for _, ev := range h.cc.Events() {
			if u := h.streams[ev.Stream]; u != nil {
				u.event(&ev)
			}
		}
	}
	h.c.Discard(n)
	h.busy = false
	if err != nil {
		h.p.log.Warn("HTTP/2 connection error from server", "backend", h.be.Name(), "server", h.srv.Name(), "err", err)
		h.flush()
		h.fail(errBadResponse)
		return
	}
	h.flush()
	if h.cc.Idle() && !h.cc.CanOpen() {
		h.close() // the server sent GOAWAY and the last stream is done
	}
}

// onClose is called when the server side closed.
func (h *h2Conn) onClose(error) {
	if !h.closed {
		h.fail(errServerClosed)
	}
}

// fail ends the connection and every exchange on it.
func (h *h2Conn) fail(err error) {
	h.close()
	for _, u := range h.streams {
		u.fail(err)
	}
}

// close closes the connection and takes it out of the pool.
func (h *h2Conn) close() {
	if h.closed {
		return
	}
	h.shut()
	list := h.p.h2[h.srv]
	for i, x := range list {
		if x == h {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(h.p.h2, h.srv)
	} else {
		h.p.h2[h.srv] = list
	}
}

// event acts on what the server said of this stream.
func (u *h2Stream) event(ev *http2.ClientEvent) {
	st := u.st
	if st == nil {
		return
	}
	u.deadline = u.h.p.loop.Now().Add(u.timeout)
	switch ev.Kind {
	case http2.ClientResponse:
		u.headDone = true
		u.ended = ev.End
		st.Handle(func() {
			u.h.p.served(st, u.h.srv)
			s := st.S()
			s.SetResponse(ev.Status, []byte(http1.StatusText(ev.Status)))
			s.SetResponseVersion(2, 0)
			u.persist.begin(ev.Status)
			for _, f := range ev.Fields {
				if v, keep := u.persist.responseField(bytesOf(f.Name), bytesOf(f.Value), &u.h.p.cookie); keep {
					s.AddRField(bytesOf(f.Name), v)
				}
			}
			u.persist.addFields(s)
			st.UpstreamHead()
			u.relay()
		})
	case http2.ClientData:
		u.ended = ev.End
		if len(u.held) == 0 && !st.ResponseRulesRunning() && st.Backlog() < transport.HighWater {
			st.Handle(func() {
				st.UpstreamData(ev.Data)
				u.h.cc.Consumed(u.id, len(ev.Data))
				u.relay()
			})
			return
		}
		u.held = append(u.held, ev.Data...)
		st.Handle(u.relay)
	case http2.ClientTrailers:
		u.ended = true
		for _, f := range ev.Fields {
			u.resp = append(u.resp, http1.Header{Name: []byte(f.Name), Value: []byte(f.Value)})
		}
		st.Handle(u.relay)
	case http2.ClientReset:
		err := errBadResponse
		if ev.Code == http2.ErrCodeRefusedStream {
			err = errRefused
		}
		u.h.p.log.Warn("server reset a forwarded stream", "backend", u.h.be.Name(), "server", u.h.srv.Name(), "code", ev.Code)
		u.fail(err)
	case http2.ClientWindow:
		u.sendPending()
	}
}

// relay passes on what the client may take of the response held back,
// and ends the exchange once the server's END_STREAM has been relayed.
// It runs as a handler of the client's connection.
func (u *h2Stream) relay() {
	st := u.st
	if st == nil || !u.headDone || st.ResponseRulesRunning() {
		return
	}
	if len(u.held) > 0 {
		if st.Backlog() >= transport.HighWater {
			u.recheck()
			return
		}
		st.UpstreamData(u.held)
		u.h.cc.Consumed(u.id, len(u.held))
		u.held = u.held[:0]
		if !u.h.busy {
			u.h.flush() // the credit, at once
		}
	}
	if u.ended {
		u.finish()
	}
}

// recheck looks at the client's backlog again in a moment.
func (u *h2Stream) recheck() {
	if u.rechecks {
		return
	}
	u.rechecks = true
	u.h.p.loop.After(transport.Recheck, func() {
		u.rechecks = false
		if st := u.st; st != nil {
			st.Handle(u.relay)
		}
	})
}

// finish ends the exchange: the response is all relayed.
func (u *h2Stream) finish() {
	st := u.st
	u.st = nil
	u.forget()
	if len(u.resp) > 0 {
		st.UpstreamTrailers(u.resp)
	}
	st.UpstreamEnd()
}

// fail ends the exchange after an error: 502 (or 504) for the client.
func (u *h2Stream) fail(err error) {
	st := u.st
	u.st = nil
	u.h.cc.Reset(u.id, http2.ErrCodeCancel)
	u.forget()
	if st != nil {
		status := 502
		if errors.Is(err, errConnectTimeout) || errors.Is(err, errServerTimeout) {
			status = 504
		}
		st.Handle(func() { st.UpstreamFailed(status) })
	}
	if !u.h.busy {
		u.h.flush()
	}
}

// forget takes the stream off its connection and gives its slot back.
func (u *h2Stream) forget() {
	delete(u.h.streams, u.id)
	if u.slot {
		u.slot = false
		u.h.srv.Done()
	}
}

// Body sends request body bytes within the server's windows; the rest
// waits for credit.
func (u *h2Stream) Body(p []byte) {
	if len(p) == 0 || u.st == nil {
		return
	}
	if len(u.pending) > 0 {
		u.pending = append(u.pending, p...)
		return
	}
	n, err := u.h.cc.WriteData(u.id, p, false)
	if err == nil && n < len(p) {
		u.pending = append(u.pending, p[n:]...)
	}
	u.h.flush()
}

// EndBody ends the request, with its trailer fields, once the body has
// left.
func (u *h2Stream) EndBody(trailers []http1.Header) {
	if u.st == nil {
		return
	}
	u.endAfter, u.trailers = true, trailers
	u.sendPending()
}

// sendPending sends what the windows held back, then the request's end.
func (u *h2Stream) sendPending() {
	cc := u.h.cc
	if len(u.pending) > 0 {
		n, err := cc.WriteData(u.id, u.pending, u.endAfter && len(u.trailers) == 0)
		if err != nil {
			return
		}
		u.pending = u.pending[:copy(u.pending, u.pending[n:])]
		if len(u.pending) > 0 || !u.endAfter || len(u.trailers) == 0 {
			u.h.flush()
			return
		}
	} else if u.endAfter && len(u.trailers) == 0 {
		cc.WriteData(u.id, nil, true)
	}
	if u.endAfter && len(u.trailers) > 0 {
		cc.StartTrailers()
		for _, f := range u.trailers {
			if http1.ValidHeaderName(f.Name) && http1.ValidHeaderValue(f.Value) {
				cc.AddField(f.Name, f.Value)
			}
		}
		cc.SendTrailers(u.id)
		u.trailers = nil
	}
	u.h.flush()
}

// Backlog is how many request bytes have not left yet.
func (u *h2Stream) Backlog() int { return len(u.pending) + u.h.backlog() }

// Abandon ends the exchange from the client's side: the stream is reset,
// the connection and its other streams go on.
func (u *h2Stream) Abandon() {
	u.st = nil
	u.h.cc.Reset(u.id, http2.ErrCodeCancel)
	u.forget()
	u.h.flush()
}

// Resume goes on relaying once the http-response rules are done with the
// head.
func (u *h2Stream) AbortOnClose() bool { return false } // not queued

func (u *h2Stream) Resume() {
	if st := u.st; st != nil {
		u.h.p.loop.Post(func() {
			if u.st == st {
				st.Handle(u.relay)
			}
		})
	}
}

// checkH2Deadlines enforces timeouts.server on the loop's HTTP/2
// exchanges.
func (p *Pool) checkH2Deadlines(now time.Time) {
	for _, list := range p.h2 {
		for _, h := range list {
			for _, u := range h.streams {
				if u.st != nil && now.After(u.deadline) {
					u.fail(errServerTimeout)
				}
			}
		}
	}
}

// bytesOf views s as bytes, for calls that copy them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
