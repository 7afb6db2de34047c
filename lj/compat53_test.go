package lj

import (
	"os/exec"
	"strings"
	"testing"
)

// compatCases are Lua 5.3 snippets (function bodies) whose results must
// be the same on luaedge as on PUC Lua 5.3. Numbers are compared by value
// (luaedge has no integer subtype: 5.3's 2.0 and 2 are one number here).
var compatCases = []string{
	// table
	`local t = table.pack(1, nil, 3) return t.n, t[1], t[2], t[3]`,
	`return table.unpack({1, 2, 3}, 2)`,
	`return table.unpack({1, 2, 3}, 2, 3)`,
	// math
	`return math.type(1), math.type("1"), math.type(nil), math.type(2^70)`,
	`return math.type(0.5), math.type(-3)`,
	`return math.type()`,
	`return math.tointeger(3), math.tointeger(3.5), math.tointeger("8"), math.tointeger({})`,
	`return math.tointeger()`,
	`return math.ult(1, 2), math.ult(-1, 2), math.ult(2, -1), math.ult(-2, -1)`,
	`return math.ult(1.5, 2)`,
	`return math.mininteger, math.maxinteger > 2^62, math.mininteger < -2^62`,
	// utf8
	`return utf8.char(72, 228, 8364, 128512, 0x10FFFF)`,
	`return utf8.char(0x110000)`,
	`return utf8.char()`,
	`return utf8.char(-1)`,
	`return utf8.char("65", 66.0)`,
	`return utf8.codepoint("häé€😀", 1, -1)`,
	`return utf8.codepoint("abc")`,
	`return utf8.codepoint("abc", 0)`,
	`return utf8.codepoint("abc", 1, 4)`,
	`return utf8.codepoint("abc", 3, 2)`,
	`return utf8.codepoint("\xff")`,
	`return utf8.codepoint("\xc0\x80")`,
	`return utf8.codepoint("\xf4\x90\x80\x80")`,
	`return utf8.len("häé€😀"), utf8.len(""), utf8.len("abc", 4), utf8.len("abc", -1)`,
	`return utf8.len("ab\xffc")`,
	`return utf8.len("abc", 5)`,
	`return utf8.len("häé", 3)`,
	`return utf8.offset("a€b", 3), utf8.offset("a€b", -1), utf8.offset("a€b", 0, 3), utf8.offset("a€b", 5), utf8.offset("a€b", 1)`,
	`return utf8.offset("a€b", 1, 3)`,
	`return utf8.offset("abc", 1, 5)`,
	`local t = {} for p, c in utf8.codes("a€😀z") do t[#t + 1] = p .. ":" .. c end return table.concat(t, " ")`,
	`for p, c in utf8.codes("a\xffb") do end`,
	`local n = 0 for _ in ("héllo"):gmatch(utf8.charpattern) do n = n + 1 end return n`,
	// string.pack, unpack, packsize
	`return string.pack("<i4", 1), string.pack(">i4", -2), string.pack("<I2 b B h H", 65535, -128, 255, -1, 7)`,
	`return string.pack("<j", -1), string.pack(">J", 1), string.pack("<l L", -5, 5), string.pack("<i3 I5", -70000, 2^33 + 7)`,
	`return string.pack("<i16", -2), string.pack(">I16", 3), string.pack("<i1", 127)`,
	`return string.pack("<d f n", 1.5, -0.25, 1e300)`,
	`return string.pack("s1 s2 z", "ab", "cde", "f"), string.pack("<s", "xy")`,
	`return string.pack("c5", "ab"), string.pack("x i1 x", 9)`,
	`return string.pack("!<i1 i4 i2 i8", 1, 2, 3, 4), string.pack("!2<b i4", 1, 2), string.pack("!<b d", 1, 2)`,
	`return string.pack("=i4", 1) == string.pack("<i4", 1)`,
	`return string.pack("i2", 40000)`,
	`return string.pack("I1", -1)`,
	`return string.pack("i", 3.5)`,
	`return string.pack("i", "12")`,
	`return string.pack("i", {})`,
	`return string.pack("i")`,
	`return string.pack("c2", "abc")`,
	`return string.pack("z", "a\0b")`,
	`return string.pack("s1", string.rep("x", 256))`,
	`return string.pack("y", 1)`,
	`return string.pack("i17", 1)`,
	`return string.pack("i0", 1)`,
	`return string.pack("c", "a")`,
	`return string.unpack("<i4", "\1\0\0\0")`,
	`return string.unpack(">i2 I2 b B", "\255\254\255\254\128\128")`,
	`return string.unpack("<j J", string.pack("<j J", -7, 9))`,
	`return string.unpack("<J", "\255\255\255\255\255\255\255\255")`,
	`return string.unpack("<i16", string.pack("<i16", -300))`,
	`return string.unpack("<i9", "\0\0\0\0\0\0\0\0\1")`,
	`return string.unpack("<d f", string.pack("<d f", 2.5, 0.5))`,
	`return string.unpack("s1 z c3", "\3abcxy\0pqr")`,
	`return string.unpack("z", "abc")`,
	`return string.unpack("!<b i4 i2", string.pack("!<b i4 i2", 1, 2, 3))`,
	`return string.unpack("<i2", "\1\0\2\0", 3)`,
	`return string.unpack("<i2", "\1\0\2\0", -2)`,
	`return string.unpack("<i4", "abc")`,
	`return string.unpack("<i2", "ab", 4)`,
	`return string.unpack("s1", "\5ab")`,
	`return string.unpack("", "abc", 2)`,
	`return string.packsize("<i4 i8 b x d"), string.packsize("!i1 i8"), string.packsize("c10 h")`,
	`return string.packsize("s")`,
	`return string.packsize("z")`,
	// 5.3's rule for empty matches
	`local t = {} for w in ("a,b"):gmatch("[^,]*") do t[#t + 1] = "[" .. w .. "]" end return table.concat(t)`,
	`local t = {} for w in ("abc"):gmatch("x*") do t[#t + 1] = "[" .. w .. "]" end return table.concat(t)`,
	`local t = {} for k, v in ("a=1, b=, c=3"):gmatch("(%w*)=(%w*)") do t[#t + 1] = k .. ":" .. v end return table.concat(t, ";")`,
	`local t = {} for p in ("abc"):gmatch("()") do t[#t + 1] = p end return table.concat(t, ",")`,
	`local t = {} for w in ("^a^b"):gmatch("^%a?") do t[#t + 1] = "[" .. w .. "]" end return table.concat(t)`,
	`local t = {} for w in (" one  two "):gmatch("%a*") do t[#t + 1] = "[" .. w .. "]" end return table.concat(t)`,
	`local t = {} for w in ("one two"):gmatch("%a+") do t[#t + 1] = w end return table.concat(t, ",")`,
	`return ("a,b"):gsub("[^,]*", "x")`,
	`return ("abc"):gsub("%w*", "<%0>")`,
	`return ("hello world"):gsub("o*", "0")`,
	`return ("abc"):gsub("", "-")`,
	`return ("abc"):gsub("b*", "-", 2)`,
	`return ("abc"):gsub("^x*", "-")`,
	`return (" a b "):gsub("%s*", "_")`,
	`return ("k1=v1;k2=;k3=v3"):gsub("(%w*)=(%w*)", "%2=%1")`,
	`return ("abc"):gsub("(b?)", {b = "B", [""] = "."})`,
	`return ("abc"):gsub("%a?", function(c) if c == "b" then return 42 end end)`,
	`return ("abc"):gsub("()b?", "%1")`,
	`return ("abc"):gsub("b*", "%2")`,
	`return ("abc"):gsub("b*", "%x")`,
	`return ("abc"):gsub("b*", function() return true end)`,
	`return ("abc"):gsub("b*", "%1%%")`,
	`return ("x = 1"):gsub("%s*=%s*", "=")`,
	`return ("path//to///x"):gsub("/+", "/")`,
	`return ("hello"):gsub("l", {l = false})`,
	// integers print as integers
	`return tostring(9007199254740992), tostring(-1152921504606846976), tostring(1000000000000000 + 1), tostring(600), tostring(0.5), tostring(1e100)`,
}

