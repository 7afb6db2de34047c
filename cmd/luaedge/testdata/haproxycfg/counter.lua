-- Reads the stick-table counters of the client tracked by track-sc0.
core.register_service("counters", "http", function(applet)
	local body = string.format("req_cnt=%s gpc0=%s\n",
		tostring(applet.f:sc_http_req_cnt(0)), tostring(applet.f:sc_get_gpc0(0)))
	applet:set_status(200)
	applet:add_header("content-type", "text/plain")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
