package backend

import "testing"

// PickAvoiding: the balancing algorithms that can take another server do
// (a round robin moves on past the failed one, first, leastconn and
// random take another primary), a hash may give the same server again,
// and the pick is counted as Pick's is.
func TestPickAvoiding(t *testing.T) {
	for _, balance := range []string{"roundrobin", "static-rr", "first", "leastconn", "random"} {
		b := mustNew(t, Config{Name: "x", Balance: balance, Servers: servers(1, 1, 1)})
		for i := range 20 {
			avoid := b.Servers()[i%3]
			s := b.PickAvoiding(nil, avoid)
			if s == nil || s == avoid {
				t.Fatalf("%s: avoiding %s got %v", balance, avoid.Name(), s)
			}
			if got := s.Stats()["scur"]; got != 1 {
				t.Fatalf("%s: the pick of %s is not counted: scur %v", balance, s.Name(), got)
			}
			s.Done()
		}
	}

	b := mustNew(t, Config{Name: "h", Balance: "source", Servers: servers(1, 1, 1)})
	key := []byte("10.0.0.7")
	want := b.Pick(key)
	want.Done()
	if s := b.PickAvoiding(key, want); s != want {
		t.Errorf("source: avoiding %s got %v, want the key's server again", want.Name(), s)
	}

	// A lone server: the only choice is the failed one.
	one := mustNew(t, Config{Name: "one", Servers: servers(1)})
	a := one.Servers()[0]
	if s := one.PickAvoiding(nil, a); s != a {
		t.Errorf("one server: got %v, want a", s)
	}
}

// While requests wait in the backend's queue, PickAvoiding takes no
// server: a retry must not pass them.
func TestPickAvoidingQueued(t *testing.T) {
	b := mustNew(t, Config{Name: "q", Servers: []ServerConfig{
		{Name: "a", Address: "127.0.0.1:1", MaxConn: 1},
		{Name: "b", Address: "127.0.0.1:2", MaxConn: 1},
	}})
	a, bb := b.Pick(nil), b.Pick(nil)
	if a == nil || bb == nil {
		t.Fatal("two picks with room failed")
	}
	if s, tk := b.Queue(nil, func(*Server) {}); s != nil || tk == nil {
		t.Fatalf("full backend: Queue gave %v, %v; want a ticket", s, tk)
	}
	if s := b.PickAvoiding(nil, a); s != nil {
		t.Errorf("with a request queued, PickAvoiding took %s", s.Name())
	}
}

// ActiveUp counts the non-backup servers that can take traffic;
// RoundRobin is HAProxy's LB kind RR (roundrobin, static-rr, random).
func TestActiveUpAndRoundRobin(t *testing.T) {
	cfg := Config{Name: "x", Servers: servers(1, 1, 1)}
	cfg.Servers[2].Backup = true
	b := mustNew(t, cfg)
	if n := b.ActiveUp(); n != 2 {
		t.Errorf("ActiveUp %d, want 2 (the backup left out)", n)
	}
	b.Servers()[0].SetMaint()
	if n := b.ActiveUp(); n != 1 {
		t.Errorf("ActiveUp %d with a in maintenance, want 1", n)
	}
	for balance, rr := range map[string]bool{"roundrobin": true, "static-rr": true, "random": true, "leastconn": false, "first": false, "source": false, "uri": false} {
		if got := mustNew(t, Config{Name: "x", Balance: balance, Servers: servers(1)}).RoundRobin(); got != rr {
			t.Errorf("%s: RoundRobin %v, want %v", balance, got, rr)
		}
	}
}
