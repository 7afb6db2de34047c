// Package eventloop runs luaedge's listeners on gnet: one event loop per
// core, each a goroutine that owns one LuaJIT state. It parses
// client traffic with proto/, runs requests in Lua coroutines (lj/), and
// writes the answers.
package eventloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/eventloop/backend"
	"github.com/luaedge/luaedge/eventloop/config"
	"github.com/luaedge/luaedge/eventloop/sticktable"
	"github.com/luaedge/luaedge/lj"
)

// Server serves a configuration's frontends.
type Server struct {
	gnet.BuiltinEventEngine

	cfg     *config.Config
	scripts []lj.Script
	log     *slog.Logger

	frontends []*frontend
	backends  []*proxyBackend
	tables    map[string]*sticktable.Table // stick tables, by frontend or backend name
	byAddr    map[string]*frontend         // bind address as resolved ("127.0.0.1:8080")
	byPort    map[int]*frontend            // for wildcard binds

	mu      sync.Mutex
	loops   map[gnet.EventLoop]*Loop
	bootErr error // a loop's state failed to start

	engine    gnet.Engine
	started   chan struct{} // closed by the first OnTick: gnet's loops exist
	startOnce sync.Once
	served    chan struct{} // closed when gnet has stopped
	booted    chan struct{}
	draining  atomic.Bool
	numLoops  int
	nextConn  atomic.Int64
	nextLoop  atomic.Int32
	active    atomic.Int64 // connections open
}

// frontend is a config frontend resolved for serving.
type frontend struct {
	stats          frontendStats
	cfg            *config.Frontend
	service        string
	routes         []routeRule
	defaultBackend *proxyBackend
	track          *sticktable.Table // where the frontend counts its clients (track)
}

// New prepares a server; scripts are the files of lua.load, already read.
func New(cfg *config.Config, scripts []lj.Script, log *slog.Logger) (*Server, error) {
	s := &Server{
		cfg:     cfg,
		scripts: scripts,
		log:     log,
		byAddr:  map[string]*frontend{},
		byPort:  map[int]*frontend{},
		loops:   map[gnet.EventLoop]*Loop{},
		started: make(chan struct{}),
		served:  make(chan struct{}),
		booted:  make(chan struct{}),
	}
	s.numLoops = cfg.Workers
	if s.numLoops == 0 {
		s.numLoops = runtime.NumCPU()
	}
	lj.Threads = s.numLoops
	running.Store(s)
	s.tables = map[string]*sticktable.Table{}
	for i, fc := range cfg.Frontends {
		if fc.StickTable != nil {
			t, err := newStickTable(fc.Name, fmt.Sprintf("frontends[%d]", i), fc.StickTable)
			if err != nil {
				return nil, err
			}
			s.tables[fc.Name] = t
		}
	}
	for i, bc := range cfg.Backends {
		if bc.StickTable != nil {
			t, err := newStickTable(bc.Name, fmt.Sprintf("backends[%d]", i), bc.StickTable)
			if err != nil {
				return nil, err
			}
			s.tables[bc.Name] = t
		}
	}
	byName := map[string]*proxyBackend{}
	for i, bc := range cfg.Backends {
		b, err := backend.New(backendConfig(bc))
		if err != nil {
			return nil, fmt.Errorf("backends[%d].%v", i, err)
		}
		pb := newProxyBackend(b, i, bc.Timeouts.Connect.D(), bc.Timeouts.Server.D(), bc.Timeouts.Tunnel.D())
		b.OnStateChange(func(srv *backend.Server, up bool) {
			state := "DOWN"
			if up {
				state = "UP"
			}
			log.Warn("server state changed", "backend", b.Name(), "server", srv.Name(), "state", state)
		})
		s.backends = append(s.backends, pb)
		byName[bc.Name] = pb
	}
	for i := range cfg.Frontends {
		f := &frontend{cfg: &cfg.Frontends[i], service: cfg.Frontends[i].ServiceName()}
		f.defaultBackend = byName[f.cfg.DefaultBackend]
		if tr := f.cfg.Track; tr != nil {
			name := tr.Table
			if name == "" {
				name = f.cfg.Name
			}
			f.track = s.tables[name]
		}
		for _, r := range f.cfg.Routes {
			f.routes = append(f.routes, routeRule{host: r.Host, pathPrefix: []byte(r.PathPrefix), backend: byName[r.Backend]})
		}
		s.frontends = append(s.frontends, f)
		for _, b := range f.cfg.Bind {
			addr, err := net.ResolveTCPAddr("tcp", b)
			if err != nil {
				return nil, fmt.Errorf("frontends[%d].bind: %v", i, err)
			}
			if addr.IP == nil || addr.IP.IsUnspecified() {
				s.byPort[addr.Port] = f
			} else {
				s.byAddr[addr.String()] = f
			}
		}
	}
	return s, nil
}

