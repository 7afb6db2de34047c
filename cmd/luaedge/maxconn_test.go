package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxconn on frontends and at the top level: connections past it wait,
// unread, in order; past as many waiting, new ones are closed.

const maxconnLua = `
core.register_service("hello", "http", function(applet)
	local body = "hello " .. applet.path
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// askHello sends GET path on c and checks the answer.
func askHello(t *testing.T, c *rawConn, path string) {
	t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nhost: a\r\n\r\n")
	if _, body := c.readResponse("GET"); body != "hello "+path {
		t.Fatalf("%s: %q", path, body)
	}
}

func TestFrontendMaxConn(t *testing.T) {
	s := startServer(t, `workers: 2
shutdown_timeout: 2s
lua:
  load: [hello.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    maxconn: 2
admin: {bind: "127.0.0.1:@PORT9@"}
`, map[string]string{"hello.lua": maxconnLua})
	// Two connections take the slots (on both loops: round robin).
	a, b := dialRaw(t, s.addr()), dialRaw(t, s.addr())
	askHello(t, a, "/a")
	askHello(t, b, "/b")
	// Two more wait, unread, in the order they were accepted; the fifth
	// finds no room to wait.
	metrics := "http://" + s.addrOf("9") + "/metrics"
	c := dialRaw(t, s.addr())
	c.send("GET /c HTTP/1.1\r\nhost: a\r\n\r\n")
	waitMetric(t, metrics, "luaedge_frontend_waiting_connections", 1, "proxy", "web")
	d := dialRaw(t, s.addr())
	d.send("GET /d HTTP/1.1\r\nhost: a\r\n\r\n")
	waitMetric(t, metrics, "luaedge_frontend_waiting_connections", 2, "proxy", "web")
	c.expectQuiet(200 * time.Millisecond)
	e := dialRaw(t, s.addr())
	e.expectClosed(2 * time.Second)
	if v, _ := value(scrape(t, metrics), "luaedge_frontend_limit_sessions", "proxy", "web"); v != 2 {
		t.Errorf("luaedge_frontend_limit_sessions %v", v)
	}
	// A slot given back goes to the first waiting: c, then d.
	a.Close()
	if _, body := c.readResponse("GET"); body != "hello /c" {
		t.Fatalf("c: %q", body)
	}
	d.expectQuiet(200 * time.Millisecond)
	b.Close()
	if _, body := d.readResponse("GET"); body != "hello /d" {
		t.Fatalf("d: %q", body)
	}
	// Both keep their slot for their next requests.
	askHello(t, c, "/c2")
	askHello(t, d, "/d2")
	waitMetric(t, metrics, "luaedge_frontend_waiting_connections", 0, "proxy", "web")
}

// waitMetric waits until the series of name with labels has value want.
func waitMetric(t *testing.T, url, name string, want float64, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok := value(scrape(t, url), name, labels...)
		if ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v: %v (present: %v) after 5 s, want %v", name, labels, v, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The top-level maxconn counts every frontend's connections.
func TestGlobalMaxConn(t *testing.T) {
	s := startServer(t, `workers: 1
shutdown_timeout: 2s
maxconn: 1
lua:
  load: [hello.lua]
frontends:
  - name: one
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: two
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.hello
admin: {bind: "127.0.0.1:@PORT9@"}
`, map[string]string{"hello.lua": maxconnLua})
	metrics := "http://" + s.addrOf("9") + "/metrics"
	a := dialRaw(t, s.addr())
	askHello(t, a, "/one")
	b := dialRaw(t, s.addrOf("2"))
	b.send("GET /two HTTP/1.1\r\nhost: a\r\n\r\n")
	waitMetric(t, metrics, "luaedge_process_waiting_connections", 1)
	b.expectQuiet(200 * time.Millisecond)
	a.send("GET /bye HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
	if _, body := a.readResponse("GET"); body != "hello /bye" {
		t.Fatalf("a: %q", body)
	}
	if _, body := b.readResponse("GET"); body != "hello /two" {
		t.Fatalf("b: %q", body)
	}
}

// slowBackend holds each request until the test releases it, and records
// the order they arrived in.
type slowBackend struct {
	srv     *httptest.Server
	mu      sync.Mutex
	arrived []string
	release map[string]chan struct{}
}

func startSlowBackend(t *testing.T) *slowBackend {
	b := &slowBackend{release: map[string]chan struct{}{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		b.mu.Lock()
		b.arrived = append(b.arrived, id)
		ch := b.gate(id)
		b.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "done %s", id)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// gate is the channel that releases request id; b.mu is held.
func (b *slowBackend) gate(id string) chan struct{} {
	if b.release[id] == nil {
		b.release[id] = make(chan struct{})
	}
	return b.release[id]
}

func (b *slowBackend) let(id string) {
	b.mu.Lock()
	close(b.gate(id))
	b.mu.Unlock()
}

func (b *slowBackend) order() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.arrived, ",")
}

// A server at its maxconn: requests wait in the backend's queue on the
// loop and reach the server in order as it finishes; the loop serves
// other clients meanwhile; one that waits past timeouts.queue gets 503.
func TestBackendQueue(t *testing.T) {
	slow := startSlowBackend(t)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fast") }))
	defer fast.Close()
	s := startServer(t, fmt.Sprintf(`workers: 1
shutdown_timeout: 2s
lua:
  load: [hello.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    routes:
      - {path_prefix: /fast, backend: fast}
      - {path_prefix: /tight, backend: tight}
    default_backend: slow
    access_log: {to: access.log, format: "%%HP %%ST %%ts %%s %%Tw %%sq/%%bq"}
  - name: lua
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.hello
admin: {bind: "127.0.0.1:@PORT9@"}
backends:
  - name: slow
    timeouts: {queue: 10s}
    abort_on_close: true
    servers: [{name: s1, address: "%[1]s", maxconn: 1}]
  - name: tight
    timeouts: {queue: 300ms}
    servers: [{name: s1, address: "%[1]s", maxconn: 1}]
  - name: fast
    servers: [{name: f1, address: "%[2]s"}]
`, slow.srv.Listener.Addr(), fast.Listener.Addr()), map[string]string{"hello.lua": maxconnLua})
	metrics := "http://" + s.addrOf("9") + "/metrics"
	type answer struct {
		status int
		body   string
	}
	ask := func(path string) chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := http.Get(s.url(path))
			if err != nil {
				ch <- answer{0, err.Error()}
				return
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			ch <- answer{r.StatusCode, string(b)}
		}()
		return ch
	}
	first := ask("/a?id=1")
	waitFor(t, "the first request at the server", func() bool { return slow.order() == "1" })
	second := ask("/a?id=2")
	waitMetric(t, metrics, "luaedge_backend_current_queue", 1, "proxy", "slow")
	third := ask("/a?id=3")
	waitMetric(t, metrics, "luaedge_backend_current_queue", 2, "proxy", "slow")
	// A client that leaves while it waits leaves the queue (CQ) of a
	// backend with abort_on_close.
	gone := dialRaw(t, s.addr())
	gone.send("GET /gone?id=gone HTTP/1.1\r\nhost: a\r\n\r\n")
	waitMetric(t, metrics, "luaedge_backend_current_queue", 3, "proxy", "slow")
	gone.Close()
	waitMetric(t, metrics, "luaedge_backend_current_queue", 2, "proxy", "slow")

	// The loop goes on serving: another backend, a Lua service.
	if a := <-ask("/fast"); a.body != "fast" {
		t.Fatalf("/fast while requests wait: %+v", a)
	}
	c := dialRaw(t, s.addrOf("2"))
	askHello(t, c, "/lua")

	// A request to the tight backend waits 300 ms, then gets 503.
	slow.mu.Lock()
	slow.gate("t1")
	slow.mu.Unlock()
	tight1 := ask("/tight?id=t1")
	waitFor(t, "t1 at the server", func() bool { return strings.Contains(slow.order(), "t1") })
	start := time.Now()
	if a := <-ask("/tight?id=t2"); a.status != 503 {
		t.Fatalf("past timeouts.queue: %+v", a)
	} else if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("503 after %v, want about 300ms", took)
	}
	slow.let("t1")
	if a := <-tight1; a.body != "done t1" {
		t.Errorf("t1: %+v", a)
	}

	// The server finishes one at a time: the queue goes in order.
	if slow.order() != "1,t1" {
		t.Fatalf("reached the server: %s", slow.order())
	}
	slow.let("1")
	if a := <-first; a.body != "done 1" {
		t.Fatalf("first: %+v", a)
	}
	waitFor(t, "the second request at the server", func() bool { return slow.order() == "1,t1,2" })
	slow.let("2")
	slow.let("3")
	for i, ch := range []chan answer{second, third} {
		if a := <-ch; a.status != 200 || a.body != fmt.Sprintf("done %d", i+2) {
			t.Errorf("request %d: %+v", i+2, a)
		}
	}
	if slow.order() != "1,t1,2,3" {
		t.Errorf("order at the server: %s", slow.order())
	}
	fams := scrape(t, metrics)
	if v, _ := value(fams, "luaedge_backend_max_queue", "proxy", "slow"); v != 3 {
		t.Errorf("luaedge_backend_max_queue %v, want 3", v)
	}
	if v, _ := value(fams, "luaedge_backend_current_queue", "proxy", "slow"); v != 0 {
		t.Errorf("luaedge_backend_current_queue %v, want 0", v)
	}

	// The access log: the time waited and the place in the queue.
	lines := readLines(t, filepath.Join(s.dir, "access.log"), 7)
	byPath := map[string][]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		byPath[f[0]] = append(byPath[f[0]], l)
	}
	tw := func(l string) int {
		var n int
		fmt.Sscan(strings.Fields(l)[4], &n)
		return n
	}
	for _, c := range []struct {
		line, prefix, queue string
		minTw               int
	}{
		{byPath["/tight"][0], "/tight 503 sQ <NOSRV> ", "0/0", 250},
		{byPath["/tight"][1], "/tight 200 -- s1 ", "0/0", 0},
		{byPath["/a"][0], "/a 200 -- s1 ", "0/0", 0},
		{byPath["/a"][1], "/a 200 -- s1 ", "0/0", 1},
		{byPath["/a"][2], "/a 200 -- s1 ", "0/1", 1},
		{byPath["/gone"][0], "/gone -1 CQ <NOSRV> ", "0/2", 1},
	} {
		if !strings.HasPrefix(c.line, c.prefix) || !strings.HasSuffix(c.line, " "+c.queue) || tw(c.line) < c.minTw {
			t.Errorf("log line %q, want %q... Tw >= %d ... %s", c.line, c.prefix, c.minTw, c.queue)
		}
	}
}

// waitFor polls cond until it holds, for 5 s at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
