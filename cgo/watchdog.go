package cgo

/*
#include "bridge.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Limits are the CPU limits a Watchdog holds scripts to (0 turns one off).
type Limits struct {
	// ForcedYield is the slice after which a running request or task is
	// yielded, where it can be, so that the loop's other work goes on;
	// Go resumes it after that work.
	ForcedYield time.Duration
	// Burst is the longest one run may go on without returning to the
	// loop: what stops a script that cannot be yielded (a script's body,
	// an init function, a callback from C such as a table.sort comparator).
	Burst time.Duration
	// Session is the longest a script may run without waiting for
	// anything (I/O, a sleep, core.yield, its end); forced yields do not
	// count as waiting. A script's body and init functions, which cannot
	// wait, get this limit too instead of Burst.
	Session time.Duration
}

// Watchdog watches the Lua states of one server from a goroutine of its
// own and stops runs that break its Limits: it samples each state's run
// counter every tick, and sets a Lua hook on a state only when one run has
// lasted too long, so a run that ends in time costs nothing but two stores.
type Watchdog struct {
	limits Limits
	tick   time.Duration

	mu     sync.Mutex
	states map[*State]*watched // the states watched now; under mu
	stop   chan struct{}
	done   chan struct{}
}

// watched is the watchdog's memory of one state: the run it saw last and
// since when. Used by the watchdog's goroutine only.
type watched struct {
	seq    uint32
	since  time.Time
	yields uint32 // forced yields asked for during this run
}

// NewWatchdog starts a watchdog; Stop ends it.
func NewWatchdog(l Limits) *Watchdog {
	w := &Watchdog{limits: l, states: map[*State]*watched{}, stop: make(chan struct{}), done: make(chan struct{})}
	// The tick bounds how late a limit is noticed: half the shortest one,
	// within [1ms, 100ms].
	w.tick = 100 * time.Millisecond
	for _, d := range []time.Duration{l.ForcedYield, l.Burst, l.Session} {
		if d > 0 && d/2 < w.tick {
			w.tick = d / 2
		}
	}
	w.tick = max(w.tick, time.Millisecond)
	go w.run()
	return w
}

// Stop ends the watchdog's goroutine. The states it watched run unwatched.
func (w *Watchdog) Stop() {
	close(w.stop)
	<-w.done
}

func (w *Watchdog) add(s *State) {
	w.mu.Lock()
	w.states[s] = &watched{}
	w.mu.Unlock()
}

// remove stops watching s; once it returns, the watchdog no longer touches
// s, which may be freed.
func (w *Watchdog) remove(s *State) {
	w.mu.Lock()
	delete(w.states, s)
	w.mu.Unlock()
}

func (w *Watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			w.mu.Lock()
			for s, m := range w.states {
				w.check(s, m, now)
			}
			w.mu.Unlock()
		}
	}
}

// check looks at one state: a run seen on two ticks in a row has lasted at
// least the time between them.
func (w *Watchdog) check(s *State, m *watched, now time.Time) {
	st := s.st
	seq := atomic.LoadUint32((*uint32)(unsafe.Pointer(&st.run_seq)))
	if seq&1 == 0 {
		return // no Lua running
	}
	if seq != m.seq {
		m.seq, m.since, m.yields = seq, now, 0
		return
	}
	// The run began between the tick before m.since and m.since.
	ran := now.Sub(m.since) + w.tick/2
	before := time.Duration(atomic.LoadInt64((*int64)(unsafe.Pointer(&st.ran_ns))))
	loading := atomic.LoadInt32((*int32)(unsafe.Pointer(&st.loading))) != 0
	l := w.limits
	switch {
	case loading && l.Session > 0 && ran >= l.Session,
		!loading && l.Burst > 0 && ran >= l.Burst,
		!loading && l.Session > 0 && before+ran >= l.Session:
		C.le_wd_act(st, C.uint32_t(seq), C.LE_WD_ABORT, C.int64_t(before+ran))
	case !loading && l.ForcedYield > 0 && ran >= l.ForcedYield*time.Duration(m.yields+1):
		// Asked again each slice while the run cannot be yielded.
		m.yields++
		C.le_wd_act(st, C.uint32_t(seq), C.LE_WD_YIELD, C.int64_t(before+ran))
	}
}
