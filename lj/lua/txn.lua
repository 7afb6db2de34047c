-- TXN: the transaction an action, fetch or converter function receives,
-- and Reply, the answer a script builds for txn:reply / txn:done.
-- Reference: HAProxy Lua API, classes TXN and Reply.
local bit = require("bit")
local I = require("luaedge.internal")

local bor = bit.bor
local type, tostring, pairs = type, tostring, pairs

local TXN = {}
local lazy = {
	f = function(t) return I.new_fetches(t, false) end,
	sf = function(t) return I.new_fetches(t, true) end,
	c = function() return I.new_converters(false) end,
	sc = function() return I.new_converters(true) end,
	http = function(t) return I.new_http(t) end,
	req = function(t) return I.new_channel(t, "req") end,
	res = function(t) return I.new_channel(t, "res") end,
}
local mt = {
	__index = function(self, k)
		local m = TXN[k]
		if m ~= nil then return m end
		local make = lazy[k]
		if make ~= nil then
			local v = make(self)
			rawset(self, k, v)
			return v
		end
		return nil
	end,
	__tostring = function() return "TXN" end,
}

-- txn_of returns the TXN of the request running program p on stream s;
-- ctx is the request's context (see bridge.lua). The table is the
-- coroutine's, reused for each request so that a request with rules
-- leaves no garbage; its member objects (f, http, ...) are bound to it and
-- stay. What a request may have set is reset, key by key, and only when
-- set: emptying the table would cost LuaJIT a rehash when it is filled
-- again. Like HAProxy's, a TXN is not valid after its request.
function I.txn_of(s, ctx, p)
	local t = ctx.txn
	if t == nil then
		t = setmetatable({ [0] = s, __ctx = ctx, __program = p, __stage = "req", __rule = 0, __res_done = false }, mt)
		ctx.txn = t
		return t
	end
	t[0], t.__program, t.__stage, t.__rule, t.__res_done = s, p, "req", 0, false
	if rawget(t, "__priv") ~= nil then t.__priv = nil end
	if rawget(t, "__loglevel") ~= nil then t.__loglevel = nil end
	if rawget(t, "__prio_class") ~= nil then t.__prio_class, t.__prio_offset = nil, nil end
	return t
end

local function stream_of(self, fname)
	local s = type(self) == "table" and rawget(self, 0)
	if s == nil then
		error("bad argument #1 to '" .. fname .. "' (TXN expected; use txn:" .. fname .. "(...))", 3)
	end
	return s
end

function TXN.log(self, level, msg)
	stream_of(self, "log")
	core.log(level, msg)
end
function TXN.deflog(self, msg) stream_of(self, "deflog") core.log(core.info, msg) end
function TXN.Debug(self, msg) stream_of(self, "Debug") core.Debug(msg) end
function TXN.Info(self, msg) stream_of(self, "Info") core.Info(msg) end
function TXN.Warning(self, msg) stream_of(self, "Warning") core.Warning(msg) end
function TXN.Alert(self, msg) stream_of(self, "Alert") core.Alert(msg) end

-- The private value is kept per transaction and shared by its actions; a
-- service has its own (AppletHTTP:get_priv), as in HAProxy.
function TXN.get_priv(self) return rawget(self, "__priv") end
function TXN.set_priv(self, v) rawset(self, "__priv", v) end

I.var_methods(TXN, stream_of)

-- Logging is per process here; the level a transaction asks for is kept
-- for the access log.
function TXN.set_loglevel(self, level)
	stream_of(self, "set_loglevel")
	if type(level) ~= "number" or level < 0 or level > 7 then
		error("bad argument #2 to 'set_loglevel' (log level 0-7 expected)", 2)
	end
	rawset(self, "__loglevel", level)
end

function TXN.set_tos(self, tos)
	local s = stream_of(self, "set_tos")
	s.tos = tonumber(tos) or error("bad argument #2 to 'set_tos' (number expected)", 2)
	s.flags = bor(s.flags, I.F_SOCKOPT)
end

function TXN.set_mark(self, mark)
	local s = stream_of(self, "set_mark")
	s.mark = tonumber(mark) or error("bad argument #2 to 'set_mark' (number expected)", 2)
	s.flags = bor(s.flags, I.F_SOCKOPT)
end

