package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaedge/luaedge/edge/edgetest"
	ws "github.com/luaedge/luaedge/proto/ws"
)

// The WebSocket client of scripts (http.websocket's new_from_uri), in
// process under the race detector: Lua services and a task on one loop
// talk to WebSocket servers written here with gorilla/websocket, and
// answer the test with what they saw.

// wsPeer is the servers the scripts connect to, by path.
type wsPeer struct {
	silentUp chan struct{} // /silent has its client
	release  chan struct{} // lets /silent send its message
	closes   chan int      // close codes /hold received
	recorded chan string   // messages /record received
	ponged   atomic.Bool   // /ping got its pong
	up       websocket.Upgrader
}

func (p *wsPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/refuse" {
		http.Error(w, "no", http.StatusForbidden)
		return
	}
	up := p.up
	if r.URL.Path == "/proto" {
		up.Subprotocols = []string{"b"}
	}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	switch r.URL.Path {
	case "/echo", "/proto":
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, m)
		}
	case "/fragments":
		// A message in two frames, the second 300 ms after the first.
		raw := c.UnderlyingConn()
		raw.Write([]byte{0x01, 3, 'h', 'e', 'l'})
		time.Sleep(300 * time.Millisecond)
		raw.Write([]byte{0x80, 2, 'l', 'o'})
		c.ReadMessage()
	case "/close":
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
		c.ReadMessage()
	case "/silent":
		p.silentUp <- struct{}{}
		<-p.release
		c.WriteMessage(websocket.TextMessage, []byte("released"))
		c.ReadMessage()
	case "/hold":
		_, _, err := c.ReadMessage()
		code := 0
		if ce, ok := err.(*websocket.CloseError); ok {
			code = ce.Code
		}
		p.closes <- code
	case "/record":
		_, m, err := c.ReadMessage()
		if err == nil {
			p.recorded <- string(m)
		}
	case "/ping":
		c.SetPongHandler(func(string) error { p.ponged.Store(true); return nil })
		c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		c.ReadMessage() // runs the pong handler, until the client closes
	}
}

const wsClientApp = `
local websocket = require "http.websocket"
local BASE, WSS, MUTE, RAW = "@BASE@", "@WSS@", "@MUTE@", "@RAW@"

local cases = {}
function cases.echo()
	local ws = websocket.new_from_uri(BASE .. "/echo")
	assert(ws:connect(2))
	assert(ws:send("hello"))
	assert(ws:send("\0\1\2", "binary"))
	local d1, k1 = ws:receive(2)
	local d2, k2 = ws:receive(2)
	local big = string.rep("0123456789", 20000)
	assert(ws:send(big, "binary"))
	local d3, k3 = ws:receive(2)
	assert(ws:send_ping("p"))
	ws:close()
	local d4, e4, c4 = ws:receive()
	return table.concat({ d1, k1, d2 == "\0\1\2" and "bin" or "?", k2, tostring(d3 == big), k3, tostring(d4), e4, c4 }, " ")
end
function cases.proto()
	local ws = websocket.new_from_uri(BASE .. "/proto", { "a", "b" })
	assert(ws:connect(2))
	local p = ws.protocol
	ws:close()
	return p
end
function cases.fragments()
	local ws = websocket.new_from_uri(BASE .. "/fragments")
	assert(ws:connect(2))
	local d1, e1, c1 = ws:receive(0.1)
	local d2, k2 = ws:receive(2)
	ws:close()
	return table.concat({ tostring(d1), e1, c1, d2, k2 }, " ")
end
function cases.close()
	local ws = websocket.new_from_uri(BASE .. "/close")
	assert(ws:connect(2))
	local d1, e1, c1 = ws:receive(2)
	local d2, e2, c2 = ws:receive(2)
	local ok, e3 = ws:send("late")
	return table.concat({ tostring(d1), e1, c1, ws.got_close_code, tostring(d2), e2, c2, tostring(ok), e3 }, " ")
end
function cases.refuse()
	local ws = websocket.new_from_uri(BASE .. "/refuse")
	local ok, err = ws:connect(2)
	return tostring(ok) .. " " .. err
end
function cases.timeout()
	local ws = websocket.new_from_uri("ws://" .. MUTE .. "/")
	local ok, err, errno = ws:connect(0.2)
	return tostring(ok) .. " " .. err .. " " .. errno
end
function cases.silent()
	local ws = websocket.new_from_uri(BASE .. "/silent")
	assert(ws:connect(2))
	local d = ws:receive()
	ws:close()
	return d
end
function cases.hold()
	local ws = websocket.new_from_uri(BASE .. "/hold")
	assert(ws:connect(2))
	return "left open"
end
function cases.ping()
	local ws = websocket.new_from_uri(BASE .. "/ping")
	assert(ws:connect(2))
	core.msleep(300) -- not receiving: the ping is answered anyway
	ws:close()
	return "slept"
end
function cases.verified()
	local ws = websocket.new_from_uri(WSS .. "/echo")
	local ok, err = ws:connect(2)
	return tostring(ok) .. " " .. err
end
function cases.unverified()
	local ws = websocket.new_from_uri(WSS .. "/echo", nil, { verify = false })
	assert(ws:connect(2))
	assert(ws:send("over tls"))
	local d = ws:receive(2)
	ws:close()
	return d
end
function cases.masked()
	local ws = websocket.new_from_uri("ws://" .. RAW .. "/")
	assert(ws:connect(2))
	local d, e, c = ws:receive(2)
	return table.concat({ tostring(d), e, c }, " ")
end
function cases.misuse()
	local errs = {}
	for _, u in ipairs({ "http://x/", "ws://x/#f", "ws://u@x/", "ws://x:0/", "ws:///p", "ws://x/a b" }) do
		local ok, e = pcall(websocket.new_from_uri, u)
		errs[#errs + 1] = tostring(ok)
	end
	local ok = pcall(websocket.new_from_uri, BASE, nil, { headers = { ["Sec-WebSocket-Key"] = "x" } })
	errs[#errs + 1] = tostring(ok)
	local ws = websocket.new_from_uri(BASE .. "/echo")
	local d, e, n = ws:receive()
	errs[#errs + 1] = tostring(d) .. "," .. e .. "," .. n
	return table.concat(errs, " ")
end

core.register_service("cases", "http", function(a)
	local out = cases[a.path:sub(2)]()
	a:start_response()
	a:send(out)
end)

core.register_task(function()
	local ws = websocket.new_from_uri(BASE .. "/echo")
	assert(ws:connect(2))
	ws:send("from a task")
	local got = ws:receive(2)
	ws:close()
	local rec = websocket.new_from_uri(BASE .. "/record")
	assert(rec:connect(2))
	rec:send("task got " .. got)
	rec:close()
end)
`

