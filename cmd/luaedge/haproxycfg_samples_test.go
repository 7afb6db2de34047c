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
	})
}
