package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// luaPrelude gives the test scripts their assertions: eq(got, want, what)
// and raises(substring, fn, args...) (fn must fail with a message holding
// substring).
const luaPrelude = `
local I = ...
local function eq(got, want, what)
	if got ~= want then
		error((what or "value") .. ": got " .. tostring(got) .. " (" .. type(got) .. "), want " .. tostring(want) .. " (" .. type(want) .. ")", 2)
	end
end
local function raises(want, fn, ...)
	local ok, err = pcall(fn, ...)
	if ok then error("no error, wanted one containing: " .. want, 2) end
	if not tostring(err):find(want, 1, true) then
		error("error '" .. tostring(err) .. "' does not contain '" .. want .. "'", 2)
	end
	return err
end
local function list(t) return table.concat(t, "|") end
`

// runLua runs code (after luaPrelude, with the given globals-to-be
// substitutions) in a new state, as a chunk of luaedge's own (it gets the
// internal table I); a failed assertion fails t.
func runLua(t *testing.T, code string, vars ...string) {
	t.Helper()
	runLuaState(t, nil, code, vars...)
}

// runLuaState is runLua in a state of generation sh (nil: a state alone).
func runLuaState(t *testing.T, sh *Shared, code string, vars ...string) {
	t.Helper()
	r := strings.NewReplacer(vars...)
	src := luaPrelude + r.Replace(code)
	s, err := NewState(Options{Shared: sh})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.LoadInternal([]byte(src), "@api_test.lua"); err != nil {
		t.Fatal(err)
	}
}

