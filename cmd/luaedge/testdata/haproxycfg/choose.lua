-- A Lua fetch that picks a backend from the request: the tenant header,
-- else the first path segment.
core.register_fetches("pick_backend", function(txn, fallback)
	local tenant = txn.f:req_fhdr("x-tenant")
	if tenant == "blue" or tenant == "green" then
		return "be_" .. tenant
	end
	local seg = (txn.f:path() or ""):match("^/([^/]+)")
	if seg == "blue" or seg == "green" then
		return "be_" .. seg
	end
	return fallback
end)

-- A converter used in a header value.
core.register_converters("shout", function(s)
	return string.upper(s) .. "!"
end)