// Serve runs until Shutdown; it returns an error if a listener cannot bind.
func (s *Server) Serve() error {
	var addrs []string
	for _, f := range s.frontends {
		for _, b := range f.cfg.Bind {
			addrs = append(addrs, "tcp://"+b)
		}
	}
	for _, b := range s.backends {
		b.Start()
		defer b.Stop()
	}
	stopPurge := make(chan struct{})
	defer close(stopPurge)
	go purgeTables(s.tables, stopPurge)
	err := gnet.Rotate(s, addrs,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.numLoops),
		gnet.WithLoadBalancing(gnet.RoundRobin),
		// Loops are not locked to OS threads: gnet yields the processor
		// each time a poll finds nothing, and on a locked thread a yield
		// hands the P to another thread and back. With one connection that
		// was 3.9 context switches and 32 µs of CPU per request, against
		// 1.0 and 25 µs unlocked. Nothing needs the thread: a Lua state is
		// only ever touched by its loop, and the C side keeps no
		// thread-local state.
		gnet.WithLockOSThread(false),
		gnet.WithReusePort(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
		// OnTick's first call tells startLoops that the loops exist.
		gnet.WithTicker(true),
	)
	close(s.served)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bootErr != nil {
		return s.bootErr
	}
	return err
}

// OnBoot keeps the engine for Shutdown and starts every loop's Lua state.
// gnet calls it before it creates its loops.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.engine = eng
	go s.startLoops()
	return gnet.None
}

// OnTick is first called once gnet has created and started its loops
// (gnet starts the ticker after them), which makes it the start signal
// for startLoops; it has nothing else to do.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.startOnce.Do(func() { close(s.started) })
	return time.Hour, gnet.None
}

// bootProbe marks the connections startLoops registers.
type bootProbe struct{}

// startLoops starts the Lua state of every loop before traffic, so that
// init functions and tasks run at start-up. A loop creates its state on
// its first event (Server.loop); gnet gives no handle on its loops, but
// registering a connection goes to each loop in turn (round robin), so a
// connected UDP socket, which sends nothing, is registered once per loop
// as that first event. It waits for OnTick: before, gnet may still be
// adding its loops to the list Register reads. Nothing else calls
// Engine.Register (connections to servers are registered on a given
// loop), so the round robin is not shared.
// A loop that cannot start its state stops the server: Serve returns the
// error and Booted never closes.
func (s *Server) startLoops() {
	select {
	case <-s.started:
	case <-s.served: // gnet could not start
		return
	}
	probe := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for i := 0; i < s.numLoops; i++ {
		ctx := gnet.NewContext(gnet.NewNetAddrContext(context.Background(), probe), bootProbe{})
		res, err := s.engine.Register(ctx)
		if err == nil {
			if r := <-res; r.Err != nil {
				err = r.Err
			}
		}
		if err == nil {
			s.mu.Lock()
			err = s.bootErr
			s.mu.Unlock()
		}
		if err != nil {
			s.mu.Lock()
			s.bootErr = err
			s.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.engine.Stop(ctx)
			cancel()
			return
		}
	}
	close(s.booted)
}

// Booted is closed once the listeners accept connections.
func (s *Server) Booted() <-chan struct{} { return s.booted }

// OnOpen binds a new connection to its frontend and its loop's state.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch ctx := c.Context().(type) {
	case upstreamCtx:
		ctx.u.opened(c)
		return nil, gnet.None
	case sockCtx:
		ctx.k.opened(c)
		return nil, gnet.None
	case tcpUpCtx:
		ctx.u.opened(c)
		return nil, gnet.None
	}
	if _, ok := c.Context().(bootProbe); ok {
		l, err := s.loop(c.EventLoop())
		if err != nil {
			s.mu.Lock()
			s.bootErr = err
			s.mu.Unlock()
		} else {
			l.epfd = epollFd(c)
		}
		return nil, gnet.Close
	}
	f := s.frontendOf(c.LocalAddr())
	if f == nil {
		s.log.Error("connection on an unknown listener", "addr", c.LocalAddr())
		return nil, gnet.Close
	}
	if f.stats.paused.Load() {
		return nil, gnet.Close // Proxy:pause or stop from a script
	}
	l, err := s.loop(c.EventLoop())
	if err != nil {
		s.log.Error("cannot start the Lua state of an event loop", "err", err)
		return nil, gnet.Close
	}
	l.event() // the new connection's deadlines start now
	fs, err := l.frontendState(f)
	if err != nil {
		s.log.Error("cannot serve frontend", "frontend", f.cfg.Name, "err", err)
		return nil, gnet.Close
	}
	s.active.Add(1)
	f.stats.scur.Add(1)
	f.stats.stot.Add(1)
	if f.cfg.Mode == "tcp" {
		c.SetContext(newTCPConn(l, fs, c, s.nextConn.Add(1)))
		return nil, gnet.None
	}
	h := newH1Conn(l, fs, c, s.nextConn.Add(1))
	c.SetContext(h)
	if s.draining.Load() {
		// Accepted as the listeners closed: the request its client sends
		// is answered, with connection: close.
		h.drain()
	}
	return nil, gnet.None
}