func TestLuaConverters(t *testing.T) {
	runLua(t, `
local c, sc = I.new_converters(false), I.new_converters(true)
eq(tostring(c), "Converters")

-- strings
eq(c:lower("AbC-Ü"), "abc-Ü", "lower")
eq(c:upper("aBc"), "ABC", "upper")
eq(c:length("hello"), 5, "length")
eq(sc:length("hello"), "5", "sc length")
eq(c:hex("\0\1\171\255"), "0001ABFF", "hex")
eq(c:unhex("0001abFF"), "\0\1\171\255", "unhex")
eq(c:unhex("abc"), nil, "unhex odd")
eq(c:unhex("zz"), nil, "unhex bad")
eq(sc:unhex("zz"), "", "sc unhex bad")
eq(c:hex2i("ff"), 255, "hex2i")
eq(c:hex2i("fg"), nil, "hex2i bad")
eq(c:cut_crlf("abc\r\ndef"), "abc", "cut_crlf")
eq(c:cut_crlf("abc"), "abc", "cut_crlf none")
eq(c:bytes("0123456789", 2), "23456789", "bytes")
eq(c:bytes("0123456789", 2, 3), "234", "bytes len")
eq(c:bytes("0123456789", 10), "", "bytes past end")
eq(c:bytes("0123456789", 8, 5), "89", "bytes long len")
eq(c:bytes("0123456789", "2", "3"), "234", "bytes string args")
eq(c:ltrim("  ..abc..  ", " ."), "abc..  ", "ltrim")
eq(c:rtrim("  ..abc..  ", " ."), "  ..abc", "rtrim")
eq(c:ltrim("....", "."), "", "ltrim all")
eq(c:rtrim("]a]", "]"), "]a", "rtrim ]")
eq(c:ltrim("%%a", "%"), "a", "ltrim %")

-- field and word, as in HAProxy's manual
local s = "f1_f2_f3__f5"
eq(c:field(s, 5, "_"), "f5", "field 5")
eq(c:field(s, 2, "_", 0), "f2_f3__f5", "field 2 0")
eq(c:field(s, 2, "_", 2), "f2_f3", "field 2 2")
eq(c:field(s, -2, "_", 3), "f2_f3_", "field -2 3")
eq(c:field(s, -3, "_", 0), "f1_f2_f3", "field -3 0")
eq(c:field(s, 4, "_"), "", "field empty")
eq(c:field(s, 6, "_"), nil, "field missing")
eq(sc:field(s, 6, "_"), "", "sc field missing")
eq(c:field(s, -6, "_"), nil, "field -6")
eq(c:field("a.b/c", 2, "./"), "b", "field several delims")
eq(c:field("a-b", 2, "-"), "b", "field magic char")
eq(c:word(s, 4, "_"), "f5", "word 4")
eq(c:word(s, 2, "_", 0), "f2_f3__f5", "word 2 0")
eq(c:word(s, 3, "_", 2), "f3__f5", "word 3 2")
eq(c:word(s, -2, "_", 3), "f1_f2_f3", "word -2 3")
eq(c:word(s, -3, "_", 0), "f1_f2", "word -3 0")
eq(c:word("/f1/f2/f3/f4", 1, "/"), "f1", "word leading delim")
eq(c:word(s, 5, "_"), "", "word missing is empty")
eq(c:word("a_b__", 1, "_", 9), "a_b__", "word count past end")

-- url
eq(c:url_dec("a%20b+c"), "a b+c", "url_dec")
eq(c:url_dec("a+b?c+d%2B"), "a+b?c d+", "url_dec query")
eq(c:url_dec("a+b", 1), "a b", "url_dec in_form")
eq(c:url_dec("%zz"), nil, "url_dec bad")
eq(c:url_dec("50%"), nil, "url_dec truncated")
eq(c:url_dec("%41%42"), "AB", "url_dec hex")
eq(c:url_enc("a b/c~d_e.f-g?&="), "a%20b%2Fc~d_e.f-g%3F%26%3D", "url_enc")
eq(c:url_enc("\255", "query"), "%FF", "url_enc query")

-- base64
eq(c:base64("hello"), "aGVsbG8=", "base64")
eq(c:b64dec("aGVsbG8="), "hello", "b64dec")
eq(c:b64dec("aGVsbG8"), nil, "b64dec unpadded")
eq(sc:b64dec("aGVsbG8"), "", "sc b64dec")
eq(c:ub64enc("\255\239"), "_-8", "ub64enc")
eq(c:ub64dec("_-8"), "\255\239", "ub64dec")

-- digests and hashes
eq(c:hex(c:sha1("abc")), "A9993E364706816ABA3E25717850C26C9CD0D89D", "sha1")
eq(#c:sha1("abc"), 20, "sha1 is binary")
eq(c:hex(c:sha2("abc")), "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "sha2")
eq(c:hex(c:sha2("abc", 224)), "23097D223405D8228642A477BDA255B32AADBCE4BDA0B3F7E36C9DA7", "sha2 224")
eq(#c:sha2("abc", 384), 48, "sha2 384")
eq(#c:sha2("abc", 512), 64, "sha2 512")
eq(c:hex(c:digest("abc", "md5")), "900150983CD24FB0D6963F7D28E17F72", "digest md5")
eq(c:hex(c:digest("abc", "SHA256")), "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "digest sha256")
eq(c:hex(c:hmac("what do ya want for nothing?", "sha256", "SmVmZQ==")), "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843", "hmac rfc4231 case 2")
eq(c:hmac("a", "sha1", "not base64!"), nil, "hmac bad key")
eq(c:be2dec("\1\2\3\4\5\6\7", ":", 2), "258:772:1286:7", "be2dec")
eq(c:be2dec("\1\2\3\4\5\6\7", "-", 2, 1), "258-772-1286", "be2dec truncate")
eq(c:be2dec("\255\255\255\255\255\255\255\255", ".", 8), "18446744073709551615", "be2dec 8 bytes")
eq(c:be2dec("\127\0\0\1", ".", 1), "127.0.0.1", "be2dec ip")
eq(c:be2hex("\1\2\3\4\5\6\7"), "01020304050607", "be2hex")
eq(c:be2hex("\1\2\3\4\5\6\7", ":", 2), "0102:0304:0506:07", "be2hex chunks")
eq(c:be2hex("\1\2\3\4\5\6\7", "--", 2, 1), "0102--0304--0506", "be2hex truncate")
eq(c:be2hex("\1\2\3\4\5\6\7\8", "", 3, 1), "010203040506", "be2hex no separator")
local doc = '{"iss":"k8s/sa","n":5,"neg":-3,"d":4.5,"t":true,"f":false,"o":{"my key":["a","b"]},"z":null}'
eq(c:json_query(doc, "$.iss"), "k8s/sa", "json_query string")
eq(c:json_query(doc, "$.n", "int"), 5, "json_query int")
eq(c:json_query(doc, "$.neg", "int"), -3, "json_query negative int")
eq(c:json_query(doc, "$.d"), "4.5", "json_query double")
eq(c:json_query(doc, "$.d", "int"), 4, "json_query double as int")
eq(c:json_query(doc, "$.t"), 1, "json_query true")
eq(c:json_query(doc, "$.f"), 0, "json_query false")
eq(c:json_query(doc, "$.o['my key'][1]"), "b", "json_query quoted key and index")
eq(c:json_query(doc, "$.o"), nil, "json_query object")
eq(c:json_query(doc, "$.z"), nil, "json_query null")
eq(c:json_query(doc, "$.nope"), nil, "json_query missing")
eq(c:json_query("not json", "$.a"), nil, "json_query not json")
eq(c:json_query('{"my.key":"v"}', "$.my\\.key"), "v", "json_query escaped dot")
eq(c:iif(true, "https", "http"), "https", "iif true")
eq(c:iif(0, "https", "http"), "http", "iif false")
eq(c:crc32("abc"), 891568578, "crc32")
eq(sc:crc32("abc"), "891568578", "sc crc32")
eq(c:crc32("abc", 1), 930845320, "crc32 avalanche")
eq(c:crc32c("abc"), 910901175, "crc32c")
eq(c:djb2("abc"), 193485963, "djb2")
eq(c:djb2("abc", 1), 2235766107, "djb2 avalanche")
eq(c:sdbm("abc"), 807794786, "sdbm")
eq(c:wt6("abc"), 2483038440, "wt6")
-- xxh32: the specification's vectors and HAProxy 2.6's answers (a seed
-- modulo 2^32; 16 bytes and more take the four lanes).
eq(c:xxh32(""), 46947589, "xxh32 empty")
eq(c:xxh32("abc"), 852579327, "xxh32")
eq(sc:xxh32("abc"), "852579327", "sc xxh32")
eq(c:xxh32("abc", 1), 2856167679, "xxh32 seed")
eq(c:xxh32("abc", -1), 2989167648, "xxh32 negative seed")
eq(c:xxh32("abc", 4294967297), 2856167679, "xxh32 seed over 32 bits")
eq(c:xxh32("Nobody inspects the spammish repetition"), 3794352943, "xxh32 lanes")
eq(c:xxh32("0123456789abcdefghijklmnopqrstuvwxyz", 7), 1928890642, "xxh32 lanes seed")
-- An integer is 8 bytes, big-endian, where a converter takes binary.
eq(c:hex(c:xxh32("abc")), "0000000032D153FF", "int to bin")
eq(c:hex(-2), "FFFFFFFFFFFFFFFE", "negative int to bin")
eq(c:hex("12"), "3132", "string stays")
eq(c:base64(1), "AAAAAAAAAAE=", "int to bin base64")

-- json
eq(c:json('Very "Ugly" UA 1/2'), 'Very \\"Ugly\\" UA 1\\/2', "json")
eq(c:json("caf\195\169", "utf8"), "caf\\u00e9", "json utf8")
eq(c:json("caf\195\169", "ascii"), "caf\\u00c3\\u00a9", "json ascii")
eq(c:json("a\255b", "utf8"), nil, "json utf8 bad")
eq(c:json("a\255b", "utf8s"), "ab", "json utf8s")
eq(c:json("\193\129", "utf8p"), "A", "json utf8p")
eq(c:json("\193\129!", "utf8ps"), "A!", "json utf8ps")

-- regsub
eq(c:regsub("/////a///b/c/xzxyz/", "/+", "/", "g"), "/a/b/c/xzxyz/", "regsub g")
eq(c:regsub("aaa", "a", "b"), "baa", "regsub first")
eq(c:regsub("/FOO12", "(foo|bar)([0-9]+)?", "\\2\\1", "i"), "/12FOO", "regsub i")
eq(c:regsub("/FOO12", "(foo|bar)([0-9]+)?", "\\2\\1"), "/FOO12", "regsub case")
eq(c:regsub("abc", "b", "[\\0]", "gi"), "a[b]c", "regsub \\0")

-- ipmask
eq(c:ipmask("192.168.1.77", 24), "192.168.1.0", "ipmask bits")
eq(c:ipmask("192.168.1.77", "255.255.0.0"), "192.168.0.0", "ipmask dotted")
eq(c:ipmask("2001:db8:1:2::9", 24, 48), "2001:db8:1::", "ipmask v6")
eq(c:ipmask("2001:db8:1:2::9", 24, "ffff:ffff::"), "2001:db8::", "ipmask v6 dotted")
eq(c:ipmask("2001:db8::1", 24), nil, "ipmask v6 without mask6")
eq(sc:ipmask("2001:db8::1", 24), "", "sc ipmask v6 without mask6")
eq(c:ipmask("::ffff:10.1.2.3", 8), "10.0.0.0", "ipmask mapped")
eq(c:ipmask(0x0a010203, 16), "10.1.0.0", "ipmask integer input")
eq(c:ipmask("not an ip", 8), nil, "ipmask bad input")

-- the value is cast as HAProxy casts it
eq(c:lower(12.7), "12", "number input")
eq(c:lower(-3), "-3", "negative input")
eq(c:upper(true), "1", "true input")
eq(c:lower(nil), "0", "nil input is boolean false")
eq(c:length({}), 1, "table input is boolean false")
eq(c:hex(255), "00000000000000FF", "number to binary: 8 bytes")
eq(c:hex(true), "0000000000000001", "boolean to binary")
eq(c:hex(nil), "0000000000000000", "nil to binary: false")
`)
}

