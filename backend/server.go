package backend

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Health states, as published for Pick.
const (
	healthDown = iota
	healthUp
	healthNoLB // up, but takes no new requests (HAProxy's NOLB / "stopping")
)

// Admin states.
const (
	adminReady = iota
	adminDrain
	adminMaint
)

// Server is one server of a backend. Its methods are safe for concurrent use.
type Server struct {
	b      *Backend
	id     int
	name   string
	cookie string // the persistence cookie's value naming it; read-only
	backup bool
	tls    *tls.Config // nil: clear text; read-only
	// iweight is the weight it was made with (HAProxy's iweight);
	// noCheck: added by the runtime API without "check" to a backend
	// with active checks, it has none. Read-only.
	iweight int
	noCheck bool
	dynamic bool // added by the runtime API
	// removed is closed when the runtime API deletes the server: its
	// checker and probe goroutines return.
	removed chan struct{}
	// rrCur is its current weight in smooth weighted round robin,
	// guarded by b.mu.
	rrCur int
	// sendProxy is the PROXY protocol version of connections to the
	// server (0: none); checkHead what its checks send first. Read-only.
	sendProxy int
	checkHead []byte

	addr    atomic.Pointer[serverAddr]
	weight  atomic.Int32
	maxconn atomic.Int32
	admin   atomic.Int32
	hstate  atomic.Int32 // written under mu, read lock-free by Pick
	full    atomic.Bool  // health == max; lets ReportConnectOK skip the lock
	active  atomic.Int64
	smax    atomic.Int64 // written under b.mu
	stot    atomic.Uint64
	econ    atomic.Uint64
	wretr   atomic.Uint64 // retries on the server (HAProxy's wretr)
	wredis  atomic.Uint64 // requests redispatched from it to another (wredis)

	// mu guards the check state below and the writes of hstate and full.
	mu sync.Mutex
	// health counts as HAProxy's: 0..rise+fall-1, up while >= rise. A
	// failure below rise drops it to 0 and a success reaching rise lifts it
	// to the top, so both rise and fall count consecutive results.
	health     int
	nolb       bool
	checksOff  bool
	probing    bool // a passive-mode probe goroutine is running
	lastChange time.Time
	chkfail    int
	chkdown    int
	last       checkResult
}

// Name returns the server's name.
func (s *Server) Name() string { return s.name }

// CookieValue is the value of the persistence cookie that names s ("":
// none).
func (s *Server) CookieValue() string { return s.cookie }

// TLS is how connections to the server speak TLS; nil: clear text.
func (s *Server) TLS() *tls.Config { return s.tls }

// SendProxy is the PROXY protocol version (1 or 2) the connections to
// the server start with; 0: none.
func (s *Server) SendProxy() int { return s.sendProxy }

// ID returns the server's 1-based position in its backend's config
// (HAProxy's puid).
func (s *Server) ID() int { return s.id }

// IsBackup reports whether the server is a backup server.
func (s *Server) IsBackup() bool { return s.backup }

// serverAddr is a server's address, read once when it is set so that a
// request to a server at a fixed address does not parse it again.
type serverAddr struct {
	text    string // host:port as configured
	host    string
	port    int  // the port, or the offset from the destination's when mapped
	mapped  bool // the port is 0, +N or -N: the destination's, moved by N
	anyHost bool // 0.0.0.0 or ::: the destination's address
}

// newServerAddr reads addr, which CheckAddr accepted.
func newServerAddr(addr string) *serverAddr {
	host, port, _ := net.SplitHostPort(addr)
	n, mapped, _ := parsePort(port)
	return &serverAddr{text: addr, host: host, port: n, mapped: mapped, anyHost: isAnyHost(host)}
}

// Addr returns the server's address, host:port.
func (s *Server) Addr() string { return s.addr.Load().text }

