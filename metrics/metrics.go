// Package metrics keeps counters per event loop: each loop writes only its
// own, with no atomic operation shared by all cores on the request path,
// and readers sum the loops' values when they ask.
package metrics

import "sync/atomic"

// Counter is written by one loop and read by anyone. The single writer
// makes a plain load and store enough to count (no locked instruction);
// the atomic load and store keep the readers' view race-free.
type Counter struct{ v atomic.Int64 }

// Inc adds one; only the owning loop calls it.
func (c *Counter) Inc() { c.v.Store(c.v.Load() + 1) }

// Dec subtracts one; only the owning loop calls it.
func (c *Counter) Dec() { c.v.Store(c.v.Load() - 1) }

// Load returns the value; any goroutine may call it.
func (c *Counter) Load() int64 { return c.v.Load() }

// Frontend holds one loop's counters of one frontend.
type Frontend struct {
	Sessions      Counter // connections open
	SessionsTotal Counter // connections accepted
	Requests      Counter // requests started
}

// FrontendTotals sums the counters of a frontend over the loops.
type FrontendTotals struct{ Sessions, SessionsTotal, Requests int64 }

// Add adds one loop's counters.
func (t *FrontendTotals) Add(f *Frontend) {
	t.Sessions += f.Sessions.Load()
	t.SessionsTotal += f.SessionsTotal.Load()
	t.Requests += f.Requests.Load()
}
