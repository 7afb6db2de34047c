-- A TCP line service and the Channel class on raw streams.
--
-- hello-gate (tcp-req) waits for the client's first line. It must be
-- "HELLO <name>": the action takes the line out of the stream, so the
-- service never sees it, and keeps the name in a txn. variable (in TCP
-- mode a transaction is the whole connection). Anything
-- else gets an error line sent straight to the client, and the connection
-- closes.
--
-- lines (TCP service) greets the client, then answers one command a line:
--   TIME          the server's clock
--   UPPER <text>  the text in upper case
--   COUNT         lines served by every core so far (a proc. variable)
--   QUIT          closes the connection
--
-- login-as (tcp-req) runs on the relay frontend, which forwards the
-- connection to the frontend above: it puts a HELLO line in front of what
-- the client sends, so relay clients start with commands.

core.register_action("hello-gate", { "tcp-req" }, function(txn)
   -- getline waits until a whole line arrived (or the client closed).
   local line = txn.req:getline()
   local name = line and line:match("^HELLO (%w+)\r?\n$")
   if name == nil then
      -- txn.res:send during tcp-request rules writes to the client at once.
      txn.res:send("ERR start with: HELLO <name>\n")
      return act.DENY -- every ending act code closes a TCP connection
   end
   txn:set_var("txn.name", name)
   -- What is left in txn.req (lines sent right after HELLO) goes on to
   -- the service.
end)

core.register_service("lines", "tcp", function(applet)
   local name = applet:get_var("txn.name") or "stranger"
   applet:send("hi " .. name .. ", you are " .. applet.f:src() .. "\n")
   while true do
      local line = applet:getline() -- waits for the next line; "" when the client closed
      if line == "" then break end
      local cmd, arg = line:match("^(%u+)%s*(.-)\r?\n?$")
      applet:set_var("proc.lines", (applet:get_var("proc.lines") or 0) + 1)
      if cmd == "QUIT" then
         applet:send("bye " .. name .. "\n")
         break
      elseif cmd == "TIME" then
         applet:send(os.date("!%Y-%m-%dT%H:%M:%SZ", core.now().sec) .. "\n")
      elseif cmd == "UPPER" then
         applet:send(arg:upper() .. "\n")
      elseif cmd == "COUNT" then
         applet:send(applet:get_var("proc.lines") .. " lines served\n")
      else
         applet:send("ERR unknown command\n")
      end
   end
   -- Returning closes the connection, after what was sent.
end)

-- tcp_request: ["lua.login-as NAME"]: one argument.
core.register_action("login-as", { "tcp-req" }, function(txn, name)
   -- Channel:send passes bytes on to the server ahead of the client's own
   -- input. The action does not wait for the client: the connection to the
   -- server opens at once and everything after is piped both ways.
   txn.req:send("HELLO " .. name .. "\n")
end, 1)
