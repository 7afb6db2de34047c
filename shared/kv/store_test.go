package kv

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t testing.TB, cfg Config) (*Store, *fakeClock) {
	t.Helper()
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	st.now = clk.Now
	return st, clk
}

func str(s string) Value { return Value{Kind: String, Str: s} }

func mustGet(t *testing.T, st *Store, key string) (Value, bool) {
	t.Helper()
	v, _, ok := st.Get(key)
	return v, ok
}

func TestSetGetDelete(t *testing.T) {
	st, _ := newStore(t, Config{Size: 1 << 20})
	if _, ok := mustGet(t, st, "a"); ok {
		t.Fatal("empty store has a")
	}
	if _, err := st.Set("a", str("1"), 0, Always, false); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, st, "a"); !ok || v.Str != "1" {
		t.Fatalf("a = %+v %v", v, ok)
	}
	if _, err := st.Set("a", Value{Kind: Number, Num: 2.5, Flags: 7}, 0, Always, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := mustGet(t, st, "a"); v.Kind != Number || v.Num != 2.5 || v.Flags != 7 {
		t.Fatalf("a = %+v", v)
	}
	if !st.Delete("a") || st.Delete("a") {
		t.Fatal("delete should report the key once")
	}
	if st.Used() != 0 {
		t.Fatalf("used %d after delete", st.Used())
	}
}

func TestSetModes(t *testing.T) {
	st, _ := newStore(t, Config{Size: 1 << 20})
	if _, err := st.Set("k", str("x"), 0, IfPresent, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace of absent key: %v", err)
	}
	if _, err := st.Set("k", str("x"), 0, IfAbsent, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Set("k", str("y"), 0, IfAbsent, false); !errors.Is(err, ErrExists) {
		t.Fatalf("add of present key: %v", err)
	}
	if _, err := st.Set("k", str("z"), 0, IfPresent, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := mustGet(t, st, "k"); v.Str != "z" {
		t.Fatalf("k = %q", v.Str)
	}
}

func TestTTL(t *testing.T) {
	st, clk := newStore(t, Config{Size: 1 << 20})
	st.Set("k", str("v"), 10*time.Second, Always, false)
	st.Set("forever", str("v"), 0, Always, false)
	if left, ok := st.TTL("k"); !ok || left != 10*time.Second {
		t.Fatalf("ttl %v %v", left, ok)
	}
	if left, ok := st.TTL("forever"); !ok || left != 0 {
		t.Fatalf("ttl of a key without expiry: %v %v", left, ok)
	}
	_, exp, _ := st.Get("k")
	if want := clk.Now().Add(10 * time.Second); !exp.Equal(want) {
		t.Fatalf("expiry %v, want %v", exp, want)
	}
	clk.Add(9 * time.Second)
	if _, ok := mustGet(t, st, "k"); !ok {
		t.Fatal("k gone before its ttl")
	}
	clk.Add(time.Second)
	if _, ok := mustGet(t, st, "k"); ok {
		t.Fatal("k alive after its ttl")
	}
	if _, ok := st.TTL("k"); ok {
		t.Fatal("ttl of an expired key")
	}
	if !st.Expire("forever", time.Second) {
		t.Fatal("expire of a live key")
	}
	clk.Add(time.Second)
	if _, ok := mustGet(t, st, "forever"); ok {
		t.Fatal("expire did not take")
	}
	if st.Expire("nope", time.Second) {
		t.Fatal("expire of an absent key")
	}
}

// TestLRUEviction fills a one-shard store and checks that the least
// recently used key goes first, a read counting as a use.
func TestLRUEviction(t *testing.T) {
	per := int64(EntryOverhead + 2) // a one-byte key and value
	st, _ := newStore(t, Config{Size: 3 * per})
	for _, k := range []string{"a", "b", "c"} {
		if ev, err := st.Set(k, str("v"), 0, Always, false); err != nil || ev {
			t.Fatalf("set %s: evicted %v, %v", k, ev, err)
		}
	}
	mustGet(t, st, "a") // b is now the least recently used
	ev, err := st.Set("d", str("v"), 0, Always, false)
	if err != nil || !ev {
		t.Fatalf("set d in a full store: evicted %v, %v", ev, err)
	}
	if _, ok := mustGet(t, st, "b"); ok {
		t.Fatal("b should have been evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := mustGet(t, st, k); !ok {
			t.Fatalf("%s evicted", k)
		}
	}
	if st.Used() != 3*per {
		t.Fatalf("used %d, want %d", st.Used(), 3*per)
	}
}

// TestExpiredGoFirst checks that an expired entry makes room before a
// live one, even when it is not the least recently used.
func TestExpiredGoFirst(t *testing.T) {
	per := int64(EntryOverhead + 2)
	st, clk := newStore(t, Config{Size: 3 * per})
	st.Set("a", str("v"), 0, Always, false)
	st.Set("b", str("v"), time.Second, Always, false)
	st.Set("c", str("v"), 0, Always, false)
	clk.Add(2 * time.Second)
	ev, err := st.Set("d", str("v"), 0, Always, false)
	if err != nil || ev {
		t.Fatalf("set d: evicted %v, %v (only an expired key had to go)", ev, err)
	}
	if _, ok := mustGet(t, st, "a"); !ok {
		t.Fatal("a, live, was evicted instead of the expired b")
	}
}

func TestNoEvict(t *testing.T) {
	per := int64(EntryOverhead + 2)
	st, _ := newStore(t, Config{Size: 2 * per})
	st.Set("a", str("v"), 0, Always, false)
	st.Set("b", str("v"), 0, Always, false)
	if _, err := st.Set("c", str("v"), 0, Always, true); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("safe set in a full store: %v", err)
	}
	// Replacing a value of the same size needs no eviction.
	if _, err := st.Set("a", str("w"), 0, Always, true); err != nil {
		t.Fatalf("safe replace: %v", err)
	}
	// A larger value for a that does not fit leaves the old one.
	if _, err := st.Set("a", str("www"), 0, Always, true); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("safe set of a larger value: %v", err)
	}
	if v, ok := mustGet(t, st, "a"); !ok || v.Str != "w" {
		t.Fatalf("a after a refused write: %+v %v", v, ok)
	}
}

