-- An auth-request: asks an authentication server (a socket to ADDR) about
-- the request's token, and keeps the answer in variables that the
-- configuration's rules read.
core.register_action("auth_request", { "http-req" }, function(txn, host, port)
	txn:set_var("txn.auth_ok", false)
	local token = txn.f:req_fhdr("authorization")
	if token == nil then return end
	local s = core.tcp()
	s:settimeout(2)
	local ok, err = s:connect(host, tonumber(port))
	if not ok then
		txn:Warning("auth server: " .. tostring(err))
		return
	end
	s:send("GET /check HTTP/1.1\r\nHost: auth\r\nAuthorization: " .. token .. "\r\nConnection: close\r\n\r\n")
	local status = s:receive("*l")
	local user
	while true do
		local line = s:receive("*l")
		if line == nil or line == "" then break end
		local v = line:match("^[Xx]%-[Uu]ser:%s*(.-)%s*$")
		if v then user = v end
	end
	s:close()
	if status and status:match("^HTTP/1%.[01] 200") then
		txn:set_var("txn.auth_ok", true)
		txn:set_var("txn.user", user or "")
	end
end, 2)
