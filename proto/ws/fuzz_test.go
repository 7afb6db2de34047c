package ws

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSetup reads the fuzzer's flags byte: which role receives, whether
// permessage-deflate was negotiated (and whether the peer keeps its
// context), and small limits that the fuzzer can reach.
func fuzzSetup(flags byte) (role Role, d Deflate, lim Limits) {
	role = Role(flags & 1)
	if flags&2 != 0 {
		d = Deflate{On: true, ServerNoContextTakeover: flags&8 == 0, ClientNoContextTakeover: flags&8 == 0}
	}
	if flags&4 != 0 {
		lim = Limits{MaxFrame: 100, MaxMessage: 300}
	}
	return
}

// outcome describes a ParseFrame result, to compare two of them.
func outcome(f Frame, n int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("n=%d fin=%v rsv1=%v op=%d %q", n, f.Fin, f.RSV1, f.Op, f.Payload)
}

// peerOf returns the role of the other end.
func peerOf(role Role) Role {
	if role == Server {
		return Client
	}
	return Server
}

func FuzzFrame(f *testing.F) {
	for _, fr := range []tf{
		text(true, "Hello"), text(false, "frag"), cont(true, "end"), ping("p"), closeFrame(1000, "bye"),
		bin(true, strings.Repeat("x", 130)), tf{fin: true, op: OpText, p: "hello", lenForm: 127},
		tf{fin: true, rsv: 0x40, op: OpText, p: "\xf2\x48\xcd\xc9\xc9\x07\x00"}, tf{fin: true, op: OpClose, p: "\x03"},
		closeFrame(1005, ""), tf{fin: true, op: 11}, tf{fin: false, op: OpPing},
	} {
		f.Add(fr.bytes(), byte(0))
		f.Add(fr.bytes(), byte(2))
	}
	f.Add([]byte("\x81\x05Hello"), byte(1))
	f.Fuzz(func(t *testing.T, in []byte, flags byte) {
		role, d, lim := fuzzSetup(flags)
		maxFrame, _ := lim.values()
		buf := bytes.Clone(in)
		fr, n, err := ParseFrame(buf, role, d.On, lim)
		want := outcome(fr, n, err)
		switch {
		case err == nil:
			if n <= 0 || n > len(in) || len(fr.Payload) > maxFrame {
				t.Fatalf("n=%d of %d, payload %d", n, len(in), len(fr.Payload))
			}
			if fr.Op.IsControl() && (!fr.Fin || len(fr.Payload) > MaxControlPayload) || fr.RSV1 && (!d.On || fr.Op.IsControl() || fr.Op == OpContinuation) {
				t.Fatalf("frame breaks a rule: %s", want)
			}
			if fr.Op == OpClose {
				if code, reason, err := ParseClose(fr.Payload); err != nil || code != CloseNoStatus && !ValidCloseCode(code) || !utf8.Valid(reason) {
					t.Fatalf("close %d %q %v", code, reason, err)
				}
			}
			// Written again as the peer would, it parses the same.
			var w Writer
			w.Init(peerOf(role), Deflate{}, nil)
			again := w.appendFrame(nil, fr.Fin, fr.RSV1, fr.Op, fr.Payload)
			fr2, n2, err2 := ParseFrame(again, role, d.On, lim)
			if got := outcome(fr2, n2, err2); got != outcome(fr, len(again), nil) {
				t.Fatalf("written again: %s, want %s", got, want)
			}
		case err == ErrIncomplete:
			if n != 0 || !bytes.Equal(buf, in) {
				t.Fatalf("incomplete: n=%d, input changed", n)
			}
		default:
			e, ok := err.(*Error)
			if !ok || n != 0 || e.Code != CloseProtocolError && e.Code != CloseInvalidPayload && e.Code != CloseTooBig {
				t.Fatalf("n=%d err=%#v", n, err)
			}
		}
		// Bytes arriving one at a time never disagree with the whole: the
		// frame is incomplete until its last byte, and an error once told
		// stays the same.
		decided := false
		for i := 0; i <= len(in) && i <= 4096; i++ {
			pf, pn, perr := ParseFrame(bytes.Clone(in[:i]), role, d.On, lim)
			if perr == ErrIncomplete {
				if decided {
					t.Fatalf("prefix %d incomplete after a decision", i)
				}
				continue
			}
			decided = true
			if got := outcome(pf, pn, perr); got != want {
				t.Fatalf("prefix %d: %s, want %s", i, got, want)
			}
		}
	})
}

