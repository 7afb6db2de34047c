-- The "edge" case: the reads an edge script makes on every request. The
-- service looks the user's tier up in a map, reads the client's request
-- rate from the stick table the frontend tracks it in, reads the clock,
-- and answers with two headers made of them. Runs unchanged on luaedge and
-- HAProxy; nginx does the same with a Lua table, a lua_shared_dict counter
-- and ngx.now() (nginx.conf).
local tiers = Map.new("@DIR@/tiers.map", Map._str)

core.register_service("edge", "http", function(applet)
	local user = applet.headers["x-user"]
	local tier = tiers:lookup(user and user[0] or "") or "free"
	local rate = applet.sf:sc_http_req_rate(0)
	local now = core.now()
	local response = "Hello World !"
	applet:set_status(200)
	applet:add_header("content-length", string.len(response))
	applet:add_header("content-type", "text/plain")
	applet:add_header("x-tier", tier)
	applet:add_header("x-rate", rate .. " " .. now.sec)
	applet:start_response()
	applet:send(response)
end)
