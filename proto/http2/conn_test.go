package http2

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestServerPreface(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.wire.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	cl.feed()
	cl.expect(nil, []string{
		"SETTINGS MAX_CONCURRENT_STREAMS=100 INITIAL_WINDOW_SIZE=262144 MAX_FRAME_SIZE=16384 MAX_HEADER_LIST_SIZE=65536 ENABLE_PUSH=0",
		"WINDOW_UPDATE 0 +983041",
		"SETTINGS ACK",
	})
}

// RFC 9113 §3.4: the preface may arrive in pieces; anything else is a
// connection error.
func TestClientPreface(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.Output()
	if cl.c.InPreface() {
		t.Fatal("in the preface before any byte")
	}
	cl.wire.WriteString(ClientPreface[:10])
	if err := cl.feed(); err != nil || cl.wire.Len() != 0 {
		t.Fatalf("partial preface: %v, %d left", err, cl.wire.Len())
	}
	// Consumed, but unfinished: the caller's header timeout runs.
	if !cl.c.InPreface() {
		t.Fatal("a partial preface is not reported")
	}
	cl.wire.WriteString(ClientPreface[10:])
	cl.fr.WriteSettings()
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	if cl.c.InPreface() {
		t.Fatal("in the preface after it")
	}

	bad := newClient(t, Limits{})
	bad.Output()
	bad.wire.WriteString("GET / HTTP/1.1\r\n")
	if err := bad.feed(); err != errPreface {
		t.Fatalf("err = %v", err)
	}
	bad.expect(nil, []string{"GOAWAY 0 PROTOCOL_ERROR"})

	// The first frame must be SETTINGS (RFC 9113 §3.4).
	ping := newClient(t, Limits{})
	ping.Output()
	ping.wire.WriteString(ClientPreface)
	ping.fr.WritePing(false, [8]byte{})
	if err := ping.feed(); err != errFirstSettings {
		t.Fatalf("err = %v", err)
	}
}

// Output skips the server preface in tests that do not look at it.
func (cl *client) Output() { cl.c.Output() }

func TestGet(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: cl.block(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/a?b", "accept", "*/*", "cookie", "a=1", "cookie", "b=2")})
	cl.feed()
	cl.expect([]string{"REQUEST 1 GET https example.com /a?b cl=-1 accept=*/* cookie=a=1 cookie=b=2 END"}, nil)
	cl.respond(1, 200, "hello", "Content-Type", "text/plain", "Connection", "close", "X-Up", "1")
	cl.expectFrames(
		"HEADERS 1 :status=200 content-type=text/plain x-up=1",
		`DATA 1 END_STREAM "hello"`,
	)
	if !cl.c.Idle() {
		t.Fatal("not idle after the response")
	}
	// The stream is closed: calls for it are refused.
	if _, err := cl.c.WriteData(1, []byte("x"), true); err != ErrStreamClosed {
		t.Fatalf("WriteData after the end: %v", err)
	}
}

// A request with HEADERS, CONTINUATION, DATA and trailers; the response
// has a 1xx head, a body and trailers.
func TestPostWithTrailers(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	blk := cl.block(":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/up",
		"content-type", "text/plain", "te", "trailers", "content-length", "11")
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:5]})
	cl.fr.WriteContinuation(1, false, blk[5:9])
	cl.fr.WriteContinuation(1, true, blk[9:])
	cl.fr.WriteData(1, false, []byte("hello "))
	cl.fr.WriteDataPadded(1, false, []byte("world"), make([]byte, 7))
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("x-checksum", "abc"), EndStream: true, EndHeaders: true})
	cl.feed()
	cl.expect([]string{
		"REQUEST 1 POST https example.com /up cl=11 content-type=text/plain te=trailers content-length=11",
		`DATA 1 "hello "`,
		`DATA 1 "world"`,
		"TRAILERS 1 x-checksum=abc END",
	}, nil)

	c := cl.c
	c.StartHeaders(1, 100)
	if err := c.SendHeaders(false); err != nil {
		t.Fatal(err)
	}
	c.StartHeaders(1, 201)
	c.AddField([]byte("trailer"), []byte("x-sum"))
	c.SendHeaders(false)
	c.WriteData(1, []byte("ok"), false)
	c.StartHeaders(1, 0)
	c.AddField([]byte("X-Sum"), []byte("42"))
	if err := c.SendHeaders(false); err != nil { // trailers end the stream anyway
		t.Fatal(err)
	}
	cl.expectFrames(
		"HEADERS 1 :status=100",
		"HEADERS 1 :status=201 trailer=x-sum",
		`DATA 1 "ok"`,
		"HEADERS 1 END_STREAM x-sum=42",
	)
	if !c.Idle() {
		t.Fatal("not idle")
	}
}

