// Package edge assembles a configuration into a running server: the
// frontends, backends and stick tables, shared by every loop, and per loop
// a Lua state, the stream environment, the backend pool and the
// connections. It is the only package that knows them all.
package edge

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/luaedge/luaedge/shared/cache"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
	"github.com/luaedge/luaedge/proto/httpenc"
	"github.com/luaedge/luaedge/proto/proxyproto"
	"github.com/luaedge/luaedge/proto/ws"
	proxypkg "github.com/luaedge/luaedge/proxy"
	serve1 "github.com/luaedge/luaedge/serve/http1"
	serve2 "github.com/luaedge/luaedge/serve/http2"
	servetcp "github.com/luaedge/luaedge/serve/tcp"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// Server serves a configuration's frontends.
type Server struct {
	cfg     *config.Config
	scripts []lj.Script
	log     *slog.Logger

	// Built by New, read-only after: shared by every loop.
	frontends []*frontend
	backends  []*proxypkg.Backend
	tables    map[string]*sticktable.Table  // stick tables, by frontend or backend name
	tableDefs map[string]*config.StickTable // what each table was made from, by name
	// tickets holds the session ticket keys of each TLS frontend, by
	// name, handed from generation to generation (ticketKeeper).
	tickets map[string]*tls.Config
	shared  *lj.Shared        // what every loop's Lua state shares: proc vars, maps, stores
	hub     *servews.Hub      // core.publish to the WebSocket subscribers of every loop
	sinks   []*accesslog.Sink // the access logs' sinks, one per target and header; started by Serve
	hooks   *lj.Hooks         // the hook scripts and their data store; nil: none

	// backendCompress is each backend's compression, by index (nil: its
	// requests' frontend's).
	backendCompress []*httpenc.Policy
	// caches are the configuration's, by index: the generation's own (a
	// reload starts them empty, as HAProxy's new process does), used by
	// every loop (stream.Env.Caches).
	caches []*cache.Cache
	// sharedState is core.kv's, core.bus's and core.artifacts' remote
	// backends and the bus (shared.go).
	sharedState sharedState

	engine   *eventloop.Engine
	numLoops int
	// watchdog holds every loop's scripts to lua's CPU limits; made by
	// Serve, before the loops load the scripts, and stopped when it returns.
	watchdog *cgo.Watchdog
	draining atomic.Bool
	served   chan struct{} // closed when Serve returns
	// handshakes bounds the TLS handshakes computing at once, over every
	// loop of this generation.
	handshakes *transport.HandshakePool
	// client is what the loops' HTTP clients and DNS caches share.
	client *proxypkg.ClientOptions
	// slots bounds the client connections over every frontend (maxconn);
	// nil: no bound.
	slots *connSlots

	// counts are the loops' counters of the frontends and backends.
	counts *connCounts

	mu    sync.Mutex
	loops []*loopState // by loop ID; an entry is written once, by its loop, under mu
	clis  []lj.CLI     // the scripts' runtime commands, as loop 0 has them; written once, under mu
}

// frontend is a configured frontend, shared by every loop.
type frontend struct {
	index   int
	cfg     *config.Frontend
	service string
	stream  *stream.Frontend
	http    *serve1.Frontend
	http2   *serve2.Frontend
	tcp     *servetcp.Frontend
	tls     *tls.Config // nil: clear text
	paused  atomic.Bool // Proxy:pause / stop: new connections are refused
	stopped atomic.Bool
	// hooks are the hook scripts that run on its connections and
	// requests, in order; hookSet the hooks they have together.
	hooks   []string
	hookSet lj.HookSet
	slots   *connSlots // its maxconn; nil: no bound
}

// New prepares a server; scripts are the files of lua.load, already read.
func New(cfg *config.Config, scripts []lj.Script, log *slog.Logger) (*Server, error) {
	return build(cfg, scripts, log, nil)
}

// Next prepares the generation that follows s, for a reload: a server for
// cfg and scripts that takes over s's stick tables whose definition is
// unchanged, with their entries, and the scripts' shared data
// (lj.Shared.Next: proc.* variables, maps whose file is unchanged). s
// keeps serving: start the new server with Serve, and once it has booted
// close s's listeners (CloseListeners) and drain it with Retire.
func (s *Server) Next(cfg *config.Config, scripts []lj.Script, log *slog.Logger) (*Server, error) {
	return build(cfg, scripts, log, s)
}

