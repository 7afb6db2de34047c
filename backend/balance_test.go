package backend

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pickSeq picks n times, releasing each pick at once, and returns the
// chosen names ("-" for nil).
func pickSeq(b *Backend, key []byte, n int) string {
	var sb strings.Builder
	for range n {
		s := b.Pick(key)
		if s == nil {
			sb.WriteByte('-')
			continue
		}
		sb.WriteString(s.Name())
		s.Done()
	}
	return sb.String()
}

// counts picks n times and returns how often each server was chosen.
func counts(b *Backend, key func(i int) []byte, n int) map[string]int {
	m := map[string]int{}
	for i := range n {
		s := b.Pick(key(i))
		if s == nil {
			m["-"]++
			continue
		}
		m[s.Name()]++
		s.Done()
	}
	return m
}

func noKey(int) []byte { return nil }

func TestRoundRobinSmoothSequence(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(5, 1, 1)})
	if got := pickSeq(b, nil, 14); got != "aabacaa"+"aabacaa" {
		t.Errorf("sequence %s, want aabacaa twice", got)
	}
	got := counts(b, noKey, 7000)
	if got["a"] != 5000 || got["b"] != 1000 || got["c"] != 1000 {
		t.Errorf("7000 picks: %v, want a:5000 b:1000 c:1000", got)
	}
}

func TestRoundRobinWeights(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(3, 2, 0)}) // 0 in config is 1
	if got := counts(b, noKey, 600); got["a"] != 300 || got["b"] != 200 || got["c"] != 100 {
		t.Errorf("weights 3,2,1: %v", got)
	}
	// Weight 0 takes no new traffic; the others keep their proportions.
	if err := b.Server("a").SetWeight(0); err != nil {
		t.Fatal(err)
	}
	if b.Server("a").Usable() {
		t.Error("weight 0 server usable")
	}
	if got := counts(b, noKey, 300); got["a"] != 0 || got["b"] != 200 || got["c"] != 100 {
		t.Errorf("a at weight 0: %v", got)
	}
	b.Server("b").SetWeight(0)
	b.Server("c").SetWeight(0)
	if s := b.Pick(nil); s != nil {
		t.Errorf("all weights 0: picked %s", s.Name())
	}
	if b.UpCount() != 0 {
		t.Errorf("UpCount = %d", b.UpCount())
	}
}

func TestLeastConn(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Balance: "leastconn", Servers: servers(1, 1, 1)})
	// Released at once, every server stays at 0: ties rotate.
	if got := pickSeq(b, nil, 6); got != "abcabc" {
		t.Errorf("ties: %s, want abcabc", got)
	}
	a, bb, c := b.Pick(nil), b.Pick(nil), b.Pick(nil)
	if a.Name() != "a" || bb.Name() != "b" || c.Name() != "c" {
		t.Fatalf("got %s %s %s", a.Name(), bb.Name(), c.Name())
	}
	if s := b.Pick(nil); s != a { // all at 1: the rotation is back at a
		t.Fatalf("tie at 1: picked %s, want a", s.Name())
	}
	bb.Done()
	bb.Done() // one too many: ignored
	if bb.Active() != 0 || b.Stats()["scur"] != 3 {
		t.Fatalf("after b finished: b active %d, backend scur %v", bb.Active(), b.Stats()["scur"])
	}
	if s := b.Pick(nil); s != bb {
		t.Errorf("after b finished: picked %s, want b", s.Name())
	}
	if a.Active() != 2 || bb.Active() != 1 || c.Active() != 1 {
		t.Errorf("active a=%d b=%d c=%d", a.Active(), bb.Active(), c.Active())
	}
	// Holding every request, each pick goes to a least loaded server.
	for range 20 {
		least := 1 << 30
		for _, s := range b.Servers() {
			least = min(least, s.Active())
		}
		s := b.Pick(nil)
		if s.Active()-1 != least {
			t.Fatalf("picked %s with %d in flight, least is %d", s.Name(), s.Active()-1, least)
		}
	}
}

func TestLeastConnWeighted(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Balance: "leastconn", Servers: servers(3, 1)})
	// Held requests should settle at 3:1.
	var held []*Server
	for range 40 {
		held = append(held, b.Pick(nil))
	}
	if a, bb := b.Server("a").Active(), b.Server("b").Active(); a != 30 || bb != 10 {
		t.Errorf("40 held on weights 3,1: a=%d b=%d", a, bb)
	}
	for _, s := range held {
		s.Done()
	}
	if b.Server("a").Active() != 0 || b.Server("b").Active() != 0 || b.Stats()["scur"] != 0 {
		t.Error("Done did not release everything")
	}
}

