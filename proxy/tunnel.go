package proxy

import (
	"bytes"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// tunnel is the server side of a TCP stream piped to a backend server.
type tunnel struct {
	p  *Pool
	st *stream.Stream
	be *Backend
	serverConn
	recvFn func() // t.receive, made once: a method value passed on allocates
	// stick is a copy of the stream's pending stick stores, written when
	// the connection is up: the stream's C state ends as the tunnel
	// starts. The tunnel's until then.
	stick []byte
}

// Tunnel connects the TCP stream st to a server of backend be and sends it
// the client bytes already buffered.
func (p *Pool) Tunnel(st *stream.Stream, be int, src []byte) (stream.Tunnel, string) {
	if be < 0 || be >= len(p.backends) {
		return nil, "no backend"
	}
	b := p.backends[be]
	// A TCP stream does not wait in the queue: the server a use-server or
	// stick rule chose takes it if it has room, else the balancing's.
	var srv *backend.Server
	want := persistent(st, be, b)
	if w := stickRules(st, b); want == nil {
		want = w
	}
	if want != nil {
		srv = b.PickServer(want)
	}
	if srv == nil {
		srv = b.Pick(src)
	}
	if srv == nil {
		return nil, "no server available in backend " + b.Name()
	}
	target, _, err := dialTarget(st, srv)
	var addr dialAddr
	if err == nil {
		addr, err = dialAddrOf(target)
	}
	if err != nil {
		srv.Done()
		return nil, err.Error()
	}
	st.LogServer(srv.Name(), false)
	t := &tunnel{p: p, st: st, be: b, serverConn: serverConn{srv: srv, slot: true}}
	t.recvFn = t.receive
	t.sendProxy(st)
	t.pending = append(t.pending, st.S().TakeBody()...)
	if stores := requestStores(st); len(stores) > 0 {
		t.stick = bytes.Clone(stores)
	}
	if err := p.loop.Dial(addr, t); err != nil {
		t.freeSlot()
		return nil, err.Error()
	}
	t.timer = p.loop.After(b.ConnectTimeout, func() {
		if t.c == nil && !t.closed {
			t.srv.ReportConnectError()
			t.fail(errConnectTimeout)
		}
	})
	return t, ""
}

// Opened is called on the loop when the dial completed.
// The access log is told when the connection opened.
func (t *tunnel) Opened(c transport.Conn) {
	t.opened(c, t.p.loop, t.p.handshakes, t.be.ConnectTimeout, (*clearTunnel)(t), t.DialFailed)
	t.st.LogConnected()
	t.p.stickStore(t.stick, t.srv)
	t.stick = nil
	t.st.TunnelOpened()
}

// clearTunnel is a tunnel as the handler of its TLS connection's clear
// side.
type clearTunnel tunnel

func (c *clearTunnel) OnTraffic()        { (*tunnel)(c).traffic() }
func (c *clearTunnel) OnClose(err error) { (*tunnel)(c).onClose(err) }

// DialFailed is called on the loop when the dial failed.
func (t *tunnel) DialFailed(err error) {
	if !t.closed {
		t.srv.ReportConnectError()
		t.fail(err)
	}
}

// Write sends client bytes to the server.
func (t *tunnel) Write(p []byte) {
	if !t.closed {
		t.send(p)
	}
}

// Backlog is how many client bytes have not left for the server.
func (t *tunnel) Backlog() int { return t.backlog() }

// IdleTimeout is the backend's tunnel timeout; 0: the frontend's.
func (t *tunnel) IdleTimeout() time.Duration { return t.be.TunnelTimeout }

// InspectDelay is the backend's tcp-response inspect delay.
func (t *tunnel) InspectDelay() time.Duration { return t.be.InspectDelay }

// OnTraffic is the gnet event of the connection: its TLS's, if any.
func (t *tunnel) OnTraffic() {
	if t.tc != nil {
		t.tc.OnTraffic()
		return
	}
	t.traffic()
}

// OnClose is the gnet event of the connection: its TLS's, if any.
func (t *tunnel) OnClose(err error) {
	if t.tc != nil {
		t.tc.OnClose(err)
		return
	}
	t.onClose(err)
}

// traffic relays what the server sent, as a handler of the client's
// connection.
func (t *tunnel) traffic() {
	if t.closed {
		t.c.Discard(-1)
		return
	}
	t.st.Handle(t.recvFn)
}

func (t *tunnel) receive() {
	buf := t.c.Peek()
	if len(buf) > 0 {
		t.st.TunnelData(buf)
	}
	t.c.Discard(len(buf))
	if st := t.st; !t.closed && st.Backlog() >= transport.HighWater {
		st.Throttle(t.c, st.Backlog, func() bool { return t.closed })
	}
}

// onClose is called when the server side closed.
func (t *tunnel) onClose(error) {
	if t.closed {
		return
	}
	t.closed = true
	t.freeSlot()
	st := t.st
	st.Handle(func() { st.TunnelClosed(nil) })
}

// fail ends the tunnel after a connect error and tells the stream.
func (t *tunnel) fail(err error) {
	if t.closed {
		return
	}
	t.Close()
	st := t.st
	st.Handle(func() { st.TunnelClosed(err) })
}

// Close closes the server side (the client side is done).
func (t *tunnel) Close() {
	if t.closed {
		return
	}
	t.shut()
	t.freeSlot()
}
