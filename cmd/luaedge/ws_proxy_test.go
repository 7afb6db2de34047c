package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// A WebSocket upgrade forwarded to a backend: the 101 relayed, then the
// frames tunnelled untouched both ways, with backpressure each way.

// wsBackend is a Go WebSocket server (gorilla) behind luaedge: /echo
// echoes, /flood sends 64 KiB messages until it fails, /mute reads
// nothing, /refuse answers 403.
func wsBackend(t *testing.T) (addr string, unmute func()) {
	t.Helper()
	muted := make(chan struct{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{EnableCompression: true, Subprotocols: []string{"chat"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, http.Header{"X-Backend": {"yes"}})
		if err != nil {
			return
		}
		defer c.Close()
		c.SetCloseHandler(func(code int, text string) error {
			return c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, "backend: "+text))
		})
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, m)
		}
	})
	mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		chunk := make([]byte, 64<<10)
		for c.WriteMessage(websocket.BinaryMessage, chunk) == nil {
		}
	})
	mux.HandleFunc("/mute", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		<-muted
		c.Close()
	})
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websocket for you", http.StatusForbidden)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), sync.OnceFunc(func() { close(muted) })
}

func startWSProxy(t *testing.T, backend string) *server {
	t.Helper()
	return startServer(t, `workers: 1
frontends:
  - name: front
    bind: ["127.0.0.1:@PORT@"]
    default_backend: ws
backends:
  - name: ws
    servers:
      - {name: s1, address: "`+backend+`"}
`, nil)
}

func TestWSProxied(t *testing.T) {
	be, _ := wsBackend(t)
	s := startWSProxy(t, be)
	base := "ws://" + s.addr()
	for _, compress := range []bool{false, true} {
		c, resp, err := (&websocket.Dialer{EnableCompression: compress, Subprotocols: []string{"chat"}}).Dial(base+"/echo", nil)
		if err != nil {
			t.Fatalf("dial: %v %v", err, resp)
		}
		if resp.Header.Get("X-Backend") != "yes" || c.Subprotocol() != "chat" {
			t.Fatalf("101 not relayed whole: %v", resp.Header)
		}
		if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
			t.Fatalf("extensions %q with compression %v", resp.Header.Get("Sec-WebSocket-Extensions"), compress)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, m := range [][]byte{[]byte("hello"), bytes.Repeat([]byte("tunnel "), 300000), pattern(100000)} {
			typ := websocket.TextMessage
			if !utf8Valid(m) {
				typ = websocket.BinaryMessage
			}
			c.WriteMessage(typ, m)
			gotTyp, got, err := c.ReadMessage()
			if err != nil || gotTyp != typ || !bytes.Equal(got, m) {
				t.Fatalf("echo of %d bytes: %v %d, %d bytes", len(m), err, gotTyp, len(got))
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4002, "bye"))
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4002 || ce.Text != "backend: bye" {
			t.Fatalf("close: %v", err)
		}
		c.Close()
	}

	// A refusal is relayed as any response, and the connection goes on.
	_, resp, err := websocket.DefaultDialer.Dial(base+"/refuse", nil)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("refused upgrade: %v %v", err, resp)
	}

	// Frames the client sends right behind its request, before the 101,
	// reach the server.
	w := dialRawWS(t, s.addr(), "/echo")
	w.send(text("after the 101"))
	if f := w.read(); string(f.Payload) != "after the 101" {
		t.Fatalf("echo %q", f.Payload)
	}
	// The server ending the connection ends the client's.
	w.send(closeFrame(1000, ""))
	f := w.read()
	if f.Header.OpCode != gobwas.OpClose {
		t.Fatalf("opcode %d", f.Header.OpCode)
	}
	w.expectEOF()
}

