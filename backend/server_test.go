package backend

import (
	"sync"
	"testing"
	"time"
)

// events records OnStateChange calls.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) hook(s *Server, up bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	state := "down"
	if up {
		state = "up"
	}
	e.got = append(e.got, s.Name()+" "+state)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func (e *events) want(t *testing.T, want ...string) {
	t.Helper()
	got := e.list()
	if len(got) != len(want) {
		t.Fatalf("state changes %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("state changes %q, want %q", got, want)
		}
	}
}

// waitFor polls cond until it holds or the test has waited too long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestAdminStates(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(1, 1)})
	a, bb := b.Server("a"), b.Server("b")

	held := b.Pick(nil)
	if held != a {
		t.Fatalf("first pick %s", held.Name())
	}
	a.SetDrain()
	if !a.IsDraining() || a.Usable() || !a.Up() || a.Stats()["status"] != "DRAIN" {
		t.Errorf("drain: draining %v usable %v up %v status %v", a.IsDraining(), a.Usable(), a.Up(), a.Stats()["status"])
	}
	if got := pickSeq(b, nil, 10); got != "bbbbbbbbbb" {
		t.Errorf("a draining: %s", got)
	}
	// Requests in flight finish normally.
	held.Done()
	if a.Active() != 0 {
		t.Errorf("a active %d", a.Active())
	}

	a.SetMaint()
	if a.IsDraining() || a.Usable() || a.Stats()["status"] != "MAINT" {
		t.Errorf("maint: draining %v usable %v status %v", a.IsDraining(), a.Usable(), a.Stats()["status"])
	}
	bb.SetMaint()
	if s := b.Pick(nil); s != nil || b.UpCount() != 0 {
		t.Errorf("both in maintenance: picked %v, UpCount %d", s, b.UpCount())
	}
	// A server down and in maintenance shows MAINT first, as in HAProxy.
	bb.CheckForceDown()
	if bb.Stats()["status"] != "MAINT" {
		t.Errorf("down in maint: %v", bb.Stats()["status"])
	}

	a.SetReady()
	if a.IsDraining() || !a.Usable() || a.Stats()["status"] != "no check" {
		t.Errorf("ready: draining %v usable %v status %v", a.IsDraining(), a.Usable(), a.Stats()["status"])
	}
	bb.SetReady()
	if got := pickSeq(b, nil, 4); got != "aaaa" {
		t.Errorf("b ready but down: %s", got)
	}
	bb.CheckForceUp()
	if got := pickSeq(b, nil, 4); got != "abab" && got != "baba" {
		t.Errorf("both ready: %s", got)
	}
}

func TestForceStates(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(1, 1)})
	var ev events
	b.OnStateChange(ev.hook)
	a := b.Server("a")

	a.CheckForceNoLB()
	if !a.Up() || a.Usable() || a.Stats()["status"] != "NOLB" {
		t.Errorf("nolb: up %v usable %v status %v", a.Up(), a.Usable(), a.Stats()["status"])
	}
	if got := pickSeq(b, nil, 4); got != "bbbb" {
		t.Errorf("a nolb: %s", got)
	}
	a.ReportConnectOK() // a request still in flight does not undo it
	if a.Usable() {
		t.Error("NOLB cleared by a connect report")
	}
	ev.want(t) // NOLB is still up

	a.CheckForceDown()
	if a.Up() || a.Usable() || a.Stats()["status"] != "DOWN" {
		t.Errorf("down: up %v usable %v status %v", a.Up(), a.Usable(), a.Stats()["status"])
	}
	a.CheckForceDown()
	ev.want(t, "a down")
	if a.Stats()["chkdown"] != 1 {
		t.Errorf("chkdown %v", a.Stats()["chkdown"])
	}

	// Without checks a forced-down server stays down.
	b.Start()
	for range 5 {
		a.ReportConnectOK()
		a.ReportConnectError()
	}
	a.mu.Lock()
	probing := a.probing
	a.mu.Unlock()
	if a.Up() || probing {
		t.Errorf("forced-down server without checks: up %v, probing %v", a.Up(), probing)
	}

	a.CheckForceUp()
	if !a.Up() || !a.Usable() || a.Stats()["status"] != "no check" {
		t.Errorf("up: up %v usable %v status %v", a.Up(), a.Usable(), a.Stats()["status"])
	}
	ev.want(t, "a down", "a up")

	// Several callbacks run in order.
	var second events
	b.OnStateChange(second.hook)
	b.OnStateChange(nil)
	a.CheckForceDown()
	ev.want(t, "a down", "a up", "a down")
	second.want(t, "a down")
}

