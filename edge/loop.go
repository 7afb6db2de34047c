package edge

import (
	"fmt"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	proxypkg "github.com/luaedge/luaedge/proxy"
	serve1 "github.com/luaedge/luaedge/serve/http1"
	serve2 "github.com/luaedge/luaedge/serve/http2"
	servetcp "github.com/luaedge/luaedge/serve/tcp"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// sweepEvery is how often a loop checks its connections' timeouts;
// logFlushEvery how often it hands its access-log lines to the writers
// (and sooner when a buffer fills).
const (
	sweepEvery    = 250 * time.Millisecond
	logFlushEvery = 100 * time.Millisecond
)

// loopState is what the server keeps per event loop. It is built on the
// loop's goroutine and used from there only, except stats (read by
// anyone) and stopSweep.
type loopState struct {
	srv      *Server
	loop     *eventloop.Loop
	lua      *lj.State
	env      stream.Env
	bufs     transport.BufPool
	http     serve1.Loop
	http2    serve2.Loop
	tcp      servetcp.Loop
	ws       servews.Loop
	pool     *proxypkg.Pool
	sockets  *proxypkg.Sockets
	programs []int              // by frontend index: its program in lua
	wsChains []int              // by frontend index: its ws_filters chain in lua (0: none)
	stats    []metrics.Frontend // by frontend index: this loop's counters
	// backendStats are this loop's counters of each backend, by index.
	backendStats []metrics.Backend
	nextConn     int64
	// The loop's client connections, for deadlines, draining and show
	// sess (sessions.go): lists linked through the connections, and when
	// the loop started.
	httpConns *httpConn
	tcpConns  *tcpConn
	started   time.Time
	flushes   int // the hook scripts' flushes so far (opts.session)

	stopSweep chan struct{}

	// pending are the remote shared-state operations the loop's
	// coroutines wait on; bus is the loop's side of core.bus (shared.go).
	pending map[*cgo.Stream]*sharedWait
	bus     busLoop
}

// setupLoop builds a loop's state on its goroutine, before its first
// connection: the Lua state with the scripts, the frontends' programs, the
// init functions and the tasks.
func (s *Server) setupLoop(l *eventloop.Loop) error {
	// ls is the state's host value: the gate functions of edge and proxy
	// find the server and the loop's sockets through it (lj.Host).
	ls := &loopState{srv: s, loop: l, stopSweep: make(chan struct{}), started: time.Now()}
	ls.stats = s.counts.frontends[l.ID]
	ls.backendStats = s.counts.backends[l.ID]
	ls.pool = proxypkg.NewPool(l, l.Log, s.backends, s.handshakes, s.tables)
	// The sockets share the compressors of the loop's WebSockets (ls.ws,
	// set below: its Flate is the zero value until first used).
	ls.sockets = proxypkg.NewSockets(l, s.handshakes, s.client, &ls.ws.Flate)
	ls.pending = map[*cgo.Stream]*sharedWait{}
	st, err := lj.NewState(lj.Options{Scripts: s.scripts, MemoryLimit: int64(s.cfg.Lua.MemoryLimit), Sandbox: s.cfg.Lua.Sandbox, UnsafeFFI: s.cfg.Lua.UnsafeFFI, NoCompat53: !s.cfg.Lua.Compat53On(), DeclaredVars: s.cfg.Lua.DeclaredVars, Path: s.cfg.Lua.Path, CPath: s.cfg.Lua.CPath, Shared: s.shared, Host: ls, Watchdog: s.watchdog, Hooks: s.hooks, Thread: l.ID + 1})
	if err != nil {
		return err
	}
	ls.lua = st
	ls.env = stream.Env{
		Loop:     l,
		Lua:      st,
		Log:      l.Log,
		Sockets:  loopSockets{ls.sockets, ls},
		Backends: ls.pool,
		Bufs:     &ls.bufs,
		Draining: s.draining.Load,

		AccessLog:     accesslog.NewLoop(s.sinks),
		BackendNames:  s.backendNames(),
		FrontendStats: ls.stats,
		BackendStats:  ls.backendStats,
		Conns:         s.counts,
		Untrack:       s.untrack,

		BackendCompress: s.backendCompress,
		Caches:          s.caches,
	}
	ls.ws = servews.Loop{Env: &ls.env, Conns: map[*servews.Conn]struct{}{}}
	s.hub.Join(l.ID, &ls.ws)
	ls.http = serve1.Loop{Env: &ls.env, WS: &ls.ws}
	ls.http2 = serve2.Loop{Env: &ls.env, WS: &ls.ws, NewConnID: ls.newConnID}
	ls.tcp = servetcp.Loop{Env: &ls.env}
	fail := func(err error) error {
		st.Close()
		return err
	}
	if err := st.LoadInternal([]byte(s.proxyInfo()), "=luaedge/proxies"); err != nil {
		return fail(err)
	}
	if err := st.SetBackends(s.backendNames()); err != nil {
		return fail(err)
	}
	if err := st.SetCaches(s.cacheNames()); err != nil {
		return fail(err)
	}
	for _, f := range s.frontends {
		req, res := f.cfg.Rules()
		own, track := f.cfg.StickTables()
		id, err := st.Program(f.cfg.Mode, req, res, f.service, f.cfg.Forwards(), lj.StickNames{Own: own, Track: track}, f.cfg.OnError == "fail")
		if err == nil {
			err = st.NameProgram(id, f.cfg.Name)
		}
		if err == nil && f.cfg.Mode == "http" {
			err = st.SetAfterResponse(id, f.cfg.HTTPAfterResponse)
		}
		if err == nil && f.cfg.Mode == "http" {
			err = st.SetFilters(id, f.cfg.Filters)
		}
		if err == nil {
			err = st.SetCaptures(id, captures(f.cfg.Capture.Request), captures(f.cfg.Capture.Response))
		}
		if c := f.cfg.Capture.Cookie; err == nil && c != nil {
			err = st.SetCookieCapture(id, c.Name, c.Len)
		}
		if err == nil {
			err = st.SetHooks(id, f.hooks)
		}
		if err != nil {
			return fail(fmt.Errorf("frontend %s: %w", f.cfg.Name, err))
		}
		ls.programs = append(ls.programs, id)
		chain := 0
		if names := f.cfg.WSFilterNames(); len(names) > 0 {
			if chain, err = st.WSFilterChain(id, names); err != nil {
				return fail(fmt.Errorf("frontend %s: %w", f.cfg.Name, err))
			}
		}
		if f.hookSet&lj.HookWS != 0 {
			if chain, err = st.WSHookChain(chain, id); err != nil {
				return fail(fmt.Errorf("frontend %s: %w", f.cfg.Name, err))
			}
		}
		ls.wsChains = append(ls.wsChains, chain)
		if lg := f.stream.Log; lg != nil {
			if err := st.SetLogVars(id, lg.Format.Vars()); err != nil {
				return fail(err)
			}
		}
	}
	ls.http.Programs, ls.http.WSChains = ls.programs, ls.wsChains
	if err := st.RunInits(); err != nil {
		return fail(fmt.Errorf("core.register_init: %w", err))
	}
	clis, err := st.CLIs()
	if err != nil {
		return fail(err)
	}
	svcs, err := st.ServiceNames()
	if err != nil {
		return fail(err)
	}
	for _, name := range svcs {
		ls.env.ServiceNames = append(ls.env.ServiceNames, "<lua."+name+">")
	}
	s.mu.Lock()
	s.loops[l.ID] = ls
	if l.ID == 0 {
		s.clis = clis
	}
	s.mu.Unlock()
	n, err := st.Tasks()
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if err := stream.Task(&ls.env, i); err != nil {
			return err
		}
	}
	go ls.sweeper()
	return nil
}

