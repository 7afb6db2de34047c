package http2

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Peer is a ClientConn driven over a real TCP connection to a server:
// the test's goroutine writes what the ClientConn queues and feeds it
// what arrives, as a loop would.
type h2Peer struct {
	t    *testing.T
	c    *ClientConn
	conn net.Conn
	in   chan []byte
	buf  []byte // inbound bytes not yet consumed
	// Per stream: the response as it arrives.
	status   map[uint32]int
	fields   map[uint32][]Field
	body     map[uint32]*bytes.Buffer
	trailers map[uint32][]Field
	ended    map[uint32]bool
	resets   map[uint32]ErrCode
	pending  map[uint32][]byte // request body the windows held back
	endAfter map[uint32]bool
	// continued: a 100 came
	continued map[uint32]bool
}

func newH2Peer(t *testing.T, addr string, lim Limits) *h2Peer {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &h2Peer{t: t, c: NewClientConn(lim), conn: conn, in: make(chan []byte, 64),
		status: map[uint32]int{}, fields: map[uint32][]Field{}, body: map[uint32]*bytes.Buffer{},
		trailers: map[uint32][]Field{}, ended: map[uint32]bool{}, resets: map[uint32]ErrCode{},
		pending: map[uint32][]byte{}, endAfter: map[uint32]bool{}, continued: map[uint32]bool{}}
	go func() {
		defer close(p.in)
		for {
			b := make([]byte, 64<<10)
			n, err := conn.Read(b)
			if n > 0 {
				p.in <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// request opens a stream; body is sent within the windows as they allow.
func (p *h2Peer) request(method, path string, body []byte, fields ...string) uint32 {
	p.t.Helper()
	p.c.StartRequest([]byte(method), []byte("http"), []byte("example.com"), []byte(path))
	for i := 0; i < len(fields); i += 2 {
		p.c.AddField([]byte(fields[i]), []byte(fields[i+1]))
	}
	id, err := p.c.SendRequest(body == nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.body[id] = new(bytes.Buffer)
	if body != nil {
		p.pending[id] = body
		p.endAfter[id] = true
		p.sendPending(id)
	}
	p.flush()
	return id
}

// flush writes what the ClientConn queued.
func (p *h2Peer) flush() {
	p.t.Helper()
	if out := p.c.Output(); len(out) > 0 {
		if _, err := p.conn.Write(out); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *h2Peer) sendPending(id uint32) {
	b := p.pending[id]
	n, err := p.c.WriteData(id, b, p.endAfter[id])
	if err != nil {
		p.t.Fatalf("WriteData: %v", err)
	}
	p.pending[id] = b[n:]
}

// until runs the connection until done reports true.
func (p *h2Peer) until(what string, done func() bool) {
	p.t.Helper()
	deadline := time.After(30 * time.Second) // a bound for a hang, generous for a loaded machine under -race
	for {
		p.flush()
		if done() {
			return
		}
		select {
		case b, ok := <-p.in:
			if !ok {
				p.t.Fatalf("waiting for %s: the server closed", what)
			}
			p.buf = append(p.buf, b...)
		case <-deadline:
			p.t.Fatalf("timed out waiting for %s", what)
		}
		n, err := p.c.Feed(p.buf)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		for _, ev := range p.c.Events() {
			p.event(ev)
		}
		p.buf = p.buf[n:]
	}
}

func (p *h2Peer) event(ev ClientEvent) {
	id := ev.Stream
	switch ev.Kind {
	case ClientResponse:
		p.status[id] = ev.Status
		p.fields[id] = append([]Field(nil), ev.Fields...)
		p.ended[id] = ev.End
	case ClientData:
		p.body[id].Write(ev.Data)
		p.c.Consumed(id, len(ev.Data))
		p.ended[id] = ev.End
	case ClientTrailers:
		p.trailers[id] = append([]Field(nil), ev.Fields...)
		p.ended[id] = true
	case ClientReset:
		p.resets[id] = ev.Code
	case ClientWindow:
		p.sendPending(id)
	case ClientContinue:
		p.continued[id] = true
	}
}

func field(fs []Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// serveXNet runs x/net's HTTP/2 server (h2c, prior knowledge) with h.
func serveXNet(t *testing.T, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := &http2.Server{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
		}
	}()
	return ln.Addr().String()
}

// The client side against an independent server (x/net's): heads, bodies
// both ways past the default windows, trailers, HEAD, many streams at
// once.
func TestClientConnAgainstXNet(t *testing.T) {
	addr := serveXNet(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			w.Header().Set("x-got", r.Header.Get("x-sent")+" "+r.Host+" "+r.Method)
			io.WriteString(w, "hello")
		case "/sum":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("x-len", strconv.Itoa(len(b)))
			fmt.Fprintf(w, "%x", sha256.Sum256(b))
		case "/big":
			w.Header().Set("content-length", strconv.Itoa(3<<20))
			w.Write(bytes.Repeat([]byte("0123456789abcdef"), 3<<16))
		case "/trailers":
			w.Header().Set("Trailer", "x-checksum")
			io.WriteString(w, "body")
			w.Header().Set("x-checksum", "abc")
		}
	})
	p := newH2Peer(t, addr, Limits{})

	id := p.request("GET", "/hello", nil, "x-sent", "yes", "Connection", "close", "Host", "ignored")
	p.until("hello", func() bool { return p.ended[id] })
	if p.status[id] != 200 || p.body[id].String() != "hello" || field(p.fields[id], "x-got") != "yes example.com GET" {
		t.Fatalf("hello: %d %q %v", p.status[id], p.body[id], p.fields[id])
	}

	upload := bytes.Repeat([]byte("u"), 5<<20) // past every default window
	sum := p.request("POST", "/sum", upload)
	big := p.request("GET", "/big", nil)
	tr := p.request("GET", "/trailers", nil)
	head := p.request("HEAD", "/big", nil)
	p.until("four responses", func() bool { return p.ended[sum] && p.ended[big] && p.ended[tr] && p.ended[head] })
	if want := fmt.Sprintf("%x", sha256.Sum256(upload)); p.body[sum].String() != want || field(p.fields[sum], "x-len") != strconv.Itoa(len(upload)) {
		t.Errorf("upload: %q, length %q", p.body[sum], field(p.fields[sum], "x-len"))
	}
	if !bytes.Equal(p.body[big].Bytes(), bytes.Repeat([]byte("0123456789abcdef"), 3<<16)) {
		t.Errorf("download: %d bytes", p.body[big].Len())
	}
	if p.body[tr].String() != "body" || field(p.trailers[tr], "x-checksum") != "abc" {
		t.Errorf("trailers: %q %v", p.body[tr], p.trailers[tr])
	}
	if p.status[head] != 200 || p.body[head].Len() != 0 {
		t.Errorf("HEAD: %d, %d body bytes", p.status[head], p.body[head].Len())
	}

	var ids []uint32
	for i := range 50 {
		ids = append(ids, p.request("GET", "/hello", nil, "x-sent", strconv.Itoa(i)))
	}
	p.until("50 streams", func() bool {
		for _, id := range ids {
			if !p.ended[id] {
				return false
			}
		}
		return true
	})
	for i, id := range ids {
		if got := field(p.fields[id], "x-got"); got != strconv.Itoa(i)+" example.com GET" {
			t.Fatalf("stream %d: x-got %q", id, got)
		}
	}
	if !p.c.Idle() {
		t.Errorf("streams left open: %d", len(p.c.streams))
	}
}

// fakeServer is a server side written frame by frame with x/net's Framer,
// for responses that break the rules.
type fakeServer struct {
	t  *testing.T
	fr *http2.Framer
	c  net.Conn
}

func newFakeServer(t *testing.T, lim Limits) (*h2Peer, *fakeServer) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := newH2Peer(t, ln.Addr().String(), lim)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	s := &fakeServer{t: t, fr: http2.NewFramer(c, c), c: c}
	s.fr.AllowIllegalWrites = true
	p.flush()
	preface := make([]byte, len(ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != ClientPreface {
		t.Fatalf("preface %q %v", preface, err)
	}
	s.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 3})
	return p, s
}

// readRequest reads frames until a HEADERS for a stream, and returns it.
func (s *fakeServer) readRequest() uint32 {
	s.t.Helper()
	for {
		f, err := s.fr.ReadFrame()
		if err != nil {
			s.t.Fatal(err)
		}
		if h, ok := f.(*http2.HeadersFrame); ok {
			return h.StreamID
		}
	}
}

// head writes a response head from name, value pairs (with :status).
func (s *fakeServer) head(id uint32, end bool, nv ...string) {
	var b bytes.Buffer
	enc := hpackEncoder(&b)
	for i := 0; i < len(nv); i += 2 {
		enc(nv[i], nv[i+1])
	}
	s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: end})
}

// Responses that break the rules reset their stream (the caller answers
// 502), and the connection goes on; a SETTINGS limit on concurrent
// streams holds; GOAWAY refuses the streams past its last id.
func TestClientConnServerErrors(t *testing.T) {
	p, s := newFakeServer(t, Limits{})
	p.until("the server's settings", func() bool { return p.c.peerMaxStreams == 3 })

	cases := []struct {
		name  string
		write func(id uint32)
	}{
		{"no status", func(id uint32) { s.head(id, true, "x-a", "1") }},
		{"bad status", func(id uint32) { s.head(id, true, ":status", "2x0") }},
		{"uppercase name", func(id uint32) { s.head(id, true, ":status", "200", "X-A", "1") }},
		{"connection field", func(id uint32) { s.head(id, true, ":status", "200", "connection", "close") }},
		{"request pseudo-field", func(id uint32) { s.head(id, true, ":status", "200", ":path", "/") }},
		{"body past content-length", func(id uint32) {
			s.head(id, false, ":status", "200", "content-length", "2")
			s.fr.WriteData(id, true, []byte("abc"))
		}},
		{"body short of content-length", func(id uint32) {
			s.head(id, false, ":status", "200", "content-length", "5")
			s.fr.WriteData(id, true, []byte("abc"))
		}},
		{"data before the head", func(id uint32) { s.fr.WriteData(id, true, []byte("abc")) }},
		{"trailers without END_STREAM", func(id uint32) {
			s.head(id, false, ":status", "200")
			s.head(id, false, "x-t", "1")
		}},
		{"101", func(id uint32) { s.head(id, true, ":status", "101") }},
	}
	for _, tc := range cases {
		id := p.request("GET", "/", nil)
		got := s.readRequest()
		if got != id {
			t.Fatalf("%s: server read stream %d, sent %d", tc.name, got, id)
		}
		tc.write(id)
		p.until(tc.name, func() bool { _, ok := p.resets[id]; return ok })
		if p.resets[id] != ErrCodeProtocol {
			t.Errorf("%s: reset %v, want PROTOCOL_ERROR", tc.name, p.resets[id])
		}
	}

	// An interim head is skipped; the final one is reported.
	id := p.request("GET", "/", nil)
	s.readRequest()
	s.head(id, false, ":status", "103", "link", "</a>")
	s.head(id, true, ":status", "204")
	p.until("204", func() bool { return p.ended[id] })
	if p.status[id] != 204 || p.continued[id] {
		t.Errorf("status %d after a 103 (continue reported: %v), want 204 only", p.status[id], p.continued[id])
	}
	// A 100 is reported, for a body held for it, then the final head.
	id = p.request("GET", "/", nil)
	s.readRequest()
	s.head(id, false, ":status", "100")
	p.until("100", func() bool { return p.continued[id] })
	if p.status[id] != 0 {
		t.Errorf("a 100 reported as the response (%d)", p.status[id])
	}
	s.head(id, true, ":status", "204")
	p.until("204 after 100", func() bool { return p.ended[id] })

	// Three streams at most, as the server said.
	var open []uint32
	for p.c.CanOpen() {
		open = append(open, p.request("GET", "/", nil))
	}
	if len(open) != 3 {
		t.Fatalf("opened %d streams under a limit of 3", len(open))
	}
	if _, err := p.c.SendRequest(true); err != ErrNoStream {
		t.Errorf("a fourth stream: %v, want ErrNoStream", err)
	}
	// GOAWAY with the first as last: the other two were not processed.
	s.fr.WriteGoAway(open[0], http2.ErrCodeNo, nil)
	p.until("GOAWAY", func() bool { return len(p.resets) == len(cases)+2 })
	for _, id := range open[1:] {
		if p.resets[id] != ErrCodeRefusedStream {
			t.Errorf("stream %d past the GOAWAY: %v, want REFUSED_STREAM", id, p.resets[id])
		}
	}
	if p.c.CanOpen() {
		t.Error("a stream may open after GOAWAY")
	}
	s.head(open[0], true, ":status", "200")
	p.until("the last stream's answer", func() bool { return p.ended[open[0]] })
}

// Connection errors: a PUSH_PROMISE we disabled, a frame on a stream we
// never opened.
func TestClientConnConnectionErrors(t *testing.T) {
	for name, write := range map[string]func(s *fakeServer, id uint32){
		"push": func(s *fakeServer, id uint32) {
			s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, EndHeaders: true})
		},
		"idle stream": func(s *fakeServer, id uint32) { s.fr.WriteData(id+2, true, []byte("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			p, s := newFakeServer(t, Limits{})
			id := p.request("GET", "/", nil)
			s.readRequest()
			write(s, id)
			deadline := time.After(10 * time.Second)
			for {
				if b, ok := <-p.in; ok {
					p.buf = append(p.buf, b...)
				}
				if _, err := p.c.Feed(p.buf); err != nil {
					if e, ok := err.(*Error); !ok || e.Code != ErrCodeProtocol {
						t.Fatalf("error %v, want a PROTOCOL_ERROR", err)
					}
					if !hasGoAway(p.c.Output()) || p.c.CanOpen() {
						t.Fatal("no GOAWAY queued, or the connection still opens streams")
					}
					return
				}
				select {
				case <-deadline:
					t.Fatal("no connection error")
				default:
				}
			}
		})
	}
}

