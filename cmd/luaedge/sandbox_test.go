package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// attackLua is a service that tries, by path, what would end or crash the
// process if the sandbox let it through; /ok answers.
const attackLua = `
local attacks = {
	["/ffi-exit"] = function()
		local ffi = require("ffi")
		ffi.cdef("void _exit(int status);")
		ffi.load("libc.so.6")._exit(7)
	end,
	["/ffi-cast"] = function() return require("ffi").cast("int*", 8)[0] end,
	["/exit"] = function() os.exit(3) end,
	["/bytecode"] = function()
		-- UGET 0 0 made UGET 0 255: it reads upvalue 255 of a closure
		-- that has one, a pointer from past its end.
		local u = 1
		local dump = string.dump(function() return u end)
		local i = assert(dump:find("\45\0\0\0\76\0\2\0", 1, true), "UGET not found")
		local crafted = dump:sub(1, i + 1) .. "\255" .. dump:sub(i + 3)
		return assert(load(crafted))()
	end,
	["/upvalue"] = function()
		for i = 1, 10 do
			local name, v = debug.getupvalue(core.now, i)
			if name == nil then break end
		end
	end,
	["/local"] = function()
		for level = 2, 20 do
			local info = debug.getinfo(level, "S")
			if info == nil then break end
			debug.getlocal(level, 1)
		end
	end,
	["/registry"] = function() return debug.getregistry() end,
	["/stream"] = function(applet)
		for k, v in pairs(applet) do if type(v) == "cdata" then return v.head.p[1e9] end end
		return rawget(applet, 0).head.p[1e9]
	end,
}

core.register_service("attack", "http", function(applet)
	local attack = attacks[applet.path]
	if attack then attack(applet) end
	applet:set_status(200)
	applet:start_response()
	applet:send("ok")
end)
`

const attackConfig = `workers: 2
shutdown_timeout: 2s
lua:
  load: [attack.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.attack
`

// Each attempt a script makes to end or crash the process through ffi,
// os.exit, bytecode or the debug library is an error answered 500; the
// process serves on.
func TestSandboxKeepsServing(t *testing.T) {
	s := startServer(t, attackConfig, map[string]string{"attack.lua": attackLua})
	c, _ := newClient(t)
	for _, tc := range []struct{ path, log string }{
		{"/ffi-exit", "module 'ffi' not found"},
		{"/ffi-cast", "module 'ffi' not found"},
		{"/exit", "os.exit is not allowed"},
		{"/bytecode", "attempt to load chunk with wrong mode"},
		{"/upvalue", "debug.getupvalue: luaedge's own functions"},
		{"/local", "debug.getlocal: luaedge's own functions"},
		{"/registry", "debug.getregistry: the registry holds luaedge's own values"},
		{"/stream", "attempt to index a nil value"},
	} {
		resp, body := get(t, c, s.url(tc.path))
		if resp.StatusCode != 500 {
			t.Errorf("GET %s: %d %q, want 500", tc.path, resp.StatusCode, body)
		}
		s.waitLog(t, 2*time.Second, tc.log)
		resp, body = get(t, c, s.url("/ok"))
		wantResponse(t, "GET /ok after "+tc.path, resp, body, 200, "ok")
	}
	if s.exited() {
		t.Fatalf("the server exited: %v\n%s", s.err, s.logs())
	}
}

