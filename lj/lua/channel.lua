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
local band, bor = bit.band, bit.bor

-- Channels buffer at most this much input (Channel:is_full).
local CHANNEL_MAX = 65536

-- HOLD_MAX bounds the bytes a script can pile into a channel within one
-- rule (set, append, send, insert): they stay in C memory, outside the
-- state's memory_limit, until the rule returns. Past it the call is an
-- error naming the limit (docs/lua-api.md, "Limits").
local HOLD_MAX = 16 * 1024 * 1024

-- raise raises msg at the script's line that called the Channel method
-- (the first frame outside this file), as HAProxy's luaL_error does.
local getinfo = debug.getinfo
local SRC = getinfo(1, "S").source
local function raise(msg)
	local lvl = 2
	while true do
		local info = getinfo(lvl, "S")
		if info == nil or info.source ~= SRC then break end
		lvl = lvl + 1
	end
	error(msg, lvl)
end

local function put(b, data, fname)
	if b.len + #data > HOLD_MAX then
		raise("Channel:" .. fname .. ": the channel would hold more than 16 MiB (luaedge's limit of bytes a rule adds to a channel)")
	end
	if I.buf_append(b, data, #data) ~= 0 then
		raise("Channel:" .. fname .. ": out of memory")
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
-- then: in_http refuses the rest, as HAProxy 2.6 does); and whether it is
-- the request's channel.
local stream_of = I.stream_of
local function which(self, fname)
	local s, ctx = stream_of(self, fname, "Channel", 4)
	local req = ctx.req_channel == self
	if not ctx.tcp then return s, "http", ctx, req end
	if req == (ctx.tcp_stage == "req") then return s, "input", ctx, req end
	return s, "direct", ctx, req
end

-- HAProxy's words, without a position, for what HTTP mode refuses.
local function in_http()
	error("Cannot manipulate HAProxy channels in HTTP mode.", 0)
end

-- manipulable is which for the methods that read or change data.
local function manipulable(self, fname)
	local s, mode, ctx = which(self, fname)
	if mode == "http" then in_http() end
	return s, mode, ctx
end

local function input_start(s, ctx)
	return s.body_pos + (ctx.passed or 0)
end

local function input_len(s, ctx)
	return s.body.len - input_start(s, ctx)
end

-- may_recv: more of the side can come (it has not ended, and its input
-- is below is_full's mark: HAProxy's channel_may_recv with its buffer).
local function may_recv(s, ctx)
	return band(s.flags, I.F_BODY_END) == 0 and input_len(s, ctx) < CHANNEL_MAX
end

-- abort ends the connection (F_ABORT). In the tcp-response rules, what
-- they passed on (Channel:send, forward) goes to the client first, as
-- HAProxy sends it before closing: it moves to the output buffer.
function I.abort(s, ctx)
	if ctx.tcp_stage == "res" and (ctx.passed or 0) > 0 then
		if I.buf_append(s.out, s.body.p + s.body_pos, ctx.passed) ~= 0 then
			error("out of memory", 0)
		end
		ctx.passed = 0
	end
	s.flags = bor(s.flags, I.F_ABORT)
end

-- res_final: the tcp-response rules run for the last time: their inspect
-- delay passed (or there is none), or no more server bytes can come.
function I.res_final(s, ctx)
	return band(s.flags, I.F_RES_INSPECT_OVER) ~= 0 or not may_recv(s, ctx)
end

-- HAProxy's buffer is full for the tcp-request rules (channel_full) when
-- it holds this much: the default bufsize less maxrewrite.
local REQ_FULL = 16384 - 1024