// NumLoops is how many event loops s runs.
func (s *Server) NumLoops() int { return s.numLoops }

// build makes a server; prev is the generation it follows, or nil.
func build(cfg *config.Config, scripts []lj.Script, log *slog.Logger, prev *Server) (*Server, error) {
	s := &Server{
		cfg: cfg, scripts: scripts, log: log,
		tables: map[string]*sticktable.Table{}, tableDefs: map[string]*config.StickTable{},
		tickets: map[string]*tls.Config{},
		served:  make(chan struct{}),
	}
	s.handshakes = handshakePool(cfg)
	client, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.slots = newConnSlots(cfg.MaxConn)
	s.numLoops = cfg.Workers
	if s.numLoops == 0 {
		s.numLoops = runtime.NumCPU()
	}
	s.loops = make([]*loopState, s.numLoops)
	s.hub = servews.NewHub(s.numLoops)
	for i, fc := range cfg.Frontends {
		if fc.StickTable != nil {
			if err := s.addStickTable(prev, fc.Name, fmt.Sprintf("frontends[%d]", i), fc.StickTable); err != nil {
				return nil, err
			}
		}
	}
	for i, bc := range cfg.Backends {
		if bc.StickTable != nil {
			if err := s.addStickTable(prev, bc.Name, fmt.Sprintf("backends[%d]", i), bc.StickTable); err != nil {
				return nil, err
			}
		}
	}
	for i := range cfg.StickTables {
		t := &cfg.StickTables[i]
		if err := s.addStickTable(prev, t.Name, fmt.Sprintf("stick_tables[%d]", i), &t.StickTable); err != nil {
			return nil, err
		}
	}
	byName := map[string]int{}
	for i, bc := range cfg.Backends {
		bcfg, err := backendConfig(bc, fmt.Sprintf("backends[%d]", i))
		if err != nil {
			return nil, err
		}
		b, err := backend.New(bcfg)
		if err != nil {
			return nil, fmt.Errorf("backends[%d].%v", i, err)
		}
		b.OnStateChange(func(srv *backend.Server, up bool) {
			state := "DOWN"
			if up {
				state = "UP"
			}
			log.Warn("server state changed", "backend", b.Name(), "server", srv.Name(), "state", state)
		})
		stick, err := s.stickRules(bc)
		if err != nil {
			return nil, fmt.Errorf("backends[%d].%v", i, err)
		}
		s.backends = append(s.backends, &proxypkg.Backend{Backend: b, ConnectTimeout: bc.Timeouts.Connect.D(), ServerTimeout: bc.Timeouts.Server.D(), TunnelTimeout: bc.Timeouts.Tunnel.D(), QueueTimeout: bc.Timeouts.Queue.D(), InspectDelay: bc.Timeouts.Inspect.D(), NameHeader: strings.ToLower(bc.ServerNameHeader), H2: bc.Proto == "h2", Stick: stick, PersistDown: bc.PersistDown, Retries: bc.RetriesOr(), Redispatch: bc.Redispatch, RetryOn: bc.RetryOnOr(), AbortOnClose: bc.AbortOnClose})
		s.backendCompress = append(s.backendCompress, compressPolicy(bc.Compression))
		byName[bc.Name] = i
	}
	backendIndex := func(name string) int {
		if i, ok := byName[name]; ok {
			return i
		}
		return -1
	}
	if s.hooks, err = ReadHooks(cfg); err != nil {
		return nil, err
	}
	for _, cc := range cfg.Caches {
		s.caches = append(s.caches, newCache(cc))
	}
	s.counts = newConnCounts(s.numLoops, len(cfg.Frontends), len(s.backends))
	s.engine = eventloop.New(eventloop.Options{Loops: s.numLoops, Log: log, Setup: s.setupLoop})
	for i := range cfg.Frontends {
		fc := &cfg.Frontends[i]
		f := &frontend{index: i, cfg: fc, service: fc.ServiceName(), slots: newConnSlots(fc.MaxConn), hooks: cfg.FrontendHooks(fc)}
		f.hookSet = s.hooks.Has(f.hooks)
		// A forwarded WebSocket is relayed message by message for its
		// filters, and for the hooks' ws_*.
		relayed := len(fc.WSFilters) > 0 || f.hookSet&lj.HookWS != 0
		f.stream = &stream.Frontend{Name: fc.Name, Index: i, Default: backendIndex(fc.DefaultBackend), WSFilters: relayed,
			Compress: compressPolicy(fc.Compression), Cache: cfg.CacheIndex(fc.Cache) + 1}
		for _, r := range fc.Routes {
			f.stream.Routes = append(f.stream.Routes, stream.Route{Host: r.Host, PathPrefix: []byte(r.PathPrefix), Backend: backendIndex(r.Backend)})
		}
		var track *sticktable.Table
		if tr := fc.Track; tr != nil {
			name := tr.Table
			if name == "" {
				name = fc.Name
			}
			track = s.tables[name]
		}
		lim := fc.Limits
		f.stream.Limits = http1.Limits{
			MaxRequestLine: int(lim.MaxRequestLine),
			MaxHeaderBytes: int(lim.MaxHeaderBytes),
			MaxHeaders:     lim.MaxHeaders,
			HostOptional:   fc.HostOptional,
		}
		pages, err := errorPages(fc.ErrorPages)
		if err != nil {
			return nil, fmt.Errorf("frontends[%d].error_pages: %v", i, err)
		}
		opts := stream.HTTPOptions{
			Pages:         pages,
			MaxBody:       int64(lim.MaxBody),
			BufferRequest: fc.HTTPBufferRequest,
			KeepAlive:     fc.Timeouts.KeepAlive.D(),
			RequestTime:   fc.Timeouts.HTTPRequest.D(),
			BodyTime:      fc.Timeouts.Body.D(),
			Track:         track,
			Server:        fc.ServerField(),
			Date:          fc.DateField(),
		}
		wc := fc.WebSocket
		wsf := &servews.Frontend{Limits: ws.Limits{MaxFrame: int(wc.MaxFrame), MaxMessage: int(wc.MaxMessage)},
			Deflate: wc.DeflateOr(), MaxConns: int64(wc.MaxConnections), Idle: wc.IdleTimeout.D(),
			PingInterval: wc.PingInterval.D(), PingTimeout: wc.PingTimeout.D(), CloseTimeout: wc.CloseTimeout.D(), Track: track,
			Hooks: f.hookSet&lj.HookWS != 0}
		f.http = &serve1.Frontend{Stream: f.stream, HTTPOptions: opts, WS: wsf,
			UpgradeH2C: fc.TLS == nil && fc.HTTP2.Cleartext != "off" && fc.HTTP2.Cleartext != "prior_knowledge"}
		h2 := fc.HTTP2
		f.http2 = &serve2.Frontend{Stream: f.stream, HTTPOptions: opts, Limits: http2.Limits{
			MaxConcurrentStreams: h2.MaxConcurrentStreams,
			MaxFrameSize:         int(h2.MaxFrameSize),
			StreamWindow:         int(h2.StreamWindow),
			ConnWindow:           int(h2.ConnectionWindow),
			MaxHeaderListSize:    int(h2.MaxHeaderList),
			MaxHeaderFields:      h2.MaxHeaderFields,
			MaxFieldSize:         int(h2.MaxFieldSize),
			MaxHeaderBlock:       int(h2.MaxHeaderBlock),
			MaxHeaderFrames:      h2.MaxHeaderFrames,
			ResetBudget:          h2.ResetBudget,
			MaxQueuedControl:     h2.MaxQueuedControl,
			FloodAllowance:       int(h2.FloodAllowance),
			ExtendedConnect:      h2.WebSocket,
		}}
		if h2.WebSocket {
			f.http2.WS = wsf
		}
		f.tcp = &servetcp.Frontend{Stream: f.stream, KeepAlive: fc.Timeouts.KeepAlive.D(), InspectDelay: fc.Timeouts.Inspect.D(), Track: track}
		if fc.TLS != nil {
			var err error
			if f.tls, err = frontendTLS(fc, fmt.Sprintf("frontends[%d]", i), log); err != nil {
				return nil, err
			}
			s.keepTickets(prev, fc.Name, f.tls)
		}
		if err := s.addAccessLog(f, i); err != nil {
			return nil, err
		}
		s.frontends = append(s.frontends, f)
		for _, b := range fc.Bind {
			if err := s.engine.Listen(b, s.acceptor(f)); err != nil {
				return nil, fmt.Errorf("frontends[%d].bind: %v", i, err)
			}
		}
	}
	// Last, so that a configuration that fails above has read no map file.
	if prev != nil {
		s.carryServerStates(prev)
		s.shared = prev.shared.Next(cfg.Dir, s.numLoops)
	} else {
		s.shared = lj.NewShared(cfg.Dir, s.numLoops)
	}
	if err := s.buildShared(prev); err != nil {
		return nil, err
	}
	// A haproxy.cfg's ACL files, read now so that the runtime API lists
	// them from the start.
	for _, f := range cfg.Lua.ACLFiles {
		if err := s.shared.DeclareACLFile(f.Path, f.Method, f.Fixed); err != nil {
			return nil, fmt.Errorf("ACL file: %v", err)
		}
	}
	// Its map files too. One that cannot be read is left to the lookups,
	// which find nothing in it (HAProxy refuses to start); one with a
	// line its converter cannot take (a key for its match method, a value
	// that is no integer for a map_*_int) stops the start, as in HAProxy.
	for _, f := range cfg.Lua.MapFiles {
		if err := s.shared.LoadMap(f.Path, f.Method, f.Ints); err != nil {
			var unreadable *lj.ReadError
			if !errors.As(err, &unreadable) {
				return nil, fmt.Errorf("map file: %v", err)
			}
			log.Warn("map file", "err", err)
		}
	}
	return s, nil
}

