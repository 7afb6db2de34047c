package sticktable

import (
	"fmt"
	"reflect"
	"strings"
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

// newTest returns a table named "t" on a fake clock.
func newTest(t testing.TB, cfg Config) (*Table, *fakeClock) {
	t.Helper()
	tb, err := New("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	tb.now = clk.Now
	return tb, clk
}

var allCounters = []string{
	"conn_cnt", "conn_cur", "conn_rate(10s)", "http_req_cnt", "http_req_rate(10s)",
	"http_err_cnt", "http_err_rate(10s)", "bytes_in_cnt", "bytes_out_cnt",
	"gpc0", "gpc0_rate(10s)", "gpt0",
}

func TestCounters(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 10, Store: allCounters})
	const k = "client"
	tb.ConnOpen(k)
	tb.ConnOpen(k)
	tb.ConnClose(k)
	tb.HTTPRequest(k)
	tb.HTTPRequest(k)
	tb.HTTPRequest(k)
	tb.HTTPError(k)
	tb.Bytes(k, 100, 2000)
	tb.Bytes(k, 5, -1)
	if v := tb.IncGPC(k, 0); v != 1 {
		t.Fatalf("IncGPC0 = %d, want 1", v)
	}
	if v := tb.IncGPC(k, 0); v != 2 {
		t.Fatalf("IncGPC0 = %d, want 2", v)
	}
	tb.SetGPT(k, 0, -7)
	want := map[string]int64{
		"conn_cnt": 2, "conn_cur": 1, "conn_rate": 2,
		"http_req_cnt": 3, "http_req_rate": 3,
		"http_err_cnt": 1, "http_err_rate": 1,
		"bytes_in_cnt": 105, "bytes_out_cnt": 2000,
		"gpc0": 2, "gpc0_rate": 2, "gpt0": -7,
		"expire": 0, "use": 1, // the connection open
	}
	if got := tb.Lookup(k); !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup:\n got %v\nwant %v", got, want)
	}
	if v := tb.ClearGPC(k, 0); v != 2 {
		t.Fatalf("ClearGPC0 = %d, want 2", v)
	}
	if v := tb.ClearGPC(k, 0); v != 0 {
		t.Fatalf("second ClearGPC0 = %d, want 0", v)
	}
	if v, ok := tb.Value(k, "gpc0_rate"); !ok || v != 2 {
		t.Fatalf("Value(gpc0_rate) = %d, %v; want 2 (clearing does not count)", v, ok)
	}
	// conn_cur never goes below 0.
	tb.ConnClose(k)
	tb.ConnClose(k)
	if v, _ := tb.Value(k, "conn_cur"); v != 0 {
		t.Fatalf("conn_cur = %d after extra closes", v)
	}
	if tb.Lookup("other") != nil {
		t.Fatal("Lookup of an absent key is not nil")
	}
	// ConnClose and ClearGPC0 do not create entries.
	tb.ConnClose("other")
	if v := tb.ClearGPC("other", 0); v != 0 || tb.Used() != 1 {
		t.Fatalf("ClearGPC0 on absent key = %d, used %d", v, tb.Used())
	}
}

func TestUnstoredCounters(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"http_req_cnt"}})
	tb.ConnOpen("a")
	tb.HTTPError("a")
	tb.Bytes("a", 1, 1)
	tb.SetGPT("a", 0, 3)
	if v := tb.IncGPC("a", 0); v != 0 {
		t.Fatalf("IncGPC0 without gpc0 = %d", v)
	}
	if v := tb.ClearGPC("a", 0); v != 0 {
		t.Fatalf("ClearGPC0 without gpc0 = %d", v)
	}
	tb.HTTPRequest("a")
	want := map[string]int64{"http_req_cnt": 1, "expire": 0, "use": 1}
	if got := tb.Lookup("a"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %v, want %v", got, want)
	}
	for _, c := range []string{"gpc0", "conn_cnt", "nope"} {
		if v, ok := tb.Value("a", c); ok {
			t.Fatalf("Value(%q) = %d, true", c, v)
		}
	}
	// Events create entries even when they store nothing, like track-sc.
	tb.SetGPT("b", 0, 1)
	if tb.Lookup("b") == nil || tb.Used() != 2 {
		t.Fatalf("entry b not created; used %d", tb.Used())
	}
}

