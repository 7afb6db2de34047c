-- The Converters class (txn.c, txn.sc), with answers checked against
-- HAProxy 2.6. Arguments are spelled out as HAProxy's Lua requires.
--
-- http_request: [lua.conv_req]; use_service: lua.conv_service
-- GET /        converters called from an action (txn.c, txn.sc)
-- GET /applet  the same objects on the service's AppletHTTP (applet.c ...)

local function results(c, sc)
	local out = {}
	local function add(k, v) out[#out + 1] = k .. "=" .. tostring(v) end
	add("lower", c:lower("HeLLo"))
	add("upper", c:upper("HeLLo"))
	add("base64", c:base64("hello"))
	add("b64dec", c:b64dec("aGVsbG8="))
	add("hex", c:hex("AB\0"))
	add("unhex", c:unhex("48656C6C6F"))
	add("url_dec", c:url_dec("a%20b%2Fc+d?e+f", 0))
	add("url_enc", c:url_enc("a b&c=d/e?f~g-h.i_j:@!*()", "query"))
	add("json", c:json("a\"b\\c\n\1", "ascii"))
	add("sha1", c:hex(c:sha1("abc")))
	add("sha2", c:hex(c:sha2("abc", 256)))
	add("sha2_512", c:hex(c:sha2("abc", 512)))
	add("crc32", c:crc32("abc", 0))
	add("djb2", c:djb2("abc", 0))
	add("length", c:length("hello"))
	add("length_type", type(c:length("hello")))
	add("bytes", c:bytes("hello", 1, 3))
	add("bytes_zero_len", "[" .. c:bytes("hello", 2, 0) .. "]")
	add("field", c:field("a,b,c,d", 2, ",", 1))
	add("field_back", c:field("a,b,c,d", -2, ",", 2))
	add("word", c:word("/a//b/c", 2, "/", 1))
	add("word_back", c:word("/a//b/c", -1, "/", 1))
	add("regsub", c:regsub("aaa-bbb", "a", "x", "g"))
	add("regsub_refs", c:regsub("hello world", "(o)(.)", "<\\2\\1>", ""))
	add("ipmask", c:ipmask("192.168.1.77", 24))
	add("sc_length", sc:length("abcd"))
	add("sc_length_type", type(sc:length("abcd")))
	add("sc_crc32_empty", sc:crc32("", 0))
	add("lower_of_number", c:lower(12))
	add("hex2i", c:hex2i("1A2b"))
	add("cut_crlf", "[" .. c:cut_crlf("abc\r\ndef") .. "]")
	add("ltrim", "[" .. c:ltrim("xxabcxx", "x") .. "]")
	add("rtrim", "[" .. c:rtrim("xxabcxx", "x") .. "]")
	add("ub64enc", c:ub64enc("\251\255\254>?"))
	add("ub64dec", c:hex(c:ub64dec("-__-Pj8")))
	add("base64_of_same", c:base64("\251\255\254>?"))
	add("crc32c", c:crc32c("abc", 0))
	add("sdbm", c:sdbm("abc", 0))
	add("wt6", c:wt6("abc", 0))
	add("crc32_avalanche", c:crc32("abc", 1))
	add("djb2_avalanche", c:djb2("abc", 1))
	add("sha2_224", c:hex(c:sha2("abc", 224)))
	add("sha2_384", c:hex(c:sha2("abc", 384)))
	add("json_utf8", c:json("\195\169\"", "utf8"))
	add("url_dec_in_form", c:url_dec("a+b%20c", 1))
	add("field_count_0", c:field("a,b,c,d", 2, ",", 0))
	add("word_count_2", c:word("a b  c d", 2, " ", 2))
	-- map converters: luaedge's addition (HAProxy 2.6's Lua cannot call them)
	add("map", c:map("www.example.com", "hosts.map"))
	add("map_str", c:map_str("api.example.com", "hosts.map"))
	add("map_str_default", c:map_str("unknown.example.com", "hosts.map", "fallback"))
	add("map_str_miss", c:map_str("unknown.example.com", "hosts.map"))
	add("map_beg", c:map_beg("www.example.com/x", "hosts.map"))
	add("map_end", c:map_end("my.api.example.com", "hosts.map"))
	add("map_str_int", c:map_str_int("www.example.com", "numbers.map", 7))
	add("map_int", c:map_int(150, "ranges.map"))
	add("map_ip", c:map_ip("10.9.8.7", "nets.map"))
	add("sc_map_str_miss", "[" .. sc:map_str("unknown.example.com", "hosts.map") .. "]")
	return table.concat(out, "\n") .. "\n"
end

core.register_action("conv_req", { "http-req" }, function(txn)
	if txn.f:path() == "/" then
		txn:set_var("txn.out", results(txn.c, txn.sc))
	end
end)

core.register_service("conv_service", "http", function(applet)
	local body
	if applet.path == "/applet" then
		-- HTTP fetches are refused in services, as HAProxy's.
		local ok, err = pcall(applet.f.method, applet.f)
		body = results(applet.c, applet.sc) .. "f_method=" .. tostring(ok) .. " " .. tostring(err) ..
			"\nsf_dst_port_type=" .. type(applet.sf:dst_port()) .. "\n"
	else
		body = applet:get_var("txn.out")
	end
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
