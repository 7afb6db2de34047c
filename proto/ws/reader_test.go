package ws

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// run feeds in to r in pieces of step bytes (all at once when step is 0),
// as a connection's bytes arrive, and describes what came out: "text …",
// "binary …", "frag" (a frame of a message going on), "ping …", "pong …",
// "close CODE REASON", "error CODE", and "incomplete" if bytes are left.
func run(r *Reader, in []byte, step int) []string {
	var buf, msg []byte
	var out []string
	for off := 0; off < len(in) || off == 0; {
		end := len(in)
		if step > 0 {
			end = min(off+step, len(in))
		}
		buf = append(buf, in[off:end]...)
		off = end
		for {
			ev, n, err := r.Next(buf, &msg)
			if err == ErrIncomplete {
				break
			}
			if err != nil {
				return append(out, fmt.Sprintf("error %d", err.(*Error).Code))
			}
			buf = buf[n:]
			switch ev.Op {
			case OpText:
				out = append(out, "text "+string(msg))
				msg = msg[:0]
			case OpBinary:
				out = append(out, "binary "+string(msg))
				msg = msg[:0]
			case OpContinuation:
				out = append(out, "frag")
			case OpPing:
				out = append(out, "ping "+string(ev.Payload))
			case OpPong:
				out = append(out, "pong "+string(ev.Payload))
			case OpClose:
				out = append(out, fmt.Sprintf("close %d %s", ev.Code, ev.Payload))
			}
		}
		if len(in) == 0 {
			break
		}
	}
	if len(buf) > 0 {
		out = append(out, "incomplete")
	}
	return out
}

func newReader(lim Limits) *Reader {
	var r Reader
	r.Init(Server, lim, Deflate{}, nil)
	return &r
}

// RFC 6455 §5.4 and §5.5: fragmentation, control frames between
// fragments, and what may not come when (Autobahn cases 1, 2, 5).
func TestReaderMessages(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want []string
	}{
		{"text", frames(text(true, "Hello")), Limits{}, []string{"text Hello"}},
		{"binary", frames(bin(true, "\x00\xff")), Limits{}, []string{"binary \x00\xff"}},
		{"empty text", frames(text(true, "")), Limits{}, []string{"text "}},
		{"two messages", frames(text(true, "a"), bin(true, "b")), Limits{}, []string{"text a", "binary b"}},
		{"fragments", frames(text(false, "Hel"), cont(false, "lo, "), cont(true, "World")), Limits{},
			[]string{"frag", "frag", "text Hello, World"}},
		{"empty fragments", frames(text(false, ""), cont(false, ""), cont(true, "")), Limits{},
			[]string{"frag", "frag", "text "}},
		{"binary fragments", frames(bin(false, "1"), cont(true, "2")), Limits{}, []string{"frag", "binary 12"}},
		{"ping between fragments", frames(text(false, "a"), ping("p"), cont(true, "b")), Limits{},
			[]string{"frag", "ping p", "text ab"}},
		{"pings and pongs between fragments", frames(text(false, "a"), ping(""), tf{fin: true, op: OpPong, p: "u"}, cont(false, "b"), ping("q"), cont(true, "c")), Limits{},
			[]string{"frag", "ping ", "pong u", "frag", "ping q", "text abc"}},
		{"close", frames(closeFrame(1000, "bye")), Limits{}, []string{"close 1000 bye"}},
		{"close without code", frames(tf{fin: true, op: OpClose}), Limits{}, []string{"close 1005 "}},
		{"close between fragments", frames(text(false, "a"), closeFrame(1001, "")), Limits{}, []string{"frag", "close 1001 "}},
		{"continuation without a message", frames(cont(true, "x")), Limits{}, []string{"error 1002"}},
		{"continuation after a message", frames(text(true, "a"), cont(false, "x")), Limits{}, []string{"text a", "error 1002"}},
		{"text in a message", frames(text(false, "a"), text(true, "b")), Limits{}, []string{"frag", "error 1002"}},
		{"binary in a text message", frames(text(false, "a"), bin(false, "b")), Limits{}, []string{"frag", "error 1002"}},
		{"fragmented ping in a message", frames(text(false, "a"), tf{op: OpPing}), Limits{}, []string{"frag", "error 1002"}},
		{"message at the limit", frames(text(false, "12"), cont(true, "345")), Limits{MaxMessage: 5}, []string{"frag", "text 12345"}},
		{"message over the limit", frames(text(false, "12"), cont(true, "3456")), Limits{MaxMessage: 5}, []string{"frag", "error 1009"}},
		{"frame over the limit", frames(text(true, "123456")), Limits{MaxFrame: 5}, []string{"error 1009"}},
		{"incomplete", frames(text(true, "abc"))[:4], Limits{}, []string{"incomplete"}},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 3} {
			got := run(newReader(tt.lim), bytes.Clone(tt.in), step)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s, step %d:\n got %q\nwant %q", tt.name, step, got, tt.want)
			}
		}
	}
}

