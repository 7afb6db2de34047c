package edge

import (
	"context"
	"runtime"

	"github.com/luaedge/luaedge/metrics"
)

// Snapshot sums the loops' counters and asks each loop for its Lua
// state's memory and script accounting (a task posted to the loop, read
// between two of its events); a loop that has not answered when ctx ends
// is left out of those. It is the metrics exporter's source.
func (s *Server) Snapshot(ctx context.Context) *metrics.Snapshot {
	snap := &metrics.Snapshot{Loops: s.numLoops, CgoCalls: runtime.NumCgoCall(), AccessLogDropped: map[string]int64{}}
	for _, f := range s.frontends {
		snap.Frontends = append(snap.Frontends, metrics.FrontendSnapshot{Name: f.cfg.Name, Mode: f.cfg.Mode, FrontendTotals: s.frontendTotals(f), Conns: f.slots.state()})
	}
	snap.Conns = s.slots.state()
	loops := s.loopStates()
	for i, b := range s.backends {
		bs := metrics.BackendSnapshot{Name: b.Name(), Queue: b.QueueLen(), QueueMax: b.QueueMax()}
		for _, ls := range loops {
			bs.Add(&ls.backendStats[i])
		}
		for _, sv := range b.Servers() {
			bs.Servers = append(bs.Servers, metrics.ServerSnapshot{Name: sv.Name(), Up: sv.Up(), Weight: sv.Weight(), Active: sv.Active()})
		}
		snap.Backends = append(snap.Backends, bs)
	}
	for _, sink := range s.sinks {
		snap.AccessLogDropped[sink.Target] = sink.Dropped()
	}
	snap.LuaMemory = make([]int64, s.numLoops)
	type mem struct {
		id int
		n  int64
	}
	mems := make(chan mem, len(loops))
	for _, ls := range loops {
		ls.loop.Post(func() { mems <- mem{ls.loop.ID, ls.lua.L.Used()} })
	}
wait:
	for range loops {
		select {
		case m := <-mems:
			snap.LuaMemory[m.id] = m.n
		case <-ctx.Done():
			break wait
		}
	}
	stats, _ := s.ScriptStats(ctx)
	for _, f := range stats {
		snap.Functions = append(snap.Functions, metrics.FunctionSnapshot{Kind: f.Kind, Name: f.Name, Source: f.Source,
			Calls: f.Calls, Errors: f.Errors, Timeouts: f.Timeouts, CPU: f.Time, Alloc: f.Alloc})
	}
	return snap
}
