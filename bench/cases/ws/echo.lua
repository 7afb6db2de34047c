-- A WebSocket echo service; a request that is not an upgrade gets the
-- hello answer (what the bench's check asks for).
local websocket = require "http.websocket"

core.register_service("echo", "http", function(applet)
   local ws = websocket.new_from_applet(applet)
   if not ws:accept() then
      local body = "Hello World !"
      applet:set_status(200)
      applet:add_header("content-length", #body)
      applet:start_response()
      applet:send(body)
      return
   end
   for data, opcode in ws:each() do
      ws:send(data, opcode)
   end
end)