// compatProgram runs compatCases and leaves one line per case in the
// global RESULT. Errors lose their position, which differs between a C
// function and a Lua one.
func compatProgram() string {
	var b strings.Builder
	b.WriteString(`
local function ser(v)
	local t = type(v)
	if t == "number" then
		if v == math.floor(v) and v > -2^63 and v < 2^63 then return string.format("%d", v) end
		return string.format("%.14g", v)
	elseif t == "string" then
		return '"' .. v:gsub("[^%w%p ]", function(c) return string.format("\\x%02x", c:byte()) end) .. '"'
	end
	return tostring(v)
end
local out = {}
local cases = {
`)
	for _, c := range compatCases {
		b.WriteString("[==[" + c + "]==],\n")
	}
	b.WriteString(`}
for i, body in ipairs(cases) do
	local fn = assert(load(body, "=case"))
	local r = table.pack(pcall(fn))
	local line
	if r[1] then
		local parts = {}
		for k = 2, r.n do parts[#parts + 1] = ser(r[k]) end
		line = table.concat(parts, ", ")
	else
		line = "error: " .. tostring(r[2]):gsub("^[^:]*:%d+: ", "")
	end
	out[i] = line
end
RESULT = table.concat(out, "\n")
`)
	return b.String()
}

// TestCompat53MatchesLua53 runs each case on luaedge and on Lua 5.3
// (the lua5.3 command, installed by third_party/install-deps.sh test).
func TestCompat53MatchesLua53(t *testing.T) {
	prog := compatProgram()
	lua53, err := exec.LookPath("lua5.3")
	if err != nil {
		t.Skip("lua5.3 is not installed (third_party/install-deps.sh test installs it)")
	}
	ref, err := exec.Command(lua53, "-e", prog+"\nio.write(RESULT)").CombinedOutput()
	if err != nil {
		t.Fatalf("lua5.3: %v\n%s", err, ref)
	}
	s, err := NewState(Options{Scripts: []Script{{Path: "compat.lua", Code: []byte(prog)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := strings.Split(evalIn(t, s, "return RESULT"), "\n")
	want := strings.Split(string(ref), "\n")
	if len(got) != len(want) || len(got) != len(compatCases) {
		t.Fatalf("%d results on luaedge, %d on lua5.3, %d cases", len(got), len(want), len(compatCases))
	}
	for i, c := range compatCases {
		if got[i] != want[i] {
			t.Errorf("%s\n\tluaedge: %s\n\tlua5.3:  %s", c, got[i], want[i])
		}
	}
}

// The switch off leaves LuaJIT's library as it is.
func TestCompat53Off(t *testing.T) {
	const script = `
local t = {}
for w in ("a,b"):gmatch("[^,]*") do t[#t + 1] = "[" .. w .. "]" end
RESULT = table.concat(t) .. " " .. type(utf8) .. " " .. type(string.pack) .. " " .. type(math.type) .. " " .. tostring(2^53)
`
	for _, tc := range []struct {
		off  bool
		want string
	}{
		{false, "[a][b] table function function 9007199254740992"},
		{true, "[a][][b][] nil nil nil 9.007199254741e+15"},
	} {
		s, err := NewState(Options{NoCompat53: tc.off, Scripts: []Script{{Path: "off.lua", Code: []byte(script)}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := evalIn(t, s, "return RESULT"); got != tc.want {
			t.Errorf("NoCompat53 %v: got %q, want %q", tc.off, got, tc.want)
		}
		s.Close()
	}
}

// utf8.charpattern is written for LuaJIT's patterns (%z for the zero
// byte) and matches one character, a zero byte included.
func TestCompat53CharPattern(t *testing.T) {
	s, err := NewState(Options{Scripts: []Script{{Path: "cp.lua", Code: []byte(`
local t = {}
for c in ("a\0é€😀"):gmatch(utf8.charpattern) do t[#t + 1] = #c end
RESULT = table.concat(t, ",")`)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := evalIn(t, s, "return RESULT"); got != "1,1,2,3,4" {
		t.Errorf("lengths of the characters matched: %s, want 1,1,2,3,4", got)
	}
}

// A Lua 5.3 operator is a load error naming the file, the line and the
// operator.
func TestCompat53SyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"local a = 7\nlocal b = a // 2\n", "app.lua:2: '//' (integer division) is Lua 5.3 syntax"},
		{"local x = 1 & 3", "app.lua:1: '&' (the bitwise and) is Lua 5.3 syntax"},
		{"local x = 1 | 3 -- a | b", "'|' (the bitwise or)"},
		{"local x = ~1", "'~' (the bitwise xor or not)"},
		{"local x = 1 ~ 3", "'~' (the bitwise xor or not)"},
		{"local x = 1 << 3", "'<<' (the bitwise left shift)"},
		{"local s = '//' local x = 1 >> 3", "'>>' (the bitwise right shift)"},
		{"if 1 ~= 2 then x = end", "app.lua:1: unexpected symbol near 'end'"},
	} {
		_, err := NewState(Options{Scripts: []Script{{Path: "app.lua", Code: []byte(tc.code)}}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.code, err, tc.want)
		}
	}
}
