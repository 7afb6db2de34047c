package proxy

import (
	"bytes"
	"errors"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/config"
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
	// choice and tries: how the server was chosen and the connection
	// attempts that failed before this one, for the retries (as an HTTP
	// request's, retry.go).
	choice choice
	tries  int
	// shutting: the client ended its side; the server's input ends once
	// what the client sent has left (CloseWrite).
	shutting bool
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
	c := choice{key: src}
	want := persistent(st, be, b)
	if w := stickRules(st, b); want == nil {
		want = w
	}
	if want != nil {
		srv = b.PickServer(want)
		c.direct = srv != nil
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
	st.LogServer(srv, false)
	t := &tunnel{p: p, st: st, be: b, serverConn: serverConn{srv: srv, slot: true}, choice: c}
	t.recvFn = t.receive
	t.sendProxy(st)
	t.pending = append(t.pending, st.S().TakeBody()...)
	if stores := requestStores(st); len(stores) > 0 {
		t.stick = bytes.Clone(stores)
	}
	if err := t.dial(addr); err != nil {
		t.freeSlot()
		return nil, err.Error()
	}
	return t, ""
}

// dial connects t to addr, within the backend's timeouts.connect.
func (t *tunnel) dial(addr dialAddr) error {
	if err := t.p.loop.Dial(addr, t); err != nil {
		return err
	}
	t.timer = t.p.loop.After(t.be.ConnectTimeout, func() {
		if t.c == nil && !t.closed {
			t.connectFailed(errConnectTimeout)
		}
	})
	return nil
}

// connectFailed tries the connection again, as an HTTP request's
// (retries, redispatch, retry_on's conn-failure), or, with no retry
// left, counts the failure against the server and ends the stream (SC,
// or sC for timeouts.connect).
func (t *tunnel) connectFailed(err error) {
	if t.closed {
		return
	}
	st := t.st
	if t.tries < t.be.Retries && t.be.RetryOn&config.RetryConnFailure != 0 {
		st.Handle(func() { t.retry(err) })
		return
	}
	t.srv.ReportConnectError()
	t.Close()
	t.p.log.Warn("TCP backend connection failed", "backend", t.be.Name(), "server", t.srv.Name(), "retries", t.tries, "err", err)
	st.Handle(func() { st.TunnelConnectFailed(errors.Is(err, errConnectTimeout), err.Error()) })
}

// retry dials again after the tries-th failed connection: to the same
// server after min(1 s, timeouts.connect) when it failed at once, or to
// another when redispatched, as an HTTP request's retry (retry.go). A
// new tunnel takes the client bytes that wait, and the stream's place.
// It runs as a handler of the client's connection.
func (t *tunnel) retry(err error) {
	if t.closed {
		return
	}
	st, p, b := t.st, t.p, t.be
	tries := t.tries + 1
	p.log.Info("cannot connect to server; retrying", "backend", b.Name(), "server", t.srv.Name(), "retry", tries, "err", err)
	srv := t.srv
	redispatch := redispatches(b, srv, t.choice, tries)
	if redispatch {
		if o := b.PickAvoiding(t.choice.key, srv); o != nil {
			srv = o
		}
	}
	t.srv.ReportConnectRetry(srv != t.srv)
	target, _, terr := dialTarget(st, srv)
	addr, aerr := dialAddrOf(target)
	if terr != nil || aerr != nil {
		if srv != t.srv {
			srv.Done()
		}
		t.tries = b.Retries // no other attempt
		t.connectFailed(errors.Join(terr, aerr))
		return
	}
	nt := &tunnel{p: p, st: st, be: b, serverConn: serverConn{srv: srv, slot: true}, stick: t.stick, choice: t.choice, tries: tries}
	nt.recvFn = nt.receive
	nt.sendProxy(st)
	nt.pending = append(nt.pending, t.pending...)
	if srv != t.srv {
		t.freeSlot() // the new server's was taken by PickAvoiding
		st.LogRedispatched(srv)
	}
	t.slot = false
	t.Close()
	st.TunnelRetried(nt)
	start := func() {
		if nt.closed {
			return
		}
		if err := nt.dial(addr); err != nil {
			nt.connectFailed(err)
		}
	}
	if !errors.Is(err, errConnectTimeout) && (!redispatch || !b.RoundRobin() || b.ActiveUp() <= 1) {
		nt.timer = p.loop.After(min(maxTurnAround, b.ConnectTimeout), start)
		return
	}
	start()
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

// DialFailed is called on the loop when the dial (or the TLS handshake)
// failed.
func (t *tunnel) DialFailed(err error) { t.connectFailed(err) }

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
	st.Handle(st.TunnelClosed)
}

// CloseWrite ends the server's input once the client's bytes have left
// for it: the client ended its side. The server may still answer.
func (t *tunnel) CloseWrite() {
	if t.closed || t.shutting {
		return
	}
	t.shutting = true
	t.shutWhenSent()
}

// shutWhenSent half-closes the connection once it is open and its queue
// empty, looking again every shutRecheck until then.
func (t *tunnel) shutWhenSent() {
	if t.closed {
		return
	}
	if t.c == nil || t.c.Outbound() > 0 {
		t.p.loop.After(shutRecheck, t.shutWhenSent)
		return
	}
	t.c.CloseWrite()
}

// shutRecheck is how often a tunnel whose client ended looks whether its
// queue to the server has left.
const shutRecheck = 5 * time.Millisecond

// Close closes the server side (the client side is done).
func (t *tunnel) Close() {
	if t.closed {
		return
	}
	t.shut()
	t.freeSlot()
}
