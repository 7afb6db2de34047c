package eventloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/proto/http1"
)

// maxIdlePerServer bounds the idle keep-alive connections a loop keeps to
// one server.
const maxIdlePerServer = 64

// upstreamConn is a connection from a loop to a backend server. It is
// dialled on the loop of the client it serves (gnet's Register), so the
// exchange never leaves that loop's thread, and it goes back to the loop's
// pool after a response that keeps it open.
type upstreamConn struct {
	l   *Loop
	be  *proxyBackend
	srv *backend.Server
	c   gnet.Conn // nil while connecting

	h       *h1Conn // the client exchange it serves; nil when idle
	pending []byte  // request bytes written before the connection opened
	closed  bool

	inTraffic bool // in onTraffic, which relays what follows the head itself

	resp     http1.Response
	headDone bool
	mode     http1.BodyMode
	left     int64 // body bytes left (BodyLength)
	dec      http1.ChunkedDecoder
	deadline time.Time
	timer    *time.Timer // connect timeout
}

// proxyBackend is a configured backend with its per-server pools.
type proxyBackend struct {
	*backend.Backend
	index          int
	connectTimeout time.Duration
	serverTimeout  time.Duration
	tunnelTimeout  time.Duration // TCP mode, once piped; 0: the frontend's keep_alive
}

// dialAddr is an address for gnet to dial: gnet dials on a worker
// goroutine with net.Dial(Network(), String()), so a host name is looked
// up there, not on the event loop.
type dialAddr string

func (a dialAddr) Network() string { return "tcp" }
func (a dialAddr) String() string  { return string(a) }

// dialAddrOf checks that addr is host:port and wraps it for gnet.
func dialAddrOf(addr string) (dialAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("invalid port in %q", addr)
	}
	return dialAddr(net.JoinHostPort(host, port)), nil
}

// upstreamCtx marks a gnet connection as an upstreamConn (its context).
type upstreamCtx struct{ u *upstreamConn }

// dial opens a connection to srv on loop l for h.
func (l *Loop) dial(be *proxyBackend, srv *backend.Server, h *h1Conn) (*upstreamConn, error) {
	addr, err := dialAddrOf(srv.Addr())
	if err != nil {
		return nil, err
	}
	u := &upstreamConn{l: l, be: be, srv: srv, h: h}
	l.ups[u] = struct{}{}
	ctx := gnet.NewContext(context.Background(), upstreamCtx{u})
	res, err := l.el.Register(ctx, addr)
	if err != nil {
		return nil, err
	}
	// gnet dials on a worker goroutine; only its failure comes back here.
	go func() {
		if r := <-res; r.Err != nil {
			l.post(func() { u.connectFailed(r.Err) })
		}
	}()
	u.timer = l.after(be.connectTimeout, func() {
		if u.c == nil && !u.closed {
			u.connectFailed(errConnectTimeout)
		}
	})
	return u, nil
}

var (
	errConnectTimeout = errors.New("connect timeout")
	errServerTimeout  = errors.New("server timeout")
	errBadResponse    = errors.New("invalid response")
	errServerClosed   = errors.New("server closed the connection")
)

// conn returns an idle pooled connection to srv, or dials a new one.
func (l *Loop) upstream(be *proxyBackend, srv *backend.Server, h *h1Conn) (*upstreamConn, error) {
	pool := l.idle[srv]
	for len(pool) > 0 {
		u := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		l.idle[srv] = pool
		if u.closed {
			continue
		}
		if !idleClean(u.c) {
			u.l.log.Warn("server sent bytes on an idle connection; closing it", "backend", be.Name(), "server", srv.Name())
			u.failed(errBadResponse)
			continue
		}
		u.h = h
		return u, nil
	}
	return l.dial(be, srv, h)
}

// opened is called from OnOpen when the dial completed.
func (u *upstreamConn) opened(c gnet.Conn) {
	u.c = c
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if u.closed {
		_ = c.Close()
		return
	}
	u.srv.ReportConnectOK()
	if len(u.pending) > 0 {
		_, _ = c.Write(u.pending)
		u.pending = u.pending[:0]
	}
}

// write sends request bytes, holding them until the connection is open.
func (u *upstreamConn) write(p []byte) {
	if u.closed {
		return
	}
	if u.c == nil {
		u.pending = append(u.pending, p...)
		return
	}
	writeTo(u.c, p)
}

// begin prepares for the response to a request just written.
func (u *upstreamConn) begin(timeout time.Duration) {
	u.headDone = false
	u.deadline = u.l.now.Add(timeout)
}

// connectFailed counts a failed connection against the server (passive
// health) and fails the exchange.
func (u *upstreamConn) connectFailed(err error) {
	if u.closed {
		return
	}
	u.srv.ReportConnectError()
	u.failed(err)
}

// failed ends the connection after a dial or I/O error and tells the client side.
func (u *upstreamConn) failed(err error) {
	if u.closed {
		return
	}
	u.closed = true
	delete(u.l.ups, u)
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if u.c != nil {
		_ = u.c.Close()
	}
	if h := u.h; h != nil {
		u.h = nil
		h.upstreamFailed(u, err)
	}
}

