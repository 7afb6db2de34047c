-- An HTTP CONNECT proxy in a tcp-request action: the CONNECT request is
-- read from the request channel line by line, the answer written to the
-- response channel, and the target handed to the set-dst rules that
-- follow through two variables; the server at 0.0.0.0 connects there.
core.register_action("connect", { "tcp-req" }, function(txn)
	local line = txn.req:getline()
	local host, port = line:match("^CONNECT (%d+%.%d+%.%d+%.%d+):(%d+) HTTP/1%.[01]\r?\n$")
	if host == nil then
		txn.res:send("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
		txn:done()
		return
	end
	repeat
		line = txn.req:getline()
	until line == "\r\n" or line == "\n" or line == ""
	txn:set_var("txn.host", host)
	txn:set_var("txn.port", tonumber(port))
	txn.res:send("HTTP/1.1 200 Connection established\r\n\r\n")
end)
