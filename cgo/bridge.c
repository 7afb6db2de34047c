/*
 * The C half of the bridge: state creation with a counting allocator, the
 * coroutine entry points Go calls once per request, and the helpers Lua
 * calls through FFI function pointers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "bridge.h"

/* le_alloc counts every byte the state holds and refuses growth past the
 * limit: LuaJIT turns the NULL into a "not enough memory" Lua error that
 * pcall can catch, so a greedy script fails instead of the process. */
static void *le_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	le_state *st = (le_state *)ud;
	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		st->used -= osize;
		return st->orig(st->orig_ud, ptr, osize, 0);
	}
	if (nsize > osize && st->limit > 0 && st->used + (nsize - osize) > st->limit) {
		st->oom = 1;
		return NULL;
	}
	void *p = st->orig(st->orig_ud, ptr, osize, nsize);
	if (p != NULL) {
		st->used = st->used - osize + nsize;
		if (nsize > osize)
			st->loop.allocated += (double)(nsize - osize);
	}
	return p;
}

static int le_traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* le_gocall is the one C function through which Lua reaches Go on slow paths
 * (registration, logging, admin). Go returns the number of results, or -1
 * with an error message pushed, raised here so no longjmp crosses Go frames. */
static int le_gocall(lua_State *L)
{
	le_state *st = (le_state *)lua_touserdata(L, lua_upvalueindex(1));
	/* Room for what the Go function pushes (Call.Push* do not check). */
	luaL_checkstack(L, 64, "luaedge gate");
	int n = leGoCall(L, st->value);
	if (n < 0)
		return lua_error(L);
	return n;
}

/* The collector's pause (how far the heap grows past what the last cycle
 * left live before the next starts, in percent): far from the memory
 * limit, garbage up to three times the live heap is let accumulate, which
 * makes cycles, each marking the whole live heap, a third as frequent as
 * at LuaJIT's default (200); past half the limit, the default, so that
 * garbage does not take the room of live data. Measured on the httpclient
 * bench: the collector's share of the CPU fell from 4.9 % to 2.1 %. */
#define LE_PAUSE_FAR 400
#define LE_PAUSE_NEAR 200

