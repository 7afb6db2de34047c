package proxy

import (
	"testing"
	"time"
)

// A deadline fires once it has passed, in order, unless stopped first;
// the timer, set for the earliest, is set again for the next one.
func TestTimeouts(t *testing.T) {
	now := time.Now()
	posted := make(chan func(), 10)
	var fired []*timeout
	ts := newTimeouts(func() time.Time { return now }, func(fn func()) { posted <- fn },
		func(t *timeout) { fired = append(fired, t) })
	// run waits for the timer's task and runs it as the loop would, at
	// the time the timer was set for.
	run := func() {
		t.Helper()
		select {
		case fn := <-posted:
			now = ts.armed
			fn()
		case <-time.After(5 * time.Second):
			t.Fatal("the timer did not fire")
		}
	}
	var a, b, c, d timeout
	ts.set(&a, 30*time.Millisecond)
	ts.set(&b, 10*time.Millisecond)
	ts.set(&c, 20*time.Millisecond)
	ts.set(&d, 40*time.Millisecond)
	if !ts.armed.Equal(now.Add(10 * time.Millisecond)) {
		t.Fatalf("armed for %v, want the earliest", ts.armed.Sub(now))
	}
	ts.stop(&b) // the earliest: the timer fires for nothing, and is set again
	ts.stop(&b)
	run()
	if len(fired) != 0 || !ts.armed.Equal(c.at) {
		t.Fatalf("fired %d, armed for c: %v", len(fired), ts.armed.Equal(c.at))
	}
	ts.stop(&d)
	run()
	if len(fired) != 1 || fired[0] != &c || c.i != 0 {
		t.Fatalf("fired %v, want c alone", fired)
	}
	run()
	if len(fired) != 2 || fired[1] != &a || !ts.armed.IsZero() || len(ts.h) != 0 {
		t.Fatalf("fired %v, want c then a, and nothing left", fired)
	}
	select {
	case <-posted:
		t.Fatal("the timer fired for d, which was stopped")
	case <-time.After(60 * time.Millisecond):
	}
	// Set again once it fired or was stopped.
	ts.set(&d, time.Millisecond)
	run()
	if len(fired) != 3 || fired[2] != &d {
		t.Fatalf("fired %v, want d again", fired)
	}
}
