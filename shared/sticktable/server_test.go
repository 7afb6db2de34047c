package sticktable

import (
	"testing"
	"time"
)

func TestStoreServer(t *testing.T) {
	tb, clk := newTest(t, Config{Type: "ip", Size: 10, Expire: 10 * time.Second, Store: []string{"server_id", "conn_cnt", "server_key"}})
	if _, _, ok := tb.MatchServer("10.0.0.1"); ok {
		t.Fatal("match on an empty table found an entry")
	}
	tb.StoreServer("10.0.0.1", 2, "b")
	if id, name, ok := tb.MatchServer("10.0.0.1"); !ok || id != 2 || name != "b" {
		t.Fatalf("MatchServer = %d %q %v, want 2 b true", id, name, ok)
	}
	// A later store replaces the server, whatever the entry named.
	tb.StoreServer("10.0.0.1", 3, "c")
	if id, name, _ := tb.MatchServer("10.0.0.1"); id != 3 || name != "c" {
		t.Fatalf("after a second store: %d %q, want 3 c", id, name)
	}
	if got := tb.ServerName("10.0.0.1"); got != "c" {
		t.Fatalf("ServerName = %q, want c", got)
	}
	// Lookup shows server_id with the counters; the name is not a number.
	m := tb.Lookup("10.0.0.1")
	if m["server_id"] != 3 || m["conn_cnt"] != 0 {
		t.Fatalf("Lookup = %v, want server_id 3, conn_cnt 0", m)
	}
	if _, ok := m["server_key"]; ok {
		t.Fatalf("Lookup has server_key: %v", m)
	}
	// A match refreshes the entry: it lives expire after the last one.
	clk.Add(8 * time.Second)
	tb.MatchServer("10.0.0.1")
	clk.Add(8 * time.Second)
	if _, _, ok := tb.MatchServer("10.0.0.1"); !ok {
		t.Fatal("entry matched 8s ago expired")
	}
	clk.Add(11 * time.Second)
	if _, _, ok := tb.MatchServer("10.0.0.1"); ok {
		t.Fatal("entry outlived its expiry")
	}
}

func TestStoreServerNeedsServerID(t *testing.T) {
	tb, _ := newTest(t, Config{Type: "string", Size: 10, Store: []string{"conn_cnt"}})
	if tb.StoresServer() {
		t.Fatal("StoresServer without server_id")
	}
	tb.StoreServer("k", 1, "a")
	if tb.Used() != 0 {
		t.Fatal("a table without server_id stored a server")
	}
	// server_id alone keeps the id, not the name.
	tb, _ = newTest(t, Config{Type: "string", Size: 10, Store: []string{"server_id"}})
	tb.StoreServer("k", 1, "a")
	if id, name, ok := tb.MatchServer("k"); !ok || id != 1 || name != "" {
		t.Fatalf("MatchServer = %d %q %v, want 1 \"\" true", id, name, ok)
	}
}
