package http2_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/luaedge/luaedge/edge/edgetest"
	h2proto "github.com/luaedge/luaedge/proto/http2"
)

// WebSocket over HTTP/2 (RFC 8441), in-process: a client written with
// x/net/http2's Framer opens extended CONNECT streams to a Lua echo
// service, several on one connection beside plain requests, and speaks
// WebSocket frames (gobwas/ws's codec) in their DATA frames.

const wsApp = `
local websocket = require "http.websocket"
core.register_service("app", "http", function(a)
	if a.path == "/plain" then
		a:set_status(200)
		a:add_header("content-length", 5)
		a:start_response()
		a:send("plain")
		return
	end
	local ws = websocket.new_from_applet(a)
	local ok, err, status = ws:accept{ protocols = { "chat" } }
	if not ok then
		a:start_response()
		a:send(status .. " " .. err)
		return
	end
	for data, kind in ws:each() do
		if data == "who" then data = (ws.protocol or "none") .. " " .. a.method end
		ws:send(data, kind)
	end
end)
`

const wsConf = `
workers: 1
shutdown_timeout: 2s
frontends:
  - name: ws
    bind: ["@A@"]
    use_service: lua.app
    http2: {websocket: true}
  - name: plain
    bind: ["@B@"]
    use_service: lua.app
  - name: forwarding
    bind: ["@C@"]
    default_backend: nowhere
    http2: {websocket: true}
backends:
  - name: nowhere
    retries: 0
    servers: [{name: s1, address: "127.0.0.1:1"}]
`

// h2ws is a raw HTTP/2 connection for WebSocket streams.
type h2ws struct {
	t     *testing.T
	c     *edgetest.Client
	fr    *http2.Framer
	block bytes.Buffer
	enc   *hpack.Encoder
	dec   *hpack.Decoder
	// What came, by stream: DATA bytes, response fields, END_STREAM.
	data   map[uint32][]byte
	fields map[uint32]map[string]string
	ended  map[uint32]bool
	reset  map[uint32]http2.ErrCode
	// settings are the server's.
	settings map[http2.SettingID]uint32
	// stopping: a GOAWAY is expected (the server stops); goAway: one came.
	stopping, goAway bool
}

func dialH2WS(t *testing.T, s *edgetest.Server, addr string) *h2ws {
	t.Helper()
	c := s.Dial(t, addr)
	w := &h2ws{t: t, c: c, fr: http2.NewFramer(c, c.R), data: map[uint32][]byte{}, fields: map[uint32]map[string]string{},
		ended: map[uint32]bool{}, reset: map[uint32]http2.ErrCode{}, settings: map[http2.SettingID]uint32{}}
	w.enc = hpack.NewEncoder(&w.block)
	w.dec = hpack.NewDecoder(4096, nil)
	c.Send(t, h2proto.ClientPreface)
	w.fr.WriteSettings()
	// Generous windows: the test reads what comes as it asks for it.
	w.fr.WriteWindowUpdate(0, 1<<30)
	return w
}

// open starts an extended CONNECT for path (extra: field, value, ...).
func (w *h2ws) open(id uint32, method, path string, extra ...string) {
	w.t.Helper()
	w.block.Reset()
	fields := []string{":method", method, ":scheme", "http", ":authority", "h.example", ":path", path}
	if method == "CONNECT" {
		fields = append(fields, ":protocol", "websocket")
	}
	fields = append(fields, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.block.Bytes(), EndHeaders: true, EndStream: method == "GET"}); err != nil {
		w.t.Fatal(err)
	}
}

// send writes a client's (masked) WebSocket frame in DATA frames.
func (w *h2ws) send(id uint32, f gobwas.Frame) {
	w.t.Helper()
	b, err := gobwas.CompileFrame(gobwas.MaskFrame(f))
	if err != nil {
		w.t.Fatal(err)
	}
	for len(b) > 0 {
		n := min(len(b), 16384)
		if err := w.fr.WriteData(id, false, b[:n]); err != nil {
			w.t.Fatal(err)
		}
		b = b[n:]
	}
}

