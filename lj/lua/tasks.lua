-- core.register_init and core.register_task.
-- Reference: HAProxy Lua API, core.register_init / core.register_task.
-- Each core has its own Lua state, so an init function runs once per core
-- (after the scripts loaded, before traffic) and a task runs on every
-- core's event loop, as HAProxy does with lua-load-per-thread.
local I = require("luaedge.internal")

I.inits = {}
I.tasks = {}

function core.register_init(fn)
	I.check_type("core.register_init", 1, fn, "function")
	I.inits[#I.inits + 1] = fn
end

-- core.register_task(fn[, args...]): fn(args...) runs in its own coroutine
-- and may sleep, yield and loop forever without blocking the loop.
function core.register_task(fn, ...)
	I.check_type("core.register_task", 1, fn, "function")
	I.tasks[#I.tasks + 1] = { fn = fn, args = { ... }, n = select("#", ...) }
end

function I.run_inits()
	for _, fn in ipairs(I.inits) do fn() end
end

I.entries[I.ENTRY_TASK] = function(s)
	local t = I.tasks[s.entry_arg]
	t.fn(unpack(t.args, 1, t.n))
end