func TestRates(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "integer", Size: 10, Store: []string{
		"http_req_rate(10s)", "conn_rate(10s)", "http_err_rate(1m)", "gpc0_rate(1s)",
	}})
	rate := func() int64 {
		v, ok := tb.Value("1", "http_req_rate")
		if !ok {
			t.Fatal("entry missing")
		}
		return v
	}
	for range 10 {
		tb.HTTPRequest("1")
	}
	steps := []struct {
		advance time.Duration
		reqs    int
		want    int64
	}{
		{0, 0, 10},
		{5 * time.Second, 0, 10},            // 5s: still the first period
		{7500 * time.Millisecond, 0, 7},     // 12.5s: 10 * 7.5/10
		{2500 * time.Millisecond, 0, 5},     // 15s: 10 * 5/10
		{0, 3, 8},                           // 15s: 3 + 10 * 5/10
		{5 * time.Second, 0, 3},             // 20s: the 3 weigh fully
		{5 * time.Second, 0, 1},             // 25s: 3 * 5/10 = 1.5
		{4999 * time.Millisecond, 0, 0},     // 29.999s: 3 * 0.001/10
		{time.Millisecond, 0, 0},            // 30s: two periods later
		{15 * time.Second, 1, 1},            // 45s: a new start
		{10 * time.Second, 0, 1},            // 55s: the previous period
		{time.Hour, 2, 2},                   // long after
		{9999 * time.Millisecond, 0, 2},     // still the current period
		{time.Millisecond, 0, 2},            // next period, all remaining
		{5 * time.Second, 0, 1},             // half way
		{-8 * time.Second, 0, 2},            // a clock going back never reads more than it had
		{100 * time.Millisecond, 0, 2},      // 7.1s in: no rotation yet
		{7900 * time.Millisecond, 4, 4 + 1}, // 15s in: 4 + 2 * 5/10
	}
	for i, s := range steps {
		clk.Add(s.advance)
		for range s.reqs {
			tb.HTTPRequest("1")
		}
		if got := rate(); got != s.want {
			t.Fatalf("step %d: http_req_rate = %d, want %d", i, got, s.want)
		}
	}

	// Each rate keeps its own period.
	tb.ConnOpen("2")
	tb.HTTPError("2")
	tb.IncGPC("2", 0)
	clk.Add(1500 * time.Millisecond)
	got := tb.Lookup("2")
	want := map[string]int64{"http_req_rate": 0, "conn_rate": 1, "http_err_rate": 1, "gpc0_rate": 0, "expire": 0, "use": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %v, want %v", got, want)
	}
}

func TestFreqCtrLarge(t *testing.T) {
	p := int64(maxPeriod)
	f := freqCtr{start: 0, curr: 1 << 40}
	f.rotate(p+p/2, p)
	if f.prev != 1<<40 || f.curr != 0 || f.start != p {
		t.Fatalf("rotate: %+v", f)
	}
	got := f.read(p+p/2, p)
	if want := int64(1 << 39); got < want-1 || got > want {
		t.Fatalf("read = %d, want about %d", got, want)
	}
}

