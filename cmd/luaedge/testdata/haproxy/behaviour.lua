-- HAProxy 2.6's behaviour where luaedge differed (issue list): return
-- codes, wake_time, replies, variables as samples, one action name for
-- two phases, services that do not start their response.

-- HAProxy loads maps in the body only.
local ipmap = Map.new("ip.map", Map._ip)

local function show(v)
	if type(v) == "string" then return "'" .. v .. "'" end
	return type(v) .. ":" .. tostring(v)
end

core.register_action("both", { "http-req" }, function(txn)
	txn.http:req_set_header("x-both", "req")
end)
core.register_action("both", { "http-res" }, function(txn)
	txn.http:res_set_header("x-both", "res")
end)

core.register_action("probe", { "http-req" }, function(txn)
	local path = txn.f:path()
	txn.http:req_set_header("x-probe", "before")
	txn:set_var("req.seen", "yes")
	if path == "/done" then return act.DONE
	elseif path == "/abort" then return act.ABORT
	elseif path == "/invalid" then return act.INVALID
	elseif path == "/deny" then return act.DENY
	elseif path == "/error" then return act.ERROR
	elseif path == "/wake" then
		act:wake_time(10)
		return act.YIELD
	elseif path == "/wake-fn" then
		if txn:get_var("txn.woken") then return act.CONTINUE end
		txn:set_var("txn.woken", 1)
		act.wake_time(10)
		return act.YIELD
	elseif path == "/reply" then
		local r = txn:reply()
		txn:done({ status = 200, body = "status=" .. show(r.status) .. " reason=" .. show(r.reason) .. " body=" .. show(r.body) .. "\n" })
	elseif path == "/299" then
		txn:done({ status = 299, body = "x\n" })
	elseif path == "/reply-299" then
		local r = txn:reply({ status = 299 })
		r:set_status(299)
		txn:done(r)
	elseif path == "/hdrstr" then
		txn:done({ status = 200, headers = { ["x-str"] = "string", ["x-list"] = { "v" } }, body = "h\n" })
	elseif path == "/reqbody" then
		txn:done({ status = 200, body = "body=" .. show(txn.f:req_body()) .. "\n" })
	elseif path == "/dup" then
		local ok, err = pcall(txn.req.dup, txn.req)
		txn:done({ status = 200, body = "dup=" .. tostring(ok) .. "\n" })
	elseif path == "/fetches" then
		local f, c = txn.f, txn.c
		local uuid = f:uuid()
		local out = {
			"req_cook(a)=" .. show(f:req_cook("a")), "cook(b)=" .. show(f:cook("b")),
			"req_cook()=" .. show(f:req_cook()), "req_cook_cnt(a)=" .. show(f:req_cook_cnt("a")),
			"cook_val(n)=" .. show(f:cook_val("n")), "cook(none)=" .. show(f:cook("none")),
			"url_param(x)=" .. show(f:url_param("x")), "urlp(y)=" .. show(f:urlp("y")),
			"url_param(none)=" .. show(f:url_param("none")),
			"fe_name=" .. show(f:fe_name()), "be_name=" .. show(f:be_name()),
			"uuid=" .. tostring(uuid:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil),
			"uuid4=" .. tostring(#f:uuid(4) == 36),
			"add=" .. show(c:add(5, "3")), "sub=" .. show(c:sub(5, "7")), "mul=" .. show(c:mul(6, "7")),
			"div=" .. show(c:div(7, "2")), "mod=" .. show(c:mod(-7, "2")),
			"mod0=" .. show(c:mod(7, "0")), "neg=" .. show(c:neg(4)),
			"and=" .. show(c["and"](c, 12, "10")), "or=" .. show(c["or"](c, 12, "10")), "xor=" .. show(c:xor(12, "10")),
			"bool=" .. show(c:bool(0)), "not=" .. show(c["not"](c, 0)), "even=" .. show(c:even(3)), "odd=" .. show(c:odd(3)),
			"sc_add=" .. show(txn.sc:add(5, "3")), "sc_odd=" .. show(txn.sc:odd(3)),
			"map_ip=" .. show(ipmap:lookup("10.1.2.3, 192.0.2.7")),
		}
		txn:done({ status = 200, body = table.concat(out, "\n") .. "\n" })
	elseif path == "/vars" then
		txn:set_var("txn.t", true)
		txn:set_var("txn.f", false)
		txn:set_var("txn.fl", 3.5)
		txn:set_var("txn.tab", {})
		txn:set_var("txn.i", 600)
		txn:set_var("txn.s", "str")
		txn:set_var("txn.n", nil)
		local out = {}
		for _, n in ipairs({ "t", "f", "fl", "tab", "i", "s", "n" }) do
			out[#out + 1] = n .. "=" .. show(txn:get_var("txn." .. n)) .. " sf=" .. show(txn.sf:var("txn." .. n))
		end
		txn:done({ status = 200, body = table.concat(out, "\n") .. "\n" })
	end
end)

core.register_action("res_probe", { "http-res" }, function(txn)
	txn.http:res_set_header("x-req-var", show(txn:get_var("req.seen")))
	txn.http:res_set_header("x-txn-var", show(txn:get_var("txn.woken")))
end)

core.register_service("svc", "http", function(applet)
	local path = applet.path
	if path == "/nostart" then
		applet:send("sent without start_response\n")
		return
	elseif path == "/empty" then
		return
	elseif path == "/status-only" then
		applet:set_status(201)
		applet:add_header("x-set-by-service", "yes")
		return
	elseif path == "/done-unstarted" then
		applet:set_status(201)
		core.done()
	elseif path == "/partial" then
		applet:start_response()
		applet:send("part")
		error("after a partial send")
	end
	local body = "path=" .. path .. " version=" .. show(applet.version) ..
		" both=" .. show(applet.headers["x-both"] and applet.headers["x-both"][0]) ..
		" probe=" .. show(applet.headers["x-probe"] and applet.headers["x-probe"][0]) .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
