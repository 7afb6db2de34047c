package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two generations (or two servers in one process) have their own proc.*
// variables and maps: what a script changes in the states of one is not
// seen by the states of the other, even through the fast paths' copies.
func TestSharedIsolation(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.map")
	if err := os.WriteFile(m, []byte("k file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := `m = Map.new(` + luaString(m) + `, Map._str)`
	one, two := NewShared("", 2), NewShared("", 3)
	a, b := newStateIn(t, one, open), newStateIn(t, two, open)
	a2 := newStateIn(t, one, open) // another loop of generation one

	read := `return tostring(core.get_var("proc.v")) .. " " .. tostring(m:lookup("k")) .. " " .. core.get_info().Nbthread`
	for _, st := range []*State{a, b, a2} {
		evalIn(t, st, read) // the states keep copies of what they read
	}
	evalIn(t, a, `core.set_var("proc.v", "one")
core.set_map(`+luaString(m)+`, "k", "set in one")
return ""`)
	for name, tc := range map[string]struct {
		st   *State
		want string
	}{
		"generation one, the state that wrote": {a, "one set in one 2"},
		"generation one, another state":        {a2, "one set in one 2"},
		"generation two":                       {b, "nil file 3"},
	} {
		if got := evalIn(t, tc.st, read); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	if v, ok := two.MapLookup(m, "str", "k"); !ok || v != "file" {
		t.Errorf("Go side of generation two: %q %v", v, ok)
	}
	if v, ok := one.MapLookup(m, "str", "k"); !ok || v != "set in one" {
		t.Errorf("Go side of generation one: %q %v", v, ok)
	}
}

// testHost is a host value, as the edge's per-loop state is one.
type testHost struct{ name string }

func (h *testHost) Name() string { return h.name }

// A gate function registered outside lj finds the host value of the state
// that called it.
func TestHost(t *testing.T) {
	s, err := NewState(Options{Host: &testHost{"loop 7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := evalIn(t, s, `local I = ... return I.gocall(I.go.test_host)`); got != "loop 7" {
		t.Errorf("host seen by the gate: %q", got)
	}
	alone := newTestState(t, "", 0)
	if got := evalIn(t, alone, `local I = ... return tostring(I.gocall(I.go.test_host))`); got != "nil" {
		t.Errorf("a state without a host: %q", got)
	}
}

// proc.* variables hold at most MaxProcVarBytes together; a set past it is
// a Lua error naming the limit and changes nothing.
func TestProcVarLimit(t *testing.T) {
	sh := NewShared("", 1)
	big := strings.Repeat("b", MaxProcVarBytes-100)
	if !sh.procs.set("proc.big", big) {
		t.Fatal("a value under the limit was refused")
	}
	s := newStateIn(t, sh, "")
	evalIn(t, s, luaPrelude+`
local e = raises("lj.MaxProcVarBytes", core.set_var, "proc.x", string.rep("a", 200))
assert(e:find("proc.x: proc.* variables would hold more than 64 MiB", 1, true), e)
eq(core.get_var("proc.x"), nil, "refused set")
core.set_var("proc.x", 1) -- 14 bytes fit
core.set_var("proc.big", "small") -- a replaced value counts no more
core.set_var("proc.x", string.rep("a", 200))
eq(#core.get_var("proc.x"), 200, "room made by the replacement")
return ""`)
}

// A map takes runtime adds up to MaxMapEntries entries; past it the add is
// a Lua error naming the limit, while changing an existing key still works.
func TestMapEntryLimit(t *testing.T) {
	sh := NewShared("", 1)
	p := writeFile(t, "full.map", "k v\n")
	r, err := sh.updateRef(p, false)
	if err != nil {
		t.Fatal(err)
	}
	filler := &mapEntry{key: "filler"}
	r.mu.Lock()
	for len(r.entries) < MaxMapEntries {
		r.entries = append(r.entries, filler)
	}
	r.mu.Unlock()
	s := newStateIn(t, sh, "")
	evalIn(t, s, luaPrelude+`
local P = `+luaString(p)+`
raises("lj.MaxMapEntries", core.set_map, P, "new", "x")
core.set_map(P, "k", "changed")
eq(Map.new(P, Map._str):lookup("k"), "changed", "existing key")
core.del_map(P, "filler")
core.set_map(P, "new", "x")
eq(Map.new(P, Map._str):lookup("new"), "x", "room made by del_map")
return ""`)
}
