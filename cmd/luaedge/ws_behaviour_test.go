package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// WebSocket services' behaviour end to end: publishing across workers,
// timeouts, limits, backpressure both ways, a client vanishing, and
// isolation from the loop's other clients.

const wsProbeLua = `
local websocket = require "http.websocket"

-- Each worker's Lua state makes its own marker, so a client can tell
-- which worker serves it (two live tables never share an address).
local marker = {}
local worker = tostring(marker):match("0x%x+")

local function open(applet)
   local ws = websocket.new_from_applet(applet)
   local ok, err, status = ws:accept()
   if not ok then
      applet:start_response()
      applet:send(status .. " " .. err)
      return nil
   end
   return ws
end

local paths = {}

-- /probe: echo, and log how the connection ended.
function paths.probe(ws)
   while true do
      local data, kind, code = ws:receive()
      if data == nil then
         core.Info("ws ended " .. tostring(code) .. " " .. tostring(kind))
         return
      end
      ws:send(data, kind)
   end
end

-- /flood: sends 64 KiB messages as fast as the client takes them.
function paths.flood(ws)
   local chunk = string.rep("f", 65536)
   while ws:send(chunk, "binary") do end
end

-- /slow: takes a message every 100 ms.
function paths.slow(ws)
   while true do
      local data = ws:receive()
      if data == nil then return end
      core.msleep(100)
   end
end

-- /stall: takes one message, then none for 1.5 s.
function paths.stall(ws)
   ws:receive()
   core.msleep(1500)
   for m in ws:each() do end
end

-- /timeout: a receive with a timeout, then a close from the service.
function paths.timeout(ws)
   local data, err, errno = ws:receive(0.2)
   ws:send(tostring(data) .. " " .. tostring(err) .. " " .. tostring(errno))
   ws:close(4000, "done")
   core.Info("closed by the service")
end

-- /room: a chat room that says which worker serves each member.
function paths.room(ws)
   ws:send("worker " .. worker)
   ws:subscribe("room")
   for message in ws:each() do
      if not core.publish("room", message) then ws:send("dropped") end
   end
end

-- /pubsub: subscribe, unsubscribe and publish from Lua.
function paths.pubsub(ws)
   assert(ws:subscribe("a"))
   assert(ws:subscribe("b"))
   assert(ws:unsubscribe("b"))
   core.publish("b", "not for me")
   core.publish("a", "binary for me", "binary")
   core.publish("a", "text for me")
   for message in ws:each() do end
end

-- /applet: the AppletHTTP no longer reads or writes the body.
function paths.applet(ws, applet)
   local ok, err = pcall(applet.send, applet, "raw")
   ws:send(tostring(ok) .. " " .. tostring(err))
   ok, err = pcall(applet.receive, applet)
   ws:send(tostring(ok) .. " " .. tostring(err))
end

core.register_service("probe", "http", function(applet)
   local f = paths[applet.path:sub(2)]
   if f == nil then
      applet:set_status(404)
      applet:start_response()
      return
   end
   local ws = open(applet)
   if ws then f(ws, applet) end
end)

core.register_service("plain", "http", function(applet)
   applet:add_header("content-length", 2)
   applet:start_response()
   applet:send("ok")
end)
`

func startWSProbe(t *testing.T, workers int, websocketKeys string) *server {
	t.Helper()
	cfg := fmt.Sprintf(`workers: %d
lua:
  load: [probe.lua]
frontends:
  - name: probe
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.probe
    websocket:
      max_message: 1MiB
%s
  - name: plain
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.plain
`, workers, websocketKeys)
	return startServer(t, cfg, map[string]string{"probe.lua": wsProbeLua})
}

