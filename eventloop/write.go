package eventloop

import (
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// rawWriteMax bounds the writes writeTo makes itself: a raw call holds the
// loop's P, so one that copies megabytes into the socket is left to gnet.
const rawWriteMax = 64 << 10

// writeTo writes b to c. When nothing is queued on c, it offers b to the
// socket with one raw write(2): the socket is non-blocking, so the call
// cannot block, and it skips the scheduler's syscall bookkeeping that
// gnet's Write pays on every response. What the kernel did not take, or
// an error, goes to gnet's Write, which queues the rest until the socket
// is writable again, or closes the connection.
func writeTo(c gnet.Conn, b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) <= rawWriteMax && c.OutboundBuffered() == 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.Fd()), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == 0 {
			if int(n) == len(b) {
				return
			}
			b = b[n:]
		}
	}
	_, _ = c.Write(b)
}
