package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The configuration mistakes of the first hour, through the binary: each
// gets its message on stderr and status 1; what works works from any
// working directory.
func TestConfigHelps(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	for _, sub := range []string{"lib", "conf.d"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "lib", "greet.lua"), `return { text = "hello from lib" }`)
	writeFile(t, filepath.Join(dir, "util.lua"), `return { n = 7 }`)
	writeFile(t, filepath.Join(dir, "s.lua"), `local g = require("greet")
local u = require("util")
core.register_service("svc", "http", function(applet)
	applet:set_status(200)
	applet:start_response()
	applet:send(g.text .. " " .. u.n)
end)
`)
	writeFile(t, filepath.Join(dir, "conf.d", "web.yaml"), "frontends:\n  - {name: web, bind: [\"127.0.0.1:${LUAEDGE_TEST_PORT:-0}\"], use_service: lua.svc}\n")
	writeFile(t, filepath.Join(dir, "luaedge.yaml"), "include: conf.d\nlua:\n  load: [s.lua]\n  path: \"lib/?.lua;?.lua;;\"\n")
	check := func(t *testing.T, env []string) (string, string, int) {
		cmd := exec.Command(luaedgeBin, "check", "-c", filepath.Join(dir, "luaedge.yaml"))
		cmd.Dir = t.TempDir() // not the configuration's folder
		cmd.Env = append(cmd.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	t.Run("include, env, lua.path from another folder", func(t *testing.T) {
		port := freePort(t)
		out, errOut, code := check(t, []string{"LUAEDGE_TEST_PORT=" + itoa(port)})
		if code != 0 || !strings.Contains(out, "127.0.0.1:"+itoa(port)+" can be bound") {
			t.Errorf("status %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("lua.path is the configuration's, not the working directory's", func(t *testing.T) {
		// util.lua sits beside luaedge.yaml: without ";;" and "?.lua"
		// from the configuration folder, require("util") fails.
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), "include: conf.d\nlua:\n  load: [s.lua]\n  path: \"lib/?.lua\"\n")
		_, errOut, code := check(t, nil)
		if code != 1 || !strings.Contains(errOut, "module 'util' not found") {
			t.Errorf("status %d\n%s", code, errOut)
		}
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), "include: conf.d\nlua:\n  load: [s.lua]\n  path: \"lib/?.lua;?.lua\"\n")
		if out, errOut, code := check(t, nil); code != 0 {
			t.Errorf("status %d\n%s%s", code, out, errOut)
		}
	})

	for _, tc := range []struct{ name, yaml, want string }{
		{"did you mean", "frontends:\n  - {name: web, bind: [\"127.0.0.1:0\"], use-service: lua.svc}\n", "frontends[0].use-service (line 2): unknown key; did you mean use_service?"},
		{"a string for a list", "frontends:\n  - name: web\n    bind: 127.0.0.1:0\n    use_service: lua.svc\n", `frontends[0].bind (line 3): expected a list of addresses, got the string "127.0.0.1:0"`},
		{"memory_limit too small", "lua: {memory_limit: 100KiB}\nfrontends:\n  - {name: web, bind: [\"127.0.0.1:0\"], use_service: lua.svc}\n", "lua.memory_limit: 100KiB is too small"},
		{"unset variable", "frontends:\n  - {name: web, bind: [\"${LUAEDGE_TEST_NOT_SET}\"], use_service: lua.svc}\n", "frontends[0].bind[0] (line 2): the environment variable LUAEDGE_TEST_NOT_SET is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			writeFile(t, filepath.Join(d, "luaedge.yaml"), tc.yaml)
			out, errOut, code := runBin(t, d, "check", "-c", "luaedge.yaml")
			if code != 1 || out != "" || !strings.Contains(errOut, "luaedge: luaedge.yaml: "+tc.want) {
				t.Errorf("status %d, stdout %q, stderr:\n%s\nwant %q", code, out, errOut, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