// Frames arriving one byte at a time produce the same events.
func TestFeedBytewise(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.post(1, "content-length", "3")
	cl.fr.WriteData(1, true, []byte("abc"))
	wire := bytes.Clone(cl.wire.Bytes())
	cl.wire.Reset()
	var got []string
	for i := range wire {
		cl.wire.WriteByte(wire[i])
		cl.feed()
		got = append(got, cl.events...)
	}
	want := []string{"REQUEST 1 POST https example.com /up cl=3 content-length=3", `DATA 1 "abc" END`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q", got)
	}
}

// A response head larger than the client's SETTINGS_MAX_FRAME_SIZE goes
// out in CONTINUATION frames, body in frames of at most that size.
func TestLargeResponse(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	cl.fr.WriteWindowUpdate(0, 1<<20)
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	big := strings.Repeat("v", 20000)
	c.StartHeaders(1, 200)
	c.AddField([]byte("x-big"), []byte(big))
	c.SendHeaders(false)
	body := bytes.Repeat([]byte("b"), 40000)
	if n, _ := c.WriteData(1, body, true); n != len(body) {
		t.Fatalf("sent %d", n)
	}
	out := c.Output()
	var got []string
	for len(out) > 0 {
		f, n, err := ParseFrame(out, MinMaxFrameSize)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Fields(describe(&f))[0]+" "+string(rune('0'+f.Flags)))
		out = out[n:]
	}
	want := "HEADERS 0|CONTINUATION 4|DATA 0|DATA 0|DATA 1"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, "|"), want)
	}
}

