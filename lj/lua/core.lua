-- core: the HAProxy "core" class, the parts every script context uses.
-- Reference: HAProxy Lua API, class core.
local I = ...
setfenv(1, I.env)

local core = {
	-- Log levels, as in HAProxy (syslog severities); silent, as in
	-- HAProxy 3.0, for TXN:set_loglevel only: no access log line.
	emerg = 0, alert = 1, crit = 2, err = 3, warning = 4, notice = 5, info = 6, debug = 7, silent = -1,
}
I.services = {}     -- name -> {mode=, fn=, id=}
I.backend_ids = {}  -- backend name -> index, filled in by Go
I.cache_ids = {}    -- cache name -> index, filled in by Go (SetCaches)
I.cache_names = {}  -- index -> cache name
I.service_list = {} -- id -> entry in services

local function check_type(fname, n, v, want)
	if type(v) ~= want then
		error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
	end
end
I.check_type = check_type

-- core.register_service(name, mode, fn): mode "http" (an AppletHTTP),
-- "tcp", or "http-stream", a luaedge addition: an HTTP service whose fn
-- gets a lua-http stream (http_stream.lua) instead of an AppletHTTP.
function core.register_service(name, mode, fn)
	check_type("core.register_service", 1, name, "string")
	check_type("core.register_service", 2, mode, "string")
	check_type("core.register_service", 3, fn, "function")
	if mode ~= "http" and mode ~= "tcp" and mode ~= "http-stream" then
		error("core.register_service: mode must be 'http', 'tcp' or 'http-stream', got '" .. mode .. "'", 2)
	end
	local run = fn
	if mode == "http-stream" then mode, run = "http", I.stream_service(fn) end
	local svc = I.services[name]
	if svc then -- HAProxy lets a later registration replace an earlier one
		svc.mode, svc.fn, svc.stats = mode, run, I.record("service", name, fn)
		return
	end
	svc = { name = name, mode = mode, fn = run, id = #I.service_list + 1, stats = I.record("service", name, fn) }
	I.services[name] = svc
	I.service_list[svc.id] = svc
end

-- service_id is how Go resolves "use_service: lua.NAME" after loading.
function I.service_id(name, mode)
	local svc = I.services[name]
	if not svc then
		error("no Lua service named '" .. name .. "' (core.register_service was not called for it)", 0)
	end
	if svc.mode ~= mode then
		error("Lua service '" .. name .. "' is a " .. svc.mode .. " service, not " .. mode, 0)
	end
	return svc.id
end

-- core.register_cli(path, usage, fn): a command of the runtime socket
-- (Reference: HAProxy Lua API, core.register_cli). path is its words;
-- fn(applet, words...) gets an AppletTCP whose send writes the answer,
-- and the command's words, the path's included. A later registration of
-- the same path replaces the earlier one. Go reads the list once the
-- state is set up (lj.State.CLIs) and runs a command on one loop with
-- EntryCLI.
I.clis = {}
function core.register_cli(path, usage, fn)
	check_type("core.register_cli", 1, path, "table")
	check_type("core.register_cli", 2, usage, "string")
	check_type("core.register_cli", 3, fn, "function")
	if #path == 0 then
		error("bad argument #1 to 'core.register_cli' (the path has no word)", 2)
	end
	local words = {}
	for i, w in ipairs(path) do
		if type(w) ~= "string" or w == "" or w:find("[%s;\\%z]") then
			error("bad argument #1 to 'core.register_cli' (word " .. i .. " is not a word: a non-empty string without blanks, ';' or '\\')", 2)
		end
		words[i] = w
	end
	local name = table.concat(words, " ")
	if usage:find("[%z\n]") then
		error("bad argument #2 to 'core.register_cli' (one line expected)", 2)
	end
	for _, c in ipairs(I.clis) do
		if c.name == name then
			c.usage, c.fn, c.stats = usage, fn, I.record("cli", name, fn)
			return
		end
	end
	I.clis[#I.clis + 1] = { name = name, usage = usage, fn = fn, stats = I.record("cli", name, fn) }
end

-- service_names is how Go reads the services' names, by id (the access
-- log's <lua.NAME>): each name followed by NUL.
function I.service_names()
	local out = {}
	for i, svc in ipairs(I.service_list) do out[i] = svc.name .. "\0" end
	return table.concat(out)
end

-- cli_list is how Go reads the commands: name, NUL, usage, NUL, for each.
function I.cli_list()
	local out = {}
	for i, c in ipairs(I.clis) do out[i] = c.name .. "\0" .. c.usage .. "\0" end
	return table.concat(out)
end

-- The entry of a runtime-socket command: its words come in the target
-- span, separated by NUL bytes.
local find, sub = string.find, string.sub
I.entries[I.ENTRY_CLI] = function(s, ctx)
	local c = I.clis[s.entry_arg]
	local line = I.span(s, s.target)
	local args, n, i = {}, 0, 1
	while true do
		local j = find(line, "\0", i, true)
		n = n + 1
		args[n] = sub(line, i, j and j - 1 or #line)
		if j == nil then break end
		i = j + 1
	end
	local applet = I.applet_tcp_of(ctx)
	I.enter(ctx, c.stats)
	c.fn(applet, unpack(args, 1, n))
	I.leave(ctx, false)
end

function core.log(level, msg)
	if type(level) ~= "number" then
		error("bad argument #1 to 'core.log' (number expected, got " .. type(level) .. ")", 2)
	end
	I.gocall(I.go.log, level, tostring(msg))
end
function core.Debug(msg) I.gocall(I.go.log, core.debug, tostring(msg)) end
function core.Info(msg) I.gocall(I.go.log, core.info, tostring(msg)) end
function core.Warning(msg) I.gocall(I.go.log, core.warning, tostring(msg)) end
function core.Alert(msg) I.gocall(I.go.log, core.alert, tostring(msg)) end

-- request_ctx returns the context of the running request (or task).
local function request_ctx(fname)
	local s, ctx = I.current()
	if s == nil then
		error(fname .. ": cannot wait here (only in an action, a service or a task)", 3)
	end
	return ctx
end

-- core.thread is the state's core, from 1, as HAProxy's core.thread in a
-- state of lua-load-per-thread: every luaedge state is one core's
-- (HAProxy's lua-load state, shared by its threads, says 0). Go sets it
-- before the scripts load; 0 in a state that stands alone.
core.thread = 0
function I.set_thread(n) core.thread = n end

-- core.crypt_check(password, hash) reports whether password matches a
-- crypt(3) hash ($1$, $5$ or $6$; another is false): a luaedge addition,
-- which haproxy.cfg's userlists use.
function core.crypt_check(password, hash)
	check_type("core.crypt_check", 1, password, "string")
	check_type("core.crypt_check", 2, hash, "string")
	return I.gocall(I.go.crypt, password, hash)
end

-- core.set_nice(nice) is accepted and changes nothing: luaedge's loops
-- have no task priorities.
function core.set_nice(...)
	if select("#", ...) ~= 1 then error("'set_nice' needs 1 arguments", 2) end
	local nice = ...
	if type(nice) ~= "number" or nice % 1 ~= 0 then
		error("bad argument #1 to 'set_nice' (number expected, got " .. type(nice) .. ")", 2)
	end
end

-- core.msleep(ms) parks the request; a timer on the same loop resumes it.
function core.msleep(ms)
	check_type("core.msleep", 1, ms, "number")
	I.wait(request_ctx("core.msleep"), I.OP_SLEEP, ms)
end

function core.sleep(sec)
	check_type("core.sleep", 1, sec, "number")
	I.wait(request_ctx("core.sleep"), I.OP_SLEEP, sec * 1000)
end

-- core.yield gives the loop a turn; the request resumes on the next iteration.
function core.yield()
	I.wait(request_ctx("core.yield"), I.OP_YIELD, 0)
end

-- core.now() reads the clock in C through FFI: no gate call.
local now_us, floor = I.now_us, math.floor
function core.now()
	local us = now_us()
	local sec = floor(us / 1e6)
	return { sec = sec, usec = us - sec * 1e6 }
end

_G.core = core

-- A script may not end the process: os.exit is an error, as in HAProxy.
_G.os.exit = function()
	error("os.exit is not allowed: a script cannot stop the server", 2)
end
