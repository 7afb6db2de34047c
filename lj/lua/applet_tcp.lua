-- AppletTCP, and the entry of TCP-mode frontends: tcp-request rules, then a
-- TCP service or forwarding to a backend, with tcp-response rules on the
-- server's bytes as they come (within the backend's inspect delay).
-- Reference: HAProxy Lua API, class AppletTCP.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local bor = bit.bor

local AppletTCP = {}
local lazy = {
	f = function(a) return I.new_fetches(a, false, true) end,
	sf = function(a) return I.new_fetches(a, true, true) end,
	c = function(a) return I.new_converters(false, a) end,
	sc = function(a) return I.new_converters(true, a) end,
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

local stream_of_ = I.stream_of
local function stream_of(self, fname)
	return stream_of_(self, fname, "AppletTCP")
end

function AppletTCP.receive(self, size)
	local s, ctx = stream_of(self, "receive")
	return I.receive_from(s, ctx, size)
end

function AppletTCP.getline(self)
	return I.getline_from(stream_of(self, "getline"))
end

-- send(data): to the client; written when the service waits or returns.
function AppletTCP.send(self, data)
	local s, ctx = stream_of(self, "send")
	if type(data) ~= "string" then data = tostring(data) end
	if I.buf_append(s.out, data, #data) ~= 0 then
		error("send: out of memory", 2)
	end
	if s.out.len >= 65536 then I.wait(ctx, I.OP_FLUSH) end
	return #data
end

I.priv_methods(AppletTCP, stream_of, "applet_priv")
I.var_methods(AppletTCP, stream_of)

I.AppletTCP = AppletTCP

-- applet_tcp_of returns the AppletTCP of the coroutine of ctx, made on
-- first use and reused by its later streams, its private value cleared.
function I.applet_tcp_of(ctx)
	local applet = ctx.applet_tcp
	if applet == nil then
		applet = setmetatable({}, mt)
		I.owner[applet] = ctx
		ctx.applet_tcp = applet
	end
	if ctx.applet_priv ~= nil then ctx.applet_priv = nil end
	return applet
end

-- The TCP entry. A TCP "request" is the whole client connection: sess and
-- txn variables last as long as it.
I.entries[I.ENTRY_TCP] = function(s, ctx)
	local p = I.programs[s.entry_arg]
	ctx.tcp, ctx.tcp_stage, ctx.passed = true, "req", 0
	local txn = I.txn_of(ctx, p)
	-- While a rule is undecided (step's "miss"), the rules run again from
	-- the first on each arrival of client bytes, and a last time when the
	-- inspect delay passes or the client ends, as HAProxy's.
	local rc = p.run_req(txn, ctx)
	while rc == "miss" do
		I.wait(ctx, I.OP_RECV)
		rc = p.run_req(txn, ctx)
	end
	if rc == "done" then return end
	ctx.passed = 0
	-- txn.service, set by a rule, overrides the frontend's.
	local svc = ctx.service or p.service
	if svc then
		ctx.stage, ctx.tcp_stage = "service", "service"
		s.service = svc.id
		-- The applet is the coroutine's, like the TXN.
		local applet = I.applet_tcp_of(ctx)
		I.enter(ctx, svc.stats)
		svc.fn(applet)
		I.leave(ctx, false)
		return
	end
	-- Forward: Go sends the buffered input on and pipes the connection.
	s.flags = bor(s.flags, I.F_FORWARD)
	if #p.res == 0 then return end
	-- Wait for the server's first bytes, then run the tcp-response rules
	-- on them (Go puts them in the body buffer).
	I.wait(ctx, I.OP_FORWARD)
	ctx.tcp_stage, ctx.passed = "res", 0
	ctx.stage = "res"
	-- While a rule is undecided (step's "miss"), the rules run again on
	-- each arrival of server bytes, until the inspect delay passes.
	while p.run_res(txn, ctx) == "miss" do
		I.wait(ctx, I.OP_RECV)
	end
end
