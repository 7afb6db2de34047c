package edge

import (
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	serve1 "github.com/luaedge/luaedge/serve/http1"
	serve2 "github.com/luaedge/luaedge/serve/http2"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/transport"
)

// httpConn is a connection of an HTTP frontend: HTTP/1 from its accept,
// handed to HTTP/2 if its first bytes are the HTTP/2 client preface (h2c
// with prior knowledge) or after a request that asked for it (Upgrade:
// h2c), or from its accept when ALPN chose h2 or the frontend's
// http2.cleartext says prior_knowledge; or to WebSocket once a Lua service accepted an
// upgrade (the HTTP/1 side passes the events on to it then). It belongs
// to its loop.
//
// An idle keep-alive connection is this, its transport and gnet's
// connection: the HTTP/1 side is embedded (one allocation), and holds the
// transport and the connection's id for the other sides.
type httpConn struct {
	ls *loopState
	f  *frontend

	h2      *serve2.Conn // nil until HTTP/2 takes over from conn1
	sniffed bool         // the first bytes were looked at: the protocol is settled
	timed   bool         // a beginning of the HTTP/2 preface arrived: its timer runs
	closed  bool
	// accepted is when, in seconds since its loop started; prev and next
	// link the loop's HTTP connections (sessions.go).
	accepted   uint32
	prev, next *httpConn

	conn1 serve1.Conn // the HTTP/1 side; done with once h2 is set
}

// c is the connection's transport.
func (w *httpConn) c() transport.Conn { return w.conn1.Transport() }

// id is the connection's number.
func (w *httpConn) id() int64 { return w.conn1.ID() }

// ws is the WebSocket connection the HTTP/1 side became, nil if none.
func (w *httpConn) ws() *servews.Conn { return w.conn1.WebSocket() }

// Loop is the connection's loop (eventloop.LoopHandler).
func (w *httpConn) Loop() *eventloop.Loop { return w.ls.loop }

func (w *httpConn) OnTraffic() {
	if w.h2 != nil {
		w.h2.OnTraffic()
		return
	}
	if !w.sniffed {
		var h2, decided bool
		mode := w.f.cfg.HTTP2.Cleartext
		if w.f.cfg.TLS != nil {
			mode = "auto" // over TLS without ALPN, the first bytes tell
		}
		switch mode {
		case "off":
			h2, decided = false, true
		default: // auto (prior_knowledge connections are HTTP/2 from their accept)
			h2, decided = serve2.Sniff(w.c().Peek())
		}
		if !decided {
			w.timePreface() // a beginning of the preface: wait for the rest
			return
		}
		w.sniffed = true
		if h2 {
			w.toH2()
			w.h2.OnTraffic()
			return
		}
	}
	w.conn1.OnTraffic()
	if w.conn1.WebSocket() != nil {
		return
	}
	if up := w.conn1.H2C(); up != nil {
		w.toH2()
		w.h2.Upgrade(up.Settings, &up.Request)
	}
}

// timePreface closes the connection if the rest of the preface has not
// come by timeouts.http_request, as HTTP/1 and HTTP/2 do with a request
// head or frame left unfinished: neither is in charge of the connection
// yet, and it would otherwise wait for its keep-alive timeout.
func (w *httpConn) timePreface() {
	if w.timed {
		return
	}
	w.timed = true
	w.ls.loop.After(w.f.http2.RequestTime, func() {
		if !w.sniffed && !w.closed {
			w.c().Close()
		}
	})
}

// toH2 hands the connection to HTTP/2: its first bytes were the preface,
// ALPN chose h2, or its first request asked for it (Upgrade: h2c).
func (w *httpConn) toH2() {
	key := w.conn1.Handoff()
	w.sniffed = true
	w.h2 = serve2.New(&w.ls.http2, w.f.http2, &w.ls.stats[w.f.index], w.c(), w.id(), w.ls.programs[w.f.index], key)
	w.h2.WSFilter = w.ls.wsChains[w.f.index]
	if w.ls.srv.draining.Load() {
		w.h2.Drain()
	}
}

// OnPeerEOF lets an HTTP/1 connection whose client ended its side finish
// the answers it owes (eventloop.HalfCloser).
func (w *httpConn) OnPeerEOF() bool {
	return w.h2 == nil && w.conn1.OnPeerEOF(w.OnTraffic, w.OnClose)
}

func (w *httpConn) OnClose(err error) {
	w.closed = true
	if w.f.hookSet&lj.HookClose != 0 {
		// The addresses now: the connection forgets them once closed.
		w.ls.closeHooks(w.f, w.c(), w.id(), addrsOf(w.c()))
	}
	w.ls.dropHTTP(w)
	if w.h2 != nil {
		w.h2.OnClose(err)
		return
	}
	w.conn1.OnClose(err)
}
