-- http.websocket: WebSocket for HTTP services, the server side of
-- lua-http's module of that name. Go's half is serve/ws (frames, pings,
-- the close handshake, limits) and serve/http1's Upgrade (the handshake);
-- what crosses is described in cgo/stream.h (ws_op, ws_code, io, body,
-- out and its message boundaries).
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string = ffi.string
local band, bor, rshift = bit.band, bit.bor, bit.rshift
local schar, type, tostring, tonumber = string.char, type, tostring, tonumber
local mono_us = I.mono_us
local MSG_TEXT, MSG_BINARY, MSG_CLOSE = I.MSG_TEXT, I.MSG_BINARY, I.MSG_CLOSE
local MSG_PING, MSG_PONG = I.MSG_PING, I.MSG_PONG

-- errno values lua-http returns (Linux's).
local EPIPE, ENOTCONN, ETIMEDOUT = 32, 107, 110

-- Messages sent are handed to Go once this many bytes wait, as
-- AppletHTTP:send does; Go then parks the service while the client has
-- more than 1 MiB unsent.
local FLUSH_AT = 65536

local M = {}
local WebSocket = {}
local mt = { __index = WebSocket, __tostring = function() return "WebSocket" end }

-- What luaedge keeps of each WebSocket object, out of the scripts' reach:
-- the coroutine context and connection it belongs to, and its state:
-- NEW (not accepted), OPEN, CLOSING (our close frame sent), CLOSED.
local NEW, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
local priv = setmetatable({}, { __mode = "k" })

local function state_of(self, fname)
	local p = priv[self]
	if p == nil then
		error("bad argument #1 to '" .. fname .. "' (WebSocket expected; use ws:" .. fname .. "(...))", 3)
	end
	local s = p.ctx.s
	if s == nil or s.conn_id ~= p.conn then
		error("WebSocket:" .. fname .. ": the request of this WebSocket has ended", 3)
	end
	return s, p.ctx, p
end

-- new_from_applet(applet) makes the WebSocket of an HTTP service's
-- request; nothing is sent until accept.
function M.new_from_applet(applet)
	local ctx = I.owner[applet]
	if ctx == nil or ctx.applet_http ~= applet then
		error("bad argument #1 to 'new_from_applet' (AppletHTTP expected)", 2)
	end
	local s = ctx.s
	if s == nil then error("new_from_applet: the request of this AppletHTTP has ended", 2) end
	local ws = setmetatable({}, mt)
	-- filters: the frontend's ws_filters (nil: none, and receive and
	-- send pay nothing for them).
	priv[ws] = { ctx = ctx, conn = s.conn_id, state = NEW, filters = I.programs[s.entry_arg].ws_filters }
	return ws
end

-- new_from_stream(stream, headers) makes the WebSocket of an http-stream
-- service's request (http_stream.lua), as lua-http's function of that
-- name: nil, why, EINVAL when headers are not those of a WebSocket
-- upgrade over HTTP/1.1; nothing is sent until accept.
local EINVAL = 22
function M.new_from_stream(stream, headers)
	local ctx = I.stream_ctx(stream, "new_from_stream")
	if stream.connection.version ~= 1.1 then
		return nil, "websockets only supported with HTTP 1.1", EINVAL
	end
	local upgrade = headers:get("upgrade")
	if upgrade == nil or upgrade:lower() ~= "websocket" then
		return nil, "upgrade header not websocket", EINVAL
	end
	local connection = "," .. (headers:get_comma_separated("connection") or ""):lower():gsub("[ \t]", "") .. ","
	if not connection:find(",upgrade,", 1, true) then
		return nil, "connection header doesn't contain upgrade", EINVAL
	end
	if headers:get("sec-websocket-key") == nil then
		return nil, "missing sec-websocket-key", EINVAL
	end
	if headers:get("sec-websocket-version") ~= "13" then
		return nil, "unsupported sec-websocket-version", EINVAL
	end
	return M.new_from_applet(ctx.applet_http)
end

-- A subprotocol is a token (RFC 6455 §4.1, RFC 9110 §5.6.2).
local function is_token(v)
	return type(v) == "string" and v:find("^[!#$%%&'*+%-.^_`|~%w]+$") ~= nil
