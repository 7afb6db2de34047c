package sticktable

import (
	"testing"
	"time"
)

// fleetStore plays the store shared tables exchange through (Redis's
// hashes in the server): set, add, delete, then read back.
type fleetStore map[string]map[string]int64

func (f fleetStore) exchange(deltas []Delta) [][]int64 {
	out := make([][]int64, len(deltas))
	for i, d := range deltas {
		h := f[d.Key]
		if h == nil {
			h = map[string]int64{}
			f[d.Key] = h
		}
		for _, fl := range d.Set {
			h[fl.Name] = fl.N
		}
		for _, fl := range d.Add {
			h[fl.Name] += fl.N
		}
		for _, n := range d.Del {
			delete(h, n)
		}
		for _, n := range d.Get {
			out[i] = append(out[i], h[n])
		}
	}
	return out
}

// sync runs one exchange of t with the store.
func (f fleetStore) sync(t *Table) {
	d := t.Deltas()
	t.Apply(d, f.exchange(d), true)
}

var sharedCfg = Config{Type: "ip", Size: 100, Expire: time.Minute, Shared: true,
	Store: []string{"conn_cur", "http_req_cnt", "http_req_rate(10s)", "gpc0", "gpt0"}}

// twoInstances makes the same shared table in two instances, on one
// clock, at the start of a 10 s period.
func twoInstances(t *testing.T) (a, b *Table, clk *fakeClock) {
	a, clk = newTest(t, sharedCfg)
	b, _ = newTest(t, sharedCfg)
	start := time.Unix(1900000000, 0) // a multiple of 10 s
	clk.t = start
	b.now = clk.Now
	return a, b, clk
}

func val(t *testing.T, tb *Table, counter string) int64 {
	t.Helper()
	v, _ := tb.Value("1.2.3.4", counter)
	return v
}

func TestSharedCountsAddUp(t *testing.T) {
	a, b, clk := twoInstances(t)
	store := fleetStore{}
	const k = "1.2.3.4"
	for range 3 {
		a.HTTPRequest(k)
	}
	for range 2 {
		b.HTTPRequest(k)
	}
	a.ConnOpen(k)
	if got := val(t, a, "http_req_cnt"); got != 3 {
		t.Fatalf("before any exchange a counts its own: %d", got)
	}
	store.sync(a)
	store.sync(b)
	if got := val(t, b, "http_req_cnt"); got != 5 {
		t.Fatalf("b after the exchanges: %d, want 5", got)
	}
	store.sync(a) // a has no event since, but had one within watchFor: it reads
	if got := val(t, a, "http_req_cnt"); got != 5 {
		t.Fatalf("a after its next exchange: %d, want 5", got)
	}
	// Past watchFor without events here, the entry leaves the exchanges
	// and keeps what it last learnt.
	clk.Add(watchFor)
	store.sync(a)
	if d := a.Deltas(); len(d) != 0 {
		t.Fatalf("an entry without events for watchFor is still exchanged: %+v", d)
	}
	b.HTTPRequest(k)
	store.sync(b)
	if got := val(t, a, "http_req_cnt"); got != 5 {
		t.Fatalf("a, out of the exchanges: %d, want the 5 it last learnt", got)
	}
	a.HTTPRequest(k)
	if got := val(t, a, "http_req_cnt"); got != 6 {
		t.Fatalf("a before the exchange: %d, want 6 (its 4, b's 2 it learnt)", got)
	}
	store.sync(a)
	if got := val(t, a, "http_req_cnt"); got != 7 {
		t.Fatalf("a after its exchange: %d, want 7", got)
	}
	if got := val(t, a, "http_req_rate"); got != 7 {
		t.Fatalf("the fleet's rate in one period: %d, want 7", got)
	}
	if got := val(t, a, "conn_cur"); got != 1 {
		t.Fatalf("conn_cur stays local: %d", got)
	}
	if got := val(t, b, "conn_cur"); got != 0 {
		t.Fatalf("conn_cur stays local: b has %d", got)
	}
	// Half-way through the next period (the clock moved 1 s already),
	// the previous one counts half.
	clk.Add(14 * time.Second)
	b.HTTPRequest(k)
	store.sync(b)
	if got := val(t, b, "http_req_rate"); got != 1+7/2 {
		t.Fatalf("rate half-way into the next period: %d, want %d", got, 1+7/2)
	}
	// The store keeps no more than the two periods a rate reads.
	clk.Add(20 * time.Second)
	b.HTTPRequest(k)
	store.sync(b)
	n := 0
	for f := range store[k] {
		if _, _, ok := rateField(f); ok {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("%d rate periods kept in the store: %v", n, store[k])
	}
}

// Events made while an exchange is on its way are sent by the next one;
// a failed exchange's amounts are sent again, not lost nor doubled.
func TestSharedExchangeInFlightAndFailed(t *testing.T) {
	a, b, _ := twoInstances(t)
	store := fleetStore{}
	const k = "1.2.3.4"
	a.HTTPRequest(k)
	d := a.Deltas()
	a.HTTPRequest(k) // during the exchange
	a.Apply(d, store.exchange(d), true)
	if got := val(t, a, "http_req_cnt"); got != 2 {
		t.Fatalf("after an exchange with an event in flight: %d, want 2", got)
	}
	d = a.Deltas()
	a.Apply(d, nil, false) // failed: Redis down
	a.HTTPRequest(k)
	store.sync(a)
	store.sync(a)
	b.HTTPRequest(k)
	store.sync(b)
	if got := val(t, b, "http_req_cnt"); got != 4 {
		t.Fatalf("the fleet after a failed exchange: %d, want 4 (3 from a, 1 from b)", got)
	}
	if got := store[k]["http_req_cnt"]; got != 4 {
		t.Fatalf("the store holds %d, want 4", got)
	}
}

func TestSharedGPC0AndGPT0(t *testing.T) {
	a, b, _ := twoInstances(t)
	store := fleetStore{}
	const k = "1.2.3.4"
	a.IncGPC(k, 0)
	a.IncGPC(k, 0)
	store.sync(a)
	if v := b.IncGPC(k, 0); v != 1 {
		t.Fatalf("b's first inc before its exchange: %d", v)
	}
	store.sync(b)
	if got := val(t, b, "gpc0"); got != 3 {
		t.Fatalf("the fleet's gpc0: %d, want 3", got)
	}
	if old := b.ClearGPC(k, 0); old != 3 {
		t.Fatalf("clr_gpc0 returns the fleet's value: %d, want 3", old)
	}
	b.SetGPT(k, 0, 7)
	store.sync(b)
	a.HTTPRequest(k)
	store.sync(a)
	if got := val(t, a, "gpc0"); got != 0 {
		t.Fatalf("a's gpc0 after b cleared the fleet's: %d, want 0", got)
	}
	if got := val(t, a, "gpt0"); got != 7 {
		t.Fatalf("a's gpt0 after b set it: %d, want 7", got)
	}
}

// A table that is not shared keeps no exchange state.
func TestNotSharedHasNoDeltas(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "ip", Size: 10, Store: []string{"http_req_cnt"}})
	tb.HTTPRequest("1.2.3.4")
	if d := tb.Deltas(); len(d) != 0 || tb.Shared() {
		t.Fatalf("deltas of a local table: %v", d)
	}
}
