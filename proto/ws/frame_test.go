package ws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// RFC 6455 §5.2: a frame's header and payload, in each length encoding
// (Autobahn case 1), as a server and as a client receives it.
func TestParseFrameValid(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name string
		f    tf
	}{
		{"empty text", text(true, "")},
		{"text", text(true, "Hello")},
		{"125 bytes", bin(true, long[:125])},
		{"126 bytes, 16-bit length", bin(true, long[:126])},
		{"65535 bytes", bin(true, long[:65535])},
		{"65536 bytes, 64-bit length", bin(true, long[:65536])},
		{"70000 bytes", text(true, long)},
		{"not final", text(false, "frag")},
		{"continuation", cont(true, "end")},
		{"16-bit length for 5 bytes", tf{fin: true, op: OpText, p: "hello", lenForm: 126}},
		{"64-bit length for 5 bytes", tf{fin: true, op: OpText, p: "hello", lenForm: 127}},
		{"ping", ping("are you there")},
		{"ping 125 bytes", ping(long[:125])},
		{"pong", tf{fin: true, op: OpPong, p: "yes"}},
		{"close", closeFrame(1000, "bye")},
		{"close without payload", tf{fin: true, op: OpClose}},
	}
	for _, tt := range tests {
		for _, role := range []Role{Server, Client} {
			f := tt.f
			f.unmasked = role == Client
			in := append(f.bytes(), "next"...)
			got, n, err := ParseFrame(in, role, false, Limits{})
			if err != nil {
				t.Fatalf("%s (role %d): %v", tt.name, role, err)
			}
			if n != len(in)-4 {
				t.Errorf("%s: consumed %d of %d", tt.name, n, len(in)-4)
			}
			if got.Fin != f.fin || got.Op != f.op || got.RSV1 || string(got.Payload) != f.p {
				t.Errorf("%s: got fin=%v op=%d rsv1=%v payload %q", tt.name, got.Fin, got.Op, got.RSV1, got.Payload)
			}
		}
	}
}

// A frame with RSV1 when permessage-deflate was negotiated: the first frame
// of a data message (RFC 7692 §6).
func TestParseFrameRSV1(t *testing.T) {
	for _, op := range []Opcode{OpText, OpBinary} {
		in := tf{fin: false, rsv: 0x40, op: op, p: "x"}.bytes()
		f, _, err := ParseFrame(in, Server, true, Limits{})
		if err != nil || !f.RSV1 {
			t.Fatalf("op %d: rsv1=%v err=%v", op, f.RSV1, err)
		}
	}
}