// A message over the limit is refused from its frame's header, before its
// payload arrives.
func TestReaderMessageLimitEarly(t *testing.T) {
	r := newReader(Limits{MaxMessage: 100})
	var msg []byte
	if _, _, err := r.Next(text(false, strings.Repeat("a", 60)).bytes(), &msg); err != nil {
		t.Fatal(err)
	}
	header := cont(true, strings.Repeat("b", 60)).bytes()[:6] // 2 bytes and the mask key
	if _, _, err := r.Next(header, &msg); err != errMessageTooBig {
		t.Fatalf("%v", err)
	}
}

// RFC 6455 §8.1 and Autobahn case 6.4: text that stops being UTF-8 is
// refused at the frame that breaks it, not at the end of the message.
func TestReaderUTF8FailFast(t *testing.T) {
	const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	tests := []struct {
		name   string
		frames []tf
		fails  int // index of the frame refused
	}{
		{"invalid sequence in the second frame", []tf{text(false, kosme), cont(false, "\xf4\x90\x80\x80"), cont(true, "edited")}, 1},
		{"lead byte ends the first frame, the second breaks it", []tf{text(false, kosme+"\xf4"), cont(false, "\x90\x80\x80"), cont(true, "edited")}, 1},
		{"an impossible byte in the first frame", []tf{text(false, kosme+"\xff"), cont(true, "x")}, 0},
		{"cut sequence that can't be valid, first frame", []tf{text(false, "\xed\xa0"), cont(true, "\x80")}, 0},
		{"sequence cut at the end of the message", []tf{text(false, "ab"), cont(true, "\xce")}, 1},
		{"single frame ending mid-sequence", []tf{text(true, "ab\xe2\x82")}, 0},
		{"surrogate", []tf{text(true, "\xed\xbf\xbf")}, 0},
		{"overlong", []tf{text(false, "a"), cont(false, "\xc0"), cont(true, "\xaf")}, 1},
	}
	for _, tt := range tests {
		r := newReader(Limits{})
		var msg []byte
		failed := -1
		for i, f := range tt.frames {
			if _, _, err := r.Next(f.bytes(), &msg); err != nil {
				if e, ok := err.(*Error); !ok || e.Code != CloseInvalidPayload {
					t.Fatalf("%s: %v", tt.name, err)
				}
				failed = i
				break
			}
		}
		if failed != tt.fails {
			t.Errorf("%s: refused at frame %d, want %d", tt.name, failed, tt.fails)
		}
	}
}

// Valid text split anywhere, even inside a sequence, is accepted (Autobahn
// case 6.2: one frame per byte).
func TestReaderUTF8Split(t *testing.T) {
	const s = "Hello-µ@ßöäüàá-UTF-8!! κόσμε \U0010ffff \U00010348 \u20ac \ufeff"
	for cut := 0; cut <= len(s); cut++ {
		in := frames(text(false, s[:cut]), cont(true, s[cut:]))
		if got := run(newReader(Limits{}), in, 0); !slices.Equal(got, []string{"frag", "text " + s}) {
			t.Fatalf("cut %d: %q", cut, got)
		}
	}
	var fs []tf
	for i := 0; i < len(s); i++ {
		fs = append(fs, cont(i == len(s)-1, s[i:i+1]))
	}
	fs[0].op = OpText
	got := run(newReader(Limits{}), frames(fs...), 0)
	if got[len(got)-1] != "text "+s {
		t.Fatalf("byte by byte: %q", got[len(got)-1])
	}
}

// canComplete reports whether some bytes can follow b to make it UTF-8:
// past a sequence's second byte, any continuation byte does.
func canComplete(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for c := 0x80; c <= 0xbf; c++ {
		for k := 1; k <= 3; k++ {
			tail := append([]byte{byte(c)}, bytes.Repeat([]byte{0x80}, k-1)...)
			if utf8.Valid(append(bytes.Clone(b), tail...)) {
				return true
			}
		}
	}
	return false
}

