-- API keys checked by an http-req action against a map file.
--
-- The action takes the key from X-API-Key (or "Authorization: Bearer KEY"),
-- looks it up in api-keys.map and stores the user in txn.user for the
-- service; without a known key it answers 401 with WWW-Authenticate.

local keys -- the Map, opened once per core

core.register_init(function()
   -- A relative map path starts from the configuration file's folder,
   -- like lua.load.
   keys = Map.new("api-keys.map", Map._str)
end)

local function api_key(txn)
   local key = txn.f:req_fhdr("x-api-key")
   if key ~= nil then
      return key
   end
   local authorization = txn.f:req_fhdr("authorization")
   return authorization and authorization:match("^[Bb]earer +(%S+)$")
end

-- http_request: ["lua.api-key REALM"]: the one argument names the realm.
core.register_action("api-key", { "http-req" }, function(txn, realm)
   local key = api_key(txn)
   local user = key and keys:lookup(key)
   if user == nil then
      txn:done(txn:reply({
         status = 401,
         headers = {
            ["content-type"] = "text/plain",
            ["www-authenticate"] = 'Bearer realm="' .. realm .. '"',
         },
         body = key and "unknown API key\n" or "API key required\n",
      }))
   end
   txn:set_var("txn.user", user)
end, 1)

core.register_service("whoami", "http", function(applet)
   local body = "hello " .. applet:get_var("txn.user") .. ", you asked for " .. applet.path .. "\n"
   applet:set_status(200)
   applet:add_header("content-type", "text/plain")
   applet:add_header("content-length", #body)
   applet:start_response()
   applet:send(body)
end)