-- luaedge has no server queues, so priorities have nothing to order; they
-- are accepted so that scripts setting them run unchanged.
function TXN.set_priority_class(self, v)
	stream_of(self, "set_priority_class")
	rawset(self, "__prio_class", tonumber(v))
end
function TXN.set_priority_offset(self, v)
	stream_of(self, "set_priority_offset")
	rawset(self, "__prio_offset", tonumber(v))
end

-- Reply ---------------------------------------------------------------

local Reply = {}
local reply_mt = { __index = Reply, __tostring = function() return "Reply" end }

-- txn:reply([t]) returns a Reply; t may set status, reason, headers
-- (name -> value or list of values) and body.
function TXN.reply(self, t)
	stream_of(self, "reply")
	local r = setmetatable({ status = 200, reason = nil, headers = {}, body = "" }, reply_mt)
	if t ~= nil then
		if type(t) ~= "table" then error("bad argument #2 to 'reply' (table expected)", 2) end
		if t.status ~= nil then r:set_status(t.status, t.reason) end
		if t.headers ~= nil then
			for name, v in pairs(t.headers) do
				if type(v) == "table" then
					for _, one in pairs(v) do r:add_header(name, one) end
				else
					r:add_header(name, v)
				end
			end
		end
		if t.body ~= nil then r:set_body(t.body) end
	end
	return r
end

function Reply.set_status(self, status, reason)
	status = tonumber(status)
	if status == nil or status < 100 or status > 999 then
		error("bad argument #2 to 'set_status' (status code 100-999 expected)", 2)
	end
	if reason == nil then
		reason = I.status_text[status]
	end
	self.status, self.reason = status, reason and tostring(reason)
end

function Reply.add_header(self, name, value)
	if type(name) ~= "string" then error("bad argument #2 to 'add_header' (string expected)", 2) end
	local list = self.headers[name]
	if list == nil then
		list = {}
		self.headers[name] = list
	end
	list[#list + 1] = tostring(value)
end

function Reply.del_header(self, name)
	self.headers[name] = nil
end

function Reply.set_body(self, body)
	self.body = tostring(body)
end

-- write_reply records reply r as the response of stream s.
function I.write_reply(s, r)
	s.nrfields, s.out.len, s.reason.len = 0, 0, 0
	s.status = r.status or 200
	if r.reason then I.set_reason(s, r.reason, #r.reason) end
	local has_len = false
	for name, vals in pairs(r.headers) do
		local lname = name:lower()
		if lname == "content-length" then has_len = true end
		if type(vals) ~= "table" then vals = { vals } end
		for _, v in pairs(vals) do
			v = tostring(v)
			I.add_rfield(s, lname, #lname, v, #v)
		end
	end
	local body = r.body or ""
	local st = s.status
	if st < 200 or st == 204 or st == 304 then
		body = "" -- these statuses have no body, and no length (RFC 9110 8.6)
	elseif not has_len then
		local n = tostring(#body)
		I.add_rfield(s, "content-length", 14, n, #n)
	end
	I.buf_append(s.out, body, #body)
	s.flags = bor(s.flags, I.F_STARTED)
end

-- TXN:done([reply]) ends the transaction: with a reply, that is the
-- answer; without, the connection closes with no answer.
local Done = setmetatable({}, { __tostring = function() return "txn:done" end })
I.Done = Done

function TXN.done(self, r)
	local s = stream_of(self, "done")
	if r ~= nil then
		if getmetatable(r) ~= reply_mt then
			if type(r) ~= "table" then error("bad argument #2 to 'done' (Reply expected)", 2) end
			r = TXN.reply(self, r)
		end
		I.write_reply(s, r)
	else
		s.flags = bor(s.flags, I.F_ABORT)
	end
	error(Done, 0)
end

-- core.done() stops the running Lua function (action, service, fetch or
-- converter) as if it returned; the transaction goes on.
local CoreDone = setmetatable({}, { __tostring = function() return "core.done" end })
I.CoreDone = CoreDone

-- The value core.done(v) hands back from a fetch or converter.
local done_value

function core.done(v)
	done_value = v
	error(CoreDone, 0)
end

-- call_script calls a script's fetch or converter function, for which
-- core.done(v) means "return v".
function I.call_script(fn, ...)
	local ok, r = pcall(fn, ...)
	if ok then return r end
	if r == CoreDone then
		r, done_value = done_value, nil
		return r
	end
	error(r, 0)
end

I.TXN = TXN
