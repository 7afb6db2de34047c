package eventloop

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
)

// The Go half of the Socket class (lj/lua/socket.lua): TCP connections a
// script opens with core.tcp(). They live on the loop of the coroutine
// that opened them; every call parks the coroutine (OpSocket) and the loop
// resumes it when the operation completed.

// luaSocket is one core.tcp() connection: a gnet connection of the loop,
// or for TLS (connect_ssl) a crypto/tls connection driven by two
// goroutines that hand what they read to the loop.
type luaSocket struct {
	l     *Loop
	id    int
	owner *cgo.Stream // the request or task that opened it; closed with it
	c     gnet.Conn   // nil while connecting, and for TLS
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

// sockCtx marks a gnet connection as a luaSocket (its context).
type sockCtx struct{ k *luaSocket }

// loopsByID finds a loop from the id of its Lua state, for the gate
// functions below.
var loopsByID sync.Map // int -> *Loop

func init() {
	lj.RegisterGoFunc("sock_name", goSockName)
	lj.RegisterGoFunc("sock_option", goSockOption)
}

func socketOf(c *cgo.Call) *luaSocket {
	v, ok := loopsByID.Load(c.StateID)
	if !ok {
		return nil
	}
	return v.(*Loop).sockets[int(c.Int(1))]
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
	switch c.String(2) {
	case "tcp-nodelay":
		nd := gnet.TCPDelay
		if c.Bool(3) {
			nd = gnet.TCPNoDelay
		}
		err = k.c.SetNoDelay(nd == gnet.TCPNoDelay)
	case "keepalive":
		err = k.c.SetKeepAlivePeriod(time.Minute)
		if !c.Bool(3) {
			err = k.c.SetKeepAlivePeriod(0)
		}
	case "linger":
		err = k.c.SetLinger(0)
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

// socketOp performs the Socket operation stream s yielded for; resume
// runs the coroutine again once it completed.
func (l *Loop) socketOp(s *cgo.Stream, resume func()) {
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
		l.post(resume)
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
			_, _ = k.c.Write(data)
			w.done(cgo.SockOK, nil)
		}
		l.post(resume)
	case cgo.SockRecv:
		k.wait = w
		if timeout > 0 {
			w.timer = l.after(timeout, func() {
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
		l.post(resume)
	default:
		w.done(cgo.SockEFail, []byte("unknown socket operation"))
		l.post(resume)
	}
}

func (w *sockWait) done(res int, data []byte) {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.s.SetSockResult(0, res, data)
}

func (l *Loop) socketConnect(w *sockWait, addr string, timeout time.Duration) {
	fail := func(msg string) {
		w.done(cgo.SockEFail, []byte(msg))
		l.post(w.resume)
	}
	ta, err := dialAddrOf(addr)
	if err != nil {
		fail("connect: " + err.Error())
		return
	}
	l.nextSock++
	k := &luaSocket{l: l, id: l.nextSock, owner: w.s, wait: w}
	res, err := l.el.Register(gnet.NewContext(context.Background(), sockCtx{k}), ta)
	if err != nil {
		fail("connect: " + err.Error())
		return
	}
	l.sockets[k.id] = k
	go func() {
		if r := <-res; r.Err != nil {
			l.post(func() {
				if k.wait == w {
					k.wait = nil
					delete(l.sockets, k.id)
					fail("connect: " + r.Err.Error())
				}
			})
		}
	}()
	if timeout > 0 {
		w.timer = l.after(timeout, func() {
			if k.wait == w && k.c == nil {
				k.wait = nil
				k.close()
				w.done(cgo.SockETimeout, nil)
				w.resume()
			}
		})
	}
}

// opened is called from OnOpen when the dial completed.
func (k *luaSocket) opened(c gnet.Conn) {
	k.c = c
	if _, ok := k.l.sockets[k.id]; !ok {
		_ = c.Close() // closed (timeout, or its owner ended) while connecting
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

func (k *luaSocket) onTraffic() {
	buf, _ := k.c.Next(-1)
	k.in = append(k.in, buf...)
	k.deliver()
}

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
	k.l.post(w.resume)
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
		_ = k.c.Close()
	}
	if k.wq != nil {
		close(k.wq) // the writer closes the TLS connection when done
		k.wq = nil
	}
}

// socketConnectTLS connects over TLS from a goroutine; the connection's
// reads and writes then run on two goroutines that report to the loop.
func (l *Loop) socketConnectTLS(w *sockWait, addr string, timeout time.Duration) {
	l.nextSock++
	k := &luaSocket{l: l, id: l.nextSock, owner: w.s, wait: w}
	l.sockets[k.id] = k
	if timeout <= 0 {
		timeout = time.Minute
	}
	host, _, _ := net.SplitHostPort(addr)
	go func() {
		d := &net.Dialer{Timeout: timeout}
		tc, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
		l.post(func() {
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
			k.l.post(func() {
				k.in = append(k.in, p...)
				k.deliver()
			})
		}
		if err != nil {
			k.l.post(func() {
				k.eof = true
				k.deliver()
			})
			return
		}
	}
}

// closeSocketsOf closes the sockets a finished request or task left open.
func (l *Loop) closeSocketsOf(s *cgo.Stream) {
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
