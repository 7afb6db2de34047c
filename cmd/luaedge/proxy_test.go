package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A backend for the proxy tests: a real net/http server that reports what
// it received and counts the connections it accepted.
type testBackend struct {
	t     *testing.T
	ln    net.Listener
	srv   *http.Server
	conns atomic.Int64
	hits  atomic.Int64
	addr  string
}

func startBackend(t *testing.T, addr string, h http.HandlerFunc) *testBackend {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // a port given back by a stopped backend may linger
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{t: t, ln: ln, addr: ln.Addr().String()}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			h(w, r)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				b.conns.Add(1)
			}
		},
	}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.stop)
	return b
}

func (b *testBackend) stop() { _ = b.srv.Close() }

// echoHandler answers with what it received: method, path, query, the
// headers whose names start with X-, and the body's length and sha256.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, _ := io.Copy(h, r.Body)
	w.Header().Set("X-Backend-Seen-Method", r.Method)
	var xs []string
	for name, vals := range r.Header {
		if strings.HasPrefix(name, "X-") {
			xs = append(xs, name+"="+strings.Join(vals, ","))
		}
	}
	fmt.Fprintf(w, "%s %s %s body=%d sha=%s hdrs=%s", r.Method, r.URL.Path, r.URL.RawQuery, n, hex.EncodeToString(h.Sum(nil)), strings.Join(sortStrings(xs), ";"))
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func proxyConfig(backends string, frontendExtra string) string {
	return `workers: 1
log: {level: debug}
lua:
  load: [proxy.lua]
frontends:
  - name: edge
    bind: ["127.0.0.1:@PORT@"]
` + frontendExtra + `
backends:
` + backends
}

const proxyLua = `
core.register_action("tag", { "http-req" }, function(txn)
	txn.http:req_set_header("x-edge", "req-" .. txn.f:method())
	txn.http:req_del_header("x-secret")
end)
core.register_action("stamp", { "http-res" }, function(txn)
	txn.http:res_set_header("x-edge-res", "status-" .. txn.f:status())
	txn.http:res_del_header("x-backend-seen-method")
end)
core.register_action("pick", { "http-req" }, function(txn)
	local b = txn.f:hdr("x-pick")
	if b then txn:set_var("txn.backend", b) end
end)
`

func TestProxyActionsReachBackendAndClient(t *testing.T) {
	be := startBackend(t, "", echoHandler)
	s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "`+be.addr+`"}]
`, `    http_request: ["lua.tag"]
    http_response: ["lua.stamp"]
    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	req, _ := http.NewRequest("GET", s.url("/a/b?q=1"), nil)
	req.Header.Set("X-Secret", "hide-me")
	req.Header.Set("X-Keep", "yes")
	resp, body := send(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d body %q\n%s", resp.StatusCode, body, s.logs())
	}
	want := "GET /a/b q=1 body=0"
	if !strings.HasPrefix(body, want) || !strings.Contains(body, "X-Edge=req-GET") || !strings.Contains(body, "X-Keep=yes") || strings.Contains(body, "X-Secret") {
		t.Fatalf("backend saw %q", body)
	}
	if got := resp.Header.Get("X-Edge-Res"); got != "status-200" {
		t.Fatalf("x-edge-res = %q", got)
	}
	if got := resp.Header.Get("X-Backend-Seen-Method"); got != "" {
		t.Fatalf("res_del_header did not delete: %q", got)
	}
}

func TestProxyStreamsLargeBodiesBothWays(t *testing.T) {
	const size = 24 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sum := sha256.Sum256(payload)
	be := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			echoHandler(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		}
		for off := 0; off < len(payload); off += 1 << 20 {
			_, _ = w.Write(payload[off : off+1<<20])
		}
	})
	s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "`+be.addr+`"}]
