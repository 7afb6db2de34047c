-- The "httpclient" case: an http-req action that asks a backend with
-- lua-http's http.request and puts its answer in a request header, then a
-- service that answers that header. HAProxy does the same with its
-- core.httpclient (haproxy.lua), nginx with a subrequest (nginx.conf).
local http_request = require "http.request"
local URI = "http://127.0.0.1:@UPSTREAM_PORT@/"

core.register_action("auth", { "http-req" }, function(txn)
	local headers, stream = http_request.new_from_uri(URI):go(2)
	local answer = headers and stream:get_body_as_string(2) or "none"
	txn.http:req_set_header("x-auth", answer)
end)

core.register_service("answer", "http", function(applet)
	local response = applet.headers["x-auth"][0]
	applet:set_status(200)
	applet:add_header("content-length", string.len(response))
	applet:add_header("content-type", "text/plain")
	applet:start_response()
	applet:send(response)
end)