-- req_final: the tcp-request rules run for the last time: the frontend's
-- inspect delay passed, the client ended, or its input fills HAProxy's
-- buffer (HAProxy's SMP_OPT_FINAL).
function I.req_final(s, ctx)
	return band(s.flags, I.F_INSPECT_OVER) ~= 0 or not may_recv(s, ctx) or input_len(s, ctx) >= REQ_FULL
end

-- wait_input parks the coroutine until more of this side arrived; false
-- when no more can come, or when the tcp-request or tcp-response rules'
-- inspect delay has passed or there is none for tcp-response (HAProxy's
-- final evaluation, where an action cannot wait).
local function wait_input(s, ctx)
	if not may_recv(s, ctx) then return false end
	if ctx.tcp_stage == "req" and band(s.flags, I.F_INSPECT_OVER) ~= 0 then return false end
	if ctx.tcp_stage == "res" and band(s.flags, I.F_RES_INSPECT_OVER) ~= 0 then return false end
	I.wait(ctx, I.OP_RECV)
	return true
end

-- nargs checks a method's count of arguments (the channel included), in
-- HAProxy's words.
local function nargs(n, want, fname)
	if n ~= want then raise("'" .. fname .. "' needs " .. want .. " arguments") end
end

-- Arguments as Lua 5.3's luaL_check* word their errors in HAProxy, the
-- first argument after the channel being #1.
local function int_arg(v, i, fname)
	local n = tonumber(v)
	if type(v) ~= "number" and (type(v) ~= "string" or n == nil) then
		raise("bad argument #" .. i .. " to '" .. fname .. "' (number expected, got " .. (v == nil and "no value" or type(v)) .. ")")
	end
	if n ~= n or n % 1 ~= 0 or n >= 2 ^ 31 or n < -2 ^ 31 then
		raise("bad argument #" .. i .. " to '" .. fname .. "' (number has no integer representation)")
	end
	return n
end

local function str_arg(v, i, fname)
	local t = type(v)
	if t == "number" then return tostring(v) end
	if t ~= "string" then
		raise("bad argument #" .. i .. " to '" .. fname .. "' (string expected, got " .. (v == nil and "nil" or t) .. ")")
	end
	return v
end

-- offset_arg turns an offset (negative: from the input's end) into one
-- from the input's start; HAProxy's error when it falls outside.
local function offset_arg(v, avail, fname)
	local off = int_arg(v, 1, fname)
	if off < 0 then off = math.max(0, avail + off) end
	if off > avail then error("offset out of range.", 0) end
	return off
end

function Channel.input(self)
	local s, mode, ctx = which(self, "input")
	if mode == "http" then
		if self ~= ctx.req_channel then return 0 end
		return s.body.len - s.body_pos
	end
	if mode == "direct" then return 0 end
	return input_len(s, ctx)
end
Channel.get_in_len = Channel.input
Channel.get_in_length = Channel.input

function Channel.output(self)
	local s, mode, ctx = which(self, "output")
	if mode == "input" then return ctx.passed or 0 end
	if mode == "direct" then return s.out.len end
	return 0
end
Channel.get_out_len = Channel.output
Channel.get_out_length = Channel.output

function Channel.is_full(self)
	local s, mode, ctx = which(self, "is_full")
	if mode ~= "input" then return false end
	return input_len(s, ctx) >= CHANNEL_MAX
end

function Channel.may_recv(self)
	local s, mode, ctx = which(self, "may_recv")
	if mode ~= "input" then return true end
	return may_recv(s, ctx)
end

function Channel.is_resp(self)
	local _, _, ctx, req = which(self, "is_resp")
	return not req
end

-- span reads data's and line's arguments: the offset from the input's
-- start and the length asked (nil: what is there; -1: as much as the
-- channel holds, is_full's mark).
local function span(s, ctx, fname, n, off, len)
	local avail = input_len(s, ctx)
	off = n >= 1 and offset_arg(off, avail, fname) or 0
	if n == 2 then
		len = int_arg(len, 2, fname)
		if len == -1 then
			len = CHANNEL_MAX
		elseif len < 0 then
			error("length out of range.", 0)
		end
		return off, len, avail
	end
	return off, nil, avail
end

-- peek is data (line false) and line: the bytes from offset, or its
-- first line, left in place. data waits while fewer than length bytes
-- are there, or none without a length; line, for a whole line without a
-- length, for length bytes with one; both as long as more can come, then
-- return what there is, or nil when nothing is.
local function peek(self, fname, line, ...)
	local n, off0, len0 = select("#", ...), ...
	if n > 2 then raise("'" .. fname .. "' expects at most 2 arguments") end
	local s, mode, ctx = manipulable(self, fname)
	if mode == "direct" then return nil end
	while true do
		local off, len, avail = span(s, ctx, fname, n, off0, len0)
		if len == 0 then return "" end
		local p = s.body.p + input_start(s, ctx) + off
		local have = avail - off
		if line then
			local stop = len and len < have and len or have
			for i = 0, stop - 1 do
				if p[i] == 10 then return ffi_string(p, i + 1) end
			end
			if len and len <= have then return ffi_string(p, len) end
		else
			local want = len or have
			if want > 0 and want <= have then return ffi_string(p, want) end
		end
		if not wait_input(s, ctx) then
			if have == 0 then return nil end
			return ffi_string(s.body.p + input_start(s, ctx) + off, have)
		end
	end
end

-- data([offset [, length]]) and line([offset [, length]]): see peek.
function Channel.data(self, ...) return peek(self, "data", false, ...) end
function Channel.line(self, ...) return peek(self, "line", true, ...) end

-- dup returns the input without removing it; it waits for input when
-- there is none yet. nil when the side closed with nothing left.
function Channel.dup(self)
	local s, mode, ctx = manipulable(self, "dup")
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
	local s, _, ctx = manipulable(self, "get")
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

-- insert puts data in the input at offset off (from its start).
local function insert(s, ctx, off, data, fname)
	local start = input_start(s, ctx)
	local tail = s.body.len - start - off
	put(s.body, data, fname)
	local p = s.body.p + start + off
	ffi_copy(p + #data, p, tail)
	ffi_copy(p, data, #data)
end

-- getline returns the first line of the input (with its "\n") and removes
-- it, waiting for the line to be complete; at the end of the side, what
-- is left.
function Channel.getline(self)
	local s, mode, ctx = manipulable(self, "getline")
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

-- range_args reads set's and remove's offset and length (argument li),
-- each given or not, over avail bytes of input: by default from the
-- start to the end, -1 up to the end; HAProxy's errors outside.
local function range_args(avail, fname, has_off, off, has_len, len, li)
	off = has_off and offset_arg(off, avail, fname) or 0
	if not has_len then return off, avail - off end
	len = int_arg(len, li, fname)
	if len == -1 then len = avail - off end
	if len < 0 or off + len > avail then error("length out of range.", 0) end
	return off, len
end

-- set(data [, offset [, length]]) replaces length bytes of input from
-- offset (all of it by default) with data; returns data's length.
function Channel.set(self, ...)
	local n, data, off, len = select("#", ...), ...
	if n < 1 or n > 3 then raise("'set' expects at least 1 argument and at most 3 arguments") end
	data = str_arg(data, 1, "set")
	local s, mode, ctx = manipulable(self, "set")
	if mode == "direct" then return -1 end
	off, len = range_args(input_len(s, ctx), "set", n >= 2, off, n == 3, len, 3)
	if len > 0 then remove(s, input_start(s, ctx), off, len) end
	if #data > 0 then insert(s, ctx, off, data, "set") end
	return #data
end

-- insert(data [, offset]) puts data in the input at offset; at its start
-- by default.
function Channel.insert(self, ...)
	local n, data, off = select("#", ...), ...
	if n < 1 or n > 2 then raise("'insert' expects at least 1 argument and at most 2 arguments") end
	data = str_arg(data, 1, "insert")
	local s, mode, ctx = which(self, "insert")
	if mode == "http" then
		if n == 2 then int_arg(off, 2, "insert") end
		in_http()
	end
	if mode == "direct" then return -1 end
	off = n == 2 and offset_arg(off, input_len(s, ctx), "insert") or 0
	if #data > 0 then insert(s, ctx, off, data, "insert") end
	return #data
end

-- prepend puts data at the start of the input. So does append, as in
-- HAProxy 2.6, whose append inserts in front of the input too.
function Channel.prepend(self, ...)
	nargs(select("#", ...) + 1, 2, "prepend")
	local data = str_arg((...), 1, "prepend")
	local s, mode, ctx = manipulable(self, "prepend")
	if mode == "direct" then return -1 end
	if #data > 0 then insert(s, ctx, 0, data, "prepend") end
	return #data
end

function Channel.append(self, ...)
	nargs(select("#", ...) + 1, 2, "append")
	local data = str_arg((...), 1, "append")
	local s, mode, ctx = manipulable(self, "append")
	if mode == "direct" then return -1 end
	if #data > 0 then insert(s, ctx, 0, data, "append") end
	return #data
end

-- send passes data on at once, before the input.
function Channel.send(self, ...)
	nargs(select("#", ...) + 1, 2, "send")
	local s, mode, ctx = manipulable(self, "send")
	local data = str_arg((...), 1, "send")
	if mode == "direct" then
		put(s.out, data, "send")
		return #data
	end
	insert(s, ctx, 0, data, "send")
	ctx.passed = (ctx.passed or 0) + #data
	return #data
end

-- forward(n) passes n bytes of input on, unread by Lua, waiting for them
-- as long as more can come; it returns how many went.
function Channel.forward(self, ...)
	nargs(select("#", ...) + 1, 2, "forward")
	local s, mode, ctx = manipulable(self, "forward")
	local n = int_arg((...), 1, "forward")
	if n < 0 then raise("bad argument #1 to 'forward' (byte count expected)") end
	if mode == "direct" then return 0 end
	local done = 0
	while true do
		local step = math.min(n - done, input_len(s, ctx))
		if step > 0 then
			ctx.passed = (ctx.passed or 0) + step
			done = done + step
		end
		if done >= n or not wait_input(s, ctx) then return done end
	end
end

-- remove([offset [, length]]) drops length bytes of input from offset
-- (all of it by default); returns how many.
function Channel.remove(self, ...)
	local n, off, len = select("#", ...), ...
	if n > 2 then raise("'remove' expects at most 2 arguments") end
	local s, mode, ctx = manipulable(self, "remove")
	if mode == "direct" then return 0 end
	off, len = range_args(input_len(s, ctx), "remove", n >= 1, off, n == 2, len, 2)
	if len > 0 then remove(s, input_start(s, ctx), off, len) end
	return len
end
