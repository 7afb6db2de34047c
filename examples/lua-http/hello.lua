-- A lua-http onstream handler, as written for lua-http's http.server:
-- only the last lines, which start it, are luaedge's. Every request gets
-- "Hello world!" (a HEAD request, the head only), and a log line.
local http_headers = require "http.headers"

local function onstream(myserver, stream) -- luacheck: ignore 212
	local req_headers = assert(stream:get_headers())
	local method = req_headers:get(":method")

	io.stdout:write(string.format('[%s] "%s %s HTTP/%g" "%s"\n', os.date("%d/%b/%Y:%H:%M:%S %z"),
		method or "", req_headers:get(":path") or "", stream.connection.version, req_headers:get("user-agent") or "-"))
	io.stdout:flush()

	local res_headers = http_headers.new()
	res_headers:append(":status", "200")
	res_headers:append("content-type", "text/plain")
	assert(stream:write_headers(res_headers, method == "HEAD"))
	if method ~= "HEAD" then
		assert(stream:write_chunk("Hello world!\n", true))
	end
end

-- Where lua-http would call http_server.listen{ onstream = onstream }:
-- luaedge's frontends listen, and this registers the handler as the
-- service they name (use_service: lua.hello).
core.register_service("hello", "http-stream", function(stream) return onstream(nil, stream) end)
