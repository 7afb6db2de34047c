-- Proxy, Server and Listener: the frontends, backends and servers as
-- scripts see them (core.proxies, core.frontends, core.backends).
-- Reference: HAProxy Lua API, classes Proxy, Server and Listener. Go's
-- half: eventloop/luaproxy.go; changes apply on every core.
local I = ...
setfenv(1, I.env)

local Proxy, Server, Listener, StickTable = {}, {}, {}, {}
local proxy_mt = { __index = Proxy, __tostring = function() return "Proxy" end }
local server_mt = { __index = Server, __tostring = function() return "Server" end }
local listener_mt = { __index = Listener, __tostring = function() return "Listener" end }
local stk_mt = { __index = StickTable, __tostring = function() return "StickTable" end }

core.proxies, core.frontends, core.backends = {}, {}, {}

local function stats(...)
	local t, n = {}, select("#", ...)
	for i = 1, n, 2 do
		local k, v = select(i, ...)
		t[k] = v
	end
	return t
end

local function stats_or_nil(first, ...)
	if first == nil then return nil end
	return stats(first, ...)
end

local function check(self, mt, class, fname)
	if getmetatable(self) ~= mt then
		error("bad argument #1 to '" .. fname .. "' (" .. class .. " expected; use obj:" .. fname .. "(...))", 3)
	end
end

function Proxy.pause(self) check(self, proxy_mt, "Proxy", "pause") I.gocall(I.go.proxy, self.cap, self.name, "pause") end
function Proxy.resume(self) check(self, proxy_mt, "Proxy", "resume") I.gocall(I.go.proxy, self.cap, self.name, "resume") end
function Proxy.stop(self) check(self, proxy_mt, "Proxy", "stop") I.gocall(I.go.proxy, self.cap, self.name, "stop") end
function Proxy.shut_bcksess(self) check(self, proxy_mt, "Proxy", "shut_bcksess") end
function Proxy.get_cap(self) check(self, proxy_mt, "Proxy", "get_cap") return self.cap end
function Proxy.get_mode(self) check(self, proxy_mt, "Proxy", "get_mode") return self.mode end
function Proxy.get_stats(self)
	check(self, proxy_mt, "Proxy", "get_stats")
	return stats(I.gocall(I.go.proxy, self.cap, self.name, "get_stats"))
end

local function srv(method)
	return function(self, ...)
		check(self, server_mt, "Server", method)
		return I.gocall(I.go.server, self.backend, self.name, method, ...)
	end
end
for _, m in ipairs({ "set_maxconn", "get_maxconn", "set_weight", "get_weight",
	"set_addr", "get_addr", "set_drain", "set_maint", "set_ready", "shut_sess",
	"check_enable", "check_disable", "check_force_up", "check_force_nolb", "check_force_down",
	"agent_enable", "agent_disable", "agent_force_up", "agent_force_down" }) do
	Server[m] = srv(m)
end
-- is_draining: 1 or 0, as HAProxy 2.6 gives it (both are true in Lua).
function Server.is_draining(self)
	check(self, server_mt, "Server", "is_draining")
	return I.gocall(I.go.server, self.backend, self.name, "is_draining") and 1 or 0
end
function Server.get_stats(self)
	check(self, server_mt, "Server", "get_stats")
	return stats(I.gocall(I.go.server, self.backend, self.name, "get_stats"))
end

function Listener.get_stats(self)
	check(self, listener_mt, "Listener", "get_stats")
	return stats(I.gocall(I.go.proxy, "frontend", self.frontend, "get_stats"))
end

-- StickTable: a frontend's or backend's stick table (Proxy.stktable).
function StickTable.info(self)
	check(self, stk_mt, "StickTable", "info")
	local t = stats(I.gocall(I.go.stk, self.name, "info"))
	-- data: counter name -> the period of a rate in ms, -1 for the others
	if type(t.data) == "string" then
		local data = {}
		for name, period in t.data:gmatch("([^,=]+)=(%-?%d+)") do data[name] = tonumber(period) end
		t.data = data
	end
	return t
end

function StickTable.lookup(self, key)
	check(self, stk_mt, "StickTable", "lookup")
	return stats_or_nil(I.gocall(I.go.stk, self.name, "lookup", tostring(key)))
end

-- dump([filter]): filter is a list of up to 4 {counter, op, value}.
function StickTable.dump(self, filter)
	check(self, stk_mt, "StickTable", "dump")
	local f = {}
	if filter ~= nil then
		if type(filter) ~= "table" then error("bad argument #2 to 'dump' (table of filters expected)", 2) end
		if #filter > 4 then error("StickTable:dump: at most 4 filters", 2) end
		for _, c in ipairs(filter) do
			f[#f + 1] = tostring(c[1]) .. " " .. tostring(c[2]) .. " " .. tostring(c[3])
		end
	end
	local out = {}
	for line in I.gocall(I.go.stk, self.name, "dump", table.concat(f, ";")):gmatch("[^\n]+") do
		local key, rest = line:match("^([^\t]*)(.*)$")
		local e = {}
		-- As HAProxy 2.6's dump: the counters only, no expire nor use.
		for name, v in rest:gmatch("\t([^=]+)=(%-?%d+)") do
			if name ~= "expire" and name ~= "use" then e[name] = tonumber(v) end
		end
		out[key] = e
	end
	return out
end

-- set_proxies is how Go describes the configuration to a new state. As
-- in HAProxy, uuid and puid are strings.
function I.set_proxies(list)
	for _, p in ipairs(list) do
		local px = setmetatable({ name = p.name, uuid = tostring(p.uuid), cap = p.cap, mode = p.mode, servers = {}, listeners = {} }, proxy_mt)
		if p.stktable then px.stktable = setmetatable({ name = p.name }, stk_mt) end
		for _, s in ipairs(p.servers or {}) do
			px.servers[s.name] = setmetatable({ name = s.name, puid = tostring(s.puid), backend = p.name }, server_mt)
		end
		for _, l in ipairs(p.listeners or {}) do
			px.listeners[l] = setmetatable({ name = l, frontend = p.name }, listener_mt)
		end
		core.proxies[p.name] = px
		if p.cap == "frontend" then core.frontends[p.name] = px else core.backends[p.name] = px end
	end
end

I.Proxy, I.Server, I.Listener, I.StickTable = Proxy, Server, Listener, StickTable
