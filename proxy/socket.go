package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/proto/ws"
	"github.com/luaedge/luaedge/resolver"
	"github.com/luaedge/luaedge/transport"
)

// The Go half of the Socket class (lj/lua/socket.lua): TCP connections a
// script opens with core.tcp(). They live on the loop of the coroutine
// that opened them; every call parks the coroutine (OpSocket) and the loop
// resumes it when the operation completed.

// Sockets are the core.tcp() connections of one loop, its HTTP client
// (client.go) and its DNS cache: the stream.Sockets of its streams. Used
// from the loop's goroutine only.
type Sockets struct {
	loop       *eventloop.Loop
	handshakes *transport.HandshakePool // of connect_ssl; shared by the generation's loops
	sockets    map[int]*luaSocket
	ws         map[int]*wsClient // http.websocket clients (wsclient.go); made on first use
	next       int               // the last id given to a socket, client or HTTP exchange
	dns        *resolver.Cache   // names of connects and URIs; nil without a loop
	http       *Client           // nil without a loop
	flate      *ws.Flate         // the loop's compressors (serve/ws.Loop's); nil: clients offer no permessage-deflate
}

// NewSockets makes the sockets of loop l; hs bounds the TLS handshakes
// of connect_ssl and of the HTTP client, which opt configures. The gate
// functions below find them through the host value of the loop's Lua
// state (SocketsHost). Without a loop (luaedge check) nothing connects.
// f is the loop's permessage-deflate compressors, for its WebSocket
// clients (nil: they offer no compression).
func NewSockets(l *eventloop.Loop, hs *transport.HandshakePool, opt *ClientOptions, f *ws.Flate) *Sockets {
	k := &Sockets{loop: l, handshakes: hs, sockets: map[int]*luaSocket{}, flate: f}
	if l != nil && opt != nil {
		k.dns = opt.Resolver.NewCache(l.Post, l.Now)
		k.http = newClient(k, hs, opt)
	}
	return k
}

// Resolver is the loop's DNS cache: HAProxy's do-resolve and anything
// else that needs a name's addresses on the loop asks it (Cache.Resolve
// calls back on the loop, never blocking it).
func (l *Sockets) Resolver() *resolver.Cache { return l.dns }

// CheckIdle closes the HTTP client's connections idle for too long.
func (l *Sockets) CheckIdle(now time.Time) {
	if l.http != nil {
		l.http.CheckIdle(now)
	}
}

// SocketsHost is what the host value of a Lua state (lj.Options.Host)
// implements for its Socket gate calls to reach the loop's sockets.
type SocketsHost interface {
	LuaSockets() *Sockets
}

// luaSocket is one core.tcp() connection of the loop; for connect_ssl,
// over the TLS transport, as connections to servers are.
type luaSocket struct {
	l     *Sockets
	id    int
	owner *cgo.Stream    // the request or task that opened it; closed with it
	c     transport.Conn // nil while connecting (and during the TLS handshake)
	tls   *tls.Config    // connect_ssl: what the TLS is made with; nil: clear text
	tc    *transport.TLS // connect_ssl: the TLS over the connection, from its open
	in    []byte         // received, not yet handed to Lua
	eof   bool
	wait  *sockWait
}

// addrs returns the socket's remote and local addresses.
func (k *luaSocket) addrs() (remote, local net.Addr) {
	if k.c != nil {
		return k.c.RemoteAddr(), k.c.LocalAddr()
	}
	return nil, nil
}

// sockWait is an operation a coroutine waits on.
type sockWait struct {
	s      *cgo.Stream
	op     int
	arg    int
	resume func()
	timer  *time.Timer
}

func init() {
	lj.RegisterGoFunc("sock_name", goSockName)
	lj.RegisterGoFunc("sock_option", goSockOption)
	lj.RegisterGoFunc("http_close", goHTTPClose)
}

