package eventloop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaedge/luaedge/transport"
)

// goid returns the current goroutine's id, to check that work runs on a
// loop's goroutine.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runEngine runs e, waits until it booted, and stops it when the test ends.
func runEngine(t *testing.T, e *Engine) {
	t.Helper()
	ran := make(chan error, 1)
	go func() { ran <- e.Run() }()
	select {
	case <-e.Booted():
	case err := <-ran:
		t.Fatalf("Run returned before boot: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("engine not booted after 10 s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run has not returned 10 s after Stop")
		}
	})
}

// waitFor polls cond until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// loopInfo is what the test records about a loop, on that loop.
type loopInfo struct {
	setups int
	gid    uint64
}

// echo answers every byte with itself and records, on its loop, where it
// ran.
type echo struct {
	c      transport.Conn
	gid    uint64        // the goroutine its loop's Setup ran on
	bad    *atomic.Int32 // events seen off their loop's goroutine
	closed chan error
}

func (h *echo) check() {
	if h.gid != goid() {
		h.bad.Add(1)
	}
}

func (h *echo) OnTraffic() {
	h.check()
	b := h.c.Peek()
	h.c.Write(b)
	h.c.Discard(len(b))
}

func (h *echo) OnClose(err error) {
	h.check()
	h.closed <- err
}

type engineFixture struct {
	e       *Engine
	addr    string
	mu      sync.Mutex
	info    map[*Loop]*loopInfo
	bad     atomic.Int32
	accepts atomic.Int32
	refuse  atomic.Bool
	closed  chan error
}

func startEngine(t *testing.T, loops int) *engineFixture {
	t.Helper()
	f := &engineFixture{addr: freeAddr(t), info: map[*Loop]*loopInfo{}, closed: make(chan error, 16)}
	f.e = New(Options{Loops: loops, Log: testLog(), Setup: func(l *Loop) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		in := f.info[l]
		if in == nil {
			in = &loopInfo{gid: goid()}
			f.info[l] = in
		}
		in.setups++
		return nil
	}})
	err := f.e.Listen(f.addr, func(l *Loop, c transport.Conn) Handler {
		f.accepts.Add(1)
		if f.refuse.Load() {
			return nil
		}
		h := &echo{c: c, gid: f.loopGid(l), bad: &f.bad, closed: f.closed}
		h.check() // the acceptor runs on the loop too
		return h
	})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, f.e)
	return f
}

// loopGid returns the goroutine the test saw l's Setup run on.
func (f *engineFixture) loopGid(l *Loop) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info[l].gid
}

// Every loop is set up once, at boot, before any connection, each on its
// own goroutine, and gets an ID in 0..loops-1.
func TestSetupOncePerLoopAtBoot(t *testing.T) {
	f := startEngine(t, 2)
	loops := f.e.Loops()
	if len(loops) != 2 {
		t.Fatalf("Loops() = %d loops after boot, want 2", len(loops))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.info) != 2 {
		t.Fatalf("Setup ran for %d loops, want 2", len(f.info))
	}
	ids := map[int]bool{}
	gids := map[uint64]bool{}
	for _, l := range loops {
		in := f.info[l]
		if in == nil || in.setups != 1 {
			t.Fatalf("loop %d: setups %+v, want exactly 1", l.ID, in)
		}
		ids[l.ID] = true
		gids[in.gid] = true
		if l.Now().IsZero() {
			t.Errorf("loop %d: clock not set at setup", l.ID)
		}
	}
	if !ids[0] || !ids[1] {
		t.Fatalf("loop ids %v, want 0 and 1", ids)
	}
	if len(gids) != 2 {
		t.Fatal("both loops were set up on the same goroutine")
	}
}

// Connections reach the acceptor and their handlers get their traffic and
// their close, on the loop's goroutine.
func TestAcceptEchoClose(t *testing.T) {
	f := startEngine(t, 2)
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := []byte("ping " + strconv.Itoa(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo: %q, %v", got, err)
		}
		c.Close()
		select {
		case <-f.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("OnClose not called 10 s after the client closed")
		}
	}
	if n := f.accepts.Load(); n != 4 {
		t.Errorf("acceptor called %d times for 4 connections", n)
	}
	if n := f.bad.Load(); n != 0 {
		t.Errorf("%d handler calls ran off their loop's goroutine", n)
	}
	// After Setup, nothing else is set up.
	f.mu.Lock()
	for l, in := range f.info {
		if in.setups != 1 {
			t.Errorf("loop %d set up %d times", l.ID, in.setups)
		}
	}
	f.mu.Unlock()
}