// TestWSChatAcrossWorkers: members on both workers each get every
// message, published from either.
func TestWSChatAcrossWorkers(t *testing.T) {
	s := startWSProbe(t, 2, "")
	url := "ws://" + s.addr() + "/room"
	var members []*websocket.Conn
	workers := map[string]int{}
	for i := 0; i < 40 && (len(workers) < 2 || len(members) < 6); i++ {
		c := dialGorilla(t, url, nil)
		_, hello, err := c.ReadMessage()
		if err != nil || !strings.HasPrefix(string(hello), "worker ") {
			t.Fatalf("hello: %v %q", err, hello)
		}
		workers[string(hello)]++
		members = append(members, c)
	}
	if len(workers) < 2 {
		t.Fatalf("%d members, all on one worker: %v", len(members), workers)
	}
	// subscribe runs after the hello: wait until every member is in the
	// room, by a message each must see.
	for _, m := range members {
		m.WriteMessage(websocket.TextMessage, []byte("sync"))
	}
	for i, m := range members {
		for n := 0; n < len(members); n++ {
			if _, got, err := m.ReadMessage(); err != nil || string(got) != "sync" {
				t.Fatalf("member %d: sync %d: %v %q", i, n, err, got)
			}
		}
	}
	const each = 20
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				m.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("%d:%d", i, k)))
			}
		}()
	}
	wg.Wait()
	for i, m := range members {
		seen := map[string]bool{}
		next := make([]int, len(members)) // per sender, messages arrive in order
		for n := 0; n < each*len(members); n++ {
			_, got, err := m.ReadMessage()
			if err != nil {
				t.Fatalf("member %d after %d messages: %v", i, n, err)
			}
			var from, k int
			if _, err := fmt.Sscanf(string(got), "%d:%d", &from, &k); err != nil || seen[string(got)] {
				t.Fatalf("member %d: %q", i, got)
			}
			if k != next[from] {
				t.Fatalf("member %d: %q out of order", i, got)
			}
			next[from]++
			seen[string(got)] = true
		}
	}
}

func TestWSPublishFromLua(t *testing.T) {
	s := startWSProbe(t, 1, "")
	c := dialGorilla(t, "ws://"+s.addr()+"/pubsub", nil)
	typ, got, err := c.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage || string(got) != "binary for me" {
		t.Fatalf("first: %v %d %q", err, typ, got)
	}
	typ, got, err = c.ReadMessage()
	if err != nil || typ != websocket.TextMessage || string(got) != "text for me" {
		t.Fatalf("second: %v %d %q", err, typ, got)
	}
}

