-- The act class: what each return code of an action does.
--
-- http_request: [lua.act_code, lua.act_after]
-- http_response: [lua.act_res_code, lua.act_res_after]
-- use_service: lua.act_service
--
-- X-Code names the code act_code returns (none: the function returns
-- nothing); X-Res-Code the one act_res_code returns. X-Code: YIELD yields
-- once, for X-Wake milliseconds.

core.register_action("act_code", { "http-req" }, function(txn)
	local res = txn.f:req_hdr("x-res-code")
	if res ~= nil then
		txn:set_var("txn.res_code", res)
	end
	local code = txn.f:req_hdr("x-code")
	if code == nil then
		return
	end
	if code == "YIELD" then
		-- The action runs again from its start after the wake time.
		local calls = (txn:get_priv() or 0) + 1
		txn:set_priv(calls)
		txn.http:req_set_header("x-calls", calls)
		if calls == 1 then
			act.wake_time(tonumber(txn.f:req_hdr("x-wake")))
			return act.YIELD
		end
		return act.CONTINUE
	end
	return act[code]
end)

core.register_action("act_after", { "http-req" }, function(txn)
	txn.http:req_set_header("x-after", "ran")
end)

core.register_action("act_res_code", { "http-res" }, function(txn)
	local code = txn:get_var("txn.res_code")
	if code ~= nil then
		return act[code]
	end
end)

core.register_action("act_res_after", { "http-res" }, function(txn)
	txn.http:res_add_header("x-res-after", "ran")
end)

core.register_service("act_service", "http", function(applet)
	local function h(name)
		local v = applet.headers[name]
		return v and v[0] or "-"
	end
	local body = "service after=" .. h("x-after") .. " calls=" .. h("x-calls") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