// TestWSProxiedBackpressure: a server flooding a client that does not
// read, and a client flooding a server that does not read, are held by
// TCP flow control: luaedge's memory stays bounded either way, and a
// plain request is answered meanwhile.
func TestWSProxiedBackpressure(t *testing.T) {
	be, unmute := wsBackend(t)
	s := startWSProxy(t, be)
	defer unmute()
	before := vmRSS(t, s)
	flood := dialRawWS(t, s.addr(), "/flood")
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if grown := vmRSS(t, s) - before; grown > 48<<20 {
			t.Fatalf("RSS grew by %d MiB with a client not reading", grown>>20)
		}
	}
	for i := 0; i < 50; i++ {
		if f := flood.read(); len(f.Payload) != 64<<10 {
			t.Fatalf("message %d: %d bytes", i, len(f.Payload))
		}
	}

	mute := dialRawWS(t, s.addr(), "/mute")
	frame := gobwas.MustCompileFrame(gobwas.MaskFrame(gobwas.NewBinaryFrame(make([]byte, 64<<10))))
	sent := 0
	mute.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent < 256<<20 {
		n, err := mute.c.Write(frame)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= 256<<20 {
		t.Fatalf("luaedge took %d MiB for a server that reads nothing", sent>>20)
	}
	if grown := vmRSS(t, s) - before; grown > 48<<20 {
		t.Fatalf("RSS grew by %d MiB (%d MiB sent)", grown>>20, sent>>20)
	}
	// The server closing ends the tunnel, paused as it is.
	unmute()
	mute.expectEOF()
	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/refuse"))
	if resp.StatusCode != 403 || !strings.Contains(body, "no websocket") {
		t.Fatalf("plain request beside the tunnels: %d %q", resp.StatusCode, body)
	}
}

const wsFiltersLua = `
core.register_ws_filter("upper", function(data, opcode, from)
   if from == "client" then return data:upper() end
   return "server said: " .. data
end)
core.register_ws_filter("censor", function(data, opcode, from)
   if data:find("SECRET", 1, true) then return nil, "blocked" end -- answered to the sender
   if data == "DROP" then return nil end
   if data == "BOOM" then error("boom") end
   if data == "WAIT" or data == "server said: SLOW" then core.msleep(50) end
   return data
end)
`

// TestWSProxiedFilters: ws_filters see each message both ways, change,
// drop or answer it, or wait; control frames pass; compression is not
// offered to the server; a failing filter closes with 1011.
func TestWSProxiedFilters(t *testing.T) {
	be, _ := wsBackend(t)
	s := startServer(t, `workers: 1
lua:
  load: [filters.lua]
frontends:
  - name: front
    bind: ["127.0.0.1:@PORT@"]
    default_backend: ws
    ws_filters: [lua.upper, lua.censor]
backends:
  - name: ws
    servers:
      - {name: s1, address: "`+be+`"}
`, map[string]string{"filters.lua": wsFiltersLua})
	w := dialRawWS(t, s.addr(), "/echo", "Sec-WebSocket-Extensions: permessage-deflate")
	if w.ext != "" {
		t.Fatalf("extensions %q through filters", w.ext)
	}
	expect := func(op gobwas.OpCode, want string) {
		t.Helper()
		f := w.read()
		if f.Header.OpCode != op || string(f.Payload) != want {
			t.Fatalf("got opcode %d %q, want %d %q", f.Header.OpCode, abbrev(string(f.Payload)), op, abbrev(want))
		}
	}
	w.send(text("hello"))
	expect(gobwas.OpText, "server said: HELLO")
	w.send(text("a secret"))
	expect(gobwas.OpText, "blocked")
	w.send(text("drop"))
	w.send(text("after"))
	expect(gobwas.OpText, "server said: AFTER")
	w.send(frag(gobwas.OpText, false, "ab"))
	w.send(gobwas.NewPingFrame([]byte("p")))
	w.send(frag(gobwas.OpContinuation, true, "cd"))
	expect(gobwas.OpPong, "p")
	expect(gobwas.OpText, "server said: ABCD")
	big := strings.Repeat("x", 500000)
	w.send(bin([]byte(big)))
	expect(gobwas.OpBinary, "server said: "+strings.ToUpper(big))
	w.send(text("boom"))
	w.expectClose(1011)
	s.waitLog(t, 5*time.Second, "boom")

	// Filters may wait (here 50 ms, either way): the messages behind keep
	// their order.
	w = dialRawWS(t, s.addr(), "/echo")
	w.send(text("wait"))
	w.send(text("then"))
	w.send(text("slow"))
	w.send(text("next"))
	for _, want := range []string{"WAIT", "THEN", "SLOW", "NEXT"} {
		expect(gobwas.OpText, "server said: "+want)
	}
}

