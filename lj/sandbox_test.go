package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

// sandboxPrelude gives a script its assertions: refused(fn, ...) fails
// unless fn raises an error; the failures are collected in bad and sent
// by report().
const sandboxPrelude = `
local bad = {}
local function fail(msg) bad[#bad + 1] = msg end
local function refused(what, fn, ...)
	local ok, err = pcall(fn, ...)
	if ok then fail(what .. ": not refused") end
	return err
end
local function own_source(src) return src:sub(1, 9) == "@luaedge/" or src:sub(1, 8) == "=luaedge" end

-- reach walks everything a script can get to from root with the sandbox's
-- library: tables (keys, values, metatables), functions (upvalues and
-- environments, where debug allows), userdata, threads (their frames'
-- locals). It records what must never be reached: a cdata (a stream or a
-- C function pointer), a prototype, luaedge's internal table, the ffi
-- module, the raw debug library kept for luaedge's own code.
local function reach(root, name)
	local seen = {}
	local function visit(v, path)
		local t = type(v)
		if t == "cdata" or t == "proto" then fail(path .. " is a " .. t) return end
		if (t ~= "table" and t ~= "function" and t ~= "userdata" and t ~= "thread") or seen[v] then return end
		seen[v] = true
		if t == "table" then
			if rawget(v, "gocall") ~= nil or rawget(v, "owner") ~= nil then fail(path .. " is luaedge's internal table") end
			if rawget(v, "cdef") ~= nil then fail(path .. " is the ffi module") end
			local sethook = rawget(v, "sethook")
			if sethook ~= nil and debug and sethook ~= debug.sethook then fail(path .. " is the raw debug library") end
			for k, x in next, v do
				visit(k, path .. "[key]")
				visit(x, path .. "." .. tostring(k))
			end
		elseif t == "function" then
			for i = 1, 255 do
				local ok, n, x = pcall(debug.getupvalue, v, i)
				if not ok or n == nil then break end
				visit(x, path .. "^" .. n)
			end
			local ok, env = pcall(getfenv, v)
			if ok then visit(env, path .. "<env>") end
		elseif t == "userdata" then
			local ok, env = pcall(debug.getfenv, v)
			if ok then visit(env, path .. "<env>") end
		elseif t == "thread" then
			for level = 0, 100 do
				local ok, info = pcall(debug.getinfo, v, level, "Sf")
				if not ok or info == nil then break end
				if info.func then visit(info.func, path .. "@" .. level) end
				for i = 1, 200 do
					local ok2, n, x = pcall(debug.getlocal, v, level, i)
					if not ok2 or n == nil then break end
					visit(x, path .. "@" .. level .. "." .. n)
				end
			end
		end
		local ok, mt = pcall(debug.getmetatable, v)
		if ok then visit(mt, path .. "<mt>") end
		visit(getmetatable(v), path .. "<getmetatable>")
	end
	visit(root, name)
end

-- stack checks every level of the running thread: a level that runs
-- luaedge's code gives no locals, no function, no environment.
local function stack()
	for level = 2, 100 do
		local info = debug.getinfo(level, "Sf")
		if info == nil then break end
		if own_source(info.source) then
			if info.func ~= nil then fail("debug.getinfo(" .. level .. ").func is luaedge's") end
			-- Called through pcall, which is level 1 for them.
			if pcall(debug.getlocal, level + 1, 1) then fail("debug.getlocal at " .. info.source) end
			if pcall(debug.setlocal, level + 1, 1, nil) then fail("debug.setlocal at " .. info.source) end
			if pcall(getfenv, level + 1) then fail("getfenv at " .. info.source) end
		else
			reach(info.func, "level " .. level)
		end
	end
end

local function report() if #bad == 0 then return "ok" end return table.concat(bad, "\n") end
`

