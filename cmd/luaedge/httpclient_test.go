package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// The services of the client tests: each calls a backend with lua-http's
// http.request and answers what it got.
const clientLua = `
local http_request = require "http.request"
local BACKEND = "@BACKEND@"

local function reply(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end

local function fetch(uri, setup)
	local req = http_request.new_from_uri(uri)
	if setup then setup(req) end
	local h, st, errno = req:go(5)
	if not h then return "err:" .. tostring(errno) .. ":" .. tostring(st) end
	local body, err = st:get_body_as_string(5)
	if not body then return "err:body:" .. tostring(err) end
	return h:get(":status") .. " " .. (h:get("x-backend") or "-") .. " " .. body
end

core.register_service("get", "http", function(applet)
	reply(applet, fetch(BACKEND .. applet.path))
end)

core.register_service("post", "http", function(applet)
	local body = applet:receive()
	reply(applet, fetch(BACKEND .. "/echo", function(req)
		req.headers:upsert(":method", "POST")
		req.headers:upsert("content-type", "text/plain")
		req:set_body(body)
	end))
end)

-- Chunks as they come, joined by "|".
core.register_service("chunks", "http", function(applet)
	local h, st = assert(http_request.new_from_uri(BACKEND .. "/chunks"):go(5))
	local parts = {}
	for chunk in st:each_chunk() do parts[#parts + 1] = chunk end
	local t = st:get_headers()
	parts[#parts + 1] = t and t:get("x-trailer") or "no trailers"
	reply(applet, table.concat(parts, "|"))
end)

core.register_service("redirect", "http", function(applet)
	reply(applet, fetch(BACKEND .. "/r/3", function(req) req.max_redirects = tonumber(applet.qs) end))
end)

core.register_service("slow", "http", function(applet)
	local t0 = core.now()
	local h, err, errno = http_request.new_from_uri(BACKEND .. "/never"):go(tonumber(applet.qs))
	local t1 = core.now()
	local ms = (t1.sec - t0.sec) * 1000 + (t1.usec - t0.usec) / 1000
	reply(applet, tostring(h) .. ":" .. tostring(errno) .. ":" .. tostring(err) .. ":" .. math.floor(ms))
end)

core.register_service("fast", "http", function(applet) reply(applet, "fast") end)

core.register_service("h2c", "http", function(applet)
	reply(applet, fetch(BACKEND .. "/proto", function(req) req.version = 2 end))
end)

core.register_service("tls", "http", function(applet)
	local name = applet.qs
	reply(applet, fetch(BACKEND .. "/proto", function(req)
		if name ~= "" then req.sendname = name end
		if applet.path == "/noverify" then req.verify = false end
	end))
end)

core.register_service("dovecot", "http", function(applet)
	local client = dovecot.http.client { timeout = 10000; max_attempts = 3; debug = true; }
	local req = client:request { url = BACKEND .. "/echo"; method = "POST"; }
	req:add_header("x-test", "dovecot")
	req:set_payload('{"user":"u"}')
	local resp = req:submit()
	local dead = client:request { url = "http://127.0.0.1:1/" }:submit()
	reply(applet, resp:status() .. " " .. tostring(resp:header("x-backend")) .. " " .. resp:payload() ..
		" " .. dead:status())
end)
`

