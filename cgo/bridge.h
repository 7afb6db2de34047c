/* C entry points of the bridge, called from Go (cgo.go) and bridge.c. */
#ifndef LUAEDGE_BRIDGE_H
#define LUAEDGE_BRIDGE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#include "stream.h"

/* le_state is one LuaJIT state with its memory account. */
typedef struct le_state {
	lua_State *L;
	size_t used;  /* bytes held by the state */
	size_t limit; /* 0: no limit */
	int runner_ref;
	/* luaedge's internal table (the bridge chunk's second result), which
	 * only luaedge's own chunks get (LE_LOAD_INTERNAL): scripts never see it. */
	int internal_ref;
	/* The Go value the state is bound to (a runtime/cgo.Handle; 0: none),
	 * passed to every gate call. Set at creation, deleted by Go after
	 * lua_close: finalizers that call the gate still find it. */
	uintptr_t value;
	int oom; /* an allocation was refused: collect garbage after this step */
	int near; /* used is past half the limit: the collector runs sooner (le_collect) */
	lua_Alloc orig; /* LuaJIT's allocator, which le_alloc counts for */
	void *orig_ud;
	le_loop loop; /* shared with Lua through the bridge table */

	/* The CPU watchdog (watchdog.go). The loop thread makes run_seq odd
	 * while Lua runs (a resume or a load) and even after; loading says the
	 * run is a load (the scripts' bodies, init functions: they cannot
	 * yield). ran_ns is how long the running script had already run
	 * before this resume without waiting for anything (Go sets it). The
	 * watchdog's thread reads those and, when a run is too long, sets
	 * wd_seq and wd_action and the hook under wd_lock. The hook, on the
	 * loop thread, acts once and records what it did in fired (read by
	 * Go after the resume) and where (file:line). */
	uint32_t run_seq;
	int loading;
	int64_t ran_ns;
	pthread_mutex_t wd_lock;
	uint32_t wd_seq;     /* the run wd_action is meant for */
	int wd_action;       /* LE_WD_YIELD or LE_WD_ABORT; under wd_lock */
	int64_t wd_ran_ns;   /* how long the run had lasted when the watchdog acted */
	int hooked;          /* the hook is set; under wd_lock */
	lua_State *running;  /* the coroutine being resumed (NULL: a load) */
	int fired;           /* LE_WD_YIELD: the run was yielded; LE_WD_ABORT: stopped */
	int64_t fired_ran_ns;
	char where[256];     /* where an abort stopped the script */
} le_state;

enum { LE_WD_NONE = 0, LE_WD_YIELD = 1, LE_WD_ABORT = 2 };
int le_wd_act(le_state *st, uint32_t seq, int action, int64_t ran_ns);

le_state *le_state_new(size_t limit, uintptr_t value);
void le_state_close(le_state *st);
size_t le_state_used(le_state *st);
enum { LE_LOAD_RUN = 0, LE_LOAD_BRIDGE = 1, LE_LOAD_EVAL = 2, LE_LOAD_INTERNAL = 4 };
int le_load(le_state *st, const char *code, size_t len, const char *name, int mode);
int le_call_internal(le_state *st, const char *fn, int ref);
const char *le_tostring(lua_State *L, int idx, size_t *len);
void le_pop(lua_State *L, int n);

lua_State *le_thread_new(le_state *st, le_stream *s, int *ref);
void le_thread_free(le_state *st, int ref);
int le_resume(le_state *st, lua_State *co, int64_t ran_ns);

int le_buf_reserve(le_buf *b, size_t n);
int le_fields_reserve(le_field **f, uint32_t *cap, uint32_t n);
le_stream *le_stream_new(void);
void le_stream_free(le_stream *s);
void le_stream_trim(le_stream *s, size_t max);
void le_buf_trim(le_buf *b, size_t max);
void le_state_trim(le_state *st, size_t max);

/* Implemented in Go (gocall.go). */
extern int leGoCall(lua_State *L, uintptr_t value);

#endif
