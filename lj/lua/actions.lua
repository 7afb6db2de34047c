-- Actions and the frontend program: core.register_action, the act table,
-- and the entry function that runs a frontend's http-request actions, its
-- service and its http-response actions in one coroutine.
-- Reference: HAProxy Lua API, core.register_action and class act.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local bor = bit.bor
local xpcall, type, tostring, unpack = xpcall, type, tostring, unpack

local act = {
	CONTINUE = 0, STOP = 1, YIELD = 2, ERROR = 3, DONE = 4, DENY = 5, ABORT = 6, INVALID = 7,
}
_G.act = act

-- Wake times set by act:wake_time, by request coroutine.
local wake = setmetatable({}, { __mode = "k" })

-- act.wake_time(ms): an action that returns act.YIELD runs again after
-- ms. It takes one argument, as in HAProxy: the method form
-- act:wake_time(ms) is an error there too.
function act.wake_time(...)
	if select("#", ...) ~= 1 then error("'wake_time' needs 1 arguments", 2) end
	local ms = ...
	if type(ms) ~= "number" then
		error("bad argument to 'act:wake_time' (milliseconds expected, got " .. type(ms) .. ")", 2)
	end
	wake[coroutine.running()] = ms
end

-- name -> phase ("http-req", ...) -> {fn=, nb_args=, stats=}. As in
-- HAProxy, registering a name for some phases leaves its other phases
-- as they were: one name may run one function on requests and another
-- on responses.
I.actions = {}

local phases = { ["http-req"] = true, ["http-res"] = true, ["tcp-req"] = true, ["tcp-res"] = true }