le_state *le_state_new(size_t limit, uintptr_t value)
{
	le_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->limit = limit;
	st->value = value;
	st->runner_ref = LUA_NOREF;
	pthread_mutex_init(&st->wd_lock, NULL);
	st->internal_ref = LUA_NOREF;
	/* LuaJIT's own allocator is much faster than malloc for its many small
	 * objects: keep it, and count (and cap) through a wrapper. */
	st->L = luaL_newstate();
	if (st->L == NULL) {
		pthread_mutex_destroy(&st->wd_lock);
		free(st);
		return NULL;
	}
	st->orig = lua_getallocf(st->L, &st->orig_ud);
	st->used = (size_t)lua_gc(st->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(st->L, LUA_GCCOUNTB, 0);
	lua_setallocf(st->L, le_alloc, st);
	luaL_openlibs(st->L);
	lua_gc(st->L, LUA_GCSETPAUSE, LE_PAUSE_FAR);
	return st;
}

void le_state_close(le_state *st)
{
	/* The watchdog has let go of st (Go removed it first), but a hook it
	 * set as a run ended may still be there: the hook finds st through the
	 * allocator, which is about to change, and finalizers run Lua. */
	lua_sethook(st->L, NULL, 0, 0);
	/* LuaJIT destroys its allocator's arena at close only if it is still the
	 * state's allocator; through le_alloc it would free the objects one by
	 * one and leave the arena's memory mapped for ever. */
	lua_setallocf(st->L, st->orig, st->orig_ud);
	lua_close(st->L);
	free(st->loop.scratch.p);
	pthread_mutex_destroy(&st->wd_lock);
	free(st);
}

size_t le_state_used(le_state *st) { return st->used; }

/* Its address is cjson.empty_array. */
static const char le_empty_array = 0;

/* le_push_bridge pushes the table that hands Lua the C functions it may call:
 * FFI function pointers (a static binary has no dynamic symbols for ffi.C to
 * find) and the Go call gate. */
static void le_push_bridge(le_state *st)
{
	lua_State *L = st->L;
	lua_createtable(L, 0, 8);
	lua_pushlightuserdata(L, (void *)le_buf_append);
	lua_setfield(L, -2, "buf_append");
	lua_pushlightuserdata(L, (void *)le_add_rfield);
	lua_setfield(L, -2, "add_rfield");
	lua_pushlightuserdata(L, (void *)le_set_reason);
	lua_setfield(L, -2, "set_reason");
	lua_pushlightuserdata(L, (void *)le_add_field);
	lua_setfield(L, -2, "add_field");
	lua_pushlightuserdata(L, (void *)le_buf_put);
	lua_setfield(L, -2, "buf_put");
	lua_pushlightuserdata(L, (void *)le_buf_move);
	lua_setfield(L, -2, "buf_move");
	lua_pushlightuserdata(L, (void *)le_del_fields);
	lua_setfield(L, -2, "del_fields");
	lua_pushlightuserdata(L, (void *)le_now_us);
	lua_setfield(L, -2, "now_us");
	lua_pushlightuserdata(L, (void *)le_mono_us);
	lua_setfield(L, -2, "mono_us");
	lua_pushlightuserdata(L, (void *)le_add_rtrailer);
	lua_setfield(L, -2, "add_rtrailer");
	lua_pushlightuserdata(L, (void *)le_end_msg);
	lua_setfield(L, -2, "end_msg");
	lua_pushlightuserdata(L, (void *)le_b64);
	lua_setfield(L, -2, "b64");
	lua_pushlightuserdata(L, (void *)le_hash);
	lua_setfield(L, -2, "hash");
	lua_pushlightuserdata(L, (void *)le_xxh32);
	lua_setfield(L, -2, "xxh32");
	lua_pushlightuserdata(L, (void *)le_xxh64);
	lua_setfield(L, -2, "xxh64");
	lua_pushlightuserdata(L, (void *)le_xxh3);
	lua_setfield(L, -2, "xxh3");
	lua_pushlightuserdata(L, &st->loop);
	lua_setfield(L, -2, "loop");
	/* cjson.null (lua-cjson's NULL) and cjson.empty_array (an address
	 * of this file's, as lua-cjson's is one of its own). */
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_pushlightuserdata(L, (void *)&le_empty_array);
	lua_setfield(L, -2, "empty_array");
	lua_pushlightuserdata(L, st);
	lua_pushcclosure(L, le_gocall, 1);
	lua_setfield(L, -2, "gocall");
}

/*
 * The CPU watchdog's C half. LuaJIT runs hooks inside compiled traces only
 * when it is built with LUAJIT_ENABLE_CHECKHOOK (third_party/), so a hook
 * set from the watchdog's thread stops any Lua loop. No hook is set while
 * scripts behave: a run costs two plain stores of run_seq.
 */

/* le_run_begin and le_run_end bracket every run of Lua on the loop thread. */
static void le_run_begin(le_state *st, lua_State *co, int64_t ran_ns)
{
	st->running = co;
	st->fired = LE_WD_NONE;
	st->loop.timed_out = 0;
	__atomic_store_n(&st->ran_ns, ran_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&st->run_seq, st->run_seq + 1, __ATOMIC_RELEASE);
}

static void le_run_end(le_state *st)
{
	__atomic_store_n(&st->run_seq, st->run_seq + 1, __ATOMIC_RELEASE);
	/* A hook the watchdog set while this run ended is caught here, or by
	 * the hook itself on the next run (it checks wd_seq). */
	if (__atomic_load_n(&st->hooked, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&st->wd_lock);
		lua_sethook(st->L, NULL, 0, 0);
		st->hooked = 0;
		st->wd_action = LE_WD_NONE;
		pthread_mutex_unlock(&st->wd_lock);
	}
}

/* le_internal reports whether the function running at ar is luaedge's own
 * Lua: the hook lets it finish what it does (it never runs long) so that a
 * request is never left half-updated. */
static int le_internal(lua_State *L, lua_Debug *ar)
{
	if (!lua_getinfo(L, "Sl", ar))
		return 0;
	return strncmp(ar->source, "@luaedge/", 9) == 0 || strncmp(ar->source, "=luaedge", 8) == 0;
}

/* le_hook runs on the loop thread once the watchdog set it: it yields the
 * request's coroutine (a forced yield: Go resumes it after the loop's other
 * work) or stops the script with an "execution timeout" error. */
static void le_hook(lua_State *L, lua_Debug *ar)
{
	void *ud;
	lua_getallocf(L, &ud);
	le_state *st = (le_state *)ud;
	pthread_mutex_lock(&st->wd_lock);
	int action = st->wd_seq == st->run_seq ? st->wd_action : LE_WD_NONE;
	int64_t ran = st->wd_ran_ns;
	if (action == LE_WD_NONE) {
		/* Meant for a run that has ended. */
		lua_sethook(L, NULL, 0, 0);
		st->hooked = 0;
		pthread_mutex_unlock(&st->wd_lock);
		return;
	}
	pthread_mutex_unlock(&st->wd_lock);
	if (le_internal(L, ar))
		return; /* the hook fires again on the next instruction */
	if (action == LE_WD_YIELD) {
		/* Only the coroutine Go resumed may yield: a coroutine the script
		 * made would hand the yield to the script's own resume. Where it
		 * cannot, the hook goes until the watchdog acts again. */
		pthread_mutex_lock(&st->wd_lock);
		lua_sethook(L, NULL, 0, 0);
		st->hooked = 0;
		st->wd_action = LE_WD_NONE;
		pthread_mutex_unlock(&st->wd_lock);
		if (L != st->running || !lua_isyieldable(L))
			return;
		st->fired = LE_WD_YIELD;
		st->fired_ran_ns = ran;
		lua_yield(L, 0);
		return;
	}
	/* Abort: the hook stays set, so the script cannot catch the error
	 * with pcall and go on: its next instruction raises it again. */
	if (st->fired != LE_WD_ABORT) {
		st->fired = LE_WD_ABORT;
		st->loop.timed_out = 1;
		st->fired_ran_ns = ran;
		snprintf(st->where, sizeof(st->where), "%s:%d", ar->short_src, ar->currentline);
	}
	lua_pushfstring(L, "%s:%d: execution timeout", ar->short_src, ar->currentline);
	lua_error(L);
}

/* le_wd_act is called from the watchdog's thread: if run seq is still
 * running, it sets the hook that makes the loop thread act. It returns 0
 * when the run had already ended. */
int le_wd_act(le_state *st, uint32_t seq, int action, int64_t ran_ns)
{
	pthread_mutex_lock(&st->wd_lock);
	int ok = __atomic_load_n(&st->run_seq, __ATOMIC_ACQUIRE) == seq;
	if (ok) {
		st->wd_seq = seq;
		st->wd_action = action;
		st->wd_ran_ns = ran_ns;
		__atomic_store_n(&st->hooked, 1, __ATOMIC_RELEASE);
		lua_sethook(st->L, le_hook, LUA_MASKCOUNT, 1);
	}
	pthread_mutex_unlock(&st->wd_lock);
	return ok;
}

/* le_load runs a chunk in protected mode. mode LE_LOAD_BRIDGE passes the
 * bridge table as the chunk's argument and keeps the two values it returns:
 * the runner function for le_thread_new and luaedge's internal table.
 * LE_LOAD_EVAL leaves the chunk's first result on the stack. The flag
 * LE_LOAD_INTERNAL passes the internal table as the chunk's argument: Go
 * sets it for luaedge's own chunks, never for the operator's scripts. On
 * error the message (with traceback) is left on the stack and a non-zero
 * status returned. */
int le_load(le_state *st, const char *code, size_t len, const char *name, int mode)
{
	lua_State *L = st->L;
	int kind = mode & ~LE_LOAD_INTERNAL;
	lua_pushcfunction(L, le_traceback);
	int base = lua_gettop(L);
	int rc = luaL_loadbuffer(L, code, len, name);
	if (rc != 0) {
		lua_remove(L, base);
		return rc;
	}
	int nargs = 0;
	if (kind == LE_LOAD_BRIDGE) {
		le_push_bridge(st);
		nargs = 1;
	} else if (mode & LE_LOAD_INTERNAL) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, st->internal_ref);
		nargs = 1;
	}
	int nres = kind == LE_LOAD_BRIDGE ? 2 : kind == LE_LOAD_EVAL ? 1 : 0;
	st->loading = 1;
	le_run_begin(st, NULL, 0);
	rc = lua_pcall(L, nargs, nres, base);
	le_run_end(st);
	st->loading = 0;
	lua_remove(L, base);
	if (rc != 0 || kind != LE_LOAD_BRIDGE)
		return rc;
	if (!lua_isfunction(L, -2) || !lua_istable(L, -1)) {
		lua_pop(L, 2);
		lua_pushliteral(L, "bridge chunk did not return the runner function and the internal table");
		return LUA_ERRRUN;
	}
	st->internal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	st->runner_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* le_call_internal calls fn of the internal table with the coroutine
 * registered at ref as its argument, in protected mode; the error, if
 * any, is dropped and its status returned (the functions called this way
 * only clear or count). */
