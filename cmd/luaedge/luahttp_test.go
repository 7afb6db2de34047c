package main

import (
	"bufio"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// lua-http's stream interface as a service (core.register_service(name,
// "http-stream", fn)): the handlers of examples/lua-http, and lua-http's
// own examples as Debian ships them, answered over HTTP/1.1, h2c and TLS
// (ALPN h2 and http/1.1), by Go's client and curl.

// luaHTTPExamples reads the handlers of examples/lua-http.
func luaHTTPExamples(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"hello.lua", "events.lua", "upload.lua"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "lua-http", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	return files
}

func TestLuaHTTPStreamService(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	files := luaHTTPExamples(t)
	files["a.pem"], files["a.key"] = cert.certPEM, cert.keyPEM
	s := startServer(t, `workers: 2
shutdown_timeout: 2s
lua:
  load: [hello.lua, events.lua, upload.lua]
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: events
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.events
  - name: upload
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.upload
  - name: hello-tls
    bind: ["127.0.0.1:@PORT4@"]
    use_service: lua.hello
    tls: {cert: a.pem, key: a.key}
  - name: upload-tls
    bind: ["127.0.0.1:@PORT5@"]
    use_service: lua.upload
    tls: {cert: a.pem, key: a.key}
`, files)
	roots := x509.NewCertPool()
	roots.AddCert(cert.leaf)
	h1, _ := newClient(t)
	h2c, _ := h2cClient(t)
	tlsH1, _ := tlsClient(t, roots, false, nil)
	tlsH2, _ := tlsClient(t, roots, true, nil)
	tlsURL := func(port, path string) string {
		_, p, _ := net.SplitHostPort(s.addrOf(port))
		return "https://a.test:" + p + path
	}
	type client struct {
		name  string
		c     *http.Client
		proto string
		url   func(port, path string) string
	}
	clear := func(port, path string) string { return "http://" + s.addrOf(port) + path }
	clients := []client{
		{"HTTP/1.1", h1, "HTTP/1.1", clear},
		{"h2c", h2c, "HTTP/2.0", clear},
		{"TLS http/1.1", tlsH1, "HTTP/1.1", func(port, path string) string { return tlsURL(map[string]string{"": "4", "3": "5"}[port], path) }},
		{"TLS h2", tlsH2, "HTTP/2.0", func(port, path string) string { return tlsURL(map[string]string{"": "4", "3": "5"}[port], path) }},
	}

	// lua-http's hello world: the whole body in one write after the head
	// goes with a content-length; HEAD gets the head only.
	t.Run("hello", func(t *testing.T) {
		for _, cl := range clients {
			resp, body := get(t, cl.c, cl.url("", "/some/path?q=1"))
			wantResponse(t, cl.name, resp, body, 200, "Hello world!\n")
			if resp.Proto != cl.proto || resp.ContentLength != 13 || resp.Header.Get("content-type") != "text/plain" {
				t.Errorf("%s: %s, length %d, content-type %q", cl.name, resp.Proto, resp.ContentLength, resp.Header.Get("content-type"))
			}
			resp, body = do(t, cl.c, "HEAD", cl.url("", "/"), "")
			if resp.StatusCode != 200 || body != "" {
				t.Errorf("%s HEAD: %d %q", cl.name, resp.StatusCode, body)
			}
		}
		// The handler logs each request with the connection's version.
		s.waitLog(t, 5*time.Second, `"GET /some/path?q=1 HTTP/1.1" "Go-http-client/1.1"`, `"GET /some/path?q=1 HTTP/2" "Go-http-client/2.0"`)
	})

	// Server-sent events: each chunk leaves when it is written, a second
	// apart, long before the response would end (it never does).
	t.Run("events", func(t *testing.T) {
		for _, cl := range clients[:2] {
			resp, err := cl.c.Get(cl.url("2", "/event-stream"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("content-type") != "text/event-stream" || resp.ContentLength != -1 {
				t.Fatalf("%s: %d %q length %d", cl.name, resp.StatusCode, resp.Header.Get("content-type"), resp.ContentLength)
			}
			r := bufio.NewReader(resp.Body)
			var at []time.Time
			for len(at) < 3 {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("%s: after %d events: %v", cl.name, len(at), err)
				}
				if strings.HasPrefix(line, "data: The time is now ") {
					at = append(at, time.Now())
				}
			}
			resp.Body.Close()
			if gap := at[2].Sub(at[1]); gap < 700*time.Millisecond || gap > 3*time.Second {
				t.Errorf("%s: events %v apart, want about a second", cl.name, gap)
			}
		}
		resp, body := get(t, h1, "http://"+s.addrOf("2")+"/")
		if resp.StatusCode != 200 || !strings.Contains(body, `new EventSource("/event-stream")`) {
			t.Errorf("page: %d %q", resp.StatusCode, abbrev(body))
		}
		resp, _ = get(t, h2c, "http://"+s.addrOf("2")+"/nothing")
		if resp.StatusCode != 404 || resp.ContentLength != 0 {
			t.Errorf("404: %d, length %d", resp.StatusCode, resp.ContentLength)
		}
	})

	// The request body is read line by line while it arrives, and each
	// answer leaves before the next line is sent; trailers end it.
	t.Run("upload", func(t *testing.T) {
		for _, cl := range clients {
			pr, pw := io.Pipe()
			req, _ := http.NewRequest("POST", cl.url("3", "/"), pr)
			done := make(chan *http.Response, 1)
			errs := make(chan error, 1)
			go func() {
				resp, err := cl.c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				done <- resp
			}()
			io.WriteString(pw, "first line\n")
			var resp *http.Response
			select {
			case resp = <-done:
			case err := <-errs:
				t.Fatalf("%s: %v", cl.name, err)
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no response head while the body is still being sent", cl.name)
			}
			r := bufio.NewReader(resp.Body)
			for i, line := range []string{"first line", "second", "third, without a newline"} {
				if i > 0 {
					io.WriteString(pw, line)
					if i < 2 {
						io.WriteString(pw, "\n")
					} else {
						pw.Close()
					}
				}
				got, err := r.ReadString('\n')
				if want := strconv.Itoa(i+1) + ": " + line + "\n"; got != want || err != nil {
					t.Fatalf("%s: line %d: %q, %v; want %q", cl.name, i+1, got, err, want)
				}
			}
			if rest, _ := io.ReadAll(r); len(rest) != 0 {
				t.Errorf("%s: more body %q", cl.name, rest)
			}
			resp.Body.Close()
			if resp.Proto != cl.proto || resp.Trailer.Get("x-lines") != "3" {
				t.Errorf("%s: %s, trailer x-lines %q", cl.name, resp.Proto, resp.Trailer.Get("x-lines"))
			}
		}
		resp, _ := get(t, h1, "http://"+s.addrOf("3")+"/")
		if resp.StatusCode != 405 || resp.Header.Get("allow") != "POST" {
			t.Errorf("GET: %d allow %q", resp.StatusCode, resp.Header.Get("allow"))
		}
	})

	t.Run("curl", func(t *testing.T) {
		out, _, _ := curl(t, "-si", "--http2-prior-knowledge", s.url("/"))
		if !strings.HasPrefix(out, "HTTP/2 200") || !strings.Contains(out, "content-length: 13\r\n") || !strings.HasSuffix(out, "\r\n\r\nHello world!\n") {
			t.Errorf("curl --http2-prior-knowledge: %q", out)
		}
		out, _, _ = curl(t, "-s", "--data-binary", "a\nb\n", "http://"+s.addrOf("3")+"/")
		if out != "1: a\n2: b\n" {
			t.Errorf("curl POST: %q", out)
		}
	})
}

// lua-http's own examples, as Debian's lua-http package ships them, run
// unchanged: a script loaded first plays lua-http's http.server, whose
// listen{onstream = fn} registers fn as an http-stream service, and
// cqueues.sleep is core.sleep; arg (the command line) is empty.
func TestLuaHTTPOwnExamples(t *testing.T) {
	dir := "/usr/share/doc/lua-http/examples"
	files := map[string]string{"start.lua": `-- lua-http's examples, started the luaedge way.
arg = {}
local n = 0
local server = {}
function server:listen() return true end
function server:localname() return 2, "127.0.0.1", 0 end
function server:loop() return true end
package.preload["http.server"] = function()
	return {
		listen = function(options)
			n = n + 1
			core.register_service("lua-http-example-" .. n, "http-stream", function(stream) return options.onstream(server, stream) end)
			return server
		end,
	}
end
package.preload["cqueues"] = function() return { sleep = core.sleep } end
`}
	for _, name := range []string{"server_hello.lua", "server_sent_events.lua"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("lua-http's examples are not installed (Debian's lua-http): %v", err)
		}
		files[name] = string(b)
	}
	s := startServer(t, `shutdown_timeout: 2s
lua:
  load: [start.lua, server_hello.lua, server_sent_events.lua]
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.lua-http-example-1
  - name: events
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.lua-http-example-2
`, files)
	h1, _ := newClient(t)
	h2c, _ := h2cClient(t)
	for _, c := range []*http.Client{h1, h2c} {
		resp, body := get(t, c, s.url("/"))
		wantResponse(t, "server_hello.lua", resp, body, 200, "Hello world!\n")
		resp, err := c.Get("http://" + s.addrOf("2") + "/event-stream")
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		resp.Body.Close()
		if !strings.HasPrefix(line, "data: The time is now ") {
			t.Errorf("server_sent_events.lua: %q, %v", line, err)
		}
	}
	resp, _ := do(t, h1, "POST", "http://"+s.addrOf("2")+"/", "x")
	if resp.StatusCode != 405 {
		t.Errorf("server_sent_events.lua, POST: %d", resp.StatusCode)
	}
}

// haproxy.cfg: use-service lua.NAME runs an http-stream service, alone or
// chosen by a rule.
func TestLuaHTTPStreamHAProxyCfg(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	writeFile(t, filepath.Join(dir, "hello.lua"), luaHTTPExamples(t)["hello.lua"])
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), `global
    nbthread 1
    lua-load hello.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind `+addr+`
    http-request deny if { path /denied }
    http-request use-service lua.hello if { path_beg /hello }
`)
	s, ok := launch(t, dir, []string{"-db", "-f", "haproxy.cfg"}, []string{addr})
	if !ok {
		t.Fatalf("luaedge did not start; its output:\n%s", s.logs())
	}
	c, _ := newClient(t)
	resp, body := get(t, c, "http://"+addr+"/hello/x")
	wantResponse(t, "use-service", resp, body, 200, "Hello world!\n")
	if resp, _ := get(t, c, "http://"+addr+"/denied"); resp.StatusCode != 403 {
		t.Errorf("deny: %d", resp.StatusCode)
	}
}

