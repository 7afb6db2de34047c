package http2_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"golang.org/x/net/http2"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// A WebSocket's extended CONNECT (RFC 8441) forwarded to an HTTP/1.1
// backend (gorilla/websocket here): it goes as an Upgrade, the client gets
// a 200 and the frames pass both ways in the stream's DATA frames, also
// through ws_filters; a backend that refuses gives its status; a backend
// that closes mid-message ends the stream; a stop closes it with 1001.

const wsProxyApp = `
core.register_ws_filter("upper", function(data, opcode, from)
	if from == "server" then return data:upper() end
	return data
end)
`

const wsProxyConf = `
workers: 1
shutdown_timeout: 3s
frontends:
  - name: fwd
    bind: ["@A@"]
    default_backend: echo
    http2: {websocket: true}
    routes:
      - {path_prefix: /plain, backend: plain}
  - name: filtered
    bind: ["@B@"]
    default_backend: echo
    http2: {websocket: true}
    ws_filters: [lua.upper]
backends:
  - name: echo
    servers: [{name: s1, address: "@GO@"}]
  - name: plain
    servers: [{name: s1, address: "@GO@"}]
`

// wsBackend is the HTTP/1.1 WebSocket server behind luaedge.
type wsBackend struct {
	up      websocket.Upgrader
	headers chan http.Header // each upgrade request's
	closes  chan int         // close codes /hold got
}

func (b *wsBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/plain" {
		io.WriteString(w, "plain")
		return
	}
	b.headers <- r.Header.Clone()
	if r.URL.Path == "/refuse" {
		http.Error(w, "not here", http.StatusForbidden)
		return
	}
	up := b.up
	up.Subprotocols = []string{"chat"}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	switch r.URL.Path {
	case "/cut":
		// Half a frame, then the connection ends.
		c.UnderlyingConn().Write([]byte{0x81, 10, 'h', 'a', 'l', 'f'})
	case "/hold":
		_, _, err := c.ReadMessage()
		code := 0
		if ce, ok := err.(*websocket.CloseError); ok {
			code = ce.Code
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		}
		b.closes <- code
	default:
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, m)
		}
	}
}

func startWSProxy(t *testing.T) (*edgetest.Server, *wsBackend) {
	t.Helper()
	b := &wsBackend{headers: make(chan http.Header, 16), closes: make(chan int, 1)}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	conf := strings.ReplaceAll(wsProxyConf, "@GO@", strings.TrimPrefix(srv.URL, "http://"))
	return edgetest.Start(t, conf, wsProxyApp), b
}

