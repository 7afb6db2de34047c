package lj

import (
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/cgo"
)

const accountingScript = `
core.register_init(function() end)
core.register_task(function() local t = {} for i = 1, 100 do t[i] = {} end end)
core.register_fetches("probe", function(txn) return "p" end)
core.register_fetches("stop", function(txn) txn:done() end)
core.register_converters("rev", function(s) return s:reverse() end)
core.register_action("tag", { "http-req" }, function(txn)
	local t = {}
	for i = 1, 1000 do t[i] = { i } end
	if txn.sf:path() == "/fail" then error("tag failed") end
	if txn.sf:path() == "/stop" then txn.f:lua_stop() end
end)
core.register_service("svc", "http", function(applet)
	applet:start_response()
	applet:send(applet.f:lua_probe() .. applet.c:lua_rev("ab"))
end)
core.register_service("sleepy", "http", function(applet)
	core.msleep(100)
	applet:start_response()
	applet:send("awake")
end)
`

// request runs one request of program id for path to its end (waits
// included) and releases its coroutine.
func request(t *testing.T, s *State, id int, path string) *cgo.Thread {
	t.Helper()
	th := newRequest(t, s, id, path)
	for {
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if op, _ := th.S.Op(); op == cgo.OpDone {
			return th
		}
	}
}

func statsOf(t *testing.T, s *State) map[string]FuncStats {
	t.Helper()
	list, err := s.ScriptStats()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]FuncStats{}
	for _, f := range list {
		m[f.Kind+" "+f.Name] = f
	}
	return m
}

func TestScriptStats(t *testing.T) {
	s := newTestState(t, accountingScript, 0)
	// on_error: fail: the failing action ends its request.
	id, err := s.Program("http", []string{"lua.tag"}, nil, "svc", false, StickNames{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RunInits(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/a", "/fail", "/b", "/stop"} {
		th := request(t, s, id, path)
		if path != "/fail" && path != "/stop" && string(th.S.Out()) != "pba" {
			t.Fatalf("%s: %q %q", path, th.S.Out(), th.S.Err())
		}
		s.Release(th)
	}
	task, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	task.S.Reset(EntryTask, 1, 0)
	if r := task.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	s.Release(task)

	m := statsOf(t, s)
	want := map[string][2]int64{ // calls, errors
		"action tag": {4, 1}, "service svc": {2, 0}, "fetch probe": {2, 0}, "fetch stop": {1, 0},
		"converter rev": {2, 0}, "init ": {1, 0}, "task ": {1, 0}, "service sleepy": {0, 0},
	}
	for k, w := range want {
		f, ok := m[k]
		if !ok {
			t.Errorf("no record for %s", k)
			continue
		}
		if f.Calls != w[0] || f.Errors != w[1] {
			t.Errorf("%s: %d calls %d errors, want %d and %d", k, f.Calls, f.Errors, w[0], w[1])
		}
		if !strings.HasPrefix(f.Source, "test.lua:") {
			t.Errorf("%s: source %q", k, f.Source)
		}
	}
	if a := m["action tag"]; a.Alloc < 4*1000*16 || a.Time <= 0 {
		t.Errorf("action tag: %d bytes allocated in %v; each call allocates 1000 tables", a.Alloc, a.Time)
	}
	if l := len(m); l != len(want) {
		t.Errorf("%d records, want %d: %v", l, len(want), m)
	}
	// Lua sees the same numbers.
	if got := evalIn(t, s, `for _, r in ipairs(core.get_script_stats()) do
		if r.kind == "action" then return r.name .. " " .. r.calls .. " " .. r.errors .. " " .. r.timeouts .. " " .. tostring(r.time_us > 0) .. " " .. tostring(r.alloc_bytes > 0) end
	end`); got != "tag 4 1 0 true true" {
		t.Errorf("core.get_script_stats: %q", got)
	}
}

// The time a request is parked (here a sleep of 100 ms, which the test
// makes last) is not its function's; the watchdog's timeouts are counted
// against the function that ran.
func TestScriptStatsTimeAndTimeouts(t *testing.T) {
	s := newTestState(t, accountingScript, 0)
	id, err := s.Program("http", nil, nil, "sleepy", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/")
	start := time.Now()
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpSleep {
		t.Fatalf("op %d, want a sleep", op)
	}
	time.Sleep(100 * time.Millisecond) // the parked time
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	wall := time.Since(start)
	s.CountTimeout(th)
	s.Release(th)
	f := statsOf(t, s)["service sleepy"]
	if f.Calls != 1 || f.Timeouts != 1 || f.Time <= 0 || f.Time > wall/2 {
		t.Fatalf("sleepy: %d calls, %d timeouts, ran %v of %v", f.Calls, f.Timeouts, f.Time, wall)
	}
}