func TestSource(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Balance: "source", Servers: servers(1, 1, 1)})

	// The port is ignored: a client sticks to its server across connections.
	first := b.Pick([]byte("192.0.2.7:40000"))
	first.Done()
	for _, k := range []string{"192.0.2.7:1", "192.0.2.7:65535", "192.0.2.7"} {
		if s := b.Pick([]byte(k)); s != first {
			t.Errorf("%s went to %s, 192.0.2.7:40000 to %s", k, s.Name(), first.Name())
		} else {
			s.Done()
		}
	}
	v6 := b.Pick([]byte("[2001:db8::5]:443"))
	v6.Done()
	if s := b.Pick([]byte("[2001:db8::5]:80")); s != v6 {
		t.Error("IPv6 client moved across ports")
	} else {
		s.Done()
	}

	// Spread over 3000 clients.
	key := func(i int) []byte { return fmt.Appendf(nil, "10.%d.%d.%d:1234", i>>16, (i>>8)&255, i&255) }
	got := counts(b, key, 3000)
	for _, n := range []string{"a", "b", "c"} {
		if got[n] < 850 || got[n] > 1150 {
			t.Errorf("spread over equal weights: %v", got)
			break
		}
	}

	// Stable: the same clients map the same way again.
	before := make([]*Server, 300)
	for i := range before {
		before[i] = b.Pick(key(i))
		before[i].Done()
	}
	for i := range before {
		s := b.Pick(key(i))
		s.Done()
		if s != before[i] {
			t.Fatalf("client %d moved from %s to %s", i, before[i].Name(), s.Name())
		}
	}

	// While b is out its clients go elsewhere; they come back afterwards.
	b.Server("b").SetMaint()
	for i := range before {
		s := b.Pick(key(i))
		s.Done()
		if s.Name() == "b" {
			t.Fatal("picked b in maintenance")
		}
	}
	b.Server("b").SetReady()
	for i := range before {
		s := b.Pick(key(i))
		s.Done()
		if s != before[i] {
			t.Fatalf("after b came back, client %d on %s, before on %s", i, s.Name(), before[i].Name())
		}
	}
}

func TestSourceWeighted(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Balance: "source", Servers: servers(2, 1)})
	key := func(i int) []byte { return fmt.Appendf(nil, "172.16.%d.%d", i>>8, i&255) }
	got := counts(b, key, 3000)
	if got["a"] < 1800 || got["a"] > 2200 {
		t.Errorf("weights 2,1: %v", got)
	}
}

func TestSourceMaxConnOverflow(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Balance: "source", Servers: servers(1, 1)})
	k := []byte("198.51.100.1")
	home := b.Pick(k)
	home.SetMaxConn(1)
	// Its server is full: the client goes to the other one rather than 503.
	other := b.Pick(k)
	if other == nil || other == home {
		t.Fatalf("full home server: got %v", other)
	}
	other.Done()
	home.Done()
	if s := b.Pick(k); s != home {
		t.Errorf("client did not return to %s", home.Name())
	} else {
		s.Done()
	}
}

func TestBackup(t *testing.T) {
	for _, algo := range []string{"roundrobin", "leastconn", "source"} {
		t.Run(algo, func(t *testing.T) {
			cfg := Config{Name: "x", Balance: algo, Servers: []ServerConfig{
				{Name: "a", Address: "10.0.0.1:80"},
				{Name: "b", Address: "10.0.0.2:80"},
				{Name: "x", Address: "10.0.0.8:80", Backup: true},
				{Name: "y", Address: "10.0.0.9:80", Backup: true},
			}}
			b := mustNew(t, cfg)
			key := func(i int) []byte { return fmt.Appendf(nil, "10.9.9.%d", i) }
			if got := counts(b, key, 100); got["x"]+got["y"] != 0 || got["a"] == 0 || got["b"] == 0 {
				t.Errorf("primaries up: %v", got)
			}
			b.Server("a").CheckForceDown()
			if got := counts(b, key, 100); got["b"] != 100 {
				t.Errorf("only b up: %v", got)
			}
			b.Server("b").SetMaint()
			if got := counts(b, key, 100); got["x"] != 100 {
				t.Errorf("primaries out: %v, want all on the first backup", got)
			}
			b.Server("x").SetDrain()
			if got := counts(b, key, 100); got["y"] != 100 {
				t.Errorf("first backup draining: %v", got)
			}
			b.Server("y").SetWeight(0)
			if got := counts(b, key, 10); got["-"] != 10 {
				t.Errorf("nothing usable: %v", got)
			}
			b.Server("x").SetReady()
			b.Server("a").CheckForceUp()
			if got := counts(b, key, 100); got["a"] != 100 {
				t.Errorf("a back: %v", got)
			}
		})
	}
}

