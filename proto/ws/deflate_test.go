package ws

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

// RFC 7692 §5 and §7.1: which offers are accepted, and what we answer.
func TestNegotiateDeflate(t *testing.T) {
	const base = "permessage-deflate; server_no_context_takeover"
	tests := []struct {
		name   string
		values []string
		want   string // "" when every offer is declined
	}{
		{"bare", []string{"permessage-deflate"}, base},
		{"client_max_window_bits without a value", []string{"permessage-deflate; client_max_window_bits"}, base},
		{"client_max_window_bits=10", []string{"permessage-deflate; client_max_window_bits=10"}, base + "; client_max_window_bits=10"},
		{"client_no_context_takeover", []string{"permessage-deflate; client_no_context_takeover"}, base + "; client_no_context_takeover"},
		{"server_no_context_takeover", []string{"permessage-deflate; server_no_context_takeover"}, base},
		{"server_max_window_bits=9", []string{"permessage-deflate; server_max_window_bits=9"}, base + "; server_max_window_bits=9"},
		{"every parameter", []string{"permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=8"},
			base + "; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=8"},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`}, base + "; server_max_window_bits=10"},
		{"spaces", []string{"permessage-deflate ;client_max_window_bits = 12 "}, base + "; client_max_window_bits=12"},
		{"any case", []string{"PerMessage-Deflate; Client_No_Context_Takeover"}, base + "; client_no_context_takeover"},
		{"after another extension", []string{"x-webkit-deflate-frame, permessage-deflate"}, base},
		{"on a second line", []string{"foo", "permessage-deflate; client_max_window_bits=15"}, base + "; client_max_window_bits=15"},
		{"first offer declined, second taken", []string{"permessage-deflate; foo, permessage-deflate; client_no_context_takeover"}, base + "; client_no_context_takeover"},
		{"unknown parameter", []string{"permessage-deflate; foo"}, ""},
		{"repeated parameter", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, ""},
		{"repeated window bits", []string{"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"}, ""},
		{"server_max_window_bits without a value", []string{"permessage-deflate; server_max_window_bits"}, ""},
		{"window bits 7", []string{"permessage-deflate; server_max_window_bits=7"}, ""},
		{"window bits 16", []string{"permessage-deflate; client_max_window_bits=16"}, ""},
		{"window bits with a leading zero", []string{"permessage-deflate; server_max_window_bits=09"}, ""},
		{"empty window bits", []string{"permessage-deflate; client_max_window_bits="}, ""},
		{"no_context_takeover with a value", []string{"permessage-deflate; server_no_context_takeover=1"}, ""},
		{"trailing semicolon", []string{"permessage-deflate;"}, ""},
		{"inside another extension's quoted value", []string{`foo; bar="a, permessage-deflate"`}, ""},
		{"other extensions only", []string{"x-webkit-deflate-frame"}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		var values [][]byte
		for _, v := range tt.values {
			values = append(values, []byte(v))
		}
		d := negotiateDeflate(values)
		got := ""
		if d.On {
			got = string(d.AppendExtension(nil))
		}
		if got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// The examples of RFC 7692 §7.2.3, as a client reads them from a server:
// one message, a shared window, a stored block, a final block, two blocks,
// and a message in two frames.
func TestInflateRFCExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"Hello", "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", []string{"text Hello"}},
		{"Hello twice, sharing the window", "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00", []string{"text Hello", "text Hello"}},
		{"stored block", "\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", []string{"text Hello"}},
		{"final block", "\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00", []string{"text Hello"}},
		{"two blocks", "\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00", []string{"text Hello"}},
		{"two frames", "\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00", []string{"frag", "text Hello"}},
		{"empty message", "\xc1\x01\x00", []string{"text "}},
	}
	for _, tt := range tests {
		var r Reader
		r.Init(Client, Limits{}, Deflate{On: true}, &Flate{})
		if got := run(&r, []byte(tt.in), 0); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// jsonMessage is about 1 KiB of JSON, the kind of message a WebSocket API
// sends.
func jsonMessage() []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < 1000; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","event":"price_update","symbol":"EURUSD","bid":1.%04d,"ask":1.%04d},`, i, i*7, 1000+i*13, 1003+i*13)
	}
	b.WriteString(`{"end":true}]`)
	return b.Bytes()
}

