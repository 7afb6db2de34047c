package haproxycfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tcp-request inspect-delay is the TCP frontend's timeouts.inspect, from a
// named defaults section too; an anonymous one refuses it, as HAProxy
// does, and in mode http it is warned.
func TestInspectDelay(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults d
    mode tcp
    tcp-request inspect-delay 2s

frontend t1 from d
    bind :7001
    default_backend b

frontend t2 from d
    bind :7002
    tcp-request inspect-delay 300ms
    default_backend b

frontend h
    mode http
    bind :7003
    tcp-request inspect-delay 1s
    default_backend hb

backend b from d
    server s 127.0.0.1:9000

backend hb
    mode http
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Duration{2 * time.Second, 300 * time.Millisecond, 0} {
		if got := res.Config.Frontends[i].Timeouts.Inspect.D(); got != want {
			t.Errorf("%s: inspect %v, want %v", res.Config.Frontends[i].Name, got, want)
		}
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "haproxy.cfg:17: 'tcp-request inspect-delay' has no effect in luaedge in mode http") {
		t.Errorf("warnings: %s", w)
	}
	_, err = Load(write(t, "haproxy.cfg", "defaults\n    tcp-request inspect-delay 2s\n"))
	if err == nil || !strings.Contains(err.Error(), "haproxy.cfg:2: tcp-request inspect-delay is not allowed in anonymous 'defaults' sections") {
		t.Errorf("anonymous defaults: %v", err)
	}
}