func TestMaxConn(t *testing.T) {
	for _, algo := range []string{"roundrobin", "leastconn", "source"} {
		t.Run(algo, func(t *testing.T) {
			cfg := Config{Name: "x", Balance: algo, Servers: []ServerConfig{
				{Name: "a", Address: "10.0.0.1:80", MaxConn: 2},
				{Name: "b", Address: "10.0.0.2:80", MaxConn: 1},
			}}
			b := mustNew(t, cfg)
			k := []byte("203.0.113.9")
			var held []*Server
			for range 3 {
				s := b.Pick(k)
				if s == nil {
					t.Fatalf("nil after %d picks", len(held))
				}
				held = append(held, s)
			}
			if b.Server("a").Active() != 2 || b.Server("b").Active() != 1 {
				t.Fatalf("active a=%d b=%d", b.Server("a").Active(), b.Server("b").Active())
			}
			if s := b.Pick(k); s != nil {
				t.Fatalf("all at maxconn: picked %s", s.Name())
			}
			if b.UpCount() != 0 || b.Server("a").Usable() {
				t.Error("full servers counted usable")
			}
			if st := b.Stats(); st["status"] != "UP" || st["act"] != 2 {
				t.Errorf("full backend stats %v: full servers are still up", st)
			}
			held[0].Done()
			s := b.Pick(k)
			if s != held[0] {
				t.Fatalf("after Done on %s: picked %v", held[0].Name(), s)
			}
			held[0] = s
			// Raising the limit makes room at once.
			b.Server("b").SetMaxConn(2)
			if s := b.Pick(k); s == nil || s.Name() != "b" {
				t.Fatalf("after raising b's maxconn: %v", s)
			} else {
				held = append(held, s)
			}
			for _, s := range held {
				s.Done()
			}
			if b.UpCount() != 2 {
				t.Errorf("UpCount after release = %d", b.UpCount())
			}
		})
	}
}

func TestMaxConnOverflowsToBackup(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{
		{Name: "a", Address: "10.0.0.1:80", MaxConn: 1},
		{Name: "z", Address: "10.0.0.9:80", Backup: true},
	}})
	a := b.Pick(nil)
	if s := b.Pick(nil); s == nil || s.Name() != "z" {
		t.Errorf("a full: picked %v, want the backup", s)
	}
	a.Done()
}

func TestConcurrentPickDone(t *testing.T) {
	for _, algo := range []string{"roundrobin", "leastconn", "source"} {
		t.Run(algo, func(t *testing.T) {
			cfg := Config{Name: "x", Balance: algo, Servers: []ServerConfig{
				{Name: "a", Address: "10.0.0.1:80", Weight: 3, MaxConn: 4},
				{Name: "b", Address: "10.0.0.2:80", Weight: 1, MaxConn: 2},
				{Name: "c", Address: "10.0.0.3:80", MaxConn: 3},
				{Name: "z", Address: "10.0.0.9:80", Backup: true, MaxConn: 1},
			}}
			b := mustNew(t, cfg)
			var wg sync.WaitGroup
			errs := make(chan string, 16)
			for g := range 16 {
				wg.Go(func() {
					key := fmt.Appendf(nil, "10.1.1.%d:5000", g)
					for i := range 2000 {
						s := b.Pick(key)
						if s == nil {
							continue
						}
						if n, m := s.Active(), s.MaxConn(); m > 0 && n > m {
							select {
							case errs <- fmt.Sprintf("%s: %d in flight, maxconn %d", s.Name(), n, m):
							default:
							}
						}
						if i%7 == 0 {
							_ = s.Stats()
						}
						s.Done()
					}
				})
			}
			wg.Go(func() {
				s := b.Server("c")
				for i := range 500 {
					switch i % 4 {
					case 0:
						s.SetDrain()
					case 1:
						s.SetReady()
						s.SetWeight(i % 5)
					case 2:
						s.CheckForceDown()
					case 3:
						s.CheckForceUp()
						_ = b.Stats()
						_ = b.UpCount()
					}
				}
				s.SetReady()
			})
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			for _, s := range b.Servers() {
				if s.Active() != 0 {
					t.Errorf("%s: %d in flight at the end", s.Name(), s.Active())
				}
			}
			if st := b.Stats(); st["scur"] != 0 {
				t.Errorf("backend scur %v at the end", st["scur"])
			}
		})
	}
}

