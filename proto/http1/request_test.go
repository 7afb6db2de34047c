package http1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// status condenses a Parse or Next error: 0 for nil, -1 for ErrIncomplete,
// the status of an *Error, and -2 for anything else (a bug).
func status(err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, ErrIncomplete) {
		return -1
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return -2
}

// summary renders everything Parse reports so that two results compare with ==.
func summary(r *Request, n int, err error) string {
	if err != nil {
		return fmt.Sprintf("n=%d status=%d", n, status(err))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "n=%d m=%q t=%q p=%q q=%q(%v) v=%d.%d host=%q(%v) cl=%d ch=%v ka=%v e100=%v up=%q(%v) hl=%d",
		n, r.Method, r.Target, r.Path, r.Query, r.Query == nil, r.Major, r.Minor, r.Host, r.Host == nil,
		r.ContentLength, r.Chunked, r.KeepAlive, r.Expect100, r.Upgrade, r.Upgrade == nil, r.HeadLen)
	for _, h := range r.Headers {
		fmt.Fprintf(&sb, " [%q: %q]", h.Name, h.Value)
	}
	return sb.String()
}

func parseString(s string, lim Limits) (*Request, int, error) {
	var r Request
	n, err := r.Parse([]byte(s), lim)
	return &r, n, err
}

