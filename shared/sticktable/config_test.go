package sticktable

import (
	"slices"
	"testing"
	"time"
)

func TestNewErrors(t *testing.T) {
	ok := Config{Type: "ip", Size: 10}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"", ok, "name: must not be empty"},
		{"t", Config{Size: 10}, "type: missing (want ip, ipv6, integer or string)"},
		{"t", Config{Type: "binary", Size: 10}, `type: unknown type "binary" (want ip, ipv6, integer or string)`},
		{"t", Config{Type: "ip"}, "size: must be > 0 (got 0)"},
		{"t", Config{Type: "ip", Size: -1}, "size: must be > 0 (got -1)"},
		{"t", Config{Type: "ip", Size: 1, Expire: -time.Second}, "expire: must not be negative (got -1s)"},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0", "conn_cnt", "foo"}}, `store[2]: unknown counter "foo"`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{""}}, "store[0]: empty counter name"},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0", "gpc0"}}, `store[1]: duplicate counter "gpc0"`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"conn_rate"}}, `store[0]: counter "conn_rate" needs a period, like conn_rate(10s)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0(10s)"}}, `store[0]: counter "gpc0" takes no period`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"http_req_rate(10s"}}, `store[0]: missing ')' in "http_req_rate(10s"`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"http_req_rate(10x)"}}, `store[0]: period of "http_req_rate": invalid period "10x": unknown unit "x" (want ms, s, m, h or d)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"http_req_rate()"}}, `store[0]: period of "http_req_rate": invalid period "" (want a number and a unit: ms, s, m, h or d)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"http_err_rate(0s)"}}, `store[0]: period of "http_err_rate": invalid period "0s": must be > 0`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0_rate(30d)"}}, `store[0]: period of "gpc0_rate": invalid period "30d": too large (at most 596h31m23.647s)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc"}}, `store[0]: counter "gpc" needs its number of elements, like gpc(4)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc(0)"}}, `store[0]: counter "gpc": number of elements "0" out of range (1-100)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpt(101)"}}, `store[0]: counter "gpt": number of elements "101" out of range (1-100)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpt(2,10s)"}}, `store[0]: counter "gpt" takes no period`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc_rate(2)"}}, `store[0]: counter "gpc_rate" needs a period, like gpc_rate(4,10s)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc1", "gpc(2)"}}, `store[1]: "gpc" and "gpc0" or "gpc1" in the same table (the array overrides them, as in HAProxy)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc_rate(2,1s)", "gpc1_rate(1s)"}}, `store[1]: "gpc1_rate" and "gpc_rate" in the same table (the array overrides it, as in HAProxy)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpt0", "gpt(1)"}}, `store[1]: "gpt" and "gpt0" in the same table (the array overrides them, as in HAProxy)`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0", "gpc1"}, Shared: true}, `store[1]: "gpc1" is not exchanged between instances: a shared table stores gpc0, gpc0_rate and gpt0 of the general purpose counters`},
		{"t", Config{Type: "ip", Size: 1, Store: []string{"gpc0_rate(99999999999999999999)"}}, `store[0]: period of "gpc0_rate": invalid period "99999999999999999999": too large (at most 596h31m23.647s)`},
	}
	for _, c := range cases {
		tb, err := New(c.name, c.cfg)
		if err == nil {
			t.Errorf("New(%q, %+v) = %v, want error %q", c.name, c.cfg, tb, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("New(%q, %+v) error:\n got %q\nwant %q", c.name, c.cfg, err, c.want)
		}
	}
}

func TestNewStore(t *testing.T) {
	tb, err := New("t", Config{Type: "string", Size: 5, Store: []string{
		" conn_cnt ", "conn_cur", "conn_rate(10s)", "http_req_cnt", "http_req_rate( 1m )",
		"http_err_cnt", "http_err_rate(500)", "bytes_in_cnt", "bytes_out_cnt",
		"gpc0", "gpc0_rate(2h)", "gpt0", "server_id", "server_key", "gpc1", "gpc1_rate(3s)",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name() != "t" || tb.Type() != "string" || tb.Size() != 5 || tb.Used() != 0 {
		t.Fatalf("got name %q type %q size %d used %d", tb.Name(), tb.Type(), tb.Size(), tb.Used())
	}
	want := []int64{
		rConn:     int64(10 * time.Second),
		rHTTPReq:  int64(time.Minute),
		rHTTPErr:  int64(500 * time.Millisecond),
		rGPC0:     int64(2 * time.Hour),
		rGPC0 + 1: int64(3 * time.Second),
	}
	if !slices.Equal(tb.periods, want) {
		t.Fatalf("periods %v, want %v", tb.periods, want)
	}
	if len(tb.order) != int(nCounters)-3 { // every one but the arrays
		t.Fatalf("order %v", tb.order)
	}
}

func TestParsePeriod(t *testing.T) {
	cases := map[string]time.Duration{
		"1":    time.Millisecond,
		"250":  250 * time.Millisecond,
		"10ms": 10 * time.Millisecond,
		"10s":  10 * time.Second,
		"1m":   time.Minute,
		"3h":   3 * time.Hour,
		"1d":   24 * time.Hour,
		"24d":  24 * 24 * time.Hour,
	}
	for in, want := range cases {
		got, err := parsePeriod(in)
		if err != nil || got != want {
			t.Errorf("parsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "-1s", "1.5s", "10 s", "1us", "25d"} {
		if d, err := parsePeriod(in); err == nil {
			t.Errorf("parsePeriod(%q) = %v, want an error", in, d)
		}
	}
}

func TestShardCount(t *testing.T) {
	cases := map[int]int{1: 1, 100: 1, 511: 1, 512: 2, 1024: 4, 4096: 16, 1 << 20: maxShards}
	for size, want := range cases {
		if got := shardCount(size); got != want {
			t.Errorf("shardCount(%d) = %d, want %d", size, got, want)
		}
	}
}
