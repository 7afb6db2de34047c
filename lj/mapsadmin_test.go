package lj

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The runtime socket's map commands change what every core's lookups
// find, before they return; a file is named by its path, relative or
// absolute, or by #id; ACL files are not maps.
func TestMapCommands(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.map": "/x one\n/y two\n", "b.map": "/api api\n", "l.acl": "10.0.0.0/8\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := `a = Map.new("a.map", Map._str)
b = Map.new("b.map", Map._beg)
local acl = core.add_acl("l.acl", "192.168.0.0/16")`
	sh := NewShared(dir, 2)
	one := newStateIn(t, sh, open)
	two := newStateIn(t, sh, open)
	read := `return tostring(a:lookup("/x")) .. " " .. tostring(a:lookup("/z")) .. " " .. tostring(b:lookup("/api/v1")) .. " " .. tostring(b:lookup("/web/x"))`
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "one nil api nil" {
			t.Fatalf("before: %q", got)
		}
	}
	files := sh.MapFiles()
	if len(files) != 2 || files[0].Path != filepath.Join(dir, "a.map") || files[0].Entries != 2 || files[1].ID != files[0].ID+1 {
		t.Fatalf("MapFiles = %+v", files)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sh.MapAdd("a.map", FileVersion{}, "/z", "three"))
	must(sh.MapAdd(filepath.Join(dir, "b.map"), FileVersion{}, "/web", "web"))
	if found, err := sh.MapSet("#"+strconv.Itoa(files[0].ID), "/x", "uno"); !found || err != nil {
		t.Fatalf("MapSet: %v %v", found, err)
	}
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "uno three api web" {
			t.Fatalf("after add and set: %q", got)
		}
	}
	entries, err := sh.MapEntries("a.map", FileVersion{})
	if err != nil || len(entries) != 3 || entries[2].Key != "/z" || entries[2].Value != "three" || !strings.HasPrefix(entries[0].Ref, "0x") {
		t.Fatalf("MapEntries = %+v, %v", entries, err)
	}
	// A key added twice: the lookup finds the first; deleting the first
	// by its reference leaves the second.
	must(sh.MapAdd("a.map", FileVersion{}, "/z", "again"))
	if found, _ := sh.MapDel("a.map", "#"+entries[2].Ref); !found {
		t.Fatal("MapDel by reference found nothing")
	}
	if got := evalIn(t, one, `return a:lookup("/z")`); got != "again" {
		t.Fatalf("after deleting the first /z: %q", got)
	}
	if found, _ := sh.MapDel("a.map", "/nope"); found {
		t.Fatal("MapDel of a missing key found it")
	}
	if found, _ := sh.MapSet("a.map", "#0x1", "v"); found {
		t.Fatal("MapSet of a missing reference found it")
	}
	must(sh.MapClear("b.map", FileVersion{}))
	if got := evalIn(t, two, read); got != "uno again nil nil" {
		t.Fatalf("after clear: %q", got)
	}
	for _, name := range []string{"nope.map", "#99", "#x", "l.acl"} {
		if _, err := sh.MapEntries(name, FileVersion{}); !errors.Is(err, ErrNoMap) {
			t.Errorf("MapEntries(%q): %v", name, err)
		}
	}
	// The next generation keeps the file (unchanged on disk), its
	// entries and its id.
	next := sh.Next(dir, 2)
	if f := next.MapFiles(); len(f) != 2 || f[0].ID != files[0].ID || f[0].Entries != 3 {
		t.Fatalf("next generation's files: %+v", f)
	}
}

