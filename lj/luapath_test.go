package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lua.path: require finds modules along the configured templates; ";;"
// adds LuaJIT's directories but not its "./" ones.
func TestLuaPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lib", "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "lib", "mymod.lua"), []byte(`return { answer = 42 }`), 0o644)
	os.WriteFile(filepath.Join(dir, "lib", "pkg", "init.lua"), []byte(`return { name = "pkg" }`), 0o644)
	st, err := NewState(Options{
		Path:    dir + "/lib/?.lua;" + dir + "/lib/?/init.lua;;",
		Scripts: []Script{{Path: "s.lua", Code: []byte(`found = require("mymod").answer .. " " .. require("pkg").name`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.L.EvalInternal("return found", "=test")
	if err != nil || got != "42 pkg" {
		t.Errorf("require along lua.path: %q, %v", got, err)
	}
	path, _ := st.L.EvalInternal("return package.path", "=test")
	if !strings.HasPrefix(path, dir+"/lib/?.lua;"+dir+"/lib/?/init.lua;/") || strings.Contains(path, ";;") || strings.Contains(path, "./?") {
		t.Errorf("package.path %q", path)
	}
}