end
I.ws_token = is_token -- the client's subprotocols and fields (websocket_client.lua)

-- accept([options]) checks the request as a WebSocket upgrade and sends
-- the 101: options.protocols lists the subprotocols spoken, preferred
-- first (ws.protocol is the one chosen, nil if the client offered none of
-- them); options.deflate = false declines permessage-deflate. A request
-- that is no valid upgrade gets nil, why, status (400, or 426 for another
-- protocol version; 503 past websocket.max_connections or when shutting
-- down): the response is readied with that status (and
-- sec-websocket-version: 13 for 426) and the service answers it as it
-- sees fit.
function WebSocket.accept(self, options)
	local s, ctx, p = state_of(self, "accept")
	if p.state ~= NEW then error("WebSocket:accept: already accepted", 2) end
	local protocols, deflate = "", 1
	if options ~= nil then
		if type(options) ~= "table" then
			error("bad argument #2 to 'accept' (table expected, got " .. type(options) .. ")", 2)
		end
		local list = options.protocols
		if list ~= nil then
			if type(list) ~= "table" then error("accept: options.protocols must be a list of strings", 2) end
			for i = 1, #list do
				if not is_token(list[i]) then
					error("accept: options.protocols[" .. i .. "] is not a token", 2)
				end
			end
			protocols = table.concat(list, ",")
		end
		if options.deflate == false then deflate = 0 end
	end
	s.io.len = 0
	if I.buf_append(s.io, protocols, #protocols) ~= 0 then error("accept: out of memory", 2) end
	s.ws_op = deflate
	I.wait(ctx, I.OP_UPGRADE)
	local code = s.ws_code
	local why = ffi_string(s.io.p, s.io.len)
	if code ~= 0 then
		local applet = ctx.applet_http
		I.AppletHTTP.set_status(applet, code)
		if code == 426 then I.AppletHTTP.add_header(applet, "sec-websocket-version", "13") end
		return nil, why, code
	end
	p.state = OPEN
	-- The response is the 101: the http-response rules do not run.
	s.flags = bor(s.flags, I.F_STARTED)
	if why ~= "" then rawset(self, "protocol", why) end
	if ctx.hooks ~= nil then I.hooks_ws_open(ctx) end
	return true
end

local function gone(p)
	if p.state == NEW then return nil, "not accepted", ENOTCONN end
	return nil, "closed", EPIPE
end

local function opcode_flag(opcode, fname)
	if opcode == nil or opcode == "text" then return MSG_TEXT end
	if opcode == "binary" then return MSG_BINARY end
	error(fname .. ": the opcode must be \"text\" or \"binary\"", 0)
end

-- run_filters runs the ws_filters of chain (core.register_ws_filter's
-- functions, in order) on a message from "client" or "server": the one
-- place they run, for a relay (ENTRY_WS_FILTER) and for a WebSocket a
-- service accepted (in its coroutine). It returns what goes on and its
-- opcode; or nil (dropped), the opcode and the answer for the sender
-- (nil: none).
local function run_filters(ctx, chain, data, opcode, from)
	for i = 1, #chain do
		local f = chain[i]
		I.enter(ctx, f.stats)
		local out, second = f.fn(data, opcode, from)
		I.leave(ctx, false)
		if out == nil or out == false then
			if second ~= nil then second = tostring(second) end
			return nil, opcode, second
		end
		data = tostring(out)
		if second ~= nil then opcode = second end
	end
	return data, opcode
end

-- service_filters runs the filters on a message of a service's
-- WebSocket: the service's call is accounted up to here, the filters
-- are their own.
local function service_filters(ctx, chain, data, opcode, from)
	local svc = ctx.call
	if svc then I.leave(ctx, false) end
	local out, kind, answer = run_filters(ctx, chain, data, opcode, from)
	if svc then ctx.call, ctx.t0, ctx.b0 = svc, mono_us(), I.loop.allocated end
	if out ~= nil or answer ~= nil then opcode_flag(kind, "ws filter") end
	return out, kind, answer
end

-- put hands a message to Go for the client; the service parks while
-- FLUSH_AT bytes wait.
local function put(s, ctx, fname, data, flags)
	if I.buf_append(s.out, data, #data) ~= 0 or I.end_msg(s, flags) ~= 0 then
		error(fname .. ": out of memory", 4)
	end
	if s.out.len >= FLUSH_AT then I.wait(ctx, I.OP_FLUSH) end
end

-- take returns the message Go put in the body (or a filter's answer to
-- what the service sent), or the close, or nil.
local function take(self, s, p)
	local answers = p.answers
	if answers ~= nil and answers[1] ~= nil then
		local a = table.remove(answers, 1)
		return a[1], a[2]
	end
	local op = s.ws_op
	if op == MSG_TEXT or op == MSG_BINARY then
		local data = ffi_string(s.body.p, s.body.len)
		s.body.len = 0
		s.ws_op = 0 -- Go may put the next one
		local kind = op == MSG_TEXT and "text" or "binary"
		-- The frontend's ws_filters see it first, then the hook scripts;
		-- either may change or drop it (nil: receive waits for the
		-- next). A filter's answer goes back to the client.
		if p.filters ~= nil then
			local answer
			data, kind, answer = service_filters(p.ctx, p.filters, data, kind, "client")
			if data == nil then
				if answer ~= nil then put(s, p.ctx, "receive", answer, opcode_flag(kind)) end
				return nil
			end
		end
		if p.ctx.hooks ~= nil then return I.hooks_ws_msg(p.ctx, data, kind, "in") end
		return data, kind
	elseif op == MSG_CLOSE then
		p.state = CLOSED
		local code, reason = tonumber(s.ws_code), ffi_string(s.io.p, s.io.len)
		rawset(self, "got_close_code", code)
		rawset(self, "got_close_message", reason)
		if p.ctx.hooks ~= nil then I.hooks_ws_close(p.ctx, code, reason) end
		return nil, reason, code
	end
	return nil
end

-- receive([timeout]) returns the next message and its type ("text" or
-- "binary"), waiting up to timeout seconds (forever without): nil,
-- "timeout", ETIMEDOUT when none came. When the connection closes it
-- returns nil, the reason and the close code (1005 for a close frame
-- without one, 1006 when the connection ended without a close frame, or
-- the code luaedge closed with when the client broke the protocol); then
-- nil, "closed", EPIPE.
function WebSocket.receive(self, timeout)
	local s, ctx, p = state_of(self, "receive")
	if p.state ~= OPEN and p.state ~= CLOSING then return gone(p) end
	local deadline
	if timeout ~= nil then
		timeout = tonumber(timeout)
		if timeout == nil or not (timeout >= 0) then
			error("bad argument #2 to 'receive' (non-negative number expected)", 2)
		end
		deadline = mono_us() + timeout * 1e6
	end
	while true do
		local data, kind, code = take(self, s, p)
		if data ~= nil or kind ~= nil then return data, kind, code end
		local ms = 0
		if deadline ~= nil then
			local left = deadline - mono_us()
			if left <= 0 then return nil, "timeout", ETIMEDOUT end
			ms = math.max(left / 1000, 1)
		end
		I.wait(ctx, I.OP_RECV, ms)
	end
end

-- each() iterates over the messages until the connection closes:
-- for data, opcode in ws:each() do ... end
function WebSocket.each(self)
	return function(ws) return WebSocket.receive(ws) end, self
end

local function send_message(self, fname, data, flags)
	local s, ctx, p = state_of(self, fname)
	if p.state ~= OPEN then return gone(p) end
	if (p.filters ~= nil or ctx.hooks ~= nil) and (flags == MSG_TEXT or flags == MSG_BINARY) then
		-- The frontend's ws_filters, then the hook scripts, as on the
		-- way in. A filter's answer is what the next receive returns.
		local kind = flags == MSG_TEXT and "text" or "binary"
		if p.filters ~= nil then
			local answer
			data, kind, answer = service_filters(ctx, p.filters, data, kind, "server")
			if data == nil then
				if answer ~= nil then
					p.answers = p.answers or {}
					p.answers[#p.answers + 1] = { answer, kind }
				end
				return true
			end
		end
		if ctx.hooks ~= nil then
			data, kind = I.hooks_ws_msg(ctx, data, kind, "out")
			if data == nil then return true end -- a hook dropped it
		end
		flags = kind == "binary" and MSG_BINARY or MSG_TEXT
	end
	put(s, ctx, fname, data, flags)
	return true
end

-- send_flags checks send's arguments, server and client side alike, and
-- returns the message's type; its errors blame send's caller.
function I.ws_send_flags(data, opcode)
	if type(data) ~= "string" then
		error("bad argument #2 to 'send' (string expected, got " .. type(data) .. ")", 3)
	end
	if opcode == nil or opcode == "text" or opcode == 1 then
		return MSG_TEXT
	elseif opcode == "binary" or opcode == 2 then
		return MSG_BINARY
	end
	error("bad argument #3 to 'send' (\"text\" or \"binary\" expected)", 3)
end

-- send(data[, opcode]) sends a message: opcode "text" (the default; data
-- must be UTF-8, which is not checked) or "binary".
function WebSocket.send(self, data, opcode)
	local flags = I.ws_send_flags(data, opcode)
	return send_message(self, "send", data, flags)
end

local function control(self, fname, data, flags)
	if data == nil then data = "" end
	if type(data) ~= "string" then
		error("bad argument #2 to '" .. fname .. "' (string expected, got " .. type(data) .. ")", 3)
	end
	if #data > 125 then error(fname .. ": a control frame carries at most 125 bytes", 3) end
	return send_message(self, fname, data, flags)
end

-- send_ping([data]) and send_pong([data]); pings from the client are
-- answered by luaedge.
function WebSocket.send_ping(self, data) return control(self, "send_ping", data, MSG_PING) end
function WebSocket.send_pong(self, data) return control(self, "send_pong", data, MSG_PONG) end

local function valid_code(c)
	return (c >= 1000 and c <= 1003) or (c >= 1007 and c <= 1014) or (c >= 3000 and c <= 4999)
end

-- close([code[, reason]]) sends a close frame (1000 by default) and waits
-- for the client's, up to websocket.close_timeout; messages arriving
-- meanwhile are dropped. It returns true.
function WebSocket.close(self, code, reason)
	local s, ctx, p = state_of(self, "close")
	if p.state == NEW then return gone(p) end
	if p.state ~= OPEN then return true end
	code = code == nil and 1000 or tonumber(code)
	if code == nil or code % 1 ~= 0 or not valid_code(code) then
		error("bad argument #2 to 'close' (a close code 1000-1003, 1007-1014 or 3000-4999 expected)", 2)
	end
	reason = reason == nil and "" or tostring(reason)
	if #reason > 123 then error("close: the reason has at most 123 bytes", 2) end
	local payload = schar(rshift(code, 8), band(code, 255)) .. reason
	if I.buf_append(s.out, payload, #payload) ~= 0 or I.end_msg(s, MSG_CLOSE) ~= 0 then
		error("close: out of memory", 2)
	end
	p.state = CLOSING
	while p.state == CLOSING do
		local data = take(self, s, p)
		if p.state == CLOSING and data == nil then I.wait(ctx, I.OP_RECV, 0) end
	end
	return true
end

local function check_topic(fname, topic)
	if type(topic) ~= "string" then
		error("bad argument #1 to '" .. fname .. "' (string expected, got " .. type(topic) .. ")", 3)
	end
end

-- subscribe(topic) makes the connection receive what core.publish sends
-- to topic, from any worker, without Lua running for it (the messages do
-- not go through receive). false when closed or at 256 subscriptions.
function WebSocket.subscribe(self, topic)
	local s, _, p = state_of(self, "subscribe")
	check_topic("subscribe", topic)
	if p.state ~= OPEN then return false end
	return I.gocall(I.go.ws_subscribe, tonumber(s.conn_id), topic, true)
end

-- unsubscribe(topic) undoes subscribe; closing the connection undoes all.
function WebSocket.unsubscribe(self, topic)
	local s = state_of(self, "unsubscribe")
	check_topic("unsubscribe", topic)
	I.gocall(I.go.ws_subscribe, tonumber(s.conn_id), topic, false)
	return true
end

-- core.publish(topic, data[, opcode]) sends data ("text", the default, or
-- "binary") to every WebSocket subscribed to topic on every worker; it
-- may be called from any Lua context. It returns false when a worker had
-- too much published not yet delivered and dropped it (serve/ws/hub.go).
function core.publish(topic, data, opcode)
	if type(topic) ~= "string" then
		error("bad argument #1 to 'core.publish' (string expected, got " .. type(topic) .. ")", 2)
	end
	if type(data) ~= "string" then
		error("bad argument #2 to 'core.publish' (string expected, got " .. type(data) .. ")", 2)
	end
	local binary
	if opcode == nil or opcode == "text" or opcode == 1 then
		binary = false
	elseif opcode == "binary" or opcode == 2 then
		binary = true
	else
		error("bad argument #3 to 'core.publish' (\"text\" or \"binary\" expected)", 2)
	end
	return I.gocall(I.go.ws_publish, topic, data, binary)
end

-- WebSocket filters ----------------------------------------------------------

-- core.register_ws_filter(name, fn): fn(data, opcode, from) runs on each
-- message of a WebSocket whose frontend lists lua.NAME in ws_filters,
-- forwarded (a relay's run) or accepted by a service (in its coroutine,
-- run_filters above); opcode is "text" or "binary", from "client" or
-- "server" (the backend, or the service). It returns what goes on: a
-- string (the message, changed or not; with an opcode as second value to
-- change its type), or nil to drop it, with an answer as second value to
-- send that back to the sender instead.
local ws_filters = {}
function core.register_ws_filter(name, fn)
	I.check_type("core.register_ws_filter", 1, name, "string")
	I.check_type("core.register_ws_filter", 2, fn, "function")
	ws_filters[name] = { fn = fn, stats = I.record("ws_filter", name, fn) }
end

-- ws_chain resolves the ws_filters of program prog's frontend at
-- start-up (Go's lj.State.WSFilterChain): its relays run the chain by
-- id, its services' WebSockets find it in the program.
local chains = {}
function I.ws_chain(prog, names)
	local chain = {}
	for i = 1, #names do
		local f = ws_filters[names[i]]
		if f == nil then
			error("ws_filters: no Lua WebSocket filter named '" .. names[i] .. "' (core.register_ws_filter was not called for it)", 0)
		end
		chain[i] = f
	end
	chains[#chains + 1] = chain
	-- prog 0: none (luaedge check, where the frontend's program failed,
	-- still checks the names).
	if prog ~= 0 then I.programs[prog].ws_filters = chain end
	return #chains
end

-- ws_hooks has chain id (0: a new empty one) run the ws_* hooks of
-- program prog too, after its filters (hooks.lua); Go's
-- lj.State.WSHookChain.
function I.ws_hooks(id, prog)
	if id == 0 then
		chains[#chains + 1] = {}
		id = #chains
	end
	chains[id].hooks = I.programs[prog]
	return id
end

I.entries[I.ENTRY_WS_FILTER] = function(s, ctx)
	local chain = chains[s.entry_arg]
	-- With hook scripts, Go also runs the chain when the WebSocket opens
	-- (ws_op 0) and closes (MSG_CLOSE).
	local hk
	if chain.hooks then
		hk = I.hooks_relay_begin(ctx, chain.hooks)
		if s.ws_op == 0 then return I.hooks_ws_open(ctx, hk) end
		if s.ws_op == MSG_CLOSE then return I.hooks_ws_close(ctx, nil, nil, hk) end
	end
	local data = ffi_string(s.body.p, s.body.len)
	local opcode = s.ws_op == MSG_TEXT and "text" or "binary"
	local from = s.ws_code == 1 and "server" or "client"
	local answer
	data, opcode, answer = run_filters(ctx, chain, data, opcode, from)
	if data == nil then
		if answer ~= nil then
			if I.buf_append(s.out, answer, #answer) ~= 0 or I.end_msg(s, bor(opcode_flag(opcode, "ws filter"), I.MSG_REPLY)) ~= 0 then
				error("ws filter: out of memory", 0)
			end
		end
		return
	end
	if hk then
		data, opcode = I.hooks_ws_msg(ctx, data, opcode, from == "client" and "in" or "out", hk)
		if data == nil then return end
	end
	if I.buf_append(s.out, data, #data) ~= 0 or I.end_msg(s, opcode_flag(opcode, "ws filter")) ~= 0 then
		error("ws filter: out of memory", 0)
	end
end

package.preload["http.websocket"] = function() return M end
I.websocket = M
