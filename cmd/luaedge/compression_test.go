package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"golang.org/x/net/http2"
)

// Response compression, of Lua's answers and of servers', over HTTP/1.1
// and HTTP/2, checked with curl's and Go's decoders.

// The service answers what the query asks: len bytes of pageText (in
// upper case with upper=1), the status, the type ("none": no
// content-type), an ETag, no-transform, no content-length (cl=no), or the
// body twice with a pause of parts ms between.
const compressionLua = `
local line = "luaedge compresses this line of text, again and again.\n"
core.register_service("page", "http", function(applet)
	local q = {}
	for k, v in (applet.qs or ""):gmatch("([^&=]+)=([^&]*)") do q[k] = v end
	local n = tonumber(q.len or "10000")
	local body = string.rep(line, math.ceil(n / #line)):sub(1, n)
	if q.upper then body = body:upper() end
	applet:set_status(tonumber(q.status or "200"))
	if q.type ~= "none" then applet:add_header("content-type", (q.type or "text/html"):gsub("%%2F", "/")) end
	if q.etag == "strong" then applet:add_header("etag", '"v1"') end
	if q.etag == "weak" then applet:add_header("etag", 'W/"v1"') end
	if q.cc then applet:add_header("cache-control", "no-transform") end
	if q.ranges then applet:add_header("accept-ranges", "bytes") end
	local parts = tonumber(q.parts)
	if q.cl ~= "no" and not parts then applet:add_header("content-length", #body) end
	applet:start_response()
	applet:send(body)
	if parts then
		core.msleep(parts)
		applet:send(body)
	end
end)
`

// pageText is the body the service sends for len n.
func pageText(n int) string {
	line := "luaedge compresses this line of text, again and again.\n"
	return strings.Repeat(line, n/len(line)+1)[:n]
}

func startCompression(t *testing.T, backendAddr string) *server {
	t.Helper()
	return startServer(t, fmt.Sprintf(`workers: 1
shutdown_timeout: 2s
lua:
  load: [page.lua]
frontends:
  - name: lua
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.page
    compression: {algorithms: [gzip, deflate], min_length: 100}
    access_log: {to: access.log, format: "%%HU %%ST %%B"}
  - name: px
    bind: ["127.0.0.1:@PORT2@"]
    routes: [{path_prefix: /z, backend: zlib}, {path_prefix: /b, backend: brotli}]
    default_backend: app
    compression: {level: 6}
  - name: br
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.page
    compression: {algorithms: [gzip, br], min_length: 100}
    access_log: {to: br.log, format: "%%HU %%ST %%B"}
backends:
  - name: app
    servers: [{name: s, address: "%[1]s"}]
  - name: zlib
    compression: {algorithms: [deflate], types: ["text/*"]}
    servers: [{name: s, address: "%[1]s"}]
  - name: brotli
    compression: {algorithms: [br, gzip], brotli_quality: 5}
    servers: [{name: s, address: "%[1]s"}]
`, backendAddr), map[string]string{"page.lua": compressionLua})
}

