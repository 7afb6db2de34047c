-- Map: HAProxy's Map class, and core.set_map, del_map, add_acl, del_acl,
-- and luaedge's core.match_acl.
-- Reference: HAProxy Lua API, class Map and the core functions.
-- The contents live in Go (lj/maps.go), shared by every core: a file is read
-- once, each (file, match method) indexed once, and runtime updates from any
-- core are seen by all.
local I = ...
setfenv(1, I.env)

local type, tostring, tonumber, error, select, setmetatable, getmetatable = type, tostring, tonumber, error, select, setmetatable, getmetatable
local gocall, GO = I.gocall, I.go
local find, sub = string.find, string.sub

-- This state's copies of map lookups, by map index id. Go bumps the index's
-- change counter (le_loop.versions) after every change and before the call
-- that made it returns; a copy made under another counter value is
-- dropped, so a lookup that starts after a change returned, on any core,
-- sees it (lj/fastpath.go). An exact-match (str) map of up to 4096 keys is
-- copied whole, so a key it lacks costs no gate call either; the other
-- maps keep the results of the lookups made, up to MEMO_MAX keys.
local versions, VMAPS = I.loop.versions, I.VERSION_MAPS
local NVERSIONED = I.loop.nversions - VMAPS
local caches = {}
local MEMO_MAX = 4096

-- parse fills t from the encoding of lj/maps.go's mapExpr.snapshot and
-- returns the number of keys.
local function parse(enc, t)
	local pos, len, n = 1, #enc, 0
	while pos <= len do
		local sp = find(enc, " ", pos, true)
		local kl = tonumber(sub(enc, pos, sp - 1))
		local k = sub(enc, sp + 1, sp + kl)
		pos = sp + kl + 1
		sp = find(enc, " ", pos, true)
		local vl = tonumber(sub(enc, pos, sp - 1))
		pos = sp + 1
		if vl >= 0 then
			t[k] = sub(enc, pos, pos + vl - 1)
			pos = pos + vl
		end
		n = n + 1
	end
	return n
end

-- refresh makes the copy of index id for change counter ver. A whole copy
-- is made again only when the previous copy served at least as many
-- lookups as it had keys: a map that changes on every request is then
-- cached lookup by lookup rather than copied on every request.
local function refresh(id, ver, old)
	local c = { ver = ver, t = {}, n = 0, uses = 0, whole = false }
	if old ~= nil then c.size, c.nosnap = old.size, old.nosnap end
	if not c.nosnap and (old == nil or old.uses >= (old.size or 0)) then
		local enc = gocall(GO.map_snapshot, id)
		if enc == nil then
			c.nosnap = true
		else
			c.size = parse(enc, c.t)
			c.whole = true
		end
	end
	caches[id] = c
	return c
end

-- maps holds the index id of each Map object: the id reads a C counter
-- (versions[VMAPS + id]), so it is not a field a script could change.
local maps = setmetatable({}, { __mode = "k" })

-- map_get returns the value of the entry of index id matching key, or nil.
-- id comes from Go (map_id); only the ids below NVERSIONED have a counter.
local function map_get(id, key)
	if not (id >= 0 and id < NVERSIONED) or key ~= key then return gocall(GO.map_lookup, id, key) end
	local c, ver = caches[id], versions[VMAPS + id]
	if c == nil or c.ver ~= ver then c = refresh(id, ver, c) end
	c.uses = c.uses + 1
	if c.whole then
		if type(key) == "number" then key = tostring(key) end
		return c.t[key]
	end
	local v = c.t[key]
	if v == nil then
		v = gocall(GO.map_lookup, id, key)
		if c.n >= MEMO_MAX then c.t, c.n = {}, 0 end
		c.t[key] = v or false
		c.n = c.n + 1
		return v
	end
	return v or nil
end
I.map_get = map_get

-- Match methods, numbered as in HAProxy; Map.str etc. are the old names.
local Map = {}
local names = { "found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dir", "dom", "end", "reg", "regm" }
for i, n in ipairs(names) do
	Map[n] = i - 1
	Map["_" .. n] = i - 1
end
local supported = { [Map.int] = true, [Map.ip] = true, [Map.str] = true, [Map.beg] = true, [Map.sub] = true,
	[Map.dir] = true, [Map.dom] = true, [Map["end"]] = true, [Map.reg] = true }

local methods = {}
local map_mt = {
	__index = methods,
	__tostring = function(m) return "Map: " .. m.file .. " (" .. names[m.method + 1] .. ")" end,
}

