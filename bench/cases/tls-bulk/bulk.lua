-- 100 MiB in 1 MiB sends: the TLS bulk-transfer case.
local chunk = string.rep("0123456789abcdef", 65536)
core.register_service("bulk", "http", function(applet)
   applet:set_status(200)
   applet:add_header("content-length", 100 * #chunk)
   applet:add_header("content-type", "application/octet-stream")
   applet:start_response()
   for _ = 1, 100 do
      applet:send(chunk)
   end
end)