func TestPassiveReports(t *testing.T) {
	l := newListener(t, modeAccept)
	b := mustNew(t, Config{Name: "x", Servers: []ServerConfig{
		{Name: "a", Address: l.addr},
		{Name: "b", Address: "10.0.0.2:80"},
	}, Check: CheckConfig{Interval: 20 * time.Millisecond, Rise: 2, Fall: 2}})
	var ev events
	b.OnStateChange(ev.hook)
	a := b.Server("a")

	// A success between two errors resets the count.
	a.ReportConnectError()
	a.ReportConnectOK()
	a.ReportConnectError()
	if !a.Up() {
		t.Fatal("down after non-consecutive errors")
	}
	a.ReportConnectError()
	if a.Up() || a.Usable() {
		t.Fatal("up after Fall consecutive errors")
	}
	if got := pickSeq(b, nil, 3); got != "bbb" {
		t.Errorf("a down: %s", got)
	}
	if st := a.Stats(); st["econ"] != 3 || st["status"] != "DOWN" {
		t.Errorf("stats %v", st)
	}
	ev.want(t, "a down")

	// The listener is there: the probe brings a back after Rise probes.
	start := time.Now()
	waitFor(t, "a up by probe", a.Up)
	if d := time.Since(start); d < 35*time.Millisecond {
		t.Errorf("back up after %v, before two 20ms probes", d)
	}
	ev.want(t, "a down", "a up")
	if st := a.Stats(); st["check_status"] != "L4OK" || st["status"] != "no check" {
		t.Errorf("after probe: %v", st)
	}

	// Down again with the listener gone: probes fail until it returns.
	l.close()
	a.ReportConnectError()
	a.ReportConnectError()
	if a.Up() {
		t.Fatal("still up")
	}
	waitFor(t, "a failed probe", func() bool { return a.Stats()["check_status"] == "L4CON" })
	time.Sleep(60 * time.Millisecond)
	if a.Up() {
		t.Fatal("up while the listener is closed")
	}
	l.reopen(t)
	waitFor(t, "a up after reopen", a.Up)
	ev.want(t, "a down", "a up", "a down", "a up")

	// Disabled checks ignore reports.
	a.CheckDisable()
	for range 5 {
		a.ReportConnectError()
	}
	if !a.Up() {
		t.Error("reports counted while checks disabled")
	}
	a.CheckEnable()
	a.ReportConnectError()
	a.ReportConnectError()
	if a.Up() {
		t.Error("reports ignored after CheckEnable")
	}

	// Forced up, the probe ends; Stop ends whatever probe is running.
	a.CheckForceUp()
	b.Server("b").ReportConnectError()
	b.Server("b").ReportConnectError()
	b.Stop()
	// After Stop a server taken down stays down: no probe starts.
	a.ReportConnectError()
	a.ReportConnectError()
	time.Sleep(50 * time.Millisecond)
	if a.Up() {
		t.Error("probe ran after Stop")
	}
}

func TestReportsWithActiveChecks(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(1), Check: CheckConfig{Type: "tcp", Fall: 1}})
	s := b.Servers()[0]
	for range 3 {
		s.ReportConnectError()
	}
	if !s.Up() || s.Stats()["econ"] != 3 {
		t.Errorf("with tcp checks: up %v econ %v; reports should only count", s.Up(), s.Stats()["econ"])
	}
}