int le_call_internal(le_state *st, const char *fn, int ref)
{
	lua_State *L = st->L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->internal_ref);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return LUA_ERRRUN;
	}
	lua_getfield(L, -1, fn);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	int rc = lua_pcall(L, 1, 0, 0);
	lua_pop(L, rc != 0 ? 2 : 1);
	return rc;
}

const char *le_tostring(lua_State *L, int idx, size_t *len)
{
	const char *s = lua_tolstring(L, idx, len);
	if (s == NULL) {
		*len = 0;
		return "";
	}
	return s;
}

void le_pop(lua_State *L, int n) { lua_pop(L, n); }

/* le_collect runs after each step of a request: a full collection after
 * the memory limit refused an allocation (what the failed code held is
 * garbage by now, and LuaJIT does not collect on its own when an
 * allocation fails), and the collector's pace set for how close the heap
 * is to the limit. */
static void le_collect(le_state *st)
{
	if (st->oom) {
		st->oom = 0;
		lua_gc(st->L, LUA_GCCOLLECT, 0);
	}
	int near = st->limit > 0 && st->used > st->limit / 2;
	if (near != st->near) {
		st->near = near;
		lua_gc(st->L, LUA_GCSETPAUSE, near ? LE_PAUSE_NEAR : LE_PAUSE_FAR);
	}
}

