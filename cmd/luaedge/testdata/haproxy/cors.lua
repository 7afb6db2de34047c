-- CORS in front of an API.
--
--   http-request  lua.cors_request <allowed origins> <allowed methods>
--   http-response lua.cors_response
--
-- Preflight requests (OPTIONS with Access-Control-Request-Method) are
-- answered by the http-request action itself; actual requests from an
-- allowed origin get Access-Control-Allow-Origin on their response.
-- Both lists are comma separated; "*" allows any origin.

local function set_of(list)
	local set = {}
	for item in string.gmatch(list, "[^,%s]+") do
		set[item] = true
	end
	return set
end

core.register_action("cors_request", { "http-req" }, function(txn, origins, methods)
	local origin = txn.f:req_fhdr("origin")
	if origin == nil then
		return act.CONTINUE
	end
	local allowed = origins == "*" or set_of(origins)[origin] == true
	local preflight = txn.f:method() == "OPTIONS" and txn.f:req_fhdr("access-control-request-method") ~= nil
	if preflight then
		local reply = txn:reply()
		if not allowed then
			reply:set_status(403, "Forbidden")
			reply:add_header("content-type", "text/plain")
			reply:set_body("CORS origin not allowed: " .. origin .. "\n")
			txn:done(reply)
		end
		reply:set_status(204, "No Content")
		reply:add_header("access-control-allow-origin", origin)
		reply:add_header("access-control-allow-methods", methods)
		local wanted = txn.f:req_fhdr("access-control-request-headers")
		if wanted ~= nil then
			reply:add_header("access-control-allow-headers", wanted)
		end
		reply:add_header("access-control-max-age", "600")
		reply:add_header("vary", "Origin")
		txn:done(reply)
	end
	if allowed then
		txn:set_var("txn.cors_origin", origin)
	end
	return act.CONTINUE
end, 2)

core.register_action("cors_response", { "http-res" }, function(txn)
	local origin = txn:get_var("txn.cors_origin")
	if origin == nil then
		return act.CONTINUE
	end
	txn.http:res_set_header("access-control-allow-origin", origin)
	txn.http:res_set_header("access-control-expose-headers", "x-request-id")
	txn.http:res_add_header("vary", "Origin")
	return act.CONTINUE
end)

-- The API behind it.
core.register_service("cors_api", "http", function(applet)
	local body = '{"path":"' .. applet.path .. '","method":"' .. applet.method .. '"}\n'
	applet:set_status(200)
	applet:add_header("content-type", "application/json")
	applet:add_header("x-request-id", "req-1")
	applet:add_header("vary", "Accept-Encoding")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
