-- Filters: core.register_filter, the filter table, the HTTPMessage class,
-- and the running of a frontend's filters in its request's coroutine.
-- Reference: HAProxy Lua API, core.register_filter, classes Filter and
-- HTTPMessage.
--
-- A frontend's program holds one set-up copy of each declared filter's
-- class (set_filters, once per state). Each request of the frontend makes
-- its instances with new() and calls them where HAProxy 2.6 does, in the
-- same coroutine as its rules: start_analyze on the request before the
-- http-request rules, http_headers after them; start_analyze on the
-- response when its head arrives, http_headers after the http-response
-- rules. When a filter registered data filtering on a side, its body
-- goes through the filters' http_payload piece by piece, in declaration
-- order, each filter reading what the one before passed on, and what the
-- last one passes on goes to out for Go to send: the request's body once
-- it was forwarded (read as a script reads it, held in io), the
-- response's as Go appends each piece of the server's body to the body
-- buffer and resumes the coroutine (OP_RES_BODY). Then http_end, and
-- end_analyze once the response ended.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string, ffi_copy = ffi.string, ffi.copy
local band, bor = bit.band, bit.bor
local type, tostring, pcall, select = type, tostring, pcall, select

local filter = { CONTINUE = 1, WAIT = 0, ERROR = -1, FLT_CFG_FL_HTX = 1 }
_G.filter = filter

-- HOLD_MAX bounds the body a request's filters hold in C memory (outside
-- the state's memory_limit), what they inserted included; past it an
-- insertion is an error. FULL is is_full's mark, transport.HighWater:
-- past it Go stops reading the server (stream.Backlog counts the bytes
-- held), and the request's filters take no more of the client's body
-- (which pauses the client past stream.UnreadHigh). Filters that hold
-- that much and pass nothing on end the exchange: nothing more would
-- come.
local HOLD_MAX = 16 * 1024 * 1024
local FULL = 512 * 1024

-- name -> {class =, fn =}, by core.register_filter.
I.filters = {}

function core.register_filter(name, class, fn)
	I.check_type("core.register_filter", 1, name, "string")
	I.check_type("core.register_filter", 2, class, "table")
	I.check_type("core.register_filter", 3, fn, "function")
	I.filters[name] = { class = class, fn = fn }
end

-- set_filters gives HTTP program id its filters, lines "lua.NAME args...",
-- in declaration order. As in HAProxy, each declaration gets a shallow
-- copy of the registered class, which the registered function sets up
-- with the declaration's arguments (its return value is not used); a
-- class whose flags (read from the registered class) lack
-- filter.FLT_CFG_FL_HTX does not filter HTTP streams.
function I.set_filters(id, lines)
	local p = I.programs[id]
	local list = {}
	for i, line in ipairs(lines) do
		local where = "filters[" .. (i - 1) .. "]: '" .. line .. "': "
		local words = I.split_rule(line)
		local name = (words[1] or ""):match("^lua%.(.+)$")
		if not name then error(where .. "only Lua filters (lua.NAME args...) are supported", 0) end
		local reg = I.filters[name]
		if not reg then error(where .. "no Lua filter named '" .. name .. "' (core.register_filter was not called for it)", 0) end
		local cls = {}
		for k, v in pairs(reg.class) do cls[k] = v end
		local ok, err = pcall(reg.fn, cls, { unpack(words, 2) })
		if not ok then error(where .. "Lua filter '" .. name .. "': runtime error: " .. tostring(err), 0) end
		if band(tonumber(reg.class.flags) or 0, filter.FLT_CFG_FL_HTX) ~= 0 then
			list[#list + 1] = { cls = cls, name = name }
		end
	end
	if #list == 0 then return end
	p.filters, p.plain, p.wait_res = list, false, true
end

-- Alerts name the filter, as HAProxy's do.
local function alert(e, msg)
	core.Alert("Lua filter '" .. e.name .. "' : " .. msg)
end

-- call runs callback fname of filter e (a field of its instance, as in
-- HAProxy) with txn and arg, calling it again after filter.wake_time (or
-- on the next loop turn) while it returns filter.WAIT. It returns the
-- callback's result, or false when it failed (an error, or
-- filter.ERROR), which it logs.
local function call(ctx, e, fname, txn, arg)
	local fn = e.inst[fname]
	if type(fn) ~= "function" then return true end
	while true do
		ctx.flt_cur = e
		local ok, rc = pcall(fn, e.inst, txn, arg)
		ctx.flt_cur = nil
		if not ok then
			if rc == I.Done or rc == I.CoreDone or rc == "not enough memory" or I.loop.timed_out ~= 0 then error(rc, 0) end
			alert(e, "runtime error: " .. tostring(rc))
			return false
		end
		if rc == filter.ERROR then
			alert(e, "'" .. fname .. "' returned filter.ERROR")
			return false
		end
		if fname == "http_payload" or rc ~= filter.WAIT then return rc end
		local ms = e.wake
		e.wake = nil
		if ms and ms > 0 then I.wait(ctx, I.OP_SLEEP, ms) else I.wait(ctx, I.OP_YIELD) end
	end
