package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// patLines is "show map|acl ARGS" without the entries' references.
func patLines(ask func(string) string, cmd string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(ask(cmd)), "\n") {
		if ref, rest, ok := strings.Cut(l, " "); ok && strings.HasPrefix(ref, "0x") {
			l = rest
		}
		out = append(out, l)
	}
	return strings.Join(out, ",")
}

// versionsRE reads a file's versions out of "show map" or "show acl"
// (the rest of the line differs: HAProxy says where the file is used and
// counts its entries once per match method).
var versionsRE = regexp.MustCompile(`curr_ver=\d+ next_ver=\d+`)

func versionsOf(ask func(string) string, cmd, file string) string {
	for _, l := range strings.Split(ask(cmd), "\n") {
		if strings.Contains(l, file+")") { // HAProxy names it as the configuration does, luaedge by its absolute path
			return file + " " + versionsRE.FindString(l)
		}
	}
	return file + " not listed"
}

// The runtime API's versions of map and ACL files, get map, get acl and
// add map's payload, on HAProxy 2.6 and on luaedge: a new version of a
// map filled out of sight replaces the one a redirect and a return read
// at its commit, for two clients on two threads; the same for the ACL
// file of a deny; the answers and errors of the commands.
func TestHAProxyCfgRuntimeMapVersions(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "runtime-map-versions", cfg: strings.Replace(stickGlobal, "nbthread 1", "nbthread 2", 1) + `
frontend f
    bind 127.0.0.1:@PORT@
    acl blocked src -f block.acl
    acl loud hdr(x-name) -i -f names.acl
    http-request deny deny_status 403 if blocked
    http-request deny deny_status 429 if loud
    http-request redirect location %[path,map(redir.map,/nowhere)] code 302 if { path_beg /go/ }
    http-request return status 200 content-type text/plain lf-string "at=%[path] v=%[path,map(redir.map,none)] b=%[path,map_beg(redir.map,none)]"
`, made: map[string]string{"redir.map": "/go/a /one\n/go/b /two\n/p pre\n", "block.acl": "10.9.9.9\n", "names.acl": "Bob\n"}}
	check := func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		get := func(c *http.Client, path string) { seen = append(seen, path+" "+stickGet(t, c, fe, path)) }
		step := func(line string) { seen = append(seen, line+" -> "+ask(line)) }
		show := func(cmd string) { seen = append(seen, cmd+": "+patLines(ask, cmd)) }
		// The file is known before any request looks in it.
		step("get map redir.map /go/a")
		seen = append(seen, versionsOf(ask, "show map", "redir.map"))
		get(c1, "/go/a")
		get(c2, "/p/x")
		for _, line := range []string{
			"get map redir.map /p/deep", "get map redir.map /zz",
			"get acl block.acl 10.9.9.9", "get acl block.acl 127.0.0.2",
			"prepare map redir.map", "add map @1 redir.map /go/a /uno",
			"add map @1 redir.map <<\n/go/c /tres\n/p   pre two\n",
		} {
			step(line)
		}
		show("show map @1 redir.map")
		show("show map redir.map")
		seen = append(seen, versionsOf(ask, "show map", "redir.map"))
		// Before the commit, both clients read the current version.
		get(c1, "/go/a")
		get(c2, "/go/c")
		step("get map redir.map /go/a")
		step("commit map @1 redir.map")
		get(c1, "/go/a")
		get(c2, "/go/b")
		get(c2, "/go/c")
		get(c1, "/p/x")
		seen = append(seen, versionsOf(ask, "show map", "redir.map"))
		show("show map redir.map")
		show("show map @0 redir.map")
		// Versions after the one committed stay for their own commit.
		for _, line := range []string{
			"prepare map redir.map", "prepare map redir.map",
			"add map @3 redir.map /go/a /three", "add map @2 redir.map /go/a /two-two",
			"add map @4 redir.map /go/a /four", "commit map @2 redir.map",
		} {
			step(line)
		}
		get(c2, "/go/a")
		show("show map @3 redir.map")
		step("commit map @3 redir.map")
		get(c1, "/go/a")
		// A version cleared before its commit empties the map.
		for _, line := range []string{"prepare map redir.map", "add map @4 redir.map /go/a /four", "clear map @4 redir.map", "commit map @4 redir.map"} {
			step(line)
		}
		show("show map redir.map")
		get(c1, "/go/a")
		// Entries added without a version go to the current one.
		step("add map redir.map <<\n/go/a /again\n/go/b\n")
		get(c2, "/go/a")
		// The ACL file of the deny.
		for _, line := range []string{
			"prepare acl block.acl", "add acl @1 block.acl 127.0.0.2", "add acl @1 block.acl notanip",
			"add acl @2 block.acl 127.0.0.3", "add acl block.acl <<\n127.0.0.1\n",
		} {
			step(line)
		}
		get(c2, "/p")
		step("commit acl @1 block.acl")
		get(c2, "/p")
		get(c1, "/p")
		show("show acl block.acl")
		seen = append(seen, versionsOf(ask, "show acl", "block.acl"))
		for _, line := range []string{
			"get acl block.acl 127.0.0.2", "get acl block.acl 10.9.9.9",
			"commit acl @1 block.acl", "commit acl block.acl", "commit acl @1", "commit acl @1 nope.acl",
			"commit map @9 redir.map", "commit map @0 redir.map", "commit map redir.map", "commit map @1",
			"commit map @1 nope.map", "add map @9 redir.map k v", "add map @1 redir.map k", "add map @1",
			"prepare map nope.map", "prepare map", "prepare acl nope.acl", "prepare acl redir.map",
			"show map @1", "clear map @1", "show acl @1", "clear acl @1", "get map redir.map",
			"get map", "get map nope.map x", "get acl block.acl", "get acl nope.acl x",
			"add map redir.map <<\n/k v\n/bad\n/odd v\n/last\n", "add map nope.map <<\n/k v\n",
		} {
			step(line)
		}
		show("show map redir.map")
		return seen
	}
	stickBoth(t, sc, nil, check)

	// The file of an ACL that matches with -i is compiled into the rules
	// in luaedge: its versions are refused as its changes are.
	backends := map[string]string{"SOCK": filepath.Join(t.TempDir(), "le.sock")}
	hcStartLuaedge(t, sc, backends)
	for _, line := range []string{"prepare acl names.acl", "add acl @1 names.acl Alice", "commit acl @1 names.acl", "clear acl @0 names.acl", "get acl names.acl bob"} {
		if got := askSocket(t, backends["SOCK"], line); !strings.Contains(got, "cannot change at run time in luaedge") || !strings.Contains(got, "-i") {
			t.Errorf("%s: %q", line, got)
		}
	}
	if got := askSocket(t, backends["SOCK"], "show acl @0 names.acl"); !strings.HasSuffix(got, " Bob\n\n") {
		t.Errorf("show acl @0 names.acl: %q", got)
	}
}