// RFC 9113 §5.1: stream states, §5.1.1 stream ids, §5.1.2 concurrency,
// §6 frame rules that depend on the connection, as h2spec checks them:
// what the client sends after its preface, and the last frame the
// server answers with.
func TestStreamRules(t *testing.T) {
	for _, tt := range []struct {
		name string
		lim  Limits
		send func(cl *client)
		want string
	}{
		{"idle: DATA", Limits{}, func(cl *client) { cl.fr.WriteData(1, true, []byte("x")) }, "GOAWAY 0 PROTOCOL_ERROR"},
		{"idle: RST_STREAM", Limits{}, func(cl *client) { cl.fr.WriteRSTStream(1, http2.ErrCodeCancel) }, "GOAWAY 0 PROTOCOL_ERROR"},
		{"idle: WINDOW_UPDATE", Limits{}, func(cl *client) { cl.fr.WriteWindowUpdate(1, 100) }, "GOAWAY 0 PROTOCOL_ERROR"},
		{"idle: CONTINUATION", Limits{}, func(cl *client) { cl.fr.WriteContinuation(1, true, cl.block(getFields...)) }, "GOAWAY 0 PROTOCOL_ERROR"},
		{"idle: PRIORITY is accepted", Limits{}, func(cl *client) {
			cl.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 10})
			cl.fr.WritePing(false, [8]byte{})
		}, `PING ACK "\x00\x00\x00\x00\x00\x00\x00\x00"`},
		{"half-closed (remote): DATA", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteData(1, true, []byte("x"))
		}, "RST_STREAM 1 STREAM_CLOSED"},
		{"half-closed (remote): HEADERS", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("x", "y"), EndStream: true, EndHeaders: true})
		}, "RST_STREAM 1 STREAM_CLOSED"},
		// RFC 9113 §8.1: a second HEADERS must end the stream.
		{"open: HEADERS without END_STREAM", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("x", "y"), EndHeaders: true})
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"trailers with a pseudo-header field", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(":path", "/"), EndStream: true, EndHeaders: true})
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"trailers short of the content-length", Limits{}, func(cl *client) {
			cl.post(1, "content-length", "3")
			cl.fr.WriteData(1, false, []byte("ab"))
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("x", "y"), EndStream: true, EndHeaders: true})
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"content-length too long a number", Limits{}, func(cl *client) {
			cl.post(1, "content-length", "1234567890123456789")
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"half-closed (remote): WINDOW_UPDATE", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteWindowUpdate(1, 100)
			cl.fr.WritePing(false, [8]byte{})
		}, `PING ACK "\x00\x00\x00\x00\x00\x00\x00\x00"`},
		{"closed: DATA after RST_STREAM", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.fr.WriteData(1, true, []byte("x"))
		}, "RST_STREAM 1 STREAM_CLOSED"},
		{"closed: HEADERS after RST_STREAM", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.get(1)
		}, "GOAWAY 1 STREAM_CLOSED"},
		{"closed: RST_STREAM and WINDOW_UPDATE are ignored", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.fr.WriteWindowUpdate(1, 10)
			cl.fr.WritePing(false, [8]byte{})
		}, `PING ACK "\x00\x00\x00\x00\x00\x00\x00\x00"`},
		{"even stream id", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2, BlockFragment: cl.block(getFields...), EndStream: true, EndHeaders: true})
		}, "GOAWAY 0 PROTOCOL_ERROR"},
		{"stream id smaller than the last", Limits{}, func(cl *client) {
			cl.get(5)
			cl.get(3)
		}, "GOAWAY 5 STREAM_CLOSED"},
		{"past SETTINGS_MAX_CONCURRENT_STREAMS", Limits{MaxConcurrentStreams: 1}, func(cl *client) {
			cl.get(1)
			cl.get(3)
		}, "RST_STREAM 3 REFUSED_STREAM"},
		{"HEADERS depending on itself", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...), EndStream: true, EndHeaders: true,
				Priority: http2.PriorityParam{StreamDep: 1, Weight: 1}})
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"PRIORITY depending on itself", Limits{}, func(cl *client) {
			cl.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1, Weight: 1})
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"PRIORITY length 4", Limits{}, func(cl *client) {
			cl.fr.WriteRawFrame(http2.FramePriority, 0, 1, []byte{0, 0, 0, 3})
		}, "RST_STREAM 1 FRAME_SIZE_ERROR"},
		{"frame in a header block", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...), EndStream: true})
			cl.fr.WritePriority(1, http2.PriorityParam{StreamDep: 3, Weight: 1})
		}, "GOAWAY 1 PROTOCOL_ERROR"},
		{"HEADERS of another stream in a header block", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...), EndStream: true})
			cl.get(3)
		}, "GOAWAY 1 PROTOCOL_ERROR"},
		{"CONTINUATION after END_HEADERS", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteContinuation(1, true, cl.block("x", "y"))
		}, "GOAWAY 1 PROTOCOL_ERROR"},
		{"unknown frame in a header block", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...), EndStream: true})
			cl.fr.WriteRawFrame(0xfa, 0, 1, []byte("x"))
		}, "GOAWAY 1 PROTOCOL_ERROR"},
		{"unknown frame", Limits{}, func(cl *client) {
			cl.fr.WriteRawFrame(0xfa, 0xff, 0, []byte("x"))
			cl.fr.WritePing(false, [8]byte{1})
		}, `PING ACK "\x01\x00\x00\x00\x00\x00\x00\x00"`},
		{"PUSH_PROMISE", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: cl.block(getFields...), EndHeaders: true})
		}, "GOAWAY 1 PROTOCOL_ERROR"},
		{"invalid header block", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndStream: true, EndHeaders: true})
		}, "GOAWAY 1 COMPRESSION_ERROR"},
		{"header block cut short", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x40, 0x05, 'a'}, EndStream: true, EndHeaders: true})
		}, "GOAWAY 1 COMPRESSION_ERROR"},
		// HPACK §6.3: a table size update above SETTINGS_HEADER_TABLE_SIZE.
		{"dynamic table size update too large", Limits{}, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: append([]byte{0x3f, 0xe2, 0x1f}, cl.block(getFields...)...), EndStream: true, EndHeaders: true})
		}, "GOAWAY 1 COMPRESSION_ERROR"},
		{"DATA frame too large", Limits{}, func(cl *client) {
			cl.post(1)
			cl.fr.WriteData(1, true, make([]byte, MinMaxFrameSize+1))
		}, "GOAWAY 1 FRAME_SIZE_ERROR"},
		{"SETTINGS_INITIAL_WINDOW_SIZE too large", Limits{}, func(cl *client) {
			cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, "GOAWAY 0 FLOW_CONTROL_ERROR"},
		{"connection window above 2^31-1", Limits{}, func(cl *client) {
			cl.fr.WriteWindowUpdate(0, MaxWindow)
		}, "GOAWAY 0 FLOW_CONTROL_ERROR"},
		{"stream window above 2^31-1", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteWindowUpdate(1, MaxWindow)
		}, "RST_STREAM 1 FLOW_CONTROL_ERROR"},
		{"WINDOW_UPDATE of 0 on a stream", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteWindowUpdate(1, 0)
		}, "RST_STREAM 1 PROTOCOL_ERROR"},
		{"stream window past SETTINGS_INITIAL_WINDOW_SIZE", Limits{}, func(cl *client) {
			cl.get(1)
			cl.fr.WriteWindowUpdate(1, MaxWindow-initialWindow)
			cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: initialWindow + 1})
		}, "GOAWAY 1 FLOW_CONTROL_ERROR"},
		{"DATA beyond the stream window", Limits{StreamWindow: initialWindow}, func(cl *client) {
			cl.post(1)
			for range 3 {
				cl.fr.WriteData(1, false, make([]byte, MinMaxFrameSize))
			}
			cl.fr.WriteData(1, false, make([]byte, MinMaxFrameSize-1))
			cl.fr.WriteData(1, false, make([]byte, 1))
		}, "RST_STREAM 1 FLOW_CONTROL_ERROR"},
		{"DATA beyond the connection window", Limits{StreamWindow: 1 << 20, ConnWindow: initialWindow}, func(cl *client) {
			cl.post(1)
			for range 3 {
				cl.fr.WriteData(1, false, make([]byte, MinMaxFrameSize))
			}
			cl.fr.WriteData(1, false, make([]byte, MinMaxFrameSize-1))
			cl.fr.WriteData(1, false, make([]byte, 1))
		}, "GOAWAY 1 FLOW_CONTROL_ERROR"},
		{"GOAWAY on a stream", Limits{}, func(cl *client) {
			cl.fr.WriteRawFrame(http2.FrameGoAway, 0, 1, make([]byte, 8))
		}, "GOAWAY 0 PROTOCOL_ERROR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(t, tt.lim)
			cl.start()
			tt.send(cl)
			cl.feed()
			got := cl.read()
			if len(got) == 0 || got[len(got)-1] != tt.want {
				t.Fatalf("got %q, want last %q", got, tt.want)
			}
			if strings.HasPrefix(tt.want, "GOAWAY") != (cl.err != nil) {
				t.Fatalf("err = %v", cl.err)
			}
		})
	}
}