// readUntil reads frames until cond holds.
func (w *h2ws) readUntil(what string, cond func() bool) {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !cond() {
		f, err := w.fr.ReadFrame()
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				f.ForeachSetting(func(s http2.Setting) error { w.settings[s.ID] = s.Val; return nil })
				w.fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			m := map[string]string{}
			hf, _ := w.dec.DecodeFull(f.HeaderBlockFragment())
			for _, h := range hf {
				m[h.Name] = h.Value
			}
			w.fields[f.StreamID] = m
			w.ended[f.StreamID] = w.ended[f.StreamID] || f.StreamEnded()
		case *http2.DataFrame:
			w.data[f.StreamID] = append(w.data[f.StreamID], f.Data()...)
			w.ended[f.StreamID] = w.ended[f.StreamID] || f.StreamEnded()
			if n := len(f.Data()); n > 0 {
				w.fr.WriteWindowUpdate(f.StreamID, uint32(n))
			}
		case *http2.RSTStreamFrame:
			w.reset[f.StreamID] = f.ErrCode
		case *http2.GoAwayFrame:
			if !w.stopping || f.ErrCode != http2.ErrCodeNo {
				w.t.Fatalf("waiting for %s: GOAWAY %v", what, f.ErrCode)
			}
			w.goAway = true
		}
	}
}

// message reads the next WebSocket frame the server sent on stream id.
func (w *h2ws) message(id uint32) gobwas.Frame {
	w.t.Helper()
	var f gobwas.Frame
	w.readUntil("a WebSocket frame", func() bool {
		if len(w.data[id]) < 2 {
			return false
		}
		r := bytes.NewReader(w.data[id])
		g, err := gobwas.ReadFrame(r)
		if err != nil {
			return false // not whole yet
		}
		f = g
		w.data[id] = w.data[id][len(w.data[id])-r.Len():]
		return true
	})
	if f.Header.Masked {
		w.t.Fatal("the server masked a frame")
	}
	return f
}

func TestWebSocketOverHTTP2(t *testing.T) {
	s := edgetest.Start(t, wsConf, wsApp)
	w := dialH2WS(t, s, "@A@")
	w.readUntil("the server's SETTINGS", func() bool { return len(w.settings) > 0 })
	if w.settings[http2.SettingEnableConnectProtocol] != 1 {
		t.Fatalf("SETTINGS %v: no SETTINGS_ENABLE_CONNECT_PROTOCOL", w.settings)
	}

	w.open(1, "CONNECT", "/echo", "sec-websocket-version", "13", "sec-websocket-protocol", "chat")
	w.open(3, "CONNECT", "/echo", "sec-websocket-version", "13")
	w.readUntil("the 200s", func() bool { return w.fields[1] != nil && w.fields[3] != nil })
	if w.fields[1][":status"] != "200" || w.fields[1]["sec-websocket-protocol"] != "chat" || w.fields[3][":status"] != "200" {
		t.Fatalf("answers %v", w.fields)
	}
	if _, ok := w.fields[1]["sec-websocket-accept"]; ok {
		t.Fatal("sec-websocket-accept over HTTP/2")
	}
	w.send(1, gobwas.NewTextFrame([]byte("who")))
	w.send(3, gobwas.NewBinaryFrame([]byte("who")))
	if f := w.message(1); f.Header.OpCode != gobwas.OpText || string(f.Payload) != "chat CONNECT" {
		t.Fatalf("stream 1: %d %q", f.Header.OpCode, f.Payload)
	}
	if f := w.message(3); f.Header.OpCode != gobwas.OpBinary || string(f.Payload) != "none CONNECT" {
		t.Fatalf("stream 3: %d %q", f.Header.OpCode, f.Payload)
	}
	// A plain request on the same connection meanwhile.
	w.open(5, "GET", "/plain")
	w.readUntil("the plain answer", func() bool { return w.ended[5] })
	if w.fields[5][":status"] != "200" || string(w.data[5]) != "plain" {
		t.Fatalf("plain: %v %q", w.fields[5], w.data[5])
	}
	// A message larger than the stream window (256 KiB): credited as it
	// arrives, it is read whole.
	big := strings.Repeat("0123456789", 60000)
	w.send(1, gobwas.NewTextFrame([]byte(big)))
	if f := w.message(1); string(f.Payload) != big {
		t.Fatalf("stream 1: %d bytes back, want %d", len(f.Payload), len(big))
	}
	// The close handshake, then both ends of the stream.
	w.send(1, gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(4000, "done")))
	if f := w.message(1); f.Header.OpCode != gobwas.OpClose {
		t.Fatalf("stream 1: opcode %d after our close", f.Header.OpCode)
	}
	w.readUntil("END_STREAM on stream 1", func() bool { return w.ended[1] })
	w.fr.WriteData(1, true, nil)
	// Stream 3 goes on.
	w.send(3, gobwas.NewTextFrame([]byte("still here")))
	if f := w.message(3); string(f.Payload) != "still here" {
		t.Fatalf("stream 3: %q", f.Payload)
	}
	// Reset by the client: its service sees the connection gone.
	w.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	w.open(7, "CONNECT", "/echo", "sec-websocket-version", "13")
	w.send(7, gobwas.NewTextFrame([]byte("after")))
	if f := w.message(7); string(f.Payload) != "after" {
		t.Fatalf("stream 7: %q", f.Payload)
	}
}

