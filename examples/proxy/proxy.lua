-- A reverse proxy with Lua around it.
--
-- forwarded (http-req) adds X-Forwarded-For and X-Request-Id to the request
-- before it goes to a server, and notes when the request arrived.
-- response-time (http-res) runs on the server's response head: it adds
-- X-Response-Time and hides the server's own Server header.
-- edge-status (http-req) answers /edge/status itself, from the Server
-- class, so the request never reaches a server.

local BACKEND = "app"

core.register_action("forwarded", { "http-req" }, function(txn)
   local client = txn.f:src()
   local prior = txn.f:req_fhdr("x-forwarded-for")
   txn.http:req_set_header("x-forwarded-for", prior and (prior .. ", " .. client) or client)
   local now = core.now()
   txn.http:req_set_header("x-request-id",
      string.format("%x-%x-%x", now.sec, now.usec, txn.f:src_port()))
   -- The same TXN comes back in the http-response actions: a txn.
   -- variable carries the start time over.
   txn:set_var("txn.start", now.sec * 1e6 + now.usec)
end)

core.register_action("response-time", { "http-res" }, function(txn)
   local now = core.now()
   local start = txn:get_var("txn.start")
   if start then
      local ms = (now.sec * 1e6 + now.usec - start) / 1000
      txn.http:res_set_header("x-response-time", string.format("%.1fms", ms))
   end
   txn.http:res_del_header("server") -- luaedge adds its own
end)

-- GET /edge/status: one line per server, from Server:get_stats(). Server
-- states are shared by every core, so any core gives the same answer.
core.register_action("edge-status", { "http-req" }, function(txn)
   if txn.f:path() ~= "/edge/status" then
      return act.CONTINUE
   end
   local be = core.backends[BACKEND]
   local names = {}
   for name in pairs(be.servers) do names[#names + 1] = name end
   table.sort(names)
   local lines = {}
   for _, name in ipairs(names) do
      local st = be.servers[name]:get_stats()
      lines[#lines + 1] = string.format("%s %s %s weight=%d requests=%d check=%s",
         name, st.addr, st.status, st.weight, st.stot, st.check_status or "-")
   end
   local body = table.concat(lines, "\n") .. "\n"
   txn:done(txn:reply({
      status = 200,
      headers = { ["content-type"] = "text/plain" },
      body = body,
   }))
end)
