package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/flate"
)

// WebSocket end to end: examples/ws-echo served by the binary, with
// gorilla/websocket and gobwas/ws as the clients. The Autobahn|Testsuite
// categories (1 framing, 2 pings, 3 reserved bits, 4 opcodes, 5
// fragmentation, 6 UTF-8, 7 close, 9 limits, 12/13 permessage-deflate)
// are carried as tables of frames sent and frames expected back.

// startWSEcho runs examples/ws-echo with its ports replaced by free ones
// (@PORT@ for the echo, @PORT2@ for the chat room), each pair of repl
// replaced in its configuration, and workers workers.
func startWSEcho(t *testing.T, workers int, repl ...string) *server {
	t.Helper()
	dir := filepath.Join("..", "..", "examples", "ws-echo")
	cfg, err := os.ReadFile(filepath.Join(dir, "luaedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer(`"127.0.0.1:9001"`, `"127.0.0.1:@PORT@"`, `"127.0.0.1:9002"`, `"127.0.0.1:@PORT2@"`).Replace(string(cfg))
	yaml = "workers: " + strconv.Itoa(workers) + "\n" + yaml
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(yaml, repl[i]) {
			t.Fatalf("examples/ws-echo/luaedge.yaml has no %q", repl[i])
		}
		yaml = strings.Replace(yaml, repl[i], repl[i+1], 1)
	}
	files := map[string]string{}
	luas, _ := filepath.Glob(filepath.Join(dir, "*.lua"))
	for _, p := range luas {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = string(b)
	}
	return startServer(t, yaml, files)
}

func dialGorilla(t *testing.T, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{}
	}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// wsClient is a client speaking raw frames (gobwas/ws's codec) after a
// handshake written by hand, so that a test can send what a library
// would refuse to.
type wsClient struct {
	t     *testing.T
	c     net.Conn
	br    *bufio.Reader
	resp  *http.Response
	ext   string // the Sec-WebSocket-Extensions answered
	proto string
}

// dialRaw opens a WebSocket with fields added to the request (e.g.
// "Sec-WebSocket-Extensions: permessage-deflate").
func dialRawWS(t *testing.T, addr, path string, fields ...string) *wsClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, f := range fields {
		req += f + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	w := &wsClient{t: t, c: c, br: bufio.NewReaderSize(c, 1<<16)}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	w.resp, err = http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if w.resp.StatusCode != 101 {
		t.Fatalf("handshake: status %d", w.resp.StatusCode)
	}
	if got := w.resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	w.ext = w.resp.Header.Get("Sec-WebSocket-Extensions")
	w.proto = w.resp.Header.Get("Sec-WebSocket-Protocol")
	return w
}

// send writes f masked, as a client must.
func (w *wsClient) send(f gobwas.Frame) {
	w.t.Helper()
	if err := gobwas.WriteFrame(w.c, gobwas.MaskFrame(f)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) sendUnmasked(f gobwas.Frame) {
	w.t.Helper()
	if err := gobwas.WriteFrame(w.c, f); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next frame from the server.
func (w *wsClient) read() gobwas.Frame {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := gobwas.ReadFrame(w.br)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if f.Header.Masked {
		w.t.Fatalf("the server masked a frame")
	}
	return f
}

// expectClose reads up to the server's close frame, checks its code, and
// then that the server ends the connection.
func (w *wsClient) expectClose(code gobwas.StatusCode) {
	w.t.Helper()
	f := w.read()
	for f.Header.OpCode == gobwas.OpPong {
		f = w.read()
	}
	if f.Header.OpCode != gobwas.OpClose {
		w.t.Fatalf("want a close frame (%d), got opcode %d %q", code, f.Header.OpCode, abbrev(string(f.Payload)))
	}
	got, _ := gobwas.ParseCloseFrameData(f.Payload)
	if len(f.Payload) == 0 {
		got = 1005
	}
	if got != code {
		w.t.Fatalf("close code %d, want %d (reason %q)", got, code, f.Payload)
	}
	w.expectEOF()
}

// expectEOF checks that the server ends the TCP connection soon.
func (w *wsClient) expectEOF() {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, w.br)
	if err != nil && !isReset(err) {
		w.t.Fatalf("the server did not end the connection: %v", err)
	}
}

// wsCase is a conformance case: frames sent (masked unless the case says
// otherwise), then what comes back.
type wsCase struct {
	name     string
	send     []gobwas.Frame
	unmasked bool
	want     []gobwas.Frame    // frames echoed, in order (opcode and payload)
	close    gobwas.StatusCode // the server's close; 0: it stays open (the case ends with a 1000 handshake)
}

func text(s string) gobwas.Frame { return gobwas.NewTextFrame([]byte(s)) }
func bin(b []byte) gobwas.Frame  { return gobwas.NewBinaryFrame(b) }
func frag(op gobwas.OpCode, fin bool, s string) gobwas.Frame {
	return gobwas.NewFrame(op, fin, []byte(s))
}
func withRsv(f gobwas.Frame, r1, r2, r3 bool) gobwas.Frame {
	f.Header.Rsv = gobwas.Rsv(r1, r2, r3)
	return f
}
func closeFrame(code gobwas.StatusCode, reason string) gobwas.Frame {
	return gobwas.NewCloseFrame(gobwas.NewCloseFrameBody(code, reason))
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func conformanceCases() []wsCase {
	var cs []wsCase
	// 1: framing.
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 1 << 20} {
		s := strings.Repeat("*", n)
		cs = append(cs, wsCase{name: fmt.Sprintf("1.1 text %d", n), send: []gobwas.Frame{text(s)}, want: []gobwas.Frame{text(s)}})
		b := pattern(n)
		cs = append(cs, wsCase{name: fmt.Sprintf("1.2 binary %d", n), send: []gobwas.Frame{bin(b)}, want: []gobwas.Frame{bin(b)}})
	}
	// 2: pings and pongs.
	p125 := string(pattern(125))
	cs = append(cs,
		wsCase{name: "2.1 ping empty", send: []gobwas.Frame{gobwas.NewPingFrame(nil)}, want: []gobwas.Frame{gobwas.NewPongFrame(nil)}},
		wsCase{name: "2.3 ping 125 binary", send: []gobwas.Frame{gobwas.NewPingFrame([]byte(p125))}, want: []gobwas.Frame{gobwas.NewPongFrame([]byte(p125))}},
		wsCase{name: "2.5 ping 126", send: []gobwas.Frame{gobwas.NewPingFrame(pattern(126))}, close: 1002},
		wsCase{name: "2.6 unsolicited pong", send: []gobwas.Frame{gobwas.NewPongFrame([]byte("x")), text("after")}, want: []gobwas.Frame{text("after")}},
		wsCase{name: "2.7 fragmented ping", send: []gobwas.Frame{gobwas.NewFrame(gobwas.OpPing, false, []byte("a"))}, close: 1002},
	)
	var pings, pongs []gobwas.Frame
	for i := 0; i < 10; i++ {
		pings = append(pings, gobwas.NewPingFrame([]byte(strconv.Itoa(i))))
		pongs = append(pongs, gobwas.NewPongFrame([]byte(strconv.Itoa(i))))
	}
	cs = append(cs, wsCase{name: "2.10 ten pings", send: pings, want: pongs})
	// 3: reserved bits (no extension negotiated).
	cs = append(cs,
		wsCase{name: "3.1 rsv1 text", send: []gobwas.Frame{withRsv(text("x"), true, false, false)}, close: 1002},
		wsCase{name: "3.2 rsv2 text after an echo", send: []gobwas.Frame{text("ok"), withRsv(text("x"), false, true, false)}, want: []gobwas.Frame{text("ok")}, close: 1002},
		wsCase{name: "3.3 rsv3 binary", send: []gobwas.Frame{withRsv(bin([]byte{1}), false, false, true)}, close: 1002},
		wsCase{name: "3.4 rsv3 ping", send: []gobwas.Frame{withRsv(gobwas.NewPingFrame(nil), false, false, true)}, close: 1002},
		wsCase{name: "3.7 all reserved bits on close", send: []gobwas.Frame{withRsv(closeFrame(1000, ""), true, true, true)}, close: 1002},
	)
	// 4: reserved opcodes.
	for _, op := range []gobwas.OpCode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cs = append(cs, wsCase{name: fmt.Sprintf("4 opcode %d", op), send: []gobwas.Frame{text("ok"), gobwas.NewFrame(op, true, nil)}, want: []gobwas.Frame{text("ok")}, close: 1002})
	}
	// 5: fragmentation.
	var ones []gobwas.Frame
	for i := 0; i < 100; i++ {
		op := gobwas.OpContinuation
		if i == 0 {
			op = gobwas.OpText
		}
		ones = append(ones, frag(op, i == 99, "x"))
	}
	cs = append(cs,
		wsCase{name: "5.3 text in two", send: []gobwas.Frame{frag(gobwas.OpText, false, "frag"), frag(gobwas.OpContinuation, true, "ment")}, want: []gobwas.Frame{text("fragment")}},
		wsCase{name: "5.6 ping between fragments", send: []gobwas.Frame{frag(gobwas.OpText, false, "frag"), gobwas.NewPingFrame([]byte("p")), frag(gobwas.OpContinuation, true, "ment")},
			want: []gobwas.Frame{gobwas.NewPongFrame([]byte("p")), text("fragment")}},
		wsCase{name: "5.9 continuation first", send: []gobwas.Frame{frag(gobwas.OpContinuation, true, "x")}, close: 1002},
		wsCase{name: "5.12 new message mid-message", send: []gobwas.Frame{frag(gobwas.OpText, false, "a"), frag(gobwas.OpText, true, "b")}, close: 1002},
		wsCase{name: "5.18 fragmented ping between fragments", send: []gobwas.Frame{frag(gobwas.OpText, false, "a"), gobwas.NewFrame(gobwas.OpPing, false, nil)}, close: 1002},
		wsCase{name: "5.19 100 fragments", send: ones, want: []gobwas.Frame{text(strings.Repeat("x", 100))}},
		wsCase{name: "5.20 empty fragments", send: []gobwas.Frame{frag(gobwas.OpBinary, false, ""), frag(gobwas.OpContinuation, false, ""), frag(gobwas.OpContinuation, true, "")}, want: []gobwas.Frame{bin(nil)}},
	)
	// 6: UTF-8, refused at the frame where it breaks.
	cs = append(cs,
		wsCase{name: "6.2 valid", send: []gobwas.Frame{text("Hello-µ@ßöäüàá-UTF-8!!"), text("κόσμε 🙂")}, want: []gobwas.Frame{text("Hello-µ@ßöäüàá-UTF-8!!"), text("κόσμε 🙂")}},
		wsCase{name: "6.2.3 code point split across fragments", send: []gobwas.Frame{frag(gobwas.OpText, false, "κ\xcf"), frag(gobwas.OpContinuation, true, "\x8cμε")}, want: []gobwas.Frame{text("κόμε")}},
		wsCase{name: "6.3 invalid in one frame", send: []gobwas.Frame{text("κόσμε\xed\xa0\x80edited")}, close: 1007},
		wsCase{name: "6.4 fail fast: the first of three fragments", send: []gobwas.Frame{frag(gobwas.OpText, false, "κόσμε\xf4\x90\x80\x80")}, close: 1007},
		wsCase{name: "6.4 fail fast: the second of three fragments", send: []gobwas.Frame{frag(gobwas.OpText, false, "κόσμε"), frag(gobwas.OpContinuation, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")}, close: 1007},
		wsCase{name: "6.6 truncated at the end", send: []gobwas.Frame{text("\xce")}, close: 1007},
		wsCase{name: "6.8 overlong", send: []gobwas.Frame{text("\xc0\xaf")}, close: 1007},
		wsCase{name: "6 binary is not checked", send: []gobwas.Frame{bin([]byte{0xff, 0xfe})}, want: []gobwas.Frame{bin([]byte{0xff, 0xfe})}},
	)
	// 7: close.
	cs = append(cs,
		wsCase{name: "7.1.1 echo then close", send: []gobwas.Frame{text("x"), closeFrame(1000, "")}, want: []gobwas.Frame{text("x")}, close: 1000},
		wsCase{name: "7.1.3 text after close is ignored", send: []gobwas.Frame{closeFrame(1000, ""), text("late")}, close: 1000},
		wsCase{name: "7.3.1 close without payload", send: []gobwas.Frame{gobwas.NewCloseFrame(nil)}, close: 1005},
		wsCase{name: "7.3.2 close with one byte", send: []gobwas.Frame{gobwas.NewCloseFrame([]byte{3})}, close: 1002},
		wsCase{name: "7.3.6 close reason over 123 bytes", send: []gobwas.Frame{gobwas.NewCloseFrame(append([]byte{3, 0xe8}, pattern(124)...))}, close: 1002},
		wsCase{name: "7.5.1 close reason not UTF-8", send: []gobwas.Frame{closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")}, close: 1007},
	)
	for _, code := range []gobwas.StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cs = append(cs, wsCase{name: fmt.Sprintf("7.7 close %d echoed", code), send: []gobwas.Frame{closeFrame(code, "why")}, close: code})
	}
	for _, code := range []gobwas.StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cs = append(cs, wsCase{name: fmt.Sprintf("7.9 close %d refused", code), send: []gobwas.Frame{closeFrame(code, "")}, close: 1002})
	}
	// Masking (RFC 6455 §5.1).
	cs = append(cs, wsCase{name: "unmasked client frame", send: []gobwas.Frame{text("x")}, unmasked: true, close: 1002})
	return cs
}

func runCase(t *testing.T, addr string, c wsCase) {
	w := dialRawWS(t, addr, "/")
	for _, f := range c.send {
		if c.unmasked {
			w.sendUnmasked(f)
		} else {
			w.send(f)
		}
	}
	for _, want := range c.want {
		got := w.read()
		if got.Header.OpCode != want.Header.OpCode || !got.Header.Fin || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("got opcode %d fin %v %q, want opcode %d %q", got.Header.OpCode, got.Header.Fin, abbrev(string(got.Payload)), want.Header.OpCode, abbrev(string(want.Payload)))
		}
	}
	if c.close != 0 {
		w.expectClose(c.close)
		return
	}
	w.send(closeFrame(1000, ""))
	w.expectClose(1000)
}

func TestWSConformance(t *testing.T) {
	s := startWSEcho(t, 1)
	for _, c := range conformanceCases() {
		t.Run(c.name, func(t *testing.T) { runCase(t, s.addr(), c) })
	}
}

// TestWSLimits: category 9 with small limits; an oversized frame is
// refused from its header, before its payload is sent.
func TestWSLimits(t *testing.T) {
	s := startWSEcho(t, 1, "max_frame: 16MiB", "max_frame: 64KiB", "max_message: 16MiB", "max_message: 100KiB")
	t.Run("frame over max_frame, refused from its header", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/")
		h := gobwas.Header{Fin: true, OpCode: gobwas.OpBinary, Masked: true, Mask: gobwas.NewMask(), Length: 64<<10 + 1}
		if err := gobwas.WriteHeader(w.c, h); err != nil {
			t.Fatal(err)
		}
		w.expectClose(1009)
	})
	t.Run("message over max_message in fragments", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/")
		w.send(frag(gobwas.OpBinary, false, string(pattern(60<<10))))
		w.send(frag(gobwas.OpContinuation, false, string(pattern(60<<10))))
		w.expectClose(1009)
	})
	t.Run("messages at the limits echoed", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/")
		w.send(frag(gobwas.OpBinary, false, string(pattern(50<<10))))
		w.send(frag(gobwas.OpContinuation, true, string(pattern(50<<10))))
		if f := w.read(); len(f.Payload) != 100<<10 {
			t.Fatalf("echo of %d bytes", len(f.Payload))
		}
	})
	t.Run("9.x a thousand messages in a burst, in order", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/")
		var burst bytes.Buffer
		for i := 0; i < 1000; i++ {
			gobwas.WriteFrame(&burst, gobwas.MaskFrame(text(strconv.Itoa(i))))
		}
		w.c.Write(burst.Bytes())
		for i := 0; i < 1000; i++ {
			if f := w.read(); string(f.Payload) != strconv.Itoa(i) {
				t.Fatalf("message %d: %q", i, f.Payload)
			}
		}
	})
}