end

-- each calls fname on every filter of the request; false when one failed.
local function each(ctx, fname, txn, arg)
	local list = ctx.flt
	for i = 1, #list do
		if call(ctx, list[i], fname, txn, arg) == false then return false end
	end
	return true
end

-- begin makes the request's filter instances (new(), which may return
-- nothing: that filter sits this request out) and runs their
-- start_analyze on the request. False: a filter failed, and the request
-- has HAProxy's 400.
function I.filters_begin(s, ctx, txn, p)
	local list = {}
	for _, f in ipairs(p.filters) do
		local new = f.cls.new
		if type(new) == "function" then
			local ok, inst = pcall(new, f.cls)
			if not ok then
				alert(f, tostring(inst))
				I.http_error(s, 400, true, ctx)
				return false
			end
			if type(inst) == "table" then
				list[#list + 1] = { name = f.name, inst = inst, data_req = false, data_res = false }
			end
		end
	end
	ctx.flt, ctx.flt_data, ctx.flt_eom, ctx.req_end = list, nil, nil, nil
	if each(ctx, "start_analyze", txn, txn.req) then return true end
	I.http_error(s, 400, true, ctx)
	return false
end

-- req_headers runs http_headers on the request, after its rules.
-- False: the request has HAProxy's 400.
function I.filters_req_headers(s, ctx, txn)
	if each(ctx, "http_headers", txn, txn.http_req) then return true end
	I.http_error(s, 400, true, ctx)
	return false
end

-- abort ends the exchange without an answer, as HAProxy closes the
-- client's connection when a filter fails on the response.
local function abort(s)
	s.flags = bor(s.flags, I.F_ABORT)
	return false
end

-- res_start runs start_analyze on the response, as its head arrived.
function I.filters_res_start(s, ctx, txn)
	return each(ctx, "start_analyze", txn, txn.res) or abort(s)
end

-- res_headers runs http_headers on the response, after its rules.
function I.filters_res_headers(s, ctx, txn)
	return each(ctx, "http_headers", txn, txn.http_res) or abort(s)
end

-- finish runs end_analyze on the request, then on the response, as
-- HAProxy does once the response ended.
local function finish(ctx, txn)
	if not each(ctx, "end_analyze", txn, txn.req) then return false end
	return each(ctx, "end_analyze", txn, txn.res)
end

-- Moves within the body buffer overlap: C's memmove, not ffi.copy's
-- memcpy.
local buf_move = I.buf_move

-- put_at puts data at position pos of buffer b.
local function put_at(b, pos, data, fname)
	local n = #data
	if b.len + n > HOLD_MAX then
		error("HTTPMessage:" .. fname .. ": the filters would hold more than 16 MiB of body (luaedge's limit)", 3)
	end
	local tail = b.len - pos
	if I.buf_append(b, data, n) ~= 0 then error("HTTPMessage:" .. fname .. ": out of memory", 3) end
	buf_move(b, pos + n, pos, tail)
	ffi_copy(b.p + pos, data, n)
end

-- close drops the n bytes of buffer b at position pos.
local function close(b, pos, n)
	buf_move(b, pos, pos + n, b.len - pos - n)
	b.len = b.len - n
end

-- data_filters returns the filters that registered data filtering on a
-- side ("data_req", "data_res"), in order, ready for a body in buf.
local function data_filters(ctx, key, buf)
	local data = {}
	for _, e in ipairs(ctx.flt) do
		if e[key] then
			data[#data + 1] = e
			e.buf, e.fwd, e.len, e.pos, e.resp = buf, 0, 0, #data, key == "data_res"
		end
	end
	return data
end

-- filter_body runs the data filters of a side over its body, held in
-- buf, until the body ended and all of it left: pull (which moves what
-- arrived into buf and tells whether the side ended) runs before each
-- round; what the last filter passes on goes to out; wait parks the
-- coroutine until more arrives. Filter k reads what filter k-1 passed on
-- and it did not yet. False: a filter failed.
local function filter_body(s, ctx, txn, msg, data, buf, pull, wait)
	ctx.flt_data = data
	local called_at_end = false
	while true do
		local ended = pull()
		local upto = buf.len
		local moved = false
		for k = 1, #data do
			local e = data[k]
			e.len = upto - e.fwd
			if e.len > 0 or (ended and not called_at_end) then
				ctx.flt_pay = e
				local held = buf.len
				local rc = call(ctx, e, "http_payload", txn, msg)
				ctx.flt_pay = nil
				if rc == false then return false end
				local n = e.len
				if type(rc) == "number" and rc >= 0 and rc < n then n = rc end
				e.fwd, e.len = e.fwd + n, e.len - n
				moved = moved or n > 0 or buf.len ~= held
			end
			upto = e.fwd
		end
		if ended then called_at_end = true end
		if upto > 0 then
			if I.buf_append(s.out, buf.p, upto) ~= 0 then error("not enough memory", 0) end
			close(buf, 0, upto)
			for _, e in ipairs(data) do e.fwd = e.fwd - upto end
		end
		if ended and buf.len == 0 then return true end
		local wake
		for _, e in ipairs(data) do
			if e.wake then wake = math.min(wake or e.wake, e.wake) end
			e.wake = nil
		end
		if wake and wake > 0 then
			I.wait(ctx, I.OP_SLEEP, wake)
		elseif ended and not moved then
			-- Nothing more can come and the filters pass nothing on:
			-- HAProxy would wait for its timeouts; luaedge ends it.
			alert(data[1], "the body ended and the filters keep bytes they do not pass on")
			return false
		elseif buf.len >= FULL and not moved then
			alert(data[1], "the filters hold " .. FULL .. " bytes of body and pass nothing on")
			return false
		elseif not ended then
			wait()
		end
	end
end

-- req_body filters the request body, once the request is forwarded,
-- when a filter registered data filtering on it, then runs the
-- request's http_end. The filters hold the body in io (a socket's buffer
-- otherwise: filter callbacks cannot wait on sockets); what arrived is
-- taken from body while they hold less than FULL, so that a client
-- sending faster than they pass bytes on is paused; what they pass on
-- goes to out, which Go sends to the server (F_REQ_FILTER). Go clears
-- F_REQ_FILTER when the coroutine then waits for the response head.
-- False: a filter failed, and the request has HAProxy's 400.
function I.filters_req_body(s, ctx, txn)
	local data = data_filters(ctx, "data_req", s.io)
	if #data == 0 then return true end
	local msg = txn.http_req
	-- A failure answers instead of the server: what was passed on and
	-- not yet sent is dropped, and the exchange with it (Go sees
	-- F_REQ_FILTER cleared without OP_FORWARD).
	local fail = function()
		s.out.len = 0
		s.flags = band(s.flags, bit.bnot(bor(I.F_FORWARD, I.F_REQ_FILTER)))
		I.http_error(s, 400, true, ctx)
		return false
	end
	ctx.req_end = false
	if band(s.flags, I.F_BODY_END) ~= 0 and s.body.len == s.body_pos then
		-- No body: only the request's http_end runs.
		ctx.req_end = true
		return each(ctx, "http_end", txn, msg) or fail()
	end
	-- A filter that removed content-length has the body sent chunked.
	if tonumber(s.content_length) >= 0 and I.get_headers(s, false)["content-length"] == nil then
		s.content_length = -1
	end
	s.io.len = 0
	s.flags = bor(s.flags, I.F_REQ_FILTER)
	local function pull()
		local b = s.body
		local n = b.len - s.body_pos
		if n > 0 and s.io.len < FULL then
			if I.buf_append(s.io, b.p + s.body_pos, n) ~= 0 then error("not enough memory", 0) end
			s.body_pos = b.len
		end
		-- The end stays Lua's to know: Go opens the exchange with what
		-- the flags say, and the filters have yet to pass the body on.
		if band(s.flags, I.F_BODY_END) ~= 0 then
			s.flags = band(s.flags, bit.bnot(I.F_BODY_END))
			ctx.req_end = true
		end
		return ctx.req_end and s.body_pos == b.len
	end
	-- Full, they wait without asking for the client's body: what comes
	-- stays unread, and pauses the client.
	local function wait()
		if s.io.len >= FULL then I.wait(ctx, I.OP_YIELD) else I.wait(ctx, I.OP_RECV) end
	end
	local ok = filter_body(s, ctx, txn, msg, data, s.io, pull, wait)
	s.io.len = 0
	if not ok then return fail() end
	return each(ctx, "http_end", txn, msg) or fail()
end

-- res_body filters the response body when a filter registered data
-- filtering on it; else it runs end_analyze at once. The pieces Go
-- appends to body are the filters' input, from its start (the request's
-- body is done with). False: a filter failed (the exchange is aborted).
function I.filters_res_body(s, ctx, txn)
	local data = data_filters(ctx, "data_res", s.body)
	if #data == 0 then return finish(ctx, txn) or abort(s) end
	s.body.len, s.body_pos = 0, 0
	local function pull() return band(s.flags, I.F_RES_END) ~= 0 end
	local ok = filter_body(s, ctx, txn, txn.http_res, data, s.body, pull, function() I.wait(ctx, I.OP_RES_BODY) end)
	if not ok then return abort(s) end
	if not each(ctx, "http_end", txn, txn.http_res) then return abort(s) end
	return finish(ctx, txn) or abort(s)