// The incremental validator refuses a prefix exactly when no text starts
// with it (the fail-fast rule), however the text is cut.
func TestUTF8State(t *testing.T) {
	inputs := []string{
		"plain ascii", "κόσμε", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xf0\x90\x80\x80", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\x80", "\xbf", "a\x80b", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
		"\xe2\x82", "\xe2\x82\xac\xe2", "\xf0\x9f\x98", "ab\xf0\x9f\x98\x80cd",
	}
	for _, in := range inputs {
		b := []byte(in)
		// Fed whole, each prefix.
		for i := 0; i <= len(b); i++ {
			var s utf8State
			got := s.valid(b[:i])
			if want := canComplete(b[:i]); got != want {
				t.Errorf("%q prefix %d: valid=%v, want %v", in, i, got, want)
			}
			if got && s.complete() != utf8.Valid(b[:i]) {
				t.Errorf("%q prefix %d: complete=%v", in, i, s.complete())
			}
		}
		// Fed one byte at a time, and in two pieces cut anywhere.
		var s utf8State
		failed := len(b) + 1
		for i := range b {
			if !s.valid(b[i : i+1]) {
				failed = i
				break
			}
		}
		firstBad := len(b) + 1
		for i := 1; i <= len(b); i++ {
			if !canComplete(b[:i]) {
				firstBad = i - 1
				break
			}
		}
		if failed != firstBad {
			t.Errorf("%q byte by byte: failed at %d, want %d", in, failed, firstBad)
		}
		for cut := 0; cut <= len(b); cut++ {
			var s utf8State
			ok := s.valid(b[:cut]) && s.valid(b[cut:]) && s.complete()
			if ok != utf8.Valid(b) {
				t.Errorf("%q cut at %d: %v", in, cut, ok)
			}
		}
	}
}

func TestReaderZeroAllocs(t *testing.T) {
	pristine := frames(text(true, "a small message"), text(false, "in "), ping("x"), cont(true, "two frames"), closeFrame(1000, "bye"))
	in := bytes.Clone(pristine)
	var r Reader
	r.Init(Server, Limits{}, Deflate{}, nil)
	msg := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		copy(in, pristine)
		for p := in; len(p) > 0; {
			ev, n, err := r.Next(p, &msg)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Op == OpText {
				msg = msg[:0]
			}
			p = p[n:]
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// A whole small text message in one frame, from a client.
func BenchmarkReaderMessage(b *testing.B) {
	pristine := text(true, "a small message of a few words, as a chat would send").bytes()
	benchmarkReader(b, pristine)
}

// A small text message in three frames, with non-ASCII text cut inside a
// rune between two of them.
func BenchmarkReaderFragmented(b *testing.B) {
	pristine := frames(text(false, "a small message "), cont(false, "in three frames, \xce"), cont(true, "\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"))
	benchmarkReader(b, pristine)
}

func benchmarkReader(b *testing.B, pristine []byte) {
	in := bytes.Clone(pristine)
	var r Reader
	r.Init(Server, Limits{}, Deflate{}, nil)
	msg := make([]byte, 0, 256)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		copy(in, pristine)
		for p := in; len(p) > 0; {
			ev, n, err := r.Next(p, &msg)
			if err != nil {
				b.Fatal(err)
			}
			if ev.Op == OpText {
				msg = msg[:0]
			}
			p = p[n:]
		}
	}
}

// Need tells how much input the frame begun takes, so that a caller with a
// large frame arriving in pieces looks at it once, when it is whole.
func TestReaderNeed(t *testing.T) {
	r := newReader(Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20})
	frame := bin(true, strings.Repeat("x", 70000)).bytes() // 2+8 bytes of length, 4 of mask
	var msg []byte
	for _, have := range []int{1, 9, len(frame) - 1} {
		if _, _, err := r.Next(slices.Clone(frame[:have]), &msg); err != ErrIncomplete {
			t.Fatalf("%d bytes: %v", have, err)
		}
		want := len(frame)
		if have < 14 {
			want = 0 // the header itself is not complete
		}
		if got := r.Need(); got != want {
			t.Fatalf("%d bytes: Need %d, want %d", have, got, want)
		}
	}
	ev, n, err := r.Next(frame, &msg)
	if err != nil || ev.Op != OpBinary || n != len(frame) || len(msg) != 70000 {
		t.Fatalf("whole frame: %v %v %d %d", ev.Op, err, n, len(msg))
	}
	if r.Need() != 0 {
		t.Fatalf("Need %d after the frame was taken", r.Need())
	}
}
