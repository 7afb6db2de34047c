-- The "gzip" case's service: the page of pagetext.lua as text/html; the
-- server compresses it.
core.register_service("page", "http", function(applet)
	applet:set_status(200)
	applet:add_header("content-type", "text/html")
	applet:add_header("content-length", #PAGE)
	applet:start_response()
	applet:send(PAGE)
end)