// addStickTable adds the stick table of frontend or backend name, at its
// key path at: prev's table of that name if its definition is the same
// (a reload keeps the entries), else a new one.
func (s *Server) addStickTable(prev *Server, name, at string, c *config.StickTable) error {
	s.tableDefs[name] = c
	if prev != nil && prev.tables[name] != nil && reflect.DeepEqual(prev.tableDefs[name], c) {
		s.tables[name] = prev.tables[name]
		return nil
	}
	t, err := newStickTable(name, at, c)
	if err != nil {
		return err
	}
	s.tables[name] = t
	return nil
}

// Serve runs until Shutdown or Retire; it returns an error if a listener
// cannot bind or a loop cannot be set up. When it returns, every loop has:
// their Lua states are closed.
func (s *Server) Serve() error {
	defer close(s.served)
	s.watchdog = cgo.NewWatchdog(CPULimits(s.cfg.Lua))
	defer s.watchdog.Stop()
	for _, sink := range s.sinks {
		if err := sink.Start(); err != nil {
			return fmt.Errorf("access_log: %s: %w", sink.Target, err)
		}
		defer sink.Close() // after the loops' last lines, flushed below
	}
	for _, b := range s.backends {
		b.Start()
		defer b.Stop()
	}
	for _, f := range s.frontends {
		if f.tls != nil {
			logKernelTLS(s.log)
			break
		}
	}
	stopPurge := make(chan struct{})
	defer close(stopPurge)
	go purgeTables(s.tables, stopPurge)
	for name, t := range s.tables {
		if t.Shared() {
			go s.syncTable(name, t, s.tableDefs[name].SyncIntervalOr(), stopPurge)
		}
	}
	err := s.engine.Run()
	// Run returns once every loop has: no state is in use any more.
	for _, ls := range s.loopStates() {
		ls.close()
		ls.env.AccessLog.Flush()
	}
	s.shared.Release()
	s.closeShared()
	return err
}

