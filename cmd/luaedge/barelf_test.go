// HTTP/1 lines ending in a bare LF, read as HAProxy 2.6 reads them: the
// same haproxy.cfg on luaedge and on HAProxy, the same raw requests, the
// same answers; and what reaches a server is CRLF-framed whatever the
// client wrote.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crlfServer is a backend that reads each request strictly: every line of
// its head and of its chunked framing must end in CRLF. It answers with
// what it read (method, target, x-a, the body, the trailers) and "crlf=ok",
// or with the first line that did not end in CRLF. It closes after each
// answer, so that each exchange is read from its first byte.
func crlfServer(t *testing.T) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		summary, ok := readCRLFRequest(bufio.NewReader(c))
		if !ok && summary == "" {
			return // the proxy gave up on the request
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(summary), summary)
	})
}

// readCRLFRequest reads one request, checking that each framing line ends
// in CRLF; it returns what it read, and false with an empty summary when
// the connection ended first.
func readCRLFRequest(br *bufio.Reader) (string, bool) {
	var bad []string
	line := func() (string, bool) {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", false
		}
		if !strings.HasSuffix(l, "\r\n") || strings.Contains(strings.TrimSuffix(l, "\r\n"), "\r") {
			bad = append(bad, fmt.Sprintf("%q", l))
		}
		return strings.TrimRight(l, "\r\n"), true
	}
	first, ok := line()
	if !ok {
		return "", false
	}
	fields := map[string]string{}
	for {
		l, ok := line()
		if !ok {
			return "", false
		}
		if l == "" {
			break
		}
		name, value, _ := strings.Cut(l, ":")
		fields[strings.ToLower(name)] = strings.TrimSpace(value)
	}
	var body strings.Builder
	var trailers []string
	switch {
	case strings.EqualFold(fields["transfer-encoding"], "chunked"):
		for {
			l, ok := line()
			if !ok {
				return "", false
			}
			size, _, _ := strings.Cut(l, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			if err != nil {
				bad = append(bad, "chunk size "+strconv.Quote(l))
				break
			}
			if n == 0 {
				break
			}
			if _, err := io.CopyN(&body, br, n); err != nil {
				return "", false
			}
			if l, ok := line(); !ok || l != "" {
				bad = append(bad, "after chunk data "+strconv.Quote(l))
			}
		}
		for {
			l, ok := line()
			if !ok {
				return "", false
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			trailers = append(trailers, strings.ToLower(name)+"="+strings.TrimSpace(value))
		}
	case fields["content-length"] != "":
		n, _ := strconv.ParseInt(fields["content-length"], 10, 64)
		if _, err := io.CopyN(&body, br, n); err != nil {
			return "", false
		}
	}
	sort.Strings(trailers)
	verdict := "crlf=ok"
	if len(bad) > 0 {
		verdict = "crlf=BAD " + strings.Join(bad, " ")
	}
	method, rest, _ := strings.Cut(first, " ")
	target, _, _ := strings.Cut(rest, " ")
	return fmt.Sprintf("%s %s x-a=%q body=%q trailers=%v %s\n", method, target, fields["x-a"], body.String(), trailers, verdict), true
}

// lfServer is a backend whose answers end their lines in bare LFs: the
// path names the body's framing (/lf/chunked, /lf/length, /lf/close).
func lfServer(t *testing.T) string {
	t.Helper()
	answers := map[string]string{
		"/lf/chunked": "HTTP/1.1 200 OK\nContent-Type: text/plain\nX-B: b\nTransfer-Encoding: chunked\n\n5\nhello\n7;e=1\r\n, world\n0\nX-T: t\n\n",
		"/lf/length":  "HTTP/1.1 201 Created\r\nContent-Type: text/plain\nX-B: b\r\nContent-Length: 6\n\r\nlength",
		"/lf/close":   "HTTP/1.1 200\nContent-Type: text/plain\nConnection: close\nX-B: b\n\nuntil close",
		"/lf/bare-cr": "HTTP/1.1 200 OK\nContent-Type: text/plain\rX-B: b\nContent-Length: 2\n\nno",
	}
	return serveEach(t, func(c net.Conn) {
		// Kept alive as a server would keep it: the proxy may send its
		// next request on this connection (not after an answer that ends
		// with the connection).
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, answers[req.URL.Path])
			if req.URL.Path == "/lf/close" {
				return
			}
		}
	})
}