// TestWSIndependentClients echoes through gorilla/websocket and
// gobwas/ws's own client, with and without compression.
func TestWSIndependentClients(t *testing.T) {
	s := startWSEcho(t, 2)
	url := "ws://" + s.addr() + "/"
	big := strings.Repeat("luaedge WebSocket ", 4<<20/18)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("gorilla compression %v", compress), func(t *testing.T) {
			c := dialGorilla(t, url, &websocket.Dialer{EnableCompression: compress, Subprotocols: []string{"chat", "echo"}})
			if c.Subprotocol() != "echo" {
				t.Errorf("subprotocol %q, want echo", c.Subprotocol())
			}
			msgs := []struct {
				typ  int
				data []byte
			}{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, pattern(1000)}, {websocket.TextMessage, []byte(big)}, {websocket.BinaryMessage, nil}}
			for _, m := range msgs {
				if err := c.WriteMessage(m.typ, m.data); err != nil {
					t.Fatal(err)
				}
				typ, got, err := c.ReadMessage()
				if err != nil || typ != m.typ || !bytes.Equal(got, m.data) {
					t.Fatalf("echo of %d bytes: %v type %d, %d bytes", len(m.data), err, typ, len(got))
				}
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye now"))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye now" {
				t.Fatalf("close: %v", err)
			}
		})
	}
	t.Run("gobwas", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, br, _, err := gobwas.Dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if br != nil {
			t.Fatal("bytes after the 101 before any message")
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		for _, m := range [][]byte{[]byte("one"), pattern(70000), []byte(big[:1<<20])} {
			op := gobwas.OpBinary
			if utf8Valid(m) {
				op = gobwas.OpText
			}
			if err := wsutil.WriteClientMessage(conn, op, m); err != nil {
				t.Fatal(err)
			}
			got, gotOp, err := wsutil.ReadServerData(conn)
			if err != nil || gotOp != op || !bytes.Equal(got, m) {
				t.Fatalf("echo of %d bytes: %v op %d, %d bytes", len(m), err, gotOp, len(got))
			}
		}
	})
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\ufffd") == string(b) }

