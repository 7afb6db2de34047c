package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2/pkg/buffer/elastic"
	"golang.org/x/sys/unix"
)

// A client that sends its request and then ends its side of the
// connection (nc -N, socat, a script's shutdown(SHUT_WR)) still waits for
// the answer. gnet closes a connection as soon as a read returns EOF, so
// such a connection is taken from gnet while it closes: Detach keeps a
// duplicate of its socket, with what gnet still held of it both ways, and
// the connection goes on through the Go runtime's poller, where a writer
// goroutine sends what the loop writes. Nothing more is read: the peer
// sent all it will.

// detached is a Plain that gnet let go of. in belongs to the loop; the
// writer state under mu is shared by the loop (which writes and asks for
// the end) and the connection's writer goroutine (which sends).
type detached struct {
	conn     *net.TCPConn
	post     func(func()) // runs a function on the connection's loop
	traffic  func()       // the handler's OnTraffic, for bytes left in in
	end      func(error)  // the handler's OnClose, run on the loop once the socket closed
	timeout  time.Duration
	in       []byte // bytes read before the peer's end, not consumed yet (loop's)
	posted   bool   // a traffic call for in is posted (loop's)
	pauseIn  bool   // the handler paused reading: in is not offered (loop's)
	mu       sync.Mutex
	more     sync.Cond // signalled when queue grows or an end is asked
	queue    []byte    // written by the loop, not yet taken by the writer
	flying   int       // bytes the writer is sending now
	shutAsk  bool      // CloseWrite was called
	closeAsk bool      // Close was called
	dead     bool      // the writer ended: further writes are dropped
}

// ErrNotDetachable is Detach's answer for a connection it cannot keep: not
// a clear gnet connection, or one whose gnet internals are not as known.
var ErrNotDetachable = errors.New("connection cannot be kept after its peer's end")

// Detach keeps c open after its peer ended its side, while gnet closes it:
// it is called in the handler's OnPeerEOF, the gnet connection still
// open. From then on c's writes go out through a goroutine (each within
// timeout); Peek returns what was read before the end and not consumed;
// ResumeRead with such bytes left posts traffic. Close and CloseWrite
// take effect once what was written has left; when the socket has closed
// (Close, or a failed write), end runs on the loop with the cause (io.EOF
// for a Close): the handler's OnClose. post runs a function on c's loop.
func Detach(c Conn, post func(func()), traffic func(), end func(error), timeout time.Duration) error {
	p, ok := c.(*Plain)
	if !ok || p.detached() != nil {
		return ErrNotDetachable
	}
	out, ok := gnetOutbound(p)
	if !ok {
		return ErrNotDetachable
	}
	fd, err := unix.Dup(p.c.Fd())
	if err != nil {
		return err
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return ErrNotDetachable
	}
	// The addresses now: gnet forgets them as it closes.
	remote, local := p.RemoteAddr(), p.LocalAddr()
	if p.x == nil {
		p.x = &extra{}
	}
	p.x.remote, p.x.local = remote, local
	d := &detached{conn: tc, post: post, traffic: traffic, end: end, timeout: timeout, pauseIn: p.pause}
	d.more.L = &d.mu
	if b, _ := p.c.Peek(-1); len(b) > 0 {
		d.in = append([]byte(nil), b...)
	}
	// What gnet still held for the peer leaves first, from here.
	iov, _ := out.Peek(0)
	n := 0
	for _, b := range iov {
		d.queue = append(d.queue, b...)
		n += len(b)
	}
	_, _ = out.Discard(n)
	p.x.d = d
	go d.write()
	return nil
}

// gnetOutbound finds the output queue of p's gnet connection, which gnet
// keeps unexported (conn.outboundBuffer): its bytes are taken over, not
// left for gnet's close, which sends what the socket takes at once and
// drops the rest.
func gnetOutbound(p *Plain) (*elastic.Buffer, bool) {
	v := reflect.ValueOf(p.c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	f := v.Elem().FieldByName("outboundBuffer")
	if !f.IsValid() || f.Type() != reflect.TypeFor[elastic.Buffer]() {
		return nil, false
	}
	return (*elastic.Buffer)(unsafe.Pointer(f.UnsafeAddr())), true
}

// write is the connection's writer goroutine: it sends what the loop
// queued, then half-closes or closes as asked once the queue is empty.
func (d *detached) write() {
	var buf []byte
	shut := false
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closeAsk && (!d.shutAsk || shut) {
			d.more.Wait()
		}
		buf, d.queue = d.queue, buf[:0]
		d.flying = len(buf)
		closeNow := d.closeAsk && len(buf) == 0
		d.mu.Unlock()
		switch {
		case len(buf) > 0:
			_ = d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
			_, err := d.conn.Write(buf)
			d.mu.Lock()
			d.flying = 0
			d.mu.Unlock()
			if err != nil {
				d.finish(err)
				return
			}
		case closeNow:
			d.finish(io.EOF)
			return
		default:
			shut = true
			_ = d.conn.CloseWrite()
		}
	}
}

// finish closes the socket and tells the handler, on its loop.
func (d *detached) finish(err error) {
	d.mu.Lock()
	d.dead = true
	d.queue = nil
	d.mu.Unlock()
	d.conn.Close()
	d.post(func() { d.end(err) })
}

// send queues p for the writer (copied: the caller reuses it).
func (d *detached) send(p []byte) {
	d.mu.Lock()
	if !d.dead {
		d.queue = append(d.queue, p...)
		d.more.Signal()
	}
	d.mu.Unlock()
}

func (d *detached) outbound() int {
	d.mu.Lock()
	n := len(d.queue) + d.flying
	d.mu.Unlock()
	return n
}

func (d *detached) ask(closing bool) {
	d.mu.Lock()
	if closing {
		d.closeAsk = true
	} else {
		d.shutAsk = true
	}
	d.more.Signal()
	d.mu.Unlock()
}

func (d *detached) discard(n int) {
	if n < 0 || n >= len(d.in) {
		d.in = nil
		return
	}
	d.in = d.in[n:]
}

// resume offers the bytes left in in to the handler again, once.
func (d *detached) resume() {
	d.pauseIn = false
	if len(d.in) == 0 || d.posted {
		return
	}
	d.posted = true
	d.post(func() {
		d.posted = false
		if len(d.in) > 0 && !d.pauseIn {
			d.traffic()
		}
	})
}

func (d *detached) setSockopt(level, opt, value int) error {
	rc, err := d.conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, value) }); err != nil {
		return err
	}
	return serr
}
