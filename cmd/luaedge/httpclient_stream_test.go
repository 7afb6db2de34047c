package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// Streamed bodies both ways, expect-100 and proxies: the services call
// the backend with http.request and answer what they saw. A path
// beginning with /h2/ asks the backend over HTTP/2 (h2c).
const streamLua = `
local http_request = require "http.request"
local BACKEND = "@BACKEND@"

local function reply(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end

local function ms_since(t0)
	local t = core.now()
	return math.floor((t.sec - t0.sec) * 1000 + (t.usec - t0.usec) / 1000)
end

local function request(applet, path)
	local req = http_request.new_from_uri(BACKEND .. path)
	if applet.path:match("^/h2/") then req.version = 2 end
	return req
end

local function answer(h, st, errno)
	if not h then return "err:" .. tostring(errno) .. ":" .. tostring(st) end
	local body, err = st:get_body_as_string(10)
	return h:get(":status") .. " " .. tostring(body or err)
end

-- N pieces of SIZE bytes, PAUSE ms apart, from a function.
core.register_service("upload", "http", function(applet)
	local n, size, pause = applet.qs:match("^(%d+),(%d+),(%d+)$")
	n, size, pause = tonumber(n), tonumber(size), tonumber(pause)
	local req = request(applet, "/upload")
	req.headers:upsert(":method", "PUT")
	local i = 0
	req:set_body(function()
		if i == n then return nil end
		i = i + 1
		if pause > 0 then core.msleep(pause) end
		return string.rep("u", size)
	end)
	reply(applet, answer(req:go(10)))
end)

-- A file body.
core.register_service("file", "http", function(applet)
	local f = assert(io.tmpfile())
	f:write(string.rep("f", 100000))
	local req = request(applet, "/upload")
	req.headers:upsert(":method", "POST")
	req:set_body(f)
	reply(applet, answer(req:go(10)))
end)

-- A body that arrives slowly, read as it comes: the pieces and when
-- each came (ms after the head).
core.register_service("trickle", "http", function(applet)
	local h, st = assert(request(applet, "/trickle"):go(10))
	local t0, seen = core.now(), {}
	for chunk in st:each_chunk() do seen[#seen + 1] = chunk .. "@" .. ms_since(t0) end
	reply(applet, table.concat(seen, " "))
end)

-- A large body the script leaves unread for a while, then reads in
-- pieces of 64 KiB with get_body_chars and counts.
core.register_service("big", "http", function(applet)
	local h, st = assert(request(applet, "/big?" .. applet.qs):go(10))
	core.msleep(500)
	local n = 0
	while true do
		local piece, err = st:get_body_chars(65536, 30)
		if not piece then
			if err then n = "err:" .. err end
			break
		end
		n = n + #piece
	end
	local rest = st:get_body_until("never", true, false)
	reply(applet, tostring(n) .. " " .. tostring(rest))
end)

-- A POST whose body waits for the server's 100: the server reads it
-- after WAIT ms; the request's expect_100_timeout is TIMEOUT s.
core.register_service("expect", "http", function(applet)
	local wait, timeout = applet.qs:match("^(%d+),([%d.]+)$")
	local req = request(applet, "/late?" .. wait)
	req.headers:upsert(":method", "POST")
	req:set_body(string.rep("e", 200000))
	req.expect_100_timeout = tonumber(timeout)
	reply(applet, answer(req:go(10)))
end)

-- An upload the server refuses at once, with expect_100_timeout from the
-- query: its status and how many pieces were asked for.
core.register_service("refused", "http", function(applet)
	local req = request(applet, "/refuse")
	req.headers:upsert(":method", "PUT")
	req.expect_100_timeout = tonumber(applet.qs)
	local calls = 0
	req:set_body(function()
		calls = calls + 1
		if calls > 256 then return nil end
		return string.rep("r", 65536)
	end)
	local h, st, errno = req:go(10)
	reply(applet, (h and h:get(":status") or "err:" .. tostring(errno) .. ":" .. tostring(st)) .. " " .. calls)
end)

core.register_service("fast", "http", function(applet) reply(applet, "fast") end)
`

// readCountingListener counts the bytes its connections read.
type readCountingListener struct {
	net.Listener
	read  *atomic.Int64
	conns *atomic.Int32
}

func (l readCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.conns.Add(1)
		c = readCountingConn{c, l.read}
	}
	return c, err
}

type readCountingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c readCountingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// streamBackend serves HTTP/1.1 and h2c; read counts the bytes it read
// from its connections.
func streamBackend(t *testing.T) (addr string, read *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	read = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		var first time.Time
		n := 0
		buf := make([]byte, 32<<10)
		for {
			m, err := r.Body.Read(buf)
			if m > 0 && n == 0 {
				first = time.Now()
			}
			n += m
			if err != nil {
				break
			}
		}
		spread := time.Since(first).Milliseconds()
		fmt.Fprintf(w, "%s %s %d %v %d", r.Proto, r.Method, n, r.TransferEncoding, spread/100)
	})
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			if i > 0 {
				time.Sleep(150 * time.Millisecond)
			}
			fmt.Fprintf(w, "p%d", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.RawQuery)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		piece := []byte(strings.Repeat("b", 64<<10))
		for n > 0 {
			k := min(n, len(piece))
			if _, err := w.Write(piece[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		start := read.Load()
		wait, _ := strconv.Atoi(r.URL.RawQuery)
		time.Sleep(time.Duration(wait) * time.Millisecond)
		early := read.Load() - start // body bytes read before the handler asked for any
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s early=%v len=%d", r.Proto, early > 100000, len(b))
	})
	srv := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	go srv.Serve(readCountingListener{ln, read, new(atomic.Int32)})
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), read
}

func startStreamClient(t *testing.T, backend, extra string) *server {
	return startServer(t, `workers: 1
lua: {load: [stream.lua]}
`+extra+`frontends:
  - {name: upload, bind: ["127.0.0.1:@PORT@"], use_service: lua.upload}
  - {name: file, bind: ["127.0.0.1:@PORT2@"], use_service: lua.file}
  - {name: trickle, bind: ["127.0.0.1:@PORT3@"], use_service: lua.trickle}
  - {name: big, bind: ["127.0.0.1:@PORT4@"], use_service: lua.big}
  - {name: expect, bind: ["127.0.0.1:@PORT5@"], use_service: lua.expect}
  - {name: fast, bind: ["127.0.0.1:@PORT6@"], use_service: lua.fast}
  - {name: refused, bind: ["127.0.0.1:@PORT7@"], use_service: lua.refused}
`, map[string]string{"stream.lua": strings.ReplaceAll(streamLua, "@BACKEND@", backend)})
}

// Request bodies from a function or a file leave a piece at a time, in
// chunks over HTTP/1.1 and DATA frames over HTTP/2; the first piece
// reaches the server long before the last is made.
func TestHTTPRequestStreamedRequestBody(t *testing.T) {
	addr, _ := streamBackend(t)
	s := startStreamClient(t, "http://"+addr, "")
	c, _ := newClient(t)
	for _, v := range []struct{ prefix, proto, te string }{{"", "HTTP/1.1", "[chunked]"}, {"/h2", "HTTP/2.0", "[]"}} {
		at := func(port, path string) string { return "http://" + s.addrOf(port) + v.prefix + path }
		// 8 pieces 60 ms apart: the server sees the body spread over
		// 400 ms or more.
		want := fmt.Sprintf("200 %s PUT %d %s ", v.proto, 8*1000, v.te)
		if _, body := get(t, c, at("", "/?8,1000,60")); !strings.HasPrefix(body, want) || body == want+"0" || body == want+"1" || body == want+"2" || body == want+"3" {
			t.Fatalf("%s: slow upload: %q, want %q and a spread of 400 ms or more", v.proto, body, want+"4")
		}
		// 16 MiB in pieces of 256 KiB, within the connection's pace.
		want = fmt.Sprintf("200 %s PUT %d %s ", v.proto, 64*256<<10, v.te)
		if _, body := get(t, c, at("", "/?64,262144,0")); !strings.HasPrefix(body, want) {
			t.Fatalf("%s: large upload: %q, want %q", v.proto, body, want)
		}
		want = fmt.Sprintf("200 %s POST 100000 %s ", v.proto, v.te)
		if _, body := get(t, c, at("2", "/")); !strings.HasPrefix(body, want) {
			t.Fatalf("%s: file: %q, want %q", v.proto, body, want)
		}
		// A server that answers before the 100: the function is never
		// called.
		if _, body := get(t, c, at("7", "/?1")); body != "413 0" {
			t.Fatalf("%s: refused upload: %q\n%s", v.proto, body, s.logs())
		}
		// Over HTTP/2, one that answers while the body streams: go returns
		// the answer and the function is not called to the end. (Over
		// HTTP/1.1 the server's close resets the connection under the
		// body still arriving, which may drop its answer.)
		if v.proto == "HTTP/2.0" {
			_, body := get(t, c, at("7", "/?0"))
			calls, _ := strconv.Atoi(strings.TrimPrefix(body, "413 "))
			if !strings.HasPrefix(body, "413 ") || calls < 1 || calls > 200 {
				t.Fatalf("%s: upload refused while it streams: %q", v.proto, body)
			}
		}
	}
}

