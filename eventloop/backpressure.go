package eventloop

import (
	"reflect"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Backpressure for relayed bodies. gnet reads every readable socket into
// memory and has no call to stop reading one; a fast sender relayed to a
// slow receiver would pile up in the receiver's outbound buffer. So while
// the receiving side has more than relayHighWater unsent, the sending
// side's socket is taken out of the loop's epoll read interest (TCP flow
// control then slows the sender), and put back once the backlog is under
// relayLowWater.
const (
	relayHighWater = 512 << 10
	relayLowWater  = 128 << 10
	relayRecheck   = 2 * time.Millisecond
)

// epollFd returns the epoll instance of c's event loop. gnet keeps it
// unexported (conn.loop.poller.fd); reflection reads it once per loop.
func epollFd(c gnet.Conn) int {
	v := reflect.ValueOf(c)
	for _, name := range []string{"loop", "poller", "fd"} {
		if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return -1
		}
		v = v.FieldByName(name)
		if !v.IsValid() {
			return -1
		}
	}
	if v.Kind() != reflect.Int {
		return -1
	}
	return int(v.Int())
}

// throttle pauses reading from src while dst has a backlog, and resumes it
// when the backlog drained. It returns at once; the check repeats on the
// loop until then. gone reports that the exchange ended (resume at once).
func (l *Loop) throttle(src, dst gnet.Conn, gone func() bool) {
	if dst.OutboundBuffered() < relayHighWater || l.epfd < 0 {
		return
	}
	fd := src.Fd()
	if l.paused[fd] {
		return
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Fd: int32(fd)}); err != nil {
		return
	}
	l.paused[fd] = true
	var check func()
	check = func() {
		if !gone() && dst.OutboundBuffered() > relayLowWater {
			l.after(relayRecheck, check)
			return
		}
		delete(l.paused, fd)
		ev := uint32(unix.EPOLLIN | unix.EPOLLPRI)
		if src.OutboundBuffered() > 0 {
			ev |= unix.EPOLLOUT
		}
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Fd: int32(fd), Events: ev})
	}
	l.after(relayRecheck, check)
}
