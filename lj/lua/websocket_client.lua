-- http.websocket's client side, as lua-http has it: new_from_uri, then
-- connect, send, receive, each, send_ping, send_pong and close on the
-- WebSocket it returns. Go's half is proxy/wsclient.go: the connection
-- lives on the loop of the request (or task) that connected it and
-- belongs to it; each call yields OP_SOCKET with one of the LE_SOCK_WS_*
-- operations (cgo/stream.h), so nothing blocks the loop.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local C = ffi.C -- enums of cgo/stream.h, declared in bridge.lua
local WS_CONNECT, WS_SEND, WS_RECV, WS_CLOSE = C.LE_SOCK_WS_CONNECT, C.LE_SOCK_WS_SEND, C.LE_SOCK_WS_RECV, C.LE_SOCK_WS_CLOSE
local OK, ETIMEOUT, ECLOSED = C.LE_SOCK_OK, C.LE_SOCK_ETIMEOUT, C.LE_SOCK_ECLOSED
local MSG_TEXT, MSG_BINARY, MSG_PING, MSG_PONG = I.MSG_TEXT, I.MSG_BINARY, I.MSG_PING, I.MSG_PONG

local ffi_string = ffi.string
local band, rshift = bit.band, bit.rshift
local schar, type, tostring, tonumber, pairs = string.char, type, tostring, tonumber, pairs

-- errno values lua-http returns (Linux's).
local EPIPE, ENOTCONN, ETIMEDOUT = 32, 107, 110

-- The largest options.max_message, as websocket.max_message's for the
-- WebSockets luaedge serves.
local MAX_MESSAGE = 2 ^ 30

local M = I.websocket
local Client = {}
local mt = { __index = Client, __tostring = function() return "WebSocket" end }

-- What luaedge keeps of each client, out of the scripts' reach: the
-- handshake's request for Go, the flags (1 TLS, 2 no verification, 4
-- permessage-deflate offered), its
-- id in Go and the stream of the request that connected it, and its state.
local NEW, OPEN, CLOSED = 0, 1, 2
local priv = setmetatable({}, { __mode = "k" })

-- Fields the handshake writes itself, which options.headers may not set.
local own_fields = {
	host = true, upgrade = true, connection = true, ["sec-websocket-key"] = true,
	["sec-websocket-version"] = true, ["sec-websocket-protocol"] = true,
	["sec-websocket-extensions"] = true, ["content-length"] = true, ["transfer-encoding"] = true,
}

-- parse_uri splits a ws:// or wss:// URI into the address to dial, the
-- Host field and the request target; it raises an error naming the URI.
local function parse_uri(uri)
	local function bad(why) error("new_from_uri: " .. why .. " in '" .. uri .. "'", 4) end
	local scheme, rest = uri:match("^(%a[%w+.%-]*)://(.*)$")
	scheme = scheme and scheme:lower()
	if scheme ~= "ws" and scheme ~= "wss" then bad("the scheme is not ws or wss") end
	-- RFC 6455 §3: no fragment; and nothing the request line cannot carry.
	if rest:find("#", 1, true) then bad("a fragment") end
	if rest:find("[%z\1-\32\127-\255]") then bad("a space, control character or non-ASCII byte") end
	local authority, target = rest:match("^([^/?]*)(.*)$")
	if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
	if authority:find("@", 1, true) then bad("user information") end
	local host, port
	if authority:sub(1, 1) == "[" then
		host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$")
	else
		host, port = authority:match("^([^:]+):?(%d*)$")
	end
	if host == nil then bad("no host, or an invalid port") end
	local default = scheme == "wss" and 443 or 80
	local n = port == "" and default or tonumber(port)
	if n < 1 or n > 65535 then bad("an invalid port") end
	local host_field = n == default and host or host .. ":" .. n
	return { tls = scheme == "wss", addr = host .. ":" .. n, host = host_field, target = target }
end