// The timeouts of the body reads: a read that times out returns nil,
// "Connection timed out", 110 (ETIMEDOUT) and leaves the stream as it was;
// a later read gets the body that came meanwhile.
func TestLuaHTTPStreamReadTimeouts(t *testing.T) {
	s := startServer(t, `shutdown_timeout: 2s
lua:
  load: [timeouts.lua]
frontends:
  - name: timeouts
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.timeouts
`, map[string]string{"timeouts.lua": `
local http_headers = require "http.headers"
core.register_service("timeouts", "http-stream", function(stream)
	assert(stream:get_headers())
	local first = stream:get_next_chunk(5)
	local t0 = core.now()
	local none, err, errno = stream:get_next_chunk(0.3)
	local t1 = core.now()
	local waited = (t1.sec - t0.sec) + (t1.usec - t0.usec) / 1e6
	local res = http_headers.new()
	res:append(":status", "200")
	assert(stream:write_headers(res, false))
	assert(stream:write_chunk(string.format("%s %s %s %s %s\n", first, tostring(none), err, errno, waited >= 0.29 and "waited" or "early"), false))
	local rest = assert(stream:get_body_as_string(5))
	assert(stream:write_chunk("rest " .. rest .. "\n", true))
end)
`})
	h1, _ := newClient(t)
	h2c, _ := h2cClient(t)
	for _, c := range []*http.Client{h1, h2c} {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", s.url("/"), pr)
		got := make(chan *http.Response, 1)
		go func() {
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				pr.Close()
				close(got)
				return
			}
			got <- resp
		}()
		start := time.Now()
		io.WriteString(pw, "abc")
		resp := <-got
		if resp == nil {
			t.FailNow()
		}
		r := bufio.NewReader(resp.Body)
		line, err := r.ReadString('\n')
		if line != "abc nil Connection timed out 110 waited\n" || err != nil {
			t.Fatalf("first line %q, %v", line, err)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
			t.Errorf("the read timed out after %v, want 0.3 s", d)
		}
		io.WriteString(pw, "def")
		pw.Close()
		line, err = r.ReadString('\n')
		if line != "rest def\n" || err != nil {
			t.Errorf("second line %q, %v", line, err)
		}
		resp.Body.Close()
	}
}

