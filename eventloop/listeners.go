package eventloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Closing the listeners at shutdown.
//
// With SO_REUSEPORT gnet gives each loop listening sockets of its own and
// polls them on the loop; it closes them only when the engine stops, and
// it offers no way to stop accepting before (Engine.Dup copies only the
// first loop's sockets, and a copy cannot close the socket). Shutting a
// listening socket down with shutdown(2) is no better: the socket leaves
// the listening state, epoll reports it ready for ever, accept fails with
// EINVAL, and gnet ends the loop on that error.
//
// So the socket behind each of gnet's listener descriptors is replaced,
// with dup2, by a listening Unix socket that never gets a connection.
// When its last descriptor goes, the kernel closes the TCP listener and
// drops it from gnet's epoll set itself: new connections are refused (or
// go to the group's listeners still open). gnet keeps a valid descriptor
// under the same number; at most one event already read for the old socket
// makes it call accept on the placeholder, which says EAGAIN. When the
// engine stops, gnet closes the placeholder where it would have closed its
// listener.
//
// Connections the kernel had completed but nobody accepted yet would be
// reset by the close: they are accepted first and handed to a loop. What
// arrives between that last accept and the close (a window of a few
// system calls), and handshakes not yet complete, are reset too, unless
// the sysctl net.ipv4.tcp_migrate_req is 1 (Linux 5.14 and later): then
// the kernel moves them to another listener of the SO_REUSEPORT group,
// which is what another engine on the same address (a reload) is.

// An engine's own listening sockets.
//
// gnet gives no handle on the sockets it listens with, so the engine
// recognises them as the listening sockets bound to its addresses that
// appeared while it started: Run lists those that exist before gnet makes
// its own, and startLoops lists them again once gnet's loops exist. Two
// engines of one process may listen on the same address (a reload's old
// and new generation), each socket in the same SO_REUSEPORT group: the
// start of engines is serialised (starting), or one could count the
// other's sockets as its own and close them. A socket is known by its
// cookie (SO_COOKIE), which the kernel never gives twice, so a descriptor
// number that gnet closed and the process reused is not taken for it.

// starting is held by the engine whose gnet is creating its listening
// sockets: from before they exist until startLoops has listed them, or
// until Run returns if gnet never got that far.
var starting sync.Mutex

// listenSockets returns the listening TCP sockets bound to one of e's
// addresses, by cookie (the value is the descriptor).
func (e *Engine) listenSockets() (map[uint64]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	socks := map[uint64]int{}
	for _, ent := range ents {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT); err != nil || v != 1 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		var a *net.TCPAddr
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *unix.SockaddrInet6:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		default:
			continue
		}
		if e.acceptorOf(a) == nil {
			continue
		}
		cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
		if err != nil {
			continue
		}
		socks[cookie] = fd
	}
	return socks, nil
}

// noteListeners records, once gnet has made its loops, the listening
// sockets that appeared since Run started (e.preexisting), and lets the
// next engine start.
func (e *Engine) noteListeners() {
	defer close(e.listening)
	defer e.doneStarting()
	now, err := e.listenSockets()
	if err != nil {
		e.opts.Log.Error("cannot list the listening sockets; they will not close before the engine stops", "err", err)
		return
	}
	for cookie := range e.preexisting {
		delete(now, cookie)
	}
	e.mu.Lock()
	e.listeners = now
	e.mu.Unlock()
}

// doneStarting releases starting, once.
func (e *Engine) doneStarting() {
	e.startDone.Do(starting.Unlock)
}

// CloseListeners stops accepting: every listening socket of the engine is
// closed, after the connections waiting in its queue are accepted and
// handed to loops. Another engine's sockets on the same addresses stay
// open: they get the connections that come next. Closing them again does
// nothing.
// It returns once those connections are open on their loops (their
// Acceptor has run) or after a few seconds.
func (e *Engine) CloseListeners() error {
	loops := e.Loops()
	e.mu.Lock()
	socks := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	hold, err := quietListener()
	if err != nil {
		return err
	}
	defer unix.Close(hold)
	var pending []<-chan gnet.RegisteredResult
	for cookie, fd := range socks {
		if c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE); err != nil || c != cookie {
			continue // not that socket any more: gnet has closed it
		}
		pending = append(pending, e.acceptQueued(fd, loops)...)
		if err := unix.Dup3(hold, fd, unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("closing listener: %w", err)
		}
	}
	timeout := time.After(5 * time.Second)
	for _, res := range pending {
		select {
		case r := <-res:
			if r.Err != nil {
				e.opts.Log.Warn("a connection accepted at shutdown could not be served", "err", r.Err)
			}
		case <-timeout:
			return errors.New("connections accepted at shutdown are not open after 5 s")
		}
	}
	// A loop may have accepted a connection itself just before the close
	// and not yet handed it to its Acceptor: a task posted now runs after
	// that, so once each loop has run one, every connection accepted is
	// known to the caller (edge counts it, and waits for it to finish). A
	// loop that does not run it within a second is busy, maybe in a script
	// that never yields: it is not between an accept and its Acceptor,
	// which run no Lua, so it is not waited for longer.
	barrier := time.After(time.Second)
	for _, l := range loops {
		ran := make(chan struct{})
		l.Post(func() { close(ran) })
		select {
		case <-ran:
		case <-barrier:
			return nil
		}
	}
	return nil
}

// quietListener returns a non-blocking listening Unix socket under an
// abstract name the kernel picks, which nothing connects to.
func quietListener() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	// An empty name asks for an abstract address (autobind).
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// acceptQueued accepts the connections waiting on the listening socket fd
// and registers them on loops in turn. gnet may accept some of them first
// on its own loop; the kernel gives each to one caller.
func (e *Engine) acceptQueued(fd int, loops []*Loop) []<-chan gnet.RegisteredResult {
	var pending []<-chan gnet.RegisteredResult
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
			continue
		}
		if err != nil {
			return pending // EAGAIN: the queue is empty
		}
		f := os.NewFile(uintptr(nfd), "accepted")
		c, err := net.FileConn(f) // a copy of nfd
		f.Close()
		if err != nil || len(loops) == 0 {
			if c != nil {
				c.Close()
			}
			e.opts.Log.Warn("a connection accepted at shutdown could not be served", "err", err)
			continue
		}
		// gnet registers a copy of c's descriptor and closes c.
		l := loops[len(pending)%len(loops)]
		res, err := l.el.Enroll(context.Background(), c)
		if err != nil {
			c.Close()
			e.opts.Log.Warn("a connection accepted at shutdown could not be served", "err", err)
			continue
		}
		pending = append(pending, res)
	}
}
