package lj

import "testing"

// TestLuaInt64Converters: integer converters are exact on 64 bits, as
// HAProxy's: a result within 2^53 of 0 is a Lua number, one beyond an
// int64_t cdata; sc writes both in decimal. The expected values are
// HAProxy 2.6's answers.
func TestLuaInt64Converters(t *testing.T) {
	runLua(t, `
local c, sc = I.new_converters(false), I.new_converters(true)
local MAX, MIN = "9223372036854775807", "-9223372036854775808"

-- xxh64 and xxh3: signed 64-bit, every length class of XXH3 (0, 1-3,
-- 4-8, 9-16, 17-128, 129-240, over 240), seeds taken modulo 2^64.
eq(sc:xxh64(""), "-1205034819632174695", "xxh64 empty")
eq(sc:xxh3(""), "3244421341483603138", "xxh3 empty")
eq(type(c:xxh64("")), "cdata", "xxh64 beyond 2^53 is an int64_t")
eq(c:xxh64("") == -1205034819632174695LL, true, "xxh64 exact")
eq(sc:xxh64("abc"), "4952883123889572249", "xxh64 abc")
eq(sc:xxh64("abc", -1), "2895935887265243510", "xxh64 seed -1")
eq(sc:xxh3("abc"), "8696274497037089104", "xxh3 abc")
eq(sc:xxh3("abc", -1), "2962310483463817673", "xxh3 seed -1")
local function pat(n)
	local t = {}
	for i = 0, n - 1 do t[#t + 1] = string.char(97 + (i * 7 + n) % 26) end
	return table.concat(t)
end
for _, v in ipairs({
	{ 2, 0, "-6280886259525463429", "2431016872227419474" },
	{ 7, -1, "-9112593175773103740", "-3269421820015876312" },
	{ 15, 123456789012345, "-8824893842851400598", "9184036799831679831" },
	{ 100, 0, "-5331850723789961684", "3702338195158492542" },
	{ 200, -1, "-1570943842767876016", "8787241223251839279" },
	{ 1000, 123456789012345, "2845097951554943127", "-5369905266879146957" },
	{ 2100, 0, "-2309033755466200581", "-1791212983533706786" },
}) do
	local s = pat(v[1])
	eq(sc:xxh64(s, v[2]), v[3], "xxh64 of " .. v[1] .. " bytes, seed " .. v[2])
	eq(sc:xxh3(s, v[2]), v[4], "xxh3 of " .. v[1] .. " bytes, seed " .. v[2])
end
eq(sc:xxh64("abc", "9223372036854775808"), sc:xxh64("abc", MAX), "a seed beyond 64 bits is clamped")

eq(core.sc:xxh64(""), "-1205034819632174695", "core.sc")
eq(core.c:add(1, 2), 3, "core.c")

-- The cdata flows on: to strings, binary, other converters.
local h = c:xxh64("")
eq(c:lower(h), "-1205034819632174695", "int64 to string")
eq(c:hex(h), "EF46DB3751D8E999", "int64 to binary")
eq(sc:add(h, 1), "-1205034819632174694", "int64 operand")
eq(c:add(h, "1205034819632174695"), 0, "back within 2^53: a number")
eq(type(c:add(h, 1205034819632174695LL)), "number", "a number again")

-- Arithmetic: exact past 2^53, saturated at the 64-bit limits.
eq(sc:add("9007199254740993", 1), "9007199254740994", "add past 2^53")
eq(sc:sub("9007199254740993", 3), "9007199254740990", "sub past 2^53")
eq(sc:mul("9007199254740993", 3), "27021597764222979", "mul past 2^53")
eq(sc:div("9007199254740993", 3), "3002399751580331", "div past 2^53")
eq(sc:add(MAX, 1), MAX, "add saturates")
eq(sc:add(MIN, -1), MIN, "add saturates below")
eq(sc:add(-1, -1), "-2", "two negatives")
eq(sc:add(-5, -7), "-12", "two negatives again")
eq(sc:sub(MIN, 1), MIN, "sub saturates")
eq(sc:sub(MAX, -1), MAX, "sub of a negative saturates")
eq(sc:sub(5, MIN), MAX, "sub of the smallest")
eq(sc:sub(-5, MIN), "9223372036854775803", "sub of the smallest from a negative")
eq(sc:mul("4611686018427387904", 2), MAX, "mul saturates")
eq(sc:mul("-4611686018427387905", 2), MIN, "mul saturates below")
eq(sc:mul(MIN, -1), MAX, "mul of the smallest by -1")
eq(sc:mul(MAX, -1), "-9223372036854775807", "mul by -1")
eq(sc:div(MIN, -1), MAX, "div of the smallest by -1")
eq(sc:div(MAX, 0), MAX, "div by 0")
eq(sc:div(-7, 2), "-3", "div truncates")
eq(sc:mod(MIN, -1), "0", "mod of the smallest by -1")
eq(sc:mod("-4611686018427387905", 2), "-1", "mod has the value's sign")
eq(sc:mod(MAX, 0), "0", "mod by 0")
eq(sc:neg(MIN), MAX, "neg of the smallest")
eq(sc:neg("9007199254740993"), "-9007199254740993", "neg past 2^53")
eq(sc:cpl(MAX), MIN, "cpl")
eq(sc:cpl(5), "-6", "cpl small")
eq(sc["and"](sc, "-4611686018427387905", 2), "2", "and")
eq(sc["or"](sc, MAX, -1), "-1", "or")
eq(sc["xor"](sc, MAX, -1), MIN, "xor")
eq(sc:add("99999999999999999999", 0), MAX, "a string beyond 64 bits is clamped")
eq(sc:add("-99999999999999999999", 0), MIN, "and below")
eq(sc:add("0000000000000000000000012", 0), "12", "leading zeros")
eq(sc:hex2i("ffffffffffffffff"), "-1", "hex2i on 64 bits")
eq(sc:hex2i("1ffffffffffffffff"), "-1", "hex2i shifts the high digits out")
eq(sc:hex2i("20000000000001"), "9007199254740993", "hex2i past 2^53")
eq(sc:hex2i("123456789abcdef0"), "1311768467463790320", "hex2i")
eq(c:hex2i("00000000000000000000000000000000000000000000001"), 1, "hex2i leading zeros")
eq(c:odd(h), 1, "odd of an int64")
eq(c:bool(h), 1, "bool of an int64")
eq(c:ipmask(0x10a010203LL, 16), "10.1.0.0", "an int64 as an address: its low 32 bits")
`)
}

// TestLuaInt64Vars: a variable keeps an integer beyond 2^53 exactly
// (an int64_t cdata); proc.* variables, kept in Go, hold doubles.
func TestLuaInt64Vars(t *testing.T) {
	runLua(t, `
local ctx, s = {}, { flags = 0 }
I.vars.set(ctx, s, "txn.h", 9007199254740993LL)
local v = I.vars.get(ctx, s, "txn.h")
eq(type(v), "cdata", "kept as an int64_t")
eq(v == 9007199254740993LL, true, "exact")
I.vars.set(ctx, s, "txn.u", 18446744073709551615ULL)
eq(I.vars.get(ctx, s, "txn.u"), -1, "a uint64_t is taken modulo 2^64")
I.vars.set(ctx, s, "txn.n", 12LL)
eq(type(I.vars.get(ctx, s, "txn.n")), "number", "a small one is a number")
`)
}
