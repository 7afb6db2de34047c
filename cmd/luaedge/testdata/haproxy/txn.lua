-- The TXN class, driven by HTTP requests.
--
-- http_request:  [lua.txn_first, lua.txn_second]
-- http_response: [lua.txn_res_first, lua.txn_res_second]
-- use_service:   lua.txn_service
--
-- The actions pass what they saw on as request headers (http-req) or
-- response headers (http-res); the service prints them.

local function set(txn, name, value)
	txn.http:req_set_header(name, tostring(value))
end

core.register_action("txn_first", { "http-req" }, function(txn)
	local path = txn.f:path()
	txn:set_var("txn.path", path)
	-- A transaction starts with no private data and no txn.* variables.
	set(txn, "x-priv-before", txn:get_priv())
	set(txn, "x-prev-txn", txn:get_var("txn.a"))

	if path == "/members" then
		set(txn, "x-f-method", txn.f:method())
		set(txn, "x-f-port-type", type(txn.f:dst_port()))
		set(txn, "x-sf-port-type", type(txn.sf:dst_port()))
		set(txn, "x-c", txn.c:upper("abc"))
		set(txn, "x-c-type", type(txn.c:length("abcd")))
		set(txn, "x-sc", txn.sc:length("abcd"))
		set(txn, "x-sc-type", type(txn.sc:length("abcd")))
		set(txn, "x-http-host", txn.http:req_get_headers()["host"][0])
	elseif path == "/log" then
		local tag = txn.f:req_hdr("x-tag")
		txn:log(core.err, tag .. " txn log err")
		txn:log(core.info, tag .. " txn log info")
		txn:deflog(tag .. " txn deflog")
		txn:Debug(tag .. " txn Debug")
		txn:Info(tag .. " txn Info")
		txn:Warning(tag .. " txn Warning")
		txn:Alert(tag .. " txn Alert")
	elseif path == "/priv" then
		txn:set_priv({ n = 1 })
	elseif path == "/vars" then
		txn:set_var("txn.a", "A")
		txn:set_var("req.r", "R")
		txn:set_var("txn.int", 42)
		txn:set_var("txn.gone", "x")
		txn:unset_var("txn.gone")
	elseif path == "/sess" then
		local n = (txn:get_var("sess.count") or 0) + 1
		txn:set_var("sess.count", n)
		set(txn, "x-sess", n)
	elseif path == "/proc/set" then
		txn:set_var("proc.hx_value", txn.f:req_hdr("x-value"))
	elseif path == "/ifexist/proc" then
		txn:set_var("proc.hx_never", "v", true) -- never created: not set
		txn:set_var("proc.hx_known", "first")
		txn:set_var("proc.hx_known", "second", true)
	elseif path == "/ifexist/create" then
		-- Only proc.* variables must exist before; others are created.
		txn:set_var("txn.hx_new", "created", true)
		txn:set_var("sess.hx_new", "created", true)
		txn:set_var("req.hx_new", "created", true)
	elseif path == "/returns" then
		local r1 = txn:set_var("txn.r", "v")
		local r2 = txn:set_var("proc.hx_never2", "v", true)
		local r3 = txn:set_var("txn.r3", "v", true)
		local r4 = txn:unset_var("txn.r")
		set(txn, "x-ret", tostring(r1) .. "," .. tostring(r2) .. "," .. tostring(r3) .. "," .. tostring(r4))
	elseif path == "/reply" then
		local reply = txn:reply({
			status = 401,
			headers = { ["www-authenticate"] = { 'Basic realm="hx"' }, ["content-type"] = { "text/plain" } },
			body = "login first\n",
		})
		txn:done(reply)
	elseif path == "/done-table" then
		txn:done({ status = 429, reason = "Slow Down", headers = { ["retry-after"] = { "3" } }, body = "slow down\n" })
	elseif path == "/done-empty-reply" then
		txn:done(txn:reply())
	elseif path == "/done-none" then
		txn:done()
	elseif path == "/knobs" then
		txn:set_loglevel(core.debug)
		txn:set_tos(16)
		txn:set_mark(7)
		txn:set_priority_class(5)
		txn:set_priority_offset(100)
		set(txn, "x-knobs", "accepted")
	end
end)

core.register_action("txn_second", { "http-req" }, function(txn)
	local path = txn:get_var("txn.path")
	set(txn, "x-second", "ran")
	if path == "/priv" then
		local p = txn:get_priv()
		p.n = p.n + 1
		set(txn, "x-priv-second", p.n)
	elseif path == "/vars" then
		set(txn, "x-txn-a", txn:get_var("txn.a"))
		set(txn, "x-req-r", txn:get_var("req.r"))
		set(txn, "x-int", tostring(txn:get_var("txn.int")) .. ":" .. type(txn:get_var("txn.int")))
		set(txn, "x-gone", txn:get_var("txn.gone"))
	end
end)

core.register_action("txn_res_first", { "http-res" }, function(txn)
	local path = txn:get_var("txn.path")
	if path == "/priv" then
		local p = txn:get_priv()
		p.n = p.n + 1
		txn.http:res_set_header("x-priv-res", tostring(p.n))
	elseif path == "/vars" then
		txn:set_var("res.s", "S")
		txn.http:res_set_header("x-txn-a-in-res", tostring(txn:get_var("txn.a")))
	end
end)

core.register_action("txn_res_second", { "http-res" }, function(txn)
	if txn:get_var("txn.path") == "/vars" then
		txn.http:res_set_header("x-res-s", tostring(txn:get_var("res.s")))
	end
end)

core.register_service("txn_service", "http", function(applet)
	local function h(name)
		local v = applet.headers[name]
		return v and v[0] or "-"
	end
	local out = {}
	local function add(k, v) out[#out + 1] = k .. "=" .. tostring(v) end
	local path = applet.path
	if path == "/members" then
		for _, n in ipairs({ "x-f-method", "x-f-port-type", "x-sf-port-type", "x-c", "x-c-type", "x-sc", "x-sc-type", "x-http-host" }) do
			add(n, h(n))
		end
	elseif path == "/priv" then
		add("before", h("x-priv-before"))
		add("second", h("x-priv-second"))
		add("applet", applet:get_priv())
		applet:set_priv("applet's own")
		add("applet_after_set", applet:get_priv())
	elseif path == "/vars" then
		add("prev_txn", h("x-prev-txn"))
		add("txn_a_in_action", h("x-txn-a"))
		add("req_r_in_action", h("x-req-r"))
		add("int", h("x-int"))
		add("unset", h("x-gone"))
		add("txn_a_in_service", applet:get_var("txn.a"))
	elseif path == "/sess" then
		add("count", h("x-sess"))
	elseif path == "/proc/get" or path == "/proc/set" then
		add("value", applet:get_var("proc.hx_value"))
	elseif path == "/ifexist/proc" then
		add("never", applet:get_var("proc.hx_never"))
		add("known", applet:get_var("proc.hx_known"))
	elseif path == "/ifexist/create" then
		add("txn", applet:get_var("txn.hx_new"))
		add("sess", applet:get_var("sess.hx_new"))
		add("req", applet:get_var("req.hx_new"))
	elseif path == "/returns" then
		add("returns", h("x-ret"))
	elseif path == "/knobs" then
		add("knobs", h("x-knobs"))
	else
		add("second", h("x-second"))
	end
	local body = table.concat(out, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
