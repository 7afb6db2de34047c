package httpenc

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"hash/adler32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestNegotiate(t *testing.T) {
	both := []Coding{Gzip, Deflate}
	all := []Coding{Gzip, Deflate, Brotli}
	for _, c := range []struct {
		ae      []string // field values; nil: no Accept-Encoding
		offered []Coding
		want    Coding
	}{
		{nil, both, None},
		{[]string{""}, both, None},
		{[]string{"gzip"}, both, Gzip},
		{[]string{"deflate"}, both, Deflate},
		{[]string{"GZip"}, both, Gzip},
		{[]string{"x-gzip"}, both, Gzip},
		{[]string{"br, deflate, gzip"}, both, Gzip}, // equal weights: the server's order
		{[]string{"br, deflate, gzip"}, []Coding{Deflate, Gzip}, Deflate},
		{[]string{"gzip, deflate, br"}, all, Brotli},                    // a tie: brotli
		{[]string{"gzip, deflate, br"}, []Coding{Gzip, Brotli}, Brotli}, // wherever it is listed
		{[]string{"gzip, br;q=0.9"}, all, Gzip},                         // a lower weight loses
		{[]string{"gzip;q=0.5, br;q=0.5"}, all, Brotli},
		{[]string{"gzip;q=0.5, br;q=0.6"}, all, Brotli},
		{[]string{"BR"}, all, Brotli},
		{[]string{"br;q=0, gzip"}, all, Gzip},
		{[]string{"br;q=0"}, all, None},
		{[]string{"*"}, all, Brotli},
		{[]string{"gzip;q=0.8, *;q=0.8"}, all, Brotli}, // "*" weighs br: a tie
		{[]string{"gzip, *;q=0.5"}, all, Gzip},
		{[]string{"br"}, []Coding{Gzip}, None},
		{[]string{"gzip;q=0.5, deflate"}, both, Deflate},
		{[]string{"gzip;q=0.5", "deflate;q=0.8"}, both, Deflate}, // several fields
		{[]string{"gzip;q=0"}, both, None},
		{[]string{"gzip ; q=0.000"}, both, None},
		{[]string{"gzip;Q=1.000"}, both, Gzip},
		{[]string{"*"}, both, Gzip},
		{[]string{"*;q=0"}, both, None},
		{[]string{"*;q=0, deflate"}, both, Deflate},
		{[]string{"gzip;q=0, *"}, both, Deflate},
		{[]string{"identity"}, both, None},
		{[]string{"identity;q=0"}, both, None}, // then the identity anyway: no 406
		{[]string{"br"}, both, None},
		{[]string{"gzip;q=2"}, both, None},      // not a weight
		{[]string{"gzip;q=0.1234"}, both, None}, // four decimals
		{[]string{"gzip;q=abc, deflate"}, both, Deflate},
		{[]string{"gzip;level=1"}, both, Gzip}, // another parameter
		{[]string{" , ,gzip,"}, both, Gzip},
		{[]string{"gzip"}, []Coding{Deflate}, None},
		{[]string{"gzip;q=0.5, gzip"}, both, Gzip}, // the first mention counts
	} {
		var values [][]byte
		for _, v := range c.ae {
			values = append(values, []byte(v))
		}
		if got := Negotiate(values, c.offered); got != c.want {
			t.Errorf("Accept-Encoding %q offering %v: %v, want %v", c.ae, c.offered, got.Name(), c.want.Name())
		}
	}
	v := [][]byte{[]byte("br;q=1.0, gzip;q=0.8, deflate;q=0.9, *;q=0.1")}
	if n := testing.AllocsPerRun(100, func() { Negotiate(v, all) }); n != 0 {
		t.Errorf("Negotiate allocates %v times", n)
	}
}

func TestTypeMatches(t *testing.T) {
	p := &Policy{Types: []string{"text/html", "application/json", "image/*"}}
	for ct, want := range map[string]bool{
		"text/html":                   true,
		"Text/HTML; charset=utf-8":    true,
		"text/htmlx":                  false,
		"text/plain":                  false,
		"application/json":            true,
		"image/svg+xml":               true,
		"image":                       false,
		"imagex/png":                  false,
		"":                            false,
		"multipart/form-data; b=x":    false,
		" application/json ; q=1":     true,
		"application/json-seq":        false,
		"application/problem+json":    false,
		"text/html;charset=utf-8;x=y": true,
	} {
		if got := p.TypeMatches([]byte(ct)); got != want {
			t.Errorf("%q: %v, want %v", ct, got, want)
		}
	}
	if (&Policy{Types: []string{"multipart/*"}}).TypeMatches([]byte("multipart/mixed")) {
		t.Error("multipart compressed")
	}
}

