-- http.headers: lua-http's ordered list of header fields, each a name, a
-- value and a never_index flag (HPACK's "never indexed" literal for values
-- that are secrets). Reference: lua-http, module http.headers.
-- The request and response heads of the http-stream services
-- (http_stream.lua) and of the lua-http client are objects of this class;
-- pseudo-header fields (":method", ":path", ":authority", ":scheme",
-- ":status") are fields like the others, their values strings.
--
-- Names are case-insensitive in HTTP and lower-case on HTTP/2's wire:
-- this class stores them lower-case and lower-cases the names it is asked
-- for, where lua-http keeps and matches them as given (its convention is
-- that callers use lower case).
--
-- The fields are three parallel arrays (names, values, flags) searched
-- from the start: a head has tens of fields, and comparing interned
-- strings is cheaper than keeping an index of a table per name up to date.
local I = ...
setfenv(1, I.env)

local type, tostring, error, setmetatable = type, tostring, error, setmetatable
local lower, sub, format = string.lower, string.sub, string.format
local concat, sort = table.concat, table.sort
local tnew = require("table.new")

local M = {}
local Headers = {}
local mt = { __name = "http.headers", __index = Headers }

-- Fields whose value is a credential: never indexed unless said otherwise.
local secret = {
	authorization = true,
	["proxy-authorization"] = true,
	cookie = true,
	["set-cookie"] = true,
}

local function flag(name, never_index)
	if never_index == nil then return secret[name] or false end
	return never_index and true or false
end

-- key turns a name argument into the stored form.
local function key(name, fname)
	if type(name) ~= "string" then
		error("bad argument #1 to '" .. fname .. "' (string expected, got " .. type(name) .. ")", 3)
	end
	return lower(name)
end

function M.new()
	return setmetatable({ n = 0, names = {}, values = {}, never = {} }, mt)
end
local new = M.new

-- I.headers_sized(n) is an empty object with room for n fields, which
-- http_request.lua fills with a response's fields, their names lower-case
-- already, without append's checks: the arrays do not grow field by field.
function I.headers_sized(n)
	return setmetatable({ n = 0, names = tnew(n, 0), values = tnew(n, 0), never = tnew(n, 0) }, mt)
end
I.header_secret = secret

function Headers.len(self)
	return self.n
end
mt.__len = Headers.len

mt.__tostring = function(self)
	return format("http.headers{%d headers}", self.n)
end

function Headers.clone(self)
	local c = new()
	local names, values, never = self.names, self.values, self.never
	local cn, cv, cf = c.names, c.values, c.never
	for i = 1, self.n do
		cn[i], cv[i], cf[i] = names[i], values[i], never[i]
	end
	c.n = self.n
	return c
end

function Headers.append(self, name, value, never_index)
	name = key(name, "append")
	local n = self.n + 1
	self.names[n], self.values[n], self.never[n] = name, value, flag(name, never_index)
	self.n = n
end

-- each iterates over the fields in order: name, value, never_index.
function Headers.each(self)
	local i = 0
	return function(h)
		if i >= h.n then return nil end
		i = i + 1
		return h.names[i], h.values[i], h.never[i]
	end, self
end
mt.__pairs = Headers.each

function Headers.has(self, name)
	name = key(name, "has")
	local names = self.names
	for i = 1, self.n do
		if names[i] == name then return true end
	end
	return false
end

-- delete removes every field called name; it reports whether there was one.
function Headers.delete(self, name)
	name = key(name, "delete")
	local names, values, never = self.names, self.values, self.never
	local n, kept = self.n, 0
	for i = 1, n do
		if names[i] ~= name then
			kept = kept + 1
			names[kept], values[kept], never[kept] = names[i], values[i], never[i]
		end
	end
	for i = kept + 1, n do
		names[i], values[i], never[i] = nil, nil, nil
	end
	self.n = kept
	return kept < n
end

function Headers.geti(self, i)
	if type(i) ~= "number" or i < 1 or i > self.n or i % 1 ~= 0 then return nil end
	return self.names[i], self.values[i], self.never[i]
end

function Headers.modifyi(self, i, value, never_index)
	if type(i) ~= "number" or i < 1 or i > self.n or i % 1 ~= 0 then
		error("invalid index", 2)
	end
	self.values[i], self.never[i] = value, flag(self.names[i], never_index)
end

-- get_as_sequence returns the values of the fields called name, in order,
-- with their count in .n.
function Headers.get_as_sequence(self, name)
	name = key(name, "get_as_sequence")
	local names, values = self.names, self.values
	local r, k = {}, 0
	for i = 1, self.n do
		if names[i] == name then
			k = k + 1
			r[k] = values[i]
		end
	end
	r.n = k
	return r
end

-- get returns the values of the fields called name as multiple results.
-- The first field is found without building a table: most names have one.
local function rest(self, name, from)
	local names = self.names
	for i = from, self.n do
		if names[i] == name then
			return self.values[i], rest(self, name, i + 1)
		end
	end
end

function Headers.get(self, name)
	return rest(self, key(name, "get"), 1)
end

-- get_comma_separated joins the values of the fields called name with
-- ","; nil when there is none.
function Headers.get_comma_separated(self, name)
	local r = Headers.get_as_sequence(self, key(name, "get_comma_separated"))
	if r.n == 0 then return nil end
	return concat(r, ",", 1, r.n)
end

-- upsert replaces the value of the one field called name, or appends it;
-- a name with several fields is an error.
function Headers.upsert(self, name, value, never_index)
	name = key(name, "upsert")
	local names, at = self.names, nil
	for i = 1, self.n do
		if names[i] == name then
			if at ~= nil then error("Cannot upsert multi-valued field", 2) end
			at = i
		end
	end
	if at == nil then
		return Headers.append(self, name, value, never_index)
	end
	self.values[at], self.never[at] = value, flag(name, never_index)
end

-- before orders two fields for sort: pseudo-header fields first, then by
-- name, by value, and a never-indexed field before its indexed twin.
local function before(a, b)
	if a[1] ~= b[1] then
		local ap, bp = sub(a[1], 1, 1) == ":", sub(b[1], 1, 1) == ":"
		if ap ~= bp then return ap end
		return a[1] < b[1]
	end
	if a[2] ~= b[2] then return tostring(a[2]) < tostring(b[2]) end
	return a[3] and not b[3]
end

function Headers.sort(self)
	local names, values, never = self.names, self.values, self.never
	local fields = {}
	for i = 1, self.n do fields[i] = { names[i], values[i], never[i] } end
	sort(fields, before)
	for i = 1, self.n do
		local f = fields[i]
		names[i], values[i], never[i] = f[1], f[2], f[3]
	end
end

-- dump writes "prefixname: value" lines to file (standard error by default).
function Headers.dump(self, file, prefix)
	file = file or io.stderr
	prefix = prefix or ""
	for i = 1, self.n do
		assert(file:write(prefix, self.names[i], ": ", tostring(self.values[i]), "\n"))
	end
	assert(file:flush())
end

M.methods, M.mt = Headers, mt
I.http_headers = M

package.preload["http.headers"] = function() return M end
