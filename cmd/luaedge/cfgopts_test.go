package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

// hcHeadersBackend adds HDRS to backends: a server that answers with the
// request's fields whose names begin with "x", one "name=values" line
// each, sorted, names in lower case.
func hcHeadersBackend(t *testing.T, backends map[string]string) {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		for name, vs := range r.Header {
			if n := strings.ToLower(name); strings.HasPrefix(n, "x") {
				lines = append(lines, n+"="+strings.Join(vs, ","))
			}
		}
		sort.Strings(lines)
		w.Header().Set("content-type", "text/plain")
		fmt.Fprintf(w, "%s\n", strings.Join(lines, " "))
	}))
	t.Cleanup(s.Close)
	backends["HDRS"] = s.Listener.Addr().String()
}

// option originalto: the address the client connected to in
// X-Original-To (or the header named, the backend's first), but for a
// destination in the except network of the frontend or the backend; the
// client's own field stays. Two clients of the same loop take turns.
func TestHAProxyCfgOriginalTo(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	hcHeadersBackend(t, backends)
	hcRunCompare(t, hcScenario{
		name: "option originalto",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    option originalto header X-Fe-Dst
    use_backend named if { path_beg /named }
    use_backend except if { path_beg /except }
    default_backend app

backend app
    server s1 @HDRS@

backend named
    option originalto header X-Dst
    server s1 @HDRS@

backend except
    option originalto except 127.0.0.0/8
    server s1 @HDRS@

frontend plain
    bind 127.0.0.1:@PORTP@
    default_backend bare

backend bare
    option originalto
    server s1 @HDRS@

listen lst
    bind 127.0.0.1:@PORTL@
    option originalto except 127.0.0.1
    server s1 @HDRS@
`,
		steps: []hxStep{
			{name: "the frontend's header", conn: "a", req: hxReq{Path: "/x"}, want: hxWant{Status: 200, Body: "x-fe-dst=127.0.0.1\n"}},
			{name: "the backend's header name first", conn: "b", req: hxReq{Path: "/named"}, want: hxWant{Status: 200, Body: "x-dst=127.0.0.1\n"}},
			{name: "the backend's except", conn: "a", req: hxReq{Path: "/except"}, want: hxWant{Status: 200, Body: "\n"}},
			{name: "the client's own field stays", conn: "b", req: hxReq{Path: "/x", Header: []string{"X-Fe-Dst: 192.0.2.1"}}, want: hxWant{Status: 200, Body: "x-fe-dst=192.0.2.1,127.0.0.1\n"}},
			{name: "the backend's option alone", front: "P", conn: "a", req: hxReq{Path: "/x"}, want: hxWant{Status: 200, Body: "x-original-to=127.0.0.1\n"}},
			{name: "a listen's except", front: "L", conn: "a", req: hxReq{Path: "/x"}, want: hxWant{Status: 200, Body: "\n"}},
		},
	}, backends)
}

// option http-restrict-req-hdr-names: after each proxy's http-request
// rules, a field whose name holds something else than letters, digits
// and '-' is deleted, or the request denied with a 403 (the section's
// errorfile); preserve keeps it. Two clients of the same loop take turns.
func TestHAProxyCfgRestrictHdrNames(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	hcHeadersBackend(t, backends)
	hcRunCompare(t, hcScenario{
		name: "option http-restrict-req-hdr-names",
		cfg: hcHTTPDefaults + `
frontend reject
    bind 127.0.0.1:@PORT@
    option http-restrict-req-hdr-names reject
    http-request return status 200 content-type text/plain string "rules first\n" if { path /ret }
    http-request allow if { path /allow }
    default_backend app

frontend delete
    bind 127.0.0.1:@PORTD@
    option http-restrict-req-hdr-names delete
    http-request set-header x-before %[req.hdr(x_a)]
    default_backend app

frontend plain
    bind 127.0.0.1:@PORTP@
    use_backend rej if { path_beg /rej }
    use_backend del if { path_beg /del }
    default_backend app

backend app
    server s1 @HDRS@

backend rej
    option http-restrict-req-hdr-names reject
    errorfile 403 403.http
    server s1 @HDRS@

backend del
    option http-restrict-req-hdr-names preserve
    option http-restrict-req-hdr-names delete
    server s1 @HDRS@
`,
		made: map[string]string{"403.http": "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nbe!\n"},
		steps: []hxStep{
			{name: "good names pass", conn: "a", req: hxReq{Path: "/x", Header: []string{"X-Good-1: v"}}, want: hxWant{Status: 200, Body: "x-good-1=v\n"}},
			{name: "an underscore is rejected", conn: "b", req: hxReq{Path: "/x", Header: []string{"X_A: 1"}}, want: hxWant{Status: 403, AnyBody: true}},
			{name: "a dot is rejected", conn: "a", req: hxReq{Path: "/x", Header: []string{"X.B: 1"}}, want: hxWant{Status: 403, AnyBody: true}},
			{name: "after the rules: a return answers", conn: "b", req: hxReq{Path: "/ret", Header: []string{"X_A: 1"}}, want: hxWant{Status: 200, Body: "rules first\n"}},
			{name: "allow does not skip it", conn: "a", req: hxReq{Path: "/allow", Header: []string{"X_A: 1"}}, want: hxWant{Status: 403, AnyBody: true}},
			{name: "deleted after the rules saw them", front: "D", conn: "a", req: hxReq{Path: "/x", Header: []string{"X_A: 1", "X.B: 2", "X-Ok: 3", "X~C: 4"}},
				want: hxWant{Status: 200, Body: "x-before=1 x-ok=3\n"}},
			{name: "deleted, a second client", front: "D", conn: "b", req: hxReq{Path: "/x", Header: []string{"X-Ok: 3"}}, want: hxWant{Status: 200, Body: "x-before= x-ok=3\n"}},
			{name: "preserve by default", front: "P", conn: "a", req: hxReq{Path: "/x", Header: []string{"X_A: 1"}}, want: hxWant{Status: 200, Body: "x_a=1\n"}},
			{name: "a backend's reject, its errorfile", front: "P", conn: "b", req: hxReq{Path: "/rej", Header: []string{"X_A: 1"}}, want: hxWant{Status: 403, Body: "be!\n"}},
			{name: "a backend's delete, the last line wins", front: "P", conn: "a", req: hxReq{Path: "/del", Header: []string{"X_A: 1", "X-Ok: 3"}}, want: hxWant{Status: 200, Body: "x-ok=3\n"}},
		},
	}, backends)
}
