package transport_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// waitFor waits for ch to close, for up to 10 s.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A client that sends, shuts its writing down and then reads still gets
// everything: what gnet held queued for it at its end (a write larger
// than the socket takes), and what the loop writes after. The bytes it
// sent and the handler had not consumed are still there to read.
// OnClose comes once Close has sent it all, with io.EOF. A second client
// on the same loop gets only its own bytes.
func TestDetachAfterPeerEnd(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	other, oh := dial(t, addr, conns)
	onLoop(t, h, func() { h.halfClose, h.take = true, 3 })
	big := pattern(24 << 20)
	onLoop(t, h, func() { h.c.Write(big) }) // more than the socket takes: gnet queues it
	if _, err := c.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.detached, "the detach")
	var left []byte
	var queued int
	onLoop(t, h, func() {
		// Bytes not consumed before the end: the test consumed 3 of
		// them per traffic event; whatever is still there reads back.
		left = append(left, h.c.Peek()...)
		h.c.Discard(-1)
		queued = h.c.Outbound()
		h.c.Write([]byte("after"))
		h.c.Close()
	})
	if got := string(h.got) + string(left); got != "abcdef" {
		t.Errorf("the handler read %q, want abcdef", got)
	}
	if queued == 0 {
		t.Error("Outbound() = 0 after the detach: gnet's queue was not taken over")
	}
	onLoop(t, oh, func() { oh.c.Write([]byte("other")) })
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(big, "after"...)) {
		t.Fatalf("the client got %d bytes, want %d: lost or altered", len(got), len(big)+5)
	}
	waitFor(t, h.closed, "OnClose")
	if !errors.Is(h.closeErr, io.EOF) {
		t.Errorf("OnClose(%v), want io.EOF", h.closeErr)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(other, b); err != nil || string(b) != "other" {
		t.Fatalf("the other client read %q, %v", b, err)
	}
}

// A detached connection whose peer is gone (it reset the connection)
// ends with the write's error, and OnClose says so.
func TestDetachPeerGone(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	onLoop(t, h, func() { h.halfClose = true })
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.detached, "the detach")
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-h.closed:
			if h.closeErr == nil || errors.Is(h.closeErr, io.EOF) {
				t.Fatalf("OnClose(%v), want the write's error", h.closeErr)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no OnClose after writes to a peer that reset")
		}
		h.l.Post(func() { h.c.Write([]byte("x")) })
		time.Sleep(10 * time.Millisecond)
	}
}

// Without a detach (the handler declines), a peer's end closes the
// connection as before: OnClose with io.EOF.
func TestPeerEndWithoutDetach(t *testing.T) {
	addr, conns := serve(t)
	c, h := dial(t, addr, conns)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.closed, "OnClose")
	if !errors.Is(h.closeErr, io.EOF) {
		t.Errorf("OnClose(%v), want io.EOF", h.closeErr)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the client read %v, want EOF", err)
	}
}
