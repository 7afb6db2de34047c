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
