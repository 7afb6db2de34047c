-- Redirects the paths listed in redirects.map, from a Lua action. HAProxy
-- loads maps only while the scripts load, not from an action.
local redirects = Map.new("redirects.map", Map._str)

core.register_action("map_redirect", { "http-req" }, function(txn, code)
	local to = redirects:lookup(txn.f:path())
	if to == nil then return act.CONTINUE end
	txn:done(txn:reply({ status = tonumber(code), headers = { location = to } }))
end, 1)