`, `    default_backend: app
    limits: {max_body: 64MiB}`), map[string]string{"proxy.lua": proxyLua})
	base := peakRSS(t, s)
	c, _ := newClient(t)

	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(bytes.NewReader(payload)) // unknown length: net/http sends chunked
		}
		req, _ := http.NewRequest("POST", s.url("/up"), body)
		if !chunked {
			req.ContentLength = int64(len(payload))
		}
		_, got := send(t, c, req)
		want := fmt.Sprintf("POST /up  body=%d sha=%s", size, hex.EncodeToString(sum[:]))
		if !strings.HasPrefix(got, want) {
			t.Fatalf("upload (chunked=%v): backend answered %q", chunked, abbrev(got))
		}
	}
	for _, q := range []string{"", "?chunked=1"} {
		resp, err := c.Get(s.url("/down" + q))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), sum[:]) {
			t.Fatalf("download %q: %d bytes, err %v", q, n, err)
		}
	}
	// Bodies were relayed, not held: the server's peak memory grew by much
	// less than one body.
	if grew := peakRSS(t, s) - base; grew > size/2 {
		t.Fatalf("peak RSS grew by %d MiB relaying %d MiB bodies", grew>>20, size>>20)
	}
}

// peakRSS returns the server's peak resident memory (VmHWM) in bytes.
func peakRSS(t *testing.T, s *server) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.Atoi(f[1])
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

func TestProxyReusesUpstreamConnections(t *testing.T) {
	for _, rules := range []string{"", `    http_response: ["lua.stamp"]
`} {
		testProxyReuse(t, rules)
	}
}

// After a forwarded exchange, with or without http-response rules, the
// client's connection waits under keep_alive and is closed when it ends.
func TestProxyKeepAliveTimeout(t *testing.T) {
	be := startBackend(t, "", echoHandler)
	for _, rules := range []string{"", "    http_response: [\"lua.stamp\"]\n"} {
		s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "`+be.addr+`"}]
`, rules+`    timeouts: {keep_alive: 300ms}
    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
		c := dialRaw(t, s.addr())
		c.send("GET /ka HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /ka") {
			t.Fatalf("rules %q: %d %q", rules, resp.StatusCode, body)
		}
		c.expectClosed(2 * time.Second)
	}
}

func testProxyReuse(t *testing.T, rules string) {
	be := startBackend(t, "", echoHandler)
	s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "`+be.addr+`"}]
`, rules+`    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	for i := 0; i < 30; i++ {
		resp, body := get(t, c, s.url(fmt.Sprintf("/n/%d", i)))
		if resp.StatusCode != 200 || !strings.HasPrefix(body, fmt.Sprintf("GET /n/%d", i)) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if n := be.conns.Load(); n != 1 {
		t.Fatalf("backend accepted %d connections for 30 sequential requests, want 1 (keep-alive reuse; rules %q)", n, rules)
	}
}

func TestProxyBackendDiesMidResponse(t *testing.T) {
	var mu sync.Mutex
	be := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
		w.(http.Flusher).Flush()
		hj, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			mu.Lock()
			hj.Close()
			mu.Unlock()
		}
	})
	s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "`+be.addr+`"}]
`, `    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	resp, err := c.Get(s.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 1000000 {
		t.Fatalf("client read %d bytes with err %v: want a cut response", n, err)
	}
	// With the backend gone, the next request gets a clean 502/503.
	be.stop()
	resp, body := get(t, c, s.url("/"))
	if resp.StatusCode != 502 && resp.StatusCode != 503 {
		t.Fatalf("after the backend died: %d %q", resp.StatusCode, body)
	}
}

func TestProxyTimeoutsAndErrors(t *testing.T) {
	slow := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		fmt.Fprint(w, "late")
	})
	dead := freePort(t) // nothing listens there
	s := startServer(t, proxyConfig(`  - name: slow
    servers: [{name: s1, address: "`+slow.addr+`"}]
    timeouts: {server: 300ms}
  - name: dead
    retries: 0
    servers: [{name: s1, address: "127.0.0.1:`+strconv.Itoa(dead)+`"}]