func TestExpiry(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "string", Size: 10, Expire: 10 * time.Second, Store: []string{"gpc0", "conn_cur"}})

	tb.IncGPC("a", 0)
	if got := tb.Lookup("a")["expire"]; got != 10000 {
		t.Fatalf("expire = %d, want 10000", got)
	}
	clk.Add(1500 * time.Microsecond)
	if got := tb.Lookup("a")["expire"]; got != 9999 {
		t.Fatalf("expire = %d, want 9999 (rounded up)", got)
	}
	clk.Add(4*time.Second - 1500*time.Microsecond)
	if got := tb.Lookup("a")["expire"]; got != 6000 {
		t.Fatalf("expire = %d, want 6000", got)
	}
	// Lookup does not refresh; expiry on access removes the entry.
	clk.Add(6 * time.Second)
	if got := tb.Lookup("a"); got != nil {
		t.Fatalf("expired entry returned: %v", got)
	}
	if tb.Used() != 0 {
		t.Fatalf("used = %d after lazy expiry", tb.Used())
	}

	// Purge removes what expired.
	tb.IncGPC("b", 0)
	tb.IncGPC("c", 0)
	clk.Add(5 * time.Second)
	tb.IncGPC("c", 0) // refreshed
	clk.Add(5 * time.Second)
	if tb.Used() != 2 {
		t.Fatalf("used = %d before purge", tb.Used())
	}
	tb.Purge(clk.Now())
	if tb.Used() != 1 || tb.Lookup("b") != nil {
		t.Fatalf("after purge: used %d, b %v", tb.Used(), tb.Lookup("b"))
	}
	if got := tb.Lookup("c"); got["gpc0"] != 2 || got["expire"] != 5000 {
		t.Fatalf("c = %v", got)
	}

	// An event on an expired entry starts it afresh.
	clk.Add(5 * time.Second)
	if v := tb.IncGPC("c", 0); v != 1 {
		t.Fatalf("IncGPC0 on expired entry = %d, want 1", v)
	}
	if tb.Used() != 1 {
		t.Fatalf("used = %d", tb.Used())
	}

	// An entry with connections open does not expire; its expiry counts
	// from when the last connection closes.
	tb.ConnOpen("d")
	clk.Add(time.Minute)
	tb.Purge(clk.Now())
	if got := tb.Lookup("d"); got["conn_cur"] != 1 || got["expire"] != 10000 {
		t.Fatalf("d = %v", got)
	}
	if tb.Lookup("c") != nil {
		t.Fatal("c survived the purge")
	}
	clk.Add(time.Minute)
	if got := tb.Lookup("d"); got["conn_cur"] != 1 {
		t.Fatalf("d on lookup = %v", got)
	}
	clk.Add(3 * time.Second)
	tb.ConnClose("d")
	clk.Add(9 * time.Second)
	tb.Purge(clk.Now())
	if got := tb.Lookup("d"); got["conn_cur"] != 0 || got["expire"] != 1000 {
		t.Fatalf("d after close = %v", got)
	}
	clk.Add(time.Second)
	tb.Purge(clk.Now())
	if tb.Used() != 0 {
		t.Fatalf("used = %d at the end", tb.Used())
	}

	// Dump drops expired entries too.
	tb.IncGPC("e", 0)
	clk.Add(10 * time.Second)
	if d, err := tb.Dump(nil); err != nil || len(d) != 0 || tb.Used() != 0 {
		t.Fatalf("Dump = %v, %v; used %d", d, err, tb.Used())
	}

	// Without Expire, entries stay.
	nt, clk2 := newTest(t, Config{Type: "ip", Size: 1, Store: []string{"gpc0"}})
	nt.IncGPC("1.2.3.4", 0)
	clk2.Add(1000 * time.Hour)
	nt.Purge(clk2.Now())
	if got := nt.Lookup("1.2.3.4"); got["gpc0"] != 1 || got["expire"] != 0 {
		t.Fatalf("entry without expiry = %v", got)
	}
}

func TestLRU(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 3, Store: []string{"gpc0", "conn_cur"}})
	present := func(want ...string) {
		t.Helper()
		d, err := tb.Dump(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != len(want) || tb.Used() != len(want) {
			t.Fatalf("entries %v (used %d), want %v", d, tb.Used(), want)
		}
		for _, k := range want {
			if d[k] == nil {
				t.Fatalf("entries %v, want %v", d, want)
			}
		}
	}
	tb.IncGPC("a", 0)
	tb.IncGPC("b", 0)
	tb.IncGPC("c", 0)
	tb.Lookup("a")      // reading does not refresh
	tb.HTTPRequest("a") // an event does: b is now the oldest
	tb.IncGPC("d", 0)
	present("a", "c", "d")
	if tb.Lookup("d")["gpc0"] != 1 {
		t.Fatal("d does not start from zero")
	}
	// Entries with connections open are kept while others can go.
	tb.ConnOpen("c")
	tb.ConnOpen("a") // oldest to newest: d, c, a
	tb.IncGPC("e", 0)
	present("a", "c", "e")
	tb.ConnOpen("e") // all in use: the oldest goes anyway
	tb.IncGPC("f", 0)
	present("a", "e", "f")
}

