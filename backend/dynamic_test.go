package backend

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// A server added in maintenance takes no request until ready, then its
// share by weight; deleted, it is picked no more. Ids go to the lowest
// free one.
func TestAddDelServer(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(1, 1)})
	c, err := b.AddServer(ServerConfig{Name: "c", Address: "127.0.0.1:3000", Weight: 2}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != 3 || c.AdminState() != AdminMaint || c.InitialWeight() != 2 || b.Server("c") != c || len(b.Servers()) != 3 {
		t.Fatalf("added: id %d, %s, iweight %d", c.ID(), c.AdminState(), c.InitialWeight())
	}
	picks := func(n int) map[string]int {
		got := map[string]int{}
		for i := 0; i < n; i++ {
			s := b.Pick(nil)
			got[s.Name()]++
			s.Done()
		}
		return got
	}
	if got := picks(8); got["c"] != 0 {
		t.Fatalf("c in maintenance was picked: %v", got)
	}
	c.SetReady()
	if got := picks(8); got["a"] != 2 || got["b"] != 2 || got["c"] != 4 {
		t.Fatalf("weights 1, 1, 2: %v", got)
	}
	for _, tc := range []struct {
		sc   ServerConfig
		want error
	}{
		{ServerConfig{Name: "c", Address: "127.0.0.1:1"}, ErrServerExists},
		{ServerConfig{Name: "d", Address: "127.0.0.1"}, nil},
		{ServerConfig{Name: "d", Address: "127.0.0.1:1", Weight: 300}, nil},
	} {
		if _, err := b.AddServer(tc.sc, false); err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("AddServer(%+v): %v", tc.sc, err)
		}
	}
	if _, err := b.AddServer(ServerConfig{Name: "d", Address: "127.0.0.1:1"}, true); !errors.Is(err, ErrNoChecks) {
		t.Errorf("check on a backend without checks: %v", err)
	}

	if _, err := b.DelServer("c"); !errors.Is(err, ErrNotInMaint) {
		t.Errorf("deleting a ready server: %v", err)
	}
	c.SetMaint()
	held := c
	held.active.Add(1) // a request in flight
	if _, err := b.DelServer("c"); !errors.Is(err, ErrServerBusy) {
		t.Errorf("deleting a server with a request in flight: %v", err)
	}
	held.active.Add(-1)
	if _, err := b.DelServer("c"); err != nil {
		t.Fatal(err)
	}
	if b.Server("c") != nil || len(b.Servers()) != 2 {
		t.Fatal("c is still listed")
	}
	if _, err := b.DelServer("c"); !errors.Is(err, ErrNoServer) {
		t.Errorf("deleting it again: %v", err)
	}
	b.Server("a").SetMaint()
	if _, err := b.DelServer("a"); err != nil {
		t.Fatal(err)
	}
	d, _ := b.AddServer(ServerConfig{Name: "d", Address: "127.0.0.1:1"}, false)
	if d.ID() != 1 {
		t.Errorf("the new server's id: %d, want the free 1", d.ID())
	}
	if got := picks(4); got["b"] != 4 {
		t.Errorf("b alone: %v", got)
	}
}

// Picks on many goroutines while servers come and go: no pick returns a
// server deleted before it started, none overshoots, the race detector
// sees nothing.
func TestAddDelServerConcurrent(t *testing.T) {
	for _, algo := range []string{"roundrobin", "leastconn", "source"} {
		t.Run(algo, func(t *testing.T) {
			b := mustNew(t, Config{Name: "x", Balance: algo, Servers: servers(1)})
			var stop atomic.Bool
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Go(func() {
					key := []byte{byte(g), '1', '0'}
					for !stop.Load() {
						if s := b.Pick(key); s != nil {
							s.Done()
						}
					}
				})
			}
			for i := 0; i < 200; i++ {
				s, err := b.AddServer(ServerConfig{Name: "n", Address: "127.0.0.1:2000", Backup: i%3 == 0}, false)
				if err != nil {
					t.Fatal(err)
				}
				s.SetReady()
				s.SetMaint()
				for {
					_, err := b.DelServer("n")
					if err == nil {
						break
					}
					if !errors.Is(err, ErrServerBusy) {
						t.Fatal(err)
					}
				}
				if s.Active() != 0 {
					t.Fatalf("a request was counted on a deleted server")
				}
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}

// With check, a server starts down and unchecked; enable health starts
// its checks, which bring it up; deleted, its checker stops.
func TestAddServerCheck(t *testing.T) {
	l := newListener(t, modeAccept)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: l.addr}}, Check: fastCheck("tcp", 2, 2)})
	b.Start()
	s, err := b.AddServer(ServerConfig{Name: "n", Address: l.addr}, true)
	if err != nil {
		t.Fatal(err)
	}
	if cs := s.CheckState(); s.Up() || !cs.Configured || cs.Enabled {
		t.Fatalf("added with check: up %v, %+v", s.Up(), cs)
	}
	s.CheckEnable()
	waitFor(t, "n up", s.Up)
	plain, _ := b.AddServer(ServerConfig{Name: "p", Address: "127.0.0.1:1"}, false)
	if !plain.Up() || plain.CheckState().Configured || plain.Stats()["status"] != "MAINT" {
		t.Errorf("added without check: %+v %v", plain.CheckState(), plain.Stats()["status"])
	}
	s.SetMaint()
	if _, err := b.DelServer("n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.removed:
	default:
		t.Fatal("removed is still open")
	}
}
