-- Converters: HAProxy's Converters class (TXN.c, TXN.sc) and
-- core.register_converters.
-- Reference: HAProxy Lua API, class Converters; the converters themselves
-- are described in HAProxy's configuration manual, section 7.3.1.
--
-- A converter is called as conv:NAME(value, args...). As in HAProxy the
-- value is first cast to the converter's input type: a number becomes an
-- integer (truncated), a boolean 1 or 0, and nil or any other value the
-- boolean false, so the string "0" for a string converter. A converter that
-- fails returns nil from TXN.c and "" from TXN.sc; integer results are Lua
-- numbers from TXN.c and strings from TXN.sc.
--
-- Trivial string converters run in Lua; the others (hashes, base64, json,
-- regsub, ipmask, maps) call Go through the gate (lj/convert.go, maps.go).
-- luaedge adds unhex, which HAProxy does not have, and accepts map
-- converters, which HAProxy 2.6's Lua cannot call.
local I = ...
setfenv(1, I.env)

local type, tostring, tonumber, error, setmetatable, getmetatable = type, tostring, tonumber, error, setmetatable, getmetatable
local find, sub, byte, char, format, gsub, match = string.find, string.sub, string.byte, string.char, string.format, string.gsub, string.match
local lower, upper = string.lower, string.upper
local floor, ceil, huge = math.floor, math.ceil, math.huge
local gocall, GO = I.gocall, I.go

-- Integers ----------------------------------------------------------------

-- HAProxy's integer samples are signed 64-bit. Here an integer is a Lua
-- number while it is within 2^53 of 0, where doubles are exact, and an
-- int64_t cdata beyond (I.int_out): hashes such as xxh64 and arithmetic on
-- large operands stay exact, and the common case stays a plain number.
local ffi = require("ffi")
local bit = require("bit")
local i64, u64 = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local istype = ffi.istype
local EXACT = 2 ^ 53
local INT_MAX, INT_MIN = 9223372036854775807LL, -9223372036854775807LL - 1

local function trunc(n)
	if n >= 0 then return floor(n) end
	return ceil(n)
end

-- int_out gives the integer x (an int64_t) as a number when exact.
local function int_out(x)
	if x >= -EXACT and x <= EXACT then return tonumber(x) end
	return x
end
I.int_out = int_out

-- is_int64 reports whether v is a 64-bit integer cdata (a uint64_t is
-- taken modulo 2^64, as a C cast).
local function is_int64(v)
	return type(v) == "cdata" and (istype(i64, v) or istype(u64, v))
end
I.is_int64 = is_int64

-- to_i64 makes an integer (a whole number or a 64-bit cdata) an int64_t;
-- a number beyond the range is clamped to it.
local function to_i64(n)
	if type(n) == "number" then
		if n >= 2 ^ 63 then return INT_MAX end
		if n < -2 ^ 63 then return INT_MIN end
	end
	return i64(n)
end
I.to_i64 = to_i64

-- parse_int reads a string as HAProxy's read_int64 does: an optional
-- sign, then the leading digits (none: 0), clamped to 64 bits.
local function parse_int(s)
	local sign, digits = match(s, "^([+-]?)0*(%d*)")
	local n
	if #digits <= 15 then
		n = tonumber(digits) or 0
		if sign == "-" then n = 0 - n end
		return n
	end
	if #digits > 19 or #digits == 19 and digits > "9223372036854775807" then
		if sign == "-" then return INT_MIN end
		return INT_MAX
	end
	n = 0LL
	for i = 1, #digits do n = n * 10 + (byte(digits, i) - 48) end
	if sign == "-" then n = -n end
	return int_out(n)
end
I.parse_int = parse_int

-- Casts ------------------------------------------------------------------

-- int_str writes a number as HAProxy writes an integer sample.
local function int_str(n)
	if type(n) == "cdata" then return format("%d", to_i64(n)) end
	if n ~= n or n == huge or n == -huge then return "0" end
	n = trunc(n)
	if n == 0 then return "0" end
	return format("%.0f", n)
end
I.int_str = int_str

local function as_str(v)
	local t = type(v)
	if t == "string" then return v end
	if t == "number" or is_int64(v) then return int_str(v) end
	if v == true then return "1" end
	return "0"
end

-- as_int: a string is read as HAProxy reads it (optional sign, then the
-- leading digits; none gives 0); an empty string cannot be cast.
local function as_int(v)
	local t = type(v)
	if t == "number" then
		if v ~= v then return 0 end
		return trunc(v)
	end
	if t == "string" then
		if v == "" then return nil, "cannot cast the empty string to an integer" end
		return parse_int(v)
	end
	if is_int64(v) then return int_out(i64(v)) end
	if v == true then return 1 end
	return 0
end