func TestShardedEviction(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "integer", Size: 4096, Store: []string{"http_req_cnt"}})
	if len(tb.shards) != 16 {
		t.Fatalf("%d shards", len(tb.shards))
	}
	const n = 20000
	for i := range n {
		tb.HTTPRequest(fmt.Sprint(i))
		if tb.Used() > 4096 {
			t.Fatalf("used %d > size", tb.Used())
		}
	}
	if tb.Used() != 4096 {
		t.Fatalf("used = %d, want 4096", tb.Used())
	}
	d, _ := tb.Dump(nil)
	if len(d) != 4096 {
		t.Fatalf("dump has %d entries", len(d))
	}
	for i := n - 100; i < n; i++ {
		if tb.Lookup(fmt.Sprint(i)) == nil {
			t.Fatalf("recent key %d evicted", i)
		}
	}
}

func TestEvictOtherShard(t *testing.T) {
	cfg := Config{Type: "string", Size: 2, Store: []string{"gpc0"}}
	sp, err := parseConfig("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb := newTable("t", cfg, sp, 8)
	for i := range 200 {
		k := fmt.Sprint("k", i)
		tb.IncGPC(k, 0)
		if tb.Used() != min(i+1, 2) {
			t.Fatalf("after %d keys: used %d", i+1, tb.Used())
		}
		if tb.Lookup(k) == nil {
			t.Fatalf("new key %s missing", k)
		}
	}
	total := 0
	for i := range tb.shards {
		total += len(tb.shards[i].m)
	}
	if total != 2 {
		t.Fatalf("%d entries in the shards", total)
	}
}

func TestKey(t *testing.T) {
	cases := []struct {
		typ, in, want string
		err           bool
	}{
		{"ip", "192.0.2.1", "192.0.2.1", false},
		{"ip", "::ffff:192.0.2.1", "192.0.2.1", false},
		{"ip", "::FFFF:c000:0201", "192.0.2.1", false},
		{"ip", "2001:db8::1", "", true},
		{"ip", "192.0.2.256", "", true},
		{"ip", "010.0.0.1", "", true},
		{"ip", "", "", true},
		{"ipv6", "2001:DB8:0:0::1", "2001:db8::1", false},
		{"ipv6", "192.0.2.1", "::ffff:192.0.2.1", false},
		{"ipv6", "::ffff:192.0.2.1", "::ffff:192.0.2.1", false},
		{"ipv6", "fe80::1%eth0", "fe80::1", false},
		{"ipv6", "host", "", true},
		{"integer", "42", "42", false},
		{"integer", "+7", "7", false},
		{"integer", "007", "7", false},
		{"integer", "-3", "-3", false},
		{"integer", "9223372036854775807", "9223372036854775807", false},
		{"integer", "9223372036854775808", "", true},
		{"integer", "1.5", "", true},
		{"integer", "", "", true},
		{"string", "", "", false},
		{"string", "abc", "abc", false},
		{"string", strings.Repeat("x", 32), strings.Repeat("x", 32), false},
		{"string", strings.Repeat("x", 32) + "yz", strings.Repeat("x", 32), false},
	}
	for _, c := range cases {
		tb, err := New("k", Config{Type: c.typ, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tb.Key(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%s Key(%q) = %q, want an error", c.typ, c.in, got)
			} else if !strings.HasPrefix(err.Error(), "sticktable k: ") || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.in)) {
				t.Errorf("%s Key(%q) error %q", c.typ, c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s Key(%q) = %q, %v; want %q", c.typ, c.in, got, err, c.want)
		}
	}
}

func TestStringKeyTruncatedByEvents(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"http_req_cnt"}})
	long := strings.Repeat("a", 32)
	tb.HTTPRequest(long + "1")
	tb.HTTPRequest(long + "2")
	if tb.Used() != 1 {
		t.Fatalf("used = %d", tb.Used())
	}
	if got := tb.Lookup(long + "3"); got["http_req_cnt"] != 2 {
		t.Fatalf("Lookup = %v", got)
	}
	d, _ := tb.Dump(nil)
	if d[long] == nil {
		t.Fatalf("Dump keys %v", d)
	}
}

