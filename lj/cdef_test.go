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

// The FFI declarations in lua/bridge.lua must match cgo/stream.h field for
// field: a difference means Lua reads and writes the wrong bytes.
func TestFFIDeclarationsMatchStreamH(t *testing.T) {
	h, err := os.ReadFile("../cgo/stream.h")
	if err != nil {
		t.Fatal(err)
	}
	lua, err := luaFS.ReadFile("lua/bridge.lua")
	if err != nil {
		t.Fatal(err)
	}
	c, f := structDecls(string(h)), structDecls(string(lua))
	if len(c) == 0 || len(c) != len(f) {
		t.Fatalf("stream.h has %d structs, bridge.lua %d", len(c), len(f))
	}
	for i := range c {
		if c[i] != f[i] {
			t.Errorf("struct %d differs:\n stream.h:   %s\n bridge.lua: %s", i, c[i], f[i])
		}
	}
}
