-- Map: HAProxy's Map class, and core.set_map, del_map, add_acl, del_acl.
-- Reference: HAProxy Lua API, class Map and the core functions.
-- The contents live in Go (lj/maps.go), shared by every core: a file is read
-- once, each (file, match method) indexed once, and runtime updates from any
-- core are seen by all.
local I = require("luaedge.internal")

local type, tostring, tonumber, error, select, setmetatable, getmetatable = type, tostring, tonumber, error, select, setmetatable, getmetatable
local gocall, GO = I.gocall, I.go

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
	return setmetatable({ id = id, file = file, method = method }, map_mt)
end

local function check_map(m, fname)
	if getmetatable(m) ~= map_mt then
		error("bad argument #1 to '" .. fname .. "' (Map expected: call it as map:" .. fname .. "(key))", 3)
	end
end

local function lookup(m, fname, n, key)
	check_map(m, fname)
	if n ~= 1 then error("'" .. fname .. "' needs 2 arguments: map:" .. fname .. "(key)", 3) end
	local t = type(key)
	if m.method == Map._int then
		local k = tonumber(key)
		if k == nil then error("bad argument #1 to '" .. fname .. "' (number expected, got " .. (t == "string" and "'" .. key .. "'" or t) .. ")", 3) end
		key = k
	elseif t ~= "string" and t ~= "number" then
		error("bad argument #1 to '" .. fname .. "' (string expected, got " .. t .. ")", 3)
	end
	return gocall(GO.map_lookup, m.id, key)
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
