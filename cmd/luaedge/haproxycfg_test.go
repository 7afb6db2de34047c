// End-to-end tests of `luaedge -f haproxy.cfg`: the same haproxy.cfg and
// Lua files run on luaedge and, when the haproxy binary is installed, on
// HAProxy 2.6; the same requests must get the same status, reason, body
// and headers from both. The request helpers are haproxy_api_test.go's
// (prefixed hx); the ones here are prefixed hc.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hcScenario is a haproxy.cfg, its files and requests. In cfg,
// @PORT<name>@ is a frontend's port (the name of the step's front),
// @<NAME>@ the address of the test's backend server NAME.
type hcScenario struct {
	name  string
	cfg   string
	files []string          // under testdata/haproxycfg or testdata/haproxy
	made  map[string]string // more files, by name: their content
	steps []hxStep
}

// hcHTTPDefaults starts a scenario's haproxy.cfg: one thread, HTTP mode
// and the timeouts both servers are given.
const hcHTTPDefaults = `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
`

// hcRead reads a test file from testdata/haproxycfg, else testdata/haproxy.
func hcRead(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"testdata/haproxycfg", "testdata/haproxy"} {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(data)
		}
	}
	t.Fatalf("no test file %s", name)
	return ""
}

// hcBackends starts the test's HTTP servers: each answers with its name,
// the request line and the headers the rules set, so that what a proxy
// forwarded can be compared.
func hcBackends(t *testing.T) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for _, name := range []string{"APP", "BLUE", "GREEN", "TLSAPP"} {
		name := name
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("x-backend", strings.ToLower(name))
			w.Header().Set("content-type", "text/plain")
			fmt.Fprintf(w, "backend=%s %s %s x-user=%q x-shout=%q xff=%q\n", strings.ToLower(name), r.Method, r.RequestURI,
				r.Header.Get("x-user"), r.Header.Get("x-shout"), strings.Join(r.Header.Values("x-forwarded-for"), ", "))
		})
		s := httptest.NewUnstartedServer(h)
		if name == "TLSAPP" {
			s.StartTLS()
		} else {
			s.Start()
		}
		t.Cleanup(s.Close)
		addrs[name] = s.Listener.Addr().String()
	}
	// AUTH answers an auth-request: 200 with the user for a known token.
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users := map[string]string{"Bearer t-alice": "alice", "Bearer t-bob": "bob"}
		if u, ok := users[r.Header.Get("authorization")]; ok {
			w.Header().Set("x-user", u)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(auth.Close)
	addrs["AUTH"] = auth.Listener.Addr().String()
	host, port, _ := net.SplitHostPort(addrs["AUTH"])
	addrs["AUTH_HOST"], addrs["AUTH_PORT"] = host, port
	// The ports alone, for set-dst-port rules and port-mapped servers.
	for _, name := range []string{"BLUE", "GREEN"} {
		_, port, _ := net.SplitHostPort(addrs[name])
		n, _ := strconv.Atoi(port)
		addrs[name+"_PORT"], addrs[name+"_PORT_LESS_1"] = port, strconv.Itoa(n-1)
	}
	echo := httptest.NewServer(http.HandlerFunc(hcEcho))
	t.Cleanup(echo.Close)
	addrs["ECHO"] = echo.Listener.Addr().String()
	addrs["ECHO_HOST"], addrs["ECHO_PORT"], _ = net.SplitHostPort(addrs["ECHO"])
	// REASON answers every request with a reason phrase of its own.
	addrs["REASON"] = hcReasonServer(t)
	// CLOSED is a port nothing listens on.
	addrs["CLOSED"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	return addrs
}

// hcReasonServer starts a server that answers each request (read up to
// the end of its head) with "201 Very Fine Indeed" and closes; it returns
// its address.
func hcReasonServer(t *testing.T) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 201 Very Fine Indeed\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
	})
}

// hcEcho answers what a script's HTTP client sent: the request line, the
// headers clients add, the body's length and its first and last lines.
// /gen?n=N answers N bytes, /slow answers after 2 s, /created with a 201,
// /framing how the body came (transfer-encoding, content-length);
// every answer has two x-multi fields.
func hcEcho(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := w.Header()
	h.Set("content-type", "text/plain")
	h.Add("x-multi", "a")
	h.Add("x-multi", "b")
	switch r.URL.Path {
	case "/gen":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write([]byte(strings.Repeat("0123456789abcdef", n/16+1)[:n]))
		return
	case "/slow":
		time.Sleep(2 * time.Second)
	case "/created":
		w.WriteHeader(http.StatusCreated)
	case "/framing":
		fmt.Fprintf(w, "te=%q content-length=%q expect=%q body=%q\n", r.TransferEncoding, r.Header.Get("content-length"), r.Header.Get("expect"), body)
		return
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	fmt.Fprintf(w, "%s %s host=%s ua=%q accept=%q x-a=%q len=%d first=%q last=%q\n", r.Method, r.RequestURI, r.Host,
		r.Header.Get("user-agent"), r.Header.Get("accept"), strings.Join(r.Header.Values("x-a"), ","), len(body), lines[0], lines[len(lines)-1])
}

var hcPortRE = regexp.MustCompile(`@PORT(\w*)@`)

// hcWrite writes the scenario into a new folder with free ports for the
// frontends; it returns the folder and the address of each frontend.
func hcWrite(t *testing.T, sc hcScenario, backends map[string]string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	fronts := map[string]string{}
	cfg := hcPortRE.ReplaceAllStringFunc(sc.cfg, func(m string) string {
		name := hcPortRE.FindStringSubmatch(m)[1]
		if _, ok := fronts[name]; !ok {
			fronts[name] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		}
		_, port, _ := net.SplitHostPort(fronts[name])
		return port
	})
	for name, addr := range backends {
		cfg = strings.ReplaceAll(cfg, "@"+name+"@", addr)
	}
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg)
	for _, f := range sc.files {
		writeFile(t, filepath.Join(dir, f), hcRead(t, f))
	}
	for name, data := range sc.made {
		writeFile(t, filepath.Join(dir, name), data)
	}
	return dir, fronts
}

// hcStartLuaedge runs `luaedge -db -f haproxy.cfg` on the scenario; its
// output is the server's.
func hcStartLuaedge(t *testing.T, sc hcScenario, backends map[string]string) (func(string) string, *server) {
	t.Helper()
	needBinary(t)
	dir, fronts := hcWrite(t, sc, backends)
	var addrs []string
	for _, a := range fronts {
		addrs = append(addrs, a)
	}
	s, ok := launch(t, dir, []string{"-db", "-f", "haproxy.cfg"}, addrs)
	if !ok {
		t.Fatalf("luaedge did not start; its output:\n%s", s.logs())
	}
	return func(port string) string { return fronts[port] }, s
}

// hcStartHAProxy runs `haproxy -db -f haproxy.cfg` on the scenario; out
// is what it writes (its logs to stdout among them).
func hcStartHAProxy(t *testing.T, bin string, sc hcScenario, backends map[string]string) (addr func(string) string, out *syncBuffer) {
	t.Helper()
	dir, fronts := hcWrite(t, sc, backends)
	var addrs []string
	for _, a := range fronts {
		addrs = append(addrs, a)
	}
	out = startHAProxy(t, bin, dir, addrs)
	return func(port string) string { return fronts[port] }, out
}