func TestDumpFilters(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "string", Size: 10, Expire: time.Minute, Store: []string{"http_req_cnt", "http_req_rate(10s)", "gpc0"}})
	for k, n := range map[string]int{"a": 1, "b": 5, "c": 20} {
		for range n {
			tb.HTTPRequest(k)
		}
	}
	tb.IncGPC("c", 0)
	clk.Add(time.Second)
	keys := func(filters ...Filter) string {
		t.Helper()
		d, err := tb.Dump(filters)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, k := range []string{"a", "b", "c"} {
			if d[k] != nil {
				ks = append(ks, k)
			}
		}
		if len(ks) != len(d) {
			t.Fatalf("unexpected keys in %v", d)
		}
		return strings.Join(ks, ",")
	}
	cases := []struct {
		f    []Filter
		want string
	}{
		{nil, "a,b,c"},
		{[]Filter{{"http_req_rate", "gt", 4}}, "b,c"},
		{[]Filter{{"http_req_rate", "ge", 5}}, "b,c"},
		{[]Filter{{"http_req_rate", "lt", 5}}, "a"},
		{[]Filter{{"http_req_rate", "le", 5}}, "a,b"},
		{[]Filter{{"http_req_rate", "eq", 20}}, "c"},
		{[]Filter{{"http_req_rate", "ne", 20}}, "a,b"},
		{[]Filter{{"http_req_rate", "gt", 100}}, ""},
		{[]Filter{{"http_req_rate", "gt", 0}, {"gpc0", "eq", 0}}, "a,b"},
		{[]Filter{{"http_req_rate", "gt", 0}, {"gpc0", "eq", 0}, {"data.http_req_cnt", "gt", 1}}, "b"},
		{[]Filter{{"gpc0", "ge", 0}, {"gpc0", "ge", 0}, {"gpc0", "ge", 0}, {"gpc0", "ge", 0}}, "a,b,c"},
	}
	for _, c := range cases {
		if got := keys(c.f...); got != c.want {
			t.Errorf("Dump(%v) keys %q, want %q", c.f, got, c.want)
		}
	}
	d, _ := tb.Dump(nil)
	want := map[string]int64{"http_req_cnt": 20, "http_req_rate": 20, "gpc0": 1, "expire": 59000, "use": 0}
	if !reflect.DeepEqual(d["c"], want) {
		t.Fatalf("Dump c = %v, want %v", d["c"], want)
	}

	errs := []struct {
		f    []Filter
		want string
	}{
		{[]Filter{{"foo", "eq", 1}}, `sticktable t: filters[0]: unknown counter "foo"`},
		{[]Filter{{"gpc0", "eq", 1}, {"conn_cnt", "eq", 1}}, `sticktable t: filters[1]: counter "conn_cnt" is not stored`},
		{[]Filter{{"gpc0", "==", 1}}, `sticktable t: filters[0]: unknown operator "==" (want eq, ne, le, lt, ge or gt)`},
		{[]Filter{{"gpc0", "", 1}}, `sticktable t: filters[0]: unknown operator "" (want eq, ne, le, lt, ge or gt)`},
		{make([]Filter, 5), "sticktable t: 5 filters, at most 4"},
	}
	for _, c := range errs {
		d, err := tb.Dump(c.f)
		if err == nil || err.Error() != c.want || d != nil {
			t.Errorf("Dump(%v) = %v, %v; want error %q", c.f, d, err, c.want)
		}
	}
}

