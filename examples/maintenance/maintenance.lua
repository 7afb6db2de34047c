-- A maintenance window driven by a task.
--
-- The task decides twice a second whether the site is in maintenance and
-- records it in the proc.maintenance variable, which every core shares
-- (core.set_var works where there is no TXN, in tasks and init functions).
-- The http-req action reads it and answers 503 with Retry-After while
-- maintenance is on, except for /status.
--
-- For the demo the schedule is a clock: PERIOD seconds on, PERIOD seconds
-- off. A real one would compare core.now() with planned windows.

local PERIOD = 10

local function scheduled()
   return math.floor(core.now().sec / PERIOD) % 2 == 1
end

core.register_init(function()
   core.set_var("proc.maintenance", scheduled())
end)

-- register_task runs this on every core's event loop. Each copy sets the
-- value the clock gives instead of toggling it, so the cores agree.
core.register_task(function()
   while true do
      core.set_var("proc.maintenance", scheduled())
      core.msleep(500)
   end
end)

core.register_action("maintenance", { "http-req" }, function(txn)
   -- A variable holds HAProxy's sample types: true reads back as 1.
   if txn:get_var("proc.maintenance") ~= 1 or txn.f:path() == "/status" then
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
         applet:get_var("proc.maintenance") and "yes" or "no",
         applet:get_var("proc.refused") or 0)
   else
      body = "welcome\n"
   end
   applet:set_status(200)
   applet:add_header("content-type", "text/plain")
   applet:add_header("content-length", #body)
   applet:start_response()
   applet:send(body)
end)