// hcScenarios are the setups run on both servers.
func hcScenarios() []hcScenario {
	head := func(scripts ...string) string {
		var lua strings.Builder
		for _, s := range scripts {
			lua.WriteString("    lua-load " + s + "\n")
		}
		return `global
    nbthread 1
    log stdout format raw local0 err
` + lua.String() + `
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout http-keep-alive 10s
`
	}
	cors := hxScenarioCORS()
	return []hcScenario{
		{
			name: "cors",
			cfg: head("cors.lua") + `
frontend api
    bind 127.0.0.1:@PORT@
    http-request lua.cors_request https://app.example,https://admin.example GET,POST,PUT
    http-response lua.cors_response
    http-request use-service lua.cors_api
`,
			files: []string{"cors.lua"},
			steps: cors.steps,
		},
		{
			name: "native rules and ACLs",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    acl is_admin path_beg -i /admin
    acl from_local src 127.0.0.0/8
    acl has_token req.hdr(x-token) -m found
    acl api path_beg /api/ /v2/
    http-request deny if is_admin !has_token
    http-request deny deny_status 429 if { req.hdr(x-flood) -m int gt 100 }
    http-request return status 200 content-type text/plain lf-string "pong %[req.hdr(x-name),lower] %[method]\n" hdr x-answer yes if { path /ping }
    http-request return status 404 if { path_end .php } || { path_reg ^/wp- }
    http-request redirect scheme https code 301 if { hdr(host) -i secure.example }
    http-request redirect prefix /v2 if { path_beg /v1/ }
    http-request set-var(txn.tag) str(tagged),upper
    http-request set-header X-User %[var(txn.tag)]-%[req.hdr(x-name)]
    http-request set-path /api%[path] if METH_GET !api
    http-request set-query a=1 if { url_param(q) -m str old }
    http-response set-header X-Tag %[var(txn.tag)] if METH_GET
    http-response add-header X-Methods get-or-head if METH_GET
    http-response del-header x-backend
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{name: "admin without a token is denied", req: hxReq{Path: "/ADMIN/x"}, want: hxWant{Status: 403, Header: map[string]string{"content-type": "text/html", "cache-control": "no-cache"}}},
				{name: "admin with a token", conn: "a", req: hxReq{Path: "/admin/x", Header: []string{"X-Token: t"}}, want: hxWant{Status: 200, Header: map[string]string{"x-tag": "TAGGED", "x-methods": "get-or-head", "x-backend": ""}}},
				{name: "deny_status 429", req: hxReq{Path: "/", Header: []string{"X-Flood: 101"}}, want: hxWant{Status: 429, Header: map[string]string{"content-type": "text/html"}}},
				{name: "under the flood limit", conn: "a", req: hxReq{Path: "/api/x", Header: []string{"X-Flood: 100"}}, want: hxWant{Status: 200}},
				{name: "return with lf-string and hdr", conn: "a", req: hxReq{Path: "/ping", Header: []string{"X-Name: Bob"}}, want: hxWant{Status: 200, Header: map[string]string{"content-type": "text/plain", "x-answer": "yes", "content-length": "13"}}},
				{name: "return 404 with or", conn: "a", req: hxReq{Path: "/index.php"}, want: hxWant{Status: 404, Header: map[string]string{"content-length": "0"}}},
				{name: "return 404 with path_reg", conn: "a", req: hxReq{Path: "/wp-login"}, want: hxWant{Status: 404}},
				{name: "redirect scheme", req: hxReq{Path: "/a?b=1", Header: []string{"Host: SECURE.example"}}, want: hxWant{Status: 301, Header: map[string]string{"location": "https://SECURE.example/a?b=1", "cache-control": "", "content-length": "0"}}},
				{name: "redirect prefix", req: hxReq{Path: "/v1/items?x=2"}, want: hxWant{Status: 302, Header: map[string]string{"location": "/v2/v1/items?x=2"}}},
				{name: "set-var, set-header and set-path reach the backend", conn: "b", req: hxReq{Path: "/items?q=old", Header: []string{"X-Name: ann"}}, want: hxWant{Status: 200}},
				{name: "HEAD matches METH_GET", conn: "b", req: hxReq{Method: "HEAD", Path: "/items"}, want: hxWant{Status: 200, Header: map[string]string{"x-methods": "get-or-head"}}},
				{name: "POST does not", conn: "b", req: hxReq{Method: "POST", Path: "/api/items", Body: "x"}, want: hxWant{Status: 200, Header: map[string]string{"x-methods": "", "x-tag": ""}}},
			},
		},
		{
			name: "lua fetch chooses the backend",
			cfg: head("choose.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-header X-Shout %[req.hdr(x-name),lua.shout] if { req.hdr(x-name) -m found }
    use_backend %[lua.pick_backend(be_app)]
    default_backend be_app

backend be_app
    server s1 @APP@

backend be_blue
    server s1 @BLUE@

backend be_green
    server s1 @GREEN@
`,
			files: []string{"choose.lua"},
			steps: []hxStep{
				{name: "by header", conn: "a", req: hxReq{Path: "/x", Header: []string{"X-Tenant: blue"}}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
				{name: "by path", conn: "a", req: hxReq{Path: "/green/y", Header: []string{"X-Name: zed"}}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "green"}}},
				{name: "the fallback", conn: "a", req: hxReq{Path: "/other"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "app"}}},
			},
		},
		{
			name:  "map-driven redirect",
			files: []string{"redirects.map"},
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request redirect location %[path,map(redirects.map)] code 301 if { path,map(redirects.map) -m found }
    http-request return status 200 content-type text/plain string "no redirect\n"
`,
			steps: []hxStep{
				{name: "mapped", req: hxReq{Path: "/old-page?x=1"}, want: hxWant{Status: 301, Header: map[string]string{"location": "/new-page"}}},
				{name: "mapped to another site", req: hxReq{Path: "/docs"}, want: hxWant{Status: 301, Header: map[string]string{"location": "https://docs.example.com/"}}},
				{name: "not in the map", req: hxReq{Path: "/docs/x"}, want: hxWant{Status: 200, Body: "no redirect\n"}},
			},
		},
		{
			name:  "map-driven redirect from Lua",
			files: []string{"redirects.map", "mapredirect.lua"},
			cfg: head("mapredirect.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request lua.map_redirect 308 if METH_GET
    http-request return status 200 content-type text/plain string "no redirect\n"
`,
			steps: []hxStep{
				{name: "mapped", conn: "a", req: hxReq{Path: "/blog/2019"}, want: hxWant{Status: 308, Header: map[string]string{"location": "/archive/2019"}}},
				{name: "not in the map", conn: "a", req: hxReq{Path: "/blog/2020"}, want: hxWant{Status: 200, Body: "no redirect\n"}},
				{name: "not a GET", conn: "a", req: hxReq{Method: "POST", Path: "/blog/2019", Body: "x"}, want: hxWant{Status: 200}},
			},
		},
		{
			name: "redirect codes and options",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request redirect location /x code 301 if { path /301 }
    http-request redirect location /x code 303 if { path /303 }
    http-request redirect location /x code 308 if { path /308 }
    http-request redirect location /x set-cookie A=b if { path /ck }
    http-request redirect location /x clear-cookie A= if { path /cl }
    http-request redirect prefix / drop-query append-slash if { path_beg /slash }
    redirect scheme https code 302 if { path /legacy } !{ ssl_fc }
    http-request return status 200 content-type text/plain string ok if !{ path /legacy }
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/301"}, want: hxWant{Status: 301, Header: map[string]string{"location": "/x"}}},
				{conn: "a", req: hxReq{Path: "/303"}, want: hxWant{Status: 303, Header: map[string]string{"location": "/x"}}},
				{conn: "a", req: hxReq{Path: "/308"}, want: hxWant{Status: 308, Header: map[string]string{"location": "/x"}}},
				{conn: "a", req: hxReq{Path: "/ck"}, want: hxWant{Status: 302, Header: map[string]string{"set-cookie": "A=b; path=/;"}}},
				{conn: "a", req: hxReq{Path: "/cl"}, want: hxWant{Status: 302, Header: map[string]string{"set-cookie": "A=; path=/; Max-Age=0;"}}},
				{conn: "a", req: hxReq{Path: "/slash/a?b=1"}, want: hxWant{Status: 302, Header: map[string]string{"location": "/slash/a/"}}},
				{name: "redirect as a section keyword, after the rules", conn: "a", req: hxReq{Path: "/legacy", Header: []string{"Host: h.example"}}, want: hxWant{Status: 302, Header: map[string]string{"location": "https://h.example/legacy"}}},
			},
		},
		{
			name:  "set-map and the map converter, default-server",
			files: []string{"dyn.map"},
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-map(dyn.map) %[url_param(k)] %[url_param(v)] if { path /set }
    http-request del-map(dyn.map) %[url_param(k)] if { path /del }
    http-request return status 200 content-type text/plain lf-string "v=%[url_param(k),map(dyn.map,none)]\n" unless { path /app }
    default_backend app

backend app
    default-server inter 1s rise 1 fall 2
    server app1 @APP@ check
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/get?k=x"}, want: hxWant{Status: 200, Body: "v=none\n"}},
				{conn: "a", req: hxReq{Path: "/set?k=x&v=1"}, want: hxWant{Status: 200, Body: "v=1\n"}},
				{conn: "a", req: hxReq{Path: "/get?k=x"}, want: hxWant{Status: 200, Body: "v=1\n"}},
				{conn: "a", req: hxReq{Path: "/del?k=x"}, want: hxWant{Status: 200, Body: "v=none\n"}},
				{conn: "a", req: hxReq{Path: "/app"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "app"}}},
			},
		},
		{
			name:  "stick-table counter read from Lua",
			files: []string{"counter.lua"},
			cfg: head("counter.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    stick-table type ip size 1k expire 1m store http_req_cnt,gpc0
    http-request track-sc0 src
    http-request sc-inc-gpc0(0) if { path /inc }
    http-request deny deny_status 429 if { sc_http_req_cnt(0) gt 5 }
    http-request use-service lua.counters
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
				{conn: "a", req: hxReq{Path: "/inc"}, want: hxWant{Status: 200}},
				{conn: "a", req: hxReq{Path: "/inc"}, want: hxWant{Status: 200}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 429}},
			},
		},
		{
			name: "a stick table of its own, for track-sc0 table",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request track-sc0 src table st_src
    http-request deny deny_status 429 if { sc_http_req_cnt(0) gt 2 }
    http-request return status 200 content-type text/plain lf-string "n=%[sc_http_req_cnt(0)] src=%[src_http_req_cnt(st_src)]\n"

backend st_src
    stick-table type ip size 1k expire 1m store http_req_cnt
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "n=1 src=1\n"}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "n=2 src=2\n"}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 429}},
			},
		},
		{
			// Item 8 of issue 12: a request tracked by a rule counts a
			// connection and a request, is in use until it ends; a deny
			// and a 4xx count an error. Any key, sc1 and sc2, tables of
			// their own, conditions.
			name:  "track-sc1 and track-sc2 rules",
			files: []string{"stickdump.lua"},
			cfg: head("stickdump.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,http_req_cnt,http_err_cnt,gpc0
    http-request track-sc1 src if { path_beg /t/ }
    http-request track-sc2 req.hdr(x-key) table keys if { req.hdr(x-key) -m found }
    http-request sc-inc-gpc0(1) if { path /t/inc }
    http-request deny deny_status 429 if { path /t/deny }
    http-request return status 200 content-type text/plain lf-string "sc1=%[sc1_http_req_cnt] conn=%[sc1_conn_cnt]/%[sc1_conn_cur] err=%[sc1_http_err_cnt] gpc0=%[sc1_get_gpc0] sc2=%[sc2_http_req_cnt] keys=%[sc_http_req_cnt(2,keys)] tracked=%[sc_tracked(1)]%[sc_tracked(2)]\n" if { path_beg /t/ret }
    http-request use-service lua.notfound if { path /t/404 }
    http-request use-service lua.stickdump if { path_beg /t/dump } || { path /dump }
    http-request use-service lua.tabledump if { path /keys }
    default_backend app

backend keys
    stick-table type string len 32 size 1k expire 1m store http_req_cnt,conn_cnt

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{name: "tracked by src and by a header", conn: "a", req: hxReq{Path: "/t/ret", Header: []string{"X-Key: k1"}}, want: hxWant{Status: 200}},
				{name: "a deny counts an error", conn: "a", req: hxReq{Path: "/t/deny"}, want: hxWant{Status: 429}},
				{name: "a service's 404 counts an error", conn: "a", req: hxReq{Path: "/t/404"}, want: hxWant{Status: 404}},
				{name: "forwarded, sc-inc-gpc0(1)", conn: "a", req: hxReq{Path: "/t/inc"}, want: hxWant{Status: 200}},
				{name: "the counters after them", conn: "a", req: hxReq{Path: "/t/ret", Header: []string{"X-Key: k1"}}, want: hxWant{Status: 200}},
				{name: "not tracked: the table's entry, not in use", conn: "a", req: hxReq{Path: "/dump"}, want: hxWant{Status: 200}},
				{name: "tracked: in use", conn: "a", req: hxReq{Path: "/t/dump"}, want: hxWant{Status: 200}},
				{name: "another key", conn: "b", req: hxReq{Path: "/t/ret", Header: []string{"X-Key: k2"}}, want: hxWant{Status: 200}},
				{name: "a backend that holds only a table, from Lua", conn: "b", req: hxReq{Path: "/keys"}, want: hxWant{Status: 200}},
			},
		},
		{
			name: "captures, http-after-response and log-format variables in rules",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    log stdout format raw local0
    capture request header Host len 5
    capture response header x-backend len 10
    declare capture request len 8
    http-request capture path len 4
    http-request capture req.hdr(x-a) id 1
    log-format "%ci:%cp %hr %hs %hrl %hsl %[capture.req.hdr(0)] %[capture.res.hdr(0)] %ST %{+Q}r %b/%s %[var(txn.x)] %[src,ipmask(24)] %Td %ac/%fc/%bc/%sc/%rc %sq/%bq"
    http-request set-var(txn.x) str(vx)
    http-request deny deny_status 429 if { path /deny }
    http-request return status 200 content-type text/plain lf-string "ci=%ci fi=%fi ft=%ft b=%b s=%s HM=%HM HU=%HU HP=%HP HQ=%HQ HV=%HV r=%r hr=%hr hrl=%hrl hs=%hs {+Q}=%{+Q}HP\n" if { path_beg /ret }
    http-request redirect location /x if { path /redir }
    http-after-response set-header x-after "%[status] %[capture.req.hdr(0)]"
    http-after-response set-status 202 if { status 200 } { capture.req.hdr(0) -m str h }
    http-after-response add-header x-cap1 "%[capture.req.hdr(1)]"
    http-after-response del-header x-gone
    http-after-response replace-value x-backend ^(.*)$ be-\1
    use_backend be_blue if { path_beg /blue }
    default_backend app

backend app
    http-after-response set-header x-be-after app
    server app1 @APP@

backend be_blue
    http-after-response allow if { status 200 }
    http-after-response set-header x-never yes
    server s1 @BLUE@
`,
			steps: []hxStep{
				{name: "lf-string with HAProxy's variables and captures", conn: "a", req: hxReq{Path: "/ret?q=1", Header: []string{"Host: example.com", "X-A: aaaaaaaaaaaaaa"}},
					want: hxWant{Status: 200, Header: map[string]string{"x-after": "200 examp", "x-cap1": "aaaaaaaa"}}},
				{name: "after a deny", conn: "a", req: hxReq{Path: "/deny", Header: []string{"Host: h"}}, want: hxWant{Status: 429, Header: map[string]string{"x-after": "429 h", "x-cap1": ""}}},
				{name: "set-status on a return", conn: "a", req: hxReq{Path: "/ret", Header: []string{"Host: h"}}, want: hxWant{Status: 202, Header: map[string]string{"x-after": "200 h"}}},
				{name: "after a redirect", conn: "a", req: hxReq{Path: "/redir", Header: []string{"Host: h"}}, want: hxWant{Status: 302, Header: map[string]string{"x-after": "302 h"}}},
				{name: "a server's response, the backend's rules first", conn: "a", req: hxReq{Path: "/other", Header: []string{"Host: h"}},
					want: hxWant{Status: 202, Header: map[string]string{"x-after": "200 h", "x-be-after": "app", "x-backend": "be-app"}}},
				{name: "allow ends the backend's rules", conn: "a", req: hxReq{Path: "/blue/x", Header: []string{"Host: bl"}},
					want: hxWant{Status: 200, Header: map[string]string{"x-after": "200 bl", "x-never": "", "x-backend": "be-blue"}}},
			},
		},
		{
			name: "unique-id, option forwardfor except and if-none, a server over TLS",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    unique-id-format "%ci-%[req.hdr(x-r)]"
    unique-id-header X-Unique-ID
    http-request return status 200 content-type text/plain lf-string "id=%ID uid=%[unique-id] hdr=%[req.hdr(x-unique-id)]\n" if { path /id }
    use_backend tls if { path_beg /tls }
    use_backend except if { path_beg /except }
    default_backend app

backend tls
    server s1 @TLSAPP@ ssl verify none

backend except
    option forwardfor except 127.0.0.0/8
    server s1 @APP@

backend app
    option forwardfor if-none
    server s1 @APP@
`,
			steps: []hxStep{
				{name: "the unique id: made when the fetch asks, %ID and the header come after the rules", conn: "a", req: hxReq{Path: "/id", Header: []string{"X-R: abc"}}, want: hxWant{Status: 200, Body: "id= uid=127.0.0.1-abc hdr=\n"}},
				{name: "a server over TLS", conn: "a", req: hxReq{Path: "/tls/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "tlsapp"}}},
				{name: "forwardfor except the client's network", conn: "a", req: hxReq{Path: "/except/x"}, want: hxWant{Status: 200}},
				{name: "forwardfor if-none, without one", conn: "a", req: hxReq{Path: "/x"}, want: hxWant{Status: 200}},
				{name: "forwardfor if-none, with one", conn: "a", req: hxReq{Path: "/x", Header: []string{"X-Forwarded-For: 192.0.2.1"}}, want: hxWant{Status: 200}},
			},
		},
		{
			name:  "auth-request with a backend",
			files: []string{"authreq.lua"},
			cfg: head("authreq.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request lua.auth_request @AUTH_HOST@ @AUTH_PORT@
    http-request return status 401 content-type text/plain string "who are you?\n" hdr www-authenticate Bearer unless { var(txn.auth_ok) -m bool }
    http-request set-header X-User %[var(txn.user)]
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{name: "no token", req: hxReq{Path: "/me"}, want: hxWant{Status: 401, Header: map[string]string{"www-authenticate": "Bearer", "content-type": "text/plain"}}},
				{name: "unknown token", req: hxReq{Path: "/me", Header: []string{"Authorization: Bearer t-eve"}}, want: hxWant{Status: 401}},
				{name: "known token", req: hxReq{Path: "/me", Header: []string{"Authorization: Bearer t-alice", "X-User: forged"}}, want: hxWant{Status: 200, Body: "backend=app GET /me x-user=\"alice\" x-shout=\"\" xff=\"\"\n"}},
			},
		},
		{
			name: "use_backend with named and anonymous ACLs, listen and backend rules",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    acl blue_host hdr(host) -i blue.example
    use_backend be_blue if blue_host || { path_beg /blue/ }
    use_backend be_green if { path_beg /green/ } METH_GET
    default_backend be_app

backend be_app
    http-request return status 503 content-type text/plain string "maintenance\n" if { path /maint }
    server s1 @APP@

backend be_blue
    option forwardfor
    http-request set-header X-User blue-%[be_name]
    http-response set-header X-Via %[be_name]
    server s1 @BLUE@

backend be_green
    http-request deny deny_status 403
    server s1 @GREEN@

listen lst
    bind 127.0.0.1:@PORTL@
    http-request set-header X-User listen
    server s1 @APP@
`,
			steps: []hxStep{
				{name: "named ACL", conn: "a", req: hxReq{Path: "/x", Header: []string{"Host: BLUE.example"}}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue", "x-via": "be_blue"}}},
				{name: "anonymous ACL", conn: "a", req: hxReq{Path: "/blue/y"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
				{name: "backend rule denies", req: hxReq{Path: "/green/y"}, want: hxWant{Status: 403}},
				{name: "POST is not METH_GET", conn: "b", req: hxReq{Method: "POST", Path: "/green/y", Body: "x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "app"}}},
				{name: "backend return", conn: "b", req: hxReq{Path: "/maint"}, want: hxWant{Status: 503, Header: map[string]string{"content-type": "text/plain"}}},
				{name: "listen", front: "L", req: hxReq{Path: "/l"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "app"}}},
			},
		},
		{
			name:  "conditional services, allow, errorfile and response-phase fetches",
			files: []string{"services.lua", "403.http"},
			cfg: head("services.lua") + `    errorfile 403 403.http

frontend www
    bind 127.0.0.1:@PORT@
    http-request allow if { path /allowed }
    http-request deny if { path_beg /allowed }
    http-request lua.setv first if { path_beg /one }
    http-request lua.boom if { path /boom }
    http-request set-method POST if { path /meth }
    http-request set-uri /two/uri?z=1 if { path /uri }
    http-request unset-var(txn.v) if { url_param(unset) -m found }
    http-request use-service lua.one if { path_beg /one } || { path /boom }
    http-request use-service lua.two if { path_beg /two } || { path /meth }
    http-response set-header X-Status %[status]
    http-response deny if { path /two/deny }
    http-response set-status 299 reason "Fine" if { path /two/status }
    http-response set-status 298 reason "Ok" if { hdr(content-type) -m beg text/ } { url_param(s) -m found }
`,
			steps: []hxStep{
				{name: "allow stops the rules: nothing answers", req: hxReq{Path: "/allowed"}, want: hxWant{Status: 503, Header: map[string]string{"x-status": ""}}},
				{name: "errorfile for deny", req: hxReq{Path: "/allowed/x"}, want: hxWant{Status: 403, Body: "go away\n", Header: map[string]string{"x-err": "custom"}}},
				{name: "service one with a Lua action", conn: "a", req: hxReq{Path: "/one/a"}, want: hxWant{Status: 200, Body: "one /one/a v=first\n", Header: map[string]string{"x-status": "200"}}},
				{name: "unset-var", conn: "a", req: hxReq{Path: "/one/a?unset=1"}, want: hxWant{Status: 200, Body: "one /one/a v=nil\n"}},
				{name: "an error in an action: the request goes on", conn: "a", req: hxReq{Path: "/boom"}, want: hxWant{Status: 200}},
				{name: "set-method", conn: "a", req: hxReq{Path: "/meth"}, want: hxWant{Status: 200}},
				{name: "set-uri", conn: "a", req: hxReq{Path: "/uri"}, want: hxWant{Status: 200, Body: "two /two/uri v=nil\n"}},
				{name: "path is not there in the response phase", conn: "a", req: hxReq{Path: "/two/deny"}, want: hxWant{Status: 200}},
				{name: "hdr reads the response there", conn: "a", req: hxReq{Path: "/two/x?s=1"}, want: hxWant{Status: 200, Reason: "OK"}},
				{name: "no service chosen", conn: "a", req: hxReq{Path: "/none"}, want: hxWant{Status: 503}},
			},
		},
		{
			name:  "a service beside a backend (the ACME challenge pattern)",
			files: []string{"services.lua"},
			cfg: head("services.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request use-service lua.one if { path_beg /.well-known/acme-challenge/ }
    use_backend be_blue if { path_beg /blue/ }
    default_backend app

backend be_blue
    http-request use-service lua.two if { path /blue/svc }
    server s1 @BLUE@

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{name: "the service", conn: "a", req: hxReq{Path: "/.well-known/acme-challenge/tok"}, want: hxWant{Status: 200, Body: "one /.well-known/acme-challenge/tok v=nil\n"}},
				{name: "the backend", conn: "a", req: hxReq{Path: "/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "app"}}},
				{name: "a backend's service", conn: "a", req: hxReq{Path: "/blue/svc"}, want: hxWant{Status: 200, Body: "two /blue/svc v=nil\n"}},
				{name: "the backend after it", conn: "a", req: hxReq{Path: "/blue/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
			},
		},
		{
			name:  "Lua fetches and converters named with - and .",
			files: []string{"hyphen.lua"},
			cfg: head("hyphen.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    acl hashed lua.req-hash(abc) -m found
    http-request set-var(txn.h) lua.req-hash(abc)
    http-request lua.hash-var
    http-request return status 200 content-type text/plain lf-string "h=%[var(txn.h)] c=%[lua.req-hash(x),lua.tag.it(k)] l=%[var(txn.from_lua)]\n" if hashed
`,
			steps: []hxStep{
				{name: "in rules and from a script", conn: "a", req: hxReq{Path: "/some/path", Header: []string{"Host: example.com"}}, want: hxWant{Status: 200, Body: "h=3069658784 c=k:3851150267 l=set\n"}},
			},
		},
		{
			name:  "replies with a content-length of their script's",
			files: []string{"replylen.lua"},
			cfg: head("replylen.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request lua.wrong-length if { path /table }
    http-request lua.wrong-length-reply if { path /reply }
`,
			steps: []hxStep{
				{name: "a reply table", conn: "a", req: hxReq{Path: "/table"}, want: hxWant{Status: 200, Body: "abc", Header: map[string]string{"content-length": "3", "x-a": "1"}}},
				{name: "a Reply object", conn: "a", req: hxReq{Path: "/reply"}, want: hxWant{Status: 201, Body: "hello", Header: map[string]string{"content-length": "5"}}},
			},
		},
		{
			name:  "services reading the request through fetches",
			files: []string{"svcfetch.lua"},
			cfg: head("svcfetch.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request use-service lua.by-fetch if { path_beg /.well-known/ }
    http-request use-service lua.by-hdr if { path /hdr }
    http-request use-service lua.by-field
`,
			steps: []hxStep{
				{name: "an HTTP fetch fails", conn: "a", req: hxReq{Path: "/.well-known/acme-challenge/tok"}, want: hxWant{Status: 500}},
				{name: "a header fetch fails", conn: "b", req: hxReq{Path: "/hdr"}, want: hxWant{Status: 500}},
				{name: "the applet's fields and src", conn: "c", req: hxReq{Path: "/x"}, want: hxWant{Status: 200, Body: "path=/x src=127.0.0.1 method=GET\n"}},
			},
		},
		{
			name:  "set-dst, set-dst-port and servers that connect to the destination",
			files: []string{"dst.lua"},
			cfg: head("dst.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-dst str(192.0.2.7) if { path /v4 }
    http-request set-dst str(2001:DB8::7) if { path /v6 }
    http-request set-dst str(not-an-address) if { path /bad }
    http-request set-dst-port int(8443) if { path /v4 } || { path /v6 }
    http-request set-dst-port int(70000) if { path /wrap }
    http-request set-dst-port str(x) if { path /bad }
    http-request return status 200 content-type text/plain lf-string "dst=%[dst]:%[dst_port] lua=%[lua.dst]\n" if { path /v4 } || { path /v6 } || { path /wrap }
    http-request return status 200 content-type text/plain lf-string "dst=%[dst]\n" if { path /bad }
    http-request return status 200 content-type text/plain string "the connection's port\n" if { path /port } { dst_port @PORT@ }
    http-request set-dst-port int(@BLUE_PORT@) if { path_beg /blue }
    http-request set-dst-port int(@GREEN_PORT@) if { path_beg /green }
    http-request set-dst-port int(@GREEN_PORT_LESS_1@) if { path_beg /offset }
    use_backend mapped if { path_beg /mapped }
    use_backend offset if { path_beg /offset }
    default_backend transparent

frontend conn
    bind 127.0.0.1:@PORTC@
    tcp-request connection set-dst-port int(@BLUE_PORT@)
    tcp-request content set-dst str(127.0.0.1)
    default_backend transparent

backend transparent
    server s1 0.0.0.0:0

backend mapped
    http-request set-dst-port int(@GREEN_PORT@) if { path_beg /mapped }
    server s1 127.0.0.1

backend offset
    server s1 127.0.0.1:+1
`,
			steps: []hxStep{
				{name: "set-dst and set-dst-port, seen by the fetches and Lua", conn: "a", req: hxReq{Path: "/v4"}, want: hxWant{Status: 200, Body: "dst=192.0.2.7:8443 lua=192.0.2.7:8443\n"}},
				{name: "an IPv6 destination", conn: "a", req: hxReq{Path: "/v6"}, want: hxWant{Status: 200, Body: "dst=2001:db8::7:8443 lua=2001:db8::7:8443\n"}},
				{name: "a port is 16 bits", conn: "a", req: hxReq{Path: "/wrap"}, want: hxWant{Status: 200}},
				{name: "what is not an address changes nothing", conn: "a", req: hxReq{Path: "/bad"}, want: hxWant{Status: 200, Body: "dst=127.0.0.1\n"}},
				{name: "the next request has the connection's destination", conn: "a", req: hxReq{Path: "/port"}, want: hxWant{Status: 200, Body: "the connection's port\n"}},
				{name: "a 0.0.0.0 server routed by set-dst-port", conn: "a", req: hxReq{Path: "/blue/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
				{name: "to the other backend", conn: "a", req: hxReq{Path: "/green/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "green"}}},
				{name: "and back, on the same connection", conn: "a", req: hxReq{Path: "/blue/y"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
				{name: "a server without a port: the backend's set-dst-port", conn: "a", req: hxReq{Path: "/mapped/x"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "green"}}},
				{name: "a server with +N", req: hxReq{Path: "/offset"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "green"}}},
				{name: "tcp-request connection and content rules", front: "C", conn: "c", req: hxReq{Path: "/c"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
				{name: "for each request of the connection", front: "C", conn: "c", req: hxReq{Path: "/d"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "blue"}}},
			},
		},
		{
			// HAProxy's reg-tests lua_httpclient and httpclient_action, and
			// the rest of the HTTPClient class.
			name:  "core.httpclient",
			files: []string{"httpclient.lua"},
			cfg: head("httpclient.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-header x-echo @ECHO@
    http-request set-header x-closed @CLOSED@
    http-request set-header x-reason @REASON@
    http-request use-service lua.hc

listen li1
    bind 127.0.0.1:@PORTA@
    tcp-request inspect-delay 10ms
    tcp-request content lua.hc_action @ECHO@
    http-request return status 200 content-type text/plain lf-string "%[var(txn.hc_status)] %[var(txn.hc_body)]"
`,
			steps: []hxStep{
				{name: "get: the fields, list values only", conn: "a", req: hxReq{Path: "/get"}, want: hxWant{Status: 200}},
				{name: "a 201", conn: "a", req: hxReq{Path: "/created"}, want: hxWant{Status: 200}},
				{name: "the server's reason phrase", conn: "a", req: hxReq{Path: "/reason"}, want: hxWant{Status: 200, Body: "status=number:201\nreason=Very Fine Indeed\nheader content-length 0=3\nheader content-type 0=text/plain\nbody(3)=ok\n\n"}},
				{name: "a body goes chunked", conn: "a", req: hxReq{Path: "/framing"}, want: hxWant{Status: 200}},
				{name: "large bodies both ways", conn: "a", req: hxReq{Path: "/post-big"}, want: hxWant{Status: 200}},
				{name: "head", conn: "a", req: hxReq{Path: "/head"}, want: hxWant{Status: 200}},
				{name: "put", conn: "a", req: hxReq{Path: "/put"}, want: hxWant{Status: 200}},
				{name: "delete", conn: "a", req: hxReq{Path: "/delete"}, want: hxWant{Status: 200}},
				{name: "dst", conn: "a", req: hxReq{Path: "/dst"}, want: hxWant{Status: 200}},
				{name: "host, user-agent and accept given", conn: "a", req: hxReq{Path: "/host"}, want: hxWant{Status: 200}},
				{name: "two requests of one client", conn: "a", req: hxReq{Path: "/twice"}, want: hxWant{Status: 200}},
				{name: "wrong uses", conn: "a", req: hxReq{Path: "/errors"}, want: hxWant{Status: 200}},
				{name: "from a task", conn: "a", req: hxReq{Path: "/task"}, want: hxWant{Status: 200}},
				{name: "nothing listens: HAProxy's 503", conn: "a", req: hxReq{Path: "/refused"}, want: hxWant{Status: 200}},
				{name: "timeout: HAProxy's 504", conn: "a", req: hxReq{Path: "/timeout"}, want: hxWant{Status: 200}},
				{name: "in a tcp-request action", front: "A", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
			},
		},
		{
			// HAProxy's reg-test lua_socket: a task asks a server over
			// core.tcp() once a request gave it the port.
			name:  "reg-test lua_socket",
			files: []string{"regtests.lua"},
			cfg: head("regtests.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-header x-port @ECHO_PORT@
    http-request use-service lua.sock_start if { path /start }
    http-request use-service lua.sock_result
`,
			steps: []hxStep{
				{name: "the port", conn: "a", req: hxReq{Path: "/start"}, want: hxWant{Status: 200, Body: "ok\n"}},
				{name: "what the task read", conn: "a", req: hxReq{Path: "/result"}, want: hxWant{Status: 200}},
			},
		},
		{
			// HAProxy's reg-test set_var: with ifexist, a proc variable is
			// set only when it exists. (HAProxy 2.6 also sets proc.fe2_foo,
			// which the configuration names: luaedge does not declare the
			// variables a configuration names yet, so that step is left
			// out.)
			name:  "reg-test set_var",
			files: []string{"set_var_status.lua"},
			cfg: head("set_var_status.lua") + `
frontend fe1
    bind 127.0.0.1:@PORT@
    http-request use-service lua.set_var_plain

frontend fe2
    bind 127.0.0.1:@PORT2@
    http-request set-header Dummy %[var(proc.fe2_foo)]
    http-request use-service lua.set_var_ifexist
`,
			steps: []hxStep{
				{name: "a txn variable", conn: "a", req: hxReq{Path: "/", Header: []string{"Var: txn.fe1_foo"}}, want: hxWant{Status: 202, Header: map[string]string{"echo": "value"}}},
				{name: "again", conn: "a", req: hxReq{Path: "/", Header: []string{"Var: txn.fe1_foo"}}, want: hxWant{Status: 202, Header: map[string]string{"echo": "value"}}},
				{name: "a proc variable", conn: "a", req: hxReq{Path: "/", Header: []string{"Var: proc.fe1_foo"}}, want: hxWant{Status: 202, Header: map[string]string{"echo": "value"}}},
				{name: "no such scope", conn: "a", req: hxReq{Path: "/", Header: []string{"Var: invalid.var"}}, want: hxWant{Status: 400, Header: map[string]string{"echo": "(nil)"}}},
				{name: "ifexist, named nowhere", front: "2", conn: "b", req: hxReq{Path: "/", Header: []string{"Var: proc.fe2_bar"}}, want: hxWant{Status: 400, Header: map[string]string{"echo": "(nil)"}}},
				{name: "ifexist, a txn variable", front: "2", conn: "b", req: hxReq{Path: "/", Header: []string{"Var: txn.fe2_foo"}}, want: hxWant{Status: 202, Header: map[string]string{"echo": "value"}}},
			},
		},
		{
			// HAProxy's reg-test lua_str_embedded_nul, as HAProxy 2.6
			// answers it: the whole Lua string is the sample.
			name:  "reg-test lua_str_embedded_nul",
			files: []string{"regtests.lua"},
			cfg: head("regtests.lua") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request lua.set_nul
    http-request set-var-fmt(txn.plain) match if { lua.plain_word -m str public }
    http-request set-var-fmt(txn.plain) nomatch if !{ lua.plain_word -m str public }
    http-request return status 200 hdr plain %[var(txn.plain)] hdr fetch-hex %[lua.word_nul,hex] hdr fetch-len %[lua.word_nul,length] hdr conv-hex %[req.hdr(x-u),lua.add_nul,hex] hdr conv-len %[req.hdr(x-u),lua.add_nul,length] hdr var-hex %[var(txn.nul),hex] hdr var-len %[var(txn.nul),length]
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"X-U: public"}}, want: hxWant{Status: 200, Header: map[string]string{
					"plain": "match", "fetch-hex": "7075626C69630078", "fetch-len": "8", "conv-hex": "7075626C69630078", "conv-len": "8",
					"var-hex": "7075626C69630078", "var-len": "8"}}},
			},
		},
		{
			// HTTP rules write a value's control characters %XX;
			// set-var-fmt keeps them.
			name: "control characters in the strings of HTTP rules",
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var-fmt(txn.raw) "%[url_param(v),url_dec]"
    http-request set-header x-set "%[url_param(v),url_dec]"
    http-request return status 200 content-type text/plain lf-string "[%[url_param(v),url_dec]] raw=%[var(txn.raw),length]" hdr x-ret "<%[url_param(v),url_dec]>" hdr x-set "%[req.hdr(x-set)]"
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/?v=a%0Ab%09c%01d%7Fe%25f%C3%A9"}, want: hxWant{Status: 200, Header: map[string]string{"x-ret": "<a%0Ab\tc%01d%7Fe%fé>"}}},
			},
		},
		{
			name:  "no backend answers 503, monitor-uri, return file",
			files: []string{"page.txt", "page.lf"},
			cfg: head() + `
frontend www
    bind 127.0.0.1:@PORT@
    monitor-uri /healthz
    http-request deny if { path /healthz }
    http-request return status 204 if { path /ok }
    http-request return status 200 content-type text/plain file page.txt if { path /file }
    http-request return status 200 content-type text/plain lf-file page.lf if { path_beg /lf }
`,
			steps: []hxStep{
				{name: "monitor-uri", conn: "a", req: hxReq{Path: "/healthz"}, want: hxWant{Status: 200, Header: map[string]string{"content-type": "text/html"}}},
				{name: "file", conn: "a", req: hxReq{Path: "/file"}, want: hxWant{Status: 200, Body: "a static page\n"}},
				{name: "lf-file", conn: "a", req: hxReq{Path: "/lf/x"}, want: hxWant{Status: 200, Body: "you asked for /lf/x\n"}},
				{name: "return", conn: "a", req: hxReq{Path: "/ok"}, want: hxWant{Status: 204}},
				{name: "nothing answers", conn: "a", req: hxReq{Path: "/other"}, want: hxWant{Status: 503, Header: map[string]string{"content-type": "text/html", "cache-control": "no-cache"}}},
			},
		},
	}
}

// TestHAProxyCfg runs each scenario on luaedge and on HAProxy and compares
// the answers; without haproxy it checks luaedge against the steps' wants.
func TestHAProxyCfg(t *testing.T) {
	hcRunScenarios(t, hcScenarios())
}

// hcRunScenarios runs scenarios on luaedge and, when installed, on HAProxy,
// and compares the answers.
func hcRunScenarios(t *testing.T, scenarios []hcScenario) {
	needBinary(t)
	bin, _ := exec.LookPath("haproxy")
	backends := hcBackends(t)
	for _, sc := range scenarios {
		sc := sc
		t.Run(sc.name, func(t *testing.T) {
			le, _ := hcStartLuaedge(t, sc, backends)
			leOut, err := hxRunSteps(le, sc.steps)
			if err != nil {
				t.Fatalf("luaedge: %v", err)
			}
			var haOut []hxResp
			if bin != "" {
				ha, _ := hcStartHAProxy(t, bin, sc, backends)
				if haOut, err = hxRunSteps(ha, sc.steps); err != nil {
					t.Fatalf("haproxy: %v", err)
				}
			}
			for i, st := range sc.steps {
				name := st.name
				if name == "" {
					name = fmt.Sprintf("%d %s", i, st.req)
				}
				t.Run(name, func(t *testing.T) {
					want := st.want
					// A step without a body names what matters in the
					// answer; the comparison with HAProxy checks the body.
					want.AnyBody = want.AnyBody || want.Body == ""
					for _, d := range hxDiff(st.req.String(), leOut[i], want) {
						t.Error(d)
					}
					if haOut == nil {
						return
					}
					headers := []string{"content-type", "content-length", "location", "cache-control", "connection"}
					for h := range st.want.Header {
						headers = append(headers, h)
					}
					sort.Strings(headers)
					if d := hcCompare(leOut[i], haOut[i], headers); d != "" {
						t.Errorf("%s: %s", st.req, d)
					}
				})
			}
		})
	}
}

// hcCompare is hxCompare with each header named once.
func hcCompare(le, ha hxResp, headers []string) string {
	var uniq []string
	for i, h := range headers {
		if i == 0 || h != headers[i-1] {
			uniq = append(uniq, h)
		}
	}
	return hxCompare(le, ha, uniq)
}

// TestHAProxyCfgTCPService runs a TCP use-service on both servers.
func TestHAProxyCfgTCPService(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name:  "tcp",
		files: []string{"tcpecho.lua"},
		cfg: `global
    nbthread 1
    lua-load tcpecho.lua

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen upper
    bind 127.0.0.1:@PORT@
    tcp-request inspect-delay 1s
    tcp-request content set-var(txn.who) str(tcp)
    tcp-request content reject if { src 10.0.0.0/8 }
    tcp-request content use-service lua.upper
`,
	}
	talk := func(addr string) (string, error) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "abc\ndef\nquit\n"); err != nil {
			return "", err
		}
		var b strings.Builder
		r := bufio.NewReader(c)
		_, err = io.Copy(&b, r)
		return b.String(), err
	}
	want := "hello tcp\nABC\nDEF\n"
	le, _ := hcStartLuaedge(t, sc, nil)
	got, err := talk(le(""))
	if err != nil || got != want {
		t.Errorf("luaedge: %q, %v; want %q", got, err, want)
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, _ := hcStartHAProxy(t, bin, sc, nil)
		got, err := talk(ha(""))
		if err != nil || got != want {
			t.Errorf("haproxy: %q, %v; want %q", got, err, want)
		}
	}
}

// TestHAProxyCfgTCPSetDst: in TCP mode, set-dst-port rules pick where a
// 0.0.0.0 server connects, on both servers.
func TestHAProxyCfgTCPSetDst(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "tcp set-dst",
		cfg: `global
    nbthread 1

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen content
    bind 127.0.0.1:@PORT@
    tcp-request content set-dst-port int(@GREEN_PORT@)
    server s1 0.0.0.0:0

listen connection
    bind 127.0.0.1:@PORTC@
    tcp-request connection set-dst-port int(@BLUE_PORT_LESS_1@)
    tcp-request content set-dst str(127.0.0.1)
    server s1 0.0.0.0:+1
`,
	}
	// talk sends an HTTP/1.0 request through the tunnel and returns the
	// body of the answer (the test servers name themselves there).
	talk := func(addr string) (string, error) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /t HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		data, err := io.ReadAll(c)
		_, body, _ := strings.Cut(string(data), "\r\n\r\n")
		return body, err
	}
	check := func(who string, addr func(string) string) {
		for front, want := range map[string]string{"": "backend=green", "C": "backend=blue"} {
			got, err := talk(addr(front))
			if err != nil || !strings.HasPrefix(got, want+" GET /t ") {
				t.Errorf("%s, front %q: %q, %v; want %s", who, front, got, err, want)
			}
		}
	}
	hcCheckBoth(t, sc, backends, check)
}

// A CONNECT proxy written with the Channel class (a classic HAProxy Lua
// setup): the action answers the CONNECT on the response channel and
// sets the destination the transparent server connects to; what follows
// goes through the tunnel. A malformed CONNECT gets the action's 400.
func TestHAProxyCfgConnectProxy(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name:  "connect proxy",
		files: []string{"connect.lua"},
		cfg: `global
    nbthread 1
    lua-load connect.lua

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen connect
    bind 127.0.0.1:@PORT@
    tcp-request inspect-delay 5s
    tcp-request content lua.connect
    tcp-request content set-dst var(txn.host)
    tcp-request content set-dst-port var(txn.port)
    server s1 0.0.0.0:0
`,
	}
	_, bluePort, _ := net.SplitHostPort(backends["BLUE"])
	tunnel := func(addr, target string) (string, error) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
			return "", err
		}
		br := bufio.NewReader(c)
		status, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
			rest, _ := io.ReadAll(br)
			return status + string(rest), nil
		}
		if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
			return "", fmt.Errorf("after the 200: %q, %v", blank, err)
		}
		if _, err := io.WriteString(c, "GET /t HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		data, err := io.ReadAll(br)
		_, body, _ := strings.Cut(string(data), "\r\n\r\n")
		return status + body, err
	}
	check := func(who string, addr func(string) string) {
		got, err := tunnel(addr(""), "127.0.0.1:"+bluePort)
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 Connection established\r\nbackend=blue GET /t ") {
			t.Errorf("%s, CONNECT to blue: %q, %v", who, got, err)
		}
		got, err = tunnel(addr(""), "blue.example:80")
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 400 Bad Request\r\n") {
			t.Errorf("%s, a CONNECT the action refuses: %q, %v", who, got, err)
		}
	}
	hcCheckBoth(t, sc, backends, check)
}

// hcLogLines polls a server's output until it holds n access-log lines
// (those of a log-format starting "LOG "), for at most 5 s, and returns
// them from "LOG " on.
func hcLogLines(out func() string, n int) []string {
	lines := func() []string {
		var l []string
		for _, line := range strings.Split(out(), "\n") {
			if i := strings.Index(line, "LOG "); i >= 0 {
				l = append(l, line[i:])
			}
		}
		return l
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(lines()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return lines()
}

// hcLogsBoth runs the scenario's steps on luaedge, then on HAProxy when
// it is installed, and checks that each writes the access-log lines want
// (those of a log-format starting "LOG ").
func hcLogsBoth(t *testing.T, sc hcScenario, backends map[string]string, want []string) {
	t.Helper()
	le, s := hcStartLuaedge(t, sc, backends)
	if _, err := hxRunSteps(le, sc.steps); err != nil {
		t.Fatal(err)
	}
	if got := hcLogLines(s.logs, len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("luaedge's lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	ha, out := hcStartHAProxy(t, bin, sc, backends)
	if _, err := hxRunSteps(ha, sc.steps); err != nil {
		t.Fatal(err)
	}
	if got := hcLogLines(out.String, len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("haproxy's lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHAProxyCfgLogFormat: log, log-format and captures give the same
// access-log lines on both servers, for the fields that do not depend on
// timing or ports; set-log-level silent leaves a request out; set-src
// changes the client the line names.
func TestHAProxyCfgLogFormat(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name:  "log-format",
		files: []string{"services.lua", "logfetch.lua"},
		cfg: `global
    nbthread 1
    log stdout format raw local0
    lua-load services.lua
    lua-load logfetch.lua

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    capture request header Host len 5
    capture request header X-Multi len 20
    capture response header x-backend len 10
    declare capture response len 6
    http-request capture req.hdr(x-a) len 4
    http-response capture res.hdr(content-type) id 1
    log-format "LOG %ci %hr %hs %hrl %hsl %[capture.req.hdr(2)] %ST %{+Q}r %b/%s %ft %HM %HP %HQ %HV %[var(txn.x)] %[src,ipmask(8)] %[lua.fe] %ac/%fc/%bc/%sc/%rc %sq/%bq %CC %CS"
    http-request set-var(txn.x) str(vx)
    http-request set-src req.hdr(x-real-ip) if { path /src }
    http-request set-log-level silent if { path /health }
    http-request return status 200 if { path /health }
    http-request deny if { path /deny }
    http-request use-service lua.two if { path_beg /two }
    default_backend app

backend app
    server app1 @APP@
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/a?b=1", Header: []string{"Host: example.com", "X-Multi: x", "X-Multi: y{|}", "X-A: aaaaaa"}}},
			{conn: "a", req: hxReq{Path: "/health"}},
			{conn: "a", req: hxReq{Path: "/deny"}},
			{conn: "a", req: hxReq{Path: "/two/x"}},
			{conn: "b", req: hxReq{Path: "/src", Header: []string{"X-Real-IP: 10.1.2.3"}}},
		},
	}
	// The counts are HAProxy's: the connection of the line counts, and
	// b's line counts a's connection, still open.
	want := []string{
		`LOG 127.0.0.1 {examp|y#7B#7C#7D|aaaa} {app|text/p} examp y#7B#7C#7D aaaa app text/p aaaa 200 "GET /a?b=1 HTTP/1.1" app/app1 www GET /a ?b=1 HTTP/1.1 vx 127.0.0.0 fe=www 1/1/0/0/0 0/0 - -`,
		`LOG 127.0.0.1 {hx.te||} {|} hx.te - - - - - 403 "GET /deny HTTP/1.1" www/<NOSRV> www GET /deny  HTTP/1.1 vx 127.0.0.0 fe=www 1/1/0/0/0 0/0 - -`,
		`LOG 127.0.0.1 {hx.te||} {|text/p} hx.te - - - text/p - 200 "GET /two/x HTTP/1.1" www/<lua.two> www GET /two/x  HTTP/1.1 vx 127.0.0.0 fe=www 1/1/0/0/0 0/0 - -`,
		`LOG 10.1.2.3 {hx.te||} {app|text/p} hx.te - - app text/p - 200 "GET /src HTTP/1.1" app/app1 www GET /src  HTTP/1.1 vx 10.0.0.0 fe=www 2/2/0/0/0 0/0 - -`,
	}
	hcLogsBoth(t, sc, backends, want)
}

// hcStartDNS answers v4.test with an A record, dual.test with an A and an
// AAAA record, and anything else with "no such name".
func hcStartDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	records := map[uint16]map[string]string{
		dns.TypeA:    {"v4.test.": "v4.test. 60 IN A 127.0.0.1", "dual.test.": "dual.test. 60 IN A 127.0.0.2"},
		dns.TypeAAAA: {"dual.test.": "dual.test. 60 IN AAAA ::2"},
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if rec, ok := records[q.Qtype][q.Name]; ok {
			rr, _ := dns.NewRR(rec)
			m.Answer = append(m.Answer, rr)
		} else if records[dns.TypeA][q.Name] == "" {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestHAProxyCfgDoResolve: do-resolve through a resolvers section, with
// either family preferred, on both servers.
func TestHAProxyCfgDoResolve(t *testing.T) {
	needBinary(t)
	backends := map[string]string{"DNS": hcStartDNS(t)}
	sc := hcScenario{
		name: "do-resolve",
		cfg: `global
    nbthread 1

resolvers mydns
    nameserver ns1 @DNS@
    hold valid 10s
    timeout resolve 1s

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request do-resolve(txn.ip4,mydns,ipv4) req.hdr(x-name),lower
    http-request do-resolve(txn.ip6,mydns) req.hdr(x-name),lower
    http-request return status 200 content-type text/plain lf-string "ip4=%[var(txn.ip4)] ip6=%[var(txn.ip6)]\n" if { var(txn.ip4) -m found }
    http-request return status 503 content-type text/plain string "no address\n"
`,
		steps: []hxStep{
			{name: "an A record", conn: "a", req: hxReq{Path: "/", Header: []string{"X-Name: V4.test"}}, want: hxWant{Status: 200, Body: "ip4=127.0.0.1 ip6=127.0.0.1\n"}},
			{name: "A and AAAA", conn: "a", req: hxReq{Path: "/", Header: []string{"X-Name: dual.test"}}, want: hxWant{Status: 200, Body: "ip4=127.0.0.2 ip6=::2\n"}},
			{name: "no such name", conn: "a", req: hxReq{Path: "/", Header: []string{"X-Name: none.test"}}, want: hxWant{Status: 503, Body: "no address\n"}},
			{name: "no name", conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 503, Body: "no address\n"}},
		},
	}
	le, _ := hcStartLuaedge(t, sc, backends)
	leOut, err := hxRunSteps(le, sc.steps)
	if err != nil {
		t.Fatal(err)
	}
	var haOut []hxResp
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		if haOut, err = hxRunSteps(ha, sc.steps); err != nil {
			t.Fatal(err)
		}
	}
	for i, st := range sc.steps {
		hxCheck(t, st.name, leOut[i], st.want)
		if haOut != nil {
			if d := hcCompare(leOut[i], haOut[i], []string{"content-type"}); d != "" {
				t.Errorf("%s: %s", st.name, d)
			}
		}
	}
}

// TestHAProxyCfgCheck: check -f and -c -f accept a valid configuration and
// name the line of an unsupported keyword.
func TestHAProxyCfgCheck(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.cfg"), "frontend f\n    bind 127.0.0.1:1\n    mode http\n    http-request return status 200\n")
	writeFile(t, filepath.Join(dir, "bad.cfg"), "frontend f\n    bind 127.0.0.1:1\n    mode http\n    hash-balance-factor 150\n")
	writeFile(t, filepath.Join(dir, "nolua.cfg"), "frontend f\n    bind 127.0.0.1:1\n    mode http\n    http-request lua.nope if TRUE\n")
	// A map_*_int's map whose value is no integer stops the start, as
	// HAProxy's ("unable to parse '12abc' at line 2 of file 'n.map'").
	writeFile(t, filepath.Join(dir, "n.map"), "/a 12\n/b 12abc\n")
	writeFile(t, filepath.Join(dir, "badint.cfg"), "frontend f\n    bind 127.0.0.1:1\n    mode http\n    http-request return status 200 hdr v %[path,map_str_int(n.map,0)]\n")
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", "-f", "ok.cfg"}, 0, "configuration and scripts are valid"},
		{[]string{"-c", "-f", "ok.cfg"}, 0, "configuration and scripts are valid"},
		{[]string{"check", "-f", "bad.cfg"}, 1, "bad.cfg:4: 'hash-balance-factor' is not supported by luaedge"},
		{[]string{"-c", "-f", "nolua.cfg"}, 1, "nolua.cfg:4: no Lua action named 'nope' registered for http-req"},
		{[]string{"-c", "-f", "badint.cfg"}, 1, "n.map:2: unable to parse '12abc' as an integer"},
		{[]string{"-f", "badint.cfg"}, 1, "n.map:2: unable to parse '12abc' as an integer"},
		{[]string{"-f", "ok.cfg", "-x"}, 2, "-x: with -f, luaedge takes HAProxy's options"},
	} {
		cmd := exec.Command(luaedgeBin, tc.args...)
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != tc.code || !strings.Contains(string(out), tc.out) {
			t.Errorf("luaedge %s: exit %d, output:\n%s\nwant exit %d and %q", strings.Join(tc.args, " "), cmd.ProcessState.ExitCode(), out, tc.code, tc.out)
		}
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		cmd := exec.Command(bin, "-c", "-f", "badint.cfg")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "unable to parse '12abc' at line 2 of file 'n.map'") {
			t.Errorf("haproxy -c -f badint.cfg: %v\n%s", err, out)
		}
	}
	// convert -o writes a YAML configuration that runs as the original.
	out := filepath.Join(dir, "conv")
	cmd := exec.Command(luaedgeBin, "convert", "-f", "ok.cfg", "-o", out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, b)
	}
	cmd = exec.Command(luaedgeBin, "check", "-c", filepath.Join(out, "luaedge.yaml"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("check of the converted configuration: %v\n%s", err, b)
	}
	// A false whose default is true stays in the file: its answers have
	// no Date field, as HAProxy's.
	if b, err := os.ReadFile(filepath.Join(out, "luaedge.yaml")); err != nil || !strings.Contains(string(b), "date_header: false") || !strings.Contains(string(b), `server_header: "off"`) {
		t.Errorf("converted configuration (%v):\n%s\nwant date_header: false and server_header: \"off\"", err, b)
	}
}

// hcReloadable runs luaedge on the haproxy.cfg cfg writes for a bind
// address and a generation's word, first gen; reload writes it for
// another and sends SIGHUP, then polls / until the answer starts with
// that word (for 10 s) and returns it.
func hcReloadable(t *testing.T, cfg func(addr, gen string) string, first string) (addr, dir string, s *server, reload func(gen string) hxResp) {
	t.Helper()
	needBinary(t)
	dir = t.TempDir()
	addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg(addr, first))
	s, ok := launch(t, dir, []string{"-f", "haproxy.cfg"}, []string{addr})
	if !ok {
		t.Fatalf("luaedge did not start:\n%s", s.logs())
	}
	reload = func(gen string) hxResp {
		t.Helper()
		writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg(addr, gen))
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := hxOnce(t, addr, hxReq{Path: "/"})
			if strings.HasPrefix(got.Body, gen) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("still %v 10 s after SIGHUP; log:\n%s", got, s.logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return addr, dir, s, reload
}

// TestHAProxyCfgReload: SIGHUP reads the haproxy.cfg files again.
func TestHAProxyCfgReload(t *testing.T) {
	cfg := func(addr, answer string) string {
		return "frontend f\n    mode http\n    bind " + addr + "\n    http-request return status 200 content-type text/plain string " + answer + "\n"
	}
	addr, dir, s, reload := hcReloadable(t, cfg, "one")
	if got := hxOnce(t, addr, hxReq{Path: "/"}); got.Body != "one" {
		t.Fatalf("before the reload: %v", got)
	}
	if got := reload("two"); got.Body != "two" {
		t.Fatalf("after the reload: %v", got)
	}
	// A broken file keeps the running generation, and the log names the line.
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg(addr, "three")+"    bogus-keyword\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, 10*time.Second, "reload failed", "haproxy.cfg:5: 'bogus-keyword' is not supported by luaedge")
	if got := hxOnce(t, addr, hxReq{Path: "/"}); got.Body != "two" {
		t.Errorf("after a failed reload: %v", got)
	}
}

// bind ... ssl crt: the same haproxy.cfg serves TLS with ALPN on luaedge
// and on HAProxy, from one PEM holding the certificate and its key.
func TestHAProxyCfgSSL(t *testing.T) {
	needBinary(t)
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "localhost")
	cfg := `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend tls
    bind 127.0.0.1:@PORT@ ssl crt site.pem alpn h2,http/1.1
    http-request return status 200 content-type text/plain string "over tls" if { ssl_fc }
    http-request deny
`
	start := func(run func(dir, addr string)) string {
		dir := t.TempDir()
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		_, port, _ := net.SplitHostPort(addr)
		writeFile(t, filepath.Join(dir, "haproxy.cfg"), strings.ReplaceAll(cfg, "@PORT@", port))
		writeFile(t, filepath.Join(dir, "site.pem"), cert.certPEM+cert.keyPEM)
		run(dir, addr)
		return addr
	}
	ask := func(addr string) string {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%s %d %s", resp.Proto, resp.StatusCode, b)
	}
	want := "HTTP/2.0 200 over tls"
	le := start(func(dir, addr string) {
		if s, ok := launch(t, dir, []string{"-db", "-f", "haproxy.cfg"}, []string{addr}); !ok {
			t.Fatalf("luaedge did not start; its output:\n%s", s.logs())
		}
	})
	if got := ask(le); got != want {
		t.Errorf("luaedge: %q, want %q", got, want)
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha := start(func(dir, addr string) { startHAProxy(t, bin, dir, []string{addr}) })
		if got := ask(ha); got != want {
			t.Errorf("haproxy: %q, want %q", got, want)
		}
	}
}

// hcRunCompare runs sc on luaedge and, when installed, on HAProxy, and
// checks each step on luaedge and that both answered alike.
// hcCheckBoth runs check against luaedge, then against HAProxy when it is
// installed, for scenarios that talk to the servers their own way; addr
// gives a frontend's address by its port's suffix ("" for @PORT@).
func hcCheckBoth(t *testing.T, sc hcScenario, backends map[string]string, check func(who string, addr func(string) string)) {
	t.Helper()
	le, _ := hcStartLuaedge(t, sc, backends)
	check("luaedge", le)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		check("haproxy", ha)
	}
}

func hcRunCompare(t *testing.T, sc hcScenario, backends map[string]string) {
	t.Helper()
	le, _ := hcStartLuaedge(t, sc, backends)
	leOut, err := hxRunSteps(le, sc.steps)
	if err != nil {
		t.Fatalf("luaedge: %v", err)
	}
	var haOut []hxResp
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		if haOut, err = hxRunSteps(ha, sc.steps); err != nil {
			t.Fatalf("haproxy: %v", err)
		}
	}
	for i, st := range sc.steps {
		hxCheck(t, st.name, leOut[i], st.want)
		if haOut != nil {
			headers := []string{"content-type", "content-length"}
			for h := range st.want.Header {
				headers = append(headers, h)
			}
			sort.Strings(headers)
			if d := hcCompare(leOut[i], haOut[i], headers); d != "" {
				t.Errorf("%s: %s", st.name, d)
			}
		}
	}
}

// HAProxy's reg-tests txn_get_priv and txn_get_priv-thread: a service asks
// a TLS frontend of the same configuration over Socket:connect_ssl, two
// requests on one connection, with lua-load and with lua-load-per-thread
// on two threads.
func TestHAProxyCfgRegTestSocketTLS(t *testing.T) {
	needBinary(t)
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "localhost")
	script := `
-- get sends a GET of path on the socket and reads the answer: the status
-- line, the fields to the empty line, a content-length body.
local function get(s, path)
	s:send("GET " .. path .. " HTTP/1.1\r\nHost: tls.example\r\n\r\n")
	local status = s:receive("*l")
	local length = 0
	while true do
		local line = s:receive("*l")
		if line == nil or line == "" then break end
		local n = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
		if n then length = tonumber(n) end
	end
	return status .. " / " .. (length > 0 and s:receive(length) or "") .. "\n"
end

core.register_service("tls_client", "http", function(applet)
	local s = core.tcp()
	s:settimeout(3)
	local ok, err = s:connect_ssl("127.0.0.1", tonumber(applet.headers["x-tls-port"][0]))
	local out
	if not ok then
		out = "connect_ssl failed: " .. tostring(err) .. "\n"
	else
		out = get(s, applet.path .. "/a") .. get(s, applet.path .. "/b")
		s:close()
	end
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #out)
	applet:start_response()
	applet:send(out)
end)
`
	cfg := func(load string, threads int) string {
		return fmt.Sprintf(`global
    nbthread %d
    %s client.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend fe1
    bind 127.0.0.1:@PORT@
    http-request set-header x-tls-port @PORTS@
    http-request use-service lua.tls_client

frontend fe2
    bind 127.0.0.1:@PORTS@ ssl crt site.pem
    http-request return status 200 content-type text/plain lf-string "secret %%[path]"
`, threads, load)
	}
	var steps []hxStep
	for c := 0; c < 4; c++ {
		for r := 0; r < 2; r++ {
			path := fmt.Sprintf("/%d", c)
			steps = append(steps, hxStep{name: fmt.Sprintf("conn %d request %d", c, r), conn: strconv.Itoa(c), req: hxReq{Path: path},
				want: hxWant{Status: 200, Body: "HTTP/1.1 200 OK / secret " + path + "/a\nHTTP/1.1 200 OK / secret " + path + "/b\n"}})
		}
	}
	made := map[string]string{"client.lua": script, "site.pem": cert.certPEM + cert.keyPEM}
	t.Run("lua-load", func(t *testing.T) {
		hcRunCompare(t, hcScenario{name: "txn_get_priv", cfg: cfg("lua-load", 1), made: made, steps: steps[:2]}, nil)
	})
	t.Run("lua-load-per-thread", func(t *testing.T) {
		hcRunCompare(t, hcScenario{name: "txn_get_priv-thread", cfg: cfg("lua-load-per-thread", 2), made: made, steps: steps}, nil)
	})
}

// HAProxy's reg-test bad_http_clt_req_duration: a service's time is not
// the time the client took to send its request (%TR), in HTTP and TCP
// mode, on both servers.
func TestHAProxyCfgRegTestTimers(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name:  "timers",
		files: []string{"regtests.lua"},
		cfg: `global
    nbthread 1
    log stdout format raw local0
    lua-load regtests.lua

defaults
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend f1
    mode http
    bind 127.0.0.1:@PORT@
    log-format "HTTP Ta=%Ta Tc=%Tc Td=%Td Th=%Th Ti=%Ti Tq=%Tq TR=%TR Tr=%Tr Tt=%Tt Tw=%Tw"
    default_backend b1

backend b1
    mode http
    http-request use-service lua.sleepy_http

frontend f2
    mode tcp
    bind 127.0.0.1:@PORT2@
    log-format "TCP Tc=%Tc Td=%Td Th=%Th Tt=%Tt Tw=%Tw"
    tcp-request inspect-delay 1s
    tcp-request content use-service lua.raw_tcp
`,
		steps: []hxStep{
			{name: "http", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
			{name: "tcp", front: "2", req: hxReq{Path: "/"}, want: hxWant{Status: 200}},
		},
	}
	httpRE := regexp.MustCompile(`HTTP Ta=(\d+) Tc=-?\d+ Td=-?\d+ Th=\d+ Ti=\d+ Tq=(\d+) TR=(\d+) Tr=-?\d+ Tt=(\d+) Tw=-?\d+`)
	tcpRE := regexp.MustCompile(`TCP Tc=-?\d+ Td=-?\d+ Th=\d+ Tt=(\d+) Tw=-?\d+`)
	check := func(t *testing.T, who string, logs func() string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for (!httpRE.MatchString(logs()) || !tcpRE.MatchString(logs())) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		h, c := httpRE.FindStringSubmatch(logs()), tcpRE.FindStringSubmatch(logs())
		if h == nil || c == nil {
			t.Fatalf("%s: no HTTP or TCP log line in:\n%s", who, logs())
		}
		num := func(s string) int { n, _ := strconv.Atoi(s); return n }
		// The service sleeps 200 ms: TR and Tq stay well under it, Ta and
		// Tt count it (HAProxy may measure 199).
		if num(h[3]) >= 100 || num(h[2]) >= 100 || num(h[1]) < 150 || num(h[4]) < 150 || num(c[1]) < 150 {
			t.Errorf("%s: %s / %s: TR and Tq must not count the service's 200 ms, Ta and Tt must", who, h[0], c[0])
		}
	}
	le, s := hcStartLuaedge(t, sc, nil)
	if _, err := hxRunSteps(le, sc.steps); err != nil {
		t.Fatal(err)
	}
	check(t, "luaedge", s.logs)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, out := hcStartHAProxy(t, bin, sc, nil)
		if _, err := hxRunSteps(ha, sc.steps); err != nil {
			t.Fatal(err)
		}
		check(t, "haproxy", out.String)
	}
}

// The set_var reg-test's step on declared variables: a proc.* variable
// the configuration names (here in a var() fetch) can be set by a script
// with ifexist although it was never set; one nothing names cannot.
func TestHAProxyCfgDeclaredProcVars(t *testing.T) {
	needBinary(t)
	script := `
core.register_service("ifexist", "http", function(applet)
	applet:set_var("proc.declared", "yes", true)
	applet:set_var("proc.undeclared", "no", true)
	local body = tostring(applet:get_var("proc.declared")) .. " " .. tostring(applet:get_var("proc.undeclared")) .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`
	hcRunCompare(t, hcScenario{
		name: "declared proc variables",
		cfg: `global
    nbthread 1
    lua-load ifexist.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request set-header x-declared %[var(proc.declared)] if { path /never }
    http-request use-service lua.ifexist
`,
		made:  map[string]string{"ifexist.lua": script},
		steps: []hxStep{{name: "set with ifexist", conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "yes nil\n"}}},
	}, nil)
}

