-- A self-checking service in the spirit of HAProxy's Lua validation
-- scripts: it runs checks of the core functions and of the Regex and Map
-- classes, and answers one line per check ("ok NAME" or "FAIL NAME: got
-- ..., want ..."), then a summary. The answer is the same on every run, so
-- that servers can be compared.

local checks = {}

local function check(name, got, want)
	if got == want then
		checks[#checks + 1] = "ok " .. name
	else
		checks[#checks + 1] = "FAIL " .. name .. ": got " .. tostring(got) .. ", want " .. tostring(want)
	end
end

local function join(t, sep)
	local parts = {}
	for i = 1, #t do parts[i] = tostring(t[i]) end
	return table.concat(parts, sep or "|")
end

local users = Map.new("str.map", Map._str)
local prefixes = Map.new("beg.map", Map._beg)

local function run()
	checks = {}
	check("log levels", join({ core.emerg, core.alert, core.crit, core.err, core.warning, core.notice, core.info, core.debug }, ","), "0,1,2,3,4,5,6,7")

	check("tokenize noblank", join(core.tokenize("This function is useful, for tokenizing an entry.", "., ", true)),
		"This|function|is|useful|for|tokenizing|an|entry")
	check("tokenize blanks", join(core.tokenize("a,,b", ",")), "a||b")

	local c = core.concat()
	c:add("Hello")
	c:add(", ")
	c:add("world")
	check("concat", c:dump(), "Hello, world")

	local net = core.parse_addr("10.0.0.0/8")
	check("parse_addr valid", net ~= nil, true)
	check("parse_addr invalid", core.parse_addr("ten.zero") == nil, true)
	check("match_addr v4", core.match_addr(core.parse_addr("10.20.30.40"), net), true)
	check("match_addr v4 order", core.match_addr(net, core.parse_addr("10.20.30.40")), true)
	check("match_addr v4 miss", core.match_addr(core.parse_addr("11.0.0.1"), net), false)
	check("match_addr v6", core.match_addr(core.parse_addr("fe80::1"), core.parse_addr("fe80::/10")), true)
	check("match_addr v6 miss", core.match_addr(core.parse_addr("2001:db8::1"), core.parse_addr("fe80::/10")), false)

	check("imf_date", core.imf_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777)
	check("rfc850_date", core.rfc850_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777)
	check("asctime_date", core.asctime_date("Sun Nov  6 08:49:37 1994"), 784111777)
	check("http_date", core.http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777)
	check("http_date asctime", core.http_date("Sun Nov  6 08:49:37 1994"), 784111777)

	local now = core.now()
	check("now", type(now.sec) == "number" and type(now.usec) == "number" and now.sec > 1600000000 and now.usec < 1000000, true)
	check("get_info", type(core.get_info()), "table")

	local ok, re = Regex.new("^/user/([0-9]+)$", true)
	check("Regex.new", ok, true)
	check("Regex exec", re:exec("/user/42"), true)
	local matched, list = re:match("/user/42")
	check("Regex match", matched, true)
	check("Regex captures", join(list), "/user/42|42")
	check("Regex miss", re:exec("/user/x"), false)

	check("Map str", users:lookup("alice"), "admin")
	check("Map str miss", users:lookup("nobody"), nil)
	check("Map slookup miss", users:slookup("nobody"), "")
	check("Map beg longest", prefixes:lookup("/api/v2/things"), "api-v2")

	local failed = 0
	for _, line in ipairs(checks) do
		if string.sub(line, 1, 4) == "FAIL" then failed = failed + 1 end
	end
	return table.concat(checks, "\n") .. "\n" .. #checks .. " checks, " .. failed .. " failed\n"
end

core.register_service("validation", "http", function(applet)
	local body = run()
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
