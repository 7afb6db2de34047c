-- Two HTTP services that show the path and txn.v, an action that sets
-- txn.v and one that fails.
local function say(text)
  return function(applet)
    local body = text .. " " .. applet.path .. " v=" .. tostring(applet:get_var("txn.v")) .. "\n"
    applet:set_status(200)
    applet:add_header("content-type", "text/plain")
    applet:add_header("content-length", #body)
    applet:start_response()
    applet:send(body)
  end
end
core.register_service("one", "http", say("one"))
core.register_service("two", "http", say("two"))
core.register_action("setv", {"http-req", "http-res"}, function(txn, v) txn:set_var("txn.v", v) end, 1)
core.register_action("boom", {"http-req"}, function(txn) error("boom") end)
