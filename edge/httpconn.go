package edge

import (
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	serve1 "github.com/luaedge/luaedge/serve/http1"
	serve2 "github.com/luaedge/luaedge/serve/http2"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/transport"
)

// httpConn is a connection of an HTTP frontend: HTTP/1 from its accept,
// handed to HTTP/2 if its first bytes are the HTTP/2 client preface (h2c
// with prior knowledge) or after a request that asked for it (Upgrade:
// h2c), or at once when ALPN chose h2 or the frontend's http2.cleartext
// says prior_knowledge; or to WebSocket once a Lua service accepted an
// upgrade. It belongs to its loop.
type httpConn struct {
	ls    *loopState
	f     *frontend
	stats *metrics.Frontend
	c     transport.Conn
	id    int64

	h1      *serve1.Conn // nil once handed to h2
	h2      *serve2.Conn
	sniffed bool // the first bytes were looked at: the protocol is settled
	timed   bool // a beginning of the HTTP/2 preface arrived: its timer runs
	closed  bool
	// accepted is when, in seconds since its loop started; prev and next
	// link the loop's HTTP connections (sessions.go).
	accepted   uint32
	prev, next *httpConn

	// ws is the WebSocket connection h1 became (a Lua service accepted an
	// upgrade); h1 is nil then.
	ws *servews.Conn
}

// Upgraded takes over the WebSocket connection h1 became.
func (w *httpConn) Upgraded(c *servews.Conn) {
	w.ws, w.h1 = c, nil
}

func (w *httpConn) OnTraffic() {
	if w.ws != nil {
		w.ws.OnTraffic()
		return
	}
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
		case "prior_knowledge":
			h2, decided = true, true
		case "off":
			h2, decided = false, true
		default: // auto
			h2, decided = serve2.Sniff(w.c.Peek())
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
	w.h1.OnTraffic()
	if w.h1 == nil {
		return // it became a WebSocket
	}
	if up := w.h1.H2C(); up != nil {
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
			w.c.Close()
		}
	})
}

// toH2 hands the connection to HTTP/2: its first bytes were the preface,
// ALPN chose h2, or its first request asked for it (Upgrade: h2c).
func (w *httpConn) toH2() {
	key := w.h1.Handoff()
	w.h1 = nil
	w.sniffed = true
	w.h2 = serve2.New(&w.ls.http2, w.f.http2, w.stats, w.c, w.id, w.ls.programs[w.f.index], key)
	w.h2.WSFilter = w.ls.wsChains[w.f.index]
	if w.ls.srv.draining.Load() {
		w.h2.Drain()
	}
}

func (w *httpConn) OnClose(err error) {
	w.closed = true
	if w.f.hookSet&lj.HookClose != 0 {
		// The addresses now: the connection forgets them once closed.
		w.ls.closeHooks(w.f, w.c, w.id, addrsOf(w.c))
	}
	w.ls.dropHTTP(w)
	if w.ws != nil {
		w.ws.OnClose(err)
		return
	}
	if w.h2 != nil {
		w.h2.OnClose(err)
		return
	}
	w.h1.OnClose(err)
}
