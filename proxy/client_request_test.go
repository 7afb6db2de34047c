package proxy

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// spec writes a request as lj/lua/http_request.lua does.
func spec(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i == len(parts)-1 {
			return append(b, p...) // the body: the rest
		}
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(append(b, ':'), p...)
	}
	return b
}

func TestParseClientRequest(t *testing.T) {
	r := &clientRequest{}
	err := r.parse(spec("POST", "https", "api.test", "8443", "api.test:8443", "/v1?a=b", "", "1", "", "0", "1000", "3",
		"", "", "0", "", "", "", "0", "2", "Content-Type", "text/plain", "expect", "100-continue", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if r.method != "POST" || r.scheme != "https" || r.host != "api.test" || r.port != 8443 || r.path != "/v1?a=b" ||
		!r.verify || r.maxAttempts != 3 || r.expect100 != time.Second || string(r.body) != "hello" || len(r.fields) != 2 {
		t.Fatalf("%+v", r)
	}
	if !r.expects100() || r.idempotent() {
		t.Fatal("expects100 or idempotent wrong")
	}
	head := string(r.appendHTTP1Head(nil))
	want := "POST /v1?a=b HTTP/1.1\r\nhost: api.test:8443\r\nContent-Type: text/plain\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n"
	if head != want {
		t.Fatalf("head %q\nwant %q", head, want)
	}
	for _, bad := range [][]byte{
		spec("GET", "ftp", "h", "80", "h", "/", "", "1", "", "0", "0", "1", "", "", "0", "", "", "", "0", "0", ""),
		spec("GET", "http", "h", "0", "h", "/", "", "1", "", "0", "0", "1", "", "", "0", "", "", "", "0", "0", ""),
		spec("GET", "http", "h", "80", "h", "/a b", "", "1", "", "0", "0", "1", "", "", "0", "", "", "", "0", "0", ""),
		spec("GET", "http", "h", "80", "h", "/", "", "1", "", "0", "0", "1", "", "", "0", "", "", "", "0", "1", "x\r\ny", "v", ""),
		spec("GET", "http", "h", "80", "h", "/", "3", "1", "", "0", "0", "1", "", "", "0", "", "", "", "0", "0", ""),
		// A proxy of another scheme, a proxy without a port, or without
		// a host, a streamed body with bytes in io.
		spec("GET", "http", "h", "80", "h", "/", "", "1", "", "0", "0", "1", "socks4", "px", "1080", "", "", "", "0", "0", ""),
		spec("GET", "https", "h", "443", "h", "/", "", "1", "", "0", "0", "1", "http", "px", "0", "", "", "", "0", "0", ""),
		spec("GET", "https", "h", "443", "h", "/", "", "1", "", "0", "0", "1", "socks5", "", "1080", "", "", "", "0", "0", ""),
		spec("POST", "http", "h", "80", "h", "/", "", "1", "", "0", "0", "1", "", "", "0", "", "", "", "1", "0", "body"),
		[]byte("3:GET4:http"),
	} {
		if err := new(clientRequest).parse(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// A streamed body goes in chunks; a tunnel through a proxy begins with a
// CONNECT naming the server, with the proxy's credentials.
func TestStreamedAndProxiedRequests(t *testing.T) {
	r := &clientRequest{}
	err := r.parse(spec("PUT", "https", "::1", "8443", "[::1]:8443", "/up", "", "1", "", "1", "1000", "1",
		"https", "proxy.test", "3128", "basic dTpw", "", "", "1", "1", "expect", "100-continue", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !r.streamed || !r.noSNI || r.proxyScheme != "https" || r.proxyHost != "proxy.test" || r.proxyPort != 3128 || !r.expects100() || r.sendsLength() {
		t.Fatalf("%+v", r)
	}
	head := string(r.appendHTTP1Head(nil))
	want := "PUT /up HTTP/1.1\r\nhost: [::1]:8443\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n"
	if head != want {
		t.Fatalf("head %q\nwant %q", head, want)
	}
	o := origin{https: true, host: r.host, port: r.port, proxyScheme: r.proxyScheme, proxyHost: r.proxyHost, proxyPort: r.proxyPort, proxyAuth: r.proxyAuth}
	if !o.httpTunnel() || o.viaSocks() || o.dialHost() != "proxy.test" || o.dialPort() != 3128 {
		t.Fatalf("origin %+v", o)
	}
	connect := string(o.appendConnect(nil))
	want = "CONNECT [::1]:8443 HTTP/1.1\r\nhost: [::1]:8443\r\nproxy-authorization: basic dTpw\r\n\r\n"
	if connect != want {
		t.Fatalf("connect %q\nwant %q", connect, want)
	}
}

func TestAppendHeadLowersNames(t *testing.T) {
	names := []string{"Content-Type", "X-A"}
	values := []string{"text/html", "1"}
	got := string(appendHead(nil, 200, "1.1", []byte("All Fine"), 2, func(i int) ([]byte, []byte) { return []byte(names[i]), []byte(values[i]) }))
	if want := "200 1.1 All Fine\n2\ncontent-type\ntext/html\nx-a\n1\n"; got != want {
		t.Fatalf("%q", got)
	}
	if !strings.HasPrefix(string(appendFields(nil, 0, nil)), "0\n") {
		t.Fatal("no fields")
	}
}
