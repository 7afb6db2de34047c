package edge

import (
	"github.com/luaedge/luaedge/metrics"
	serve1 "github.com/luaedge/luaedge/serve/http1"
	serve2 "github.com/luaedge/luaedge/serve/http2"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/transport"
)

// httpConn is a connection of an HTTP frontend: HTTP/1 from its accept,
// handed to HTTP/2 if its first bytes are the HTTP/2 client preface (h2c
// with prior knowledge), or to WebSocket once a Lua service accepted an
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

	// ws is the WebSocket connection h1 became (a Lua service accepted an
	// upgrade); h1 is nil then.
	ws *servews.Conn
}

// upgraded takes over the WebSocket connection h1 became.
func (w *httpConn) upgraded(c *servews.Conn) {
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
		h2, decided := serve2.Sniff(w.c.Peek())
		if !decided {
			return // a beginning of the preface: wait for the rest
		}
		w.sniffed = true
		if h2 {
			key := w.h1.Handoff()
			w.h1 = nil
			w.h2 = serve2.New(&w.ls.http2, w.f.http2, w.stats, w.c, w.id, w.ls.programs[w.f.index], key)
			if w.ls.srv.draining.Load() {
				w.h2.Drain()
			}
			w.h2.OnTraffic()
			return
		}
	}
	w.h1.OnTraffic()
}

func (w *httpConn) OnClose(err error) {
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