end

-- data_filter says whether filter flt of its request reads the body of
-- channel chn (on); false when flt is not one of the request's filters.
local function data_filter(fname, flt, chn, on)
	local ctx = I.owner[chn]
	local list = ctx and ctx.flt
	if not list then error("filter." .. fname .. ": a filter and a channel of its request expected", 3) end
	for _, e in ipairs(list) do
		if e.inst == flt then
			if chn == ctx.req_channel then e.data_req = on else e.data_res = on end
			return true
		end
	end
	return false
end

function filter.register_data_filter(flt, chn)
	if not data_filter("register_data_filter", flt, chn, true) then
		error("filter.register_data_filter: not a filter of this request", 2)
	end
end

function filter.unregister_data_filter(flt, chn)
	data_filter("unregister_data_filter", flt, chn, false)
end

-- wake_time(ms): a callback that returns filter.WAIT (or an http_payload
-- that keeps bytes) runs again after ms.
function filter.wake_time(ms)
	if type(ms) ~= "number" then
		error("bad argument #1 to 'wake_time' (number expected, got " .. type(ms) .. ")", 2)
	end
	local ctx = I.running[coroutine.running()]
	local e = ctx and ctx.flt_cur
	if e then e.wake = ms end
end

-- HTTPMessage: txn.http_req and txn.http_res, the messages a filter's
-- callbacks get. Headers are the stream's, read and changed through the
-- HTTP class; the body only inside http_payload.
local HTTPMessage = {}
local mt = { __index = HTTPMessage, __tostring = function() return "HTTPMessage" end }

