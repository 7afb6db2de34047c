package cgo

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// Versions is a block of change counters in C memory that every state can
// read without a cgo call (le_loop.versions). Go bumps a counter after it
// changed the data the counter stands for; Lua compares it with the value
// it saw when it copied that data and drops the copy when they differ.
//
// The block is allocated once by its owner (lj's registry of shared data)
// and never freed: states created at any time point into it.
type Versions struct {
	p *uint32
	n int
}

// NewVersions allocates n counters, all zero.
func NewVersions(n int) *Versions {
	p := C.calloc(C.size_t(n), 4)
	if p == nil {
		panic("cgo: out of memory for the version counters")
	}
	return &Versions{p: (*uint32)(p), n: n}
}

// Len returns the number of counters.
func (v *Versions) Len() int { return v.n }

// Bump advances counter i; out of range is ignored (the Lua side does not
// cache what has no counter).
func (v *Versions) Bump(i int) {
	if i < 0 || i >= v.n {
		return
	}
	atomic.AddUint32((*uint32)(unsafe.Add(unsafe.Pointer(v.p), uintptr(i)*4)), 1)
}

// SetVersions points the state's le_loop at v.
func (s *State) SetVersions(v *Versions) {
	s.st.loop.versions = (*C.uint32_t)(unsafe.Pointer(v.p))
	s.st.loop.nversions = C.uint32_t(v.n)
}

// StickWant returns the stick counters the state's scripts read (bit i:
// counter i), which Go fills into every request's stream (Stream.SetStick).
func (s *State) StickWant() uint32 { return uint32(s.st.loop.stk_want) }