func TestLuaConverterErrors(t *testing.T) {
	runLua(t, `
local c = I.new_converters(false)
-- (no tail call, so that the error points at this line)
local e = raises("bad argument #2 to converter 'bytes' (offset: missing, integer expected)", function() local r = c:bytes("abc") return r end)
assert(e:find("^api_test.lua:%d+:"), "error position: " .. e)
raises("bad argument #2 to converter 'bytes' (offset: integer expected, got table)", function() return c:bytes("abc", {}) end)
raises("bad argument #2 to converter 'bytes' (offset: integer expected, got 'x')", function() return c:bytes("abc", "x") end)
raises("bad argument #3 to converter 'bytes' (length: integer expected, got boolean)", function() return c:bytes("abc", 1, true) end)
raises("bad argument #3 to converter 'field' (delimiters: missing, string expected)", function() return c:field("abc", 1) end)
raises("bad argument #3 to converter 'field' (delimiters: string expected, got table)", function() return c:field("abc", 1, {}) end)
raises("bad argument #2 to converter 'field' (index: unexpected value 0", function() return c:field("abc", 0, "_") end)
raises("bad argument #3 to converter 'word' (delimiters: empty separators list)", function() return c:word("abc", 1, "") end)
raises("bad argument #2 to converter 'lower' (lower takes at most 0 arguments after the value)", function() return c:lower("a", 1) end)
raises("bad argument #3 to converter 'ltrim' (ltrim takes at most 1 argument after the value)", function() return c:ltrim("a", "b", "c") end)
raises("bad argument #2 to converter 'sha2' (bits: unsupported number of bits 100", function() return c:sha2("a", 100) end)
raises("bad argument #2 to converter 'digest' (algorithm: unsupported digest 'md4'", function() return c:digest("a", "md4") end)
raises("bad argument #3 to converter 'be2dec' (chunk_size: chunk size must be between 1 and 8)", function() return c:be2dec("a", ":", 9) end)
raises("bad argument #2 to converter 'json' (input_code: unexpected input code type 'utf9'", function() return c:json("a", "utf9") end)
raises("bad argument #2 to converter 'url_enc' (enc_type: unexpected encode type 'path'", function() return c:url_enc("a", "path") end)
raises("converter 'regsub': regex '(?=x)': lookahead (?=...) is a PCRE feature", function() return c:regsub("a", "(?=x)", "") end)
raises("converter 'regsub': invalid regex flag 'x'", function() return c:regsub("a", "a", "b", "x") end)
raises("bad argument #3 to converter 'regsub' (subst: missing", function() return c:regsub("a", "a") end)
raises("bad argument #2 to converter 'ipmask' (mask4: '33' is not a valid IPv4 mask)", function() return c:ipmask("1.2.3.4", 33) end)
raises("bad argument #3 to converter 'ipmask' (mask6: 'x' is not a valid IPv6 mask)", function() return c:ipmask("::1", 8, "x") end)
raises("bad argument #2 to converter 'ipmask' (mask4: missing, integer or string expected)", function() return c:ipmask("1.2.3.4") end)
raises("bad argument #2 to converter 'map' (map_file: missing", function() return c:map("x") end)
raises("converter 'map_str': /nonexistent/luaedge.map: cannot read map file", function() return c:map("x", "/nonexistent/luaedge.map") end)
raises("converter 'map_int': cannot cast the empty string to an integer", function() return c:map_int("", "/nonexistent/x.map") end)
raises("bad argument #1 to converter 'lower' (Converters object expected: call it as txn.c:lower(value, ...))", function() return c.lower("x") end)
e = raises("unknown converter 'nope'", function() local r = c:nope("x") return r end)
assert(e:find("^api_test.lua:%d+:"), "error position: " .. e)
raises("unknown converter 'lua.nope'", function() return c["lua.nope"](c, "x") end)

-- core.register_converters
raises("bad argument #1 to 'core.register_converters' (string expected, got nil)", core.register_converters)
raises("bad argument #2 to 'core.register_converters' (function expected, got string)", core.register_converters, "x", "y")
local function rev(s, suffix) return s:reverse() .. (suffix or "") end
core.register_converters("rev", rev)
core.register_converters("num", function(s) return #s * 1.5 end)
core.register_converters("lower", function(s) return "mine" end) -- the builtin keeps its name
eq(I.lua_converters.rev.fn, rev, "I.lua_converters")
eq(c:rev("abc"), "cba", "lua converter")
eq(c["lua.rev"](c, "abc", "!"), "cba!", "lua.NAME")
eq(c:lua_rev("abc"), "cba", "lua_NAME")
eq(c:rev(12), "21", "lua converter input is a string")
eq(c:num("ab"), 3, "lua converter number")
local sc = I.new_converters(true)
eq(sc:num("abc"), "4", "sc lua converter number")
core.register_converters("big", function() return 9007199254740993LL end)
eq(sc:big("x"), "9007199254740993", "sc lua converter int64")
eq(sc["lua.rev"](sc, "ab"), "ba", "sc lua.NAME")
eq(c:lower("ABC"), "abc", "builtin first")
eq(c["lua.lower"](c, "ABC"), "mine", "lua.lower")
core.register_converters("nilconv", function() return nil end)
eq(c:nilconv("x"), nil, "lua converter nil")
eq(sc:nilconv("x"), "", "sc lua converter nil")
raises("Converters object expected", function() return c.rev("x") end)
`)
}

