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
	})
}