`, `    http_request: ["lua.pick"]
    default_backend: slow`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	start := time.Now()
	resp, _ := get(t, c, s.url("/"))
	if resp.StatusCode != 504 || time.Since(start) > 1200*time.Millisecond {
		t.Fatalf("slow server: %d after %v, want 504 after ~300ms", resp.StatusCode, time.Since(start))
	}
	req, _ := http.NewRequest("GET", s.url("/"), nil)
	req.Header.Set("X-Pick", "dead")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("refused server: %d, want 503", resp.StatusCode)
	}
	// The server is still fine.
	req.Header.Set("X-Pick", "slow")
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestProxyHealthCheckTakesServerOutAndBack(t *testing.T) {
	b1 := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "one") })
	b2 := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "two") })
	s := startServer(t, proxyConfig(`  - name: app
    servers:
      - {name: s1, address: "`+b1.addr+`"}
      - {name: s2, address: "`+b2.addr+`"}
    check: {type: http, path: /, interval: 50ms, rise: 2, fall: 2}
`, `    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	seen := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			resp, body := get(t, c, s.url("/"))
			m[fmt.Sprint(resp.StatusCode, " ", body)]++
		}
		return m
	}
	if m := seen(10); m["200 one"] == 0 || m["200 two"] == 0 {
		t.Fatalf("both up: %v", m)
	}
	addr := b1.addr
	b1.stop()
	s.waitLog(t, 3*time.Second, "server state changed", "s1", "DOWN")
	if m := seen(10); m["200 two"] != 10 {
		t.Fatalf("s1 down: %v", m)
	}
	startBackend(t, addr, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "one again") })
	s.waitLog(t, 3*time.Second, "s1", "UP")
	if m := seen(10); m["200 one again"] == 0 {
		t.Fatalf("s1 back: %v", m)
	}
}

func TestProxyNoServerUpIs503(t *testing.T) {
	dead := freePort(t)
	s := startServer(t, proxyConfig(`  - name: app
    servers: [{name: s1, address: "127.0.0.1:`+strconv.Itoa(dead)+`"}]
    check: {type: tcp, interval: 50ms, fall: 1}
`, `    default_backend: app`), map[string]string{"proxy.lua": proxyLua})
	s.waitLog(t, 3*time.Second, "server state changed", "DOWN")
	c, _ := newClient(t)
	if resp, _ := get(t, c, s.url("/")); resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
}

