-- Cases written after what HAProxy's reg-tests/lua check.

-- lua_socket: a task waits for a port a request gives it, then asks an
-- HTTP server over core.tcp() and reads its answer to the close.
local sock_port, sock_answer

core.register_task(function()
	while sock_port == nil do core.msleep(5) end
	local s = core.tcp()
	local ok = s:connect("127.0.0.1", sock_port)
	if ok ~= 1 then
		sock_answer = "connect failed: " .. tostring(ok) .. "\n"
		return
	end
	s:send("GET /from-socket HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
	local parts = {}
	repeat
		local d = s:receive("*a")
		if d ~= nil then parts[#parts + 1] = d end
	until d == nil or d == ""
	-- The date changes: its line is left out.
	sock_answer = table.concat(parts):gsub("\r\n[Dd]ate: [^\r]*", "")
end)

core.register_service("sock_start", "http", function(applet)
	sock_port = tonumber(applet.headers["x-port"][0])
	applet:add_header("content-length", "3")
	applet:start_response()
	applet:send("ok\n")
end)

core.register_service("sock_result", "http", function(applet)
	local deadline = core.now().sec + 5
	while sock_answer == nil and core.now().sec < deadline do core.msleep(10) end
	local out = sock_answer or "the task did not finish\n"
	applet:add_header("content-length", #out)
	applet:start_response()
	applet:send(out)
end)

-- lua_str_embedded_nul: Lua strings holding a NUL byte as samples.
core.register_fetches("plain_word", function(txn) return "public" end)
core.register_fetches("word_nul", function(txn) return "public\0x" end)
core.register_converters("add_nul", function(s) return s .. "\0x" end)
core.register_action("set_nul", { "http-req" }, function(txn) txn:set_var("txn.nul", "public\0x") end)

-- bad_http_clt_req_duration: services that take their time, then answer
-- with nothing.
core.register_service("sleepy_http", "http", function(applet)
	core.msleep(200)
	applet:start_response()
end)

core.register_service("raw_tcp", "tcp", function(applet)
	core.msleep(200)
	applet:send("HTTP/1.1 200 OK\r\nTransfer-encoding: chunked\r\n\r\n0\r\n\r\n")
end)

-- close_wait_lf: a service that does nothing.
core.register_service("nothing", "http", function(applet) end)
