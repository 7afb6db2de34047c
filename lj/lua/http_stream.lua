-- The server side of lua-http's stream interface, for services registered
-- with core.register_service(name, "http-stream", fn): fn(stream) answers
-- as an onstream handler of lua-http's http.server does. Reference:
-- lua-http, "stream" in its interfaces, and http.h1_stream / h2_stream.
-- It is an AppletHTTP underneath (applet_http.lua): the same C stream, the
-- same response rules, the same framing by Go for HTTP/1.1 (chunks) and
-- HTTP/2 (DATA frames).
--
-- What luaedge does differently:
--   - the timeouts of the body reads are applied (nil, "Connection timed
--     out", ETIMEDOUT, the body not read staying for the next read); those
--     of the writes are not: the frontend's send timeout bounds how long
--     a client may leave the answer unread, and a stream whose client
--     went away ends without the handler resuming;
--   - 1xx heads are not sent (luaedge answers "Expect: 100-continue"
--     itself when the handler reads the body);
--   - a head written with end_stream, or followed by the whole body in one
--     write before anything left, gets a content-length instead of
--     chunked framing.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string = ffi.string
local band, bor = bit.band, bit.bor
local type, tostring, tonumber, error, setmetatable, getmetatable = type, tostring, tonumber, error, setmetatable, getmetatable
local sub, find, concat, min = string.sub, string.find, table.concat, math.min
local span = I.span

-- errno values lua-http returns (Linux's), and the message of the second.
local EPIPE, ETIMEDOUT = 32, 110
local TIMED_OUT = "Connection timed out"
local mono_us, max = I.mono_us, math.max
local headers_mod = I.http_headers
local new_headers, headers_mt = headers_mod.new, headers_mod.mt

-- How much of a file write_body_from_file reads at a time.
local FILE_CHUNK = 65536

local Stream = {}
local stream_mt = { __name = "http.stream", __index = Stream, __tostring = function() return "http.stream{server}" end }
local Connection = {}
local connection_mt = { __name = "http.connection", __index = Connection, __tostring = function() return "http.connection{server}" end }

-- What luaedge keeps of each stream out of the scripts' reach: the
-- coroutine context it belongs to, the request headers not handed out
-- yet, bytes put back with unget, and where the response is: nil (no
-- head), "body" (head written), "ended".
local priv = setmetatable({}, { __mode = "k" })

-- state_of returns the C stream, context and private state of a stream
-- whose method fname was called, or raises an error when the stream is
-- not one or its request has ended. The body and the output of a stream
-- that became a WebSocket carry its messages: only the methods that
-- touch neither (any_kind) work then.
local function state_of(self, fname, any_kind)
	local p = priv[self]
	if p == nil then
		error("bad argument #1 to '" .. fname .. "' (http.stream expected; use stream:" .. fname .. "(...))", 3)
	end
	local ctx = p.ctx
	local s = ctx.s
	if s == nil or ctx.http_stream ~= self then
		error("stream:" .. fname .. ": the request of this stream has ended", 3)
	end
	if not any_kind and s.kind == I.KIND_WEBSOCKET then
		error("stream:" .. fname .. ": the request is a WebSocket now (use the WebSocket's methods)", 3)
	end
	return s, ctx, p
end

-- request_headers builds the request head as lua-http presents it:
-- :method, :path (:authority for CONNECT), :scheme, :authority, then the
-- fields in their order, the host field being :authority.
local function request_headers(s)
	local h = new_headers()
	local method = span(s, s.method)
	h:append(":method", method)
	local target = span(s, s.target)
	if target == "" then
		target = span(s, s.path)
		local q = span(s, s.query)
		if q ~= "" then target = target .. "?" .. q end
	end
	local authority = span(s, s.authority)
	if method == "CONNECT" then
		h:append(":authority", authority ~= "" and authority or target)
	else
		h:append(":path", target)
		local scheme = span(s, s.scheme)
		h:append(":scheme", scheme ~= "" and scheme or "http")
		if authority ~= "" then h:append(":authority", authority) end
	end
	local protocol = span(s, s.protocol)
	if protocol ~= "" then h:append(":protocol", protocol) end
	local base, fields = s.head.p, s.fields
	for i = 0, s.nfields - 1 do
		local f = fields[i]
		if f.name.len > 0 then -- a zero length: deleted by a rule
			local name = ffi_string(base + f.name.off, f.name.len)
			if name ~= "host" then h:append(name, ffi_string(base + f.value.off, f.value.len)) end
		end
	end
	return h
end

local function trailer_headers(s)
	local h = new_headers()
	local base, fields = s.head.p, s.trailers
	for i = 0, s.ntrailers - 1 do
		local f = fields[i]
		if f.name.len > 0 then
			h:append(ffi_string(base + f.name.off, f.name.len), ffi_string(base + f.value.off, f.value.len))
		end
	end
	return h
end

local function body_ended(s) return band(s.flags, I.F_BODY_END) ~= 0 end
local function available(s) return s.body.len - s.body_pos end
local function take(s, n)
	local r = ffi_string(s.body.p + s.body_pos, n)
	s.body_pos = s.body_pos + n
	return r
end

-- deadline_of turns a method's timeout (seconds, nil: none) into a time
-- of the monotonic clock (microseconds).
local function deadline_of(timeout, fname)
	if timeout == nil then return nil end
	local t = tonumber(timeout)
	if t == nil or not (t >= 0) then
		error("bad argument to '" .. fname .. "' (timeout: non-negative number expected)", 3)
	end
	return mono_us() + t * 1e6
end

-- wait_body waits for more request body, or the body's end, until
-- deadline (nil: none); false when the deadline has passed.
local function wait_body(ctx, deadline)
	if deadline == nil then
		I.wait(ctx, I.OP_RECV)
		return true
	end
	local left = deadline - mono_us()
	if left <= 0 then return false end
	I.wait(ctx, I.OP_RECV, max(left / 1000, 1))
	return true
end

-- get_headers returns the request's head the first time, its trailers
-- (once its body has arrived) the second; then nil, "Broken pipe", EPIPE.
function Stream.get_headers(self, timeout)
	local s, ctx, p = state_of(self, "get_headers")
	local h = p.req_headers
	if h ~= nil then
		p.req_headers = false
		return h
	end
	if h == false then
		local deadline = deadline_of(timeout, "get_headers")
		while not body_ended(s) do
			if not wait_body(ctx, deadline) then return nil, TIMED_OUT, ETIMEDOUT end
		end
		p.req_headers = nil
		if s.ntrailers > 0 then return trailer_headers(s) end
	end
	return nil, "Broken pipe", EPIPE
end

-- get_next_chunk returns the request body bytes that arrived (waiting for
-- some), nil once the body has ended.
local function next_chunk(s, ctx, p, deadline)
	local back = p.unget
	if back ~= nil then
		p.unget = nil
		return back
	end
	while true do
		local n = available(s)
		if n > 0 then return take(s, n) end
		if body_ended(s) then return nil end
		if not wait_body(ctx, deadline) then return nil, TIMED_OUT, ETIMEDOUT end
	end
end

function Stream.get_next_chunk(self, timeout)
	local s, ctx, p = state_of(self, "get_next_chunk")
	return next_chunk(s, ctx, p, deadline_of(timeout, "get_next_chunk"))
end

function Stream.each_chunk(self)
	return function(st)
		local chunk, err = Stream.get_next_chunk(st)
		if chunk == nil and err ~= nil then error(err, 2) end
		return chunk
	end, self
end

-- get_body_as_string returns the whole body; at the timeout, nil and
-- the error, the body staying unread.
function Stream.get_body_as_string(self, timeout)
	local s, ctx, p = state_of(self, "get_body_as_string")
	local deadline = deadline_of(timeout, "get_body_as_string")
	while not body_ended(s) do
		if not wait_body(ctx, deadline) then return nil, TIMED_OUT, ETIMEDOUT end
	end
	local back = p.unget or ""
	p.unget = nil
	return back .. take(s, available(s))
end

-- get_body_chars returns the next n bytes of the body (fewer when it ends
-- before), nil at its end.
function Stream.get_body_chars(self, n, timeout)
	local s, ctx, p = state_of(self, "get_body_chars")
	n = tonumber(n)
	if n == nil or n < 0 or n % 1 ~= 0 then
		error("bad argument #1 to 'get_body_chars' (non-negative integer expected)", 2)
	end
	local deadline = deadline_of(timeout, "get_body_chars")
	local back = p.unget or ""
	if #back >= n then
		p.unget = #back > n and sub(back, n + 1) or nil
		back = sub(back, 1, n)
		if back == "" then return nil end
		return back
	end
	local need = n - #back
	while available(s) < need and not body_ended(s) do
		if not wait_body(ctx, deadline) then return nil, TIMED_OUT, ETIMEDOUT end
	end
	p.unget = nil
	local r = back .. take(s, min(need, available(s)))
	if r == "" then return nil end
	return r
end

-- get_body_until reads until pattern (plain: a plain string) is found and
-- returns what came before it (include_pattern: with it); what follows it
-- stays for the next read. At the body's end, what was read (nil: none).
function Stream.get_body_until(self, pattern, plain, include_pattern, timeout)
	local s, ctx, p = state_of(self, "get_body_until")
	local deadline = deadline_of(timeout, "get_body_until")
	local body
	while true do
		local chunk, err, errno = next_chunk(s, ctx, p, deadline)
		if chunk == nil then
			if err ~= nil and body ~= nil then p.unget = body end -- read again after a timeout
			if err ~= nil then return nil, err, errno end
			return body
		end
		body = body and body .. chunk or chunk
		local from, to = find(body, pattern, 1, plain)
		if from ~= nil then
			if to < #body then p.unget = sub(body, to + 1) .. (p.unget or "") end
			if include_pattern then return sub(body, 1, to) end
			return sub(body, 1, from - 1)
		end
	end
end

function Stream.unget(self, str)
	local _, _, p = state_of(self, "unget")
	if type(str) ~= "string" then
		error("bad argument #1 to 'unget' (string expected, got " .. type(str) .. ")", 2)
	end
	p.unget = str .. (p.unget or "")
	return true
end

function Stream.save_body_to_file(self, file, timeout)
	local s, ctx, p = state_of(self, "save_body_to_file")
	local deadline = deadline_of(timeout, "save_body_to_file")
	while true do
		local chunk, err, errno = next_chunk(s, ctx, p, deadline)
		if chunk == nil then
			if err ~= nil then return nil, err, errno end
			return true
		end
		assert(file:write(chunk))
	end
end

function Stream.get_body_as_file(self, timeout)
	state_of(self, "get_body_as_file")
	local file = assert(io.tmpfile())
	local ok, err, errno = Stream.save_body_to_file(self, file, timeout)
	if not ok then return nil, err, errno end
	assert(file:seek("set"))
	return file
end

-- status_of reads the :status of a response head.
local function status_of(h)
	local v = h:get(":status")
	local code = tonumber(v)
	if code == nil or code < 100 or code > 999 or code % 1 ~= 0 then
		error("bad argument #1 to 'write_headers' (a head with a :status of three digits expected)", 3)
	end
	return code
end

local function add_fields(s, h, add, what)
	for name, value in h:each() do
		if sub(name, 1, 1) ~= ":" then
			if type(value) ~= "string" then value = tostring(value) end
			if I.head_full(s, true, #name + #value) then error("write_headers: the response " .. what .. " " .. I.HEAD_FULL, 3) end
			if add(s, name, #name, value, #value) ~= 0 then error("write_headers: out of memory", 3) end
		end
	end
end

-- ended marks the response complete. When nothing of it has left yet and
-- the handler gave no length, the body written so far is all of it: it
-- goes with a content-length rather than in chunks.
local function ended(s, ctx, p)
	p.state = "ended"
	if not ctx.replaced and not p.has_length and band(s.flags, I.F_HEAD_SENT) == 0 and p.status >= 200 and p.status ~= 204 and p.status ~= 304 then
		-- HEAD: the length of a body not written is not known.
		if p.head_request and s.out.len == 0 then return end
		local len = tostring(s.out.len)
		if I.add_rfield(s, "content-length", 14, len, #len) ~= 0 then error("out of memory", 3) end
	end
end

-- write_headers writes the response head (its :status and fields), or,
-- once the body started, the trailers that end it.
function Stream.write_headers(self, headers, end_stream, timeout)
	local s, ctx, p = state_of(self, "write_headers")
	if getmetatable(headers) ~= headers_mt then
		error("bad argument #1 to 'write_headers' (http.headers expected, got " .. type(headers) .. ")", 2)
	end
	if p.state == "ended" then return nil, "Broken pipe", EPIPE end
	if p.state == "body" then
		-- Trailers end the response.
		if ctx.replaced then
			p.state = "ended"
			return true
		end
		add_fields(s, headers, I.add_rtrailer, "trailers")
		p.state = "ended"
		return true
	end
	local code = status_of(headers)
	if code < 200 then return true end -- see the file's comment
	p.status = code
	if not ctx.replaced then
		s.status = code
		add_fields(s, headers, I.add_rfield, "head")
		p.has_length = headers:has("content-length")
	end
	p.state = "body"
	I.start_response(s, ctx)
	if end_stream then ended(s, ctx, p) end
	return true
end

-- write_chunk adds chunk to the response body, and sends it now unless
-- it ends the response (end_stream), which the handler's return sends.
function Stream.write_chunk(self, chunk, end_stream, timeout)
	local s, ctx, p = state_of(self, "write_chunk")
	if type(chunk) ~= "string" then
		error("bad argument #1 to 'write_chunk' (string expected, got " .. type(chunk) .. ")", 2)
	end
	if p.state == nil then error("write_chunk: the response head is not written yet (write_headers)", 2) end
	if p.state == "ended" then return nil, "Broken pipe", EPIPE end
	if not ctx.replaced and #chunk > 0 and I.buf_append(s.out, chunk, #chunk) ~= 0 then
		error("write_chunk: out of memory", 2)
	end
	if end_stream then
		ended(s, ctx, p)
	elseif #chunk > 0 then
		I.wait(ctx, I.OP_FLUSH)
	end
	return true
end

function Stream.write_body_from_string(self, str, timeout)
	return Stream.write_chunk(self, str, true)
end

-- write_body_from_file writes a file (or options.file, options.count bytes
-- of it) and ends the response.
function Stream.write_body_from_file(self, options, timeout)
	state_of(self, "write_body_from_file")
	local file, count = options, math.huge
	if type(options) == "table" then
		file, count = options.file, options.count or math.huge
		if type(count) ~= "number" or count < 0 or (count ~= math.huge and count % 1 ~= 0) then
			error("invalid .count parameter (expected positive integer)", 2)
		end
	end
	while count > 0 do
		local chunk, err = file:read(min(FILE_CHUNK, count))
		if chunk == nil then
			if err then error(err, 2) end
			if count ~= math.huge then error("unexpected EOF", 2) end
			break
		end
		local ok, werr, errno = Stream.write_chunk(self, chunk, false)
		if not ok then return nil, werr, errno end
		count = count - #chunk
	end
	return Stream.write_chunk(self, "", true)
end

function Stream.write_continue(self, timeout)
	state_of(self, "write_continue")
	return true -- luaedge sends 100 Continue itself, see the file's comment
end

-- shutdown ends the stream: a response not written completely is cut
-- (the connection closed on HTTP/1, RST_STREAM on HTTP/2), as lua-http
-- does; a handler that wrote no head gets a 503 sent for it (or the
-- status of a refused WebSocket upgrade). A stream that became a
-- WebSocket is the WebSocket's to end.
function Stream.shutdown(self)
	local s, ctx, p = state_of(self, "shutdown", true)
	if s.kind == I.KIND_WEBSOCKET then
		p.state = "ended"
	elseif p.state == nil then
		if s.status == 0 and not ctx.replaced then s.status = 503 end
		p.status = s.status
		p.state = "body"
		I.start_response(s, ctx)
		ended(s, ctx, p)
	elseif p.state == "body" then
		s.flags = bor(s.flags, I.F_ABORT)
		p.state = "ended"
	end
	return true
end

local AF_INET, AF_INET6 = 2, 10
local function address(ip, port)
	if ip == "" then return 0 end -- AF_UNSPEC
	return find(ip, ":", 1, true) and AF_INET6 or AF_INET, ip, port
end

-- peername and localname return the address family, the IP and the port
-- of the client and of the listener it reached.
function Stream.peername(self)
	local s = state_of(self, "peername", true)
	return address(span(s, s.src), s.src_port)
end

function Stream.localname(self)
	local s = state_of(self, "localname", true)
	return address(span(s, s.dst), s.dst_port)
end

-- checktls: nil, "not TLS" on a clear connection; else a table of what
-- the handshake agreed (luaedge has no luaossl object to return).
function Stream.checktls(self)
	local s = state_of(self, "checktls", true)
	local version = span(s, s.tls_version)
	if version == "" then return nil, "not TLS" end
	return { version = version, cipher = span(s, s.tls_cipher), sni = span(s, s.tls_sni), alpn = span(s, s.tls_alpn) }
end

-- The stream's connection: its version (1.0, 1.1 or 2) and the same
-- address methods.
function Connection.peername(self) return Stream.peername(self.stream) end
function Connection.localname(self) return Stream.localname(self.stream) end
function Connection.checktls(self) return Stream.checktls(self.stream) end

-- stream_ctx returns the coroutine context of an http-stream (for
-- http.websocket.new_from_stream), or raises an error naming fname.
function I.stream_ctx(stream, fname)
	local _, ctx = state_of(stream, fname, true)
	return ctx
end

-- stream_service wraps an http-stream service's fn as the HTTP service
-- that core.register_service records: it makes the request's stream,
-- runs fn with it, then does what lua-http's server does when an
-- onstream handler returns (shutdown).
function I.stream_service(fn)
	return function(applet)
		local ctx = I.owner[applet]
		local s = ctx.s
		local version = s.kind == I.KIND_HTTP2 and 2 or s.major + s.minor / 10
		local st = setmetatable({}, stream_mt)
		st.connection = setmetatable({ type = "server", version = version, stream = st }, connection_mt)
		priv[st] = { ctx = ctx, head_request = span(s, s.method) == "HEAD", req_headers = request_headers(s) }
		ctx.http_stream = st
		fn(st)
		Stream.shutdown(st)
		ctx.http_stream = nil
	end
end
