// End-to-end test of HAProxy 2.6's sample fetches and converters that
// luaedge's Lua objects have beyond the request's own fields (constants,
// proxies and servers, more of the HTTP message, dates, variables): the
// same haproxy.cfg and script run on luaedge and, when installed, on
// HAProxy, and every line of the answer must be the same.
package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestHAProxyCfgLuaSamples(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name:  "samples",
		files: []string{"samples26.lua", "ips.map"},
		cfg: `global
    nbthread 1
    lua-load samples26.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    stick-table type ip size 100 expire 1m store conn_cnt,gpc(2)
    tcp-request connection track-sc0 src
    option http-buffer-request
    http-request lua.samples
    http-request use-service lua.samples_show

backend be
    server s1 @CLOSED@ maxconn 10
    server s2 @CLOSED@ weight 3

backend solo
    server s @CLOSED@ weight 7
`,
	}
	req := hxReq{Method: "POST", Path: "/p/a?q=1&n=5", Body: "b=2&c=3", Header: []string{
		"Host: hx.test", "X-N: 12abc", "X-N: 7", "X-A: hello", "X-A: w", "X-IP: 10.1.2.3:80", "X-IP6: ::1",
		"Cookie: c=v1", "Authorization: Basic dXNlcjpwYXNz", "X-Tok: Bearer abc", "Content-Type: application/x-www-form-urlencoded",
	}}
	backends := hcBackends(t)
	le, _ := hcStartLuaedge(t, sc, backends)
	got := hxOnce(t, le(""), req)
	if got.Status != 200 {
		t.Fatalf("luaedge: status %d, body %q", got.Status, got.Body)
	}
	lines := hcSampleLines(got.Body)

	// Answers HAProxy 2.6.12 gives (its errors are Lua's, at the call).
	want := map[string]string{
		"always_true":            "number:1",
		"sf_always_false":        "string:0",
		"int":                    "number:42",
		"sf_int":                 "string:7",
		"int_string":             "ERR bad argument #1 to 'int' (integer expected)",
		"str_number":             "ERR bad argument #1 to 'str' (unable to duplicate string arg)",
		"bool_1":                 "number:1",
		"bool_false":             "number:0",
		"bool_bad":               "ERR error in arguments",
		"bin":                    "string:AB",
		"env_unset":              "nil:nil",
		"date_offset":            "number:10",
		"thread":                 "number:0",
		"fe_id":                  "number:1",
		"nbsrv":                  "number:2",
		"nbsrv_none":             "ERR bad argument #1 to 'nbsrv' (Mandatory argument expected)",
		"nbsrv_unknown":          "ERR bad argument #1 to 'nbsrv' (backend doesn't exist)",
		"be_conn_free":           "number:-1",
		"srv_is_up":              "number:1",
		"sf_srv_is_up":           "string:1",
		"srv_is_up_unknown":      "ERR bad argument #1 to 'srv_is_up' (server doesn't exist)",
		"srv_weight":             "number:7",
		"table_unknown":          "ERR bad argument #1 to 'table_cnt' (table doesn't exist)",
		"hdr_val":                "number:7",
		"req_hdr_val_1":          "number:12",
		"hdr_val_text":           "number:0",
		"hdr_ip":                 "string:10.1.2.3",
		"req_hdr_ip6":            "string:::1",
		"req_hdr_names_semi":     "string:host;x-n;x-n;x-a;x-a;x-ip;x-ip6;cookie;authorization;x-tok;content-type;content-length",
		"baseq":                  "string:hx.test/p/a?q=1&n=5",
		"urlp_val":               "number:5",
		"http_auth_user":         "string:user",
		"http_auth_bearer_field": "string:abc",
		"req_body_param":         "string:3",
		"sc0_trackers":           "number:1",
		"utime":                  "string:1970-01-02 00:01",
		"utime_star_t":           "string:*t",
		"http_date":              "string:Thu, 01 Jan 1970 00:00:00 GMT",
		"http_date_us":           "string:Thu, 01 Jan 1970 00:00:01.7 GMT",
		"cpl":                    "number:-6",
		"htonl":                  "string:00000102",
		"host_only":              "string:www.x.com",
		"port_only":              "number:8080",
		"language":               "string:en",
		"language_default":       "string:xx",
		"strcmp":                 "number:1",
		"concat":                 "string:[<abc>",
		"add_item_empty":         "string:abcs",
		"set_var_read":           "string:v",
		"nbsrv_conv_unknown":     "nil:nil",
		"fe_conn":                "number:1",
		"req_hdrs":               "string:host: hx.test|x-n: 12abc|x-n: 7|x-a: hello|x-a: w|x-ip: 10.1.2.3:80|x-ip6: ::1|cookie: c=v1|authorization: Basic dXNlcjpwYXNz|x-tok: Bearer abc|content-type: application/x-www-form-urlencoded|content-length: 7||",
		"res_hdrs":               "nil:nil",
		"fe_conn_unknown":        "ERR bad argument #1 to 'fe_conn' (frontend doesn't exist)",
		// HAProxy 2.6's Lua cannot call map converters: luaedge's answers.
		"map_str_ip":         "string:10.0.0.1",
		"map_str_ip_default": "string:10.9.9.9",
		"map_beg_ip":         "string:2001:db8::1",
	}
	luaedgeOnly := map[string]bool{"map_str_ip": true, "map_str_ip_default": true, "map_beg_ip": true}
	for k, w := range want {
		if g, ok := lines[k]; !ok {
			t.Errorf("luaedge: no %s in the answer", k)
		} else if g != w {
			t.Errorf("luaedge: %s %s, want %s", k, g, w)
		}
	}

	// The hash, then the client's address, 127.0.0.1.
	if b := lines["base32_src"]; !strings.HasPrefix(b, "string:") || len(b) != len("string:")+16 || !strings.HasSuffix(b, "7F000001") {
		t.Errorf("luaedge: base32_src %s, want 8 bytes ending in 127.0.0.1's", b)
	}

	bin, _ := exec.LookPath("haproxy")
	if bin == "" {
		return
	}
	ha, _ := hcStartHAProxy(t, bin, sc, backends)
	hgot := hxOnce(t, ha(""), req)
	hlines := hcSampleLines(hgot.Body)
	if len(hlines) != len(lines) {
		t.Errorf("HAProxy answered %d lines, luaedge %d", len(hlines), len(lines))
	}
	for k, h := range hlines {
		if lines[k] != h && !luaedgeOnly[k] {
			t.Errorf("%s: luaedge %s, HAProxy %s", k, lines[k], h)
		}
	}
}

// hcSampleLines reads "name answer" lines.
func hcSampleLines(body string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = v
	}
	return m
}
