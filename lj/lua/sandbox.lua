-- The sandbox: what the operator's scripts reach of the Lua library
-- (lua.sandbox and lua.unsafe_ffi in docs/config.md). Go calls I.seal
-- after the API files and before the first script. From then on only
-- luaedge's own chunks (which Go runs with I as their argument) and the
-- functions they made reach ffi, the internal table, the C function
-- pointers and the streams: each keeps what it needs in upvalues and in
-- I.env, which this file keeps scripts from reading through debug,
-- getfenv and the coroutines luaedge runs.
local I = ...
setfenv(1, I.env)

local sub = string.sub
local getinfo = debug.getinfo
local co_running = coroutine.running
local real_getmetatable, real_setmetatable = debug.getmetatable, debug.setmetatable

-- own reports whether f is one of luaedge's functions: its chunk is named
-- "@luaedge/..." (the API files) or "=luaedge..." (the chunks Go and the
-- API files make). A script may give one of its chunks such a name; it
-- then only locks itself out of it.
local function own(f)
	if type(f) ~= "function" then return false end
	local src = getinfo(f, "S").source
	return sub(src, 1, 9) == "@luaedge/" or sub(src, 1, 8) == "=luaedge"
end

local function refuse(fname)
	error(fname .. ": luaedge's own functions and what they hold are not open to scripts", 3)
end

-- own_level reports whether a stack level runs one of luaedge's
-- functions: level of thread co, or, when co is nil, level as the caller
-- of the debug function that calls own_level sees it. Call it directly
-- from that function (the two frames are counted).
local function own_level(co, level)
	level = tonumber(level)
	if level == nil then return false end
	local info
	if co then info = getinfo(co, level, "f") else info = getinfo(level + 2, "f") end
	return info ~= nil and own(info.func)
end

-- thread_args splits the optional thread argument of the debug functions;
-- the running thread counts as none, its levels being the caller's.
local function thread_args(...)
	if type((...)) == "thread" then
		if (...) == co_running() then return nil, select(2, ...) end
		return ...
	end
	return nil, ...
end

-- The debug library of the default mode: HAProxy's, except where it would
-- hand out what luaedge's functions hold (their upvalues, locals,
-- environment, the registry, protected metatables) or take the hook the
-- CPU watchdog uses.
local function debug_wrappers(dbg)
	local getlocal, setlocal = dbg.getlocal, dbg.setlocal
	local getupvalue, setupvalue = dbg.getupvalue, dbg.setupvalue
	local upvalueid, upvaluejoin = dbg.upvalueid, dbg.upvaluejoin
	local getfenv_, setfenv_ = dbg.getfenv, dbg.setfenv

	function dbg.getlocal(...)
		local co, level, n = thread_args(...)
		if type(level) == "function" then
			if own(level) then refuse("debug.getlocal") end
			return getlocal(level, n)
		end
		if own_level(co, level) then refuse("debug.getlocal") end
		if co then return getlocal(co, level, n) end
		local name, value = getlocal(level + 1, n)
		return name, value
	end

	function dbg.setlocal(...)
		local co, level, n, v = thread_args(...)
		if own_level(co, level) then refuse("debug.setlocal") end
		if co then return setlocal(co, level, n, v) end
		local name = setlocal(level + 1, n, v)
		return name
	end

	function dbg.getinfo(...)
		local co, f, what = thread_args(...)
		local info
		if co then
			info = getinfo(co, f, what)
		elseif type(f) == "function" then
			info = getinfo(f, what)
		else
			info = getinfo((tonumber(f) or f) + 1, what)
		end
		if info ~= nil and own(info.func) then info.func = nil end
		return info
	end

	function dbg.getupvalue(f, n)
		if own(f) then refuse("debug.getupvalue") end
		return getupvalue(f, n)
	end

	-- A C function's upvalues are changed nowhere: one made by
	-- coroutine.wrap would otherwise resume a coroutine luaedge runs.
	local function c_function(f)
		return type(f) == "function" and getinfo(f, "S").what == "C"
	end

	function dbg.setupvalue(f, n, v)
		if own(f) then refuse("debug.setupvalue") end
		if c_function(f) then error("debug.setupvalue: the upvalues of C functions cannot be changed", 2) end
		return setupvalue(f, n, v)
	end

	function dbg.upvalueid(f, n)
		if own(f) then refuse("debug.upvalueid") end
		return upvalueid(f, n)
	end

	function dbg.upvaluejoin(f1, n1, f2, n2)
		if own(f1) or own(f2) then refuse("debug.upvaluejoin") end
		return upvaluejoin(f1, n1, f2, n2)
	end

	function dbg.getfenv(o)
		if own(o) then refuse("debug.getfenv") end
		return getfenv_(o)
	end

	function dbg.setfenv(o, t)
		if own(o) then refuse("debug.setfenv") end
		return setfenv_(o, t)
	end

	function dbg.getregistry()
		error("debug.getregistry: the registry holds luaedge's own values; it is not open to scripts", 2)
	end

	-- A metatable whose owner protected it (__metatable) stays hidden, as
	-- getmetatable keeps it: cdata's is the FFI's.
	function dbg.getmetatable(v)
		local mt = real_getmetatable(v)
		if mt ~= nil and rawget(mt, "__metatable") ~= nil then refuse("debug.getmetatable") end
		return mt
	end

	-- Only a table's or a userdata's own metatable may be set: the
	-- metatable of a whole type (strings, numbers, nil, functions) is
	-- luaedge's code's too.
	function dbg.setmetatable(v, mt)
		local t = type(v)
		if t ~= "table" and t ~= "userdata" then
			error("debug.setmetatable: only a table's or a userdata's metatable can be set, not that of every " .. t, 2)
		end
		local cur = real_getmetatable(v)
		if cur ~= nil and rawget(cur, "__metatable") ~= nil then refuse("debug.setmetatable") end
		return real_setmetatable(v, mt)
	end

	function dbg.sethook()
		error("debug.sethook: the hook is the CPU watchdog's; it is not open to scripts", 2)
	end