// An acceptor that returns nil refuses the connection: it is closed.
func TestAcceptorRefuses(t *testing.T) {
	f := startEngine(t, 2)
	f.refuse.Store(true)
	c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write([]byte("x"))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read on a refused connection: %d, %v; want EOF or reset", n, err)
	}
	if f.accepts.Load() != 1 {
		t.Fatalf("acceptor called %d times", f.accepts.Load())
	}
}

// Post and After run their function on the loop's goroutine, and refresh
// the loop's clock first.
func TestPostAndAfterRunOnLoop(t *testing.T) {
	f := startEngine(t, 2)
	for _, l := range f.e.Loops() {
		want := f.loopGid(l)
		got := make(chan uint64, 2)
		before := time.Now()
		l.Post(func() {
			if l.Now().Before(before) {
				got <- 0
				return
			}
			got <- goid()
		})
		start := time.Now()
		l.After(20*time.Millisecond, func() { got <- goid() })
		for i, what := range []string{"Post", "After"} {
			select {
			case g := <-got:
				if g != want {
					t.Errorf("loop %d: %s ran on goroutine %d (or with a stale clock), want %d", l.ID, what, g, want)
				}
				if i == 1 && time.Since(start) < 20*time.Millisecond {
					t.Errorf("loop %d: After(20ms) ran after %v", l.ID, time.Since(start))
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("loop %d: %s did not run", l.ID, what)
			}
		}
	}
}

// A stopped After timer does not run.
func TestAfterStopped(t *testing.T) {
	f := startEngine(t, 1)
	l := f.e.Loops()[0]
	var ran atomic.Bool
	tm := l.After(30*time.Millisecond, func() { ran.Store(true) })
	if !tm.Stop() {
		t.Fatal("Stop on a pending timer returned false")
	}
	// A later timer on the same loop runs; by then the stopped one would have.
	done := make(chan struct{})
	l.After(60*time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("timer did not run")
	}
	if ran.Load() {
		t.Fatal("a stopped timer ran")
	}
}

// dialer records the outcome of a Dial, on the loop.
type dialer struct {
	l      *Loop
	gid    uint64
	opened chan transport.Conn
	failed chan error
	data   chan []byte
	closed chan struct{}
	off    atomic.Int32 // events off the loop's goroutine
	c      transport.Conn
}

func newDialer(l *Loop, gid uint64) *dialer {
	return &dialer{l: l, gid: gid, opened: make(chan transport.Conn, 1), failed: make(chan error, 1), data: make(chan []byte, 16), closed: make(chan struct{})}
}

func (d *dialer) on() {
	if goid() != d.gid {
		d.off.Add(1)
	}
}

func (d *dialer) Opened(c transport.Conn) {
	d.on()
	d.c = c
	c.Write([]byte("hello server"))
	d.opened <- c
}

func (d *dialer) DialFailed(err error) { d.on(); d.failed <- err }

func (d *dialer) OnTraffic() {
	d.on()
	b := d.c.Peek()
	d.data <- append([]byte(nil), b...)
	d.c.Discard(len(b))
}

func (d *dialer) OnClose(error) { d.on(); close(d.closed) }

// Dial to a listening address opens a connection on the given loop; the
// dialer's handler then gets its traffic and its close there.
func TestDialOpened(t *testing.T) {
	f := startEngine(t, 2)
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := srv.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	l := f.e.Loops()[1]
	d := newDialer(l, f.loopGid(l))
	if err := l.Dial(srv.Addr(), d); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.opened:
	case err := <-d.failed:
		t.Fatalf("DialFailed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Opened not called")
	}
	var sc net.Conn
	select {
	case sc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not accept")
	}
	defer sc.Close()
	_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("hello server"))
	if _, err := io.ReadFull(sc, got); err != nil || string(got) != "hello server" {
		t.Fatalf("server read %q, %v", got, err)
	}
	if _, err := sc.Write([]byte("hello client")); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for len(all) < len("hello client") {
		select {
		case b := <-d.data:
			all = append(all, b...)
		case <-time.After(10 * time.Second):
			t.Fatalf("dialled side got %q", all)
		}
	}
	if string(all) != "hello client" {
		t.Fatalf("dialled side got %q", all)
	}
	sc.Close()
	select {
	case <-d.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called after the server closed")
	}
	if n := d.off.Load(); n != 0 {
		t.Fatalf("%d dialer events ran off the loop's goroutine", n)
	}
}