func TestProxyRoutes(t *testing.T) {
	api := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "api "+r.URL.Path) })
	web := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "web "+r.URL.Path) })
	s := startServer(t, proxyConfig(`  - name: api
    servers: [{name: s1, address: "`+api.addr+`"}]
  - name: web
    servers: [{name: s1, address: "`+web.addr+`"}]
`, `    http_request: ["lua.pick"]
    routes:
      - {path_prefix: /api/, backend: api}
      - {host: api.example, backend: api}
    default_backend: web`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	cases := []struct{ host, path, pick, want string }{
		{"", "/api/x", "", "api /api/x"},
		{"", "/other", "", "web /other"},
		{"api.example", "/other", "", "api /other"},
		{"", "/api/x", "web", "web /api/x"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", s.url(tc.path), nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.pick != "" {
			req.Header.Set("X-Pick", tc.pick)
		}
		if _, body := send(t, c, req); body != tc.want {
			t.Errorf("%+v: got %q", tc, body)
		}
	}
}

// nginx from Debian as a real static backend.
func TestProxyToNginx(t *testing.T) {
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
	big := bytes.Repeat([]byte("luaedge-proxy-"), 300000)
	writeFile(t, filepath.Join(dir, "www", "big.bin"), string(big))
	port := freePort(t)
	conf := fmt.Sprintf(`daemon off; master_process off; worker_processes 1;
pid %[1]s/nginx.pid; error_log %[1]s/error.log warn;
events { worker_connections 256; }
http { access_log off; client_body_temp_path %[1]s/cb; proxy_temp_path %[1]s/px;
  fastcgi_temp_path %[1]s/fc; uwsgi_temp_path %[1]s/uw; scgi_temp_path %[1]s/sc;
  server { listen 127.0.0.1:%[2]d; root %[1]s/www; } }
`, dir, port)
	writeFile(t, filepath.Join(dir, "nginx.conf"), conf)
	cmd := exec.Command(nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := startServer(t, proxyConfig(`  - name: static
    servers: [{name: nginx, address: "127.0.0.1:`+strconv.Itoa(port)+`"}]
`, `    http_response: ["lua.stamp"]
    default_backend: static`), map[string]string{"proxy.lua": proxyLua})
	c, _ := newClient(t)
	var resp *http.Response
	for i := 0; i < 50; i++ { // nginx starting
		if resp, err = c.Get(s.url("/big.bin")); err == nil && resp.StatusCode == 200 {
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("via nginx: %v %v", err, resp)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, big) {
		t.Fatalf("body of %d bytes differs (err %v)", len(body), err)
	}
	if resp.Header.Get("X-Edge-Res") != "status-200" || !strings.Contains(resp.Header.Get("Server"), "nginx") {
		t.Fatalf("headers: %v", resp.Header)
	}
	resp, _ = get(t, c, s.url("/missing"))
	if resp.StatusCode != 404 || resp.Header.Get("X-Edge-Res") != "status-404" {
		t.Fatalf("missing: %d %v", resp.StatusCode, resp.Header)
	}
}

// The Proxy and Server classes act on the live configuration, on every core.
func TestProxyAndServerClasses(t *testing.T) {
	b1 := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "one") })
	b2 := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "two") })
	s := startServer(t, `workers: 2
lua: {load: [admin.lua]}
frontends:
  - name: edge
    bind: ["127.0.0.1:@PORT@"]
    default_backend: app
  - name: admin
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.admin
backends:
  - name: app
    servers:
      - {name: s1, address: "`+b1.addr+`"}
      - {name: s2, address: "`+b2.addr+`"}
`, map[string]string{"admin.lua": `
core.register_service("admin", "http", function(applet)
	local be = core.backends["app"]
	local s1 = be.servers["s1"]
	local out = {}
	if applet.path == "/maint" then s1:set_maint()
	elseif applet.path == "/ready" then s1:set_ready()
	elseif applet.path == "/weight" then s1:set_weight(0)
	elseif applet.path == "/pause" then core.frontends["edge"]:pause()
	elseif applet.path == "/resume" then core.frontends["edge"]:resume()
	end
	local names = {}
	for name in pairs(core.proxies) do names[#names + 1] = name end
	table.sort(names)
	out[#out + 1] = table.concat(names, ",")
	out[#out + 1] = be:get_cap() .. " " .. core.frontends["edge"]:get_cap() .. " " .. core.frontends["admin"]:get_mode()
	out[#out + 1] = s1.name .. " " .. s1.puid .. " " .. s1:get_addr() .. " w=" .. s1:get_weight()
	local st = s1:get_stats()
	out[#out + 1] = "status=" .. tostring(st.status) .. " stot=" .. tostring(st.stot)
	out[#out + 1] = "edge stot=" .. tostring(core.frontends["edge"]:get_stats().stot)
	applet:start_response()
	applet:send(table.concat(out, "\n"))
end)
`})
	c, _ := newClient(t)
	admin := func(path string) string {
		_, body := get(t, c, "http://"+s.addrOf("2")+path)
		return body
	}
	spread := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			cl, _ := newClient(t) // new connections land on both workers
			_, body := get(t, cl, s.url("/"))
			m[body]++
		}
		return m
	}
	info := admin("/")
	if !strings.HasPrefix(info, "admin,app,edge\nbackend frontend http\ns1 1 "+b1.addr+" w=1\nstatus=") {
		t.Fatalf("info:\n%s", info)
	}
	if m := spread(8); m["one"] == 0 || m["two"] == 0 {
		t.Fatalf("before: %v", m)
	}
	admin("/maint")
	if m := spread(8); m["two"] != 8 {
		t.Fatalf("s1 in maintenance: %v", m)
	}
	admin("/ready")
	admin("/weight")
	if m := spread(8); m["two"] != 8 {
		t.Fatalf("s1 with weight 0: %v", m)
	}
	if body := admin("/pause"); !strings.Contains(body, "edge stot=") {
		t.Fatalf("pause: %q", body)
	}
	if _, err := http.Get(s.url("/")); err == nil {
		t.Fatal("a paused frontend still answers")
	}
	admin("/resume")
	if m := spread(2); m["two"] != 2 {
		t.Fatalf("after resume: %v", m)
	}
}