// With lua.unsafe_ffi: true, scripts get LuaJIT's ffi.
func TestUnsafeFFIGivesFFI(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [ffi.lua]
  unsafe_ffi: true
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.ffi
`, map[string]string{"ffi.lua": `
core.register_service("ffi", "http", function(applet)
	applet:start_response()
	applet:send(type(require("ffi").cast))
end)`})
	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/"))
	wantResponse(t, "GET / with unsafe_ffi", resp, body, 200, "function")
}

// lifeLua writes a line per script_init and script_deinit into life.log,
// each with a token of its state: a table's address, which states alive
// together do not share, and the lines already written, since a state
// made after another was closed may reuse its memory.
const lifeLua = `
local token
do
	local lines = 0
	local f = io.open("life.log", "r")
	if f then
		for _ in f:lines() do lines = lines + 1 end
		f:close()
	end
	token = tostring({}) .. "#" .. lines
end
local function note(what)
	local f = assert(io.open("life.log", "a"))
	f:write(what, " ", token, "\n")
	f:close()
end
function script_init() note("init") end
function script_deinit() note("deinit") end
core.register_service("life", "http", function(applet) applet:start_response() applet:send("ok") end)
`

// lifeLines returns the states' tokens of the init and deinit lines.
func lifeLines(t *testing.T, path string) (inits, deinits map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inits, deinits = map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		what, token, _ := strings.Cut(line, " ")
		m := inits
		if what == "deinit" {
			m = deinits
		}
		if m[token] {
			t.Errorf("%s ran twice in state %s", what, token)
		}
		m[token] = true
	}
	return inits, deinits
}

// script_init runs once in every state when it loads (the start-up check's
// and each loop's), script_deinit once in each when it is unloaded: the
// check's before the loops start, the old loops' on a reload, the loops'
// on SIGTERM.
func TestScriptInitAndDeinit(t *testing.T) {
	s := startServer(t, `workers: 2
lua:
  load: [life.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.life
`, map[string]string{"life.lua": lifeLua})
	log := filepath.Join(s.dir, "life.log")
	// Each loop loads its state as it starts, which may be just after the
	// first one accepts: the counts are awaited, then checked.
	wait := func(ninits, ndeinits int) (map[string]bool, map[string]bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			inits, deinits := lifeLines(t, log)
			if (len(inits) >= ninits && len(deinits) >= ndeinits) || time.Now().After(deadline) {
				return inits, deinits
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	inits, deinits := wait(3, 1)
	if len(inits) != 3 || len(deinits) != 1 {
		t.Fatalf("after the start: %d script_init, %d script_deinit; want 3 (the check and 2 loops) and 1 (the check)", len(inits), len(deinits))
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, 10*time.Second, "msg=reloaded")
	inits, deinits = wait(6, 4)
	if len(inits) != 6 || len(deinits) != 4 {
		t.Fatalf("after a reload: %d script_init, %d script_deinit; want 6 (3 more: the check and 2 new loops) and 4 (the check's and the 2 old loops')", len(inits), len(deinits))
	}
	if !s.stop(10 * time.Second) {
		t.Fatalf("no exit after SIGTERM:\n%s", s.logs())
	}
	inits, deinits = lifeLines(t, log)
	if len(deinits) != 6 {
		t.Fatalf("after SIGTERM: %d script_deinit, want 6", len(deinits))
	}
	for token := range inits {
		if !deinits[token] {
			t.Errorf("state %s ran script_init and no script_deinit", token)
		}
	}
}

// An error in script_init stops the start, naming file:line.
func TestScriptInitErrorStopsTheStart(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "init.lua"), "core.register_service('x', 'http', function() end)\nfunction script_init()\n\terror('cannot reach the database')\nend\n")
	writeFile(t, filepath.Join(dir, "luaedge.yaml"), "lua:\n  load: [init.lua]\nfrontends:\n  - name: main\n    bind: [\"127.0.0.1:1\"]\n    use_service: lua.x\n")
	cmd := exec.Command(luaedgeBin, "-c", "luaedge.yaml")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1; output:\n%s", code, out)
	}
	if !strings.Contains(string(out), "script_init: init.lua:3: cannot reach the database") {
		t.Errorf("the output does not name init.lua:3:\n%s", out)
	}
}

// Without lua.memory_limit, each state is capped at 256 MiB: a script that
// allocates past it gets an error, and the server goes on.
func TestDefaultMemoryLimit(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [hog.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hog
`, map[string]string{"hog.lua": `
core.register_service("hog", "http", function(applet)
	if applet.path == "/hog" then
		local t = {}
		for i = 1, 1024 do t[i] = string.rep("x", 1048576 - 64) .. i end
	end
	applet:start_response()
	applet:send("ok")
end)`})
	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/hog"))
	if resp.StatusCode != 500 {
		t.Errorf("GET /hog (1 GiB): %d %q, want 500", resp.StatusCode, body)
	}
	s.waitLog(t, 2*time.Second, "not enough memory (lua.memory_limit reached)")
	resp, body = get(t, c, s.url("/ok"))
	wantResponse(t, "GET /ok after /hog", resp, body, 200, "ok")
}