// compressedBackend serves /plain (text, as is), /gzipped (text it
// compresses itself), /stream (text sent in pieces, no length) and /cut
// (a content-length of 100000, 20000 bytes of text, then the connection
// closes).
func compressedBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		switch {
		case strings.HasSuffix(r.URL.Path, "/cut"):
			c, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n"+pageText(20000))
			c.Close()
		case strings.HasSuffix(r.URL.Path, "/gzipped"):
			w.Header().Set("content-encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, pageText(20000))
			zw.Close()
		case strings.HasSuffix(r.URL.Path, "/stream"):
			for i := 0; i < 5; i++ {
				io.WriteString(w, pageText(3000))
				w.(http.Flusher).Flush()
			}
		default:
			io.WriteString(w, pageText(20000))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rawGet does a request with exactly the headers given (no decoding) and
// returns the response with its body as received.
func rawGet(t *testing.T, c *http.Client, method, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, body := send(t, c, req)
	return resp, []byte(body)
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(out)
}

func inflate(t *testing.T, b []byte) string {
	t.Helper()
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("zlib: %v", err)
	}
	return string(out)
}

// The rules of which responses are compressed, and what the head says.
func TestCompressionRules(t *testing.T) {
	s := startCompression(t, compressedBackend(t).Listener.Addr().String())
	c, _ := newClient(t) // DisableCompression: bodies as sent
	u := func(q string) string { return s.url("/page?" + q) }
	for _, tc := range []struct {
		name, method, query, ae string
		coding                  string // "" for none
		vary                    bool
	}{
		{"gzip", "GET", "len=10000", "gzip", "gzip", true},
		{"deflate preferred by weight", "GET", "len=10000", "gzip;q=0.5, deflate", "deflate", true},
		{"server's order on a tie", "GET", "len=10000", "deflate, gzip", "gzip", true},
		{"refused", "GET", "len=10000", "gzip;q=0, deflate;q=0", "", true},
		{"no Accept-Encoding", "GET", "len=10000", "", "", true},
		{"identity only", "GET", "len=10000", "identity", "", true},
		{"star", "GET", "len=10000", "*", "gzip", true},
		{"no length", "GET", "len=10000&cl=no", "gzip", "gzip", true},
		{"small", "GET", "len=50", "gzip", "", false},
		{"small without length", "GET", "len=50&cl=no", "gzip", "gzip", true},
		{"type not listed", "GET", "len=10000&type=image%2Fpng", "gzip", "", false},
		{"no type", "GET", "len=10000&type=none", "gzip", "", false},
		{"json", "GET", "len=10000&type=application%2Fjson", "gzip", "gzip", true},
		{"no-transform", "GET", "len=10000&cc=1", "gzip", "", false},
		{"HEAD", "HEAD", "len=10000", "gzip", "", false},
		{"204", "GET", "status=204", "gzip", "", false},
		{"206", "GET", "len=10000&status=206", "gzip", "", false},
		{"404", "GET", "len=10000&status=404", "gzip", "", false},
		{"201", "GET", "len=10000&status=201", "gzip", "gzip", true},
	} {
		var hdr []string
		if tc.ae != "" {
			hdr = []string{"accept-encoding", tc.ae}
		}
		resp, body := rawGet(t, c, tc.method, u(tc.query), hdr...)
		ce := resp.Header.Get("content-encoding")
		if ce != tc.coding || (resp.Header.Get("vary") == "accept-encoding") != tc.vary {
			t.Errorf("%s: content-encoding %q, vary %q; want %q, vary %v", tc.name, ce, resp.Header.Get("vary"), tc.coding, tc.vary)
			continue
		}
		n := 10000
		if strings.Contains(tc.query, "len=50") {
			n = 50
		}
		want := pageText(n)
		if tc.method == "HEAD" || strings.Contains(tc.query, "status=204") {
			want = ""
		}
		got := string(body)
		switch ce {
		case "gzip":
			got = gunzip(t, body)
		case "deflate":
			got = inflate(t, body)
		}
		if got != want {
			t.Errorf("%s: %d bytes decode to %d, want %d", tc.name, len(body), len(got), len(want))
		}
		if ce != "" && (resp.ContentLength != -1 || n > 1000 && len(body) >= n/2) {
			t.Errorf("%s: content-length %d, %d bytes for %d", tc.name, resp.ContentLength, len(body), n)
		}
	}

	// A strong ETag goes weak when the body is compressed; Accept-Ranges
	// goes.
	resp, _ := rawGet(t, c, "GET", u("len=10000&etag=strong&ranges=1"), "accept-encoding", "gzip")
	if resp.Header.Get("etag") != `W/"v1"` || resp.Header.Get("accept-ranges") != "" {
		t.Errorf("compressed: etag %q, accept-ranges %q", resp.Header.Get("etag"), resp.Header.Get("accept-ranges"))
	}
	resp, _ = rawGet(t, c, "GET", u("len=10000&etag=strong&ranges=1"))
	if resp.Header.Get("etag") != `"v1"` || resp.Header.Get("accept-ranges") != "bytes" {
		t.Errorf("not compressed: etag %q, accept-ranges %q", resp.Header.Get("etag"), resp.Header.Get("accept-ranges"))
	}

	// HTTP/1.0: the body would end with the connection; not compressed.
	r := dialRaw(t, s.addr())
	r.send("GET /page?len=10000 HTTP/1.0\r\naccept-encoding: gzip\r\n\r\n")
	if head := r.readHead(); strings.Contains(strings.ToLower(head), "content-encoding") {
		t.Errorf("HTTP/1.0 response compressed:\n%s", head)
	}

	// %B counts what was sent: the compressed body.
	lines := readLinesIfAny(filepath.Join(s.dir, "access.log"))
	waitFor(t, "the access log", func() bool {
		lines = readLinesIfAny(filepath.Join(s.dir, "access.log"))
		return len(lines) >= 1
	})
	var b int
	fmt.Sscanf(strings.Fields(lines[0])[2], "%d", &b)
	if !strings.HasPrefix(lines[0], "/page?len=10000 200 ") || b <= 0 || b > 5000 {
		t.Errorf("access log %q: want the compressed size", lines[0])
	}
}

// curl --compressed and Go's transports, HTTP/1.1 and HTTP/2, from Lua
// and from a server; a server's own gzip is left alone; a backend's
// compression replaces its frontend's.
func TestCompressionClients(t *testing.T) {
	be := compressedBackend(t)
	s := startCompression(t, be.Listener.Addr().String())

	out, _, _ := curl(t, "--compressed", "-D", "-", s.url("/page?len=30000"))
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	if !strings.Contains(head, "content-encoding: gzip") || strings.Contains(head, "content-length") || body != pageText(30000) {
		t.Errorf("curl --compressed: head\n%s\nbody %d bytes", head, len(body))
	}
	out, _, _ = curl(t, "--compressed", "--http2-prior-knowledge", s.url("/page?len=30000"))
	if out != pageText(30000) {
		t.Errorf("curl --compressed over HTTP/2: %d bytes", len(out))
	}
	out, _, _ = curl(t, "--compressed", "-D", "-", "http://"+s.addrOf("2")+"/plain")
	head, body, _ = strings.Cut(out, "\r\n\r\n")
	if !strings.Contains(head, "content-encoding: gzip") || body != pageText(20000) {
		t.Errorf("curl --compressed, proxied: head\n%s\nbody %d bytes", head, len(body))
	}

	// Go's transports ask for gzip and decode it (Uncompressed).
	h1 := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	h2 := &http.Client{Transport: &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, n, a string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, n, a)
	}}, Timeout: 10 * time.Second}
	for _, cl := range []struct {
		name string
		c    *http.Client
	}{{"HTTP/1.1", h1}, {"HTTP/2", h2}} {
		for _, tc := range []struct{ url, want string }{
			{s.url("/page?len=65000"), pageText(65000)},
			{"http://" + s.addrOf("2") + "/plain", pageText(20000)},
			{"http://" + s.addrOf("2") + "/stream", strings.Repeat(pageText(3000), 5)},
		} {
			r, err := cl.c.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil || !r.Uncompressed || string(b) != tc.want {
				t.Errorf("%s %s: uncompressed %v, %d bytes, want %d (%v)", cl.name, tc.url, r.Uncompressed, len(b), len(tc.want), err)
			}
		}
	}

	// A server that compresses is left alone: its own bytes arrive.
	raw, _ := newClient(t)
	resp, b := rawGet(t, raw, "GET", "http://"+s.addrOf("2")+"/gzipped", "accept-encoding", "gzip, deflate")
	if resp.Header.Get("content-encoding") != "gzip" || gunzip(t, b) != pageText(20000) {
		t.Errorf("the server's gzip: %q, %d bytes", resp.Header.Get("content-encoding"), len(b))
	}
	// The zlib backend's compression, deflate only, replaces the
	// frontend's.
	resp, b = rawGet(t, raw, "GET", "http://"+s.addrOf("2")+"/z/plain", "accept-encoding", "gzip, deflate")
	if resp.Header.Get("content-encoding") != "deflate" || inflate(t, b) != pageText(20000) {
		t.Errorf("the backend's compression: %q, %d bytes", resp.Header.Get("content-encoding"), len(b))
	}
}

