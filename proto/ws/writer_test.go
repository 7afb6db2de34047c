package ws

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func newWriter(role Role) *Writer {
	var w Writer
	w.Init(role, Deflate{}, nil)
	return &w
}

// The examples of RFC 6455 §5.7, as a server sends them.
func TestWriterRFCExamples(t *testing.T) {
	w := newWriter(Server)
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"text", w.AppendMessage(nil, OpText, []byte("Hello")), "\x81\x05Hello"},
		{"fragments", w.AppendFrame(w.AppendFrame(nil, false, OpText, []byte("Hel")), true, OpContinuation, []byte("lo")), "\x01\x03Hel\x80\x02lo"},
		{"ping", w.AppendPing(nil, []byte("Hello")), "\x89\x05Hello"},
		{"pong", w.AppendPong(nil, []byte("Hello")), "\x8a\x05Hello"},
		{"256 bytes", w.AppendMessage(nil, OpBinary, make([]byte, 256))[:4], "\x82\x7e\x01\x00"},
		{"64 KiB", w.AppendMessage(nil, OpBinary, make([]byte, 65536))[:10], "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"},
		{"close", w.AppendClose(nil, CloseNormal, "bye"), "\x88\x05\x03\xe8bye"},
		{"close without code", w.AppendClose(nil, CloseNoStatus, "ignored"), "\x88\x00"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// A client masks every frame, with a new key each time (RFC 6455 §5.3),
// and a server reads them back.
func TestWriterClientMasks(t *testing.T) {
	w := newWriter(Client)
	var out []byte
	out = w.AppendMessage(out, OpText, []byte("Hello"))
	out = w.AppendMessage(out, OpText, []byte("Hello"))
	out = w.AppendFrame(out, false, OpBinary, []byte("a"))
	out = w.AppendPing(out, []byte("p"))
	out = w.AppendFrame(out, true, OpContinuation, []byte(strings.Repeat("b", 300)))
	out = w.AppendClose(out, CloseGoingAway, "")
	if bytes.Contains(out, []byte("Hello")) {
		t.Fatal("payload sent in clear")
	}
	// Two frames of the same message differ: their keys do.
	if bytes.Equal(out[:11], out[11:22]) {
		t.Fatal("same key twice")
	}
	got := run(newReader(Limits{}), out, 0)
	want := []string{"text Hello", "text Hello", "frag", "ping p", "binary a" + strings.Repeat("b", 300), "close 1001 "}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// What a server writes, a client reads.
func TestWriterServerToClient(t *testing.T) {
	w := newWriter(Server)
	var out []byte
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 100000} {
		out = w.AppendMessage(out, OpBinary, bytes.Repeat([]byte{'z'}, n))
	}
	var r Reader
	r.Init(Client, Limits{}, Deflate{}, nil)
	got := run(&r, out, 0)
	for i, n := range []int{0, 1, 125, 126, 65535, 65536, 100000} {
		if got[i] != "binary "+strings.Repeat("z", n) {
			t.Fatalf("message %d: %d bytes", i, len(got[i]))
		}
	}
}

// A close reason too long for a control frame is cut at a rune boundary.
func TestAppendCloseLongReason(t *testing.T) {
	w := newWriter(Server)
	out := w.AppendClose(nil, CloseGoingAway, strings.Repeat("é", 100))
	f, _, err := ParseFrame(out, Client, false, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	code, reason, err := ParseClose(f.Payload)
	if err != nil || code != CloseGoingAway || string(reason) != strings.Repeat("é", 61) {
		t.Fatalf("%d %q %v", code, reason, err)
	}
}

func TestAppendControlTooLong(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	newWriter(Server).AppendPing(nil, make([]byte, MaxControlPayload+1))
}

func TestWriterZeroAllocs(t *testing.T) {
	for _, role := range []Role{Server, Client} {
		w := newWriter(role)
		out := make([]byte, 0, 1024)
		p := []byte("a small message of a few words")
		allocs := testing.AllocsPerRun(100, func() {
			out = w.AppendMessage(out[:0], OpText, p)
			out = w.AppendPong(out, p)
			out = w.AppendClose(out, CloseNormal, "bye")
		})
		if allocs != 0 {
			t.Fatalf("role %d: %v allocations", role, allocs)
		}
	}
}
