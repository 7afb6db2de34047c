-- require("cjson") and require("cjson.safe"): lua-cjson's API (as
-- OpenResty's lua-cjson 2.1.0.x has it: null, empty_array, array_mt,
-- empty_array_mt, the encode_* and decode_* settings, cjson.new) in plain
-- Lua, since the static binary cannot load the C module. Errors are
-- lua-cjson's messages; cjson.safe returns nil and the message instead.
-- Reference: lua-cjson's manual (https://kyne.au/~mark/software/lua-cjson-manual.html).
local I = ...
setfenv(1, I.env)

local byte, char, find, sub, format, gsub = string.byte, string.char, string.find, string.sub, string.format, string.gsub
local concat = table.concat
local type, pairs, next, tonumber, tostring, select, error, pcall = type, pairs, next, tonumber, tostring, select, error, pcall
local getmetatable, setmetatable, rawget = getmetatable, setmetatable, rawget
local floor, huge = math.floor, math.huge
local bit = require("bit")
local band, bor, rshift, lshift = bit.band, bit.bor, bit.rshift, bit.lshift

-- null is lua-cjson's: a NULL light userdata (the same value as
-- OpenResty's ngx.null). empty_array is another light userdata, made
-- from the address of a table of this file's: it encodes as [].
local null = I.null
local empty_array = I.empty_array
local array_mt = { __name = "cjson.array" }
local empty_array_mt = { __name = "cjson.empty_array" }

-- The escapes of a string's characters as lua-cjson writes them: control
-- characters, DEL, the quote, the backslash and the slash (unless
-- encode_escape_forward_slash is off).
local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
for c = 0, 31 do
	local ch = char(c)
	if escapes[ch] == nil then escapes[ch] = format("\\u%04x", c) end
end
escapes["\127"] = "\\u007f"

local function default_config()
	return {
		sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
		encode_max_depth = 1000, decode_max_depth = 1000,
		encode_invalid_numbers = false, decode_invalid_numbers = true,
		keep_buffer = true, precision = 14, number_fmt = "%.14g",
		empty_table_as_object = true, decode_array_mt = false,
		escape_slash = true, skip_unsupported = false,
	}
end

local function arg_error(fname, n, msg)
	error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
end

