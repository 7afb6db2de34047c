package backend

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Listener behaviours for check tests.
const (
	modeAccept  = iota // accept and close at once
	modeSilent         // accept and never answer
	modeGarbage        // answer a line that is not HTTP
)

// listener is a local TCP listener that can be closed and reopened on the
// same address.
type listener struct {
	addr string
	mode int

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func newListener(t *testing.T, mode int) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{addr: ln.Addr().String(), mode: mode}
	l.serve(ln)
	t.Cleanup(l.close)
	return l
}

func (l *listener) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			switch l.mode {
			case modeAccept:
				c.Close()
			case modeGarbage:
				c.Write([]byte("hello there\r\n"))
				c.Close()
			case modeSilent:
				l.mu.Lock()
				l.conns = append(l.conns, c)
				l.mu.Unlock()
			}
		}
	})
}

// close stops listening and drops held connections.
func (l *listener) close() {
	l.mu.Lock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *listener) reopen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		t.Fatalf("reopen %s: %v", l.addr, err)
	}
	l.serve(ln)
}

// fastCheck is a check config quick enough for tests.
func fastCheck(typ string, rise, fall int) CheckConfig {
	// A timeout generous enough that an answering server on a loaded
	// machine does not count as failing (the answer counts below would
	// be off), short enough that a connection that hangs (a port another
	// test took meanwhile) fails well within waitFor's 5 s.
	return CheckConfig{Type: typ, Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: rise, Fall: fall}
}

// statusServer is an HTTP server answering code; it counts the answers
// given with each code since that code was last set.
type statusServer struct {
	*httptest.Server
	mu      sync.Mutex
	code    int
	answers map[int]int
	host    string
	uri     string
	conn    string
}

func newStatusServer(t *testing.T, code int) *statusServer {
	ss := &statusServer{code: code, answers: map[int]int{}}
	ss.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		ss.host, ss.uri, ss.conn = r.Host, r.RequestURI, r.Header.Get("Connection")
		code := ss.code
		ss.answers[code]++
		ss.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(ss.Close)
	return ss
}

func (ss *statusServer) set(code int) {
	ss.mu.Lock()
	ss.code = code
	ss.answers[code] = 0
	ss.mu.Unlock()
}

func (ss *statusServer) count(code int) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.answers[code]
}

func TestHTTPCheck(t *testing.T) {
	ss := newStatusServer(t, 200)
	check := fastCheck("http", 2, 3)
	check.Path = "/health?full=1"
	check.Host = "svc.internal"
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: ss.Listener.Addr().String()}}, Check: check})
	s := b.Servers()[0]
	var ev events
	var mu sync.Mutex
	var answersAtChange []int // answers with the failing or passing code
	b.OnStateChange(ev.hook)
	b.OnStateChange(func(_ *Server, up bool) {
		n := ss.count(500)
		if up {
			n = ss.count(200)
		}
		mu.Lock()
		answersAtChange = append(answersAtChange, n)
		mu.Unlock()
	})
	b.Start()

	waitFor(t, "a first check", func() bool { return s.Stats()["check_status"] == "L7OK" })
	ss.mu.Lock()
	if ss.host != "svc.internal" || ss.uri != "/health?full=1" || ss.conn != "close" {
		t.Errorf("check request: Host %q URI %q Connection %q", ss.host, ss.uri, ss.conn)
	}
	ss.mu.Unlock()
	if st := s.Stats(); st["status"] != "UP" || st["check_code"] != 200 {
		t.Errorf("healthy: %v", st)
	}

	ss.set(500)
	waitFor(t, "a down", func() bool { return !s.Up() })
	// The checks go on while it is down: the answers at the change (below)
	// say it went down at the third failure; more may have failed since.
	if st := s.Stats(); st["status"] != "DOWN" || st["check_status"] != "L7STS" || st["check_code"] != 500 ||
		st["chkfail"].(int) < 3 || st["chkdown"] != 1 {
		t.Errorf("down: %v", st)
	}
	if b.Pick(nil) != nil || b.Stats()["status"] != "DOWN" {
		t.Error("picked a down server")
	}

	ss.set(200)
	waitFor(t, "a up", s.Up)
	ev.want(t, "a down", "a up")
	// Down after exactly Fall failing answers, up after exactly Rise good ones.
	mu.Lock()
	defer mu.Unlock()
	if len(answersAtChange) != 2 || answersAtChange[0] != 3 || answersAtChange[1] != 2 {
		t.Errorf("answers at each change %v, want [3 2]", answersAtChange)
	}
	b.Stop()
}

