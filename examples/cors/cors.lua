-- CORS for an API served by Lua.
--
-- cors-preflight (http-req) answers preflight requests itself with
-- txn:done(reply): the answer comes from a request action, so the
-- http_response actions do not run on it and it carries its own headers.
-- cors-headers (http-res) adds the CORS headers to every other response.

-- The origins allowed to call the API, and what they may send.
local allowed = {
   ["https://app.example.com"] = true,
   ["http://localhost:3000"] = true,
}
local ALLOW_METHODS = "GET, POST, PUT, DELETE"
local ALLOW_HEADERS = "content-type, authorization"
local MAX_AGE = "600" -- seconds a browser may cache a preflight answer

local function allowed_origin(txn)
   local origin = txn.f:req_fhdr("origin")
   if origin ~= nil and allowed[origin] then
      return origin
   end
   return nil
end

core.register_action("cors-preflight", { "http-req" }, function(txn)
   -- A preflight is an OPTIONS request with Access-Control-Request-Method;
   -- any other request goes on to the next rule and the service.
   if txn.f:method() ~= "OPTIONS" or txn.f:req_fhdr("access-control-request-method") == nil then
      return act.CONTINUE
   end
   local origin = allowed_origin(txn)
   if origin == nil then
      -- txn:done does not return: the reply is the answer.
      txn:done(txn:reply({
         status = 403,
         headers = { ["content-type"] = "text/plain" },
         body = "origin not allowed\n",
      }))
   end
   txn:done(txn:reply({
      status = 204,
      headers = {
         ["access-control-allow-origin"] = origin,
         ["access-control-allow-methods"] = ALLOW_METHODS,
         ["access-control-allow-headers"] = ALLOW_HEADERS,
         ["access-control-max-age"] = MAX_AGE,
         ["vary"] = "origin",
      },
   }))
end)

core.register_action("cors-headers", { "http-res" }, function(txn)
   -- The request is still readable while the response is on its way.
   local origin = allowed_origin(txn)
   if origin ~= nil then
      txn.http:res_set_header("access-control-allow-origin", origin)
      txn.http:res_add_header("vary", "origin")
   end
end)

-- A stand-in for the API.
core.register_service("api", "http", function(applet)
   local body = '{"items":[1,2,3]}\n'
   applet:set_status(200)
   applet:add_header("content-type", "application/json")
   applet:add_header("content-length", #body)
   applet:start_response()
   applet:send(body)
end)