func TestTooLarge(t *testing.T) {
	st, _ := newStore(t, Config{Size: 1 << 20, MaxValue: 10})
	if _, err := st.Set("k", str("0123456789"), 0, Always, false); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("11 bytes over a max_value of 10: %v", err)
	}
	if _, err := st.Set("k", str("012345678"), 0, Always, false); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Size: 1 << 20, MaxValue: 2 << 20}); err == nil {
		t.Fatal("max_value over the size should be refused")
	}
	if _, err := New(Config{Size: 10}); err == nil {
		t.Fatal("a size under one entry should be refused")
	}
}

func TestIncr(t *testing.T) {
	st, clk := newStore(t, Config{Size: 1 << 20})
	if _, _, err := st.Incr("n", 1, nil, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("incr of absent key without init: %v", err)
	}
	zero := 10.0
	n, _, err := st.Incr("n", 2, &zero, time.Second)
	if err != nil || n != 12 {
		t.Fatalf("incr with init: %v %v", n, err)
	}
	if n, _, _ = st.Incr("n", -0.5, &zero, 0); n != 11.5 {
		t.Fatalf("incr: %v", n)
	}
	// The TTL was set when the key was made; incr keeps it.
	clk.Add(time.Second)
	if _, ok := mustGet(t, st, "n"); ok {
		t.Fatal("n outlived the ttl given at creation")
	}
	st.Set("s", str("5"), 0, Always, false)
	if _, _, err := st.Incr("s", 1, nil, 0); !errors.Is(err, ErrNotNumber) {
		t.Fatalf("incr of a string without TextNumbers: %v", err)
	}
	tn, _ := newStore(t, Config{Size: 1 << 20, TextNumbers: true})
	tn.Set("s", str("5"), 0, Always, false)
	if n, _, err := tn.Incr("s", 1, nil, 0); err != nil || n != 6 {
		t.Fatalf("incr of \"5\" with TextNumbers: %v %v", n, err)
	}
	if v, _ := mustGet(t, tn, "s"); v.Text() != "6" {
		t.Fatalf("text of the counter: %q", v.Text())
	}
	tn.Set("w", str("five"), 0, Always, false)
	if _, _, err := tn.Incr("w", 1, nil, 0); !errors.Is(err, ErrNotNumber) {
		t.Fatalf("incr of a word: %v", err)
	}
}

