package ws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Round trips with an independent implementation, gorilla/websocket: its
// client against a server built on this package, and its server against a
// client built on it, with and without permessage-deflate.

// echoServer serves one connection with this package, as a server on an
// event loop would, over a blocking socket: it answers the handshake, then
// echoes every message, answers pings, and answers a close with a close. A
// protocol error closes with the error's code. It counts the compressed
// messages it reads in *compressed.
func echoServer(conn net.Conn, opt *Options, compressed *int) error {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	var o Offer
	for name, values := range req.Header {
		for _, v := range values {
			o.AddField([]byte(name), []byte(v))
		}
	}
	res, err := o.Accept([]byte(req.Method), req.ProtoMinor, opt)
	if err != nil {
		fmt.Fprintf(conn, "HTTP/1.1 %d Refused\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", err.(*HandshakeError).Status)
		return err
	}
	head := res.AppendFields([]byte("HTTP/1.1 101 Switching Protocols\r\n"))
	if _, err := conn.Write(append(head, "\r\n"...)); err != nil {
		return err
	}
	var fl Flate
	var r Reader
	var w Writer
	r.Init(Server, Limits{}, res.Deflate, &fl)
	w.Init(Server, res.Deflate, &fl)
	var in, msg, out []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := br.Read(buf)
		if err != nil {
			return err
		}
		in = append(in, buf[:n]...)
		for {
			rsv1 := len(in) > 0 && in[0]&0x40 != 0
			ev, used, err := r.Next(in, &msg)
			if err == ErrIncomplete {
				break
			}
			if err == nil && rsv1 {
				*compressed++
			}
			if err != nil {
				e := err.(*Error)
				conn.Write(w.AppendClose(nil, e.Code, e.Reason))
				return err
			}
			in = in[used:]
			out = out[:0]
			switch ev.Op {
			case OpText, OpBinary:
				out = w.AppendMessage(out, ev.Op, msg)
				msg = msg[:0]
			case OpPing:
				out = w.AppendPong(out, ev.Payload)
			case OpClose:
				_, err := conn.Write(w.AppendClose(out, ev.Code, string(ev.Payload)))
				return err
			}
			if len(out) > 0 {
				if _, err := conn.Write(out); err != nil {
					return err
				}
			}
		}
	}
}

// testMessages are what the round trips send.
func testMessages() []struct {
	op int
	p  []byte
} {
	random := make([]byte, 100000)
	for i := range random {
		random[i] = byte(i*7919 + i>>8)
	}
	return []struct {
		op int
		p  []byte
	}{
		{websocket.TextMessage, []byte("Hello")},
		{websocket.TextMessage, nil},
		{websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
		{websocket.TextMessage, jsonMessage()},
		{websocket.TextMessage, []byte(strings.Repeat("κόσμε, ", 20000))},
		{websocket.BinaryMessage, random},
	}
}

func TestGorillaClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			served := make(chan error, 1)
			compressed := 0
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					served <- err
					return
				}
				served <- echoServer(conn, &Options{Protocols: []string{"chat"}, Deflate: true}, &compressed)
			}()
			// A small write buffer makes gorilla send long messages in
			// several frames.
			d := websocket.Dialer{EnableCompression: compress, Subprotocols: []string{"other", "chat"}, WriteBufferSize: 1024}
			c, resp, err := d.Dial("ws://"+ln.Addr().String()+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if c.Subprotocol() != "chat" {
				t.Fatalf("subprotocol %q", c.Subprotocol())
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
				t.Fatalf("extensions %q", resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			pongs := make(chan string, 1)
			c.SetPongHandler(func(p string) error { pongs <- p; return nil })
			if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Time{}); err != nil {
				t.Fatal(err)
			}
			for i, m := range testMessages() {
				if err := c.WriteMessage(m.op, m.p); err != nil {
					t.Fatal(err)
				}
				op, p, err := c.ReadMessage()
				if err != nil || op != m.op || !bytes.Equal(p, m.p) {
					t.Fatalf("message %d: op %d, %d bytes, %v", i, op, len(p), err)
				}
			}
			if p := <-pongs; p != "are you there" {
				t.Fatalf("pong %q", p)
			}
			// A message written in pieces, with a ping between them.
			mw, err := c.NextWriter(websocket.TextMessage)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Repeat("piece by piece ", 500)
			for i := 0; i < len(want); i += 1000 {
				io.WriteString(mw, want[i:min(i+1000, len(want))])
			}
			mw.Close()
			if _, p, err := c.ReadMessage(); err != nil || string(p) != want {
				t.Fatalf("pieces: %d bytes, %v", len(p), err)
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
			_, _, err = c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || ce.Text != "done" {
				t.Fatalf("close: %v", err)
			}
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			// gorilla compresses every message, and so do we from 64
			// bytes on, which gorilla decompressed above.
			if want := len(testMessages()) + 1; compress && compressed != want || !compress && compressed != 0 {
				t.Fatalf("%d compressed messages", compressed)
			}
		})
	}
}

