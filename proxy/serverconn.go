package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/proto/proxyproto"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// serverConn is a connection from a loop to a backend server, as HTTP
// upstreams and TCP tunnels share it: dialled on the loop, holding what was
// written before it opened, and one of the server's connection slots while
// an exchange uses it. Used on the loop only.
type serverConn struct {
	srv     *backend.Server
	c       transport.Conn // nil while connecting (and during a TLS handshake)
	tc      *transport.TLS // the TLS over the connection, from its open; nil: clear text
	pending []byte         // written before the connection opened
	closed  bool
	slot    bool        // holds a connection slot (backend.Server.Done frees it)
	timer   *time.Timer // connect timeout

	// proxyHead is the PROXY protocol header the connection starts with,
	// before TLS if any; nil: none. A connection that sent one names its
	// client: it serves that exchange only (private).
	proxyHead []byte
	private   bool
}

// opened is called on the loop when the dial completed: what was written
// meanwhile leaves, unless the connection was given up while connecting.
// To a server that speaks TLS, the handshake comes first (on the pool's
// goroutines, within timeout): then clear is the handler of the clear
// connection, and failed is called if the handshake fails.
func (o *serverConn) opened(c transport.Conn, l *eventloop.Loop, hs *transport.HandshakePool, timeout time.Duration, clear transport.Handler, failed func(error)) {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if o.closed {
		c.Close()
		return
	}
	if o.proxyHead != nil {
		c.Write(o.proxyHead)
		o.proxyHead = nil
	}
	cfg := o.srv.TLS()
	p, ok := c.(*transport.Plain)
	if cfg == nil || !ok {
		o.ready(c)
		return
	}
	o.tc = transport.NewClientTLS(p, cfg, transport.TLSOptions{Loop: l, Pool: hs, Timeout: timeout}, func(t *transport.TLS, err error) transport.Handler {
		if err != nil {
			if errors.Is(err, transport.ErrHandshakeTimeout) {
				err = errConnectTimeout // a 504, as for the connect
			}
			failed(fmt.Errorf("TLS handshake: %w", err))
			return nil
		}
		o.ready(t)
		return clear
	})
}

// sendProxy makes the connection start with the PROXY protocol header
// that names st's client, if the server takes one.
func (o *serverConn) sendProxy(st *stream.Stream) {
	v := o.srv.SendProxy()
	if v == 0 {
		return
	}
	var src, dst netip.AddrPort
	if s := st.S(); s != nil {
		sip, sp, dip, dp := s.Addrs()
		if a, err := netip.ParseAddr(string(sip)); err == nil {
			src = netip.AddrPortFrom(a, uint16(sp))
		}
		if a, err := netip.ParseAddr(string(dip)); err == nil {
			dst = netip.AddrPortFrom(a, uint16(dp))
		}
	}
	if v == 1 {
		o.proxyHead = proxyproto.AppendV1(nil, src, dst)
	} else {
		o.proxyHead = proxyproto.AppendV2(nil, src, dst)
	}
	o.private = true
}

// ready starts using the connection c.
func (o *serverConn) ready(c transport.Conn) {
	o.c = c
	o.srv.ReportConnectOK()
	if len(o.pending) > 0 {
		c.Write(o.pending)
		o.pending = nil
	}
}

// send writes p, or holds it until the connection opens.
func (o *serverConn) send(p []byte) {
	if o.c == nil {
		o.pending = append(o.pending, p...)
		return
	}
	o.c.Write(p)
}

// backlog is how many bytes have not left yet.
func (o *serverConn) backlog() int {
	if o.c == nil {
		return len(o.pending)
	}
	return o.c.Outbound()
}

// freeSlot gives the server its connection slot back.
func (o *serverConn) freeSlot() {
	if o.slot {
		o.slot = false
		o.srv.Done()
	}
}

// shut closes the connection (or gives up dialling it); it is not reused.
func (o *serverConn) shut() {
	o.closed = true
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if o.c != nil {
		o.c.Close()
	} else if o.tc != nil {
		o.tc.Close() // during the handshake
	}
}
