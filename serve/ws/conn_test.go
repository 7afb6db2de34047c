package ws_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// WebSocket connections served in-process by a whole server, under the
// race detector; the invariants tag makes a connection that keeps output
// between two handlers panic, which fails the test.

const app = `
local websocket = require "http.websocket"

local paths = {}
function paths.echo(ws)
	while true do
		local data, kind, code = ws:receive()
		if data == nil then return end
		ws:send(data, kind)
	end
end
function paths.room(ws)
	ws:subscribe("room")
	ws:send("in")
	for m in ws:each() do
		core.publish("room", m, "binary")
	end
end
function paths.slow(ws)
	ws:subscribe("firehose")
	ws:send("in")
	while ws:receive() do core.msleep(50) end
end
function paths.firehose(ws)
	local chunk = string.rep("x", 65536)
	for i = 1, 400 do core.publish("firehose", chunk, "binary") core.yield() end
	ws:send("published")
	for m in ws:each() do end
end

core.register_service("ws", "http", function(a)
	local ws = websocket.new_from_applet(a)
	local ok, err, status = ws:accept{ protocols = { "p1", "p2" } }
	if not ok then
		a:start_response()
		a:send(err)
		return
	end
	paths[a.path:sub(2)](ws)
end)
`

const conf = `
workers: 2
shutdown_timeout: 3s
frontends:
  - name: ws
    bind: ["@A@"]
    use_service: lua.ws
    websocket: {max_message: 256KiB, close_timeout: 500ms}
`

func dial(t *testing.T, s *edgetest.Server, path string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{}
	}
	c, resp, err := d.Dial("ws://"+s.Addr["@A@"]+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v %v", path, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return c
}

func TestEcho(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	for _, compress := range []bool{false, true} {
		c := dial(t, s, "/echo", &websocket.Dialer{EnableCompression: compress, Subprotocols: []string{"p2", "p1"}})
		if c.Subprotocol() != "p1" {
			t.Errorf("subprotocol %q: ours are preferred in our order", c.Subprotocol())
		}
		for _, n := range []int{0, 1, 200, 70000, 256 << 10} {
			m := strings.Repeat("z", n)
			c.WriteMessage(websocket.TextMessage, []byte(m))
			if _, got, err := c.ReadMessage(); err != nil || string(got) != m {
				t.Fatalf("compress %v, %d bytes: %v, %d back", compress, n, err, len(got))
			}
		}
		c.WriteMessage(websocket.BinaryMessage, make([]byte, 256<<10+1))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1009 {
			t.Fatalf("over max_message: %v", err)
		}
	}
	if n := strings.Count(s.Log.String(), `msg="WebSocket protocol error"`); n != 2 {
		t.Fatalf("%d protocol errors logged, want 2:\n%s", n, s.Log)
	}
}

// TestPublishAcrossLoops publishes from several connections at once on
// both loops; every member gets every message.
func TestPublishAcrossLoops(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	var members []*websocket.Conn
	for i := 0; i < 8; i++ {
		c := dial(t, s, "/room", nil)
		if _, m, err := c.ReadMessage(); err != nil || string(m) != "in" {
			t.Fatalf("join: %v %q", err, m)
		}
		members = append(members, c)
	}
	const each = 50
	var wg sync.WaitGroup
	for i, c := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint(i, ":", k)))
			}
		}()
	}
	wg.Wait()
	for i, c := range members {
		for n := 0; n < each*len(members); n++ {
			typ, _, err := c.ReadMessage()
			if err != nil || typ != websocket.BinaryMessage {
				t.Fatalf("member %d, message %d: %v type %d", i, n, err, typ)
			}
		}
	}
}

// TestSlowSubscriberClosed: a subscriber that does not read what is
// published is closed instead of buffered for.
func TestSlowSubscriberClosed(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	slow := dial(t, s, "/slow", nil)
	if _, m, err := slow.ReadMessage(); err != nil || string(m) != "in" {
		t.Fatalf("join: %v %q", err, m)
	}
	pub := dial(t, s, "/firehose", nil)
	if _, m, err := pub.ReadMessage(); err != nil || string(m) != "published" {
		t.Fatalf("publisher: %v %q", err, m)
	}
	got := 0
	for {
		_, m, err := slow.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != 1008 {
				t.Fatalf("closed with %d", ce.Code)
			}
			break
		}
		got += len(m)
	}
	if got >= 400*65536 {
		t.Fatalf("the slow subscriber got everything (%d bytes)", got)
	}
}
