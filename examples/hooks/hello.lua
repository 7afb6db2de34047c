-- The service the hooks sit in front of.
core.register_service("hello", "http", function(applet)
	local body = "hello, request " .. (applet.headers["x-request-id"] and applet.headers["x-request-id"][0] or "?") .. "\n"
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
