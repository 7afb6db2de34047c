-- Modelled on HAProxy's reg-test for converter arguments of unusual types:
-- ipmask with an IPv6 mask on an IPv4 address must simply work.

core.register_action("mask_source", { "http-req" }, function(txn)
	txn.http:req_set_header("x-masked", txn.sc:ipmask(txn.f:src(), 24, 112))
end)

core.register_service("masked", "http", function(applet)
	local body = "masked=" .. applet.headers["x-masked"][0] .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
