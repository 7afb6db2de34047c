-- Actions and the frontend program: core.register_action, the act table,
-- and the entry function that runs a frontend's http-request actions, its
-- service and its http-response actions in one coroutine.
-- Reference: HAProxy Lua API, core.register_action and class act.
local bit = require("bit")
local I = require("luaedge.internal")

local bor = bit.bor
local xpcall, type, tostring, unpack = xpcall, type, tostring, unpack

local act = {
	CONTINUE = 0, STOP = 1, YIELD = 2, ERROR = 3, DONE = 4, DENY = 5, ABORT = 6, INVALID = 7,
}
_G.act = act

-- Wake times set by act:wake_time, by request coroutine.
local wake = setmetatable({}, { __mode = "k" })

-- act:wake_time(ms): an action that returns act.YIELD runs again after ms.
function act.wake_time(a, ms)
	if ms == nil then ms = a end -- act.wake_time(ms) works too
	if type(ms) ~= "number" then
		error("bad argument to 'act:wake_time' (milliseconds expected, got " .. type(ms) .. ")", 2)
	end
	wake[coroutine.running()] = ms
end

I.actions = {} -- name -> {fn=, phases={["http-req"]=true,...}, nb_args=}

local phases = { ["http-req"] = true, ["http-res"] = true, ["tcp-req"] = true, ["tcp-res"] = true }

function core.register_action(name, actions, fn, nb_args)
	I.check_type("core.register_action", 1, name, "string")
	I.check_type("core.register_action", 2, actions, "table")
	I.check_type("core.register_action", 3, fn, "function")
	if nb_args ~= nil and (type(nb_args) ~= "number" or nb_args < 0) then
		error("bad argument #4 to 'core.register_action' (number of arguments expected)", 2)
	end
	local set = {}
	for _, p in ipairs(actions) do
		if not phases[p] then
			error("core.register_action: unknown action type '" .. tostring(p) .. "' (http-req, http-res, tcp-req, tcp-res)", 2)
		end
		set[p] = true
	end
	I.actions[name] = { fn = fn, phases = set, nb_args = nb_args or 0 }
end

