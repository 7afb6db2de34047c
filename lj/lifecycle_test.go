package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// script_init runs once, after every file's body and before the
// core.register_init functions; script_deinit runs when the state is
// closed, once.
func TestScriptInitAndDeinit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deinit.txt")
	t.Setenv("DEINIT_FILE", out)
	a := `order = { "a" }
core.register_init(function() order[#order + 1] = "register_init" end)`
	b := `order[#order + 1] = "b"
function script_init()
	order[#order + 1] = "script_init"
	core.register_service("late", "http", function(applet) applet:start_response() applet:send("late") end)
end
function script_deinit()
	local f = assert(io.open(os.getenv("DEINIT_FILE"), "a"))
	f:write("deinit " .. table.concat(order, ","), "\n")
	f:close()
end`
	s, err := NewState(Options{Scripts: []Script{{Path: "a.lua", Code: []byte(a)}, {Path: "b.lua", Code: []byte(b)}}})
	if err != nil {
		t.Fatal(err)
	}
	// script_init may still register: the programs are compiled after it.
	th := runService(t, s, "late")
	if string(th.S.Out()) != "late" {
		t.Fatalf("the service script_init registered: %q %q", th.S.Out(), th.S.Err())
	}
	s.Release(th)
	if err := s.RunInits(); err != nil {
		t.Fatal(err)
	}
	if got := evalIn(t, s, "return table.concat(order, ',')"); got != "a,b,script_init,register_init" {
		t.Fatalf("order: %s", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("script_deinit ran before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "deinit a,b,script_init,register_init\n" {
		t.Fatalf("script_deinit wrote %q (once expected)", got)
	}
}

// An error in script_init is a load error naming file:line; one in
// script_deinit is returned by Close, which frees the state all the same.
func TestScriptInitDeinitErrors(t *testing.T) {
	_, err := NewState(Options{Scripts: []Script{{Path: "init.lua", Code: []byte("local x = 1\nfunction script_init()\n\terror('no config')\nend")}}})
	if err == nil || !strings.Contains(err.Error(), "script_init: init.lua:3: no config") {
		t.Fatalf("script_init error: %v", err)
	}
	_, err = NewState(Options{Scripts: []Script{{Path: "init.lua", Code: []byte("script_init = 5")}}})
	if err == nil || !strings.Contains(err.Error(), "script_init is a number, not a function") {
		t.Fatalf("script_init not a function: %v", err)
	}
	s, err := NewState(Options{Scripts: []Script{{Path: "deinit.lua", Code: []byte("function script_deinit()\n\tlocal t = nil\n\treturn t.x\nend")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "script_deinit: deinit.lua:3:") {
		t.Fatalf("script_deinit error: %v", err)
	}
}