struct le_thread_args {
	le_state *st;
	le_stream *s;
	lua_State *co;
	int ref;
};

/* le_thread_make allocates, so it runs under lua_cpcall: out of memory
 * there must be a Lua error, not a panic that ends the process. */
static int le_thread_make(lua_State *L)
{
	struct le_thread_args *a = lua_touserdata(L, 1);
	lua_State *co = lua_newthread(L);
	a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_rawgeti(co, LUA_REGISTRYINDEX, a->st->runner_ref);
	lua_pushlightuserdata(co, a->s);
	a->co = co;
	return 0;
}

/* le_thread_new makes a coroutine that runs the runner function bound to
 * stream s, and starts it so that it waits for its first request. On
 * failure the error message is on L's stack. */
lua_State *le_thread_new(le_state *st, le_stream *s, int *ref)
{
	lua_State *L = st->L;
	struct le_thread_args a = {st, s, NULL, LUA_NOREF};
	if (lua_cpcall(L, le_thread_make, &a) != 0) {
		if (a.ref != LUA_NOREF)
			luaL_unref(L, LUA_REGISTRYINDEX, a.ref);
		le_collect(st);
		return NULL;
	}
	*ref = a.ref;
	int rc = lua_resume(a.co, 1);
	if (rc != LUA_YIELD) {
		lua_xmove(a.co, L, 1); /* the error, for the caller */
		luaL_unref(L, LUA_REGISTRYINDEX, *ref);
		*ref = LUA_NOREF;
		le_collect(st);
		return NULL;
	}
	return a.co;
}

/* le_thread_free drops the coroutine at ref. Objects of its requests that
 * a script kept (a TXN in a global) outlive it: unbind first cuts them from
 * the stream, which the caller frees next. */
