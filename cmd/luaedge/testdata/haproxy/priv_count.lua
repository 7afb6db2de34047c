-- Modelled on what HAProxy's reg-test for the scope of txn:get_priv
-- checks: private data belongs to one transaction. An http-response action
-- counts its own calls with txn:get_priv / txn:set_priv and reports the
-- count in the status: 201 on every request, also on a keep-alive
-- connection, and 202 where the rule is listed twice.

core.register_action("count_calls", { "http-res" }, function(txn)
	local n = (txn:get_priv() or 0) + 1
	txn:set_priv(n)
	txn.http:res_set_status(200 + n)
end)

core.register_service("empty", "http", function(applet)
	applet:set_status(200)
	applet:start_response()
end)
