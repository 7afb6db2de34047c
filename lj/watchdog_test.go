package lj

import (
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/cgo"
)

// newWatchedState makes a state held to limits, closed with the test.
func newWatchedState(t *testing.T, code string, limits cgo.Limits) (*State, error) {
	t.Helper()
	wd := cgo.NewWatchdog(limits)
	t.Cleanup(wd.Stop)
	s, err := NewState(Options{Scripts: []Script{{Path: "spin.lua", Code: []byte(code)}}, Watchdog: wd})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// A numeric for loop is compiled by the JIT at once: the watchdog's hook
// stops it only if LuaJIT checks hooks inside traces (LUAJIT_ENABLE_CHECKHOOK,
// third_party/luajit). A script's body cannot yield: session_timeout holds it.
func TestWatchdogStopsCompiledLoopInBody(t *testing.T) {
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := newWatchedState(t, "local x = 0\nfor i = 1, 1e15 do x = x + i % 7 end\n", cgo.Limits{Burst: 20 * time.Millisecond, Session: 100 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "spin.lua:2: execution timeout") {
			t.Fatalf("err = %v, want spin.lua:2: execution timeout", err)
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Fatalf("stopped after %v, before session_timeout (burst_timeout does not hold a body)", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a compiled loop in a script's body still runs 5 s later: is LuaJIT built with LUAJIT_ENABLE_CHECKHOOK?")
	}
}

// A request's script is yielded every slice and stopped once it ran
// session_timeout in all, wherever it catches errors.
func TestWatchdogYieldsThenStops(t *testing.T) {
	s, err := newWatchedState(t, `
core.register_service("spin", "http", function(applet)
	while true do
		pcall(function() for i = 1, 1e15 do end end)
	end
end)`, cgo.Limits{ForcedYield: 5 * time.Millisecond, Burst: 50 * time.Millisecond, Session: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Program("http", nil, nil, "spin", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/")
	start := time.Now()
	var ran time.Duration
	yields := 0
	for {
		r := th.Resume(ran)
		if r.Outcome == cgo.TimedOut {
			if r.Where != "spin.lua:4" {
				t.Errorf("where = %q, want spin.lua:4", r.Where)
			}
			if r.Ran < 200*time.Millisecond {
				t.Errorf("stopped after %v of running, before session_timeout", r.Ran)
			}
			break
		}
		if r.Outcome != cgo.ForcedYield {
			t.Fatalf("outcome %d (%s), want a forced yield", r.Outcome, r.Msg)
		}
		if r.Ran <= ran {
			t.Fatalf("ran %v after %v: the runs do not add up", r.Ran, ran)
		}
		ran = r.Ran
		yields++
		if time.Since(start) > 5*time.Second {
			t.Fatal("not stopped after 5 s")
		}
	}
	// 200 ms in slices of 5 ms: tens of yields, never one long run.
	if yields < 10 {
		t.Errorf("%d forced yields before the timeout, want one every slice", yields)
	}
	// The error reached the runner: the request failed and the coroutine
	// can serve the next one.
	if op, _ := th.S.Op(); op != cgo.OpDone || th.S.Flags()&cgo.FlagFailed == 0 {
		t.Errorf("op %d flags %#x after the timeout, want a failed, finished request", op, th.S.Flags())
	}
	s.Release(th)
}