// captures converts a frontend's capture slots for its program.
func captures(slots []config.CaptureSlot) []lj.Capture {
	out := make([]lj.Capture, len(slots))
	for i, c := range slots {
		out[i] = lj.Capture{Header: c.Header, Len: c.Len}
	}
	return out
}

// LuaSockets gives proxy's Socket gate functions the loop's sockets.
func (ls *loopState) LuaSockets() *proxypkg.Sockets { return ls.sockets }

// serverOf returns the server of the state that made the gate call c.
func serverOf(c *cgo.Call) *Server {
	if ls, ok := lj.Host(c).(*loopState); ok {
		return ls.srv
	}
	return nil
}

func (ls *loopState) sweeper() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	flush := time.NewTicker(logFlushEvery)
	defer flush.Stop()
	flushLog := ls.env.AccessLog.Flush
	// The hook scripts' flush.lua, every hooks.flush_interval (nil: never).
	var hookFlush <-chan time.Time
	if h := ls.srv.cfg.Hooks; h != nil && h.FlushIntervalOr() > 0 && ls.srv.hooks.Has(h.Enabled())&lj.HookFlush != 0 {
		ft := time.NewTicker(h.FlushIntervalOr())
		defer ft.Stop()
		hookFlush = ft.C
	}
	flushHooks := func() { ls.flush(flushInterval, nil) }
	for {
		select {
		case <-ls.stopSweep:
			return
		case <-t.C:
			ls.loop.Post(ls.sweep)
		case <-flush.C:
			if len(ls.srv.sinks) > 0 {
				ls.loop.Post(flushLog)
			}
		case <-hookFlush:
			ls.loop.Post(flushHooks)
		}
	}
}