func TestHTTPCheckDefaultHost(t *testing.T) {
	ss := newStatusServer(t, 302)
	addr := ss.Listener.Addr().String()
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: addr}}, Check: fastCheck("http", 1, 1)})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a check", func() bool { return s.Stats()["check_status"] != nil })
	if st := s.Stats(); st["check_status"] != "L7OK" || st["check_code"] != 302 || !s.Up() {
		t.Errorf("3xx with no expected status: %v", st)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.host != addr || ss.uri != "/" {
		t.Errorf("Host %q URI %q, want %q /", ss.host, ss.uri, addr)
	}
}

func TestHTTPCheckExpectStatus(t *testing.T) {
	ss := newStatusServer(t, 200)
	check := fastCheck("http", 1, 1)
	check.ExpectStatus = 204
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: ss.Listener.Addr().String()}}, Check: check})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a down on 200", func() bool { return !s.Up() })
	if st := s.Stats(); st["check_status"] != "L7STS" || st["check_code"] != 200 {
		t.Errorf("mismatch: %v", st)
	}
	ss.set(204)
	waitFor(t, "a up on 204", s.Up)
	if st := s.Stats(); st["check_status"] != "L7OK" || st["check_code"] != 204 {
		t.Errorf("match: %v", st)
	}
}

func TestHTTPCheckTimeout(t *testing.T) {
	l := newListener(t, modeSilent)
	check := fastCheck("http", 1, 1)
	check.Timeout = 40 * time.Millisecond
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: l.addr}}, Check: check})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a down on timeout", func() bool { return !s.Up() })
	st := s.Stats()
	if st["check_status"] != "L7TOUT" {
		t.Errorf("check_status %v, want L7TOUT", st["check_status"])
	}
	if d := st["check_duration"].(int); d < 40 || d > 1000 {
		t.Errorf("check_duration %dms, want about 40", d)
	}
}

func TestHTTPCheckBadResponse(t *testing.T) {
	l := newListener(t, modeGarbage)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: l.addr}}, Check: fastCheck("http", 1, 1)})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a down on garbage", func() bool { return !s.Up() })
	if st := s.Stats(); st["check_status"] != "L7RSP" {
		t.Errorf("check_status %v, want L7RSP", st["check_status"])
	}
}

func TestTCPCheck(t *testing.T) {
	l, lb := newListener(t, modeAccept), newListener(t, modeAccept)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{
		{Name: "a", Address: l.addr},
		{Name: "b", Address: lb.addr, Backup: true},
	}, Check: fastCheck("tcp", 2, 2)})
	a := b.Server("a")
	var ev events
	b.OnStateChange(ev.hook)
	b.Start()
	waitFor(t, "a first check", func() bool { return a.Stats()["check_status"] == "L4OK" })
	if a.Stats()["status"] != "UP" {
		t.Errorf("status %v", a.Stats()["status"])
	}

	l.close()
	waitFor(t, "a down", func() bool { return !a.Up() })
	if st := a.Stats(); st["check_status"] != "L4CON" || st["chkfail"] != 2 {
		t.Errorf("closed listener: %v", st)
	}
	if s := b.Pick(nil); s == nil || s.Name() != "b" {
		t.Errorf("a down: picked %v, want the backup", s)
	} else {
		s.Done()
	}

	l.reopen(t)
	waitFor(t, "a up", a.Up)
	if s := b.Pick(nil); s != a {
		t.Errorf("a up: picked %v", s)
	} else {
		s.Done()
	}
	ev.want(t, "a down", "a up")
}

