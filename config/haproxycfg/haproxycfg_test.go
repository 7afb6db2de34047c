package haproxycfg

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
)

// write puts files in a temporary folder and returns the path of the
// first one.
func write(t *testing.T, files ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := 0; i+1 < len(files); i += 2 {
		p := filepath.Join(dir, files[i])
		if err := os.WriteFile(p, []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// A configuration shaped like the examples of HAProxy's manual and of
// Debian's haproxy.cfg.
const docsConfig = `global
	log /dev/log local0
	chroot /var/lib/haproxy
	user haproxy
	group haproxy
	daemon
	nbthread 2
	maxconn 4096
	lua-load cors.lua
	tune.lua.maxmem 64
	tune.lua.session-timeout 2s

defaults
	log global
	mode http
	option httplog
	option dontlognull
	timeout connect 5000
	timeout client  50000
	timeout server  50000

frontend www # the public site
	bind :8080
	bind 127.0.0.1:8081
	timeout http-request 5s
	timeout http-keep-alive 2s
	option forwardfor
	stick-table type ip size 100k expire 30s store http_req_rate(10s),gpc0
	http-request track-sc0 src
	acl is_api path_beg /api/
	acl is_static path_end .css .js
	acl is_static hdr(host) -i static.example.com
	http-request lua.cors_request "*" "GET,POST"
	http-response lua.cors_response
	use_backend api if is_api
	use_backend static if is_static !is_api
	default_backend app

backend app
	balance roundrobin
	option httpchk GET /health
	http-check expect status 200
	server app1 10.0.0.1:80 check weight 10 maxconn 100
	server app2 10.0.0.2:80 check backup
	server app3 10.0.0.3:80 disabled

backend api
	balance leastconn
	server api1 10.0.1.1:8080 check inter 2s rise 3 fall 2

backend static
	server s1 10.0.2.1:80

defaults tcpdefaults
	mode tcp
	timeout client 1m
	timeout server 1m
	timeout tunnel 1h

listen db from tcpdefaults
	bind 127.0.0.1:5432
	balance source
	server pg1 10.0.3.1:5432 check
`

func TestDocsConfig(t *testing.T) {
	paths := write(t, "haproxy.cfg", docsConfig, "cors.lua", "")
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	if c.Workers != 2 || c.Lua.MemoryLimit != 64<<20 || c.Lua.SessionTimeoutOr() != 2*time.Second || !reflect.DeepEqual(c.Lua.Load, []string{"cors.lua"}) {
		t.Errorf("global: workers %d, lua %+v", c.Workers, c.Lua)
	}
	if len(c.Frontends) != 2 || len(c.Backends) != 4 {
		t.Fatalf("%d frontends, %d backends", len(c.Frontends), len(c.Backends))
	}
	www := c.Frontends[0]
	if !reflect.DeepEqual(www.Bind, []string{"0.0.0.0:8080", "127.0.0.1:8081"}) || www.Mode != "http" {
		t.Errorf("www: bind %v mode %s", www.Bind, www.Mode)
	}
	if www.Timeouts.HTTPRequest.D() != 5*time.Second || www.Timeouts.KeepAlive.D() != 2*time.Second || www.Timeouts.Body.D() != 50*time.Second {
		t.Errorf("www timeouts: %+v", www.Timeouts)
	}
	if www.StickTable == nil || www.StickTable.Type != "ip" || www.StickTable.Size != 100<<10 || www.StickTable.Expire.D() != 30*time.Second ||
		!reflect.DeepEqual(www.StickTable.Store, []string{"http_req_rate(10s)", "gpc0"}) {
		t.Errorf("www stick table: %+v", www.StickTable)
	}
	// http-request track-sc0 is a rule: HAProxy counts each request it
	// tracks, not each connection. The log lines give the access log.
	if www.Track != nil {
		t.Errorf("www track: %+v", www.Track)
	}
	// option dontlognull in defaults: empty connections are not logged.
	if al := www.AccessLog; al == nil || al.To != "unix:///dev/log" || al.Format != httpLogFormat || al.LogEmpty {
		t.Errorf("www access log: %+v", al)
	}
	// A defaults section starts afresh, as HAProxy's: tcpdefaults has no
	// log line, so db does not log.
	if al := c.Frontends[1].AccessLog; al == nil || !al.Off {
		t.Errorf("db access log: %+v", al)
	}
	if www.DefaultBackend != "app" {
		t.Errorf("www default_backend %q", www.DefaultBackend)
	}
	// The plain Lua rules pass through; the routing and the forwarding
	// are generated.
	if len(www.HTTPRequest) != 4 || www.HTTPRequest[1] != `lua.cors_request * GET,POST` || !reflect.DeepEqual(www.HTTPResponse, []string{"lua.cors_response"}) {
		t.Errorf("www rules: %q / %q", www.HTTPRequest, www.HTTPResponse)
	}
	app := c.Backends[0]
	// app3 is disabled: kept, in maintenance, so that the hashing
	// algorithms count it as HAProxy does.
	if app.Name != "app" || app.Balance != "roundrobin" || len(app.Servers) != 3 ||
		app.Servers[0] != (config.Server{Name: "app1", Address: "10.0.0.1:80", Weight: 10, MaxConn: 100}) || !app.Servers[1].Backup ||
		app.Servers[2] != (config.Server{Name: "app3", Address: "10.0.0.3:80", Disabled: true}) {
		t.Errorf("app: %+v", app)
	}
	if app.Check.Type != "http" || app.Check.Path != "/health" || app.Check.ExpectStatus != 200 {
		t.Errorf("app check: %+v", app.Check)
	}
	if app.Timeouts.Connect.D() != 5*time.Second || app.Timeouts.Server.D() != 50*time.Second {
		t.Errorf("app timeouts: %+v", app.Timeouts)
	}
	api := c.Backends[1]
	if api.Check.Type != "tcp" || api.Check.Interval.D() != 2*time.Second || api.Check.Rise != 3 || api.Check.Fall != 2 {
		t.Errorf("api check: %+v", api.Check)
	}
	db := c.Frontends[1]
	if db.Mode != "tcp" || db.DefaultBackend != "db" || db.Timeouts.KeepAlive.D() != time.Minute {
		t.Errorf("db: %+v", db)
	}
	if b := c.Backends[3]; b.Name != "db" || b.Balance != "source" || b.Timeouts.Tunnel.D() != time.Hour {
		t.Errorf("db backend: %+v", b)
	}
	warned := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"haproxy.cfg:3: 'chroot' has no effect"} {
		if !strings.Contains(warned, w) {
			t.Errorf("no warning %q in:\n%s", w, warned)
		}
	}
	rules := string(res.Rules)
	for _, want := range []string{`txn:set_var("txn.backend", b)`, `["app"] = {"x-forwarded-for", false, false}`, `-- acl is_static`, `H.M["end"]`, `txn:track_sc(0, txn.f:src(), "www")`} {
		if !strings.Contains(rules, want) {
			t.Errorf("the generated rules have no %q:\n%s", want, rules)
		}
	}
}

// The log lines and options give each frontend's access log.
func TestAccessLogs(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `global
    log 127.0.0.1 local0
    log stderr local1 notice
    log-tag edge
    log-send-hostname

defaults
    mode http
    log global
    timeout client 5s

frontend plain
    bind 127.0.0.1:81
    http-request return status 200

frontend httplog
    bind 127.0.0.1:82
    option httplog
    http-request return status 200

frontend own
    bind 127.0.0.1:83
    log stdout format raw local2 notice crit
    option log-separate-errors
    option dontlognull
    log-format "%ci %[req.hdr(host),lower] %[var(txn.a)] %ID"
    http-request return status 200

frontend quiet
    bind 127.0.0.1:84
    no log
    http-request return status 200

frontend both
    bind 127.0.0.1:86
    log-tag fe
    log 127.0.0.1:515 len 200 format rfc5424 sample 1-2:5 local3
    log global
    http-request return status 200

listen tcp
    mode tcp
    bind 127.0.0.1:85
    option httplog
    server s 127.0.0.1:1
`))
	if err != nil {
		t.Fatal(err)
	}
	global := []config.LogTarget{
		{To: "syslog://127.0.0.1:514", Facility: "local0", SyslogFormat: "rfc3164", Length: 1024},
		{To: "stderr", Facility: "local1", Level: "notice", SyslogFormat: "rfc3164", Length: 1024},
	}
	want := []config.AccessLog{
		{Targets: global, Format: defaultLogFormat, LogEmpty: true, Tag: "edge", Hostname: "%H"},
		{Targets: global, Format: httpLogFormat, LogEmpty: true, Tag: "edge", Hostname: "%H"},
		{Targets: append(slices.Clone(global), config.LogTarget{To: "stdout", Facility: "local2", Level: "notice", MinLevel: "crit", SyslogFormat: "raw", Length: 1024}), Format: "%ci %[lua.haproxycfg_log_1] %[var(txn.a)] %[var(txn.__hc_unique_id)]", SeparateErrors: true, Tag: "edge", Hostname: "%H"},
		{Off: true},
		{Targets: append(slices.Clone(global), config.LogTarget{To: "syslog://127.0.0.1:515", Facility: "local3", SyslogFormat: "rfc5424", Length: 200, Sample: "1-2:5"}), Format: defaultLogFormat, LogEmpty: true, Tag: "fe", Hostname: "%H"},
		{Targets: global, Format: defaultLogFormat, LogEmpty: true, Tag: "edge", Hostname: "%H"},
	}
	for i, f := range res.Config.Frontends {
		if f.AccessLog == nil || !reflect.DeepEqual(*f.AccessLog, want[i]) {
			t.Errorf("%s: access log %+v, want %+v", f.Name, f.AccessLog, want[i])
		}
	}
	if w := strings.Join(res.Warnings, "\n"); strings.Contains(w, "log") {
		t.Errorf("warnings: %s", w)
	}
	// A facility or a level HAProxy does not know is refused, with its line.
	for _, c := range []struct{ line, want string }{
		{"log 127.0.0.1 local9", `haproxy.cfg:3: log: unknown facility "local9"`},
		{"log 127.0.0.1 local0 loud", `haproxy.cfg:3: log: unknown level "loud"`},
		{"log 127.0.0.1", "haproxy.cfg:3: log: want a facility"},
		{"log 127.0.0.1 len 60 local0", "haproxy.cfg:3: log: len: want a length within 80 and 65535"},
		{"log 127.0.0.1 format json local0", `haproxy.cfg:3: log: format: unknown syslog format "json"`},
		{"log 127.0.0.1 sample 3:2 local0", `haproxy.cfg:3: log: sample "3:2"`},
	} {
		_, err := Load(write(t, "haproxy.cfg", "global\n    nbthread 1\n    "+c.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.line, err, c.want)
		}
	}
	if r := string(res.Rules); !strings.Contains(r, `core.register_fetches("haproxycfg_log_1", function(txn) return H.conv(txn.c, "lower", txn.f:req_hdr("host")) end)`) {
		t.Errorf("no log fetch in the rules:\n%s", r)
	}
}

