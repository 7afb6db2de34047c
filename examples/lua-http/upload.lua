-- Reading a request body the lua-http way: line by line with
-- get_body_until, and answering as it goes. POST lines of text; each
-- comes back numbered, in a chunk of its own; the trailer says how many.
local http_headers = require "http.headers"

core.register_service("upload", "http-stream", function(stream)
	local req = assert(stream:get_headers())
	local res = http_headers.new()
	if req:get(":method") ~= "POST" then
		res:append(":status", "405")
		res:append("allow", "POST")
		assert(stream:write_headers(res, true))
		return
	end
	res:append(":status", "200")
	res:append("content-type", "text/plain")
	assert(stream:write_headers(res, false))
	local n = 0
	while true do
		local line = stream:get_body_until("\n", true, false)
		if line == nil then break end
		n = n + 1
		assert(stream:write_chunk(string.format("%d: %s\n", n, line), false))
	end
	local trailers = http_headers.new()
	trailers:append("x-lines", tostring(n))
	assert(stream:write_headers(trailers, true))
end)