// TestWSReceiveTimeoutAndServiceClose: receive(0.2) times out with
// ETIMEDOUT; ws:close(4000, "done") waits for the client's close.
func TestWSReceiveTimeoutAndServiceClose(t *testing.T) {
	s := startWSProbe(t, 1, "")
	w := dialRawWS(t, s.addr(), "/timeout")
	start := time.Now()
	if f := w.read(); string(f.Payload) != "nil timeout 110" {
		t.Fatalf("got %q", f.Payload)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	f := w.read()
	code, reason := gobwas.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != gobwas.OpClose || code != 4000 || reason != "done" {
		t.Fatalf("close: %d %d %q", f.Header.OpCode, code, reason)
	}
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(s.logs(), "closed by the service") {
		t.Fatal("ws:close returned before the client's close frame")
	}
	w.send(closeFrame(4000, ""))
	s.waitLog(t, 5*time.Second, "closed by the service")
	w.expectEOF()
}

// TestWSClientVanishesMidFrame: the script learns 1006, the connection's
// resources go.
func TestWSClientVanishesMidFrame(t *testing.T) {
	s := startWSProbe(t, 1, "")
	w := dialRawWS(t, s.addr(), "/probe")
	w.send(text("first"))
	if f := w.read(); string(f.Payload) != "first" {
		t.Fatalf("echo %q", f.Payload)
	}
	h := gobwas.Header{Fin: true, OpCode: gobwas.OpBinary, Masked: true, Mask: gobwas.NewMask(), Length: 1000}
	gobwas.WriteHeader(w.c, h)
	w.c.Write(make([]byte, 10))
	w.c.Close()
	s.waitLog(t, 5*time.Second, "ws ended 1006")
	// A client that breaks the protocol: the script gets its code.
	w = dialRawWS(t, s.addr(), "/probe")
	w.send(withRsv(text("x"), false, true, false))
	w.expectClose(1002)
	s.waitLog(t, 5*time.Second, "ws ended 1002 ws: reserved bit set")
}

// TestWSPingTimeoutAndIdle: a client that answers no ping is dropped
// after ping_timeout; one that answers stays; idle_timeout closes with
// 1001.
func TestWSPingTimeoutAndIdle(t *testing.T) {
	s := startWSProbe(t, 1, "      ping_interval: 200ms\n      ping_timeout: 300ms")
	mute := dialRawWS(t, s.addr(), "/probe")
	alive := dialGorilla(t, "ws://"+s.addr()+"/probe", nil)
	go func() {
		for {
			if _, _, err := alive.NextReader(); err != nil {
				return
			}
		}
	}()
	if f := mute.read(); f.Header.OpCode != gobwas.OpPing {
		t.Fatalf("want a ping, got opcode %d", f.Header.OpCode)
	}
	start := time.Now()
	mute.expectEOF()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("dropped %v after the ping", d)
	}
	s.waitLog(t, 5*time.Second, "ws ended 1006")
	if err := alive.WriteMessage(websocket.PingMessage, nil); err != nil {
		t.Fatalf("the client answering pings was dropped: %v", err)
	}
	// A client whose messages wait for a slow service (its pongs unread
	// behind them) is not taken for a silent one.
	slow := dialGorilla(t, "ws://"+s.addr()+"/stall", nil)
	slowGone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := slow.NextReader(); err != nil {
				slowGone <- err
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if err := slow.WriteMessage(websocket.BinaryMessage, []byte("wait")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-slowGone:
		t.Fatalf("a client waiting for its slow service was dropped: %v", err)
	case <-time.After(1200 * time.Millisecond): // ping_interval + ping_timeout is 500 ms
	}

	s2 := startWSProbe(t, 1, "      idle_timeout: 300ms")
	w := dialRawWS(t, s2.addr(), "/probe")
	w.send(text("x"))
	w.read()
	f := w.read()
	code, reason := gobwas.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != gobwas.OpClose || code != 1001 || reason != "idle timeout" {
		t.Fatalf("idle: opcode %d %d %q", f.Header.OpCode, code, reason)
	}
}

func TestWSMaxConnections(t *testing.T) {
	s := startWSProbe(t, 2, "      max_connections: 2")
	url := "ws://" + s.addr() + "/probe"
	a := dialGorilla(t, url, nil)
	dialGorilla(t, url, nil)
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("third connection: %v %v", err, resp)
	}
	a.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	a.ReadMessage()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a place was not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWSSlowReaderIsolated: a service flooding a client that reads
// nothing is parked (RSS stays bounded) and a plain HTTP client on the
// same worker is answered meanwhile; once the client reads, all flows.
func TestWSSlowReaderIsolated(t *testing.T) {
	s := startWSProbe(t, 1, "")
	before := vmRSS(t, s)
	w := dialRawWS(t, s.addr(), "/flood")
	// For a second the service floods a client that reads nothing.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if grown := vmRSS(t, s) - before; grown > 48<<20 {
			t.Fatalf("RSS grew by %d MiB with a client not reading", grown>>20)
		}
	}
	c, _ := newClient(t)
	start := time.Now()
	resp, body := get(t, c, "http://"+s.addrOf("2")+"/")
	wantResponse(t, "plain client beside the flood", resp, body, 200, "ok")
	if d := time.Since(start); d > time.Second {
		t.Errorf("the plain request took %v", d)
	}
	if grown := vmRSS(t, s) - before; grown > 48<<20 {
		t.Fatalf("RSS grew by %d MiB with a client not reading", grown>>20)
	}
	// Reading again, the client gets the messages whole.
	for i := 0; i < 100; i++ {
		if f := w.read(); len(f.Payload) != 65536 {
			t.Fatalf("message %d: %d bytes", i, len(f.Payload))
		}
	}
	// Gone while the service waits for it to read: the service's stream
	// ends (it waits for no message, so it is not resumed).
	w.c.Close()
	p := dialRawWS(t, s.addr(), "/probe")
	p.send(text("still here"))
	if f := p.read(); string(f.Payload) != "still here" {
		t.Fatalf("echo after the flood: %q", f.Payload)
	}
	if strings.Contains(s.logs(), "failed") {
		t.Fatalf("a script failed:\n%s", s.logs())
	}
}

// TestWSFastSenderPaused: a client sending faster than the service reads
// is paused (TCP flow control), not buffered for.
func TestWSFastSenderPaused(t *testing.T) {
	s := startWSProbe(t, 1, "")
	before := vmRSS(t, s)
	w := dialRawWS(t, s.addr(), "/slow")
	frame := gobwas.MustCompileFrame(gobwas.MaskFrame(gobwas.NewBinaryFrame(make([]byte, 64<<10))))
	sent := 0
	w.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent < 256<<20 {
		n, err := w.c.Write(frame)
		sent += n
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatal(err)
			}
			break
		}
	}
	if sent >= 256<<20 {
		t.Fatalf("the server took %d MiB from a client it reads 10 messages a second of", sent>>20)
	}
	if grown := vmRSS(t, s) - before; grown > 48<<20 {
		t.Fatalf("RSS grew by %d MiB (%d MiB sent)", grown>>20, sent>>20)
	}
}

