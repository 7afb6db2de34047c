package transport_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/transport"
)

// conn is the handler of one accepted connection. Its events count
// traffic and, unless paused by the test, echo nothing: the test drives
// the connection from the loop with onLoop.
type conn struct {
	l       *eventloop.Loop
	c       transport.Conn
	traffic atomic.Int32 // OnTraffic calls
	got     []byte       // bytes read; loop only
	pauseOn bool         // pause reading on the first traffic; loop only
	take    int          // bytes consumed per OnTraffic; 0: all; loop only
	need    int          // bytes to wait for before consuming any, as a parser waiting for a whole frame does; loop only
	closed  chan struct{}
	// halfClose: at the peer's end, keep the connection (Detach) and
	// close detached; closeErr is OnClose's cause.
	halfClose bool
	detached  chan struct{}
	closeErr  error
}

func (h *conn) OnPeerEOF() bool {
	if !h.halfClose || transport.Detach(h.c, h.l.Post, h.OnTraffic, h.OnClose, 5*time.Second) != nil {
		return false
	}
	close(h.detached)
	return true
}

func (h *conn) OnTraffic() {
	h.traffic.Add(1)
	b := h.c.Peek()
	if len(b) < h.need {
		h.c.Discard(0) // nothing consumed: the bytes stay for the next call
		return
	}
	if h.take > 0 && len(b) > h.take {
		b = b[:h.take]
	}
	h.got = append(h.got, b...)
	h.c.Discard(len(b))
	if h.pauseOn {
		h.pauseOn = false
		h.c.PauseRead()
	}
}

func (h *conn) OnClose(err error) {
	h.closeErr = err
	close(h.closed)
}