// barelfAnswer is what a client got for one raw request.
type barelfAnswer struct {
	status int
	xb     string
	body   string
	err    string
}

func (a barelfAnswer) String() string {
	if a.err != "" {
		return "no answer: " + a.err
	}
	return fmt.Sprintf("%d x-b=%q body=%q", a.status, a.xb, a.body)
}

// barelfAsk writes raw on a new connection and reads the answer.
func barelfAsk(addr, raw string) barelfAnswer {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return barelfAnswer{err: err.Error()}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return barelfAnswer{err: err.Error()}
	}
	method, _, _ := strings.Cut(strings.TrimLeft(raw, "\r\n"), " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return barelfAnswer{err: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return barelfAnswer{err: err.Error()}
	}
	return barelfAnswer{status: resp.StatusCode, xb: resp.Header.Get(textproto.CanonicalMIMEHeaderKey("x-b")), body: string(body)}
}

// TestBareLF sends requests whose lines end in bare LFs (request line,
// fields, chunked framing, trailers) to a proxy in front of crlfServer,
// and asks for answers of lfServer; luaedge must answer as HAProxy 2.6
// does, and forward only CRLF framing.
func TestBareLF(t *testing.T) {
	needBinary(t)
	backends := map[string]string{"CRLF": crlfServer(t), "LF": lfServer(t)}
	sc := hcScenario{
		name: "bare LF",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    use_backend lf if { path_beg /lf/ }
    default_backend crlf

backend crlf
    server s1 @CRLF@

backend lf
    server s1 @LF@
`,
	}
	tests := []struct {
		name, raw string
		want      barelfAnswer // what luaedge must answer; the body is checked when set
	}{
		{"request line and fields", "GET /a?q=1 HTTP/1.1\nHost: x\nX-A: one\n\n",
			barelfAnswer{status: 200, body: "GET /a?q=1 x-a=\"one\" body=\"\" trailers=[] crlf=ok\n"}},
		{"mixed line ends", "GET /b HTTP/1.1\r\nHost: x\nX-A: two \t\r\n\n",
			barelfAnswer{status: 200, body: "GET /b x-a=\"two\" body=\"\" trailers=[] crlf=ok\n"}},
		{"empty lines before the request", "\n\r\n\nGET /c HTTP/1.1\nHost: x\n\n",
			barelfAnswer{status: 200, body: "GET /c x-a=\"\" body=\"\" trailers=[] crlf=ok\n"}},
		{"HTTP/1.0", "GET /d HTTP/1.0\nX-A: old\n\n",
			barelfAnswer{status: 200, body: "GET /d x-a=\"old\" body=\"\" trailers=[] crlf=ok\n"}},
		{"content-length body", "POST /e HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello",
			barelfAnswer{status: 200, body: "POST /e x-a=\"\" body=\"hello\" trailers=[] crlf=ok\n"}},
		{"chunked body", "POST /f HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5\nhello\n7;ext=1\n, world\n0\n\n",
			barelfAnswer{status: 200, body: "POST /f x-a=\"\" body=\"hello, world\" trailers=[] crlf=ok\n"}},
		{"chunked body with trailers", "POST /g HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nX-A: t\n\n3\nabc\r\n1\n\n\n0\nX-Sum: 42\nX-Other: z\n\n",
			barelfAnswer{status: 200, body: "POST /g x-a=\"t\" body=\"abc\\n\" trailers=[x-other=z x-sum=42] crlf=ok\n"}},
		{"bare CR in a field", "GET /h HTTP/1.1\nHost: x\nX-A: a\rb\n\n", barelfAnswer{status: 400}},
		{"bare CR after the request line", "GET /i HTTP/1.1\rHost: x\n\n", barelfAnswer{status: 400}},
		{"CL and TE with bare LFs", "POST /j HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\n\n", barelfAnswer{status: 400}},
		{"obs-fold with bare LFs", "GET /k HTTP/1.1\nHost: x\nX-A: a\n b\n\n", barelfAnswer{status: 400}},
		{"bare CR in chunk framing", "POST /l HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5\rhello\n0\n\n", barelfAnswer{status: 400}},
		{"server's chunked answer in bare LFs", "GET /lf/chunked HTTP/1.1\nHost: x\n\n",
			barelfAnswer{status: 200, xb: "b", body: "hello, world"}},
		{"server's content-length answer in bare LFs", "GET /lf/length HTTP/1.1\r\nHost: x\r\n\r\n",
			barelfAnswer{status: 201, xb: "b", body: "length"}},
		{"server's answer until close in bare LFs", "GET /lf/close HTTP/1.1\nHost: x\n\n",
			barelfAnswer{status: 200, xb: "b", body: "until close"}},
		{"server's answer with a bare CR", "GET /lf/bare-cr HTTP/1.1\nHost: x\n\n", barelfAnswer{status: 502}},
	}
	// How HAProxy 2.6 answers otherwise, documented differences whose
	// comparison is only logged.
	differs := map[string]string{
		"CL and TE with bare LFs": "HAProxy drops the Content-Length and forwards",
		"obs-fold with bare LFs":  "HAProxy joins the folded line with spaces and forwards",
	}
	answers := map[string][]barelfAnswer{}
	hcCheckBoth(t, sc, backends, func(who string, addr func(string) string) {
		for _, tt := range tests {
			answers[who] = append(answers[who], barelfAsk(addr(""), tt.raw))
		}
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le := answers["luaedge"][i]
			if le.err != "" || le.status != tt.want.status || tt.want.xb != "" && le.xb != tt.want.xb ||
				tt.want.body != "" && le.body != tt.want.body {
				t.Errorf("luaedge: %v\n want %v", le, tt.want)
			}
			ha, ok := answers["haproxy"]
			if !ok {
				return
			}
			// Error answers are compared by status: the pages differ.
			got := ha[i]
			if got.status != le.status || le.status < 400 && (got.xb != le.xb || got.body != le.body) {
				if d := differs[tt.name]; d != "" {
					t.Logf("%s: luaedge: %v\n haproxy: %v", d, le, got)
					return
				}
				t.Errorf("luaedge: %v\n haproxy: %v", le, got)
			}
		})
	}
}

// The checker of crlfServer tells a bare LF from a CRLF, in the head and in
// the chunked framing.
func TestCRLFChecker(t *testing.T) {
	for in, want := range map[string]string{
		"POST /x HTTP/1.1\r\nX-A: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n": `POST /x x-a="a" body="ab" trailers=[t=1] crlf=ok`,
		"GET /x HTTP/1.1\nX-A: a\r\n\r\n":                                          `GET /x x-a="a" body="" trailers=[] crlf=BAD "GET /x HTTP/1.1\n"`,
		"GET /x HTTP/1.1\r\nX-A: a\r\n\n":                                          `GET /x x-a="a" body="" trailers=[] crlf=BAD "\n"`,
		"GET /x HTTP/1.1\r\nX-A: a\rb\r\n\r\n":                                     `GET /x x-a="a\rb" body="" trailers=[] crlf=BAD "X-A: a\rb\r\n"`,
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n": `POST /x x-a="" body="ab" trailers=[] crlf=BAD "2\n"`,
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n": `POST /x x-a="" body="ab" trailers=[] crlf=BAD "\n"`,
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n":    `POST /x x-a="" body="" trailers=[t=1] crlf=BAD "T: 1\n"`,
	} {
		got, ok := readCRLFRequest(bufio.NewReader(strings.NewReader(in)))
		if !ok || got != want+"\n" {
			t.Errorf("%q:\n got %q, %v\nwant %q", in, got, ok, want)
		}
	}
}
