package sticktable

import "testing"

// clear table: a key, or the entries matching filters, go unless a
// connection holds them.
func TestClear(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 100, Store: []string{"gpc0", "conn_cur"}})
	for _, k := range []string{"a", "b", "c", "d"} {
		tb.IncGPC(k, 0)
	}
	tb.IncGPC("c", 0)
	tb.IncGPC("d", 0)
	tb.ConnOpen("held")
	if found, removed := tb.Clear("a"); !found || !removed {
		t.Fatalf("Clear(a) = %v, %v", found, removed)
	}
	if found, _ := tb.Clear("a"); found {
		t.Fatal("a was cleared twice")
	}
	if found, removed := tb.Clear("held"); !found || removed {
		t.Fatalf("Clear(held) = %v, %v: an entry a connection holds stays", found, removed)
	}
	if tb.Lookup("a") != nil || tb.Lookup("held") == nil {
		t.Fatal("after Clear: a present or held gone")
	}
	// gpc0 >= 2: c and d.
	n, err := tb.ClearMatching([]Filter{{Counter: "data.gpc0", Op: "ge", Value: 2}})
	if err != nil || n != 2 {
		t.Fatalf("ClearMatching(gpc0 ge 2) = %d, %v", n, err)
	}
	if tb.Lookup("b") == nil || tb.Lookup("c") != nil || tb.Lookup("d") != nil {
		t.Fatal("the filter removed the wrong entries")
	}
	if _, err := tb.ClearMatching([]Filter{{Counter: "http_req_cnt", Op: "gt", Value: 0}}); err == nil {
		t.Fatal("a filter on a counter not stored was taken")
	}
	// No filter: everything no connection holds.
	if n, err := tb.ClearMatching(nil); err != nil || n != 1 || tb.Used() != 1 || tb.Lookup("held") == nil {
		t.Fatalf("ClearMatching() = %d, %v; %d left", n, err, tb.Used())
	}
	if !Known("http_req_rate") || Known("nope") {
		t.Fatal("Known")
	}
}