end

-- getfenv and setfenv of the base library: the environment of luaedge's
-- functions is I.env, whose debug and package are the real ones.
local function fenv_wrappers(G)
	local getfenv_, setfenv_ = getfenv, setfenv
	function G.getfenv(f)
		if f == nil then f = 1 end
		if type(f) == "function" then
			if own(f) then refuse("getfenv") end
			return getfenv_(f)
		end
		local level = tonumber(f)
		if level == nil then return getfenv_(f) end -- its own error
		if level == 0 then return getfenv_(0) end
		if own_level(nil, level) then refuse("getfenv") end
		local e = getfenv_(level + 1)
		return e
	end
	function G.setfenv(f, t)
		if type(f) == "function" then
			if own(f) then refuse("setfenv") end
			return setfenv_(f, t)
		end
		local level = tonumber(f)
		if level == nil then return setfenv_(f, t) end -- its own error
		if level == 0 then return setfenv_(0, t) end
		if own_level(nil, level) then refuse("setfenv") end
		local fn = setfenv_(level + 1, t)
		return fn
	end
end

-- Text chunks only: LuaJIT does not check bytecode, and crafted bytecode
-- reads and writes memory anywhere.
local function text_loaders(G, files)
	local load_, loadfile_ = load, loadfile
	G.load = function(chunk, name, _, env) return load_(chunk, name, "t", env) end
	G.loadstring = G.load
	if not files then
		G.loadfile, G.dofile = nil, nil
		return
	end
	G.loadfile = function(name, _, env) return loadfile_(name, "t", env) end
	G.dofile = function(name)
		local f = assert(loadfile_(name, "t"))
		return f()
	end
end

-- searchers returns package.loaders for require: the preloaded modules,
-- and (files true) Lua files found along package.path, as text. C modules
-- are not searched: the binary is static, so one could not link against
-- its Lua, and package.loadlib is gone.
local function searchers(pkg, files)
	local preload = pkg.loaders[1]
	if not files then return { preload } end
	local loadfile_, searchpath = loadfile, pkg.searchpath
	return { preload, function(name)
		local path, err = searchpath(name, pkg.path)
		if path == nil then return err end
		local f, lerr = loadfile_(path, "t")
		if f == nil then
			error("error loading module '" .. name .. "' from file '" .. path .. "':\n\t" .. lerr, 0)
		end
		return f
	end }
end

-- seal makes the globals what mode ("default" or "strict"), unsafe_ffi
-- and compat53 give the operator's scripts (docs/config.md, lua.sandbox,
-- lua.compat53).
function I.seal(mode, unsafe_ffi, compat53)
	local G, pkg = _G, package
	if compat53 then I.compat53(G) end
	local strict = mode == "strict"
	I.sandbox_strict = strict -- the env fetch reads no environment then
	local loaded, preload = pkg.loaded, pkg.preload
	if not unsafe_ffi then
		loaded.ffi, preload.ffi = nil, nil
		pkg.loadlib = nil
		pkg.loaders = searchers(pkg, not strict)
	end
	-- jit.util hands out prototypes and constants of any function, jit.attach
	-- every function the compiler sees: luaedge's among them.
	preload["jit.util"], preload["jit.profile"], loaded["jit.util"], loaded["jit.profile"] = nil, nil, nil, nil
	G.jit.attach = nil
	text_loaders(G, not strict)
	fenv_wrappers(G)

	-- The coroutines luaedge runs requests and tasks in are its own: a
	-- script resuming one would run luaedge's code out of turn.
	local resume, running = coroutine.resume, I.running
	G.coroutine.resume = function(co, ...)
		if running[co] ~= nil then
			return false, "cannot resume a coroutine luaedge runs a request or task in"
		end
		return resume(co, ...)
	end

	if strict then
		G.io, loaded.io = nil, nil
		G.debug, loaded.debug = nil, nil
		local os = G.os
		os.execute, os.remove, os.rename, os.tmpname, os.getenv, os.setlocale = nil, nil, nil, nil, nil, nil
	else
		debug_wrappers(G.debug)
	end
end

-- call_global calls the global function name (script_init, script_deinit)
-- if the scripts defined it; anything else under that name is an error.
function I.call_global(name)
	local f = rawget(_G, name)
	if f == nil then return end
	if type(f) ~= "function" then
		error(name .. " is a " .. type(f) .. ", not a function", 0)
	end
	f()
end