func TestWebSocketOverHTTP2Forwarded(t *testing.T) {
	s, b := startWSProxy(t)
	w := dialH2WS(t, s, "@A@")
	w.readUntil("the server's SETTINGS", func() bool { return len(w.settings) > 0 })

	w.open(1, "CONNECT", "/echo", "sec-websocket-version", "13", "sec-websocket-protocol", "chat", "origin", "http://h.example")
	w.readUntil("the 200", func() bool { return w.fields[1] != nil })
	f1 := w.fields[1]
	if f1[":status"] != "200" || f1["sec-websocket-protocol"] != "chat" {
		t.Fatalf("answer %v", f1)
	}
	for _, name := range []string{"sec-websocket-accept", "upgrade", "connection", "content-length"} {
		if _, ok := f1[name]; ok {
			t.Errorf("the 200 has %s", name)
		}
	}
	hd := <-b.headers
	if hd.Get("Upgrade") != "websocket" || hd.Get("Sec-WebSocket-Key") == "" || hd.Get("Sec-WebSocket-Version") != "13" || hd.Get("Origin") != "http://h.example" {
		t.Errorf("the backend got %v", hd)
	}

	w.send(1, gobwas.NewTextFrame([]byte("hello")))
	if f := w.message(1); f.Header.OpCode != gobwas.OpText || string(f.Payload) != "hello" {
		t.Fatalf("echo: %d %q", f.Header.OpCode, f.Payload)
	}
	// A second WebSocket stream, a plain request on the same connection,
	// and an HTTP/1.1 client of the same loop, served meanwhile.
	w.open(3, "CONNECT", "/echo", "sec-websocket-version", "13")
	w.readUntil("the second 200", func() bool { return w.fields[3] != nil })
	<-b.headers
	w.send(3, gobwas.NewBinaryFrame([]byte("second")))
	if f := w.message(3); f.Header.OpCode != gobwas.OpBinary || string(f.Payload) != "second" {
		t.Fatalf("stream 3: %d %q", f.Header.OpCode, f.Payload)
	}
	w.open(5, "GET", "/plain")
	w.readUntil("the plain answer", func() bool { return w.ended[5] })
	if w.fields[5][":status"] != "200" || string(w.data[5]) != "plain" {
		t.Fatalf("plain: %v %q", w.fields[5], w.data[5])
	}
	resp, err := http.Get("http://" + s.Addr["@A@"] + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "plain" {
		t.Fatalf("HTTP/1.1 beside the tunnels: %q", body)
	}
	// A message larger than the stream window (256 KiB) both ways: the
	// window is credited back as the backend takes it.
	big := strings.Repeat("0123456789", 60000)
	w.send(1, gobwas.NewTextFrame([]byte(big)))
	if f := w.message(1); string(f.Payload) != big {
		t.Fatalf("stream 1: %d bytes back, want %d", len(f.Payload), len(big))
	}
	// The close handshake through the tunnel; the backend then closes,
	// which ends the stream.
	w.send(1, gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(4000, "done")))
	if f := w.message(1); f.Header.OpCode != gobwas.OpClose {
		t.Fatalf("stream 1: opcode %d after our close", f.Header.OpCode)
	}
	w.readUntil("END_STREAM on stream 1", func() bool { return w.ended[1] })
	// Stream 3 goes on; reset, its backend connection closes.
	w.send(3, gobwas.NewTextFrame([]byte("still here")))
	if f := w.message(3); string(f.Payload) != "still here" {
		t.Fatalf("stream 3: %q", f.Payload)
	}
	w.fr.WriteRSTStream(3, http2.ErrCodeCancel)

	// Refused by the backend: its status and body.
	w.open(7, "CONNECT", "/refuse", "sec-websocket-version", "13")
	w.readUntil("the refusal", func() bool { return w.ended[7] })
	if w.fields[7][":status"] != "403" || !strings.Contains(string(w.data[7]), "not here") {
		t.Fatalf("refused: %v %q", w.fields[7], w.data[7])
	}
	<-b.headers

	// The backend closes halfway through a frame: the client gets what
	// came, then END_STREAM.
	w.open(9, "CONNECT", "/cut", "sec-websocket-version", "13")
	w.readUntil("the cut stream's end", func() bool { return w.ended[9] || w.reset[9] != 0 })
	if w.fields[9][":status"] != "200" || string(w.data[9]) != "\x81\x0ahalf" || !w.ended[9] {
		t.Fatalf("cut: %v %q ended %v reset %v", w.fields[9], w.data[9], w.ended[9], w.reset[9])
	}
}

// With ws_filters, the tunnel is a relay: the backend's messages come
// back upper-cased, and the backend is offered no compression.
func TestWebSocketOverHTTP2ForwardedFiltered(t *testing.T) {
	s, b := startWSProxy(t)
	w := dialH2WS(t, s, "@B@")
	w.open(1, "CONNECT", "/echo", "sec-websocket-version", "13", "sec-websocket-extensions", "permessage-deflate")
	w.readUntil("the 200", func() bool { return w.fields[1] != nil })
	if w.fields[1][":status"] != "200" {
		t.Fatalf("answer %v", w.fields[1])
	}
	if hd := <-b.headers; hd.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("extensions forwarded through filters: %v", hd)
	}
	w.send(1, gobwas.NewTextFrame([]byte("shout")))
	if f := w.message(1); string(f.Payload) != "SHOUT" {
		t.Fatalf("filtered: %q", f.Payload)
	}
	w.send(1, gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(1000, "")))
	if f := w.message(1); f.Header.OpCode != gobwas.OpClose {
		t.Fatalf("opcode %d after our close", f.Header.OpCode)
	}
	w.readUntil("END_STREAM", func() bool { return w.ended[1] || w.reset[1] != 0 })
}

// A stop closes a tunnelled WebSocket with 1001 both ways; once both
// answered, the stream ends.
func TestWebSocketOverHTTP2ForwardedDrained(t *testing.T) {
	s, b := startWSProxy(t)
	w := dialH2WS(t, s, "@A@")
	w.open(1, "CONNECT", "/hold", "sec-websocket-version", "13")
	w.readUntil("the 200", func() bool { return w.fields[1] != nil })
	<-b.headers
	w.stopping = true
	s.Stop()
	f := w.message(1)
	if f.Header.OpCode != gobwas.OpClose {
		t.Fatalf("opcode %d, want a close", f.Header.OpCode)
	}
	if code, _ := gobwas.ParseCloseFrameData(f.Payload); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case code := <-b.closes:
		if code != 1001 {
			t.Fatalf("the backend got close code %d, want 1001", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend got no close")
	}
	w.send(1, gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(1001, "")))
	w.readUntil("the stream's end", func() bool { return w.ended[1] || w.reset[1] != 0 })
	if !w.goAway {
		t.Error("no GOAWAY on the stop")
	}
}
