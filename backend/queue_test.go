package backend

import (
	"sync"
	"testing"
)

// A request that finds every server at its maxconn waits; the requests
// waiting get the servers as they free up, first come first served.
func TestQueue(t *testing.T) {
	b := mustNew(t, Config{Name: "q", Servers: []ServerConfig{{Name: "a", Address: "127.0.0.1:1", MaxConn: 1}}})
	a := b.Servers()[0]
	if s, tk := b.Queue(nil, nil); s != a || tk != nil {
		t.Fatalf("first request: %v %v", s, tk)
	}
	woken := make(chan string, 10)
	wake := func(name string) func(*Server) {
		return func(s *Server) { woken <- name + "@" + s.Name() }
	}
	var tickets []*Ticket
	for i, name := range []string{"r1", "r2", "r3"} {
		s, tk := b.Queue(nil, wake(name))
		if s != nil || tk == nil || tk.Pos != i {
			t.Fatalf("%s: %v %+v", name, s, tk)
		}
		tickets = append(tickets, tk)
	}
	if b.QueueLen() != 3 || b.QueueMax() != 3 || b.Stats()["qcur"] != 3 {
		t.Fatalf("queue %d max %d stats %v", b.QueueLen(), b.QueueMax(), b.Stats())
	}
	// A new request does not go before those waiting.
	if s := b.Pick(nil); s != nil {
		t.Fatal("Pick took a server while requests wait")
	}
	// r2 leaves: the slot goes to r1, then r3.
	if !tickets[1].Cancel() || tickets[1].Cancel() {
		t.Fatal("cancelling a waiting request")
	}
	a.Done()
	if w := <-woken; w != "r1@a" {
		t.Fatalf("woken %s, want r1@a", w)
	}
	if tickets[0].Cancel() {
		t.Fatal("cancelled a request that was given a server")
	}
	a.Done()
	if w := <-woken; w != "r3@a" {
		t.Fatalf("woken %s, want r3@a", w)
	}
	if b.QueueLen() != 0 || a.Active() != 1 {
		t.Fatalf("queue %d active %d", b.QueueLen(), a.Active())
	}
	// A raised maxconn takes what waits at once.
	if _, tk := b.Queue(nil, wake("r4")); tk == nil {
		t.Fatal("r4 was not queued")
	}
	a.SetMaxConn(2)
	if w := <-woken; w != "r4@a" {
		t.Fatalf("woken %s, want r4@a", w)
	}
	// No usable server at all: no queue, the caller answers 503.
	a.SetMaint()
	if s, tk := b.Queue(nil, wake("r5")); s != nil || tk != nil {
		t.Fatalf("queued for a server in maintenance: %v %v", s, tk)
	}
}

// Many requests at once over two servers of maxconn 2: never more in
// flight than the maxconns allow, and every one served.
func TestQueueConcurrent(t *testing.T) {
	b := mustNew(t, Config{Name: "q", Balance: "leastconn", Servers: []ServerConfig{
		{Name: "a", Address: "127.0.0.1:1", MaxConn: 2}, {Name: "b", Address: "127.0.0.1:2", MaxConn: 2}}})
	var mu sync.Mutex
	inFlight, most := 0, 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				got := make(chan *Server, 1)
				s, tk := b.Queue([]byte("k"), func(s *Server) { got <- s })
				if tk != nil {
					s = <-got
				}
				if s == nil {
					t.Error("no server and no queue")
					return
				}
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				mu.Lock()
				inFlight--
				mu.Unlock()
				s.Done()
			}
		}()
	}
	wg.Wait()
	if most > 4 {
		t.Errorf("%d requests in flight, the maxconns allow 4", most)
	}
	if b.QueueLen() != 0 || b.Servers()[0].Active()+b.Servers()[1].Active() != 0 {
		t.Errorf("after: queue %d, active %d %d", b.QueueLen(), b.Servers()[0].Active(), b.Servers()[1].Active())
	}
}