// Messages compressed by our Writer are read back by our Reader, in both
// directions, whatever their size (the header reserved for the compressed
// payload is moved when the payload needs a shorter one).
func TestDeflateRoundTrip(t *testing.T) {
	random := make([]byte, 200000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	payloads := [][]byte{nil, []byte("short"), bytes.Repeat([]byte("a"), 63), bytes.Repeat([]byte("a"), 64),
		jsonMessage(), bytes.Repeat([]byte("compressible "), 6000), random[:1000], random[:70000], random}
	d := Deflate{On: true, ServerNoContextTakeover: true}
	for _, role := range []Role{Server, Client} {
		var fl Flate
		var w Writer
		w.Init(role, d, &fl)
		var r Reader
		r.Init(peerOf(role), Limits{MaxFrame: 1 << 20}, d, &fl)
		var out []byte
		for _, p := range payloads {
			start := len(out)
			out = w.AppendMessage(out, OpBinary, p)
			if compressed := out[start]&0x40 != 0; compressed != (len(p) >= minCompress) {
				t.Fatalf("%d bytes: RSV1 %v", len(p), compressed)
			}
		}
		got := run(&r, out, 0)
		if len(got) != len(payloads) {
			t.Fatalf("role %d: %d messages: %.80q", role, len(got), got)
		}
		for i, p := range payloads {
			if got[i] != "binary "+string(p) {
				t.Fatalf("role %d, message %d (%d bytes): %d bytes back", role, i, len(p), len(got[i])-7)
			}
		}
	}
}

// contextCompressor compresses the way a client that keeps its context
// does (RFC 7692 §7.2.1): one deflate stream for every message, flushed
// after each, without the flush's last 4 bytes.
type contextCompressor struct {
	w interface {
		io.Writer
		Flush() error
	}
	buf bytes.Buffer
}

func (c *contextCompressor) message(p string) string {
	c.buf.Reset()
	c.w.Write([]byte(p))
	c.w.Flush()
	return strings.TrimSuffix(c.buf.String(), "\x00\x00\xff\xff")
}

// A client that keeps its context refers to earlier messages: the Reader
// keeps the window for it, as wide as client_max_window_bits says, and
// only then.
func TestInflateContextTakeover(t *testing.T) {
	var c1 contextCompressor
	c1.w, _ = stdflate.NewWriter(&c1.buf, 6)
	var c2 contextCompressor
	c2.w, _ = flate.NewWriterWindow(&c2.buf, 512)
	msgs := []string{"Hello, world. Hello, world. Hello, world.", "Hello, world. Hello again.",
		strings.Repeat("the window slides ", 3000), "the window slides, and still refers to what came before", "Hello, world."}
	for _, tt := range []struct {
		name string
		c    *contextCompressor
		d    Deflate
	}{
		{"window of 32 KiB", &c1, Deflate{On: true, ServerNoContextTakeover: true}},
		{"window of 512 bytes", &c2, Deflate{On: true, ServerNoContextTakeover: true, ClientMaxWindowBits: 9}},
	} {
		var in []byte
		var want []string
		for _, m := range msgs {
			in = append(in, tf{fin: true, rsv: 0x40, op: OpText, p: tt.c.message(m)}.bytes()...)
			want = append(want, "text "+m)
		}
		var r Reader
		r.Init(Server, Limits{}, tt.d, &Flate{})
		if got := run(&r, bytes.Clone(in), 0); !slices.Equal(got, want) {
			t.Errorf("%s: got %.60q", tt.name, got)
		}
		if len(r.history) > 2*r.window {
			t.Errorf("%s: kept %d bytes for a window of %d", tt.name, len(r.history), r.window)
		}
		// Without the window, the second message cannot be inflated.
		tt.d.ClientNoContextTakeover = true
		r.Init(Server, Limits{}, tt.d, &Flate{})
		if got := run(&r, in, 0); slices.Equal(got, want) || r.history != nil && len(r.history) > 0 {
			t.Errorf("%s: read without a window: %.60q", tt.name, got)
		}
	}
}

// The client's side of context takeover: a server that keeps its context
// (no server_no_context_takeover in its answer) refers to earlier
// messages, within server_max_window_bits; the client's Reader keeps that
// window, and none when the server answered server_no_context_takeover.
func TestClientInflateServerContext(t *testing.T) {
	var c contextCompressor
	c.w, _ = flate.NewWriterWindow(&c.buf, 512)
	msgs := []string{"Hello, world. Hello, world.", strings.Repeat("slide ", 500), "slide on, Hello, world.", "Hello, world."}
	var in []byte
	var want []string
	for _, m := range msgs {
		in = append(in, tf{fin: true, rsv: 0x40, op: OpText, p: c.message(m), unmasked: true}.bytes()...)
		want = append(want, "text "+m)
	}
	d := Deflate{On: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9}
	var r Reader
	r.Init(Client, Limits{}, d, &Flate{})
	if r.window != 512 {
		t.Fatalf("window %d for server_max_window_bits=9", r.window)
	}
	if got := run(&r, bytes.Clone(in), 0); !slices.Equal(got, want) {
		t.Fatalf("got %.60q", got)
	}
	d.ServerNoContextTakeover = true
	r.Init(Client, Limits{}, d, &Flate{})
	if r.window != 0 {
		t.Fatalf("a window of %d kept for a server without context", r.window)
	}
}

// client_max_window_bits, when the server sets it, bounds how far back the
// client's compressor refers, as server_max_window_bits does the server's.
func TestCompressClientWindowBits(t *testing.T) {
	chunk := make([]byte, 600)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	p := append(bytes.Clone(chunk), chunk...)
	var fl Flate
	for _, tt := range []struct {
		bits       uint8
		compresses bool
	}{{9, false}, {10, true}, {0, true}} {
		d := Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ClientMaxWindowBits: tt.bits}
		var w Writer
		w.Init(Client, d, &fl)
		out := w.AppendMessage(nil, OpBinary, p)
		if compresses := len(out) < 900; compresses != tt.compresses {
			t.Errorf("window bits %d: %d bytes for %d", tt.bits, len(out), len(p))
		}
		var r Reader
		r.Init(Server, Limits{}, d, &fl)
		if got := run(&r, out, 0); !slices.Equal(got, []string{"binary " + string(p)}) {
			t.Errorf("window bits %d: read back wrong", tt.bits)
		}
	}
}

