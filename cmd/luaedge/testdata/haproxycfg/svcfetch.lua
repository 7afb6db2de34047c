-- Services that read the request through fetches: HTTP fetches are not
-- available to them (HAProxy 2.6 raises an error, the client gets a 500),
-- the connection's are; the applet's own fields hold the request.
local function answer(applet, body)
  applet:set_status(200)
  applet:add_header("content-type", "text/plain")
  applet:add_header("content-length", #body)
  applet:start_response()
  applet:send(body)
end
core.register_service("by-fetch", "http", function(applet)
  answer(applet, "path=" .. applet.sf:path() .. "\n")
end)
core.register_service("by-field", "http", function(applet)
  answer(applet, "path=" .. applet.path .. " src=" .. applet.sf:src() .. " method=" .. applet.method .. "\n")
end)
core.register_service("by-hdr", "http", function(applet)
  answer(applet, "host=" .. tostring(applet.f:req_hdr("host")) .. "\n")
end)