func TestLuaMapConverters(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts.map", "example.com be1\nexample.org be2\n")
	write("paths.map", "/api api\n/api/v2 api2\n/static/ static\n")
	write("ip.map", "10.0.0.0/8 internal\n2001:db8::/32 doc\n")
	write("int.map", "200 ok\n300:399 redirect\n9007199254740993 big\n1000000000000001 wide\n")
	write("num.map", "a 42\nb -7\nc  99999999999999999999 \nd\ne 9007199254740993\nf +7\ng -\n")
	write("notnum.map", "a 42\nb 12abc\n")
	write("dom.map", "example.com ex\n")
	write("reg.map", "^/u/[0-9]+$ user\n")
	write("bad.map", "10.0.0.0/8 a\nbogus b\n")
	runLua(t, `
local c, sc = I.new_converters(false), I.new_converters(true)
local D = DIR .. "/"
eq(c:map("example.com", D .. "hosts.map"), "be1", "map")
eq(c:map("nope", D .. "hosts.map"), nil, "map miss")
eq(sc:map("nope", D .. "hosts.map"), "", "sc map miss")
eq(c:map("nope", D .. "hosts.map", "dflt"), "dflt", "map default")
eq(c:map_str("example.org", D .. "hosts.map"), "be2", "map_str")
eq(c:map_beg("/api/v2/x", D .. "paths.map"), "api2", "map_beg longest")
eq(c:map_beg("/apix", D .. "paths.map"), "api", "map_beg")
eq(c:map_sub("x/static/y", D .. "paths.map"), "static", "map_sub")
eq(c:map_dir("/a/static/b", D .. "paths.map"), "static", "map_dir")
eq(c:map_dir("/a/staticx/b", D .. "paths.map"), nil, "map_dir miss")
eq(c:map_dom("www.example.com", D .. "dom.map"), "ex", "map_dom")
eq(c:map_end("a.example.org", D .. "hosts.map"), "be2", "map_end")
eq(c:map_reg("/u/12", D .. "reg.map"), "user", "map_reg")
eq(c:map_reg("/u/x", D .. "reg.map", "none"), "none", "map_reg default")
eq(c:map_int(302, D .. "int.map"), "redirect", "map_int")
eq(c:map_int("200", D .. "int.map"), "ok", "map_int string input")
eq(c:map_int(9007199254740993LL, D .. "int.map"), "big", "map_int int64 input")
eq(c:map_int(1000000000000001, D .. "int.map"), "wide", "map_int input past 10^14")
eq(c:map_ip("10.2.3.4", D .. "ip.map"), "internal", "map_ip")
eq(c:map_ip("2001:db8::7", D .. "ip.map"), "doc", "map_ip v6")
eq(c:map_ip("junk", D .. "ip.map", "x"), "x", "map_ip junk input")
eq(c:map_ip(0x0a000001, D .. "ip.map"), "internal", "map_ip integer input")
eq(c:map_str_int("a", D .. "num.map"), 42, "map_str_int")
eq(sc:map_str_int("a", D .. "num.map"), "42", "sc map_str_int")
-- The values read as HAProxy reads them: a sign, digits clamped to 64
-- bits, none (an empty value, a lone sign) 0.
eq(c:map_str_int("b", D .. "num.map"), -7, "map_str_int negative")
eq(sc:map_str_int("c", D .. "num.map"), "9223372036854775807", "map_str_int clamped")
eq(c:map_str_int("d", D .. "num.map", 5), 0, "map_str_int empty value")
eq(sc:map_str_int("e", D .. "num.map"), "9007199254740993", "map_str_int exact past 2^53")
eq(c:map_str_int("f", D .. "num.map"), 7, "map_str_int plus sign")
eq(c:map_str_int("g", D .. "num.map"), 0, "map_str_int lone sign")
eq(c:map_str_int("zz", D .. "num.map"), nil, "map_str_int miss")
eq(c:map_beg_int("a1", D .. "num.map"), 42, "map_beg_int")
eq(c:map_str("b", D .. "notnum.map"), "12abc", "map_str takes any value")
raises("converter 'map_str_int': " .. D .. "notnum.map:2: unable to parse '12abc' as an integer", function() return c:map_str_int("a", D .. "notnum.map") end)
raises("converter 'map_ip_int': " .. D .. "ip.map:1: unable to parse 'internal' as an integer", function() return c:map_ip_int("10.0.0.1", D .. "ip.map", 0) end)
raises("converter 'map_ip': " .. D .. "bad.map:2: 'bogus' is not a valid IPv4 or IPv6 address", function() return c:map_ip("1.2.3.4", D .. "bad.map") end)
`, "DIR", luaString(dir))
}

