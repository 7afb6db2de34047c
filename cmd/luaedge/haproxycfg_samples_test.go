package main

import (
	"strings"
	"testing"
)

// TestHAProxyCfgSamples runs fetches, converters and rules of the kind
// HAProxy's reg-tests exercise (http-rules, converter, sample_fetches) on
// luaedge and HAProxy 2.6 and compares the answers.
func TestHAProxyCfgSamples(t *testing.T) {
	hcRunScenarios(t, []hcScenario{
		{
			// A header a rule set with blanks at its ends is read back
			// without them, whole (fhdr) or split (hdr).
			name: "header fetches trim the values rules set",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-header x-a "sl1: "
    http-request set-header x-b "  v1 ,  v2  "
    http-request return status 200 hdr x-fa "<%[req.fhdr(x-a)]>" hdr x-fb "<%[req.fhdr(x-b)]>" hdr x-hb "<%[req.hdr(x-b,1)]>"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/"}, want: hxWant{Status: 200, Header: map[string]string{"x-fa": "<sl1:>", "x-fb": "<v1 ,  v2>", "x-hb": "<v1>"}}},
			},
		},
		{
			// deny and return take "status" among their options; a
			// content-type without a body, or with an empty file, is
			// dropped (HAProxy warns); deny_status with more options is
			// the reply's status (http-rules default_rules, http_return).
			name: "deny and return replies",
			made: map[string]string{"empty.txt": ""},
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request deny status 404 if { path /a }
    http-request deny status 403 content-type text/plain if { path /b }
    http-request deny deny_status 404 hdr x-a b if { path /c }
    http-request deny hdr x-a b status 401 if { path /d }
    http-request return content-type text/plain if { path /e }
    http-request return content-type text/plain file empty.txt hdr x-url "%[url]" if { path /f }
    http-request deny deny_status 429 if { path /g }
    http-request return status 200
`,
			steps: []hxStep{
				{req: hxReq{Path: "/a"}, want: hxWant{Status: 404, Header: map[string]string{"content-length": "0", "content-type": ""}}},
				{req: hxReq{Path: "/b"}, want: hxWant{Status: 403, Header: map[string]string{"content-length": "0", "content-type": ""}}},
				{req: hxReq{Path: "/c"}, want: hxWant{Status: 404, Header: map[string]string{"x-a": "b", "content-type": ""}}},
				{req: hxReq{Path: "/d"}, want: hxWant{Status: 401, Header: map[string]string{"x-a": "b", "content-type": ""}}},
				{req: hxReq{Path: "/e"}, want: hxWant{Status: 200, Header: map[string]string{"content-length": "0", "content-type": ""}}},
				{req: hxReq{Path: "/f"}, want: hxWant{Status: 200, Header: map[string]string{"x-url": "/f", "content-type": ""}}},
				{req: hxReq{Path: "/g"}, want: hxWant{Status: 429, Header: map[string]string{"content-type": "text/html"}}},
			},
		},
		{
			// del-header NAME -m str|beg|end|sub|reg, on both sides
			// (http-rules del_header).
			name: "del-header with a match method",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request del-header x-str -m str
    http-request del-header X-BEG -m beg
    http-request del-header end1 -m end
    http-request del-header sub -m sub
    http-request del-header ^x.reg.$ -m reg
    http-request return status 200 hdr x-seen "%[req.hdr_cnt(x-str)]%[req.hdr_cnt(x-beg-a)]%[req.hdr_cnt(x-begin)]%[req.hdr_cnt(a-end1)]%[req.hdr_cnt(end1-b)]%[req.hdr_cnt(has-sub-in)]%[req.hdr_cnt(x-reg1)]%[req.hdr_cnt(x-reg12)]%[req.hdr_cnt(x-keep)]"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"X-Str: 1", "X-Beg-A: 1", "x-begin: 2", "A-End1: 1", "End1-B: 1", "Has-Sub-In: 1", "X-Reg1: 1", "X-Reg12: 1", "X-Keep: 1"}},
					want: hxWant{Status: 200, Header: map[string]string{"x-seen": "000010011"}}},
			},
		},
		{
			name: "del-header with a match method on responses",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-response del-header x-back -m beg
    http-response del-header TYPE -m sub
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{req: hxReq{Path: "/"}, want: hxWant{Status: 200, Header: map[string]string{"x-backend": "", "content-type": ""}}},
			},
		},
		{
			// Converters of HAProxy's converter reg-tests: add_item,
			// be2dec, be2hex, digest, hmac (a key or a variable), iif,
			// strcmp and secure_memcmp against a variable, in_table.
			name: "converters",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    stick-table type string size 10 expire 1m
    http-request track-sc0 req.hdr(x-key)
    http-request set-var(txn.in) req.hdr(x-in)
    http-request set-var(txn.var) str(var_content)
    http-request set-var(txn.key) str(my_super_secret_long_key),base64
    http-request set-var(txn.same) req.hdr(x-in)
    http-request set-var(txn.has) req.hdr_cnt(x-in)
    http-request set-var(txn.hasnot) req.hdr_cnt(x-nope)
    http-request set-var(txn.k) req.hdr(x-key)
    http-response set-header a1 "%[var(txn.in),add_item(',',txn.var,_suff_)]"
    http-response set-header a2 "%[var(txn.in),add_item(',',txn.var)]"
    http-response set-header a3 "%[var(txn.in),add_item(',',,_suff_)]"
    http-response set-header a4 "%[var(txn.in),add_item(',',txn.none)]"
    http-response set-header d1 "%[var(txn.in),be2dec(:,1)]"
    http-response set-header d2 "%[var(txn.in),be2dec(-,3)]"
    http-response set-header d3 "%[var(txn.in),be2dec(::,3,1)]"
    http-response set-header h1 "%[var(txn.in),be2hex]"
    http-response set-header h2 "%[var(txn.in),be2hex(:,2)]"
    http-response set-header h3 "%[var(txn.in),be2hex(--,2,1)]"
    http-response set-header g1 "%[var(txn.in),digest(sha1),hex,lower]"
    http-response set-header g2 "%[var(txn.in),digest(sha256),hex]"
    http-response set-header g3 "%[var(txn.in),digest(md5),hex]"
    http-response set-header m1 "%[var(txn.in),hmac(sha1,a2V5),hex,lower]"
    http-response set-header m2 "%[var(txn.in),hmac(sha256,txn.key),hex,lower]"
    http-response set-header i1 "%[var(txn.has),iif(yes,no)]"
    http-response set-header i2 "%[var(txn.hasnot),iif(yes,no)]"
    http-response set-header s1 "%[var(txn.in),strcmp(txn.same)]"
    http-response set-header s2 "%[var(txn.in),strcmp(txn.var)]"
    http-response set-header s3 "%[var(txn.var),strcmp(txn.in)]"
    http-response set-header s4 "%[var(txn.in),secure_memcmp(txn.same)]"
    http-response set-header s5 "%[var(txn.in),secure_memcmp(txn.var)]"
    http-response set-header t1 "%[var(txn.k),in_table(www)]"
    http-response set-header t2 "%[str(other),in_table(www)]"
    http-response set-header n1 "%[int(7),neg]"
    http-response set-header n2 "%[int(7),odd]"
    http-response set-header n3 "%[int(7),even]"
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"X-In: input", "X-Key: k1"}}, want: hxWant{Status: 200, Header: map[string]string{
					"a1": "input,var_content_suff_", "a2": "input,var_content", "a3": "input,_suff_", "a4": "input",
					"d1": "105:110:112:117:116", "d2": "6909552-30068", "d3": "6909552",
					"h1": "696E707574", "h2": "696E:7075:74", "h3": "696E--7075",
					"g3": "A43C1B0AA53A0C908810C06AB1FF3967",
					"g1": "140f86aae51ab9e1cda9b4254fe98a74eb54c1a1", "g2": "C96C6D5BE8D08A12E7B5CDC1B207FA6B2430974C86803D8891675E76FD992C20",
					"m1": "8513bb355076cce2ae5eb9f399ab5cafdba7c8a2", "m2": "0a3e0809cae3efaf5eaeb7fb502f9b778309fb8625a4b0ae3b534863370f525f",
					"s2": "-13", "s3": "13", "i1": "yes", "i2": "no",
					"s1": "0", "s4": "1", "s5": "0", "t1": "1", "t2": "0", "n1": "-7", "n2": "1", "n3": "0"}}},
				{req: hxReq{Path: "/", Header: []string{"X-In: "}}, want: hxWant{Status: 200, Header: map[string]string{"a1": "var_content_suff_", "a3": "_suff_"}}},
			},
		},
		{
			// pathq, set-pathq and replace-pathq, on origin-form and
			// absolute-form targets, whose scheme and authority stay
			// through set-path (http-rules path_and_pathq).
			name: "pathq",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.pathq) pathq
    http-request set-path /fe%[path]
    http-request set-pathq %[path]?app=t&%[query]
    http-request replace-pathq /([^?]*)\?app=([^&]*)&?(.*) /\2/\1?\3
    http-response set-header x-pathq %[var(txn.pathq)]
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{req: hxReq{Path: "/r1?a=1&b=2"}, want: hxWant{Status: 200, Header: map[string]string{"x-pathq": "/r1?a=1&b=2"},
					Body: "backend=app GET /t/fe/r1?a=1&b=2 x-user=\"\" x-shout=\"\" xff=\"\"\n"}},
				{req: hxReq{Path: "http://hx.test/r2?a=1"}, want: hxWant{Status: 200, Header: map[string]string{"x-pathq": "/r2?a=1"},
					Body: "backend=app GET http://hx.test/t/fe/r2?a=1 x-user=\"\" x-shout=\"\" xff=\"\"\n"}},
			},
		},
		{
			// set-uri with an absolute URI makes its authority, without
			// user info, the Host field's value; an origin-form one
			// leaves Host alone (http_update_host). From Lua too.
			name: "set-uri and Host",
			made: map[string]string{"seturi.lua": `core.register_action("abs", {"http-req"}, function(txn) txn.http:req_set_uri("http://lua.example:8/l") end)
`},
			cfg: `global
    nbthread 1
    lua-load seturi.lua
` + strings.TrimPrefix(hcHTTPDefaults, "global\n    nbthread 1\n") + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.h) req.hdr(x-h)
    http-request set-uri http://new.example:81/abs if { path /a }
    http-request set-uri %[str(http://),concat(,txn.h,)]/c if { path /c }
    http-request set-uri /rel?q=1 if { path /r }
    http-request lua.abs if { path /l }
    http-request return status 200 hdr x-host "%[req.hdr(host)]" hdr x-url "%[url]"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/a", Header: []string{"Host: orig"}}, want: hxWant{Status: 200, Header: map[string]string{"x-host": "new.example:81", "x-url": "http://new.example:81/abs"}}},
				{req: hxReq{Path: "/c", Header: []string{"Host: orig", "X-H: user@hh.example"}}, want: hxWant{Status: 200, Header: map[string]string{"x-host": "hh.example"}}},
				{req: hxReq{Path: "/r", Header: []string{"Host: orig"}}, want: hxWant{Status: 200, Header: map[string]string{"x-host": "orig", "x-url": "/rel?q=1"}}},
				{req: hxReq{Path: "/l", Header: []string{"Host: orig"}}, want: hxWant{Status: 200, Header: map[string]string{"x-host": "lua.example:8"}}},
			},
		},
		{
			// redirect takes its options in any order, and ignore-empty
			// skips the rule when the location is empty (http-rules
			// map_redirect).
			name: "redirect options",
			made: map[string]string{"redirect.map": "/old /new\n"},
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request redirect code 301 location %[path,map_str(redirect.map)] ignore-empty
    http-request redirect drop-query code 308 prefix /v2 if { path_beg /v1 }
    http-request return status 200 hdr x-fell-through yes
`,
			steps: []hxStep{
				{req: hxReq{Path: "/old"}, want: hxWant{Status: 301, Header: map[string]string{"location": "/new"}}},
				{req: hxReq{Path: "/other"}, want: hxWant{Status: 200, Header: map[string]string{"x-fell-through": "yes"}}},
				{req: hxReq{Path: "/v1/x?q=1"}, want: hxWant{Status: 308, Header: map[string]string{"location": "/v2/v1/x"}}},
			},
		},
		{
			// The request's cookies counted and read as integers, and
			// header values read as addresses (sample_fetches cook,
			// http-rules converters_ipmask_concat_strcmp_field_word), bin()
			// and an empty str().
			name: "cookie, address and constant fetches",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 hdr count "%[req.cook_cnt()]" hdr count2 "%[req.cook_cnt(c2)]" hdr val "%[req.cook_val()]" hdr val2 "%[req.cook_val(c2)]" hdr first "%[req.cook()]" hdr ip1 "%[req.hdr_ip(a1),ipmask(24,64)]" hdr ip2 "%[req.hdr_ip(a2),ipmask(24,120)]" hdr ip3 "%[req.hdr_ip(a3),ipmask(24)]" hdr ip4 "%[req.hdr_ip(a4),ipmask(24)]" hdr ip5 "%[req.hdr_ip(a5)]" hdr ip6 "%[req.hdr_ip(a6)]" hdr bin "%[bin(414243)]" hdr empty "<%[str()]>"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"Cookie: c1=12abc; c2=7", "Cookie: c2=x9", "A1: 2001:db8::bad:c0f:ffff", "A2: 2001:db8:c001:c01a:ffff:ffff:10:ffff",
					"A3: 192.168.1.255", "A4: 10.1.2.3:8080", "A5: not an address", "A6: 300.1.1.1"}},
					want: hxWant{Status: 200, Header: map[string]string{"count": "3", "count2": "2", "val": "12", "val2": "0", "first": "12abc",
						"ip1": "2001:db8::", "ip2": "2001:db8:c001:c01a:ffff:ffff:10:ff00", "ip3": "192.168.1.0", "ip4": "10.1.2.0", "ip5": "", "ip6": "", "bin": "ABC", "empty": "<>"}}},
			},
		},
		{
			// map_regm: the value of the first regex that matches, with
			// its groups (http-rules map_regm_with_backref).
			name: "map_regm",
			made: map[string]string{"hosts.map": "^(.*)\\.(.*)$ \\1_AND_\\2\n"},
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request replace-value Host '(.*):.*' '\1'
    http-request set-var(txn.host) req.hdr(host)
    http-request return status 200 hdr x-hdr "%[req.hdr(host),map_regm(hosts.map,unknown)]" hdr x-var "%[var(txn.host),map_regm(hosts.map,unknown)]"
`,
			steps: []hxStep{
				{req: hxReq{Path: "/", Header: []string{"Host: example.org:8443"}}, want: hxWant{Status: 200, Header: map[string]string{"x-hdr": "example_AND_org", "x-var": "example_AND_org"}}},
				{req: hxReq{Path: "/", Header: []string{"Host: localhost"}}, want: hxWant{Status: 200, Header: map[string]string{"x-hdr": "unknown"}}},
			},
		},
		{
			// srv_id and srv_name: the server that took the request
			// (sample_fetches srv_name).
			name: "srv_id and srv_name",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-response set-header srv-id "%[srv_id]"
    http-response set-header srv-name "%[srv_name]"
    default_backend app

backend app
    server blue @BLUE@
    server green @GREEN@
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Header: map[string]string{"srv-id": "1", "srv-name": "blue"}}},
				{conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Header: map[string]string{"srv-id": "2", "srv-name": "green"}}},
			},
		},
		{
			// json_query on a header and on the body: strings, integers,
			// doubles, booleans, a key holding a dot (converter json_query).
			name: "json_query",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    option http-buffer-request
    http-request set-var(txn.iss) req.fhdr(x-json),json_query('$.iss')
    http-request set-var(txn.int) req.body,json_query('$.n','int')
    http-request set-var(txn.neg) req.body,json_query('$.neg',"int")
    http-request set-var(txn.dbl) req.body,json_query('$.d')
    http-request set-var(txn.t) req.body,json_query('$.t')
    http-request set-var(txn.f) req.body,json_query('$.f')
    http-request set-var(txn.dot) req.body,json_query('$.my\\.key')
    http-request set-var(txn.obj) req.body,json_query('$.o')
    http-request return status 200 hdr iss "%[var(txn.iss)]" hdr int "%[var(txn.int)]" hdr neg "%[var(txn.neg)]" hdr dbl "%[var(txn.dbl)]" hdr t "%[var(txn.t)]" hdr f "%[var(txn.f)]" hdr dot "%[var(txn.dot)]" hdr obj "<%[var(txn.obj)]>"
`,
			steps: []hxStep{
				{req: hxReq{Method: "POST", Path: "/", Header: []string{`X-Json: {"iss":"kubernetes.io/serviceaccount","n":1}`},
					Body: `{"n":5,"neg":-3,"d":4.5,"t":true,"f":false,"my.key":"myvalue","o":{"a":1}}`},
					want: hxWant{Status: 200, Header: map[string]string{"iss": "kubernetes.io/serviceaccount", "int": "5", "neg": "-3", "dbl": "4.5", "t": "1", "f": "0", "dot": "myvalue", "obj": "<>"}}},
			},
		},
		{
			// req.payload and req.payload_lv in HTTP mode: HAProxy 2.6
			// holds parsed messages there, not a buffer of bytes, so they
			// give no sample, with or without http-buffer-request, whatever
			// the offsets (0 as the length: to the end) and the body.
			// Two clients take turns on their connections.
			name: "req.payload in HTTP mode",
			cfg: hcHTTPDefaults + `
frontend plain
    bind 127.0.0.1:@PORT@
    http-request return status 200 hdr p "<%[req.payload(0,3),hex]>" hdr p0 "<%[req.payload(1,0),hex]>" hdr lv "<%[req.payload_lv(0,1),hex]>" hdr lv2 "<%[req.payload_lv(0,1,+1),hex]>" hdr m "%[req.payload(0,1),length]"

frontend buffered
    bind 127.0.0.1:@PORTB@
    option http-buffer-request
    http-request set-var(txn.p) req.payload(0,3)
    http-request set-var(txn.p0) req.payload(1,0)
    http-request set-var(txn.lv) req.payload_lv(0,1)
    http-request set-header x-found 1 if { req.payload(0,1) -m found }
    http-request set-header x-bin 1 if { req.payload(0,3) -m bin 036162 }
    http-request set-header x-body 1 if { req.body,bytes(0,3) -m bin 036162 }
    http-request return status 200 hdr p "<%[var(txn.p),hex]>" hdr p0 "<%[var(txn.p0),hex]>" hdr lv "<%[var(txn.lv),hex]>" hdr found "<%[req.hdr(x-found)]>" hdr bin "<%[req.hdr(x-bin)]>" hdr body "<%[req.hdr(x-body)]>"
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Method: "POST", Path: "/", Body: "\x03abcdef"},
					want: hxWant{Status: 200, Header: map[string]string{"p": "<>", "p0": "<>", "lv": "<>", "lv2": "<>", "m": ""}}},
				{front: "B", conn: "b", req: hxReq{Method: "POST", Path: "/", Body: "\x03abcdef"},
					want: hxWant{Status: 200, Header: map[string]string{"p": "<>", "p0": "<>", "lv": "<>", "found": "<>", "bin": "<>", "body": "<1>"}}},
				{conn: "a", req: hxReq{Method: "POST", Path: "/", Body: "a"},
					want: hxWant{Status: 200, Header: map[string]string{"p": "<>", "p0": "<>", "lv": "<>", "m": ""}}},
				{front: "B", conn: "b", req: hxReq{Method: "POST", Path: "/", Body: "a"},
					want: hxWant{Status: 200, Header: map[string]string{"p": "<>", "p0": "<>", "lv": "<>", "found": "<>", "body": "<>"}}},
				{front: "B", conn: "b", req: hxReq{Path: "/"},
					want: hxWant{Status: 200, Header: map[string]string{"p": "<>", "found": "<>"}}},
			},
		},
		{
			// A binary sample (req.body, bin, bytes' result) cast to a
			// string for a converter that takes one ends at its first NUL
			// byte; hex, bytes and sha1 take the bytes whole.
			name: "binary samples end at a NUL byte as strings",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    option http-buffer-request
    http-request set-var(txn.l) req.body,length
    http-request set-var(txn.bl) req.body,bytes(1),length
    http-request set-var(txn.hl) req.body,hex,length
    http-request set-var(txn.up) req.body,upper,hex
    http-request set-var(txn.sha) req.body,sha1,length
    http-request return status 200 hdr l "%[var(txn.l)]" hdr bl "%[var(txn.bl)]" hdr hl "%[var(txn.hl)]" hdr up "<%[var(txn.up)]>" hdr sha "%[var(txn.sha)]" hdr c "%[bin(00414243),length] %[bin(41004243),length] %[bin(414243),length] %[bin(00414243),bytes(1),length] %[str(ab),length]"
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Method: "POST", Path: "/", Body: "\x00abcd"},
					want: hxWant{Status: 200, Header: map[string]string{"l": "0", "bl": "4", "hl": "10", "up": "<>", "c": "0 1 3 3 2"}}},
				{conn: "b", req: hxReq{Method: "POST", Path: "/", Body: "a\x00bc"},
					want: hxWant{Status: 200, Header: map[string]string{"l": "1", "bl": "0", "hl": "8", "up": "<41>", "c": "0 1 3 3 2"}}},
				{conn: "a", req: hxReq{Method: "POST", Path: "/", Body: "abc"},
					want: hxWant{Status: 200, Header: map[string]string{"l": "3", "bl": "2", "hl": "6", "up": "<414243>"}}},
			},
		},
		{
			// capture.req.method, uri and ver read the request line as it
			// arrived, after set-method and set-path, and in an ACL; %HPO
			// is its path without the query (and without an absolute
			// URI's scheme and authority). Two clients on the loop, each
			// with its own line.
			name: "request line captures and %HPO",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-method PUT if { path_beg /rw }
    http-request set-path /new if { path_beg /rw }
    http-request return status 200 hdr m "<%[capture.req.method]>" hdr u "<%[capture.req.uri]>" hdr v "<%[capture.req.ver]>" hdr hpo "<%HPO>" hdr qhpo %{+Q}HPO hdr now "%[path]" hdr acl "%[str(get11)]" if { capture.req.method GET } { capture.req.ver HTTP/1.1 } { capture.req.uri -m beg /rw/ }
    http-request return status 200 hdr m "<%[capture.req.method]>" hdr u "<%[capture.req.uri]>" hdr v "<%[capture.req.ver]>" hdr hpo "<%HPO>" hdr now "%[path]"
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/rw/x%20y?q=1&r"},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<GET>", "u": "</rw/x%20y?q=1&r>", "v": "<HTTP/1.1>", "hpo": "</rw/x%20y>", "qhpo": `"/rw/x%20y"`, "now": "/new", "acl": "get11"}}},
				{conn: "b", req: hxReq{Method: "POST", Path: "http://ex.test/p/q?z", Header: []string{"Host: ex.test"}},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<POST>", "u": "</p/q?z>", "v": "<HTTP/1.1>", "hpo": "</p/q>", "now": "/p/q", "acl": ""}}},
				{conn: "a", req: hxReq{Path: "/plain"},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<GET>", "u": "</plain>", "hpo": "</plain>", "now": "/plain", "acl": ""}}},
				{conn: "b", req: hxReq{Path: "http://ex.test", Header: []string{"Host: ex.test"}},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<GET>", "u": "<>", "hpo": "<>", "acl": ""}}},
			},
		},
		{
			// The request line's captures in the response phase, after
			// the request was rewritten on its way to the server.
			name: "request line captures in the response",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-path /elsewhere
    http-response set-header m "<%[capture.req.method]>"
    http-response set-header u "<%[capture.req.uri]>"
    http-response set-header v "<%[capture.req.ver]>"
    http-response set-header hpo "<%HPO>"
    http-response set-header acl yes if { capture.req.uri -m end ?k=v }
    default_backend app

backend app
    server app1 @APP@
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/orig?k=v"},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<GET>", "u": "</orig?k=v>", "v": "<HTTP/1.1>", "hpo": "</orig>", "acl": "yes"}}},
				{conn: "b", req: hxReq{Method: "HEAD", Path: "/other"},
					want: hxWant{Status: 200, Header: map[string]string{"m": "<HEAD>", "u": "</other>", "hpo": "</other>", "acl": ""}}},
			},
		},
		{
			// xxh32([seed]): an unsigned 32-bit integer (8 bytes in hex, as
			// any integer), the seed taken modulo 2^32; an ACL matches it
			// as an integer.
			name: "xxh32",
			cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.h) req.hdr(x-in),xxh32
    http-request return status 200 hdr h "%[var(txn.h)]" hdr s "%[req.hdr(x-in),xxh32(1)]" hdr n "%[req.hdr(x-in),xxh32(-1)]" hdr w "%[req.hdr(x-in),xxh32(4294967297)]" hdr x "%[req.hdr(x-in),xxh32,hex]" hdr m "%[req.hdr(x-in),xxh32,mod(1000)]" hdr e "%[str(),xxh32]" hdr acl "%[str(yes)]" if { req.hdr(x-in),xxh32 852579327 }
    http-request return status 200 hdr h "%[var(txn.h)]" hdr s "%[req.hdr(x-in),xxh32(7)]" hdr acl "%[str(no)]"
`,
			steps: []hxStep{
				{conn: "a", req: hxReq{Path: "/", Header: []string{"X-In: abc"}},
					want: hxWant{Status: 200, Header: map[string]string{"h": "852579327", "s": "2856167679", "n": "2989167648", "w": "2856167679", "x": "0000000032D153FF", "m": "327", "e": "46947589", "acl": "yes"}}},
				{conn: "b", req: hxReq{Path: "/", Header: []string{"X-In: 0123456789abcdefghijklmnopqrstuvwxyz"}},
					want: hxWant{Status: 200, Header: map[string]string{"s": "1928890642", "acl": "no"}}},
				{conn: "a", req: hxReq{Path: "/", Header: []string{"X-In: Nobody inspects the spammish repetition"}},
					want: hxWant{Status: 200, Header: map[string]string{"h": "3794352943", "acl": "no"}}},
			},
		},
	})
}
