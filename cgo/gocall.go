package cgo

/*
#include <stdlib.h>
#include <lauxlib.h>
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	rtcgo "runtime/cgo"
	"sync"
	"unsafe"
)

// GoFunc is a Go function Lua calls through the gate (bridge.gocall(id, ...)).
// It reads its arguments from c and returns the number of values it pushed,
// or the result of c.Error. Gate calls cost a cgo callback each: they are for
// registration, logging and admin, never for per-request work.
type GoFunc func(c *Call) int

var gofuncs struct {
	sync.RWMutex
	list []GoFunc
}

// RegisterGoFunc adds fn to the functions Lua may call and returns its id.
func RegisterGoFunc(fn GoFunc) int {
	gofuncs.Lock()
	defer gofuncs.Unlock()
	gofuncs.list = append(gofuncs.list, fn)
	return len(gofuncs.list) - 1
}

// Call is one gate call: argument 1 is the first argument after the id.
type Call struct {
	L *C.lua_State
	h rtcgo.Handle // the calling state's value (NewState); 0: none
}

// Value returns the Go value the calling state was created with (see
// NewState), nil when it has none. It is resolved on demand: gate
// functions that need no context do not pay for the lookup.
func (c *Call) Value() any {
	if c.h == 0 {
		return nil
	}
	return c.h.Value()
}

//export leGoCall
func leGoCall(L *C.lua_State, value C.uintptr_t) C.int {
	c := &Call{L: L, h: rtcgo.Handle(value)}
	fid := int(C.lua_tointeger(L, 1))
	gofuncs.RLock()
	var fn GoFunc
	if fid >= 0 && fid < len(gofuncs.list) {
		fn = gofuncs.list[fid]
	}
	gofuncs.RUnlock()
	if fn == nil {
		return C.int(c.Error(fmt.Sprintf("no Go function %d", fid)))
	}
	return C.int(fn(c))
}

func (c *Call) idx(i int) C.int { return C.int(i + 1) }

// NArgs returns the number of arguments.
func (c *Call) NArgs() int { return int(C.lua_gettop(c.L)) - 1 }

// IsNoneOrNil reports whether argument i is absent or nil.
func (c *Call) IsNoneOrNil(i int) bool { return C.lua_type(c.L, c.idx(i)) <= C.LUA_TNIL }

// IsString reports whether argument i is a string or a number.
func (c *Call) IsString(i int) bool { return C.lua_isstring(c.L, c.idx(i)) != 0 }

// String returns argument i converted to a string ("" when it is not one).
func (c *Call) String(i int) string {
	var n C.size_t
	p := C.lua_tolstring(c.L, c.idx(i), &n)
	if p == nil {
		return ""
	}
	return C.GoStringN(p, C.int(n))
}

// Int returns argument i as an integer (0 when it is not a number).
func (c *Call) Int(i int) int64 { return int64(C.lua_tointeger(c.L, c.idx(i))) }

// Number returns argument i as a number.
func (c *Call) Number(i int) float64 { return float64(C.lua_tonumber(c.L, c.idx(i))) }

// PushString pushes a result.
func (c *Call) PushString(s string) {
	p := C.CString(s)
	C.lua_pushlstring(c.L, p, C.size_t(len(s)))
	C.free(unsafe.Pointer(p))
}

// PushNumber pushes a result.
func (c *Call) PushNumber(f float64) { C.lua_pushnumber(c.L, C.lua_Number(f)) }

// PushBool pushes a result.
func (c *Call) PushBool(b bool) {
	v := C.int(0)
	if b {
		v = 1
	}
	C.lua_pushboolean(c.L, v)
}

// PushNil pushes a result.
func (c *Call) PushNil() { C.lua_pushnil(c.L) }

// Error makes the gate raise msg as a Lua error; return its result.
func (c *Call) Error(msg string) int {
	c.PushString(msg)
	return -1
}

// Lua value types, as Type returns them.
const (
	TypeNil     = C.LUA_TNIL
	TypeBoolean = C.LUA_TBOOLEAN
	TypeNumber  = C.LUA_TNUMBER
	TypeString  = C.LUA_TSTRING
)

// Type returns the Lua type of argument i.
func (c *Call) Type(i int) int { return int(C.lua_type(c.L, c.idx(i))) }

// Bool returns argument i as a boolean (Lua truthiness).
func (c *Call) Bool(i int) bool { return C.lua_toboolean(c.L, c.idx(i)) != 0 }
