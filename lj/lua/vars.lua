-- Variables with HAProxy's scopes: proc.* (every core: kept in Go),
-- sess.* (the client connection), txn.*, req.* and res.* (the request).
-- Reference: HAProxy Lua API, TXN.set_var / get_var / unset_var.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local vars = {}
I.vars = vars

-- proc.* variables live in Go (lj/gofuncs.go). This state keeps a copy of
-- each one it read, all dropped when Go's change counter for proc.*
-- variables moves (every write bumps it before returning): a read after a
-- write on any core sees it; see lj/fastpath.go.
local versions, VPROC = I.loop.versions, I.VERSION_PROC
local NONE = {} -- a cached "not set"
local proc_cache, proc_n, proc_ver = {}, 0, -1
local PROC_CACHE_MAX = 1024

local function proc_get(name)
	local ver = versions[VPROC]
	if ver ~= proc_ver then
		proc_cache, proc_n, proc_ver = {}, 0, ver
	end
	local v = proc_cache[name]
	if v == nil then
		v = I.gocall(I.go.var_get, name)
		if proc_n >= PROC_CACHE_MAX then proc_cache, proc_n = {}, 0 end
		if v == nil then proc_cache[name] = NONE else proc_cache[name] = v end
		proc_n = proc_n + 1
		return v
	end
	if v == NONE then return nil end
	return v
end
I.proc_get = proc_get

-- declared holds the proc.* names the configuration names (haproxy.cfg's
-- var(), set-var...): set_var(..., ifexist) sets them although unset, as
-- HAProxy does for a name it registered while reading its configuration.
local declared = {}
function I.declare_vars(names)
	for _, n in ipairs(names) do declared[n] = true end
end
local function proc_known(name) return declared[name] or proc_get(name) ~= nil end

-- Request-scoped variables live in the request's ctx (see the runner in
-- bridge.lua), which is emptied when the request ends.
-- Connection-scoped variables, keyed by connection id.
local sess = {}

-- split returns a variable's scope, or nil for a name in no scope (which
-- HAProxy answers with false / nil rather than an error).
local function split(name)
	if type(name) ~= "string" then
		error("variable name must be a string, got " .. type(name), 4)
	end
	local scope, rest = name:match("^(%a+)%.(.+)$")
	if scope ~= "proc" and scope ~= "sess" and scope ~= "txn" and scope ~= "req" and scope ~= "res" then
		return nil
	end
	return scope, rest
end

local function store(ctx, s, scope, create)
	local t, key
	if scope == "sess" then
		t, key = sess, tonumber(s.conn_id)
		if create then s.flags = bit.bor(s.flags, I.F_SESS_VARS) end
	else
		t, key = ctx, "vars"
	end
	local v = t[key]
	if v == nil and create then
		v = {}
		t[key] = v
	end
	return v
end

-- sample is what a variable holds of value: HAProxy's variables hold
-- samples, strings or integers, so true reads back as 1, false as 0,
-- and what is neither a string nor an integer (a fraction, a table, nil)
-- as 0: setting nil does not remove a variable (unset_var does). An
-- integer beyond 2^53 (an xxh64 hash) is kept as the int64_t cdata the
-- converters give (I.int_out).
local floor = math.floor
local function sample(value)
	local t = type(value)
	if t == "string" then return value end
	if t == "number" then
		if value == floor(value) and value >= -2^63 and value < 2^63 then return value end
		return 0
	end
	if I.is_int64(value) then return I.int_out(I.to_i64(value)) end
	if value == true then return 1 end
	return 0
end

-- proc_value is value as Go keeps proc.* variables: an integer as a
-- double (exact to 2^53).
local function proc_value(value)
	if type(value) == "cdata" then return tonumber(value) end
	return value
end

