-- The core class of HAProxy's Lua API, driven by HTTP requests.
--
-- http_request: [lua.core_step1, lua.core_step2]; use_service: lua.core.
-- The service answers GET /<what> with "key=value" lines; core_step1 does
-- what belongs in an action (core.done, Lua fetches and converters, map and
-- ACL updates) and passes its results on as request headers.

-- Each core has its own Lua state: a table address tells them apart.
local worker = string.match(tostring({}), "0x%x+") or tostring({})

local init_runs, init_state = 0, "not run"
core.register_init(function()
	init_runs = init_runs + 1
	init_state = "ran before traffic"
end)

-- A background task, one per core: every 50 ms it counts a wake-up in
-- its state and in the proc.hx_ticks variable that every core shares
-- (core.set_var is luaedge's; HAProxy 2.6 has no variable access in tasks).
local ticks = 0
core.register_task(function()
	while true do
		ticks = ticks + 1
		core.set_var("proc.hx_ticks", (core.get_var("proc.hx_ticks") or 0) + 1)
		core.msleep(50)
	end
end)

core.register_fetches("greet", function(txn, who)
	return "hello " .. (who or txn.f:method())
end)

core.register_converters("shout", function(str, suffix)
	return string.upper(str) .. (suffix or "!")
end)

-- core.done(data) hands data back to the caller of a fetch or converter.
core.register_fetches("early", function(txn)
	core.done("early")
	return "late"
end)

core.register_converters("early", function(str)
	core.done("early:" .. str)
	return "late"
end)

local shared = Map.new("shared.map", Map._str)

local function arg(query, name)
	for k, v in string.gmatch(query or "", "([^&=]+)=([^&]*)") do
		if k == name then return v end
	end
end

local function lines(list)
	local out = {}
	for _, kv in ipairs(list) do
		out[#out + 1] = kv[1] .. "=" .. tostring(kv[2])
	end
	return table.concat(out, "\n") .. "\n"
end

local function answer(applet, status, body)
	applet:set_status(status)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end

local function header(applet, name)
	local v = applet.headers[name]
	return v and v[0]
end

core.register_action("core_step1", { "http-req" }, function(txn)
	local path, query = txn.f:path(), txn.f:query()
	if path == "/steps" then
		txn.http:req_set_header("x-step1", "started")
		txn.http:req_set_header("x-fetch", txn.f:lua_greet("bob"))
		txn.http:req_set_header("x-sfetch", txn.sf:lua_greet())
		txn.http:req_set_header("x-conv", txn.c:shout("hi"))
		txn.http:req_set_header("x-conv-lua", txn.c:lua_shout("hi", "?"))
		txn.http:req_set_header("x-sconv", txn.sc:shout(12))
		core.done()
		txn.http:req_set_header("x-step1", "not stopped by core.done")
	elseif path == "/early" then
		txn.http:req_set_header("x-early-fetch", tostring(txn.f:lua_early()))
		txn.http:req_set_header("x-early-conv", tostring(txn.c:lua_early("v")))
	elseif path == "/map/set" then
		core.set_map("shared.map", arg(query, "k"), arg(query, "v"))
	elseif path == "/map/del" then
		core.del_map("shared.map", arg(query, "k"))
	elseif path == "/acl/add" then
		core.add_acl("bots.acl", arg(query, "k"))
	elseif path == "/acl/del" then
		core.del_acl("bots.acl", arg(query, "k"))
	end
end)

core.register_action("core_step2", { "http-req" }, function(txn)
	txn.http:req_set_header("x-step2", "ran")
end)

local routes = {}

routes["/levels"] = function()
	return {
		{ "emerg", core.emerg }, { "alert", core.alert }, { "crit", core.crit }, { "err", core.err },
		{ "warning", core.warning }, { "notice", core.notice }, { "info", core.info }, { "debug", core.debug },
	}
end

routes["/log"] = function(applet)
	local tag = arg(applet.qs, "tag")
	core.log(core.err, tag .. " via log err")
	core.log(core.notice, tag .. " via log notice")
	core.log(core.debug, tag .. " via log debug")
	core.Debug(tag .. " via Debug")
	core.Info(tag .. " via Info")
	core.Warning(tag .. " via Warning")
	core.Alert(tag .. " via Alert")
	return { { "logged", tag } }
end

routes["/now"] = function()
	local now = core.now()
	return { { "sec", string.format("%d", now.sec) }, { "usec", string.format("%d", now.usec) } }
end

routes["/dates"] = function()
	local imf, rfc850, asctime = "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"
	return {
		{ "imf_date", core.imf_date(imf) },
		{ "rfc850_date", core.rfc850_date(rfc850) },
		{ "asctime_date", core.asctime_date(asctime) },
		{ "http_date_imf", core.http_date(imf) },
		{ "http_date_rfc850", core.http_date(rfc850) },
		{ "http_date_asctime", core.http_date(asctime) },
		{ "http_date_bad", core.http_date("yesterday at noon") },
		{ "imf_date_of_asctime", core.imf_date(asctime) },
	}
end

routes["/msleep"] = function(applet)
	local ms = tonumber(arg(applet.qs, "ms"))
	core.msleep(ms)
	return { { "slept_ms", ms } }
end

routes["/sleep"] = function()
	core.sleep(1)
	return { { "slept_s", 1 } }
end

routes["/yield"] = function(applet)
	local n = tonumber(arg(applet.qs, "n"))
	for _ = 1, n do core.yield() end
	return { { "yielded", n } }
end

routes["/tokenize"] = function()
	return {
		{ "noblank", table.concat(core.tokenize("This function is useful, for tokenizing an entry.", "., ", true), "|") },
		{ "blank", table.concat(core.tokenize("a,,b;c", ",;"), "|") },
		{ "blank_false", table.concat(core.tokenize("a,,b;c", ",;", false), "|") },
		{ "count", #core.tokenize("x y  z", " ") },
	}
end

routes["/concat"] = function()
	local c = core.concat()
	c:add("ab")
	c:add("cd")
	c:add("")
	c:add("ef")
	local first = c:dump()
	c:add("gh")
	return { { "dump", first }, { "dump_again", c:dump() } }
end

routes["/addr"] = function()
	local p = core.parse_addr
	local net4, ip4, other4 = p("192.168.0.0/16"), p("192.168.10.1"), p("10.0.0.1")
	local net6, ip6, other6 = p("2001:db8::/32"), p("2001:db8:1::5"), p("2001:db9::1")
	return {
		{ "v4_in", core.match_addr(ip4, net4) },
		{ "v4_in_reversed", core.match_addr(net4, ip4) },
		{ "v4_out", core.match_addr(other4, net4) },
		{ "v4_doc_example", core.match_addr(p("127.0.0.1/32"), p("127.0.0.0/8")) },
		{ "v4_dotted_mask", core.match_addr(p("10.1.2.3"), p("10.0.0.0/255.0.0.0")) },
		{ "v6_in", core.match_addr(ip6, net6) },
		{ "v6_in_reversed", core.match_addr(net6, ip6) },
		{ "v6_out", core.match_addr(other6, net6) },
		{ "v6_loopback", core.match_addr(p("::1"), p("::1/128")) },
		{ "mixed", core.match_addr(ip4, net6) },
		{ "invalid", p("not an address") },
		{ "invalid_v4", p("300.1.1.1") },
	}
end

routes["/info"] = function()
	local info = core.get_info()
	return {
		{ "Pid", info.Pid },
		{ "Nbthread", info.Nbthread },
		{ "Uptime_sec_type", type(tonumber(info.Uptime_sec)) },
		{ "Version_type", type(info.Version) },
	}
end

routes["/state"] = function(applet)
	return {
		{ "init_state", init_state }, { "init_runs", init_runs }, { "worker", worker },
		{ "ticks", ticks }, { "proc_ticks", applet:get_var("proc.hx_ticks") },
	}
end

routes["/steps"] = function(applet)
	local out = {}
	for _, h in ipairs({ "x-step1", "x-step2", "x-fetch", "x-sfetch", "x-conv", "x-conv-lua", "x-sconv" }) do
		out[#out + 1] = { h, header(applet, h) }
	end
	return out
end

routes["/early"] = function(applet)
	return {
		{ "x-early-fetch", header(applet, "x-early-fetch") },
		{ "x-early-conv", header(applet, "x-early-conv") },
		{ "x-step2", header(applet, "x-step2") },
	}
end

local function map_state(applet)
	local k = arg(applet.qs, "k")
	return { { "worker", worker }, { "key", k }, { "value", shared:lookup(k) } }
end
routes["/map/set"] = map_state
routes["/map/del"] = map_state
routes["/map/get"] = map_state

-- An ACL file has patterns without values, so a lookup cannot tell whether
-- a pattern is there; opening the file as a map does: it is refused while
-- the file has ACL patterns.
local function acl_state(applet)
	local m = arg(applet.qs, "m")
	local ok, err = pcall(Map.new, "bots.acl", Map["_" .. m])
	return { { "worker", worker }, { "opened_as_map", ok }, { "error", ok and "" or tostring(err) } }
end
routes["/acl/add"] = acl_state
routes["/acl/del"] = acl_state
routes["/acl/probe"] = acl_state

core.register_service("core", "http", function(applet)
	if applet.path == "/done" then
		-- core.done ends the service; what it sent so far is the answer.
		applet:set_status(202)
		applet:add_header("x-before", "1")
		applet:add_header("content-length", "6")
		applet:start_response()
		applet:send("before")
		core.done()
		applet:send("after!")
		return
	end
	local route = routes[applet.path]
	if route == nil then
		answer(applet, 404, "no route " .. applet.path .. "\n")
		return
	end
	answer(applet, 200, lines(route(applet)))
end)
