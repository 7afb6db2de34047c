package http2

import (
	"time"

	"github.com/luaedge/luaedge/proto/http2"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// A WebSocket's extended CONNECT (RFC 8441) forwarded to a backend: proxy
// sends it to the HTTP/1.1 server as an Upgrade, and on the server's 101
// the client gets a 200 (SendHead) and the stream becomes a tunnel
// (stream.Tunneler): the DATA the client sends go to the server
// untouched, what the server sends goes out in DATA frames within the
// client's windows, as a tunnelled HTTP/1.1 connection does with its
// bytes. The client's END_STREAM ends what goes to the server (a FIN);
// the server's close ends the stream (END_STREAM once what waits has
// left); the client's RST_STREAM, or the tunnel's idle timeout, closes
// the server's connection. Backpressure both ways: the client's window is
// credited back only while the server has less than transport.HighWater
// unread, and the server is read only while the stream's pending output
// and the connection's are under it. With ws_filters, a serve/ws.Relay
// sits in the tunnel, as on HTTP/1.1; without, a serve/ws.Tunnel follows
// the frames for the drain (1001 both ways at a stop or reload).

// tunnel is one stream's tunnel; it belongs to the stream's Conn, on its
// loop.
type tunnel struct {
	rs     *reqStream
	idle   time.Duration
	relay  *servews.Relay  // with ws_filters
	follow *servews.Tunnel // without
	// held: the client's bytes not credited back yet (the server has a
	// backlog, or a filter waits); recheck: a re-check is scheduled.
	held    int
	recheck bool
	done    bool // closed: nothing more is relayed
}

// Tunnel makes the stream a tunnel to the server that switched protocols;
// idle bounds the silence either way (0: the frontend's keep-alive).
func (rs *reqStream) Tunnel(idle time.Duration) {
	h := rs.h
	if idle <= 0 {
		idle = h.fe.KeepAlive
	}
	t := &tunnel{rs: rs, idle: idle}
	rs.tunnel = t
	if h.WSFilter != 0 && h.l.WS != nil && h.fe.WS != nil {
		t.relay = servews.NewRelay(h.l.WS, h.fe.WS, h.WSFilter, rs.connID, t.toClient, t.toServer, h.Handle, t.failed)
		if h.fe.WS.Hooks {
			t.relay.Hooks(rs.st.S())
		}
	} else {
		t.follow = &servews.Tunnel{ToServer: t.toServer, ToClient: t.toClient, Drained: t.drained, Post: h.l.Env.Loop.Post}
	}
	t.touch()
	if h.l.Env.Draining() {
		t.drain() // switched while the server stops: closed at once
	}
}

// touch pushes the idle deadline back.
func (t *tunnel) touch() { t.rs.deadline = t.rs.h.now().Add(t.idle) }

// data takes what the client sent on the stream; end is its END_STREAM.
func (t *tunnel) data(p []byte, end bool) {
	rs := t.rs
	if t.done {
		rs.h.h2.Consumed(rs.id, len(p))
		return
	}
	t.touch()
	if len(p) > 0 {
		if t.relay != nil {
			t.relay.FromClient(p) // kept by the relay while a filter waits
		} else {
			t.follow.FromClient(p)
		}
		t.held += len(p)
		t.credit()
	}
	if end {
		rs.st.BodyEnd(nil)
	}
}

// credit gives the client back the window of what it sent, unless the
// server has a backlog or a filter waits: then once they are over.
func (t *tunnel) credit() {
	rs := t.rs
	if t.held == 0 || t.done || rs.gone {
		return
	}
	busy := t.relay != nil && t.relay.Busy()
	if busy || rs.up != nil && rs.up.Backlog() >= transport.HighWater {
		if !t.recheck {
			t.recheck = true
			rs.h.l.Env.Loop.After(transport.Recheck, func() {
				t.recheck = false
				if !rs.h.closed {
					rs.h.Handle(t.credit)
				}
			})
		}
		return
	}
	rs.h.h2.Consumed(rs.id, t.held)
	t.held = 0
}

// fromServer takes what the server sent.
func (t *tunnel) fromServer(p []byte) {
	if t.done {
		return
	}
	t.touch()
	if t.relay != nil {
		t.relay.FromServer(p)
	} else {
		t.follow.FromServer(p)
	}
}

// toServer and toClient are where the relay or the follower send bytes.
func (t *tunnel) toServer(p []byte) {
	if up := t.rs.up; up != nil {
		up.Body(p)
	}
}

func (t *tunnel) toClient(p []byte) { t.rs.sendBody(p) }

// drain closes the WebSocket with 1001 both ways (a stop or reload).
func (t *tunnel) drain() {
	if t.done {
		return
	}
	if t.relay != nil {
		t.relay.Drain()
	} else {
		t.follow.Drain()
	}
}

// drained ends the tunnel once both sides answered the drain's close
// frames; failed once a filter failed or a side broke the protocol (the
// relay sent both a close frame).
func (t *tunnel) drained() { t.rs.h.Handle(t.end) }

func (t *tunnel) failed(uint16) { t.end() }

// end closes the server's connection and ends the stream: END_STREAM
// when all we sent has left, else RST_STREAM (CANCEL).
func (t *tunnel) end() {
	rs := t.rs
	if t.done || rs.gone {
		return
	}
	rs.st.Close()
	if len(rs.pending) == 0 {
		rs.h.h2.WriteData(rs.id, nil, true)
	} else {
		rs.h.h2.Reset(rs.id, http2.ErrCodeCancel)
	}
	rs.h.forget(rs)
}

// close releases the relay (its hooks' ws_close run) once the stream is
// over, from either side: Conn.forget calls it.
func (t *tunnel) close() {
	if t.done {
		return
	}
	t.done = true
	if t.held > 0 {
		t.rs.h.h2.Consumed(t.rs.id, t.held)
		t.held = 0
	}
	if r := t.relay; r != nil {
		r.Close()
		if r.SessVars() {
			stream.EndSession(t.rs.h.l.Env, t.rs.connID)
		}
	}
}
