-- The Lua half of the bridge: FFI declarations of the structs in
-- cgo/stream.h, typed pointers to the C helpers, and the coroutine runner.
-- Go runs this chunk first in every state with the bridge table as its
-- argument; it returns the runner that every pooled coroutine executes.
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
	LE_OP_SOCKET = 6
};
enum {
	LE_SOCK_CONNECT = 1,
	LE_SOCK_SEND = 2,
	LE_SOCK_RECV = 3,
	LE_SOCK_CLOSE = 4,
	LE_SOCK_OK = 0,
	LE_SOCK_EFAIL = -1,
	LE_SOCK_ETIMEOUT = -2,
	LE_SOCK_ECLOSED = -3
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
	LE_F_ERR_LOG = 256
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
	LE_MSG_CLOSE = 4
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
} le_stream;
typedef struct le_loop {
	uint32_t stk_want;
	uint32_t nversions;
	const uint32_t *versions;
	le_buf scratch;
} le_loop;
]]

local C = ffi.C -- the enums' constants (no symbol lookup: they are declared above)
local I = {
	OP_DONE = C.LE_OP_DONE, OP_SLEEP = C.LE_OP_SLEEP, OP_YIELD = C.LE_OP_YIELD, OP_RECV = C.LE_OP_RECV,
	OP_FLUSH = C.LE_OP_FLUSH, OP_FORWARD = C.LE_OP_FORWARD, OP_SOCKET = C.LE_OP_SOCKET,
	F_BODY_END = C.LE_F_BODY_END, F_STARTED = C.LE_F_STARTED, F_HEAD_SENT = C.LE_F_HEAD_SENT,
	F_FAILED = C.LE_F_FAILED, F_SESS_VARS = C.LE_F_SESS_VARS, F_ABORT = C.LE_F_ABORT,
	F_SOCKOPT = C.LE_F_SOCKOPT, F_FORWARD = C.LE_F_FORWARD, F_ERR_LOG = C.LE_F_ERR_LOG,
	KIND_HTTP1 = C.LE_KIND_HTTP1, KIND_HTTP2 = C.LE_KIND_HTTP2, KIND_TCP = C.LE_KIND_TCP,
	KIND_WEBSOCKET = C.LE_KIND_WEBSOCKET,
	MSG_TEXT = C.LE_MSG_TEXT, MSG_BINARY = C.LE_MSG_BINARY, MSG_CLOSE = C.LE_MSG_CLOSE,
	-- Entry functions Go selects with le_stream.entry (eventloop/entries.go).
	ENTRY_HTTP = 1,
	ENTRY_END_SESSION = 2,
	ENTRY_TASK = 3,
	ENTRY_TCP = 4,
	entries = {},
	-- What an entry does after core.done() returned from one of its script
	-- functions (by entry id; see actions.lua).
	continues = {},
	-- The stream each pooled coroutine is bound to.
	streams = setmetatable({}, { __mode = "k" }),
	gocall = B.gocall,
	go = {}, -- ids of Go functions, filled in by Go
	buf_append = ffi.cast("int (*)(le_buf *, const char *, size_t)", B.buf_append),
	add_rfield = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_rfield),
	set_reason = ffi.cast("int (*)(le_stream *, const char *, size_t)", B.set_reason),
	add_field = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_field),
	buf_put = ffi.cast("int (*)(le_buf *, const char *, size_t, le_span *)", B.buf_put),
	del_fields = ffi.cast("int (*)(le_stream *, int, const char *, size_t)", B.del_fields),
	add_rtrailer = ffi.cast("int (*)(le_stream *, const char *, size_t, const char *, size_t)", B.add_rtrailer),
	end_msg = ffi.cast("int (*)(le_stream *, int)", B.end_msg),
	now_us = ffi.cast("double (*)(void)", B.now_us),
	b64 = ffi.cast("int (*)(le_buf *, const char *, size_t, int)", B.b64),
	hash = ffi.cast("uint32_t (*)(int, const char *, size_t, int)", B.hash),
	-- What this state shares with its loop (cgo/stream.h, le_loop).
	loop = ffi.cast("le_loop *", B.loop),
}
package.loaded["luaedge.internal"] = I

local stream_ptr = ffi.typeof("le_stream *")
local bor = bit.bor
local yield = coroutine.yield
local entries = I.entries
local continues = I.continues
local buf_append = I.buf_append

-- current returns the stream of the running request, or nil outside one
-- (body context, a task, or a coroutine the script made itself).
function I.current()
	return I.streams[coroutine.running()]
end

-- wait yields the running request to the loop until Go resumes it.
function I.wait(s, op, arg)
	s.op = op
	s.arg = arg or 0
	-- The stick counters Go copied in belong to the first resume only.
	s.stk_have = 0
	yield()
end

local function traceback(e)
	-- Sentinels pass through; so does running out of memory, since a
	-- traceback would need more of it.
	if e == I.Done or e == I.CoreDone or e == "not enough memory" then return e end
	if type(e) ~= "string" then
		local mt = getmetatable(e)
		e = (mt and mt.__tostring) and tostring(e) or ("(error object is a " .. type(e) .. " value)")
	end
	return debug.traceback(e, 2)
end

-- runner is the body of every pooled coroutine. ctx holds what belongs
-- to the coroutine's requests: their variables (dropped after each), and
-- the TXN and AppletHTTP tables that each request reuses.
local function runner(sp)
	local s = ffi.cast(stream_ptr, sp)
	I.streams[coroutine.running()] = s
	local ctx = {}
	yield()
	while true do
		local ok, err = xpcall(entries[s.entry], traceback, s, ctx)
		-- core.done() stopped one script function, or an action failed on
		-- a frontend with on_error: continue: the entry goes on.
		while not ok and continues[s.entry] and (err == I.CoreDone or I.recover(s, ctx, err)) do
			ok, err = xpcall(continues[s.entry], traceback, s, ctx)
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
		-- Only keys that are set are cleared: compiled code stores a nil
		-- into an absent key by inserting it, and the table then churns
		-- through new keys and rehashes on every request.
		if ctx.vars ~= nil then ctx.vars = nil end
		if ctx.cur ~= nil then ctx.cur = nil end
		if ctx.tcp ~= nil then ctx.tcp, ctx.tcp_stage = nil, nil end
		if ctx.passed ~= nil then ctx.passed = nil end
		s.op = I.OP_DONE
		yield()
	end
end

I.traceback = traceback
return runner
