-- core utilities: HTTP date parsing, core.tokenize, core.concat (the Concat
-- class), core.parse_addr / core.match_addr and core.get_info.
-- Reference: HAProxy Lua API, class core and class Concat.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local type, tostring, error, setmetatable, getmetatable, select = type, tostring, error, setmetatable, getmetatable, select
local sub, byte, concat = string.sub, string.byte, table.concat
local band = bit.band
local gocall, GO = I.gocall, I.go

local function need_string(fname, n, v)
	local t = type(v)
	if t ~= "string" and t ~= "number" then
		error("bad argument #" .. n .. " to '" .. fname .. "' (string expected, got " .. t .. ")", 3)
	end
end

-- Dates ----------------------------------------------------------------------

-- core.http_date(str) and friends parse a date of that format and return
-- its Unix timestamp, or nil when str is not such a date.
local function date_parser(fname, format)
	return function(date)
		need_string(fname, 1, date)
		return (gocall(GO.date_parse, format, date))
	end
end
core.http_date = date_parser("http_date", "http")          -- any of the three below
core.imf_date = date_parser("imf_date", "imf")             -- Sun, 06 Nov 1994 08:49:37 GMT
core.rfc850_date = date_parser("rfc850_date", "rfc850")    -- Sunday, 06-Nov-94 08:49:37 GMT
core.asctime_date = date_parser("asctime_date", "asctime") -- Sun Nov  6 08:49:37 1994

-- core.tokenize ---------------------------------------------------------------

-- core.tokenize(str, separators[, noblank]) splits str on any byte of
-- separators; noblank drops the empty words.
function core.tokenize(str, seps, noblank)
	need_string("tokenize", 1, str)
	need_string("tokenize", 2, seps)
	if noblank ~= nil and type(noblank) ~= "boolean" then
		error("bad argument #3 to 'tokenize' (boolean expected, got " .. type(noblank) .. ")", 2)
	end
	str, seps = tostring(str), tostring(seps)
	local set = {}
	for i = 1, #seps do set[byte(seps, i)] = true end
	local out, n, start = {}, 0, 1
	for i = 1, #str + 1 do
		if i > #str or set[byte(str, i)] then
			if not noblank or i > start then
				n = n + 1
				out[n] = sub(str, start, i - 1)
			end
			start = i + 1
		end
	end
	return out
end

-- Concat -----------------------------------------------------------------------

local Concat = {}
local concat_mt = {
	__index = Concat,
	__tostring = function(c) return "Concat object: " .. tostring(c.parts):sub(8) end,
}

-- core.concat() returns a Concat object: c:add(str) appends, c:dump()
-- returns the whole string.
function core.concat()
	return setmetatable({ parts = {}, n = 0 }, concat_mt)
end

local function check_concat(c, fname)
	if getmetatable(c) ~= concat_mt then
		error("bad argument #1 to '" .. fname .. "' (Concat expected: call it as c:" .. fname .. "(...))", 3)
	end
end

function Concat.add(c, str)
	check_concat(c, "add")
	need_string("add", 2, str)
	local n = c.n + 1
	c.parts[n], c.n = str, n
end

function Concat.dump(c)
	check_concat(c, "dump")
	return concat(c.parts, "", 1, c.n)
end

-- Addresses ----------------------------------------------------------------

local addr_mt = {
	__tostring = function(a) return a.text end,
}

-- core.parse_addr(str) parses "a.b.c.d[/bits or /dotted.mask]" or
-- "ipv6[/bits]" into an address object for core.match_addr, or nil.
function core.parse_addr(str)
	need_string("parse_addr", 1, str)
	local r = { gocall(GO.addr_parse, str) }
	local family = r[1]
	if family == nil then return nil end
	if family == 4 then
		return setmetatable({ family = 4, text = r[2], ip = { r[3] }, mask = { r[4] } }, addr_mt)
	end
	return setmetatable({ family = 6, text = r[2], ip = { r[3], r[4], r[5], r[6] }, mask = { r[7], r[8], r[9], r[10] } }, addr_mt)
end

-- core.match_addr(a1, a2) reports whether two parse_addr results match:
-- each address masked by the other's mask gives the same network, so
-- "127.0.0.1" matches "127.0.0.0/8" in either order. Anything that is not
-- such an object, or a mix of IPv4 and IPv6, does not match.
function core.match_addr(a1, a2)
	if getmetatable(a1) ~= addr_mt or getmetatable(a2) ~= addr_mt or a1.family ~= a2.family then
		return false
	end
	for i = 1, #a1.ip do
		if band(a1.ip[i], a2.mask[i]) ~= band(a2.ip[i], a1.mask[i]) then return false end
	end
	return true
end

-- core.get_info ----------------------------------------------------------------

-- The names of the values lj/coreutil.go returns, in order (HAProxy's
-- "show info" names; only what luaedge knows truthfully).
local info_names = { "Name", "Version", "Nbthread", "Nbproc", "Process_num", "Pid", "Uptime", "Uptime_sec",
	"Start_time_sec", "Memmax_MB", "Ulimit-n", "node" }

function core.get_info()
	local v = { gocall(GO.proc_info) }
	local info = {}
	for i = 1, #info_names do
		if v[i] ~= nil then info[info_names[i]] = v[i] end
	end
	return info
end

I.Concat = Concat
