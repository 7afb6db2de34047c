package edge

import (
	"sync"
	"testing"
)

// connSlots under concurrent takers and givers: never more than max held,
// every queued taker admitted once the holders let go, in arrival order.
func TestConnSlots(t *testing.T) {
	s := newConnSlots(3)
	var mu sync.Mutex
	held, most := 0, 0
	hold := func() {
		mu.Lock()
		held++
		most = max(most, held)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	admitted := make(chan int, 100)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 2000; j++ {
				got := make(chan struct{}, 1)
				switch s.acquire(func() { got <- struct{}{} }) {
				case slotTaken:
				case slotQueued:
					<-got
				default:
					continue // no room to wait
				}
				hold()
				mu.Lock()
				held--
				mu.Unlock()
				s.release()
			}
		}()
	}
	wg.Wait()
	if most > 3 {
		t.Errorf("%d slots held at once, max 3", most)
	}
	if st := s.state(); st.Open != 0 || st.Waiting != 0 {
		t.Errorf("after: %+v", st)
	}
	// Order: with every slot taken, waiters are admitted first come,
	// first served; one past max waiting is refused.
	for i := 0; i < 3; i++ {
		if s.acquire(nil) != slotTaken {
			t.Fatal("a free slot was not taken")
		}
	}
	for i := 0; i < 3; i++ {
		if r := s.acquire(func() { admitted <- i }); r != slotQueued {
			t.Fatalf("waiter %d: %d", i, r)
		}
	}
	if r := s.acquire(func() {}); r != slotRefused {
		t.Fatalf("the fourth waiter: %d", r)
	}
	for i := 0; i < 3; i++ {
		s.release()
		if got := <-admitted; got != i {
			t.Fatalf("admitted %d, want %d", got, i)
		}
	}
	if st := s.state(); st.Open != 3 || st.Waiting != 0 {
		t.Errorf("after the waiters: %+v", st)
	}
}
