package edge

import "testing"

// The counts sum every loop's counters: the process's over every
// frontend, a frontend's and a backend's over the loops.
func TestConnCountsSumTheLoops(t *testing.T) {
	c := newConnCounts(2, 2, 1)
	c.frontends[0][0].Sessions.Add(2)
	c.frontends[1][0].Sessions.Add(1)
	c.frontends[1][1].Sessions.Add(4)
	c.backends[0][0].Current.Add(1)
	c.backends[1][0].Current.Add(3)
	if got := c.Process(); got != 7 {
		t.Errorf("Process() = %d, want 7", got)
	}
	if got := c.Frontend(0); got != 3 {
		t.Errorf("Frontend(0) = %d, want 3", got)
	}
	if got := c.Frontend(1); got != 4 {
		t.Errorf("Frontend(1) = %d, want 4", got)
	}
	if got := c.Backend(0); got != 4 {
		t.Errorf("Backend(0) = %d, want 4", got)
	}
}
