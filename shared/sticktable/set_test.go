package sticktable

import (
	"errors"
	"testing"
	"time"
)

func TestSetCreatesAndWrites(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "ip", Size: 10, Expire: time.Minute,
		Store: []string{"gpc0", "gpt0", "gpc1", "conn_cnt", "http_req_rate(10s)", "server_id", "bytes_in_cnt"}})
	err := tb.Set("10.0.0.5", []Setting{{"gpc0", 7}, {"gpt0", -5}, {"gpc1", 2}, {"conn_cnt", 4},
		{"http_req_rate", 5}, {"server_id", 3}, {"bytes_in_cnt", 1 << 40}})
	if err != nil {
		t.Fatal(err)
	}
	got := tb.Lookup("10.0.0.5")
	want := map[string]int64{"gpc0": 7, "gpt0": 4294967291, "gpc1": 2, "conn_cnt": 4, "http_req_rate": 5, "server_id": 3, "bytes_in_cnt": 1 << 40}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (entry %v)", k, got[k], v, got)
		}
	}
	// The rate holds for its period, then fades out over the next one.
	clk.Add(9 * time.Second)
	if v, _ := tb.Value("10.0.0.5", "http_req_rate"); v != 5 {
		t.Errorf("http_req_rate after 9s = %d, want 5", v)
	}
	clk.Add(6 * time.Second)
	if v, _ := tb.Value("10.0.0.5", "http_req_rate"); v != 2 {
		t.Errorf("http_req_rate after 15s = %d, want 2", v)
	}
	// No settings: the entry is created, empty.
	if err := tb.Set("10.0.0.6", nil); err != nil || tb.Lookup("10.0.0.6") == nil {
		t.Errorf("Set without settings: %v, entry %v", err, tb.Lookup("10.0.0.6"))
	}
}

func TestSetArraysAndRefusals(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"gpc(3)", "gpt(2)", "gpc_rate(2,10s)", "conn_cur"}})
	if err := tb.Set("k", []Setting{{"gpc", 9}, {"gpt", 4}, {"gpc_rate", 6}}); err != nil {
		t.Fatal(err)
	}
	got := tb.Lookup("k")
	if got["gpc0"] != 9 || got["gpt0"] != 4 || got["gpc0_rate"] != 6 || got["gpc1"] != 0 {
		t.Errorf("arrays' first elements: %v", got)
	}
	for _, c := range []struct {
		name string
		err  error
	}{{"nope", ErrUnknownType}, {"gpc0", ErrNotStored}, {"http_req_cnt", ErrNotStored}, {"conn_cur", ErrConnCur}} {
		if err := tb.Set("k2", []Setting{{c.name, 1}}); !errors.Is(err, c.err) {
			t.Errorf("Set %s: %v, want %v", c.name, err, c.err)
		}
	}
	if tb.Lookup("k2") != nil {
		t.Error("a refused Set created the entry")
	}
	sh, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"gpc0"}, Shared: true})
	if err := sh.Set("k", []Setting{{"gpc0", 1}}); !errors.Is(err, ErrSharedSet) {
		t.Errorf("Set on a shared table: %v", err)
	}
}

func TestPeek(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "string", Size: 10, Expire: 30 * time.Second, Store: []string{"gpc0", "http_req_cnt"}})
	if _, found, _ := tb.Peek("k", "gpc0"); found {
		t.Fatal("absent key found")
	}
	tb.ConnOpen("k")
	tb.HTTPRequest("k")
	clk.Add(2 * time.Second)
	for _, c := range []struct {
		counter      string
		v            int64
		found, store bool
	}{{"http_req_cnt", 1, true, true}, {"gpc0", 0, true, true}, {"conn_cnt", 0, true, false},
		{"trackers", 2, true, true}, {"idle", 2000, true, true}, {"expire", 28000, true, true}} {
		v, found, stored := tb.Peek("k", c.counter)
		if v != c.v || found != c.found || stored != c.store {
			t.Errorf("Peek %s = %d %v %v, want %d %v %v", c.counter, v, found, stored, c.v, c.found, c.store)
		}
	}
	// Peeking does not refresh the entry.
	if v, _, _ := tb.Peek("k", "idle"); v != 2000 {
		t.Errorf("idle after peeks = %d", v)
	}
}