// A relative path is read from the working directory when the file is
// there, as HAProxy reads it, else from the first file's folder: a
// configuration in a subfolder that names files from the folder it is
// run in loads, and so does one run from elsewhere.
func TestRelativePathsFromTheWorkingDirectory(t *testing.T) {
	root := t.TempDir()
	mk := func(name, data string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("lua_scripts/a.lua", "")
	mk("configs/b.lua", "")
	mk("pages/403.http", "HTTP/1.0 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nno\n")
	mk("configs/x.cfg", `global
    lua-load lua_scripts/a.lua
    lua-load b.lua
defaults
    mode http
frontend f
    bind :8000
    errorfile 403 pages/403.http
    http-request deny
`)
	t.Chdir(root)
	res, err := Load([]string{"configs/x.cfg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Config.Lua.Load; len(got) != 2 || got[0] != filepath.Join(root, "lua_scripts/a.lua") || got[1] != "b.lua" {
		t.Errorf("lua.load: %q", got)
	}
}

// userlist sections: what they refuse, with the line.
func TestUserlistErrors(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{"userlist L\n    user a password $y$j9T$abc\n", "haproxy.cfg:2: user a: luaedge checks the crypt(3) hashes"},
		{"userlist L\n    user a insecure-password x groups G9\n", "haproxy.cfg:1: userlist L: user 'a' is in group 'G9', which the userlist does not declare"},
		{"userlist L\n    user a insecure-password x\n    user a insecure-password y\n", "haproxy.cfg:3: user 'a' is already defined"},
		{"userlist L\nuserlist L\n", "haproxy.cfg:2: userlist 'L' already exists"},
		{"userlist L\n    user a secret x\n", "haproxy.cfg:2: user a: unknown option 'secret'"},
	} {
		_, err := Load(write(t, "haproxy.cfg", c.cfg+"frontend f\n    mode http\n    bind :80\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.cfg, err, c.want)
		}
	}
	_, err := Load(write(t, "haproxy.cfg", "frontend f\n    mode http\n    bind :80\n    http-request auth if !{ http_auth(NOPE) }\n"))
	if err != nil {
		t.Fatal(err) // the missing userlist is a start-up error of the rules
	}
}

// Rules in defaults sections: only named ones, and then for frontends or
// backends alone, never a listen (as HAProxy).
func TestDefaultsRulesErrors(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{"defaults\n    mode http\n    http-request deny\nfrontend f\n    bind :80\n", "haproxy.cfg:3: http-request deny is not allowed in anonymous 'defaults' sections"},
		{"defaults d\n    mode http\n    http-request deny\nlisten l from d\n    bind :80\n", "haproxy.cfg:4: listen l: defaults section 'd' has rules"},
		{"defaults d\n    mode http\n    http-request deny\nfrontend f from d\n    bind :80\n    default_backend b\nbackend b from d\n    server s 127.0.0.1:9000\n", "haproxy.cfg:7: backend b: defaults section 'd' has rules"},
	} {
		_, err := Load(write(t, "haproxy.cfg", c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.cfg, err, c.want)
		}
	}
}

// tcp-response inspect-delay is the backend's timeouts.inspect (a listen
// section's own, a named defaults section's for its backends); a frontend
// refuses it, as HAProxy does.
func TestResponseInspectDelay(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults d
    mode tcp
    tcp-response inspect-delay 2s

frontend f from d
    bind :7001
    default_backend b

backend b from d
    server s 127.0.0.1:9000

listen l
    mode tcp
    bind :7002
    tcp-response inspect-delay 300ms
    tcp-response content lua.x if { res.len ge 6 }
    tcp-response content lua.x unless { res.len ge 6 }
    acl big res.len ge 6
    tcp-response content lua.x if big || { src 10.0.0.1 }
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, b := range res.Config.Backends {
		got[b.Name] = b.Timeouts.Inspect.D()
	}
	if got["b"] != 2*time.Second || got["l"] != 300*time.Millisecond {
		t.Errorf("inspect delays %v", got)
	}
	// An if condition on res.len (or on an ACL reading it) is undecided
	// while it does not hold: the rule yields; an unless one does not wait.
	rules := string(res.Rules)
	if n := strings.Count(rules, "return act.YIELD"); n != 2 {
		t.Errorf("%d undecided rules in:\n%s", n, rules)
	}
	_, err = Load(write(t, "haproxy.cfg", "frontend f\n    mode tcp\n    bind :80\n    tcp-response inspect-delay 1s\n"))
	if err == nil || !strings.Contains(err.Error(), "haproxy.cfg:4: tcp-response inspect-delay is not allowed in a frontend") {
		t.Errorf("frontend: %v", err)
	}
}

// Within tcp-request inspect-delay, the content rules whose conditions
// read the client's bytes are compiled as HAProxy evaluates them before
// the last run: three-valued (cond3), through named ACLs and negations;
// the others, connection rules, backend rules and use_backend stay plain.
func TestRequestInspectConditions(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode tcp
    bind :7001
    tcp-request inspect-delay 5s
    acl tls req_ssl_hello_type 1
    acl ssh req.payload(0,7) -m str SSH-2.0
    tcp-request connection set-dst-port int(1) if { src 10.0.0.1 }
    tcp-request content reject if { req.len lt 10 } !tls
    tcp-request content accept if tls || ssh
    tcp-request content set-var(txn.v) req.ssl_ver if { req.ssl_ver 3.1:3.3 }
    tcp-request content accept if WAIT_END
    tcp-request content accept if { src 10.0.0.2 }
    use_backend a if { req.ssl_sni -i a.example } { req.ssl_alpn h2 }
    default_backend a
backend a
    mode tcp
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	if n := strings.Count(rules, "if c == nil then return act.YIELD end"); n != 4 {
		t.Errorf("%d undecided rules, want 4, in:\n%s", n, rules)
	}
	for _, want := range []string{
		"H.not3(ACL[", "H.t3(txn, H.fresh(txn) and H.M[\"int\"](txn.f:req_len()",
		// req.ssl_ver's patterns are versions: 3.1 is 0x30001.
		"{196609, 196611}",
		// An ACL matches every ALPN name; use_backend reads them as they are.
		"H.any(txn.f:_ssl_alpn_list()",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("no %q in:\n%s", want, rules)
		}
	}
}