// An http-stream service upgrades to WebSocket as a lua-http server does:
// http.websocket.new_from_stream, then accept; a request that is no
// upgrade is answered by the handler.
func TestLuaHTTPStreamWebSocket(t *testing.T) {
	s := startServer(t, `shutdown_timeout: 2s
lua:
  load: [ws.lua]
frontends:
  - name: ws
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.ws
`, map[string]string{"ws.lua": `
local http_headers = require "http.headers"
local websocket = require "http.websocket"
core.register_service("ws", "http-stream", function(stream)
	local req = assert(stream:get_headers())
	local ws, err, errno = websocket.new_from_stream(stream, req)
	if ws == nil then
		local res = http_headers.new()
		res:append(":status", "200")
		assert(stream:write_headers(res, false))
		assert(stream:write_chunk("not a websocket: " .. err .. " " .. errno, true))
		return
	end
	assert(ws:accept())
	local ok, werr = pcall(stream.write_chunk, stream, "x", false)
	assert(not ok and werr:find("the request is a WebSocket now", 1, true), werr)
	for data, kind in ws:each() do
		assert(ws:send(data:upper(), kind))
	end
end)
`})
	c := dialGorilla(t, "ws://"+s.addr()+"/", nil)
	for _, msg := range []string{"hello", "stream"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		kind, got, err := c.ReadMessage()
		if err != nil || kind != websocket.TextMessage || string(got) != strings.ToUpper(msg) {
			t.Fatalf("echo of %q: %d %q %v", msg, kind, got, err)
		}
	}
	h1, _ := newClient(t)
	resp, body := get(t, h1, s.url("/"))
	wantResponse(t, "GET without upgrade", resp, body, 200, "not a websocket: upgrade header not websocket 22")
	h2c, _ := h2cClient(t)
	resp, body = get(t, h2c, s.url("/"))
	wantResponse(t, "h2c", resp, body, 200, "not a websocket: websockets only supported with HTTP 1.1 22")
}