// server_max_window_bits bounds how far back our compressor refers: a
// repeat 600 bytes back is found with a window of 1 KiB, not of 512 bytes.
func TestCompressServerWindowBits(t *testing.T) {
	chunk := make([]byte, 600)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	p := append(bytes.Clone(chunk), chunk...)
	var fl Flate
	for _, tt := range []struct {
		bits       uint8
		compresses bool
	}{{9, false}, {10, true}, {15, true}, {0, true}} {
		d := Deflate{On: true, ServerNoContextTakeover: true, ServerMaxWindowBits: tt.bits}
		var w Writer
		w.Init(Server, d, &fl)
		out := w.AppendMessage(nil, OpBinary, p)
		if compresses := len(out) < 900; compresses != tt.compresses {
			t.Errorf("window bits %d: %d bytes for %d", tt.bits, len(out), len(p))
		}
		var r Reader
		r.Init(Client, Limits{}, d, &fl)
		if got := run(&r, out, 0); !slices.Equal(got, []string{"binary " + string(p)}) {
			t.Errorf("window bits %d: read back wrong", tt.bits)
		}
	}
}

// A message that inflates beyond MaxMessage is refused with 1009, and
// inflating it stops there: a decompression bomb costs the limit, not
// what it would inflate to.
func TestInflateBomb(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Flush()
	bomb := strings.TrimSuffix(buf.String(), "\x00\x00\xff\xff")
	const limit = 1 << 20
	for _, in := range [][]byte{
		tf{fin: true, rsv: 0x40, op: OpBinary, p: bomb}.bytes(),
		frames(tf{rsv: 0x40, op: OpBinary, p: bomb[:len(bomb)/2]}, cont(true, bomb[len(bomb)/2:])),
	} {
		var r Reader
		r.Init(Server, Limits{MaxMessage: limit}, Deflate{On: true}, &Flate{})
		var msg []byte
		var err error
		for len(in) > 0 && err == nil {
			var n int
			_, n, err = r.Next(in, &msg)
			in = in[n:]
		}
		if e, ok := err.(*Error); !ok || e.Code != CloseTooBig {
			t.Fatalf("%v", err)
		}
		if len(msg) != limit+1 || cap(msg) > 2*limit {
			t.Fatalf("inflated %d bytes into %d", len(msg), cap(msg))
		}
	}
}

