package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The WebSocket client of scripts (http.websocket's new_from_uri), end to
// end: a Lua service of the binary talks to luaedge's own ws-echo
// (examples/ws-echo/echo.lua, served on the same loop) and to a
// gorilla/websocket server over TLS, verified against a root the test
// gives through SSL_CERT_FILE.

const wsClientLua = `
local websocket = require "http.websocket"

-- GET /?URI: connect to URI, exchange messages, report what came back.
core.register_service("client", "http", function(applet)
	local uri = applet.qs
	local ws = websocket.new_from_uri(uri, { "echo" })
	local ok, err = ws:connect(3)
	applet:start_response()
	if not ok then
		applet:send("connect failed: " .. err)
		return
	end
	local out = { tostring(ws.protocol) }
	local big = string.rep("luaedge ", 40000)
	for _, m in ipairs({ { "hello", "text" }, { "\255\0\1", "binary" }, { big, "binary" } }) do
		assert(ws:send(m[1], m[2]))
		local data, kind = ws:receive(3)
		out[#out + 1] = (data == m[1] and "same" or ("differs: " .. tostring(data))) .. "/" .. tostring(kind)
	end
	local none, why = ws:receive(0.05)
	out[#out + 1] = tostring(none) .. "/" .. why
	ws:close(1000, "done")
	applet:send(table.concat(out, " "))
end)

-- GET /hold?URI: wait on URI without a timeout until its server speaks.
core.register_service("hold", "http", function(applet)
	local ws = websocket.new_from_uri(applet.qs, nil, { headers = { ["x-from"] = "luaedge" } })
	assert(ws:connect(3))
	local data = ws:receive()
	applet:start_response()
	applet:send(tostring(data))
end)
`

func TestWSClientEndToEnd(t *testing.T) {
	echo, err := os.ReadFile(filepath.Join("..", "..", "examples", "ws-echo", "echo.lua"))
	if err != nil {
		t.Fatal(err)
	}
	// A gorilla/websocket echo over TLS; the hold path answers once told.
	release := make(chan struct{})
	up := websocket.Upgrader{Subprotocols: []string{"echo"}}
	peer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if r.URL.Path == "/hold" {
			<-release
			c.WriteMessage(websocket.TextMessage, []byte("from "+r.Header.Get("X-From")))
			c.ReadMessage()
			return
		}
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, m)
		}
	}))
	t.Cleanup(peer.Close)
	defer close(release)
	roots := filepath.Join(t.TempDir(), "roots.pem")
	writeFile(t, roots, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Certificate().Raw})))
	t.Setenv("SSL_CERT_FILE", roots) // inherited by the binary: Go reads the system's roots there

	s := startServer(t, `workers: 1
lua: {load: [echo.lua, client.lua]}
frontends:
  - name: echo
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
  - name: client
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.client
  - name: hold
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.hold
`, map[string]string{"echo.lua": string(echo), "client.lua": wsClientLua})
	c, _ := newClient(t)
	want := "echo same/text same/binary same/binary nil/timeout"
	wss := "wss" + strings.TrimPrefix(peer.URL, "https")
	for _, target := range []string{"ws://" + s.addr() + "/", wss + "/"} {
		resp, body := get(t, c, "http://"+s.addrOf("2")+"/?"+target)
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("%s: %d %q, want %q\n%s", target, resp.StatusCode, body, want, s.logs())
		}
	}

	// A script waiting on a server that says nothing holds no loop: the
	// only loop goes on serving the echo and its clients meanwhile.
	held := make(chan string, 1)
	go func() {
		hc, _ := newClient(t)
		resp, err := hc.Get("http://" + s.addrOf("3") + "/?" + wss + "/hold")
		if err != nil {
			held <- err.Error()
			return
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		held <- b.String()
	}()
	for i := 0; i < 5; i++ {
		start := time.Now()
		resp, body := get(t, c, "http://"+s.addrOf("2")+"/?"+"ws://"+s.addr()+"/")
		if resp.StatusCode != 200 || body != want || time.Since(start) > 2*time.Second {
			t.Fatalf("beside a waiting client: %d %q in %v", resp.StatusCode, body, time.Since(start))
		}
	}
	select {
	case m := <-held:
		t.Fatalf("the held client returned before its server spoke: %q", m)
	default:
	}
	release <- struct{}{}
	select {
	case m := <-held:
		if m != "from luaedge" {
			t.Fatalf("held: %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held client never got its message")
	}
}

// TestWSClientMaxMessage: a script's options.max_message bounds what the
// server sends (here luaedge's own echo, which takes 16 MiB), plain or
// compressed: past it the client closes with 1009, under it the message
// arrives whole.
func TestWSClientMaxMessage(t *testing.T) {
	echo, err := os.ReadFile(filepath.Join("..", "..", "examples", "ws-echo", "echo.lua"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, `workers: 1
lua: {load: [echo.lua, client.lua]}
frontends:
  - name: echo
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
    websocket: {max_frame: 16MiB, max_message: 16MiB}
  - name: client
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.sized
`, map[string]string{"echo.lua": string(echo), "client.lua": `
local websocket = require "http.websocket"
-- GET /?uri&size&max&deflate: send size bytes, report what came back.
core.register_service("sized", "http", function(applet)
	local uri, size, max, deflate = applet.qs:match("^([^&]+)&(%d+)&(%d+)&(%d)$")
	local options = { deflate = deflate == "1" }
	if max ~= "0" then options.max_message = tonumber(max) end
	local ws = websocket.new_from_uri(uri, nil, options)
	assert(ws:connect(3))
	assert(ws:send(string.rep("luaedge ", tonumber(size) / 8), "binary"))
	local data, why, code = ws:receive(3)
	applet:start_response()
	applet:send(data and tostring(#data) or ("nil " .. tostring(code)))
end)
`})
	c, _ := newClient(t)
	for _, tc := range []struct {
		size, max, deflate int
		want               string
	}{
		{2 << 20, 0, 1, "nil 1009"},
		{2 << 20, 0, 0, "nil 1009"},
		{2 << 20, 4 << 20, 1, "2097152"},
		{2 << 20, 4 << 20, 0, "2097152"},
		{2000, 1000, 1, "nil 1009"},
		{2000, 1000, 0, "nil 1009"},
		{800, 1000, 0, "800"},
	} {
		q := fmt.Sprintf("ws://%s/&%d&%d&%d", s.addr(), tc.size, tc.max, tc.deflate)
		resp, body := get(t, c, "http://"+s.addrOf("2")+"/?"+q)
		if resp.StatusCode != 200 || body != tc.want {
			t.Errorf("%+v: %d %q, want %q", tc, resp.StatusCode, body, tc.want)
		}
	}
}