// Versions: a prepared version fills out of the lookups' sight, and its
// commit replaces what every core's lookups find in one step, dropping
// the older versions and keeping the later ones.
func TestMapVersions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.map"), []byte("/x one\n/y two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := `a = Map.new("a.map", Map._str)
p = Map.new("a.map", Map._beg)`
	sh := NewShared(dir, 2)
	one := newStateIn(t, sh, open)
	two := newStateIn(t, sh, open)
	read := `return tostring(a:lookup("/x")) .. " " .. tostring(a:lookup("/y")) .. " " .. tostring(p:lookup("/x/deep"))`
	expect := func(when, want string) {
		t.Helper()
		for i, st := range []*State{one, two} {
			if got := evalIn(t, st, read); got != want {
				t.Fatalf("%s, state %d: %q, want %q", when, i, got, want)
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	expect("before", "one two one")
	v1, err := sh.MapPrepare("a.map")
	must(err)
	v2, _ := sh.MapPrepare("a.map")
	if v1 != 1 || v2 != 2 {
		t.Fatalf("versions %d %d", v1, v2)
	}
	must(sh.MapAdd("a.map", FileVersion{N: 1, Set: true}, "/x", "uno"))
	must(sh.MapAdd("a.map", FileVersion{N: 2, Set: true}, "/y", "dos"))
	if err := sh.MapAdd("a.map", FileVersion{N: 3, Set: true}, "/z", "z"); !errors.Is(err, ErrFutureVersion) {
		t.Fatalf("add to version 3: %v", err)
	}
	expect("after adds to versions 1 and 2", "one two one")
	// Deleting the current /x by its reference leaves version 1's /x
	// out of the lookups.
	cur, _ := sh.MapEntries("a.map", FileVersion{})
	if found, _ := sh.MapDel("a.map", "#"+cur[0].Ref); !found {
		t.Fatalf("MapDel #%s found nothing", cur[0].Ref)
	}
	expect("after deleting the current /x", "nil two nil")
	if e, _ := sh.MapEntries("a.map", FileVersion{N: 1, Set: true}); len(e) != 1 || e[0].Key != "/x" || e[0].Value != "uno" {
		t.Fatalf("version 1: %+v", e)
	}
	if f := sh.MapFiles(); f[0].Curr != 0 || f[0].Next != 2 || f[0].Entries != 3 {
		t.Fatalf("MapFiles = %+v", f)
	}
	for _, n := range []uint32{0, 3} {
		if err := sh.MapCommit("a.map", n); !errors.Is(err, ErrVersionRange) {
			t.Errorf("commit %d: %v", n, err)
		}
	}
	must(sh.MapCommit("a.map", 1))
	expect("after commit 1", "uno nil uno")
	if e, _ := sh.MapEntries("a.map", FileVersion{N: 2, Set: true}); len(e) != 1 || e[0].Value != "dos" {
		t.Fatalf("version 2 after commit 1: %+v", e)
	}
	if e, _ := sh.MapEntries("a.map", FileVersion{N: 0, Set: true}); len(e) != 0 {
		t.Fatalf("version 0 after commit 1: %+v", e)
	}
	if err := sh.MapCommit("a.map", 1); !errors.Is(err, ErrVersionRange) {
		t.Errorf("commit 1 again: %v", err)
	}
	// A lookup of the current version, then one of another key of a
	// version after it: each finds its own.
	got, err := sh.MapGet("a.map", "/x/deep")
	if err != nil || len(got) != 2 || got[0].Method != "str" || got[0].Found || got[1].Method != "beg" || !got[1].Found || !got[1].Tree || got[1].Entry.Value != "uno" {
		t.Fatalf("MapGet = %+v, %v", got, err)
	}
	// Clearing version 2 leaves the current one; committing it then
	// empties the map.
	must(sh.MapClear("a.map", FileVersion{N: 2, Set: true}))
	expect("after clearing version 2", "uno nil uno")
	must(sh.MapCommit("a.map", 2))
	expect("after commit 2", "nil nil nil")
	if f := sh.MapFiles(); f[0].Curr != 2 || f[0].Next != 2 || f[0].Entries != 0 {
		t.Fatalf("MapFiles = %+v", f)
	}
	// A reload keeps the versions, a pending one too.
	v3, _ := sh.MapPrepare("a.map")
	must(sh.MapAdd("a.map", FileVersion{N: v3, Set: true}, "/x", "tres"))
	next := sh.Next(dir, 2)
	if f := next.MapFiles(); len(f) != 1 || f[0].Curr != 2 || f[0].Next != 3 {
		t.Fatalf("next generation's files: %+v", f)
	}
	must(next.MapCommit("a.map", v3))
	if e, _ := next.MapEntries("a.map", FileVersion{}); len(e) != 1 || e[0].Value != "tres" {
		t.Fatalf("next generation after its commit: %+v", e)
	}
}

// ACL files have versions too; get acl reports the pattern matched.
func TestACLVersions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.acl"), []byte("10.0.0.0/8\n192.0.2.0/255.0.255.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := NewShared(dir, 1)
	if err := sh.DeclareACLFile("l.acl", "ip", ""); err != nil {
		t.Fatal(err)
	}
	match := func(s string) string {
		t.Helper()
		m, err := sh.ACLGet("l.acl", s)
		if err != nil || len(m) != 1 || m[0].Method != "ip" || !m[0].NoValue && m[0].Found {
			t.Fatalf("ACLGet(%s) = %+v, %v", s, m, err)
		}
		return fmt.Sprintf("%v %v %s", m[0].Found, m[0].Tree, m[0].Entry.Key)
	}
	if got := match("10.1.2.3"); got != "true true 10.0.0.0/8" {
		t.Errorf("10.1.2.3: %s", got)
	}
	if got := match("192.1.2.3"); got != "true false 192.0.2.0/255.0.255.0" {
		t.Errorf("192.1.2.3: %s", got)
	}
	v, err := sh.ACLPrepare("#0")
	if err != nil || v != 1 {
		t.Fatalf("ACLPrepare = %d, %v", v, err)
	}
	if err := sh.ACLAdd("l.acl", FileVersion{N: 1, Set: true}, "notanip"); err == nil {
		t.Error("a bad pattern went into a version")
	}
	if err := sh.ACLAdd("l.acl", FileVersion{N: 1, Set: true}, "172.16.0.0/12"); err != nil {
		t.Fatal(err)
	}
	if got := match("172.16.1.1"); got != "false false " {
		t.Errorf("172.16.1.1 before the commit: %s", got)
	}
	if err := sh.ACLCommit("l.acl", 1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := sh.ACLMatch("l.acl", "ip", "172.16.1.1"); !ok {
		t.Error("172.16.1.1 after the commit: no match")
	}
	if got := match("10.1.2.3"); got != "false false " {
		t.Errorf("10.1.2.3 after the commit: %s", got)
	}
}

// A file looked up by converters giving strings and integers has an
// index for each, in the order of first use, and "get map" names the
// type of their values, as HAProxy's.
func TestMapGetValueTypes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "n.map"), []byte("ab 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := NewShared(dir, 1)
	for _, o := range []struct {
		method string
		ints   bool
	}{{"beg", true}, {"beg", false}, {"str", false}, {"beg", true}} {
		if err := sh.LoadMap("n.map", o.method, o.ints); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sh.MapGet("n.map", "ab")
	if err != nil || len(got) != 3 {
		t.Fatalf("MapGet = %+v, %v", got, err)
	}
	for i, want := range []string{"beg sint", "beg str", "str str"} {
		if g := got[i].Method + " " + got[i].ValueType; g != want || !got[i].Found || got[i].Entry.Value != "5" {
			t.Errorf("match %d: %s %+v, want %s", i, g, got[i], want)
		}
	}
}