// DialAddr is the address to connect to for a request whose destination
// (the address the client connected to, or the one a set-dst rule gave)
// is dst:dstPort: the server's own, but that a host 0.0.0.0 or :: is the
// destination's address (HAProxy's transparent servers) and a port 0,
// +N or -N is the destination's port, moved by N. fixed reports that the
// address does not depend on the destination: a connection to it may
// serve any request.
func (s *Server) DialAddr(dst []byte, dstPort int) (addr string, fixed bool, err error) {
	a := s.addr.Load()
	if !a.anyHost && !a.mapped {
		return a.text, true, nil
	}
	host, n := a.host, a.port
	if a.anyHost {
		if len(dst) == 0 {
			return "", false, fmt.Errorf("server %s connects to the request's destination, and the request has none", s.name)
		}
		host = string(dst)
	}
	if a.mapped {
		n += dstPort
		if n < 1 || n > 65535 {
			_, port, _ := net.SplitHostPort(a.text)
			return "", false, fmt.Errorf("server %s: port %d (the destination's %d moved by %s) is out of range", s.name, n, dstPort, port)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), false, nil
}

// isAnyHost reports whether a server's host stands for the request's
// destination address.
func isAnyHost(host string) bool { return host == "0.0.0.0" || host == "::" }

// SetAddr changes the server's address, host:port with a numeric port. New
// connections and the next health checks use it; requests in flight keep
// theirs. The check state is kept.
func (s *Server) SetAddr(addr string) error {
	if err := CheckAddr(addr); err != nil {
		return err
	}
	if err := checkable(addr, s.b.check.Type); err != nil {
		return err
	}
	s.addr.Store(newServerAddr(addr))
	return nil
}

// Done records that a request picked on s finished: its place goes to the
// request waiting first in the queue, if any. Calls beyond the number of
// picks are ignored.
func (s *Server) Done() {
	for {
		n := s.active.Load()
		if n <= 0 {
			return
		}
		if s.active.CompareAndSwap(n, n-1) {
			break
		}
	}
	s.b.cur.Add(-1)
	s.b.dispatch()
}

// Active returns how many requests are in flight on s.
func (s *Server) Active() int { return int(s.active.Load()) }

// InitialWeight returns the weight the server was made with: the
// configuration's (0 taken as 1), or that of the runtime API's add
// server.
func (s *Server) InitialWeight() int { return s.iweight }

// IsDynamic reports whether the runtime API added the server.
func (s *Server) IsDynamic() bool { return s.dynamic }

// activeChecks reports whether the server's health is decided by active
// checks (else by passive reports of connect errors).
func (s *Server) activeChecks() bool { return s.b.check.Type != "" && !s.noCheck }

// Weight returns the server's current weight.
func (s *Server) Weight() int { return int(s.weight.Load()) }

// SetWeight changes the server's weight, 0..256; 0 stops new requests.
func (s *Server) SetWeight(w int) error {
	if w < 0 || w > MaxWeight {
		return fmt.Errorf("weight %d is out of range 0..%d", w, MaxWeight)
	}
	s.weight.Store(int32(w))
	s.b.dispatch()
	return nil
}

// MaxConn returns the server's limit of concurrent requests; 0 is unlimited.
func (s *Server) MaxConn() int { return int(s.maxconn.Load()) }

// SetMaxConn changes the server's limit of concurrent requests; 0 (or a
// negative n) is unlimited. Requests in flight beyond a lowered limit are
// not affected.
func (s *Server) SetMaxConn(n int) {
	s.maxconn.Store(clampConn(n))
	s.b.dispatch()
}

// clampConn maps a maxconn setting to its stored form: negative is 0
// (unlimited) and huge values saturate rather than wrap.
func clampConn(n int) int32 {
	return int32(min(max(n, 0), math.MaxInt32))
}

// Up reports the server's health state: true when the checks (or passive
// reports) consider it up, NOLB included, and always for a server without
// checks unless forced down.
func (s *Server) Up() bool { return s.hstate.Load() != healthDown }

// Usable reports whether Pick may choose s now: up and not NOLB, admin state
// ready, weight > 0 and below maxconn.
func (s *Server) Usable() bool { return s.usableWeight() > 0 }

// Persistent reports whether a request that a use-server rule or a stick
// table sends to s may go there, as HAProxy sends it to a server that is
// not stopped: s is up (NOLB included) and not in maintenance; draining
// and weight 0 do not matter. Its maxconn still does (HasRoom).
func (s *Server) Persistent() bool {
	return s.hstate.Load() != healthDown && s.admin.Load() != adminMaint
}

// hasRoom reports whether s is below its maxconn.
func (s *Server) hasRoom() bool {
	m := s.maxconn.Load()
	return m <= 0 || s.active.Load() < int64(m)
}

// eligibleWeight is the server's weight if it is up, not NOLB and ready,
// else 0; maxconn is not considered.
func (s *Server) eligibleWeight() int {
	if s.hstate.Load() != healthUp || s.admin.Load() != adminReady {
		return 0
	}
	return int(s.weight.Load())
}

// usableWeight is eligibleWeight, or 0 at maxconn.
func (s *Server) usableWeight() int {
	w := s.eligibleWeight()
	if w > 0 {
		if m := s.maxconn.Load(); m > 0 && s.active.Load() >= int64(m) {
			return 0
		}
	}
	return w
}

// SetDrain puts the server in drain mode: it takes no new requests, the
// ones in flight finish, and health checks go on.
func (s *Server) SetDrain() { s.admin.Store(adminDrain) }

// SetMaint puts the server in maintenance: it takes no new requests. Unlike
// HAProxy, health checks go on, so that the health state is current when
// the server is set ready again.
func (s *Server) SetMaint() { s.admin.Store(adminMaint) }

// SetReady takes the server out of drain or maintenance.
func (s *Server) SetReady() {
	s.admin.Store(adminReady)
	s.b.dispatch()
}

// IsDraining reports whether the server is in drain mode.
func (s *Server) IsDraining() bool { return s.admin.Load() == adminDrain }

// CheckForceUp sets the health state to up, as HAProxy's check_force_up:
// with checks running, Fall consecutive failures take it down again.
func (s *Server) CheckForceUp() {
	s.update(func() {
		s.health = s.maxHealth()
		s.nolb = false
	})
}

// CheckForceNoLB sets the health state to NOLB (up, but no new requests),
// as HAProxy's check_force_nolb. With checks running, the next successful
// check makes it a plain up and Fall failures take it down.
func (s *Server) CheckForceNoLB() {
	s.update(func() {
		s.health = s.maxHealth()
		s.nolb = true
	})
}

// CheckForceDown sets the health state to down, as HAProxy's
// check_force_down: with checks running (or the probe of a server that
// reported connect errors took down), Rise consecutive successes bring it
// up again; otherwise it stays down until forced up.
func (s *Server) CheckForceDown() {
	s.update(func() {
		s.health = 0
		s.nolb = false
	})
}

// CheckEnable resumes health checks and passive reports after CheckDisable.
func (s *Server) CheckEnable() {
	s.mu.Lock()
	s.checksOff = false
	s.mu.Unlock()
}

// CheckDisable suspends health checks and passive reports for the server;
// its health state stays as it is until CheckEnable or a CheckForce*.
func (s *Server) CheckDisable() {
	s.mu.Lock()
	s.checksOff = true
	s.mu.Unlock()
}

// ReportConnectError lets the proxy report that connecting to the server
// failed for good (no retry left). It is counted in "econ". When Check.Type is "" it also counts as a
// failed check: Fall consecutive reports take the server down, and a TCP
// probe then runs every Check.Interval until Rise consecutive probes
// succeed and bring it back up. With active checks configured, those alone
// decide the health state.
func (s *Server) ReportConnectError() {
	s.econ.Add(1)
	s.connectFailed()
}

// ReportConnectRetry lets the proxy report that connecting to the server
// failed and that the request tries again: on this server ("wretr"), or
// on another when redispatched ("wredis"), as HAProxy counts them. It
// counts as a failed check as ReportConnectError does.
func (s *Server) ReportConnectRetry(redispatched bool) {
	if redispatched {
		s.wredis.Add(1)
	} else {
		s.wretr.Add(1)
	}
	s.connectFailed()
}

// ReportAnswerRetry lets the proxy report that the server's answer to a
// request failed as the backend's retry-on names (empty, junk, late, a
// status) and that the request goes again. HAProxy 2.6.12 counts such a
// retry twice: once in "wretr", then once more in "wretr" when the
// request stays on the server, or in "wredis" when it moves. It is no
// health report: the connection opened.
func (s *Server) ReportAnswerRetry(redispatched bool) {
	s.wretr.Add(1)
	if redispatched {
		s.wredis.Add(1)
	} else {
		s.wretr.Add(1)
	}
}

// connectFailed is a failed connection as a passive health report.
func (s *Server) connectFailed() {
	if s.activeChecks() {
		return
	}
	probe := false
	s.update(func() {
		if s.checksOff {
			return
		}
		wasUp := s.health >= s.b.check.Rise
		s.result(false)
		// Probe only a server these reports took down: one forced down
		// stays down until forced up.
		if wasUp && s.health < s.b.check.Rise && !s.probing {
			s.probing = true
			probe = true
		}
	})
	if probe && !s.b.goChecker(func() { s.b.probeLoop(s) }) {
		s.mu.Lock()
		s.probing = false
		s.mu.Unlock()
	}
}

// ReportConnectOK lets the proxy report that connecting to the server
// succeeded. When Check.Type is "" it resets the count of consecutive
// connect errors of an up server; it does not bring a down server up (its
// probe or CheckForceUp does) nor clear a forced NOLB, since requests still
// in flight may report after the state was forced. Otherwise it does
// nothing.
func (s *Server) ReportConnectOK() {
	if s.activeChecks() || s.full.Load() {
		return // the common case costs no lock
	}
	s.update(func() {
		if !s.checksOff && s.health >= s.b.check.Rise {
			s.health = s.maxHealth()
		}
	})
}

func (s *Server) maxHealth() int { return s.b.check.Rise + s.b.check.Fall - 1 }

// result applies one check outcome to the health counter; s.mu is held.
func (s *Server) result(ok bool) {
	rise, top := s.b.check.Rise, s.maxHealth()
	if ok {
		if s.health < top {
			s.health++
			if s.health >= rise {
				s.health = top
			}
		}
		if s.health >= rise {
			s.nolb = false
		}
		return
	}
	if s.health > 0 {
		s.chkfail++
		s.health--
		if s.health < rise {
			s.health = 0
		}
	}
}

// update runs f under s.mu, publishes the resulting health state and calls
// the backend's state-change callbacks, outside the lock, if Up changed.
func (s *Server) update(f func()) {
	s.mu.Lock()
	was := s.hstate.Load() != healthDown
	f()
	st := int32(healthDown)
	if s.health >= s.b.check.Rise {
		st = healthUp
		if s.nolb {
			st = healthNoLB
		}
	} else {
		s.nolb = false
	}
	s.hstate.Store(st)
	s.full.Store(s.health == s.maxHealth())
	up := st != healthDown
	if up != was {
		s.lastChange = time.Now()
		if !up {
			s.chkdown++
		}
	}
	s.mu.Unlock()
	if up != was {
		s.b.notify(s, up)
	}
	s.b.dispatch() // up, or no more NOLB: it may take what waits
}

// Stats returns the server's statistics under HAProxy's stats field names:
//
//	pxname, svname, sid, addr
//	scur, smax, stot   requests in flight, their highest count, total picked
//	slim               maxconn, present only when set
//	econ               connect errors reported (requests that failed on them)
//	wretr, wredis      connection retries on it, requests redispatched from it
//	weight, act, bck   current weight; act is 1 for a non-backup server, bck for a backup
//	status             "MAINT", "DOWN", "NOLB", "DRAIN", "UP", or "no check"
//	                   for an up server of a backend without active checks
//	chkfail, chkdown   failed checks while not down; up-to-down transitions
//	lastchg            seconds since Up last changed
//	check_status       last check: L4OK, L4TOUT, L4CON, L7OK, L7STS,
//	                   L7RSP, L7TOUT or SOCKERR; present once a check ran
//	check_code         HTTP status of the last http check, when one was read
//	check_duration     milliseconds the last check took
//
// Numbers are int, text is string.
func (s *Server) Stats() map[string]any {
	act, bck := 1, 0
	if s.backup {
		act, bck = 0, 1
	}
	m := map[string]any{
		"pxname": s.b.name,
		"svname": s.name,
		"sid":    s.id,
		"addr":   s.Addr(),
		"scur":   int(s.active.Load()),
		"smax":   int(s.smax.Load()),
		"stot":   int(s.stot.Load()),
		"econ":   int(s.econ.Load()),
		"wretr":  int(s.wretr.Load()),
		"wredis": int(s.wredis.Load()),
		"weight": s.Weight(),
		"act":    act,
		"bck":    bck,
		"status": s.status(),
	}
	if n := s.MaxConn(); n > 0 {
		m["slim"] = n
	}
	s.mu.Lock()
	m["chkfail"] = s.chkfail
	m["chkdown"] = s.chkdown
	m["lastchg"] = int(time.Since(s.lastChange) / time.Second)
	last := s.last
	s.mu.Unlock()
	if last.status != "" {
		m["check_status"] = last.status
		m["check_duration"] = int(last.duration / time.Millisecond)
		if last.code != 0 {
			m["check_code"] = last.code
		}
	}
	return m
}

func (s *Server) status() string {
	switch {
	case s.admin.Load() == adminMaint:
		return "MAINT"
	case s.hstate.Load() == healthDown:
		return "DOWN"
	case s.hstate.Load() == healthNoLB:
		return "NOLB"
	case s.admin.Load() == adminDrain:
		return "DRAIN"
	case !s.activeChecks():
		return "no check"
	}
	return "UP"
}
