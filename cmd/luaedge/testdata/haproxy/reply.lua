-- The Reply class: replies built by http-request and http-response actions.
--
-- http_request:  [lua.reply_req, lua.reply_never]
-- http_response: [lua.reply_res]
-- use_service:   lua.reply_service

core.register_action("reply_req", { "http-req" }, function(txn)
	local path = txn.f:path()
	txn:set_var("txn.path", path)
	if path == "/table" then
		txn:done(txn:reply({
			status = 418,
			reason = "Short And Stout",
			headers = {
				["content-type"] = { "text/plain" },
				["x-multi"] = { "one", "two" },
			},
			body = "I'm a teapot\n",
		}))
	elseif path == "/methods" then
		local reply = txn:reply()
		reply:set_status(403, "Go Away")
		reply:add_header("x-a", "1")
		reply:add_header("x-a", "2")
		reply:add_header("x-gone", "soon")
		reply:add_header("x-gone", "very soon")
		reply:del_header("x-gone")
		reply:set_body("built with methods\n")
		txn:done(reply)
	elseif path == "/defaults" then
		txn:done(txn:reply())
	elseif path == "/default-reason" then
		local reply = txn:reply({ status = 503 })
		reply:set_body("down\n")
		txn:done(reply)
	elseif path == "/fields" then
		-- The attributes are plain fields a script may read and change.
		local reply = txn:reply({ status = 404, headers = { ["x-h"] = { "v" } } })
		local seen = "status=" .. tostring(reply.status) .. " reason=" .. tostring(reply.reason) ..
			" headers.x-h[1]=" .. tostring(reply.headers["x-h"][1])
		reply.status = 202
		reply.reason = "Fine"
		reply.body = seen .. "\n"
		reply.headers["x-h"] = { "w1", "w2" }
		txn:done(reply)
	end
end)

core.register_action("reply_never", { "http-req" }, function(txn)
	txn.http:req_set_header("x-never", "ran")
end)

core.register_action("reply_res", { "http-res" }, function(txn)
	if txn:get_var("txn.path") == "/from-response" then
		local reply = txn:reply()
		reply:set_status(409, "Conflict Found")
		reply:add_header("content-type", "text/plain")
		reply:set_body("replaced by http-response\n")
		txn:done(reply)
	end
end)

core.register_service("reply_service", "http", function(applet)
	local body = "service answered\n"
	applet:set_status(200)
	applet:add_header("x-service", "yes")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
