-- Hook scripts (docs/hooks.md), in the model of Burro's Lua plugin: a
-- folder per script, a file per lifecycle event, each script in an
-- environment of its own with the globals ctx, mut, log, kv, bus,
-- artifacts, data_store, time, base64 and json (and err, msg, opts in
-- the hooks that have them). Go reads the folders (lj/hooks.go) and
-- loads each script with I.hooks_load; a frontend's program gets its
-- scripts with I.program_hooks.
--
-- A request's hooks run in its own coroutine, in the resumes its actions
-- and service run in (actions.lua calls the I.hooks_* functions below):
-- before_request and after_request in the first, before_response when
-- the head is ready, after_response in a resume of its own once Go has
-- handed the response over (the coroutine waits with OP_AFTER).
-- connect, close and flush run as entries of their own (ENTRY_CONNECT,
-- ENTRY_CLOSE, ENTRY_FLUSH); the ws_* hooks in the WebSocket's service
-- (websocket.lua) or, for a forwarded WebSocket, in its relay's runs.
--
-- ctx, mut, err, msg and opts always find the request whose hook runs:
-- a hook that waits (kv on a remote store) and another request's hook
-- running meanwhile never see each other's request (see globals and
-- own_fns).
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local band, bor = bit.band, bit.bor
local ffi_string = ffi.string
local type, tostring, tonumber, pairs, error = type, tostring, tonumber, pairs, error
local xpcall, rawget, setmetatable, newproxy, getmetatable = xpcall, rawget, setmetatable, newproxy, getmetatable
local ipairs, unpack = ipairs, unpack
local co_running = coroutine.running
local running = I.running
local clock, loop = I.mono_us, I.loop
local span = I.span
local buf_append = I.buf_append
local F_STARTED, F_BODY_END, F_FAILED, F_ABORT = I.F_STARTED, I.F_BODY_END, I.F_FAILED, I.F_ABORT

-- The files a script folder may hold, besides _shared.lua.
local HOOKS = {
	"connect", "before_request", "after_request", "before_response", "after_response",
	"error", "close", "ws_open", "ws_msg", "ws_close", "flush",
}

I.hook_scripts = {} -- by name: { name=, env=, fns = { hook = { make=, stats= } } }
local flush_list = {} -- the scripts with a flush.lua, in priority order
local seq = 0 -- numbers the hooked requests of this state (ctx.id)

-- proxy returns a userdata whose fields are t's, read-only: the tables
-- every script shares cannot be changed by one of them.
local function proxy(name, t, index)
	local u = newproxy(true)
	local mt = getmetatable(u)
	mt.__index = index or t
	mt.__newindex = function(_, k)
		error(name .. " is read-only (cannot set " .. tostring(k) .. ")", 2)
	end
	mt.__metatable = false
	mt.__tostring = function() return name end
	return u
end

-- The running hook --------------------------------------------------------

-- state returns the stream, coroutine context and hook state of the
-- running hook, or raises an error naming what (a global used outside a
-- hook: in _shared.lua's body, a service, an action).
local function state(what)
	local ctx = running[co_running()]
	local hk = ctx and ctx.hk
	if hk == nil or not hk.hook then
		error(what .. ": only inside a hook", 4)
	end
	return ctx.s, ctx, hk
end

-- begin readies the coroutine's hook state for a request (or connection
-- event) of program p. The table is the coroutine's, reused; every key
-- exists from its creation, so resetting stores into existing slots.
local function begin(ctx, p)
	local hk = ctx.hk
	if hk == nil then
		hk = {
			p = false, id = 0, hook = false, phase = false,
			finish = false, stop = false, resp = false, resp_seen = false, server = false,
			replaced = false, rpend = false, hdrs = false, cookies = false, rhdrs = false,
			body = false, err = false, msg = false, opts = false, ws = false, failed = false,
			-- Kept: bound to this coroutine (ctx.req, ctx.resp, the globals of
			-- hook files, their functions by script; see own_fns).
			reqo = false, respo = false, g = false, envs = {},
		}
		ctx.hk = hk
	else
		hk.hook, hk.phase, hk.finish, hk.stop = false, false, false, false
		hk.resp, hk.resp_seen, hk.server, hk.replaced, hk.rpend = false, false, false, false, false
		hk.hdrs, hk.cookies, hk.rhdrs, hk.body = false, false, false, false
		hk.err, hk.msg, hk.opts, hk.ws, hk.failed = false, false, false, false, false
	end
	seq = seq + 1
	hk.p, hk.id = p, seq
	return hk
end

local traceback_of = debug.traceback
local function traceback(e)
	if e == I.CoreDone or e == I.Done or e == "not enough memory" then return e end
	if type(e) ~= "string" then e = tostring(e) end
	return traceback_of(e, 2)
end

