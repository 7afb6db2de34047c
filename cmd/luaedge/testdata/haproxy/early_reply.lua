-- Modelled on what HAProxy's reg-tests of txn:done and replies check: an
-- http-request action answers (a redirect built from a plain table, a
-- denial built with the Reply class) or drops the request without an
-- answer; the rules after it and the service do not run then.

core.register_action("early_reply", { "http-req" }, function(txn)
	local path = txn.f:path()
	if path == "/old" then
		txn:done({ status = 301, headers = { ["location"] = { "/new" } } })
	elseif path == "/private" then
		local reply = txn:reply({ status = 403, body = "private area\n" })
		reply:add_header("content-type", "text/plain")
		txn:done(reply)
	elseif path == "/drop" then
		txn:done()
	end
end)

core.register_action("after_early", { "http-req" }, function(txn)
	txn.http:req_set_header("x-after-early", "ran")
end)

core.register_service("landing", "http", function(applet)
	local after = applet.headers["x-after-early"]
	local body = "landing path=" .. applet.path .. " after=" .. (after and after[0] or "-") .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