// How a handler's return ends its stream, as lua-http's server does: no
// head written is a 503, a body not ended is cut, and writing after the
// end is an error value.
func TestLuaHTTPStreamEnds(t *testing.T) {
	s := startServer(t, `shutdown_timeout: 2s
lua:
  load: [ends.lua]
frontends:
  - name: ends
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.ends
`, map[string]string{"ends.lua": `
local http_headers = require "http.headers"
core.register_service("ends", "http-stream", function(stream)
	local path = assert(stream:get_headers()):get(":path")
	if path == "/nohead" then return end
	local res = http_headers.new()
	res:append(":status", "200")
	if path == "/partial" then
		assert(stream:write_headers(res, false))
		assert(stream:write_chunk("part", false))
		return
	end
	if path == "/error" then error("boom") end
	assert(stream:write_headers(res, false))
	assert(stream:write_body_from_string("done"))
	local ok, err, errno = stream:write_chunk("more", false)
	local ok2, err2, errno2 = stream:write_headers(res, true)
	core.Info(string.format("after the end: %s %s %s / %s %s %s", tostring(ok), err, errno, tostring(ok2), err2, errno2))
end)
`})
	h1, _ := newClient(t)
	h2c, _ := h2cClient(t)
	for _, c := range []*http.Client{h1, h2c} {
		resp, body := get(t, c, s.url("/nohead"))
		if resp.StatusCode != 503 || body != "" {
			t.Errorf("no head: %d %q", resp.StatusCode, body)
		}
		resp, body = get(t, c, s.url("/done"))
		wantResponse(t, "done", resp, body, 200, "done")
		resp, _ = get(t, c, s.url("/error"))
		if resp.StatusCode != 500 {
			t.Errorf("error: %d", resp.StatusCode)
		}
		resp, err := c.Get(s.url("/partial"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || string(b) != "part" {
			t.Errorf("partial: %q, %v; want the part, then an error", b, err)
		}
	}
	s.waitLog(t, 5*time.Second, "after the end: nil Broken pipe 32 / nil Broken pipe 32")
}