// Compressed messages: fragments with control frames between them, text
// checked once inflated, data that is not deflate (RFC 7692 §6 and §8).
func TestInflateMessages(t *testing.T) {
	var c contextCompressor
	c.w, _ = flate.NewWriter(&c.buf, 5)
	hello := c.message("Hello, κόσμε")
	c.w, _ = flate.NewWriter(&c.buf, 5)
	badText := c.message("Hello \xed\xa0\x80")
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"fragments and a ping", frames(tf{rsv: 0x40, op: OpText, p: hello[:3]}, ping("p"), cont(false, hello[3:5]), cont(true, hello[5:])),
			[]string{"frag", "ping p", "frag", "text Hello, κόσμε"}},
		{"compressed then not", frames(tf{fin: true, rsv: 0x40, op: OpText, p: hello}, text(true, "plain")),
			[]string{"text Hello, κόσμε", "text plain"}},
		{"compressed text not UTF-8", frames(tf{fin: true, rsv: 0x40, op: OpText, p: badText}), []string{"error 1007"}},
		{"compressed binary not UTF-8", frames(tf{fin: true, rsv: 0x40, op: OpBinary, p: badText}), []string{"binary Hello \xed\xa0\x80"}},
		{"not deflate", frames(tf{fin: true, rsv: 0x40, op: OpText, p: "\xff\xff\xff\xff"}), []string{"error 1007"}},
		{"RSV1 on a continuation", frames(tf{rsv: 0x40, op: OpText, p: hello[:3]}, tf{fin: true, rsv: 0x40, op: OpContinuation, p: hello[3:]}),
			[]string{"frag", "error 1002"}},
		{"compressed bytes over the limit", frames(tf{rsv: 0x40, op: OpText, p: strings.Repeat("x", 600)}, cont(true, strings.Repeat("x", 600))),
			[]string{"frag", "error 1009"}},
	}
	for _, tt := range tests {
		var r Reader
		r.Init(Server, Limits{MaxMessage: 1000}, Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}, &Flate{})
		if got := run(&r, tt.in, 0); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDeflateZeroAllocs(t *testing.T) {
	p := jsonMessage()
	var fl Flate
	var w Writer
	w.Init(Server, Deflate{On: true, ServerNoContextTakeover: true}, &fl)
	var cw Writer
	cw.Init(Client, Deflate{On: true, ServerNoContextTakeover: true}, &fl)
	pristine := cw.AppendMessage(nil, OpText, p)
	in := bytes.Clone(pristine)
	var r Reader
	r.Init(Server, Limits{}, Deflate{On: true, ServerNoContextTakeover: true}, &fl)
	out := make([]byte, 0, 4096)
	msg := make([]byte, 0, 4096)
	step := func() {
		out = w.AppendMessage(out[:0], OpText, p)
		copy(in, pristine)
		msg = msg[:0]
		if ev, _, err := r.Next(in, &msg); err != nil || ev.Op != OpText || !bytes.Equal(msg, p) {
			t.Fatalf("%v %v", ev.Op, err)
		}
	}
	step() // the loop's compressor and decompressor are made, and the client's window
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// The measurement behind compressLevel: a 1 KiB JSON message compressed
// as a message on its own, by klauspost/compress (what the Writer does,
// framing included) and by compress/flate at the same level.
func BenchmarkCompress(b *testing.B) {
	p := jsonMessage()
	b.Run("klauspost", func(b *testing.B) {
		var fl Flate
		var w Writer
		w.Init(Server, Deflate{On: true, ServerNoContextTakeover: true}, &fl)
		out := w.AppendMessage(nil, OpText, p)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			out = w.AppendMessage(out[:0], OpText, p)
		}
		b.ReportMetric(float64(len(out)), "bytes/msg")
	})
	b.Run("stdlib", func(b *testing.B) {
		var out bytes.Buffer
		zw, _ := stdflate.NewWriter(&out, stdflate.BestSpeed)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			zw.Reset(&out)
			zw.Write(p)
			zw.Flush()
		}
		b.ReportMetric(float64(out.Len()-4), "bytes/msg")
	})
}

// Inflating the same message: the Reader (klauspost/compress), and
// compress/flate.
func BenchmarkInflate(b *testing.B) {
	p := jsonMessage()
	var fl Flate
	var cw Writer
	cw.Init(Client, Deflate{On: true, ServerNoContextTakeover: true}, &fl)
	pristine := cw.AppendMessage(nil, OpText, p)
	b.Run("klauspost", func(b *testing.B) {
		in := bytes.Clone(pristine)
		var r Reader
		r.Init(Server, Limits{}, Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}, &fl)
		msg := make([]byte, 0, 4096)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			copy(in, pristine)
			msg = msg[:0]
			if _, _, err := r.Next(in, &msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		f, _, _ := ParseFrame(bytes.Clone(pristine), Server, true, Limits{})
		compressed := append(f.Payload, inflateTail[:]...)
		var src bytes.Reader
		zr := stdflate.NewReader(&src)
		msg := make([]byte, 4096)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(compressed)
			zr.(stdflate.Resetter).Reset(&src, nil)
			if n, _ := io.ReadFull(zr, msg[:len(p)]); n != len(p) {
				b.Fatal(n)
			}
		}
	})
}
