package main

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// Forwarded WebSockets at a stop or reload: each side gets a close frame
// (1001) between two frames of the other's, both tunnelled untouched and
// through ws_filters, and the tunnel ends once both answered, well within
// shutdown_timeout.

// drainBackend is a gorilla echo server that records, per connection
// (?name=), what it received: "msg:DATA", then "close:CODE".
type drainBackend struct {
	addr string
	mu   sync.Mutex
	seen map[string][]string
}

func startDrainBackend(t *testing.T) *drainBackend {
	t.Helper()
	b := &drainBackend{seen: map[string][]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		name := r.URL.Query().Get("name")
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					b.note(name, "close:"+strconv.Itoa(ce.Code))
				}
				return
			}
			b.note(name, "msg:"+string(m))
			c.WriteMessage(typ, m)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *drainBackend) note(name, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[name] = append(b.seen[name], what)
}

// waitSeen waits until connection name's record is want.
func (b *drainBackend) waitSeen(t *testing.T, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		got := append([]string(nil), b.seen[name]...)
		b.mu.Unlock()
		if len(got) >= len(want) {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("backend, connection %s: %q, want %q", name, got, want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend, connection %s: %q after 5 s, want %q", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const drainConfig = `workers: 1
shutdown_timeout: 8s
runtime_socket: le.sock
lua: {load: [pass.lua]}
frontends:
  - name: plain
    bind: ["127.0.0.1:@PORT@"]
    default_backend: ws
  - name: filtered
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: ws
    ws_filters: [lua.pass]
backends:
  - name: ws
    servers:
      - {name: s1, address: "BACKEND"}
`

func startDrainProxy(t *testing.T, b *drainBackend) *server {
	t.Helper()
	return startServer(t, strings.ReplaceAll(drainConfig, "BACKEND", b.addr),
		map[string]string{"pass.lua": `core.register_ws_filter("pass", function(data) return data end)`})
}

// expectGoingAway reads the echoes, then luaedge's close frame (1001),
// answers it, and expects the end of the connection.
func expectGoingAway(t *testing.T, w *wsClient, echoes ...string) {
	t.Helper()
	for _, e := range echoes {
		if f := w.read(); f.Header.OpCode != gobwas.OpText || string(f.Payload) != e {
			t.Fatalf("want the echo %q, got opcode %d %q", e, f.Header.OpCode, f.Payload)
		}
	}
	f := w.read()
	code, reason := gobwas.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != gobwas.OpClose || code != 1001 || reason != "server shutting down" {
		t.Fatalf("want a close frame 1001, got opcode %d %q", f.Header.OpCode, f.Payload)
	}
	answerClose(w)
	w.expectEOF()
}

// answerClose sends the client's close frame; luaedge may have ended the
// connection already (the server closed its end once it answered).
func answerClose(w *wsClient) {
	_ = gobwas.WriteFrame(w.c, gobwas.MaskFrame(gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(1001, ""))))
}

func TestWSProxiedDrainedOnStop(t *testing.T) {
	b := startDrainBackend(t)
	s := startDrainProxy(t, b)
	plain := dialRawWS(t, s.addr(), "/?name=plain")
	filtered := dialRawWS(t, s.addrOf("2"), "/?name=filtered")
	for _, w := range []*wsClient{plain, filtered} {
		w.send(text("hi"))
		if f := w.read(); string(f.Payload) != "hi" {
			t.Fatalf("echo: %q", f.Payload)
		}
	}
	// The plain client is halfway through a frame when the stop comes:
	// the server must get the whole frame before luaedge's close.
	half := gobwas.MaskFrame(text("hello 1234"))
	raw, err := gobwas.CompileFrame(half)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.c.Write(raw[:8]); err != nil {
		t.Fatal(err)
	}
	b.waitSeen(t, "plain", "msg:hi")

	stopped := make(chan bool, 1)
	start := time.Now()
	go func() { stopped <- s.stop(10 * time.Second) }()
	// The filtered one closes at once, both ways.
	expectGoingAway(t, filtered)
	b.waitSeen(t, "filtered", "msg:hi", "close:1001")
	// The plain client gets its close at once too (nothing of the
	// server's was cut); the server's waits for the client's frame.
	f := plain.read()
	if code, _ := gobwas.ParseCloseFrameData(f.Payload); f.Header.OpCode != gobwas.OpClose || code != 1001 {
		t.Fatalf("plain: want a close frame 1001 first, got opcode %d %q", f.Header.OpCode, f.Payload)
	}
	if _, err := plain.c.Write(raw[8:]); err != nil {
		t.Fatal(err)
	}
	b.waitSeen(t, "plain", "msg:hi", "msg:hello 1234", "close:1001")
	answerClose(plain)
	plain.expectEOF() // the echo of "hello 1234" came after our close: dropped
	if !<-stopped {
		t.Fatalf("luaedge did not stop; log:\n%s", s.logs())
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stop took %v: the tunnels should end once both sides answered, not at shutdown_timeout (8s)", d)
	}
}

func TestWSProxiedDrainedOnReload(t *testing.T) {
	b := startDrainBackend(t)
	s := startDrainProxy(t, b)
	plain := dialRawWS(t, s.addr(), "/?name=plain")
	filtered := dialRawWS(t, s.addrOf("2"), "/?name=filtered")
	s.mustReload(t)
	expectGoingAway(t, plain)
	expectGoingAway(t, filtered)
	b.waitSeen(t, "plain", "close:1001")
	b.waitSeen(t, "filtered", "close:1001")
	// Their clients reconnect, to the new generation.
	again := dialRawWS(t, s.addr(), "/?name=again")
	again.send(text("back"))
	if f := again.read(); string(f.Payload) != "back" {
		t.Fatalf("after the reload: %q", f.Payload)
	}
}