// A body sent in pieces is compressed as it goes: what the service sent
// first can be read before it sends the rest.
func TestCompressionStreams(t *testing.T) {
	s := startCompression(t, "127.0.0.1:1")
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		c, _ := newClient(t)
		if proto == "HTTP/2" {
			c = &http.Client{Transport: &http2.Transport{AllowHTTP: true, DisableCompression: true, DialTLSContext: func(ctx context.Context, n, a string, _ *tls.Config) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, n, a)
			}}}
		}
		req, _ := http.NewRequest("GET", s.url("/page?len=5000&parts=1500"), nil)
		req.Header.Set("accept-encoding", "gzip")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 5000)
		if _, err := io.ReadFull(zr, first); err != nil || string(first) != pageText(5000) {
			t.Fatalf("%s: first piece: %v", proto, err)
		}
		if took := time.Since(start); took > 1200*time.Millisecond {
			t.Errorf("%s: the first piece took %v: held until the end", proto, took)
		}
		rest, err := io.ReadAll(zr)
		resp.Body.Close()
		if err != nil || string(rest) != pageText(5000) || time.Since(start) < 1400*time.Millisecond {
			t.Errorf("%s: the rest: %d bytes, %v, after %v", proto, len(rest), err, time.Since(start))
		}
	}
}