func TestLuaMap(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"geo.map":   "# country by network\n2.22.246.0/23    United Kingdom  \n10.0.0.0/8 Intranet\n::1 Loopback\n",
		"hosts.map": "example.com be1\n.example.net be2\n",
		"codes.map": "200 ok\n400:499 client\n",
		"bad.map":   "10.0.0.0/8 a\n\nbogus b\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runLua(t, `
local D = DIR .. "/"
-- constants, with HAProxy's numbers and the old names
eq(Map._int, 2) eq(Map._ip, 3) eq(Map._str, 6) eq(Map._beg, 7) eq(Map._sub, 8)
eq(Map._dir, 9) eq(Map._dom, 10) eq(Map._end, 11) eq(Map._reg, 12)
eq(Map.str, Map._str) eq(Map.ip, Map._ip) eq(Map["end"], Map._end)

-- at load time (body context), as HAProxy scripts do
local geo = Map.new(D .. "geo.map", Map._ip)
eq(geo:lookup("2.22.247.9"), "United Kingdom", "ip lookup")
eq(geo:lookup("10.9.9.9"), "Intranet", "ip lookup 2")
eq(geo:lookup("::1"), "Loopback", "ip v6")
eq(geo:lookup("8.8.8.8"), nil, "ip miss")
eq(geo:slookup("8.8.8.8"), "", "ip slookup miss")
eq(geo:slookup("10.0.0.1"), "Intranet", "ip slookup")
assert(tostring(geo):find("geo.map (ip)", 1, true))

local hosts = Map.new(D .. "hosts.map") -- Map._str by default
eq(hosts:lookup("example.com"), "be1", "str")
eq(hosts:lookup("www.example.com"), nil, "str exact")
eq(Map.new(D .. "hosts.map", Map._end):lookup("a.example.net"), "be2", "end")
eq(Map.new(D .. "hosts.map", Map._beg):lookup("example.community"), "be1", "beg")
eq(Map.new(D .. "hosts.map", Map._sub):lookup("xexample.comx"), "be1", "sub")
eq(Map.new(D .. "hosts.map", Map._dom):lookup("www.example.com"), "be1", "dom")
eq(Map.new(D .. "hosts.map", Map._dom):lookup("www.example.community"), nil, "dom miss")
eq(Map.new(D .. "hosts.map", Map._dir):lookup("/x/example.com/y"), "be1", "dir")
eq(Map.new(D .. "hosts.map", Map._reg):lookup("exampleXcom"), "be1", "reg (the dot is a regex dot)")
local codes = Map.new(D .. "codes.map", Map._int)
eq(codes:lookup(200), "ok", "int")
eq(codes:lookup("404"), "client", "int string")
eq(codes:lookup(500), nil, "int miss")

-- errors
raises("'new' needs 1 or 2 arguments", Map.new)
raises("bad argument #1 to 'new' (string expected, got table)", Map.new, {})
raises("bad argument #2 to 'new' (number expected, got string)", Map.new, "x", "str")
raises("'new' needs a valid match method", Map.new, "x", 99)
raises("'new' doesn't support the match method 'regm'", Map.new, "x", Map._regm)
raises("'new': /nonexistent/x.map: cannot read map file: no such file or directory", Map.new, "/nonexistent/x.map", Map._str)
local e = raises("bad.map:3: 'bogus' is not a valid IPv4 or IPv6 address", function() local m = Map.new(D .. "bad.map", Map._ip) return m end)
assert(e:find("api_test.lua:%d+: 'new': "), e)
raises("'lookup' needs 2 arguments", function() return geo:lookup() end)
raises("'lookup' needs 2 arguments", function() return geo:lookup("a", "b") end)
raises("bad argument #1 to 'lookup' (Map expected", function() return geo.lookup("1.2.3.4") end)
raises("bad argument #1 to 'lookup' (string expected, got table)", function() return geo:lookup({}) end)
raises("bad argument #1 to 'slookup' (number expected, got 'abc')", function() return codes:slookup("abc") end)
`, "DIR", luaString(dir))
}

// core.set_map and friends change what every state sees.
func TestLuaMapUpdatesShared(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shared.map"), []byte("a 1\n/x x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := []string{"DIR", luaString(dir)}
	sh := NewShared("", 2)
	runLuaState(t, sh, `
local D = DIR .. "/"
local m = Map.new(D .. "shared.map", Map._str)
eq(m:lookup("a"), "1")
core.set_map(D .. "shared.map", "a", "2")
core.set_map(D .. "shared.map", "b", "3")
core.del_map(D .. "shared.map", "/x")
eq(m:lookup("a"), "2", "set_map replaces")
eq(m:lookup("b"), "3", "set_map adds")
core.set_map(D .. "fresh.map", "k", "v") -- never loaded, no such file
core.add_acl(D .. "bots.acl", "curl")
core.add_acl(D .. "bots.acl", "wget")
core.del_acl(D .. "bots.acl", "curl")
raises("'set_map' needs 3 arguments: core.set_map(file, key, value)", core.set_map, D .. "x", "k")
raises("'del_map' needs 2 arguments", core.del_map, D .. "x")
raises("bad argument #2 to 'add_acl' (string expected, got table)", core.add_acl, D .. "x", {})
`, vars...)
	// another core
	runLuaState(t, sh, `
local D = DIR .. "/"
local m = Map.new(D .. "shared.map", Map._str)
eq(m:lookup("a"), "2", "other core sees set_map")
eq(m:lookup("b"), "3", "other core sees the added key")
eq(m:lookup("/x"), nil, "other core sees del_map")
eq(Map.new(D .. "shared.map", Map._beg):lookup("/x/y"), nil, "a new index too")
eq(Map.new(D .. "fresh.map"):lookup("k"), "v", "created by set_map")
local c = I.new_converters(false)
eq(c:map("b", D .. "shared.map"), "3", "map converter")
core.set_map(D .. "shared.map", "c", "4")
eq(c:map("c", D .. "shared.map"), "4", "map converter sees updates")
eq(core.match_acl(D .. "bots.acl", "wget"), true, "match_acl sees add_acl of another core")
eq(core.match_acl(D .. "bots.acl", "curl"), false, "match_acl sees del_acl")
eq(core.match_acl(D .. "bots.acl", "wget/1.2", Map._beg), true, "another method")
core.add_acl(D .. "bots.acl", "curl")
eq(core.match_acl(D .. "bots.acl", "curl"), true, "a cached answer is dropped at a change")
core.del_acl(D .. "bots.acl", "curl")
raises("bad argument #3 to 'match_acl'", core.match_acl, D .. "bots.acl", "x", Map._found)
raises("'match_acl' needs 2 or 3 arguments", core.match_acl, D .. "bots.acl")
`, vars...)
	if ok, err := sh.ACLMatch(filepath.Join(dir, "bots.acl"), "str", "wget"); !ok || err != nil {
		t.Errorf("wget: %v %v", ok, err)
	}
	if ok, _ := sh.ACLMatch(filepath.Join(dir, "bots.acl"), "str", "curl"); ok {
		t.Error("curl still there")
	}
	if v, ok := sh.MapLookup(filepath.Join(dir, "shared.map"), "str", "c"); !ok || v != "4" {
		t.Errorf("Go side: %q %v", v, ok)
	}
}

func TestLuaRegex(t *testing.T) {
	runLua(t, `
local st, regex = Regex.new("needle (..) (...)", true)
eq(st, true, "status")
eq(regex:exec("Looking for a needle in the haystack"), true, "exec")
eq(regex:exec("Lokking for a cat in the haystack"), false, "exec miss")
local ok, l = regex:match("Looking for a needle in the haystack")
eq(ok, true, "match")
eq(list(l), "needle in the|in|the", "captures")
ok, l = regex:match("nothing")
eq(ok, false, "no match")
eq(#l, 0, "no captures")
ok, l = select(2, Regex.new("(a)(x)?(b)")):match("ab")
eq(list(l), "ab|a", "stops at the first group that did not match")

local _, ci = Regex.new("^hello", false)
eq(ci:exec("HeLLo world"), true, "case-insensitive")
local _, cs = Regex.new("^hello")
eq(cs:exec("HeLLo world"), false, "case-sensitive by default")
eq(cs:exec(123), false, "number input")

local st2, err = Regex.new("foo(?!bar)", true)
eq(st2, false, "PCRE-only status")
assert(err:find("negative lookahead (?!...) is a PCRE feature", 1, true), err)
st2, err = Regex.new("(a)\\1")
assert(not st2 and err:find("backreference \\1", 1, true), err)
st2, err = Regex.new("a(")
assert(not st2 and err:find("missing closing )", 1, true), err)

raises("bad argument #1 to 'new' (string expected, got nil)", Regex.new)
raises("bad argument #2 to 'new' (boolean expected, got string)", Regex.new, "a", "yes")
raises("bad argument #1 to 'exec' (Regex expected", function() return regex.exec("x") end)
raises("bad argument #2 to 'match' (string expected, got table)", function() return regex:match({}) end)
`)
}

// A collected Regex frees its Go side.
func TestLuaRegexFreed(t *testing.T) {
	s, err := NewState(Options{Scripts: []Script{{Path: "gc.lua", Code: []byte(`
for i = 1, 200 do assert(Regex.new("x" .. i)) end
collectgarbage() collectgarbage()
keep = { Regex.new("kept") }
`)}}})
	if err != nil {
		t.Fatal(err)
	}
	regexes := &s.bind.regexes
	if n := regexes.live(); n > 5 {
		t.Errorf("%d regexes alive after collection", n)
	}
	s.Close()
	if n := regexes.live(); n != 0 {
		t.Errorf("%d regexes alive after close", n)
	}
}

func TestLuaCoreUtil(t *testing.T) {
	runLua(t, `
-- dates
eq(core.http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777, "http_date imf")
eq(core.http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777, "http_date rfc850")
eq(core.http_date("Sun Nov  6 08:49:37 1994"), 784111777, "http_date asctime")
eq(core.imf_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777, "imf_date")
eq(core.imf_date("Sun Nov  6 08:49:37 1994"), nil, "imf_date other format")
eq(core.rfc850_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777, "rfc850_date")
eq(core.rfc850_date("Sun, 06 Nov 1994 08:49:37 GMT"), nil, "rfc850_date other format")
eq(core.asctime_date("Sun Nov  6 08:49:37 1994"), 784111777, "asctime_date")
eq(core.asctime_date("garbage"), nil, "asctime_date garbage")
eq(core.http_date(""), nil, "http_date empty")
raises("bad argument #1 to 'http_date' (string expected, got nil)", core.http_date)

-- tokenize
eq(list(core.tokenize("This function is useful, for tokenizing an entry.", "., ", true)),
	"This|function|is|useful|for|tokenizing|an|entry", "tokenize noblank")
local t = core.tokenize("a,,b,", ",")
eq(#t, 4, "tokenize blanks") eq(t[2], "") eq(t[4], "")
eq(#core.tokenize("", ","), 1, "tokenize empty")
eq(#core.tokenize("", ",", true), 0, "tokenize empty noblank")
eq(list(core.tokenize("a b", "")), "a b", "no separators")
eq(list(core.tokenize("k=v;x=y", "=;")), "k|v|x|y", "several separators")
raises("bad argument #2 to 'tokenize' (string expected, got nil)", core.tokenize, "a")
raises("bad argument #3 to 'tokenize' (boolean expected, got number)", core.tokenize, "a", ",", 1)

-- concat
local c = core.concat()
for i = 1, 1000 do c:add("#") end
c:add(12)
eq(#c:dump(), 1002, "concat")
eq(c:dump():sub(-3), "#12", "concat tail")
assert(tostring(c):find("^Concat object: "), tostring(c))
eq(core.concat():dump(), "", "empty concat")
raises("bad argument #2 to 'add' (string expected, got table)", function() c:add({}) end)
raises("bad argument #1 to 'add' (Concat expected", function() c.add("x") end)

-- addresses
local pa, ma = core.parse_addr, core.match_addr
eq(ma(pa("127.0.0.1/32"), pa("127.0.0.0/8")), true, "v4 in network")
eq(ma(pa("127.0.0.0/8"), pa("127.0.0.1")), true, "order does not matter")
eq(ma(pa("10.0.0.1"), pa("11.0.0.0/8")), false, "v4 outside")
eq(ma(pa("192.168.1.9"), pa("192.168.0.0/255.255.0.0")), true, "dotted mask")
eq(ma(pa("10.0.0.1"), pa("10.0.0.1")), true, "same host")
eq(ma(pa("10.0.0.1"), pa("10.0.0.2")), false, "other host")
eq(ma(pa("255.255.255.255"), pa("255.0.0.0/8")), true, "high bits")
eq(ma(pa("2001:db8::1"), pa("2001:db8::/32")), true, "v6 in network")
eq(ma(pa("2001:db9::1"), pa("2001:db8::/32")), false, "v6 outside")
eq(ma(pa("::1"), pa("::1")), true, "v6 host")
eq(ma(pa("::1"), pa("127.0.0.1")), false, "families differ")
eq(ma("10.0.0.1", pa("10.0.0.1")), false, "not an address object")
eq(pa("junk"), nil, "parse_addr junk")
eq(pa("10.0.0.0/33"), nil, "parse_addr bad mask")
eq(tostring(pa("10.0.0.0/255.255.0.0")), "10.0.0.0/16", "normalized")
eq(tostring(pa("::1")), "::1/128", "normalized v6")
raises("bad argument #1 to 'parse_addr' (string expected, got nil)", pa)

-- get_info
local info = core.get_info()
eq(info.Name, "luaedge", "Name")
eq(type(info.Version), "string", "Version")
eq(type(info.Pid), "number", "Pid")
assert(info.Nbthread >= 1, "Nbthread")
eq(info.Nbproc, 1, "Nbproc")
eq(type(info.Uptime_sec), "number", "Uptime_sec")
assert(info.Uptime:find("^%d+d %d+h%d%dm%d%ds$"), info.Uptime)
eq(info.Memmax_MB, 0, "Memmax_MB")
eq(info.CurrConns, nil, "no made-up counters")
`)
}