// sweep closes connections past their deadline.
func (ls *loopState) sweep() {
	now := ls.loop.Now()
	for w := range ls.httpList() {
		switch {
		case w.closed: // by an earlier one of the walk
		case w.h2 != nil:
			w.h2.CheckDeadline(now)
		default:
			w.conn1.CheckDeadline(now)
		}
	}
	ls.pool.CheckDeadlines(now)
	ls.sockets.CheckIdle(now)
	for t := range ls.tcpList() {
		if !t.closed {
			t.CheckIdle(now)
		}
	}
	for w := range ls.ws.Conns {
		w.CheckDeadline(now)
	}
}

// drain, at shutdown, closes idle connections and asks busy ones to close
// after their current request.
func (ls *loopState) drain() {
	for w := range ls.httpList() {
		switch {
		case w.closed:
		case w.h2 != nil:
			w.h2.Drain() // GOAWAY; the streams in flight finish
		default:
			w.conn1.Drain()
		}
	}
	for w := range ls.ws.Conns {
		w.Drain() // 1001, then the close handshake
	}
}

// newConnID returns a connection id no other connection of the process
// has: the loop's number, then a count of the loop's own (sess.*
// variables and the WebSocket gate find a connection by it).
func (ls *loopState) newConnID() int64 {
	ls.nextConn++
	return int64(ls.loop.ID+1)<<40 | ls.nextConn
}

// drainWebSockets, when a reload retires the generation, closes its
// WebSockets, served and forwarded, with 1001: a keep-alive connection
// ends with its next request, a WebSocket would stay until
// shutdown_timeout and be cut then. Their clients reconnect to the new
// generation.
func (ls *loopState) drainWebSockets() {
	for w := range ls.httpList() {
		switch {
		case w.closed:
		case w.h2 != nil:
			w.h2.DrainWebSocket()
		default:
			w.conn1.DrainWebSocket()
		}
	}
	for w := range ls.ws.Conns {
		w.Drain()
	}
}

// close unloads the loop's Lua state (its scripts' script_deinit runs).
func (ls *loopState) close() {
	close(ls.stopSweep)
	if err := ls.lua.Close(); err != nil {
		ls.loop.Log.Error("Lua script_deinit failed", "err", err)
	}
}