// A response body read as it arrives, while the worker serves another
// client; a large one read slowly is held back by the server (TCP, or
// HTTP/2's windows), not buffered whole by luaedge.
func TestHTTPRequestStreamedResponseBody(t *testing.T) {
	addr, _ := streamBackend(t)
	s := startStreamClient(t, "http://"+addr, "http_client: {max_response_body: 1GiB}\n")
	c, _ := newClient(t)
	for _, prefix := range []string{"", "/h2"} {
		trickled := make(chan string, 1)
		go func() {
			_, body := get(t, c, "http://"+s.addrOf("3")+prefix+"/")
			trickled <- body
		}()
		served := 0
		var body string
	wait:
		for {
			select {
			case body = <-trickled:
				break wait
			default:
			}
			start := time.Now()
			if _, b := get(t, c, "http://"+s.addrOf("6")+"/"); b != "fast" {
				t.Fatalf("fast: %q", b)
			}
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Fatalf("a request waited %v behind the streamed one", d)
			}
			served++
		}
		// Each piece came on its own, about 150 ms after the one before.
		pieces := strings.Fields(body)
		if len(pieces) != 5 {
			t.Fatalf("%s trickle: %q", prefix, body)
		}
		for i, p := range pieces {
			name, at, _ := strings.Cut(p, "@")
			ms, _ := strconv.Atoi(at)
			if name != "p"+strconv.Itoa(i) || ms < i*150-60 || ms > i*150+400 {
				t.Fatalf("%s trickle: piece %d is %q: %q", prefix, i, p, body)
			}
		}
		if served < 5 {
			t.Fatalf("%s: only %d requests served meanwhile", prefix, served)
		}
	}
	// 256 MiB, left unread for half a second then read: the server's
	// peak memory grows by far less.
	before := peakRSS(t, s)
	const size = 256 << 20
	for _, prefix := range []string{"", "/h2"} {
		if _, body := get(t, c, "http://"+s.addrOf("4")+prefix+"/?"+strconv.Itoa(size)); body != strconv.Itoa(size)+" nil" {
			t.Fatalf("%s big: %q\n%s", prefix, abbrev(body), s.logs())
		}
	}
	if grew := peakRSS(t, s) - before; grew > 48<<20 {
		t.Errorf("peak RSS grew by %d MiB reading 256 MiB bodies", grew>>20)
	}
}

// Expect: 100-continue over HTTP/1.1 and HTTP/2: the body waits for the
// server's 100, sent when the handler reads it; with a short
// expect_100_timeout it leaves without the 100.
func TestHTTPRequestExpect100(t *testing.T) {
	addr, _ := streamBackend(t)
	s := startStreamClient(t, "http://"+addr, "")
	c, _ := newClient(t)
	for _, v := range []struct{ prefix, proto string }{{"", "HTTP/1.1"}, {"/h2", "HTTP/2.0"}} {
		at := "http://" + s.addrOf("5") + v.prefix + "/"
		start := time.Now()
		if _, body := get(t, c, at+"?300,5"); body != "200 "+v.proto+" early=false len=200000" {
			t.Fatalf("%s: held body: %q", v.proto, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s: the 100 did not release the body (%v)", v.proto, d)
		}
		// The wait ends at 100 ms: over HTTP/2 the server has the body
		// before it asks for it (over HTTP/1.1 the kernel holds it).
		want := "200 " + v.proto + " early=" + strconv.FormatBool(v.proto == "HTTP/2.0") + " len=200000"
		if _, body := get(t, c, at+"?500,0.1"); body != want {
			t.Fatalf("%s: timed-out wait: %q, want %q", v.proto, body, want)
		}
	}
}

// A TLS server that answers the protocol, and the server name the client
// sent (SNI), verified with a CA file.
func sniBackend(t *testing.T) (*httptest.Server, string) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s sni=%q", r.Proto, r.TLS.ServerName)
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	return ts, ca
}

