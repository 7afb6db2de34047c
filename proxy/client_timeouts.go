package proxy

import (
	"container/heap"
	"time"
)

// timeouts are the deadlines of one Client's exchanges (ClientOptions.
// Timeout) and of the scripts' waits on them, kept in a heap with one
// runtime timer for the earliest. An exchange that ends in time, nearly
// all of them, costs a push and a removal on the loop instead of two
// runtime timers started and stopped (with their closures): a deadline
// removed before it passes leaves the timer as it is, and the timer,
// firing early, is set again for the earliest left. Used on the loop's
// goroutine only, like its Client; since a deadline is removed as soon as
// what it bounds ends, one that fires always finds it still going.
type timeouts struct {
	now   func() time.Time // the loop's clock (eventloop.Loop.Now)
	post  func(func())     // runs a function on the loop (eventloop.Loop.Post)
	h     timeoutHeap
	timer *time.Timer // fires at armed; nil until a first deadline is set
	armed time.Time   // zero: the timer is not set
	fire  func(*timeout)
}

// timeout is one deadline in a timeouts heap, a field of the exchange it
// bounds (wait says whether it is the deadline of its script's wait).
type timeout struct {
	at   time.Time
	i    int // its index in the heap plus one; 0: not in it
	ex   *exchange
	wait bool
}

func newTimeouts(now func() time.Time, post func(func()), fire func(*timeout)) *timeouts {
	return &timeouts{now: now, post: post, fire: fire}
}

// set puts t in the heap for d from now; t must not be in it.
func (ts *timeouts) set(t *timeout, d time.Duration) {
	t.at = ts.now().Add(d)
	heap.Push(&ts.h, t)
	if ts.armed.IsZero() || t.at.Before(ts.armed) {
		ts.arm(t.at)
	}
}

// stop takes t out of the heap, if it is in it.
func (ts *timeouts) stop(t *timeout) {
	if t.i > 0 {
		heap.Remove(&ts.h, t.i-1)
	}
}

// arm sets the timer for at.
func (ts *timeouts) arm(at time.Time) {
	ts.armed = at
	d := at.Sub(ts.now())
	if ts.timer == nil {
		ts.timer = time.AfterFunc(d, func() { ts.post(ts.expire) })
		return
	}
	ts.timer.Reset(d)
}

// expire runs on the loop when the timer fired: the deadlines that passed
// fire, and the timer is set for the next.
func (ts *timeouts) expire() {
	ts.armed = time.Time{}
	now := ts.now()
	for len(ts.h) > 0 && !ts.h[0].at.After(now) {
		ts.fire(heap.Pop(&ts.h).(*timeout))
	}
	if len(ts.h) > 0 {
		ts.arm(ts.h[0].at)
	}
}

// timeoutHeap orders deadlines for container/heap, earliest first.
type timeoutHeap []*timeout

func (h timeoutHeap) Len() int           { return len(h) }
func (h timeoutHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timeoutHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i+1, j+1
}
func (h *timeoutHeap) Push(x any) {
	t := x.(*timeout)
	*h = append(*h, t)
	t.i = len(*h)
}
func (h *timeoutHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.i = 0
	return t
}
