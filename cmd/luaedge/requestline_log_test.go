package main

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// capture.req.method, capture.req.uri, capture.req.ver and %HPO in a
// log-format: the request line as it arrived, after set-method and
// set-path rewrote it; method the method as it arrived, none for one
// HAProxy does not know by name (PURGE); the same lines as HAProxy 2.6's,
// from two clients on the loop.
func TestHAProxyCfgRequestLineLog(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "request-line-log",
		cfg: `global
    nbthread 1
    log stdout format raw local0

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    log-format "LOG %[method] %[capture.req.method] %[capture.req.uri] %[capture.req.ver] %HPO %{+Q}HPO %[capture.req.uri,xxh32] %ST %{+Q}r"
    http-request set-method PUT if { path_beg /rw }
    http-request set-path /new if { path_beg /rw }
    http-request deny if { path /deny }
    http-request return status 200
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/rw/a%20b?x=1"}},
			{conn: "b", req: hxReq{Method: "POST", Path: "http://ex.test/p/q?z", Header: []string{"Host: ex.test"}}},
			{conn: "a", req: hxReq{Path: "/deny"}},
			{conn: "b", req: hxReq{Method: "HEAD", Path: "/"}},
			{conn: "a", req: hxReq{Method: "PURGE", Path: "/rw"}},
		},
	}
	want := []string{
		`LOG GET GET /rw/a%20b?x=1 HTTP/1.1 /rw/a%20b "/rw/a%20b" 2115291015 200 "GET /rw/a%20b?x=1 HTTP/1.1"`,
		`LOG POST POST /p/q?z HTTP/1.1 /p/q "/p/q" 2075584389 200 "POST http://ex.test/p/q?z HTTP/1.1"`,
		`LOG GET GET /deny HTTP/1.1 /deny "/deny" 3902795462 403 "GET /deny HTTP/1.1"`,
		`LOG HEAD HEAD / HTTP/1.1 / "/" 2593267669 200 "HEAD / HTTP/1.1"`,
		`LOG - PURGE /rw HTTP/1.1 /rw "/rw" 1041024077 200 "PURGE /rw HTTP/1.1"`,
	}
	hcLogsBoth(t, sc, nil, want)
}

// The request line in rules' log-format strings (%HM %HU %HP %HQ %HV %r
// %HPO) and capture.req.*: as received, after set-method, set-path,
// set-query, set-uri and replace-path rewrote it, in the request and the
// response phase; the fetches (path, url, query, req.ver) read it as
// rewritten, method as received when HAProxy knows the received method
// by name (GET, PUT...), else as rewritten. The same answers as HAProxy
// 2.6's, from two clients on the loop.
func TestHAProxyCfgRequestLineRules(t *testing.T) {
	lf := `%HM %HU %HP %HQ %HV %{+Q}r %HPO`
	fetches := `%[method] %[path] %[url] %[query] %[req.ver] %[capture.req.method] %[capture.req.uri] %[capture.req.ver]`
	sc := hcScenario{
		name: "request-line-rules",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var-fmt(txn.pre) "` + lf + `"
    http-request set-method PUT if { path_beg /rw } || { path /app }
    http-request set-method PATCH if { path_beg /ot }
    http-request set-path /new if { path_beg /rw }
    http-request set-query q=2 if { path /new }
    http-request set-uri http://h.test/u?v if { path_beg /uri }
    http-request replace-path /ot(.*) /other\1
    http-request set-path /app/new if { path /app }
    http-request add-header x-line "` + lf + `"
    http-response set-header x-res "` + lf + ` %[method] %[capture.req.method] %[capture.req.uri] %[capture.req.ver]"
    http-request return status 200 content-type text/plain hdr x-line "%[req.hdr(x-line)]" lf-string "pre=%[var(txn.pre)]\nlf=` + lf + `\nfetch=` + fetches + `\n" unless { path_beg /app }
    use_backend app

backend app
    server s1 @APP@
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/rw/a%20b?x=1"}},
			{conn: "b", req: hxReq{Method: "POST", Path: "http://ex.test/rw/q?z", Header: []string{"Host: ex.test"}}},
			{conn: "a", req: hxReq{Method: "PURGE", Path: "/ot/x?k"}},
			{conn: "b", req: hxReq{Path: "/uri/x"}},
			{conn: "a", req: hxReq{Path: "/app"}},
			{conn: "b", req: hxReq{Method: "PURGE", Path: "/app?w"}},
			{conn: "a", req: hxReq{Path: `/rw"x?y"`}},
		},
	}
	// What the request-phase rules read: the line as received (before
	// and after the rewrites), then the fetches.
	answer := func(line, fetched string) hxWant {
		return hxWant{Status: 200, Header: map[string]string{"x-line": line},
			Body: "pre=" + line + "\nlf=" + line + "\nfetch=" + fetched + "\n"}
	}
	wants := []hxWant{
		answer(`GET /rw/a%20b?x=1 /rw/a%20b ?x=1 HTTP/1.1 "GET /rw/a%20b?x=1 HTTP/1.1" /rw/a%20b`,
			`GET /new /new?q=2 q=2 1.1 GET /rw/a%20b?x=1 HTTP/1.1`),
		answer(`POST http://ex.test/rw/q?z http://ex.test/rw/q ?z HTTP/1.1 "POST http://ex.test/rw/q?z HTTP/1.1" /rw/q`,
			`POST /new http://ex.test/new?q=2 q=2 1.1 POST /rw/q?z HTTP/1.1`),
		// PURGE is no method HAProxy knows by name: method reads PATCH.
		answer(`PURGE /ot/x?k /ot/x ?k HTTP/1.1 "PURGE /ot/x?k HTTP/1.1" /ot/x`,
			`PATCH /other/x /other/x?k k 1.1 PURGE /ot/x?k HTTP/1.1`),
		answer(`GET /uri/x /uri/x  HTTP/1.1 "GET /uri/x HTTP/1.1" /uri/x`,
			`GET /u http://h.test/u?v v 1.1 GET /uri/x HTTP/1.1`),
		// The server got PUT; the response's rules read the line as
		// received, and method no sample for PURGE.
		{Status: 200, Body: "backend=app PUT /app/new x-user=\"\" x-shout=\"\" xff=\"\"\n",
			Header: map[string]string{"x-res": `GET /app /app  HTTP/1.1 "GET /app HTTP/1.1" /app GET GET /app HTTP/1.1`}},
		{Status: 200, Body: "backend=app PUT /app/new?w x-user=\"\" x-shout=\"\" xff=\"\"\n",
			Header: map[string]string{"x-res": `PURGE /app?w /app ?w HTTP/1.1 "PURGE /app?w HTTP/1.1" /app  PURGE /app?w HTTP/1.1`}},
		// The line's '"' written #22, as HAProxy's logs do.
		answer(`GET /rw#22x?y#22 /rw#22x ?y#22 HTTP/1.1 "GET /rw#22x?y#22 HTTP/1.1" /rw#22x`,
			`GET /new /new?q=2 q=2 1.1 GET /rw"x?y" HTTP/1.1`),
	}
	for i := range sc.steps {
		sc.steps[i].want = wants[i]
	}
	hcRunScenarios(t, []hcScenario{sc})
}

