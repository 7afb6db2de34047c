-- An action that tags the request (variables and a rewritten header) and
-- a service that reports what it receives.
--
--   http-request lua.tag_request
--   http-request use-service lua.show_vars

core.register_action("tag_request", { "http-req" }, function(txn)
	local name = txn.f:req_fhdr("x-name") or "nobody"
	txn:set_var("txn.name", name)
	txn:set_var("req.stage", "request")
	txn:set_var("sess.requests", (txn:get_var("sess.requests") or 0) + 1)
	txn:set_var("proc.last_name", name)
	txn.http:req_set_header("x-tagged", "name=" .. name)
	txn.http:req_set_header("x-upper", txn.c:upper(name))
end)

core.register_service("show_vars", "http", function(applet)
	applet:set_var("txn.from_service", "service")
	local tagged = applet.headers["x-tagged"]
	local count = 0
	if tagged ~= nil then
		while tagged[count] ~= nil do count = count + 1 end
	end
	local lines = {
		"name=" .. tostring(applet:get_var("txn.name")),
		"stage=" .. tostring(applet:get_var("req.stage")),
		"session_requests=" .. tostring(applet:get_var("sess.requests")),
		"last_name=" .. tostring(applet:get_var("proc.last_name")),
		"from_service=" .. tostring(applet:get_var("txn.from_service")),
		"missing=" .. tostring(applet:get_var("txn.missing")),
		"tagged=" .. (tagged and tagged[0] or "-") .. " (" .. count .. " value)",
		"upper=" .. (applet.headers["x-upper"] and applet.headers["x-upper"][0] or "-"),
	}
	local body = table.concat(lines, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