function I.new_http_msg(txn, dir)
	local ctx = I.owner[txn]
	local m = setmetatable({ channel = dir == "req" and txn.req or txn.res }, mt)
	I.owner[m] = ctx
	if dir == "res" then ctx.http_res_msg = m end
	return m
end

local stream_of = I.stream_of
local function msg_of(self, fname)
	local s, ctx = stream_of(self, fname, "HTTPMessage", 4)
	return s, ctx, ctx.http_res_msg == self
end

function HTTPMessage.is_resp(self)
	local _, _, resp = msg_of(self, "is_resp")
	return resp
end

-- The header methods are the HTTP class's, on the message's side.
local function http_of(ctx) return ctx.txn.http end

local function header_method(fname, req, res)
	HTTPMessage[fname] = function(self, ...)
		local _, ctx, resp = msg_of(self, fname)
		local h = http_of(ctx)
		if resp then return h[res](h, ...) end
		return h[req](h, ...)
	end
end
header_method("get_headers", "req_get_headers", "res_get_headers")
header_method("add_header", "req_add_header", "res_add_header")
header_method("del_header", "req_del_header", "res_del_header")
header_method("set_header", "req_set_header", "res_set_header")
header_method("rep_header", "req_rep_header", "res_rep_header")
header_method("rep_value", "req_rep_value", "res_rep_value")

