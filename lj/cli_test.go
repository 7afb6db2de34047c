package lj

import (
	"reflect"
	"strings"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

const cliScript = `
core.register_cli({"hello", "world"}, "hello world [<name>]: greets", function(applet, ...)
	local n = select("#", ...)
	applet:send("n=" .. n .. " " .. table.concat({...}, ","))
	applet:send(" input=" .. tostring(applet:receive()) .. "\n")
end)
core.register_cli({"boom"}, "boom: fails", function() error("kaboom") end)
core.register_cli({"hello", "world"}, "hello world: replaced", function(applet, ...)
	applet:send("replaced " .. table.concat({...}, ",") .. "\n")
end)
`

// runCLI runs the i-th registered command with words to its end and
// returns its output, or its error.
func runCLI(t *testing.T, s *State, i int, words ...string) (string, string) {
	t.Helper()
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(th)
	th.S.Reset(EntryCLI, i, 0)
	line := CLIWords(words)
	th.S.SetRequestLine(nil, line, line, nil, 0, 0)
	th.S.SetFlag(cgo.FlagBodyEnd)
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpDone {
		t.Fatalf("the command waits (op %d)", op)
	}
	return string(th.S.Out()), string(th.S.Err())
}

// core.register_cli: the commands reach Go in registration order (a path
// registered again replaced in place); a command gets its words, the
// path's included, and an AppletTCP without input.
func TestRegisterCLI(t *testing.T) {
	s := newTestState(t, cliScript, 0)
	clis, err := s.CLIs()
	if err != nil {
		t.Fatal(err)
	}
	want := []CLI{{Path: []string{"hello", "world"}, Usage: "hello world: replaced"}, {Path: []string{"boom"}, Usage: "boom: fails"}}
	if !reflect.DeepEqual(clis, want) {
		t.Fatalf("CLIs = %+v, want %+v", clis, want)
	}
	if out, e := runCLI(t, s, 1, "hello", "world", "a b", ""); out != "replaced hello,world,a b,\n" || e != "" {
		t.Errorf("hello world: %q %q", out, e)
	}
	if out, e := runCLI(t, s, 2, "boom"); out != "" || !strings.Contains(e, "kaboom") {
		t.Errorf("boom: %q %q", out, e)
	}
	st := statsOf(t, s)
	if c := st["cli hello world"]; c.Calls != 1 || c.Errors != 0 {
		t.Errorf("hello world counted %+v", c)
	}
	if c := st["cli boom"]; c.Calls != 1 || c.Errors != 1 {
		t.Errorf("boom counted %+v", c)
	}
}

func TestRegisterCLIErrors(t *testing.T) {
	for _, code := range []string{
		`core.register_cli("show", "u", function() end)`,
		`core.register_cli({}, "u", function() end)`,
		`core.register_cli({"two words"}, "u", function() end)`,
		`core.register_cli({"a;b"}, "u", function() end)`,
		`core.register_cli({"a"}, "two\nlines", function() end)`,
		`core.register_cli({"a"}, "u")`,
	} {
		_, err := NewState(Options{Scripts: []Script{{Path: "bad.lua", Code: []byte(code)}}})
		if err == nil || !strings.Contains(err.Error(), "register_cli") || !strings.Contains(err.Error(), "bad.lua:1") {
			t.Errorf("%s: %v", code, err)
		}
	}
	s := newTestState(t, `core.register_cli({"only"}, "only", function(applet, a, b)
	applet:send(tostring(a) .. tostring(b) .. "[" .. applet:receive() .. "][" .. applet:getline() .. "]")
end)`, 0)
	if out, _ := runCLI(t, s, 1, "only"); out != "onlynil[][]" {
		t.Errorf("only: %q", out)
	}
}