func TestInfo(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "ipv6", Size: 100, Expire: 30 * time.Second, Store: []string{"gpc0", "http_req_rate(10s)", "conn_cur"}})
	tb.IncGPC("::1", 0)
	tb.IncGPC("::2", 0)
	want := map[string]any{
		"type":    "ipv6",
		"length":  16,
		"size":    100,
		"used":    2,
		"nopurge": false,
		"expire":  int64(30000),
		"data":    []string{"gpc0=-1", "http_req_rate=10000", "conn_cur=-1"},
	}
	got := tb.Info()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Info:\n got %#v\nwant %#v", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	tb, err := New("t", Config{Type: "string", Size: 1000, Store: allCounters})
	if err != nil {
		t.Fatal(err)
	}
	const workers, iters, nkeys = 16, 2000, 20
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range iters {
				k := keys[(w+i)%nkeys]
				tb.ConnOpen(k)
				tb.HTTPRequest(k)
				tb.Bytes(k, 1, 2)
				tb.IncGPC(k, 0)
				tb.SetGPT(k, 0, int64(w))
				switch i % 50 {
				case 0:
					tb.Lookup(k)
				case 1:
					if _, err := tb.Dump([]Filter{{"http_req_cnt", "gt", 0}}); err != nil {
						t.Error(err)
					}
				case 2:
					tb.Purge(time.Now())
					tb.Info()
				}
				tb.ConnClose(k)
			}
		})
	}
	wg.Wait()
	d, err := tb.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	var sum = map[string]int64{}
	for _, m := range d {
		for c, v := range m {
			sum[c] += v
		}
	}
	const total = workers * iters
	for c, want := range map[string]int64{
		"conn_cnt": total, "conn_cur": 0, "http_req_cnt": total,
		"bytes_in_cnt": total, "bytes_out_cnt": 2 * total, "gpc0": total,
	} {
		if sum[c] != want {
			t.Errorf("sum of %s = %d, want %d", c, sum[c], want)
		}
	}
	if len(d) != nkeys || tb.Used() != nkeys {
		t.Fatalf("%d entries, used %d", len(d), tb.Used())
	}
}

func TestConcurrentChurn(t *testing.T) {
	cfg := Config{Type: "string", Size: 8, Expire: time.Millisecond, Store: []string{"conn_cur", "http_req_rate(1s)"}}
	sp, err := parseConfig("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb := newTable("t", cfg, sp, 4)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				k := fmt.Sprint((w*7 + i) % 100)
				tb.ConnOpen(k)
				tb.HTTPRequest(k)
				if i%10 == 0 {
					tb.Purge(time.Now())
					tb.Dump(nil)
				}
				if n := tb.Used(); n > 8 {
					t.Errorf("used %d > size", n)
					return
				}
				tb.ConnClose(k)
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range tb.shards {
		n += len(tb.shards[i].m)
	}
	if n != tb.Used() || n > 8 {
		t.Fatalf("%d entries, used %d", n, tb.Used())
	}
}

func TestNoAllocs(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "ip", Size: 100000, Expire: time.Minute, Store: allCounters})
	const k = "192.0.2.1"
	tb.ConnOpen(k)
	checks := map[string]func(){
		"HTTPRequest": func() { tb.HTTPRequest(k) },
		"HTTPError":   func() { tb.HTTPError(k) },
		"ConnOpen":    func() { tb.ConnOpen(k); tb.ConnClose(k) },
		"Bytes":       func() { tb.Bytes(k, 10, 20) },
		"IncGPC0":     func() { tb.IncGPC(k, 0) },
		"Value":       func() { tb.Value(k, "http_req_rate") },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

func BenchmarkHTTPRequest(b *testing.B) {
	tb, err := New("t", Config{Type: "ip", Size: 100000, Expire: time.Minute, Store: []string{"http_req_cnt", "http_req_rate(10s)"}})
	if err != nil {
		b.Fatal(err)
	}
	const k = "192.0.2.1"
	tb.HTTPRequest(k)
	b.ReportAllocs()
	for b.Loop() {
		tb.HTTPRequest(k)
	}
}

func BenchmarkHTTPRequestParallel(b *testing.B) {
	tb, err := New("t", Config{Type: "ip", Size: 100000, Expire: time.Minute, Store: []string{"http_req_cnt", "http_req_rate(10s)"}})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		tb.HTTPRequest(keys[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tb.HTTPRequest(keys[i&1023])
			i++
		}
	})
}

