package main

import (
	"strings"
	"testing"
)

// TestHAProxyCfgInt64 compares integer samples past 2^53 with HAProxy
// 2.6: xxh64 and xxh3 in headers, bodies, variables (read back by a Lua
// action as well) and ACLs, the arithmetic converters at the 64-bit
// limits, and map_*_int values.
func TestHAProxyCfgInt64(t *testing.T) {
	const M, m = "9223372036854775807", "-9223372036854775808"
	// Each row: the operands, then what HAProxy gives for add, sub, mul,
	// div, mod, neg, cpl, and, or, xor. "" leaves a value out:
	// HAProxy 2.6.12 adds two negatives to the largest integer (fixed
	// upstream later, issue #2216); luaedge gives their sum, which lj's
	// unit tests check.
	rows := [][12]string{
		{"1", "2", "3", "-1", "2", "0", "1", "-1", "-2", "0", "3", "3"},
		{"-1", "-1", "", "0", "1", "1", "0", "1", "0", "-1", "-1", "0"},
		{M, "1", M, "9223372036854775806", M, M, "0", "-9223372036854775807", m, "1", M, "9223372036854775806"},
		{m, "-1", m, "-9223372036854775807", M, M, "0", M, M, m, "-1", M},
		{m, "1", "-9223372036854775807", m, m, m, "0", M, M, "0", "-9223372036854775807", "-9223372036854775807"},
		{"9007199254740993", "3", "9007199254740996", "9007199254740990", "27021597764222979", "3002399751580331", "0", "-9007199254740993", "-9007199254740994", "1", "9007199254740995", "9007199254740994"},
		{"99999999999999999999", "0", M, M, "0", M, "0", "-9223372036854775807", m, "0", M, M},
		{"4611686018427387904", "2", "4611686018427387906", "4611686018427387902", M, "2305843009213693952", "0", "-4611686018427387904", "-4611686018427387905", "0", "4611686018427387906", "4611686018427387906"},
		{"-4611686018427387905", "2", "-4611686018427387903", "", m, "-2305843009213693952", "-1", "4611686018427387905", "4611686018427387904", "2", "-4611686018427387905", "-4611686018427387907"},
		{"7", "-2", "5", "9", "-14", "-3", "1", "-7", "-8", "6", "-1", "-7"},
		{"5", m, "-9223372036854775803", M, m, "0", "5", "-5", "-6", "0", "-9223372036854775803", "-9223372036854775803"},
		{"-5", m, m, "9223372036854775803", M, "0", "-5", "5", "4", m, "-5", "9223372036854775803"},
	}
	ops := []string{"add", "sub", "mul", "div", "mod", "neg", "cpl", "and", "or", "xor"}
	var arith []hxStep
	for _, r := range rows {
		want := map[string]string{}
		for i, op := range ops {
			if r[2+i] != "" {
				want["x-"+op] = r[2+i]
			}
		}
		arith = append(arith, hxStep{name: r[0] + " " + r[1], req: hxReq{Path: "/", Header: []string{"A: " + r[0], "B: " + r[1]}}, want: hxWant{Status: 200, Header: want}})
	}
	var hdrs strings.Builder
	for _, op := range ops {
		if op == "neg" || op == "cpl" {
			hdrs.WriteString(` hdr x-` + op + ` "%[req.hdr(a),` + op + `]"`)
		} else {
			hdrs.WriteString(` hdr x-` + op + ` "%[req.hdr(a),` + op + `(txn.b)]"`)
		}
	}
	hcRunScenarios(t, []hcScenario{
		{
			// The hashes of HAProxy's own: a header, a variable (read
			// back by var() and by Lua's get_var, printed with %d and
			// added to), hex, arithmetic on them, a body; ACLs compare
			// them as integers, exactly.
			name: "xxh64 and xxh3",
			made: map[string]string{"int64.lua": `core.register_action("show", {"http-req"}, function(txn)
	local v = txn:get_var("txn.h")
	txn:set_var("txn.lua", string.format("%d %d", v, v + 1))
end)
`},
			cfg: `global
    nbthread 1
    lua-load int64.lua
` + strings.TrimPrefix(hcHTTPDefaults, "global\n    nbthread 1\n") + `
frontend www
    bind 127.0.0.1:@PORT@
    acl big var(txn.h) -m int 4952883123889572249
    acl next req.hdr(x-in),xxh64,add(1) gt 4952883123889572249
    acl xbig req.hdr(x-n) -m int 9007199254740993
    http-request set-var(txn.h) req.hdr(x-in),xxh64
    http-request lua.show
    http-request set-header x-h64 %[req.hdr(x-in),xxh64]
    http-request return status 200 content-type text/plain lf-string "%[req.hdr(x-in),xxh3] %[var(txn.h),mod(1000)] %[req.hdr(x-in),xxh3(-1),div(3)]\n" hdr a "%[var(txn.h)]" hdr b "%[req.hdr(x-in),xxh3]" hdr c "%[req.hdr(x-in),xxh64(-1)]" hdr d "%[req.hdr(x-in),xxh3(123456789012345)]" hdr e "%[req.hdr(x-in),xxh64,hex]" hdr f "%[req.hdr(x-in),xxh64(99999999999999999999)]" hdr g "%[req.hdr(x-h64)]" hdr l "%[var(txn.lua)]" hdr acl "%[str(big)]" hdr x "%[str(xbig)]" if big next xbig
    http-request return status 200 content-type text/plain lf-string "%[req.hdr(x-in),xxh3]\n" hdr a "%[var(txn.h)]" hdr l "%[var(txn.lua)]" hdr acl "%[str(no)]" hdr x "%[str(xbig)]" if xbig
    http-request return status 200 content-type text/plain lf-string "%[req.hdr(x-in),xxh3]\n" hdr a "%[var(txn.h)]" hdr l "%[var(txn.lua)]" hdr acl "%[str(no)]"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"X-In: abc", "X-N: 9007199254740993"}},
					want: hxWant{Status: 200, Body: "8696274497037089104 249 987436827821272557\n", Header: map[string]string{
						"a": "4952883123889572249", "b": "8696274497037089104", "c": "2895935887265243510", "d": "-9007217982674910349",
						"e": "44BC2CF5AD770999", "f": "-6843889581911917747", "g": "4952883123889572249", "l": "4952883123889572249 4952883123889572250",
						"acl": "big", "x": "xbig"}}},
				{req: hxReq{Path: "/", Header: []string{"X-In: abc", "X-N: 9007199254740992"}},
					want: hxWant{Status: 200, Body: "8696274497037089104\n", Header: map[string]string{"acl": "no", "x": ""}}},
				{req: hxReq{Path: "/", Header: []string{"X-In: abd", "X-N: 9007199254740993"}},
					want: hxWant{Status: 200, Header: map[string]string{"acl": "no", "x": "xbig"}}},
			},
		},
		{
			name: "integer arithmetic on 64 bits",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.b) req.hdr(b)
    http-request return status 200` + hdrs.String() + `
`,
			steps: arith,
		},
		{
			// map_*_int read the values as HAProxy reads them: a sign,
			// digits clamped to 64 bits, none at all 0.
			name: "map_str_int values",
			made: map[string]string{"n.map": "/a -7\n/b +7\n/c 99999999999999999999\n/d -99999999999999999999\n/e\n/f -\n/g 007\n/i 9007199254740993\n"},
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 hdr v "%[path,map_str_int(n.map,-1)]" hdr w "%[path,map_beg_int(n.map,-1),add(1)]"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/a"}, want: hxWant{Status: 200, Header: map[string]string{"v": "-7", "w": "-6"}}},
				{req: hxReq{Path: "/b"}, want: hxWant{Status: 200, Header: map[string]string{"v": "7"}}},
				{req: hxReq{Path: "/c"}, want: hxWant{Status: 200, Header: map[string]string{"v": M, "w": M}}},
				{req: hxReq{Path: "/d"}, want: hxWant{Status: 200, Header: map[string]string{"v": m, "w": "-9223372036854775807"}}},
				{req: hxReq{Path: "/e"}, want: hxWant{Status: 200, Header: map[string]string{"v": "0"}}},
				{req: hxReq{Path: "/f"}, want: hxWant{Status: 200, Header: map[string]string{"v": "0"}}},
				{req: hxReq{Path: "/g"}, want: hxWant{Status: 200, Header: map[string]string{"v": "7"}}},
				{req: hxReq{Path: "/i"}, want: hxWant{Status: 200, Header: map[string]string{"v": "9007199254740993", "w": "9007199254740994"}}},
				{req: hxReq{Path: "/z"}, want: hxWant{Status: 200, Header: map[string]string{"v": "-1", "w": "0"}}},
			},
		},
	})
}

// TestHAProxyCfgInt64Log: 64-bit integers in a log-format, from a
// variable (the access log's) and from an expression (a Lua fetch), with
// all their digits, as HAProxy 2.6 logs them.
func TestHAProxyCfgInt64Log(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "int64-log",
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
    log-format "LOG %[var(txn.h)] %[capture.req.uri,xxh3] %[capture.req.uri,xxh64(-1),mul(2)] %[var(txn.n)]"
    http-request set-var(txn.h) path,xxh64
    http-request set-var(txn.n) int(1000000000000001)
    http-request return status 200
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/abc"}},
			{conn: "b", req: hxReq{Path: "/"}},
		},
	}
	want := []string{
		`LOG 1581546775629174716 7624142928803044779 -56979641235444172 1000000000000001`,
		`LOG -1685236373114725654 5134827694651168302 -9223372036854775808 1000000000000001`,
	}
	hcLogsBoth(t, sc, nil, want)
}