// http-error gives the answers of a status, as errorfile does: in
// defaults and in a frontend, for deny rules and for a backend with no
// server to take the request.
func TestHAProxyCfgHTTPError(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "http-error",
		cfg: hcHTTPDefaults + `    http-error status 503 content-type text/plain string "no server, sorry" hdr x-err yes

frontend www
    bind 127.0.0.1:@PORT@
    http-error status 403 content-type application/json string "{\"denied\":true}"
    http-request deny if { path /deny }
    http-request deny deny_status 503 if { path /503 }
    default_backend none

backend none
    server s1 127.0.0.1:1 disabled
`,
		steps: []hxStep{
			{name: "a deny", conn: "a", req: hxReq{Path: "/deny"}, want: hxWant{Status: 403, Body: `{"denied":true}`, Header: map[string]string{"content-type": "application/json"}}},
			{name: "a deny with the defaults' 503", conn: "b", req: hxReq{Path: "/503"}, want: hxWant{Status: 503, Body: "no server, sorry", Header: map[string]string{"x-err": "yes"}}},
			{name: "no server", conn: "c", req: hxReq{Path: "/x"}, want: hxWant{Status: 503, Body: "no server, sorry", Header: map[string]string{"x-err": "yes"}}},
		},
	}, nil)
}

// normalize-uri with each normalizer (but the fragment ones: a target
// holding '#' is refused with a 400 before any rule, as HAProxy 2.6
// does), its option, and a strict one's 400; a frontend
// each, without a condition: HAProxy 2.6 reads a condition right after
// path-strip-dotdot, percent-to-uppercase or percent-decode-unreserved
// as path-merge-slashes.
func TestHAProxyCfgNormalizeURI(t *testing.T) {
	needBinary(t)
	cfg := strings.Replace(hcHTTPDefaults, "nbthread 1\n", "nbthread 1\n    expose-experimental-directives\n", 1)
	for _, f := range [][2]string{
		{"merge", "path-merge-slashes"}, {"dot", "path-strip-dot"}, {"dotdot", "path-strip-dotdot"},
		{"dotdotfull", "path-strip-dotdot full"}, {"sort", "query-sort-by-name"}, {"upper", "percent-to-uppercase"},
		{"upperstrict", "percent-to-uppercase strict"}, {"decode", "percent-decode-unreserved"},
		{"decodestrict", "percent-decode-unreserved strict"},
	} {
		cfg += "\nfrontend " + f[0] + "\n    bind 127.0.0.1:@PORT" + f[0] + "@\n    http-request normalize-uri " + f[1] +
			"\n    http-request return status 200 content-type text/plain lf-string \"%[url]\"\n"
	}
	n := func(front, target, body string) hxStep {
		st := hxStep{name: front + " " + target, front: front, conn: front, req: hxReq{Path: target}, want: hxWant{Status: 200, Body: body}}
		if body == "" {
			st.want = hxWant{Status: 400, AnyBody: true}
		}
		return st
	}
	hcRunCompare(t, hcScenario{
		name: "normalize-uri",
		cfg:  cfg,
		steps: []hxStep{
			n("merge", "//a///b/?x=1//", "/a/b/?x=1//"),
			n("dot", "/a/./b/./?q=./", "/a/b/?q=./"),
			n("dot", "/a/.", "/a/"),
			n("dotdot", "/a/b/../c/../../../d?x", "/../d?x"),
			n("dotdot", "/a/b/..", "/a/"),
			n("dotdot", "/a//../b/..x", "/a/b/..x"),
			n("dotdotfull", "/a/../../d", "/d"),
			n("sort", "/q?b=2&a=1&b=1&ab=0&a", "/q?a=1&a&ab=0&b=2&b=1"),
			n("sort", "/?", "/?"),
			{name: "a fragment", front: "merge", conn: "fragment", req: hxReq{Path: "/a#b"}, want: hxWant{Status: 400, AnyBody: true}},
			n("upper", "/%7ea%2fb?x=%3d&y=%zz", "/%7Ea%2Fb?x=%3D&y=%zz"),
			n("upperstrict", "/ok%2f", "/ok%2F"),
			n("upperstrict", "/bad%zz", ""),
			n("decode", "/%7Euser/%41%2F%2e?%61=%20", "/~user/A%2F.?a=%20"),
			n("decodestrict", "/x%4", ""),
		},
	}, nil)
}