// serve starts an engine with one loop whose connections are conns, and
// returns its address and the channel the handlers arrive on.
func serve(t *testing.T) (string, <-chan *conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := eventloop.New(eventloop.Options{Loops: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conns := make(chan *conn, 4)
	if err := e.Listen(addr, func(l *eventloop.Loop, c transport.Conn) eventloop.Handler {
		h := &conn{l: l, c: c, closed: make(chan struct{}), detached: make(chan struct{})}
		conns <- h
		return h
	}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- e.Run() }()
	select {
	case <-e.Booted():
	case err := <-ran:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("engine not booted")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		<-ran
	})
	return addr, conns
}

// dial connects a client and returns it with the server side's handler.
func dial(t *testing.T, addr string, conns <-chan *conn) (net.Conn, *conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	select {
	case h := <-conns:
		return c, h
	case <-time.After(10 * time.Second):
		t.Fatal("connection not accepted")
	}
	return nil, nil
}

// onLoop runs fn on h's loop and waits for it.
func onLoop(t *testing.T, h *conn, fn func()) {
	t.Helper()
	done := make(chan struct{})
	h.l.Post(func() { fn(); close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("loop task did not run")
	}
}

// pollLoop evaluates cond on h's loop until it holds, for up to 10 s.
func pollLoop(t *testing.T, h *conn, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		onLoop(t, h, func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// A write larger than the socket takes is queued, not lost: Outbound shows
// it while the client does not read, and drains to zero once it does; the
// client gets every byte, in order. Small writes after it queue behind it.
func TestPlainWriteQueuesAndDrains(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	big := pattern(24 << 20)
	var queued int
	onLoop(t, h, func() {
		h.c.Write(big)
		h.c.Write([]byte("tail")) // must go after big, not before it
		queued = h.c.Outbound()
	})
	if queued == 0 {
		t.Fatal("Outbound() = 0 right after a 24 MiB write to a client that does not read")
	}
	got := make([]byte, len(big)+4)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(big)], big) || string(got[len(big):]) != "tail" {
		t.Fatal("the client got the bytes altered or out of order")
	}
	pollLoop(t, h, "Outbound() to drain to 0", func() bool { return h.c.Outbound() == 0 })
}

// Discard(0) consumes nothing: a parser that has only part of a frame
// keeps it and finds it in front of the rest on the next call. (gnet's
// own Discard drops everything for n <= 0.)
func TestPlainDiscardZeroKeepsInput(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() { h.need = 10 })
	if _, err := c.Write([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "the first bytes to arrive", func() bool { return h.traffic.Load() > 0 })
	if _, err := c.Write([]byte("67890")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "all ten bytes", func() bool { return string(h.got) == "1234567890" })
}

// A small write with nothing queued goes out at once (the raw write path).
func TestPlainSmallWrite(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	var out int
	onLoop(t, h, func() {
		h.c.Write(nil) // nothing to write: no effect
		h.c.Write([]byte("hello"))
		out = h.c.Outbound()
	})
	if out != 0 {
		t.Fatalf("Outbound() = %d after a 5-byte write", out)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("client read %q, %v", got, err)
	}
}

// PauseRead stops OnTraffic (the bytes wait in the socket, and Idle says
// so) until ResumeRead, which delivers them.
func TestPlainPauseResume(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() { h.pauseOn = true })
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "the first bytes", func() bool { return string(h.got) == "first" })
	idle := false
	onLoop(t, h, func() { idle = h.c.Idle() })
	if !idle {
		t.Fatal("Idle() = false with nothing sent after what was read")
	}
	calls := h.traffic.Load()
	if _, err := c.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	// The bytes reach the socket but not the handler.
	pollLoop(t, h, "Idle() to see the waiting bytes", func() bool { return !h.c.Idle() })
	onLoop(t, h, func() {
		if h.c.Unread() {
			t.Error("Unread() while reading is paused: the loop would not read the bytes")
		}
	})
	onLoop(t, h, func() {}) // one more loop turn
	if n := h.traffic.Load(); n != calls {
		t.Fatalf("OnTraffic called %d times while reading was paused", n-calls)
	}
	onLoop(t, h, func() {
		if string(h.got) != "first" {
			t.Errorf("read %q while paused", h.got)
		}
		if h.c.Inbound() != 0 {
			t.Errorf("Inbound() = %d while paused", h.c.Inbound())
		}
		h.c.ResumeRead()
		h.c.ResumeRead() // a second resume changes nothing
	})
	pollLoop(t, h, "the bytes sent while paused", func() bool { return string(h.got) == "firstsecond" })
	// Reading goes on normally.
	if _, err := c.Write([]byte("third")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "the bytes sent after the resume", func() bool { return string(h.got) == "firstsecondthird" })
}

// Unread sees bytes that reached the socket while the loop was busy, and
// no longer once the loop has read them; the peer's end is no byte. Each
// check waits inside a loop task, so that the loop cannot read meanwhile.
func TestPlainUnread(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() {
		if h.c.Unread() {
			t.Error("Unread() with nothing sent")
		}
		// The loop runs this task: the bytes wait in the socket.
		if _, err := c.Write([]byte("next")); err != nil {
			t.Error(err)
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for !h.c.Unread() {
			if time.Now().After(deadline) {
				t.Error("Unread() still false 10 s after the client wrote")
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	pollLoop(t, h, "the bytes to be read", func() bool { return string(h.got) == "next" })
	onLoop(t, h, func() {
		if h.c.Unread() {
			t.Error("Unread() once the bytes were read")
		}
	})
	onLoop(t, h, func() {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Error(err)
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for h.c.Idle() { // the end reached the socket: not idle
			if time.Now().After(deadline) {
				t.Error("the client's end has not reached the socket after 10 s")
				return
			}
			time.Sleep(time.Millisecond)
		}
		if h.c.Unread() {
			t.Error("Unread() at the client's end, with no byte")
		}
	})
}

// Peek, Discard and Inbound agree on what is buffered, with partial
// Discards; bytes buffered make the connection not Idle.
func TestPlainPeekDiscard(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() { h.take = 2 })
	if _, err := c.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "the first two bytes", func() bool { return string(h.got) == "ab" })
	onLoop(t, h, func() {
		if n, p := h.c.Inbound(), string(h.c.Peek()); n != 4 || p != "cdef" {
			t.Errorf("after Discard(2): Inbound %d Peek %q, want 4 \"cdef\"", n, p)
		}
		if h.c.Idle() {
			t.Error("Idle() with 4 bytes buffered")
		}
		h.c.Discard(1)
		if p := string(h.c.Peek()); p != "def" {
			t.Errorf("after Discard(1): Peek %q", p)
		}
		h.c.Discard(-1)
		if h.c.Inbound() != 0 || len(h.c.Peek()) != 0 {
			t.Errorf("after Discard(-1): Inbound %d Peek %q", h.c.Inbound(), h.c.Peek())
		}
		if !h.c.Idle() {
			t.Error("not Idle() with nothing buffered nor sent")
		}
		if h.c.RemoteAddr().String() != c.LocalAddr().String() || h.c.LocalAddr().String() != c.RemoteAddr().String() {
			t.Errorf("addresses %v %v, client %v %v", h.c.RemoteAddr(), h.c.LocalAddr(), c.LocalAddr(), c.RemoteAddr())
		}
	})
}

// CloseWrite ends the outbound direction: the client reads the bytes
// sent, then EOF, and can still send.
func TestPlainCloseWrite(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() {
		h.c.Write([]byte("bye"))
		h.c.CloseWrite()
	})
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v; want \"bye\" then EOF", got, err)
	}
	if _, err := c.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "bytes after the half-close", func() bool { return string(h.got) == "still here" })
	onLoop(t, h, func() { h.c.Close() })
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called after Close")
	}
}