// TestFirstCheckFails: as HAProxy's, a server starts up with the health of
// a server that just rose, so its first failed check takes it down although
// fall is 3.
func TestFirstCheckFails(t *testing.T) {
	l := newListener(t, modeAccept)
	addr := l.addr
	l.close()
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: addr}}, Check: fastCheck("tcp", 2, 3)})
	a := b.Server("a")
	if !a.Up() {
		t.Fatal("a server with checks should start up")
	}
	b.Start()
	waitFor(t, "a down", func() bool { return !a.Up() })
	if st := a.Stats(); st["chkfail"] != 1 {
		t.Errorf("down after %v failed checks, want 1", st["chkfail"])
	}
}

func TestCheckDisableKeepsState(t *testing.T) {
	l := newListener(t, modeAccept)
	l.close()
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: l.addr}}, Check: fastCheck("tcp", 1, 1)})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a down", func() bool { return !s.Up() })

	s.CheckDisable()
	l.reopen(t)
	time.Sleep(80 * time.Millisecond)
	if s.Up() {
		t.Fatal("state changed while checks were disabled")
	}
	// Forcing still works with checks disabled, and sticks.
	s.CheckForceUp()
	l.close()
	time.Sleep(80 * time.Millisecond)
	if !s.Up() {
		t.Fatal("forced up server went down while checks were disabled")
	}
	s.CheckEnable()
	waitFor(t, "a down after enable", func() bool { return !s.Up() })
}

func TestForceWithChecks(t *testing.T) {
	ss := newStatusServer(t, 200)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: ss.Listener.Addr().String()}}, Check: fastCheck("http", 2, 3)})
	s := b.Servers()[0]
	b.Start()

	// Checks override forced states, as HAProxy's: down comes back after
	// Rise good checks, NOLB turns up on the next good check.
	s.CheckForceDown()
	if s.Up() {
		t.Fatal("not down")
	}
	waitFor(t, "up by checks", s.Up)
	s.CheckForceNoLB()
	if s.Usable() {
		t.Fatal("NOLB usable")
	}
	waitFor(t, "NOLB cleared by checks", s.Usable)
}

func TestSetAddrMovesChecks(t *testing.T) {
	dead := newListener(t, modeAccept)
	dead.close()
	live := newListener(t, modeAccept)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: dead.addr}}, Check: fastCheck("tcp", 1, 1)})
	s := b.Servers()[0]
	b.Start()
	waitFor(t, "a down", func() bool { return !s.Up() })
	if err := s.SetAddr(live.addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a up at its new address", s.Up)
	if s.Stats()["addr"] != live.addr {
		t.Errorf("addr %v", s.Stats()["addr"])
	}
}

func TestStopAbandonsCheck(t *testing.T) {
	l := newListener(t, modeSilent)
	check := fastCheck("http", 1, 1)
	check.Timeout = time.Minute
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{{Name: "a", Address: l.addr}}, Check: check})
	s := b.Servers()[0]
	b.Start()
	b.Start() // a second Start adds no checkers
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	b.Stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop took %v with a check hanging", d)
	}
	if !s.Up() || s.Stats()["check_status"] != nil {
		t.Errorf("an abandoned check counted: up %v, %v", s.Up(), s.Stats()["check_status"])
	}
	b.Start() // after Stop: nothing
	time.Sleep(30 * time.Millisecond)
	if s.Stats()["check_status"] != nil {
		t.Error("checks ran after Stop")
	}
}

func TestParseStatusLine(t *testing.T) {
	for line, want := range map[string]int{
		"HTTP/1.1 200 OK\r":       200,
		"HTTP/1.0 404 Not Found":  404,
		"HTTP/1.1 503":            503,
		"HTTP/1.1 204 \r":         204,
		"HTTP/1.1 2000 OK":        -1,
		"HTTP/2 200 OK":           -1,
		"HTTP/1.1 600 Whatever":   -1,
		"HTTP/1.1 20":             -1,
		"HTTP/1.1  200 OK":        -1,
		"SSH-2.0-OpenSSH_9.6\r":   -1,
		"":                        -1,
		"HTTP/1.1 099 Too small!": -1,
	} {
		code, ok := parseStatusLine([]byte(line))
		if !ok {
			code = -1
		}
		if code != want {
			t.Errorf("%q: %d, want %d", line, code, want)
		}
	}
}
