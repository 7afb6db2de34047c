package proxy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// permessage-deflate in the WebSocket client of scripts: offered by
// default, agreed with gorilla/websocket (which keeps no context either
// way) and with luaedge's own server, compressing what the script sends
// and inflating what it receives, up to 1 MiB or the script's
// options.max_message (which bounds plain messages too). Each peer is reached
// through a counter of the bytes on the wire, so the compression is seen
// there and not only inferred.

// counted is the bytes a connection carried each way.
type counted struct{ in, out atomic.Int64 }

type countingConn struct {
	net.Conn
	n *counted
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.out.Add(int64(n))
	return n, err
}

type countingListener struct {
	net.Listener
	n *counted
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

// countingRelay forwards the connections it accepts to addr, counting
// what the client sent (in) and what it got (out).
func countingRelay(t *testing.T, addr string, n *counted) string {
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
				s, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer s.Close()
				cc := countingConn{c, n}
				go func() { io.Copy(s, cc); s.(*net.TCPConn).CloseWrite() }()
				io.Copy(cc, s)
			}()
		}
	}()
	return ln.Addr().String()
}

const wsDeflateApp = `
local websocket = require "http.websocket"
local GO = "@GO@"

-- echo sends a large compressible message and a short one, and checks
-- what comes back.
local function echo(uri, options)
	local ws = websocket.new_from_uri(uri, nil, options)
	assert(ws:connect(2))
	local big = string.rep("compress me, ", 16000)
	assert(ws:send(big))
	local d1, k1 = ws:receive(2)
	assert(ws:send("short", "binary"))
	local d2, k2 = ws:receive(2)
	ws:close()
	return table.concat({ tostring(d1 == big), tostring(k1), tostring(d2), tostring(k2) }, " ")
end

local cases = {}
function cases.go(a) return echo("ws://" .. GO .. "/echo") end
function cases.go_off(a) return echo("ws://" .. GO .. "/echo", { deflate = false }) end
function cases.own(a) return echo("ws://" .. a.qs .. "/echo") end
-- bomb?max=N&deflate=0 receives the server's 2 MiB message with
-- options.max_message = N (none without), and without deflate (plain).
function cases.bomb(a)
	local options = {}
	for k, v in a.qs:gmatch("(%w+)=(%w+)") do
		if k == "max" then options.max_message = tonumber(v) end
		if k == "deflate" then options.deflate = v == "1" end
	end
	local ws = websocket.new_from_uri("ws://" .. GO .. "/bomb", nil, options)
	-- Generous timeouts: 2 MiB through the race detector on a busy
	-- machine takes seconds; the test is about what arrives.
	assert(ws:connect(10))
	local d, e, c = ws:receive(10)
	return table.concat({ d and tostring(#d) or "nil", tostring(c or e) }, " ")
end
function cases.bad_max(a)
	local out = {}
	for _, v in ipairs({ 0, 1.5, "1024", 2 ^ 30 + 1 }) do
		local ok, err = pcall(websocket.new_from_uri, "ws://" .. GO .. "/", nil, { max_message = v })
		out[#out + 1] = tostring(ok) .. ":" .. tostring(err)
	end
	return table.concat(out, "\n")
end

core.register_service("cases", "http", function(a)
	if a.path == "/echo" then
		local ws = websocket.new_from_applet(a)
		assert(ws:accept())
		for data, kind in ws:each() do ws:send(data, kind) end
		return
	end
	local out = cases[a.path:sub(2)](a)
	a:start_response()
	a:send(out)
end)
`

func TestWSClientDeflate(t *testing.T) {
	var goWire counted
	var offered atomic.Value
	up := websocket.Upgrader{EnableCompression: true}
	peer := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offered.Store(r.Header.Get("Sec-WebSocket-Extensions"))
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if r.URL.Path == "/bomb" {
			// 2 MiB of zeros, a few KiB once compressed.
			c.WriteMessage(websocket.BinaryMessage, make([]byte, 2<<20))
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
	peer.Listener = countingListener{peer.Listener, &goWire}
	peer.Start()
	t.Cleanup(peer.Close)
	code := strings.ReplaceAll(wsDeflateApp, "@GO@", strings.TrimPrefix(peer.URL, "http://"))
	s := edgetest.Start(t, `
workers: 1
shutdown_timeout: 2s
frontends:
  - name: cases
    bind: ["@A@"]
    use_service: lua.cases
`, code)
	const big = int64(16000 * len("compress me, "))
	const echoed = "true text short binary"

	if got := getCase(t, s, "go"); got != echoed {
		t.Fatalf("gorilla echo: %q", got)
	}
	if o, _ := offered.Load().(string); o != "permessage-deflate; client_no_context_takeover; client_max_window_bits" {
		t.Errorf("offer: %q", o)
	}
	// The large message went compressed both ways.
	if in, out := goWire.in.Load(), goWire.out.Load(); in > big/10 || out > big/10 {
		t.Errorf("with deflate, the server read %d bytes and wrote %d for a message of %d", in, out, big)
	}

	goWire.in.Store(0)
	goWire.out.Store(0)
	if got := getCase(t, s, "go_off"); got != echoed {
		t.Fatalf("gorilla echo without deflate: %q", got)
	}
	if o, _ := offered.Load().(string); o != "" {
		t.Errorf("deflate = false: offered %q", o)
	}
	if in, out := goWire.in.Load(), goWire.out.Load(); in < big || out < big {
		t.Errorf("without deflate, the server read %d bytes and wrote %d for a message of %d", in, out, big)
	}

	// A message that inflates past 1 MiB closes the connection with 1009,
	// unless the script raised options.max_message; a plain one alike.
	for _, c := range []struct{ query, want string }{
		{"", "nil 1009"},
		{"?max=4194304", "2097152 binary"},
		{"?deflate=0", "nil 1009"},
		{"?deflate=0&max=4194304", "2097152 binary"},
		{"?max=2097151", "nil 1009"},
		{"?deflate=0&max=2097151", "nil 1009"},
		{"?deflate=0&max=2097152", "2097152 binary"},
	} {
		if got := getCase(t, s, "bomb"+c.query); got != c.want {
			t.Errorf("bomb%s: %q, want %q", c.query, got, c.want)
		}
	}
	if got := getCase(t, s, "bad_max"); strings.Count(got, "false:new_from_uri: options.max_message must be a whole number of bytes from 1 to 1 GiB") != 4 {
		t.Errorf("bad max_message values: %q", got)
	}

	// luaedge's own server, through a counting relay.
	var ownWire counted
	relay := countingRelay(t, s.Addr["@A@"], &ownWire)
	if got := getCase(t, s, "own?"+relay); got != echoed {
		t.Fatalf("own echo: %q", got)
	}
	if in, out := ownWire.in.Load(), ownWire.out.Load(); in > big/10 || out > big/10 || in == 0 {
		t.Errorf("with luaedge's server, the client sent %d bytes and got %d for a message of %d", in, out, big)
	}
}
