package main

import "testing"

// The general purpose counters and tags beyond gpc0, and add-acl /
// del-acl, against HAProxy 2.6: a rate-limit recipe, the arrays, and a
// blocklist. Every request comes from 127.0.0.1, so the clients are told
// apart by their X-User field, which the rules track: the second user's
// counters are untouched by the first's.

func TestHAProxyCfgGPCRateLimit(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "gpc1 and gpt0 rate limit",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    stick-table type string len 32 size 1k expire 1m store gpc1,gpc1_rate(10s),gpt0
    http-request track-sc0 req.hdr(x-user)
    http-request deny deny_status 429 if { sc_get_gpt0(0) gt 0 }
    http-request sc-inc-gpc1(0)
    http-request sc-set-gpt0(0) 1 if { sc_get_gpc1(0) ge 3 }
    http-request return status 200 content-type text/plain lf-string "gpc1=%[sc_get_gpc1(0)] rate=%[sc0_gpc1_rate] gpt0=%[sc0_get_gpt0] inc=%[sc_inc_gpc1(0)] clr=%[sc_clr_gpc1(0)] after=%[sc_get_gpc1(0)]" if { path /show }
    http-request return status 200 content-type text/plain lf-string "gpc1=%[sc_get_gpc1(0)] gpt0=%[sc_get_gpt0(0)] gpc0=%[sc_get_gpc0(0)] src=%[src_get_gpc1]"
`,
		steps: []hxStep{
			{name: "a: 1", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "gpc1=1 gpt0=0 gpc0= src=0"}},
			{name: "a: 2", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "gpc1=2 gpt0=0 gpc0= src=0"}},
			{name: "b on the same connection", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: bob"}}, want: hxWant{Status: 200, Body: "gpc1=1 gpt0=0 gpc0= src=0"}},
			{name: "a: 3, tagged", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "gpc1=3 gpt0=1 gpc0= src=0"}},
			{name: "a: blocked", conn: "b", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 429, AnyBody: true}},
			{name: "b: not blocked", conn: "b", req: hxReq{Path: "/show", Header: []string{"X-User: bob"}}, want: hxWant{Status: 200, Body: "gpc1=2 rate=2 gpt0=0 inc=3 clr=3 after=0"}},
		},
	}, nil)
}

func TestHAProxyCfgGPCArrays(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "gpc, gpc_rate and gpt arrays",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request track-sc1 req.hdr(x-user) table users
    http-request sc-inc-gpc(2,1)
    http-request sc-inc-gpc(1,1) if { path /one }
    http-request sc-inc-gpc0(1)
    http-request sc-inc-gpc(7,1)
    http-request sc-set-gpt(1,1) req.hdr_cnt(x-flag)
    http-request sc-set-gpt0(1) -1 if { path /minus }
    http-request return status 200 content-type text/plain lf-string "g0=%[sc_get_gpc(0,1)] g1=%[sc_get_gpc(1,1)] g2=%[sc_get_gpc(2,1)] g7=%[sc_get_gpc(7,1)] r2=%[sc_gpc_rate(2,1)] r0=%[sc_gpc_rate(0,1)] gpc0=%[sc1_get_gpc0] gpc1=%[sc1_get_gpc1] t0=%[sc_get_gpt(0,1)] t1=%[sc_get_gpt(1,1)] gpt0=%[sc1_get_gpt0] inc=%[sc_inc_gpc(1,1)] clr=%[sc_clr_gpc(2,1)]"

backend users
    stick-table type string len 32 size 1k expire 1m store gpc(3),gpc_rate(3,10s),gpt(2)
`,
		steps: []hxStep{
			{name: "a", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice", "X-Flag: 1", "X-Flag: 2"}}, want: hxWant{Status: 200, Body: "g0=1 g1=0 g2=1 g7= r2=1 r0=1 gpc0=1 gpc1=0 t0=0 t1=2 gpt0=0 inc=1 clr=1"}},
			{name: "a again", conn: "a", req: hxReq{Path: "/one", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "g0=2 g1=2 g2=1 g7= r2=2 r0=2 gpc0=2 gpc1=2 t0=0 t1=0 gpt0=0 inc=3 clr=1"}},
			{name: "b on the same connection", conn: "a", req: hxReq{Path: "/minus", Header: []string{"X-User: bob"}}, want: hxWant{Status: 200, Body: "g0=1 g1=0 g2=1 g7= r2=1 r0=1 gpc0=1 gpc1=0 t0=4294967295 t1=0 gpt0=4294967295 inc=1 clr=1"}},
		},
	}, nil)
}

func TestHAProxyCfgAddACL(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "add-acl and del-acl blocklist",
		made: map[string]string{"banned.acl": "mallory\n"},
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    acl banned req.hdr(x-user) -f banned.acl
    http-request add-acl(banned.acl) %[req.hdr(x-user)] if { path /ban }
    http-request del-acl(banned.acl) %[req.hdr(x-ban)] if { path /unban }
    http-request return status 200 content-type text/plain string "ok" if { path /ban } || { path /unban }
    http-request deny deny_status 403 if banned
    http-request return status 200 content-type text/plain lf-string "hello %[req.hdr(x-user)]"
`,
		steps: []hxStep{
			{name: "from the file", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: mallory"}}, want: hxWant{Status: 403, AnyBody: true}},
			{name: "alice before", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "hello alice"}},
			{name: "alice bans herself", conn: "a", req: hxReq{Path: "/ban", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "ok"}},
			{name: "alice denied", conn: "b", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 403, AnyBody: true}},
			{name: "bob on the same connection", conn: "b", req: hxReq{Path: "/", Header: []string{"X-User: bob"}}, want: hxWant{Status: 200, Body: "hello bob"}},
			{name: "bob unbans alice", conn: "b", req: hxReq{Path: "/unban", Header: []string{"X-User: bob", "X-Ban: alice"}}, want: hxWant{Status: 200, Body: "ok"}},
			{name: "alice again", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: alice"}}, want: hxWant{Status: 200, Body: "hello alice"}},
			{name: "mallory still", conn: "a", req: hxReq{Path: "/", Header: []string{"X-User: mallory"}}, want: hxWant{Status: 403, AnyBody: true}},
		},
	}, nil)
}
