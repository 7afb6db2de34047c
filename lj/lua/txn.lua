-- TXN: the transaction an action, fetch or converter function receives,
-- and Reply, the answer a script builds for txn:reply / txn:done.
-- Reference: HAProxy Lua API, classes TXN and Reply.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local bor = bit.bor
local type, tostring, pairs = type, tostring, pairs
local floor, format = math.floor, string.format

local TXN = {}
local lazy = {
	f = function(t) return I.new_fetches(t, false) end,
	sf = function(t) return I.new_fetches(t, true) end,
	c = function(t) return I.new_converters(false, t) end,
	sc = function(t) return I.new_converters(true, t) end,
	http = function(t) return I.new_http(t) end,
	req = function(t) return I.new_channel(t, "req") end,
	res = function(t) return I.new_channel(t, "res") end,
	-- A filter's callbacks read the messages (filter.lua).
	http_req = function(t) return I.new_http_msg(t, "req") end,
	http_res = function(t) return I.new_http_msg(t, "res") end,
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

-- txn_of returns the TXN of the request running program p in context
-- ctx (see bridge.lua). The table is the coroutine's, reused for each
-- request so that a request with rules leaves no garbage; its member
-- objects (f, http, ...) are bound to it and stay. It holds nothing of
-- luaedge's: the transaction's state is in ctx, which scripts cannot
-- reach. What a request may have set is reset, key by key, and only when
-- set: emptying the table would cost LuaJIT a rehash when it is filled
-- again. Like HAProxy's, a TXN is not valid after its request.
function I.txn_of(ctx, p)
	local t = ctx.txn
	if t == nil then
		t = setmetatable({}, mt)
		I.owner[t] = ctx
		ctx.txn = t
	end
	ctx.program, ctx.stage, ctx.rule, ctx.res_done, ctx.after_done = p, "req", 0, false, false
	if ctx.txn_priv ~= nil then ctx.txn_priv = nil end
	if ctx.prio_class ~= nil then ctx.prio_class, ctx.prio_offset = nil, nil end
	if ctx.service ~= nil then ctx.service = nil end
	return t
end

local stream_of_ = I.stream_of
local function stream_of(self, fname)
	return stream_of_(self, fname, "TXN")
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
I.priv_methods(TXN, stream_of, "txn_priv")
I.var_methods(TXN, stream_of)

-- set_loglevel(level): the level of the request's access-log line, as
-- HAProxy 3.0 takes it: core.silent (-1) for no line, or a syslog level
-- (0-7), which the access log's level filter then judges (HAProxy 2.6
-- took the level one lower, a bug 3.0 fixed). Kept in the C stream as
-- HAProxy keeps it: the level + 1, -1 silent.
function TXN.set_loglevel(self, level)
	local s = stream_of(self, "set_loglevel")
	if type(level) ~= "number" or not (level >= -1 and level <= 7) or level % 1 ~= 0 then
		error("bad argument #2 to 'set_loglevel' (log level core.silent or 0-7 expected)", 2)
	end
	s.log_level = level == -1 and -1 or level + 1
end

-- set_termination_state(ts): luaedge addition, the termination state
-- (HAProxy's %ts, two characters) of the request's access-log line, for
-- rules that end a request as HAProxy's do (a tarpit's PT).
function TXN.set_termination_state(self, ts)
	local s = stream_of(self, "set_termination_state")
	if type(ts) ~= "string" or #ts ~= 2 then
		error("bad argument #2 to 'set_termination_state' (two characters expected)", 2)
	end
	s.term[0], s.term[1] = ts:byte(1), ts:byte(2)
end

-- sockopt returns v as an int32 for le_stream.tos / mark (Go applies it
-- to the socket), or raises an error naming fname.
local function sockopt(fname, v)
	v = tonumber(v)
	if v == nil or not (v >= -2147483648 and v <= 2147483647) then
		error("bad argument #2 to '" .. fname .. "' (32-bit integer expected)", 3)
	end
	return v
end

function TXN.set_tos(self, tos)
	local s = stream_of(self, "set_tos")
	s.tos = sockopt("set_tos", tos)
	s.flags = bor(s.flags, I.F_SOCKOPT)