// Booted is closed once the listeners accept connections.
func (s *Server) Booted() <-chan struct{} { return s.engine.Booted() }

// CPULimits are the CPU limits lua's keys set.
func CPULimits(c config.Lua) cgo.Limits {
	return cgo.Limits{ForcedYield: c.ForcedYieldOr(), Burst: c.BurstTimeoutOr(), Session: c.SessionTimeoutOr()}
}

// acceptor makes the connections of frontend f.
func (s *Server) acceptor(f *frontend) eventloop.Acceptor {
	return func(l *eventloop.Loop, c transport.Conn) eventloop.Handler {
		if f.paused.Load() {
			return nil // Proxy:pause or stop from a script
		}
		if f.slots != nil || s.slots != nil || f.cfg.AcceptProxy {
			return s.pending(l, f, c) // accept.go
		}
		return s.handler(l, f, c)
	}
}

// handler makes the handler of frontend f's protocol for connection c:
// over TLS when f has it.
func (s *Server) handler(l *eventloop.Loop, f *frontend, c transport.Conn) eventloop.Handler {
	if f.tls != nil {
		return s.acceptTLS(l, f, c, func(c transport.Conn, alpn string) eventloop.Handler {
			return s.serveConn(l, f, c, alpn)
		})
	}
	return s.serveConn(l, f, c, "")
}

