-- How a Socket read ends when the peer closes or the timeout passes: the
-- service asks the server of the query string (host:port) for a case
-- (the path's first word),
-- reads a line, then reads with the path's pattern (and a prefix), then
-- reads again, and answers with every value each read returned.
core.register_service("sockend", "http", function(applet)
	local addr = applet.qs
	local case, pattern = applet.path:match("^/(%w+)/(.*)$")
	pattern = tonumber(pattern) or pattern
	local s = core.tcp()
	s:settimeout(0.5)
	local out = {}
	local function note(...)
		local n = select("#", ...)
		local vals = {}
		for i = 1, n do vals[i] = string.format("%q", tostring((select(i, ...)))) end
		out[#out + 1] = n .. ":" .. table.concat(vals, ",")
	end
	note(s:connect(addr))
	s:send(case .. "\n")
	note(s:receive("*l"))
	note(s:receive(pattern, "pre-"))
	note(s:receive(pattern))
	s:close()
	local body = table.concat(out, " ") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)

-- What send and close return: a piece of the data, all of it, after the
-- server closed and read nothing more (the close seen by a read first),
-- and once closed.
core.register_service("socksend", "http", function(applet)
	local s = core.tcp()
	s:settimeout(0.5)
	local out = {}
	local function note(...)
		local n = select("#", ...)
		local vals = {}
		for i = 1, n do vals[i] = string.format("%q", tostring((select(i, ...)))) end
		out[#out + 1] = n .. ":" .. table.concat(vals, ",")
	end
	s:connect(applet.qs)
	note(s:send("xxemptyxx", 3, 7))
	note(s:send("\n"))
	note(s:send("abc", 3, 2))
	note(s:receive("*a"))
	note(s:close())
	note(s:send("late"))
	local body = table.concat(out, " ") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