// RFC 9113 §8.1, §8.2, §8.3: malformed requests are stream errors, never
// reported to the caller.
func TestMalformedRequests(t *testing.T) {
	base := func(extra ...string) []string {
		return append([]string{":method", "POST", ":scheme", "https", ":authority", "a.example", ":path", "/"}, extra...)
	}
	for _, tt := range []struct {
		name   string
		fields []string
		end    bool
		data   []string // DATA frames, the last ending the stream
	}{
		{"uppercase field name", base("Accept", "*/*"), true, nil},
		{"field name with a space", base("a b", "c"), true, nil},
		{"empty field name", base("", "c"), true, nil},
		{"field value with LF", base("a", "b\nc"), true, nil},
		{"field value with NUL", base("a", "b\x00c"), true, nil},
		{"field value with a leading space", base("a", " b"), true, nil},
		{"field value with a trailing tab", base("a", "b\t"), true, nil},
		{"connection", base("connection", "keep-alive"), true, nil},
		{"keep-alive", base("keep-alive", "300"), true, nil},
		{"proxy-connection", base("proxy-connection", "close"), true, nil},
		{"transfer-encoding", base("transfer-encoding", "chunked"), true, nil},
		{"upgrade", base("upgrade", "websocket"), true, nil},
		{"te other than trailers", base("te", "gzip"), true, nil},
		{"unknown pseudo-header field", base(":foo", "bar"), true, nil},
		{"response pseudo-header field", base(":status", "200"), true, nil},
		{":protocol without extended CONNECT", base(":protocol", "websocket"), true, nil},
		{"pseudo-header field after a regular one", []string{":method", "GET", "a", "b", ":scheme", "https", ":path", "/"}, true, nil},
		{"no :method", []string{":scheme", "https", ":path", "/"}, true, nil},
		{"no :scheme", []string{":method", "GET", ":path", "/"}, true, nil},
		{"no :path", []string{":method", "GET", ":scheme", "https"}, true, nil},
		{"empty :path", []string{":method", "GET", ":scheme", "https", ":path", ""}, true, nil},
		{":path not absolute", []string{":method", "GET", ":scheme", "https", ":path", "a"}, true, nil},
		{":path with a space", []string{":method", "GET", ":scheme", "https", ":path", "/a b"}, true, nil},
		{"* for GET", []string{":method", "GET", ":scheme", "https", ":path", "*"}, true, nil},
		{"two :method", []string{":method", "GET", ":method", "GET", ":scheme", "https", ":path", "/"}, true, nil},
		{"two :scheme", []string{":method", "GET", ":scheme", "https", ":scheme", "https", ":path", "/"}, true, nil},
		{"two :path", []string{":method", "GET", ":scheme", "https", ":path", "/", ":path", "/"}, true, nil},
		{"invalid method", []string{":method", "G T", ":scheme", "https", ":path", "/"}, true, nil},
		{"CONNECT with :path", []string{":method", "CONNECT", ":authority", "a:443", ":path", "/"}, true, nil},
		{"CONNECT without :authority", []string{":method", "CONNECT"}, true, nil},
		{"host and :authority differ", base("host", "b.example"), true, nil},
		{"two host fields", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a", "host", "a"}, true, nil},
		{"invalid authority", []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a/b"}, true, nil},
		{"content-length not a number", base("content-length", "1x"), true, nil},
		{"conflicting content-length", base("content-length", "1", "content-length", "2"), false, []string{"x"}},
		{"content-length with END_STREAM", base("content-length", "3"), true, nil},
		{"content-length more than the DATA", base("content-length", "3"), false, []string{"ab"}},
		{"content-length less than the DATA", base("content-length", "3"), false, []string{"ab", "cd"}},
		{"content-length less than the DATA, no end", base("content-length", "1"), false, []string{"ab", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(t, Limits{})
			cl.start()
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(tt.fields...), EndStream: tt.end, EndHeaders: true})
			for i, d := range tt.data {
				cl.fr.WriteData(1, i == len(tt.data)-1, []byte(d))
			}
			cl.fr.WritePing(false, [8]byte{})
			if err := cl.feed(); err != nil {
				t.Fatal(err)
			}
			// DATA after the reset is refused too.
			got := cl.read()
			if len(got) < 2 || got[0] != "RST_STREAM 1 PROTOCOL_ERROR" || !strings.HasPrefix(got[len(got)-1], "PING ACK") {
				t.Fatalf("got %q", got)
			}
			if len(cl.events) != 0 {
				t.Fatalf("reported: %q", cl.events)
			}
		})
	}
}

