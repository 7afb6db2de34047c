-- A chat room. Each worker has its own Lua state, so the members served
-- by different workers share no Lua table: each member subscribes to the
-- room's topic, and what one says is published to the topic; luaedge
-- writes it to every member on every worker, without running Lua for each.
local websocket = require "http.websocket"

core.register_service("chat", "http", function(applet)
   local ws = websocket.new_from_applet(applet)
   if not ws:accept() then
      applet:start_response()
      applet:send("this is a WebSocket chat room\n")
      return
   end
   ws:subscribe("room")
   for message in ws:each() do
      core.publish("room", message) -- to every member, the sender too
   end
end)