func unbrotli(t *testing.T, b []byte) string {
	t.Helper()
	out, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("brotli: %v", err)
	}
	return string(out)
}

// Brotli: chosen over gzip on a tie of weights, decoded by curl and by
// andybalholm/brotli to the original, with the same rules as gzip (Vary,
// no Content-Length; small, incompressible and already coded responses
// left alone), from Lua and from a server, over HTTP/1.1 and HTTP/2.
func TestCompressionBrotli(t *testing.T) {
	be := compressedBackend(t)
	s := startCompression(t, be.Listener.Addr().String())
	br := "http://" + s.addrOf("3")

	if out, _ := exec.Command(needCurl(t), "-V").Output(); strings.Contains(string(out), "brotli") {
		out, _, _ := curl(t, "--compressed", "-D", "-", br+"/page?len=30000")
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if !strings.Contains(head, "content-encoding: br") || !strings.Contains(head, "vary: accept-encoding") || strings.Contains(head, "content-length") || body != pageText(30000) {
			t.Errorf("curl --compressed: head\n%s\nbody %d bytes", head, len(body))
		}
		if out, _, _ = curl(t, "--compressed", "--http2-prior-knowledge", br+"/page?len=30000"); out != pageText(30000) {
			t.Errorf("curl --compressed over HTTP/2: %d bytes", len(out))
		}
	}

	c, _ := newClient(t) // DisableCompression: bodies as sent
	for _, tc := range []struct {
		name, url, ae, coding string
		n                     int
	}{
		{"a tie: br", br + "/page?len=10000", "gzip, deflate, br", "br", 10000},
		{"br weighs more", br + "/page?len=10000", "gzip;q=0.5, br", "br", 10000},
		{"gzip weighs more", br + "/page?len=10000", "br;q=0.5, gzip", "gzip", 10000},
		{"br refused", br + "/page?len=10000", "br;q=0, gzip;q=0.1", "gzip", 10000},
		{"br only, not offered", s.url("/page?len=10000"), "br", "", 10000},
		{"small", br + "/page?len=50", "br", "", 50},
		{"incompressible type", br + "/page?len=10000&type=image%2Fpng", "br", "", 10000},
		{"a server's text", "http://" + s.addrOf("2") + "/b/plain", "gzip, br", "br", 20000},
		{"a server's pieces", "http://" + s.addrOf("2") + "/b/stream", "br", "br", 15000},
	} {
		resp, body := rawGet(t, c, "GET", tc.url, "accept-encoding", tc.ae)
		ce := resp.Header.Get("content-encoding")
		got := string(body)
		switch ce {
		case "br":
			got = unbrotli(t, body)
		case "gzip":
			got = gunzip(t, body)
		}
		want := pageText(tc.n)
		if strings.HasSuffix(tc.url, "/stream") {
			want = strings.Repeat(pageText(3000), 5)
		}
		if ce != tc.coding || got != want {
			t.Errorf("%s: content-encoding %q, %d bytes decode to %d; want %q, %d", tc.name, ce, len(body), len(got), tc.coding, len(want))
		}
		if ce != "" && (resp.ContentLength != -1 || resp.Header.Get("vary") != "accept-encoding" || len(body) > tc.n/2) {
			t.Errorf("%s: content-length %d, vary %q, %d bytes for %d", tc.name, resp.ContentLength, resp.Header.Get("vary"), len(body), tc.n)
		}
	}
	// What a server compressed itself is left alone.
	resp, b := rawGet(t, c, "GET", "http://"+s.addrOf("2")+"/b/gzipped", "accept-encoding", "br, gzip")
	if resp.Header.Get("content-encoding") != "gzip" || gunzip(t, b) != pageText(20000) {
		t.Errorf("the server's gzip: %q, %d bytes", resp.Header.Get("content-encoding"), len(b))
	}

	// %B counts the compressed body.
	var line string
	waitFor(t, "the access log", func() bool {
		for _, l := range readLinesIfAny(filepath.Join(s.dir, "br.log")) {
			if strings.HasPrefix(l, "/page?len=10000 200 ") {
				line = l
				return true
			}
		}
		return false
	})
	var n int
	fmt.Sscanf(strings.Fields(line)[2], "%d", &n)
	if n <= 0 || n > 5000 {
		t.Errorf("access log %q: want the compressed size", line)
	}
}