// goHTTPClose(id): lets an HTTP exchange of the loop's client go, or
// closes the tunnel its CONNECT opened, which the script did not take
// (handOver gave the socket the exchange's id).
func goHTTPClose(c *cgo.Call) int {
	if h, ok := lj.Host(c).(SocketsHost); ok {
		l, id := h.LuaSockets(), int(c.Int(1))
		if l.http != nil {
			l.http.CloseExchange(id)
		}
		if k := l.sockets[id]; k != nil {
			k.close()
		}
	}
	return 0
}

func socketOf(c *cgo.Call) *luaSocket {
	h, ok := lj.Host(c).(SocketsHost)
	if !ok {
		return nil
	}
	return h.LuaSockets().sockets[int(c.Int(1))]
}

// goSockName(id, "peer"|"local") -> ip, port | nil, err
func goSockName(c *cgo.Call) int {
	k := socketOf(c)
	var remote, local net.Addr
	if k != nil {
		remote, local = k.addrs()
	}
	if remote == nil {
		c.PushNil()
		c.PushString("not connected")
		return 2
	}
	a := remote
	if c.String(2) == "local" {
		a = local
	}
	ta, _ := a.(*net.TCPAddr)
	if ta == nil {
		c.PushNil()
		c.PushString("no address")
		return 2
	}
	c.PushString(ta.IP.String())
	c.PushNumber(float64(ta.Port))
	return 2
}

// goSockOption(id, name, on) -> true | false, err
func goSockOption(c *cgo.Call) int {
	k := socketOf(c)
	if k == nil || k.c == nil {
		c.PushBool(false)
		c.PushString("not connected")
		return 2
	}
	var err error
	on := 0
	if c.Bool(3) {
		on = 1
	}
	switch c.String(2) {
	case "tcp-nodelay":
		err = k.c.SetSockopt(unix.IPPROTO_TCP, unix.TCP_NODELAY, on)
	case "keepalive":
		err = k.c.SetSockopt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, on)
		if err == nil && on == 1 {
			err = k.c.SetSockopt(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 60)
		}
	case "linger":
		err = setLinger0(k.c)
	default:
		c.PushBool(false)
		c.PushString("unsupported option " + c.String(2))
		return 2
	}
	if err != nil {
		c.PushBool(false)
		c.PushString(err.Error())
		return 2
	}
	c.PushBool(true)
	return 1
}

// Op performs the Socket operation stream s yielded for; resume runs the
// coroutine again once it completed.
func (l *Sockets) Op(s *cgo.Stream, resume func()) {
	id, op, arg, timeout, data := s.SockOp()
	if op >= cgo.SockHTTP {
		if l.http == nil {
			s.SetSockResult(0, cgo.SockEFail, []byte("22 no HTTP client here"))
			l.loop.Post(resume)
			return
		}
		l.http.Op(s, op, id, arg, timeout, data, resume)
		return
	}
	w := &sockWait{s: s, op: op, arg: arg, resume: resume}
	switch op {
	case cgo.SockConnect:
		l.socketConnect(w, string(data), timeout, arg == 1)
		return
	case cgo.SockWSConnect:
		l.wsConnect(w, data, timeout, arg)
		return
	case cgo.SockWSSend, cgo.SockWSRecv, cgo.SockWSClose:
		l.wsOp(w, id, data, timeout)
		return
	}
	k := l.sockets[id]
	if k == nil {
		w.done(cgo.SockEClosed, nil)
		l.loop.Post(resume)
		return
	}
	switch op {
	case cgo.SockSend:
		switch {
		case k.eof || k.c == nil:
			w.done(cgo.SockEClosed, nil)
		default:
			k.c.Write(data)
			w.done(cgo.SockOK, nil)
		}
		l.loop.Post(resume)
	case cgo.SockRecv:
		k.wait = w
		if timeout > 0 {
			w.timer = l.loop.After(timeout, func() {
				if k.wait == w {
					k.wait = nil
					w.done(cgo.SockETimeout, k.take(len(k.in)))
					w.resume()
				}
			})
		}
		k.deliver()
	case cgo.SockClose:
		k.close()
		w.done(cgo.SockOK, nil)
		l.loop.Post(resume)
	default:
		w.done(cgo.SockEFail, []byte("unknown socket operation"))
		l.loop.Post(resume)
	}
}

