package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The runtime API's set table and the table_* converters, on HAProxy 2.6
// and on luaedge: entries set on the socket are read by the converters
// (without being tracked) in a deny rule and a return's body, on the same
// loop for two clients, and shown by show table.
func TestHAProxyCfgSetTableAndConverters(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "set-table", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    stick-table type ip size 100 expire 1m store gpc0,gpt0,http_req_cnt,http_req_rate(10s),conn_cnt,server_id
    http-request deny deny_status 429 if { src,table_gpt0(f) gt 0 }
    http-request return status 200 content-type text/plain lf-string "gpc0=%[src,table_gpc0(f)] cnt=%[src,table_http_req_cnt(f)] rate=%[src,table_http_req_rate(f)] conn=%[src,table_conn_cnt(f)] sid=%[src,table_server_id(f)] tr=%[src,table_trackers(f)] cur=%[src,table_conn_cur(f)] gpc=%[req.hdr(x-k),table_gpc(1,arr)] gpt=%[req.hdr(x-k),table_gpt(0,arr)] bad=%[req.hdr(x-k),table_gpc0(f)] kb=%[req.hdr(x-k),table_kbytes_in(arr)] exp=%[src,table_expire(f,-100000),div(100000)] idle=%[src,table_idle(f,-100000),div(100000)]"

backend arr
    stick-table type string size 10 store gpc(2),gpt(2),bytes_in_cnt
`}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		get := func(c *http.Client, hdr ...string) {
			seen = append(seen, stickGet(t, c, fe, "/", hdr...))
		}
		one, two := c1, c2
		get(one, "x-k: abc") // nothing in the tables: 0, no sample for what the type cannot hold
		seen = append(seen,
			ask("set table f key 127.0.0.1 data.gpc0 5 data.http_req_cnt 3 data.http_req_rate 4 data.conn_cnt -1 data.server_id 2"),
			ask("set table arr key abc data.gpc 7 data.gpt 9 data.bytes_in_cnt 5000"),
			ask("set table f key 127.0.0.2 data.gpt0 1"))
		// Two clients on the one loop: the second is denied, the first
		// reads its entry, and neither request touches the entries.
		for i := 0; i < 2; i++ {
			get(two)
			get(one, "x-k: abc")
		}
		seen = append(seen, tableEntries(ask, "f")...)
		seen = append(seen, tableEntries(ask, "arr")...)
		// Errors, and a set that writes what precedes its error.
		for _, line := range []string{
			"set table nope key 1", "set table f foo 1", "set table f key",
			"set table f key 127.0.0.3 data.nope 1", "set table f key 127.0.0.3 data.conn_cur 1",
			"set table f key 127.0.0.3 data.gpc0 7 data.gpt0", "set table f key 127.0.0.3 data.gpc0 x",
			"set table f key 127.0.0.4 data.gpc0 1 junk", "set table f data.gpc0 eq 1",
			"set table f key 127.0.0.5 data.gpt0 2", "set table f key 127.0.0.5 data.gpt0 0",
		} {
			seen = append(seen, line+" -> "+ask(line))
		}
		seen = append(seen, tableEntries(ask, "f")...)
		seen = append(seen, strings.Join(tableEntries(ask, "f data.gpc0 gt 1"), "|"))
		// Unset again: the second client is let in.
		seen = append(seen, ask("set table f key 127.0.0.2 data.gpt0 0"))
		get(two)
		return seen
	})
	// HAProxy 2.6 empties the table on "set table f" (its handler takes it
	// for a clear); luaedge answers the usage instead.
	s := startServer(t, "workers: 1\nruntime_socket: le.sock\nfrontends:\n  - name: f\n    bind: [\"127.0.0.1:@PORT@\"]\n    use_service: lua.x\n    stick_table: {type: ip, size: 10, store: [gpc0]}\nlua:\n  load: [x.lua]\n",
		map[string]string{"x.lua": `core.register_service("x", "http", function(a) a:start_response() end)`})
	s.expectRT(t, "set table f key 10.0.0.1", "")
	s.expectRT(t, "set table f", "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n")
	if !strings.Contains(s.rt(t, "show table f"), "key=10.0.0.1 ") {
		t.Error("set table without a key emptied the table")
	}
}

// aclEntries is "show acl NAME" without the entries' references, and
// the reference of pattern.
func aclEntries(ask func(string) string, name, pattern string) (patterns, ref string) {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(ask("show acl "+name)), "\n") {
		r, p, ok := strings.Cut(l, " ")
		if !ok {
			out = append(out, l)
			continue
		}
		if p == pattern {
			ref = r
		}
		out = append(out, p)
	}
	return strings.Join(out, ","), ref
}

// The runtime API's ACL commands on HAProxy 2.6 and on luaedge: the
// patterns of the -f files of a haproxy.cfg's ACLs change under the rules
// of a deny, for two clients on the same loop; show acl, the errors.
func TestHAProxyCfgRuntimeACL(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "runtime-acl", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    acl blocked src -f block.acl
    acl priv path_beg -f paths.acl
    acl loud hdr(x-name) -i -f names.acl
    http-request deny deny_status 403 if blocked
    http-request deny deny_status 404 if priv
    http-request deny deny_status 429 if loud
    http-request return status 200 content-type text/plain string ok
`, made: map[string]string{"block.acl": "10.9.9.9\n", "paths.acl": "# private\n/admin\n", "names.acl": "Bob\n"}}
	check := func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		get := func(c *http.Client, path string, hdr ...string) {
			seen = append(seen, path+" "+stickGet(t, c, fe, path, hdr...))
		}
		step := func(line string) { seen = append(seen, line+" -> "+ask(line)) }
		get(c1, "/")
		get(c2, "/")
		get(c1, "/admin/x")
		get(c1, "/", "x-name: bob")
		step("add acl block.acl 127.0.0.2")
		get(c2, "/")
		get(c1, "/")
		pats, ref := aclEntries(ask, "block.acl", "127.0.0.2")
		seen = append(seen, pats)
		step("add acl block.acl notanip")
		step("add acl paths.acl /private")
		get(c1, "/private/1")
		step("del acl paths.acl /admin")
		get(c1, "/admin/x")
		step("del acl paths.acl /admin")
		seen = append(seen, "del acl block.acl #ref -> "+ask("del acl block.acl #"+ref))
		get(c2, "/")
		get(c1, "/")
		step("add acl block.acl 127.0.0.0/8")
		get(c1, "/")
		get(c2, "/")
		step("clear acl block.acl")
		get(c2, "/")
		pats, _ = aclEntries(ask, "block.acl", "")
		seen = append(seen, "block.acl: "+pats)
		pats, _ = aclEntries(ask, "paths.acl", "")
		seen = append(seen, "paths.acl: "+pats)
		for _, line := range []string{
			"show acl nope.acl", "add acl nope.acl x", "del acl nope.acl x", "clear acl nope.acl",
			"add acl block.acl", "del acl block.acl", "clear acl",
		} {
			step(line)
		}
		return seen
	}
	stickBoth(t, sc, nil, check)

	// luaedge lists the files from the start, and refuses to change the
	// one whose ACL matches with -i (compiled into the rules) where
	// HAProxy changes it.
	backends := map[string]string{"SOCK": filepath.Join(t.TempDir(), "le.sock")}
	hcStartLuaedge(t, sc, backends)
	ask := func(line string) string { return askSocket(t, backends["SOCK"], line) }
	list := ask("show acl")
	for _, want := range []string{"# id (file) description\n", "/block.acl' used by acl. curr_ver=0 next_ver=0 entry_cnt=1\n",
		"/paths.acl' used by acl. curr_ver=0 next_ver=0 entry_cnt=1\n", "/names.acl' used by acl. curr_ver=0 next_ver=0 entry_cnt=1\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("show acl lacks %q:\n%s", want, list)
		}
	}
	if got := ask("show acl names.acl"); !strings.HasSuffix(got, " Bob\n\n") {
		t.Errorf("show acl names.acl: %q", got)
	}
	if got := ask("add acl names.acl Alice"); !strings.Contains(got, "cannot change at run time in luaedge") || !strings.Contains(got, "-i") {
		t.Errorf("add acl on a compiled file: %q", got)
	}
}