-- new_from_uri(uri[, protocols[, options]]) makes a client WebSocket for
-- uri (ws:// or wss://); nothing is sent until connect. protocols lists
-- the subprotocols offered. options.verify = false accepts any
-- certificate from a wss:// server (it is verified against the system's
-- roots otherwise); options.headers adds fields to the request (name =
-- value: Origin, Authorization, ...); options.deflate = false offers no
-- permessage-deflate (it is offered otherwise, and used if the server
-- agrees: messages of 64 bytes or more go compressed);
-- options.max_message (bytes, 1 MiB by default, at most 1 GiB) bounds
-- what the server may send: a message, inflated if it was compressed, or
-- a frame past it closes the connection with 1009. lua-http has no such
-- option: it is luaedge's.
function M.new_from_uri(uri, protocols, options)
	I.check_type("new_from_uri", 1, uri, "string")
	local u = parse_uri(uri)
	local offered = ""
	if protocols ~= nil then
		if type(protocols) ~= "table" then
			error("bad argument #2 to 'new_from_uri' (table expected, got " .. type(protocols) .. ")", 2)
		end
		for i = 1, #protocols do
			if not I.ws_token(protocols[i]) then
				error("new_from_uri: protocols[" .. i .. "] is not a token", 2)
			end
		end
		offered = table.concat(protocols, ", ")
	end
	local flags, extra = u.tls and 1 or 0, {}
	local deflate, max_message = true, 0
	if options ~= nil then
		if type(options) ~= "table" then
			error("bad argument #3 to 'new_from_uri' (table expected, got " .. type(options) .. ")", 2)
		end
		if options.verify == false and u.tls then flags = 3 end
		if options.deflate ~= nil then
			if type(options.deflate) ~= "boolean" then error("new_from_uri: options.deflate must be a boolean", 2) end
			deflate = options.deflate
		end
		if options.max_message ~= nil then
			local n = options.max_message
			if type(n) ~= "number" or n % 1 ~= 0 or n < 1 or n > MAX_MESSAGE then
				error("new_from_uri: options.max_message must be a whole number of bytes from 1 to 1 GiB", 2)
			end
			max_message = n
		end
		if options.headers ~= nil then
			if type(options.headers) ~= "table" then error("new_from_uri: options.headers must be a table", 2) end
			for name, value in pairs(options.headers) do
				value = tostring(value)
				if not I.ws_token(name) or own_fields[name:lower()] then
					error("new_from_uri: options.headers: '" .. tostring(name) .. "' is not a field name the request may carry", 2)
				end
				if value:find("[%z\1-\8\10-\31\127]") then
					error("new_from_uri: options.headers: the value of '" .. name .. "' has a control character", 2)
				end
				extra[#extra + 1] = name .. ": " .. value .. "\r\n"
			end
		end
	end
	if deflate then flags = flags + 4 end
	local ws = setmetatable({}, mt)
	priv[ws] = {
		request = u.addr .. "\n" .. u.host .. "\n" .. u.target .. "\n" .. offered .. "\n" ..
			string.format("%d", max_message) .. "\n" .. table.concat(extra),
		flags = flags, id = 0, owner = false, state = NEW,
	}
	return ws
end

local function check(self, fname)
	local p = priv[self]
	if p == nil then
		error("bad argument #1 to '" .. fname .. "' (WebSocket expected; use ws:" .. fname .. "(...))", 3)
	end
	return p
end

-- ms turns a timeout in seconds into Go's milliseconds (0: none; at most
-- 24 days, an int32).
local function ms(timeout, fname)
	if timeout == nil then return 0 end
	local t = tonumber(timeout)
	if t == nil or not (t >= 0) then
		error("bad argument to '" .. fname .. "' (non-negative timeout expected)", 3)
	end
	return math.max(1, math.floor(math.min(t, 2147483) * 1000))
end

