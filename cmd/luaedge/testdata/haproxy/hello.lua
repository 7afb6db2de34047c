-- A hello-world HTTP service: a fixed text answer with its length.
local greeting = "Hello World !"

core.register_service("hello-world", "http", function(applet)
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(greeting))
	applet:start_response()
	applet:send(greeting)
end)
