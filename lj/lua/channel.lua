-- Channel: txn.req and txn.res. Reference: HAProxy Lua API, class Channel.
-- In HTTP mode a channel holds the message body; this is the read side
-- over the request body received so far. Writing and forwarding come with
-- proxying and TCP mode.
local ffi = require("ffi")
local I = require("luaedge.internal")

local ffi_string = ffi.string

local Channel = {}
local mt = { __index = Channel, __tostring = function() return "Channel" end }

function I.new_channel(txn, dir)
	return setmetatable({ [0] = txn[0], dir = dir }, mt)
end

local function body(self, fname)
	local s = type(self) == "table" and rawget(self, 0)
	if s == nil then
		error("bad argument #1 to '" .. fname .. "' (Channel expected; use txn.req:" .. fname .. "(...))", 3)
	end
	if self.dir ~= "req" then
		error("Channel:" .. fname .. " on the response is not available in HTTP mode", 3)
	end
	return s
end

function Channel.get_in_len(self)
	local s = body(self, "get_in_len")
	return s.body.len - s.body_pos
end
Channel.get_in_length = Channel.get_in_len

function Channel.get_out_len(self)
	body(self, "get_out_len")
	return 0
end
Channel.get_out_length = Channel.get_out_len

function Channel.dup(self)
	local s = body(self, "dup")
	return ffi_string(s.body.p + s.body_pos, s.body.len - s.body_pos)
end

function Channel.get(self)
	local s = body(self, "get")
	local v = ffi_string(s.body.p + s.body_pos, s.body.len - s.body_pos)
	s.body_pos = s.body.len
	return v
end

function Channel.getline(self)
	local s = body(self, "getline")
	local p = s.body.p + s.body_pos
	local n = s.body.len - s.body_pos
	for i = 0, n - 1 do
		if p[i] == 10 then
			s.body_pos = s.body_pos + i + 1
			return ffi_string(p, i + 1)
		end
	end
	s.body_pos = s.body.len
	return ffi_string(p, n)
end

function Channel.is_full() return false end

for _, name in ipairs({ "set", "append", "send", "forward", "remove", "insert", "line", "data" }) do
	Channel[name] = function()
		error("Channel:" .. name .. " is not available in HTTP mode", 2)
	end
end