void le_thread_free(le_state *st, int ref)
{
	le_call_internal(st, "unbind", ref);
	luaL_unref(st->L, LUA_REGISTRYINDEX, ref);
}

/* le_resume is the one crossing per step of a request: it runs the
 * coroutine until it yields (an op in s->op, or a forced yield: st->fired)
 * or dies (an error escaped the runner; the coroutine can not be reused).
 * ran_ns is how long the script has run since it last waited. */
int le_resume(le_state *st, lua_State *co, int64_t ran_ns)
{
	le_run_begin(st, co, ran_ns);
	int rc = lua_resume(co, 0);
	le_run_end(st);
	le_collect(st);
	return rc;
}

static int le_grow(char **p, uint32_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need) {
		ncap *= 2;
		if (ncap > 0xffffffffu)
			return -1;
	}
	char *np = realloc(*p, ncap * elem);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = (uint32_t)ncap;
	return 0;
}

int le_buf_reserve(le_buf *b, size_t n)
{
	size_t need = (size_t)b->len + n;
	if (need <= b->cap)
		return 0;
	return le_grow(&b->p, &b->cap, need, 1);
}

int le_buf_append(le_buf *b, const char *p, size_t n)
{
	if (le_buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->p + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

int le_fields_reserve(le_field **f, uint32_t *cap, uint32_t n)
{
	if (n <= *cap)
		return 0;
	return le_grow((char **)f, cap, n, sizeof(le_field));
}

/* le_lower lower-cases n bytes at p: header names are stored lower-case,
 * as scripts see and compare them (and as HAProxy sends them). */
static void le_lower(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] += 'a' - 'A';
}

/* le_add_to appends a field (name stored lower-case) to a field list whose
 * spans point into b. */
static int le_add_to(le_field **fields, uint32_t *n, uint32_t *cap, le_buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (le_fields_reserve(fields, cap, *n + 1) != 0)
		return -1;
	uint32_t off = b->len;
	if (le_buf_append(b, name, nlen) != 0 || le_buf_append(b, value, vlen) != 0)
		return -1;
	le_lower(b->p + off, nlen);
	le_field *f = &(*fields)[(*n)++];
	f->name.off = off;
	f->name.len = (uint32_t)nlen;
	f->value.off = off + (uint32_t)nlen;
	f->value.len = (uint32_t)vlen;
	return 0;
}

int le_add_rfield(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
	return le_add_to(&s->rfields, &s->nrfields, &s->rfields_cap, &s->resp, name, nlen, value, vlen);
}

/* le_add_rtrailer adds a response trailer field (name stored lower-case). */
int le_add_rtrailer(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
	return le_add_to(&s->rtrailers, &s->nrtrailers, &s->rtrailers_cap, &s->resp, name, nlen, value, vlen);
}

/* le_end_msg ends a message at the current end of out (see le_msg). */
int le_end_msg(le_stream *s, int flags)
{
	if (s->nmsgs == s->msgs_cap && le_grow((char **)&s->msgs, &s->msgs_cap, (size_t)s->nmsgs + 1, sizeof(le_msg)) != 0)
		return -1;
	le_msg *m = &s->msgs[s->nmsgs++];
	m->end = s->out.len;
	m->flags = (uint8_t)flags;
	return 0;
}

/* le_add_field adds a request header field (name stored lower-case): the
 * HTTP class's req_add_header and friends. */
int le_add_field(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
	return le_add_to(&s->fields, &s->nfields, &s->fields_cap, &s->head, name, nlen, value, vlen);
}

/* le_buf_put stores bytes at the end of b and points out at them: how
 * req_set_path and header rewrites change a span in place. */
int le_buf_put(le_buf *b, const char *p, size_t n, le_span *out)
{
	uint32_t off = b->len;
	if (le_buf_append(b, p, n) != 0)
		return -1;
	out->off = off;
	out->len = (uint32_t)n;
	return 0;
}

/* le_buf_move moves n bytes of b from offset src to dst, which may
 * overlap: how Lua filters insert into and cut the body they hold. */
void le_buf_move(le_buf *b, uint32_t dst, uint32_t src, uint32_t n)
{
	memmove(b->p + dst, b->p + src, n);
}

int le_set_reason(le_stream *s, const char *p, size_t n)
{
	uint32_t off = s->resp.len;
	if (le_buf_append(&s->resp, p, n) != 0)
		return -1;
	s->reason.off = off;
	s->reason.len = (uint32_t)n;
	return 0;
}

/* le_field_is reports whether field f of base is called name
 * (case-insensitively; stored names are lower-case). */
static int le_field_is(const char *base, const le_field *f, const char *name, size_t n)
{
	if (f->name.len != n)
		return 0;
	const char *p = base + f->name.off;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (p[i] != c)
			return 0;
	}
	return 1;
}

