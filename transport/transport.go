// Package transport is the one connection interface that protocol code
// reads, writes, flushes, half-closes and pauses through. Plain sits on a
// gnet connection; TLS sits on a Plain and presents the same calls over
// the decrypted bytes, so HTTP/1, HTTP/2 and WebSocket run over either
// unchanged.
//
// A Conn belongs to the event loop it was opened on and is used from that
// loop's thread only.
package transport

import (
	"net"
	"time"
)

// Conn is a connection as protocol code sees it.
type Conn interface {
	// Peek returns the inbound bytes buffered. The slice is valid until
	// the next Discard or the end of the running handler.
	Peek() []byte
	// Discard drops the first n inbound bytes (n < 0: all).
	Discard(n int)
	// Inbound is how many inbound bytes are buffered.
	Inbound() int
	// Write sends p. It never blocks: what the socket does not take now is
	// copied and queued, and leaves when the socket is writable again.
	Write(p []byte)
	// Outbound is how many bytes are queued, not yet taken by the kernel:
	// the measure of backpressure for whoever writes.
	Outbound() int
	// CloseWrite ends the outbound direction once the queue has left.
	CloseWrite()
	// Close closes the connection; its handler's OnClose follows.
	Close()
	// PauseRead stops reading from the socket (TCP flow control then slows
	// the peer); ResumeRead starts again. Reading is paused only between
	// these calls.
	PauseRead()
	ResumeRead()
	// Idle reports whether no byte waits to be read, neither buffered nor
	// in the socket: a pooled connection is reused only when it is idle.
	Idle() bool
	// Unread reports whether bytes wait in the socket, not read yet, that
	// the loop reads at its next turn: a connection about to be closed
	// for being idle may have just received its next request.
	Unread() bool
	// SetSockopt sets an integer socket option.
	SetSockopt(level, opt, value int) error
	RemoteAddr() net.Addr
	LocalAddr() net.Addr
}

// Throttle pauses reading from src while its destination has more than
// HighWater unsent (backlog), and resumes it once the backlog is under
// LowWater; after schedules the re-checks on the loop. gone reports that
// the exchange between the two ended (resume at once). It returns at once.
func Throttle(after func(time.Duration, func()), src Conn, backlog func() int, gone func() bool) {
	if backlog() < HighWater {
		return
	}
	p, ok := src.(pausable)
	if !ok || p.paused() {
		return
	}
	src.PauseRead()
	var check func()
	check = func() {
		if !gone() && backlog() > LowWater {
			after(Recheck, check)
			return
		}
		src.ResumeRead()
	}
	after(Recheck, check)
}

// Relay backpressure: the marks of Throttle, and how often a paused
// source looks at its destination's backlog again.
const (
	HighWater = 512 << 10
	LowWater  = 128 << 10
	Recheck   = 2 * time.Millisecond
)

type pausable interface{ paused() bool }

// Linger is how long a connection closing with input still arriving
// keeps reading (and dropping) it after CloseWriteWhenSent, before it
// closes anyway.
const Linger = 2 * time.Second

// CloseWriteWhenSent half-closes c once its queued output has left, and
// drops what has arrived: the first step of a close that must not reset
// the connection (closing a socket with unread input makes the kernel
// send a reset, which can overtake the last bytes of a response). The
// caller drops what still arrives and closes c when the peer does or at
// its own deadline. after schedules the re-checks on the loop; closed
// reports that c closed meanwhile.
func CloseWriteWhenSent(after func(time.Duration, func()), c Conn, closed func() bool) {
	var step func()
	step = func() {
		if closed() {
			return
		}
		if c.Outbound() > 0 {
			after(5*time.Millisecond, step)
			return
		}
		c.CloseWrite()
		c.Discard(-1)
	}
	step()
}
