package http1

import (
	"bytes"
	"testing"
)

// fuzzLimits are small enough for the fuzzer to reach every limit.
var fuzzLimits = []Limits{{}, {MaxRequestLine: 24, MaxHeaderBytes: 96, MaxHeaders: 3}}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		typicalRequest,
		"GET / HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
		"\nPOST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n0\n\n",
	} {
		f.Add([]byte(s))
	}
	for _, tt := range rejectTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lim := range fuzzLimits {
			var r Request
			n, err := r.Parse(in, lim)
			want := summary(&r, n, err)
			switch {
			case err == nil:
				_, maxHead, maxFields := lim.values()
				if n <= 0 || n > len(in) || n != r.HeadLen || n > maxHead || len(r.Headers) > maxFields {
					t.Fatalf("n=%d len=%d HeadLen=%d headers=%d", n, len(in), r.HeadLen, len(r.Headers))
				}
				if !endsHead(in[:n]) {
					t.Fatalf("head does not end in an empty line: %q", in[:n])
				}
				checkHeadInvariants(t, &r)
				// With every bare LF made a CRLF, the head means the same.
				crlf := crlfLines(in[:n])
				var cr Request
				if cn, cerr := cr.Parse(crlf, Limits{MaxRequestLine: 1 << 20, MaxHeaderBytes: 1 << 20, MaxHeaders: maxFields}); cerr != nil || cn != len(crlf) {
					t.Fatalf("with CRLFs %q: %d, %v", crlf, cn, cerr)
				}
				if got, want := headSummary(&cr), headSummary(&r); got != want {
					t.Fatalf("with CRLFs:\n got %s\nwant %s", got, want)
				}
				// The head alone parses the same.
				var again Request
				n2, err2 := again.Parse(in[:n], lim)
				if got := summary(&again, n2, err2); got != want {
					t.Fatalf("head alone:\n got %s\nwant %s", got, want)
				}
			case err == ErrIncomplete:
				if n != 0 {
					t.Fatalf("n=%d with ErrIncomplete", n)
				}
			default:
				e, ok := err.(*Error)
				if !ok || n != 0 {
					t.Fatalf("n=%d err=%#v", n, err)
				}
				switch e.Status {
				case 400, 414, 431, 501, 505:
				default:
					t.Fatalf("status %d", e.Status)
				}
			}
			// Bytes arriving one at a time never disagree with the whole.
			decided := false
			for i := 0; i <= len(in); i++ {
				var p Request
				pn, perr := p.Parse(in[:i], lim)
				if perr == ErrIncomplete {
					if decided {
						t.Fatalf("prefix %d incomplete after a decision", i)
					}
					continue
				}
				decided = true
				if got := summary(&p, pn, perr); got != want {
					t.Fatalf("prefix %d of %q:\n got %s\nwant %s", i, in, got, want)
				}
			}
		}
	})
}

// endsHead reports whether a parsed head ends in an empty line: CRLF or a
// bare LF after the last line's end.
func endsHead(b []byte) bool {
	return bytes.HasSuffix(b, []byte("\n\n")) || bytes.HasSuffix(b, []byte("\n\r\n"))
}

// checkHeadInvariants asserts what a successful Parse promises.
func checkHeadInvariants(t *testing.T, r *Request) {
	t.Helper()
	if !ValidHeaderName(r.Method) {
		t.Fatalf("method %q", r.Method)
	}
	for _, h := range r.Headers {
		if !ValidHeaderName(h.Name) || !ValidHeaderValue(h.Value) {
			t.Fatalf("field %q: %q", h.Name, h.Value)
		}
		if len(h.Value) > 0 && (h.Value[0] == ' ' || h.Value[0] == '\t' ||
			h.Value[len(h.Value)-1] == ' ' || h.Value[len(h.Value)-1] == '\t') {
			t.Fatalf("untrimmed value %q", h.Value)
		}
	}
	if r.Major != 1 || r.Minor > 1 {
		t.Fatalf("version %d.%d", r.Major, r.Minor)
	}
	if r.Minor == 1 && r.Host == nil {
		t.Fatal("HTTP/1.1 without Host")
	}
	if r.Chunked && r.ContentLength != -1 {
		t.Fatal("chunked with Content-Length")
	}
	if r.Chunked && r.Minor == 0 {
		t.Fatal("chunked in HTTP/1.0")
	}
	if r.ContentLength < -1 {
		t.Fatalf("ContentLength %d", r.ContentLength)
	}
	if r.Path == nil || len(r.Target) == 0 {
		t.Fatalf("target %q path %q", r.Target, r.Path)
	}
}

func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=\"b\\\"c\"\r\nhello\r\n0\r\nX: y\r\n\r\n",
		"0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"4000000000000001\r\n",
		"5\nhello\n0\nX: y\n\n",
		"5;a=\"b\"\nhello\r\n0\r\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := decodeWhole(in)
		if whole.consumed > len(in) {
			t.Fatalf("consumed %d of %d", whole.consumed, len(in))
		}
		if whole.done && whole.status != 0 || whole.status != -1 && whole.status != 0 && whole.status != 400 {
			t.Fatalf("whole: %v", whole)
		}
		if whole.status == -1 && whole.consumed != len(in) {
			t.Fatalf("stopped early without reason: %v", whole)
		}
		if len(whole.data) > len(in) {
			t.Fatalf("more data than input")
		}
		if got := decodeBytewise(in); got != whole {
			t.Fatalf("bytewise:\n got %v\nwant %v", got, whole)
		}
		// A split in the middle agrees too.
		if len(in) > 1 {
			var d ChunkedDecoder
			mid := len(in) / 2
			if got := decodePieces(&d, [][]byte{in[:mid], in[mid:]}); got != whole {
				t.Fatalf("halves:\n got %v\nwant %v", got, whole)
			}
		}
		// Re-encoding the data and decoding it gives the data back.
		if whole.done {
			body := AppendLastChunk(AppendChunk(nil, []byte(whole.data)))
			if again := decodeWhole(body); again.data != whole.data || !again.done {
				t.Fatalf("re-encoded: %v", again)
			}
		}
	})
}
