package metrics

import (
	"fmt"
	"sync"
	"testing"
)

// A counter's owner counts while other goroutines read it: the readers see
// every value in order (a single writer only ever moves it by one), and the
// final value is exact. Run with -race, this also checks that Load may be
// called from any goroutine.
func TestCounterSingleWriterConcurrentReaders(t *testing.T) {
	var c Counter
	const n = 20000
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for {
				v := c.Load()
				if v < last || v > n {
					errs <- fmt.Sprintf("reader saw the counter go from %d to %d", last, v)
					return
				}
				last = v
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		c.Inc()
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := c.Load(); got != n {
		t.Fatalf("after %d Inc: Load = %d", n, got)
	}
	for i := 0; i < n+3; i++ {
		c.Dec()
	}
	if got := c.Load(); got != -3 {
		t.Fatalf("after %d Dec: Load = %d, want -3", n+3, got)
	}
}

// Counters of different loops are written by different goroutines at once
// (one writer each) and summed by a reader, as a scrape does.
func TestFrontendTotalsAdd(t *testing.T) {
	loops := make([]Frontend, 3)
	var wg sync.WaitGroup
	for i := range loops {
		wg.Add(1)
		go func(f *Frontend, k int) {
			defer wg.Done()
			for j := 0; j < 100*(k+1); j++ {
				f.SessionsTotal.Inc()
				f.Sessions.Inc()
				f.Requests.Inc()
				f.Requests.Inc()
				if j%2 == 0 {
					f.Sessions.Dec()
				}
			}
		}(&loops[i], i)
	}
	// A concurrent scrape sees consistent-enough values: never negative,
	// never more than the final totals.
	for k := 0; k < 100; k++ {
		var tot FrontendTotals
		for i := range loops {
			tot.Add(&loops[i])
		}
		if tot.Sessions < 0 || tot.SessionsTotal > 600 || tot.Requests > 1200 {
			t.Fatalf("scrape during counting: %+v", tot)
		}
	}
	wg.Wait()
	var tot FrontendTotals
	for i := range loops {
		tot.Add(&loops[i])
	}
	want := FrontendTotals{Sessions: 50 + 100 + 150, SessionsTotal: 600, Requests: 1200}
	if tot != want {
		t.Fatalf("totals = %+v, want %+v", tot, want)
	}
	// Add accumulates: adding the loops again doubles every total.
	for i := range loops {
		tot.Add(&loops[i])
	}
	if tot.SessionsTotal != 1200 || tot.Requests != 2400 || tot.Sessions != 600 {
		t.Fatalf("second Add: %+v", tot)
	}
}

func TestClassOf(t *testing.T) {
	for status, want := range map[int]int{0: -1, 100: Class1xx, 101: Class1xx, 200: Class2xx, 304: Class3xx, 404: Class4xx, 431: Class4xx, 500: Class5xx, 599: Class5xx, 600: ClassOther, 99: ClassOther} {
		if got := ClassOf(status); got != want {
			t.Errorf("ClassOf(%d) = %d, want %d", status, got, want)
		}
	}
}