// set-timeout server gives one request a shorter server timeout than
// its backend's, as a time or an expression; the 504 is HAProxy's page.
func TestHAProxyCfgSetTimeout(t *testing.T) {
	needBinary(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(800 * time.Millisecond)
		io.WriteString(w, "slow answer")
	}))
	t.Cleanup(slow.Close)
	hcRunCompare(t, hcScenario{
		name: "set-timeout",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    timeout server 5s
    http-request set-timeout server 200ms if { path /short }
    http-request set-timeout server req.hdr(x-ms) if { req.hdr(x-ms) -m found }
    server s1 @SLOW@
`,
		steps: []hxStep{
			{name: "the backend's timeout", conn: "a", req: hxReq{Path: "/long"}, want: hxWant{Status: 200, Body: "slow answer"}},
			{name: "set-timeout 200ms", conn: "b", req: hxReq{Path: "/short"}, want: hxWant{Status: 504, AnyBody: true, Header: map[string]string{"cache-control": "no-cache"}}},
			{name: "set-timeout from a header", conn: "c", req: hxReq{Path: "/expr", Header: []string{"X-Ms: 100"}}, want: hxWant{Status: 504, AnyBody: true}},
			{name: "a longer one", conn: "d", req: hxReq{Path: "/expr", Header: []string{"X-Ms: 3000"}}, want: hxWant{Status: 200, Body: "slow answer"}},
		},
	}, map[string]string{"SLOW": slow.Listener.Addr().String()})
}

// tarpit holds a request for timeout tarpit, then answers 500 (or its
// deny_status); another client of the same loop is answered meanwhile.
func TestHAProxyCfgTarpit(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "tarpit",
		cfg: hcHTTPDefaults + `    timeout tarpit 1s

frontend www
    bind 127.0.0.1:@PORT@
    http-request tarpit if { path /bot }
    http-request tarpit deny_status 429 if { path /bot429 }
    http-request return status 200 content-type text/plain string ok
`,
	}
	check := func(who string, addr func(string) string) {
		type result struct {
			path   string
			status int
			took   time.Duration
		}
		done := make(chan result, 2)
		for _, path := range []string{"/bot", "/bot429"} {
			go func() {
				start := time.Now()
				resp, err := http.Get("http://" + addr("") + path)
				if err != nil {
					done <- result{path: path}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done <- result{path, resp.StatusCode, time.Since(start)}
			}()
		}
		// A client of the same loop is not held back by the tarpits: it
		// is answered before they are.
		resp, err := http.Get("http://" + addr("") + "/ok")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: the other client: %v %v", who, resp, err)
		}
		resp.Body.Close()
		if len(done) > 0 {
			t.Errorf("%s: a tarpit ended before the other client was answered", who)
		}
		want := map[string]int{"/bot": 500, "/bot429": 429}
		for range 2 {
			r := <-done
			if r.status != want[r.path] || r.took < time.Second {
				t.Errorf("%s: %s: %d after %v, want %d after 1s", who, r.path, r.status, r.took, want[r.path])
			}
		}
	}
	hcCheckBoth(t, sc, map[string]string{}, check)
}

// set-src and set-src-port change the client the fetches, the rules and
// X-Forwarded-For see; an expression that is not an address changes
// nothing.
func TestHAProxyCfgSetSrc(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	hcRunCompare(t, hcScenario{
		name: "set-src",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    option forwardfor
    http-request set-src req.hdr(x-real-ip) if { req.hdr(x-real-ip) -m found }
    http-request set-src-port int(4242) if { path /port }
    http-request deny deny_status 429 if { src 192.0.2.0/24 }
    http-request return status 200 content-type text/plain lf-string "src=%[src] port=%[src_port]" if { path /port }
    http-request return status 200 content-type text/plain lf-string "src=%[src]" if { path /src }
    default_backend app

backend app
    server app1 @APP@
`,
		steps: []hxStep{
			{name: "set-src", conn: "a", req: hxReq{Path: "/src", Header: []string{"X-Real-IP: 10.1.2.3"}}, want: hxWant{Status: 200, Body: "src=10.1.2.3"}},
			{name: "set-src-port", conn: "b", req: hxReq{Path: "/port", Header: []string{"X-Real-IP: 2001:db8::7"}}, want: hxWant{Status: 200, Body: "src=2001:db8::7 port=4242"}},
			{name: "not an address", conn: "b", req: hxReq{Path: "/src", Header: []string{"X-Real-IP: nope"}}, want: hxWant{Status: 200, Body: "src=127.0.0.1"}},
			{name: "the rules see it", conn: "c", req: hxReq{Path: "/x", Header: []string{"X-Real-IP: 192.0.2.9"}}, want: hxWant{Status: 429, AnyBody: true}},
		},
	}, backends)
}