/* le_del_fields deletes every request (resp == 0) or response field called
 * name by zeroing its name, and returns how many it deleted. A loop in C:
 * short loops in Lua keep LuaJIT from compiling the code around them. */
int le_del_fields(le_stream *s, int resp, const char *name, size_t n)
{
	le_field *f = resp ? s->rfields : s->fields;
	uint32_t nf = resp ? s->nrfields : s->nfields;
	const char *base = resp ? s->resp.p : s->head.p;
	int deleted = 0;
	for (uint32_t i = 0; i < nf; i++) {
		if (f[i].name.len > 0 && le_field_is(base, &f[i], name, n)) {
			f[i].name.len = 0;
			deleted++;
		}
	}
	return deleted;
}

/* le_now_us returns the wall clock in microseconds since the epoch, exact
 * in a double until the year 2255: core.now() without a gate call. */
double le_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000);
}

/* le_mono_us returns a monotonic clock in microseconds: the time scripts'
 * functions run (core.get_stats), which a change of the wall clock must not
 * skew. */
double le_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

le_stream *le_stream_new(void) { return calloc(1, sizeof(le_stream)); }

void le_buf_trim(le_buf *b, size_t max)
{
	if (b->cap > max) {
		free(b->p);
		b->p = NULL;
		b->len = b->cap = 0;
	}
}

static void le_fields_trim(le_field **f, uint32_t *n, uint32_t *cap, size_t max)
{
	if ((size_t)*cap * sizeof(le_field) > max) {
		free(*f);
		*f = NULL;
		*n = *cap = 0;
	}
}

/* le_stream_trim frees every buffer of s that holds more than max bytes,
 * so that a pooled stream that once served a large request holds little
 * while idle; they grow again on demand. Only between requests: nothing
 * may point into s's buffers. */
void le_stream_trim(le_stream *s, size_t max)
{
	le_buf_trim(&s->head, max);
	le_buf_trim(&s->body, max);
	s->body_pos = 0;
	le_buf_trim(&s->resp, max);
	le_buf_trim(&s->out, max);
	le_buf_trim(&s->io, max);
	le_buf_trim(&s->err, max);
	le_buf_trim(&s->logvars, max);
	le_buf_trim(&s->stick, max);
	le_buf_trim(&s->untrack, max);
	le_fields_trim(&s->fields, &s->nfields, &s->fields_cap, max);
	le_fields_trim(&s->rfields, &s->nrfields, &s->rfields_cap, max);
	le_fields_trim(&s->trailers, &s->ntrailers, &s->trailers_cap, max);
	le_fields_trim(&s->rtrailers, &s->nrtrailers, &s->rtrailers_cap, max);
	if ((size_t)s->msgs_cap * sizeof(le_msg) > max) {
		free(s->msgs);
		s->msgs = NULL;
		s->nmsgs = s->msgs_cap = 0;
	}
}

/* le_state_trim frees the state's converter scratch buffer past max bytes. */
void le_state_trim(le_state *st, size_t max) { le_buf_trim(&st->loop.scratch, max); }

void le_stream_free(le_stream *s)
{
	free(s->head.p);
	free(s->fields);
	free(s->body.p);
	free(s->resp.p);
	free(s->rfields);
	free(s->out.p);
	free(s->err.p);
	free(s->logvars.p);
	free(s->stick.p);
	free(s->untrack.p);
	free(s->io.p);
	free(s->trailers);
	free(s->rtrailers);
	free(s->msgs);
	free(s);
}
