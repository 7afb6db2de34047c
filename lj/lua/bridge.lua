-- The Lua half of the bridge: FFI declarations of the structs in
-- cgo/stream.h, typed pointers to the C helpers, and the coroutine runner.
-- Go runs this chunk first in every state with the bridge table as its
-- argument; it returns the runner that every pooled coroutine executes and
-- luaedge's internal table, I, which Go passes to luaedge's other chunks
-- (local I = ...) and never to the operator's scripts (sandbox.lua).
local B = ...
local ffi = require("ffi")
local bit = require("bit")

-- Keep identical to cgo/stream.h (lj's tests compare the two): the
-- constants Lua uses below are read from these enums.
ffi.cdef[[
enum {
	LE_OP_DONE = 0,
	LE_OP_SLEEP = 1,
	LE_OP_YIELD = 2,
	LE_OP_RECV = 3,
	LE_OP_FLUSH = 4,
	LE_OP_FORWARD = 5,
	LE_OP_SOCKET = 6,
	LE_OP_UPGRADE = 7,
	LE_OP_AFTER = 8,
	LE_OP_INTERIM = 9,
	LE_OP_RES_BODY = 10
};
enum {
	LE_SOCK_CONNECT = 1,
	LE_SOCK_SEND = 2,
	LE_SOCK_RECV = 3,
	LE_SOCK_CLOSE = 4,
	LE_SOCK_WS_CONNECT = 5,
	LE_SOCK_WS_SEND = 6,
	LE_SOCK_WS_RECV = 7,
	LE_SOCK_WS_CLOSE = 8,
	LE_SOCK_SHARED = 24,
	LE_SOCK_OK = 0,
	LE_SOCK_EFAIL = -1,
	LE_SOCK_ETIMEOUT = -2,
	LE_SOCK_ECLOSED = -3
};
enum {
	LE_SOCK_HTTP = 16,
	LE_SOCK_HTTP_READ = 17,
	LE_SOCK_RESOLVE = 18,
	LE_SOCK_HTTP_WRITE = 19
};
enum {
	LE_F_BODY_END = 1,
	LE_F_STARTED = 2,
	LE_F_HEAD_SENT = 4,
	LE_F_FAILED = 8,
	LE_F_SESS_VARS = 16,
	LE_F_ABORT = 32,
	LE_F_SOCKOPT = 64,
	LE_F_FORWARD = 128,
	LE_F_ERR_LOG = 256,
	LE_F_SVC_ERR = 512,
	LE_F_HOOKS_AFTER = 1024,
	LE_F_AFTER = 2048,
	LE_F_INSPECT_OVER = 4096,
	LE_F_RES_INSPECT_OVER = 8192,
	LE_F_RES_END = 32768,
	LE_F_REQ_FILTER = 65536
};
enum {
	LE_KIND_HTTP1 = 0,
	LE_KIND_HTTP2 = 1,
	LE_KIND_TCP = 2,
	LE_KIND_WEBSOCKET = 3
};
enum {
	LE_MSG_TEXT = 1,
	LE_MSG_BINARY = 2,
	LE_MSG_CLOSE = 4,
	LE_MSG_PING = 8,
	LE_MSG_PONG = 16,
	LE_MSG_REPLY = 32
};
enum { LE_B64_ENC = 0, LE_B64_DEC = 1, LE_B64_UENC = 2, LE_B64_UDEC = 3 };
enum { LE_HASH_CRC32 = 1, LE_HASH_CRC32C = 2, LE_HASH_DJB2 = 3, LE_HASH_SDBM = 4, LE_HASH_WT6 = 5 };
typedef struct le_buf {
	char *p;
	uint32_t len;
	uint32_t cap;
} le_buf;
typedef struct le_span {
	uint32_t off;
	uint32_t len;
} le_span;
typedef struct le_field {
	le_span name;
	le_span value;
} le_field;
typedef struct le_msg {
	uint32_t end;
	uint8_t flags;
} le_msg;
typedef struct le_stream {
	int32_t entry;
	int32_t entry_arg;
	int32_t op;
	double arg;
	le_buf head;
	le_span method;
	le_span target;
	le_span path;
	le_span query;
	le_span authority;
	le_span src;
	le_span dst;
	int32_t src_port;
	int32_t dst_port;
	int32_t major;
	int32_t minor;
	le_field *fields;
	uint32_t nfields;
	uint32_t fields_cap;
	int64_t content_length;
	le_buf body;
	uint32_t body_pos;
	uint32_t flags;
	int64_t conn_id;
	int32_t backend;
	int32_t status;
	le_span reason;
	le_buf resp;
	le_field *rfields;
	uint32_t nrfields;
	uint32_t rfields_cap;
	le_buf out;
	int32_t tos;
	int32_t mark;
	int32_t log_level;
	char term[2];
	uint32_t stk_have;
	uint32_t stk_none;
	double stk[16];
	int32_t sock;
	int32_t sock_op;
	int32_t sock_arg;
	int32_t sock_ms;
	int32_t sock_res;
	le_buf io;
	le_buf err;
	int32_t kind;
	uint32_t stream_id;
	le_span scheme;
	le_span protocol;
	le_field *trailers;
	uint32_t ntrailers;
	uint32_t trailers_cap;
	le_field *rtrailers;
	uint32_t nrtrailers;
	uint32_t rtrailers_cap;
	le_msg *msgs;
	uint32_t nmsgs;
	uint32_t msgs_cap;
	le_span tls_version;
	le_span tls_cipher;
	le_span tls_sni;
	le_span tls_alpn;
	le_span tls_client;
	le_span pp_tlvs;
	int32_t ws_op;
	int32_t ws_code;
	le_buf logvars;
	int32_t srv_be;
	int32_t srv_id;
	le_buf stick;
	int32_t prst;
	int32_t server_ms;
	int32_t tunnel_ms;
	int32_t cache_use;
	int32_t cache_store;
	int32_t cache_hit;
	int32_t res_ver;
	int32_t service;
	le_buf untrack;
} le_stream;
typedef struct le_loop {
	uint32_t stk_want;
	uint32_t nversions;
	const uint32_t *versions;
	le_buf scratch;
	double allocated;
	int32_t timed_out;
} le_loop;
]]

local C = ffi.C -- the enums' constants (no symbol lookup: they are declared above)
local I = {
	OP_DONE = C.LE_OP_DONE, OP_SLEEP = C.LE_OP_SLEEP, OP_YIELD = C.LE_OP_YIELD, OP_RECV = C.LE_OP_RECV,
	OP_FLUSH = C.LE_OP_FLUSH, OP_FORWARD = C.LE_OP_FORWARD, OP_SOCKET = C.LE_OP_SOCKET,
	OP_UPGRADE = C.LE_OP_UPGRADE, OP_AFTER = C.LE_OP_AFTER, OP_INTERIM = C.LE_OP_INTERIM,
	OP_RES_BODY = C.LE_OP_RES_BODY,
	F_BODY_END = C.LE_F_BODY_END, F_STARTED = C.LE_F_STARTED, F_HEAD_SENT = C.LE_F_HEAD_SENT,
	F_FAILED = C.LE_F_FAILED, F_SESS_VARS = C.LE_F_SESS_VARS, F_ABORT = C.LE_F_ABORT,
	F_SOCKOPT = C.LE_F_SOCKOPT, F_FORWARD = C.LE_F_FORWARD, F_ERR_LOG = C.LE_F_ERR_LOG,
	F_SVC_ERR = C.LE_F_SVC_ERR,
	F_HOOKS_AFTER = C.LE_F_HOOKS_AFTER, F_AFTER = C.LE_F_AFTER,
	F_INSPECT_OVER = C.LE_F_INSPECT_OVER,
	F_RES_INSPECT_OVER = C.LE_F_RES_INSPECT_OVER,
	F_RES_END = C.LE_F_RES_END, F_REQ_FILTER = C.LE_F_REQ_FILTER,
	KIND_HTTP1 = C.LE_KIND_HTTP1, KIND_HTTP2 = C.LE_KIND_HTTP2, KIND_TCP = C.LE_KIND_TCP,
	KIND_WEBSOCKET = C.LE_KIND_WEBSOCKET,
	MSG_TEXT = C.LE_MSG_TEXT, MSG_BINARY = C.LE_MSG_BINARY, MSG_CLOSE = C.LE_MSG_CLOSE,
	MSG_PING = C.LE_MSG_PING, MSG_PONG = C.LE_MSG_PONG, MSG_REPLY = C.LE_MSG_REPLY,
	-- Entry functions Go selects with le_stream.entry (eventloop/entries.go).
	ENTRY_HTTP = 1,
	ENTRY_END_SESSION = 2,
	ENTRY_TASK = 3,
	ENTRY_TCP = 4,
	ENTRY_WS_FILTER = 5,
	ENTRY_CLI = 6,
	ENTRY_CONNECT = 7,
	ENTRY_CLOSE = 8,
	ENTRY_FLUSH = 9,
	entries = {},
	-- What an entry does after core.done() returned from one of its script
	-- functions (by entry id; see actions.lua).
	continues = {},
	gocall = B.gocall,
	go = {}, -- ids of Go functions, filled in by Go
	buf_append = ffi.cast("int (*)(le_buf *, const char *, size_t)", B.buf_append),
	add_rfield = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_rfield),
	set_reason = ffi.cast("int (*)(le_stream *, const char *, size_t)", B.set_reason),
	add_field = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_field),
	buf_put = ffi.cast("int (*)(le_buf *, const char *, size_t, le_span *)", B.buf_put),
	buf_move = ffi.cast("void (*)(le_buf *, uint32_t, uint32_t, uint32_t)", B.buf_move),
	del_fields = ffi.cast("int (*)(le_stream *, int, const char *, size_t)", B.del_fields),
	add_rtrailer = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_rtrailer),
	end_msg = ffi.cast("int (*)(le_stream *, int)", B.end_msg),
	now_us = ffi.cast("double (*)(void)", B.now_us),
	mono_us = ffi.cast("double (*)(void)", B.mono_us),
	b64 = ffi.cast("int (*)(le_buf *, const char *, size_t, int)", B.b64),
	hash = ffi.cast("uint32_t (*)(int, const char *, size_t, int)", B.hash),
	xxh32 = ffi.cast("uint32_t (*)(const char *, size_t, uint32_t)", B.xxh32),
	xxh64 = ffi.cast("int64_t (*)(const char *, size_t, uint64_t)", B.xxh64),
	xxh3 = ffi.cast("int64_t (*)(const char *, size_t, uint64_t)", B.xxh3),
	-- What this state shares with its loop (cgo/stream.h, le_loop).
	loop = ffi.cast("le_loop *", B.loop),
	-- Light userdata for cjson.null and cjson.empty_array (cjson.lua).
	null = B.null,
	empty_array = B.empty_array,
}

