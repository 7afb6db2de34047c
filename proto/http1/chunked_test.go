package http1

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// chunkResult is everything a decoder run produces, comparable with ==.
type chunkResult struct {
	data     string
	consumed int
	done     bool
	status   int
	trailers string
}

func (c chunkResult) String() string {
	return fmt.Sprintf("data=%q consumed=%d done=%v status=%d trailers=%s", c.data, c.consumed, c.done, c.status, c.trailers)
}

// decodePieces feeds pieces in order as an event loop would, keeping the
// unconsumed rest of each piece in front of the next one.
func decodePieces(d *ChunkedDecoder, pieces [][]byte) chunkResult {
	var res chunkResult
	var data []byte
	var pending []byte
	for _, p := range pieces {
		pending = append(pending, p...)
		for len(pending) > 0 {
			n, chunk, done, err := d.Next(pending)
			if n < 0 || n > len(pending) || len(chunk) > n {
				panic(fmt.Sprintf("Next returned n=%d data=%d for %d bytes", n, len(chunk), len(pending)))
			}
			data = append(data, chunk...)
			res.consumed += n
			pending = pending[n:]
			if err != nil || done {
				res.done, res.status = done, status(err)
				res.data = string(data)
				res.trailers = trailerString(d)
				return res
			}
			if n == 0 {
				break
			}
		}
	}
	res.data = string(data)
	res.status = -1 // ran out of input
	res.trailers = trailerString(d)
	return res
}

func trailerString(d *ChunkedDecoder) string {
	var sb strings.Builder
	for _, h := range d.Trailers() {
		fmt.Fprintf(&sb, "[%s: %s]", h.Name, h.Value)
	}
	return sb.String()
}

func decodeWhole(in []byte) chunkResult {
	var d ChunkedDecoder
	return decodePieces(&d, [][]byte{in})
}

func decodeBytewise(in []byte) chunkResult {
	var d ChunkedDecoder
	pieces := make([][]byte, len(in))
	for i := range in {
		pieces[i] = in[i : i+1]
	}
	return decodePieces(&d, pieces)
}

