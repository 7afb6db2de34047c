-- The demo service of luaedge's embedded default configuration: a few
-- things a Lua service can do. Try:
--   curl localhost:8080/            this help
--   curl localhost:8080/echo?x=1    the request as the service sees it
--   curl localhost:8080/json        a JSON answer
--   curl -N localhost:8080/stream   a chunked answer, one line every 200 ms
--   curl -d 'some body' localhost:8080/upload   read a request body

local function reply(applet, status, ctype, body)
	applet:set_status(status)
	applet:add_header("content-type", ctype)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end

local function json_string(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		return string.format("\\u%04x", c:byte())
	end) .. '"'
end

local routes = {}

routes["/"] = function(applet)
	reply(applet, 200, "text/plain", table.concat({
		"luaedge demo service",
		"  /echo     the request as a Lua service sees it",
		"  /json     a JSON answer",
		"  /stream   a chunked answer written over a second",
		"  /upload   POST a body; get its size back",
		"",
	}, "\n"))
end

routes["/echo"] = function(applet)
	local lines = {
		"method: " .. applet.method,
		"path: " .. applet.path,
		"query: " .. applet.qs,
		"version: " .. applet.version,
	}
	local names = {}
	for name in pairs(applet.headers) do names[#names + 1] = name end
	table.sort(names)
	for _, name in ipairs(names) do
		local values = applet.headers[name]
		for i = 0, #values do
			lines[#lines + 1] = "header " .. name .. ": " .. values[i]
		end
	end
	reply(applet, 200, "text/plain", table.concat(lines, "\n") .. "\n")
end

routes["/json"] = function(applet)
	local now = core.now()
	local body = string.format('{"server":"luaedge","path":%s,"time":%d,"jit":%s}\n',
		json_string(applet.path), now.sec, json_string(jit.version))
	reply(applet, 200, "application/json", body)
end

routes["/stream"] = function(applet)
	-- No content-length: the response is chunked and each send is a chunk.
	-- core.msleep parks this request only; the loop serves others meanwhile.
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	for i = 1, 5 do
		applet:send("chunk " .. i .. "\n")
		core.msleep(200)
	end
end

routes["/upload"] = function(applet)
	local body = applet:receive()
	reply(applet, 200, "text/plain", "received " .. #body .. " bytes\n")
end

core.register_service("demo", "http", function(applet)
	local route = routes[applet.path]
	if route then
		return route(applet)
	end
	reply(applet, 404, "text/plain", "not found: " .. applet.path .. "\n")
end)
