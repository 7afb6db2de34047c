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

// Add adds n; only the owning loop calls it.
func (c *Counter) Add(n int64) { c.v.Store(c.v.Load() + n) }

// Load returns the value; any goroutine may call it.
func (c *Counter) Load() int64 { return c.v.Load() }

// Status classes of responses: 1xx to 5xx, and other (outside 100-599).
const (
	Class1xx = iota
	Class2xx
	Class3xx
	Class4xx
	Class5xx
	ClassOther
	NumClasses
)

// ClassOf is the class of status; -1 for none (0: no response was sent).
func ClassOf(status int) int {
	switch {
	case status == 0:
		return -1
	case status >= 100 && status < 600:
		return status/100 - 1
	}
	return ClassOther
}

// ClassNames name the classes, for the exporter's code label.
var ClassNames = [NumClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// Frontend holds one loop's counters of one frontend.
type Frontend struct {
	Sessions      Counter // connections open
	SessionsTotal Counter // connections accepted
	Requests      Counter // requests started
	// Responses counts the requests answered, by status class, when they
	// end; RequestErrors those refused for the request itself (400, 408,
	// 413, 414, 431).
	Responses     [NumClasses]Counter
	RequestErrors Counter
	// Request body bytes and response bytes (head and body) from and to
	// clients (TCP: all bytes), counted when each request (TCP:
	// connection) ends.
	BytesIn, BytesOut Counter
}

// FrontendTotals sums the counters of a frontend over the loops.
type FrontendTotals struct {
	Sessions, SessionsTotal, Requests int64
	Responses                         [NumClasses]int64
	RequestErrors, BytesIn, BytesOut  int64
}

// Add adds one loop's counters.
func (t *FrontendTotals) Add(f *Frontend) {
	t.Sessions += f.Sessions.Load()
	t.SessionsTotal += f.SessionsTotal.Load()
	t.Requests += f.Requests.Load()
	for i := range f.Responses {
		t.Responses[i] += f.Responses[i].Load()
	}
	t.RequestErrors += f.RequestErrors.Load()
	t.BytesIn += f.BytesIn.Load()
	t.BytesOut += f.BytesOut.Load()
}

// Backend holds one loop's counters of one backend, counted when each
// exchange that went to it ends.
type Backend struct {
	// Current counts the exchanges in the backend now, from the choice
	// of the backend to their end (queued ones too): HAProxy's beconn,
	// which the access log's %bc reads.
	Current   Counter
	Requests  Counter // requests (TCP: connections) sent to a server
	Responses [NumClasses]Counter
	// ConnectErrors: no connection to a server (or none available);
	// ResponseErrors: the server failed or timed out after it.
	ConnectErrors, ResponseErrors Counter
	// Body bytes (TCP: all bytes) from and to the clients of the
	// exchanges, counted as each ends.
	BytesIn, BytesOut Counter
	// ResponseTime sums, in nanoseconds, the time the servers took to
	// send their response heads (Tr), over Timed responses.
	ResponseTime, Timed Counter
}

// BackendTotals sums the counters of a backend over the loops.
type BackendTotals struct {
	Requests                      int64
	Responses                     [NumClasses]int64
	ConnectErrors, ResponseErrors int64
	BytesIn, BytesOut             int64
	ResponseTime                  int64 // nanoseconds
	Timed                         int64
}

// Add adds one loop's counters.
func (t *BackendTotals) Add(b *Backend) {
	t.Requests += b.Requests.Load()
	for i := range b.Responses {
		t.Responses[i] += b.Responses[i].Load()
	}
	t.ConnectErrors += b.ConnectErrors.Load()
	t.ResponseErrors += b.ResponseErrors.Load()
	t.BytesIn += b.BytesIn.Load()
	t.BytesOut += b.BytesOut.Load()
	t.ResponseTime += b.ResponseTime.Load()
	t.Timed += b.Timed.Load()
}