// TestWSNotAnUpgrade: what accept refuses is answered by the service.
func TestWSNotAnUpgrade(t *testing.T) {
	s := startWSEcho(t, 1)
	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/"))
	wantResponse(t, "plain GET", resp, body, 400, "400 ws: request is not a websocket upgrade\n")
	r := dialRaw(t, s.addr())
	r.send("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
	resp, body = r.readResponse("GET")
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("version 8: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// The connection goes on with HTTP.
	r.send("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, body = r.readResponse("GET"); resp.StatusCode != 400 || !strings.Contains(body, "Sec-WebSocket-Key") {
		t.Fatalf("no key: %d %q", resp.StatusCode, body)
	}
}

// inflateMessage inflates a server's compressed message (it keeps no
// context: server_no_context_takeover).
func inflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflating the server's message: %v", err)
	}
	return out
}

// deflater compresses a client's messages, keeping its context across
// messages unless told not to, with a window of 2^bits bytes.
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newDeflater(bits int) *deflater {
	d := &deflater{}
	if bits == 15 {
		d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
	} else {
		d.w, _ = flate.NewWriterWindow(&d.buf, 1<<bits)
	}
	return d
}

func (d *deflater) compress(p []byte, reset bool) []byte {
	if reset {
		d.w.Reset(&d.buf)
	}
	d.buf.Reset()
	d.w.Write(p)
	d.w.Flush()
	return bytes.Clone(d.buf.Bytes()[:d.buf.Len()-4])
}

