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

// A request option http-restrict-req-hdr-names rejects is logged as a
// deny rule's: 403, PR, no server; on both servers.
func TestHAProxyCfgRestrictHdrNamesLog(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	hcHeadersBackend(t, backends)
	sc := hcScenario{
		name: "http-restrict-req-hdr-names log",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    log stdout format raw local0
    option dontlognull
    log-format "LOG %ST %tsc %b/%s %{+Q}r"
    option http-restrict-req-hdr-names reject
    default_backend app

backend app
    server s1 @HDRS@
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/bad", Header: []string{"X_A: 1"}}},
			{conn: "b", req: hxReq{Path: "/good"}},
		},
	}
	want := []string{`LOG 403 PR-- www/<NOSRV> "GET /bad HTTP/1.1"`, `LOG 200 ---- app/s1 "GET /good HTTP/1.1"`}
	hcLogsBoth(t, sc, backends, want)
}

// The global section's set-var: proc.* variables set at start from
// expressions of constants and earlier variables, which rules and Lua
// read and change; a second client of the same loop sees the change.
func TestHAProxyCfgGlobalSetVar(t *testing.T) {
	needBinary(t)
	script := `
core.register_service("show", "http", function(applet)
	-- proc.none was named by a set-var line that gave it no value: it
	-- exists for ifexist.
	applet:set_var("proc.none", "late", true)
	applet:set_var("proc.never", "no", true)
	local body = tostring(applet:get_var("proc.threshold")) .. " " .. tostring(applet:get_var("proc.current_state")) .. " " ..
		tostring(applet:get_var("proc.none")) .. " " .. tostring(applet:get_var("proc.never")) .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`
	hcRunCompare(t, hcScenario{
		name: "global set-var",
		cfg: `global
    nbthread 1
    set-var proc.current_state str(primary)
    set-var proc.prio int(100)
    set-var proc.threshold int(200),sub(proc.prio)
    set-var proc.label str(x),concat(-,proc.current_state,-end)
    set-var proc.flag bool(1)
    set-var proc.hash str(abc),xxh32,and(255)
    set-var proc.none var(proc.missing)
    lua-load show.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(proc.prio) int(7) if { path /set }
    http-request return status 200 content-type text/plain lf-string "state=%[var(proc.current_state)] prio=%[var(proc.prio)] thr=%[var(proc.threshold)] label=%[var(proc.label)] flag=%[var(proc.flag)] hash=%[var(proc.hash)]\n" if { path /vars } || { path /set }
    http-request deny deny_status 429 if { var(proc.threshold) -m int gt 99 } { path /deny }
    http-request use-service lua.show
`,
		made: map[string]string{"show.lua": script},
		steps: []hxStep{
			{name: "the values", conn: "a", req: hxReq{Path: "/vars"}, want: hxWant{Status: 200, Body: "state=primary prio=100 thr=100 label=x-primary-end flag=1 hash=255\n"}},
			{name: "an ACL reads them", conn: "b", req: hxReq{Path: "/deny"}, want: hxWant{Status: 429, AnyBody: true}},
			{name: "Lua reads them", conn: "b", req: hxReq{Path: "/lua"}, want: hxWant{Status: 200, Body: "100 primary late nil\n"}},
			{name: "a rule changes one", conn: "a", req: hxReq{Path: "/set"}, want: hxWant{Status: 200, Body: "state=primary prio=7 thr=100 label=x-primary-end flag=1 hash=255\n"}},
			{name: "the other client sees it", conn: "b", req: hxReq{Path: "/vars"}, want: hxWant{Status: 200, Body: "state=primary prio=7 thr=100 label=x-primary-end flag=1 hash=255\n"}},
		},
	}, nil)
}

// A reload evaluates the global set-var lines again, as HAProxy's new
// process does: a value a rule changed goes back to the configured one.
func TestHAProxyCfgGlobalSetVarReload(t *testing.T) {
	cfg := func(addr, gen string) string {
		return "global\n    set-var proc.v int(1)\n\nfrontend f\n    mode http\n    bind " + addr + "\n" +
			"    http-request set-var(proc.v) int(5) if { path /set }\n" +
			"    http-request return status 200 content-type text/plain lf-string \"" + gen + " v=%[var(proc.v)]\"\n"
	}
	addr, _, _, reload := hcReloadable(t, cfg, "one")
	if got := hxOnce(t, addr, hxReq{Path: "/set"}); got.Body != "one v=5" {
		t.Fatalf("set by a rule: %v", got)
	}
	if got := reload("two"); got.Body != "two v=1" {
		t.Errorf("after the reload: %q, want \"two v=1\"", got.Body)
	}
}
