package lj

import (
	"os"
	"path/filepath"
	"testing"
)

// A reload's next generation takes over the proc.* variables and the maps
// whose file is unchanged, with what scripts changed at run time; a map
// whose file changed is read again. While the old generation drains, a
// write by either is seen by both, through the fast paths' copies too.
func TestNextGeneration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kept := write("kept.map", "k file\n")
	write("changed.map", "k file\n")
	open := `kept = Map.new("kept.map", Map._str) changed = Map.new("changed.map", Map._str)`
	read := `return tostring(core.get_var("proc.v")) .. " " .. tostring(kept:lookup("k")) .. " " .. tostring(changed:lookup("k")) .. " " .. core.get_info().Nbthread`

	one := NewShared(dir, 2)
	old := newStateIn(t, one, open)
	evalIn(t, old, `core.set_var("proc.v", "one")
core.set_map("kept.map", "k", "set at run time")
core.set_map("changed.map", "k", "set at run time")
return ""`)
	write("changed.map", "k new file\n")

	two := one.Next(dir, 3)
	next := newStateIn(t, two, open)
	if got, want := evalIn(t, next, read), "one set at run time new file 3"; got != want {
		t.Fatalf("next generation reads %q, want %q", got, want)
	}
	if got, want := evalIn(t, old, read), "one set at run time set at run time 2"; got != want {
		t.Fatalf("old generation reads %q, want %q", got, want)
	}

	// While the old generation drains, each sees the other's writes.
	evalIn(t, old, `core.set_var("proc.v", "drain") core.set_map("kept.map", "k", "by old") return ""`)
	if got, want := evalIn(t, next, read), "drain by old new file 3"; got != want {
		t.Errorf("next generation after the old one's write: %q, want %q", got, want)
	}
	evalIn(t, next, `core.set_var("proc.v", "next") core.set_map("kept.map", "k", "by next") return ""`)
	if got, want := evalIn(t, old, read), "next by next set at run time 2"; got != want {
		t.Errorf("old generation after the next one's write: %q, want %q", got, want)
	}

	// Dropped, the old generation's indexes leave the file it shared.
	ref := two.maps.refs[kept]
	if n := len(ref.exprs); n != 2 {
		t.Fatalf("kept.map has %d indexes before the release, want 2 (one per generation)", n)
	}
	one.Release()
	if n := len(ref.exprs); n != 1 || two.exprByID(int64(ref.exprs[0].id)) != ref.exprs[0] {
		t.Fatalf("kept.map has %d indexes after the release, want the next generation's only", n)
	}
	evalIn(t, next, `core.set_map("kept.map", "k", "after") return ""`)
	if got, want := evalIn(t, next, read), "next after new file 3"; got != want {
		t.Errorf("after the release: %q, want %q", got, want)
	}
}
