package lj

// The Go half of the accounting of the functions scripts register
// (lj/lua/accounting.lua): reading a state's records, and counting the
// CPU timeouts the watchdog imposes.

import (
	"time"

	"github.com/luaedge/luaedge/cgo"
)

// FuncStats is what one state counted for one registered function.
type FuncStats struct {
	// Kind is "action", "service", "fetch", "converter", "task", "init",
	// "ws_filter" or "hook" (a hook script's file, named SCRIPT/HOOK);
	// Name the name it was registered under ("" for tasks and inits);
	// Source the file:line of its definition, as Lua shows it.
	Kind, Name, Source string
	// Calls started, calls that raised an error, calls the CPU watchdog
	// stopped (CountTimeout; they count as errors too when they raised one).
	Calls, Errors, Timeouts int64
	// Time the calls ran, from a monotonic clock, without the time their
	// requests were parked (sleeps, I/O): in a loop's single thread, the
	// CPU the calls took, plus what the OS preempted them for.
	Time time.Duration
	// Alloc is the bytes of Lua heap the calls allocated (what they freed
	// not deducted).
	Alloc int64
}

// Key identifies a registered function across states: each loop's state
// registers the same functions.
func (f *FuncStats) Key() string { return f.Kind + "\x00" + f.Name + "\x00" + f.Source }

// Add adds o's counts to f's.
func (f *FuncStats) Add(o *FuncStats) {
	f.Calls += o.Calls
	f.Errors += o.Errors
	f.Timeouts += o.Timeouts
	f.Time += o.Time
	f.Alloc += o.Alloc
}

func init() {
	goFuncs["script_stat"] = cgo.RegisterGoFunc(goScriptStat)
}

// ScriptStats returns the state's records of its registered functions, in
// registration order. Call it on the state's loop, between two requests'
// steps (it runs Lua).
func (s *State) ScriptStats() ([]FuncStats, error) {
	var out []FuncStats
	s.bind.stats = &out
	err := s.L.LoadInternal([]byte("(...).report_stats()"), "=luaedge/report_stats")
	s.bind.stats = nil
	return out, err
}

// CountTimeout counts a CPU timeout against the registered function that
// coroutine t is running, or ran last: the CPU watchdog calls it for the
// request or task it stopped, on the state's loop, between resumes.
func (s *State) CountTimeout(t *cgo.Thread) {
	t.CallInternal("count_timeout")
}

// goScriptStat(kind, name, source, calls, errors, timeouts, time_us,
// alloc) appends one record to the collection State.ScriptStats runs.
func goScriptStat(c *cgo.Call) int {
	b := bindingOf(c)
	if b == nil || b.stats == nil {
		return c.Error("script_stat: no collection running")
	}
	*b.stats = append(*b.stats, FuncStats{
		Kind:     c.String(1),
		Name:     c.String(2),
		Source:   c.String(3),
		Calls:    c.Int(4),
		Errors:   c.Int(5),
		Timeouts: c.Int(6),
		Time:     time.Duration(c.Number(7) * float64(time.Microsecond)),
		Alloc:    int64(c.Number(8)),
	})
	return 0
}