// startWSClientServer starts the peers and a one-loop server running
// wsClientApp against them.
func startWSClientServer(t *testing.T) (*edgetest.Server, *wsPeer) {
	t.Helper()
	p := &wsPeer{silentUp: make(chan struct{}, 1), release: make(chan struct{}), closes: make(chan int, 1), recorded: make(chan string, 1)}
	plain := httptest.NewServer(p)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(p)
	t.Cleanup(secure.Close)
	// MUTE accepts connections and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	raw := startMaskingServer(t)
	code := strings.NewReplacer("@BASE@", "ws"+strings.TrimPrefix(plain.URL, "http"), "@WSS@", "wss"+strings.TrimPrefix(secure.URL, "https"),
		"@MUTE@", mute.Addr().String(), "@RAW@", raw).Replace(wsClientApp)
	s := edgetest.Start(t, `
workers: 1
shutdown_timeout: 2s
frontends:
  - name: cases
    bind: ["@A@"]
    use_service: lua.cases
`, code)
	return s, p
}

// startMaskingServer answers the opening handshake, then sends a masked
// frame, which a server must not (RFC 6455 §5.1).
func startMaskingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				accept := ws.AcceptKey([]byte(req.Header.Get("Sec-WebSocket-Key")))
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+string(accept[:])+"\r\n\r\n")
				c.Write([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func getCase(t *testing.T, s *edgetest.Server, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr["@A@"] + "/" + name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s\n%s", name, resp.StatusCode, b, s.Log)
	}
	return string(b)
}

func TestWSClient(t *testing.T) {
	s, p := startWSClientServer(t)
	for _, c := range []struct{ name, want string }{
		{"echo", "hello text bin binary true binary nil closed 32"},
		{"proto", "b"},
		{"fragments", "nil timeout 110 hello text"},
		{"close", "nil bye 4001 4001 nil closed 32 nil closed"},
		{"refuse", "nil connect: the server answered 403 Forbidden, not 101"},
		{"timeout", "nil timeout 110"},
		{"unverified", "over tls"},
		{"masked", "nil ws: masked frame from a server 1002"},
		{"misuse", "false false false false false false false nil,not connected,107"},
	} {
		if got := getCase(t, s, c.name); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := getCase(t, s, "verified"); !strings.HasPrefix(got, "nil connect: tls: ") || !strings.Contains(got, "certificate") {
		t.Errorf("verified: %q: an unknown certificate must be refused", got)
	}
	if got := getCase(t, s, "ping"); got != "slept" || !p.ponged.Load() {
		t.Errorf("ping: %q, ponged %v", got, p.ponged.Load())
	}
	// A client its request left open is closed with 1001.
	if got := getCase(t, s, "hold"); got != "left open" {
		t.Fatalf("hold: %q", got)
	}
	select {
	case code := <-p.closes:
		if code != websocket.CloseGoingAway {
			t.Errorf("left open: the server got close code %d, want 1001", code)
		}
	case <-time.After(5 * time.Second):
		t.Error("left open: the server got no close")
	}
	select {
	case m := <-p.recorded:
		if m != "task got from a task" {
			t.Errorf("task: %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Error("the task's client recorded nothing")
	}
}

// TestWSClientDoesNotBlockTheLoop: a script waiting on a silent server
// holds no loop: another request on the same (only) loop talks to its own
// server meanwhile.
func TestWSClientDoesNotBlockTheLoop(t *testing.T) {
	s, p := startWSClientServer(t)
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr["@A@"] + "/silent")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	select {
	case <-p.silentUp:
	case m := <-done:
		t.Fatalf("silent: %q", m)
	case <-time.After(5 * time.Second):
		t.Fatal("the silent server got no client")
	}
	start := time.Now()
	if got := getCase(t, s, "echo"); got != "hello text bin binary true binary nil closed 32" {
		t.Fatalf("echo beside a waiting client: %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("echo beside a waiting client took %v", d)
	}
	select {
	case m := <-done:
		t.Fatalf("silent returned before its server sent anything: %q", m)
	default:
	}
	close(p.release)
	select {
	case m := <-done:
		if m != "released" {
			t.Fatalf("silent: %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting client never got its message")
	}
}
