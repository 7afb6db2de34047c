-- HAProxy peer of the "hook" case: the same work as the luaedge hook
-- (hooks/route/before_request.lua) as an http-request action. HAProxy has
-- no store shared by its threads that Lua reaches without a socket: the
-- tier comes from a Lua table, filled once.
local tiers = { ["tier:alice"] = "gold" }

core.register_action("route", { "http-req" }, function(txn)
	local hdrs = txn.http:req_get_headers()
	local user = hdrs["x-user"] and hdrs["x-user"][0] or "anonymous"
	local tenant = hdrs["x-tenant"] and hdrs["x-tenant"][0] or "none"
	local tier = tiers["tier:" .. user] or "free"
	txn.http:req_set_header("x-route", tenant .. "/" .. user .. "/" .. tier)
end)
