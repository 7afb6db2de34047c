-- What a request without a Host field looks like to Lua: the service
-- answers with the host its headers and fetches show, the action keeps
-- the count of host fields in a variable.
core.register_service("whohost", "http", function(applet)
	local h = applet.headers["host"]
	local body = string.format("headers.host=%s path=%s\n", h and h[0] or "nil", applet.path)
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)

core.register_action("counthost", { "http-req" }, function(txn)
	local h = txn.http:req_get_headers()["host"]
	local n = 0
	if h then
		for _ in pairs(h) do n = n + 1 end
	end
	txn:set_var("txn.hosts", n)
	txn:set_var("txn.fhost", txn.f:req_fhdr("host") or "none")
end)
