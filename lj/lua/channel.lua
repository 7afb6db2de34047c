-- Channel: txn.req and txn.res. Reference: HAProxy Lua API, class Channel.
--
-- A channel's input is what arrived from one side and was not yet passed
-- on. It lives in the stream's body buffer: body[body_pos .. body_pos +
-- passed) was already passed on (Channel:forward, Channel:send) and
-- body[body_pos + passed .. len) is the input scripts read and change.
-- When the rules end, Go sends the whole buffer on to the other side.
--
-- In TCP mode txn.req holds the client's bytes during tcp-request rules
-- and txn.res the server's during tcp-response rules; txn.res:send during
-- tcp-request rules answers the client directly. In HTTP mode a channel
-- reads the request body received so far and cannot change it.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string, ffi_copy = ffi.string, ffi.copy
local band = bit.band

-- Channels buffer at most this much input (Channel:is_full).
local CHANNEL_MAX = 65536

-- HOLD_MAX bounds the bytes a script can pile into a channel within one
-- rule (set, append, send, insert): they stay in C memory, outside the
-- state's memory_limit, until the rule returns. Past it the call is an
-- error naming the limit (docs/lua-api.md, "Limits").
local HOLD_MAX = 16 * 1024 * 1024

local function put(b, data, fname)
	if b.len + #data > HOLD_MAX then
		error("Channel:" .. fname .. ": the channel would hold more than 16 MiB (luaedge's limit of bytes a rule adds to a channel)", 3)
	end
	if I.buf_append(b, data, #data) ~= 0 then
		error("Channel:" .. fname .. ": out of memory", 3)
	end
end

local Channel = {}
local mt = { __index = Channel, __tostring = function() return "Channel" end }

-- new_channel makes txn.req (dir "req") or txn.res: once per coroutine,
-- as its TXN. Which one a channel is, is known from the context.
function I.new_channel(txn, dir)
	local ctx = I.owner[txn]
	local ch = setmetatable({}, mt)
	I.owner[ch] = ctx
	if dir == "req" then ctx.req_channel = ch end
	return ch
end

-- which returns how the channel acts now: "input" (its side's bytes are
-- in the body buffer), "direct" (txn.res while the request side runs:
-- sends go straight to the client), or "http" (only lengths can be read
-- then: read_http refuses the rest, as HAProxy 2.6 does).
local stream_of = I.stream_of
local function which(self, fname)
	local s, ctx = stream_of(self, fname, "Channel", 4)
	local req = ctx.req_channel == self
	if not ctx.tcp then
		if not req then
			error("Channel:" .. fname .. " on the response is not available in HTTP mode", 3)
		end
		return s, "http", ctx
	end
	if req == (ctx.tcp_stage == "req") then return s, "input", ctx end
	return s, "direct", ctx
end

local function read_http(fname)
	error("Channel:" .. fname .. ": cannot manipulate HAProxy channels in HTTP mode (read the body with txn.f:req_body())", 3)
end

local function input_start(s, ctx)
	return s.body_pos + (ctx.passed or 0)
end

local function input_len(s, ctx)
	return s.body.len - input_start(s, ctx)
end

-- wait_input parks the coroutine until more of this side arrived; false
-- when the side has closed.
local function wait_input(s, ctx)
	if band(s.flags, I.F_BODY_END) ~= 0 then return false end
	I.wait(ctx, I.OP_RECV)
	return true
end

function Channel.get_in_len(self)
	local s, mode, ctx = which(self, "get_in_len")
	if mode == "http" then return s.body.len - s.body_pos end
	if mode == "direct" then return 0 end
	return input_len(s, ctx)
end
Channel.get_in_length = Channel.get_in_len

function Channel.get_out_len(self)
	local s, mode, ctx = which(self, "get_out_len")
	if mode == "input" then return ctx.passed or 0 end
	if mode == "direct" then return s.out.len end
	return 0
end
Channel.get_out_length = Channel.get_out_len

-- dup returns the input without removing it; it waits for input when
-- there is none yet. nil when the side closed with nothing left.
function Channel.dup(self)
	local s, mode, ctx = which(self, "dup")
	if mode == "http" then read_http("dup") end
	if mode == "direct" then return nil end
	local start = input_start(s, ctx)
	while s.body.len - start == 0 do
		if not wait_input(s, ctx) then return nil end
		start = input_start(s, ctx)
	end
	return ffi_string(s.body.p + start, s.body.len - start)
end

-- get returns the input and removes it.
function Channel.get(self)
	local s, mode, ctx = which(self, "get")
	if mode == "http" then read_http("get") end
	local v = Channel.dup(self)
	if v == nil then return nil end
	s.body.len = input_start(s, ctx)
	return v
end

-- remove drops n bytes of input at offset off (from the input's start).
local function remove(s, start, off, n)
	local p = s.body.p + start + off
	ffi_copy(p, p + n, s.body.len - (start + off + n))
	s.body.len = s.body.len - n
end

-- getline returns the first line of the input (with its "\n") and removes
-- it, waiting for the line to be complete; at the end of the side, what
-- is left.
function Channel.getline(self)
	local s, mode, ctx = which(self, "getline")
	if mode == "http" then read_http("getline") end
	if mode == "direct" then return nil end
	local scanned = 0
	while true do
		local start = input_start(s, ctx)
		local n = s.body.len - start
		local p = s.body.p + start
		for i = scanned, n - 1 do
			if p[i] == 10 then
				local line = ffi_string(p, i + 1)
				remove(s, start, 0, i + 1)
				return line
			end
		end
		scanned = n
		if not wait_input(s, ctx) then
			if n == 0 then return nil end
			local rest = ffi_string(p, n)
			s.body.len = start
			return rest
		end
	end
end

local function writable(self, fname)
	local s, mode, ctx = which(self, fname)
	if mode == "http" then
		error("Channel:" .. fname .. " is not available in HTTP mode (use the HTTP class)", 3)
	end
	return s, mode, ctx
end

-- set replaces the input with data; returns the length written.
function Channel.set(self, data)
	local s, mode, ctx = writable(self, "set")
	if type(data) ~= "string" then data = tostring(data) end
	if mode == "direct" then return -1 end
	s.body.len = input_start(s, ctx)
	put(s.body, data, "set")
	return #data
end

-- append adds data at the end of the input.
function Channel.append(self, data)
	local s, mode = writable(self, "append")
	if type(data) ~= "string" then data = tostring(data) end
	if mode == "direct" then return -1 end
	put(s.body, data, "append")
	return #data
end

-- send passes data on at once, before the input.
function Channel.send(self, data)
	local s, mode, ctx = writable(self, "send")
	if type(data) ~= "string" then data = tostring(data) end
	if mode == "direct" then
		put(s.out, data, "send")
		return #data
	end
	-- Insert after what was passed already: grow, shift the input, copy.
	local start = input_start(s, ctx)
	local tail = s.body.len - start
	put(s.body, data, "send")
	local p = s.body.p + start
	ffi_copy(p + #data, p, tail)
	ffi_copy(p, data, #data)
	ctx.passed = (ctx.passed or 0) + #data
	return #data
end

-- count returns v as a byte count (a non-negative integer), or dflt when
-- v is nil; anything else is an error naming argument i of fname. The
-- counts become offsets into the C buffer: NaN, a fraction or a negative
-- count would address memory outside it.
local function count(v, dflt, fname, i)
	if v == nil then return dflt end
	local n = tonumber(v)
	if n == nil or not (n >= 0) or n % 1 ~= 0 then
		error("bad argument #" .. i .. " to '" .. fname .. "' (byte count expected)", 3)
	end
	return n
end

-- forward passes the first n bytes of input on, unread by Lua.
function Channel.forward(self, n)
	local s, mode, ctx = writable(self, "forward")
	n = count(n, nil, "forward", 2)
	if n == nil then error("bad argument #2 to 'forward' (byte count expected)", 2) end
	if mode == "direct" then return 0 end
	n = math.min(n, input_len(s, ctx))
	ctx.passed = (ctx.passed or 0) + n
	return n
end

-- remove(offset, length) is HAProxy 2.6's Channel:remove: drop input bytes.
function Channel.remove(self, offset, len)
	local s, mode, ctx = writable(self, "remove")
	offset = count(offset, 0, "remove", 2)
	len = count(len, nil, "remove", 3)
	if mode == "direct" then return 0 end
	local avail = input_len(s, ctx) - offset
	if len == nil or len > avail then len = avail end
	if len <= 0 then return 0 end
	remove(s, input_start(s, ctx), offset, len)
	return len
end

function Channel.is_full(self)
	local s, mode, ctx = which(self, "is_full")
	if mode ~= "input" then return false end
	return input_len(s, ctx) >= CHANNEL_MAX
end
