-- Shows the sticky counters of the request and the entries of the
-- frontend's stick table, as HAProxy's StickTable class gives them.
local function show(t)
	if type(t) ~= "table" then return tostring(t) end
	local keys = {}
	for k in pairs(t) do keys[#keys + 1] = tostring(k) end
	table.sort(keys)
	local out = {}
	for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. show(t[k]) end
	return "{" .. table.concat(out, ",") .. "}"
end

-- lookup leaves out expire, which counts down while the test runs.
local function lookup(st, key)
	local e = st:lookup(key)
	if e then e.expire = nil end
	return e
end

core.register_service("stickdump", "http", function(applet)
	local f = applet.f
	local st = core.frontends[f:fe_name()].stktable
	local body = "sc1 tracked=" .. show(f:sc_tracked(1)) .. " conn_cnt=" .. show(f:sc1_conn_cnt()) ..
		" conn_cur=" .. show(f:sc1_conn_cur()) .. " req=" .. show(f:sc1_http_req_cnt()) ..
		" err=" .. show(f:sc1_http_err_cnt()) .. " sc0=" .. show(f:sc0_http_req_cnt()) .. "\n" ..
		"lookup=" .. show(lookup(st, f:src())) .. "\n" ..
		"dump=" .. show(st:dump()) .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)

core.register_service("notfound", "http", function(applet)
	applet:set_status(404)
	applet:add_header("content-length", 0)
	applet:start_response()
end)

-- tabledump shows the table of backend "keys", a backend that holds only
-- a stick table, as scripts reach it through core.backends.
core.register_service("tabledump", "http", function(applet)
	local be = core.backends["keys"]
	local st = be.stktable
	local info = st:info()
	local body = "cap=" .. be:get_cap() .. " servers=" .. show(be.servers) ..
		" type=" .. tostring(info.type) .. " size=" .. tostring(info.size) .. " used=" .. tostring(info.used) .. "\n" ..
		"dump=" .. show(st:dump()) .. "\n"
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