// replace-path, replace-pathq and replace-uri: the part of the target
// the regex matches becomes the replacement, with \1 the groups and
// %[...] samples; a regex that does not match changes nothing.
func TestHAProxyCfgReplaceTarget(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "replace-path",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request replace-path /api/v1/(.*) /v2/\1 if { path_beg /api/v1/ }
    http-request replace-pathq /old\?(.*) /new?from=old&\1 if { path /old }
    http-request replace-uri ^/u/([^/]*)/(.*) /users/\2/%[req.hdr(x-tenant)]-\1 if { path_beg /u/ }
    http-request return status 200 content-type text/plain lf-string "path=%[path] url=%[url]"
`,
		steps: []hxStep{
			{name: "replace-path keeps the query", conn: "a", req: hxReq{Path: "/api/v1/items/7?x=1"}, want: hxWant{Status: 200, Body: "path=/v2/items/7 url=/v2/items/7?x=1"}},
			{name: "replace-pathq", conn: "a", req: hxReq{Path: "/old?a=b"}, want: hxWant{Status: 200, Body: "path=/new url=/new?from=old&a=b"}},
			{name: "replace-uri with a sample", conn: "b", req: hxReq{Path: "/u/bob/profile?z=9", Header: []string{"X-Tenant: acme"}}, want: hxWant{Status: 200, Body: "path=/users/profile url=/users/profile?z=9/acme-bob"}},
			{name: "no match", conn: "b", req: hxReq{Path: "/other?q"}, want: hxWant{Status: 200, Body: "path=/other url=/other?q"}},
		},
	}, nil)
}

// errorloc, errorloc302 and errorloc303 turn an error answer into a
// redirect, with HAProxy's head: for a deny and for a backend with no
// server, from a defaults section and a frontend.
func TestHAProxyCfgErrorloc(t *testing.T) {
	needBinary(t)
	redirect := func(status int, loc string) hxWant {
		return hxWant{Status: status, Header: map[string]string{"location": loc, "cache-control": "no-cache", "content-length": "0"}}
	}
	hcRunCompare(t, hcScenario{
		name: "errorloc",
		cfg: hcHTTPDefaults + `    errorloc303 503 https://status.example.com/down

frontend www
    bind 127.0.0.1:@PORT@
    errorloc 403 /denied?from=www
    errorloc302 404 http://example.com/missing
    http-request deny if { path /deny }
    http-request deny deny_status 404 if { path /missing }
    default_backend none

backend none
    server s1 127.0.0.1:1 disabled
`,
		steps: []hxStep{
			{name: "errorloc 403", conn: "a", req: hxReq{Path: "/deny"}, want: redirect(302, "/denied?from=www")},
			{name: "errorloc302 404", conn: "b", req: hxReq{Path: "/missing"}, want: redirect(302, "http://example.com/missing")},
			{name: "errorloc303 of the defaults, no server", conn: "c", req: hxReq{Path: "/x"}, want: redirect(303, "https://status.example.com/down")},
		},
	}, nil)
}

// http-error's log-format forms (lf-string, lf-file, hdr values with
// %[...]) made for each answer, an http-errors section taken with
// errorfiles (all of it, or some statuses) and by deny and return, and
// the answers of a backend's own http-error: for its deny rules and when
// it has no server.
func TestHAProxyCfgHTTPErrorFormats(t *testing.T) {
	needBinary(t)
	errfile := func(status, reason, body string) string {
		return fmt.Sprintf("HTTP/1.1 %s %s\r\ncontent-type: text/plain\r\nx-from: site\r\ncontent-length: %d\r\n\r\n%s", status, reason, len(body), body)
	}
	site := map[string]string{"x-from": "site"}
	hcRunCompare(t, hcScenario{
		name: "http-error formats",
		made: map[string]string{
			"errors/403.http": errfile("403", "Forbidden", "site says no\n"),
			"errors/404.http": errfile("404", "Not Found", "site has no such page\n"),
			"errors/429.json": `{"path":"%[path]","ua":"%[req.hdr(user-agent)]"}` + "\n",
		},
		cfg: `global
    nbthread 1

http-errors site
    errorfile 403 errors/403.http
    errorfile 404 errors/404.http

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    http-error status 503 content-type text/plain lf-string "no server for %[path]" hdr x-path "%[path]" hdr x-empty "%[req.hdr(x-none)]"

frontend www
    bind 127.0.0.1:@PORT@
    errorfiles site 403
    http-error status 429 content-type application/json lf-file errors/429.json hdr retry-after 10
    http-request deny deny_status 429 if { path /slow }
    http-request deny if { path /deny }
    http-request deny deny_status 404 errorfiles site if { path /missing }
    http-request return status 404 errorfiles site if { path /ret404 }
    http-request return status 403 errorfile errors/403.http if { path /retfile }
    http-request return status 502 content-type text/plain string bad if { path /ret502 }
    use_backend be2 if { path_beg /be2 }
    default_backend none

frontend all
    bind 127.0.0.1:@PORTall@
    errorfiles site
    http-request deny deny_status 404
    default_backend none

backend none
    server s1 127.0.0.1:1 disabled

backend be2
    http-error status 503 content-type text/plain string "be2 is down"
    http-request deny deny_status 503 if { path /be2/deny }
    server s1 127.0.0.1:1 disabled
`,
		steps: []hxStep{
			{name: "lf-file and hdr", req: hxReq{Path: "/slow", Header: []string{"User-Agent: t"}},
				want: hxWant{Status: 429, Reason: "Too Many Requests", Body: `{"path":"/slow","ua":"t"}` + "\n", Header: map[string]string{"retry-after": "10", "content-type": "application/json"}}},
			{name: "errorfiles site 403", req: hxReq{Path: "/deny"}, want: hxWant{Status: 403, Body: "site says no\n", Header: site}},
			{name: "deny ... errorfiles", req: hxReq{Path: "/missing"}, want: hxWant{Status: 404, Body: "site has no such page\n", Header: site}},
			{name: "return ... errorfiles", req: hxReq{Path: "/ret404"}, want: hxWant{Status: 404, Body: "site has no such page\n", Header: site}},
			{name: "return ... errorfile", req: hxReq{Path: "/retfile"}, want: hxWant{Status: 403, Body: "site says no\n", Header: site}},
			{name: "HAProxy's reason of 502", req: hxReq{Path: "/ret502"}, want: hxWant{Status: 502, Reason: "Bad Gateway or Proxy Error", Body: "bad"}},
			{name: "lf-string of the defaults, an empty hdr left out", req: hxReq{Path: "/x"},
				want: hxWant{Status: 503, Body: "no server for /x", Header: map[string]string{"x-path": "/x", "x-empty": ""}}},
			{name: "a backend's own 503", req: hxReq{Path: "/be2/x"}, want: hxWant{Status: 503, Body: "be2 is down", Header: map[string]string{"x-path": ""}}},
			{name: "a backend's deny", req: hxReq{Path: "/be2/deny"}, want: hxWant{Status: 503, Body: "be2 is down"}},
			{name: "errorfiles, all statuses", front: "all", req: hxReq{Path: "/"}, want: hxWant{Status: 404, Body: "site has no such page\n", Header: site}},
		},
	}, nil)
}

// A fetch that finds nothing stops the expression, as in HAProxy: its
// converters are not applied (TXN.c's converters would read the missing
// sample as "0"), and a present empty value goes through them.
func TestHAProxyCfgConvertersOnNoSample(t *testing.T) {
	needBinary(t)
	chain := `[%[req.hdr(x),length]][%[req.hdr(x),hex]][%[req.hdr(x),base64]][%[req.hdr(x),add(1)]]` +
		`[%[req.hdr(x),upper,length]][%[req.hdr(x),lower]][%[req.hdr(x),concat(<,txn.v,>)]][%[req.hdr(x),field(1,:)]]`
	hcRunCompare(t, hcScenario{
		name: "converters on no sample",
		cfg: hcHTTPDefaults + `
frontend f
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.v) str(v)
    http-request return status 200 content-type text/plain lf-string "` + chain + `"
