-- The Channel class of HAProxy 2.5 and later, method by method: in TCP
-- mode a tcp-request action reads and changes the client's bytes and
-- reports each result on txn.res; in HTTP mode only the lengths and
-- states can be read.

-- call calls method m of channel c (not as a tail call: an error names
-- this line on both servers).
local function call(c, m, ...)
	local v = c[m](c, ...)
	return v
end

local function show(ok, v)
	if not ok then return "ERR " .. tostring(v) end
	if type(v) == "string" then return ("%q"):format(v) end
	return tostring(v)
end

core.register_action("channel-tcp", { "tcp-req" }, function(txn)
	local r, out = txn.req, {}
	local function add(label, c, m, ...)
		out[#out + 1] = label .. "=" .. show(pcall(call, c, m, ...))
	end
	add("wait", r, "data", 0, 12)
	add("input", r, "input")
	add("output", r, "output")
	add("is_resp", r, "is_resp")
	add("res.is_resp", txn.res, "is_resp")
	add("may_recv", r, "may_recv")
	add("res.may_recv", txn.res, "may_recv")
	add("res.input", txn.res, "input")
	add("is_full", r, "is_full")
	add("data()", r, "data")
	add("data(6)", r, "data", 6)
	add("data(-6)", r, "data", -6)
	add("data(-20)", r, "data", -20)
	add("data(0,5)", r, "data", 0, 5)
	add("data(0,0)", r, "data", 0, 0)
	add("data(13)", r, "data", 13)
	add("data(2,-2)", r, "data", 2, -2)
	add("line()", r, "line")
	add("line(6)", r, "line", 6)
	add("line(0,3)", r, "line", 0, 3)
	add("line(-3)", r, "line", -3)
	add("line(0,0)", r, "line", 0, 0)
	add("insert(X,5)", r, "insert", "X", 5)
	add("insert(Y)", r, "insert", "Y")
	add("insert(W,-1)", r, "insert", "W", -1)
	add("prepend(P)", r, "prepend", "P")
	add("append(A)", r, "append", "A")
	add("after inserts", r, "data")
	add("set(Z,1,2)", r, "set", "Z", 1, 2)
	add("set(Q,-2)", r, "set", "Q", -2)
	add("set(E,0,0)", r, "set", "E", 0, 0)
	add("after sets", r, "data")
	add("set(L,1,99)", r, "set", "L", 1, 99)
	add("remove(0,1)", r, "remove", 0, 1)
	add("remove(-2)", r, "remove", -2)
	add("remove(1,0)", r, "remove", 1, 0)
	add("remove(1,-1)", r, "remove", 1, -1)
	add("after removes", r, "data")
	add("set(all)", r, "set", "hello\nworld\n")
	add("forward(3)", r, "forward", 3)
	add("output", r, "output")
	add("input", r, "input")
	add("data()", r, "data")
	add("data(0,2)", r, "data", 0, 2)
	add("line()", r, "line")
	add("insert(I,0)", r, "insert", "I", 0)
	add("append(A)", r, "append", "A")
	add("after forward", r, "data")
	add("data(1,2,3)", r, "data", 1, 2, 3)
	add("insert()", r, "insert")
	add("insert(1)", r, "insert", 1)
	out[#out + 1] = "set(nil)=" .. show(pcall(function() local v = r:set(nil) return v end))
	add("remove(0,99)", r, "remove", 0, 99)
	out[#out + 1] = "data(x)=" .. show(pcall(function() local v = r:data("x") return v end))
	out[#out + 1] = "data(1.5)=" .. show(pcall(function() local v = r:data(1.5) return v end))
	add("append()", r, "append")
	add("forward()", r, "forward")
	txn.res:send(table.concat(out, "\n") .. "\n--\n")
end)

-- HTTP mode: the lengths and states of both channels, and what refuses.
local function http_report(txn)
	local out = {}
	for _, n in ipairs({ "req", "res" }) do
		local c = txn[n]
		for _, m in ipairs({ "output", "get_out_len", "may_recv", "is_full", "is_resp", "data", "line", "remove", "dup", "get", "getline" }) do
			out[#out + 1] = n .. "." .. m .. "=" .. show(pcall(call, c, m))
		end
		for _, m in ipairs({ "append", "prepend", "insert", "set", "send" }) do
			out[#out + 1] = n .. "." .. m .. "=" .. show(pcall(call, c, m, "x"))
		end
		out[#out + 1] = n .. ".forward=" .. show(pcall(call, c, "forward", 1))
	end
	return table.concat(out, ";")
end

core.register_action("channel-http-req", { "http-req" }, function(txn)
	txn:set_var("txn.q", http_report(txn))
end)

core.register_action("channel-http-res", { "http-res" }, function(txn)
	txn:set_var("txn.s", http_report(txn))
end)

-- With tcp-request inspect-delay, a read that waits for more than the
-- client sent returns what there is once the delay has passed.
core.register_action("channel-inspect", { "tcp-req" }, function(txn)
	local r = txn.req
	local five = r:data(0, 5)
	local line = r:line()
	txn.res:send("data(0,5)=" .. show(true, five) .. " line()=" .. show(true, line) .. "\n")
	r:set("")
end)
