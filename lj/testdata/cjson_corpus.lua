-- Cases for require("cjson"), run both by luaedge's module and, where the
-- system has them, by LuaJIT with lua-cjson (lj/cjson_test.go): each
-- case emits one line, which must be the same.
function run(cjson, emit)
	-- show writes a decoded value with sorted keys.
	local function show(v)
		if type(v) ~= "table" then
			if v == cjson.null then return "null" end
			return type(v) .. ":" .. tostring(v)
		end
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
		local parts = {}
		for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
		return "{" .. table.concat(parts, ",") .. "}"
	end
	local function try(f, ...)
		local r = { pcall(f, ...) }
		local parts = {}
		for i = 1, select("#", unpack(r)) do parts[i] = show(r[i]) end
		return table.concat(parts, " ")
	end
	local enc = function(v) emit("encode " .. try(cjson.encode, v)) end
	local dec = function(s) emit("decode " .. s .. " -> " .. try(cjson.decode, s)) end

	enc({ 1, 2, 3 }); enc({}); enc({ a = 1 }); enc({ a = { b = { true, false } } })
	enc("a/b\"\\\1\127\n\t\b\f\r"); enc("\0"); enc("é")
	enc(0.1); enc(1 / 3); enc(1e15); enc(1234567890123456); enc(-0.0); enc(42); enc(-7.25); enc(1e-7)
	enc(0 / 0); enc(1 / 0); enc(-1 / 0)
	enc({ [1] = 1, [3] = 3 }); enc({ [1] = 1, [20] = 3 }); enc({ [2] = 1 }); enc({ [1.5] = 1 }); enc({ [-1] = 1 })
	enc({ [true] = 1 }); enc(print); enc(cjson.null); enc({ cjson.null }); enc(nil); enc(true)
	local t = {}; t[1] = t; enc(t)
	dec(""); dec("{"); dec('{"a"'); dec('{"a":'); dec('{"a":1'); dec("[1,2"); dec("[1,]"); dec('{"a":1,}')
	dec("{1:2}"); dec("nul"); dec('"abc'); dec('"\\x"'); dec('"\\u12"'); dec('"\\ud800"'); dec('"\\udc00"')
	dec('"\\ud83d\\ude00"'); dec('"\\u00e9\\u0041"'); dec('"a\\nb\\t\\"\\\\\\/"'); dec("1 2"); dec("  [1, 2.5, -3e2, true, false, null, \"x\"]  ")
	dec("0x10"); dec("01"); dec("-"); dec("1."); dec(".5"); dec("NaN"); dec("-Infinity"); dec("+1"); dec("1e400")
	dec('{"a":null}'); dec('{"a":[],"b":{}}'); dec('"\\u0000"'); dec("[1e2, 1E2, 100, -0, 1.0]"); dec("12345678901234567890")
	dec("true"); dec("false"); dec("null"); dec("tru"); dec("[1 2]"); dec('{"a" 1}'); dec('{"a":1 "b":2}'); dec("]")
	dec(string.rep("[", 1001) .. string.rep("]", 1001)); dec('{"a":{"b":{"c":1}}}')
	emit("null " .. tostring(cjson.decode("[null]")[1] == cjson.null) .. " " .. type(cjson.null))
	emit("decode number " .. try(cjson.decode, 12))
	emit("args " .. try(cjson.encode_sparse_array) .. " | " .. try(cjson.encode_max_depth) .. " | " .. try(cjson.decode_max_depth)
		.. " | " .. try(cjson.encode_invalid_numbers) .. " | " .. try(cjson.decode_invalid_numbers) .. " | " .. try(cjson.encode_number_precision))
	cjson.encode_number_precision(3); enc(3.14159); cjson.encode_number_precision(14)
	cjson.encode_sparse_array(true); enc({ [1] = 1, [20] = 3 }); cjson.encode_sparse_array(false, 2, 10)
	enc({ [1] = 1, [11] = 3 }); enc({ [1] = 1, [10] = 3 })
	cjson.encode_invalid_numbers(true); enc(1 / 0); enc(-1 / 0)
	cjson.encode_invalid_numbers("null"); enc(0 / 0); cjson.encode_invalid_numbers(false)
	cjson.decode_invalid_numbers(false); dec("0x10"); dec("NaN"); dec("01"); dec("+1"); cjson.decode_invalid_numbers(true)
	cjson.encode_max_depth(2); enc({ { { 1 } } }); enc({ { 1 } }); cjson.encode_max_depth(1000)
	cjson.decode_max_depth(2); dec("[[[1]]]"); dec('{"a":{"b":{"c":1}}}'); dec("[[1]]"); cjson.decode_max_depth(1000)
	local c2 = cjson.new(); c2.encode_number_precision(3)
	emit("new " .. c2.encode(1 / 3) .. " " .. cjson.encode(1 / 3))
end
