-- http.util, http.version and http.bit: lua-http's small helpers.
-- Reference: lua-http, modules http.util, http.version, http.bit.
-- lua-http builds its grammars with LPeg; luaedge has no LPeg, so the
-- same rules are written here with string patterns and byte scans.
local I = ...
setfenv(1, I.env)
local bit = require("bit")

local type, tostring, tonumber, pairs, error = type, tostring, tonumber, pairs, error
local byte, char, find, format, gsub, match, sub = string.byte, string.char, string.find, string.format, string.gsub, string.match, string.sub
local concat = table.concat

local M = {}

-- class returns a pattern set of the bytes for which keep is true, each
-- escaped, so that no byte is taken for a pattern's magic character.
local function class(keep, negate)
	local parts = { negate and "[^" or "[" }
	for b = 0, 255 do
		if keep(b) then
			local c = char(b)
			if find(c, "%w") or b >= 128 then parts[#parts + 1] = c else parts[#parts + 1] = "%" .. c end
		end
	end
	parts[#parts + 1] = "]"
	return concat(parts)
end
I.byte_class = class

local function alnum(b)
	return (b >= 48 and b <= 57) or (b >= 65 and b <= 90) or (b >= 97 and b <= 122)
end
local function among(set)
	local t = {}
	for i = 1, #set do t[byte(set, i)] = true end
	return function(b) return alnum(b) or t[b] == true end
end

local function percent(c)
	return format("%%%02X", byte(c))
end

-- ECMAScript's functions of the same names: encodeURI keeps the characters
-- that delimit a URI's parts, encodeURIComponent only the unreserved ones.
local uri_escaped = class(among(";,/?:@&=+$-_.!~*'()#"), true)
local component_escaped = class(among("-_.!~*'()"), true)

function M.encodeURI(s)
	return (gsub(s, uri_escaped, percent))
end

function M.encodeURIComponent(s)
	return (gsub(s, component_escaped, percent))
end

-- decodeURI leaves escapes of the characters that delimit a URI's parts
-- as they are: decoding them would change what the URI says.
local delimiters = {}
for c in ("#$&+,/:;=?@"):gmatch(".") do delimiters[byte(c)] = true end

function M.decodeURI(s)
	return (gsub(s, "%%(%x%x)", function(hex)
		local b = tonumber(hex, 16)
		if delimiters[b] then return nil end
		return char(b)
	end))
end

local function unescape(hex) return char(tonumber(hex, 16)) end
function M.decodeURIComponent(s)
	return (gsub(s, "%%(%x%x)", unescape))
end
local decode = M.decodeURIComponent

-- query_args iterates over the name=value pairs of a query string, decoded;
-- a pair without "=" has the value nil, and empty pairs are skipped.
function M.query_args(s)
	local pos = 1
	return function()
		local from = find(s, "[^=&]", pos)
		if from == nil then
			pos = #s + 1
			return nil
		end
		local stop = find(s, "[=&]", from) or #s + 1
		local name, value = decode(sub(s, from, stop - 1)), nil
		if sub(s, stop, stop) == "=" then
			local amp = find(s, "&", stop + 1, true) or #s + 1
			value = decode(sub(s, stop + 1, amp - 1))
			stop = amp
		end
		pos = stop + 1
		return name, value
	end
end

-- dict_to_query encodes a table of string keys and values as a query
-- string, in the table's traversal order.
function M.dict_to_query(dict)
	local parts = {}
	for name, value in pairs(dict) do
		parts[#parts + 1] = M.encodeURIComponent(name) .. "=" .. M.encodeURIComponent(value)
	end
	return concat(parts, "&")
end

-- resolve_relative_path resolves relative against the path base: "." and
-- ".." segments are applied (never above the root), empty segments
-- dropped, and the leading and trailing "/" kept.
function M.resolve_relative_path(base, relative)
	local segs, n = {}, 0
	local absolute = sub(relative, 1, 1) == "/"
	if not absolute then
		absolute = sub(base, 1, 1) == "/"
		-- base's last segment is a file name, which relative replaces.
		for seg in base:gmatch("([^/]+)/") do
			n = n + 1
			segs[n] = seg
		end
	end
	for seg in relative:gmatch("[^/]+") do
		if seg == ".." then
			if n > 0 then n = n - 1 end
		elseif seg ~= "." then
			n = n + 1
			segs[n] = seg
		end
	end
	if sub(relative, -1) == "/" then
		n = n + 1
		segs[n] = ""
	end
	local path = concat(segs, "/", 1, n)
	if absolute then
		if n == 0 then return "/" end
		return "/" .. path
	end
	return path
end

-- RFC 9110 section 9.2.1: the methods defined as safe.
local safe = { GET = true, HEAD = true, OPTIONS = true, TRACE = true }
function M.is_safe_method(method)
	return safe[method] or false
end

-- dec_octet reads a decimal octet at i as RFC 3986 spells it (one digit,
-- two, or three from 100 to 255; a leading zero only in two) and returns
-- the index after it, or nil.
local function dec_octet(s, i)
	local d = match(s, "^%d%d?%d?", i)
	if d == nil then return nil end
	if #d == 3 and (tonumber(d) > 255 or sub(d, 1, 1) == "0") then d = sub(d, 1, 2) end
	return i + #d
end

local function ipv4_at(s, i)
	for k = 1, 4 do
		i = dec_octet(s, i)
		if i == nil then return nil end
		if k < 4 then
			if sub(s, i, i) ~= "." then return nil end
			i = i + 1
		end
	end
	return i
end

local function is_ipv4(s)
	return ipv4_at(s, 1) == #s + 1
end

-- is_ipv6 checks RFC 3986's IPv6address, with a zone ("%" and any
-- characters) allowed after it.
local function is_ipv6(s)
	local zone = find(s, "%", 1, true)
	if zone ~= nil then
		if zone == #s then return false end
		s = sub(s, 1, zone - 1)
	end
	local gap = find(s, "::", 1, true)
	if gap ~= nil and find(s, "::", gap + 1, true) then return false end
	local groups, i, n = 0, 1, #s
	if gap == 1 then i = 3 end
	while i <= n do
		local h = match(s, "^%x%x?%x?%x?", i)
		local tail = ipv4_at(s, i)
		if tail == n + 1 then
			groups = groups + 2
			i = tail
			break
		end
		if h == nil then return false end
		groups = groups + 1
		i = i + #h
		if i > n then break end
		if sub(s, i, i) ~= ":" then return false end
		if i == gap then
			i = i + 2
		else
			i = i + 1
			if i > n then return false end -- a single trailing ":"
		end
	end
	if gap ~= nil then return groups <= 7 end
	return groups == 8
end

function M.is_ip(s)
	return is_ipv4(s) or is_ipv6(s)
end

M.scheme_to_port = { http = 80, ws = 80, https = 443, wss = 443 }
local scheme_to_port = M.scheme_to_port

-- split_authority splits "host:port" (an IPv6 host in brackets); without
-- a port, the scheme's default. nil, "unknown scheme" when it has none.
function M.split_authority(authority, scheme)
	local host, port = match(authority, "^[ \t]*(.-):(%d+)[ \t]*$")
	if host ~= nil then
		port = tonumber(port, 10)
	else
		host, port = authority, scheme_to_port[scheme]
		if port == nil then return nil, "unknown scheme" end
	end
	return match(host, "^%[([:%x]+)%]$") or host, port
end

-- to_authority joins host and port, leaving out the scheme's default port
-- and putting an IPv6 host in brackets.
function M.to_authority(host, port, scheme)
	if find(host, "^[%x:]+:[%x:]*$") then host = "[" .. host .. "]" end
	if port == nil or scheme_to_port[scheme] == port then return host end
	return format("%s:%d", host, port)
end

-- imf_date formats time (default now) as RFC 9110's IMF-fixdate.
function M.imf_date(time)
	return os.date("!%a, %d %b %Y %H:%M:%S GMT", time)
end

-- maybe_quote returns s as it is when it is a token, as a quoted-string
-- when it can be one (backslash and double quote escaped), else nil.
local tchar = among("!#$%&'*+-.^_`|~")
local non_token = class(tchar, true)
-- qdtext: tab, space, and the visible and obs-text bytes but " and \.
local not_quotable = class(function(b) return b == 9 or b >= 32 and b ~= 127 end, true)
I.token_class = class(tchar) -- for http.cookie

function M.maybe_quote(s)
	if s ~= "" and not find(s, non_token) then return s end
	if find(s, not_quotable) then return nil end
	return '"' .. gsub(s, '[\\"]', "\\%0") .. '"'
end

-- LuaJIT's pcall can be yielded across: lua-http's fallback for PUC Lua
-- 5.1 is not needed.
M.yieldable_pcall = pcall

I.http_util = M
package.preload["http.util"] = function() return M end

-- http.version: the lua-http release whose API these modules follow.
local version = { name = "lua-http", version = "0.4" }
package.preload["http.version"] = function() return version end

-- http.bit: lua-http's bit operations, LuaJIT's own.
local bits = { band = bit.band, bor = bit.bor, bxor = bit.bxor }
package.preload["http.bit"] = function() return bits end