// TestWSDeflate: categories 12 and 13, each parameter of permessage-deflate
// offered by a client compressing with the window it asked for, keeping
// its context unless it said it would not.
func TestWSDeflate(t *testing.T) {
	s := startWSEcho(t, 1)
	cases := []struct {
		offer, answer string
		clientBits    int
		clientKeeps   bool
	}{
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover", 15, true},
		{"permessage-deflate; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", 15, false},
		{"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover", 15, true},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", 15, true},
		{"permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_no_context_takeover; server_max_window_bits=8", 15, true},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover", 15, true},
		{"permessage-deflate; client_max_window_bits=9", "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", 9, true},
		{"permessage-deflate; client_max_window_bits=12; client_no_context_takeover; server_max_window_bits=11",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12", 12, false},
		{"permessage-deflate; foo=1, permessage-deflate", "permessage-deflate; server_no_context_takeover", 15, true},
		{"permessage-deflate; server_max_window_bits=7", "", 0, false},
		{"x-webkit-deflate-frame", "", 0, false},
	}
	msgs := [][]byte{[]byte("Hello, Hello, Hello, Hello, Hello, Hello, Hello, Hello, Hello, Hello!"), []byte("short"),
		bytes.Repeat([]byte("the same sentence again and again, "), 3000), pattern(20000), []byte(strings.Repeat("é", 30000))}
	for _, c := range cases {
		t.Run(c.offer, func(t *testing.T) {
			w := dialRawWS(t, s.addr(), "/", "Sec-WebSocket-Extensions: "+c.offer)
			if w.ext != c.answer {
				t.Fatalf("answer %q, want %q", w.ext, c.answer)
			}
			var d *deflater
			if c.answer != "" {
				d = newDeflater(c.clientBits)
			}
			for round := 0; round < 2; round++ {
				for i, m := range msgs {
					op := gobwas.OpText
					if i == 3 {
						op = gobwas.OpBinary
					}
					f := gobwas.NewFrame(op, true, m)
					if d != nil && i != 1 { // one uncompressed message among compressed ones
						f = gobwas.NewFrame(op, true, d.compress(m, !c.clientKeeps))
						f.Header.Rsv = gobwas.Rsv(true, false, false)
					}
					w.send(f)
					got := w.read()
					p := got.Payload
					if got.Header.Rsv1() {
						if d == nil {
							t.Fatal("compressed without an agreement")
						}
						p = inflateMessage(t, p)
					} else if d != nil && len(m) >= 64 {
						t.Errorf("message %d of %d bytes sent uncompressed", i, len(m))
					}
					if got.Header.OpCode != op || !bytes.Equal(p, m) {
						t.Fatalf("round %d message %d: opcode %d, %d bytes back for %d", round, i, got.Header.OpCode, len(p), len(m))
					}
				}
			}
			if d != nil {
				// A compressed message that is not deflate data.
				f := gobwas.NewTextFrame([]byte{0xff, 0xff, 0xff})
				f.Header.Rsv = gobwas.Rsv(true, false, false)
				w.send(f)
				w.expectClose(1007)
			}
		})
	}
	t.Run("a compressed continuation frame", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/", "Sec-WebSocket-Extensions: permessage-deflate")
		w.send(frag(gobwas.OpText, false, "a"))
		f := frag(gobwas.OpContinuation, true, "b")
		f.Header.Rsv = gobwas.Rsv(true, false, false)
		w.send(f)
		w.expectClose(1002)
	})
	t.Run("a decompression bomb", func(t *testing.T) {
		w := dialRawWS(t, s.addr(), "/", "Sec-WebSocket-Extensions: permessage-deflate")
		f := gobwas.NewBinaryFrame(newDeflater(15).compress(make([]byte, 32<<20), false))
		f.Header.Rsv = gobwas.Rsv(true, false, false)
		w.send(f)
		w.expectClose(1009)
	})
	t.Run("deflate: false in accept", func(t *testing.T) {
		// The chat room accepts with the defaults; the echo with
		// protocols: permessage-deflate follows the frontend's key.
		s2 := startWSEcho(t, 1, "max_message: 16MiB", "max_message: 16MiB\n      deflate: false")
		w := dialRawWS(t, s2.addr(), "/", "Sec-WebSocket-Extensions: permessage-deflate")
		if w.ext != "" {
			t.Fatalf("websocket.deflate: false, and the answer is %q", w.ext)
		}
	})
}