func TestKeysAndFlush(t *testing.T) {
	st, clk := newStore(t, Config{Size: 1 << 20})
	for i := 0; i < 5; i++ {
		st.Set(fmt.Sprintf("user:%d", i), str("v"), 0, Always, false)
	}
	st.Set("user:old", str("v"), time.Second, Always, false)
	st.Set("other", str("v"), 0, Always, false)
	clk.Add(time.Second)
	got := st.Keys("user:", 0)
	want := []string{"user:0", "user:1", "user:2", "user:3", "user:4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if got := st.Keys("user:", 2); !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("keys with max 2: %v", got)
	}
	if n := st.FlushExpired(0); n != 1 {
		t.Fatalf("flush_expired removed %d, want 1", n)
	}
	st.FlushAll()
	if got := st.Keys("", 0); len(got) != 0 || st.Used() != 0 {
		t.Fatalf("after flush_all: %v, used %d", got, st.Used())
	}
}

func TestRename(t *testing.T) {
	st, _ := newStore(t, Config{Size: 1 << 20})
	if err := st.Rename("a", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rename of absent: %v", err)
	}
	st.Set("a", str("1"), 0, Always, false)
	st.Set("b", str("2"), 0, Always, false)
	if err := st.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, st, "a"); ok {
		t.Fatal("a still there")
	}
	if v, _ := mustGet(t, st, "b"); v.Str != "1" {
		t.Fatalf("b = %q", v.Str)
	}
}

func TestOnChange(t *testing.T) {
	st, _ := newStore(t, Config{Size: 3 * (EntryOverhead + 2)})
	var got []string
	st.OnChange(func(k string) { got = append(got, k) })
	st.Set("a", str("v"), 0, Always, false)
	st.Incr("a", 1, nil, 0) // not a number: no change
	st.Set("b", str("v"), 0, Always, false)
	st.Set("c", str("v"), 0, Always, false)
	st.Set("d", str("v"), 0, Always, false) // evicts a
	st.Delete("b")
	st.Expire("c", time.Second)
	st.FlushAll()
	want := []string{"a", "b", "c", "a", "d", "b", "c", ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
}

func TestShards(t *testing.T) {
	for _, c := range []struct {
		size int64
		want int
	}{{512 << 10, 1}, {1 << 20, 1}, {2 << 20, 2}, {4 << 20, 4}, {16 << 20, 16}, {1 << 30, 16}} {
		if got := (Config{Size: c.size}).Shards(); got != c.want {
			t.Errorf("size %d: %d shards, want %d", c.size, got, c.want)
		}
	}
	// A part holds four of the largest values.
	if got := (Config{Size: 64 << 20, MaxValue: 16 << 20}).Shards(); got != 1 {
		t.Errorf("64MiB with values of 16MiB: %d shards, want 1", got)
	}
	if got := (Config{Size: 64 << 20, MaxValue: 1 << 20}).Shards(); got != 16 {
		t.Errorf("64MiB with values of 1MiB: %d shards, want 16", got)
	}
}

// TestConcurrent runs loops' worth of writers and readers on one store
// (go test -race checks the locking).
func TestConcurrent(t *testing.T) {
	st, err := New(Config{Size: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	init := 0.0
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprintf("k%d", i%50)
				st.Set(k, str("v"), 0, Always, false)
				st.Get(k)
				st.Incr("counter", 1, &init, 0)
			}
		}()
	}
	wg.Wait()
	if v, _, _ := st.Get("counter"); v.Num != 8000 {
		t.Fatalf("counter = %v, want 8000", v.Num)
	}
}

func BenchmarkGet(b *testing.B) {
	st, _ := New(Config{Size: 64 << 20})
	st.Set("key", str("value"), 0, Always, false)
	b.ReportAllocs()
	for b.Loop() {
		st.Get("key")
	}
}
