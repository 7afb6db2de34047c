package haproxycfg

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
)

// use-server and stick rules compile into one action of the backend,
// after the request rules: use-server first, then the stick rules in
// their order; the tables they name store the server.
func TestPersistRules(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    http-request set-header x-a b
    default_backend app

backend app
    stick-table type ip size 1k store conn_cnt
    stick match req.hdr(x-user) table users
    stick on src
    stick store-request req.hdr(x-user) table users if { req.hdr(x-user) -m found }
    use-server b if { path_beg /b }
    use-server a unless { path_beg /b }
    server a 127.0.0.1:8001
    server b 127.0.0.1:8002

backend users
    stick-table type string size 1k
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Config.Backends[0].StickTable.Store; !reflect.DeepEqual(got, []string{"conn_cnt", "server_id", "server_key"}) {
		t.Errorf("app's table stores %v", got)
	}
	if len(res.Config.StickTables) != 1 || !reflect.DeepEqual(res.Config.StickTables[0].Store, []string{"server_id", "server_key"}) {
		t.Errorf("stick tables %+v", res.Config.StickTables)
	}
	rules := string(res.Rules)
	order := []string{
		`txn.http:req_set_header("x-a", "b")`,
		`then txn:use_server("app", "b") end`,
		`then txn:use_server("app", "a") end`,
		`txn:stick_match("app", k, "users")`,
		`txn:stick_match("app", k, "app")`,
		`if txn:stick_store("app", k, "app") then stored["app"] = true end`,
		`if txn:stick_store("app", k, "users") then stored["users"] = true end`,
	}
	at := -1
	for _, s := range order {
		i := strings.Index(rules, s)
		if i < at {
			t.Fatalf("%q missing or out of order in:\n%s", s, rules)
		}
		at = i
	}
	if !strings.Contains(rules, `if not stored["users"] and (`) {
		t.Errorf("a store rule of a table with a pending store is not skipped:\n%s", rules)
	}
}