// Dial to a port nobody listens on reports DialFailed on the loop.
func TestDialFailed(t *testing.T) {
	f := startEngine(t, 2)
	l := f.e.Loops()[0]
	d := newDialer(l, f.loopGid(l))
	addr, err := net.ResolveTCPAddr("tcp", freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Dial(addr, d); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.failed:
		if err == nil {
			t.Fatal("DialFailed(nil)")
		}
	case <-d.opened:
		t.Fatal("Opened on a closed port")
	case <-time.After(10 * time.Second):
		t.Fatal("DialFailed not called")
	}
	if n := d.off.Load(); n != 0 {
		t.Fatal("DialFailed ran off the loop's goroutine")
	}
}

// A Setup error stops the engine: Run returns it and Booted never closes.
func TestSetupErrorStopsRun(t *testing.T) {
	boom := errors.New("no state for this loop")
	var calls atomic.Int32
	e := New(Options{Loops: 2, Log: testLog(), Setup: func(l *Loop) error {
		if calls.Add(1) == 2 {
			return boom
		}
		return nil
	}})
	if err := e.Listen(freeAddr(t), func(*Loop, transport.Conn) Handler { return nil }); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- e.Run() }()
	select {
	case err := <-ran:
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want %v", err, boom)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run has not returned 10 s after a Setup error")
	}
	select {
	case <-e.Booted():
		t.Fatal("Booted closed although a loop failed to set up")
	default:
	}
}

// Stop closes the engine's connections (their handlers learn it) and Run
// returns.
func TestStopClosesConnections(t *testing.T) {
	f := &engineFixture{addr: freeAddr(t), info: map[*Loop]*loopInfo{}, closed: make(chan error, 16)}
	f.e = New(Options{Loops: 2, Log: testLog(), Setup: func(l *Loop) error {
		f.mu.Lock()
		f.info[l] = &loopInfo{gid: goid(), setups: 1}
		f.mu.Unlock()
		return nil
	}})
	_ = f.e.Listen(f.addr, func(l *Loop, c transport.Conn) Handler {
		return &echo{c: c, gid: f.loopGid(l), bad: &f.bad, closed: f.closed}
	})
	ran := make(chan error, 1)
	go func() { ran <- f.e.Run() }()
	<-f.e.Booted()
	c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.e.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run has not returned after Stop")
	}
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the open connection's handler got no OnClose")
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("client read after Stop: %d, %v", n, err)
	}
}

// tagged answers any bytes with its engine's tag.
type tagged struct {
	c   transport.Conn
	tag byte
}

func (h *tagged) OnTraffic() {
	h.c.Discard(len(h.c.Peek()))
	h.c.Write([]byte{h.tag})
}

func (h *tagged) OnClose(error) {}

// startTagged runs an engine on addr whose connections answer tag.
func startTagged(t *testing.T, addr string, tag byte) *Engine {
	t.Helper()
	e := New(Options{Loops: 2, Log: testLog()})
	if err := e.Listen(addr, func(l *Loop, c transport.Conn) Handler { return &tagged{c: c, tag: tag} }); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	return e
}

// ask connects to addr and returns the tag of the engine that answers.
func ask(addr string) (byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("?")); err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return 0, err
	}
	return b[0], nil
}

// Two engines on one address (a reload's generations) share it; closing
// the listeners of one leaves the other's open, so every connection after
// is accepted, by the other.
func TestCloseListenersOfOneEngine(t *testing.T) {
	addr := freeAddr(t)
	old := startTagged(t, addr, 'o')
	startTagged(t, addr, 'n')
	seen := map[byte]int{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		tag, err := ask(addr)
		if err != nil {
			t.Fatal(err)
		}
		seen[tag]++
	}
	if len(seen) != 2 {
		t.Fatalf("answers before closing: %v, want both engines", seen)
	}
	if err := old.CloseListeners(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		tag, err := ask(addr)
		if err != nil {
			t.Fatalf("connection %d after the old engine's listeners closed: %v", i, err)
		}
		if tag != 'n' {
			t.Fatalf("connection %d answered by %q after its listeners closed", i, tag)
		}
	}
}

// A connection a loop accepted just before CloseListeners, whose Acceptor
// is still running, is known when CloseListeners returns: the caller
// counting connections to wait for must see it.
func TestCloseListenersWaitsForAcceptors(t *testing.T) {
	addr := freeAddr(t)
	entered := make(chan struct{})
	var done atomic.Bool
	e := New(Options{Loops: 2, Log: testLog()})
	err := e.Listen(addr, func(l *Loop, c transport.Conn) Handler {
		close(entered)
		time.Sleep(300 * time.Millisecond) // the loop is busy with this accept
		done.Store(true)
		return &tagged{c: c, tag: 'a'}
	})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-entered
	if err := e.CloseListeners(); err != nil {
		t.Fatal(err)
	}
	if !done.Load() {
		t.Error("CloseListeners returned while a loop was still accepting a connection")
	}
}
