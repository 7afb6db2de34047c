package main

import "testing"

// capture.req.method, capture.req.uri, capture.req.ver and %HPO in a
// log-format: the request line as it arrived, after set-method and
// set-path rewrote it; the same lines as HAProxy 2.6's, from two clients
// on the loop.
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
    log-format "LOG %[capture.req.method] %[capture.req.uri] %[capture.req.ver] %HPO %{+Q}HPO %[capture.req.uri,xxh32] %ST %{+Q}r"
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
		},
	}
	want := []string{
		`LOG GET /rw/a%20b?x=1 HTTP/1.1 /rw/a%20b "/rw/a%20b" 2115291015 200 "GET /rw/a%20b?x=1 HTTP/1.1"`,
		`LOG POST /p/q?z HTTP/1.1 /p/q "/p/q" 2075584389 200 "POST http://ex.test/p/q?z HTTP/1.1"`,
		`LOG GET /deny HTTP/1.1 /deny "/deny" 3902795462 403 "GET /deny HTTP/1.1"`,
		`LOG HEAD / HTTP/1.1 / "/" 2593267669 200 "HEAD / HTTP/1.1"`,
	}
	hcLogsBoth(t, sc, nil, want)
}
