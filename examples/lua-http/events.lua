-- Server-sent events with lua-http's stream interface: a page at / that
-- subscribes to /event-stream, which sends the time every second, one
-- chunk at a time, until the client goes away. Only the sleep (luaedge's
-- core.sleep where lua-http would use cqueues.sleep) and the
-- registration at the end are luaedge's.
local http_headers = require "http.headers"

local page = [[
<!DOCTYPE html>
<html>
<head><title>Server time</title></head>
<body>
<p id="time">waiting for the first event...</p>
<script>
new EventSource("/event-stream").onmessage = function (e) {
	document.getElementById("time").textContent = e.data;
};
</script>
</body>
</html>
]]

local function onstream(myserver, stream) -- luacheck: ignore 212
	local req_headers = assert(stream:get_headers())
	local method, path = req_headers:get(":method"), req_headers:get(":path")
	local res_headers = http_headers.new()
	if method ~= "GET" and method ~= "HEAD" then
		res_headers:append(":status", "405")
		assert(stream:write_headers(res_headers, true))
		return
	end
	if path == "/" then
		res_headers:append(":status", "200")
		res_headers:append("content-type", "text/html")
		assert(stream:write_headers(res_headers, method == "HEAD"))
		if method ~= "HEAD" then assert(stream:write_chunk(page, true)) end
	elseif path == "/event-stream" then
		res_headers:append(":status", "200")
		res_headers:append("content-type", "text/event-stream")
		assert(stream:write_headers(res_headers, method == "HEAD"))
		if method ~= "HEAD" then
			while true do
				assert(stream:write_chunk(string.format("data: The time is now %s.\n\n", os.date("!%H:%M:%S")), false))
				core.sleep(1)
			end
		end
	else
		res_headers:append(":status", "404")
		assert(stream:write_headers(res_headers, true))
	end
end

core.register_service("events", "http-stream", function(stream) return onstream(nil, stream) end)