// What is refused: a version other than 13 (426), a plain request asking
// for a WebSocket (400), extended CONNECT where http2.websocket is off
// (the request is malformed there); one routed to a backend that cannot
// be reached gets 503, as any request would once the connection's
// retries (none here) failed (wsproxy_test.go forwards).
func TestWebSocketOverHTTP2Refused(t *testing.T) {
	s := edgetest.Start(t, wsConf, wsApp)
	w := dialH2WS(t, s, "@A@")
	w.open(1, "CONNECT", "/echo", "sec-websocket-version", "8")
	w.open(3, "GET", "/echo")
	w.readUntil("the answers", func() bool { return w.ended[1] && w.ended[3] })
	if w.fields[1][":status"] != "426" || !strings.HasPrefix(string(w.data[1]), "426 ") {
		t.Fatalf("version 8: %v %q", w.fields[1], w.data[1])
	}
	if w.fields[3][":status"] != "400" {
		t.Fatalf("GET: %v %q", w.fields[3], w.data[3])
	}
	off := dialH2WS(t, s, "@B@")
	off.readUntil("the server's SETTINGS", func() bool { return len(off.settings) > 0 })
	if _, ok := off.settings[http2.SettingEnableConnectProtocol]; ok {
		t.Fatalf("SETTINGS %v where http2.websocket is off", off.settings)
	}
	off.open(1, "CONNECT", "/echo", "sec-websocket-version", "13")
	off.readUntil("the reset", func() bool { _, ok := off.reset[1]; return ok })
	if off.reset[1] != http2.ErrCodeProtocol {
		t.Fatalf("reset with %v", off.reset[1])
	}
	fwd := dialH2WS(t, s, "@C@")
	fwd.open(1, "CONNECT", "/echo", "sec-websocket-version", "13")
	fwd.readUntil("the answer", func() bool { return fwd.ended[1] })
	if fwd.fields[1][":status"] != "503" {
		t.Fatalf("forwarded: %v %q", fwd.fields[1], fwd.data[1])
	}
}

// ws_filters run on a WebSocket over HTTP/2 that a Lua service accepted
// as over HTTP/1.1: both ways, each stream with its own messages.
func TestWebSocketOverHTTP2ServedFiltered(t *testing.T) {
	s := edgetest.Start(t, `
workers: 1
frontends:
  - name: ws
    bind: ["@A@"]
    use_service: lua.app
    http2: {websocket: true}
    ws_filters: [lua.tag]
`, wsApp+`
core.register_ws_filter("tag", function(data, opcode, from)
	if data == "drop" then return nil end
	if data == "secret" then return nil, "refused" end
	if from == "client" then return "in:" .. data end
	return data .. ":out"
end)
`)
	w := dialH2WS(t, s, "@A@")
	w.open(1, "CONNECT", "/echo", "sec-websocket-version", "13")
	w.open(3, "CONNECT", "/echo", "sec-websocket-version", "13")
	w.readUntil("the 200s", func() bool { return w.fields[1] != nil && w.fields[3] != nil })
	w.send(1, gobwas.NewTextFrame([]byte("drop")))
	w.send(1, gobwas.NewTextFrame([]byte("one")))
	w.send(3, gobwas.NewBinaryFrame([]byte("secret")))
	w.send(3, gobwas.NewTextFrame([]byte("three")))
	for _, want := range []struct {
		id   uint32
		op   gobwas.OpCode
		data string
	}{{1, gobwas.OpText, "in:one:out"}, {3, gobwas.OpBinary, "refused"}, {3, gobwas.OpText, "in:three:out"}} {
		if f := w.message(want.id); f.Header.OpCode != want.op || string(f.Payload) != want.data {
			t.Fatalf("stream %d: %d %q, want %d %q", want.id, f.Header.OpCode, f.Payload, want.op, want.data)
		}
	}
}
