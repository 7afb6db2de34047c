-- AppletTCP, and the entry of TCP-mode frontends: tcp-request rules, then a
-- TCP service or forwarding to a backend, with tcp-response rules on the
-- server's first bytes. Reference: HAProxy Lua API, class AppletTCP.
local bit = require("bit")
local I = require("luaedge.internal")

local bor = bit.bor

local AppletTCP = {}
local lazy = {
	f = function(a) return I.new_fetches(a, false) end,
	sf = function(a) return I.new_fetches(a, true) end,
	c = function() return I.new_converters(false) end,
	sc = function() return I.new_converters(true) end,
}
local mt = {
	__index = function(self, k)
		local m = AppletTCP[k]
		if m ~= nil then return m end
		local make = lazy[k]
		if make ~= nil then
			local v = make(self)
			rawset(self, k, v)
			return v
		end
	end,
	__tostring = function() return "AppletTCP" end,
}

local function stream_of(self, fname)
	local s = type(self) == "table" and rawget(self, 0)
	if s == nil or getmetatable(self) ~= mt then
		error("bad argument #1 to '" .. fname .. "' (AppletTCP expected; use applet:" .. fname .. "(...))", 3)
	end
	return s
end

function AppletTCP.receive(self, size)
	return I.receive_from(stream_of(self, "receive"), size)
end

function AppletTCP.getline(self)
	return I.getline_from(stream_of(self, "getline"))
end

-- send(data): to the client; written when the service waits or returns.
function AppletTCP.send(self, data)
	local s = stream_of(self, "send")
	data = tostring(data)
	I.buf_append(s.out, data, #data)
	if s.out.len >= 65536 then I.wait(s, I.OP_FLUSH) end
	return #data
end

function AppletTCP.get_priv(self) return rawget(self, "__priv") end
function AppletTCP.set_priv(self, v) rawset(self, "__priv", v) end
I.var_methods(AppletTCP, stream_of)

I.AppletTCP = AppletTCP

-- The TCP entry. A TCP "request" is the whole client connection: sess and
-- txn variables last as long as it.
I.entries[I.ENTRY_TCP] = function(s, ctx)
	local p = I.programs[s.entry_arg]
	ctx.tcp, ctx.tcp_stage, ctx.passed = true, "req", 0
	local txn = I.txn_of(s, ctx, p)
	if p.run_req(txn) == "done" then return end
	ctx.passed = 0
	if p.service then
		rawset(txn, "__stage", "service")
		ctx.tcp_stage = "service"
		p.service.fn(setmetatable({ [0] = s, __txn = txn, __ctx = ctx }, mt))
		return
	end
	-- Forward: Go sends the buffered input on and pipes the connection.
	s.flags = bor(s.flags, I.F_FORWARD)
	if #p.res == 0 then return end
	-- Wait for the server's first bytes, then run the tcp-response rules
	-- on them (Go puts them in the body buffer).
	I.wait(s, I.OP_FORWARD)
	ctx.tcp_stage, ctx.passed = "res", 0
	rawset(txn, "__stage", "res")
	p.run_res(txn)
end
