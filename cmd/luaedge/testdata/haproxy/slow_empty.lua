-- Modelled on HAProxy's reg-test of a Lua HTTP service that sleeps, then
-- starts a response with no headers and no body.

core.register_service("slow_empty", "http", function(applet)
	core.msleep(10)
	applet:start_response()
end)