// A stick table tracks clients across both workers; scripts read it with
// the StickTable class and rate-limit with it.
func TestStickTable(t *testing.T) {
	s := startServer(t, `workers: 2
lua: {load: [stk.lua]}
frontends:
  - name: edge
    bind: ["127.0.0.1:@PORT@"]
    stick_table: {type: ip, size: 1000, expire: 30s, store: [conn_cnt, conn_cur, http_req_cnt, http_req_rate(10s), http_err_cnt]}
    track: {key: src}
    http_request: ["lua.limit"]
    use_service: lua.stk
`, map[string]string{"stk.lua": `
core.register_action("limit", { "http-req" }, function(txn)
	local e = core.frontends["edge"].stktable:lookup(txn.f:src())
	if e and e.http_req_cnt > 6 then return act.DENY end
end)
core.register_service("stk", "http", function(applet)
	local st = core.frontends["edge"].stktable
	if applet.path == "/missing" then
		applet:set_status(404)
		applet:start_response()
		applet:send("no")
		return
	end
	local e = st:lookup(applet.f:src())
	local info = st:info()
	local dump = st:dump({ { "http_req_cnt", "ge", 1 } })
	applet:start_response()
	applet:send(string.format("req=%d conns=%d errs=%d type=%s used=%d dumped=%s use=%s info=%d,%d,%s,%d,%d",
		e.http_req_cnt, e.conn_cnt, e.http_err_cnt, info.type, info.used, tostring(dump["127.0.0.1"] ~= nil),
		tostring(e.use >= 1), info.length, info.size, tostring(info.nopurge), info.data.http_req_rate, info.data.conn_cnt))
end)
`})
	// The harness's own probe of the port counts as a connection too.
	base := 0
	for i := 1; i <= 3; i++ {
		c, _ := newClient(t) // a new connection each time: both workers count into one table
		resp, body := get(t, c, s.url("/"))
		if i == 1 {
			fmt.Sscanf(body, "req=1 conns=%d", &base)
			base--
		}
		// HAProxy's fields: use (this connection and the earlier ones
		// still open track the entry), and
		// info's key length, size, nopurge and each counter's period (-1
		// for counters that are not rates).
		want := fmt.Sprintf("req=%d conns=%d errs=0 type=ip used=1 dumped=true use=true info=4,1000,false,10000,-1", i, base+i)
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("request %d: %d %q, want %q", i, resp.StatusCode, body, want)
		}
	}
	c, _ := newClient(t)
	if resp, _ := get(t, c, s.url("/missing")); resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
	_, body := get(t, c, s.url("/"))
	if !strings.HasPrefix(body, fmt.Sprintf("req=5 conns=%d errs=1 ", base+4)) {
		t.Fatalf("after a 404: %q", body)
	}
	get(t, c, s.url("/"))
	if resp, _ := get(t, c, s.url("/")); resp.StatusCode != 403 {
		t.Fatalf("the 7th request: %d, want 403 from the rate limit", resp.StatusCode)
	}
}

