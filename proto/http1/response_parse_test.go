package http1

import (
	"fmt"
	"strings"
	"testing"
)

var bodyModeNames = [...]string{BodyNone: "none", BodyLength: "length", BodyChunked: "chunked", BodyClose: "close"}

func (m BodyMode) name() string {
	if m < 0 || int(m) >= len(bodyModeNames) {
		return fmt.Sprintf("BodyMode(%d)", int(m))
	}
	return bodyModeNames[m]
}

// respSummary renders everything Response.Parse reports so that two results
// compare with ==.
func respSummary(r *Response, n int, err error) string {
	if err != nil {
		return fmt.Sprintf("n=%d status=%d", n, status(err))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "n=%d v=%d.%d s=%d r=%q(%v) cl=%d ch=%v ka=%v mode=%s hl=%d",
		n, r.Major, r.Minor, r.Status, r.Reason, r.Reason == nil,
		r.ContentLength, r.Chunked, r.KeepAlive, r.BodyMode().name(), r.HeadLen)
	for _, h := range r.Headers {
		fmt.Fprintf(&sb, " [%q: %q]", h.Name, h.Value)
	}
	return sb.String()
}

func parseResp(s, method string, lim Limits) (*Response, int, error) {
	var r Response
	n, err := r.Parse([]byte(s), []byte(method), lim)
	return &r, n, err
}