-- split parses a configured rule: words separated by spaces, "double
-- quoted" words may hold spaces.
local function split(line)
	local words, i, n = {}, 1, #line
	while i <= n do
		local c = line:sub(i, i)
		if c:match("%s") then
			i = i + 1
		elseif c == '"' then
			local j = line:find('"', i + 1, true)
			if not j then error("unterminated quote in '" .. line .. "'", 0) end
			words[#words + 1] = line:sub(i + 1, j - 1)
			i = j + 1
		else
			local j = line:find("%s", i) or n + 1
			words[#words + 1] = line:sub(i, j - 1)
			i = j
		end
	end
	return words
end

local function compile_rule(line, phase)
	local words = split(line)
	local head = words[1] or ""
	local name = head:match("^lua%.(.+)$")
	if not name then
		error("'" .. line .. "': only Lua actions (lua.NAME args...) are supported", 0)
	end
	local a = I.actions[name]
	if not a then
		error("'" .. line .. "': no Lua action named '" .. name .. "' (core.register_action was not called for it)", 0)
	end
	if not a.phases[phase] then
		error("'" .. line .. "': action '" .. name .. "' is not registered for " .. phase, 0)
	end
	local args = { unpack(words, 2) }
	if #args ~= a.nb_args then
		error("'" .. line .. "': action '" .. name .. "' takes " .. a.nb_args .. " argument(s), got " .. #args, 0)
	end
	return { fn = a.fn, args = args, n = #args, line = line }
end

I.programs = {}

-- program compiles a frontend: its http_request and http_response rules
-- and its service (or nil). Go calls it once per frontend and state and
-- runs the returned id with ENTRY_HTTP.
function I.program(req, res, service)
	local p = { req = {}, res = {} }
	for i, line in ipairs(req) do
		local ok, r = pcall(compile_rule, line, "http-req")
		if not ok then error("http_request[" .. (i - 1) .. "]: " .. tostring(r), 0) end
		p.req[i] = r
	end
	for i, line in ipairs(res) do
		local ok, r = pcall(compile_rule, line, "http-res")
		if not ok then error("http_response[" .. (i - 1) .. "]: " .. tostring(r), 0) end
		p.res[i] = r
	end
	if service ~= nil then
		p.service = I.services[service]
		if not p.service then
			error("use_service: no Lua service named '" .. service .. "' (core.register_service was not called for it)", 0)
		end
		if p.service.mode ~= "http" then
			error("use_service: Lua service '" .. service .. "' is a " .. p.service.mode .. " service, not http", 0)
		end
	end
	I.programs[#I.programs + 1] = p
	return #I.programs
end

-- The error handler for calls into scripts: sentinels pass through, real
-- errors get a traceback.
local function handler(e)
	if e == I.Done or e == I.CoreDone then return e end
	return I.traceback(e)
end

-- call runs fn(...) for stream s. It returns "ok" and fn's first result,
-- "done" after txn:done(), or "failed" after recording the error.
local function call(s, fn, ...)
	local ok, r = xpcall(fn, handler, ...)
	if ok or r == I.CoreDone then return "ok", ok and r or nil end
	if r == I.Done then return "done" end
	r = tostring(r)
	I.buf_append(s.err, r, #r)
	s.flags = bor(s.flags, I.F_FAILED)
	return "failed"
end
I.call = call

local function answer(s, status, text)
	I.write_reply(s, { status = status, headers = { ["content-type"] = "text/plain" }, body = status .. " " .. text .. "\n" })
end

-- run_rules runs the rules of one phase. It returns "continue" when the
-- transaction goes on, or "done" when it has an answer (or is aborted) or
-- failed.
local function run_rules(txn, rules)
	local s = txn[0]
	for i = 1, #rules do
		local r = rules[i]
		while true do
			local st, rc = call(s, r.fn, txn, unpack(r.args, 1, r.n))
			if st ~= "ok" then return "done" end
			rc = rc or act.CONTINUE
			if rc == act.YIELD then
				local co = coroutine.running()
				local ms = wake[co]
				wake[co] = nil
				if ms and ms > 0 then I.wait(s, I.OP_SLEEP, ms) else I.wait(s, I.OP_YIELD) end
			elseif rc == act.CONTINUE then
				break
			elseif rc == act.STOP then
				return "continue"
			elseif rc == act.DONE then
				if s.status == 0 then s.flags = bor(s.flags, I.F_ABORT) end
				return "done"
			elseif rc == act.DENY then
				answer(s, 403, "Forbidden")
				return "done"
			elseif rc == act.ERROR then
				answer(s, 500, "Internal Server Error")
				return "done"
			elseif rc == act.ABORT then
				s.flags = bor(s.flags, I.F_ABORT)
				return "done"
			elseif rc == act.INVALID then
				answer(s, 400, "Bad Request")
				return "done"
			else
				local msg = "action '" .. r.line .. "' returned " .. tostring(rc) .. ", not an act.* code"
				I.buf_append(s.err, msg, #msg)
				s.flags = bor(s.flags, I.F_FAILED)
				return "done"
			end
		end
	end
	return "continue"
end

-- response_starting runs the http-response rules once, just before the
-- response head leaves (AppletHTTP:start_response, the first send, or the
-- end of the service). It returns false when they replaced the response.
function I.response_starting(applet)
	local txn = rawget(applet, "__txn")
	if txn == nil or rawget(txn, "__res_done") then return true end
	rawset(txn, "__res_done", true)
	local p = rawget(txn, "__program")
	if #p.res == 0 then return true end
	return run_rules(txn, p.res) == "continue"
end

I.entries[I.ENTRY_HTTP] = function(s)
	local p = I.programs[s.entry_arg]
	local txn = I.new_txn(s)
	rawset(txn, "__program", p)
	if run_rules(txn, p.req) == "done" then return end
	if p.service == nil then
		answer(s, 503, "Service Unavailable")
		return
	end
	local applet = I.new_applet(s, txn)
	local st = call(s, p.service.fn, applet)
	if st == "ok" and bit.band(s.flags, I.F_STARTED) == 0 then
		I.response_starting(applet)
	end
end
