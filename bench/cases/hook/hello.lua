-- The "hook" case's service: HAProxy's hello-world. The work measured is
-- the hook script's (hooks/route/before_request.lua) on luaedge, the
-- http-request action's (route.lua) on HAProxy, access_by_lua's on nginx.
core.register_service("hello-world", "http", function(applet)
	local response = "Hello World !"
	applet:set_status(200)
	applet:add_header("content-length", string.len(response))
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send(response)
end)
