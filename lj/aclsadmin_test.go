package lj

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The runtime socket's ACL commands change what core.match_acl finds on
// every core before they return; declared files are listed before any
// match; a file whose patterns the rules compiled refuses changes, from
// the socket and from scripts.
func TestACLCommands(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"block.acl": "10.0.0.1\n192.168.0.0/16\n", "icase.acl": "Foo\n", "m.map": "/x one\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh := NewShared(dir, 2)
	if err := sh.DeclareACLFile(filepath.Join(dir, "block.acl"), "ip", ""); err != nil {
		t.Fatal(err)
	}
	if err := sh.DeclareACLFile(filepath.Join(dir, "icase.acl"), "", "an ACL matches it with -i"); err != nil {
		t.Fatal(err)
	}
	files := sh.ACLFiles()
	if len(files) != 2 || files[0].Path != filepath.Join(dir, "block.acl") || files[0].Entries != 2 || files[1].Entries != 1 {
		t.Fatalf("ACLFiles = %+v", files)
	}
	one := newStateIn(t, sh, "")
	two := newStateIn(t, sh, "")
	read := `return tostring(core.match_acl("block.acl", "10.0.0.1", Map._ip)) .. " " .. tostring(core.match_acl("block.acl", "172.16.0.9", Map._ip))`
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "true false" {
			t.Fatalf("before: %q", got)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sh.ACLAdd("block.acl", FileVersion{}, "172.16.0.0/12"))
	must(sh.ACLAdd("#0", FileVersion{}, "172.16.0.0/12")) // twice, as HAProxy's add acl
	if err := sh.ACLAdd("block.acl", FileVersion{}, "notanip"); err == nil || err.Error() != "'notanip' is not a valid IPv4 or IPv6 address" {
		t.Errorf("an invalid pattern: %v", err)
	}
	entries, err := sh.ACLEntries("block.acl", FileVersion{})
	if err != nil || len(entries) != 4 || entries[3].Key != "172.16.0.0/12" || !strings.HasPrefix(entries[0].Ref, "0x") {
		t.Fatalf("ACLEntries = %+v, %v", entries, err)
	}
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "true true" {
			t.Fatalf("after add: %q", got)
		}
	}
	// By reference, one of the two; by pattern, the other.
	if found, err := sh.ACLDel("block.acl", "#"+entries[3].Ref); !found || err != nil {
		t.Fatalf("ACLDel #ref: %v %v", found, err)
	}
	if got := evalIn(t, one, read); got != "true true" {
		t.Fatalf("after deleting one of two: %q", got)
	}
	if found, _ := sh.ACLDel("block.acl", "10.0.0.1"); !found {
		t.Fatal("ACLDel by pattern found nothing")
	}
	if found, _ := sh.ACLDel("block.acl", "10.0.0.1"); found {
		t.Fatal("ACLDel found a deleted pattern")
	}
	for _, st := range []*State{one, two} {
		if got := evalIn(t, st, read); got != "false true" {
			t.Fatalf("after del: %q", got)
		}
	}
	must(sh.ACLClear("block.acl", FileVersion{}))
	if got := evalIn(t, two, read); got != "false false" {
		t.Fatalf("after clear: %q", got)
	}
	// The fixed file: listed and shown, never changed.
	if e, err := sh.ACLEntries("icase.acl", FileVersion{}); err != nil || len(e) != 1 || e[0].Key != "Foo" {
		t.Errorf("ACLEntries of a fixed file = %+v, %v", e, err)
	}
	for _, err := range []error{sh.ACLAdd("icase.acl", FileVersion{}, "x"), sh.ACLClear("icase.acl", FileVersion{}), func() error { _, err := sh.ACLDel("icase.acl", "Foo"); return err }()} {
		if !errors.Is(err, ErrFixedACL) || !strings.Contains(err.Error(), "with -i") {
			t.Errorf("a change to a fixed file: %v", err)
		}
	}
	if err := evalIn(t, one, `local ok, err = pcall(core.add_acl, "icase.acl", "x") return tostring(err)`); !strings.Contains(err, "cannot change at run time") {
		t.Errorf("core.add_acl on a fixed file: %q", err)
	}
	// Maps are no ACLs, and unknown names are none.
	must(sh.LoadMap("m.map", "str", false))
	for _, name := range []string{"m.map", "nope.acl", "#99"} {
		if _, err := sh.ACLEntries(name, FileVersion{}); !errors.Is(err, ErrNoACL) {
			t.Errorf("ACLEntries(%s): %v", name, err)
		}
	}
	if _, err := sh.MapEntries("block.acl", FileVersion{}); !errors.Is(err, ErrNoMap) {
		t.Errorf("MapEntries of an ACL file: %v", err)
	}
}
