-- The HTTP class (txn.http), driven by HTTP requests.
--
-- http_request:  [lua.http_req, lua.http_req_after]
-- http_response: [lua.http_res]
-- use_service:   lua.http_service

local function list(values)
	-- values: a header table entry, indexed from 0
	if values == nil then return "nil" end
	local parts, i = {}, 0
	while values[i] ~= nil do
		parts[#parts + 1] = "[" .. i .. "]" .. values[i]
		i = i + 1
	end
	return table.concat(parts, " ")
end

core.register_action("http_req", { "http-req" }, function(txn)
	local path = txn.f:path()
	txn:set_var("txn.path", path)
	if path == "/headers" then
		local hdrs = txn.http:req_get_headers()
		local seen = {}
		for _, name in ipairs({ "x-multi", "accept", "x-missing" }) do
			seen[#seen + 1] = name .. "=" .. list(hdrs[name])
		end
		seen[#seen + 1] = "mixed-case-key=" .. tostring(hdrs["X-Multi"])
		txn:set_var("txn.seen", table.concat(seen, "; "))
	elseif path == "/edit" then
		txn.http:req_add_header("x-added", "one")
		txn.http:req_add_header("x-added", "two")
		txn.http:req_del_header("x-del")
		txn.http:req_set_header("x-set", "new")
		txn.http:req_rep_header("x-rep", "^user=([a-z]+); id=([0-9]+)$", "\\2:\\1")
	elseif path == "/edit-value" then
		-- rep_value works on each comma-separated value
		txn.http:req_rep_value("x-val", "^aa([0-9])$", "zz\\1")
	elseif path == "/edit-order" then
		-- rep_header works on each line, where it stands
		txn.http:req_rep_header("x-line", "^aa([0-9])$", "zz\\1")
	elseif path == "/method" then
		txn.http:req_set_method("PUT")
	elseif path == "/path" then
		txn.http:req_set_path("/new/path")
	elseif path == "/query" then
		txn.http:req_set_query("x=2&y=3")
	elseif path == "/uri" then
		txn.http:req_set_uri("/u/v?w=1")
	elseif path == "/host" then
		txn.http:req_set_header("host", "new.example")
	end
end)

-- What the fetches of a later action see after a rewrite.
core.register_action("http_req_after", { "http-req" }, function(txn)
	txn:set_var("txn.after", txn.f:method() .. " " .. txn.f:path() .. " " .. txn.sf:query() .. " " .. txn.f:url())
	txn:set_var("txn.host", "base=" .. txn.f:base() .. " hdr=" .. txn.f:hdr("host"))
end)

core.register_action("http_res", { "http-res" }, function(txn)
	local path = txn:get_var("txn.path")
	if path == "/res-edit" then
		local h = txn.http:res_get_headers()
		txn.http:res_add_header("x-res-seen", "x-svc=" .. list(h["x-svc"]) .. " content-length=" .. list(h["content-length"]))
		txn.http:res_add_header("x-res-added", "1")
		txn.http:res_del_header("x-svc-del")
		txn.http:res_set_header("x-svc-set", "new")
		txn.http:res_rep_header("x-svc-rep", "^v=([0-9]+)$", "version \\1")
	elseif path == "/res-edit-value" then
		txn.http:res_rep_value("x-svc-val", "^b([0-9])$", "B\\1")
	elseif path == "/status" then
		txn.http:res_set_status(299, "Fine Thanks")
	elseif path == "/status-noreason" then
		txn.http:res_set_status(404)
	end
end)

core.register_service("http_service", "http", function(applet)
	local out = {}
	local function add(k, v) out[#out + 1] = k .. "=" .. tostring(v) end
	local path = applet.path
	if path == "/headers" then
		add("seen", applet:get_var("txn.seen"))
	elseif path == "/edit" or path == "/edit-value" or path == "/edit-order" then
		for _, name in ipairs({ "x-added", "x-del", "x-set", "x-rep", "x-val", "x-line", "x-keep" }) do
			add(name, list(applet.headers[name]))
		end
	elseif path == "/host" then
		add("host", applet:get_var("txn.host"))
		add("applet_host", applet.headers["host"][0])
	elseif path == "/res-edit" then
		applet:add_header("x-svc", "one")
		applet:add_header("x-svc", "two")
		applet:add_header("x-svc-del", "bye")
		applet:add_header("x-svc-set", "old1")
		applet:add_header("x-svc-set", "old2")
		applet:add_header("x-svc-rep", "v=12")
		add("res", "edited")
	elseif path == "/res-edit-value" then
		applet:add_header("x-svc-val", "a1,b2,b3")
		add("res", "edited")
	else
		add("method", applet.method)
		add("path", applet.path)
		add("qs", applet.qs)
		add("after", applet:get_var("txn.after"))
	end
	local body = table.concat(out, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
