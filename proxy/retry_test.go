package proxy

import (
	"testing"

	"github.com/luaedge/luaedge/backend"
)

// redispatches decides as HAProxy 2.6.12 does which retry goes to another
// server: never without redispatch nor for a forced request; at once for
// a server down or in maintenance; on the retries the interval names,
// counting the retries done (0 at the first, which 2.6 redispatches with
// any interval); and at every retry of a balanced request in a round
// robin with more than one server up.
func TestRedispatches(t *testing.T) {
	newBackend := func(balance string, retries, redispatch int) (*Backend, *backend.Server) {
		t.Helper()
		b, err := backend.New(backend.Config{Name: "x", Balance: balance, Servers: []backend.ServerConfig{
			{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		return &Backend{Backend: b, Retries: retries, Redispatch: redispatch}, b.Servers()[0]
	}
	direct := choice{direct: true}
	for _, tc := range []struct {
		name                string
		balance             string
		retries, redispatch int
		c                   choice
		// want[i]: whether the retry after the (i+1)th failure goes
		// elsewhere.
		want []bool
	}{
		{"no redispatch, round robin", "roundrobin", 3, 0, choice{}, []bool{false, false, false}},
		{"last retry (-1) of 3", "leastconn", 3, -1, direct, []bool{true, false, false}},
		{"last retry (-1) of 4", "leastconn", 4, -1, direct, []bool{true, false, false, false}},
		{"every 2nd", "leastconn", 5, 2, direct, []bool{true, false, true, false, true}},
		{"every retry", "leastconn", 3, 1, direct, []bool{true, true, true}},
		{"2nd before the last (-2) of 4", "leastconn", 4, -2, direct, []bool{true, false, false, true}},
		{"a balanced request in a round robin", "roundrobin", 3, -1, choice{}, []bool{true, true, true}},
		{"at random too", "random", 3, -1, choice{}, []bool{true, true, true}},
		{"a persistent request in a round robin", "roundrobin", 3, -1, direct, []bool{true, false, false}},
		{"a balanced request, leastconn", "leastconn", 3, -1, choice{}, []bool{true, false, false}},
		{"forced persistence", "roundrobin", 3, 1, choice{direct: true, forced: true}, []bool{false, false, false}},
	} {
		b, srv := newBackend(tc.balance, tc.retries, tc.redispatch)
		for i, want := range tc.want {
			if got := redispatches(b, srv, tc.c, i+1); got != want {
				t.Errorf("%s: retry %d redispatched %v, want %v", tc.name, i+1, got, want)
			}
		}
	}

	// A server down or in maintenance: every retry goes elsewhere, but
	// not without redispatch nor when forced there.
	b, srv := newBackend("leastconn", 3, -1)
	srv.CheckForceDown()
	for tries := 1; tries <= 3; tries++ {
		if !redispatches(b, srv, direct, tries) {
			t.Errorf("down server: retry %d stays", tries)
		}
		if redispatches(b, srv, choice{direct: true, forced: true}, tries) {
			t.Errorf("down server, forced: retry %d redispatched", tries)
		}
	}
	b, srv = newBackend("leastconn", 3, 0)
	srv.SetMaint()
	if redispatches(b, srv, direct, 2) {
		t.Error("server in maintenance without redispatch: redispatched")
	}

	// A round robin whose other server is out: one server up, so a
	// balanced request's retries stay but for the interval's.
	b, srv = newBackend("roundrobin", 3, -1)
	b.Servers()[1].SetMaint()
	if redispatches(b, srv, choice{}, 2) {
		t.Error("round robin with one server up: the 2nd retry redispatched")
	}
}