-- The start line's setters belong to one side.
local function line_method(fname, method, want_resp)
	HTTPMessage[fname] = function(self, ...)
		local _, ctx, resp = msg_of(self, fname)
		if resp ~= want_resp then
			error("HTTPMessage:" .. fname .. ": not on " .. (resp and "a response" or "a request"), 2)
		end
		local h = http_of(ctx)
		return h[method](h, ...)
	end
end
line_method("set_method", "req_set_method", false)
line_method("set_path", "req_set_path", false)
line_method("set_query", "req_set_query", false)
line_method("set_uri", "req_set_uri", false)
line_method("set_status", "res_set_status", true)

function HTTPMessage.get_stline(self)
	local s, _, resp = msg_of(self, "get_stline")
	if resp then
		local reason = s.reason.len > 0 and ffi_string(s.resp.p + s.reason.off, s.reason.len) or ""
		return { version = "HTTP/1.1", code = s.status, reason = reason }
	end
	local base = s.head.p
	return {
		method = ffi_string(base + s.method.off, s.method.len),
		uri = ffi_string(base + s.target.off, s.target.len),
		version = "HTTP/" .. s.major .. "." .. s.minor,
	}
end

-- eom: the message's body has ended, unless a filter said otherwise
-- (set_eom, unset_eom: they change this answer only).
function HTTPMessage.eom(self)
	local s, ctx, resp = msg_of(self, "eom")
	local set = ctx.flt_eom
	if set ~= nil and set[resp] ~= nil then return set[resp] end
	if resp then return band(s.flags, I.F_RES_END) ~= 0 end
	return ctx.req_end or band(s.flags, I.F_BODY_END) ~= 0
end

-- pay returns the filter whose http_payload runs on this message, if
-- any.
local function pay(ctx, resp)
	local e = ctx.flt_pay
	if e and e.resp == resp then return e end
	return nil
end

-- payload is pay for the body methods, which work only there, as in
-- HAProxy.
local function payload(self, fname)
	local s, ctx, resp = msg_of(self, fname)
	local e = pay(ctx, resp)
	if e == nil then
		error("HTTPMessage:" .. fname .. ": only in the http_payload callback of a filter, on its message", 3)
	end
	return s, ctx, e
end

function HTTPMessage.input(self)
	local _, ctx, resp = msg_of(self, "input")
	local e = pay(ctx, resp)
	return e and e.len or 0
end

function HTTPMessage.output(self)
	local _, ctx, resp = msg_of(self, "output")
	local e = pay(ctx, resp)
	return e and e.fwd or 0
end

-- held is how many body bytes the side's filters hold.
local function held(s, ctx, resp)
	if resp then return s.body.len end
	return band(s.flags, I.F_REQ_FILTER) ~= 0 and s.io.len or 0
end

function HTTPMessage.is_full(self)
	local s, ctx, resp = msg_of(self, "is_full")
	return held(s, ctx, resp) >= FULL
end

function HTTPMessage.may_recv(self)
	local s, ctx, resp = msg_of(self, "may_recv")
	if resp then
		return band(s.flags, I.F_RES_END) == 0 and held(s, ctx, resp) < FULL
	end
	return not ctx.req_end and band(s.flags, I.F_BODY_END) == 0 and held(s, ctx, resp) < FULL
end

local function int_arg(v, i, fname)
	local n = tonumber(v)
	if n == nil or n % 1 ~= 0 then
		error("bad argument #" .. i .. " to '" .. fname .. "' (number expected, got " .. type(v) .. ")", 3)
	end
	return n
end

local function str_arg(v, i, fname)
	if type(v) == "number" then return tostring(v) end
	if type(v) ~= "string" then
		error("bad argument #" .. i .. " to '" .. fname .. "' (string expected, got " .. type(v) .. ")", 3)
	end
	return v
end

-- offset reads an offset into the filter's input (negative: from its
-- end) as a position in the body buffer.
local function offset(e, v, i, fname)
	local off = int_arg(v, i, fname)
	if off < 0 then off = math.max(0, e.len + off) end
	if off > e.len then error("offset out of range.", 0) end
	return e.fwd + off
end

-- insert puts data at buffer position pos of e's input; the filters
-- before e hold that position as passed on, and move with it.
local function insert(s, ctx, e, pos, data, fname)
	local n = #data
	if n == 0 then return 0 end
	put_at(e.buf, pos, data, fname)
	e.len = e.len + n
	local data_list = ctx.flt_data
	for k = 1, e.pos - 1 do data_list[k].fwd = data_list[k].fwd + n end
	return n