func (w *sockWait) done(res int, data []byte) {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.s.SetSockResult(0, res, data)
}

// socketConnect connects to addr, over TLS (connect_ssl) if overTLS;
// timeout bounds the connection and its handshake.
func (l *Sockets) socketConnect(w *sockWait, addr string, timeout time.Duration, overTLS bool) {
	what := "connect: "
	if overTLS {
		what = "connect_ssl: "
	}
	fail := func(msg string) {
		w.done(cgo.SockEFail, []byte(msg))
		l.loop.Post(w.resume)
	}
	if _, err := dialAddrOf(addr); err != nil {
		fail(what + err.Error())
		return
	}
	host, port, _ := net.SplitHostPort(addr)
	l.next++
	k := &luaSocket{l: l, id: l.next, owner: w.s, wait: w}
	if overTLS {
		// As HAProxy's connect_ssl: the server's certificate is not
		// verified.
		k.tls = &tls.Config{ServerName: host, InsecureSkipVerify: true}
	}
	l.sockets[k.id] = k
	// A name is looked up through the loop's DNS cache, then the address
	// dialled; the connect's timeout covers both.
	inOp := true
	l.dns.Resolve(host, func(addrs []netip.Addr, err error) {
		if k.wait != w || k.c != nil {
			return // timed out, or its owner ended, meanwhile
		}
		if err != nil {
			err = errors.New(dnsError(host, err).msg)
		} else {
			err = l.loop.Dial(dialAddr(net.JoinHostPort(addrs[0].String(), port)), k)
		}
		if err != nil {
			k.wait = nil
			delete(l.sockets, k.id)
			if w.timer != nil {
				w.timer.Stop()
			}
			w.done(cgo.SockEFail, []byte(what+err.Error()))
			if inOp {
				l.loop.Post(w.resume)
			} else {
				w.resume()
			}
		}
	})
	inOp = false
	if _, ok := l.sockets[k.id]; ok && timeout > 0 {
		w.timer = l.loop.After(timeout, func() {
			if k.wait == w && k.c == nil {
				k.wait = nil
				k.close()
				w.done(cgo.SockETimeout, nil)
				w.resume()
			}
		})
	}
}

// DialFailed is called on the loop when the connection could not be made.
func (k *luaSocket) DialFailed(err error) {
	if w := k.wait; w != nil && w.op == cgo.SockConnect {
		k.wait = nil
		delete(k.l.sockets, k.id)
		if w.timer != nil {
			w.timer.Stop()
		}
		w.done(cgo.SockEFail, []byte("connect: "+err.Error()))
		k.l.loop.Post(w.resume)
	}
}

// Opened is called on the loop when the dial completed; for connect_ssl
// the handshake follows, on the pool's goroutines, bounded by the
// connect's timeout (a minute without one).
func (k *luaSocket) Opened(c transport.Conn) {
	if _, ok := k.l.sockets[k.id]; !ok {
		c.Close() // closed (timeout, or its owner ended) while connecting
		return
	}
	p, ok := c.(*transport.Plain)
	if k.tls == nil || !ok {
		k.connected(c, nil)
		return
	}
	o := transport.TLSOptions{Loop: k.l.loop, Pool: k.l.handshakes, Timeout: time.Minute}
	k.tc = transport.NewClientTLS(p, k.tls, o, func(t *transport.TLS, err error) transport.Handler {
		if err != nil {
			k.connected(nil, err)
			return nil
		}
		k.connected(t, nil)
		return (*clearSocket)(k)
	})
}