func FuzzMessage(f *testing.F) {
	seeds := [][]byte{
		frames(text(false, "Hel"), ping("p"), cont(true, "lo")),
		frames(text(false, "\xce"), cont(true, "\xba")),
		frames(text(false, "a"), cont(false, "\xf4\x90"), cont(true, "x")),
		frames(cont(true, "x")),
		frames(text(false, "a"), text(true, "b")),
		frames(tf{fin: true, rsv: 0x40, op: OpText, p: "\xf2\x48\xcd\xc9\xc9\x07\x00"}, tf{fin: true, rsv: 0x40, op: OpText, p: "\xf2\x00\x11\x00\x00"}),
		frames(tf{rsv: 0x40, op: OpText, p: "\xf2\x48\xcd"}, ping(""), cont(true, "\xc9\xc9\x07\x00")),
		frames(closeFrame(1000, "bye"), text(true, "after")),
	}
	for _, s := range seeds {
		f.Add(s, byte(2))
		f.Add(s, byte(6))
	}
	var fl Flate
	f.Fuzz(func(t *testing.T, in []byte, flags byte) {
		role, d, lim := fuzzSetup(flags)
		_, maxMessage := lim.values()
		read := func(step int) []string {
			var r Reader
			r.Init(role, lim, d, &fl)
			return run(&r, bytes.Clone(in), step)
		}
		whole := read(0)
		for _, e := range whole {
			kind, rest, _ := strings.Cut(e, " ")
			switch kind {
			case "text":
				if !utf8.ValidString(rest) {
					t.Fatalf("text not UTF-8: %q", rest)
				}
				fallthrough
			case "binary":
				if len(rest) > maxMessage {
					t.Fatalf("message of %d bytes", len(rest))
				}
			}
		}
		// However the bytes arrive, the same comes out.
		for _, step := range []int{1, 3, int(flags>>4) + 1} {
			if got := read(step); !slices.Equal(got, whole) {
				t.Fatalf("step %d:\n got %q\nwant %q", step, got, whole)
			}
		}
	})
}

// FuzzInflate compares the Reader's inflating with compress/flate's, and
// checks that what the Writer compresses comes back.
func FuzzInflate(f *testing.F) {
	var buf bytes.Buffer
	zw, _ := stdflate.NewWriter(&buf, 9)
	zw.Write(make([]byte, 5000))
	zw.Flush()
	f.Add(buf.Bytes()[:buf.Len()-4], []byte("Hello"), byte(0))
	f.Add([]byte("\xf2\x48\xcd\xc9\xc9\x07\x00"), []byte(nil), byte(1))
	f.Add([]byte("\xf2\x00\x11\x00\x00"), []byte("Hello"), byte(1))
	f.Add([]byte("\x00\x05\x00\xfa\xffHello\x00"), []byte(nil), byte(0))
	f.Add([]byte("\xf3\x48\xcd\xc9\xc9\x07\x00\x00"), []byte(nil), byte(0))
	// One Flate for every input, as a loop's serves every message: nothing
	// of one may show in the next.
	var fl Flate
	var src bytes.Reader
	std := stdflate.NewReader(&src)
	f.Fuzz(func(t *testing.T, p, dict []byte, flags byte) {
		const limit = 1000
		if len(dict) > 1<<15 {
			dict = dict[len(dict)-1<<15:]
		}
		got, err := fl.inflate(nil, p, dict, limit)
		src.Reset(append(bytes.Clone(p), inflateTail[:]...))
		std.(stdflate.Resetter).Reset(&src, dict)
		want, stdErr := io.ReadAll(io.LimitReader(std, limit+1))
		switch {
		case err == nil:
			if stdErr != nil || !bytes.Equal(got, want) {
				t.Fatalf("got %q, compress/flate %q %v", got, want, stdErr)
			}
		case err == errInflateTooBig:
			if len(got) != limit+1 || !bytes.Equal(got, want) {
				t.Fatalf("too big at %d, compress/flate %d %v", len(got), len(want), stdErr)
			}
		case err == errInflate:
			if stdErr == nil && len(want) <= limit {
				t.Fatalf("refused what compress/flate inflates to %q", want)
			}
		default:
			t.Fatalf("%v", err)
		}
		// What our compressor makes of p, with any window, inflates back.
		bits := 8 + int(flags%8)
		c := fl.compress(nil, p, bits)
		back, err := fl.inflate(nil, c, dict, max(len(p), 1))
		if err != nil || !bytes.Equal(back, p) {
			t.Fatalf("window bits %d: %d bytes back of %d, %v", bits, len(back), len(p), err)
		}
	})
}

// FuzzNegotiate checks that an agreement is one we can keep, and that our
// answer, read as an offer, leads to the same agreement.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate", "permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
		`permessage-deflate; server_max_window_bits="9", permessage-deflate`,
		"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=15",
		`foo; bar="a, permessage-deflate"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, offer string) {
		d := negotiateDeflate([][]byte{[]byte(offer)})
		if !d.On {
			if d != (Deflate{}) {
				t.Fatalf("%+v", d)
			}
			return
		}
		for _, bits := range []uint8{d.ServerMaxWindowBits, d.ClientMaxWindowBits} {
			if bits != 0 && (bits < 8 || bits > 15) {
				t.Fatalf("window bits %d", bits)
			}
		}
		if !d.ServerNoContextTakeover {
			t.Fatal("server keeps its context")
		}
		answer := d.AppendExtension(nil)
		if again := negotiateDeflate([][]byte{answer}); again != d {
			t.Fatalf("%q: %+v, then %+v", answer, d, again)
		}
	})
}
