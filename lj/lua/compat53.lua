-- Lua 5.3 habits on LuaJIT (lua.compat53 in docs/config.md): what
-- HAProxy's scripts use of Lua 5.3's library that LuaJIT (Lua 5.1) lacks
-- or does otherwise. I.compat53(G) puts it in the scripts' globals G; the
-- sandbox calls it before sealing, unless the switch is off.
--
-- A LuaJIT number is a double: "integer" here means a number with an
-- integral value in [-2^63, 2^63). Values past 2^53 lose precision as
-- every double does; math.maxinteger is the largest double below 2^63.
local I = ...
setfenv(1, I.env)

local type, tonumber, select, error, unpack = type, tonumber, select, error, unpack
local floor, huge = math.floor, math.huge
local byte, char, sub, find, format, rep = string.byte, string.char, string.sub, string.find, string.format, string.rep
local concat = table.concat
local ffi = require("ffi")

local TWO63 = 2 ^ 63

local function is_int(n)
	return n == floor(n) and n >= -TWO63 and n < TWO63
end

-- tostr is the standard tostring, except that an integer prints all its
-- digits ("1765000000123456", not "1.765000000123e+15"), as Lua 5.3 and
-- HAProxy print an integer. It is also what luaedge's API uses to turn
-- a number into text (a header, a body, a log line).
local std_tostring = tostring
local function tostr(v)
	if type(v) == "number" and v == floor(v) and v > -TWO63 and v < TWO63 and (v >= 1e14 or v <= -1e14) then
		return format("%d", v)
	end
	return std_tostring(v)
end
-- luaedge's own chunks, loaded after this one, take their tostring from
-- I.env: a number a script hands to the API prints as HAProxy prints it.
I.env.tostring = tostr

-- argument checks with Lua 5.3's messages ------------------------------

local function argerror(fname, n, msg)
	error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", 3)
end

-- checkint is luaL_checkinteger: a number with an integral value, or a
-- string that converts to one.
-- none is what a missing argument is called: "no value", or "nil" where
-- 5.3 pads the arguments (string.pack).
local function checkint(fname, n, v, none)
	local x = v
	if type(x) == "string" then x = tonumber(x) end
	if type(x) ~= "number" then
		argerror(fname, n, "number expected, got " .. (v == nil and (none or "no value") or type(v)))
	end
	if not is_int(x) then argerror(fname, n, "number has no integer representation") end
	return x
end

local function optint(fname, n, v, default)
	if v == nil then return default end
	return checkint(fname, n, v)
end

local function checknum(fname, n, v, none)
	local x = v
	if type(x) == "string" then x = tonumber(x) end
	if type(x) ~= "number" then
		argerror(fname, n, "number expected, got " .. (v == nil and (none or "no value") or type(v)))
	end
	return x
end

local function checkstr(fname, n, v, none)
	local t = type(v)
	if t == "number" then return tostr(v) end
	if t ~= "string" then argerror(fname, n, "string expected, got " .. (v == nil and (none or "no value") or t)) end
	return v
end

-- posrelat turns a negative position into one from the start (0 past the
-- beginning).
local function posrelat(pos, len)
	if pos >= 0 then return pos end
	if -pos > len then return 0 end
	return len + pos + 1
end

-- table ----------------------------------------------------------------

local function pack(...)
	return { n = select("#", ...), ... }
end

-- math -----------------------------------------------------------------

local function math_type(...)
	if select("#", ...) == 0 then argerror("type", 1, "value expected") end
	local x = ...
	if type(x) ~= "number" then return nil end
	return is_int(x) and "integer" or "float"
end

local function math_tointeger(...)
	if select("#", ...) == 0 then argerror("tointeger", 1, "value expected") end
	local x = ...
	if type(x) == "string" then x = tonumber(x) end
	if type(x) == "number" and is_int(x) then return x end
	return nil
end

-- ult compares as unsigned 64-bit integers: a negative one is above every
-- non-negative one.
local function math_ult(m, n)
	m, n = checkint("ult", 1, m), checkint("ult", 2, n)
	if (m < 0) == (n < 0) then return m < n end
	return m >= 0
end

-- utf8 -----------------------------------------------------------------

local MAXUNICODE = 0x10FFFF

local function iscont(s, i) -- i is 0-based; past the end is the terminating NUL
	local c = byte(s, i + 1)
	return c ~= nil and c >= 0x80 and c < 0xC0