// What a valid request may carry.
func TestValidRequests(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"host instead of :authority", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "h.example:8080"}, "REQUEST 1 GET http h.example:8080 / cl=-1 host=h.example:8080 END"},
		{"host equal to :authority but for case", []string{":method", "GET", ":scheme", "http", ":authority", "H.example", ":path", "/", "host", "h.EXAMPLE"}, "REQUEST 1 GET http H.example / cl=-1 host=h.EXAMPLE END"},
		{"OPTIONS *", []string{":method", "OPTIONS", ":scheme", "https", ":authority", "a", ":path", "*"}, "REQUEST 1 OPTIONS https a * cl=-1 END"},
		{"CONNECT", []string{":method", "CONNECT", ":authority", "a.example:443"}, "REQUEST 1 CONNECT  a.example:443  cl=-1 END"},
		{"content-length 0 with END_STREAM", []string{":method", "POST", ":scheme", "https", ":path", "/", "content-length", "0"}, "REQUEST 1 POST https  / cl=0 content-length=0 END"},
		{"values with inner spaces and obs-text", []string{":method", "GET", ":scheme", "https", ":path", "/", "a", "b c\t\xff", "e", ""}, "REQUEST 1 GET https  / cl=-1 a=b c\t\xff e= END"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(t, Limits{})
			cl.start()
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(tt.fields...), EndStream: true, EndHeaders: true})
			cl.feed()
			cl.expect([]string{tt.want}, nil)
		})
	}
}

// RFC 8441: with ExtendedConnect, the server says so in its SETTINGS and
// a CONNECT may carry :protocol, with :scheme and :path; its stream then
// carries DATA both ways as any other.
func TestExtendedConnect(t *testing.T) {
	cl := newClient(t, Limits{ExtendedConnect: true})
	cl.wire.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	cl.feed()
	cl.expect(nil, []string{
		"SETTINGS MAX_CONCURRENT_STREAMS=100 INITIAL_WINDOW_SIZE=262144 MAX_FRAME_SIZE=16384 MAX_HEADER_LIST_SIZE=65536 ENABLE_PUSH=0 ENABLE_CONNECT_PROTOCOL=1",
		"WINDOW_UPDATE 0 +983041",
		"SETTINGS ACK",
	})
	ws := []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "a.example", ":path", "/chat?room=1", "sec-websocket-version", "13"}
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(ws...), EndHeaders: true})
	cl.fr.WriteData(1, false, []byte("frame"))
	cl.feed()
	cl.expect([]string{"REQUEST 1 CONNECT https a.example /chat?room=1 cl=-1 protocol=websocket sec-websocket-version=13", `DATA 1 "frame"`}, nil)
	cl.c.StartHeaders(1, 200)
	cl.c.SendHeaders(false)
	cl.c.WriteData(1, []byte("back"), false)
	cl.feed()
	cl.expect(nil, []string{"HEADERS 1 :status=200", `DATA 1 "back"`})

	for _, tt := range []struct {
		name   string
		fields []string
	}{
		{":protocol with GET", []string{":method", "GET", ":protocol", "websocket", ":scheme", "https", ":authority", "a", ":path", "/"}},
		{"without :path", []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "a"}},
		{"without :scheme", []string{":method", "CONNECT", ":protocol", "websocket", ":authority", "a", ":path", "/"}},
		{"without :authority", []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/", "host", "a"}},
		{"empty :protocol", []string{":method", "CONNECT", ":protocol", "", ":scheme", "https", ":authority", "a", ":path", "/"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(t, Limits{ExtendedConnect: true})
			cl.start()
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(tt.fields...), EndHeaders: true})
			cl.feed()
			cl.expect(nil, []string{"RST_STREAM 1 PROTOCOL_ERROR"})
		})
	}
}