// While a brotli response is in flight on the only loop (its writer
// held between two pieces), other clients of that loop get their own
// answers: uncompressed, or compressed with another writer, and the first
// response ends whole.
func TestCompressionBrotliConcurrent(t *testing.T) {
	s := startCompression(t, "127.0.0.1:1")
	br := "http://" + s.addrOf("3")
	c, _ := newClient(t)
	// The head leaves with the first piece; the service then sleeps
	// 1.5 s before the second, holding its writer.
	req, _ := http.NewRequest("GET", br+"/page?len=5000&parts=1500", nil)
	req.Header.Set("accept-encoding", "br")
	slowResp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer slowResp.Body.Close()
	headAt := time.Now()
	for i := 0; i < 5; i++ {
		resp, body := rawGet(t, c, "GET", br+"/page?upper=1&len=3000")
		if resp.Header.Get("content-encoding") != "" || string(body) != strings.ToUpper(pageText(3000)) {
			t.Errorf("plain client %d: %q, %d bytes, want its own 3000 upper-case bytes", i, resp.Header.Get("content-encoding"), len(body))
		}
		resp, body = rawGet(t, c, "GET", br+"/page?upper=1&len=7000", "accept-encoding", "br")
		if resp.Header.Get("content-encoding") != "br" || unbrotli(t, body) != strings.ToUpper(pageText(7000)) {
			t.Errorf("brotli client %d: %q, want its own 7000 upper-case bytes", i, resp.Header.Get("content-encoding"))
		}
	}
	if took := time.Since(headAt); took > 1200*time.Millisecond {
		t.Logf("the other clients took %v: the slow response may have ended before them", took)
	}
	slow, err := io.ReadAll(slowResp.Body)
	if err != nil || slowResp.Header.Get("content-encoding") != "br" || unbrotli(t, slow) != pageText(5000)+pageText(5000) {
		t.Errorf("the slow response: %d bytes, %v", len(slow), err)
	}
}

// A server that closes mid-body while its response is compressed: the
// client sees a cut response (HTTP/1.1: no last chunk; HTTP/2: a reset
// stream), never a well-formed complete one, and the next client of the
// loop is served.
func TestCompressionServerCut(t *testing.T) {
	s := startCompression(t, compressedBackend(t).Listener.Addr().String())
	h1, _ := newClient(t)
	h2 := &http.Client{Transport: &http2.Transport{AllowHTTP: true, DisableCompression: true, DialTLSContext: func(ctx context.Context, n, a string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, n, a)
	}}, Timeout: 10 * time.Second}
	for _, cl := range []struct {
		name string
		c    *http.Client
	}{{"HTTP/1.1", h1}, {"HTTP/2", h2}} {
		for _, tc := range []struct{ path, coding string }{{"/cut", "gzip"}, {"/b/cut", "br"}} {
			req, _ := http.NewRequest("GET", "http://"+s.addrOf("2")+tc.path, nil)
			req.Header.Set("accept-encoding", tc.coding)
			resp, err := cl.c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", cl.name, tc.path, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("content-encoding") != tc.coding || err == nil {
				t.Errorf("%s %s: %q, %d bytes read without an error: the cut is hidden", cl.name, tc.path, resp.Header.Get("content-encoding"), len(body))
			}
			// What arrived decodes to a prefix of the server's bytes, and
			// is not a complete stream.
			var r io.Reader
			if tc.coding == "br" {
				r = brotli.NewReader(bytes.NewReader(body))
			} else if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				r = zr
			}
			if r != nil {
				got, err := io.ReadAll(r)
				if err == nil || !strings.HasPrefix(pageText(20000), string(got)) {
					t.Errorf("%s %s: the body decodes completely (%v) or wrongly (%d bytes)", cl.name, tc.path, err, len(got))
				}
			}
			// The next client is served in full.
			resp, b := rawGet(t, cl.c, "GET", "http://"+s.addrOf("2")+"/b/plain", "accept-encoding", "br")
			if resp.Header.Get("content-encoding") != "br" || unbrotli(t, b) != pageText(20000) {
				t.Errorf("%s: the next client after %s: %q, %d bytes", cl.name, tc.path, resp.Header.Get("content-encoding"), len(b))
			}
		}
	}
}
