-- A maintenance window driven by a task.
--
-- The task decides twice a second whether the site is in maintenance and
-- records it in a map, the state every core shares (a task has no TXN, so it
-- cannot set proc.* variables). The http-req action reads it and answers 503
-- with Retry-After while maintenance is on, except for /status.
--
-- For the demo the schedule is a clock: PERIOD seconds on, PERIOD seconds
-- off. A real one would compare core.now() with planned windows.

local PERIOD = 10
local STATE = "maintenance.state" -- a map no file backs: core.set_map creates it

local state -- the Map, opened once per core

core.register_init(function()
   core.set_map(STATE, "on", "no")
   state = Map.new(STATE, Map._str)
end)

-- register_task runs this on every core's event loop. Each copy sets the
-- value the clock gives instead of toggling it, so the cores agree.
core.register_task(function()
   while true do
      local on = math.floor(core.now().sec / PERIOD) % 2 == 1
      core.set_map(STATE, "on", on and "yes" or "no")
      core.msleep(500)
   end
end)

core.register_action("maintenance", { "http-req" }, function(txn)
   if state:lookup("on") ~= "yes" or txn.f:path() == "/status" then
      return act.CONTINUE
   end
   -- proc.* variables are shared by every core (a read then a write is not
   -- atomic across cores: good enough for a statistic).
   txn:set_var("proc.refused", (txn:get_var("proc.refused") or 0) + 1)
   local left = PERIOD - core.now().sec % PERIOD
   txn:done(txn:reply({
      status = 503,
      headers = { ["content-type"] = "text/plain", ["retry-after"] = left },
      body = "down for maintenance, back in " .. left .. "s\n",
   }))
end)

core.register_service("site", "http", function(applet)
   local body
   if applet.path == "/status" then
      body = string.format("maintenance: %s\nrefused so far: %d\n",
         state:lookup("on"), applet:get_var("proc.refused") or 0)
   else
      body = "welcome\n"
   end
   applet:set_status(200)
   applet:add_header("content-type", "text/plain")
   applet:add_header("content-length", #body)
   applet:start_response()
   applet:send(body)
end)
