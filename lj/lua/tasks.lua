-- core.register_init and core.register_task.
-- Reference: HAProxy Lua API, core.register_init / core.register_task.
-- Each core has its own Lua state, so an init function runs once per core
-- (after the scripts loaded, before traffic) and a task runs on every
-- core's event loop, as HAProxy does with lua-load-per-thread.
local I = ...
setfenv(1, I.env)

I.inits = {}
I.tasks = {}

function core.register_init(fn)
	I.check_type("core.register_init", 1, fn, "function")
	I.inits[#I.inits + 1] = I.record("init", nil, fn)
end

-- core.register_task(fn[, args...]): fn(args...) runs in its own coroutine
-- and may sleep, yield and loop forever without blocking the loop.
function core.register_task(fn, ...)
	I.check_type("core.register_task", 1, fn, "function")
	I.tasks[#I.tasks + 1] = { fn = fn, args = { ... }, n = select("#", ...), stats = I.record("task", nil, fn) }
end

-- run_inits runs on the state's main thread, outside any request: its
-- context only holds the accounting. An error stops the start, so it
-- needs no counting.
function I.run_inits()
	local ctx = { call = false, last = false, t0 = 0, b0 = 0 }
	for _, st in ipairs(I.inits) do
		I.enter(ctx, st)
		st.fn()
		I.leave(ctx, false)
	end
end

I.entries[I.ENTRY_TASK] = function(s, ctx)
	local t = I.tasks[s.entry_arg]
	I.enter(ctx, t.stats)
	t.fn(unpack(t.args, 1, t.n))
	I.leave(ctx, false)
end