// gorilla does not check the text it sends: our server refuses it with
// 1007, which gorilla's client reads.
func TestGorillaClientInvalidText(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- echoServer(conn, &Options{}, new(int))
	}()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("caf\xc3"))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("%v", err)
	}
	if e, ok := (<-served).(*Error); !ok || e.Code != CloseInvalidPayload {
		t.Fatalf("server: %v", e)
	}
}

// wsClient is a client built on this package over a blocking socket.
type wsClient struct {
	conn     net.Conn
	br       *bufio.Reader
	r        Reader
	w        Writer
	fl       Flate
	in, msg  []byte
	protocol string
	rsv1     int // compressed messages read
}

func dialClient(t *testing.T, addr string, compress bool) *wsClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	key := "x3JJHMbDL1EzLkh9GBhXDw=="
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n"
	if compress {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c := &wsClient{conn: conn, br: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	accept := AcceptKey([]byte(key))
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != string(accept[:]) {
		t.Fatalf("%s, accept %q", resp.Status, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	var d Deflate
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		// gorilla answers any offer with both no_context_takeover
		// parameters, and nothing else.
		if !compress || ext != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
			t.Fatalf("extensions %q", ext)
		}
		d = Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	} else if compress {
		t.Fatal("compression refused")
	}
	c.protocol = resp.Header.Get("Sec-WebSocket-Protocol")
	c.r.Init(Client, Limits{}, d, &c.fl)
	c.w.Init(Client, d, &c.fl)
	return c
}

// next reads until an event other than a message's middle frame.
func (c *wsClient) next(t *testing.T) (Event, []byte) {
	buf := make([]byte, 16<<10)
	for {
		rsv1 := len(c.in) > 0 && c.in[0]&0x40 != 0
		ev, n, err := c.r.Next(c.in, &c.msg)
		if err == nil {
			if rsv1 {
				c.rsv1++
			}
			c.in = c.in[n:]
			if ev.Op == OpContinuation {
				continue
			}
			msg := c.msg
			c.msg = nil
			return ev, msg
		}
		if err != ErrIncomplete {
			t.Fatal(err)
		}
		n, err = c.br.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		c.in = append(c.in, buf[:n]...)
	}
}

func (c *wsClient) send(t *testing.T, frames []byte) {
	if _, err := c.conn.Write(frames); err != nil {
		t.Fatal(err)
	}
}

func TestGorillaServer(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				up := websocket.Upgrader{EnableCompression: true, Subprotocols: []string{"chat"}}
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				for {
					op, p, err := c.ReadMessage()
					if err != nil {
						return
					}
					if err := c.WriteMessage(op, p); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			c := dialClient(t, strings.TrimPrefix(srv.URL, "http://"), compress)
			defer c.conn.Close()
			if c.protocol != "chat" {
				t.Fatalf("subprotocol %q", c.protocol)
			}
			c.send(t, c.w.AppendPing(nil, []byte("ping?")))
			if ev, _ := c.next(t); ev.Op != OpPong || string(ev.Payload) != "ping?" {
				t.Fatalf("pong: %+v", ev)
			}
			for i, m := range testMessages() {
				op := OpText
				if m.op == websocket.BinaryMessage {
					op = OpBinary
				}
				c.send(t, c.w.AppendMessage(nil, op, m.p))
				ev, p := c.next(t)
				if ev.Op != op || !bytes.Equal(p, m.p) {
					t.Fatalf("message %d: op %d, %d bytes", i, ev.Op, len(p))
				}
			}
			// A message in fragments, a ping between them.
			var out []byte
			out = c.w.AppendFrame(out, false, OpText, []byte("frag"))
			out = c.w.AppendPing(out, nil)
			out = c.w.AppendFrame(out, false, OpContinuation, []byte("men"))
			out = c.w.AppendFrame(out, true, OpContinuation, []byte("ted"))
			c.send(t, out)
			if ev, _ := c.next(t); ev.Op != OpPong {
				t.Fatalf("pong: %+v", ev)
			}
			if ev, p := c.next(t); ev.Op != OpText || string(p) != "fragmented" {
				t.Fatalf("fragments: %+v %q", ev, p)
			}
			if want := len(testMessages()) + 1; compress && c.rsv1 != want || !compress && c.rsv1 != 0 {
				t.Fatalf("%d compressed messages", c.rsv1)
			}
			c.send(t, c.w.AppendClose(nil, CloseGoingAway, "bye"))
			if ev, _ := c.next(t); ev.Op != OpClose || ev.Code != CloseGoingAway {
				t.Fatalf("close: %+v", ev)
			}
		})
	}
}