// connected ends the connect the script waits on: c is the connection, or
// err says why there is none.
func (k *luaSocket) connected(c transport.Conn, err error) {
	if err == nil {
		k.c = c
	}
	w := k.wait
	if w == nil || w.op != cgo.SockConnect {
		return
	}
	k.wait = nil
	if w.timer != nil {
		w.timer.Stop()
	}
	if err != nil {
		k.close()
		w.done(cgo.SockEFail, []byte("connect_ssl: "+err.Error()))
		w.resume()
		return
	}
	w.s.SetSockResult(k.id, cgo.SockOK, nil)
	w.resume()
}

// clearSocket is a luaSocket as the handler of its TLS connection's
// clear side: the gnet events go to the TLS, which decrypts and calls it.
type clearSocket luaSocket

func (c *clearSocket) OnTraffic()    { (*luaSocket)(c).traffic() }
func (c *clearSocket) OnClose(error) { (*luaSocket)(c).onClose() }

// OnTraffic is the gnet event of the connection: its TLS's, if any.
func (k *luaSocket) OnTraffic() {
	if k.tc != nil {
		k.tc.OnTraffic()
		return
	}
	k.traffic()
}

// OnClose is the gnet event of the connection: its TLS's, if any.
func (k *luaSocket) OnClose(err error) {
	if k.tc != nil {
		k.tc.OnClose(err)
		return
	}
	k.onClose()
}

// traffic takes what arrived for the script.
func (k *luaSocket) traffic() {
	buf := k.c.Peek()
	k.in = append(k.in, buf...)
	k.c.Discard(len(buf))
	k.deliver()
}

// onClose marks the end of what the peer sends.
func (k *luaSocket) onClose() {
	k.eof = true
	k.c = nil
	k.deliver()
}

// deliver completes a waiting receive if what arrived satisfies it.
func (k *luaSocket) deliver() {
	w := k.wait
	if w == nil || w.op != cgo.SockRecv {
		return
	}
	switch {
	case w.arg == -1: // a line
		if i := bytes.IndexByte(k.in, '\n'); i >= 0 {
			line := k.take(i + 1)
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			k.finish(w, cgo.SockOK, line)
			return
		}
	case w.arg > 0:
		if len(k.in) >= w.arg {
			k.finish(w, cgo.SockOK, k.take(w.arg))
			return
		}
	}
	if k.eof {
		k.finish(w, cgo.SockEClosed, k.take(len(k.in)))
	}
}

func (k *luaSocket) finish(w *sockWait, res int, data []byte) {
	k.wait = nil
	w.done(res, data)
	k.l.loop.Post(w.resume)
}

// take removes and returns the first n received bytes.
func (k *luaSocket) take(n int) []byte {
	out := append([]byte(nil), k.in[:n]...)
	k.in = k.in[:copy(k.in, k.in[n:])]
	return out
}

func (k *luaSocket) close() {
	delete(k.l.sockets, k.id)
	k.eof = true
	if k.c != nil {
		k.c.Close()
	} else if k.tc != nil {
		k.tc.Close() // during the handshake
	}
}

// CloseOf closes the sockets, HTTP exchanges and WebSocket clients a
// finished request or task left open.
func (l *Sockets) CloseOf(s *cgo.Stream) {
	if l.http != nil {
		l.http.CloseOf(s)
	}
	for _, k := range l.ws {
		if k.owner == s {
			k.closeOwned()
		}
	}
	if len(l.sockets) == 0 {
		return
	}
	for _, k := range l.sockets {
		if k.owner == s {
			if w := k.wait; w != nil && w.timer != nil {
				w.timer.Stop()
			}
			k.wait = nil
			k.close()
		}
	}
}

// setLinger0 makes a close reset the connection (SO_LINGER, 0 s).
func setLinger0(c transport.Conn) error {
	if p, ok := c.(interface {
		SetLinger(onoff, sec int) error
	}); ok {
		return p.SetLinger(1, 0)
	}
	return nil
}
