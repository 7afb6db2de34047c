package proxy

import (
	"bytes"
	"crypto/tls"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/transport"
)

// The Go half of the Socket class (lj/lua/socket.lua): TCP connections a
// script opens with core.tcp(). They live on the loop of the coroutine
// that opened them; every call parks the coroutine (OpSocket) and the loop
// resumes it when the operation completed.

// Sockets are the core.tcp() connections of one loop: the stream.Sockets
// of its streams. Used from the loop's goroutine only.
type Sockets struct {
	loop    *eventloop.Loop
	sockets map[int]*luaSocket
	next    int
}

// NewSockets makes the sockets of loop l. The gate functions below find
// them through the host value of the loop's Lua state (SocketsHost).
func NewSockets(l *eventloop.Loop) *Sockets {
	return &Sockets{loop: l, sockets: map[int]*luaSocket{}}
}

// SocketsHost is what the host value of a Lua state (lj.Options.Host)
// implements for its Socket gate calls to reach the loop's sockets.
type SocketsHost interface {
	LuaSockets() *Sockets
}

// luaSocket is one core.tcp() connection: a connection of the loop, or for
// TLS (connect_ssl) a crypto/tls connection driven by two goroutines that
// hand what they read to the loop.
type luaSocket struct {
	l     *Sockets
	id    int
	owner *cgo.Stream    // the request or task that opened it; closed with it
	c     transport.Conn // nil while connecting, and for TLS
	tc    *tls.Conn
	wq    chan []byte // TLS: bytes for the writer goroutine
	in    []byte      // received, not yet handed to Lua
	eof   bool
	wait  *sockWait
}

// addrs returns the socket's remote and local addresses.
func (k *luaSocket) addrs() (remote, local net.Addr) {
	switch {
	case k.c != nil:
		return k.c.RemoteAddr(), k.c.LocalAddr()
	case k.tc != nil:
		return k.tc.RemoteAddr(), k.tc.LocalAddr()
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
	if k != nil && k.tc != nil {
		c.PushBool(true) // options of the TCP connection under TLS are left as they are
		return 1
	}
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
	w := &sockWait{s: s, op: op, arg: arg, resume: resume}
	if op == cgo.SockConnect {
		if arg == 1 {
			l.socketConnectTLS(w, string(data), timeout)
		} else {
			l.socketConnect(w, string(data), timeout)
		}
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
		case k.eof || (k.c == nil && k.tc == nil):
			w.done(cgo.SockEClosed, nil)
		case k.tc != nil:
			k.wq <- append([]byte(nil), data...)
			w.done(cgo.SockOK, nil)
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

func (l *Sockets) socketConnect(w *sockWait, addr string, timeout time.Duration) {
	fail := func(msg string) {
		w.done(cgo.SockEFail, []byte(msg))
		l.loop.Post(w.resume)
	}
	ta, err := dialAddrOf(addr)
	if err != nil {
		fail("connect: " + err.Error())
		return
	}
	l.next++
	k := &luaSocket{l: l, id: l.next, owner: w.s, wait: w}
	if err := l.loop.Dial(ta, k); err != nil {
		fail("connect: " + err.Error())
		return
	}
	l.sockets[k.id] = k
	if timeout > 0 {
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

// Opened is called on the loop when the dial completed.
func (k *luaSocket) Opened(c transport.Conn) {
	k.c = c
	if _, ok := k.l.sockets[k.id]; !ok {
		c.Close() // closed (timeout, or its owner ended) while connecting
		return
	}
	if w := k.wait; w != nil && w.op == cgo.SockConnect {
		k.wait = nil
		if w.timer != nil {
			w.timer.Stop()
		}
		w.s.SetSockResult(k.id, cgo.SockOK, nil)
		w.resume()
	}
}

// OnTraffic takes what arrived for the script.
func (k *luaSocket) OnTraffic() {
	buf := k.c.Peek()
	k.in = append(k.in, buf...)
	k.c.Discard(len(buf))
	k.deliver()
}

// OnClose marks the end of what the peer sends.
func (k *luaSocket) OnClose(error) {
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
	}
	if k.wq != nil {
		close(k.wq) // the writer closes the TLS connection when done
		k.wq = nil
	}
}

// socketConnectTLS connects over TLS from a goroutine; the connection's
// reads and writes then run on two goroutines that report to the loop.
func (l *Sockets) socketConnectTLS(w *sockWait, addr string, timeout time.Duration) {
	l.next++
	k := &luaSocket{l: l, id: l.next, owner: w.s, wait: w}
	l.sockets[k.id] = k
	if timeout <= 0 {
		timeout = time.Minute
	}
	host, _, _ := net.SplitHostPort(addr)
	go func() {
		d := &net.Dialer{Timeout: timeout}
		tc, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
		l.loop.Post(func() {
			if k.wait != w {
				if tc != nil {
					_ = tc.Close()
				}
				return
			}
			k.wait = nil
			if err != nil || l.sockets[k.id] != k {
				delete(l.sockets, k.id)
				msg := "connect_ssl: closed"
				if err != nil {
					msg = "connect_ssl: " + err.Error()
				}
				if tc != nil {
					_ = tc.Close()
				}
				w.done(cgo.SockEFail, []byte(msg))
				w.resume()
				return
			}
			k.tc = tc
			k.wq = make(chan []byte, 64)
			go k.tlsWriter(tc, k.wq)
			go k.tlsReader(tc)
			w.s.SetSockResult(k.id, cgo.SockOK, nil)
			w.resume()
		})
	}()
}

func (k *luaSocket) tlsWriter(tc *tls.Conn, wq <-chan []byte) {
	for p := range wq {
		if _, err := tc.Write(p); err != nil {
			break
		}
	}
	_ = tc.Close()
	for range wq {
	}
}

func (k *luaSocket) tlsReader(tc *tls.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := tc.Read(buf)
		if n > 0 {
			p := append([]byte(nil), buf[:n]...)
			k.l.loop.Post(func() {
				k.in = append(k.in, p...)
				k.deliver()
			})
		}
		if err != nil {
			k.l.loop.Post(func() {
				k.eof = true
				k.deliver()
			})
			return
		}
	}
}

// CloseOf closes the sockets a finished request or task left open.
func (l *Sockets) CloseOf(s *cgo.Stream) {
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