function core.register_action(name, actions, fn, nb_args)
	I.check_type("core.register_action", 1, name, "string")
	I.check_type("core.register_action", 2, actions, "table")
	I.check_type("core.register_action", 3, fn, "function")
	if nb_args ~= nil and (type(nb_args) ~= "number" or nb_args < 0) then
		error("bad argument #4 to 'core.register_action' (number of arguments expected)", 2)
	end
	for _, p in ipairs(actions) do
		if not phases[p] then
			error("core.register_action: unknown action type '" .. tostring(p) .. "' (http-req, http-res, tcp-req, tcp-res)", 2)
		end
	end
	local a = I.actions[name] or {}
	local entry = { fn = fn, nb_args = nb_args or 0, stats = I.record("action", name, fn) }
	for _, p in ipairs(actions) do a[p] = entry end
	I.actions[name] = a
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
I.split_rule = split

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
	a = a[phase]
	if not a then
		error("'" .. line .. "': action '" .. name .. "' is not registered for " .. phase, 0)
	end
	local args = { unpack(words, 2) }
	if #args ~= a.nb_args then
		error("'" .. line .. "': action '" .. name .. "' takes " .. a.nb_args .. " argument(s), got " .. #args, 0)
	end
	return { fn = a.fn, stats = a.stats, args = args, n = #args, line = line }
end

-- HAProxy's own error answers (its default error pages): status, reason
-- and the sentence of the body.
local errors = {
	[400] = { "Bad request", "Your browser sent an invalid request." },
	[403] = { "Forbidden", "Request forbidden by administrative rules." },
	[500] = { "Internal Server Error", "An internal server error occurred." },
	[502] = { "Bad Gateway", "The server returned an invalid or incomplete response." },
	[503] = { "Service Unavailable", "No server is available to handle this request." },
}

local answer_order = { "content-length", "cache-control", "content-type" }

-- answer answers with HAProxy's error page for status; close adds
-- connection: close (HAProxy's 400). With ctx, the http-after-response
-- rules run on it, as on every answer HAProxy makes.
local function answer(s, status, close, ctx)
	local e = errors[status]
	-- In HAProxy's order; the content-length is the body's.
	local headers = { ["content-length"] = { "" }, ["cache-control"] = { "no-cache" }, ["content-type"] = { "text/html" } }
	if close then headers.connection = { "close" } end
	I.write_reply(s, { status = status, reason = e[1], headers = headers, [I.REPLY_ORDER] = answer_order,
		body = "<html><body><h1>" .. status .. " " .. e[1] .. "</h1>\n" .. e[2] .. "\n</body></html>\n" })
	if ctx then I.run_after(ctx) end
end
I.http_error = answer

-- step acts on the code rule r returned. It returns nil to go on with the
-- next rule, "continue" when the phase ends early (act.STOP), "skip" when
-- the request rules end and the request goes on without the service
-- (act.DONE: in HAProxy the service is one of those rules), "miss" when a
-- tcp-request or tcp-response rule is undecided (below), or "done" when
-- the transaction has its answer (or is aborted). An action that returns
-- act.YIELD is called again after its wake time; in the tcp-request and
-- tcp-response rules, without a wake time, it is undecided: the rules run
-- again from the first when more bytes came (the client's, the
-- server's), and on their last run (the inspect delay passed, the side
-- ended, or its input is full) it counts as a rule that did not match, as
-- an ACL that needs more data in HAProxy.
local function step(txn, ctx, r, rc)
	local s = ctx.s
	if rc == act.YIELD and ctx.tcp and not wake[coroutine.running()] then
		if ctx.tcp_stage == "res" then
			if I.res_final(s, ctx) then return nil end
			return "miss"
		elseif ctx.tcp_stage == "req" then
			if I.req_final(s, ctx) then return nil end
			return "miss"
		end
	end
	while rc == act.YIELD do
		local co = coroutine.running()
		local ms = wake[co]
		wake[co] = nil
		if ms and ms > 0 then I.wait(ctx, I.OP_SLEEP, ms) else I.wait(ctx, I.OP_YIELD) end
		I.enter(ctx, r.stats)
		rc = r.fn(txn, unpack(r.args, 1, r.n))
		I.leave(ctx, false)
	end
	if rc == nil or rc == act.CONTINUE then
		return nil
	elseif rc == act.STOP then
		return "continue"
	elseif ctx.tcp and type(rc) == "number" and rc >= act.DONE and rc <= act.INVALID then
		-- A TCP connection has no answer to make: every end closes it
		-- (after what a script sent, e.g. with txn.res:send).
		I.abort(s, ctx)
	elseif ctx.stage == "res" or ctx.stage == "after" then
		-- On a response, DONE sends it as it stands (skipping the rules
		-- left); refusing it is the gateway's failure, 502.
		if rc == act.DONE then return "continue" end
		if rc == act.ERROR then
			answer(s, 500, false, ctx)
		elseif rc == act.ABORT then
			s.flags = bor(s.flags, I.F_ABORT)
		elseif rc == act.DENY or rc == act.INVALID then
			answer(s, 502, false, ctx)
		else
			error("action '" .. r.line .. "' returned " .. tostring(rc) .. ", not an act.* code", 0)
		end
	elseif rc == act.DONE then
		return "skip"
	elseif rc == act.DENY then
		I.track_error(s) -- a denied request counts as an error, as in HAProxy
		answer(s, 403, false, ctx)
	elseif rc == act.ERROR then
		answer(s, 500, false, ctx)
	elseif rc == act.ABORT then
		answer(s, 503, false, ctx) -- HAProxy 2.6 answers so
	elseif rc == act.INVALID then
		answer(s, 400, true, ctx)
	else
		error("action '" .. r.line .. "' returned " .. tostring(rc) .. ", not an act.* code", 0)
	end
	return "done"
end

-- chain compiles a list of rules into one function without a loop: LuaJIT
-- aborts traces at short loops, and the rules run on every request. It
-- returns "continue" or "done" (see step). Scripts are called directly, not
-- through pcall, so they compile into the same trace; their errors reach
-- the runner's xpcall, which ends the accounting of the call (I.leave).
-- ctx.rule records the running rule for the continue entry.
local function chain(rules)
	local src = { "local rules, step, unpack, enter, leave = ...\nreturn function(txn, ctx)\n" }
	for i = 1, #rules do
		-- The arguments are spelled out: unpack ends a trace.
		local args = { "txn" }
		for j = 1, rules[i].n do args[#args + 1] = "r.args[" .. j .. "]" end
		src[#src + 1] = string.format(
			"do local r = rules[%d]; ctx.rule = %d; enter(ctx, r.stats); local rc = r.fn(%s); leave(ctx, false); local v = step(txn, ctx, r, rc); if v then return v end end\n",
			i, i, table.concat(args, ", "))
	end
	src[#src + 1] = "return 'continue'\nend\n"
	return assert(loadstring(table.concat(src), "=luaedge/rules"))(rules, step, unpack, I.enter, I.leave)
end

-- run_from runs rules[from..] the slow way, after core.done().
local function run_from(txn, ctx, rules, from)
	for i = from, #rules do
		local r = rules[i]
		ctx.rule = i
		I.enter(ctx, r.stats)
		local rc = r.fn(txn, unpack(r.args, 1, r.n))
		I.leave(ctx, false)
		local v = step(txn, ctx, r, rc)
		if v then return v end
	end
	return "continue"
end

I.programs = {}

-- program compiles a frontend: its http_request and http_response rules
-- and its service (or nil). Go calls it once per frontend and state and
-- runs the returned id with ENTRY_HTTP.
function I.program(req, res, service, forward, mode, own_table, track_table, fail_on_error)
	mode = mode or "http"
	-- Stick tables of the src_* and sc_* fetches (fetches.lua); nil: none.
	local p = { req = {}, res = {}, mode = mode, fail_on_error = fail_on_error, own_table = own_table ~= "" and own_table or nil, track_table = track_table ~= "" and track_table or nil }
	for i, line in ipairs(req) do
		local ok, r = pcall(compile_rule, line, mode .. "-req")
		if not ok then error(mode .. "_request[" .. (i - 1) .. "]: " .. tostring(r), 0) end
		p.req[i] = r
	end
	for i, line in ipairs(res) do
		local ok, r = pcall(compile_rule, line, mode .. "-res")
		if not ok then error(mode .. "_response[" .. (i - 1) .. "]: " .. tostring(r), 0) end
		p.res[i] = r
	end
	if service ~= nil then
		p.service = I.services[service]
		if not p.service then
			error("use_service: no Lua service named '" .. service .. "' (core.register_service was not called for it)", 0)
		end
		if p.service.mode ~= mode then
			error("use_service: Lua service '" .. service .. "' is a " .. p.service.mode .. " service, not " .. mode, 0)
		end
	end
	p.forward = service == nil and forward
	p.run_req, p.run_res = chain(p.req), chain(p.res)
	-- A service without rules needs no transaction object.
	p.plain = p.service ~= nil and #p.req == 0 and #p.res == 0
	I.programs[#I.programs + 1] = p
	return #I.programs
end

-- set_after gives HTTP program id its http_after_response rules: actions
-- registered for http-res, run once on every response the transaction
-- sends (the service's, the server's, and the answers rules, txn:done
-- and luaedge make), after the http-response rules.
function I.set_after(id, rules)
	local p = I.programs[id]
	if #rules == 0 then return end
	p.after = {}
	for i, line in ipairs(rules) do
		local ok, r = pcall(compile_rule, line, "http-res")
		if not ok then error("http_after_response[" .. (i - 1) .. "]: " .. tostring(r), 0) end
		p.after[i] = r
	end
	p.run_after, p.plain, p.wait_res = chain(p.after), false, true
end

-- set_captures gives program id its capture slots ({header =, len =}
-- lists, or nil): header slots are filled from each request head before
-- the rules, and from each response head before the http-response rules.
function I.set_captures(id, req, res)
	local p = I.programs[id]
	p.cap_req, p.cap_res, p.plain = req, res, false
	if res then p.wait_res = true end
end

-- set_cookie_capture has program id capture a cookie (HAProxy's capture
-- cookie): from the request once its rules ran, from each response head
-- before the http-response rules.
function I.set_cookie_capture(id, name, len)
	local p = I.programs[id]
	p.cap_cookie, p.plain, p.wait_res = { name = name, len = len }, false, true
end

-- run_after runs the http_after_response rules once per transaction, on
-- the response it has now. An error in them is logged (F_ERR_LOG) and the
-- response goes as it is: they run inside another step of the
-- transaction (a service starting its response, txn:done), which goes on.
function I.run_after(ctx)
	local p = ctx.program
	local txn = ctx.cur
	if not p or not p.run_after or ctx.after_done or not txn then return end
	ctx.after_done = true
	-- The function running (the service, or the action that called
	-- txn:done) is accounted up to here; the rules are their own.
	local call = ctx.call
	if call then I.leave(ctx, false) end
	local stage = ctx.stage
	ctx.stage = "after"
	local ok, err = pcall(p.run_after, txn, ctx)
	ctx.stage = stage
	if call then
		ctx.call, ctx.t0, ctx.b0 = call, I.mono_us(), I.loop.allocated
	end
	if ok or err == I.Done or err == I.CoreDone then return end
	if err == "not enough memory" or I.loop.timed_out ~= 0 then error(err, 0) end
	local s = ctx.s
	err = tostring(err)
	I.buf_append(s.err, err, #err)
	s.flags = bor(s.flags, I.F_ERR_LOG)
end

-- response_head runs what each response head of a transaction goes
-- through before its http-response rules: the response header captures,
-- and the error count of a tracked 4xx.
local function response_head(s, p)
	-- A service that set no status answers 200: its rules read it.
	if s.status == 0 then s.status = 200 end
	if p.cap_res then I.capture_headers(s, p.cap_res, true) end
	if p.cap_cookie then I.capture_cookie(s, true) end
	if s.status >= 400 and s.status < 500 then I.track_error(s) end
end

-- response_starting runs the http-response rules once, just before the
-- response head leaves (AppletHTTP:start_response, or the 500 of a
-- service that never called it). It returns false when they replaced the
-- response.
function I.response_starting(ctx)
	local txn = ctx.applet_txn
	if not txn or ctx.res_done then return true end
	ctx.res_done = true
	local p = ctx.program
	response_head(ctx.s, p)
	if #p.res == 0 and not p.run_after then
		if p.hooks then return I.hooks_before_response(ctx, false) end
		return true
	end
	-- The service's call is accounted up to here; the rules are their own.
	local svc = ctx.call
	if svc then I.leave(ctx, false) end
	-- The service goes on after the rules: its errors stay a service's
	-- (a 500, or a cut connection once the head left), not a rule's.
	local stage = ctx.stage
	ctx.stage = "res"
	local ok = p.run_res(txn, ctx) == "continue"
	ctx.stage = stage
	I.run_after(ctx)
	if svc then
		ctx.call, ctx.t0, ctx.b0 = svc, I.mono_us(), I.loop.allocated
	end
	-- Hook scripts see the head the rules leave (or their answer).
	if p.hooks then ok = I.hooks_before_response(ctx, false) and ok end
	return ok
end

-- unanswered ends a service that returned (or called core.done) without
-- starting its response. HAProxy answers 500 then, dropping what the
-- service set, and the http-response rules run on that answer as on any
-- a service sends.
local function unanswered(s, ctx)
	if bit.band(s.flags, I.F_STARTED) ~= 0 then return end
	answer(s, 500)
	I.response_starting(ctx)
end

-- service runs the program's service; one that never started its
-- response gets HAProxy's 500.
local function service(s, ctx, txn, p)
	-- txn.service, set by a request action, overrides the frontend's.
	local svc = ctx.service or p.service
	if svc == nil then
		answer(s, 503, false, ctx)
		return
	end
	ctx.stage = "service"
	s.service = svc.id
	local applet = I.applet_of(ctx, txn)
	I.enter(ctx, svc.stats)
	svc.fn(applet)
	I.leave(ctx, false)
	unanswered(s, ctx)
end

-- forward hands the request to Go for a backend. With http-response or
-- http_after_response rules, response captures, counters tracked or an
-- access log reading the response, the coroutine waits for the response
-- head and runs them on it; without, it is done (one crossing for the
-- whole request).
local function forward(s, ctx, txn, p)
	if p.filters and not I.filters_req_headers(s, ctx, txn) then return end
	s.flags = bor(s.flags, I.F_FORWARD)
	if p.filters and not I.filters_req_body(s, ctx, txn) then return end
	if #p.res == 0 and not p.wait_res and not I.tracking(s) and not (p.hooks and I.hooks_want_head(ctx)) then return end
	I.wait(ctx, I.OP_FORWARD)
	-- The exchange ended without a head (the server failed, the client
	-- left): only the hooks' after_response is left to run.
	if bit.band(s.flags, I.F_AFTER) ~= 0 then return end
	I.vars.end_req(ctx)
	if p.filters and not I.filters_res_start(s, ctx, txn) then return end
	ctx.stage = "res"
	ctx.res_done = true
	response_head(s, p)
	p.run_res(txn, ctx)
	-- Filters see the server's response, not an answer the rules made.
	local filters = p.filters and bit.band(s.flags, bor(I.F_STARTED, I.F_ABORT)) == 0
	if filters and not I.filters_res_headers(s, ctx, txn) then return end
	I.run_after(ctx)
	if p.hooks then I.hooks_before_response(ctx, true) end
	if filters and bit.band(s.flags, bor(I.F_STARTED, I.F_ABORT)) == 0 then I.filters_res_body(s, ctx, txn) end
end

-- after_req goes on once the request rules returned v (see step):
-- forwarding, or the service, which act.DONE skips; a service chosen by
-- a rule (txn.service) answers even on a frontend that forwards.
local function after_req(s, ctx, txn, p, v)
	-- HAProxy reads the request's cookies once its rules ran.
	if p.cap_cookie then I.capture_cookie(s, false) end
	if p.hooks then I.hooks_after_request(s, ctx) end
	if v == "done" then return end
	if p.forward and ctx.service == nil then
		forward(s, ctx, txn, p)
	elseif v == "skip" then
		answer(s, 503, false, ctx)
	else
		service(s, ctx, txn, p)
	end
end

I.entries[I.ENTRY_HTTP] = function(s, ctx)
	local p = I.programs[s.entry_arg]
	-- Hook scripts' before_request first (hooks.lua); set_finish there
	-- answers the request.
	if p.hooks and I.hooks_begin(s, ctx, p) then return end
	if p.plain then
		local svc = p.service
		ctx.stage = "service"
		s.service = svc.id
		local applet = I.applet_of(ctx, false)
		I.enter(ctx, svc.stats)
		svc.fn(applet)
		I.leave(ctx, false)
		unanswered(s, ctx)
		return
	end
	local txn = I.txn_of(ctx, p)
	ctx.cur = txn
	if p.cap_req then I.capture_headers(s, p.cap_req, false) end
	if p.filters and not I.filters_begin(s, ctx, txn, p) then return end
	after_req(s, ctx, txn, p, p.run_req(txn, ctx))
end

-- recover lets an HTTP transaction go on after an action raised err, as
-- HAProxy does: the error is handed to Go to log (F_ERR_LOG) and the
-- runner continues with the next rule. A service that fails before
-- starting its response gets HAProxy's 500 the same way (F_SVC_ERR), as
-- one that never started it. A frontend with on_error: fail (for
-- actions), a service's error once its response started, running out of
-- memory or an execution timeout end the request.
function I.recover(s, ctx, err)
	if s.entry ~= I.ENTRY_HTTP or err == I.Done or err == "not enough memory" or I.loop.timed_out ~= 0 then return false end
	local stage = ctx.stage
	local flags = I.F_ERR_LOG
	if stage == "service" then
		if bit.band(s.flags, I.F_STARTED) ~= 0 then return false end
		flags = bor(flags, I.F_SVC_ERR)
	elseif ctx.cur == nil or (stage ~= "req" and stage ~= "res") or ctx.program.fail_on_error then
		return false
	end
	err = tostring(err)
	I.buf_append(s.err, err, #err)
	s.flags = bor(s.flags, flags)
	return true
end

-- continue goes on with the transaction after core.done() stopped the
-- running action (next rule) or service (the response as it stands, or
-- HAProxy's 500 when it never started one).
I.continues[I.ENTRY_HTTP] = function(s, ctx)
	local txn = ctx.cur
	if txn == nil then
		-- A service without rules stopped: its response stands, if it
		-- started one.
		unanswered(s, ctx)
		return
	end
	local p = ctx.program
	local stage = ctx.stage
	if stage == "req" then
		after_req(s, ctx, txn, p, run_from(txn, ctx, p.req, ctx.rule + 1))
	elseif stage == "service" then
		unanswered(s, ctx)
	elseif stage == "res" then
		run_from(txn, ctx, p.res, ctx.rule + 1)
		I.run_after(ctx)
	end
end