// RFC 9112 §4 and §5: well-formed response heads and what they mean.
func TestParseResponseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(t *testing.T, r *Response)
	}{
		{"status line (§4)", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Major != 1 || r.Minor != 1 || r.Status != 200 || r.ContentLength != 5 || r.Chunked || !r.KeepAlive {
				t.Errorf("got %+v", r)
			}
			eq(t, "Reason", r.Reason, "OK")
		}},
		{"empty reason after SP", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Reason == nil || len(r.Reason) != 0 {
				t.Errorf("Reason = %q (nil %v), want empty non-nil", r.Reason, r.Reason == nil)
			}
		}},
		{"empty reason without SP", "HTTP/1.1 204\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Status != 204 || r.Reason == nil || len(r.Reason) != 0 {
				t.Errorf("Status = %d, Reason = %q (nil %v)", r.Status, r.Reason, r.Reason == nil)
			}
		}},
		{"reason with SP, HTAB and obs-text", "HTTP/1.1 404 Not  Found\tcaf\xc3\xa9 \r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Response) {
			eq(t, "Reason", r.Reason, "Not  Found\tcaf\xc3\xa9 ")
		}},
		{"reason starting with SP is kept as sent", "HTTP/1.1 200  OK\r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Response) {
			eq(t, "Reason", r.Reason, " OK")
		}},
		{"unregistered status", "HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Status != 599 {
				t.Errorf("Status = %d", r.Status)
			}
		}},
		{"highest status", "HTTP/1.1 999 \r\nContent-Length: 1\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Status != 999 {
				t.Errorf("Status = %d", r.Status)
			}
		}},
		{"HTTP/1.0 is not persistent (§9.3)", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Minor != 0 || r.KeepAlive {
				t.Errorf("got %+v", r)
			}
		}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\n", func(t *testing.T, r *Response) {
			if !r.KeepAlive {
				t.Error("KeepAlive = false")
			}
		}},
		{"HTTP/1.0 keep-alive and close", "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\n", func(t *testing.T, r *Response) {
			if r.KeepAlive {
				t.Error("KeepAlive = true")
			}
		}},
		{"HTTP/1.1 Connection: close (§9.6)", "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 3\r\n\r\n", func(t *testing.T, r *Response) {
			if r.KeepAlive {
				t.Error("KeepAlive = true")
			}
		}},
		{"Connection over several lines", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nconnection: close\r\nContent-Length: 3\r\n\r\n", func(t *testing.T, r *Response) {
			if r.KeepAlive {
				t.Error("KeepAlive = true")
			}
		}},
		{"identical Content-Length list (RFC 9110 §8.6)", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 005\r\n\r\n", func(t *testing.T, r *Response) {
			if r.ContentLength != 5 {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"largest Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", func(t *testing.T, r *Response) {
			if r.ContentLength != 1<<63-1 {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"chunked (§6.1)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", func(t *testing.T, r *Response) {
			if !r.Chunked || r.ContentLength != -1 || !r.KeepAlive {
				t.Errorf("got %+v", r)
			}
		}},
		{"codings ending in chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", func(t *testing.T, r *Response) {
			if !r.Chunked {
				t.Error("Chunked = false")
			}
		}},
		{"coding list over two lines with an empty element", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\nTransfer-Encoding: , chunked\r\n\r\n", func(t *testing.T, r *Response) {
			if !r.Chunked {
				t.Error("Chunked = false")
			}
		}},
		{"final coding not chunked: until close (§6.3)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Chunked || r.ContentLength != -1 || r.KeepAlive {
				t.Errorf("got %+v", r)
			}
		}},
		{"chunked then gzip: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Chunked || r.ContentLength != -1 || r.KeepAlive {
				t.Errorf("got %+v", r)
			}
		}},
		{"no framing: until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Chunked || r.ContentLength != -1 || r.KeepAlive {
				t.Errorf("got %+v", r)
			}
		}},
		{"fields in order, case kept, OWS trimmed (§5)", "HTTP/1.1 200 OK\r\nSET-COOKIE:a=1\r\nSet-Cookie: \t b=2 \t\r\nx-e:\r\nX-C: a  b\r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Response) {
			want := []string{"SET-COOKIE", "a=1", "Set-Cookie", "b=2", "x-e", "", "X-C", "a  b", "Content-Length", "0"}
			if len(r.Headers) != 5 {
				t.Fatalf("%d headers", len(r.Headers))
			}
			for i, h := range r.Headers {
				eq(t, "name", h.Name, want[2*i])
				eq(t, "value", h.Value, want[2*i+1])
			}
		}},
		{"obs-text and HTAB in values", "HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\tok\r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Response) {
			eq(t, "value", r.Headers[0].Value, "caf\xc3\xa9\tok")
		}},
		{"names as long as framing names are not framing", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nAccept-Charset: x\r\nIf-Modified-Since: y\r\nContent-Length: 1\r\n\r\n", func(t *testing.T, r *Response) {
			if r.ContentLength != 1 || r.Chunked || !r.KeepAlive || len(r.Headers) != 4 {
				t.Errorf("got %+v", r)
			}
		}},
		{"empty lines before the status line, skipped as HAProxy does", "\r\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", func(t *testing.T, r *Response) {
			if r.Status != 200 || r.ContentLength != 2 || r.HeadLen != 43 {
				t.Errorf("got %+v", r)
			}
			eq(t, "Reason", r.Reason, "OK")
		}},
		{"bare LF before a bare-LF status line", "\nHTTP/1.0 204\n\n", func(t *testing.T, r *Response) {
			if r.Status != 204 || r.Minor != 0 || r.HeadLen != 15 {
				t.Errorf("got %+v", r)
			}
		}},
		{"no fields at all", "HTTP/1.1 204 No Content\r\n\r\n", func(t *testing.T, r *Response) {
			if len(r.Headers) != 0 || r.Status != 204 {
				t.Errorf("got %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseResp(tt.in, "GET", Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tt.in) || r.HeadLen != n {
				t.Fatalf("n = %d, HeadLen = %d, want %d", n, r.HeadLen, len(tt.in))
			}
			tt.want(t, r)
		})
	}
}