// RFC 9112 §3 and §5: well-formed heads and what they mean.
func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(t *testing.T, r *Request)
	}{
		{"origin-form with query (§3.2.1)", "GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Method", r.Method, "GET")
			eq(t, "Target", r.Target, "/a/b?x=1&y")
			eq(t, "Path", r.Path, "/a/b")
			eq(t, "Query", r.Query, "x=1&y")
			eq(t, "Host", r.Host, "example.com")
			if r.Major != 1 || r.Minor != 1 || !r.KeepAlive || r.ContentLength != -1 || r.Chunked || r.HasBody() {
				t.Errorf("bad defaults: %+v", r)
			}
		}},
		{"no query is nil, bare ? is empty", "GET /x? HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "/x")
			if r.Query == nil || len(r.Query) != 0 {
				t.Errorf("Query = %q (nil %v), want empty non-nil", r.Query, r.Query == nil)
			}
		}},
		{"absolute-form (§3.2.2)", "GET http://example.com:8080/p/q?r=s HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "/p/q")
			eq(t, "Query", r.Query, "r=s")
			eq(t, "Host", r.Host, "example.com:8080")
		}},
		{"absolute-form, empty path", "GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "/")
			if r.Query != nil {
				t.Errorf("Query = %q, want nil", r.Query)
			}
		}},
		{"absolute-form, empty path with query", "GET http://h?a=b HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "/")
			eq(t, "Query", r.Query, "a=b")
		}},
		{"authority-form for CONNECT (§3.2.3)", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "example.com:443")
		}},
		{"asterisk-form for OPTIONS (§3.2.4)", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Path", r.Path, "*")
		}},
		{"HTTP/1.0 without Host, not persistent", "GET / HTTP/1.0\r\n\r\n", func(t *testing.T, r *Request) {
			if r.Minor != 0 || r.KeepAlive || r.Host != nil {
				t.Errorf("got %+v", r)
			}
		}},
		{"HTTP/1.0 keep-alive (§9.3)", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.KeepAlive {
				t.Error("KeepAlive = false")
			}
		}},
		{"HTTP/1.1 Connection: close (§9.6)", "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n", func(t *testing.T, r *Request) {
			if r.KeepAlive {
				t.Error("KeepAlive = true")
			}
		}},
		{"Connection over several lines", "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", func(t *testing.T, r *Request) {
			if r.KeepAlive {
				t.Error("KeepAlive = true")
			}
		}},
		{"Content-Length (§6.3)", "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n", func(t *testing.T, r *Request) {
			if r.ContentLength != 42 || !r.HasBody() {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"Content-Length zero has no body", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", func(t *testing.T, r *Request) {
			if r.ContentLength != 0 || r.HasBody() {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"identical Content-Length list (RFC 9110 §8.6)", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\n", func(t *testing.T, r *Request) {
			if r.ContentLength != 5 {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"largest Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", func(t *testing.T, r *Request) {
			if r.ContentLength != 1<<63-1 {
				t.Errorf("ContentLength = %d", r.ContentLength)
			}
		}},
		{"chunked (§6.1)", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.Chunked || r.ContentLength != -1 || !r.HasBody() {
				t.Errorf("got %+v", r)
			}
		}},
		{"codings ending in chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.Chunked {
				t.Error("Chunked = false")
			}
		}},
		{"coding list over two lines", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.Chunked {
				t.Error("Chunked = false")
			}
		}},
		{"Expect: 100-continue (RFC 9110 §10.1.1)", "PUT / HTTP/1.1\r\nHost: h\r\nexpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.Expect100 {
				t.Error("Expect100 = false")
			}
		}},
		{"Expect ignored in HTTP/1.0", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", func(t *testing.T, r *Request) {
			if r.Expect100 {
				t.Error("Expect100 = true")
			}
		}},
		{"Upgrade with Connection: upgrade (RFC 9110 §7.8)", "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Upgrade", r.Upgrade, "websocket")
			if !r.UpgradeTo("WebSocket") || r.UpgradeTo("h2c") {
				t.Error("UpgradeTo: websocket not found, or h2c found")
			}
		}},
		{"Upgrade lists several protocols", "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: foo/2, h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", func(t *testing.T, r *Request) {
			if !r.UpgradeTo("h2c") || r.UpgradeTo("foo") || r.UpgradeTo("h2") {
				t.Errorf("UpgradeTo on %q", r.Upgrade)
			}
		}},
		{"Upgrade without the connection option is ignored", "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", func(t *testing.T, r *Request) {
			if r.Upgrade != nil || r.UpgradeTo("websocket") {
				t.Errorf("Upgrade = %q", r.Upgrade)
			}
		}},
		{"fields in order, case kept, OWS trimmed (§5)", "GET / HTTP/1.1\r\nHOST:h\r\nX-A: \t v1 \t\r\nx-b:\r\nX-C: a  b\r\n\r\n", func(t *testing.T, r *Request) {
			want := []string{"HOST", "h", "X-A", "v1", "x-b", "", "X-C", "a  b"}
			if len(r.Headers) != 4 {
				t.Fatalf("%d headers", len(r.Headers))
			}
			for i, h := range r.Headers {
				eq(t, "name", h.Name, want[2*i])
				eq(t, "value", h.Value, want[2*i+1])
			}
		}},
		{"obs-text and HTAB in values", "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\tok\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "value", r.Headers[1].Value, "caf\xc3\xa9\tok")
		}},
		{"empty Host value is allowed (RFC 9110 §7.2)", "GET / HTTP/1.1\r\nHost:\r\n\r\n", func(t *testing.T, r *Request) {
			if r.Host == nil || len(r.Host) != 0 {
				t.Errorf("Host = %q", r.Host)
			}
		}},
		{"IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Host", r.Host, "[::1]:80")
		}},
		{"leading empty lines skipped (§2.2)", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Method", r.Method, "GET")
			if r.HeadLen != 4+len("GET / HTTP/1.1\r\nHost: h\r\n\r\n") {
				t.Errorf("HeadLen = %d", r.HeadLen)
			}
		}},
		{"token method", "M-SEARCH! /x HTTP/1.1\r\nHost: h\r\n\r\n", func(t *testing.T, r *Request) {
			eq(t, "Method", r.Method, "M-SEARCH!")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseString(tt.in, Limits{})
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

// crlfLines returns b with every bare LF made a CRLF.
func crlfLines(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// headSummary is summary without the lengths, which line ends change.
func headSummary(r *Request) string {
	c := *r
	c.HeadLen = 0
	return summary(&c, 0, nil)
}

// RFC 9112 §2.2: a recipient may take a bare LF for a line's end, and
// HAProxy does, in the request line, the fields, the empty line ending the
// head and the empty lines before the request line. A head with bare LFs
// means what the same head with CRLFs means.
func TestParseBareLF(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\nHost: h\n\n",
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"\n\r\n\nGET /x?y HTTP/1.0\n\n",
		"POST /up HTTP/1.1\nHost: h\nContent-Length: 5\nX:  v \t\nConnection: close\n\nhello",
		"POST /up HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nX-Empty:\n\n5\nhello\n0\n\n",
		"GET /ws HTTP/1.1\r\nHost: h\nUpgrade: websocket\r\nConnection: Upgrade\n\r\n",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			lf, n, err := parseString(in, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != lf.HeadLen || (n < len(in) && in[n-1] != '\n') || !strings.HasSuffix(in[:n], "\n\n") && !strings.HasSuffix(in[:n], "\n\r\n") {
				t.Fatalf("n = %d, HeadLen = %d: %q", n, lf.HeadLen, in[:n])
			}
			crlf := crlfLines([]byte(in[:n]))
			want, wn, err := parseString(string(crlf), Limits{})
			if err != nil || wn != len(crlf) {
				t.Fatalf("with CRLFs: %d, %v", wn, err)
			}
			if got, want := headSummary(lf), headSummary(want); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			checkPiecewise(t, in, Limits{})
			checkPiecewise(t, in, Limits{MaxRequestLine: 16, MaxHeaderBytes: 48, MaxHeaders: 2})
		})
	}
}

func eq(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// rejectTests are heads that must be refused, each with its status.
var rejectTests = []struct {
	name   string
	in     string
	status int
}{
	// §3: request line.
	{"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"method with invalid token char", "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"method with NUL", "G\x00T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"non-ASCII garbage (TLS on a plain port)", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
	{"two spaces after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target with CTL", "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target with DEL", "GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target with high byte", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target with HTAB", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target with a fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target not a path", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"asterisk-form outside OPTIONS", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"HTTP/0.9 request line", "GET /\r\n\r\n", 400},
	{"lowercase protocol name", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
	{"version garbage", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400},
	{"version with two digits", "GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400},
	{"trailing space after version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
	// §2.2: line endings. A bare LF ends a line (TestParseBareLF); a bare
	// CR is refused wherever it is.
	{"bare CR after request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
	{"bare CR in field value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
	{"bare CR ending head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", 400},
	{"bare CR leading line", "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"bare CR after a bare LF", "GET / HTTP/1.1\nHost: h\n\rX", 400},
	{"CR CR LF ending a field", "GET / HTTP/1.1\nHost: h\r\r\n\n", 400},
	{"CR CR LF ending the request line", "GET / HTTP/1.1\r\r\nHost: h\n\n", 400},
	{"LF CR leading lines", "\n\rGET / HTTP/1.1\nHost: h\n\n", 400},
	{"HTTP/0.9 request line with LF", "GET /\n\n", 400},
	{"bare LF in field name", "GET / HTTP/1.1\nHost: h\nX\n: y\n\n", 400},
	{"obs-fold after bare LF", "GET / HTTP/1.1\nHost: h\nX: a\n b\n\n", 400},
	{"whitespace before first field after bare LF", "GET / HTTP/1.1\n Host: h\n\n", 400},
	{"CL and TE with bare LFs", "POST / HTTP/1.1\nHost: h\nContent-Length: 5\nTransfer-Encoding: chunked\n\n", 400},
	{"two differing Content-Length fields with bare LFs", "POST / HTTP/1.1\nHost: h\nContent-Length: 5\nContent-Length: 6\n\n", 400},
	// §5: field lines.
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400},
	{"empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400},
	{"invalid token char in name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400},
	{"CTL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x1bb\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", 400},
	{"obs-fold (§5.2)", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
	{"obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400},
	{"whitespace before first field (§2.2)", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
	// §3.2: Host.
	{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
	{"two identical Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
	{"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
	// §6 and §11.2: message framing and request smuggling.
	{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"Transfer-Encoding and Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
	{"two differing Content-Length fields", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	{"Content-Length list with differing values", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400},
	{"Content-Length trailing comma", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\n", 400},
	{"Content-Length empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
	{"Content-Length negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
	{"Content-Length plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400},
	{"Content-Length hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
	{"Content-Length inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
	{"Content-Length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
	{"Content-Length huge", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
	{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"final coding not chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
	{"only gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
	{"chunked with parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400},
	{"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
	{"unknown coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501},
	{"identity coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501},
	{"chunked with a suffix", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 501},
	{"chunked with a vertical tab", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", 400},
}

func TestParseReject(t *testing.T) {
	for _, tt := range rejectTests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseString(tt.in, Limits{})
			if got := status(err); got != tt.status {
				t.Fatalf("Parse(%q) = %d, %v; want status %d\n%s", tt.in, n, err, tt.status, summary(r, n, err))
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

// HostOptional accepts an HTTP/1.1 request without Host, as HAProxy does,
// with the semantics of any HTTP/1.1 request; a second Host is still
// refused.
func TestParseHostOptional(t *testing.T) {
	lim := Limits{HostOptional: true}
	r, n, err := parseString("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", lim)
	if err != nil || r.Host != nil || r.KeepAlive || r.Minor != 1 {
		t.Fatalf("without Host: %s", summary(r, n, err))
	}
	r, n, err = parseString("GET /a HTTP/1.1\r\n\r\n", lim)
	if err != nil || !r.KeepAlive {
		t.Fatalf("without Host, kept alive: %s", summary(r, n, err))
	}
	if _, _, err := parseString("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", lim); status(err) != 400 {
		t.Fatalf("two Host fields: %v", err)
	}
}

// Every proper prefix of a head is incomplete; the whole head parses.
func TestParseIncomplete(t *testing.T) {
	in := "\r\nPOST /x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX:  v \r\n\r\n"
	var r Request
	for i := 0; i < len(in); i++ {
		if n, err := r.Parse([]byte(in[:i]), Limits{}); err != ErrIncomplete || n != 0 {
			t.Fatalf("Parse(%q) = %d, %v; want ErrIncomplete", in[:i], n, err)
		}
	}
	if n, err := r.Parse([]byte(in+"abc"), Limits{}); err != nil || n != len(in) {
		t.Fatalf("whole: %d, %v", n, err)
	}
}

// §3 and §5: limits fire as soon as they are exceeded, before the head is
// complete, so a caller never buffers without bound.
func TestParseLimits(t *testing.T) {
	lim := Limits{MaxRequestLine: 32, MaxHeaderBytes: 128, MaxHeaders: 3}
	line := func(n int) string { // a request line of exactly n bytes before CRLF
		return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1"
	}
	field := func(i int) string { return fmt.Sprintf("X-%d: v\r\n", i) }
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"line at the limit", line(32) + "\r\nHost: h\r\n\r\n", 0},
		{"line over the limit", line(33) + "\r\nHost: h\r\n\r\n", 414},
		{"line over the limit, incomplete", line(33)[:33], 414},
		{"line at the limit, incomplete", line(32)[:32], -1},
		{"line at the limit, CR only", line(32) + "\r", -1},
		{"line at the limit, bare LF", line(32) + "\nHost: h\n\n", 0},
		{"line over the limit, bare LF", line(33) + "\nHost: h\n\n", 414},
		{"head of exactly 128 bytes with bare LFs", line(14) + "\nHost: h\nX: " + strings.Repeat("v", 128-len(line(14))-len("\nHost: h\nX: \n\n")) + "\n\n", 0},
		{"head of 129 bytes with bare LFs", line(14) + "\nHost: h\nX: " + strings.Repeat("v", 129-len(line(14))-len("\nHost: h\nX: \n\n")) + "\n\n", 431},
		{"bare LF empty lines count to the head", strings.Repeat("\n", 200), 431},
		{"long target, no CRLF yet", "GET /" + strings.Repeat("a", 100), 414},
		{"long method, no SP yet", strings.Repeat("A", 100), 414},
		{"bad byte before the limit wins", "G(T /" + strings.Repeat("a", 100), 400},
		{"leading empty lines do not count to the line", "\r\n\r\n" + line(32) + "\r\nHost: h\r\n\r\n", 0},
		{"fields at the limit", line(14) + "\r\nHost: h\r\n" + field(1) + field(2) + "\r\n", 0},
		{"too many fields", line(14) + "\r\nHost: h\r\n" + field(1) + field(2) + field(3) + "\r\n", 431},
		{"too many fields, incomplete", line(14) + "\r\nHost: h\r\n" + field(1) + field(2) + "X", 431},
		{"head over the limit, incomplete", line(14) + "\r\nHost: h\r\nX: " + strings.Repeat("v", 200), 431},
		{"head of exactly 128 bytes", line(14) + "\r\nHost: h\r\nX: " + strings.Repeat("v", 128-len(line(14))-len("\r\nHost: h\r\nX: \r\n\r\n")) + "\r\n\r\n", 0},
		{"head of 129 bytes", line(14) + "\r\nHost: h\r\nX: " + strings.Repeat("v", 129-len(line(14))-len("\r\nHost: h\r\nX: \r\n\r\n")) + "\r\n\r\n", 431},
		{"empty lines count to the head", strings.Repeat("\r\n", 100), 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseString(tt.in, lim)
			if got := status(err); got != tt.status {
				t.Fatalf("Parse(%q) = %d, %v; want status %d", tt.in, n, err, tt.status)
			}
			if tt.status == 0 && (n != len(tt.in) || n > lim.MaxHeaderBytes) {
				t.Fatalf("n = %d, len %d", n, len(tt.in))
			}
			checkPiecewise(t, tt.in, lim)
			_ = r
		})
	}
}

func TestParseDefaultLimits(t *testing.T) {
	long := "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\n"
	if _, _, err := parseString(long[:DefaultMaxRequestLine+1], Limits{}); status(err) != 414 {
		t.Errorf("long line: %v", err)
	}
	var sb strings.Builder
	sb.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
	for i := 0; i < DefaultMaxHeaders; i++ {
		sb.WriteString("X: y\r\n")
	}
	if _, _, err := parseString(sb.String(), Limits{}); status(err) != 431 {
		t.Errorf("too many fields: %v", err)
	}
	big := "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", DefaultMaxHeaderBytes)
	if _, _, err := parseString(big, Limits{}); status(err) != 431 {
		t.Errorf("big head: %v", err)
	}
}

// §9.3.2: pipelined requests sit back to back in one buffer and are parsed
// one head at a time; the caller skips each head and its body.
func TestParsePipelined(t *testing.T) {
	buf := []byte("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" +
		"GET /4 HTT")
	var r Request
	var paths []string
	for {
		n, err := r.Parse(buf, Limits{})
		if err == ErrIncomplete {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, string(r.Path))
		buf = buf[n:]
		if r.ContentLength > 0 {
			buf = buf[r.ContentLength:]
		}
	}
	if got := strings.Join(paths, " "); got != "/1 /2 /3" {
		t.Errorf("paths %q", got)
	}
	if string(buf) != "GET /4 HTT" {
		t.Errorf("left %q", buf)
	}
}

// checkPiecewise feeds in growing prefixes, as an event loop would when
// bytes arrive one at a time: each result is ErrIncomplete or the result
// for the whole input, and once a prefix decides, longer ones agree.
func checkPiecewise(t *testing.T, in string, lim Limits) {
	t.Helper()
	var whole, part Request
	wn, werr := whole.Parse([]byte(in), lim)
	want := summary(&whole, wn, werr)
	decided := false
	for i := 0; i <= len(in); i++ {
		n, err := part.Parse([]byte(in[:i]), lim)
		if err == ErrIncomplete {
			if decided {
				t.Fatalf("prefix %d incomplete after a decision", i)
			}
			continue
		}
		decided = true
		if got := summary(&part, n, err); got != want {
			t.Fatalf("prefix %q:\n got %s\nwant %s", in[:i], got, want)
		}
	}
}

func TestParsePiecewise(t *testing.T) {
	for _, tt := range rejectTests {
		checkPiecewise(t, tt.in, Limits{})
		checkPiecewise(t, tt.in, Limits{MaxRequestLine: 16, MaxHeaderBytes: 48, MaxHeaders: 2})
	}
	for _, in := range []string{
		typicalRequest,
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"\r\nPOST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	} {
		checkPiecewise(t, in, Limits{})
		checkPiecewise(t, in, Limits{MaxRequestLine: 16, MaxHeaderBytes: 48, MaxHeaders: 2})
	}
}

// A Request reused for another head forgets everything about the last one.
func TestParseReuse(t *testing.T) {
	var r Request
	if _, err := r.Parse([]byte("POST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Parse([]byte("GET / HTTP/1.0\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	fresh, n, _ := parseString("GET / HTTP/1.0\r\n\r\n", Limits{})
	if got, want := summary(&r, n, nil), summary(fresh, n, nil); got != want {
		t.Errorf("reused:\n got %s\nwant %s", got, want)
	}
	if _, err := r.Parse([]byte("GET / HTTP/1.1\r\n\r\n"), Limits{}); status(err) != 400 {
		t.Fatal(err)
	}
}

const typicalRequest = "GET /api/v1/items?id=42&sort=asc HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/126.0\r\n" +
	"Accept: application/json, text/plain, */*\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

func TestParseZeroAllocs(t *testing.T) {
	buf := []byte(typicalRequest)
	var r Request
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %v times per run", allocs)
	}
	bad := []byte("GET / HTTP/1.1\r\nHost : h\r\n\r\n")
	allocs = testing.AllocsPerRun(100, func() { r.Parse(bad, Limits{}) })
	if allocs != 0 {
		t.Errorf("rejecting allocates %v times per run", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	buf := []byte(typicalRequest)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBrowser(b *testing.B) {
	buf := []byte("GET /static/app.3f2a9c.js HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36\r\n" +
		"Accept: */*\r\n" +
		"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Referer: https://www.example.com/products/widgets?page=2\r\n" +
		"Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n" +
		"Sec-Fetch-Dest: script\r\n" +
		"Sec-Fetch-Mode: no-cors\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"If-None-Match: \"3f2a9c\"\r\n" +
		"Connection: keep-alive\r\n" +
		"\r\n")
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The cost of rescanning an incomplete head, which a caller pays per read.
func BenchmarkParseIncomplete(b *testing.B) {
	buf := []byte(typicalRequest[:len(typicalRequest)-1])
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != ErrIncomplete {
			b.Fatal(err)
		}
	}
}
