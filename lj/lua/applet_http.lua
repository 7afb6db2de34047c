-- AppletHTTP: the object an HTTP service receives.
-- Reference: HAProxy Lua API, class AppletHTTP. Go's half is eventloop/
-- stream.go, which frames what is recorded here for the client's protocol.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string = ffi.string
local band, bor = bit.band, bit.bor
local tostring, type, min = tostring, type, math.min

-- A service's response body is sent in pieces of at most this many bytes
-- buffered: past it send() yields so Go can write them out.
local FLUSH_AT = 65536

local function span(s, sp)
	return ffi_string(s.head.p + sp.off, sp.len)
end
I.span = span

-- Fields are computed on first use, so a service that never reads the
-- headers never builds the table.
local lazy = {
	method = function(s) return span(s, s.method) end,
	path = function(s) return span(s, s.path) end,
	qs = function(s) return span(s, s.query) end,
	version = function(s) return "HTTP/" .. s.major .. "." .. s.minor end,
	-- As HAProxy's: the content-length, else (chunked) the body bytes
	-- that had arrived when the service started.
	length = function(s)
		local n = tonumber(s.content_length)
		if n >= 0 then return n end
		return tonumber(s.body.len)
	end,
	headers = function(s) return I.get_headers(s, false) end,
}
-- Fetches and converters (applet.f, sf, c, sc) are built on the applet,
-- once: the applet is the coroutine's, reused for each of its requests.
local members = {
	f = function(a) return I.new_fetches(a, false, true) end,
	sf = function(a) return I.new_fetches(a, true, true) end,
	c = function(a) return I.new_converters(false, a) end,
	sc = function(a) return I.new_converters(true, a) end,
}

local AppletHTTP = {}
local mt = {
	__index = function(self, k)
		local m = AppletHTTP[k]
		if m ~= nil then return m end
		local get = lazy[k]
		if get ~= nil then
			local v = get((I.stream_of(self, k, "AppletHTTP")))
			rawset(self, k, v)
			return v
		end
		local make = members[k]
		if make ~= nil then
			local v = make(self)
			rawset(self, k, v)
			return v
		end
		return nil
	end,
	__tostring = function() return "AppletHTTP" end,
}
I.AppletHTTP, I.applet_mt = AppletHTTP, mt

local stream_of_ = I.stream_of
local function stream_of(self, fname)
	return stream_of_(self, fname, "AppletHTTP")
end

-- The body and the output of a request that became a WebSocket carry its
-- messages (websocket.lua): the applet no longer reads or writes them.
local KIND_WEBSOCKET = I.KIND_WEBSOCKET
local function body_stream_of(self, fname)
	local s, ctx = stream_of_(self, fname, "AppletHTTP", 4)
	if s.kind == KIND_WEBSOCKET then
		error("AppletHTTP:" .. fname .. ": the request is a WebSocket now (use the WebSocket's methods)", 3)
	end
	return s, ctx
end