local function new(safe)
	local cfg = default_config()
	local M = {}

	-- Encoding ---------------------------------------------------------

	local function encode_number(v)
		if v ~= v or v == huge or v == -huge then
			local inv = cfg.encode_invalid_numbers
			if inv == "null" then return "null" end
			if not inv then error("Cannot serialise number: must not be NaN or Inf", 0) end
			if v ~= v then return "nan" end
			return v > 0 and "inf" or "-inf"
		end
		return format(cfg.number_fmt, v)
	end

	local function escaped(s)
		local pat = cfg.escape_slash and '[%c"\\/\127]' or '[%c"\\\127]'
		if not find(s, pat) then return s end
		return (gsub(s, pat, escapes))
	end

	local function encode_string(s) return '"' .. escaped(s) .. '"' end

	-- put_string appends a quoted string to buf without making it.
	local function put_string(s, buf, n)
		buf[n + 1] = '"'
		buf[n + 2] = escaped(s)
		buf[n + 3] = '"'
		return n + 3
	end

	-- array_length is lua-cjson's: the table's length if its keys are
	-- the integers 1..n with at most a few holes, -1 if it is an object.
	local function array_length(t)
		local max, items = 0, 0
		for k in pairs(t) do
			if type(k) == "number" and k >= 1 and floor(k) == k then
				if k > max then max = k end
				items = items + 1
			else
				return -1
			end
		end
		if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
			if not cfg.sparse_convert then error("Cannot serialise table: excessively sparse array", 0) end
			return -1
		end
		return max
	end

	local encode_value

	local function encode_table(t, buf, n, depth)
		depth = depth + 1
		if depth > cfg.encode_max_depth then
			error(format("Cannot serialise, excessive nesting (%d)", depth), 0)
		end
		-- array_mt: an array whatever its keys (#t items); empty_array_mt:
		-- [] when empty (OpenResty's lua-cjson).
		local mt = getmetatable(t)
		local len
		if mt == array_mt then
			len = #t
			if len == 0 then
				buf[n + 1] = "[]"
				return n + 1
			end
		else
			len = array_length(t)
			if len == 0 and mt == empty_array_mt then
				buf[n + 1] = "[]"
				return n + 1
			end
		end
		if len == 0 then
			buf[n + 1] = cfg.empty_table_as_object and "{}" or "[]"
			return n + 1
		end
		if len > 0 then
			n = n + 1
			buf[n] = "["
			for i = 1, len do
				if i > 1 then
					n = n + 1
					buf[n] = ","
				end
				n = encode_value(t[i], buf, n, depth)
			end
			n = n + 1
			buf[n] = "]"
			return n
		end
		n = n + 1
		buf[n] = "{"
		local first = true
		for k, v in pairs(t) do
			local kt, key = type(k), nil
			if kt == "string" then
				key = escaped(k)
			elseif kt == "number" then
				key = encode_number(k)
			else
				error("Cannot serialise " .. kt .. ": table key must be a number or string", 0)
			end
			local vt = type(v)
			if not (cfg.skip_unsupported and (vt == "function" or vt == "thread" or (vt == "userdata" and v ~= null and v ~= empty_array))) then
				if not first then
					n = n + 1
					buf[n] = ","
				end
				first = false
				buf[n + 1] = '"'
				buf[n + 2] = key
				buf[n + 3] = '":'
				n = encode_value(v, buf, n + 3, depth)
			end
		end
		n = n + 1
		buf[n] = "}"
		return n
	end

	encode_value = function(v, buf, n, depth)
		local t = type(v)
		local s
		if t == "string" then
			return put_string(v, buf, n)
		elseif t == "number" then
			s = encode_number(v)
		elseif t == "boolean" then
			s = v and "true" or "false"
		elseif t == "table" then
			return encode_table(v, buf, n, depth)
		elseif t == "nil" or v == null then
			s = "null"
		elseif v == empty_array then
			s = "[]"
		elseif cfg.skip_unsupported then
			s = "null"
		else
			error("Cannot serialise " .. t .. ": type not supported", 0)
		end
		buf[n + 1] = s
		return n + 1
	end

	local function encode(...)
		if select("#", ...) ~= 1 then arg_error("encode", 1, "expected 1 argument") end
		local v = ...
		local t = type(v)
		if t == "string" then return encode_string(v) end
		if t == "number" then return encode_number(v) end
		local buf = {}
		local n = encode_value(v, buf, 0, 0)
		return concat(buf, "", 1, n)
	end

	-- Decoding ---------------------------------------------------------

	-- Tokens, named as lua-cjson's messages name them.
	local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = "T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END"
	local T_STRING, T_NUMBER, T_BOOLEAN, T_NULL = "T_STRING", "T_NUMBER", "T_BOOLEAN", "T_NULL"
	local T_COLON, T_COMMA, T_END, T_ERROR = "T_COLON", "T_COMMA", "T_END", "T_ERROR"
	local punct = { [123] = T_OBJ_BEGIN, [125] = T_OBJ_END, [91] = T_ARR_BEGIN, [93] = T_ARR_END, [58] = T_COLON, [44] = T_COMMA }
	local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

	local function utf8(cp)
		if cp < 0x80 then return char(cp) end
		if cp < 0x800 then return char(bor(0xC0, rshift(cp, 6)), bor(0x80, band(cp, 0x3F))) end
		if cp < 0x10000 then
			return char(bor(0xE0, rshift(cp, 12)), bor(0x80, band(rshift(cp, 6), 0x3F)), bor(0x80, band(cp, 0x3F)))
		end
		return char(bor(0xF0, rshift(cp, 18)), bor(0x80, band(rshift(cp, 12), 0x3F)), bor(0x80, band(rshift(cp, 6), 0x3F)), bor(0x80, band(cp, 0x3F)))
	end

	local function hex4(s, i)
		local h = sub(s, i, i + 3)
		if #h ~= 4 or find(h, "[^%x]") then return nil end
		return tonumber(h, 16)
	end

	-- scan_string reads the string whose quote is at i: its value and the
	-- position after it, or nil, the error and its position.
	local function scan_string(s, i)
		local j = i + 1
		local parts, np = nil, 0
		while true do
			local k = find(s, '["\\]', j)
			if k == nil then return nil, "unexpected end of string", #s + 1 end
			if byte(s, k) == 34 then
				if parts == nil then return sub(s, i + 1, k - 1), k + 1 end
				np = np + 1
				parts[np] = sub(s, j, k - 1)
				return concat(parts, "", 1, np), k + 1
			end
			parts = parts or {}
			np = np + 1
			parts[np] = sub(s, j, k - 1)
			local e = sub(s, k + 1, k + 1)
			if e == "u" then
				local cp = hex4(s, k + 2)
				if cp == nil or (cp >= 0xDC00 and cp <= 0xDFFF) then return nil, "invalid unicode escape code", k end
				j = k + 6
				if cp >= 0xD800 and cp <= 0xDBFF then
					if sub(s, j, j + 1) ~= "\\u" then return nil, "invalid unicode escape code", k end
					local lo = hex4(s, j + 2)
					if lo == nil or lo < 0xDC00 or lo > 0xDFFF then return nil, "invalid unicode escape code", k end
					cp = 0x10000 + lshift(cp - 0xD800, 10) + (lo - 0xDC00)
					j = j + 6
				end
				np = np + 1
				parts[np] = utf8(cp)
			else
				local r = simple[e]
				if r == nil then
					if e == "" then return nil, "unexpected end of string", k + 1 end
					return nil, "invalid escape code", k
				end
				np = np + 1
				parts[np] = r
				j = k + 2
			end
		end
	end

	-- invalid_number tells the numbers JSON does not allow that strtod
	-- reads (lua-cjson's json_is_invalid_number): a leading +, hex,
	-- leading zeros, inf and nan.
	local function invalid_number(s, i)
		local c = byte(s, i)
		if c == 43 then return true end -- +
		if c == 45 then i = i + 1; c = byte(s, i) end -- -
		if c == 48 then
			local c2 = byte(s, i + 1)
			return c2 == 120 or c2 == 88 or (c2 ~= nil and c2 >= 48 and c2 <= 57)
		end
		if c ~= nil and c <= 57 then return false end
		local w = string.lower(sub(s, i, i + 2))
		return w == "inf" or w == "nan"
	end

	-- scan_number reads what strtod would at i: the value and the
	-- position after it, or nil.
	local function scan_number(s, i)
		local _, e = find(s, "^[-+]?0[xX]%x+", i)
		if e == nil then
			local _, f = find(s, "^[-+]?[iI][nN][fF]", i)
			if f ~= nil then
				local _, g = find(s, "^[iI][nN][iI][tT][yY]", f + 1)
				return (byte(s, i) == 45 and -huge or huge), (g or f) + 1
			end
			_, f = find(s, "^[-+]?[nN][aA][nN]", i)
			if f ~= nil then return 0 / 0, f + 1 end
			local a, b = find(s, "^[-+]?%d*%.?%d*", i)
			if not find(sub(s, a, b), "%d") then return nil end
			e = b
			local _, x = find(s, "^[eE][-+]?%d+", e + 1)
			if x then e = x end
		end
		local str = sub(s, i, e)
		if byte(str) == 43 then str = sub(str, 2) end
		local v = tonumber(str)
		if v == nil then return nil end
		return v, e + 1
	end

	-- next_token returns the token at i (after white space): its type,
	-- its value, the position after it, and the position it starts at;
	-- for T_ERROR the value is the error.
	local function next_token(s, i)
		local c = byte(s, i)
		if c == 32 or c == 9 or c == 10 or c == 13 then
			local _, w = find(s, "^[ \t\n\r]*", i)
			i = w + 1
			c = byte(s, i)
		end
		if c == nil then return T_END, nil, i, i end
		local p = punct[c]
		if p then return p, nil, i + 1, i end
		if c == 34 then
			local v, j, at = scan_string(s, i)
			if v == nil then return T_ERROR, j, nil, at end
			return T_STRING, v, j, i
		end
		if (c >= 48 and c <= 57) or c == 45 then
			-- Most numbers are plain integers.
			local _, e = find(s, "^-?[1-9]%d*", i)
			if e ~= nil then
				local n = byte(s, e + 1)
				if n ~= 46 and n ~= 101 and n ~= 69 and n ~= 120 and n ~= 88 then
					return T_NUMBER, tonumber(sub(s, i, e)), e + 1, i
				end
			end
		end
		if c == 116 and sub(s, i, i + 3) == "true" then return T_BOOLEAN, true, i + 4, i end
		if c == 102 and sub(s, i, i + 4) == "false" then return T_BOOLEAN, false, i + 5, i end
		if c == 110 and sub(s, i, i + 3) == "null" then return T_NULL, null, i + 4, i end
		if c == 45 or (c >= 48 and c <= 57) or (cfg.decode_invalid_numbers and invalid_number(s, i)) then
			if not cfg.decode_invalid_numbers and invalid_number(s, i) then return T_ERROR, "invalid number", nil, i end
			local v, j = scan_number(s, i)
			if v == nil then return T_ERROR, "invalid number", nil, i end
			return T_NUMBER, v, j, i
		end
		return T_ERROR, "invalid token", nil, i
	end

	local function unexpected(what, t, v, at)
		error(format("Expected %s but found %s at character %d", what, t == T_ERROR and v or t, at), 0)
	end

	local decode_value

	local function descend(depth, at)
		depth = depth + 1
		if depth > cfg.decode_max_depth then
			error(format("Found too many nested data structures (%d) at character %d", depth, at), 0)
		end
		return depth
	end

	local function decode_object(s, i, depth)
		local obj = {}
		local t, v, j, at = next_token(s, i)
		if t == T_OBJ_END then return obj, j end
		while true do
			if t ~= T_STRING then unexpected("object key string", t, v, at) end
			local key = v
			t, v, j, at = next_token(s, j)
			if t ~= T_COLON then unexpected("colon", t, v, at) end
			obj[key], j = decode_value(s, j, depth)
			t, v, j, at = next_token(s, j)
			if t == T_OBJ_END then return obj, j end
			if t ~= T_COMMA then unexpected("comma or object end", t, v, at) end
			t, v, j, at = next_token(s, j)
		end
	end

	local function decode_array(s, i, depth)
		local arr, n = {}, 0
		if cfg.decode_array_mt then setmetatable(arr, array_mt) end
		local t, v, j, at = next_token(s, i)
		if t == T_ARR_END then return arr, j end
		while true do
			n = n + 1
			arr[n], j = decode_value(s, j, depth, t, v, j, at)
			t, v, j, at = next_token(s, j)
			if t == T_ARR_END then return arr, j end
			if t ~= T_COMMA then unexpected("comma or array end", t, v, at) end
			t, v, j, at = next_token(s, j)
		end
	end

	-- decode_value decodes the value at i, or the one whose token the
	-- caller read already (t, v, j, at).
	decode_value = function(s, i, depth, t, v, j, at)
		if t == nil then t, v, j, at = next_token(s, i) end
		if t == T_STRING or t == T_NUMBER or t == T_BOOLEAN or t == T_NULL then return v, j end
		if t == T_OBJ_BEGIN then return decode_object(s, j, descend(depth, at)) end
		if t == T_ARR_BEGIN then return decode_array(s, j, descend(depth, at)) end
		unexpected("value", t, v, at)
	end

	local function decode(...)
		if select("#", ...) ~= 1 then arg_error("decode", 1, "expected 1 argument") end
		local s = ...
		local ts = type(s)
		if ts == "number" then
			s = tostring(s)
		elseif ts ~= "string" then
			arg_error("decode", 1, "string expected, got " .. (ts == "nil" and "no value" or ts))
		end
		local v, j = decode_value(s, 1, 0)
		local t, tv, _, at = next_token(s, j)
		if t ~= T_END then unexpected("the end", t, tv, at) end
		return v
	end

	-- Settings ---------------------------------------------------------

	-- bool_option is lua-cjson's on/off setting: a boolean, "on" or
	-- "off" sets it; it returns the value (as a boolean).
	local function bool_option(fname, key, ...)
		if select("#", ...) > 0 then
			local v = ...
			if v == "on" then v = true elseif v == "off" then v = false end
			if type(v) ~= "boolean" then arg_error(fname, 1, "invalid option '" .. tostring(v) .. "'") end
			cfg[key] = v
		end
		return cfg[key]
	end

	local function int_option(fname, n, v, lo, hi)
		if v == nil then return nil end
		v = tonumber(v)
		if v == nil or v < lo or v > hi or floor(v) ~= v then
			arg_error(fname, n, format("expected integer between %d and %d", lo, hi))
		end
		return v
	end

	function M.encode_sparse_array(convert, ratio, safe)
		if convert ~= nil then bool_option("encode_sparse_array", "sparse_convert", convert) end
		cfg.sparse_ratio = int_option("encode_sparse_array", 2, ratio, 0, 0x7fffffff) or cfg.sparse_ratio
		cfg.sparse_safe = int_option("encode_sparse_array", 3, safe, 0, 0x7fffffff) or cfg.sparse_safe
		return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
	end

	function M.encode_max_depth(d)
		cfg.encode_max_depth = int_option("encode_max_depth", 1, d, 1, 0x7fffffff) or cfg.encode_max_depth
		return cfg.encode_max_depth
	end

	function M.decode_max_depth(d)
		cfg.decode_max_depth = int_option("decode_max_depth", 1, d, 1, 0x7fffffff) or cfg.decode_max_depth
		return cfg.decode_max_depth
	end

	function M.encode_number_precision(p)
		local v = int_option("encode_number_precision", 1, p, 1, 16)
		if v then
			cfg.precision = v
			cfg.number_fmt = "%." .. v .. "g"
		end
		return cfg.precision
	end

	function M.encode_keep_buffer(...) return bool_option("encode_keep_buffer", "keep_buffer", ...) end
	function M.decode_invalid_numbers(...) return bool_option("decode_invalid_numbers", "decode_invalid_numbers", ...) end
	function M.encode_empty_table_as_object(...) return bool_option("encode_empty_table_as_object", "empty_table_as_object", ...) end
	function M.decode_array_with_array_mt(...) return bool_option("decode_array_with_array_mt", "decode_array_mt", ...) end
	function M.encode_escape_forward_slash(...) return bool_option("encode_escape_forward_slash", "escape_slash", ...) end
	function M.encode_skip_unsupported_value_types(...) return bool_option("encode_skip_unsupported_value_types", "skip_unsupported", ...) end

	-- encode_invalid_numbers also takes "null": NaN and Inf encode as null.
	function M.encode_invalid_numbers(...)
		if select("#", ...) > 0 and (...) == "null" then
			cfg.encode_invalid_numbers = "null"
			return "null"
		end
		return bool_option("encode_invalid_numbers", "encode_invalid_numbers", ...)
	end

	if safe then
		-- cjson.safe: nil and the message instead of an error, for the
		-- data's errors; a wrong call still raises.
		M.encode = function(...)
			if select("#", ...) ~= 1 then arg_error("encode", 1, "expected 1 argument") end
			local ok, r = pcall(encode, ...)
			if ok then return r end
			return nil, r
		end
		M.decode = function(...)
			if select("#", ...) ~= 1 then arg_error("decode", 1, "expected 1 argument") end
			local ok, r = pcall(decode, ...)
			if ok then return r end
			return nil, r
		end
	else
		M.encode, M.decode = encode, decode
	end
	M.new = function() return new(safe) end
	M.null, M.empty_array, M.array_mt, M.empty_array_mt = null, empty_array, array_mt, empty_array_mt
	M._NAME = safe and "cjson.safe" or "cjson"
	M._VERSION = "2.1.0.14"
	return M
end

package.preload["cjson"] = function() return new(false) end
package.preload["cjson.safe"] = function() return new(true) end