// uri, url_param and hdr hash the request's key: one key keeps its server,
// keys spread over the servers, and a request without a key goes round
// robin. first fills the first server up to its maxconn; random draws by
// weight and never picks a server that is down.
func TestBalanceByRequest(t *testing.T) {
	servers := []ServerConfig{{Name: "a", Address: "10.0.0.1:80"}, {Name: "b", Address: "10.0.0.2:80"}, {Name: "c", Address: "10.0.0.3:80"}}
	for _, line := range []string{"uri", "uri whole", "url_param id", "hdr(X-User)"} {
		b, err := New(Config{Name: "x", Balance: line, Servers: servers})
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		seen := map[string]bool{}
		for i := 0; i < 60; i++ {
			// url_param reads its parameter from the target.
			key := []byte("/user-" + strconv.Itoa(i) + "?id=user-" + strconv.Itoa(i))
			s1 := b.Pick(key)
			s1.Done()
			s2 := b.Pick(key)
			s2.Done()
			if s1 != s2 {
				t.Errorf("%s: key %s went to %s, then %s", line, key, s1.Name(), s2.Name())
			}
			seen[s1.Name()] = true
		}
		if len(seen) != 3 {
			t.Errorf("%s: 60 keys reached %v", line, seen)
		}
		if got := pickSeq(b, nil, 3); got != "abc" {
			t.Errorf("%s without a key: %s, want round robin", line, got)
		}
	}
	if k, name := mustNew(t, Config{Name: "x", Balance: "hdr(X-User)", Servers: servers}).RequestKey(); k != KeyHeader || name != "x-user" {
		t.Errorf("hdr's key: %v %q", k, name)
	}

	limited := []ServerConfig{{Name: "a", Address: "10.0.0.1:80", MaxConn: 2}, {Name: "b", Address: "10.0.0.2:80", MaxConn: 2}}
	b := mustNew(t, Config{Name: "x", Balance: "first", Servers: limited})
	var got []string
	for i := 0; i < 4; i++ {
		got = append(got, b.Pick(nil).Name())
	}
	if strings.Join(got, " ") != "a a b b" {
		t.Errorf("first: %v", got)
	}

	b = mustNew(t, Config{Name: "x", Balance: "random", Servers: servers})
	b.Servers()[1].SetAdminState(AdminMaint)
	count := counts(b, func(int) []byte { return nil }, 300)
	if count["b"] != 0 || count["a"] == 0 || count["c"] == 0 {
		t.Errorf("random with b down: %v", count)
	}
}

// CookieServer is the server a cookie names while it takes its clients
// (drained, at weight 0 too, as HAProxy's persistence), and nothing for a
// value no server has or a server in maintenance.
func TestCookieServer(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{
		{Name: "a", Address: "10.0.0.1:80", Cookie: "ca"}, {Name: "b", Address: "10.0.0.2:80", Cookie: "cb"}, {Name: "c", Address: "10.0.0.3:80"},
	}})
	if s := b.CookieServer([]byte("cb"), false); s == nil || s.Name() != "b" {
		t.Fatalf("cb: %v", s)
	}
	for _, v := range []string{"", "zz"} {
		if s := b.CookieServer([]byte(v), false); s != nil {
			t.Errorf("%q: %s", v, s.Name())
		}
	}
	b.Servers()[1].SetAdminState(AdminDrain)
	if s := b.CookieServer([]byte("cb"), false); s == nil || s.Name() != "b" {
		t.Errorf("cb while b drains: %v", s)
	}
	b.Servers()[1].SetAdminState(AdminMaint)
	if s := b.CookieServer([]byte("cb"), false); s != nil {
		t.Errorf("cb while b is in maintenance: %s", s.Name())
	}
	if s := b.CookieServer([]byte("cb"), true); s == nil || s.Name() != "b" {
		t.Errorf("cb forced while b is in maintenance: %v", s)
	}
}