-- log_error hands a hook's failure to Go's log, its traceback without
-- luaedge's own frames.
local function log_error(sc, hook, msg)
	local out = {}
	for line in (msg .. "\n"):gmatch("(.-)\n") do
		if not line:find("^%s*luaedge/") and not line:find("^%s*%[C%]: in function 'xpcall'") then
			out[#out + 1] = line
		end
	end
	I.gocall(I.go.hook_log, "error", sc.name, "hook failed", "hook", hook, "err", table.concat(out, "\n"))
end

local call, own_fns

-- failed counts and logs a hook's error, then runs the script's
-- error.lua with err.msg (not for a failure of error.lua itself).
local function failed(s, ctx, hk, sc, hook, e)
	log_error(sc, hook, e)
	if hook == "error" or sc.fns.error == nil then return end
	local msg = e:match("^(.-)\nstack traceback:") or e
	local prev = hk.err
	hk.err = { msg = msg, hook = hook }
	call(s, ctx, hk, sc, "error")
	hk.err = prev
end

-- call runs hook of script sc, accounted as a function of its own
-- (kind "hook", name SCRIPT/HOOK) even inside a service (ws hooks), the
-- time its request was parked left out. An error is logged and counted
-- and runs error.lua; running out of memory and the CPU limit's stop end
-- the request as they would any script.
function call(s, ctx, hk, sc, hook)
	local h = sc.fns[hook]
	local fns = hk.envs[sc]
	if fns == nil then
		fns = own_fns(ctx, hk, sc)
		hk.envs[sc] = fns
	end
	local st = h.stats
	st.calls = st.calls + 1
	local t0, b0, p0, q0 = clock(), loop.allocated, ctx.parked, ctx.parked_alloc
	local prev = hk.hook
	hk.hook = hook
	local ok, e = xpcall(fns[hook], traceback)
	hk.hook = prev
	st.time = st.time + (clock() - t0) - (ctx.parked - p0)
	st.alloc = st.alloc + (loop.allocated - b0) - (ctx.parked_alloc - q0)
	if ok or e == I.CoreDone then return end
	if e == "not enough memory" or e == I.Done or loop.timed_out ~= 0 then error(e, 0) end
	st.errors = st.errors + 1
	failed(s, ctx, hk, sc, hook, tostring(e))
end

-- runner compiles the calls of hook of each script of list, in order,
-- into one function without a loop (a short loop would end the LuaJIT
-- trace of the request, as for actions.lua's rules); set_finish stops
-- them. false when list is empty.
local function runner(list, hook)
	if #list == 0 then return false end
	local src = { "local list, call = ...\nreturn function(s, ctx, hk)\n" }
	for i = 1, #list do
		src[#src + 1] = string.format("call(s, ctx, hk, list[%d], %q) if hk.stop then return end\n", i, hook)
	end
	src[#src + 1] = "end\n"
	return assert(loadstring(table.concat(src), "=luaedge/hooks_run"))(list, call)
end

-- run runs the hooks of r (a runner) as the hooks of phase.
local function run(s, ctx, hk, r, phase)
	local prev = hk.phase
	hk.phase, hk.stop = phase, false
	r(s, ctx, hk)
	hk.phase = prev
end

-- Reading the request (ctx.req) -------------------------------------------

local function has(s, flag) return band(s.flags, flag) ~= 0 end

local function proto(s)
	if s.major == 2 then return "HTTP/2.0" end
	return "HTTP/" .. s.major .. "." .. s.minor
end

local function scheme(s)
	if s.scheme.len == 0 then return "http" end
	return span(s, s.scheme)
end

local function target(s)
	local t = span(s, s.path)
	if s.query.len > 0 then t = t .. "?" .. span(s, s.query) end
	return t
end

-- field_table makes name -> value of n fields of buffer base; a repeated
-- field's values are joined with ", " (with "\n" for set-cookie, whose
-- values hold commas). The first 16 fields are unrolled, as http.lua's
-- collect is: a short loop would end the request's trace.
local function add_field(t, base, f)
	if f.name.len == 0 then return end -- deleted
	local name = ffi_string(base + f.name.off, f.name.len)
	local value = ffi_string(base + f.value.off, f.value.len)
	local cur = t[name]
	if cur == nil then
		t[name] = value
	else
		t[name] = cur .. (name == "set-cookie" and "\n" or ", ") .. value
	end
end
local field_table = assert(loadstring((function()
	local src = { "local add, new = ...\nreturn function(base, fields, n)\nlocal t = new(0, n)\n" }
	for i = 0, 15 do
		src[#src + 1] = string.format("if n > %d then add(t, base, fields[%d]) else return t end\n", i, i)
	end
	src[#src + 1] = "for i = 16, n - 1 do add(t, base, fields[i]) end\nreturn t\nend\n"
	return table.concat(src)
end)(), "=luaedge/hooks_fields"))(add_field, require("table.new"))

local function req_headers(s, hk)
	local h = hk.hdrs
	if not h then
		h = field_table(s.head.p, s.fields, s.nfields)
		hk.hdrs = h
	end
	return h
end

-- parse_cookies reads a Cookie field's "a=1; b=2" into t.
local function parse_cookies(t, v)
	for pair in v:gmatch("[^;]+") do
		local name, value = pair:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
		if name and name ~= "" then t[name] = value end
	end
	return t
end

-- wait_body waits until the whole request body is in (Go reads it on
-- while the coroutine waits): only a hook that reads or replaces the
-- body pays for it.
local function wait_body(s, ctx)
	while not has(s, F_BODY_END) do I.wait(ctx, I.OP_RECV) end
end

local req_get = {
	proto = proto,
	host = function(s) return span(s, s.authority) end,
	scheme = scheme,
	method = function(s) return span(s, s.method) end,
	path = function(s) return span(s, s.path) end,
	query = function(s) return span(s, s.query) end,
	url = function(s) return scheme(s) .. "://" .. span(s, s.authority) .. target(s) end,
	remote_addr = function(s)
		local ip = span(s, s.src)
		if ip:find(":", 1, true) then ip = "[" .. ip .. "]" end
		return ip .. ":" .. s.src_port
	end,
	headers = function(s, ctx, hk) return req_headers(s, hk) end,
	cookies = function(s, ctx, hk)
		local c = hk.cookies
		if not c then
			c = {}
			local v = req_headers(s, hk).cookie
			if v then parse_cookies(c, (v:gsub(", ", "; "))) end
			hk.cookies = c
		end
		return c
	end,
	-- Read in before_request and after_request (and kept for the hooks
	-- after); the stream's body is the WebSocket's messages after.
	body = function(s, ctx, hk)
		local b = hk.body
		if not b then
			local ph = hk.phase
			if ph ~= "before_request" and ph ~= "after_request" then return nil end
			wait_body(s, ctx)
			b = ffi_string(s.body.p + s.body_pos, s.body.len - s.body_pos)
			hk.body = b
		end
		return b
	end,
	content_length = function(s) return tonumber(s.content_length) end,
}

-- getter returns the object of ctx.req or ctx.resp (name) for the
-- coroutine of context ctx, its hook state hk: bound to them, so that
-- reading a field costs no lookup of the running coroutine. Like a TXN,
-- it is the coroutine's, and reads its request of the moment.
local function getter(name, get, ctx, hk, ready)
	local u = newproxy(true)
	local mt = getmetatable(u)
	mt.__index = function(_, k)
		local f = get[k]
		if f == nil then return nil end
		if not hk.hook then error(name .. ": only inside a hook", 2) end
		if ready and not hk.resp then return nil end
		return f(ctx.s, ctx, hk)
	end
	mt.__newindex = function() error(name .. " is read-only (mut changes the request and response)", 2) end
	mt.__metatable = false
	mt.__tostring = function() return name end
	return u
end

-- Reading the response (ctx.resp), once its head is there -----------------

-- resp_status is the status sent: 0 when none was (the client left).
local function resp_status(s, hk)
	if hk.failed then return 500 end
	local st = s.status
	if st == 0 then return (hk.resp_seen or has(s, F_STARTED)) and 200 or 0 end
	return st
end

local function resp_headers(s, hk)
	local h = hk.rhdrs
	if not h then
		h = field_table(s.resp.p, s.rfields, s.nrfields)
		hk.rhdrs = h
	end
	return h
end

local resp_get = {
	status = function(s, ctx, hk)
		local code = resp_status(s, hk)
		local reason
		if s.reason.len > 0 and not hk.failed then
			reason = ffi_string(s.resp.p + s.reason.off, s.reason.len)
		else
			reason = I.status_text[code] or ""
		end
		return code .. " " .. reason
	end,
	status_code = function(s, ctx, hk) return resp_status(s, hk) end,
	proto = proto,
	headers = function(s, ctx, hk) return resp_headers(s, hk) end,
	-- The body of an answer luaedge's scripts made, before it leaves; a
	-- server's is relayed as it comes, never held.
	body = function(s, ctx, hk)
		if hk.server or hk.phase ~= "before_response" then return nil end
		return ffi_string(s.out.p, s.out.len)
	end,
	content_length = function(s, ctx, hk)
		return tonumber(resp_headers(s, hk)["content-length"]) or -1
	end,
}



-- ctx ---------------------------------------------------------------------

local ctx_get = {
	id = function(s, ctx, hk) return string.format("%x-%x", tonumber(s.conn_id), hk.id) end,
	session_id = function(s) return string.format("%x", tonumber(s.conn_id)) end,
	is_finished = function(s, ctx, hk) return hk.finish end,
	req = function(s, ctx, hk)
		local o = hk.reqo
		if not o then
			o = getter("ctx.req", req_get, ctx, hk, false)
			hk.reqo = o
		end
		return o
	end,
	resp = function(s, ctx, hk)
		local o = hk.respo
		if not o then
			o = getter("ctx.resp", resp_get, ctx, hk, true)
			hk.respo = o
		end
		return o
	end,
}

-- mut ---------------------------------------------------------------------

local function need_string(fname, n, v)
	if type(v) ~= "string" then
		error("bad argument #" .. n .. " to '" .. fname .. "' (string expected, got " .. type(v) .. ")", 3)
	end
end

-- The functions of mut take the coroutine's context and hook state
-- first (globals() binds them).
local function req_target(ctx, hk, fname)
	if hk.phase ~= "before_request" then
		return nil, fname .. ": the request can be changed in before_request only (not in " .. tostring(hk.phase) .. ")"
	end
	return ctx.s
end

local function req_del(s, name) I.del_fields(s, 0, name, #name) end
local function req_add(s, name, value)
	if I.head_full(s, false, #name + #value) then error("the request head " .. I.HEAD_FULL, 3) end
	if I.add_field(s, name, #name, value, #value) ~= 0 then error("out of memory", 3) end
end

local function value_of(fname, v)
	if type(v) == "number" then return tostring(v) end
	need_string(fname, 2, v)
	return v
end

-- set_cookies rewrites the request's Cookie field from list (pairs in
-- their order).
local function set_cookies(s, list)
	req_del(s, "cookie")
	if #list > 0 then
		local parts = {}
		for i, c in ipairs(list) do parts[i] = c[1] .. "=" .. c[2] end
		req_add(s, "cookie", table.concat(parts, "; "))
	end
end

local function cookie_list(s, hk)
	local list = {}
	local v = req_headers(s, hk).cookie
	if v then
		for pair in (v:gsub(", ", "; ")):gmatch("[^;]+") do
			local name, value = pair:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
			if name and name ~= "" then list[#list + 1] = { name, value } end
		end
	end
	return list
end

local mut_req = {}

function mut_req.set_header(ctx, hk, name, value)
	local s, err = req_target(ctx, hk, "mut.req.set_header")
	if not s then return nil, err end
	need_string("set_header", 1, name)
	name = name:lower()
	value = value_of("set_header", value)
	req_del(s, name)
	req_add(s, name, value)
	hk.hdrs, hk.cookies = false, false
	return true
end

function mut_req.add_header(ctx, hk, name, value)
	local s, err = req_target(ctx, hk, "mut.req.add_header")
	if not s then return nil, err end
	need_string("add_header", 1, name)
	req_add(s, name:lower(), value_of("add_header", value))
	hk.hdrs, hk.cookies = false, false
	return true
end

function mut_req.del_header(ctx, hk, name)
	local s, err = req_target(ctx, hk, "mut.req.del_header")
	if not s then return nil, err end
	need_string("del_header", 1, name)
	req_del(s, name:lower())
	hk.hdrs, hk.cookies = false, false
	return true
end

function mut_req.set_host(ctx, hk, host)
	local s, err = req_target(ctx, hk, "mut.req.set_host")
	if not s then return nil, err end
	need_string("set_host", 1, host)
	if host == "" or host:find("[%c%s/?#@]") then error("set_host: invalid host '" .. host .. "'", 2) end
	I.req_put(s, host, s.authority, "set_host")
	req_del(s, "host")
	req_add(s, "host", host)
	hk.hdrs = false
	return true
end

function mut_req.set_scheme(ctx, hk, sch)
	local s, err = req_target(ctx, hk, "mut.req.set_scheme")
	if not s then return nil, err end
	if sch ~= "http" and sch ~= "https" then error("set_scheme: \"http\" or \"https\"", 2) end
	I.req_put(s, sch, s.scheme, "set_scheme")
	return true
end

function mut_req.set_method(ctx, hk, method)
	local s, err = req_target(ctx, hk, "mut.req.set_method")
	if not s then return nil, err end
	need_string("set_method", 1, method)
	if not method:match("^[%w!#$%%&'*+%-.^_`|~]+$") then error("set_method: invalid method '" .. method .. "'", 2) end
	I.req_put(s, method, s.method, "set_method")
	return true
end

function mut_req.set_path(ctx, hk, path)
	local s, err = req_target(ctx, hk, "mut.req.set_path")
	if not s then return nil, err end
	need_string("set_path", 1, path)
	if path:sub(1, 1) ~= "/" or path:find("[%c %?#]") then error("set_path: invalid path '" .. path .. "'", 2) end
	I.req_put(s, path, s.path, "set_path")
	I.set_target(s)
	return true
end

-- set_url takes "/path?query" or "scheme://host/path?query".
function mut_req.set_url(ctx, hk, url)
	local s, err = req_target(ctx, hk, "mut.req.set_url")
	if not s then return nil, err end
	need_string("set_url", 1, url)
	if url == "" or url:find("[%c %#]") then error("set_url: invalid url '" .. url .. "'", 2) end
	local sch, host, rest = url:match("^(%a[%w+.-]*)://([^/?]+)(.*)$")
	if sch then
		sch = sch:lower()
		if sch ~= "http" and sch ~= "https" then error("set_url: the scheme must be http or https", 2) end
		I.req_put(s, sch, s.scheme, "set_url")
		I.req_put(s, host, s.authority, "set_url")
		req_del(s, "host")
		req_add(s, "host", host)
		url = rest ~= "" and rest or "/"
	elseif url:sub(1, 1) ~= "/" then
		error("set_url: want /path?query or scheme://host/path?query, got '" .. url .. "'", 2)
	end
	local path, query = url:match("^([^?]*)%??(.*)$")
	if path == "" then path = "/" end
	I.req_put(s, path, s.path, "set_url")
	I.req_put(s, query, s.query, "set_url")
	I.set_target(s)
	hk.hdrs = false
	return true
end

-- set_body replaces the request body (after the whole of it arrived):
-- the backend or service gets the new one, with its content-length.
function mut_req.set_body(ctx, hk, body)
	local s, err = req_target(ctx, hk, "mut.req.set_body")
	if not s then return nil, err end
	body = value_of("set_body", body)
	wait_body(s, ctx)
	s.body.len, s.body_pos = 0, 0
	if buf_append(s.body, body, #body) ~= 0 then error("set_body: out of memory", 2) end
	s.content_length = #body
	req_del(s, "transfer-encoding")
	req_del(s, "content-length")
	local n = tostring(#body)
	req_add(s, "content-length", n)
	hk.hdrs, hk.body = false, body
	return true
end

-- set_cookie("name=value") or set_cookie{name=, value=}: sets one cookie
-- of the request's Cookie field.
function mut_req.set_cookie(ctx, hk, cookie)
	local s, err = req_target(ctx, hk, "mut.req.set_cookie")
	if not s then return nil, err end
	local name, value
	if type(cookie) == "table" then
		name, value = cookie.name, cookie.value
	elseif type(cookie) == "string" then
		name, value = cookie:match("^%s*([^=;]+)=([^;]*)$")
	end
	if type(name) ~= "string" or name == "" or name:find("[%c%s=;,]") then
		error("set_cookie: want \"name=value\" or {name=, value=}", 2)
	end
	value = tostring(value or "")
	if value:find("[%c;]") then error("set_cookie: invalid value", 2) end
	local list = cookie_list(s, hk)
	local found = false
	for _, c in ipairs(list) do
		if c[1] == name then c[2], found = value, true end
	end
	if not found then list[#list + 1] = { name, value } end
	set_cookies(s, list)
	hk.hdrs, hk.cookies = false, false
	return true
end

function mut_req.del_cookie(ctx, hk, name)
	local s, err = req_target(ctx, hk, "mut.req.del_cookie")
	if not s then return nil, err end
	need_string("del_cookie", 1, name)
	local list, kept = cookie_list(s, hk), {}
	for _, c in ipairs(list) do
		if c[1] ~= name then kept[#kept + 1] = c end
	end
	set_cookies(s, kept)
	hk.hdrs, hk.cookies = false, false
	return true
end

-- Response changes apply to the head when it is there (before_response);
-- made earlier (before_request, after_request) they wait for it, and
-- with set_finish they make the answer.
local function res_add(s, name, value)
	if I.head_full(s, true, #name + #value) then error("the response head " .. I.HEAD_FULL, 4) end
	if I.add_rfield(s, name, #name, value, #value) ~= 0 then error("out of memory", 4) end
end

local resp_ops = {
	set_status = function(s, hk, code)
		s.status = code
		s.reason.len = 0
	end,
	set_header = function(s, hk, name, value)
		I.del_fields(s, 1, name, #name)
		res_add(s, name, value)
	end,
	add_header = function(s, hk, name, value) res_add(s, name, value) end,
	del_header = function(s, hk, name) I.del_fields(s, 1, name, #name) end,
	set_body = function(s, hk, body)
		s.out.len = 0
		if buf_append(s.out, body, #body) ~= 0 then error("set_body: out of memory", 3) end
		I.del_fields(s, 1, "content-length", 14)
		local n = tostring(#body)
		res_add(s, "content-length", n)
		hk.replaced = true
	end,
}

local function resp_change(ctx, hk, op, fname, a, b)
	local s = ctx.s
	local ph = hk.phase
	if ph == "before_response" then
		resp_ops[op](s, hk, a, b)
		hk.rhdrs = false
		return true
	elseif ph == "before_request" or ph == "after_request" then
		local pend = hk.rpend
		if not pend then
			pend = {}
			hk.rpend = pend
		end
		pend[#pend + 1] = { op, a, b }
		return true
	end
	return nil, fname .. ": the response can be changed in before_request, after_request and before_response only (not in " .. tostring(ph) .. ")"
end

local mut_resp = {}
function mut_resp.set_status(ctx, hk, code)
	code = tonumber(code)
	if code == nil or not (code >= 100 and code <= 999) or code % 1 ~= 0 then
		error("bad argument #1 to 'set_status' (status code 100-999 expected)", 2)
	end
	return resp_change(ctx, hk, "set_status", "mut.resp.set_status", code)
end
function mut_resp.set_header(ctx, hk, name, value)
	need_string("set_header", 1, name)
	return resp_change(ctx, hk, "set_header", "mut.resp.set_header", name:lower(), value_of("set_header", value))
end
function mut_resp.add_header(ctx, hk, name, value)
	need_string("add_header", 1, name)
	return resp_change(ctx, hk, "add_header", "mut.resp.add_header", name:lower(), value_of("add_header", value))
end
function mut_resp.del_header(ctx, hk, name)
	need_string("del_header", 1, name)
	return resp_change(ctx, hk, "del_header", "mut.resp.del_header", name:lower())
end
function mut_resp.set_body(ctx, hk, body)
	return resp_change(ctx, hk, "set_body", "mut.resp.set_body", value_of("set_body", body))
end

local mut_ctx = {}
-- set_finish: the hooks of lower priority skip this event; in connect
-- the connection closes; in before_request the request goes no further
-- (no actions, service nor backend) and is answered with what mut.resp
-- set (200 and an empty body by default).
function mut_ctx.set_finish(ctx, hk)
	hk.finish, hk.stop = true, true
	return true
end

-- globals makes ctx, mut, err, msg and opts, the globals that find the
-- running hook's request. With ctx and hk (a coroutine's context and hook
-- state) they are bound to that coroutine: the hook files' own (see
-- own_fns), which reach their request with no lookup of the running
-- coroutine (coroutine.running is not compiled, and what runs after it in
-- the calling functions then runs interpreted). Without, they look it up
-- at each access: the scripts' environments', whose functions (those of
-- _shared.lua) may run in any coroutine.
local function globals(ctx, hk)
	local function cur(what)
		if hk == nil then return state(what) end
		if not hk.hook then error(what .. ": only inside a hook", 3) end
		return ctx.s, ctx, hk
	end
	local g = {}
	g.ctx = proxy("ctx", nil, function(_, k)
		local get = ctx_get[k]
		if get == nil then return nil end
		return get(cur("ctx"))
	end)
	-- err (error.lua), msg (ws_msg.lua, ws_close.lua), opts (flush.lua).
	g.err = proxy("err", nil, function(_, k)
		local _, _, h = cur("err")
		return h.err and h.err[k]
	end)
	g.opts = proxy("opts", nil, function(_, k)
		local _, _, h = cur("opts")
		return h.opts and h.opts[k]
	end)
	local msg = newproxy(true)
	local mt = getmetatable(msg)
	mt.__index = function(_, k)
		local _, _, h = cur("msg")
		return h.msg and h.msg[k]
	end
	mt.__newindex = function(_, k, v)
		local _, _, h = cur("msg")
		local m = h.msg
		if not m then error("msg: only in ws_msg", 2) end
		if k == "data" then
			if v ~= nil and v ~= false and type(v) ~= "string" then
				error("msg.data: a string, or nil to drop the message", 2)
			end
			m.data = v
		elseif k == "opcode" then
			if v ~= "text" and v ~= "binary" then error("msg.opcode: \"text\" or \"binary\"", 2) end
			m.opcode = v
		else
			error("msg." .. tostring(k) .. " cannot be set (data and opcode can)", 2)
		end
	end
	mt.__metatable = false
	mt.__tostring = function() return "msg" end
	g.msg = msg
	local function bind(name, impl)
		local t = {}
		for fname, f in pairs(impl) do
			local what = name .. "." .. fname
			t[fname] = function(a, b)
				local _, c, h = cur(what)
				return f(c, h, a, b)
			end
		end
		return proxy(name, t)
	end
	g.mut = proxy("mut", { ctx = bind("mut.ctx", mut_ctx), req = bind("mut.req", mut_req), resp = bind("mut.resp", mut_resp) })
	return g
end
local G0 = globals() -- the scripts' environments'

-- own_fns makes the coroutine's own copies of script sc's hook functions
-- (closures of the same code, which LuaJIT's traces share), in an
-- environment that holds the globals bound to the coroutine and reads and
-- writes the others in the script's.
function own_fns(ctx, hk, sc)
	local g = hk.g
	if not g then
		g = globals(ctx, hk)
		hk.g = g
	end
	local env = setmetatable({ ctx = g.ctx, mut = g.mut, err = g.err, msg = g.msg, opts = g.opts },
		{ __index = sc.env, __newindex = sc.env })
	local fns = {}
	for hook, h in pairs(sc.fns) do
		local f = h.make()
		setfenv(f, env)
		fns[hook] = f
	end
	return fns
end

-- apply_pending applies the response changes made before the head was
-- there, in their order.
local function apply_pending(s, hk)
	local pend = hk.rpend
	if not pend then return end
	hk.rpend = false
	for i = 1, #pend do
		local c = pend[i]
		resp_ops[c[1]](s, hk, c[2], c[3])
	end
end

-- log ---------------------------------------------------------------------

-- make_log makes a script's log table: each call goes to luaedge's log
-- with the script's name and attrs (a table of names and values) as
-- attributes, sorted by name.
local function make_log(name)
	local function logger(level)
		return function(msg, attrs)
			local args = { "hook_log", level, name, tostring(msg) }
			if attrs ~= nil then
				if type(attrs) ~= "table" then
					error("bad argument #2 to 'log." .. level .. "' (table of attributes expected, got " .. type(attrs) .. ")", 2)
				end
				local keys = {}
				for k in pairs(attrs) do keys[#keys + 1] = tostring(k) end
				table.sort(keys)
				for _, k in ipairs(keys) do
					local v = attrs[k]
					if v == nil then v = attrs[tonumber(k)] end
					if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then v = tostring(v) end
					args[#args + 1] = k
					args[#args + 1] = v
				end
			end
			I.gocall(I.go.hook_log, unpack(args, 2))
		end
	end
	local t = {}
	for _, level in ipairs({ "trace", "debug", "info", "warn", "error", "audit" }) do t[level] = logger(level) end
	return proxy("log", t)
end

-- kv, bus, artifacts: thin adapters over core.kv, core.bus and
-- core.artifacts (kv.lua), in Burro's shapes; their arguments are
-- checked there.
local ckv, cbus = core.kv, core.bus
local kv = { get = ckv.get, set = ckv.set, delete = ckv.delete }
function kv.get_base64(key)
	local v, err = ckv.get(key)
	if v == nil then return nil, err end
	I.b64(loop.scratch, v, #v, 0)
	return ffi_string(loop.scratch.p, loop.scratch.len)
end
-- list returns key -> value of the keys under prefix.
function kv.list(prefix)
	local keys, err = ckv.list(prefix or "")
	if keys == nil then return nil, err end
	local out = {}
	for i = 1, #keys do
		local v = ckv.get(keys[i])
		if v ~= nil then out[keys[i]] = v end
	end
	return out
end

local bus = { subscribe = cbus.subscribe }
-- emit returns nil, or the error.
function bus.emit(name, data)
	local ok, err = cbus.emit(name, data)
	if ok == nil then return err end
	return nil
end

local function string_arg(fname, n, v)
	if type(v) == "number" then return tostring(v) end
	if type(v) ~= "string" then
		error("bad argument #" .. n .. " to '" .. fname .. "' (string expected, got " .. type(v) .. ")", 3)
	end
	return v
end

-- data_store: the files of hooks.data_dir, read by Go at start and
-- reload (lj/hooks.go), read-only.
local data_store = {}
function data_store.exists(name)
	return I.gocall(I.go.data_store, "exists", string_arg("data_store.exists", 1, name)) == true
end
function data_store.read(name)
	return I.gocall(I.go.data_store, "read", string_arg("data_store.read", 1, name))
end
-- list(path, exts) returns the names of the files in folder path ("" the
-- data_dir), those ending with one of exts (a list, or one string) if
-- given.
function data_store.list(path, exts)
	path = path == nil and "" or string_arg("data_store.list", 1, path)
	local want = ""
	if type(exts) == "string" then
		want = exts
	elseif type(exts) == "table" then
		want = table.concat(exts, "\n")
	elseif exts ~= nil then
		error("bad argument #2 to 'data_store.list' (list of extensions expected)", 2)
	end
	local names, err = I.gocall(I.go.data_store, "list", path, want)
	if names == nil then return nil, err end
	local out = {}
	for n in names:gmatch("[^\n]+") do out[#out + 1] = n end
	return out
end

-- time, base64, json -------------------------------------------------------

local os_date, floor, now_us = os.date, math.floor, I.now_us
local time = {}
function time.unix() return floor(now_us() / 1e6) end
function time.rfc3339() return os_date("!%Y-%m-%dT%H:%M:%SZ", floor(now_us() / 1e6)) end
-- date(fmt) formats the time as os.date does (strftime), in UTC;
-- default "%Y-%m-%d".
function time.date(fmt)
	if fmt ~= nil and type(fmt) ~= "string" then
		error("bad argument #1 to 'time.date' (string expected, got " .. type(fmt) .. ")", 2)
	end
	fmt = fmt or "%Y-%m-%d"
	if fmt:sub(1, 1) ~= "!" then fmt = "!" .. fmt end
	return os_date(fmt, floor(now_us() / 1e6))
end

local base64 = {}
local scratch = loop.scratch
function base64.encode(data)
	data = string_arg("base64.encode", 1, data)
	I.b64(scratch, data, #data, 0)
	return ffi_string(scratch.p, scratch.len)
end
function base64.decode(data)
	data = string_arg("base64.decode", 1, data)
	if I.b64(scratch, data, #data, 1) ~= 0 then return nil, "base64.decode: invalid base64" end
	return ffi_string(scratch.p, scratch.len)
end

local json_safe = package.preload["cjson.safe"]()
local json = {}
function json.encode(v) return json_safe.encode(v) end
function json.decode(s) return json_safe.decode(s) end
json.null = json_safe.null

local KV, BUS, ARTIFACTS = proxy("kv", kv), proxy("bus", bus), proxy("artifacts", core.artifacts)
local DATA_STORE, TIME = proxy("data_store", data_store), proxy("time", time)
local BASE64, JSON = proxy("base64", base64), proxy("json", json)

-- Loading -----------------------------------------------------------------

local known = {}
for _, h in ipairs(HOOKS) do known[h] = true end

-- make_env makes a script's environment: the hook globals, its own log,
-- and the other globals read from _G; what the script sets stays in it
-- (_G too names it), so scripts do not see each other's globals.
local function make_env(name)
	local env = {
		ctx = G0.ctx, mut = G0.mut, err = G0.err, msg = G0.msg, opts = G0.opts, log = make_log(name),
		kv = KV, bus = BUS, artifacts = ARTIFACTS, data_store = DATA_STORE,
		time = TIME, base64 = BASE64, json = JSON,
	}
	env._G = env
	return setmetatable(env, { __index = _G })
end

-- compile makes a hook file a function. A file's main chunk is a vararg
-- function, whose calls LuaJIT never compiles as a root trace: the file
-- is made the body of a plain function instead (on its first line, so its
-- line numbers stay), and the chunk returns it. The file is compiled as
-- it is first, for syntax errors to read as the file has it.
local function compile(code, chunkname, env)
	local f, err = loadstring(code, chunkname)
	if f ~= nil then f, err = loadstring("return function() " .. code .. "\nend", chunkname) end
	if f == nil then error(err, 0) end
	setfenv(f, env)
	return f(), f
end

-- hooks_load loads script name: files maps each hook (and "_shared") to
-- its code, names to its chunk name. _shared.lua runs first, in the
-- script's environment. Go calls it for the enabled scripts in priority
-- order.
function I.hooks_load(name, files, names)
	local env = make_env(name)
	local sc = { name = name, env = env, fns = {} }
	if files._shared then
		local f, err = loadstring(files._shared, names._shared)
		if f == nil then error(err, 0) end
		setfenv(f, env)
		local ok, err = xpcall(f, traceback)
		if not ok then error(tostring(err), 0) end
	end
	for _, hook in ipairs(HOOKS) do
		local code = files[hook]
		if code then
			local f, make = compile(code, names[hook], env)
			sc.fns[hook] = { make = make, stats = I.record("hook", name .. "/" .. hook, f) }
		end
	end
	for hook in pairs(files) do
		if hook ~= "_shared" and not known[hook] then error(names[hook] .. ": not a hook's name", 0) end
	end
	I.hook_scripts[name] = sc
	if sc.fns.flush then flush_list[#flush_list + 1] = sc end
end

-- program_hooks gives program id the scripts names (in order): the
-- request path asks p.hooks only, so a program without is unchanged.
function I.program_hooks(id, names)
	local p = I.programs[id]
	if #names == 0 then return end
	local by = {}
	for _, h in ipairs(HOOKS) do by[h] = {} end
	for _, n in ipairs(names) do
		local sc = I.hook_scripts[n]
		if sc == nil then error("hooks: no script '" .. n .. "' loaded", 0) end
		for h in pairs(sc.fns) do
			local l = by[h]
			l[#l + 1] = sc
		end
	end
	p.hooks = {}
	for h, list in pairs(by) do p.hooks[h] = runner(list, h) end
	p.plain = false -- the service runs through the transaction, where hooks run
	p.hook_head = #by.before_response > 0
end

-- Requests ----------------------------------------------------------------

-- hooks_begin runs before_request for the request of program p. It
-- returns true when a hook finished it (set_finish): the answer is
-- written and nothing else of the program runs.
function I.hooks_begin(s, ctx, p)
	local hk = begin(ctx, p)
	ctx.hooks = hk
	if p.hooks.after_response then s.flags = bor(s.flags, I.F_HOOKS_AFTER) end
	local r = p.hooks.before_request
	if r then run(s, ctx, hk, r, "before_request") end
	if not hk.finish then return false end
	s.nrfields, s.out.len, s.reason.len = 0, 0, 0
	s.status = 200
	apply_pending(s, hk)
	if not hk.replaced then
		local st = s.status
		if st >= 200 and st ~= 204 and st ~= 304 then res_add(s, "content-length", "0") end
	end
	s.flags = bor(s.flags, F_STARTED)
	return true
end

-- hooks_after_request runs after_request: the request rules are done,
-- the service or the backend gets the request next.
function I.hooks_after_request(s, ctx)
	local hk = ctx.hooks
	local r = hk.p.hooks.after_request
	if r then run(s, ctx, hk, r, "after_request") end
end

-- hooks_want_head reports whether the request's coroutine must wait for
-- a server's response head (before_response hooks, or response changes
-- made earlier).
function I.hooks_want_head(ctx)
	local hk = ctx.hooks
	return hk.p.hook_head or hk.rpend ~= false
end

-- hooks_before_response runs before_response on the response head that
-- is about to leave: the service's (server false) or a server's. It
-- returns false when a hook replaced the body: what the service sends
-- after is dropped; a server's body is not relayed (F_STARTED makes Go
-- send the changed answer instead).
function I.hooks_before_response(ctx, server)
	local hk = ctx.hooks
	local s = ctx.s
	hk.resp_seen, hk.resp, hk.server = true, true, server
	apply_pending(s, hk)
	local r = hk.p.hooks.before_response
	if r then run(s, ctx, hk, r, "before_response") end
	if hk.replaced and server then s.flags = bor(s.flags, F_STARTED) end
	return not hk.replaced
end

-- hooks_end runs from the runner once the program is done (or failed):
-- before_response on an answer the hooks have not seen yet (a rule's, a
-- set_finish's), ws_close for a WebSocket whose service returned, then,
-- once Go has handed the response over and resumed the coroutine (it
-- waits with OP_AFTER), after_response.
function I.hooks_end(s, ctx)
	local hk = ctx.hooks
	local p = hk.p.hooks
	if loop.timed_out == 0 then
		if hk.ws == "open" then I.hooks_ws_close(ctx, 1000, "") end
		hk.failed = has(s, F_FAILED)
		if has(s, F_STARTED) and not hk.resp_seen and s.kind ~= I.KIND_WEBSOCKET and not has(s, F_FAILED + F_ABORT) then
			I.hooks_before_response(ctx, false)
		end
		if p.after_response then
			if not has(s, I.F_AFTER) then I.wait(ctx, I.OP_AFTER) end
			hk.resp = true
			run(s, ctx, hk, p.after_response, "after_response")
		end
	end
	ctx.hooks = nil
end

-- WebSockets ----------------------------------------------------------------

-- The WebSocket hooks of a service's WebSocket (ctx.hooks set) or of a
-- relay's run (hk of its own).
function I.hooks_ws_open(ctx, hk)
	hk = hk or ctx.hooks
	hk.ws = "open"
	local r = hk.p.hooks.ws_open
	if r then run(ctx.s, ctx, hk, r, "ws_open") end
end

-- hooks_ws_msg runs ws_msg on a message; direction is "in" (from the
-- client) or "out" (to it). It returns what goes on: data and opcode, or
-- nil when a hook dropped it.
function I.hooks_ws_msg(ctx, data, opcode, direction, hk)
	hk = hk or ctx.hooks
	local r = hk.p.hooks.ws_msg
	if not r then return data, opcode end
	local prev = hk.msg
	local m = { data = data, opcode = opcode, direction = direction }
	hk.msg = m
	run(ctx.s, ctx, hk, r, "ws_msg")
	hk.msg = prev
	if not m.data then return nil end
	return m.data, m.opcode
end

function I.hooks_ws_close(ctx, code, reason, hk)
	hk = hk or ctx.hooks
	if hk.ws == "closed" then return end
	hk.ws = "closed"
	local r = hk.p.hooks.ws_close
	if not r then return end
	local prev = hk.msg
	hk.msg = { code = code, reason = reason }
	run(ctx.s, ctx, hk, r, "ws_close")
	hk.msg = prev
end

-- hooks_relay_begin readies the hook state of a relay's run (a forwarded
-- WebSocket's event) for program p.
function I.hooks_relay_begin(ctx, p)
	local hk = begin(ctx, p)
	hk.ws = "open"
	return hk
end

-- Connections and flush ------------------------------------------------------

-- ENTRY_CONNECT and ENTRY_CLOSE run a connection's connect and close
-- hooks (entry_arg: the frontend's program); set_finish in connect
-- closes the connection (F_ABORT).
I.entries[I.ENTRY_CONNECT] = function(s, ctx)
	local p = I.programs[s.entry_arg]
	local hk = begin(ctx, p)
	if p.hooks.connect then run(s, ctx, hk, p.hooks.connect, "connect") end
	if hk.finish then s.flags = bor(s.flags, F_ABORT) end
end

I.entries[I.ENTRY_CLOSE] = function(s, ctx)
	local p = I.programs[s.entry_arg]
	if p.hooks.close then run(s, ctx, begin(ctx, p), p.hooks.close, "close") end
end

-- ENTRY_FLUSH runs every script's flush.lua: ws_code says why (0 the
-- interval, 1 a stop, 2 a reload), io holds opts.session.
local reasons = { [0] = "interval", [1] = "stop", [2] = "reload" }
local flush_run -- the runner of flush_list, made at the first flush
I.entries[I.ENTRY_FLUSH] = function(s, ctx)
	local hk = begin(ctx, false)
	hk.opts = { session = ffi_string(s.io.p, s.io.len), reason = reasons[s.ws_code] }
	flush_run = flush_run or runner(flush_list, "flush")
	if flush_run then run(s, ctx, hk, flush_run, "flush") end
end
