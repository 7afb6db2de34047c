-- Accounting of the functions scripts register: for each action, service,
-- fetch, converter, task and init function, how many calls started, how
-- many raised an error, how many the CPU watchdog stopped, the time they
-- ran and the Lua heap bytes they allocated. core.get_script_stats() reads
-- this state's; lj.State.ScriptStats gives them to Go.
--
-- Time is read from a monotonic clock in C (FFI, no gate call) when a
-- call starts and ends, and around each wait of its request (I.wait): the
-- time a request is parked is not its function's. Bytes come from the
-- state's allocator (le_loop.allocated, bytes allocated so far) read at
-- the same points. A function called by another (a Lua fetch from an
-- action) is counted in both.
local I = ...
setfenv(1, I.env)

local clock, loop = I.mono_us, I.loop
local getinfo = debug.getinfo

I.records = {}   -- every record, in registration order
local named = {} -- kind .. "\0" .. name -> record

-- record returns the record of fn, registered as a function of kind
-- ("action", "service", "fetch", "converter", "task", "init") under name.
-- A name registered again keeps its record, and its counts go on; tasks
-- and init functions have no name (nil) and a record per registration.
function I.record(kind, name, fn)
	local info = getinfo(fn, "S")
	local source = info.short_src .. ":" .. info.linedefined
	local key = name and (kind .. "\0" .. name)
	local st = key and named[key]
	if st == nil then
		st = { kind = kind, name = name, calls = 0, errors = 0, timeouts = 0, time = 0, alloc = 0 }
		I.records[#I.records + 1] = st
		if key then named[key] = st end
	end
	st.fn, st.source = fn, source
	return st
end

-- enter and leave bracket a call of the function of record st that runs
-- at the top of a request's coroutine (action, service, task, init): one
-- at a time per coroutine, so its start is kept in the context. An error
-- that escapes it is caught by the runner, which calls leave(ctx, true).
function I.enter(ctx, st)
	st.calls = st.calls + 1
	ctx.call, ctx.t0, ctx.b0 = st, clock(), loop.allocated
end

function I.leave(ctx, failed)
	local st = ctx.call
	st.time = st.time + (clock() - ctx.t0)
	st.alloc = st.alloc + (loop.allocated - ctx.b0)
	if failed then st.errors = st.errors + 1 end
	ctx.call, ctx.last = false, st
end

-- count_timeout counts a CPU timeout against the function coroutine co is
-- running, or ran last: the CPU watchdog calls it (lj.State.CountTimeout)
-- for a request it stopped.
function I.count_timeout(co)
	local ctx = I.running[co]
	local st = ctx and (ctx.call or ctx.last)
	if st then st.timeouts = st.timeouts + 1 end
end

-- core.get_script_stats() returns this core's records as a list, in
-- registration order (a luaedge addition: HAProxy has no such counters).
function core.get_script_stats()
	local out = {}
	for i, st in ipairs(I.records) do
		out[i] = {
			kind = st.kind, name = st.name, source = st.source,
			calls = st.calls, errors = st.errors, timeouts = st.timeouts,
			time_us = st.time, alloc_bytes = st.alloc,
		}
	end
	return out
end

-- report_stats hands every record to Go (lj/accounting.go).
function I.report_stats()
	local gocall, id = I.gocall, I.go.script_stat
	for _, st in ipairs(I.records) do
		gocall(id, st.kind, st.name or "", st.source, st.calls, st.errors, st.timeouts, st.time, st.alloc)
	end
end