-- ipmask and map_ip: an address string, or an integer taken as an IPv4
-- address (in host order: 0x0a000001 is 10.0.0.1).
local function as_addr(v)
	local t = type(v)
	if t == "string" then return v end
	local n = 0
	if t == "number" then
		n = trunc(v) % 4294967296
		if n ~= n then n = 0 end
	elseif is_int64(v) then
		n = tonumber(bit.band(i64(v), 0xffffffffLL))
	elseif v == true then
		n = 1
	end
	return format("%d.%d.%d.%d", floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

-- as_bin: an integer (a boolean: 1 or 0) is its 64 bits, big-endian, as
-- HAProxy casts one to binary (int(1),hex is 0000000000000001).
-- bin8 is this state's scratch: filled and read in one call.
local bin8 = ffi.new("uint8_t[8]")
local function as_bin(v)
	local t = type(v)
	if t == "string" then return v end
	if t == "number" then
		if v ~= v then v = 0 end
		v = trunc(v)
	elseif not is_int64(v) then
		v = v == true and 1 or 0
	end
	local x = u64(to_i64(v))
	for i = 7, 0, -1 do
		bin8[i] = x % 256
		x = x / 256
	end
	return ffi.string(bin8, 8)
end

local casts = { str = as_str, bin = as_bin, int = as_int, addr = as_addr }

-- Arguments --------------------------------------------------------------

local arg_names = { int = "integer", str = "string", mask = "integer or string" }

local function bad_arg(def, i, msg)
	return format("bad argument #%d to converter '%s' (%s: %s)", i + 1, def.name, def.args[i][1], msg)
end

-- check_arg converts argument i of def, or returns nil and an error.
local function check_arg(def, i, v)
	local spec = def.args[i]
	local want = spec[2]
	if v == nil then
		if spec[3] then return nil, bad_arg(def, i, "missing, " .. arg_names[want] .. " expected") end
		return nil
	end
	local t = type(v)
	if want == "int" then
		if is_int64(v) then return int_out(i64(v)) end
		local n = tonumber(v)
		if n == nil or t == "string" and not v:find("^%s*[+-]?%d+%s*$") then
			return nil, bad_arg(def, i, "integer expected, got " .. (t == "string" and "'" .. v .. "'" or t))
		end
		if t == "string" then return parse_int(match(v, "^%s*(.-)%s*$")) end
		return trunc(n)
	elseif want == "str" then
		if t == "string" then return v end
		if t == "number" then return int_str(v) end
		return nil, bad_arg(def, i, "string expected, got " .. t)
	else -- mask: a bit count or a string, checked in Go
		if t == "string" or t == "number" then return v end
		return nil, bad_arg(def, i, "integer or string expected, got " .. t)
	end
end

-- check_args returns the converted arguments, or nil, nil, nil, nil, err.
local function check_args(def, a1, a2, a3, a4)
	local n = #def.args
	local extra
	if n == 0 then extra = a1 elseif n == 1 then extra = a2 elseif n == 2 then extra = a3 else extra = a4 end
	if extra ~= nil then
		return nil, nil, nil, format("bad argument #%d to converter '%s' (%s takes at most %d argument%s after the value)",
			n + 2, def.name, def.name, n, n == 1 and "" or "s")
	end
	local err
	if n >= 1 then a1, err = check_arg(def, 1, a1) if err then return nil, nil, nil, err end end
	if n >= 2 then a2, err = check_arg(def, 2, a2) if err then return nil, nil, nil, err end end
	if n >= 3 then a3, err = check_arg(def, 3, a3) if err then return nil, nil, nil, err end end
	if def.check then
		local i
		i, err = def.check(a1, a2, a3)
		if i then return nil, nil, nil, bad_arg(def, i, err) end
	end
	return a1, a2, a3
end

-- Pure Lua converters ------------------------------------------------------

local HEX, UNHEX, URLENC = {}, {}, {}
do
	local digits = "0123456789abcdefABCDEF"
	for i = 0, 255 do
		HEX[char(i)] = format("%02X", i)
		URLENC[char(i)] = format("%%%02X", i)
	end
	for i = 1, #digits do
		for j = 1, #digits do
			local h = sub(digits, i, i) .. sub(digits, j, j)
			UNHEX[h] = char(tonumber(h, 16))
		end
	end
end

-- class returns the Lua pattern class body matching any byte of chars
-- (cached: converter arguments are nearly always constants).
local classes, nclasses = {}, 0
local function class(chars)
	local c = classes[chars]
	if c then return c end
	c = gsub(chars, "[^%w]", function(ch)
		if ch == "\0" then return "%z" end
		return "%" .. ch
	end)
	if nclasses >= 256 then classes, nclasses = {}, 0 end
	classes[chars], nclasses = c, nclasses + 1
	return c
end

local function url_dec(s, in_form)
	local z = find(s, "\0", 1, true)
	if z then s = sub(s, 1, z - 1) end -- HAProxy decodes a C string
	if not find(s, "[%%+]") then return s end
	-- every '%' must start %XX
	if find(s, "%%[^%x]") or find(s, "%%%x[^%x]") or find(s, "%%%x?$") then return nil end
	-- '+' is a space after the first '?' (or everywhere with in_form)
	local head, tail = s, ""
	if in_form == nil or in_form == 0 then
		local q = find(s, "?", 1, true)
		if q then head, tail = sub(s, 1, q - 1), sub(s, q) end
	else
		head, tail = "", s
	end
	tail = gsub(tail, "+", " ")
	return (gsub(head .. tail, "%%(%x%x)", UNHEX))
end

local function field(s, idx, delims, count)
	count = count or 1
	-- one delimiter (the usual case): a plain find, which LuaJIT compiles
	local cls, plain = delims, true
	if #delims ~= 1 then cls, plain = "[" .. class(delims) .. "]", false end
	if idx > 0 then
		local start = 1
		for _ = 2, idx do
			local p = find(s, cls, start, plain)
			if not p then return nil end
			start = p + 1
		end
		if count <= 0 then return sub(s, start) end
		local pos = start
		for _ = 1, count do
			local p = find(s, cls, pos, plain)
			if not p then return sub(s, start) end
			pos = p + 1
		end
		return sub(s, start, pos - 2)
	end
	-- from the end: d[k] is the position of the k-th delimiter
	local d, m, p = {}, 0, find(s, cls, 1, plain)
	while p do
		m = m + 1
		d[m] = p
		p = find(s, cls, p + 1, plain)
	end
	d[0], d[m + 1] = 0, #s + 1
	local k = m + 2 + idx -- the field, counted from the start
	if k < 1 then return nil end
	local first = 1
	if count > 0 and k - count + 1 > 1 then first = k - count + 1 end
	return sub(s, d[first - 1] + 1, d[k] - 1)
end

local function word(s, idx, delims, count)
	count = count or 1
	local wp = "[^" .. class(delims) .. "]+"
	if idx > 0 then
		local ws, we = find(s, wp)
		for _ = 2, idx do
			if not ws then break end
			ws, we = find(s, wp, we + 1)
		end
		if not ws then return "" end
		if count <= 0 then return sub(s, ws) end
		local e = we
		for _ = 2, count do
			local _, e2 = find(s, wp, e + 1)
			if not e2 then return sub(s, ws) end
			e = e2
		end
		return sub(s, ws, e)
	end
	local starts, ends, n = {}, {}, 0
	local ws, we = find(s, wp)
	while ws do
		n = n + 1
		starts[n], ends[n] = ws, we
		ws, we = find(s, wp, we + 1)
	end
	local k = n + 1 + idx
	if k < 1 then return "" end
	if count <= 0 or k - count + 1 < 1 then return sub(s, 1, ends[k]) end
	return sub(s, starts[k - count + 1], ends[k])
end

local function ltrim(s, chars)
	if chars == "" then return s end
	local p = find(s, "[^" .. class(chars) .. "]")
	if not p then return "" end
	return sub(s, p)
end

local function rtrim(s, chars)
	if chars == "" then return s end
	local set = {}
	for i = 1, #chars do set[byte(chars, i)] = true end
	local e = #s
	while e > 0 and set[byte(s, e)] do e = e - 1 end
	return sub(s, 1, e)
end

-- Definitions ----------------------------------------------------------------

-- name = { input type, output type, { {arg name, type, required}, ... },
--          fn(value, a1, a2, a3, converters object) -> result | nil (fails) | nil, error,
--          check(a1, a2, a3) -> index and error of a bad argument value }
local defs = {}
local function def(name, input, output, args, fn, check)
	defs[name] = { name = name, input = input, output = output, args = args, fn = fn, check = check }
end

-- Arithmetic and logic on signed 64-bit integers, as HAProxy's: add,
-- sub, mul and neg saturate at the limits instead of wrapping; div by 0
-- gives the largest integer, mod by 0 gives 0. Two numbers whose result
-- is exact as a double take the fast way; the rest is int64_t cdata,
-- whose arithmetic wraps and whose / and % truncate as C's.
local function add64(a, b)
	local r = a + b -- wraps
	if a < 0 and b < 0 and r >= 0 then return INT_MIN end
	if a >= 0 and b >= 0 and r < 0 then return INT_MAX end
	return r
end
local function mul64(a, b)
	if a == 0 or b == 0 then return 0LL end
	if a == INT_MIN and b == -1 or b == INT_MIN and a == -1 then return INT_MAX end
	local r = a * b -- wraps
	if r / b ~= a then
		if (a < 0) == (b < 0) then return INT_MAX end
		return INT_MIN
	end
	return r
end
-- exact is an operation on two integers: fast(a, b) on doubles when both
-- are numbers and its result is exact, else slow(a, b) on int64_t.
local function exact(fast, slow)
	return function(a, b)
		if type(a) == "number" and type(b) == "number" then
			local r = fast(a, b)
			if r > -EXACT and r < EXACT then return r end
		end
		return int_out(slow(i64(a), i64(b)))
	end
end
def("add", "int", "int", { { "value", "int", true } }, exact(function(a, b) return a + b end, add64))
def("sub", "int", "int", { { "value", "int", true } }, exact(function(a, b) return a - b end, function(a, b)
	if b == INT_MIN then -- -b does not exist: a + INT_MAX + 1
		local r = add64(a, INT_MAX)
		if r < INT_MAX then r = r + 1 end
		return r
	end
	return add64(a, -b)
end))
def("mul", "int", "int", { { "value", "int", true } }, exact(function(a, b) return a * b end, mul64))
def("div", "int", "int", { { "value", "int", true } }, exact(function(a, b)
	if b == 0 then return EXACT end -- takes the slow way
	return trunc(a / b)
end, function(a, b)
	if b == 0 or a == INT_MIN and b == -1 then return INT_MAX end
	return a / b
end))
def("mod", "int", "int", { { "value", "int", true } }, exact(function(a, b)
	if b == 0 then return 0 end
	return a - trunc(a / b) * b
end, function(a, b)
	if b == 0 or b == -1 then return 0LL end
	return a % b
end))
def("neg", "int", "int", {}, function(n)
	if type(n) == "number" then return -n end
	if n == INT_MIN then return INT_MAX end
	return int_out(-n)
end)
local function bitwise(op)
	return function(n, v) return int_out(op(i64(n), i64(v))) end
end
def("and", "int", "int", { { "value", "int", true } }, bitwise(bit.band))
def("or", "int", "int", { { "value", "int", true } }, bitwise(bit.bor))
def("xor", "int", "int", { { "value", "int", true } }, bitwise(bit.bxor))
def("cpl", "int", "int", {}, function(n) return int_out(bit.bnot(i64(n))) end)
def("bool", "int", "bool", {}, function(n) return n ~= 0 end)
def("not", "int", "bool", {}, function(n) return n == 0 end)
def("even", "int", "bool", {}, function(n) return n % 2 == 0 end)
def("odd", "int", "bool", {}, function(n) return n % 2 ~= 0 end)

local function index_check(idx, delims)
	if idx == 0 then return 1, "unexpected value 0, indexes start at 1 or -1" end
	if delims == "" then return 2, "empty separators list" end
end

def("lower", "str", "str", {}, lower)
def("upper", "str", "str", {}, upper)
def("length", "str", "int", {}, function(s) return #s end)
def("hex", "bin", "str", {}, function(s) return (gsub(s, ".", HEX)) end)
def("unhex", "str", "bin", {}, function(s)
	if #s % 2 == 1 or find(s, "[^%x]") then return nil end
	return (gsub(s, "..", UNHEX))
end)
-- hex2i: past 13 digits on 64 bits, the high ones shifted out as in
-- HAProxy.
def("hex2i", "str", "int", {}, function(s)
	if find(s, "[^%x]") then return nil end
	if #s <= 13 then return tonumber(s, 16) or 0 end
	local n = 0LL
	for i = 1, #s do n = bit.lshift(n, 4) + tonumber(sub(s, i, i), 16) end
	return int_out(n)
end)
def("cut_crlf", "str", "str", {}, function(s)
	local p = find(s, "[\r\n]")
	if p then return sub(s, 1, p - 1) end
	return s
end)
def("bytes", "bin", "bin", { { "offset", "int", true }, { "length", "int" } }, function(s, off, len)
	-- negative values act as HAProxy's unsigned comparisons make them act
	if off < 0 or off >= #s then return "" end
	if len ~= nil and len >= 0 and len < #s - off then return sub(s, off + 1, off + len) end
	return sub(s, off + 1)
end)
def("field", "str", "str", { { "index", "int", true }, { "delimiters", "str", true }, { "count", "int" } }, field, index_check)
def("word", "str", "str", { { "index", "int", true }, { "delimiters", "str", true }, { "count", "int" } }, word, index_check)
def("ltrim", "str", "str", { { "chars", "str", true } }, ltrim)
def("rtrim", "str", "str", { { "chars", "str", true } }, rtrim)
def("url_dec", "str", "str", { { "in_form", "int" } }, url_dec)
def("url_enc", "str", "str", { { "enc_type", "str" } }, function(s)
	return (gsub(s, "[^%w%-%._~]", URLENC))
end, function(t)
	if t ~= nil and t ~= "" and t ~= "query" then return 1, "unexpected encode type '" .. t .. "', allowed value is 'query'" end
end)

-- base64 and the hashes run in C through FFI (cgo/convert.c): no gate call.
-- The result of le_b64 is in the state's scratch buffer until the next call.
local scratch = I.loop.scratch
local C, c_b64, c_hash, ffi_string = ffi.C, I.b64, I.hash, ffi.string
local function b64(mode)
	return function(s)
		if c_b64(scratch, s, #s, mode) ~= 0 then return nil end
		return ffi_string(scratch.p, scratch.len)
	end
end
def("base64", "bin", "str", {}, b64(C.LE_B64_ENC))
def("b64dec", "str", "bin", {}, b64(C.LE_B64_DEC))
def("ub64enc", "bin", "str", {}, b64(C.LE_B64_UENC))
def("ub64dec", "str", "bin", {}, b64(C.LE_B64_UDEC))
def("sha1", "bin", "bin", {}, function(s) return gocall(GO.conv_digest, "sha1", s) end)
def("sha2", "bin", "bin", { { "bits", "int" } }, function(s, bits)
	return gocall(GO.conv_digest, "sha" .. (bits or 256), s)
end, function(bits)
	if bits ~= nil and bits ~= 224 and bits ~= 256 and bits ~= 384 and bits ~= 512 then
		return 1, "unsupported number of bits " .. bits .. " (224, 256, 384 or 512)"
	end
end)
-- digest and hmac take OpenSSL's names of the digests luaedge has.
local DIGESTS = { md5 = true, sha1 = true, sha224 = true, sha256 = true, sha384 = true, sha512 = true }
local function digest_check(alg)
	if not DIGESTS[lower(alg)] then return 1, "unsupported digest '" .. alg .. "' (md5, sha1, sha224, sha256, sha384 or sha512)" end
end
def("digest", "bin", "bin", { { "algorithm", "str", true } }, function(s, alg)
	return gocall(GO.conv_digest, lower(alg), s)
end, digest_check)
-- hmac's key is base64, as in HAProxy; one that does not decode fails.
def("hmac", "bin", "bin", { { "algorithm", "str", true }, { "key", "str", true } }, function(s, alg, key)
	if c_b64(scratch, key, #key, C.LE_B64_DEC) ~= 0 then return nil end
	return gocall(GO.conv_hmac, lower(alg), ffi_string(scratch.p, scratch.len), s)
end, digest_check)
-- be2dec and be2hex write the bytes chunk by chunk (a big-endian number,
-- or hex digits), separated; with truncate a last short chunk is left out.
def("be2dec", "bin", "str", { { "separator", "str", true }, { "chunk_size", "int", true }, { "truncate", "int" } }, function(s, sep, size, trunc)
	local out, last = {}, #s
	if trunc ~= nil and trunc ~= 0 then last = #s - size + 1 end
	local ptr = 0
	while ptr < last do
		local n = i64(0)
		for _ = 1, size do
			if ptr >= #s then break end
			ptr = ptr + 1
			n = n * 256 + byte(s, ptr)
		end
		out[#out + 1] = sub(tostring(ffi.cast("uint64_t", n)), 1, -4) -- without "ULL"
	end
	return table.concat(out, sep)
end, function(_, size)
	if size < 1 or size > 8 then return 2, "chunk size must be between 1 and 8" end
end)
def("be2hex", "bin", "str", { { "separator", "str" }, { "chunk_size", "int" }, { "truncate", "int" } }, function(s, sep, size, trunc)
	sep, size = sep or "", size or 1
	trunc = trunc ~= nil and trunc ~= 0
	if sep == "" and not trunc then return (gsub(s, ".", HEX)) end
	local last = #s
	if trunc then last = #s - size + 1 end
	local out, ptr = {}, 0
	while ptr < last do
		out[#out + 1] = gsub(sub(s, ptr + 1, ptr + size), ".", HEX)
		ptr = ptr + size
	end
	return table.concat(out, sep)
end, function(_, size)
	if size ~= nil and size < 1 then return 2, "chunk size must be positive" end
end)
-- iif: true_value when the input (a boolean, 1 or 0) is not 0.
def("iif", "int", "str", { { "true", "str", true }, { "false", "str", true } }, function(n, t, f)
	if n ~= 0 then return t end
	return f
end)
local hashes = { crc32 = C.LE_HASH_CRC32, crc32c = C.LE_HASH_CRC32C, djb2 = C.LE_HASH_DJB2, sdbm = C.LE_HASH_SDBM, wt6 = C.LE_HASH_WT6 }
for alg, h in pairs(hashes) do
	def(alg, "bin", "int", { { "avalanche", "int" } }, function(s, aval)
		return tonumber(c_hash(h, s, #s, (aval ~= nil and aval ~= 0) and 1 or 0))
	end)
end
-- xxh32([seed]): the seed is taken modulo 2^32, as HAProxy's unsigned
-- int takes it. xxh64 and xxh3 give signed 64-bit integers, as HAProxy's
-- (the hash's bits), their seed taken modulo 2^64.
local c_xxh32, c_xxh64, c_xxh3 = I.xxh32, I.xxh64, I.xxh3
def("xxh32", "bin", "int", { { "seed", "int" } }, function(s, seed)
	return tonumber(c_xxh32(s, #s, (seed or 0) % 4294967296))
end)
def("xxh64", "bin", "int", { { "seed", "int" } }, function(s, seed)
	return int_out(c_xxh64(s, #s, to_i64(seed or 0)))
end)
def("xxh3", "bin", "int", { { "seed", "int" } }, function(s, seed)
	return int_out(c_xxh3(s, #s, to_i64(seed or 0)))
end)
def("json", "str", "str", { { "input_code", "str" } }, function(s, mode)
	if mode == nil or mode == "" then mode = "ascii" end
	return gocall(GO.conv_json, s, mode)
end, function(mode)
	if mode ~= nil and mode ~= "" and mode ~= "ascii" and mode ~= "utf8" and mode ~= "utf8s" and mode ~= "utf8p" and mode ~= "utf8ps" then
		return 1, "unexpected input code type '" .. mode .. "', allowed values are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'"
	end
end)
-- json_query: the string, number or boolean at a JSON path ($.a.b[0]);
-- a number as C's %g, or an integer with output_type "int"; a boolean as
-- 1 or 0. Anything else fails.
def("json_query", "str", "str", { { "json_path", "str", true }, { "output_type", "str" } }, function(s, path, typ)
	local r = gocall(GO.conv_json_query, s, path, typ == "int" and 1 or 0)
	if type(r) == "boolean" then return r and 1 or 0 end
	return r
end, function(_, typ)
	if typ ~= nil and typ ~= "" and typ ~= "int" then return 2, "unexpected output type '" .. typ .. "', allowed value is 'int'" end
end)
def("regsub", "str", "str", { { "regex", "str", true }, { "subst", "str", true }, { "flags", "str" } }, function(s, re, subst, flags)
	local r, err = gocall(GO.conv_regsub, s, re, subst, flags or "")
	if err then return nil, "converter 'regsub': " .. err end
	return r
end)
def("ipmask", "addr", "str", { { "mask4", "mask", true }, { "mask6", "mask" } }, function(a, m4, m6)
	return gocall(GO.conv_ipmask, a, m4, m6)
end)

-- Map converters: map_<match>[_int](file[, default]). The file is read on
-- first use and shared by every core (lj/maps.go); this state keeps the ids,
-- by whether the values are read as integers (ints: the _int converters,
-- whose index HAProxy keeps apart), match method and file.
local map_ids = { [false] = {}, [true] = {} }
local function map_id(method, file, ints)
	ints = ints == true
	local t = map_ids[ints][method]
	if t == nil then
		t = {}
		map_ids[ints][method] = t
	end
	local id = t[file]
	if id == nil then
		local err
		id, err = gocall(GO.map_open, file, method, false, ints)
		if id == nil then return nil, err end
		t[file] = id
	end
	return id
end
I.map_id = map_id

local MATCH = { int = 2, ip = 3, str = 6, beg = 7, sub = 8, dir = 9, dom = 10, ["end"] = 11, reg = 12, regm = 13 }
for m, method in pairs(MATCH) do
	local input = (m == "int" and "int") or (m == "ip" and "addr") or "str"
	local function lookup(v, file, ints)
		local id, err = map_id(method, file, ints)
		if id == nil then return nil, "converter 'map_" .. m .. (ints and "_int" or "") .. "': " .. err end
		if type(v) ~= "string" then v = int_str(v) end -- map_int's key, all its digits
		return I.map_get(id, v)
	end
	local str_fn = function(v, file, default)
		local r, err = lookup(v, file)
		if err then return nil, err end
		if r == nil then return default end
		return r
	end
	local int_fn = function(v, file, default)
		local r, err = lookup(v, file, true)
		if err then return nil, err end
		if r == nil then return default end
		return parse_int(r) -- an integer on load (lj/maps.go); exact past 2^53
	end
	def("map_" .. m, input, "str", { { "map_file", "str", true }, { "default_value", "str" } }, str_fn)
	def("map_" .. m .. "_int", input, "int", { { "map_file", "str", true }, { "default_value", "int" } }, int_fn)
end
defs.map = { name = "map", input = "str", output = "str", args = defs.map_str.args, fn = defs.map_str.fn }

-- Stick table converters: table_<counter>(table) reads the counter of the
-- value's entry without tracking or refreshing it (edge/stick.go, "peek"):
-- 0 for a key not in the table, no value for a counter the table does not
-- store or a value its type cannot hold, as HAProxy's. peek returns
-- false for a key not in the table.
local function peek(tbl, key, counter, array, idx)
	return gocall(GO.stk, tbl, "peek", key, counter, array, idx)
end
local TABLE_ARG = { "table", "str", true }
for name, counter in pairs({
	bytes_in_rate = "bytes_in_rate", bytes_out_rate = "bytes_out_rate", conn_cnt = "conn_cnt",
	conn_cur = "conn_cur", conn_rate = "conn_rate", gpt0 = "gpt0", gpc0 = "gpc0", gpc1 = "gpc1",
	gpc0_rate = "gpc0_rate", gpc1_rate = "gpc1_rate", http_err_cnt = "http_err_cnt",
	http_err_rate = "http_err_rate", http_fail_cnt = "http_fail_cnt", http_fail_rate = "http_fail_rate",
	http_req_cnt = "http_req_cnt", http_req_rate = "http_req_rate", kbytes_in = "bytes_in_cnt",
	kbytes_out = "bytes_out_cnt", server_id = "server_id", sess_cnt = "sess_cnt", sess_rate = "sess_rate",
	trackers = "trackers",
}) do
	local kbytes = name == "kbytes_in" or name == "kbytes_out"
	def("table_" .. name, "str", "int", { TABLE_ARG }, function(v, tbl)
		local r = peek(tbl, v, counter)
		if r == false then return 0 end
		if kbytes and r ~= nil then r = floor(r / 1024) end
		return r
	end)
end
-- The arrays' elements: table_gpc(idx, table) and friends.
for name, a in pairs({ gpc = { "gpc", "" }, gpc_rate = { "gpc", "_rate" }, gpt = { "gpt", "" } }) do
	def("table_" .. name, "str", "int", { { "idx", "int", true }, TABLE_ARG }, function(v, idx, tbl)
		if idx < 0 or idx > 99 then return nil end
		local r = peek(tbl, v, a[1] .. idx .. a[2], name, idx)
		if r == false then return 0 end
		return r
	end)
end
-- table_expire and table_idle: the milliseconds before the entry expires,
-- since it was last refreshed; default_value (else no value) for a key
-- not in the table.
for _, name in ipairs({ "expire", "idle" }) do
	def("table_" .. name, "str", "int", { TABLE_ARG, { "default_value", "int" } }, function(v, tbl, default)
		local r = peek(tbl, v, name)
		if r == false then return default end
		return r
	end)
end

-- in_table: whether the value is a key of the table.
def("in_table", "str", "bool", { TABLE_ARG }, function(v, tbl)
	return peek(tbl, v, "expire") ~= false
end)

-- HAProxy 2.6 converters on dates, integers, Host values, variables and
-- backends. A variable argument is a name (txn.x); the converter reads it
-- in the request of the TXN or applet the Converters object belongs to.
local os_date = os.date

-- strftime formats the date n (seconds since the epoch, as HAProxy's 55
-- bits hold it) plus off in local time or UTC; a leading "!" or "*t" is
-- text, as for C's strftime. None for a date the C library cannot break
-- down.
local DATE_RANGE = 36028797018963968 -- 2^55
local function strftime(utc, fmt, n, off)
	local r = os_date((utc and "! " or " ") .. fmt, n % DATE_RANGE + (off or 0))
	return r and sub(r, 2)
end
def("ltime", "int", "str", { { "format", "str", true }, { "offset", "int" } }, function(n, fmt, off)
	return strftime(false, fmt, n, off)
end)
def("utime", "int", "str", { { "format", "str", true }, { "offset", "int" } }, function(n, fmt, off)
	return strftime(true, fmt, n, off)
end)
-- http_date([offset[, unit]]): an IMF-fixdate; the value is in unit ("s",
-- "ms" or "us"), whose fraction of a second is written, as HAProxy does,
-- after a dot and without leading zeros.
local time_units = { s = 1, ms = 1000, us = 1000000 }
def("http_date", "int", "str", { { "offset", "int" }, { "unit", "str" } }, function(n, off, unit)
	n = n + (off or 0)
	local per, frac = time_units[unit or "s"], ""
	if per > 1 then
		frac = "." .. int_str(n - trunc(n / per) * per)
		n = trunc(n / per)
	end
	local r = os_date("!%a, %d %b %Y %H:%M:%S", n % DATE_RANGE)
	return r and r .. frac .. " GMT"
end, function(_, unit)
	if unit ~= nil and time_units[unit] == nil then return 2, "unexpected unit '" .. unit .. "', allowed values are 's', 'ms' and 'us'" end
end)
-- htonl: the integer's low 32 bits, big-endian.
def("htonl", "int", "bin", {}, function(n)
	n = n % 4294967296
	return char(floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end)
-- host_only and port_only split a Host value ("h:80", "[::1]:80") at its
-- last ':' after any ']'.
local function port_colon(s)
	for i = #s, 1, -1 do
		local c = byte(s, i)
		if c == 58 then return i end -- ':'
		if c == 93 then return nil end -- ']'
	end
end
def("host_only", "str", "str", {}, function(s)
	local i = port_colon(s)
	if i then s = sub(s, 1, i - 1) end
	return lower(s)
end)
def("port_only", "str", "int", {}, function(s)
	local i = port_colon(s)
	if i == nil then return 0 end
	return tonumber(s:match("^%d*", i + 1)) or 0
end)
-- language(values[, default]): of the ';'-separated values, the one the
-- Accept-Language value (the input) prefers: the first with the highest
-- q; a tag matches a value it equals or extends ("en-US" matches "en").
local function qvalue(s)
	local d, f = s:match("^(%d)%.?(%d*)")
	if d == nil then return 1000 end
	if d ~= "0" then return 1000 end
	return tonumber((f:sub(1, 3) .. "000"):sub(1, 3))
end
def("language", "str", "str", { { "values", "str", true }, { "default", "str" } }, function(s, values, default)
	local best, best_q = nil, 0
	for item in (s .. ","):gmatch("([^,]*),") do
		local tag, params = item:match("^%s*([^;,%s]+)(.*)$")
		if tag then
			local chosen
			for v in (values .. ";"):gmatch("([^;]*);") do
				if tag == v or (sub(tag, 1, #v) == v and byte(tag, #v + 1) == 45) then -- '-'
					chosen = v
					break
				end
			end
			if chosen then
				local q = params:match("^%s*;%s*q%s*=%s*(.*)$")
				q = q and qvalue(q) or 1000
				if q > best_q and chosen ~= "" then
					best, best_q = chosen, q
					if q >= 1000 then break end
				end
			end
		end
	end
	return best or default
end)

-- Variables: the value of variable name in the request of Converters
-- object c, as a string; nil when unset or without a request.
local function var_str(c, name)
	local ctx = I.owner[c]
	local s = ctx and ctx.s
	if s == nil or name == nil or name == "" then return nil end
	local v = I.vars.get(ctx, s, name)
	if v == nil then return nil end
	return as_str(v)
end
local VAR_NAME = "^[%a_][%w_.]*$"
local var_scopes = { proc = true, sess = true, txn = true, req = true, res = true }
-- var_check reports argument i when it is not a variable's name.
local function var_check(i, name, optional)
	if optional and (name == nil or name == "") then return nil end
	local scope = name:match("^(%a+)%.")
	if not (scope and var_scopes[scope] and name:find(VAR_NAME)) then
		return i, "'" .. name .. "' is not a variable name (SCOPE.NAME)"
	end
end
def("strcmp", "str", "int", { { "var", "str", true } }, function(v, name, _, _, c)
	local w = var_str(c, name)
	if w == nil then return nil end
	for i = 1, math.min(#v, #w) do
		local a, b = byte(v, i), byte(w, i)
		if a ~= b then return a - b end
	end
	if #v < #w then return -1 elseif #v > #w then return 1 end
	return 0
end, function(name) return var_check(1, name) end)
def("secure_memcmp", "str", "bool", { { "var", "str", true } }, function(v, name, _, _, c)
	local w = var_str(c, name)
	if w == nil then return nil end
	return v == w
end, function(name) return var_check(1, name) end)
-- concat(start[, var[, end]]) and add_item(delim[, var[, suffix]]).
def("concat", "str", "str", { { "start", "str", true }, { "var", "str" }, { "end", "str" } }, function(v, a, name, b, c)
	return v .. a .. (var_str(c, name) or "") .. (b or "")
end, function(_, name) return var_check(2, name, true) end)
def("add_item", "str", "str", { { "delimiter", "str", true }, { "var", "str" }, { "suffix", "str" } }, function(v, delim, name, suffix, c)
	local w = var_str(c, name)
	suffix = suffix or ""
	if v ~= "" and (w ~= nil and w ~= "" or suffix ~= "") then v = v .. delim end
	return v .. (w or "") .. suffix
end, function(_, name, suffix)
	if (name == nil or name == "") and (suffix == nil or suffix == "") then return 2, "a variable or a suffix is needed" end
	return var_check(2, name, true)
end)
-- set-var(name) stores the value (as a string) in a variable and passes
-- it on; unset-var(name) removes the variable. As methods: set_var,
-- unset_var.
def("set_var", "str", "str", { { "var", "str", true } }, function(v, name, _, _, c)
	local ctx = I.owner[c]
	if ctx and ctx.s then I.vars.set(ctx, ctx.s, name, v) end
	return v
end, function(name) return var_check(1, name) end)
def("unset_var", "str", "str", { { "var", "str", true } }, function(v, name, _, _, c)
	local ctx = I.owner[c]
	if ctx and ctx.s then I.vars.unset(ctx, ctx.s, name) end
	return v
end, function(name) return var_check(1, name) end)

-- nbsrv: the usable servers of the backend the value names; srv_queue:
-- the requests queued for the server "backend/server" it names (0:
-- luaedge queues requests in the backend). None for an unknown one.
def("nbsrv", "str", "int", {}, function(name) return I.usable_servers(name) end)
def("srv_queue", "str", "int", {}, function(name)
	local be, sv = name:match("^([^/]*)/(.*)$")
	local px = be and core.backends[be]
	if px == nil or px.servers[sv] == nil then return nil end
	return 0
end)
-- map_<match>_ip(file[, default]): the map converters whose values are
-- addresses; a value that is none gives the default.
local function is_addr(v)
	return v ~= nil and not find(v, "/", 1, true) and gocall(GO.addr_parse, v) ~= nil
end
for m, method in pairs(MATCH) do
	if m ~= "regm" then
		local input = (m == "int" and "int") or (m == "ip" and "addr") or "str"
		def("map_" .. m .. "_ip", input, "str", { { "map_file", "str", true }, { "default_value", "str" } }, function(v, file, default)
			local id, err = map_id(method, file)
			if id == nil then return nil, "converter 'map_" .. m .. "_ip': " .. err end
			local r = I.map_get(id, v)
			if is_addr(r) then return r end
			return default
		end)
	end
end
-- END of HAProxy 2.6 converters

-- The Converters objects ---------------------------------------------------

local outputs = {
	-- A boolean sample reaches Lua as the integer 1 or 0, as in HAProxy.
	[false] = { str = function(r) return r end, bin = function(r) return r end, int = function(r) return r end, bool = function(r)
		if r == nil then return nil end
		return r and 1 or 0
	end },
	[true] = {
		bool = function(r)
			if r == nil then return "" end
			return r and "1" or "0"
		end,
		str = function(r) return r or "" end,
		bin = function(r) return r or "" end,
		int = function(r)
			if r == nil then return "" end
			return int_str(r)
		end,
	},
}

local MT = {}      -- [strict] -> metatable of the objects
local methods = {} -- [strict] -> name -> function(self, value, ...)

local function not_self(name)
	error("bad argument #1 to converter '" .. name .. "' (Converters object expected: call it as txn.c:" .. name .. "(value, ...))", 3)
end

local function make(d, strict)
	local fn, cast, out, name, nargs = d.fn, casts[d.input], outputs[strict][d.output], d.name, #d.args
	local mt
	return function(self, v, a1, a2, a3, a4)
		if mt == nil then mt = MT[strict] end
		if getmetatable(self) ~= mt then not_self(name) end
		local err
		if nargs > 0 or a1 ~= nil then
			a1, a2, a3, err = check_args(d, a1, a2, a3, a4)
			if err then error(err, 2) end
		end
		v, err = cast(v)
		if err then error("converter '" .. name .. "': " .. err, 2) end
		local r
		r, err = fn(v, a1, a2, a3, self)
		if err then error(err, 2) end
		return out(r)
	end
end

-- Lua converters (core.register_converters): name -> accounting record
-- (with fn).
I.lua_converters = {}
local lua_wrappers = { [false] = setmetatable({}, { __mode = "k" }), [true] = setmetatable({}, { __mode = "k" }) }
local owner = I.owner

local function lua_wrapper(st, strict)
	local w = lua_wrappers[strict][st]
	if w then return w end
	local mt = MT[strict]
	if strict then
		w = function(self, v, ...)
			if getmetatable(self) ~= mt then not_self("lua") end
			local r = I.call_script(st, owner[self], st.fn, as_str(v), ...)
			local t = type(r)
			if t == "string" then return r end
			if r == nil then return "" end
			if t == "number" or is_int64(r) then return int_str(r) end
			if t == "boolean" then return r and "1" or "0" end
			return tostring(r)
		end
	else
		w = function(self, v, ...)
			if getmetatable(self) ~= mt then not_self("lua") end
			return (I.call_script(st, owner[self], st.fn, as_str(v), ...))
		end
	end
	lua_wrappers[strict][st] = w
	return w
end

for _, strict in ipairs({ false, true }) do
	local m = {}
	for name, d in pairs(defs) do m[name] = make(d, strict) end
	setmetatable(m, {
		__index = function(_, name)
			local lc = I.lua_converters
			local st = lc[name]
			if st == nil and type(name) == "string" then
				local pre = sub(name, 1, 4)
				if pre == "lua." or pre == "lua_" then st = lc[sub(name, 5)] end
			end
			if st ~= nil then return lua_wrapper(st, strict) end
			error("unknown converter '" .. tostring(name) .. "'", 2)
		end,
	})
	methods[strict] = m
	MT[strict] = {
		__index = m,
		__tostring = function() return strict and "Converters (strings)" or "Converters" end,
	}
end

-- new_converters returns a Converters object: TXN.c (strict_strings false)
-- or TXN.sc (true). obj is the TXN or applet it belongs to (nil: none):
-- a Lua converter's time excludes that request's waits.
function I.new_converters(strict_strings, obj)
	local c = setmetatable({}, MT[strict_strings and true or false])
	if obj ~= nil then owner[c] = owner[obj] end
	return c
end
I.converter_defs = defs

-- core.c and core.sc, a luaedge addition: Converters objects that belong
-- to no request, for code that runs outside one (the body of a script,
-- an init function, a task).
core.c = I.new_converters(false)
core.sc = I.new_converters(true)

-- core.register_converters(name, fn): fn(value, args...) -> result.
function core.register_converters(name, fn)
	if type(name) ~= "string" then
		error("bad argument #1 to 'core.register_converters' (string expected, got " .. type(name) .. ")", 2)
	end
	if type(fn) ~= "function" then
		error("bad argument #2 to 'core.register_converters' (function expected, got " .. type(fn) .. ")", 2)
	end
	I.lua_converters[name] = I.record("converter", name, fn)
end
