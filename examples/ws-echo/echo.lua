-- A WebSocket echo service.
local websocket = require "http.websocket"

core.register_service("echo", "http", function(applet)
   local ws = websocket.new_from_applet(applet)
   local ok, err, status = ws:accept{ protocols = { "echo" } }
   if not ok then
      -- Not an upgrade: the response already has the status accept chose
      -- (400 or 426); say why.
      applet:add_header("content-type", "text/plain")
      applet:start_response()
      applet:send(status .. " " .. err .. "\n")
      return
   end
   for data, opcode in ws:each() do
      ws:send(data, opcode)
   end
   -- The client closed (luaedge answered its close frame), or broke the
   -- protocol (luaedge closed with the code the RFC says).
end)