// The escape routes a script in the default mode could try, each
// refused; the body context checks what it can reach and stores its
// report for the test to read.
const escapeScript = sandboxPrelude + `
refused("require ffi", require, "ffi")
if package.loaded.ffi ~= nil or package.preload.ffi ~= nil then fail("ffi in package") end
refused("require luaedge.internal", require, "luaedge.internal")
refused("require jit.util", require, "jit.util")
if jit.attach ~= nil then fail("jit.attach") end
refused("debug.getregistry", debug.getregistry)
refused("debug.sethook", debug.sethook, function() end, "c")
if package.loadlib ~= nil then fail("package.loadlib") end

-- bytecode, by every loader
local dump = string.dump(function() return 1 end)
if load(dump) ~= nil then fail("load(bytecode)") end
if loadstring(dump, "x", "b") ~= nil then fail("loadstring(bytecode, 'b')") end
local given = false
if load(function() if given then return nil end given = true return dump end) ~= nil then fail("load(reader of bytecode)") end
local dir = os.getenv("SANDBOX_DIR")
local f = assert(io.open(dir .. "/bc.lua", "wb"))
f:write(dump)
f:close()
if loadfile(dir .. "/bc.lua") ~= nil then fail("loadfile(bytecode)") end
refused("dofile(bytecode)", dofile, dir .. "/bc.lua")
package.path = dir .. "/?.lua"
refused("require(bytecode)", require, "bc")
if load("return 6 * 7")() ~= 42 then fail("load(text)") end

refused("os.exit", os.exit, 3)

-- what luaedge's functions hold
for _, fn in ipairs({ core.register_service, core.now, core.log, core.msleep, core.tcp, Map.new }) do
	refused("debug.getupvalue", debug.getupvalue, fn, 1)
	refused("debug.setupvalue", debug.setupvalue, fn, 1, nil)
	refused("debug.upvalueid", debug.upvalueid, fn, 1)
	refused("debug.upvaluejoin", debug.upvaluejoin, function() return bad end, 1, fn, 1)
	refused("getfenv", getfenv, fn)
	refused("setfenv", setfenv, fn, {})
	refused("debug.getfenv", debug.getfenv, fn)
	refused("debug.setfenv", debug.setfenv, fn, {})
	if debug.getinfo(fn, "f").func ~= nil then fail("debug.getinfo(fn).func") end
end
refused("debug.setupvalue of a C function", debug.setupvalue, coroutine.wrap(function() end), 1, nil)
refused("debug.setmetatable of strings", debug.setmetatable, "", {})
refused("debug.setmetatable of nil", debug.setmetatable, nil, {})
local t = setmetatable({}, { __metatable = "mine" })
refused("debug.getmetatable of a protected metatable", debug.getmetatable, t)
if debug.setmetatable({}, {}) == nil then fail("debug.setmetatable of a table") end

reach(_G, "_G")
reach(package.loaded, "package.loaded")
stack()
sandbox_report = report()
`

func TestSandboxEscapesAreRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SANDBOX_DIR", dir)
	s := newTestState(t, escapeScript, 0)
	if got := evalIn(t, s, "return sandbox_report"); got != "ok" {
		t.Fatalf("escape routes open in the body context:\n%s", got)
	}
}

