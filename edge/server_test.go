package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
)

// testScript answers every request with which state served it, whether
// its init function ran, and how often its task has ticked.
const testScript = `
local state = string.match(tostring({}), "0x%x+")
local inits, ticks = 0, 0
core.register_init(function() inits = inits + 1 end)
core.register_task(function()
	while true do
		ticks = ticks + 1
		core.msleep(10)
	end
end)
core.register_service("t", "http", function(applet)
	local body = string.format("state=%s inits=%d ticks=%d path=%s", state, inits, ticks, applet.path)
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// lockedBuffer collects the server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testServer is a Server running in the test's process.
type testServer struct {
	*Server
	addr   string
	served chan error // what Serve returned
	log    *lockedBuffer
}

// startTestServer serves testScript on 2 loops on a free loopback port and
// waits until the server has booted. The server is shut down when the test
// ends, if the test has not done it.
func startTestServer(t *testing.T) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := &config.Config{
		Workers:         2,
		ShutdownTimeout: config.Duration(3 * time.Second),
		Frontends: []config.Frontend{{
			Name:       "main",
			Bind:       []string{addr},
			Mode:       "http",
			UseService: "lua.t",
			Limits: config.Limits{
				MaxRequestLine: config.DefaultMaxRequestLine,
				MaxHeaderBytes: config.DefaultMaxHeaderBytes,
				MaxHeaders:     config.DefaultMaxHeaders,
				MaxBody:        config.DefaultMaxBody,
			},
			Timeouts: config.Timeouts{
				HTTPRequest: config.Duration(config.DefaultHTTPRequest),
				KeepAlive:   config.Duration(config.DefaultKeepAlive),
				Body:        config.Duration(config.DefaultBody),
			},
		}},
	}
	return runServer(t, cfg, []lj.Script{{Path: "t.lua", Code: []byte(testScript)}}, addr)
}

// runServer serves cfg in the test's process, listening on addr, and
// waits until it has booted. The server is shut down when the test ends,
// if the test has not done it.
func runServer(t testing.TB, cfg *config.Config, scripts []lj.Script, addr string) *testServer {
	t.Helper()
	buf := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, scripts, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, addr: addr, served: make(chan error, 1), log: buf}
	go func() { ts.served <- srv.Serve() }()
	select {
	case <-srv.Booted():
	case err := <-ts.served:
		t.Fatalf("Serve returned before the server booted: %v\nlog:\n%s", err, buf)
	case <-time.After(10 * time.Second):
		t.Fatalf("the server has not booted after 10 s; log:\n%s", buf)
	}
	t.Cleanup(func() {
		select {
		case <-ts.served:
			return // stopped by the test
		default:
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// answer is what testScript says about the state that served a request.
type answer struct {
	state        string
	inits, ticks int
	path         string
}

func parseAnswer(t *testing.T, body string) answer {
	t.Helper()
	var a answer
	for _, f := range strings.Fields(body) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "state":
			a.state = v
		case "inits":
			a.inits, _ = strconv.Atoi(v)
		case "ticks":
			a.ticks, _ = strconv.Atoi(v)
		case "path":
			a.path = v
		}
	}
	if a.state == "" {
		t.Fatalf("unexpected body %q", body)
	}
	return a
}

// get does a GET on a new connection.
func (ts *testServer) get(t *testing.T, path string) (*http.Response, answer) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ts.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d, body %q", path, resp.StatusCode, b)
	}
	return resp, parseAnswer(t, string(b))
}

// Both loops start their Lua state at boot: every state ran its init
// function once before traffic and its task has been ticking.
func TestLoopsStartAtBoot(t *testing.T) {
	ts := startTestServer(t)
	states := map[string]answer{}
	// The kernel hashes new connections over the loops' listeners: dial
	// until both states have answered.
	for i := 0; i < 200 && len(states) < 2; i++ {
		_, a := ts.get(t, "/boot")
		states[a.state] = a
	}
	if len(states) != 2 {
		t.Fatalf("200 connections reached %d Lua states, want 2", len(states))
	}
	for s, a := range states {
		if a.inits != 1 {
			t.Errorf("state %s ran its init function %d times, want 1", s, a.inits)
		}
		if a.ticks < 1 {
			t.Errorf("state %s: its task has not run", s)
		}
	}
}

// Requests pipelined on one raw connection are answered in order by the
// same state.
func TestPipelinedRequests(t *testing.T) {
	ts := startTestServer(t)
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var state string
	for _, want := range []string{"/one", "/two"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response to %s: %v", want, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		a := parseAnswer(t, string(b))
		if a.path != want {
			t.Errorf("response for %s, want %s", a.path, want)
		}
		if state != "" && a.state != state {
			t.Errorf("one connection served by states %s and %s", state, a.state)
		}
		state = a.state
	}
}

// Shutdown closes the listeners at once, answers a request that arrives on
// a connection answered just before (with connection: close), and returns
// once the connections are closed; Serve then returns.
func TestShutdown(t *testing.T) {
	ts := startTestServer(t)
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	roundTrip := func(path string) *http.Response {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
			t.Fatalf("sending GET %s: %v", path, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := roundTrip("/before"); resp.Close {
		t.Fatal("a response before the shutdown says connection: close")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- ts.Shutdown(context.Background()) }()
	// New connections are refused once the listeners are closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", ts.addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err == nil {
			nc.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections are still accepted 5 s after Shutdown (last: %v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The keep-alive connection answered a moment ago still gets its next
	// request answered, and is closed after it.
	if resp := roundTrip("/after"); !resp.Close {
		t.Error("the response during the shutdown does not say connection: close")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the last response: %v, want EOF", err)
	}
	waitStopped(t, ts, stopped, "")
}

// A connection idle for less than the grace a stop gives is not closed
// when the stop reaches its loop, however it came to be idle: accepted
// once the server was draining (the moment before the listeners close),
// or answered just before and idle since the draining began. Its client's
// next request is answered, with connection: close. The test takes stop's
// steps with the listeners left open: the draining starts, a connection
// comes, then each loop drains its connections.
func TestShutdownSparesConnectionsJustIdle(t *testing.T) {
	ts := startTestServer(t)
	ts.draining.Store(true)
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	ts.CloseIdle()
	for _, ls := range ts.loopStates() {
		ran := make(chan struct{})
		ls.loop.Post(func() { close(ran) })
		<-ran // the loop has drained
	}
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request of a connection idle since the stop began: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Error("the response during the stop does not say connection: close")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the response: %v, want EOF", err)
	}
}

// An idle connection is not closed at its timeout while its client's next
// request waits in the socket, not read yet by the loop: the request is
// answered. The loops are held in a task while the client writes, then
// check the timeouts as a sweep that came just after the request would.
func TestIdleCloseSparesArrivedRequest(t *testing.T) {
	ts := startTestServer(t)
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	roundTrip := func(path string) {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
			t.Fatalf("sending GET %s: %v", path, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	roundTrip("/first")

	var held sync.WaitGroup
	release := make(chan struct{})
	for _, ls := range ts.loopStates() {
		held.Add(1)
		ls.loop.Post(func() {
			held.Done()
			<-release
			for w := range ls.httpList() {
				if !w.closed && w.h2 == nil {
					w.conn1.CheckDeadline(ls.loop.Now().Add(2 * config.DefaultKeepAlive))
				}
			}
		})
	}
	held.Wait()
	if _, err := io.WriteString(c, "GET /second HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The request is in the server's socket once the client has nothing
	// left unacknowledged.
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for unacked := 1; unacked > 0; {
		var ioctlErr error
		if err := raw.Control(func(fd uintptr) { unacked, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ioctlErr != nil {
			t.Fatal(err, ioctlErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of the request still unacknowledged after 10 s", unacked)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request that arrived as the connection timed out: %v", err)
	}
	resp.Body.Close()
}

// waitStopped waits for a Shutdown of ts, whose result arrives on stopped,
// and for its Serve to return; what names the server in failures.
func waitStopped(t *testing.T, ts *testServer, stopped <-chan error, what string) {
	t.Helper()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Shutdown%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Shutdown%s has not returned 10 s after the last connection closed", what)
	}
	select {
	case err := <-ts.served:
		if err != nil {
			t.Errorf("Serve%s: %v", what, err)
		}
		ts.served <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatalf("Serve%s has not returned 5 s after Shutdown", what)
	}
}