// gpc1 and the arrays: the single counters and the arrays' first elements
// share their names and the *_gpc0, *_gpc1 and *_gpt0 forms.
func TestGeneralPurposeArrays(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "string", Size: 10, Store: []string{"gpc(3)", "gpc_rate(2,10s)", "gpt(2)"}})
	if v := tb.IncGPC("k", 2); v != 1 {
		t.Fatalf("IncGPC(2) = %d, want 1", v)
	}
	tb.IncGPC("k", 1)
	tb.IncGPC("k", 1)
	tb.SetGPT("k", 1, 9)
	tb.SetGPT("k", 5, 9) // not kept: nothing
	got := tb.Lookup("k")
	want := map[string]int64{"gpc0": 0, "gpc1": 2, "gpc2": 1, "gpc0_rate": 0, "gpc1_rate": 2, "gpt0": 0, "gpt1": 9, "expire": 0, "use": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %v, want %v", got, want)
	}
	if v, ok := tb.Value("k", "gpc2_rate"); ok {
		t.Fatalf("gpc2_rate is not stored (gpc_rate has 2 elements), got %d", v)
	}
	if old := tb.ClearGPC("k", 1); old != 2 {
		t.Fatalf("ClearGPC(1) = %d, want 2", old)
	}
	for _, c := range []struct {
		i     int
		array bool
		want  bool
	}{{0, true, true}, {2, true, true}, {3, true, false}, {1, false, true}, {-1, false, false}} {
		if got := tb.GPCIndex(c.i, c.array); got != c.want {
			t.Errorf("GPCIndex(%d, %v) = %v", c.i, c.array, got)
		}
	}
	if !tb.GPTIndex(1, true) || tb.GPTIndex(2, true) || tb.ArrayLen("gpc_rate") != 2 || tb.ArrayLen("gpc0") != 0 {
		t.Error("GPTIndex or ArrayLen wrong")
	}
	clk.Add(20 * time.Second)
	if v, _ := tb.Value("k", "gpc1_rate"); v != 0 {
		t.Fatalf("gpc1_rate after two periods = %d", v)
	}
	info := tb.Info()["data"].([]string)
	if !reflect.DeepEqual(info, []string{"gpc=-1", "gpc_rate=10000", "gpt=-1"}) {
		t.Fatalf("Info data = %v", info)
	}

	// The single forms: gpc1 alone, gpc0 not stored.
	single, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"gpc1", "gpc0_rate(1m)"}})
	if single.GPCIndex(0, true) || !single.GPCIndex(0, false) || !single.GPCIndex(1, false) {
		t.Fatal("GPCIndex of gpc1 and gpc0_rate wrong")
	}
	if v := single.IncGPC("k", 0); v != 1 {
		t.Fatalf("IncGPC(0) with only gpc0_rate stored = %d, want the rate's current count 1", v)
	}
	if v := single.IncGPC("k", 1); v != 1 {
		t.Fatalf("IncGPC(1) = %d, want 1", v)
	}
	got = single.Lookup("k")
	want = map[string]int64{"gpc1": 1, "gpc0_rate": 1, "expire": 0, "use": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %v, want %v", got, want)
	}
	m, err := single.Dump([]Filter{{Counter: "data.gpc1", Op: "gt", Value: 0}})
	if err != nil || len(m) != 1 {
		t.Fatalf("Dump(gpc1 gt 0) = %v, %v", m, err)
	}
	if _, err := single.Dump([]Filter{{Counter: "gpc0", Op: "gt", Value: 0}}); err == nil {
		t.Fatal("a filter on gpc0, not stored, is accepted")
	}
}
