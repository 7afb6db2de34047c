-- HAProxy's side of the "httpclient" case: the action of httpclient.lua
-- with HAProxy's own HTTP client (core.httpclient, HAProxy 2.5+).
local URI = "http://127.0.0.1:@UPSTREAM_PORT@/"

core.register_action("auth", { "http-req" }, function(txn)
	local res = core.httpclient():get({ url = URI, timeout = 2000 })
	txn.http:req_set_header("x-auth", res and res.body or "none")
end)

core.register_service("answer", "http", function(applet)
	local response = applet.headers["x-auth"][0]
	applet:set_status(200)
	applet:add_header("content-length", string.len(response))
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send(response)
end)
