-- The service of luaedge's end-to-end tests (../e2e_test.go): one route per
-- behaviour under test, chosen by the request path.

local function reply(applet, status, body, ctype)
	applet:set_status(status)
	applet:add_header("content-type", ctype or "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end

-- params parses a query string "a=1&b=2" (no decoding).
local function params(qs)
	local t = {}
	for k, v in qs:gmatch("([^&=]+)=([^&]*)") do
		t[k] = v
	end
	return t
end

local routes = {}

routes["/hello"] = function(applet)
	reply(applet, 200, "Hello World !")
end

-- /path/ANYTHING answers with the path, to tell pipelined answers apart.
routes["/path"] = function(applet)
	reply(applet, 200, "path=" .. applet.path)
end

-- /info shows the request as the service sees it.
routes["/info"] = function(applet)
	local lines = {
		"method=" .. applet.method,
		"path=" .. applet.path,
		"qs=" .. applet.qs,
		"version=" .. applet.version,
		"length=" .. applet.length,
	}
	local names = {}
	for name in pairs(applet.headers) do
		names[#names + 1] = name
	end
	table.sort(names)
	for _, name in ipairs(names) do
		local values = applet.headers[name]
		for i = 0, #values do
			lines[#lines + 1] = "header " .. name .. "[" .. i .. "]=" .. values[i]
		end
	end
	reply(applet, 200, table.concat(lines, "\n") .. "\n")
end

-- /body answers with the length of the whole request body, ":" and the body.
routes["/body"] = function(applet)
	local body = applet:receive()
	reply(applet, 200, #body .. ":" .. body)
end

-- /trickle reads the body a byte at a time: it waits for more only when
-- nothing is left unread.
routes["/trickle"] = function(applet)
	local parts = {}
	while true do
		local b = applet:receive(1)
		if b == "" then break end
		parts[#parts + 1] = b
	end
	local body = table.concat(parts)
	reply(applet, 200, #body .. ":" .. body)
end

-- /lines reads the body with getline until it ends.
routes["/lines"] = function(applet)
	local out = {}
	while true do
		local line = applet:getline()
		out[#out + 1] = "[" .. (line:gsub("\n", "\\n")) .. "]"
		if line == "" then break end
	end
	reply(applet, 200, table.concat(out))
end

-- /receive-sizes reads the body in pieces of 3 and 4 bytes, then the rest.
routes["/receive-sizes"] = function(applet)
	local parts = {
		applet:receive(3),
		applet:receive(4),
		applet:receive(),
		applet:receive(),
		applet:receive(5),
	}
	reply(applet, 200, table.concat(parts, "|"))
end

-- /chunks has no content-length: three sends with loop turns in between.
routes["/chunks"] = function(applet)
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send("one")
	core.yield()
	applet:send("two")
	core.yield()
	applet:send("three")
end

routes["/reason"] = function(applet)
	applet:set_status(418, "Short And Stout")
	applet:add_header("content-length", 6)
	applet:start_response()
	applet:send("teapot")
end

routes["/created"] = function(applet)
	reply(applet, 201, "created")
end

-- /inject tries to smuggle a header through the reason phrase.
routes["/inject"] = function(applet)
	applet:set_status(200, "OK\r\nX-Injected: yes")
	applet:add_header("content-length", 2)
	applet:start_response()
	applet:send("ok")
end

-- /bad-header-value tries to smuggle a header through a header value.
routes["/bad-header-value"] = function(applet)
	applet:set_status(200)
	applet:add_header("x-a", "1\r\nX-Injected: yes")
	applet:add_header("content-length", 2)
	applet:start_response()
	applet:send("ok")
end

routes["/priv"] = function(applet)
	local before = applet:get_priv()
	applet:set_priv({ n = 42 })
	reply(applet, 200, "before=" .. tostring(before) .. " after=" .. applet:get_priv().n)
end

-- /txn exercises txn.* variables; txn.keep must not survive the request.
routes["/txn"] = function(applet)
	local out = {}
	out[#out + 1] = "keep=" .. tostring(applet:get_var("txn.keep"))
	applet:set_var("txn.keep", "set")
	applet:set_var("txn.a", "x")
	out[#out + 1] = "a=" .. tostring(applet:get_var("txn.a"))
	applet:unset_var("txn.a")
	out[#out + 1] = "unset=" .. tostring(applet:get_var("txn.a"))
	applet:set_var("txn.b", "y", true)
	out[#out + 1] = "ifexist-new=" .. tostring(applet:get_var("txn.b"))
	applet:set_var("txn.c", 1)
	applet:set_var("txn.c", 2, true)
	out[#out + 1] = "ifexist-old=" .. tostring(applet:get_var("txn.c"))
	reply(applet, 200, table.concat(out, " "))
end

routes["/proc-incr"] = function(applet)
	local n = (applet:get_var("proc.e2e_counter") or 0) + 1
	applet:set_var("proc.e2e_counter", n)
	reply(applet, 200, tostring(n))
end

routes["/proc-set"] = function(applet)
	applet:set_var("proc.e2e_name", params(applet.qs).v)
	reply(applet, 200, "ok")
end

routes["/proc-get"] = function(applet)
	reply(applet, 200, "name=" .. tostring(applet:get_var("proc.e2e_name")))
end

routes["/proc-unset"] = function(applet)
	applet:unset_var("proc.e2e_name")
	reply(applet, 200, "ok")
end

routes["/sess-set"] = function(applet)
	applet:set_var("sess.user", params(applet.qs).v)
	reply(applet, 200, "ok")
end

routes["/sess-get"] = function(applet)
	reply(applet, 200, "user=" .. tostring(applet:get_var("sess.user")))
end

routes["/boom"] = function(applet)
	error("e2e failure from Lua")
end

routes["/bad-var-set"] = function(applet)
	applet:set_var("bogus", 1)
	reply(applet, 200, "not reached")
end

routes["/bad-var-get"] = function(applet)
	local v = applet:get_var("nope.x")
	reply(applet, 200, "not reached " .. tostring(v))
end

-- /log writes to the server log at two levels.
routes["/log"] = function(applet)
	core.Warning("e2e warning from Lua")
	core.Debug("e2e debug from Lua")
	reply(applet, 200, "logged")
end

-- /sleep?ms=N parks the request for N ms.
routes["/sleep"] = function(applet)
	local ms = tonumber(params(applet.qs).ms) or 1000
	core.msleep(ms)
	reply(applet, 200, "slept " .. ms)
end

routes["/sleep-sec"] = function(applet)
	core.sleep(0.2)
	reply(applet, 200, "slept 0.2s")
end

routes["/yield"] = function(applet)
	for _ = 1, 100 do
		core.yield()
	end
	reply(applet, 200, "yielded 100")
end

-- /spin gives the loop turns with core.yield until /spin-stop is
-- requested (or 2 s have passed), then tells how it ended.
routes["/spin"] = function(applet)
	local t0 = core.now()
	local n = 0
	while applet:get_var("proc.e2e_spin_stop") == nil do
		local now = core.now()
		if (now.sec - t0.sec) + (now.usec - t0.usec) / 1e6 > 2 then
			return reply(applet, 200, "gave up after " .. n .. " yields")
		end
		core.yield()
		n = n + 1
	end
	applet:unset_var("proc.e2e_spin_stop")
	reply(applet, 200, "stopped")
end

routes["/spin-stop"] = function(applet)
	applet:set_var("proc.e2e_spin_stop", true)
	reply(applet, 200, "ok")
end

-- /stream-slow sends its head, waits, then ends (graceful stop).
routes["/stream-slow"] = function(applet)
	local ms = tonumber(params(applet.qs).ms) or 500
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send("first\n")
	core.msleep(ms)
	applet:send("second\n")
end

-- /big?n=N answers N bytes (a repeated alphabet), in sends of 10000 bytes.
routes["/big"] = function(applet)
	local n = tonumber(params(applet.qs).n)
	local block = string.rep("abcdefghijklmnopqrstuvwxyz", 400):sub(1, 10000)
	applet:set_status(200)
	if params(applet.qs).chunked == nil then
		applet:add_header("content-length", n)
	end
	applet:start_response()
	local sent = 0
	while sent < n do
		local piece = block:sub(1, math.min(#block, n - sent))
		applet:send(piece)
		sent = sent + #piece
	end
end

-- /sum reads the body in 1000-byte pieces and answers its length and a checksum.
routes["/sum"] = function(applet)
	local total, sum = 0, 0
	while true do
		local piece = applet:receive(1000)
		if piece == "" then break end
		total = total + #piece
		for i = 1, #piece do
			sum = (sum + piece:byte(i)) % 1000000007
		end
	end
	reply(applet, 200, total .. " " .. sum)
end

-- /short declares 10 bytes and sends 5.
routes["/short"] = function(applet)
	applet:set_status(200)
	applet:add_header("content-length", 10)
	applet:start_response()
	applet:send("12345")
end

-- /close asks for the connection to be closed after the answer.
routes["/close"] = function(applet)
	applet:set_status(200)
	applet:add_header("connection", "close")
	applet:add_header("content-length", 3)
	applet:start_response()
	applet:send("bye")
end

-- /empty returns without starting its response: a 500, as in HAProxy.
routes["/empty"] = function(applet)
end

routes["/no-content"] = function(applet)
	applet:set_status(204)
	applet:start_response()
end

core.register_service("routes", "http", function(applet)
	local route = routes[applet.path] or routes[applet.path:match("^/[^/]*")]
	if route == nil then
		return reply(applet, 404, "not found: " .. applet.path .. "\n")
	end
	return route(applet)
end)