// respRejectTests are response heads (to a GET) that must be refused; every
// one yields 502.
var respRejectTests = []struct {
	name string
	in   string
}{
	// §4: status line.
	{"HTTP/0.9 response (a bare body)", "<html><body>hi</body></html>"},
	{"TLS alert on a plain connection", "\x15\x03\x03\x00\x02\x02\x46"},
	{"lowercase protocol name", "http/1.1 200 OK\r\n\r\n"},
	{"version garbage", "HTTP/1.x 200 OK\r\n\r\n"},
	{"version without minor", "HTTP/1 200 OK\r\n\r\n"},
	{"HTTP/2 short form", "HTTP/2 200 OK\r\n\r\n"},
	{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"},
	{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"},
	{"HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n"},
	{"version only", "HTTP/1.1\r\n\r\n"},
	{"two spaces after version", "HTTP/1.1  200 OK\r\n\r\n"},
	{"HTAB after version", "HTTP/1.1\t200 OK\r\n\r\n"},
	{"no status code", "HTTP/1.1 \r\n\r\n"},
	{"status with two digits", "HTTP/1.1 20 OK\r\n\r\n"},
	{"status with two digits, no reason", "HTTP/1.1 20\r\n\r\n"},
	{"status with four digits", "HTTP/1.1 2000 OK\r\n\r\n"},
	{"status below 100", "HTTP/1.1 099 Low\r\n\r\n"},
	{"status 000", "HTTP/1.1 000 Zero\r\n\r\n"},
	{"status with a letter", "HTTP/1.1 2x0 OK\r\n\r\n"},
	{"status with a sign", "HTTP/1.1 +20 OK\r\n\r\n"},
	{"HTAB after status", "HTTP/1.1 200\tOK\r\n\r\n"},
	{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n"},
	{"CTL in reason", "HTTP/1.1 200 O\x1bK\r\n\r\n"},
	{"DEL in reason", "HTTP/1.1 200 O\x7fK\r\n\r\n"},
	// §2.2: line endings. A bare LF ends a line (TestParseResponseBareLF);
	// a bare CR is refused wherever it is.
	{"bare LF after version", "HTTP/1.1\n"},
	{"bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n"},
	{"bare CR after status code", "HTTP/1.1 200\rX\r\n\r\n"},
	{"bare CR in field value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"},
	{"bare CR ending head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\rX"},
	{"bare CR after a bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\rX"},
	{"bare CR before the status line", "\rHTTP/1.1 200 OK\r\n\r\n"},
	{"bare CR after an empty line", "\r\n\rHTTP/1.1 200 OK\r\n\r\n"},
	{"space before the status line", "\r\n HTTP/1.1 200 OK\r\n\r\n"},
	{"CR CR LF ending the status line", "HTTP/1.1 200 OK\r\r\n\n"},
	{"obs-fold after bare LF", "HTTP/1.1 200 OK\nX: a\n b\n\n"},
	{"CL and TE with bare LFs", "HTTP/1.1 200 OK\nContent-Length: 5\nTransfer-Encoding: chunked\n\n"},
	// §5: field lines.
	{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
	{"tab before colon", "HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n"},
	{"empty field name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n"},
	{"invalid token char in name", "HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n"},
	{"non-ASCII name", "HTTP/1.1 200 OK\r\nCaf\xc3\xa9: z\r\n\r\n"},
	{"no colon", "HTTP/1.1 200 OK\r\nJunk\r\n\r\n"},
	{"NUL in value", "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n"},
	{"CTL in value", "HTTP/1.1 200 OK\r\nX: a\x1bb\r\n\r\n"},
	{"DEL in value", "HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n"},
	{"obs-fold (§5.2)", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"},
	{"obs-fold with HTAB", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n"},
	{"whitespace before first field (§2.2)", "HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n"},
	// §6 and §11.2: message framing and response splitting.
	{"Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"Transfer-Encoding and Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
	{"Content-Length and a non-chunked coding", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"two differing Content-Length fields", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
	{"Content-Length list with differing values", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"},
	{"Content-Length trailing comma", "HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n"},
	{"Content-Length empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
	{"Content-Length negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
	{"Content-Length plus sign", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n"},
	{"Content-Length hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"},
	{"Content-Length inner space", "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n"},
	{"Content-Length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n"},
	{"Content-Length huge", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
	{"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"empty Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"},
	{"Transfer-Encoding of commas only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n"},
	{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
	{"chunked twice over two lines", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"chunked with parameter", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"},
	{"unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n"},
	{"identity coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n"},
	{"chunked with a suffix", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n"},
	{"chunked with a vertical tab", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \x0bchunked\r\n\r\n"},
}

func TestParseResponseReject(t *testing.T) {
	for _, tt := range respRejectTests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseResp(tt.in, "GET", Limits{})
			if got := status(err); got != 502 {
				t.Fatalf("Parse(%q) = %d, %v; want status 502\n%s", tt.in, n, err, respSummary(r, n, err))
			}
			if n != 0 {
				t.Errorf("n = %d on error", n)
			}
			if err.Error() == "" {
				t.Error("empty Reason")
			}
		})
	}
}

// A response head with bare LFs means what the same head with CRLFs
// means, as HAProxy reads a server's answer (RFC 9112 §2.2).
func TestParseResponseBareLF(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204\n\n",
		"HTTP/1.1 404 \n\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
		"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nX:  v \n\n5\nhello\n0\n\n",
		"HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 5\n\nhello",
		"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\n\n",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			lf, n, err := parseResp(in, "GET", Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !strings.HasSuffix(in[:n], "\n\n") && !strings.HasSuffix(in[:n], "\n\r\n") {
				t.Fatalf("n = %d: %q", n, in[:n])
			}
			crlf := string(crlfLines([]byte(in[:n])))
			want, wn, err := parseResp(crlf, "GET", Limits{})
			if err != nil || wn != len(crlf) {
				t.Fatalf("with CRLFs: %d, %v", wn, err)
			}
			lf.HeadLen, want.HeadLen = 0, 0
			if got, want := respSummary(lf, 0, nil), respSummary(want, 0, nil); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			for _, m := range []string{"GET", "HEAD", "CONNECT"} {
				checkRespPiecewise(t, in, m, Limits{})
				checkRespPiecewise(t, in, m, Limits{MaxRequestLine: 16, MaxHeaderBytes: 48, MaxHeaders: 2})
			}
		})
	}
}

// RFC 9112 §6.3: how the body of each kind of response ends.
func TestParseResponseBodyRules(t *testing.T) {
	tests := []struct {
		name   string
		method string
		in     string
		cl     int64
		ch     bool
		mode   BodyMode
		ka     bool
	}{
		// Rule 1: HEAD, 1xx, 204 and 304 end with the head.
		{"HEAD with Content-Length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, false, BodyNone, true},
		{"HEAD with chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, BodyNone, true},
		{"HEAD without framing keeps the connection", "HEAD", "HTTP/1.1 200 OK\r\n\r\n", 0, false, BodyNone, true},
		{"HEAD to HTTP/1.0 server", "HEAD", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 0, false, BodyNone, false},
		{"HEAD answered 404", "HEAD", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", 0, false, BodyNone, true},
		{"method is case-sensitive", "head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 5, false, BodyLength, true},
		{"204 with Content-Length: 0", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 0, false, BodyNone, true},
		{"204 with a length is ignored", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", 0, false, BodyNone, true},
		{"204 with chunked is ignored", "GET", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, BodyNone, true},
		{"304 with the representation's length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: \"x\"\r\n\r\n", 0, false, BodyNone, true},
		{"304 without framing keeps the connection", "GET", "HTTP/1.1 304 Not Modified\r\n\r\n", 0, false, BodyNone, true},
		{"100 Continue", "POST", "HTTP/1.1 100 Continue\r\n\r\n", 0, false, BodyNone, true},
		{"103 Early Hints", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n", 0, false, BodyNone, true},
		{"101 Switching Protocols", "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, false, BodyNone, true},
		{"1xx with a length is ignored", "GET", "HTTP/1.1 199 Odd\r\nContent-Length: 3\r\n\r\n", 0, false, BodyNone, true},
		// Rule 2: a 2xx to CONNECT turns the connection into a tunnel.
		{"CONNECT 200", "CONNECT", "HTTP/1.1 200 Connection Established\r\n\r\n", 0, false, BodyNone, true},
		{"CONNECT 200 with a length is ignored", "CONNECT", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, false, BodyNone, true},
		{"CONNECT refused has a body", "CONNECT", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 10\r\n\r\n", 10, false, BodyLength, true},
		// Rules 4 to 8.
		{"Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 5, false, BodyLength, true},
		{"Content-Length: 0", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false, BodyNone, true},
		{"Content-Length, close", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", 5, false, BodyLength, false},
		{"HTTP/1.0 Content-Length", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 5, false, BodyLength, false},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -1, true, BodyChunked, true},
		{"chunked, close", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", -1, true, BodyChunked, false},
		{"gzip only: until close", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -1, false, BodyClose, false},
		{"no framing: until close", "GET", "HTTP/1.1 200 OK\r\n\r\n", -1, false, BodyClose, false},
		{"error without framing: until close", "POST", "HTTP/1.1 500 Internal Server Error\r\n\r\n", -1, false, BodyClose, false},
		{"HTTP/1.0 keep-alive without length: until close", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", -1, false, BodyClose, false},
		{"HEAD with gzip only", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, false, BodyNone, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseResp(tt.in, tt.method, Limits{})
			if err != nil || n != len(tt.in) {
				t.Fatalf("Parse = %d, %v", n, err)
			}
			if r.ContentLength != tt.cl || r.Chunked != tt.ch || r.BodyMode() != tt.mode || r.KeepAlive != tt.ka {
				t.Errorf("cl=%d chunked=%v mode=%s keepalive=%v; want cl=%d chunked=%v mode=%s keepalive=%v",
					r.ContentLength, r.Chunked, r.BodyMode().name(), r.KeepAlive, tt.cl, tt.ch, tt.mode.name(), tt.ka)
			}
			checkRespPiecewise(t, tt.in, tt.method, Limits{})
		})
	}
}

// Responses without a body still have their framing fields validated.
func TestParseResponseNoBodyValidated(t *testing.T) {
	tests := []struct {
		name, method, in string
	}{
		{"HEAD with Content-Length and Transfer-Encoding", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"HEAD with an unknown coding", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n"},
		{"304 with a bad Content-Length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: abc\r\n\r\n"},
		{"204 with differing Content-Length", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n"},
		{"100 with Transfer-Encoding in HTTP/1.0", "GET", "HTTP/1.0 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"103 with obs-fold", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n ; rel=preload\r\n\r\n"},
		{"CONNECT 200 with both framings", "CONNECT", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, n, err := parseResp(tt.in, tt.method, Limits{}); status(err) != 502 || n != 0 {
				t.Errorf("Parse = %d, %v; want 502", n, err)
			}
		})
	}
}

func TestResponseBodyMode(t *testing.T) {
	tests := []struct {
		r    Response
		want BodyMode
	}{
		{Response{ContentLength: -1}, BodyClose},
		{Response{ContentLength: 0}, BodyNone},
		{Response{ContentLength: 1}, BodyLength},
		{Response{ContentLength: -1, Chunked: true}, BodyChunked},
	}
	for _, tt := range tests {
		if got := tt.r.BodyMode(); got != tt.want {
			t.Errorf("%+v: BodyMode = %s, want %s", tt.r, got.name(), tt.want.name())
		}
	}
}

// RFC 9110 §15.2: 1xx responses precede the final one on the connection;
// each parses as a head of its own and the caller parses again.
func TestParseResponseInterim(t *testing.T) {
	buf := []byte("HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	var r Response
	var seen []int
	for {
		n, err := r.Parse(buf, []byte("POST"), Limits{})
		if err != nil {
			t.Fatalf("after %v: %v", seen, err)
		}
		seen = append(seen, r.Status)
		buf = buf[n:]
		if r.Status >= 200 {
			break
		}
		if r.BodyMode() != BodyNone {
			t.Fatalf("%d: mode %s", r.Status, r.BodyMode().name())
		}
	}
	if fmt.Sprint(seen) != "[100 103 200]" {
		t.Errorf("statuses %v", seen)
	}
	if r.BodyMode() != BodyLength || string(buf[:r.ContentLength]) != "ok" {
		t.Errorf("final body %q, mode %s", buf, r.BodyMode().name())
	}
}

// Pipelined responses sit back to back in one buffer; the caller parses
// each head with the method of its request and skips the body.
func TestParseResponsePipelined(t *testing.T) {
	buf := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + // to HEAD
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n" +
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot" +
		"HTTP/1.1 200 O")
	methods := []string{"GET", "HEAD", "GET", "GET", "POST", "POST", "GET", "GET"}
	var r Response
	var got []string
	var body []byte
	for _, m := range methods {
		n, err := r.Parse(buf, []byte(m), Limits{})
		if err == ErrIncomplete {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d/%s", r.Status, r.BodyMode().name()))
		buf = buf[n:]
		switch r.BodyMode() {
		case BodyLength:
			body = append(body, buf[:r.ContentLength]...)
			buf = buf[r.ContentLength:]
		case BodyChunked:
			var d ChunkedDecoder
			for {
				k, data, done, err := d.Next(buf)
				if err != nil || k == 0 && !done {
					t.Fatalf("chunked body: %d, %v", k, err)
				}
				body = append(body, data...)
				buf = buf[k:]
				if done {
					break
				}
			}
		case BodyClose:
			t.Fatal("unexpected BodyClose")
		}
	}
	want := "200/length 200/none 200/chunked 304/none 100/none 201/none 404/length"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	if string(body) != "helloabcnot" {
		t.Errorf("bodies %q", body)
	}
	if string(buf) != "HTTP/1.1 200 O" {
		t.Errorf("left %q", buf)
	}
}

// Every proper prefix of a head is incomplete; the whole head parses.
func TestParseResponseIncomplete(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX:  v \r\n\r\n",
		"HTTP/1.0 204\r\n\r\n",
		"HTTP/1.1 404 \r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		var r Response
		for i := 0; i < len(in); i++ {
			if n, err := r.Parse([]byte(in[:i]), []byte("GET"), Limits{}); err != ErrIncomplete || n != 0 {
				t.Fatalf("Parse(%q) = %d, %v; want ErrIncomplete", in[:i], n, err)
			}
		}
		if n, err := r.Parse([]byte(in+"abc"), []byte("GET"), Limits{}); err != nil || n != len(in) {
			t.Fatalf("whole %q: %d, %v", in, n, err)
		}
	}
}

// Limits fire as soon as they are exceeded, before the head is complete, so
// a proxy never buffers a backend's head without bound.
func TestParseResponseLimits(t *testing.T) {
	lim := Limits{MaxRequestLine: 32, MaxHeaderBytes: 128, MaxHeaders: 3}
	line := func(n int) string { // a status line of exactly n bytes before CRLF
		return "HTTP/1.1 200 " + strings.Repeat("a", n-len("HTTP/1.1 200 "))
	}
	field := func(i int) string { return fmt.Sprintf("X-%d: v\r\n", i) }
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"line at the limit", line(32) + "\r\nContent-Length: 0\r\n\r\n", 0},
		{"line over the limit", line(33) + "\r\nContent-Length: 0\r\n\r\n", 502},
		{"line over the limit, incomplete", line(33), 502},
		{"line at the limit, incomplete", line(32), -1},
		{"line at the limit, CR only", line(32) + "\r", -1},
		{"long reason, no CRLF yet", "HTTP/1.1 200 " + strings.Repeat("a", 100), 502},
		{"bad byte before the limit wins", "HTTP/1.1 2x0 " + strings.Repeat("a", 100), 502},
		{"fields at the limit", line(15) + "\r\n" + field(1) + field(2) + "Content-Length: 0\r\n\r\n", 0},
		{"too many fields", line(15) + "\r\n" + field(1) + field(2) + field(3) + "Content-Length: 0\r\n\r\n", 502},
		{"too many fields, incomplete", line(15) + "\r\n" + field(1) + field(2) + field(3) + "C", 502},
		{"head over the limit, incomplete", line(15) + "\r\nX: " + strings.Repeat("v", 200), 502},
		{"head of exactly 128 bytes", line(15) + "\r\nX: " + strings.Repeat("v", 128-len(line(15))-len("\r\nX: \r\n\r\n")) + "\r\n\r\n", 0},
		{"empty lines do not count to the line", "\r\n\n" + line(32) + "\r\nContent-Length: 0\r\n\r\n", 0},
		{"empty lines count to the head", strings.Repeat("\r\n", 64), 502},
		{"empty lines, incomplete", "\r\n\r", -1},
		{"head of 129 bytes", line(15) + "\r\nX: " + strings.Repeat("v", 129-len(line(15))-len("\r\nX: \r\n\r\n")) + "\r\n\r\n", 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := parseResp(tt.in, "HEAD", lim)
			if got := status(err); got != tt.status {
				t.Fatalf("Parse(%q) = %d, %v; want status %d", tt.in, n, err, tt.status)
			}
			if tt.status == 0 && (n != len(tt.in) || n > lim.MaxHeaderBytes) {
				t.Fatalf("n = %d, len %d", n, len(tt.in))
			}
			checkRespPiecewise(t, tt.in, "HEAD", lim)
		})
	}
	// Each limit has its own reason.
	reasons := map[string]bool{}
	for _, in := range []string{line(40), line(15) + "\r\n" + field(1) + field(2) + field(3) + field(4), line(15) + "\r\nX: " + strings.Repeat("v", 200)} {
		_, _, err := parseResp(in, "GET", lim)
		reasons[err.Error()] = true
	}
	if len(reasons) != 3 {
		t.Errorf("reasons %v", reasons)
	}
}

func TestParseResponseDefaultLimits(t *testing.T) {
	long := "HTTP/1.1 200 " + strings.Repeat("a", DefaultMaxRequestLine)
	if _, _, err := parseResp(long, "GET", Limits{}); status(err) != 502 {
		t.Errorf("long line: %v", err)
	}
	var sb strings.Builder
	sb.WriteString("HTTP/1.1 200 OK\r\n")
	for i := 0; i < DefaultMaxHeaders; i++ {
		sb.WriteString("X: y\r\n")
	}
	if _, _, err := parseResp(sb.String()+"\r\n", "GET", Limits{}); err != nil {
		t.Errorf("%d fields: %v", DefaultMaxHeaders, err)
	}
	if _, _, err := parseResp(sb.String()+"X: y\r\n", "GET", Limits{}); status(err) != 502 {
		t.Errorf("too many fields: %v", err)
	}
	big := "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", DefaultMaxHeaderBytes)
	if _, _, err := parseResp(big, "GET", Limits{}); status(err) != 502 {
		t.Errorf("big head: %v", err)
	}
}

// checkRespPiecewise feeds in growing prefixes, as bytes arriving one at a
// time: each result is ErrIncomplete or the result for the whole input,
// and once a prefix decides, longer ones agree.
func checkRespPiecewise(t *testing.T, in, method string, lim Limits) {
	t.Helper()
	var whole, part Response
	wn, werr := whole.Parse([]byte(in), []byte(method), lim)
	want := respSummary(&whole, wn, werr)
	decided := false
	for i := 0; i <= len(in); i++ {
		n, err := part.Parse([]byte(in[:i]), []byte(method), lim)
		if err == ErrIncomplete {
			if decided {
				t.Fatalf("prefix %d incomplete after a decision", i)
			}
			continue
		}
		decided = true
		if got := respSummary(&part, n, err); got != want {
			t.Fatalf("prefix %q:\n got %s\nwant %s", in[:i], got, want)
		}
	}
}

func TestParseResponsePiecewise(t *testing.T) {
	small := Limits{MaxRequestLine: 16, MaxHeaderBytes: 48, MaxHeaders: 2}
	for _, tt := range respRejectTests {
		checkRespPiecewise(t, tt.in, "GET", Limits{})
		checkRespPiecewise(t, tt.in, "GET", small)
	}
	for _, in := range []string{
		typicalResponse,
		"HTTP/1.1 204\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5, 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
	} {
		for _, m := range []string{"GET", "HEAD", "CONNECT"} {
			checkRespPiecewise(t, in, m, Limits{})
			checkRespPiecewise(t, in, m, small)
		}
	}
}

// A Response reused for another head forgets everything about the last one.
func TestParseResponseReuse(t *testing.T) {
	var r Response
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: 1\r\nB: 2\r\n\r\n"), []byte("GET"), Limits{}); err != nil {
		t.Fatal(err)
	}
	in := "HTTP/1.0 404 \r\n\r\n"
	n, err := r.Parse([]byte(in), []byte("GET"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fresh, fn, ferr := parseResp(in, "GET", Limits{})
	if got, want := respSummary(&r, n, err), respSummary(fresh, fn, ferr); got != want {
		t.Errorf("reused:\n got %s\nwant %s", got, want)
	}
	if _, err := r.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), []byte("GET"), Limits{}); status(err) != 502 {
		t.Fatal(err)
	}
}

func TestAppendRequestLine(t *testing.T) {
	got := AppendRequestLine([]byte("x"), []byte("GET"), []byte("/a/b?c=d"), 1)
	if string(got) != "xGET /a/b?c=d HTTP/1.1\r\n" {
		t.Errorf("got %q", got)
	}
	if got := AppendRequestLine(nil, []byte("GET"), []byte("/"), 0); string(got) != "GET / HTTP/1.0\r\n" {
		t.Errorf("HTTP/1.0: got %q", got)
	}
	// What a proxy writes from a parsed request, the request parser reads back.
	var in Request
	if _, err := in.Parse([]byte("OPTIONS * HTTP/1.0\r\nHost: h\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	out := AppendRequestLine(nil, in.Method, in.Target, in.Minor)
	out = AppendHeader(out, []byte("Host"), in.Host)
	out = append(out, '\r', '\n')
	var back Request
	if n, err := back.Parse(out, Limits{}); err != nil || n != len(out) {
		t.Fatalf("Parse(%q) = %d, %v", out, n, err)
	}
	if string(back.Method) != "OPTIONS" || string(back.Target) != "*" || back.Minor != 0 {
		t.Errorf("round trip: %s", summary(&back, len(out), nil))
	}
	buf := make([]byte, 0, 128)
	method, target := []byte("POST"), []byte("/upload")
	if n := testing.AllocsPerRun(100, func() { buf = AppendRequestLine(buf[:0], method, target, 1) }); n != 0 {
		t.Errorf("AppendRequestLine allocates %v times", n)
	}
}

const typicalResponse = "HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n" +
	"Server: nginx\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Content-Length: 1234\r\n" +
	"Cache-Control: private, max-age=0\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

func TestParseResponseZeroAllocs(t *testing.T) {
	buf := []byte(typicalResponse)
	method := []byte("GET")
	var r Response
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Parse(buf, method, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %v times per run", allocs)
	}
	bad := []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	allocs = testing.AllocsPerRun(100, func() { r.Parse(bad, method, Limits{}) })
	if allocs != 0 {
		t.Errorf("rejecting allocates %v times per run", allocs)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte(typicalResponse)
	method := []byte("GET")
	var r Response
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, method, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponseChunked(b *testing.B) {
	buf := []byte("HTTP/1.1 200 OK\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"Set-Cookie: session=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly; Secure\r\n" +
		"Set-Cookie: theme=dark; Path=/; Max-Age=31536000\r\n" +
		"Cache-Control: no-store\r\n" +
		"Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"\r\n")
	method := []byte("GET")
	var r Response
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, method, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The cost of rescanning an incomplete head, which a caller pays per read.
func BenchmarkParseResponseIncomplete(b *testing.B) {
	buf := []byte(typicalResponse[:len(typicalResponse)-1])
	method := []byte("GET")
	var r Response
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, method, Limits{}); err != ErrIncomplete {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRequestLine(b *testing.B) {
	buf := make([]byte, 0, 256)
	method, target := []byte("GET"), []byte("/api/v1/items?id=42&sort=asc")
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequestLine(buf[:0], method, target, 1)
	}
}