function AppletHTTP.set_status(self, code, reason)
	local s = stream_of(self, "set_status")
	code = tonumber(code)
	if code == nil or not (code >= 100 and code <= 999) then
		error("bad argument #2 to 'set_status' (status code 100-999 expected)", 2)
	end
	s.status = code
	if reason ~= nil then
		reason = tostring(reason)
		if I.head_full(s, true, #reason) then error("set_status: the response head " .. I.HEAD_FULL, 2) end
		I.set_reason(s, reason, #reason)
	end
end

function AppletHTTP.add_header(self, name, value)
	local s = stream_of(self, "add_header")
	if type(name) ~= "string" then
		error("bad argument #2 to 'add_header' (string expected, got " .. type(name) .. ")", 2)
	end
	if type(value) ~= "string" then value = tostring(value) end
	if I.head_full(s, true, #name + #value) then error("add_header: the response head " .. I.HEAD_FULL, 2) end
	if I.add_rfield(s, name, #name, value, #value) ~= 0 then
		error("add_header: out of memory", 2)
	end
end

-- add_trailer(name, value) adds a response trailer field, a luaedge
-- addition: it is sent after the body when the response has no
-- content-length (in the last chunk on HTTP/1.1), and dropped otherwise.
function AppletHTTP.add_trailer(self, name, value)
	local s = stream_of(self, "add_trailer")
	if type(name) ~= "string" then
		error("bad argument #2 to 'add_trailer' (string expected, got " .. type(name) .. ")", 2)
	end
	if type(value) ~= "string" then value = tostring(value) end
	if I.head_full(s, true, #name + #value) then error("add_trailer: the response head " .. I.HEAD_FULL, 2) end
	if I.add_rtrailer(s, name, #name, value, #value) ~= 0 then
		error("add_trailer: out of memory", 2)
	end
end

-- start runs the http-response rules, then lets Go send the head. When
-- the rules replaced the response, what the service sends after is dropped.
local function start(s, ctx)
	if band(s.flags, I.F_STARTED) ~= 0 then return end
	s.res_ver = 11 -- as HAProxy flags a service's response (capture.res.ver)
	if not I.response_starting(ctx) then
		ctx.replaced = true
	end
	s.flags = bor(s.flags, I.F_STARTED)
end
I.start_response = start -- the http-stream services' (http_stream.lua)

function AppletHTTP.start_response(self)
	start(stream_of(self, "start_response"))
end

function AppletHTTP.send(self, data)
	local s, ctx = body_stream_of(self, "send")
	-- As in HAProxy, the head is sent by start_response only.
	if band(s.flags, I.F_STARTED) == 0 then
		error("Lua: 'send' you must call start_response() before sending data.", 2)
	end
	if type(data) ~= "string" then data = tostring(data) end
	if ctx.replaced then return end
	if I.buf_append(s.out, data, #data) ~= 0 then
		error("send: out of memory", 2)
	end
	if s.out.len >= FLUSH_AT then
		I.wait(ctx, I.OP_FLUSH)
	end
end

local function available(s)
	return s.body.len - s.body_pos
end

local function body_ended(s)
	return band(s.flags, I.F_BODY_END) ~= 0
end

local function take(s, n)
	local r = ffi_string(s.body.p + s.body_pos, n)
	s.body_pos = s.body_pos + n
	return r
end

-- receive_from(s, ctx, size) reads the input in s.body for AppletHTTP
-- and AppletTCP:receive: without size, all of it until its end; with
-- size, up to size bytes, waiting until that many arrived or the input
-- ended. "" at the end.
function I.receive_from(s, ctx, size)
	if size == nil then
		while not body_ended(s) do I.wait(ctx, I.OP_RECV) end
		return take(s, available(s))
	end
	size = tonumber(size)
	-- A count the C buffer's offsets can hold: NaN, a fraction or an
	-- infinity would turn into a wild length.
	if size == nil or not (size >= 0 and size <= 4294967295) or size % 1 ~= 0 then
		error("bad argument #2 to 'receive' (non-negative integer expected)", 3)
	end
	while available(s) < size and not body_ended(s) do I.wait(ctx, I.OP_RECV) end
	return take(s, min(size, available(s)))
end

-- getline_from(s, ctx): the next line of the input including its "\n",
-- or the rest if it has no more newline; "" at the end.
function I.getline_from(s, ctx)
	local scanned = 0
	while true do
		local avail = available(s)
		local p = s.body.p + s.body_pos
		for i = scanned, avail - 1 do
			if p[i] == 10 then return take(s, i + 1) end
		end
		scanned = avail
		if body_ended(s) then return take(s, avail) end
		I.wait(ctx, I.OP_RECV)
	end
end

function AppletHTTP.receive(self, size)
	local s, ctx = body_stream_of(self, "receive")
	return I.receive_from(s, ctx, size)
end

function AppletHTTP.getline(self)
	return I.getline_from(body_stream_of(self, "getline"))
end

I.priv_methods(AppletHTTP, stream_of, "applet_priv")
I.var_methods(AppletHTTP, stream_of)

-- applet_of returns the AppletHTTP of the request of context ctx; txn is
-- the transaction whose http-response rules run when the response starts
-- (false: none). The object is the coroutine's, reused for each request
-- like the TXN: the request's fields it cached are dropped here.
function I.applet_of(ctx, txn)
	local a = ctx.applet_http
	if a == nil then
		a = setmetatable({}, mt)
		I.owner[a] = ctx
		ctx.applet_http = a
	else
		-- The fields of lazy, spelled out: a loop would end the trace.
		if rawget(a, "method") ~= nil then a.method = nil end
		if rawget(a, "path") ~= nil then a.path = nil end
		if rawget(a, "qs") ~= nil then a.qs = nil end
		if rawget(a, "version") ~= nil then a.version = nil end
		if rawget(a, "length") ~= nil then a.length = nil end
		if rawget(a, "headers") ~= nil then a.headers = nil end
	end
	ctx.applet_txn = txn
	if ctx.replaced ~= nil then ctx.replaced = nil end
	if ctx.applet_priv ~= nil then ctx.applet_priv = nil end
	return a
end