// serveConn makes the handler of a connection of frontend f, clear, or
// over TLS whose handshake settled on protocol alpn ("": none, or clear).
func (s *Server) serveConn(l *eventloop.Loop, f *frontend, c transport.Conn, alpn string) eventloop.Handler {
	ls := s.loops[l.ID]
	stats := &ls.stats[f.index]
	id := ls.newConnID()
	if f.hookSet&lj.HookConnect != 0 && !ls.connectHooks(f, c, id) {
		return nil
	}
	stats.Sessions.Inc()
	stats.SessionsTotal.Inc()
	if f.cfg.Mode == "tcp" {
		t := &tcpConn{Conn: servetcp.New(&ls.tcp, f.tcp, stats, c, id, ls.programs[f.index]), ls: ls, f: f, c: c, id: id, accepted: ls.sinceStart()}
		ls.addTCP(t)
		return t
	}
	w := &httpConn{ls: ls, f: f, accepted: ls.sinceStart()}
	w.conn1.Init(&ls.http, f.http, c, id)
	if s.draining.Load() {
		// Accepted as the listeners closed: the request its client
		// sends is answered, with connection: close.
		w.conn1.Drain()
	}
	ls.addHTTP(w)

	switch {
	case alpn == "h2", alpn == "" && f.cfg.TLS == nil && f.cfg.HTTP2.Cleartext == "prior_knowledge":
		// HTTP/2 from the first byte: a connection that ends before
		// its preface is HTTP/2's to log (HAProxy's bind ... proto h2).
		w.toH2()
	case alpn != "":
		// ALPN settled on HTTP/1.1 (or another protocol): the client
		// does not speak HTTP/2 with prior knowledge here.
		w.sniffed = true
	}
	return w
}

// open is how many client connections are open, over every loop.
func (s *Server) open() int64 {
	var n int64
	for _, f := range s.frontends {
		n += s.frontendTotals(f).Sessions
	}
	return n
}

// frontendTotals sums a frontend's counters over the loops.
func (s *Server) frontendTotals(f *frontend) metrics.FrontendTotals {
	var t metrics.FrontendTotals
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.loops {
		if ls != nil {
			t.Add(&ls.stats[f.index])
		}
	}
	return t
}

// CloseListeners stops the server accepting: its listening sockets close,
// once the connections in their queues are accepted; new connections are
// refused, or go to another generation listening on the same addresses.
// Shutdown does it first; a reload does it as soon as the new generation
// serves, so that every connection after goes to the new one.
func (s *Server) CloseListeners() error {
	select {
	case <-s.engine.Listening():
	case <-s.served:
		return nil
	}
	return s.engine.CloseListeners()
}

// Shutdown stops accepting (new connections are refused, or go to another
// generation listening on the same addresses), answers the requests of the
// connections already accepted with connection: close, closes idle
// connections, and lets in-flight requests finish for up to the configured
// shutdown_timeout (or ctx); then it closes everything and waits for Serve
// to return. It returns ErrScriptRunning if a loop is still inside a Lua
// script after that. A server still starting is stopped the same way.
func (s *Server) Shutdown(ctx context.Context) error { return s.stop(ctx, true) }

// Retire stops a generation that a reload has replaced. It is Shutdown,
// except that idle keep-alive connections are not closed after a short
// grace: each stays until its client's next request, answered with
// connection: close, or its keep_alive timeout, within shutdown_timeout. A
// client may send its next request at any moment, and closing the
// connection under it loses that request: a stop cannot avoid it, a reload,
// whose listeners stay open, can.
func (s *Server) Retire(ctx context.Context) error { return s.stop(ctx, false) }