// request.sendname: the name sent (the host by default), another one, or
// none with false; the certificate is verified in each case.
func TestHTTPRequestSendname(t *testing.T) {
	ts, ca := sniBackend(t)
	dnsAddr, _ := startTestDNS(t, "example.com.") // a name of httptest's certificate
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	s := startServer(t, `workers: 1
dns: {nameservers: ["`+dnsAddr+`"]}
http_client: {ca_file: `+ca+`}
lua: {load: [sni.lua]}
frontends:
  - {name: sni, bind: ["127.0.0.1:@PORT@"], use_service: lua.sni}
`, map[string]string{"sni.lua": `
local http_request = require "http.request"
core.register_service("sni", "http", function(applet)
	local host, sendname = applet.qs:match("^([^,]*),(.*)$")
	local req = http_request.new_from_uri("https://" .. host .. ":` + port + `/")
	if sendname == "false" then req.sendname = false elseif sendname ~= "" then req.sendname = sendname end
	local h, st, errno = req:go(5)
	local body = h and st:get_body_as_string(5) or ("err:" .. tostring(errno) .. ":" .. tostring(st))
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	for _, tc := range []struct{ q, want string }{
		{"example.com,", `HTTP/2.0 sni="example.com"`},
		{"example.com,false", `HTTP/2.0 sni=""`},
		{"127.0.0.1,example.com", `HTTP/2.0 sni="example.com"`},
		{"127.0.0.1,", `HTTP/2.0 sni=""`}, // an address is never sent
		{"127.0.0.1,false", `HTTP/2.0 sni=""`},
	} {
		if _, body := get(t, c, s.url("/?"+tc.q)); body != tc.want {
			t.Fatalf("%s: %q, want %q\n%s", tc.q, body, tc.want, s.logs())
		}
	}
	// Without a name sent the certificate is still checked, against the
	// host: another name fails.
	if _, body := get(t, c, s.url("/?127.0.0.1,other.test")); !strings.HasPrefix(body, "err:71:") {
		t.Fatalf("wrong name: %q", body)
	}
}

// connectProxy is an HTTP proxy: CONNECT tunnels, and requests in
// absolute form forwarded, for the credentials u:p only.
type connectProxy struct {
	addr     string
	connects atomic.Int32
	forwards atomic.Int32
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{addr: ln.Addr().String()}
	srv := &http.Server{Handler: p.handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// handler serves the proxy's requests.
func (p *connectProxy) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "Basic dTpw" && r.Header.Get("Proxy-Authorization") != "basic dTpw" {
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		if r.Method != http.MethodConnect {
			p.forwards.Add(1)
			out, _ := http.NewRequest(r.Method, r.URL.String(), r.Body)
			resp, err := http.DefaultTransport.RoundTrip(out)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Via", "1.1 test-proxy")
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		p.connects.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		rw.Flush()
		go func() { io.Copy(up, rw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	})
}

// request.proxy: https through a CONNECT tunnel with TLS to the server
// inside it, http sent to the proxy in absolute form; a proxy that
// refuses gives ECONNREFUSED; no proxy unless one is set.
func TestHTTPRequestThroughProxy(t *testing.T) {
	ts, ca := sniBackend(t)
	plain := startBackend(t, "", clientBackend)
	px := startConnectProxy(t)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	s := startServer(t, `workers: 1
http_client: {ca_file: `+ca+`}
lua: {load: [px.lua]}
frontends:
  - {name: px, bind: ["127.0.0.1:@PORT@"], use_service: lua.px}
`, map[string]string{"px.lua": `
local http_request = require "http.request"
local targets = { tls = "https://127.0.0.1:` + port + `/", plain = "http://` + plain.addr + `/proto" }
core.register_service("px", "http", function(applet)
	local target, proxy = applet.qs:match("^(%a+),(.*)$")
	local req = http_request.new_from_uri(targets[target])
	if proxy ~= "" then req.proxy = proxy end
	req.sendname = "example.com"
	local h, st, errno = req:go(5)
	local body = h and (h:get(":status") .. " " .. st:get_body_as_string(5)) or ("err:" .. tostring(errno) .. ":" .. tostring(st))
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	proxy := "http://u:p@" + px.addr
	for i := 0; i < 3; i++ {
		if _, body := get(t, c, s.url("/?tls,"+proxy)); body != `200 HTTP/2.0 sni="example.com"` {
			t.Fatalf("tls through the proxy: %q\n%s", body, s.logs())
		}
	}
	if n := px.connects.Load(); n != 1 {
		t.Errorf("%d CONNECTs for 3 requests, want 1 (the tunnel's connection is pooled)", n)
	}
	if _, body := get(t, c, s.url("/?plain,"+proxy)); body != "200 HTTP/1.1" || px.forwards.Load() != 1 {
		t.Fatalf("plain through the proxy: %q (%d forwarded)", body, px.forwards.Load())
	}
	if _, body := get(t, c, s.url("/?tls,http://"+px.addr)); !strings.HasPrefix(body, "err:111:") || !strings.Contains(body, "407") {
		t.Fatalf("refused by the proxy: %q", body)
	}
	// Without request.proxy, straight to the server.
	connects, forwards := px.connects.Load(), px.forwards.Load()
	if _, body := get(t, c, s.url("/?tls,")); body != `200 HTTP/2.0 sni="example.com"` {
		t.Fatalf("direct: %q", body)
	}
	if _, body := get(t, c, s.url("/?plain,")); body != "200 HTTP/1.1" {
		t.Fatalf("direct: %q", body)
	}
	if px.connects.Load() != connects || px.forwards.Load() != forwards {
		t.Fatal("a request without request.proxy went through the proxy")
	}
}
