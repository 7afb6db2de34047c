package lj

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// structDecls returns the typedef struct blocks of src with comments and
// blank space normalised, so that the C header and the FFI declarations can
// be compared.
func structDecls(src string) []string {
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, "")
	var out []string
	for _, m := range regexp.MustCompile(`(?s)typedef struct \w+ \{.*?\} \w+;`).FindAllString(src, -1) {
		out = append(out, strings.Join(strings.Fields(m), " "))
	}
	return out
}

// enumDecls returns the enum blocks of src, normalised as structDecls does:
// Lua takes its op codes, flags and modes from the declarations in
// bridge.lua, so they must be those of stream.h.
func enumDecls(src string) []string {
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, "")
	var out []string
	for _, m := range regexp.MustCompile(`(?s)enum \{.*?\};`).FindAllString(src, -1) {
		out = append(out, strings.Join(strings.Fields(m), " "))
	}
	return out
}

// The FFI declarations in lua/bridge.lua must match cgo/stream.h field for
// field and constant for constant: a difference means Lua reads and writes
// the wrong bytes, or sends Go an op it means otherwise.
func TestFFIDeclarationsMatchStreamH(t *testing.T) {
	h, err := os.ReadFile("../cgo/stream.h")
	if err != nil {
		t.Fatal(err)
	}
	lua, err := luaFS.ReadFile("lua/bridge.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []struct {
		name  string
		decls func(string) []string
	}{{"struct", structDecls}, {"enum", enumDecls}} {
		c, f := kind.decls(string(h)), kind.decls(string(lua))
		if len(c) == 0 || len(c) != len(f) {
			t.Fatalf("stream.h has %d %ss, bridge.lua %d", len(c), kind.name, len(f))
		}
		for i := range c {
			if c[i] != f[i] {
				t.Errorf("%s %d differs:\n stream.h:   %s\n bridge.lua: %s", kind.name, i, c[i], f[i])
			}
		}
	}
}