-- set returns true when the variable was set. ifexist only concerns
-- proc.* variables (the others are created), as in HAProxy 2.6.
function vars.set(ctx, s, name, value, ifexist)
	local scope = split(name)
	if scope == nil then return false end
	if name == "txn.backend" then
		-- The documented way for a script to choose the backend.
		local id = I.backend_ids[value]
		if id == nil then
			error("txn.backend: no backend named '" .. tostring(value) .. "'", 3)
		end
		s.backend = id
	elseif name == "txn.service" then
		-- A script's way to answer with a Lua service on a frontend that
		-- forwards (haproxy.cfg's use-service with a condition): a
		-- service of the frontend's mode.
		local svc = I.services[value]
		local mode = ctx.program and ctx.program.mode
		if svc == nil or svc.mode ~= mode then
			error("txn.service: no " .. (mode == "tcp" and "TCP" or "HTTP") .. " Lua service named '" .. tostring(value) .. "'", 3)
		end
		ctx.service = svc
	end
	value = sample(value)
	if scope == "proc" then
		if ifexist and not proc_known(name) then return false end
		I.gocall(I.go.var_set, name, proc_value(value))
		return true
	end
	store(ctx, s, scope, true)[name] = value
	return true
end

function vars.get(ctx, s, name)
	local scope = split(name)
	if scope == nil then return nil end
	if scope == "proc" then return proc_get(name) end
	local t = store(ctx, s, scope, false)
	return t and t[name]
end

-- end_req drops the req.* variables: they last while the request is
-- analysed, so a server's response finds none, as in HAProxy.
function vars.end_req(ctx)
	local t = ctx.vars
	if t == nil then return end
	for name in pairs(t) do
		if name:sub(1, 4) == "req." then t[name] = nil end
	end
end

-- unset returns true when the name is in a scope.
function vars.unset(ctx, s, name)
	local scope = split(name)
	if scope == nil then return false end
	if name == "txn.service" then ctx.service = nil end
	if scope == "proc" then
		I.gocall(I.go.var_set, name, nil)
		return true
	end
	local t = store(ctx, s, scope, false)
	if t then t[name] = nil end
	return true
end

-- var_methods adds set_var, get_var and unset_var to class, whose objects
-- stream_of finds the stream and request context of: TXN, AppletHTTP and
-- AppletTCP.
function I.var_methods(class, stream_of)
	function class.set_var(self, name, value, ifexist)
		local s, ctx = stream_of(self, "set_var")
		return vars.set(ctx, s, name, value, ifexist)
	end
	function class.get_var(self, name)
		local s, ctx = stream_of(self, "get_var")
		return vars.get(ctx, s, name)
	end
	function class.unset_var(self, name)
		local s, ctx = stream_of(self, "unset_var")
		return vars.unset(ctx, s, name)
	end
end

-- priv_methods installs get_priv and set_priv in class (TXN, the applets):
-- the private value is kept in the context's field, which the class
-- empties for each request.
function I.priv_methods(class, stream_of, field)
	function class.get_priv(self)
		local _, ctx = stream_of(self, "get_priv")
		return ctx[field]
	end
	function class.set_priv(self, v)
		local _, ctx = stream_of(self, "set_priv")
		ctx[field] = v
	end
end

-- core.set_var / core.get_var / core.unset_var reach proc.* variables
-- from any context (a task, an init function).
local function proc_name(fname, name)
	if type(name) ~= "string" or name:sub(1, 5) ~= "proc." then
		error(fname .. ": only proc.* variables can be used here, got '" .. tostring(name) .. "'", 3)
	end
	return name
end

function core.set_var(name, value, ifexist)
	name = proc_name("core.set_var", name)
	if ifexist and not proc_known(name) then return false end
	I.gocall(I.go.var_set, name, proc_value(sample(value)))
	return true
end

function core.get_var(name)
	return proc_get(proc_name("core.get_var", name))
end

function core.unset_var(name)
	I.gocall(I.go.var_set, proc_name("core.unset_var", name), nil)
end

-- The entry Go runs when a connection whose requests set sess.* variables
-- closes.
I.entries[I.ENTRY_END_SESSION] = function(s)
	sess[tonumber(s.conn_id)] = nil
end
