package main

import (
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