// bytes_in_cnt and bytes_out_cnt count what tracked clients send and
// receive, over HTTP and over TCP, to the byte.
func TestStickTableBytes(t *testing.T) {
	s := startServer(t, `lua: {load: [bytes.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    stick_table: {type: ip, size: 100, store: [bytes_in_cnt, bytes_out_cnt]}
    track: {key: src}
    use_service: lua.bytes
  - name: raw
    bind: ["127.0.0.1:@PORT2@"]
    mode: tcp
    track: {key: src, table: web}
    use_service: lua.echo
`, map[string]string{"bytes.lua": `
core.register_service("bytes", "http", function(applet)
	local e = core.frontends["web"].stktable:lookup(applet.f:src())
	local s = string.format("%d %d", e.bytes_in_cnt, e.bytes_out_cnt)
	applet:add_header("content-length", #s)
	applet:start_response()
	applet:send(s)
end)
core.register_service("echo", "tcp", function(applet)
	applet:send(applet:getline())
end)
`})
	c := dialRaw(t, s.addr())
	const req = "GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n"
	// ask sends a request and returns the counters it reports and the
	// size of the whole response.
	ask := func() (in, out int64, size int) {
		t.Helper()
		c.send(req)
		head := c.readHead()
		cl, _ := headerOf(head, "content-length")
		n, _ := strconv.Atoi(cl)
		body := make([]byte, n)
		if _, err := io.ReadFull(c.br, body); err != nil {
			t.Fatal(err)
		}
		fmt.Sscanf(string(body), "%d %d", &in, &out)
		return in, out, len(head) + n
	}
	in1, out1, size1 := ask()
	if in1 < int64(len(req)) {
		t.Fatalf("bytes_in_cnt %d after a %d-byte request", in1, len(req))
	}
	in2, out2, size2 := ask()
	if in2-in1 != int64(len(req)) || out2-out1 != int64(size1) {
		t.Fatalf("second request: in +%d out +%d, want +%d +%d", in2-in1, out2-out1, len(req), size1)
	}

	// A TCP connection of the same client, counted when it ends.
	tc, err := net.Dial("tcp", s.addrOf("2"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(tc, "hello\n")
	if line, err := bufio.NewReader(tc).ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
	tc.Close()
	// The server sees the close a little later: until then each answer
	// only counts the previous request and response.
	wantIn, wantOut := in2+int64(len(req))+6, out2+int64(size2)+6
	for deadline := time.Now().Add(3 * time.Second); ; {
		in, out, size := ask()
		if in == wantIn && out == wantOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the TCP echo: bytes %d %d, want %d %d", in, out, wantIn, wantOut)
		}
		wantIn, wantOut = wantIn+int64(len(req)), wantOut+int64(size)
		time.Sleep(50 * time.Millisecond)
	}
}

// HAProxy's sc_* and src_* fetches read and change the tracked client's
// counters from Lua; the frontend's track is sc0.
func TestStickFetches(t *testing.T) {
	s := startServer(t, `lua: {load: [sc.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    stick_table: {type: ip, size: 100, store: [conn_cur, http_req_cnt, gpc0, gpc0_rate(10s)]}
    track: {key: src}
    use_service: lua.sc
  - name: plain
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.sc
`, map[string]string{"sc.lua": `
core.register_service("sc", "http", function(applet)
	local f = applet.f
	local out
	if applet.path == "/clr" then
		out = { f:sc0_clr_gpc0(), f:sc0_get_gpc0() }
	elseif applet.path == "/bad" then
		out = { f:src_http_req_cnt("nope") }
	else
		out = {
			f:sc_tracked(0), f:sc0_tracked(), f:sc_tracked(1),
			f:sc_http_req_cnt(0), f:sc0_http_req_cnt(), f:src_http_req_cnt(),
			f:sc_inc_gpc0(0), f:sc0_get_gpc0(), f:sc0_gpc0_rate(),
			f:sc_http_err_cnt(0), f:sc_http_req_cnt(1), f:src_conn_cur("web"),
			applet.sf:sc0_http_err_cnt(),
		}
	end
	local parts = {}
	for i = 1, table.maxn(out) do parts[i] = tostring(out[i]) end
	local body = table.concat(parts, " ")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`})
	c, _ := newClient(t)
	for i, want := range []string{
		"1 1 0 1 1 1 1 1 1 nil nil 1 ",
		"1 1 0 2 2 2 2 2 2 nil nil 1 ",
		"2 0",
	} {
		path := "/"
		if i == 2 {
			path = "/clr"
		}
		if resp, body := get(t, c, s.url(path)); resp.StatusCode != 200 || body != want {
			t.Fatalf("request %d to web: %d %q, want %q", i+1, resp.StatusCode, body, want)
		}
	}
	// Untracked: sc_* give nothing; src_* read the table named.
	_, body := get(t, c, "http://"+s.addrOf("2")+"/")
	if want := "0 0 0 nil nil nil nil nil nil nil nil 1 "; body != want {
		t.Fatalf("plain: %q, want %q", body, want)
	}
	if resp, _ := get(t, c, s.url("/bad")); resp.StatusCode != 500 {
		t.Fatalf("a fetch naming no table: %d, want 500", resp.StatusCode)
	}
	s.waitLog(t, 2*time.Second, "no stick table nope")
}