// RFC 9113 §5.2: request bodies flow as fast as the caller consumes them.
func TestRequestFlowControl(t *testing.T) {
	const window = 65535
	cl := newClient(t, Limits{StreamWindow: window, ConnWindow: 2 * window})
	cl.start()
	cl.post(1)
	cl.post(3)
	cl.feed()
	cl.read()
	chunk := make([]byte, 1000)
	// Each stream sends nearly its whole window; nothing comes back
	// before the caller consumes.
	for _, id := range []uint32{1, 3} {
		for range 65 {
			cl.fr.WriteData(id, false, chunk)
		}
	}
	if err := cl.feed(); err != nil || len(cl.events) != 130 {
		t.Fatalf("%d events, %v", len(cl.events), err)
	}
	cl.expectFrames()
	// Half a window consumed on stream 1 gives it credit back; the
	// connection's comes with half of its own.
	cl.c.Consumed(1, window/2)
	cl.expectFrames("WINDOW_UPDATE 1 +32767")
	cl.c.Consumed(3, window) // more than it holds: what it holds
	cl.expectFrames("WINDOW_UPDATE 0 +97767", "WINDOW_UPDATE 3 +65000")
	// Stream 1 sends within its new credit.
	for range 33 {
		cl.fr.WriteData(1, false, chunk)
	}
	cl.fr.WriteData(1, true, nil)
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	if got := cl.events[len(cl.events)-1]; got != `DATA 1 "" END` {
		t.Fatalf("last event %q", got)
	}
	// A stream reset with bytes unconsumed gives them back to the
	// connection, once.
	cl.c.Reset(1, ErrCodeCancel)
	cl.expectFrames("RST_STREAM 1 CANCEL")
	if cl.c.recvCredit != 65000-32767+33000 {
		t.Fatalf("connection credit %d", cl.c.recvCredit)
	}
	cl.c.Consumed(1, 100)
	if cl.c.recvCredit != 65000-32767+33000 {
		t.Fatal("credit given twice")
	}
}

// RFC 9113 §6.9: WriteData sends what the client's windows allow; a
// WINDOW_UPDATE, or a SETTINGS change of the initial window, lets the
// rest go, and §6.9.2: a decrease may take a window below zero.
func TestResponseFlowControl(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	cl.get(1)
	cl.get(3)
	cl.feed()
	cl.read()
	c := cl.c
	body := []byte("0123456789abcdefghij")
	for _, id := range []uint32{1, 3} {
		c.StartHeaders(id, 200)
		c.SendHeaders(false)
		if n, err := c.WriteData(id, body, true); n != 10 || err != nil {
			t.Fatalf("stream %d: sent %d %v", id, n, err)
		}
		if w := c.Window(id); w != 0 {
			t.Fatalf("window %d", w)
		}
	}
	cl.expectFrames("HEADERS 1 :status=200", `DATA 1 "0123456789"`, "HEADERS 3 :status=200", `DATA 3 "0123456789"`)

	cl.fr.WriteWindowUpdate(1, 5)
	cl.feed()
	cl.expect([]string{"WINDOW 1"}, nil)
	if n, _ := c.WriteData(1, body[10:], true); n != 5 {
		t.Fatalf("sent %d", n)
	}
	// A larger initial window applies to open streams.
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 30})
	cl.feed()
	got := strings.Join(cl.events, ",")
	if got != "WINDOW 1,WINDOW 3" && got != "WINDOW 3,WINDOW 1" {
		t.Fatalf("events %q", cl.events)
	}
	c.WriteData(1, body[15:], true)
	c.WriteData(3, body[10:], true)
	cl.expectFrames(`DATA 1 "abcde"`, "SETTINGS ACK", `DATA 1 END_STREAM "fghij"`, `DATA 3 END_STREAM "abcdefghij"`)

	// A smaller one takes open windows below zero.
	cl.get(5)
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	cl.feed()
	cl.read()
	c.StartHeaders(5, 200)
	c.SendHeaders(false)
	if n, _ := c.WriteData(5, body, false); n != 0 {
		t.Fatalf("sent %d at window 0", n)
	}
	// An empty frame ending the stream needs no credit.
	if n, err := c.WriteData(5, nil, true); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	cl.expectFrames("HEADERS 5 :status=200", `DATA 5 END_STREAM ""`)
}