func TestPersistErrors(t *testing.T) {
	const fe = "frontend f\n  bind :80\n  mode http\n  default_backend b\n"
	for _, tc := range []struct{ cfg, want string }{
		{fe + "backend b\n  use-server z\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: use-server: backend b has no server named 'z'"},
		{fe + "backend b\n  use-server a if\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: use-server: a condition is needed after 'if'"},
		{fe + "backend b\n  use-server a b\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: use-server: want a server name"},
		{fe + "backend b\n  use-server %[req.nope] if TRUE\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: use-server %[req.nope]: "},
		{fe + "backend b\n  stick on src\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: stick on: backend b has no stick-table"},
		{fe + "backend b\n  stick on src table t\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: stick on ... table t: no frontend, backend or listen named t"},
		{"frontend f\n  bind :80\n  mode tcp\n  default_backend b\nbackend b\n  mode tcp\n  stick-table type ip size 1\n  stick store-response src\n  server a 127.0.0.1:1\n", "haproxy.cfg:8: stick store-response in mode tcp is not supported by luaedge"},
		{fe + "backend b\n  stick-table type ip size 1\n  stick on src foo\n  server a 127.0.0.1:1\n", "haproxy.cfg:7: stick on: want a pattern"},
		{fe + "backend b\n  stick-table type ip size 1\n  stick on req.nope\n  server a 127.0.0.1:1\n", "haproxy.cfg:7: stick on: fetch 'req.nope' is not supported"},
		{"frontend f\n  bind :80\n  stick on src\n", "haproxy.cfg:3: 'stick' is not allowed in a frontend section"},
		{fe + "backend b\n  force-persist\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: force-persist: want 'if' or 'unless' and a condition"},
		{fe + "backend b\n  ignore-persist foo\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: ignore-persist: want 'if' or 'unless' and a condition"},
		{"defaults\n  use-server a\n", "haproxy.cfg:2: 'use-server' is not allowed in a defaults section"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Stick rules without conditions, on src, a cookie or a header field, are
// the model's backend stick rules; use-server stays Lua.
func TestPersistModel(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    default_backend app

backend app
    stick-table type string size 1k
    use-server b if { path_beg /b }
    stick on src
    stick match hdr(x-user) table users
    stick store-request cook(sid)
    server a 127.0.0.1:8001
    server b 127.0.0.1:8002

backend users
    stick-table type string size 1k
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.StickRule{{On: "src"}, {Match: "req.hdr(x-user)", Table: "users"}, {StoreRequest: "req.cook(sid)"}}
	if got := res.Config.Backends[0].Stick; !reflect.DeepEqual(got, want) {
		t.Errorf("stick %+v, want %+v", got, want)
	}
	rules := string(res.Rules)
	if !strings.Contains(rules, `txn:use_server("app", "b")`) || strings.Contains(rules, "stick_") {
		t.Errorf("want use-server alone in Lua:\n%s", rules)
	}
}

// stick store-response rules run in the response's phase, before the
// http-response rules, the first of each table whose key is found; they
// take the backend's other stick rules out of the model.
func TestPersistStoreResponse(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    http-response set-header x-a b
    default_backend app

backend app
    stick-table type string size 1k
    stick on req.cook(sid)
    stick store-response res.cook(sid)
    stick store-response res.hdr(x-sid) if { status 200 }
    server a 127.0.0.1:8001
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Config.Backends[0].Stick; len(got) != 0 {
		t.Errorf("stick rules in the model: %+v", got)
	}
	rules := string(res.Rules)
	order := []string{
		`txn:stick_match("app", k, "app")`,
		`{"http-res"}`,
		`H.scook(txn, "sid")`,
		`if txn:stick_store_response("app", k, "app") then stored["app"] = true end`,
		`txn.http:res_set_header("x-a", "b")`,
	}
	at := -1
	for _, s := range order {
		i := strings.Index(rules, s)
		if i < at {
			t.Fatalf("%q missing or out of order in:\n%s", s, rules)
		}
		at = i
	}
}

// option persist is the backend's persist_down; force-persist and
// ignore-persist compile into one action run once the backend is chosen,
// before the backend's http-request rules, the first rule holding.
func TestPersistForceIgnore(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    default_backend app

backend app
    option persist
    http-request set-header x-b c
    force-persist if { req.hdr(x-f) -m found }
    ignore-persist unless { path_beg /k }
    use-server a if { path_beg /a }
    server a 127.0.0.1:8001
`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Config.Backends[0].PersistDown {
		t.Error("option persist: persist_down is not set")
	}
	rules := string(res.Rules)
	order := []string{`txn:set_persist("force")`, `else`, `txn:set_persist("ignore")`, `txn.http:req_set_header("x-b", "c")`, `txn:use_server("app", "a")`}
	at := -1
	for _, s := range order {
		i := strings.Index(rules[at+1:], s)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", s, rules)
		}
		at += i + 1
	}
}

// cookie maxidle and maxlife (seconds without a unit) and dynamic with
// dynamic-cookie-key are the model's cookie max_idle, max_life and
// dynamic_key.
func TestCookieDatesDynamic(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    default_backend app

backend app
    dynamic-cookie-key k3y
    cookie SRV insert maxidle 30 maxlife 2h dynamic
    server a 127.0.0.1:8001

backend other
    cookie SRV insert dynamic
    server a 127.0.0.1:8001
`))
	if err != nil {
		t.Fatal(err)
	}
	ck := res.Config.Backends[0].Cookie
	if ck.MaxIdle.D() != 30*time.Second || ck.MaxLife.D() != 2*time.Hour || ck.DynamicKey != "k3y" {
		t.Errorf("cookie %+v", ck)
	}
	if k := res.Config.Backends[1].Cookie.DynamicKey; k != "" || !strings.Contains(strings.Join(res.Warnings, "\n"), "without dynamic-cookie-key") {
		t.Errorf("dynamic without a key: %q, warnings %v", k, res.Warnings)
	}
}