// Every rule of RFC 6455 §5 a single frame can break, with the close code
// it earns (Autobahn cases 2, 3, 4, 5 and 7 for single frames).
func TestParseFrameReject(t *testing.T) {
	tests := []struct {
		name    string
		f       tf
		role    Role
		deflate bool
		lim     Limits
		code    uint16
	}{
		{"RSV1 without deflate", tf{fin: true, rsv: 0x40, op: OpText, p: "x"}, Server, false, Limits{}, CloseProtocolError},
		{"RSV2", tf{fin: true, rsv: 0x20, op: OpText, p: "x"}, Server, true, Limits{}, CloseProtocolError},
		{"RSV3", tf{fin: true, rsv: 0x10, op: OpText, p: "x"}, Server, true, Limits{}, CloseProtocolError},
		{"RSV1 on a continuation", tf{fin: true, rsv: 0x40, op: OpContinuation, p: "x"}, Server, true, Limits{}, CloseProtocolError},
		{"RSV1 on a ping", tf{fin: true, rsv: 0x40, op: OpPing}, Server, true, Limits{}, CloseProtocolError},
		{"RSV1 on a close", tf{fin: true, rsv: 0x40, op: OpClose}, Server, true, Limits{}, CloseProtocolError},
		{"opcode 3", tf{fin: true, op: 3}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 4", tf{fin: true, op: 4}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 5", tf{fin: true, op: 5, p: "x"}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 6", tf{fin: true, op: 6}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 7", tf{fin: true, op: 7}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 11", tf{fin: true, op: 11}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 12", tf{fin: true, op: 12}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 13", tf{fin: true, op: 13}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 14", tf{fin: true, op: 14}, Server, false, Limits{}, CloseProtocolError},
		{"opcode 15", tf{fin: true, op: 15, p: "x"}, Server, false, Limits{}, CloseProtocolError},
		{"fragmented ping", tf{fin: false, op: OpPing, p: "x"}, Server, false, Limits{}, CloseProtocolError},
		{"fragmented close", tf{fin: false, op: OpClose}, Server, false, Limits{}, CloseProtocolError},
		{"ping of 126 bytes", ping(strings.Repeat("x", 126)), Server, false, Limits{}, CloseProtocolError},
		{"pong of 126 bytes", tf{fin: true, op: OpPong, p: strings.Repeat("x", 126)}, Server, false, Limits{}, CloseProtocolError},
		{"unmasked frame to a server", tf{fin: true, op: OpText, p: "x", unmasked: true}, Server, false, Limits{}, CloseProtocolError},
		{"masked frame to a client", text(true, "x"), Client, false, Limits{}, CloseProtocolError},
		{"length with its top bit", tf{fin: true, op: OpBinary, useRaw: true, rawLen: 1 << 63}, Server, false, Limits{}, CloseProtocolError},
		{"frame over MaxFrame", bin(true, "12345"), Server, false, Limits{MaxFrame: 4}, CloseTooBig},
		{"frame over the default MaxFrame", tf{fin: true, op: OpBinary, useRaw: true, rawLen: DefaultMaxFrame + 1}, Server, false, Limits{}, CloseTooBig},
		{"close of one byte", tf{fin: true, op: OpClose, p: "\x03"}, Server, false, Limits{}, CloseProtocolError},
		{"close reason not UTF-8", closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), Server, false, Limits{}, CloseInvalidPayload},
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		tests = append(tests, struct {
			name    string
			f       tf
			role    Role
			deflate bool
			lim     Limits
			code    uint16
		}{fmt.Sprintf("close code %d", code), closeFrame(code, ""), Server, false, Limits{}, CloseProtocolError})
	}
	for _, tt := range tests {
		f := tt.f
		if tt.role == Client && tt.name != "masked frame to a client" {
			f.unmasked = true
		}
		in := f.bytes()
		_, n, err := ParseFrame(in, tt.role, tt.deflate, tt.lim)
		e, ok := err.(*Error)
		if !ok || e.Code != tt.code || n != 0 {
			t.Errorf("%s: n=%d err=%v, want code %d", tt.name, n, err, tt.code)
		}
	}
}

// RFC 6455 §7.4: the codes a close frame may carry (Autobahn case 7.7).
func TestParseFrameCloseCodes(t *testing.T) {
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		f, _, err := ParseFrame(closeFrame(code, "fine").bytes(), Server, false, Limits{})
		if err != nil {
			t.Fatalf("code %d: %v", code, err)
		}
		got, reason, err := ParseClose(f.Payload)
		if got != code || string(reason) != "fine" || err != nil {
			t.Errorf("code %d: got %d %q %v", code, got, reason, err)
		}
	}
	if code, reason, err := ParseClose(nil); code != CloseNoStatus || reason != nil || err != nil {
		t.Errorf("empty close: %d %q %v", code, reason, err)
	}
}

// A frame that breaks a rule in its header is refused as soon as the byte
// that tells has arrived, before its payload: a peer cannot make us buffer
// a frame we will refuse.
func TestParseFrameFailsEarly(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		code uint16
	}{
		{"reserved opcode, first byte", []byte{0x83}, Limits{}, CloseProtocolError},
		{"RSV2, first byte", []byte{0xa1}, Limits{}, CloseProtocolError},
		{"fragmented ping, first byte", []byte{0x09}, Limits{}, CloseProtocolError},
		{"unmasked, second byte", []byte{0x81, 0x05}, Limits{}, CloseProtocolError},
		{"long ping, second byte", []byte{0x89, 0xfe}, Limits{}, CloseProtocolError},
		{"too large, length bytes", []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0}, Limits{}, CloseTooBig},
		{"too large, 16-bit length", []byte{0x82, 0xfe, 0x01, 0x00}, Limits{MaxFrame: 255}, CloseTooBig},
	}
	for _, tt := range tests {
		_, _, err := ParseFrame(tt.in, Server, false, tt.lim)
		if e, ok := err.(*Error); !ok || e.Code != tt.code {
			t.Errorf("%s: %v, want code %d", tt.name, err, tt.code)
		}
	}
}