`,
		steps: []hxStep{
			{name: "no header", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "[][][][][][][][]"}},
			{name: "empty header", req: hxReq{Path: "/", Header: []string{"X:"}}, want: hxWant{Status: 200, Body: "[0][][][][0][][<v>][]"}},
			{name: "a value", req: hxReq{Path: "/", Header: []string{"X: ab:c"}}, want: hxWant{Status: 200, Body: "[4][61623A63][YWI6Yw==][1][4][ab:c][ab:c<v>][ab]"}},
		},
	}, nil)
}

// Header values split on commas as HAProxy splits them: empty elements
// count, and a field with an empty value has one empty value.
func TestHAProxyCfgHeaderElements(t *testing.T) {
	needBinary(t)
	step := func(name string, header []string, body string) hxStep {
		return hxStep{name: name, req: hxReq{Path: "/", Header: header}, want: hxWant{Status: 200, Body: body}}
	}
	hcRunCompare(t, hcScenario{
		name: "header elements",
		cfg: hcHTTPDefaults + `
frontend f
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain lf-string "[%[req.hdr_cnt(x)]][%[req.hdr(x,1)]][%[req.hdr(x,2)]][%[req.hdr(x,3)]][%[req.hdr(x,-1)]][%[req.fhdr(x)]]"
`,
		steps: []hxStep{
			step("none", nil, "[0][][][][][]"),
			step("empty", []string{"X:"}, "[1][][][][][]"),
			step("a,,b", []string{"X: a,,b"}, "[3][a][][b][b][a,,b]"),
			step("a, ,b", []string{"X: a, ,b"}, "[3][a][][b][b][a, ,b]"),
			step("a,", []string{"X: a,"}, "[2][a][][][][a,]"),
			step(",a", []string{"X: ,a"}, "[2][][a][][a][,a]"),
			step("two fields", []string{"X: a", "X: b, c"}, "[3][a][b][c][c][b, c]"),
		},
	}, nil)
}

// An HTTP/1.1 request without a Host field: HAProxy takes it (luaedge's
// own frontends refuse it with 400), shows Lua no host, and forwards it
// without one. Each request goes alone on a connection, then a request
// without Host and one with it on the same connection; the answers are
// compared with their fields as a set (HAProxy's return writes
// content-length first) and without the server's connection count.
func TestHAProxyCfgNoHost(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "no host", files: []string{"nohost.lua"}, cfg: strings.Replace(hcHTTPDefaults, "global\n", "global\n    lua-load nohost.lua\n", 1) + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request lua.counthost
    http-request use-service lua.whohost if { path /svc }
    http-request return status 200 content-type text/plain lf-string "hosts=%[var(txn.hosts)] fhost=%[var(txn.fhost)] hdr=%[req.hdr(host)]\n" if { path /return }
    default_backend app

backend app
    server s1 @RAW@
`}
	reqs := []string{
		"GET /svc HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /return HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /proxied HTTP/1.1\r\nX-A: 1\r\nConnection: close\r\n\r\n",
		"GET /return HTTP/1.1\r\n\r\nGET /return HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
	}
	connRE := regexp.MustCompile(`conn=\d+ `)
	answers := map[string][]string{}
	hcCheckBoth(t, sc, map[string]string{"RAW": h1compatServer(t)}, func(who string, addr func(string) string) {
		for _, req := range reqs {
			c := dialRaw(t, addr(""))
			c.send(req)
			var norm []string
			for _, ans := range strings.Split(c.readAll(), "HTTP/1.1 ")[1:] {
				head, body, _ := strings.Cut("HTTP/1.1 "+ans, "\r\n\r\n")
				lines := strings.Split(head, "\r\n")
				sort.Strings(lines[1:])
				norm = append(norm, strings.Join(lines, "\n")+"\n\n"+connRE.ReplaceAllString(body, ""))
			}
			answers[who] = append(answers[who], strings.Join(norm, ""))
		}
	})
	wants := []string{"headers.host=nil path=/svc\n", "hosts=0 fhost=none hdr=\n", `got="GET /proxied HTTP/1.1\r\nx-a: 1\r\n\r\n"`, "hosts=1 fhost=h.test hdr=h.test\n"}
	for i, req := range reqs {
		le := answers["luaedge"][i]
		if !strings.HasPrefix(le, "HTTP/1.1 200 OK\n") || !strings.Contains(le, wants[i]) {
			t.Errorf("%q: luaedge answered %q, want 200 with %q", req, le, wants[i])
		}
		if ha := answers["haproxy"]; ha != nil && ha[i] != le {
			t.Errorf("%q:\nluaedge: %q\nhaproxy: %q", req, le, ha[i])
		}
	}
}

