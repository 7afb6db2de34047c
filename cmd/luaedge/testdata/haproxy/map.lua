-- The Map class: one map per match method, loaded in the body context,
-- and runtime updates with core.set_map / core.del_map (done in an action,
-- as HAProxy's documentation lists them for actions, not services).
--
-- http_request: [lua.map_update]; use_service: lua.map_service

local maps = {
	str = Map.new("str.map", Map._str),
	beg = Map.new("beg.map", Map._beg),
	sub = Map.new("sub.map", Map._sub),
	dir = Map.new("dir.map", Map._dir),
	dom = Map.new("dom.map", Map._dom),
	["end"] = Map.new("end.map", Map._end),
	reg = Map.new("reg.map", Map._reg),
	int = Map.new("int.map", Map._int),
	ip = Map.new("ip.map", Map._ip),
}

-- The old names of the match methods still work.
local str_old_name = Map.new("str.map", Map.str)

local lookups = {
	{ "str", "alice" }, { "str", "bob" }, { "str", "carol" },
	{ "beg", "/api/v2/users" }, { "beg", "/api/v1" }, { "beg", "/other" }, { "beg", "/new/thing" },
	{ "sub", "Mozilla mobile Safari" }, { "sub", "Googlebot/2.1" }, { "sub", "curl/8" },
	{ "dir", "/static/images/a.png" }, { "dir", "/imagesx/a" }, { "dir", "/admin" },
	{ "dom", "www.example.com" }, { "dom", "shop.example.org" }, { "dom", "workshop.net" },
	{ "end", "/a/b.css" }, { "end", "/a.jpgx" },
	{ "reg", "/user/42" }, { "reg", "/user/abc" }, { "reg", "/post/hello" },
	{ "int", 5 }, { "int", 150 }, { "int", 5000 },
	{ "ip", "10.1.2.3" }, { "ip", "192.168.1.7" }, { "ip", "8.8.8.8" }, { "ip", "2001:db8::1" },
}

core.register_action("map_update", { "http-req" }, function(txn)
	local path = txn.f:path()
	if path == "/update" then
		core.set_map("str.map", "carol", "guest")
		core.set_map("str.map", "alice", "root")
		core.del_map("str.map", "bob")
		core.set_map("beg.map", "/new", "new-prefix")
		-- seen at once, in the same request
		txn:set_var("txn.same_request", maps.str:lookup("carol"))
	end
end)

core.register_service("map_service", "http", function(applet)
	local out = {}
	for _, l in ipairs(lookups) do
		local m = maps[l[1]]
		out[#out + 1] = l[1] .. "(" .. tostring(l[2]) .. ")=" .. tostring(m:lookup(l[2])) .. " s=[" .. m:slookup(l[2]) .. "]"
	end
	out[#out + 1] = "old_name(alice)=" .. tostring(str_old_name:lookup("alice"))
	out[#out + 1] = "same_request=" .. tostring(applet:get_var("txn.same_request"))
	local body = table.concat(out, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