end

local function delete(s, ctx, e, pos, n)
	if n <= 0 then return end
	close(e.buf, pos, n)
	e.len = e.len - n
	local data_list = ctx.flt_data
	for k = 1, e.pos - 1 do data_list[k].fwd = data_list[k].fwd - n end
end

-- body([offset [, length]]): the input's bytes from offset (from its
-- start by default), length of them (all by default; -1: all); nil when
-- nothing is left and nothing more can come.
function HTTPMessage.body(self, ...)
	local n, off, len = select("#", ...), ...
	if n > 2 then error("'data' expects at most 2 arguments", 2) end
	local s, _, e = payload(self, "body")
	if e.len == 0 and HTTPMessage.eom(self) then return nil end
	local pos = n >= 1 and offset(e, off, 1, "body") or e.fwd
	local avail = e.fwd + e.len - pos
	if n == 2 then
		len = int_arg(len, 2, "body")
		if len == -1 or len > avail then
			len = avail
		elseif len < 0 then
			error("length out of range.", 0)
		end
	else
		len = avail
	end
	return ffi_string(e.buf.p + pos, len)
end

-- range reads set's and remove's offset and length over e's input.
local function range(e, n, off, len, li, fname)
	local pos = n >= li - 1 and offset(e, off, li - 1, fname) or e.fwd
	local avail = e.fwd + e.len - pos
	if n < li then return pos, avail end
	len = int_arg(len, li, fname)
	if len == -1 then return pos, avail end
	if len < 0 or len > avail then error("length out of range.", 0) end
	return pos, len
end

function HTTPMessage.append(self, data)
	local s, ctx, e = payload(self, "append")
	data = str_arg(data, 1, "append")
	return insert(s, ctx, e, e.fwd + e.len, data, "append")
end

function HTTPMessage.prepend(self, data)
	local s, ctx, e = payload(self, "prepend")
	data = str_arg(data, 1, "prepend")
	return insert(s, ctx, e, e.fwd, data, "prepend")
end

function HTTPMessage.insert(self, ...)
	local n, data, off = select("#", ...), ...
	if n < 1 or n > 2 then error("'insert' expects at least 1 argument and at most 2 arguments", 2) end
	local s, ctx, e = payload(self, "insert")
	data = str_arg(data, 1, "insert")
	local pos = n == 2 and offset(e, off, 2, "insert") or e.fwd + e.len
	return insert(s, ctx, e, pos, data, "insert")
end

function HTTPMessage.remove(self, ...)
	local n, off, len = select("#", ...), ...
	if n > 2 then error("'remove' expects at most 2 arguments", 2) end
	local s, ctx, e = payload(self, "remove")
	local pos, cnt = range(e, n, off, len, 2, "remove")
	delete(s, ctx, e, pos, cnt)
	return cnt
end

function HTTPMessage.set(self, ...)
	local n, data, off, len = select("#", ...), ...
	if n < 1 or n > 3 then error("'set' expects at least 1 argument and at most 3 arguments", 2) end
	local s, ctx, e = payload(self, "set")
	data = str_arg(data, 1, "set")
	local pos, cnt = range(e, n - 1, off, len, 3, "set")
	delete(s, ctx, e, pos, cnt)
	return insert(s, ctx, e, pos, data, "set")
end

-- send passes data on at once, ahead of the input.
function HTTPMessage.send(self, data)
	local s, ctx, e = payload(self, "send")
	data = str_arg(data, 1, "send")
	local n = insert(s, ctx, e, e.fwd, data, "send")
	e.fwd, e.len = e.fwd + n, e.len - n
	return n
end

-- forward(n) passes n bytes of the input on (at most what there is).
function HTTPMessage.forward(self, n)
	local _, _, e = payload(self, "forward")
	n = int_arg(n, 1, "forward")
	if n < 0 then n = 0 end
	if n > e.len then n = e.len end
	e.fwd, e.len = e.fwd + n, e.len - n
	return n
end

local function set_eom(self, fname, v)
	local _, ctx, resp = msg_of(self, fname)
	ctx.flt_eom = ctx.flt_eom or {}
	ctx.flt_eom[resp] = v
end

function HTTPMessage.set_eom(self) set_eom(self, "set_eom", true) end
function HTTPMessage.unset_eom(self) set_eom(self, "unset_eom", false) end