// Every prefix of a frame is incomplete, and leaves the bytes as they were
// (nothing is unmasked before the frame is whole).
func TestParseFrameIncomplete(t *testing.T) {
	for _, f := range []tf{text(true, "Hello"), bin(true, strings.Repeat("y", 300)), bin(true, strings.Repeat("z", 70000)), closeFrame(1001, "away")} {
		in := f.bytes()
		orig := bytes.Clone(in)
		for i := 0; i < len(in); i++ {
			_, n, err := ParseFrame(in[:i], Server, false, Limits{})
			if err != ErrIncomplete || n != 0 {
				t.Fatalf("prefix %d of %d: n=%d err=%v", i, len(in), n, err)
			}
		}
		if !bytes.Equal(in, orig) {
			t.Fatal("an incomplete frame was modified")
		}
	}
}

// Frames one after another in one buffer are parsed one at a time.
func TestParseFramePipelined(t *testing.T) {
	in := frames(text(false, "a"), ping("p"), cont(true, "b"), closeFrame(1000, ""))
	want := []struct {
		op Opcode
		p  string
	}{{OpText, "a"}, {OpPing, "p"}, {OpContinuation, "b"}, {OpClose, "\x03\xe8"}}
	for i, w := range want {
		f, n, err := ParseFrame(in, Server, false, Limits{})
		if err != nil || f.Op != w.op || string(f.Payload) != w.p {
			t.Fatalf("frame %d: %+v %v", i, f, err)
		}
		in = in[n:]
	}
	if len(in) != 0 {
		t.Fatalf("%d bytes left", len(in))
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{1, 2, 3, 0xff}
	for n := 0; n < 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		want := bytes.Clone(b)
		for i := range want {
			want[i] ^= key[i%4]
		}
		mask(b, key)
		if !bytes.Equal(b, want) {
			t.Fatalf("n=%d: %x, want %x", n, b, want)
		}
	}
}

// appendHeader writes the minimal length encoding, and headerSize agrees.
func TestAppendHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 1 << 40} {
		for _, key := range []*[4]byte{nil, &testKey} {
			h := appendHeader(nil, true, false, OpBinary, n, key)
			if len(h) != headerSize(n, key != nil) {
				t.Fatalf("n=%d masked=%v: %d bytes, headerSize says %d", n, key != nil, len(h), headerSize(n, key != nil))
			}
			role := Client
			if key != nil {
				role = Server
			}
			got, err := parseHeader(h, role, false, 1<<62)
			if err != nil || got.length != n || got.size != len(h) || got.op != OpBinary || !got.fin {
				t.Fatalf("n=%d: %+v %v", n, got, err)
			}
		}
	}
	// Big-endian lengths (RFC 6455 §5.2: network byte order).
	h := appendHeader(nil, true, false, OpBinary, 0x1234, nil)
	if binary.BigEndian.Uint16(h[2:]) != 0x1234 {
		t.Fatalf("%x", h)
	}
}

func TestValidCloseCode(t *testing.T) {
	valid := 0
	for c := 0; c < 1<<16; c++ {
		if ValidCloseCode(uint16(c)) {
			valid++
		}
	}
	// 1000–1003, 1007–1014, 3000–4999.
	if want := 4 + 8 + 2000; valid != want {
		t.Fatalf("%d valid codes, want %d", valid, want)
	}
}

func TestParseFrameZeroAllocs(t *testing.T) {
	pristine := text(true, "a small message of a few words").bytes()
	in := bytes.Clone(pristine)
	bad := tf{fin: true, op: 3}.bytes()
	allocs := testing.AllocsPerRun(100, func() {
		copy(in, pristine)
		if _, _, err := ParseFrame(in, Server, false, Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ParseFrame(bad, Server, false, Limits{}); err == nil {
			t.Fatal("accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func BenchmarkParseFrameMasked(b *testing.B) {
	pristine := text(true, "a small message of a few words, as a chat would send").bytes()
	in := bytes.Clone(pristine)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		copy(in, pristine)
		if _, _, err := ParseFrame(in, Server, false, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFrameUnmasked(b *testing.B) {
	in := tf{fin: true, op: OpText, p: "a small message of a few words, as a chat would send", unmasked: true}.bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseFrame(in, Client, false, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