// The connection window holds all streams back; its WINDOW_UPDATE
// releases every stream waiting.
func TestConnectionWindow(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	c.StartHeaders(1, 200)
	c.SendHeaders(false)
	body := make([]byte, 70000)
	n, _ := c.WriteData(1, body, true)
	if n != initialWindow {
		t.Fatalf("sent %d", n)
	}
	cl.flush()
	cl.read()
	cl.fr.WriteWindowUpdate(0, 100000)
	cl.feed()
	cl.expect([]string{"WINDOW 1"}, nil)
	if m, _ := c.WriteData(1, body[n:], true); m != len(body)-n {
		t.Fatalf("sent %d", m)
	}
}

// The client's acknowledgement of our SETTINGS needs no answer; its
// SETTINGS_MAX_FRAME_SIZE sizes our frames.
func TestClientSettings(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	cl.fr.WriteSettingsAck()
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	c.StartHeaders(1, 200)
	c.SendHeaders(false)
	c.WriteData(1, make([]byte, 30000), true)
	cl.expectFrames("HEADERS 1 :status=200", "DATA 1 20000 bytes", "DATA 1 END_STREAM 10000 bytes")
}

func TestPing(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.fr.WritePing(false, [8]byte{'p', 'i', 'n', 'g'})
	cl.fr.WritePing(true, [8]byte{'a', 'c', 'k'}) // not ours: ignored
	cl.feed()
	cl.expect(nil, []string{`PING ACK "ping\x00\x00\x00\x00"`})
}

// RFC 9113 §6.8: a graceful shutdown refuses nothing the client sent
// before it saw the GOAWAY, then ignores later streams.
func TestShutdown(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	c.Shutdown()
	cl.expectFrames("GOAWAY 2147483647 NO_ERROR", `PING "shutdown"`)
	if c.Closing() {
		t.Fatal("closing before the final GOAWAY")
	}
	// Sent before the client saw the GOAWAY: still served.
	cl.get(3)
	cl.fr.WritePing(true, shutdownData)
	cl.feed()
	cl.expect([]string{"REQUEST 3 GET https example.com / cl=-1 END"}, []string{"GOAWAY 3 NO_ERROR"})
	if !c.Closing() || c.Idle() {
		t.Fatal("state after the final GOAWAY")
	}
	// Past the last id: ignored, its body too.
	cl.post(5)
	cl.fr.WriteData(5, true, []byte("late"))
	cl.fr.WriteRSTStream(5, http2.ErrCodeCancel)
	cl.feed()
	cl.expect(nil, nil)
	cl.respond(1, 204, "")
	cl.respond(3, 200, "x")
	cl.read()
	if !c.Idle() {
		t.Fatal("not idle")
	}
	// Once is enough; an error code may still follow.
	c.Shutdown()
	c.GoAway(ErrCodeNo)
	cl.expectFrames()
	c.GoAway(ErrCodeInternal)
	cl.expectFrames("GOAWAY 3 INTERNAL_ERROR")
}

func TestClientGoAway(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.get(1)
	cl.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	cl.feed()
	cl.expect([]string{"REQUEST 1 GET https example.com / cl=-1 END", "GOAWAY NO_ERROR"}, nil)
	if !cl.c.Closing() {
		t.Fatal("not closing")
	}
}

// The client's RST_STREAM of a stream reported earlier is an event; the
// caller's own Reset is not.
func TestReset(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.post(1)
	cl.post(3)
	cl.feed()
	cl.read()
	cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	cl.feed()
	cl.expect([]string{"RESET 1 CANCEL"}, nil)
	if _, err := cl.c.WriteData(1, []byte("x"), false); err != ErrStreamClosed {
		t.Fatal(err)
	}
	cl.c.Reset(3, ErrCodeInternal)
	cl.expectFrames("RST_STREAM 3 INTERNAL_ERROR")
	if !cl.c.Idle() {
		t.Fatal("not idle")
	}
}

// RFC 9113 §8.1: a response that ends before the request asks the
// client to stop with RST_STREAM NO_ERROR.
func TestEarlyResponse(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.post(1)
	cl.fr.WriteData(1, false, []byte("part"))
	cl.feed()
	cl.respond(1, 413, "")
	cl.expectFrames("HEADERS 1 END_STREAM :status=413", "RST_STREAM 1 NO_ERROR")
	// Body already in flight is refused, and costs nothing.
	for range 2 * DefaultResetBudget {
		cl.fr.WriteData(1, false, []byte("more"))
	}
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
}

