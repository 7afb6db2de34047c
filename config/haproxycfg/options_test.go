package haproxycfg

import (
	"slices"
	"strings"
	"testing"
)

// option originalto compiles into the forwarding action: per backend the
// header (the backend's name first) and the except networks of the
// frontend and of the backend; a backend without it takes the frontend's.
func TestOriginalTo(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults
    mode http

frontend f
    bind :7001
    option originalto except 10.0.0.0/8
    use_backend named if { path_beg /n }
    default_backend plain

backend plain
    server s 127.0.0.1:9000

backend named
    option originalto header X-Dst except ::1
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	for _, want := range []string{
		`["named"] = {"x-dst", {H.net("10.0.0.0/8")}, {H.net("::1")}}`,
		`["plain"] = {"x-original-to", {H.net("10.0.0.0/8")}, false}`,
		`if xot then H.originalto(txn, xot) end`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("want %s in:\n%s", want, rules)
		}
	}
}

// option http-restrict-req-hdr-names delete|reject runs after the
// section's http-request rules, whatever an allow did, and before its
// redirect lines; preserve (the default) adds nothing.
func TestRestrictHdrNames(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults
    mode http

frontend f
    bind :7001
    option http-restrict-req-hdr-names reject
    http-request allow if { path /a }
    http-request set-header x-a b
    redirect location /elsewhere if { path /r }
    default_backend b

backend b
    option http-restrict-req-hdr-names delete
    server s 127.0.0.1:9000

frontend p
    bind :7002
    option http-restrict-req-hdr-names delete
    option http-restrict-req-hdr-names preserve
    default_backend b2

backend b2
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	header := strings.Index(rules, `txn.http:req_set_header("x-a", "b")`)
	reject := strings.Index(rules, "if H.bad_hdr_names(txn, false) then\ntxn:set_termination_state(\"PR\")")
	redirect := strings.Index(rules, `"/elsewhere"`)
	if header < 0 || reject < header || redirect < reject {
		t.Errorf("want set-header, then the reject, then the redirect:\n%s", rules)
	}
	if strings.Contains(rules[reject-200:reject], "skip") {
		t.Errorf("an allow must not skip the check:\n%s", rules[reject-200:reject+100])
	}
	if !strings.Contains(rules, "if H.st(txn).be == \"b\" then\nH.bad_hdr_names(txn, true)\nend") {
		t.Errorf("want the backend's delete behind its gate:\n%s", rules)
	}
	if n := strings.Count(rules, "H.bad_hdr_names(txn,"); n != 2 {
		t.Errorf("want 2 checks (preserve adds none), got %d", n)
	}
}

// In mode tcp both options are warned: HAProxy drops them there.
func TestOptionsInModeTCP(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend t
    bind :7001
    option originalto
    option http-restrict-req-hdr-names reject
    default_backend b

backend b
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(res.Warnings, "\n")
	for _, want := range []string{
		"haproxy.cfg:3: frontend t: 'option originalto' has no effect in mode tcp",
		"haproxy.cfg:4: frontend t: 'option http-restrict-req-hdr-names' has no effect in mode tcp",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("want %q in the warnings:\n%s", want, w)
		}
	}
	if strings.Contains(string(res.Rules), "H.originalto") || strings.Contains(string(res.Rules), "H.bad_hdr_names") {
		t.Errorf("mode tcp compiled them:\n%s", res.Rules)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"frontend f\n  bind :80\n  option originalto if-none\n", "haproxy.cfg:3: option originalto: only 'except NETWORK' and 'header NAME' are taken, got 'if-none'"},
		{"frontend f\n  bind :80\n  no option originalto\n", "haproxy.cfg:3: 'no option originalto': negation is not supported"},
		{"frontend f\n  bind :80\n  option http-restrict-req-hdr-names\n", "haproxy.cfg:3: option http-restrict-req-hdr-names: want preserve, delete or reject"},
		{"frontend f\n  bind :80\n  option http-restrict-req-hdr-names drop\n", "want preserve, delete or reject"},
		{"frontend f\n  bind :80\n  no option http-restrict-req-hdr-names\n", "negation is not supported"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// The global section's set-var lines set proc.* variables, in order, in
// the prelude (before the lua-load scripts); only expressions of
// constants and proc.* variables are taken, as HAProxy evaluates them
// with no request.
func TestGlobalSetVar(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `global
    set-var proc.prio int(100)
    set-var proc.threshold int(200),sub(proc.prio)

frontend f
    mode http
    bind :7001
    http-request return status 204
`))
	if err != nil {
		t.Fatal(err)
	}
	pre := string(res.Prelude)
	prio := strings.Index(pre, `do local v = 100; if v ~= nil then core.set_var("proc.prio", v) end end`)
	thr := strings.Index(pre, `do local v = H.arith(txn.c, 200, "sub", txn:get_var("proc.prio")); if v ~= nil then core.set_var("proc.threshold", v) end end`)
	if prio < 0 || thr < prio {
		t.Errorf("want proc.prio then proc.threshold set in the prelude:\n%s", pre[max(0, len(pre)-600):])
	}
	if d := res.Config.Lua.DeclaredVars; !slices.Contains(d, "proc.prio") || !slices.Contains(d, "proc.threshold") {
		t.Errorf("declared %v, want proc.prio and proc.threshold among them", d)
	}
	if strings.Contains(string(res.Rules), "core.set_var") {
		t.Errorf("the rules set them again:\n%s", res.Rules)
	}
	for _, tc := range []struct{ cfg, want string }{
		{"global\n  set-var txn.x int(1)\n", "haproxy.cfg:2: set-var: cannot set variable 'txn.x', only scope 'proc' is permitted"},
		{"global\n  set-var proc.x\n", "haproxy.cfg:2: set-var: want a proc.* variable name and a sample expression"},
		{"global\n  set-var proc.x src\n", "haproxy.cfg:2: set-var proc.x: fetch 'src' in the global section is not supported by luaedge"},
		{"global\n  set-var proc.x var(txn.y)\n", "haproxy.cfg:2: set-var proc.x: var(txn.y): only proc.* variables exist in the global section"},
		{"global\n  set-var proc.x str(a),lower\n", "haproxy.cfg:2: set-var proc.x: converter 'lower' in the global section is not supported by luaedge"},
		{"global\n  set-var proc.x int(1),add(x)\n", "haproxy.cfg:2: set-var proc.x: 'x': want a number or a variable"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg+"frontend f\n  mode http\n  bind :80\n  http-request return status 204\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
