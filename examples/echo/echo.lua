-- A JSON echo service: the request as a Lua service sees it.
--
-- AppletHTTP has no fetches yet, so an http-req action passes the client
-- address to the service in a txn variable.

core.register_action("client", { "http-req" }, function(txn)
   txn:set_var("txn.client", txn.f:src() .. ":" .. txn.f:src_port())
end)

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c)
      return escapes[c] or string.format("\\u%04x", c:byte())
   end) .. '"'
end

core.register_service("echo", "http", function(applet)
   -- applet.headers: lower-case name -> { [0] = first value, [1] = second, ... }
   local names = {}
   for name in pairs(applet.headers) do
      names[#names + 1] = name
   end
   table.sort(names)
   local headers = {}
   for _, name in ipairs(names) do
      local values = applet.headers[name]
      local list = {}
      for i = 0, #values do
         list[#list + 1] = json_string(values[i])
      end
      headers[#headers + 1] = json_string(name) .. ":[" .. table.concat(list, ",") .. "]"
   end

   local body = applet:receive() -- the whole request body ("" if none)

   local out = "{" .. table.concat({
      '"client":' .. json_string(applet:get_var("txn.client") or ""),
      '"method":' .. json_string(applet.method),
      '"path":' .. json_string(applet.path),
      '"query":' .. json_string(applet.qs),
      '"version":' .. json_string(applet.version),
      '"headers":{' .. table.concat(headers, ",") .. "}",
      '"body":' .. json_string(body),
   }, ",") .. "}\n"

   applet:set_status(200)
   applet:add_header("content-type", "application/json")
   applet:add_header("content-length", #out)
   applet:start_response()
   applet:send(out)
end)
