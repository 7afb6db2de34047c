package transport

import (
	"net"
	"reflect"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Plain is a clear-text connection: a gnet connection with a faster write
// path and read pausing.
type Plain struct {
	c      gnet.Conn
	pollFd int32 // the loop's epoll instance, found on the first pause; 0: not yet
	pause  bool
	// x is what few connections have; nil: none of it. A pointer, so
	// that a Plain stays 32 bytes.
	x *extra
}

// extra is what few connections have, for their life: the addresses that
// replace the socket's (SetAddrs: those a PROXY protocol header named;
// nil: the socket's stand) and the header's v2 TLVs as they came (nil:
// none); and, once gnet let go of the connection at its peer's end, the
// state it goes on with (detached.go; nil: gnet's).
type extra struct {
	remote, local net.Addr
	tlvs          []byte
	d             *detached
}

// NewPlain wraps a gnet connection.
func NewPlain(c gnet.Conn) *Plain { return &Plain{c: c} }

func (p *Plain) Peek() []byte {
	if d := p.detached(); d != nil {
		return d.in
	}
	b, _ := p.c.Peek(-1)
	return b
}

// detached is the state of a connection gnet let go of (Detach); nil
// while gnet has it.
func (p *Plain) detached() *detached {
	if p.x == nil {
		return nil
	}
	return p.x.d
}

// Discard drops the first n inbound bytes (n < 0: all). gnet's Discard
// takes 0 to mean all, so 0 does nothing here.
func (p *Plain) Discard(n int) {
	if d := p.detached(); d != nil {
		d.discard(n)
		return
	}
	if n != 0 {
		_, _ = p.c.Discard(n)
	}
}

func (p *Plain) Inbound() int {
	if d := p.detached(); d != nil {
		return len(d.in)
	}
	return p.c.InboundBuffered()
}

func (p *Plain) Outbound() int {
	if d := p.detached(); d != nil {
		return d.outbound()
	}
	return p.c.OutboundBuffered()
}

func (p *Plain) Close() {
	if d := p.detached(); d != nil {
		d.ask(true)
		return
	}
	_ = p.c.Close()
}

// RemoteAddr is the client's address: the socket's peer, or the one a
// PROXY header named.
func (p *Plain) RemoteAddr() net.Addr {
	if p.x != nil && p.x.remote != nil {
		return p.x.remote
	}
	return p.c.RemoteAddr()
}

// LocalAddr is the address the client connected to: the socket's, or the
// one a PROXY header named.
func (p *Plain) LocalAddr() net.Addr {
	if p.x != nil && p.x.local != nil {
		return p.x.local
	}
	return p.c.LocalAddr()
}

// SetAddrs makes RemoteAddr and LocalAddr return remote and local (those
// a PROXY protocol header named), for the connection's life. Called on
// the loop, before the protocol's handler reads them.
func (p *Plain) SetAddrs(remote, local net.Addr) {
	if p.x == nil {
		p.x = &extra{}
	}
	p.x.remote, p.x.local = remote, local
}

// SetProxyTLVs keeps the TLVs of the connection's PROXY v2 header (the
// connection owns tlvs from then on), for the fc_pp_* fetches.
func (p *Plain) SetProxyTLVs(tlvs []byte) {
	if p.x == nil {
		p.x = &extra{}
	}
	p.x.tlvs = tlvs
}

// ProxyTLVs returns the TLVs SetProxyTLVs kept; nil: none.
func (p *Plain) ProxyTLVs() []byte {
	if p.x == nil {
		return nil
	}
	return p.x.tlvs
}

// rawWriteMax bounds the writes Write makes itself: a raw call holds the
// loop's P, so one that copies megabytes into the socket is left to gnet.
const rawWriteMax = 64 << 10

// Write offers p to the socket with one raw write(2) when nothing is
// queued: the socket is non-blocking, so the call cannot block, and it
// skips the scheduler's syscall bookkeeping that gnet's Write pays on
// every response. What the kernel did not take, or an error, goes to
// gnet's Write, which queues the rest until the socket is writable, or
// closes the connection.
func (p *Plain) Write(b []byte) {
	if len(b) == 0 {
		return
	}
	if d := p.detached(); d != nil {
		d.send(b)
		return
	}
	if len(b) <= rawWriteMax && p.c.OutboundBuffered() == 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(p.c.Fd()), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == 0 {
			if int(n) == len(b) {
				return
			}
			b = b[n:]
		}
	}
	_, _ = p.c.Write(b)
}

// CloseWrite half-closes once gnet's queue is empty; with bytes queued, the
// caller retries (the queue drains on gnet's write path).
func (p *Plain) CloseWrite() {
	if d := p.detached(); d != nil {
		d.ask(false)
		return
	}
	_ = unix.Shutdown(p.c.Fd(), unix.SHUT_WR)
}