// idleClean reports whether an idle pooled connection has nothing to read.
// Bytes a server wrote after its response may sit in the socket before the
// loop has read them; without this look, the next request on the
// connection would take them for its answer. One non-blocking peek per
// reuse; the socket is non-blocking, so the raw call cannot block.
func idleClean(c gnet.Conn) bool {
	if c.InboundBuffered() > 0 {
		return false
	}
	var b [1]byte
	_, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.Fd()), uintptr(unsafe.Pointer(&b[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return errno == unix.EAGAIN
}

// onTraffic parses the response head, then relays the body to the client.
func (u *upstreamConn) onTraffic() {
	u.l.event()
	h := u.h
	if h == nil || u.c == nil {
		// Bytes from an idle connection break the protocol; a posted call
		// for an exchange that already ended finds nothing to do.
		if u.c != nil {
			if buf, _ := u.c.Peek(-1); len(buf) > 0 {
				u.failed(errBadResponse)
			}
		}
		return
	}
	h.busy, u.inTraffic = true, true
	defer func() {
		h.flush() // what was relayed, the head included, leaves now
		h.busy, u.inTraffic = false, false
		h.afterWork()
	}()
	for !u.closed && u.h != nil {
		buf, _ := u.c.Peek(-1)
		if len(buf) == 0 {
			return
		}
		if !u.headDone {
			n, err := u.resp.Parse(buf, h.reqMethod(), h.lim)
			if err == http1.ErrIncomplete {
				return
			}
			if err != nil {
				u.l.log.Warn("invalid response from server", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
				u.failed(errBadResponse)
				return
			}
			if u.resp.Status < 200 {
				_, _ = u.c.Discard(n) // interim responses (100, 103) are not relayed
				continue
			}
			u.headDone = true
			u.mode = u.resp.BodyMode()
			u.left = u.resp.ContentLength
			if u.mode == http1.BodyChunked {
				u.dec.Reset()
			}
			u.deadline = u.l.now.Add(u.be.serverTimeout)
			h.upstreamHead(u, &u.resp)
			_, _ = u.c.Discard(n)
			if u.mode == http1.BodyNone {
				u.finish()
			}
			continue
		}
		if h.parkedForHead {
			return // http-response rules run; the body waits in the buffer
		}
		n, done := u.relay(h, buf)
		_, _ = u.c.Discard(n)
		u.deadline = u.l.now.Add(u.be.serverTimeout)
		if done {
			u.finish()
		}
		h.flush()
		if !done && !h.closed {
			u.l.throttle(u.c, h.c, func() bool { return u.h != h || u.closed || h.closed })
		}
		if n == 0 {
			return
		}
	}
}

// relay passes body bytes to the client as they arrive, keeping the
// server's framing (chunked bytes go through as they are). It returns the
// bytes consumed and whether the body ended.
func (u *upstreamConn) relay(h *h1Conn, buf []byte) (int, bool) {
	switch u.mode {
	case http1.BodyLength:
		n := int64(len(buf))
		if n > u.left {
			n = u.left
		}
		h.relayBody(buf[:n], false)
		u.left -= n
		return int(n), u.left == 0
	case http1.BodyChunked:
		consumed := 0
		for consumed < len(buf) {
			n, _, done, err := u.dec.Next(buf[consumed:])
			if err != nil {
				u.l.log.Warn("invalid chunked body from server", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
				u.failed(errBadResponse)
				return consumed, false
			}
			if n == 0 {
				break
			}
			consumed += n
			if done {
				h.relayBody(buf[:consumed], false)
				return consumed, true
			}
		}
		h.relayBody(buf[:consumed], false)
		return consumed, false
	default: // BodyClose: until the server closes
		h.relayBody(buf, true)
		return len(buf), false
	}
}

// finish completes the exchange and pools the connection if it can be reused.
func (u *upstreamConn) finish() {
	h := u.h
	u.h = nil
	// Bytes past the response's framing (a longer body, a second response,
	// a body after 204 or to HEAD) would be read as the answer to the next
	// client's request: a connection holding any is not reused.
	reuse := u.resp.KeepAlive && u.mode != http1.BodyClose && !u.closed && u.c != nil && u.c.InboundBuffered() == 0
	if !reuse && u.c != nil && u.c.InboundBuffered() > 0 && !u.closed {
		u.l.log.Warn("server sent bytes past the end of its response; closing the connection", "backend", u.be.Name(), "server", u.srv.Name(), "bytes", u.c.InboundBuffered())
	}
	if h != nil {
		h.upstreamDone(u)
	}
	if !reuse {
		u.closed = true
		delete(u.l.ups, u)
		if u.c != nil {
			_ = u.c.Close()
		}
		return
	}
	u.deadline = time.Time{}
	pool := u.l.idle[u.srv]
	if len(pool) >= maxIdlePerServer {
		u.closed = true
		delete(u.l.ups, u)
		_ = u.c.Close()
		return
	}
	u.l.idle[u.srv] = append(pool, u)
}

// onClose is called when the server side closes.
func (u *upstreamConn) onClose() {
	if u.closed {
		return
	}
	if u.h != nil && u.headDone && u.mode == http1.BodyClose {
		u.finish() // the close ends the body
		return
	}
	u.failed(errServerClosed)
}

// checkDeadline enforces timeouts.server.
func (u *upstreamConn) checkDeadline(now time.Time) {
	if u.h != nil && !u.closed && !u.deadline.IsZero() && now.After(u.deadline) {
		u.failed(errServerTimeout)
	}
}
