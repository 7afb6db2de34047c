// Package cgo is the C bridge between Go and LuaJIT: states with a counting
// allocator, coroutines resumed with one cgo call per step, and the stream
// structs that Lua reads and writes through FFI (stream.h).
//
// Go reads and writes the C structs directly through unsafe pointers; only
// creating states and threads, growing buffers and resuming coroutines cross
// into C.
package cgo

/*
// LuaJIT is the one third_party/luajit/build.sh builds (make deps), with
// hooks checked in compiled code; its archive is named by path so that no
// system libluajit can be linked instead.
#cgo CFLAGS: -I${SRCDIR}/../third_party/luajit/out/include/luajit-2.1 -O2
#cgo LDFLAGS: ${SRCDIR}/../third_party/luajit/out/lib/libluajit-5.1.a -lm -ldl
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"fmt"
	rtcgo "runtime/cgo"
	"time"
	"unsafe"
)

// Lua status codes returned by resume and load.
const (
	luaOK     = 0
	luaYield  = 1
	luaErrMem = 4
)

// State is one LuaJIT state. It is not safe for concurrent use: each event
// loop owns one and uses it from its own thread only.
type State struct {
	st *C.le_state
	h  rtcgo.Handle // value, held by the C state (le_state.value); 0: none
	// versions is the block le_loop.versions points into (SetVersions),
	// kept reachable as long as the state is.
	versions *Versions
	wd       *Watchdog // watches the state's runs; nil: none
}

// NewState creates a state with the standard libraries open. limit caps the
// bytes the state may hold (0: no limit). value (nil: none) is bound to the
// state for its life: every Go function Lua calls through the gate gets it
// from Call.Value, which is how a gate call finds the data of the state
// that made it without any package-level registry. The state keeps value
// reachable until Close. wd (nil: none) watches the state's runs until
// Close.
func NewState(limit int64, value any, wd *Watchdog) (*State, error) {
	var h rtcgo.Handle
	if value != nil {
		h = rtcgo.NewHandle(value)
	}
	st := C.le_state_new(C.size_t(limit), C.uintptr_t(h))
	if st == nil {
		if h != 0 {
			h.Delete()
		}
		return nil, errors.New("lua: cannot create state (out of memory or limit too small)")
	}
	s := &State{st: st, h: h, wd: wd}
	if wd != nil {
		wd.add(s)
	}
	return s, nil
}

// Close frees the state and everything it holds. The bound value is
// released last: finalizers lua_close runs may still call the gate.
func (s *State) Close() {
	if s.wd != nil {
		s.wd.remove(s)
		s.wd = nil
	}
	if s.st != nil {
		C.le_state_close(s.st)
		s.st = nil
	}
	if s.h != 0 {
		s.h.Delete()
		s.h = 0
	}
}

// Used returns the bytes the state holds now.
func (s *State) Used() int64 { return int64(C.le_state_used(s.st)) }

// TrimScratch frees the state's converter scratch buffer (le_loop.scratch)
// when it grew past max bytes; a cgo call only then.
func (s *State) TrimScratch(max int) {
	if int(s.st.loop.scratch.cap) > max {
		C.le_state_trim(s.st, C.size_t(max))
	}
}

// ScratchHeld returns the capacity of the converter scratch buffer.
func (s *State) ScratchHeld() int { return int(s.st.loop.scratch.cap) }

// Limit returns the memory limit in bytes (0: none).
func (s *State) Limit() int64 { return int64(s.st.limit) }

// Load compiles and runs a chunk in protected mode. name is the chunk name
// shown in error messages ("@file.lua" for a file).
func (s *State) Load(code []byte, name string) error {
	return s.load(code, name, C.LE_LOAD_RUN)
}

// LoadInternal runs one of luaedge's own chunks: it receives luaedge's
// internal table as its argument (local I = ...). The operator's scripts
// are run with Load and never get it.
func (s *State) LoadInternal(code []byte, name string) error {
	return s.load(code, name, C.LE_LOAD_RUN|C.LE_LOAD_INTERNAL)
}

// LoadBridge runs the bridge chunk: it receives the bridge table and must
// return the coroutine runner and luaedge's internal table.
func (s *State) LoadBridge(code []byte, name string) error {
	return s.load(code, name, C.LE_LOAD_BRIDGE)
}

// EvalInternal runs one of luaedge's own chunks, which receives the
// internal table as LoadInternal's do, and returns its first result
// converted to a string.
func (s *State) EvalInternal(code, name string) (string, error) {
	if err := s.load([]byte(code), name, C.LE_LOAD_EVAL|C.LE_LOAD_INTERNAL); err != nil {
		return "", err
	}
	return s.popString(), nil
}

func (s *State) load(code []byte, name string, mode C.int) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.char
	if len(code) > 0 {
		p = (*C.char)(unsafe.Pointer(&code[0]))
	}
	rc := C.le_load(s.st, p, C.size_t(len(code)), cname, mode)
	if rc != luaOK {
		msg := s.popString()
		if rc == luaErrMem {
			msg = "not enough memory (lua.memory_limit reached): " + msg
		}
		return errors.New(msg)
	}
	return nil
}

func (s *State) popString() string {
	var n C.size_t
	p := C.le_tostring(s.st.L, -1, &n)
	msg := C.GoStringN(p, C.int(n))
	C.le_pop(s.st.L, 1)
	return msg
}

// Thread is a pooled coroutine bound for life to one Stream.
type Thread struct {
	st  *State
	co  *C.lua_State
	ref C.int
	S   *Stream
}

// NewThread creates a coroutine running the runner function returned by the
// bridge chunk, parked until its first Resume.
func (s *State) NewThread() (*Thread, error) {
	cs := C.le_stream_new()
	if cs == nil {
		return nil, errors.New("lua: out of memory for a stream")
	}
	var ref C.int
	co := C.le_thread_new(s.st, cs, &ref)
	if co == nil {
		msg := s.popString()
		C.le_stream_free(cs)
		return nil, fmt.Errorf("lua: cannot start coroutine: %s", msg)
	}
	return &Thread{st: s, co: co, ref: ref, S: &Stream{c: cs}}, nil
}

// Free releases the coroutine and its stream.
func (t *Thread) Free() {
	if t.co != nil {
		C.le_thread_free(t.st.st, t.ref)
		t.co = nil
	}
	if t.S != nil {
		C.le_stream_free(t.S.c)
		t.S = nil
	}
}

// CallInternal calls the internal table's function fn with the coroutine
// as its argument, between two resumes (never while the coroutine runs).
// It reports whether the call succeeded.
func (t *Thread) CallInternal(fn string) bool {
	if t.co == nil {
		return false
	}
	cfn := C.CString(fn)
	defer C.free(unsafe.Pointer(cfn))
	return C.le_call_internal(t.st.st, cfn, t.ref) == luaOK
}

// Outcome is how a resume ended.
type Outcome uint8

const (
	Yielded     Outcome = iota // the coroutine yielded; S.Op() says what for
	Died                       // an error escaped the runner: Result.Msg says why
	ForcedYield                // the watchdog yielded it: resume it after the loop's other work
	TimedOut                   // the watchdog stopped it: Result.Where says where it was
)

// Result is what Resume reports.
type Result struct {
	Outcome Outcome
	// Dead says the coroutine is dead: the Thread must be freed.
	Dead bool
	Msg  string
	// Where is the script's file:line that the watchdog stopped (TimedOut).
	Where string
	// Ran is how long the script had run without waiting when the
	// watchdog acted (ForcedYield, TimedOut).
	Ran time.Duration
}

// Resume runs the coroutine until it yields. ran is how long the script has
// run since it last waited for something (the sum of the runs the watchdog
// yielded since), which the watchdog adds to this run.
func (t *Thread) Resume(ran time.Duration) Result {
	st := t.st.st
	rc := C.le_resume(st, t.co, C.int64_t(ran))
	var r Result
	switch st.fired {
	case C.LE_WD_YIELD:
		r.Outcome, r.Ran = ForcedYield, time.Duration(st.fired_ran_ns)
		// The script did not set op: it still says what the coroutine
		// yielded for last, OP_DONE if it finished a request before. Left
		// so, a stream ended now would put a coroutine that is in the
		// middle of a script back in the pool, for another request to
		// resume.
		t.S.c.op = C.LE_OP_YIELD
	case C.LE_WD_ABORT:
		r.Outcome, r.Ran = TimedOut, time.Duration(st.fired_ran_ns)
		r.Where = C.GoString(&st.where[0])
	}
	if rc == luaYield {
		return r
	}
	r.Dead = true
	var n C.size_t
	p := C.le_tostring(t.co, -1, &n)
	r.Msg = C.GoStringN(p, C.int(n))
	if rc == luaErrMem {
		r.Msg = "not enough memory (lua.memory_limit reached): " + r.Msg
	}
	if r.Outcome == Yielded {
		r.Outcome = Died
	}
	return r
}
