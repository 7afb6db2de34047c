-- The "action" case: an http-req action that reads two request headers and
-- sets one, then a service that answers. Runs unchanged on luaedge and
-- HAProxy; nginx runs the same logic with ngx_lua (nginx.conf).
core.register_action("tag", { "http-req" }, function(txn)
	local hdrs = txn.http:req_get_headers()
	local user = hdrs["x-user"] and hdrs["x-user"][0] or "anonymous"
	local tenant = hdrs["x-tenant"] and hdrs["x-tenant"][0] or "none"
	txn.http:req_set_header("x-route", tenant .. "/" .. user)
end)

core.register_service("hello-world", "http", function(applet)
	local response = "Hello World !"
	applet:set_status(200)
	applet:add_header("content-length", string.len(response))
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send(response)
end)
