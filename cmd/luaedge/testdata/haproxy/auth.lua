-- API-key authentication, auth-request style.
--
--   http-request lua.auth_apikey <realm>
--
-- The key comes from "Authorization: Bearer KEY" or "X-API-Key: KEY" and
-- is looked up in apikeys.map (key -> user). Without a valid key the
-- client gets a 401 with WWW-Authenticate; with one, txn.user is set for
-- the service and the credentials are not passed on.

local keys = Map.new("apikeys.map", Map._str)

core.register_action("auth_apikey", { "http-req" }, function(txn, realm)
	local key
	local authz = txn.f:req_fhdr("authorization")
	if authz ~= nil then
		key = string.match(authz, "^[Bb]earer%s+(%S+)%s*$")
	end
	if key == nil then
		key = txn.f:req_fhdr("x-api-key")
	end
	local user = key and keys:lookup(key)
	if user == nil then
		local reply = txn:reply({
			status = 401,
			headers = {
				["www-authenticate"] = { 'Bearer realm="' .. realm .. '"' },
				["content-type"] = { "text/plain" },
				["cache-control"] = { "no-store" },
			},
			body = key and "invalid API key\n" or "API key required\n",
		})
		txn:done(reply)
	end
	txn:set_var("txn.user", user)
	txn.http:req_del_header("authorization")
	txn.http:req_del_header("x-api-key")
	txn.http:req_set_header("x-authenticated-user", user)
	return act.CONTINUE
end, 1)

core.register_service("whoami", "http", function(applet)
	local forwarded = applet.headers["authorization"] ~= nil or applet.headers["x-api-key"] ~= nil
	local hdr = applet.headers["x-authenticated-user"]
	local body = "user=" .. tostring(applet:get_var("txn.user")) ..
		" header=" .. (hdr and hdr[0] or "-") ..
		" credentials_forwarded=" .. tostring(forwarded) .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