// Idle peeks at the socket without reading: bytes a peer wrote may sit in
// it before the loop has read them.
func (p *Plain) Idle() bool {
	if d := p.detached(); d != nil {
		return len(d.in) == 0
	}
	if p.c.InboundBuffered() > 0 {
		return false
	}
	_, errno := p.peek()
	return errno == unix.EAGAIN
}

// Unread reports whether bytes wait in the socket that the loop has not
// read yet and reads at its next turn (reading is not paused).
func (p *Plain) Unread() bool {
	if p.pause || p.detached() != nil {
		return false
	}
	n, errno := p.peek()
	return errno == 0 && n > 0 // n == 0: the peer's end
}

// peek looks at the socket's next byte without taking it: n is 1 when
// bytes wait, 0 at the peer's end; errno is EAGAIN when nothing has
// arrived (the socket is non-blocking).
func (p *Plain) peek() (n uintptr, errno unix.Errno) {
	var b [1]byte
	n, _, errno = unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(p.c.Fd()), uintptr(unsafe.Pointer(&b[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return n, errno
}

func (p *Plain) SetSockopt(level, opt, value int) error {
	if d := p.detached(); d != nil {
		return d.setSockopt(level, opt, value)
	}
	return unix.SetsockoptInt(p.c.Fd(), level, opt, value)
}

// PauseRead takes the socket out of the loop's read interest. gnet has no
// call for this, so the registration is changed in the loop's epoll
// instance directly, keeping what gnet relies on: write interest stays
// while gnet has bytes queued, so its write path goes on. gnet itself
// re-arms reading when it next changes the registration (after a write
// that had to be queued); the pause is then merely shorter, never lost
// for the peer's data.
func (p *Plain) PauseRead() {
	if d := p.detached(); d != nil {
		d.pauseIn = true
		return
	}
	if p.pause || !p.findPoll() {
		return
	}
	ev := uint32(0)
	if p.c.OutboundBuffered() > 0 {
		ev = unix.EPOLLOUT
	}
	if unix.EpollCtl(int(p.pollFd), unix.EPOLL_CTL_MOD, p.c.Fd(), &unix.EpollEvent{Fd: int32(p.c.Fd()), Events: ev}) == nil {
		p.pause = true
	}
}

// ResumeRead puts reading back, with write interest if gnet has bytes queued.
func (p *Plain) ResumeRead() {
	if d := p.detached(); d != nil {
		d.resume()
		return
	}
	if !p.pause {
		return
	}
	p.pause = false
	ev := uint32(unix.EPOLLIN | unix.EPOLLPRI)
	if p.c.OutboundBuffered() > 0 {
		ev |= unix.EPOLLOUT
	}
	_ = unix.EpollCtl(int(p.pollFd), unix.EPOLL_CTL_MOD, p.c.Fd(), &unix.EpollEvent{Fd: int32(p.c.Fd()), Events: ev})
}

func (p *Plain) paused() bool {
	if d := p.detached(); d != nil {
		return d.pauseIn
	}
	return p.pause
}

// findPoll finds the epoll instance of the connection's loop: gnet keeps
// it unexported (conn.loop.poller.fd), so reflection reads it.
func (p *Plain) findPoll() bool {
	if p.pollFd > 0 {
		return true
	}
	v := reflect.ValueOf(p.c)
	for _, name := range []string{"loop", "poller", "fd"} {
		if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return false
		}
		v = v.FieldByName(name)
		if !v.IsValid() {
			return false
		}
	}
	if v.Kind() != reflect.Int || v.Int() <= 0 {
		return false
	}
	p.pollFd = int32(v.Int())
	return true
}

// SetTOSMark sets the IP TOS and the firewall mark of c (-1: unchanged),
// as TXN:set_tos and TXN:set_mark ask.
func SetTOSMark(c Conn, tos, mark int) error {
	var err error
	if tos >= 0 {
		err = c.SetSockopt(unix.IPPROTO_IP, unix.IP_TOS, tos)
	}
	if mark >= 0 {
		if e := c.SetSockopt(unix.SOL_SOCKET, unix.SO_MARK, mark); e != nil {
			err = e
		}
	}
	return err
}

// SetLinger sets SO_LINGER: with onoff 1 and sec 0, a close resets the
// connection.
func (p *Plain) SetLinger(onoff, sec int) error {
	if d := p.detached(); d != nil {
		if onoff == 0 {
			return d.conn.SetLinger(-1)
		}
		return d.conn.SetLinger(sec)
	}
	return unix.SetsockoptLinger(p.c.Fd(), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: int32(onoff), Linger: int32(sec)})
}
