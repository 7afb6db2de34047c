package lj

import (
	"errors"
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
	must(sh.MapAdd("a.map", "/z", "three"))
	must(sh.MapAdd(filepath.Join(dir, "b.map"), "/web", "web"))
	if found, err := sh.MapSet("#"+strconv.Itoa(files[0].ID), "/x", "uno"); !found || err != nil {
		t.Fatalf("MapSet: %v %v", found, err)
	}
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "uno three api web" {
			t.Fatalf("after add and set: %q", got)
		}
	}
	entries, err := sh.MapEntries("a.map")
	if err != nil || len(entries) != 3 || entries[2].Key != "/z" || entries[2].Value != "three" || !strings.HasPrefix(entries[0].Ref, "0x") {
		t.Fatalf("MapEntries = %+v, %v", entries, err)
	}
	// A key added twice: the lookup finds the first; deleting the first
	// by its reference leaves the second.
	must(sh.MapAdd("a.map", "/z", "again"))
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
	must(sh.MapClear("b.map"))
	if got := evalIn(t, two, read); got != "uno again nil nil" {
		t.Fatalf("after clear: %q", got)
	}
	for _, name := range []string{"nope.map", "#99", "#x", "l.acl"} {
		if _, err := sh.MapEntries(name); !errors.Is(err, ErrNoMap) {
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