// clientBackend is the net/http handler the client tests call.
func clientBackend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend", "go-"+r.Proto)
	switch {
	case r.URL.Path == "/hello":
		fmt.Fprint(w, "hello")
	case r.URL.Path == "/proto":
		fmt.Fprint(w, r.Proto)
	case r.URL.Path == "/echo":
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %s %s", r.Method, len(b), r.Header.Get("X-Test"), b)
	case r.URL.Path == "/chunks":
		w.Header().Set("Trailer", "X-Trailer")
		for _, p := range []string{"one", "two", "three"} {
			fmt.Fprint(w, p)
			w.(http.Flusher).Flush()
			time.Sleep(30 * time.Millisecond)
		}
		w.Header().Set("X-Trailer", "end")
	case strings.HasPrefix(r.URL.Path, "/r/"):
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n == 0 {
			fmt.Fprint(w, "landed")
			return
		}
		http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
	case r.URL.Path == "/never":
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

func clientConfig(extra string) string {
	return `workers: 1
lua: {load: [client.lua]}
` + extra + `frontends:
  - {name: get, bind: ["127.0.0.1:@PORT@"], use_service: lua.get}
  - {name: post, bind: ["127.0.0.1:@PORT2@"], use_service: lua.post}
  - {name: chunks, bind: ["127.0.0.1:@PORT3@"], use_service: lua.chunks}
  - {name: redirect, bind: ["127.0.0.1:@PORT4@"], use_service: lua.redirect}
  - {name: slow, bind: ["127.0.0.1:@PORT5@"], use_service: lua.slow}
  - {name: fast, bind: ["127.0.0.1:@PORT6@"], use_service: lua.fast}
  - {name: h2c, bind: ["127.0.0.1:@PORT7@"], use_service: lua.h2c}
  - {name: tls, bind: ["127.0.0.1:@PORT8@"], use_service: lua.tls}
  - {name: dovecot, bind: ["127.0.0.1:@PORT9@"], use_service: lua.dovecot}
`
}

func startClient(t *testing.T, backend, extra string) *server {
	return startServer(t, clientConfig(extra), map[string]string{"client.lua": strings.ReplaceAll(clientLua, "@BACKEND@", backend)})
}

func TestHTTPRequestToGoHTTP1(t *testing.T) {
	b := startBackend(t, "", clientBackend)
	s := startClient(t, "http://"+b.addr, "")
	c, _ := newClient(t)
	at := func(name, path string) string { return "http://" + s.addrOf(name) + path }

	// GETs on one connection: the pool keeps it between requests.
	for i := 0; i < 5; i++ {
		_, body := get(t, c, at("", "/hello"))
		if body != "200 go-HTTP/1.1 hello" {
			t.Fatalf("get %d: %q\n%s", i, body, s.logs())
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("5 GETs used %d connections to the backend, want 1", n)
	}
	// POST bodies both ways: a short one, and one long enough to wait for
	// the server's 100 Continue.
	for _, n := range []int{5, 200000} {
		in := strings.Repeat("p", n)
		_, body := do(t, c, "POST", at("2", "/"), in)
		if want := fmt.Sprintf("200 go-HTTP/1.1 POST %d  %s", n, in); body != want {
			t.Fatalf("post %d: %q", n, abbrev(body))
		}
	}
	// A chunked response read chunk by chunk, then its trailers.
	if _, body := get(t, c, at("3", "/")); body != "one|two|three|end" {
		t.Fatalf("chunks: %q", body)
	}
	// Redirects, and their limit.
	if _, body := get(t, c, at("4", "/?5")); body != "200 go-HTTP/1.1 landed" {
		t.Fatalf("redirect: %q", body)
	}
	if _, body := get(t, c, at("4", "/?2")); body != "err:40:maximum redirects exceeded" {
		t.Fatalf("redirect limit: %q", body)
	}
	// A server that never answers costs the waiting script its timeout;
	// the loop serves other requests meanwhile.
	slow := make(chan string, 1)
	go func() {
		_, body := get(t, c, at("5", "/?0.6"))
		slow <- body
	}()
	deadline := time.Now().Add(400 * time.Millisecond)
	served := 0
	for time.Now().Before(deadline) {
		start := time.Now()
		if _, body := get(t, c, at("6", "/")); body != "fast" {
			t.Fatalf("fast: %q", body)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("a request waited %v behind the slow one", d)
		}
		served++
	}
	body := <-slow
	parts := strings.Split(body, ":")
	if len(parts) != 4 || parts[0] != "nil" || parts[1] != "110" {
		t.Fatalf("slow: %q", body)
	}
	if ms, _ := strconv.Atoi(parts[3]); ms < 550 || ms > 1500 {
		t.Fatalf("slow: timed out after %d ms, want about 600", ms)
	}
	if served < 5 {
		t.Fatalf("only %d requests served while one waited", served)
	}
	// Dovecot's client, and its error statuses.
	_, body = get(t, c, at("9", "/"))
	if body != `200 go-HTTP/1.1 POST 12 dovecot {"user":"u"} 9003` {
		t.Fatalf("dovecot: %q", body)
	}
	s.waitLog(t, 2*time.Second, "http-client: POST http://"+b.addr+"/echo: 200 OK")
}

// HTTP/2 with prior knowledge (h2c), to a Go server.
func TestHTTPRequestToGoH2C(t *testing.T) {
	b := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		clientBackend(w, r)
	})
	b.srv.Handler = h2c.NewHandler(b.srv.Handler, &http2.Server{})
	s := startClient(t, "http://"+b.addr, "")
	c, _ := newClient(t)
	for i := 0; i < 3; i++ {
		if _, body := get(t, c, "http://"+s.addrOf("7")+"/"); body != "200 go-HTTP/2.0 HTTP/2.0" {
			t.Fatalf("h2c: %q\n%s", body, s.logs())
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("3 requests used %d HTTP/2 connections, want 1", n)
	}
}

// TLS: HTTP/2 by ALPN, the certificate verified against http_client's
// ca_file and the server name, verification off only when asked.
func TestHTTPRequestOverTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(clientBackend))
	ts.EnableHTTP2 = true
	var conns atomic.Int32
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	s := startClient(t, ts.URL, "http_client: {ca_file: "+ca+"}\n")
	c, _ := newClient(t)
	at := func(path string) string { return "http://" + s.addrOf("8") + path }
	for i := 0; i < 3; i++ {
		if _, body := get(t, c, at("/")); body != "200 go-HTTP/2.0 HTTP/2.0" {
			t.Fatalf("tls: %q\n%s", body, s.logs())
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 requests used %d TLS connections, want 1", n)
	}
	// The certificate is not for this name: refused, unless told not to
	// verify.
	if _, body := get(t, c, at("/?other.test")); !strings.HasPrefix(body, "err:71:") || !strings.Contains(body, "certificate") {
		t.Fatalf("wrong name: %q", body)
	}
	if _, body := get(t, c, at("/noverify?other.test")); body != "200 go-HTTP/2.0 HTTP/2.0" {
		t.Fatalf("verify = false: %q", body)
	}
}