// capture.res.ver: the version of the response, from a server (HTTP/1.0
// or 1.1) or a Lua service (HTTP/1.1), in the http-response rules and the
// log; none in the request's rules and for a return. res.ver in the
// http-response rules: "1.0", "1.1". The same lines as
// HAProxy 2.6's, from two clients on the loop.
func TestHAProxyCfgResponseVersion(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	// OLD answers in HTTP/1.0 and closes.
	backends["OLD"] = serveEach(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n")
	})
	sc := hcScenario{
		name:  "response-version",
		files: []string{"hello.lua"},
		cfg: `global
    nbthread 1
    log stdout format raw local0
    lua-load hello.lua

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    declare capture response len 10
    declare capture response len 10
    log-format "LOG %HU %ST req=%[var(txn.req)] res=%[capture.res.ver] rule=%[capture.res.hdr(0)] %[capture.res.hdr(1)]"
    http-request set-var(txn.req) capture.res.ver
    http-request return status 200 if { path /ret }
    http-request use-service lua.hello-world if { path /svc }
    http-response capture capture.res.ver id 0
    http-response capture res.ver id 1
    use_backend old if { path /old }
    default_backend app

backend old
    server s1 @OLD@

backend app
    server s1 @APP@
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/old"}},
			{conn: "b", req: hxReq{Path: "/app"}},
			{conn: "b", req: hxReq{Path: "/svc"}},
			{conn: "b", req: hxReq{Path: "/ret"}},
		},
	}
	want := []string{
		`LOG /old 200 req=- res=HTTP/1.0 rule=HTTP/1.0 1.0`,
		`LOG /app 200 req=- res=HTTP/1.1 rule=HTTP/1.1 1.1`,
		`LOG /svc 200 req=- res=HTTP/1.1 rule=HTTP/1.1 1.1`,
		`LOG /ret 200 req=- res=- rule=- -`,
	}
	hcLogsBoth(t, sc, backends, want)
}