// CloseIdle closes the idle connections of a server being retired, as
// Shutdown would have: the process is stopping.
func (s *Server) CloseIdle() {
	for _, ls := range s.loopStates() {
		ls.loop.Post(ls.drain)
	}
}

// stop is Shutdown, and Retire when closeIdle is false.
func (s *Server) stop(ctx context.Context, closeIdle bool) error {
	select {
	case <-s.engine.Listening():
	case <-s.served:
		return nil // it never started, or has stopped already
	case <-ctx.Done():
		return ctx.Err()
	}
	// Draining starts before the listeners close: a request that arrives
	// on a kept connection once new connections are refused is answered
	// with connection: close. A client that reconnects in the moment
	// between the two is accepted here and answered the same way (the
	// acceptor marks its connection draining). A second close is a no-op.
	s.draining.Store(true)
	if err := s.engine.CloseListeners(); err != nil {
		s.log.Error("closing the listeners", "err", err)
	}
	if closeIdle {
		s.CloseIdle()
	} else {
		for _, ls := range s.loopStates() {
			ls.loop.Post(ls.drainWebSockets)
		}
	}
	deadline := time.NewTimer(s.cfg.ShutdownTimeout.D())
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.open() > 0 {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			s.log.Warn("shutdown_timeout has passed: closing the connections still open", "connections", s.open())
			break wait
		case <-tick.C:
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	// The hook scripts' last flush, while the loops run (a flush may use
	// the shared store), after the requests drained.
	s.finalFlush(stopCtx, !closeIdle)
	err := s.engine.Stop(stopCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A loop did not come back from Lua (a script that never yields):
		// Serve does not return, and the states are not closed under the
		// running script. They are left to the end of the process.
		return ErrScriptRunning
	}
	if err != nil {
		return err
	}
	<-s.served
	return nil
}

// stopGrace is how long Shutdown waits for the loops to close their
// connections and return once shutdown_timeout has passed.
const stopGrace = 2 * time.Second

// ErrScriptRunning is what Shutdown returns when a loop was still running
// a Lua script stopGrace after shutdown_timeout: the server is stopped
// except for that loop, whose goroutine and state remain until the
// process exits.
var ErrScriptRunning = errors.New("a Lua script still running at shutdown")

// loopStates returns the loops set up so far.
func (s *Server) loopStates() []*loopState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*loopState
	for _, ls := range s.loops {
		if ls != nil {
			out = append(out, ls)
		}
	}
	return out
}

func (s *Server) cacheNames() []string {
	names := make([]string, len(s.caches))
	for i, c := range s.caches {
		names[i] = c.Config().Name
	}
	return names
}

func (s *Server) backendNames() []string {
	names := make([]string, len(s.backends))
	for i, b := range s.backends {
		names[i] = b.Name()
	}
	return names
}

// compressPolicy is a compression configuration as the streams use it;
// nil for none.
func compressPolicy(c *config.Compression) *httpenc.Policy {
	if c == nil {
		return nil
	}
	p := &httpenc.Policy{Types: c.Types, MinLength: int64(c.MinLength), Level: c.Level, Quality: c.BrotliQuality}
	for _, a := range c.Algorithms {
		if coding, ok := httpenc.ParseCoding(a); ok {
			p.Codings = append(p.Codings, coding)
		}
	}
	return p
}

// errorPages makes a frontend's error_pages for its protocols (fields in
// lower case, by name).
func errorPages(pages map[int]config.ErrorPage) (map[int]*stream.Page, error) {
	if len(pages) == 0 {
		return nil, nil
	}
	out := make(map[int]*stream.Page, len(pages))
	for status, p := range pages {
		pg := &stream.Page{Status: p.Status, Reason: []byte(cmp.Or(p.Reason, http1.StatusText(cmp.Or(p.Status, status)))), Body: []byte(p.Body)}
		if !http1.ValidHeaderValue(pg.Reason) {
			return nil, fmt.Errorf("%d.reason: %q is not a reason phrase", status, p.Reason)
		}
		for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
			v := []byte(p.Headers[name])
			if !http1.ValidHeaderValue(v) {
				return nil, fmt.Errorf("%d.headers.%s: %q is not a field value", status, name, v)
			}
			pg.Fields = append(pg.Fields, http1.Header{Name: []byte(strings.ToLower(name)), Value: v})
		}
		out[status] = pg
	}
	return out, nil
}