// A request's objects (TXN, its members, the applet) and the frames of
// the coroutine running it reach nothing of luaedge's either.
func TestSandboxRequestObjects(t *testing.T) {
	s := newTestState(t, sandboxPrelude+`
core.register_fetches("probe", function(txn) return "p" end)
core.register_action("probe", { "http-req" }, function(txn)
	local _ = txn.f, txn.sf, txn.c, txn.sc, txn.http, txn.req
	if rawget(txn, 0) ~= nil then fail("txn[0]") end
	reach(txn, "txn")
	reach(coroutine.running(), "the request's coroutine")
	local ok, err = coroutine.resume(coroutine.running())
	if ok then fail("resumed the running coroutine") end
	stack()
	txn:set_var("txn.report", report())
end)
core.register_service("probe", "http", function(applet)
	local _ = applet.f, applet.sf, applet.c, applet.headers, applet.method
	reach(applet, "applet")
	stack()
	local co = coroutine.running()
	local r = coroutine.create(function() return coroutine.resume(co) end)
	local _, ok, err = coroutine.resume(r)
	if ok then fail("resumed the request's coroutine from another") end
	applet:start_response()
	applet:send(applet:get_var("txn.report") .. " " .. report())
end)
`, 0)
	id, err := s.Program("http", []string{"lua.probe"}, nil, "probe", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/")
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if e := th.S.Err(); len(e) > 0 {
		t.Fatalf("the probe failed: %s", e)
	}
	if got := string(th.S.Out()); got != "ok ok" {
		t.Fatalf("escape routes open in a request:\n%s", got)
	}
}

// Numbers a script passes to the API are checked before they become
// offsets into C buffers or values Go trusts: NaN, infinities, fractions
// and negative counts are errors, never wild reads or writes.
func TestHostileNumbers(t *testing.T) {
	s := newTestState(t, `
local function refused(what, fn, ...)
	local ok = pcall(fn, ...)
	if ok then error(what .. ": not refused", 2) end
end
core.register_service("nums", "http", function(applet)
	local nan, inf = 0/0, math.huge
	for _, v in ipairs({ nan, -1, 1.5, -inf, inf }) do
		refused("receive " .. tostring(v), applet.receive, applet, v)
	end
	for _, v in ipairs({ nan, 99, 1000, inf, -inf }) do
		refused("set_status " .. tostring(v), applet.set_status, applet, v)
	end
	local txn_reply = { status = nan, headers = {} }
	applet:set_status(200)
	applet:start_response()
	applet:send("ok")
end)
core.register_action("tcp-nums", { "tcp-req" }, function(txn)
	local nan = 0/0
	for _, v in ipairs({ nan, -100000, 0.5 }) do
		refused("remove offset " .. tostring(v), txn.req.remove, txn.req, v, 10)
		refused("remove length " .. tostring(v), txn.req.remove, txn.req, 0, v)
		refused("forward " .. tostring(v), txn.req.forward, txn.req, v)
	end
	for _, v in ipairs({ nan, math.huge, 2^40 }) do
		refused("set_tos " .. tostring(v), txn.set_tos, txn, v)
		refused("set_mark " .. tostring(v), txn.set_mark, txn, v)
	end
	refused("reply status NaN", txn.done, txn, { status = nan })
	-- what is left of the input is still whole
	if txn.req:get() ~= "hello" then error("input changed") end
	return act.ABORT
end)
`, 0)
	th := runService(t, s, "nums")
	if e := th.S.Err(); len(e) > 0 {
		t.Fatalf("service: %s", e)
	}
	id, err := s.Program("tcp", []string{"lua.tcp-nums"}, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	tt.S.Reset(EntryTCP, id, 2)
	tt.S.SetKind(cgo.KindTCP)
	tt.S.AppendBody([]byte("hello"))
	if r := tt.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if e := tt.S.Err(); len(e) > 0 {
		t.Fatalf("tcp action: %s", e)
	}
}

// An object a script keeps past its request (a global) must not reach the
// stream once Go freed its coroutine: using it is an error, not a write
// into freed memory.
func TestKeptObjectAfterItsCoroutineIsFreed(t *testing.T) {
	s := newTestState(t, `
core.register_service("keep", "http", function(applet)
	kept = applet
	kept_txn_f = applet.f
	core.yield()
	applet:start_response()
	applet:send("never")
end)
core.register_service("use", "http", function(applet)
	local ok1, e1 = pcall(kept.send, kept, "x")
	local ok2, e2 = pcall(kept_txn_f.method, kept_txn_f)
	applet:start_response()
	applet:send(tostring(ok1) .. " " .. tostring(e1) .. " | " .. tostring(ok2) .. " " .. tostring(e2))
end)
`, 0)
	th := runService(t, s, "keep")
	if op, _ := th.S.Op(); op != cgo.OpYield {
		t.Fatalf("op %d, want a yield", op)
	}
	th.Free() // the client went away while the service was parked
	use := runService(t, s, "use")
	got := string(use.S.Out())
	if !strings.HasPrefix(got, "false ") || !strings.Contains(got, "has ended") || strings.Count(got, "false") != 2 {
		t.Fatalf("a kept object after its coroutine was freed: %q (err %q)", got, use.S.Err())
	}
}

func TestStrictSandbox(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mod.lua"), []byte("return 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := `
local bad = {}
for _, name in ipairs({ "io", "debug", "loadfile", "dofile" }) do
	if _G[name] ~= nil then bad[#bad + 1] = name end
end
for _, name in ipairs({ "execute", "remove", "rename", "tmpname", "getenv", "setlocale" }) do
	if os[name] ~= nil then bad[#bad + 1] = "os." .. name end
end
for _, name in ipairs({ "io", "debug", "ffi" }) do
	if package.loaded[name] ~= nil then bad[#bad + 1] = "package.loaded." .. name end
end
if package.loadlib ~= nil then bad[#bad + 1] = "package.loadlib" end
package.path = "` + dir + `/?.lua"
if pcall(require, "mod") then bad[#bad + 1] = "require of a file" end
package.preload.pre = function() return "preloaded" end
if require("pre") ~= "preloaded" then bad[#bad + 1] = "require of package.preload" end
if load("return 1 + 1")() ~= 2 then bad[#bad + 1] = "load(text)" end
if load(string.dump(function() end)) ~= nil then bad[#bad + 1] = "load(bytecode)" end
if type(os.time()) ~= "number" then bad[#bad + 1] = "os.time" end
if pcall(os.exit) then bad[#bad + 1] = "os.exit" end
strict_report = #bad == 0 and "ok" or table.concat(bad, ", ")
`
	s, err := NewState(Options{Scripts: []Script{{Path: "strict.lua", Code: []byte(code)}}, Sandbox: SandboxStrict})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := evalIn(t, s, "return strict_report"); got != "ok" {
		t.Fatalf("strict mode leaves: %s", got)
	}
	// luaedge's own code keeps what strict takes from scripts: an error's
	// traceback comes from the debug library.
	s2, err := NewState(Options{Scripts: []Script{{Path: "e.lua", Code: []byte(`core.register_service("e", "http", function() error("boom") end)`)}}, Sandbox: SandboxStrict})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	th := runService(t, s2, "e")
	if e := string(th.S.Err()); !strings.Contains(e, "e.lua:1: boom") || !strings.Contains(e, "stack traceback") {
		t.Fatalf("error in strict mode: %q", e)
	}
}

func TestUnsafeFFI(t *testing.T) {
	s, err := NewState(Options{Scripts: []Script{{Path: "ffi.lua", Code: []byte(`
local ffi = require("ffi")
ffi_ok = type(ffi.cast) == "function" and type(package.loadlib) == "function"`)}}, UnsafeFFI: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := evalIn(t, s, "return tostring(ffi_ok)"); got != "true" {
		t.Fatalf("with UnsafeFFI: %s", got)
	}
}

func TestBytecodeScriptRefused(t *testing.T) {
	_, err := NewState(Options{Scripts: []Script{{Path: "bc.lua", Code: []byte("\x1bLJ\x02garbage")}}})
	if err == nil || !strings.Contains(err.Error(), "bc.lua: a bytecode chunk") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewState(Options{Sandbox: "lax"}); err == nil || !strings.Contains(err.Error(), "lua.sandbox") {
		t.Fatalf("an unknown sandbox mode: %v", err)
	}
}

// What a script holds in C and Go memory through the API, outside
// lua.memory_limit, is bounded: the heads it writes, its live regexes.
func TestHeldOutsideTheHeapIsBounded(t *testing.T) {
	s := newTestState(t, `
core.register_service("heads", "http", function(applet)
	local value = string.rep("v", 1000)
	local ok, err = pcall(function()
		for i = 1, 1e6 do applet:add_header("x-" .. i, value) end
	end)
	local ok2, err2 = pcall(function()
		for i = 1, 1e6 do applet:add_header("", "") end
	end)
	kept = {}
	local ok3, err3 = pcall(function()
		for i = 1, 70000 do
			local _, re = Regex.new("a" .. i)
			kept[i] = re
		end
	end)
	applet:start_response()
	applet:send(tostring(err) .. "|" .. tostring(err2) .. "|" .. tostring(err3))
end)
`, 0)
	th := runService(t, s, "heads")
	parts := strings.Split(string(th.S.Out()), "|")
	if len(parts) != 3 || !strings.Contains(parts[0], "1 MiB") || !strings.Contains(parts[1], "1 MiB") || !strings.Contains(parts[2], "lj.MaxRegexes") {
		t.Fatalf("out %q err %q", th.S.Out(), th.S.Err())
	}
	if held := th.S.Held(); held > 4<<20 {
		t.Fatalf("the stream holds %d bytes", held)
	}
}

// A wait from a coroutine the script made (a send past the flush size)
// is an error: it used to yield that coroutine, not the request's, with
// Go never told.
func TestWaitOutsideTheRequestCoroutine(t *testing.T) {
	s := newTestState(t, `
core.register_service("co", "http", function(applet)
	applet:start_response()
	local ok, err = pcall(coroutine.wrap(function() applet:send(string.rep("x", 70000)) end))
	applet:send("|" .. tostring(ok) .. " " .. tostring(err))
end)`, 0)
	th := runService(t, s, "co")
	var out []byte
	for {
		out = append(out, th.S.Out()...)
		th.S.ConsumeOut()
		if op, _ := th.S.Op(); op == cgo.OpDone {
			break
		}
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
	}
	if got := string(out); !strings.Contains(got, "|false") || !strings.Contains(got, "cannot wait here") {
		t.Fatalf("out %q err %q", got, th.S.Err())
	}
}