// A request for one server (use-server, a stick table) waits for that
// server's room, and passes requests for any server that find none; one
// whose server went into maintenance meanwhile takes any.
func TestQueueFor(t *testing.T) {
	b := mustNew(t, Config{Name: "q", Balance: "first", Servers: []ServerConfig{
		{Name: "a", Address: "127.0.0.1:1", MaxConn: 1}, {Name: "b", Address: "127.0.0.1:2", MaxConn: 1}}})
	a, bs := b.Servers()[0], b.Servers()[1]
	if b.ServerByID(2) != bs || b.ServerByID(3) != nil {
		t.Fatal("ServerByID")
	}
	if s, tk := b.QueueFor(bs, false, nil); s != bs || tk != nil {
		t.Fatalf("b free: %v %v", s, tk)
	}
	woken := make(chan string, 10)
	wake := func(name string) func(*Server) {
		return func(s *Server) { woken <- name + "@" + s.Name() }
	}
	_, forB := b.QueueFor(bs, false, wake("r1"))
	if forB == nil {
		t.Fatal("r1 for a full b was not queued")
	}
	// A request for any server still gets a, the free one.
	if s, tk := b.Queue(nil, wake("r2")); s != nil || tk == nil {
		t.Fatalf("r2: %v %v", s, tk)
	}
	if w := <-woken; w != "r2@a" {
		t.Fatalf("woken %s, want r2@a", w)
	}
	// Both full: r3 for any waits behind r1; b's room goes to r1 though
	// a request for any came first.
	_, any := b.Queue(nil, wake("r3"))
	_, forB2 := b.QueueFor(bs, false, wake("r4"))
	if any == nil || forB2 == nil {
		t.Fatal("r3, r4 not queued")
	}
	bs.Done()
	if w := <-woken; w != "r1@b" {
		t.Fatalf("woken %s, want r1@b", w)
	}
	// b in maintenance: r4 takes any server, after r3.
	bs.SetMaint()
	a.Done()
	if w := <-woken; w != "r3@a" {
		t.Fatalf("woken %s, want r3@a", w)
	}
	a.Done()
	if w := <-woken; w != "r4@a" {
		t.Fatalf("woken %s, want r4@a", w)
	}
	if b.QueueLen() != 0 {
		t.Fatalf("queue %d", b.QueueLen())
	}
}

// A forced request (option persist, force-persist) waits for its server
// in maintenance, and gets it when it has room.
func TestQueueForForced(t *testing.T) {
	b := mustNew(t, Config{Name: "q", Servers: []ServerConfig{
		{Name: "a", Address: "127.0.0.1:1", MaxConn: 1}, {Name: "b", Address: "127.0.0.1:2", MaxConn: 1}}})
	a := b.Servers()[0]
	a.SetMaint()
	if s, _ := b.QueueFor(a, true, nil); s != a {
		t.Fatalf("forced to a free a in maintenance: %v", s)
	}
	woken := make(chan string, 1)
	_, tk := b.QueueFor(a, true, func(s *Server) { woken <- s.Name() })
	if tk == nil {
		t.Fatal("not queued for a full a")
	}
	b.Servers()[1].Done() // a free b does not take it
	a.Done()
	if w := <-woken; w != "a" {
		t.Fatalf("woken on %s, want a", w)
	}
}

// Persistent: not down, not in maintenance; drain and weight 0 do not
// matter.
func TestPersistent(t *testing.T) {
	b := mustNew(t, Config{Name: "p", Servers: []ServerConfig{{Name: "a", Address: "127.0.0.1:1"}}})
	a := b.Servers()[0]
	a.SetDrain()
	_ = a.SetWeight(0)
	if !a.Persistent() || a.Usable() {
		t.Fatal("a draining server at weight 0 is persistent, not usable")
	}
	a.SetMaint()
	if a.Persistent() {
		t.Fatal("a server in maintenance is persistent")
	}
	a.SetReady()
	a.CheckForceDown()
	if a.Persistent() {
		t.Fatal("a down server is persistent")
	}
}

// PickServer takes the server while it has room, and never queues.
func TestPickServer(t *testing.T) {
	b := mustNew(t, Config{Name: "p", Servers: []ServerConfig{{Name: "a", Address: "127.0.0.1:1", MaxConn: 1}}})
	a := b.Servers()[0]
	if b.PickServer(a) != a || a.Active() != 1 {
		t.Fatal("PickServer with room")
	}
	if b.PickServer(a) != nil || b.QueueLen() != 0 {
		t.Fatal("PickServer at maxconn")
	}
}