-- env is the environment of luaedge's own chunks (each sets it with
-- setfenv(1, I.env)): the standard library as it is now, before any
-- script ran, with its tables copied. A script may replace a global or a
-- library function (math.min, tonumber); luaedge's code, which computes
-- offsets into C buffers with them, keeps the originals. Names not in it
-- (core, act) are read from the globals.
local function copy(t)
	local c = {}
	for k, v in pairs(t) do c[k] = v end
	return c
end
local env = {}
for k, v in pairs(_G) do
	if type(v) == "table" and k ~= "_G" and k ~= "package" then v = copy(v) end
	env[k] = v
end
I.env = setmetatable(env, { __index = _G })
setfenv(1, env)

-- A request's path through the runner, its rules and its service is
-- meant to compile into one trace. Its constants (field names, the
-- functions it calls) pass LuaJIT's default limit of 500 with one rule and
-- a service: in the action bench case the trace aborted ("trace too
-- long") and the request ran on short traces and the interpreter, a third
-- slower (1130 against 850 ns of CPU a request in lj's benchmark).
jit.opt.start("maxirconst=1000")

local stream_ptr = ffi.typeof("le_stream *")
local bor = bit.bor
local co_running, yield = coroutine.running, coroutine.yield
local entries = I.entries
local continues = I.continues
local buf_append = I.buf_append
local clock, loop = I.mono_us, I.loop

-- The context of each request coroutine (see runner), by coroutine. It is
-- private: the objects scripts get (TXN, AppletHTTP, ...) find theirs
-- through I.owner, never through a field of their own, so no script can
-- reach the stream pointer it holds or change what luaedge computes from.
local running = setmetatable({}, { __mode = "k" })
I.running = running

-- owner maps each object handed to scripts (TXN, HTTP, Channel, AppletHTTP,
-- AppletTCP, fetches) to the context of the coroutine it belongs to. The
-- objects are made once per coroutine and reused for its requests.
I.owner = setmetatable({}, { __mode = "k" })

-- unbind runs (from C) when Go frees a coroutine, just before its stream
-- is freed: an object a script kept from one of its requests then finds no
-- stream (I.stream_of raises an error) instead of freed memory.
function I.unbind(co)
	local ctx = running[co]
	if ctx ~= nil then
		ctx.s = nil
		running[co] = nil
	end
end

-- current returns the stream and context of the running request, or nil
-- outside one (body context, init, a coroutine the script made itself).
function I.current()
	local ctx = running[co_running()]
	if ctx == nil then return nil end
	return ctx.s, ctx
end

-- head_full reports whether n more bytes (and a field entry) would take
-- a head of stream s past HEAD_MAX: the request's (resp false: the head as
-- it arrived with the fields and path scripts add or change) or the
-- response's (status reason, fields, trailers), in C memory outside
-- lua.memory_limit, each field's entry counting 16 bytes. The caller
-- raises an error naming itself and HEAD_FULL (docs/lua-api.md, "Limits").
local HEAD_MAX = 1048576
I.HEAD_FULL = "would hold more than 1 MiB (luaedge's limit of the bytes of a head)"
function I.head_full(s, resp, n)
	local used
	if resp then
		used = s.resp.len + 16 * (s.nrfields + s.nrtrailers)
	else
		used = s.head.len + 16 * (s.nfields + s.ntrailers)
	end
	return used + n + 16 > HEAD_MAX
end

-- stream_of returns the stream and context of obj, an object of class
-- (its name, for messages) made for a request, whose method fname was
-- called. When obj is not one, or its coroutine is gone, the error blames
-- the frame level frames up (default 3: the method's caller).
local owner = I.owner
function I.stream_of(obj, fname, class, level)
	local ctx = owner[obj]
	local s = ctx and ctx.s
	if s == nil then
		if ctx == nil then
			error("bad argument #1 to '" .. fname .. "' (" .. class .. " expected; use obj:" .. fname .. "(...))", level or 3)
		end
		error(class .. ":" .. fname .. ": the request of this " .. class .. " has ended", level or 3)
	end
	return s, ctx
end

-- wait yields the running request to the loop until Go resumes it. Only
-- the coroutine of ctx may wait on its stream: a coroutine the script made,
-- or another request using an object it kept, would otherwise park without
-- Go knowing, or park the wrong request. The running
-- function's time and allocations (see accounting.lua) are counted up to
-- here and again from the resume: what the loop does meanwhile is not its.
function I.wait(ctx, op, arg)
	if running[co_running()] ~= ctx then
		error("cannot wait here: only in the request's own coroutine, not in one the script made nor with an object of another request", 3)
	end
	local s = ctx.s
	s.op = op
	s.arg = arg or 0
	-- The stick counters Go copied in belong to the first resume only.
	s.stk_have = 0
	local t, b = clock(), loop.allocated
	local st = ctx.call
	if st then
		st.time = st.time + (t - ctx.t0)
		st.alloc = st.alloc + (b - ctx.b0)
	end
	yield()
	local t2, b2 = clock(), loop.allocated
	ctx.t0, ctx.b0 = t2, b2
	ctx.parked = ctx.parked + (t2 - t)
	ctx.parked_alloc = ctx.parked_alloc + (b2 - b)
end

local traceback_of = debug.traceback
local function traceback(e)
	-- Sentinels pass through; so does running out of memory, since a
	-- traceback would need more of it.
	if e == I.Done or e == I.CoreDone or e == "not enough memory" then return e end
	if type(e) ~= "string" then
		local mt = getmetatable(e)
		e = (mt and mt.__tostring) and tostring(e) or ("(error object is a " .. type(e) .. " value)")
	end
	return traceback_of(e, 2)
end

-- log_vars are, by frontend program, the variables its access log names:
-- their values go to the C stream as the request ends (see logvars in
-- cgo/stream.h), before its variables are dropped. Besides variables a
-- format names captures (capture.req.N, capture.res.N) and Lua fetches
-- (lua.NAME, called with the transaction): each name is compiled once into
-- a getter of (ctx, s).
local log_vars = {}
local tostring_ = tostring

-- set_log_vars gives program id the names its access log reads.
function I.set_log_vars(id, names)
	local getters = {}
	for i, name in ipairs(names) do
		local side, n = name:match("^capture%.(re[qs])%.(%d+)$")
		local cookie_side = name:match("^capture%.(re[qs])%.cookie$")
		local fetch = name:match("^lua%.(.+)$")
		if side then
			n = tonumber(n)
			getters[i] = function(_, s) return I.captured_value(s, side, n) end
		elseif cookie_side then
			getters[i] = function(_, s) return I.captured_cookie(s, cookie_side) end
		elseif fetch then
			-- A Lua fetch needs the transaction, and may read the
			-- response: the program keeps both.
			local p = I.programs[id]
			p.plain, p.wait_res = false, true
			getters[i] = function(ctx, s)
				local st, txn = I.lua_fetches[fetch], ctx.cur
				if st == nil or txn == nil then return nil end
				local ok, v = pcall(I.call_script, st, ctx, st.fn, txn)
				if ok then return v end
				return nil
			end
		else
			getters[i] = function(ctx, s) return I.vars.get(ctx, s, name) end
		end
	end
	log_vars[id] = getters
end

local function write_log_vars(s, ctx, getters)
	for i = 1, #getters do
		local v = getters[i](ctx, s)
		if v == nil then
			buf_append(s.logvars, "-", 1)
		else
			-- An integer with all its digits (a cdata past 2^53 without
			-- its "LL"), as HAProxy logs its integers.
			local t = type(v)
			if t == "number" or t == "cdata" and I.is_int64(v) then v = I.int_str(v) else v = tostring_(v) end
			local h = #v .. ":"
			buf_append(s.logvars, h, #h)
			buf_append(s.logvars, v, #v)
		end
	end
end

-- request_done is what every request ends with, whether its entry
-- returned or failed: the log's variables, the hooks' end, ctx emptied,
-- and OP_DONE for Go.
local function request_done(s, ctx)
	if s.entry == I.ENTRY_HTTP or s.entry == I.ENTRY_TCP then
		local getters = log_vars[s.entry_arg]
		if getters ~= nil then write_log_vars(s, ctx, getters) end
		I.request_ended(s)
	end
	-- A request with hook scripts: what of them runs at its end
	-- (hooks.lua), after_response in a resume of its own.
	if ctx.hooks ~= nil then I.hooks_end(s, ctx) end
	-- Only keys that are set are cleared: compiled code stores a nil
	-- into an absent key by inserting it, and the table then churns
	-- through new keys and rehashes on every request.
	if ctx.vars ~= nil then ctx.vars = nil end
	if ctx.cur ~= nil then ctx.cur = nil end
	if ctx.tcp ~= nil then ctx.tcp, ctx.tcp_stage = nil, nil end
	if ctx.passed ~= nil then ctx.passed = nil end
	s.op = I.OP_DONE
end

-- serve runs the coroutine's requests one after the other, inside the
-- runner's xpcall, until one fails. A request's end returns into this
-- Lua frame, where the compiled code of a request resumed after a wait
-- goes on into request_done; returning into the xpcall's frame, which
-- LuaJIT cannot compile, would leave the rest of such a request to the
-- interpreter.
local function serve(s, ctx)
	while true do
		entries[s.entry](s, ctx)
		if ctx.call then I.leave(ctx, false) end
		request_done(s, ctx)
		yield()
	end
end

-- runner is the body of every pooled coroutine. ctx holds what belongs
-- to the coroutine's requests: their stream, their variables (dropped
-- after each), the TXN and applet objects that each request reuses, and
-- the accounting of the registered function running (accounting.lua).
-- Requests run in serve; what comes back here is a request that failed.
local function runner(sp)
	local s = ffi.cast(stream_ptr, sp)
	-- The accounting's keys are set here: setting them on every call
	-- then inserts nothing.
	local ctx = { s = s, call = false, last = false, t0 = 0, b0 = 0, parked = 0, parked_alloc = 0 }
	running[co_running()] = ctx
	yield()
	while true do
		local ok, err = xpcall(serve, traceback, s, ctx)
		-- A registered function the error (or core.done, txn:done) ended.
		if ctx.call then I.leave(ctx, err ~= I.Done and err ~= I.CoreDone) end
		-- core.done() stopped one script function, or an action failed on
		-- a frontend with on_error: continue: the entry goes on.
		while not ok and continues[s.entry] and (err == I.CoreDone or I.recover(s, ctx, err)) do
			ok, err = xpcall(continues[s.entry], traceback, s, ctx)
			if ctx.call then I.leave(ctx, not ok and err ~= I.Done and err ~= I.CoreDone) end
		end
		if not ok and err ~= I.Done and err ~= I.CoreDone then
			if err == "not enough memory" then
				-- What the failed call held is garbage now: free it before
				-- anything else allocates.
				collectgarbage("collect")
				err = "not enough memory (lua.memory_limit reached)"
			end
			s.flags = bor(s.flags, I.F_FAILED)
			err = tostring(err)
			buf_append(s.err, err, #err)
		end
		request_done(s, ctx)
		yield()
	end
end

I.traceback = traceback
return runner, I
