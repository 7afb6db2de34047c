-- Scripts that use the API wrongly, one mistake per path.
--
-- http_request: [lua.wrong_action]; use_service: lua.wrong_service

core.register_action("wrong_action", { "http-req" }, function(txn)
	local path = txn.f:path()
	if path == "/header-name-nil" then
		txn.http:req_set_header(nil, "x")
	elseif path == "/unknown-fetch" then
		txn.f:nope()
	elseif path == "/bad-scope" then
		-- Not an error for HAProxy 2.6: set_var reports false and get_var nil.
		local stored = txn:set_var("bogus.name", "v")
		txn.http:req_set_header("x-bad-scope", tostring(stored) .. "," .. tostring(txn:get_var("bogus.name")))
	elseif path == "/done-not-txn" then
		txn.done({})
	elseif path == "/return-string" then
		return "yes"
	end
end)

core.register_service("wrong_service", "http", function(applet)
	if applet.path == "/status-abc" then
		applet:set_status("abc")
	end
	local scope = applet.headers["x-bad-scope"]
	local body = "ok " .. applet.path .. (scope and (" bad-scope=" .. scope[0]) or "") .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
