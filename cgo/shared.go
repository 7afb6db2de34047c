package cgo

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Versions is a block of change counters in C memory that every state can
// read without a cgo call (le_loop.versions). Go bumps a counter after it
// changed the data the counter stands for; Lua compares it with the value
// it saw when it copied that data and drops the copy when they differ.
//
// The block belongs to the shared data (lj.Shared) of a generation and of
// those that follow it on reloads, and is freed when its Versions becomes
// unreachable. A state that points into it keeps it reachable:
// SetVersions records v in the State, and the State's bound value (lj's
// binding) holds the Shared that holds v.
//
// The block is an anonymous mapping, not malloc'd: memory outside the Go
// heap that C may keep pointers to, whose release is a plain syscall (a
// cgo call to free from a cleanup would run at any time on a runtime
// goroutine, and counts as one in runtime.NumCgoCall).
type Versions struct {
	p *uint32
	n int
}

// NewVersions allocates n counters, all zero.
func NewVersions(n int) *Versions {
	if n < 1 {
		n = 1
	}
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic("cgo: cannot map the version counters: " + err.Error())
	}
	v := &Versions{p: (*uint32)(unsafe.Pointer(&b[0])), n: n}
	runtime.AddCleanup(v, func(b []byte) { _ = syscall.Munmap(b) }, b)
	return v
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
	s.versions = v
	s.st.loop.versions = (*C.uint32_t)(unsafe.Pointer(v.p))
	s.st.loop.nversions = C.uint32_t(v.n)
}

// StickWant returns the stick counters the state's scripts read (bit i:
// counter i), which Go fills into every request's stream (Stream.SetStick).
func (s *State) StickWant() uint32 { return uint32(s.st.loop.stk_want) }
