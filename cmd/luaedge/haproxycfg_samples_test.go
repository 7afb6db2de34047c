package main

import "testing"

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
	})
}