func TestHasToken(t *testing.T) {
	for v, want := range map[string]bool{
		"no-transform":             true,
		"max-age=60, No-Transform": true,
		"no-transformx":            false,
		"private, max-age=0":       false,
		"":                         false,
		"no-transform=\"x\"":       true,
	} {
		if HasToken([]byte(v), "no-transform") != want {
			t.Errorf("%q: want %v", v, want)
		}
	}
}

// text returns n bytes of text that compresses like a page would.
func text(n int) []byte {
	words := strings.Fields("the quick brown fox jumps over the lazy dog while luaedge compresses responses for operators who care about bytes")
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n"[r.IntN(2)])
	}
	return b.Bytes()[:n]
}

// decode decodes a whole coded body with the standard library, which
// checks the trailer (CRC-32 and length, or Adler-32).
func decode(t *testing.T, c Coding, body []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch c {
	case Gzip:
		r, err = gzip.NewReader(bytes.NewReader(body))
	case Deflate:
		r, err = zlib.NewReader(bytes.NewReader(body))
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(body))
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return out
}

// levels are the levels of c tried; for brotli, a quality of each of its
// encoders (one pass, two passes, the quick hashers, the chained ones),
// and the highest.
func levels(c Coding) []int {
	if c == Brotli {
		return []int{0, 1, 4, 5, MaxQuality}
	}
	return []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
}

// TestRoundTrip: pieces compressed one by one decode, with the standard
// library (brotli: andybalholm/brotli's reader), to the original, for each
// coding and level, and each piece can be decoded as soon as it is sent
// (nothing waits in a compressor).
func TestRoundTrip(t *testing.T) {
	var e Encoder
	src := text(300 << 10)
	for _, c := range []Coding{Gzip, Deflate, Brotli} {
		for _, level := range levels(c) {
			var s State
			s.Start(c, level)
			var body []byte
			off := 0
			for i, size := range []int{0, 1, 10, 5000, 64 << 10, 100, 200 << 10} {
				piece := src[off : off+min(size, len(src)-off)]
				off += len(piece)
				body = append(body, e.Compress(&s, piece)...)
				// What was sent so far decodes to what was given so far.
				var got []byte
				switch c {
				case Gzip:
					got, _ = io.ReadAll(flate.NewReader(bytes.NewReader(body[10:])))
				case Deflate:
					got, _ = io.ReadAll(flate.NewReader(bytes.NewReader(body[2:])))
				case Brotli:
					got, _ = io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
				}
				if !bytes.Equal(got, src[:off]) {
					t.Fatalf("%s level %d: after piece %d, %d bytes decode, want %d", c.Name(), level, i, len(got), off)
				}
			}
			body = append(body, e.Finish(&s)...)
			if got := decode(t, c, body); !bytes.Equal(got, src[:off]) {
				t.Fatalf("%s level %d: decoded %d bytes, want %d", c.Name(), level, len(got), off)
			}
			if level == 1 && c == Gzip && len(body) > off/2 {
				t.Errorf("gzip level 1: %d bytes for %d of text", len(body), off)
			}
			if s.br != nil {
				t.Fatalf("%s level %d: the response still holds its writer", c.Name(), level)
			}
		}
	}
}

func TestEmptyBody(t *testing.T) {
	var e Encoder
	for _, c := range []Coding{Gzip, Deflate, Brotli} {
		var s State
		s.Start(c, 1)
		if got := decode(t, c, append([]byte(nil), e.Finish(&s)...)); len(got) != 0 {
			t.Errorf("%s: %q", c.Name(), got)
		}
	}
}

// The gzip header says the level; the zlib header's check bits hold.
func TestHeaders(t *testing.T) {
	var e Encoder
	for level := 1; level <= 9; level++ {
		var s State
		s.Start(Deflate, level)
		h := e.Compress(&s, nil)
		if len(h) != 2 || (uint(h[0])<<8|uint(h[1]))%31 != 0 || h[0] != 0x78 {
			t.Errorf("zlib header at level %d: %x", level, h)
		}
		s.Start(Gzip, level)
		h = e.Compress(&s, nil)
		if len(h) != 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
			t.Errorf("gzip header at level %d: %x", level, h)
		}
	}
}