-- Map.new(file[, method]) loads file (once per process) for a match method
-- (default Map._str). Errors name the map file and line.
function Map.new(...)
	local n = select("#", ...)
	local file, method = ...
	if n < 1 or n > 2 then error("'new' needs 1 or 2 arguments: Map.new(file[, method])", 2) end
	local tf = type(file)
	if tf ~= "string" and tf ~= "number" then
		error("bad argument #1 to 'new' (string expected, got " .. tf .. ")", 2)
	end
	file = tostring(file)
	if method == nil then method = Map._str end
	if type(method) ~= "number" then
		error("bad argument #2 to 'new' (number expected, got " .. type(method) .. ")", 2)
	end
	if method < 0 or method >= #names or method % 1 ~= 0 then
		error("'new' needs a valid match method (Map._str, _beg, _sub, _dir, _dom, _end, _reg, _int or _ip)", 2)
	end
	if not supported[method] then
		error("'new' doesn't support the match method '" .. names[method + 1] .. "'", 2)
	end
	local id, err = I.map_id(method, file)
	if id == nil then error("'new': " .. err, 2) end
	local m = setmetatable({ file = file, method = method }, map_mt)
	maps[m] = id
	return m
end

local function check_map(m, fname)
	local id = maps[m]
	if id == nil then
		error("bad argument #1 to '" .. fname .. "' (Map expected: call it as map:" .. fname .. "(key))", 3)
	end
	return id
end

local function lookup(m, fname, n, key)
	local id = check_map(m, fname)
	if n ~= 1 then error("'" .. fname .. "' needs 2 arguments: map:" .. fname .. "(key)", 3) end
	local t = type(key)
	if m.method == Map._int then
		local k = tonumber(key)
		if k == nil then error("bad argument #1 to '" .. fname .. "' (number expected, got " .. (t == "string" and "'" .. key .. "'" or t) .. ")", 3) end
		key = k
	elseif t ~= "string" and t ~= "number" then
		error("bad argument #1 to '" .. fname .. "' (string expected, got " .. t .. ")", 3)
	end
	return map_get(id, key)
end

-- map:lookup(key) returns the value of the matching entry, or nil.
function methods.lookup(m, ...)
	return (lookup(m, "lookup", select("#", ...), ...))
end

-- map:slookup(key) returns the value of the matching entry, or "".
function methods.slookup(m, ...)
	return lookup(m, "slookup", select("#", ...), ...) or ""
end

_G.Map = Map
I.Map = Map

-- core.set_map(file, key, value) adds key or replaces its value; del_map
-- drops it; add_acl / del_acl do the same for ACL files. A file no map
-- uses yet is read first, or created empty when it does not exist.
local function update(op, want, ...)
	local n = select("#", ...)
	if n ~= want then
		error("'" .. op .. "' needs " .. want .. " arguments: core." .. op .. (want == 3 and "(file, key, value)" or "(file, key)"), 3)
	end
	for i = 1, n do
		local v = select(i, ...)
		local t = type(v)
		if t ~= "string" and t ~= "number" then
			error("bad argument #" .. i .. " to '" .. op .. "' (string expected, got " .. t .. ")", 3)
		end
	end
	local ok, err = gocall(GO.map_update, op, ...)
	if not ok then error("'" .. op .. "': " .. err, 3) end
end

function core.set_map(...) update("set_map", 3, ...) end
function core.del_map(...) update("del_map", 2, ...) end
function core.add_acl(...) update("add_acl", 2, ...) end
function core.del_acl(...) update("del_acl", 2, ...) end

-- core.match_acl(file, value[, method]), a luaedge addition: whether value
-- matches a pattern of the ACL file (one pattern a line, as -f loads
-- them, with what add_acl and del_acl changed since) with match method (a
-- Map constant, Map._str by default). The answers are kept per change
-- counter, as map lookups are.
local acl_ids, acl_caches = {}, {}
function core.match_acl(...)
	local n = select("#", ...)
	local file, value, method = ...
	if n < 2 or n > 3 then error("'match_acl' needs 2 or 3 arguments: core.match_acl(file, value[, method])", 2) end
	for i = 1, 2 do
		local t = type((select(i, ...)))
		if t ~= "string" and t ~= "number" then
			error("bad argument #" .. i .. " to 'match_acl' (string expected, got " .. t .. ")", 2)
		end
	end
	if method == nil then method = Map._str end
	if not supported[method] then
		error("bad argument #3 to 'match_acl' (a match method expected: Map._str, _beg, _sub, _dir, _dom, _end, _reg, _int or _ip)", 2)
	end
	file, value = tostring(file), tostring(value)
	local ids = acl_ids[method]
	if ids == nil then
		ids = {}
		acl_ids[method] = ids
	end
	local id = ids[file]
	if id == nil then
		local err
		id, err = gocall(GO.map_open, file, method, true)
		if id == nil then error("'match_acl': " .. err, 2) end
		ids[file] = id
	end
	if not (id >= 0 and id < NVERSIONED) then return gocall(GO.acl_match, id, value) end
	local c, ver = acl_caches[id], versions[VMAPS + id]
	if c == nil or c.ver ~= ver then
		c = { ver = ver, t = {}, n = 0 }
		acl_caches[id] = c
	end
	local v = c.t[value]
	if v == nil then
		v = gocall(GO.acl_match, id, value)
		if c.n >= MEMO_MAX then c.t, c.n = {}, 0 end
		c.t[value] = v
		c.n = c.n + 1
	end
	return v
end