const wsServedFiltersLua = `
local websocket = require "http.websocket"
core.register_service("echo", "http", function(a)
   local ws = websocket.new_from_applet(a)
   assert(ws:accept())
   for data, kind in ws:each() do ws:send(data, kind) end
end)
core.register_ws_filter("tag", function(data, opcode, from)
   if from == "client" then return "in:" .. data end
   return data .. ":out"
end)
core.register_ws_filter("gate", function(data, opcode, from)
   if data == "in:drop" then return nil end
   if data == "in:secret" then return nil, "refused" end -- answered to the client
   if data == "in:ask:out" then return nil, "answered" end -- answered to the service
   if data == "in:bin" then return data, "binary" end
   if data == "in:boom" then error("boom") end
   if data == "in:wait" then core.msleep(50) end
   return data
end)
`

// TestWSServedFilters: ws_filters on a WebSocket a Lua service accepted
// see each message both ways (what the client sends before the service's
// receive, what the service sends on its way to the client): they change,
// drop or answer it, or wait, and a failing one closes with 1011. A
// second client on the same loop sees only its own messages, and a
// frontend without filters echoes untouched.
func TestWSServedFilters(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [filters.lua]
frontends:
  - name: filtered
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
    ws_filters: [lua.tag, lua.gate]
  - name: plain
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.echo
`, map[string]string{"filters.lua": wsServedFiltersLua})
	expect := func(w *wsClient, op gobwas.OpCode, want string) {
		t.Helper()
		f := w.read()
		if f.Header.OpCode != op || string(f.Payload) != want {
			t.Fatalf("got opcode %d %q, want %d %q", f.Header.OpCode, abbrev(string(f.Payload)), op, abbrev(want))
		}
	}
	a := dialRawWS(t, s.addr(), "/")
	b := dialRawWS(t, s.addr(), "/")
	a.send(text("hello"))
	expect(a, gobwas.OpText, "in:hello:out")
	a.send(text("drop"))
	a.send(text("secret"))
	expect(a, gobwas.OpText, "refused")
	a.send(text("ask"))
	expect(a, gobwas.OpText, "answered:out")
	a.send(text("bin"))
	expect(a, gobwas.OpBinary, "in:bin:out")
	a.send(frag(gobwas.OpText, false, "ab"))
	a.send(gobwas.NewPingFrame([]byte("p")))
	a.send(frag(gobwas.OpContinuation, true, "cd"))
	expect(a, gobwas.OpPong, "p")
	expect(a, gobwas.OpText, "in:abcd:out")
	// A filter that waits keeps the order.
	a.send(text("wait"))
	a.send(text("then"))
	expect(a, gobwas.OpText, "in:wait:out")
	expect(a, gobwas.OpText, "in:then:out")

	// The other client on the loop got none of that: its first frame
	// is the answer to its own message.
	b.send(text("mine"))
	expect(b, gobwas.OpText, "in:mine:out")

	a.send(text("boom"))
	a.expectClose(1011)
	s.waitLog(t, 5*time.Second, "boom")
	b.send(text("still"))
	expect(b, gobwas.OpText, "in:still:out")

	p := dialRawWS(t, s.addrOf("2"), "/")
	p.send(text("drop"))
	expect(p, gobwas.OpText, "drop")
}
