-- core.httpclient() from a service, a task and a tcp-request action; the
-- echo server's address comes in the x-echo header the configuration sets
-- (host:port), a port nothing listens on in x-closed.

-- show writes a response table: every field, the headers sorted by name
-- (without date, which changes), each value with its index.
local function show(r)
	if type(r) ~= "table" then return "not a table: " .. tostring(r) .. "\n" end
	local out = { "status=" .. type(r.status) .. ":" .. tostring(r.status), "reason=" .. tostring(r.reason) }
	local names = {}
	for name in pairs(r.headers or {}) do
		if name ~= "date" then names[#names + 1] = name end
	end
	table.sort(names)
	for _, name in ipairs(names) do
		local vs = r.headers[name]
		local line = {}
		for i = 0, #vs do line[#line + 1] = i .. "=" .. tostring(vs[i]) end
		out[#out + 1] = "header " .. name .. " " .. table.concat(line, " ")
	end
	out[#out + 1] = "body(" .. #r.body .. ")=" .. r.body:sub(1, 200)
	return table.concat(out, "\n") .. "\n"
end

-- numbered makes a body of n lines "i: some words".
local function numbered(n)
	local lines = {}
	for i = 0, n do lines[#lines + 1] = i .. ": the quick brown fox\n" end
	return table.concat(lines)
end

-- errmsg calls f, which must not end in a tail call: LuaJIT's tail
-- calls leave no line for an error to name.
local function errmsg(f)
	local ok, err = pcall(f)
	return "ok=" .. tostring(ok) .. " err=" .. tostring(err) .. "\n"
end

local task_target, task_result

core.register_task(function()
	while task_target == nil do core.msleep(5) end
	local hc = core.httpclient()
	local r = hc:post{ url = "http://" .. task_target .. "/from-task", body = numbered(2000) }
	task_result = show(r)
end)

core.register_service("hc", "http", function(applet)
	local echo = applet.headers["x-echo"][0]
	local closed = applet.headers["x-closed"][0]
	local base = "http://" .. echo
	local hc = core.httpclient()
	local out
	local path = applet.path
	if path == "/get" then
		out = show(hc:get{ url = base .. "/x?y=1", headers = { ["X-A"] = { "1", "2" }, ["x-b"] = "not a list" } })
	elseif path == "/created" then
		out = show(hc:get{ url = base .. "/created" })
	elseif path == "/reason" then
		out = show(hc:get{ url = "http://" .. applet.headers["x-reason"][0] .. "/" })
	elseif path == "/framing" then
		out = show(hc:post{ url = base .. "/framing", body = "hello body" })
	elseif path == "/post-big" then
		-- As the reg-test: a large body out, a large body back, sent again.
		local r1 = hc:post{ url = base .. "/p1", body = numbered(2000) }
		local r2 = core.httpclient():get{ url = base .. "/gen?n=54000" }
		local r3 = core.httpclient():post{ url = base .. "/p2", body = r2.body }
		out = show(r1) .. "r2 " .. r2.status .. " " .. #r2.body .. "\n" .. show(r3)
	elseif path == "/head" then
		out = show(hc:head{ url = base .. "/h" })
	elseif path == "/put" then
		out = show(hc:put{ url = base .. "/u", body = "put body" })
	elseif path == "/delete" then
		out = show(hc:delete{ url = base .. "/d" })
	elseif path == "/dst" then
		out = show(hc:get{ url = "http://backend.example/viadst", dst = echo })
	elseif path == "/host" then
		out = show(hc:get{ url = base .. "/h", headers = { host = { "virtual.example" }, ["user-agent"] = { "mine" }, accept = { "text/plain" } } })
	elseif path == "/refused" then
		out = show(hc:get{ url = "http://" .. closed .. "/" })
	elseif path == "/timeout" then
		out = show(hc:get{ url = base .. "/slow", timeout = 300 })
	elseif path == "/twice" then
		local a = hc:get{ url = base .. "/one" }
		local b = hc:get{ url = base .. "/two" }
		out = a.body .. b.body
	elseif path == "/errors" then
		out = errmsg(function() local r = hc:get{ url = base, nope = 1 } return r end)
			.. errmsg(function() local r = hc:get{} return r end)
			.. errmsg(function() local r = hc:post{ body = "x" } return r end)
			.. errmsg(function() local r = hc:get("http://x/") return r end)
			.. errmsg(function() local r = hc:get{ url = 42 } return r end)
			.. errmsg(function() local r = hc:get{ url = base, body = 1 } return r end)
			.. errmsg(function() local r = hc:get{ url = base, headers = "x" } return r end)
			.. errmsg(function() local r = hc:get{ url = base, timeout = "1" } return r end)
	elseif path == "/task" then
		task_target = echo
		local deadline = core.now().sec + 5
		while task_result == nil and core.now().sec < deadline do core.msleep(10) end
		out = task_result or "the task did not finish\n"
	else
		out = "unknown path\n"
	end
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #out)
	applet:start_response()
	applet:send(out)
end)

-- As HAProxy's reg-test of the client in a tcp-request action.
core.register_action("hc_action", { "tcp-req" }, function(txn, echo)
	local r = core.httpclient():get{ url = "http://" .. echo .. "/from-action", headers = { Host = { "localhost" } } }
	txn:set_var("txn.hc_status", r.status)
	txn:set_var("txn.hc_body", r.body)
end, 1)