end

-- encode is utf8.char of one code point.
local function encode(x)
	if x < 0x80 then return char(x) end
	local t, mfb = {}, 0x3f -- mfb: the largest value the first byte still holds
	repeat
		t[#t + 1] = 0x80 + x % 64
		x = floor(x / 64)
		mfb = floor(mfb / 2)
	until x <= mfb
	t[#t + 1] = (255 - mfb) * 2 % 256 + x
	local out = {}
	for i = #t, 1, -1 do out[#out + 1] = char(t[i]) end
	return concat(out)
end

local function utf8_char(...)
	local n = select("#", ...)
	local t = {}
	for i = 1, n do
		local c = checkint("char", i, (select(i, ...)))
		if c < 0 or c > MAXUNICODE then argerror("char", i, "value out of range") end
		t[i] = encode(c)
	end
	return concat(t)
end

-- decode reads the sequence at 0-based i of s: its code point and the
-- 0-based position after it, or nil when it is not valid UTF-8 (5.3's
-- rules: at most 4 bytes, no overlong form, nothing above U+10FFFF).
local limits = { [0] = 0xFF, 0x7F, 0x7FF, 0xFFFF }
local function decode(s, i)
	local c = byte(s, i + 1) or 0
	if c < 0x80 then return c, i + 1 end
	local res, count = 0, 0
	while c % 128 >= 64 do -- c & 0x40: one more continuation byte
		count = count + 1
		local cc = byte(s, i + count + 1) or 0
		if cc < 0x80 or cc >= 0xC0 then return nil end
		res = res * 64 + cc % 64
		c = c * 2
		if count > 3 then return nil end
	end
	res = res + (c % 128) * 2 ^ (count * 5)
	if count > 3 or res > MAXUNICODE or res <= limits[count] then return nil end
	return res, i + count + 1
end

local function utf8_codepoint(s, i, j)
	s = checkstr("codepoint", 1, s)
	local len = #s
	local posi = posrelat(optint("codepoint", 2, i, 1), len)
	local pose = posrelat(optint("codepoint", 3, j, posi), len)
	if posi < 1 then argerror("codepoint", 2, "out of range") end
	if pose > len then argerror("codepoint", 3, "out of range") end
	if posi > pose then return end
	local out, p = {}, posi - 1
	while p < pose do
		local code, nxt = decode(s, p)
		if code == nil then error("invalid UTF-8 code", 2) end
		out[#out + 1] = code
		p = nxt
	end
	return unpack(out)
end

local function utf8_len(s, i, j)
	s = checkstr("len", 1, s)
	local len = #s
	local posi = posrelat(optint("len", 2, i, 1), len)
	local posj = posrelat(optint("len", 3, j, -1), len)
	if not (1 <= posi and posi - 1 <= len) then argerror("len", 2, "initial position out of string") end
	if not (posj - 1 < len) then argerror("len", 3, "final position out of string") end
	posi, posj = posi - 1, posj - 1
	local n = 0
	while posi <= posj do
		local code, nxt = decode(s, posi)
		if code == nil then return nil, posi + 1 end
		posi = nxt
		n = n + 1
	end
	return n
end

local function utf8_offset(s, n, i)
	s = checkstr("offset", 1, s)
	n = checkint("offset", 2, n)
	local len = #s
	local posi = n >= 0 and 1 or len + 1
	posi = posrelat(optint("offset", 3, i, posi), len)
	if not (1 <= posi and posi - 1 <= len) then argerror("offset", 3, "position out of range") end
	posi = posi - 1
	if n == 0 then
		while posi > 0 and iscont(s, posi) do posi = posi - 1 end
	else
		if iscont(s, posi) then error("initial position is a continuation byte", 2) end
		if n < 0 then
			while n < 0 and posi > 0 do
				repeat posi = posi - 1 until not (posi > 0 and iscont(s, posi))
				n = n + 1
			end
		else
			n = n - 1
			while n > 0 and posi < len do
				repeat posi = posi + 1 until not iscont(s, posi)
				n = n - 1
			end
		end
	end
	if n == 0 then return posi + 1 end
	return nil
end

local function codes_iter(s, i)
	s = checkstr("codes", 1, s)
	local len = #s
	local n = (tonumber(i) or 0) - 1
	if n < 0 then
		n = 0
	elseif n < len then
		n = n + 1
		while iscont(s, n) do n = n + 1 end
	end
	if n >= len then return nil end
	local code, nxt = decode(s, n)
	if code == nil or iscont(s, nxt) then error("invalid UTF-8 code", 2) end
	return n + 1, code
end

local function utf8_codes(s)
	s = checkstr("codes", 1, s)
	return codes_iter, s, 0
end

-- string.pack, string.unpack, string.packsize ---------------------------

-- The native sizes of x86-64 and arm64 with Lua 5.3's defaults.
local MAXINTSIZE, MAXALIGN = 16, 8
local native_little = ffi.abi("le")

local fbuf = ffi.new("union { float f; double d; uint8_t b[8]; }")

-- digits reads an optional number at fmt's position i: the number (or
-- default) and the next position.
local function digits(fmt, i, default)
	local d = fmt:match("^%d+", i)
	if d == nil then return default, i end
	return tonumber(d), i + #d
end

local function numlimit(fmt, i, default)
	local n, j = digits(fmt, i, default)
	if n > MAXINTSIZE or n <= 0 then
		error(format("integral size (%d) out of limits [1,%d]", n, MAXINTSIZE), 4)
	end
	return n, j
end

local FIXED = {
	b = { "int", 1 }, B = { "uint", 1 }, h = { "int", 2 }, H = { "uint", 2 },
	l = { "int", 8 }, L = { "uint", 8 }, j = { "int", 8 }, J = { "uint", 8 },
	T = { "uint", 8 }, f = { "float", 4 }, d = { "float", 8 }, n = { "float", 8 },
}

-- option reads the option at fmt's position i and updates h (endianness,
-- alignment): its kind, its size and the next position. Kinds: int, uint,
-- float, char (cN), string (sN), zstr (z), padding (x), nop.
local function option(h, fmt, i)
	local o = sub(fmt, i, i)
	i = i + 1
	local f = FIXED[o]
	if f then return f[1], f[2], i end
	if o == "i" or o == "I" then
		local n
		n, i = numlimit(fmt, i, 4)
		return o == "i" and "int" or "uint", n, i
	elseif o == "s" then
		local n
		n, i = numlimit(fmt, i, 8)
		return "string", n, i
	elseif o == "c" then
		local n
		n, i = digits(fmt, i, nil)
		if n == nil then error("missing size for format option 'c'", 4) end
		return "char", n, i
	elseif o == "z" then
		return "zstr", 0, i
	elseif o == "x" then
		return "padding", 1, i
	elseif o == " " then
	elseif o == "<" then
		h.little = true
	elseif o == ">" then
		h.little = false
	elseif o == "=" then
		h.little = native_little
	elseif o == "!" then
		h.maxalign, i = numlimit(fmt, i, MAXALIGN)
	elseif o == "X" then
		error("format option 'X' (alignment padding) is not supported by luaedge's string.pack", 4)
	else
		error("invalid format option '" .. o .. "'", 4)
	end
	return "nop", 0, i
end

-- details is option plus the padding that aligns it at totalsize (with
-- '!', an option is aligned on its size, up to the maximum given).
local function details(h, fmt, i, totalsize)
	local kind, size, j = option(h, fmt, i)
	local align = size
	if align <= 1 or kind == "char" then return kind, size, 0, j end
	if align > h.maxalign then align = h.maxalign end
	local p = 1
	while p < align do p = p * 2 end
	if p ~= align then error("bad argument #1 to 'pack' (format asks for alignment not power of 2)", 4) end
	return kind, size, (align - totalsize % align) % align, j
end

-- intbytes packs integer v in size bytes (two's complement).
local function intbytes(v, size, little)
	local neg = v < 0
	if neg then v = -v - 1 end
	local t = {}
	for k = 1, size do
		local b = v % 256
		v = (v - b) / 256
		if neg then b = 255 - b end
		t[k] = b
	end
	if not little then
		for k = 1, floor(size / 2) do t[k], t[size + 1 - k] = t[size + 1 - k], t[k] end
	end
	return char(unpack(t))
end

-- bytes returns the bytes at 1-based pos of data, least significant first.
local function le_bytes(data, pos, size, little)
	local t = { byte(data, pos, pos + size - 1) }
	if not little then
		for k = 1, floor(size / 2) do t[k], t[size + 1 - k] = t[size + 1 - k], t[k] end
	end
	return t
end

-- unpackint reads an integer as Lua 5.3 does into its 64-bit integers: a
-- size of 8 and more is signed whatever the option, bytes past 8 must
-- only extend the sign.
local function unpackint(data, pos, size, little, signed)
	local t = le_bytes(data, pos, size, little)
	local limit = size < 8 and size or 8
	if size >= 8 then
		local negative = t[8] >= 128
		local ext = negative and 255 or 0
		for k = 9, size do
			if t[k] ~= ext then
				error(format("%d-byte integer does not fit into Lua Integer", size), 3)
			end
		end
		signed = true
	end
	local negative = signed and t[limit] >= 128
	local v = 0
	for k = limit, 1, -1 do
		local b = t[k]
		if negative then b = 255 - b end
		v = v * 256 + b
	end
	if negative then v = -v - 1 end
	return v
end

local function floatbytes(v, size, little)
	if size == 4 then fbuf.f = v else fbuf.d = v end
	local t = {}
	for k = 1, size do t[k] = fbuf.b[k - 1] end
	if little ~= native_little then
		for k = 1, floor(size / 2) do t[k], t[size + 1 - k] = t[size + 1 - k], t[k] end
	end
	return char(unpack(t))
end

local function unpackfloat(data, pos, size, little)
	local t = { byte(data, pos, pos + size - 1) }
	if little ~= native_little then
		for k = 1, floor(size / 2) do t[k], t[size + 1 - k] = t[size + 1 - k], t[k] end
	end
	for k = 1, size do fbuf.b[k - 1] = t[k] end
	if size == 4 then return tonumber(fbuf.f) end
	return tonumber(fbuf.d)
end

local function new_header()
	return { little = native_little, maxalign = 1 }
end

local function str_pack(fmt, ...)
	fmt = checkstr("pack", 1, fmt)
	local h = new_header()
	local out, arg, total, i = {}, 1, 0, 1
	local nargs = select("#", ...)
	while i <= #fmt do
		local kind, size, ntoalign, j = details(h, fmt, i, total)
		i = j
		total = total + ntoalign + size
		if ntoalign > 0 then out[#out + 1] = rep("\0", ntoalign) end
		arg = arg + 1
		local v
		if arg - 1 <= nargs then v = select(arg - 1, ...) end
		if kind == "int" then
			local n = checkint("pack", arg, v, "nil")
			if size < 8 then
				local lim = 2 ^ (size * 8 - 1)
				if not (-lim <= n and n < lim) then argerror("pack", arg, "integer overflow") end
			end
			out[#out + 1] = intbytes(n, size, h.little)
		elseif kind == "uint" then
			local n = checkint("pack", arg, v, "nil")
			if size < 8 and not (n >= 0 and n < 2 ^ (size * 8)) then
				argerror("pack", arg, "unsigned overflow")
			end
			out[#out + 1] = intbytes(n, size, h.little)
		elseif kind == "float" then
			out[#out + 1] = floatbytes(checknum("pack", arg, v, "nil"), size, h.little)
		elseif kind == "char" then
			local s = checkstr("pack", arg, v, "nil")
			if #s > size then argerror("pack", arg, "string longer than given size") end
			out[#out + 1] = s .. rep("\0", size - #s)
		elseif kind == "string" then
			local s = checkstr("pack", arg, v, "nil")
			if size < 8 and #s >= 2 ^ (size * 8) then
				argerror("pack", arg, "string length does not fit in given size")
			end
			out[#out + 1] = intbytes(#s, size, h.little)
			out[#out + 1] = s
			total = total + #s
		elseif kind == "zstr" then
			local s = checkstr("pack", arg, v, "nil")
			if find(s, "\0", 1, true) then argerror("pack", arg, "string contains zeros") end
			out[#out + 1] = s .. "\0"
			total = total + #s + 1
		else
			if kind == "padding" then out[#out + 1] = "\0" end
			arg = arg - 1
		end
	end
	return concat(out)
end

local function str_packsize(fmt)
	fmt = checkstr("packsize", 1, fmt)
	local h = new_header()
	local total, i = 0, 1
	while i <= #fmt do
		local kind, size, ntoalign, j = details(h, fmt, i, total)
		i = j
		total = total + size + ntoalign
		if kind == "string" or kind == "zstr" then argerror("packsize", 1, "variable-length format") end
	end
	return total
end

local function str_unpack(fmt, data, init)
	fmt = checkstr("unpack", 1, fmt)
	data = checkstr("unpack", 2, data)
	local ld = #data
	local pos = posrelat(optint("unpack", 3, init, 1), ld) - 1
	if pos > ld or pos < 0 then argerror("unpack", 3, "initial position out of string") end
	local h = new_header()
	local out, i = {}, 1
	while i <= #fmt do
		local kind, size, ntoalign, j = details(h, fmt, i, pos)
		i = j
		if pos + ntoalign + size > ld then argerror("unpack", 2, "data string too short") end
		pos = pos + ntoalign
		if kind == "int" or kind == "uint" then
			out[#out + 1] = unpackint(data, pos + 1, size, h.little, kind == "int")
		elseif kind == "float" then
			out[#out + 1] = unpackfloat(data, pos + 1, size, h.little)
		elseif kind == "char" then
			out[#out + 1] = sub(data, pos + 1, pos + size)
		elseif kind == "string" then
			local len = unpackint(data, pos + 1, size, h.little, false)
			if pos + len + size > ld then argerror("unpack", 2, "data string too short") end
			out[#out + 1] = sub(data, pos + size + 1, pos + size + len)
			pos = pos + len
		elseif kind == "zstr" then
			local e = find(data, "\0", pos + 1, true) or ld + 1
			out[#out + 1] = sub(data, pos + 1, e - 1)
			pos = e
		end
		pos = pos + size
	end
	out[#out + 1] = pos + 1
	return unpack(out, 1, #out)
end

-- string.gmatch and string.gsub with 5.3's rule for empty matches -------

-- Lua 5.3 takes no empty match right where the previous match ended:
-- ("a,b"):gmatch("[^,]*") yields "a", "b" (LuaJIT: "a", "", "b", "").
-- Only a pattern that can match the empty string is concerned; the others
-- go straight to LuaJIT's functions, after one look-up in can_be_empty.

-- empty_ok reports whether pattern p can match the empty string: each of
-- its items is optional (*, - or ?) or matches no character (a capture's
-- parentheses, %f, anchors, a back-reference, which may be empty).
local function empty_ok(p)
	local i, n = 1, #p
	if sub(p, 1, 1) == "^" then i = 2 end
	while i <= n do
		local c = sub(p, i, i)
		local single_end -- the end of a one-character item, if it is one
		if c == "(" or c == ")" then
			i = i + 1
		elseif c == "$" and i == n then
			i = i + 1
		elseif c == "%" then
			local d = sub(p, i + 1, i + 1)
			if d == "b" then
				return false -- %bxy matches at least two characters
			elseif d == "f" then
				-- %f[set]: zero width; skip the set
				local k = i + 2
				if sub(p, k, k) ~= "[" then return true end -- malformed: let LuaJIT's error show
				k = k + 1
				if sub(p, k, k) == "^" then k = k + 1 end
				repeat
					if sub(p, k, k) == "%" then k = k + 1 end
					k = k + 1
				until sub(p, k, k) == "]" or k > n
				i = k + 1
			elseif d:match("%d") then
				i = i + 2 -- a back-reference: the capture may be empty
			else
				single_end = i + 1
			end
		elseif c == "[" then
			local k = i + 1
			if sub(p, k, k) == "^" then k = k + 1 end
			repeat
				if sub(p, k, k) == "%" then k = k + 1 end
				k = k + 1
			until sub(p, k, k) == "]" or k > n
			single_end = k
		else
			single_end = i
		end
		if single_end then
			local q = sub(p, single_end + 1, single_end + 1)
			if q == "*" or q == "-" or q == "?" then
				i = single_end + 2
			else
				return false
			end
		end
	end
	return true
end

local empty_cache, empty_n = {}, 0
local EMPTY_CACHE_MAX = 256

local function can_be_empty(p)
	local v = empty_cache[p]
	if v == nil then
		v = empty_ok(p)
		if empty_n >= EMPTY_CACHE_MAX then empty_cache, empty_n = {}, 0 end
		empty_cache[p] = v
		empty_n = empty_n + 1
	end
	return v
end

local std_gmatch, std_gsub = string.gmatch, string.gsub

-- captures returns the captures of a find result (start, end, ...), or
-- the whole match when the pattern has none.
local function match_values(s, b, e, ...)
	if select("#", ...) == 0 then return sub(s, b, e) end
	return ...
end

local function gmatch(s, p)
	if type(s) ~= "string" or type(p) ~= "string" or not can_be_empty(p) then
		return std_gmatch(s, p)
	end
	-- gmatch takes no anchor: a leading '^' is a literal character in it,
	-- which find would take as one.
	if sub(p, 1, 1) == "^" then p = "%" .. p end
	local src, last, limit = 1, nil, #s + 1
	return function()
		while src <= limit do
			local r = { find(s, p, src) }
			local e = r[2]
			if e == nil then
				src = limit + 1
				return nil
			end
			if e + 1 ~= last then
				src, last = e + 1, e + 1
				return match_values(s, unpack(r))
			end
			src = src + 1 -- an empty match where the last one ended
		end
		return nil
	end
end

-- repl_string expands %0-%9 and %% of a gsub replacement string.
local function repl_string(repl, whole, caps, ncaps)
	return (std_gsub(repl, "%%(.?)", function(d)
		if d == "%" then return "%" end
		local k = tonumber(d)
		if k == nil or d == "" then error("invalid use of '%' in replacement string", 5) end
		if k == 0 then return whole end
		if ncaps == 0 and k == 1 then return whole end
		if k > ncaps then error("invalid capture index %" .. k, 5) end
		local c = caps[k]
		if type(c) == "number" then return tostr(c) end
		return c
	end))
end

local function gsub(s, p, repl, max_n)
	if type(s) ~= "string" or type(p) ~= "string" or not can_be_empty(p) then
		return std_gsub(s, p, repl, max_n)
	end
	local rt = type(repl)
	if rt == "number" then repl, rt = tostr(repl), "string" end
	if rt ~= "string" and rt ~= "table" and rt ~= "function" then
		return std_gsub(s, p, repl, max_n) -- its own error
	end
	if max_n ~= nil then max_n = checkint("gsub", 4, max_n) end
	local anchor = sub(p, 1, 1) == "^"
	local len = #s
	local out, src, last, count = {}, 1, nil, 0
	while max_n == nil or count < max_n do
		local r = { find(s, p, src) }
		local b, e = r[1], r[2]
		if b == nil then break end
		if b > src then -- no match before b: those characters stay
			out[#out + 1] = sub(s, src, b - 1)
			src = b
		end
		if e + 1 ~= last then
			count = count + 1
			local whole = sub(s, b, e)
			local caps = { unpack(r, 3) }
			local v
			if rt == "string" then
				v = repl_string(repl, whole, caps, #caps)
			else
				if #caps == 0 then caps[1] = whole end
				if rt == "table" then v = repl[caps[1]] else v = repl(unpack(caps)) end
				if v == nil or v == false then
					v = whole
				elseif type(v) == "number" then
					v = tostr(v)
				elseif type(v) ~= "string" then
					error("invalid replacement value (a " .. type(v) .. ")", 2)
				end
			end
			out[#out + 1] = v
			src, last = e + 1, e + 1
		elseif src <= len then -- an empty match where the last one ended
			out[#out + 1] = sub(s, src, src)
			src = src + 1
		else
			break
		end
		if anchor then break end
	end
	out[#out + 1] = sub(s, src)
	return concat(out), count
end

-- I.compat53 puts the 5.3 library into the scripts' globals G.
function I.compat53(G)
	G.tostring = tostr
	G.table.pack, G.table.unpack = pack, unpack
	local m = G.math
	m.type, m.tointeger, m.ult = math_type, math_tointeger, math_ult
	m.maxinteger, m.mininteger = TWO63 - 1024, -TWO63
	G.utf8 = {
		char = utf8_char,
		-- 5.3's is "[\0-\x7F\xC2-\xF4][\x80-\xBF]*"; a LuaJIT pattern ends
		-- at a zero byte, and writes it %z.
		charpattern = "[%z\1-\x7F\xC2-\xF4][\x80-\xBF]*",
		codepoint = utf8_codepoint,
		len = utf8_len,
		offset = utf8_offset,
		codes = utf8_codes,
	}
	G.package.loaded.utf8 = G.utf8
	local str = G.string
	str.pack, str.unpack, str.packsize = str_pack, str_unpack, str_packsize
	str.gmatch, str.gsub = gmatch, gsub
end