// Throttle pauses the source while the destination's backlog is at or
// over HighWater and resumes it once the backlog falls to LowWater, or at
// once when the exchange is gone.
func TestThrottle(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	var backlog atomic.Int64
	var gone atomic.Bool
	var rechecks atomic.Int32
	after := func(d time.Duration, fn func()) {
		rechecks.Add(1)
		h.l.After(d, fn)
	}
	bl := func() int { return int(backlog.Load()) }

	// Under the high-water mark: nothing is paused.
	backlog.Store(transport.HighWater - 1)
	onLoop(t, h, func() { transport.Throttle(after, h.c, bl, gone.Load) })
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "bytes under the high-water mark", func() bool { return string(h.got) == "a" })

	// At the mark: paused until the backlog is at LowWater.
	backlog.Store(transport.HighWater)
	onLoop(t, h, func() {
		transport.Throttle(after, h.c, bl, gone.Load)
		transport.Throttle(after, h.c, bl, gone.Load) // already paused: no second watcher
	})
	calls := h.traffic.Load()
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "bytes waiting in the socket", func() bool { return !h.c.Idle() })
	backlog.Store(transport.LowWater + 1) // still over the low mark
	// Several rechecks pass without a resume.
	seen := rechecks.Load()
	pollLoop(t, h, "five rechecks", func() bool { return rechecks.Load() >= seen+5 })
	if h.traffic.Load() != calls {
		t.Fatal("reading resumed while the backlog was over LowWater")
	}
	backlog.Store(transport.LowWater)
	pollLoop(t, h, "reading to resume under LowWater", func() bool { return string(h.got) == "ab" })

	// The exchange ending resumes at once, whatever the backlog.
	backlog.Store(transport.HighWater * 4)
	onLoop(t, h, func() { transport.Throttle(after, h.c, bl, gone.Load) })
	if _, err := c.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "bytes waiting in the socket", func() bool { return !h.c.Idle() })
	gone.Store(true)
	pollLoop(t, h, "reading to resume when gone", func() bool { return string(h.got) == "abc" })
}

// Discard(0) drops nothing (gnet's Discard takes 0 to mean all).
func TestPlainDiscardZero(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() { h.take = 2 })
	if _, err := c.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	pollLoop(t, h, "the first bytes", func() bool { return len(h.got) >= 2 })
	var before, after int
	onLoop(t, h, func() {
		before = h.c.Inbound()
		h.c.Discard(0)
		after = h.c.Inbound()
	})
	if before == 0 || after != before {
		t.Fatalf("Inbound %d before Discard(0), %d after", before, after)
	}
}