// TestWSUpgradeThenPipelined: frames sent right behind the upgrade
// request, before the 101 arrived, are not lost.
func TestWSUpgradeThenPipelined(t *testing.T) {
	s := startWSProbe(t, 1, "")
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b bytes.Buffer
	b.WriteString("GET /probe HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	for i := 0; i < 3; i++ {
		gobwas.WriteFrame(&b, gobwas.MaskFrame(text(fmt.Sprint("early ", i))))
	}
	c.Write(b.Bytes())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("early 2")) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("%v after %q", err, got)
		}
	}
	if i0, i1 := bytes.Index(got, []byte("early 0")), bytes.Index(got, []byte("early 1")); i0 < 0 || i1 < i0 {
		t.Fatalf("echoes missing or out of order: %q", got)
	}
}

// TestWSStop: stopping the server closes its WebSockets with 1001 and
// exits once the clients answered.
func TestWSStop(t *testing.T) {
	s := startWSProbe(t, 2, "")
	var conns []*websocket.Conn
	for i := 0; i < 4; i++ {
		conns = append(conns, dialGorilla(t, "ws://"+s.addr()+"/probe", nil))
	}
	stopped := make(chan bool, 1)
	start := time.Now()
	go func() { stopped <- s.stop(10 * time.Second) }()
	for i, c := range conns {
		_, _, err := c.ReadMessage() // gorilla answers the close frame
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1001 || ce.Text != "server shutting down" {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close() // as a client does once the server ended the connection
	}
	if !<-stopped {
		t.Fatal("the server did not exit")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the stop took %v", d)
	}
}

func TestWSAppletAfterAccept(t *testing.T) {
	s := startWSProbe(t, 1, "")
	c := dialGorilla(t, "ws://"+s.addr()+"/applet", nil)
	for _, fn := range []string{"send", "receive"} {
		_, m, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(m), "false") || !strings.Contains(string(m), "AppletHTTP:"+fn+": the request is a WebSocket now") {
			t.Fatalf("%s: %v %q", fn, err, m)
		}
	}
}

// TestWSRandomFrames throws random frame sequences at the echo (valid
// frames, fragments, control frames, garbage, cuts mid-frame), with and
// without compression, from several clients at once: the server answers
// or closes each, never panics, and serves on.
func TestWSRandomFrames(t *testing.T) {
	s := startWSProbe(t, 2, "")
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for c := 0; c < 40; c++ {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			ext := ""
			if r.IntN(2) == 0 {
				ext = "Sec-WebSocket-Extensions: permessage-deflate"
			}
			conn, err := net.DialTimeout("tcp", s.addr(), 2*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			var b bytes.Buffer
			b.WriteString("GET /probe HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + ext + "\r\n\r\n")
			for i := 0; i < 30; i++ {
				ops := []gobwas.OpCode{gobwas.OpText, gobwas.OpBinary, gobwas.OpContinuation, gobwas.OpPing, gobwas.OpPong, gobwas.OpClose, 3, 0xB}
				p := make([]byte, r.IntN(300))
				for j := range p {
					p[j] = byte(r.IntN(256))
				}
				f := gobwas.NewFrame(ops[r.IntN(len(ops))], r.IntN(4) != 0, p)
				f.Header.Rsv = byte(r.IntN(8)) &^ byte(r.IntN(8)) &^ byte(r.IntN(8))
				if r.IntN(10) == 0 {
					gobwas.WriteFrame(&b, f) // unmasked
				} else {
					gobwas.WriteFrame(&b, gobwas.MaskFrame(f))
				}
				if r.IntN(15) == 0 {
					b.Write(p[:len(p)/2]) // garbage
				}
			}
			out := b.Bytes()
			if r.IntN(3) == 0 {
				out = out[:r.IntN(len(out))] // vanish mid-frame
			}
			conn.Write(out)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, conn) // until the server ends it (or the deadline)
		}()
	}
	wg.Wait()
	w := dialRawWS(t, s.addr(), "/probe")
	w.send(text("still serving"))
	if f := w.read(); string(f.Payload) != "still serving" {
		t.Fatalf("echo %q", f.Payload)
	}
	if strings.Contains(s.logs(), "panic") {
		t.Fatalf("the server panicked:\n%s", s.logs())
	}
}
