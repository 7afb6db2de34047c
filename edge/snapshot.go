package edge

import (
	"context"
	"runtime"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/metrics"
)

// Snapshot is Counters with what each loop reports of its Lua state: its
// memory and its scripts' accounting (a task posted to the loop, read
// between two of its events); a loop that has not answered when ctx ends
// is left out of those. It is the source of the metrics exporter, the
// stats page and the runtime socket's show commands.
func (s *Server) Snapshot(ctx context.Context) *metrics.Snapshot {
	snap := s.Counters()
	loops := s.loopStates()
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

// Counters sums the loops' counters and reads the backends' and servers'
// states, without asking the loops anything: cheap enough to take every
// second (the stats history's sample).
func (s *Server) Counters() *metrics.Snapshot {
	snap := &metrics.Snapshot{Loops: s.numLoops, CgoCalls: runtime.NumCgoCall(), AccessLogDropped: map[string]int64{},
		LoopSessions: make([]int64, s.numLoops), LoopRequests: make([]int64, s.numLoops)}
	loops := s.loopStates()
	for _, f := range s.frontends {
		status := "OPEN"
		if f.paused.Load() {
			status = "STOP"
		}
		snap.Frontends = append(snap.Frontends, metrics.FrontendSnapshot{Name: f.cfg.Name, Mode: f.cfg.Mode, Status: status, FrontendTotals: s.frontendTotals(f), Conns: f.slots.state()})
	}
	snap.Conns = s.slots.state()
	for _, ls := range loops {
		for i := range ls.stats {
			snap.LoopSessions[ls.loop.ID] += ls.stats[i].Sessions.Load()
			snap.LoopRequests[ls.loop.ID] += ls.stats[i].Requests.Load()
		}
	}
	for i, b := range s.backends {
		st := b.Stats()
		bs := metrics.BackendSnapshot{Name: b.Name(), Algo: b.Algorithm(), Status: st["status"].(string),
			Current: int64(st["scur"].(int)), Max: int64(st["smax"].(int)), Total: int64(st["stot"].(int)),
			ActiveServers: st["act"].(int), BackupServers: st["bck"].(int), Weight: st["weight"].(int),
			Queue: b.QueueLen(), QueueMax: b.QueueMax()}
		for _, ls := range loops {
			bs.Add(&ls.backendStats[i])
		}
		for _, sv := range b.Servers() {
			bs.Servers = append(bs.Servers, serverSnapshot(sv))
		}
		snap.Backends = append(snap.Backends, bs)
	}
	for _, sink := range s.sinks {
		snap.AccessLogDropped[sink.Target] = sink.Dropped()
	}
	return snap
}

// serverSnapshot reads a server's state.
func serverSnapshot(sv *backend.Server) metrics.ServerSnapshot {
	st := sv.Stats()
	cs := sv.CheckState()
	ss := metrics.ServerSnapshot{
		Name: sv.Name(), Up: sv.Up(), Weight: sv.Weight(), Active: sv.Active(),
		ID: sv.ID(), Address: sv.Addr(), Backup: sv.IsBackup(), Status: st["status"].(string), Admin: sv.AdminState(),
		InitialWeight: sv.InitialWeight(), MaxActive: int64(st["smax"].(int)), Total: int64(st["stot"].(int)), MaxConn: sv.MaxConn(),
		ConnectErrors: int64(st["econ"].(int)), LastChange: secs(st["lastchg"].(int)),
		Retries: int64(st["wretr"].(int)), Redispatches: int64(st["wredis"].(int)),
		Check: metrics.CheckSnapshot{Configured: cs.Configured, Enabled: cs.Enabled, Health: cs.Health, Rise: cs.Rise, Fall: cs.Fall,
			Failures: int64(st["chkfail"].(int)), Downs: int64(st["chkdown"].(int))},
	}
	if v, ok := st["check_status"].(string); ok {
		ss.Check.Status = v
		ss.Check.Duration = msecs(st["check_duration"].(int))
	}
	if v, ok := st["check_code"].(int); ok {
		ss.Check.Code = v
	}
	return ss
}