// How a Socket read ends, as HAProxy 2.6: when the peer closes or the
// socket's timeout passes before the pattern is met, receive returns what
// came (its prefix included), else nil and "connection closed."; the
// timeout closes the socket. The server sends a line and "rest", or the
// line alone, then closes (close, empty) or holds the connection
// (hold, quiet). Then what send and close return (a count, -1 once
// closed; nothing), the server answering "empty".
func TestHAProxyCfgSocketReadEnd(t *testing.T) {
	needBinary(t)
	srv := serveEach(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		switch strings.TrimSpace(line) {
		case "close":
			io.WriteString(c, "line1\r\nrest")
		case "hold":
			io.WriteString(c, "line1\r\nrest")
			time.Sleep(2 * time.Second)
		case "empty":
			io.WriteString(c, "line1\r\n")
		case "quiet":
			io.WriteString(c, "line1\r\n")
			time.Sleep(2 * time.Second)
		}
	})
	sc := hcScenario{name: "socket read end", files: []string{"sockend.lua"}, cfg: strings.Replace(hcHTTPDefaults, "global\n", "global\n    lua-load sockend.lua\n", 1) + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request use-service lua.socksend if { path /send }
    http-request use-service lua.sockend
`}
	want := map[string]string{
		"/close/*a":  `1:"1" 1:"line1" 1:"pre-rest" 2:"nil","connection closed."`,
		"/close/*l":  `1:"1" 1:"line1" 1:"pre-rest" 2:"nil","connection closed."`,
		"/close/100": `1:"1" 1:"line1" 1:"pre-rest" 2:"nil","connection closed."`,
		"/hold/*a":   `1:"1" 1:"line1" 1:"pre-rest" 2:"nil","connection closed."`,
		"/hold/100":  `1:"1" 1:"line1" 1:"pre-rest" 2:"nil","connection closed."`,
		"/empty/*a":  `1:"1" 1:"line1" 1:"pre-" 2:"nil","connection closed."`,
		"/quiet/*l":  `1:"1" 1:"line1" 1:"pre-" 2:"nil","connection closed."`,
	}
	var steps []hxStep
	for _, path := range []string{"/close/*a", "/close/*l", "/close/100", "/hold/*a", "/hold/100", "/empty/*a", "/quiet/*l"} {
		steps = append(steps, hxStep{name: path, req: hxReq{Path: path + "?" + srv}, want: hxWant{Status: 200, Body: want[path] + "\n"}})
	}
	steps = append(steps, hxStep{name: "send", req: hxReq{Path: "/send?" + srv}, want: hxWant{Status: 200,
		Body: `1:"5" 1:"1" 1:"0" 1:"line1\13\` + "\n" + `" 0: 1:"-1"` + "\n"}})
	sc.steps = steps
	hcRunCompare(t, sc, nil)
}