-- op runs one operation in Go and returns its result code, bytes and
-- argument.
local function op(p, fname, code, data, arg, timeout_ms)
	local s, ctx = I.current()
	if s == nil then
		error("WebSocket:" .. fname .. ": WebSocket clients work in actions, services and tasks only", 3)
	end
	if p.id ~= 0 and p.owner ~= s then
		error("WebSocket:" .. fname .. ": this WebSocket belongs to another request or task", 3)
	end
	s.sock, s.sock_op, s.sock_arg, s.sock_ms = p.id, code, arg or 0, timeout_ms or 0
	s.io.len = 0
	if data and I.buf_append(s.io, data, #data) ~= 0 then error("WebSocket:" .. fname .. ": out of memory", 3) end
	I.wait(ctx, I.OP_SOCKET)
	return s.sock_res, ffi_string(s.io.p, s.io.len), s.sock_arg, s
end

local function gone(p)
	if p.state == NEW then return nil, "not connected", ENOTCONN end
	return nil, "closed", EPIPE
end

-- connect([timeout]) connects, over TLS for wss://, and makes the opening
-- handshake; ws.protocol is then the subprotocol the server chose (nil
-- for none). It returns true, or nil and why.
function Client.connect(self, timeout)
	local p = check(self, "connect")
	if p.state ~= NEW then return nil, "already connected" end
	local res, msg, _, s = op(p, "connect", WS_CONNECT, p.request, p.flags, ms(timeout, "connect"))
	if res ~= OK then
		p.state = CLOSED
		if res == ETIMEOUT then return nil, "timeout", ETIMEDOUT end
		return nil, msg
	end
	p.id, p.owner, p.state = s.sock, s, OPEN
	if msg ~= "" then rawset(self, "protocol", msg) end
	return true
end

-- receive([timeout]) returns the next message and its type ("text" or
-- "binary"), waiting up to timeout seconds (forever without): nil,
-- "timeout", ETIMEDOUT when none came. When the connection closes it
-- returns nil, the reason and the close code (1005 for a close frame
-- without one, 1006 when the connection ended without a close frame, or
-- the code luaedge closed with when the server broke the protocol); then
-- nil, "closed", EPIPE. Pings are answered by luaedge.
function Client.receive(self, timeout)
	local p = check(self, "receive")
	if p.state ~= OPEN then return gone(p) end
	local res, data, arg = op(p, "receive", WS_RECV, nil, 0, ms(timeout, "receive"))
	if res == OK then return data, arg == MSG_BINARY and "binary" or "text" end
	if res == ECLOSED then
		p.state = CLOSED
		local code = tonumber(arg)
		rawset(self, "got_close_code", code)
		rawset(self, "got_close_message", data)
		return nil, data, code
	end
	if res == ETIMEOUT then return nil, "timeout", ETIMEDOUT end
	return nil, data
end

-- each() iterates over the messages until the connection closes.
function Client.each(self)
	return function(ws) return Client.receive(ws) end, self
end

local function send_message(self, fname, data, flags, timeout)
	local p = check(self, fname)
	if p.state ~= OPEN then return gone(p) end
	local res, msg = op(p, fname, WS_SEND, data, flags, ms(timeout, fname))
	if res == OK then return true end
	if res == ECLOSED then return nil, "closed", EPIPE end
	if res == ETIMEOUT then return nil, "timeout", ETIMEDOUT end
	return nil, msg
end

-- send(data[, opcode[, timeout]]) sends a message: opcode "text" (the
-- default; data must be UTF-8, which is not checked) or "binary". It
-- waits while the server has more than 1 MiB unread, up to timeout.
function Client.send(self, data, opcode, timeout)
	local flags = I.ws_send_flags(data, opcode)
	return send_message(self, "send", data, flags, timeout)
end

local function control(self, fname, data, flags, timeout)
	if data == nil then data = "" end
	if type(data) ~= "string" then
		error("bad argument #2 to '" .. fname .. "' (string expected, got " .. type(data) .. ")", 3)
	end
	if #data > 125 then error(fname .. ": a control frame carries at most 125 bytes", 3) end
	return send_message(self, fname, data, flags, timeout)
end

-- send_ping([data[, timeout]]) and send_pong([data[, timeout]]).
function Client.send_ping(self, data, timeout) return control(self, "send_ping", data, MSG_PING, timeout) end
function Client.send_pong(self, data, timeout) return control(self, "send_pong", data, MSG_PONG, timeout) end

local function valid_code(c)
	return (c >= 1000 and c <= 1003) or (c >= 1007 and c <= 1014) or (c >= 3000 and c <= 4999)
end

-- close([code[, reason[, timeout]]]) sends a close frame (1000 by
-- default) and waits for the server's, up to timeout (ws.close_timeout,
-- 3 s, without); messages arriving meanwhile are dropped. Then the
-- connection ends. It returns true.
function Client.close(self, code, reason, timeout)
	local p = check(self, "close")
	if p.state ~= OPEN then
		p.state = CLOSED
		return true
	end
	code = code == nil and 1000 or tonumber(code)
	if code == nil or code % 1 ~= 0 or not valid_code(code) then
		error("bad argument #2 to 'close' (a close code 1000-1003, 1007-1014 or 3000-4999 expected)", 2)
	end
	reason = reason == nil and "" or tostring(reason)
	if #reason > 123 then error("close: the reason has at most 123 bytes", 2) end
	if timeout == nil then timeout = rawget(self, "close_timeout") or 3 end
	local payload = schar(rshift(code, 8), band(code, 255)) .. reason
	op(p, "close", WS_CLOSE, payload, 0, ms(timeout, "close"))
	p.state = CLOSED
	return true
end