// hpackEncoder returns a function that encodes one field into b.
func hpackEncoder(b *bytes.Buffer) func(name, value string) {
	enc := hpack.NewEncoder(b)
	return func(name, value string) { enc.WriteField(hpack.HeaderField{Name: name, Value: value}) }
}

// hasGoAway reports whether out holds a GOAWAY frame.
func hasGoAway(out []byte) bool {
	for len(out) > 0 {
		f, n, err := ParseFrame(out, MaxMaxFrameSize)
		if err != nil && err != ErrIncomplete && !err.(*Error).Stream {
			return false
		}
		if err == ErrIncomplete {
			return false
		}
		if f.Type == FrameGoAway {
			return true
		}
		out = out[n:]
	}
	return false
}

// FuzzClientConn feeds a ClientConn with three streams open the server's
// SETTINGS then arbitrary frames, whole and in pieces: it never panics,
// reports only the streams it opened, and says the same either way.
func FuzzClientConn(f *testing.F) {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	enc := hpackEncoder(&b)
	head := func(id uint32, end bool, nv ...string) {
		start := b.Len()
		for i := 0; i < len(nv); i += 2 {
			enc(nv[i], nv[i+1])
		}
		block := append([]byte(nil), b.Bytes()[start:]...)
		b.Truncate(start)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: end})
	}
	head(1, false, ":status", "200", "content-length", "3")
	fr.WriteData(1, true, []byte("abc"))
	head(3, false, ":status", "103")
	head(3, true, ":status", "204")
	fr.WriteRSTStream(5, http2.ErrCodeCancel)
	fr.WritePing(false, [8]byte{1})
	fr.WriteWindowUpdate(0, 1000)
	fr.WriteGoAway(1, http2.ErrCodeNo, nil)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		run := func(piece int) ([]string, error) {
			c := NewClientConn(Limits{})
			for range 3 {
				c.StartRequest([]byte("GET"), []byte("http"), []byte("x"), []byte("/"))
				if _, err := c.SendRequest(true); err != nil {
					t.Fatal(err)
				}
			}
			var seen []string
			if _, err := c.Feed(AppendSettings(nil)); err != nil {
				t.Fatal(err)
			}
			var buf []byte
			for rest := in; len(rest) > 0; {
				k := min(piece, len(rest))
				buf = append(buf, rest[:k]...)
				rest = rest[k:]
				n, err := c.Feed(buf)
				for _, ev := range c.Events() {
					if ev.Stream != 1 && ev.Stream != 3 && ev.Stream != 5 {
						t.Fatalf("an event of stream %d, which was never opened", ev.Stream)
					}
					seen = append(seen, fmt.Sprintf("%d %d %d %q %v %v", ev.Kind, ev.Stream, ev.Status, ev.Data, ev.End, ev.Code))
				}
				if err != nil {
					return seen, err
				}
				buf = buf[n:]
			}
			return seen, nil
		}
		whole, werr := run(len(in) + 1)
		parts, perr := run(5)
		// Data may come in more events when fed in pieces; the rest matches.
		if (werr == nil) != (perr == nil) || len(whole) > 0 && len(parts) == 0 {
			t.Fatalf("whole: %v %q; in pieces: %v %q", werr, whole, perr, parts)
		}
	})
}