func TestAdler32(t *testing.T) {
	src := text(20000)
	sum := uint32(1)
	for i := 0; i < len(src); i += 777 {
		sum = updateAdler32(sum, src[i:min(i+777, len(src))])
	}
	if want := adler32.Checksum(src); sum != want {
		t.Errorf("%08x, want %08x", sum, want)
	}
}

func TestCompressAllocates(t *testing.T) {
	var e Encoder
	piece := text(10 << 10)
	var s State
	s.Start(Gzip, 1)
	e.Compress(&s, piece) // the compressor and buffer are made once
	if n := testing.AllocsPerRun(50, func() {
		s.Start(Gzip, 1)
		e.Compress(&s, piece)
		e.Finish(&s)
	}); n != 0 {
		t.Errorf("a response allocates %v times", n)
	}
}

// A brotli response borrows a writer for its body and gives it back when
// it ends or is cut; the next response reuses it, and decodes to its own
// body only (nothing of the previous one's window).
func TestBrotliWriters(t *testing.T) {
	var e Encoder
	first, second := text(100<<10), bytes.ToUpper(text(50<<10))
	var s State
	s.Start(Brotli, 4)
	e.Compress(&s, nil)
	if s.br != nil {
		t.Fatal("an empty piece took a writer")
	}
	e.Compress(&s, first[:1000])
	w := s.br
	if w == nil {
		t.Fatal("no writer held after a piece")
	}
	e.Compress(&s, first[1000:])
	e.Release(&s) // cut: the client went away
	if s.br != nil || len(e.brFree[4]) != 1 {
		t.Fatalf("cut response: held %v, %d free", s.br != nil, len(e.brFree[4]))
	}

	s.Start(Brotli, 4)
	var body []byte
	body = append(body, e.Compress(&s, second)...)
	if s.br != w {
		t.Error("the second response did not reuse the free writer")
	}
	body = append(body, e.Finish(&s)...)
	if got := decode(t, Brotli, body); !bytes.Equal(got, second) {
		t.Fatalf("second response: %d bytes decode to %d", len(second), len(got))
	}
	if len(e.brFree[4]) != 1 || len(e.brFree[5]) != 0 {
		t.Errorf("free writers after Finish: %d at quality 4, %d at 5", len(e.brFree[4]), len(e.brFree[5]))
	}

	// Many responses at once: the free list keeps maxBrFree of them.
	states := make([]State, maxBrFree+3)
	for i := range states {
		states[i].Start(Brotli, 4)
		e.Compress(&states[i], first[:100])
	}
	for i := range states {
		e.Release(&states[i])
	}
	if len(e.brFree[4]) != maxBrFree {
		t.Errorf("%d free writers kept, want %d", len(e.brFree[4]), maxBrFree)
	}
}

func BenchmarkCompress10KiB(b *testing.B) {
	var e Encoder
	piece := text(10 << 10)
	var s State
	b.SetBytes(int64(len(piece)))
	b.ReportAllocs()
	for b.Loop() {
		s.Start(Gzip, 1)
		e.Compress(&s, piece)
		e.Finish(&s)
	}
}

// BenchmarkCodings: the CPU per byte of each coding at the levels that
// matter, on a 256 KiB text body sent in 16 KiB pieces (each flushed), as
// docs/config.md reports it (MB/s, and the ratio of output to input).
func BenchmarkCodings(b *testing.B) {
	src := text(256 << 10)
	for _, c := range []struct {
		coding Coding
		level  int
	}{{Gzip, 1}, {Gzip, 6}, {Brotli, 1}, {Brotli, 2}, {Brotli, 4}, {Brotli, 5}} {
		b.Run(fmt.Sprintf("%s-%d", c.coding.Name(), c.level), func(b *testing.B) {
			var e Encoder
			var s State
			out := 0
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				s.Start(c.coding, c.level)
				out = 0
				for p := src; len(p) > 0; p = p[min(16<<10, len(p)):] {
					out += len(e.Compress(&s, p[:min(16<<10, len(p))]))
				}
				out += len(e.Finish(&s))
			}
			b.ReportMetric(float64(out)/float64(len(src)), "ratio")
		})
	}
}