// nginx as the server: a static file read chunk by chunk.
func TestHTTPRequestToNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed")
	}
	dir := t.TempDir()
	for _, d := range []string{"www", "cb", "px", "fc", "uw", "sc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("0123456789", 100000)
	writeFile(t, filepath.Join(dir, "www", "big.txt"), big)
	writeFile(t, filepath.Join(dir, "www", "hello"), "static hello")
	port := freePort(t)
	writeFile(t, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`daemon off; master_process off; worker_processes 1;
pid %[1]s/nginx.pid; error_log %[1]s/error.log warn;
events { worker_connections 256; }
http { access_log off; client_body_temp_path %[1]s/cb; proxy_temp_path %[1]s/px;
  fastcgi_temp_path %[1]s/fc; uwsgi_temp_path %[1]s/uw; scgi_temp_path %[1]s/sc;
  server { listen 127.0.0.1:%[2]d; root %[1]s/www; add_header x-backend nginx; } }
`, dir, port))
	cmd := exec.Command(nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if cn, err := net.Dial("tcp", addr); err == nil {
			cn.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := startServer(t, `workers: 1
lua: {load: [nginx.lua]}
frontends:
  - {name: get, bind: ["127.0.0.1:@PORT@"], use_service: lua.get}
`, map[string]string{"nginx.lua": `
local http_request = require "http.request"
core.register_service("get", "http", function(applet)
	local h, st = assert(http_request.new_from_uri("http://` + addr + `" .. applet.path):go(5))
	local n, size = 0, 0
	while true do
		local chunk = st:get_body_chars(65536, 5)
		if not chunk then break end
		n, size = n + 1, size + #chunk
	end
	local body = h:get(":status") .. " " .. h:get("x-backend") .. " " .. size .. " in " .. n
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	if _, body := get(t, c, s.url("/big.txt")); body != "200 nginx 1000000 in 16" {
		t.Fatalf("big: %q\n%s", body, s.logs())
	}
	if _, body := get(t, c, s.url("/hello")); body != "200 nginx 12 in 1" {
		t.Fatalf("hello: %q", body)
	}
}

// startTestDNS answers name. with A 127.0.0.1 (TTL 60 s) and nothing
// else; it counts the questions.
func startTestDNS(t *testing.T, name string) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var queries atomic.Int32
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch {
		case q.Name == name && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR(name + " 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, rr)
		case q.Name == name:
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	var once sync.Once
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { once.Do(func() { _ = srv.Shutdown() }) })
	return pc.LocalAddr().String(), &queries
}

// Names resolve through the DNS server of the configuration, once per
// TTL: in URIs, for core.tcp() connects and with core.resolve.
func TestHTTPRequestResolvesThroughDNS(t *testing.T) {
	dnsAddr, queries := startTestDNS(t, "backend.test.")
	b := startBackend(t, "", clientBackend)
	_, port, _ := net.SplitHostPort(b.addr)
	s := startServer(t, `workers: 1
dns: {nameservers: ["`+dnsAddr+`"]}
lua: {load: [dns.lua]}
frontends:
  - {name: get, bind: ["127.0.0.1:@PORT@"], use_service: lua.get}
`, map[string]string{"dns.lua": `
local http_request = require "http.request"
core.register_service("get", "http", function(applet)
	local h, st = assert(http_request.new_from_uri("http://backend.test:` + port + `/hello"):go(5))
	local addrs = assert(core.resolve("backend.test", 2))
	local none, err, errno = core.resolve("nothing.test")
	local sock = core.tcp()
	sock:settimeout(2)
	local ok, cerr = sock:connect("backend.test", ` + port + `)
	sock:close()
	local body = st:get_body_as_string() .. " " .. table.concat(addrs, ",") .. " " .. tostring(none) .. ":" ..
		tostring(errno) .. " " .. tostring(ok or cerr)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	for i := 0; i < 3; i++ {
		if _, body := get(t, c, s.url("/")); body != "hello 127.0.0.1 nil:113 1" {
			t.Fatalf("dns: %q\n%s", body, s.logs())
		}
	}
	// backend.test asked once (A and AAAA), nothing.test once: the rest
	// came from the cache.
	if n := queries.Load(); n != 4 {
		t.Errorf("%d DNS questions, want 4", n)
	}
}

// lua-http's own http.request example, unchanged but for its URI, in a
// task (top-level code cannot wait for the network in luaedge); stdout is
// unbuffered so that print's line reaches the test at once.
func TestLuaHTTPRequestExample(t *testing.T) {
	b := startBackend(t, "", clientBackend)
	s := startServer(t, `workers: 1
lua: {load: [example.lua]}
frontends:
  - {name: x, bind: ["127.0.0.1:@PORT@"], use_service: lua.none}
`, map[string]string{"example.lua": `
core.register_service("none", "http", function(applet) end)
io.stdout:setvbuf("no")
core.register_task(function()
local http_request = require "http.request"
local headers, stream = assert(http_request.new_from_uri("http://` + b.addr + `/hello"):go())
local body = assert(stream:get_body_as_string())
if headers:get ":status" ~= "200" then
    error(body)
end
print(body)
end)
`})
	s.waitLog(t, 3*time.Second, "hello")
}

// A body that stops coming: a read's timeout ends that read,
// http_client.timeout the exchange.
func TestHTTPRequestBodyTimeouts(t *testing.T) {
	b := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		fmt.Fprint(w, "abc")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	s := startServer(t, `workers: 1
http_client: {timeout: 700ms}
lua: {load: [stall.lua]}
frontends:
  - {name: get, bind: ["127.0.0.1:@PORT@"], use_service: lua.get}
`, map[string]string{"stall.lua": `
local http_request = require "http.request"
core.register_service("get", "http", function(applet)
	local t0 = core.now()
	local h, st = assert(http_request.new_from_uri("http://` + b.addr + `/"):go(5))
	local body, err, errno
	if applet.path == "/read" then
		body = st:get_next_chunk(1)
		body, err, errno = st:get_next_chunk(0.2)
	else
		body, err, errno = st:get_body_as_string(5)
	end
	local t1 = core.now()
	local out = h:get(":status") .. ":" .. tostring(body) .. ":" .. tostring(errno) .. ":" .. tostring(err) .. ":" ..
		math.floor((t1.sec - t0.sec) * 1000 + (t1.usec - t0.usec) / 1000)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#out))
	applet:start_response()
	applet:send(out)
end)
`})
	c, _ := newClient(t)
	for _, tc := range []struct {
		path, want string
		ms         int
	}{
		{"/read", "200:nil:110:read timed out", 200},
		{"/whole", "200:nil:110:request timed out", 700},
	} {
		_, body := get(t, c, s.url(tc.path))
		i := strings.LastIndexByte(body, ':')
		if i < 0 || body[:i] != tc.want {
			t.Fatalf("%s: %q, want %q", tc.path, body, tc.want)
		}
		if ms, _ := strconv.Atoi(body[i+1:]); ms < tc.ms-50 || ms > tc.ms+500 {
			t.Fatalf("%s: timed out after %d ms, want about %d", tc.path, ms, tc.ms)
		}
	}
}

// A server that closes each connection soon after its response, without
// saying so: the client pools the connection, and the next request, sent
// on it, gets no answer. A GET is sent again on a new connection: the
// client does not peek at a connection it used a moment ago before an
// idempotent request, and relies on this.
func TestHTTPRequestServerClosesPooledConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				got := 0
				for !strings.Contains(string(buf[:got]), "\r\n\r\n") {
					m, err := c.Read(buf[got:])
					if err != nil {
						return
					}
					got += m
				}
				body := strconv.Itoa(int(n))
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(body), body)
				time.Sleep(20 * time.Millisecond) // the request sent meanwhile is not read
			}()
		}
	}()
	s := startServer(t, `workers: 1
lua: {load: [close.lua]}
frontends:
  - {name: get, bind: ["127.0.0.1:@PORT@"], use_service: lua.get}
`, map[string]string{"close.lua": `
local http_request = require "http.request"
local function fetch()
	local h, st, errno = http_request.new_from_uri("http://` + ln.Addr().String() + `/"):go(5)
	if not h then return "err:" .. tostring(errno) .. ":" .. tostring(st) end
	return st:get_body_as_string(5)
end
core.register_service("get", "http", function(applet)
	local body = fetch() .. " " .. fetch() .. " " .. fetch()
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	// Each answer is the number of its connection.
	if _, body := get(t, c, s.url("/")); body != "1 2 3" {
		t.Fatalf("%q (%d connections)", body, conns.Load())
	}
}