end

function TXN.set_mark(self, mark)
	local s = stream_of(self, "set_mark")
	s.mark = sockopt("set_mark", mark)
	s.flags = bor(s.flags, I.F_SOCKOPT)
end

-- The source and the destination, luaedge additions: what haproxy.cfg's
-- set-src, set-src-port, set-dst and set-dst-port rules do. The src,
-- src_port, dst and dst_port fetches, the access log's client (%ci,
-- %cp), X-Forwarded-For, the PROXY header sent to servers, and a server
-- at 0.0.0.0 or with the port 0, +N or -N (which connects there) see
-- the new addresses: the request's (over TCP, the connection's).

-- addr_text is addr as the text of an address: an IPv4 or IPv6
-- address's text, or an integer (an IPv4 address, 0x0a000001 is
-- 10.0.0.1); nil for anything else.
local function addr_text(addr)
	if type(addr) == "number" and addr == addr then
		local n = floor(addr) % 4294967296
		return format("%d.%d.%d.%d", floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
	elseif type(addr) == "string" then
		return I.gocall(I.go.addr_text, addr)
	end
end

-- port_of is port as a port, kept to 16 bits as HAProxy stores it (-1 is
-- 65535): an integer, or its decimal text; nil for anything else.
local function port_of(port)
	if type(port) == "string" and port:match("^[+-]?%d+$") then port = tonumber(port) end
	if type(port) ~= "number" or port ~= port then return nil end
	return floor(port) % 65536
end

-- txn:set_src(addr) sets the client's address, keeping its port; anything
-- but an address changes nothing: false.
function TXN.set_src(self, addr)
	local s = stream_of(self, "set_src")
	local text = addr_text(addr)
	if text == nil then return false end
	I.addr_put(s, text, s.src, "set_src")
	return true
end

-- txn:set_src_port(port) sets the client's port; anything but a port
-- changes nothing: false.
function TXN.set_src_port(self, port)
	local s = stream_of(self, "set_src_port")
	port = port_of(port)
	if port == nil then return false end
	s.src_port = port
	return true
end

-- txn:set_dst(addr) sets the destination's address, keeping its port;
-- anything but an address changes nothing: false.
function TXN.set_dst(self, addr)
	local s = stream_of(self, "set_dst")
	local text = addr_text(addr)
	if text == nil then return false end
	I.addr_put(s, text, s.dst, "set_dst")
	return true
end

-- txn:set_dst_port(port) sets the destination's port; a destination
-- without an address becomes 0.0.0.0. Anything but a port changes
-- nothing: false.
function TXN.set_dst_port(self, port)
	local s = stream_of(self, "set_dst_port")
	port = port_of(port)
	if port == nil then return false end
	if s.dst.len == 0 then I.addr_put(s, "0.0.0.0", s.dst, "set_dst_port") end
	s.dst_port = port
	return true
end

-- txn:set_timeout(which, ms): luaedge addition, what haproxy.cfg's
-- set-timeout rules do: the "server" or "tunnel" timeout of this request
-- only, in milliseconds (a positive integer, at most about 24 days).
function TXN.set_timeout(self, which, ms)
	local s = stream_of(self, "set_timeout")
	if which ~= "server" and which ~= "tunnel" then
		error("bad argument #2 to 'set_timeout' (\"server\" or \"tunnel\" expected)", 2)
	end
	ms = tonumber(ms)
	if ms == nil or ms ~= ms or ms < 1 or ms > 2147483647 then
		error("bad argument #3 to 'set_timeout' (milliseconds, 1 to 2147483647, expected)", 2)
	end
	if which == "server" then s.server_ms = floor(ms) else s.tunnel_ms = floor(ms) end
end

-- txn:cache_use(name), txn:cache_store(name): luaedge additions, what
-- haproxy.cfg's http-request cache-use and http-response cache-store
-- rules do: answer the request from the named cache (caches in the
-- configuration) when it holds a fresh copy, instead of forwarding it;
-- store the server's response there. Go acts on them as the request is
-- forwarded and as the response head leaves.
local function cache_id(name, fn)
	local id = I.cache_ids[name]
	if id == nil then
		error("bad argument #1 to '" .. fn .. "' (no cache named '" .. tostring(name) .. "')", 3)
	end
	return id
end

function TXN.cache_use(self, name)
	local s = stream_of(self, "cache_use")
	s.cache_use = cache_id(name, "cache_use") + 1
end

function TXN.cache_store(self, name)
	local s = stream_of(self, "cache_store")
	s.cache_store = cache_id(name, "cache_store") + 1
end

-- Tracking and captures, luaedge additions: what haproxy.cfg's
-- track-scN, capture and deny rules do, for scripts too.

-- txn:track_sc(n, key [, table]) tracks key in sticky counter n (0-2) of
-- the transaction, in table (a frontend or backend with a stick table, or
-- a stick_tables entry; this frontend's by default): the entry counts a
-- connection and a request, is in use until the request ends, and the
-- sc_* / scN_* fetches read it. It returns whether the counter is tracked
-- now (false when it already was, or the key is nil or of a type the
-- table cannot hold).
function TXN.track_sc(self, n, key, tbl)
	local s = stream_of(self, "track_sc")
	return I.track(s, n, key, tbl)
end

-- txn:sc_set_gpt0(ctr, value) sets the tag gpt0 (or the first element of
-- gpt(n)) of the entry sticky counter ctr tracks, and txn:sc_set_gpt(idx,
-- ctr, value) element idx of the array gpt(n): what haproxy.cfg's
-- sc-set-gpt0 and sc-set-gpt actions do. The value is a 32-bit unsigned
-- integer (-1 is 4294967295, as HAProxy casts it); nothing happens when
-- the counter is not tracked, the table stores no such tag, or value is
-- not a number.
function TXN.sc_set_gpt0(self, ctr, v)
	I.set_gpt(stream_of(self, "sc_set_gpt0"), 0, false, ctr, v)
end
function TXN.sc_set_gpt(self, idx, ctr, v)
	local s = stream_of(self, "sc_set_gpt")
	idx = tonumber(idx)
	if idx == nil or idx < 0 or idx > 99 or idx % 1 ~= 0 then
		error("bad argument #1 to 'sc_set_gpt' (index 0 to 99 expected)", 2)
	end
	I.set_gpt(s, idx, true, ctr, v)
end

-- Persistence, luaedge additions: what haproxy.cfg's use-server and
-- stick rules do, for scripts too. backend is the backend the request
-- goes to: what they decide applies only there.

-- txn:use_server(backend, server) sends the request to server, bypassing
-- the balancing, unless a server was chosen already or this one is down
-- or in maintenance (draining does not matter; its maxconn does: the
-- request waits for it in the backend's queue). It returns whether it
-- chose it.
function TXN.use_server(self, be, name)
	return I.use_server(stream_of(self, "use_server"), be, name)
end

-- txn:set_persist(mode) is what HAProxy's force-persist ("force") and
-- ignore-persist ("ignore") rules do for the request's backend: its
-- persistence (cookie, use_server, stick_match) goes to a server even
-- when it is down or in maintenance, or its persistence cookie is
-- neither read nor set. The first call of a request counts.
function TXN.set_persist(self, mode)
	I.set_persist(stream_of(self, "set_persist"), mode)
end

-- txn:stick_match(backend, key [, table]) looks key up in table (the
-- backend's own by default): the entry is refreshed and, unless a server
-- was chosen already, the server it names is chosen if it is usable as
-- for use_server. It returns the name of the server chosen, or nil.
function TXN.stick_match(self, be, key, tbl)
	return I.stick_match(stream_of(self, "stick_match"), be, key, tbl)
end

-- txn:stick_store(backend, key [, table]) writes, once a server takes the
-- request (an HTTP server's response head, a TCP server's connection),
-- that server into the entry of key in table (the backend's own by
-- default; it must store server_id). Only the first store of each table
-- counts; it returns false for the others and for a key of a type the
-- table cannot hold.
function TXN.stick_store(self, be, key, tbl)
	return I.stick_store(stream_of(self, "stick_store"), be, key, tbl)
end

-- txn:stick_store_response(backend, key [, table]), in the response's
-- rules: writes the server that answered into the entry of key in table
-- (the backend's own by default; it must store server_id), as a stick
-- store-response rule. It returns whether it stored the key (false when
-- the response did not come from a server of backend, or the table's type
-- cannot hold key).
function TXN.stick_store_response(self, be, key, tbl)
	return I.stick_store_response(stream_of(self, "stick_store_response"), be, key, tbl)
end

-- txn:count_http_error() counts an HTTP error (http_err_cnt,
-- http_err_rate) in the counters the transaction tracks, as a deny does.
function TXN.count_http_error(self)
	I.track_error((stream_of(self, "count_http_error")))
end

-- txn:capture_cookie() captures the request's cookie now, for a
-- frontend with capture cookie (%CC), as HAProxy does when it denies a
-- request; without it, the cookie is captured once the request rules ran.
function TXN.capture_cookie(self)
	I.capture_cookie((stream_of(self, "capture_cookie")), false)
end

-- txn:capture_req(id, value) and txn:capture_res(id, value) store value
-- (through tostring, cut to the slot's length) in request or response
-- capture slot id of the frontend (from 0), for the access log and the
-- capture.req.hdr / capture.res.hdr fetches.
function TXN.capture_req(self, id, v)
	I.capture((stream_of(self, "capture_req")), "req", id, v)
end
function TXN.capture_res(self, id, v)
	I.capture((stream_of(self, "capture_res")), "res", id, v)
end

-- luaedge has no server queues, so priorities have nothing to order; they
-- are accepted so that scripts setting them run unchanged.
function TXN.set_priority_class(self, v)
	local _, ctx = stream_of(self, "set_priority_class")
	ctx.prio_class = tonumber(v)
end
function TXN.set_priority_offset(self, v)
	local _, ctx = stream_of(self, "set_priority_offset")
	ctx.prio_offset = tonumber(v)
end

-- Reply ---------------------------------------------------------------

local Reply = {}
local reply_mt = { __index = Reply, __tostring = function() return "Reply" end }

-- ORDER keys a Reply's list of the names add_header was given, one per
-- call: the fields go out in that order, as HAProxy's own answers keep
-- theirs; values put in r.headers directly follow, in table order.
local ORDER = setmetatable({}, { __tostring = function() return "order" end })
I.REPLY_ORDER = ORDER

-- new_reply makes a Reply from t (status, reason, headers, body). A
-- header's value is a list of values; one value alone counts as a list
-- of one unless listsOnly: HAProxy's txn:reply takes it, while txn:done
-- given a plain table ignores it.
local function new_reply(t, listsOnly)
	local r = setmetatable({ status = 200, reason = "OK", headers = {}, [ORDER] = {} }, reply_mt)
	if t ~= nil then
		if t.status ~= nil then r:set_status(t.status, t.reason) end
		if t.headers ~= nil then
			for name, v in pairs(t.headers) do
				if type(v) == "table" then
					for _, one in pairs(v) do r:add_header(name, one) end
				elseif not listsOnly then
					r:add_header(name, v)
				end
			end
		end
		if t.body ~= nil then r:set_body(t.body) end
	end
	return r
end

-- txn:reply([t]) returns a Reply; t may set status, reason, headers
-- (name -> value or list of values) and body.
function TXN.reply(self, t)
	stream_of(self, "reply")
	if t ~= nil and type(t) ~= "table" then error("bad argument #2 to 'reply' (table expected)", 2) end
	return new_reply(t, false)
end

function Reply.set_status(self, status, reason)
	status = tonumber(status)
	if status == nil or not (status >= 100 and status <= 999) then
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
	local order = rawget(self, ORDER)
	if order then order[#order + 1] = name end
end

function Reply.del_header(self, name)
	self.headers[name] = nil
	local order = rawget(self, ORDER)
	if order then
		local kept = {}
		for _, n in ipairs(order) do
			if n ~= name then kept[#kept + 1] = n end
		end
		self[ORDER] = kept
	end
end

function Reply.set_body(self, body)
	self.body = tostring(body)
end

-- put_field writes field name: v of a reply to s. The content-length is
-- the body's, length, written once: it returns length, or false once
-- written. A plain function, not a closure per reply: LuaJIT does not
-- compile the making of closures.
local function put_field(s, name, v, length)
	local lname = tostring(name):lower()
	if lname == "content-length" then
		if not length then return false end
		v, length = length, false
	elseif type(v) ~= "string" then
		v = tostring(v)
	end
	if I.head_full(s, true, #lname + #v) then error("reply: the response head " .. I.HEAD_FULL, 3) end
	I.add_rfield(s, lname, #lname, v, #v)
	return length
end

-- write_reply records reply r as the response of stream s. r is a
-- script's table: every value is checked again here. The fields go in
-- add_header's order (r[ORDER]), then those of r.headers not written
-- yet. The content-length is the body's, whatever the script said, as in
-- HAProxy; it goes where the reply has one, else last.
function I.write_reply(s, r)
	local status = tonumber(r.status) or 200
	if not (status >= 100 and status <= 999) then
		error("reply: status code 100-999 expected, got " .. tostring(r.status), 3)
	end
	if type(r.headers) ~= "table" then
		error("reply: headers must be a table", 3)
	end
	s.nrfields, s.out.len, s.reason.len = 0, 0, 0
	s.status = status
	if r.reason then
		local reason = tostring(r.reason)
		if I.head_full(s, true, #reason) then error("reply: the response head " .. I.HEAD_FULL, 3) end
		I.set_reason(s, reason, #reason)
	end
	local body = tostring(r.body or "")
	-- these statuses have no body, and no length (RFC 9110 8.6)
	local bodyless = status < 200 or status == 204 or status == 304
	if bodyless then body = "" end
	local length = not bodyless and tostring(#body) -- false once written
	local order = rawget(r, ORDER)
	local written -- name -> how many of its values are out, with an order
	if type(order) == "table" and order[1] ~= nil then
		written = {}
		for _, name in ipairs(order) do
			local vals, n = r.headers[name], (written[name] or 0) + 1
			if type(vals) == "table" and vals[n] ~= nil then
				written[name] = n
				length = put_field(s, name, vals[n], length)
			end
		end
	end
	for name, vals in pairs(r.headers) do
		if type(vals) == "table" then -- else ignored, as in HAProxy
			local n = written and written[name]
			if n == nil then
				for _, v in pairs(vals) do length = put_field(s, name, v, length) end
			else
				for i = n + 1, #vals do length = put_field(s, name, vals[i], length) end
			end
		end
	end
	if length then put_field(s, "content-length", length, length) end
	I.buf_append(s.out, body, #body)
	s.flags = bor(s.flags, I.F_STARTED)
end

-- TXN:done([reply]) ends the transaction: with a reply, that is the
-- answer; without, the connection closes with no answer.
local Done = setmetatable({}, { __tostring = function() return "txn:done" end })
I.Done = Done

function TXN.done(self, r)
	local s, ctx = stream_of(self, "done")
	if r ~= nil then
		if getmetatable(r) ~= reply_mt then
			if type(r) ~= "table" then error("bad argument #2 to 'done' (Reply expected)", 2) end
			r = new_reply(r, true)
		end
		I.write_reply(s, r)
		I.run_after(ctx)
	else
		I.abort(s, ctx)
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
-- core.done(v) means "return v", and counts the call in its record st
-- (accounting.lua). ctx is the context of the request it runs in (nil:
-- unknown): the time the request spends parked is not the function's.
local clock, loop = I.mono_us, I.loop
function I.call_script(st, ctx, fn, ...)
	st.calls = st.calls + 1
	local t0, b0, p0, q0 = clock(), loop.allocated, 0, 0
	if ctx then p0, q0 = ctx.parked, ctx.parked_alloc end
	local ok, r = pcall(fn, ...)
	local t, b = clock() - t0, loop.allocated - b0
	if ctx then t, b = t - (ctx.parked - p0), b - (ctx.parked_alloc - q0) end
	st.time, st.alloc = st.time + t, st.alloc + b
	if ok then return r end
	if r == CoreDone then
		r, done_value = done_value, nil
		return r
	end
	if r ~= Done then st.errors = st.errors + 1 end
	error(r, 0)
end

I.TXN = TXN