// In HTTP mode a tcp-request content track-scN runs with the request
// rules, before the http-request ones; connection tracking of src is the
// frontend's track.
func TestTrackRules(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    stick-table type ip size 1k store conn_cnt
    tcp-request connection track-sc0 src
    http-request set-header x-a b
    tcp-request content track-sc2 src,ipmask(24) table st if { src 127.0.0.0/8 }
    http-request return status 200

backend st
    stick-table type ip size 1k store http_req_cnt
`))
	if err != nil {
		t.Fatal(err)
	}
	f := res.Config.Frontends[0]
	if f.Track == nil || f.Track.Key != "src" || f.Track.Table != "" {
		t.Errorf("track %+v", f.Track)
	}
	rules := string(res.Rules)
	track := strings.Index(rules, `txn:track_sc(2, H.conv(txn.c, "ipmask", txn.f:src(), 24), "st")`)
	header := strings.Index(rules, `txn.http:req_set_header("x-a", "b")`)
	if track < 0 || header < 0 || track > header {
		t.Errorf("want the track-sc2 rule before set-header:\n%s", rules)
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"global\n  foo bar\n", "haproxy.cfg:2: 'foo' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode http\n  capture cookie sid len x\n", "haproxy.cfg:4: capture cookie: invalid len 'x'"},
		{"frontend f\n  bind :80\n  mode http\n  capture cookie sid\n", "haproxy.cfg:4: capture: want 'capture request|response header NAME len N' or 'capture cookie NAME len N'"},
		{"backend b\n  hash-type consistent md5\n", "haproxy.cfg:2: hash-type: want a function sdbm, djb2, wt6 or crc32 after consistent, got \"md5\""},
		{"backend b\n  balance uri depth 0\n", "haproxy.cfg:2: balance uri: depth wants a positive integer"},
		{"frontend f\n  bind :80\n  mode http\n  http-request capture req.hdr(host) id 0\n  http-request return status 200\n", "haproxy.cfg:4: capture ... id 0: frontend f has no such request capture slot"},
		{"backend b\n  http-request capture req.hdr(host) len 10\n", "haproxy.cfg:2: http-request capture ... len: only http-request rules of a frontend or listen"},
		{"frontend f\n  bind :80\n  mode http\n  http-after-response deny\n", "haproxy.cfg:4: http-after-response deny: not an action of http-after-response"},
		{"frontend f\n  bind :80\n  mode http\n  http-request track-sc3 src\n", "haproxy.cfg:4: track-sc3: want track-sc0"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-inc-gpc1(3)\n", "haproxy.cfg:4: sc-inc-gpc1(3): want sc-inc-gpc1(SC), SC 0, 1 or 2"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-inc-gpc(1)\n", "haproxy.cfg:4: sc-inc-gpc(1): want sc-inc-gpc(IDX,SC), SC 0, 1 or 2"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-set-gpt(100,0) 1\n", "haproxy.cfg:4: sc-set-gpt(100,0): the index must be between 0 and 99"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-set-gpt0(0)\n", "haproxy.cfg:4: sc-set-gpt0(0): want an integer or a sample expression"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-inc-gpc0(0) 1\n", "haproxy.cfg:4: sc-inc-gpc0(0) takes no argument"},
		{"frontend f\n  bind :80\n  mode http\n  http-request sc-clr-gpc0(0)\n", "haproxy.cfg:4: 'sc-clr-gpc0(0)' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode tcp\n  tcp-request content add-acl(x.acl) y\n", "haproxy.cfg:4: add-acl(x.acl): want add-acl(FILE) KEY in an http-request or http-response rule"},
		{"frontend f\n  bind :80\n  mode http\n  http-request track-sc1 src\n", "haproxy.cfg:4: track-sc1: f has no stick-table"},
		{"frontend f\n  bind :80\n  mode http\n  http-request deny if { src,table_gpc0(nope) gt 0 }\n", "haproxy.cfg:4: deny: converter 'table_gpc0': no stick table 'nope' (a frontend's or backend's stick-table)"},
		{"frontend f\n  bind :80\n  mode http\n  stick-table type ip size 1 store gpc(2)\n  http-request deny if { src,table_gpc(f) gt 0 }\n", "haproxy.cfg:5: deny: converter 'table_gpc': a table name is needed"},
		{"frontend f\n  bind :80\n  mode http\n  http-request track-sc1 src table nope\n", "haproxy.cfg:4: track-sc1 ... table nope: no frontend, backend or listen named nope"},
		{"frontend f\n  bind :80\n  tcp-request connection track-sc1 src\n", "haproxy.cfg:3: tcp-request track-sc1: only 'track-sc0 src [table T]' without a condition"},
		{"frontend f\n  bind :80\n  mode http\n  log stdout local0\n  log-format \"%ci %zz\"\n", "haproxy.cfg:5: log-format: unknown log-format variable %zz"},
		{"frontend f\n  bind :80\n  mode http\n  http-request deny if nope\n", "haproxy.cfg:4: deny: no ACL named 'nope'"},
		{"frontend f\n  bind :80\n  mode http\n  http-request deny if { req.nothing foo }\n", "haproxy.cfg:4: deny: fetch 'req.nothing' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) path,xxh32(abc)\n", "haproxy.cfg:4: set-var(txn.h): converter 'xxh32': seed 'abc' is not an integer"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) path,xxh32(1,2)\n", "haproxy.cfg:4: set-var(txn.h): converter 'xxh32' takes at most one argument (a seed)"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) path,xxh64(1,2)\n", "haproxy.cfg:4: set-var(txn.h): converter 'xxh64' takes at most one argument (a seed)"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) path,xxh3(x)\n", "haproxy.cfg:4: set-var(txn.h): converter 'xxh3': seed 'x' is not an integer"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) int(1x)\n", "haproxy.cfg:4: set-var(txn.h): fetch 'int': '1x' is not an integer"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-var(txn.h) int(1),and(x)\n", "haproxy.cfg:4: set-var(txn.h): 'x': want a number or a variable (SCOPE.NAME: letters, digits, '_' and '.')"},
		{"frontend f\n  bind :80\n  mode http\n  http-response set-header x %[res.hdrs]\n", "fetch 'res.hdrs' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  use_backend b if TRUE\n", "haproxy.cfg:3: use_backend: no backend named 'b'"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header x %[str(a),concat(,req.hdr(h),)]\n", "'req.hdr(h)': want a number or a variable"},
		{"frontend f\n  bind :443 crt /x.pem\n", "haproxy.cfg:2: bind: ssl and crt go together"},
		{"frontend f\n  bind :443 ssl crt /x.pem crl-file /c.pem\n", "haproxy.cfg:2: 'bind ... crl-file' is not supported by luaedge"},
		{"frontend f\n  bind :443 ssl crt /x.pem verify required\n", "haproxy.cfg:2: bind ... verify required: a ca-file is needed"},
		{"frontend f\n  bind :443 ssl crt /x.pem ca-file /ca.pem verify sometimes\n", "haproxy.cfg:2: bind ... verify: want none, optional or required, got 'sometimes'"},
		{"frontend f\n  bind :443 ssl crt /x.pem\n  bind :80\n", "haproxy.cfg:3: bind: luaedge takes one TLS setting per frontend"},
		{"frontend f\n  bind :80\n  option http-use-htx\n", "haproxy.cfg:3: 'option http-use-htx' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header X %[date]\n", "haproxy.cfg:4: set-header: fetch 'date' is not supported"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header X %[path,nope]\n", "converter 'nope' is not supported"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header X \"%Tw\"\n", "log-format variable %Tw is not supported by luaedge in rules"},
		{"backend b\n  server s 10.0.0.1 check\n", "haproxy.cfg:2: server s has neither service port nor check port"},
		{"backend b\n  server s 10.0.0.1:+5\n  server t 10.0.0.2:80 check\n", "haproxy.cfg:3: server s has neither service port nor check port"},
		{"backend b\n  tcp-request connection set-dst-port int(1)\n", "haproxy.cfg:2: tcp-request connection is not allowed in a backend"},
		{"frontend f\n  bind :80\n  mode http\n  http-response set-dst-port int(1)\n", "haproxy.cfg:4: 'set-dst-port' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode http\n  http-request return status 200 string hi\n", "haproxy.cfg:4: return: a body needs a content-type"},
		{"frontend f\n  bind :80\n  mode http\n  http-response set-header X %[path]\n", "haproxy.cfg:4: set-header: fetch 'path' reads the request, which is not available in the response phase"},
		{"backend b\n  cookie S insert rewrite\n", "haproxy.cfg:2: cookie S: the 'rewrite', 'insert' and 'prefix' modes are incompatible"},
		{"backend b\n  cookie S rewrite indirect\n", "haproxy.cfg:2: cookie S: the 'rewrite' and 'indirect' modes are incompatible"},
		{"backend b\n  cookie S prefix preserve\n", "haproxy.cfg:2: cookie S: 'preserve' requires at least 'insert' or 'indirect'"},
		{"backend b\n  cookie S insert attr a;b\n", "haproxy.cfg:2: cookie: attr \"a;b\": ';' and control characters are not permitted"},
		{"backend b\n  cookie S insert maxidle 500ms\n", "haproxy.cfg:2: cookie: maxidle: '500ms' is under 1s"},
		{"backend b\n  cookie S insert maxlife\n", "haproxy.cfg:2: cookie: maxlife needs a time in seconds"},
		{"timeout client 5s\n", "haproxy.cfg:1: 'timeout' outside of a section"},
		{"frontend f\n  bind :80\n  stick-table type ip size 1 store http_req_cnt,http_fail_cnt\n", "haproxy.cfg:3: 'stick-table ... store http_fail_cnt' is not supported by luaedge"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header x %[bin(0g)]\n", "haproxy.cfg:4: set-header: fetch 'bin': '0g' is not hex digits"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header x %[path,strcmp(x)]\n", "haproxy.cfg:4: set-header: converter 'strcmp' takes a variable name"},
		{"frontend f\n  bind :80\n  mode http\n  http-request set-header x %[path,add_item(-)]\n", "haproxy.cfg:4: set-header: converter 'add_item' wants"},
		{"frontend f\n  bind :80\n  mode http\n  http-request deny if { path,in_table(nope) }\n", "haproxy.cfg:4: deny: converter 'in_table': no stick table 'nope'"},
		{"frontend f\n  bind :80\n  mode http\n  http-request del-header x -m found\n", "haproxy.cfg:4: del-header: -m wants str, beg, end, sub or reg, got 'found'"},
		{"frontend f\n  bind :80\n  acl a path \"/x\n", "haproxy.cfg:3: unterminated quote"},
	} {
		paths := write(t, "haproxy.cfg", tc.cfg)
		_, err := Load(paths)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// bind ... ssl crt FILE: the frontend serves TLS with that PEM (its
// certificate and key in one file, as HAProxy takes them) and the OCSP
// response in FILE.ocsp when there is one; ca-file and verify ask for
// client certificates (not by default, as in HAProxy).
func TestBindSSL(t *testing.T) {
	paths := write(t, "haproxy.cfg", `frontend f
  mode http
  bind 127.0.0.1:8443 ssl crt site.pem crt other.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3
  bind 127.0.0.1:9443 ssl crt site.pem crt other.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3
  http-request return status 204
frontend mtls
  mode http
  bind 127.0.0.1:7443 ssl crt site.pem ca-file clients.pem verify optional
  http-request return status 204
frontend cafile
  mode http
  bind 127.0.0.1:6443 ssl crt site.pem ca-file clients.pem
  http-request return status 204
`)
	dir := filepath.Dir(paths[0])
	site, other := filepath.Join(dir, "site.pem"), filepath.Join(dir, "other.pem")
	if err := os.WriteFile(site+".ocsp", []byte("staple"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := &config.FrontendTLS{
		Certificates:     []config.CertKey{{Cert: site, Key: site, OCSP: site + ".ocsp"}, {Cert: other, Key: other}},
		MinVersion:       "1.3",
		ALPN:             []string{"h2", "http/1.1"},
		HandshakeTimeout: config.Duration(config.DefaultHandshakeTimeout),
		Verify:           "none",
	}
	if got := res.Config.Frontends[0].TLS; !reflect.DeepEqual(got, want) {
		t.Errorf("tls %+v, want %+v", got, want)
	}
	clients := filepath.Join(dir, "clients.pem")
	for i, verify := range []string{"optional", "none"} {
		if got := res.Config.Frontends[1+i].TLS; got.ClientCA != clients || got.Verify != verify {
			t.Errorf("%s: client_ca %q, verify %q; want %q, %q", res.Config.Frontends[1+i].Name, got.ClientCA, got.Verify, clients, verify)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`http-request set-header X-A "a b"   # comment`, []string{"http-request", "set-header", "X-A", "a b"}},
		{`acl x path 'it''s'`, []string{"acl", "x", "path", "its"}},
		{`lf-string "line\n" a\ b`, []string{"lf-string", "line\n", "a b"}},
		{`replace-value x ^(.*)$ be-\1 \x41\#`, []string{"replace-value", "x", "^(.*)$", `be-\1`, "A#"}},
		{`a\$b "a\$b" "q\"d"`, []string{`a\$b`, "a$b", `q"d`}},
		{`  `, nil},
	} {
		got, err := split(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("split(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSeveralFiles(t *testing.T) {
	paths := write(t,
		"global.cfg", "global\n  nbthread 1\ndefaults\n  mode http\n  timeout client 3s\n",
		"site.cfg", "frontend f\n  bind 127.0.0.1:80\n  http-request return status 204\n")
	res, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Config.Frontends[0]
	if f.Mode != "http" || f.Timeouts.HTTPRequest.D() != 3*time.Second || f.UseService != "lua.haproxycfg_http" {
		t.Errorf("frontend: %+v", f)
	}
}

func TestExpressions(t *testing.T) {
	g := &gen{aclFns: map[string]string{}, ulRefs: map[string]string{}}
	sc := scope{fe: "f", g: g}
	for _, tc := range []struct{ in, want string }{
		{"path", "txn.f:path()"},
		{"req.hdr(host),lower", `H.conv(txn.c, "lower", txn.f:req_hdr("host"))`},
		{"lua.fetch(a,2)", `txn.f["lua.fetch"](txn.f, "a", "2")`},
		{"var(txn.x),lua.conv", `H.conv(txn.c, "lua_conv", txn:get_var("txn.x"))`},
		{"sc0_http_req_rate", "txn.f:sc0_http_req_rate()"},
		{"src,map_ip(/geo.map,XX)", `H.conv(txn.c, "map_ip", txn.f:src(), "/geo.map", "XX")`},
		{"var(txn.a),add_item(',',txn.b,_s_)", `H.add_item(txn:get_var("txn.a"), ",", txn:get_var("txn.b"), "_s_")`},
		{"var(txn.a),add_item(\",\",,_s_)", `H.add_item(txn:get_var("txn.a"), ",", nil, "_s_")`},
		{"path,strcmp(txn.b)", `H.strcmp(txn.f:path(), txn:get_var("txn.b"))`},
		{"path,hmac(sha256,txn.key)", `H.hmac(txn.c, txn.f:path(), "sha256", txn:get_var("txn.key"))`},
		{"path,hmac(sha1,a2V5)", `H.hmac(txn.c, txn.f:path(), "sha1", "a2V5")`},
		{"req.cook_cnt()", `H.cook_cnt(txn, nil)`},
		{"capture.req.method", "txn.f:capture_req_method()"},
		{"capture.req.uri,lower", `H.conv(txn.c, "lower", txn.f:capture_req_uri())`},
		{"capture.req.ver", "txn.f:capture_req_ver()"},
		{"path,xxh32(-1)", `H.conv(txn.c, "xxh32", txn.f:path(), -1)`},
		// Integers beyond 2^53 are written as int64_t literals.
		{"path,xxh64(9007199254740993)", `H.conv(txn.c, "xxh64", txn.f:path(), 9007199254740993LL)`},
		{"path,xxh3(-9007199254740992)", `H.conv(txn.c, "xxh3", txn.f:path(), -9007199254740992)`},
		{"int(-9223372036854775808)", `(-9223372036854775807LL - 1)`},
		{"int(-9007199254740993),cpl", `H.conv(txn.c, "cpl", (-9007199254740993LL))`},
		{"path,add(99999999999999999999)", `H.arith(txn.c, txn.f:path(), "add", 9223372036854775807LL)`},
		{"path,xor(txn.k)", `H.arith(txn.c, txn.f:path(), "xor", txn:get_var("txn.k"))`},
		{"req.cook_val(a)", `H.cook_val(txn, "a")`},
		{"req.hdr_ip(x-f,-1)", `H.ip_of(txn.f:req_hdr("x-f", -1))`},
		{"bin(0a41)", `"\010A"`},
		{"req.payload(0,3)", `txn.f:req_payload(0, 3)`},
		{"req.payload_lv(0,1,+1)", `txn.f:req_payload_lv(0, 1, "+1")`},
		{"req.payload(+1,+2)", `txn.f:req_payload(1, 2)`},
		// A binary sample is cast to a string, ended at its first NUL,
		// for a converter that takes strings; bytes and sha1 take it whole.
		{"bin(00414243),length", `H.conv(txn.c, "length", H.bin2str("\000ABC"))`},
		{"req.body,bytes(1),length", `H.conv(txn.c, "length", H.bin2str(H.conv(txn.c, "bytes", txn.f:req_body(), 1)))`},
		{"req.body,sha1,hex", `H.conv(txn.c, "hex", H.conv(txn.c, "sha1", txn.f:req_body()))`},
		{"req.body,hex,length", `H.conv(txn.c, "length", H.conv(txn.c, "hex", txn.f:req_body()))`},
		{"str()", `""`},
		{"path,regsub('(a|,)',x)", `H.conv(txn.c, "regsub", txn.f:path(), "(a|,)", "x")`},
		{"req.body,json_query($.my\\\\.key)", `H.conv(txn.c, "json_query", H.bin2str(txn.f:req_body()), "$.my\\.key")`},
		{"path,regsub(:\\d+$,,)", `H.conv(txn.c, "regsub", txn.f:path(), ":\\d+$", "", "")`},
		{"path,regsub(\\ ,\"a b\")", `H.conv(txn.c, "regsub", txn.f:path(), " ", "a b")`},
	} {
		got, _, _, err := sc.expr(tc.in, false)
		if err != nil || got != tc.want {
			t.Errorf("expr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"req.payload(0)", "req.payload(a,1)", "req.payload_lv(-1,1)", "req.payload_lv(0,0)", "req.payload_lv(0,1,x)", "req.payload_lv(2,1,-4)"} {
		if got, _, _, err := sc.expr(bad, false); err == nil {
			t.Errorf("expr(%q) = %q, want an error", bad, got)
		}
	}
	// -m bin, the ACL match of req.payload: hex patterns.
	acl := scope{fe: "f", g: &gen{aclFns: map[string]string{}, ulRefs: map[string]string{}}}
	if got, err := acl.acl([]string{"req.payload(0,2)", "-m", "bin", "0a41"}); err != nil || !strings.Contains(got, `H.M["bin"](txn.f:req_payload(0, 2)`) {
		t.Errorf("acl -m bin = %q, %v", got, err)
	}
	if _, err := acl.acl([]string{"req.payload(0,2)", "0x"}); err == nil {
		t.Error("acl -m bin with a pattern that is not hex: no error")
	}
	got, err := sc.format("a%%b %[path] c")
	if want := `"a%b " .. H.S(txn.f:path()) .. " c"`; err != nil || got != want {
		t.Errorf("format = %q, %v; want %q", got, err, want)
	}
	got, err = sc.format("%HPO")
	if want := `H.S(H.LINE(H.S(txn.f:capture_req_uri()):match("^[^?]*")))`; err != nil || got != want {
		t.Errorf("format %%HPO = %q, %v; want %q", got, err, want)
	}
	// The request line as received, not the fetches of the rewritten one.
	got, err = sc.format("%HM %HU %r")
	if want := `H.S(H.LINE(txn.f:capture_req_method())) .. " " .. H.S(H.LINE(txn.f:capture_req_target())) .. " " .. H.S(H.LINE(H.S(txn.f:capture_req_method()) .. " " .. H.S(txn.f:capture_req_target()) .. " HTTP/" .. H.S(txn.f:req_ver())))`; err != nil || got != want {
		t.Errorf("format %%HM %%HU %%r = %q, %v; want %q", got, err, want)
	}
	got, err = sc.cond([]string{"unless", "{", "method", "GET", "}", "||", "!", "TRUE"}, nil)
	if want := `not ((H.M["str"](H.method(txn), P[1], false)) or (not H.M["bool"](true, nil, false)))`; err != nil || got != want {
		t.Errorf("cond = %q, %v; want %q", got, err, want)
	}
}

func TestConditionalBlocksAndEnvironment(t *testing.T) {
	t.Setenv("HCFG_PORT", "8099")
	paths := write(t, "haproxy.cfg", `global
.if version_atleast(2.4)
    nbthread 3
.elif defined(NEVER)
    nbthread 4
.else
    nbthread 5
.endif
.if feature(QUIC)
    quic-only-keyword
.endif
.if !defined(HCFG_UNSET) && streq(a,a)
    .notice taken
.endif

frontend f
    mode http
    bind "127.0.0.1:${HCFG_PORT}"
    bind "127.0.0.1:${HCFG_MISSING-8100}"
    http-request return status 200
`)
	res, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Workers != 3 {
		t.Errorf("workers %d, want 3", res.Config.Workers)
	}
	if b := res.Config.Frontends[0].Bind; !reflect.DeepEqual(b, []string{"127.0.0.1:8099", "127.0.0.1:8100"}) {
		t.Errorf("bind %v", b)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "haproxy.cfg:13: taken") {
		t.Errorf("warnings: %s", w)
	}
	if _, err := Load(write(t, "haproxy.cfg", "global\n.if 1\n")); err == nil || !strings.Contains(err.Error(), ".if without .endif") {
		t.Errorf("an open .if: %v", err)
	}
	if _, err := Load(write(t, "haproxy.cfg", "global\n.alert stop here\n")); err == nil || !strings.Contains(err.Error(), "haproxy.cfg:2: stop here") {
		t.Errorf(".alert: %v", err)
	}
}

// A named ACL on the request's path matches in http-request rules and
// matches nothing in http-response rules, where HAProxy no longer has the
// path: it is compiled once per phase.
func TestACLPerPhase(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    acl x path /x
    http-request set-header a b if x
    http-response set-header a b if x
    http-request return status 200
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	if !strings.Contains(rules, "ACL[1] = function(txn) return H.M[\"str\"](txn.f:path()") || !strings.Contains(rules, "ACL[2] = function(txn) return H.M[\"str\"](nil") {
		t.Errorf("want one ACL function per phase:\n%s", rules)
	}
}

func TestSetDstRules(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    http-request set-dst-port int(8081) if { path /a }
    tcp-request content set-dst str(10.0.0.1)
    tcp-request connection set-dst-port dst_port,add(1)
    default_backend b

backend b
    server any *:0
    server mapped 10.0.0.2
    server six 2001:db8::1:+1000
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	conn := strings.Index(rules, `txn:set_dst_port(`)
	content := strings.Index(rules, `txn:set_dst("10.0.0.1")`)
	req := strings.Index(rules, `txn:set_dst_port(8081)`)
	if conn < 0 || content < 0 || req < 0 || !(conn < content && content < req) {
		t.Errorf("want the connection, content and http-request rules in this order:\n%s", rules)
	}
	var addrs []string
	for _, s := range res.Config.Backends[0].Servers {
		addrs = append(addrs, s.Address)
	}
	if got := strings.Join(addrs, " "); got != "0.0.0.0:0 10.0.0.2:0 [2001:db8::1]:+1000" {
		t.Errorf("server addresses %q", got)
	}
}

// Consecutive early-hint rules make one 103, which a rule with a
// condition or any other rule ends, as HAProxy 2.6 merges them.
func TestEarlyHintGroups(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    http-request early-hint link "</a.css>; rel=preload" if { path_beg /a }
    http-request early-hint Link "</b.js>; rel=preload; as=%[path]"
    http-request early-hint x-one 1 unless { path_beg /a }
    http-request early-hint x-two 2
    http-request set-header x y
    http-request early-hint x-three 3
    http-request return status 200
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	if n := strings.Count(rules, "txn.http:early_hints(h)"); n != 3 {
		t.Fatalf("want 3 interim responses (two runs split by a condition, one after set-header), got %d:\n%s", n, rules)
	}
	// The first group: the condition guards its own field, not the next.
	first := rules[strings.Index(rules, "local h = {}"):]
	first = first[:strings.Index(first, "txn.http:early_hints(h)")]
	if !strings.Contains(first, `then h[#h + 1] = {"link", "</a.css>; rel=preload"} end`) ||
		!strings.Contains(first, "\nh[#h + 1] = {\"link\", ") || strings.Contains(first, "x-one") {
		t.Errorf("first 103:\n%s", first)
	}
	for _, bad := range []string{
		`http-request early-hint link`,
		`http-request early-hint link a b`,
		`http-request early-hint "bad name" v`,
	} {
		_, err := Load(write(t, "haproxy.cfg", "frontend f\n    mode http\n    bind 127.0.0.1:80\n    "+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), "haproxy.cfg:4: ") || !strings.Contains(err.Error(), "early-hint") {
			t.Errorf("%s: want an error naming line 4 and early-hint, got %v", bad, err)
		}
	}
}

// http-error's log-format forms become a function made for each answer;
// errorfiles takes an http-errors section's answers, in the order of the
// lines, after those of the defaults.
func TestHTTPErrorForms(t *testing.T) {
	paths := write(t, "haproxy.cfg", `http-errors site
    errorfile 403 e403.http
    errorfile 404 e404.http

defaults
    mode http
    http-error status 503 content-type text/plain lf-string "down: %[path]" hdr x-p "%[path]"

frontend f
    bind 127.0.0.1:80
    errorfiles site
    http-error status 404 content-type text/plain string "mine"
    http-request deny deny_status 403 if { path /a }
    http-request deny deny_status 404 if { path /b }
    http-request return status 404 errorfiles site if { path /c }
    default_backend b

backend b
    server s 127.0.0.1:1 disabled
`, "e403.http", "HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\n\r\nsite", "e404.http", "HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nsite4")
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	for _, want := range []string{
		`reason = "Forbidden", fields = {"content-length", "4"}, body = "site"}`,                              // the section's 403
		`reason = "Not Found", fields = {"content-length", "5"}, body = "site4"}`,                             // return ... errorfiles site
		`reason = "Not Found", fields = {"content-length", "", "content-type", "text/plain"}, body = "mine"}`, // http-error after errorfiles
		`return {status = 503, reason = "Service Unavailable", fields = h, body = body}`,                      // made for each answer
		`txn.f:path()`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("want %s in:\n%s", want, rules)
		}
	}
	for _, c := range []struct{ cfg, err string }{
		{"    errorfiles nowhere\n", "no http-errors section named 'nowhere'"},
		{"    http-error status 418 content-type text/plain string x\n", "status code '418' not handled"},
		{"    http-error status 403 lf-string x\n", "a body needs its content-type"},
		{"    http-error status 403 string x lf-string y\n", "unexpected 'lf-string'"},
		{"    http-request return status 404 errorfiles nowhere\n", "no http-errors section named 'nowhere'"},
	} {
		_, err := Load(write(t, "haproxy.cfg", "frontend f\n    mode http\n    bind 127.0.0.1:80\n"+c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: want an error with %q, got %v", c.cfg, c.err, err)
		}
	}
	// A status the section lacks: HAProxy's own answer stays, with a warning.
	res, err = Load(write(t, "haproxy.cfg", "http-errors s\n    errorfile 403 e.http\nfrontend f\n    mode http\n    bind 127.0.0.1:80\n    errorfiles s 404\n    http-request deny deny_status 404\n",
		"e.http", "HTTP/1.1 403 Forbidden\r\n\r\nx")[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "status 404 is not in http-errors section 's'") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// stats socket PATH is the runtime API: luaedge's runtime_socket.
func TestStatsSocket(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", "global\n  stats socket /run/ha.sock mode 600 level admin\n  stats socket ipv4@127.0.0.1:9999 level admin\n  stats timeout 30s\nfrontend f\n  bind :80\n  mode http\n  http-request return status 200\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.RuntimeSocket != "/run/ha.sock" {
		t.Errorf("runtime socket %q", res.Config.RuntimeSocket)
	}
	if len(res.Warnings) != 2 {
		t.Errorf("warnings %q, want the TCP socket's and stats timeout's", res.Warnings)
	}
}

// An ACL's -f files are matched as they are now (shared, changeable at
// run time) unless -i or a method the shared index lacks makes the rules
// compile their patterns; the configuration lists both kinds.
// The map converters' files are declared with their match methods, once
// each, in the order the configuration names them.
func TestMapFiles(t *testing.T) {
	paths := write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    http-request set-header x-a %[path,map(a.map)]
    http-request set-header x-b %[path,map_beg(a.map,none)]
    http-request set-header x-c %[src,map_ip_int(/etc/ip.map,0)]
    http-request set-header x-d %[hdr(x-n),map_int(n.map)]
    http-request set-header x-e %[path,map(a.map,x)]
    http-request return status 200
`, "a.map", "/a one\n")
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(filepath.Dir(paths[0]), "a.map")
	want := []config.MapFile{
		{Path: a, Method: "str"}, {Path: a, Method: "beg"}, {Path: "/etc/ip.map", Method: "ip", Ints: true},
		{Path: filepath.Join(filepath.Dir(paths[0]), "n.map"), Method: "int"},
	}
	if !reflect.DeepEqual(res.Config.Lua.MapFiles, want) {
		t.Errorf("MapFiles = %+v", res.Config.Lua.MapFiles)
	}
}

func TestACLFiles(t *testing.T) {
	paths := write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    acl a src -f block.acl
    acl b hdr(x) -i -f names.acl
    acl c path_len -m len -f lens.acl
    acl d path_beg -f block.acl
    http-request deny if a || b || c || d
    http-request return status 200
`, "block.acl", "10.0.0.1\n", "names.acl", "Bob\n", "lens.acl", "3\n")
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(paths[0])
	abs := func(name string) string { return filepath.Join(dir, name) }
	compiled := ", whose patterns luaedge compiles into the rules"
	want := []config.ACLFile{
		{Path: abs("block.acl"), Method: "ip"},
		{Path: abs("names.acl"), Fixed: "an ACL matches it with -i" + compiled},
		{Path: abs("lens.acl"), Fixed: "an ACL matches it with -m len" + compiled},
		{Path: abs("block.acl"), Method: "beg"},
	}
	if !reflect.DeepEqual(res.Config.Lua.ACLFiles, want) {
		t.Errorf("ACLFiles = %+v", res.Config.Lua.ACLFiles)
	}
	rules := string(res.Rules)
	if !strings.Contains(rules, `H.acl_files(txn.f:src(), Map["ip"]`) || !strings.Contains(rules, `"bob"`) {
		t.Errorf("rules:\n%s", rules)
	}
}

// Tuning keywords of HAProxy's memory and threads change nothing in
// luaedge: accepted with a warning (HAProxy's reg-tests set some).
func TestTuningWarns(t *testing.T) {
	paths := write(t, "haproxy.cfg", "global\n  tune.idle-pool.shared off\n  tune.bufsize 16384\nfrontend f\n  bind :80\n")
	res, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	warned := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"haproxy.cfg:2: 'tune.idle-pool.shared' has no effect", "haproxy.cfg:3: 'tune.bufsize' has no effect"} {
		if !strings.Contains(warned, w) {
			t.Errorf("no warning %q in:\n%s", w, warned)
		}
	}
}

// req.payload is compiled in both modes: in mode http it gives no
// sample; in mode tcp, with an inspect delay, a tcp-request content rule
// on it waits for the bytes (cond3), and without one it runs once.
func TestPayloadByMode(t *testing.T) {
	for _, mode := range []string{"http", "tcp", "tcp\n    tcp-request inspect-delay 1s"} {
		paths := write(t, "haproxy.cfg", `frontend f
    mode `+mode+`
    bind 127.0.0.1:80
    tcp-request content set-var(txn.p) req.payload(0,0) if { req.payload_lv(0,1) -m bin 41 }
    default_backend b
backend b
    mode `+strings.Fields(mode)[0]+`
    server s 127.0.0.1:81
`)
		res, err := Load(paths[:1])
		if err != nil {
			t.Fatalf("mode %s: %v", mode, err)
		}
		waits := strings.Contains(string(res.Rules), "if c == nil then return act.YIELD end")
		if waits != strings.Contains(mode, "inspect-delay") {
			t.Errorf("mode %s: the rule waits: %v", mode, waits)
		}
	}
}

// The answers the rules make list their fields in HAProxy's order:
// return's hdr fields (empty ones left out), content-length, content-type;
// redirect's content-length, location, cache-control, set-cookie (the
// last cookie option, clear-cookie's name as given); HAProxy's pages
// content-length, cache-control, content-type. With the frontend's option
// httpclose each answer is sent with connection: close.
func TestAnswerFieldOrder(t *testing.T) {
	paths := write(t, "haproxy.cfg", `defaults
    mode http

frontend f
    bind 127.0.0.1:80
    http-request return status 200 content-type text/plain string hi hdr x-b 1 hdr x-a "%[var(txn.none)]" hdr x-b 3 if { path /r }
    http-request redirect location /to code 307 set-cookie A=1 clear-cookie B if { path /l }
    http-request deny if { path /d }
    default_backend b

frontend g
    bind 127.0.0.1:81
    option httpclose
    http-request deny if { path /d }
    default_backend b

backend b
    server s 127.0.0.1:1 disabled
`)
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	for _, want := range []string{
		"h[#h + 1] = \"x-b\"; h[#h + 1] = v end\n" + `v = H.SE(txn:get_var("txn.none"))`,
		"h[#h + 1] = \"content-length\"; h[#h + 1] = \"\"\nh[#h + 1] = \"content-type\"; h[#h + 1] = \"text/plain\"\n" +
			`H.send(txn, {status = 200, reason = "OK", fields = h, body = "hi"}, false)`,
		`local h = {"content-length", "", "location", loc, "cache-control", "no-cache", "set-cookie", "B; path=/; Max-Age=0;"}`,
		`{status = 403, reason = "Forbidden", fields = {"content-length", "", "cache-control", "no-cache", "content-type", "text/html"}, body = `,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("want %s in:\n%s", want, rules)
		}
	}
	// One deny each: frontend f's without connection: close, g's with.
	if n := regexp.MustCompile(`H\.send\(txn, P\[\d+\], false\)`).FindAllString(rules, -1); len(n) < 1 {
		t.Errorf("want frontend f's answers without connection: close in:\n%s", rules)
	}
	if n := regexp.MustCompile(`H\.send\(txn, P\[\d+\](\(txn\))?, true\)`).FindAllString(rules, -1); len(n) < 2 {
		t.Errorf("want frontend g's deny and 503 with connection: close, got %q in:\n%s", n, rules)
	}
}

// set-header and add-header measure the head when their value may be
// over 1 KiB (a sample, or a long literal) and answer 500 when it would
// not fit in HAProxy's buffer, or skip the rewrite after strict-mode off,
// which holds until the end of its section's rules; a short literal is
// set as it is.
func TestRewriteOverflow(t *testing.T) {
	paths := write(t, "haproxy.cfg", `defaults
    mode http

frontend f
    bind 127.0.0.1:80
    http-request set-header x-a b
    http-request add-header x-b %[path]
    http-response set-header x-c %[var(txn.v)]
    default_backend b

backend b
    http-request strict-mode off
    server s 127.0.0.1:1 disabled
`)
	res, err := Load(paths[:1])
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	for _, want := range []string{
		`txn.http:req_set_header("x-a", "b")`,
		"if #v > 1024 and H.head_bytes(txn, \"req\", nil) + #\"x-b\" + #v > 16384 then\nif not H.st(txn).lax then\ntxn:set_termination_state(\"PR\")\nH.send(txn, P[",
		"else\ntxn.http:req_add_header(\"x-b\", v)\nend",
		"if #v > 1024 and H.head_bytes(txn, \"res\", \"x-c\") + #\"x-c\" + #v > 16384 then\nif not H.st(txn).lax then\ntxn:set_termination_state(\"PH\")\nH.send(txn, P[",
		"else\ntxn.http:res_set_header(\"x-c\", v)\nend",
		// strict-mode off skips such a rewrite, until the section's rules end
		"H.st(txn).lax = true\n",
		"-- the end of be:b's rules: strict-mode on\ncore.register_action(\"haproxycfg_",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("want %s in:\n%s", want, rules)
		}
	}
}

// TestIntRangesExact: integer patterns beyond 2^53 are written as
// int64_t literals, and gt/lt at the 64-bit limits match nothing.
func TestIntRangesExact(t *testing.T) {
	for _, tc := range []struct {
		pats []string
		want string
	}{
		{[]string{"9007199254740993"}, "{{9007199254740993LL, 9007199254740993LL}}"},
		{[]string{"-9007199254740993:"}, "{{(-9007199254740993LL), nil}}"},
		{[]string{"gt", "9007199254740992"}, "{{9007199254740993LL, nil}}"},
		{[]string{"gt", "9223372036854775807"}, "{{1, 0}}"},
		{[]string{"lt", "-9223372036854775808"}, "{{1, 0}}"},
		{[]string{"le", "5"}, "{{nil, 5}}"},
	} {
		got, err := intRanges(tc.pats)
		if err != nil || got != tc.want {
			t.Errorf("intRanges(%q) = %q, %v; want %q", tc.pats, got, err, tc.want)
		}
	}
	if _, err := intRanges([]string{"99999999999999999999"}); err == nil {
		t.Error("want an error for a pattern beyond 64 bits")
	}
}