// A response that ends before a request whose rest fits in the client's
// window lets the client finish: the rest is checked against its
// content-length and dropped, and the stream closes without a reset.
func TestEarlyResponseDrains(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.post(1, "content-length", "8")
	cl.fr.WriteData(1, false, []byte("part"))
	cl.feed()
	cl.respond(1, 200, "ok")
	cl.expectFrames("HEADERS 1 :status=200", `DATA 1 END_STREAM "ok"`)
	cl.fr.WriteData(1, true, []byte("rest"))
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	cl.expect(nil, nil) // no event, no reset
	if !cl.c.Idle() {
		t.Fatal("the drained stream is still open")
	}

	// More than its content-length is a stream error, as before the end.
	cl.post(3, "content-length", "1")
	cl.feed()
	cl.respond(3, 200, "")
	cl.expectFrames("HEADERS 3 END_STREAM :status=200")
	cl.fr.WriteData(3, true, []byte("four"))
	cl.feed()
	cl.expect([]string{"RESET 3 PROTOCOL_ERROR"}, []string{"RST_STREAM 3 PROTOCOL_ERROR"})

	// Trailers that crossed our reset are ignored, not a connection error.
	cl.post(5)
	cl.feed()
	cl.respond(5, 200, "")
	cl.expectFrames("HEADERS 5 END_STREAM :status=200", "RST_STREAM 5 NO_ERROR")
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, EndStream: true, EndHeaders: true, BlockFragment: cl.block("x-trailer", "1")})
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	cl.get(7)
	cl.feed()
	cl.expect([]string{"REQUEST 7 GET https example.com / cl=-1 END"}, nil)
}

// Upgrade: h2c. The HTTP2-Settings are the client's from the start, not
// acknowledged; stream 1 is open for the response before the preface
// arrives, and is answered as any stream; the next stream is 3.
func TestUpgrade(t *testing.T) {
	cl := newClient(t, Limits{})
	settings := []byte{0, byte(SettingMaxFrameSize), 0, 0, 0x80, 0, 0, byte(SettingInitialWindowSize), 0, 0, 0, 3}
	if err := cl.c.Upgrade(settings); err != nil {
		t.Fatal(err)
	}
	cl.start() // one ACK, for the SETTINGS after the preface
	// A window of 3 bytes, from the HTTP2-Settings.
	cl.c.StartHeaders(1, 200)
	cl.c.SendHeaders(false)
	if n, err := cl.c.WriteData(1, []byte("hello"), true); n != 3 || err != nil {
		t.Fatalf("WriteData = %d, %v; want 3 under the upgrade's window", n, err)
	}
	cl.flush()
	cl.expectFrames("HEADERS 1 :status=200", `DATA 1 "hel"`)
	cl.get(3)
	cl.feed()
	cl.expect([]string{"REQUEST 3 GET https example.com / cl=-1 END"}, nil)
	// A request on stream 1 again is a frame on a half-closed stream.
	cl.get(1)
	cl.feed()
	cl.expect([]string{"RESET 1 STREAM_CLOSED"}, []string{"RST_STREAM 1 STREAM_CLOSED"})

	bad := newClient(t, Limits{})
	if err := bad.c.Upgrade([]byte{0, byte(SettingInitialWindowSize), 0x80, 0, 0, 0}); err == nil {
		t.Error("an initial window past 2^31-1 accepted")
	}
	if err := newClient(t, Limits{}).c.Upgrade([]byte{1, 2, 3}); err == nil {
		t.Error("a settings payload of 3 bytes accepted")
	}
	late := newClient(t, Limits{})
	late.start()
	if err := late.c.Upgrade(nil); err == nil {
		t.Error("Upgrade after the first Feed accepted")
	}
}

// The response's header block needs no dynamic table, and field names
// are lowercased whatever the caller's bytes.
func TestResponseFields(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	name := []byte("X-Name")
	c.StartHeaders(1, 599)
	c.AddField(name, []byte("v1"))
	name[2] = 'Y' // the caller's bytes change: nothing kept
	c.AddField(name, []byte("v2"))
	c.AddField([]byte("Transfer-Encoding"), []byte("chunked"))
	c.AddField([]byte("Keep-Alive"), []byte("1"))
	c.AddField(nil, []byte("no name"))
	c.SendHeaders(true)
	cl.expectFrames("HEADERS 1 END_STREAM :status=599 x-name=v1 x-yame=v2")

	cl.get(3)
	cl.feed()
	cl.read()
	c.StartHeaders(3, 1000)
	if err := c.SendHeaders(true); err != errStatus {
		t.Fatal(err)
	}
}

// Calls for streams that are not open are refused or ignored.
func TestClosedStreamCalls(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	c := cl.c
	c.StartHeaders(1, 200)
	if err := c.SendHeaders(true); err != ErrStreamClosed {
		t.Fatal(err)
	}
	if n, err := c.WriteData(1, []byte("x"), true); n != 0 || err != ErrStreamClosed {
		t.Fatal(n, err)
	}
	c.Reset(1, ErrCodeCancel)
	c.Consumed(1, 10)
	if c.Window(1) != 0 {
		t.Fatal("window of a closed stream")
	}
	cl.post(1)
	cl.feed()
	cl.read()
	if n, err := c.WriteData(1, nil, false); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	cl.expectFrames()
}