// RFC 9112 §7.1: well-formed chunked bodies.
func TestChunkedValid(t *testing.T) {
	tests := []struct {
		name, in, data, trailers string
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"several chunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", "hello world", ""},
		{"empty body", "0\r\n\r\n", "", ""},
		{"hex sizes, both cases", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", strings.Repeat("0123456789", 2), ""},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
		{"data containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", ""},
		{"chunk-ext (§7.1.1)", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", ""},
		{"chunk-ext quoted", "5;a=\"b c;\\\"d\"\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"chunk-ext with BWS", "5 ; a = b\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"several chunk-exts", "5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"trailers (§7.1.2)", "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:  abc \t\r\n\r\n", "hello", "[Expires: never][X-Sum: abc]"},
		{"empty trailer value", "0\r\nX:\r\n\r\n", "", "[X: ]"},
		// §2.2: framing lines may end in a bare LF, as HAProxy reads them.
		{"bare LFs everywhere", "5\nhello\n0\nX: a\n\n", "hello", "[X: a]"},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", "hello", ""},
		{"bare LF after ext", "5;a=b\nhello\r\n0;c\n\r\n", "hello", ""},
		{"bare LF after quoted ext", "5;a=\"b\"\nhello\r\n0\r\n\r\n", "hello", ""},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", "hello", ""},
		{"data ending in LF, then bare LF", "2\r\n\n\n\n0\n\n", "\n\n", ""},
		{"trailer ending in bare LF", "0\r\nX: a \nY: b\r\n\r\n", "", "[X: a][Y: b]"},
		{"bare LF ending trailers", "0\r\nX: a\r\n\n", "", "[X: a]"},
		{"bare LF ending an empty trailer section", "0\r\n\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in + "GET / HTTP/1.1\r\n") // a pipelined request follows
			want := chunkResult{data: tt.data, consumed: len(tt.in), done: true, trailers: tt.trailers}
			if got := decodeWhole(in); got != want {
				t.Errorf("whole:\n got %v\nwant %v", got, want)
			}
			if got := decodeBytewise(in); got != want {
				t.Errorf("bytewise:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// Bad framing is a 400; these are the chunked smuggling vectors.
func TestChunkedReject(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty size", "\r\nhello\r\n0\r\n\r\n"},
		{"non-hex size", "g\r\nhello\r\n0\r\n\r\n"},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
		{"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
		{"leading space", " 5\r\nhello\r\n0\r\n\r\n"},
		{"trailing space without ext", "5 \r\nhello\r\n0\r\n\r\n"},
		{"size over 2^62", "4000000000000001\r\n"},
		{"size overflowing 64 bits", "10000000000000000\r\n"},
		{"bare CR after size", "5\rhello\r\n0\r\n\r\n"},
		{"bare CR in quoted ext", "5;a=\"b\rc\"\r\nhello\r\n0\r\n\r\n"},
		{"bare LF in quoted ext", "5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n"},
		{"trailing space and bare LF without ext", "5 \nhello\n0\n\n"},
		{"CR CR LF after size", "5\r\r\nhello\r\n0\r\n\r\n"},
		{"CR CR LF after data", "5\r\nhello\r\r\n0\r\n\r\n"},
		{"CTL in ext", "5;a\x01b\r\nhello\r\n0\r\n\r\n"},
		{"NUL in ext", "5;a=\x00\r\nhello\r\n0\r\n\r\n"},
		{"bad char in ext", "5;a@b\r\nhello\r\n0\r\n\r\n"},
		{"data longer than size", "5\r\nhello!\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhello0\r\n\r\n"},
		{"bare CR after data", "5\r\nhello\r0\r\n\r\n"},
		{"size line too long", strings.Repeat("0", MaxChunkLine+1) + "5\r\nhello\r\n"},
		{"ext too long", "5;" + strings.Repeat("a", MaxChunkLine) + "\r\nhello\r\n"},
		{"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"},
		{"trailer starting with space", "0\r\n X: a\r\n\r\n"},
		{"trailer space before colon", "0\r\nX : a\r\n\r\n"},
		{"trailer without colon", "0\r\nXa\r\n\r\n"},
		{"trailer empty name", "0\r\n: a\r\n\r\n"},
		{"trailer NUL in value", "0\r\nX: a\x00\r\n\r\n"},
		{"trailer bare CR", "0\r\nX: a\rb\r\n\r\n"},
		{"trailer bare LF in name", "0\r\nX\n: a\r\n\r\n"},
		{"trailer obs-fold after bare LF", "0\nX: a\n b\n\n"},
		{"bare CR ending trailers", "0\r\n\rX"},
		{"bare CR after a bare LF trailer", "0\nX: a\n\rX"},
		{"trailer section too large", "0\r\nX: " + strings.Repeat("v", MaxTrailerBytes) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := decodeWhole([]byte(tt.in))
			if whole.status != 400 || whole.done {
				t.Fatalf("whole: %v", whole)
			}
			if got := decodeBytewise([]byte(tt.in)); got != whole {
				t.Errorf("bytewise:\n got %v\nwant %v", got, whole)
			}
		})
	}
}

func TestChunkedLimitsExact(t *testing.T) {
	for _, end := range []string{"\r\n", "\n"} {
		line := strings.Repeat("0", MaxChunkLine-1) + "5" + end + "hello\r\n0\r\n\r\n"
		if got := decodeWhole([]byte(line)); got.status != 0 || got.data != "hello" {
			t.Errorf("size line of exactly %d bytes ending %q: %v", MaxChunkLine, end, got)
		}
		line = "5;" + strings.Repeat("a", MaxChunkLine-2) + end + "hello\r\n0\r\n\r\n"
		if got := decodeWhole([]byte(line)); got.status != 0 || got.data != "hello" {
			t.Errorf("ext line of exactly %d bytes ending %q: %v", MaxChunkLine, end, got)
		}
		line = "5;" + strings.Repeat("a", MaxChunkLine-1) + end
		if got := decodeWhole([]byte(line)); got.status != 400 {
			t.Errorf("ext line of %d bytes ending %q: %v", MaxChunkLine+1, end, got)
		}
	}
	trailer := "0\nX: " + strings.Repeat("v", MaxTrailerBytes-len("X: \n\n")) + "\n\n"
	if got := decodeWhole([]byte(trailer)); got.status != 0 || !got.done {
		t.Errorf("trailer section of exactly %d bytes with bare LFs: status %d", MaxTrailerBytes, got.status)
	}
	if got := decodeWhole([]byte("0\nX: v" + trailer[len("0\nX: "):])); got.status != 400 {
		t.Errorf("trailer section of %d bytes with bare LFs: %v", MaxTrailerBytes+1, got.status)
	}
	trailer = "0\r\nX: " + strings.Repeat("v", MaxTrailerBytes-len("X: \r\n\r\n")) + "\r\n\r\n"
	if got := decodeWhole([]byte(trailer)); got.status != 0 || !got.done {
		t.Errorf("trailer section of exactly %d bytes: status %d", MaxTrailerBytes, got.status)
	}
	if got := decodeWhole([]byte("4000000000000000\r\n")); got.status != -1 {
		t.Errorf("size 2^62: %v", got)
	}
}

func TestChunkedIncomplete(t *testing.T) {
	in := "5;x=\"y\"\r\nhello\r\n0\r\nA: b\r\n\r\n"
	for i := 0; i < len(in); i++ {
		if got := decodeWhole([]byte(in[:i])); got.status != -1 || got.done || got.consumed != i {
			t.Fatalf("prefix %q: %v", in[:i], got)
		}
	}
	var d ChunkedDecoder
	if n, data, done, err := d.Next(nil); n != 0 || data != nil || done || err != nil {
		t.Errorf("Next(nil) = %d %q %v %v", n, data, done, err)
	}
}

// Random splits of a body give the same data as the whole.
func TestChunkedRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		var body, want []byte
		for c := rng.IntN(6); c > 0; c-- {
			chunk := make([]byte, rng.IntN(300)+1)
			for i := range chunk {
				chunk[i] = byte(rng.IntN(256))
			}
			want = append(want, chunk...)
			body = fmt.Appendf(body, "%x", len(chunk))
			if rng.IntN(3) == 0 {
				body = append(body, ";ext=\"v\""...)
			}
			body = append(body, "\r\n"...)
			body = append(body, chunk...)
			body = append(body, "\r\n"...)
		}
		body = append(body, "0\r\n"...)
		if rng.IntN(2) == 0 {
			body = append(body, "Trailer-A: 1\r\n"...)
		}
		body = append(body, "\r\n"...)
		whole := decodeWhole(body)
		if whole.data != string(want) || !whole.done || whole.consumed != len(body) {
			t.Fatalf("whole: %v", whole)
		}
		var pieces [][]byte
		for rest := body; len(rest) > 0; {
			n := min(rng.IntN(40)+1, len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		var d ChunkedDecoder
		d.Reset()
		if got := decodePieces(&d, pieces); got != whole {
			t.Fatalf("split:\n got %v\nwant %v", got, whole)
		}
		if got := decodeBytewise(body); got != whole {
			t.Fatalf("bytewise:\n got %v\nwant %v", got, whole)
		}
	}
}

func TestChunkedSticky(t *testing.T) {
	var d ChunkedDecoder
	if _, _, _, err := d.Next([]byte("z")); status(err) != 400 {
		t.Fatal(err)
	}
	if n, _, _, err := d.Next([]byte("5\r\n")); n != 0 || status(err) != 400 {
		t.Errorf("after error: %d, %v", n, err)
	}
	d.Reset()
	if got := decodePieces(&d, [][]byte{[]byte("1\r\na\r\n0\r\n\r\n")}); got.data != "a" || !got.done {
		t.Errorf("after Reset: %v", got)
	}
	if n, _, done, err := d.Next([]byte("more")); n != 0 || !done || err != nil {
		t.Errorf("after done: %d %v %v", n, done, err)
	}
}

// Trailers stay valid while later trailer lines grow the decoder's buffer,
// and do not alias the caller's input.
func TestChunkedTrailersOwned(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("0\r\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&sb, "T%d: %s\r\n", i, strings.Repeat("x", i))
	}
	sb.WriteString("\r\n")
	in := []byte(sb.String())
	var d ChunkedDecoder
	got := decodePieces(&d, [][]byte{in})
	clear(in)
	if !got.done || len(d.Trailers()) != 50 {
		t.Fatalf("%v", got)
	}
	for i, h := range d.Trailers() {
		if string(h.Name) != fmt.Sprintf("T%d", i) || !bytes.Equal(h.Value, bytes.Repeat([]byte("x"), i)) {
			t.Fatalf("trailer %d = %q: %q", i, h.Name, h.Value)
		}
	}
}

// Data spans alias the input and cannot be appended over.
func TestChunkedDataAliases(t *testing.T) {
	in := []byte("5\r\nhello\r\n0\r\n\r\n")
	var d ChunkedDecoder
	n, data, _, _ := d.Next(in)
	if n != 8 || string(data) != "hello" || &data[0] != &in[3] || cap(data) != 5 {
		t.Errorf("n=%d data=%q cap=%d", n, data, cap(data))
	}
}

func BenchmarkChunked(b *testing.B) {
	var body []byte
	chunk := bytes.Repeat([]byte("x"), 1024)
	for i := 0; i < 16; i++ {
		body = AppendChunk(body, chunk)
	}
	body = AppendLastChunk(body)
	var d ChunkedDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		in := body
		for len(in) > 0 {
			n, _, done, err := d.Next(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
			if done || n == 0 {
				break
			}
		}
	}
}

// Small chunks, where framing dominates.
func BenchmarkChunkedSmall(b *testing.B) {
	var body []byte
	for i := 0; i < 64; i++ {
		body = AppendChunk(body, []byte("0123456789abcdef"))
	}
	body = AppendLastChunk(body)
	var d ChunkedDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		in := body
		for len(in) > 0 {
			n, _, done, err := d.Next(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
			if done || n == 0 {
				break
			}
		}
	}
}
