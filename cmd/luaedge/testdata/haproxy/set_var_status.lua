-- Modelled on what HAProxy's set_var reg-test checks: AppletHTTP:set_var
-- reports whether it stored the variable, with and without ifexist. The
-- variable name comes from the "Var" request header; the answer is 202
-- when set_var returned true, 400 when not, and the "echo" header holds
-- what get_var returns afterwards.

local function handler(ifexist)
	return function(applet)
		local name = applet.headers["var"][0]
		local stored = applet:set_var(name, "value", ifexist)
		applet:set_status(stored and 202 or 400)
		applet:add_header("echo", applet:get_var(name) or "(nil)")
		applet:add_header("content-length", "0")
		applet:start_response()
	end
end

core.register_service("set_var_plain", "http", handler(false))
core.register_service("set_var_ifexist", "http", handler(true))