// cookieMode is the persistence cookie's mode of its configuration name
// (checked by config: "", insert, rewrite, prefix or passive).
func cookieMode(name string) backend.CookieMode {
	switch name {
	case "rewrite":
		return backend.CookieRewrite
	case "prefix":
		return backend.CookiePrefix
	case "passive":
		return backend.CookiePassive
	}
	return backend.CookieInsert
}

// backendConfig turns a backend's YAML (at key path at) into the backend
// package's config.
func backendConfig(c config.Backend, at string) (backend.Config, error) {
	bc := backend.Config{
		Name:     c.Name,
		Balance:  c.Balance,
		HashType: c.HashType,
		Check: backend.CheckConfig{
			Type:         c.Check.Type,
			Path:         c.Check.Path,
			Host:         c.Check.Host,
			ExpectStatus: c.Check.ExpectStatus,
			Interval:     c.Check.Interval.D(),
			Timeout:      c.Check.Timeout.D(),
			Rise:         c.Check.Rise,
			Fall:         c.Check.Fall,
		},
	}
	if ck := c.Cookie; ck != nil {
		bc.Cookie = &backend.Cookie{Name: ck.Name, Mode: cookieMode(ck.Mode), Indirect: ck.Indirect, Preserve: ck.Preserve, PostOnly: ck.PostOnly,
			NoCache: ck.NoCache, HTTPOnly: ck.HTTPOnly, Secure: ck.Secure, Domains: ck.Domains, Attrs: ck.Attrs,
			MaxIdle: ck.MaxIdle.D(), MaxLife: ck.MaxLife.D()}
	}
	for i, sv := range c.Servers {
		tc, err := serverTLS(c.ServerTLS(i), sv.Address, fmt.Sprintf("%s.servers[%d].tls", at, i), c.Proto == "h2")
		if err != nil {
			return bc, err
		}
		sc := backend.ServerConfig{
			Name: sv.Name, Address: sv.Address, Weight: sv.Weight, MaxConn: sv.MaxConn, Backup: sv.Backup, TLS: tc, Cookie: sv.Cookie, Disabled: sv.Disabled,
		}
		if c.Cookie != nil && c.Cookie.DynamicKey != "" && sc.Cookie == "" {
			sc.Cookie = backend.DynamicCookie(c.Cookie.DynamicKey, sv.Address)
		}
		sendProxy(&sc, c.ServerSendProxy(i))
		bc.Servers = append(bc.Servers, sc)
	}
	return bc, nil
}

// sendProxy sets the PROXY protocol version ("v1", "v2"; "": none) of
// the connections to a server. A check names no client: its header says
// so (v1 UNKNOWN, v2 LOCAL), and the server keeps the connection's
// addresses.
func sendProxy(sc *backend.ServerConfig, version string) {
	switch version {
	case "v1":
		sc.SendProxy, sc.CheckHeader = 1, proxyproto.AppendV1(nil, netip.AddrPort{}, netip.AddrPort{})
	case "v2":
		sc.SendProxy, sc.CheckHeader = 2, proxyproto.AppendV2(nil, netip.AddrPort{}, netip.AddrPort{})
	}
}

// newCache makes the store of a cache section, with HAProxy's defaults.
func newCache(cc config.Cache) *cache.Cache {
	total := cc.TotalMaxSize << 20
	maxObj := cc.MaxObjectSize
	if maxObj == 0 {
		maxObj = total / 256
	}
	maxAge := cc.MaxAge.D()
	if maxAge == 0 {
		maxAge = 60 * time.Second
	}
	return cache.New(cache.Config{Name: cc.Name, TotalMaxSize: total, MaxObjectSize: maxObj, MaxAge: maxAge,
		ProcessVary: cc.ProcessVary, MaxSecondaryEntries: cc.MaxSecondaryEntries})
}

// Caches returns the generation's caches, in configuration order (show
// cache).
func (s *Server) Caches() []*cache.Cache { return s.caches }
