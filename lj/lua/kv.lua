-- core.kv, core.bus, core.artifacts and ngx.shared: the state scripts
-- share beyond their core, in this process (embedded) or in Redis
-- (docs/lua-api.md, "Shared state"). Go's half: lj/kv.go; the host
-- (edge/shared.go) performs the remote operations and runs the bus.
--
-- Values are strings (ngx.shared's also numbers and booleans); failures
-- are returned as nil, err; wrong arguments raise errors. An embedded
-- store answers through the gate without yielding; a remote operation
-- yields the request (OP_SOCKET, sock_op LE_SOCK_SHARED) until the host
-- writes its answer or the time given by shared.redis.timeout passes.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local C = ffi.C
local ffi_string = ffi.string
local type, tostring, tonumber, error, pairs, next = type, tostring, tonumber, error, pairs, next
local setmetatable, xpcall = setmetatable, xpcall
local band = bit.band
local sub, find, format = string.sub, string.find, string.format
local gocall, go, buf_append = I.gocall, I.go, I.buf_append
local conf = I.shared -- lj/kv.go, storesChunk
local OPS = conf.ops
local SHARED, OK = C.LE_SOCK_SHARED, C.LE_SOCK_OK
local versions, hash, CRC32, now_us = I.loop.versions, I.hash, C.LE_HASH_CRC32, I.now_us

local function arg_error(fname, n, want, v)
	error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
end

local function check_string(fname, n, v)
	if type(v) ~= "string" then arg_error(fname, n, "string", v) end
end

-- text returns a value for a store of strings: a number is written as
-- tostring writes it.
local function text(fname, n, v)
	local t = type(v)
	if t == "string" then return v end
	if t == "number" then return tostring(v) end
	arg_error(fname, n, "string", v)
end

-- ttl checks a time to live in seconds (nil or 0: none).
local function ttl_of(fname, n, v)
	if v == nil then return 0 end
	if type(v) ~= "number" or v < 0 or v ~= v then
		error(format("bad argument #%d to '%s' (a time to live in seconds, 0 or more, expected)", n, fname), 3)
	end
	return v
end

-- Fields of a remote operation and of the lists Go returns: each is its
-- length, ":", its bytes (lj/kv.go, appendField).
local function put(buf, s)
	local h = #s .. ":"
	buf_append(buf, h, #h)
	buf_append(buf, s, #s)
end

local function fields(out)
	local t, pos, n = {}, 1, #out
	while pos <= n do
		local colon = find(out, ":", pos, true)
		local len = tonumber(sub(out, pos, colon - 1))
		t[#t + 1] = sub(out, colon + 1, colon + len)
		pos = colon + len + 1
	end
	return t
end

local function num(x) return format("%.17g", x) end

-- remote performs operation code on the remote backend: the request
-- yields until the host answers. It returns true and the answer's
-- fields as a string, or nil and the error.
local timeout_ms = conf.timeout_ms
local function remote(fname, code, key, value, ttl, delta, init)
	local s, ctx = I.current()
	if s == nil then
		error(fname .. ": waits for the remote store (shared.redis or shared.artifacts.dir): call it in an action, a service, a task or a bus subscriber", 3)
	end
	s.sock, s.sock_op, s.sock_arg, s.sock_ms = 0, SHARED, code, timeout_ms
	local io = s.io
	io.len = 0
	put(io, key)
	put(io, value or "")
	put(io, num((ttl or 0) * 1000))
	put(io, num(delta or 0))
	put(io, num(init or 0))
	I.wait(ctx, I.OP_SOCKET)
	local out = ffi_string(s.io.p, s.io.len)
	if s.sock_res == OK then return true, out end
	return nil, out
end

-- getter returns get(key) -> value, flags for embedded store id, which
-- keeps copies of what it read: a copy serves while the change counter
-- of its key's slot has not moved, for at most COPY_MS and not past the
-- key's expiry. The bound lets a key read only from copies still count
-- as used in the store's LRU order once a second; the copies of values
-- larger than COPY_MAX are not kept, and they are all dropped when
-- COPIES are held.
local SLOT_BASE, SLOT_MASK = conf.slot_base, conf.slots - 1
local COPY_MS, COPY_MAX, COPIES = 1000, 4096, 1024
local function getter(id, as_text)
	local copies, n = {}, 0
	local kv_get = go.kv_get
	return function(key)
		local c = copies[key]
		local now = now_us() / 1000
		if c ~= nil and versions[c.slot] == c.ver and now < c.til then
			return c.val, c.flags
		end
		local slot = SLOT_BASE + band(hash(CRC32, key, #key, 0), SLOT_MASK)
		local ver = versions[slot]
		local v, flags, exp = gocall(kv_get, id, key, as_text)
		if type(v) == "string" and #v > COPY_MAX then
			if c ~= nil then copies[key], n = nil, n - 1 end
			return v, flags
		end
		local til = now + COPY_MS
		if exp ~= 0 and exp < til then til = exp end
		if c == nil then
			if n >= COPIES then copies, n = {}, 0 end
			n = n + 1
			copies[key] = { slot = slot, ver = ver, val = v, flags = flags, til = til }
		else
			c.slot, c.ver, c.val, c.flags, c.til = slot, ver, v, flags, til
		end
		return v, flags
	end
end

-- core.kv: strings under string keys.
local kv = {}
local KV = conf.kv and conf.KV
local kv_get = KV and getter(KV, true)

-- get(key) -> value | nil (absent) | nil, err
function kv.get(key)
	check_string("core.kv.get", 1, key)
	if KV then return (kv_get(key)) end
	local ok, out = remote("core.kv.get", OPS.get, key)
	if not ok then return nil, out end
	if out == "" then return nil end
	return fields(out)[1]
end

-- set(key, value[, ttl]) -> true | nil, err
function kv.set(key, value, ttl)
	check_string("core.kv.set", 1, key)
	value = text("core.kv.set", 2, value)
	ttl = ttl_of("core.kv.set", 3, ttl)
	if KV then
		local ok, err = gocall(go.kv_set, KV, key, value, ttl, 0, 0, false)
		if not ok then return nil, err end
		return true
	end
	local ok, out = remote("core.kv.set", OPS.set, key, value, ttl)
	if not ok then return nil, out end
	return true
end

-- delete(key) -> true | nil, err
function kv.delete(key)
	check_string("core.kv.delete", 1, key)
	if KV then
		gocall(go.kv_delete, KV, key)
		return true
	end
	local ok, out = remote("core.kv.delete", OPS.delete, key)
	if not ok then return nil, out end
	return true
end

-- list(prefix) -> the keys that start with prefix, sorted (at most
-- max_list) | nil, err
function kv.list(prefix)
	prefix = prefix or ""
	check_string("core.kv.list", 1, prefix)
	if KV then return fields(gocall(go.kv_keys, KV, prefix, conf.max_list)) end
	local ok, out = remote("core.kv.list", OPS.list, prefix)
	if not ok then return nil, out end
	return fields(out)
end

-- incr(key, delta[, init[, ttl]]) -> the new number | nil, err. An
-- absent key starts from init (0 by default) and takes ttl.
function kv.incr(key, delta, init, ttl)
	check_string("core.kv.incr", 1, key)
	if type(delta) ~= "number" then arg_error("core.kv.incr", 2, "number", delta) end
	if init ~= nil and type(init) ~= "number" then arg_error("core.kv.incr", 3, "number", init) end
	ttl = ttl_of("core.kv.incr", 4, ttl)
	if KV then
		local n, err = gocall(go.kv_incr, KV, key, delta, init or 0, ttl)
		if n == nil then return nil, err end
		return n
	end
	local ok, out = remote("core.kv.incr", OPS.incr, key, nil, ttl, delta, init or 0)
	if not ok then return nil, out end
	return tonumber(fields(out)[1])
end

-- core.bus: events to every loop of every process sharing the bus.
local bus = {}
local subs = {} -- event name -> list of { fn =, stats = }

-- emit(name[, data]) -> true | nil, err
function bus.emit(name, data)
	check_string("core.bus.emit", 1, name)
	data = data == nil and "" or text("core.bus.emit", 2, data)
	if not conf.remote_bus then
		if go.bus_emit == nil then return nil, "core.bus: this state has no bus" end
		local ok, err = gocall(go.bus_emit, name, data)
		if not ok then return nil, err end
		return true
	end
	local ok, out = remote("core.bus.emit", OPS.emit, name, data)
	if not ok then return nil, out end
	return true
end

-- subscribe(name, fn): fn(data, name) runs on this loop for each event
-- called name, in the bus's task, which may wait (sleep, kv, sockets).
function bus.subscribe(name, fn)
	check_string("core.bus.subscribe", 1, name)
	if type(fn) ~= "function" then arg_error("core.bus.subscribe", 2, "function", fn) end
	local list = subs[name]
	if list == nil then
		list = {}
		subs[name] = list
		if go.bus_subscribe ~= nil then gocall(go.bus_subscribe, name) end
	end
	list[#list + 1] = { fn = fn, stats = I.record("subscriber", nil, fn) }
end

-- The bus's task (I.tasks[0], which the host starts when the loop's
-- first event comes, and again if the watchdog stopped it): it waits for
-- the events the host queued for this loop and calls their subscribers,
-- each counted as its own function (accounting.lua); the task's own time
-- between them is not reported.
local pump_stats = { kind = "task", calls = 0, errors = 0, timeouts = 0, time = 0, alloc = 0 }
local log_id, ERR = go.log, 3

local function deliver(ctx, name, data)
	local list = subs[name]
	if list == nil then return end
	for i = 1, #list do
		local sub_ = list[i]
		I.leave(ctx, false)
		I.enter(ctx, sub_.stats)
		local ok, err = xpcall(sub_.fn, I.traceback, data, name)
		local failed = not ok and err ~= I.Done and err ~= I.CoreDone
		I.leave(ctx, failed)
		I.enter(ctx, pump_stats)
		if failed then
			-- The watchdog's stop ends the task; any other error only this
			-- call.
			if I.loop.timed_out ~= 0 then error(err, 0) end
			gocall(log_id, ERR, "core.bus subscriber of '" .. name .. "' failed: " .. tostring(err))
		end
	end
end

local function pump()
	local s, ctx = I.current()
	while true do
		s.sock, s.sock_op, s.sock_arg, s.sock_ms = 0, SHARED, OPS.bus_wait, 0
		s.io.len = 0
		I.wait(ctx, I.OP_SOCKET)
		local ev = fields(ffi_string(s.io.p, s.io.len))
		for i = 1, #ev - 1, 2 do deliver(ctx, ev[i], ev[i + 1]) end
	end
end
I.tasks[0] = { fn = pump, args = {}, n = 0, stats = pump_stats }

-- core.artifacts: named contents (files, in a directory backend); a name
-- is a relative path of segments ("reports/2024.json").
local artifacts = {}
local ART = conf.artifacts and conf.ARTIFACTS

-- write(name, data) -> true | nil, err
function artifacts.write(name, data)
	check_string("core.artifacts.write", 1, name)
	data = text("core.artifacts.write", 2, data)
	if ART then
		local ok, err = gocall(go.kv_set, ART, name, data, 0, 0, 0, false)
		if not ok then return nil, err end
		return true
	end
	local ok, out = remote("core.artifacts.write", OPS.art_write, name, data)
	if not ok then return nil, out end
	return true
end

-- read(name) -> data | nil, "not found" | nil, err
function artifacts.read(name)
	check_string("core.artifacts.read", 1, name)
	if ART then
		local v = gocall(go.kv_get, ART, name, true)
		if v == nil then return nil, "not found" end
		return v
	end
	local ok, out = remote("core.artifacts.read", OPS.art_read, name)
	if not ok then return nil, out end
	if out == "" then return nil, "not found" end
	return fields(out)[1]
end

-- exists(name) -> true | false | nil, err
function artifacts.exists(name)
	check_string("core.artifacts.exists", 1, name)
	if ART then return gocall(go.kv_ttl, ART, name) ~= nil end
	local ok, out = remote("core.artifacts.exists", OPS.art_exists, name)
	if not ok then return nil, out end
	return out ~= ""
end

-- delete(name) -> true | nil, "not found" | nil, err
function artifacts.delete(name)
	check_string("core.artifacts.delete", 1, name)
	if ART then
		if not gocall(go.kv_delete, ART, name) then return nil, "not found" end
		return true
	end
	local ok, out = remote("core.artifacts.delete", OPS.art_delete, name)
	if not ok then return nil, out end
	return true
end

-- rename(old, new) -> true | nil, "not found" | nil, err; new is replaced
function artifacts.rename(old, new)
	check_string("core.artifacts.rename", 1, old)
	check_string("core.artifacts.rename", 2, new)
	if ART then
		local ok, err = gocall(go.kv_rename, ART, old, new)
		if not ok then return nil, err end
		return true
	end
	local ok, out = remote("core.artifacts.rename", OPS.art_rename, old, new)
	if not ok then return nil, out end
	return true
end

-- list([prefix]) -> the names that start with prefix, sorted | nil, err
function artifacts.list(prefix)
	prefix = prefix or ""
	check_string("core.artifacts.list", 1, prefix)
	if ART then return fields(gocall(go.kv_keys, ART, prefix, conf.max_list)) end
	local ok, out = remote("core.artifacts.list", OPS.art_list, prefix)
	if not ok then return nil, out end
	return fields(out)
end

core.kv, core.bus, core.artifacts = kv, bus, artifacts

-- ngx.shared: OpenResty's shared dictionaries (shared.dicts), each an
-- embedded store of its own. A global ngx exists only when dictionaries
-- are configured, and holds nothing else.
if next(conf.dicts) == nil then return end

local DICT = {}
local dict_ids = setmetatable({}, { __mode = "k" }) -- dictionary object -> store id
local dict_get = {}                                  -- store id -> getter
local dict_mt = { __index = DICT, __tostring = function() return "ngx.shared dictionary" end }

local function dict_of(self, fname)
	local id = dict_ids[self]
	if id == nil then
		error("bad argument #1 to '" .. fname .. "' (ngx.shared dictionary expected; use dict:" .. fname .. "(...))", 3)
	end
	return id
end

-- key_of returns a dictionary key (a string, or a number as a string),
-- or nil and the error OpenResty gives.
local function key_of(fname, key)
	local t = type(key)
	if t == "number" then return tostring(key) end
	if t ~= "string" then
		if key == nil then return nil, "nil key" end
		arg_error(fname, 2, "string", key)
	end
	if key == "" then return nil, "empty key" end
	if #key > 65535 then return nil, "key too long" end
	return key
end

local function exptime_of(fname, n, v)
	if v == nil then return 0 end
	if type(v) ~= "number" or v < 0 or v ~= v then
		error(format("bad argument #%d to '%s' (exptime must be a number of seconds, 0 or more)", n, fname), 3)
	end
	return v
end

-- get(key) -> value, flags (nil when 0) | nil (absent) | nil, err
function DICT.get(self, key)
	local id = dict_of(self, "get")
	local k, err = key_of("get", key)
	if k == nil then return nil, err end
	local v, flags = dict_get[id](k)
	if v == nil then return nil end
	if flags == 0 then return v end
	return v, flags
end

-- store writes key with mode (0 set, 1 add, 2 replace); noevict for the
-- safe_* variants. -> ok, err, forcible (the OpenResty triple)
local function store(fname, self, key, value, exptime, flags, mode, noevict)
	local id = dict_of(self, fname)
	local k, err = key_of(fname, key)
	if k == nil then return false, err, false end
	exptime = exptime_of(fname, 4, exptime)
	if flags ~= nil and type(flags) ~= "number" then arg_error(fname, 5, "number", flags) end
	if value == nil then
		if mode == 2 and gocall(go.kv_ttl, id, k) == nil then return false, "not found", false end
		if mode == 1 and gocall(go.kv_ttl, id, k) ~= nil then return false, "exists", false end
		gocall(go.kv_delete, id, k)
		return true, nil, false
	end
	local t = type(value)
	if t ~= "string" and t ~= "number" and t ~= "boolean" then
		return false, "bad value type", false
	end
	local ok, e, forcible = gocall(go.kv_set, id, k, value, exptime, flags or 0, mode, noevict)
	if not ok then return false, e, forcible end
	return true, nil, forcible
end

function DICT.set(self, key, value, exptime, flags)
	return store("set", self, key, value, exptime, flags, 0, false)
end
function DICT.safe_set(self, key, value, exptime, flags)
	local ok, err = store("safe_set", self, key, value, exptime, flags, 0, true)
	return ok, err
end
function DICT.add(self, key, value, exptime, flags)
	return store("add", self, key, value, exptime, flags, 1, false)
end
function DICT.safe_add(self, key, value, exptime, flags)
	local ok, err = store("safe_add", self, key, value, exptime, flags, 1, true)
	return ok, err
end
function DICT.replace(self, key, value, exptime, flags)
	return store("replace", self, key, value, exptime, flags, 2, false)
end

function DICT.delete(self, key)
	local id = dict_of(self, "delete")
	local k = key_of("delete", key)
	if k ~= nil then gocall(go.kv_delete, id, k) end
end

-- incr(key, value[, init[, init_ttl]]) -> new value, nil, forcible | nil, err
function DICT.incr(self, key, value, init, init_ttl)
	local id = dict_of(self, "incr")
	local k, err = key_of("incr", key)
	if k == nil then return nil, err end
	if type(value) ~= "number" then arg_error("incr", 3, "number", value) end
	if init ~= nil and type(init) ~= "number" then arg_error("incr", 4, "number", init) end
	init_ttl = exptime_of("incr", 5, init_ttl)
	return gocall(go.kv_incr, id, k, value, init, init_ttl)
end

-- ttl(key) -> seconds left (0: never expires) | nil, "not found"
function DICT.ttl(self, key)
	local id = dict_of(self, "ttl")
	local k, err = key_of("ttl", key)
	if k == nil then return nil, err end
	return gocall(go.kv_ttl, id, k)
end

-- expire(key, exptime) -> true | nil, "not found"
function DICT.expire(self, key, exptime)
	local id = dict_of(self, "expire")
	local k, err = key_of("expire", key)
	if k == nil then return nil, err end
	return gocall(go.kv_expire, id, k, exptime_of("expire", 3, exptime))
end

function DICT.flush_all(self)
	gocall(go.kv_flush, dict_of(self, "flush_all"), true, 0)
end

-- flush_expired([max_count]) -> number of keys removed (0: no bound)
function DICT.flush_expired(self, max_count)
	return gocall(go.kv_flush, dict_of(self, "flush_expired"), false, tonumber(max_count) or 0)
end

-- get_keys([max_count]) -> keys (at most 1024 by default; 0: all)
function DICT.get_keys(self, max_count)
	local id = dict_of(self, "get_keys")
	max_count = tonumber(max_count) or 1024
	return fields(gocall(go.kv_keys, id, "", max_count))
end

function DICT.capacity(self)
	local cap = gocall(go.kv_info, dict_of(self, "capacity"))
	return cap
end

function DICT.free_space(self)
	local cap, used = gocall(go.kv_info, dict_of(self, "free_space"))
	return cap - used
end

local shared = {}
for name, id in pairs(conf.dicts) do
	local d = setmetatable({}, dict_mt)
	dict_ids[d] = id
	dict_get[id] = getter(id, false)
	shared[name] = d
end
_G.ngx = { shared = shared }