// OnTraffic parses what arrived and runs the requests it completes.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	switch ctx := c.Context().(type) {
	case *h1Conn:
		return ctx.onTraffic()
	case upstreamCtx:
		ctx.u.onTraffic()
		return gnet.None
	case sockCtx:
		ctx.k.onTraffic()
		return gnet.None
	case *tcpConn:
		return ctx.onTraffic()
	case tcpUpCtx:
		ctx.u.onTraffic()
		return gnet.None
	}
	return gnet.Close
}

// OnClose releases the connection's streams.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	switch ctx := c.Context().(type) {
	case *h1Conn:
		ctx.onClose(err)
		ctx.fe.stats.scur.Add(-1)
		s.active.Add(-1)
	case upstreamCtx:
		ctx.u.onClose()
	case sockCtx:
		ctx.k.onClose()
	case *tcpConn:
		ctx.onClose()
		ctx.fe.stats.scur.Add(-1)
		s.active.Add(-1)
	case tcpUpCtx:
		ctx.u.onClose()
	}
	return gnet.None
}

func (s *Server) frontendOf(a net.Addr) *frontend {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	if len(s.byAddr) > 0 {
		if f := s.byAddr[ta.String()]; f != nil {
			return f
		}
	}
	return s.byPort[ta.Port]
}

// loop returns the Loop of el, creating it (and its Lua state) on first use,
// on el's own thread.
func (s *Server) loop(el gnet.EventLoop) (*Loop, error) {
	s.mu.Lock()
	l := s.loops[el]
	s.mu.Unlock()
	if l != nil {
		return l, nil
	}
	// Only el's own thread gets here for el, so no other creation races this one.
	l, err := newLoop(s, el, int(s.nextLoop.Add(1)))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.loops[el] = l
	s.mu.Unlock()
	return l, nil
}

// Shutdown stops accepting (new connections are refused), answers the
// requests of the connections already accepted with connection: close,
// closes idle connections, and lets in-flight requests finish for up to the
// configured shutdown_timeout (or ctx); then it closes everything. It returns
// ErrScriptRunning if a loop is still inside a Lua script after that.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.booted:
	default:
		return errors.New("server not started")
	}
	s.mu.Lock()
	loops := make([]*Loop, 0, len(s.loops))
	for _, l := range s.loops {
		loops = append(loops, l)
	}
	s.mu.Unlock()
	// The listeners close before any response says connection: close, so
	// a client that reconnects after one is refused, not accepted late.
	if err := s.closeListeners(loops); err != nil {
		s.log.Error("closing the listeners", "err", err)
	}
	s.draining.Store(true)
	for _, l := range loops {
		l.post(l.drain)
	}
	deadline := time.NewTimer(s.cfg.ShutdownTimeout.D())
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.active.Load() > 0 {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			s.log.Warn("shutdown timeout: closing connections with requests in flight", "connections", s.active.Load())
			break wait
		case <-tick.C:
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	err := s.engine.Stop(stopCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A loop did not come back from Lua (a script that never yields):
		// closing its state would free it under the running script. The
		// states are left to the end of the process.
		return ErrScriptRunning
	}
	// Every loop has returned: no state is in use any more.
	for _, l := range loops {
		l.close()
	}
	return err
}

// stopGrace is how long Shutdown waits for the loops to close their
// connections and return once shutdown_timeout has passed.
const stopGrace = 2 * time.Second

// ErrScriptRunning is what Shutdown returns when a loop was still running
// a Lua script stopGrace after shutdown_timeout: the server is stopped
// except for that loop, whose goroutine and state remain until the
// process exits.
var ErrScriptRunning = errors.New("a Lua script still running at shutdown")

func (s *Server) backendNames() []string {
	names := make([]string, len(s.backends))
	for i, b := range s.backends {
		names[i] = b.Name()
	}
	return names
}

// backendConfig turns a backend's YAML into the backend package's config.
func backendConfig(c config.Backend) backend.Config {
	bc := backend.Config{
		Name:    c.Name,
		Balance: c.Balance,
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
	for _, sv := range c.Servers {
		bc.Servers = append(bc.Servers, backend.ServerConfig{
			Name: sv.Name, Address: sv.Address, Weight: sv.Weight, MaxConn: sv.MaxConn, Backup: sv.Backup,
		})
	}
	return bc
}

// gnetLogger sends gnet's own logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "source", "gnet") }
