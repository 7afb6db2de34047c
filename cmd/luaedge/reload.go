package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/edge"
	"github.com/luaedge/luaedge/metrics"
)

// reloadStartTimeout bounds the start of a reload's new generation: its
// loops' set-up, init functions included. Past it the reload fails.
const reloadStartTimeout = time.Minute

// generation is one edge.Server of the process: the one serving, one
// starting on a reload, or one draining after it.
type generation struct {
	n      int
	cfg    *config.Config
	log    *slog.Logger
	srv    *edge.Server
	served chan error // what Serve returned; received once
}

// startGeneration runs srv.
func startGeneration(n int, cfg *config.Config, log *slog.Logger, srv *edge.Server) *generation {
	g := &generation{n: n, cfg: cfg, log: log, srv: srv, served: make(chan error, 1)}
	spareProc(srv.NumLoops())
	go func() { g.served <- srv.Serve() }()
	return g
}

// boot waits until g serves. If it cannot start, the error says why (its
// Serve has returned); if ctx ends first, g is stopped and the error is
// ctx's, joined with edge.ErrScriptRunning if a loop of g is stuck in a
// Lua script.
func (g *generation) boot(ctx context.Context) error {
	select {
	case <-g.srv.Booted():
		return nil
	case err := <-g.served:
		if err == nil {
			err = errors.New("the server stopped while starting")
		}
		return err
	case <-ctx.Done():
		err := fmt.Errorf("the new generation has not started after %v", reloadStartTimeout)
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = errors.New("the reload was interrupted")
		}
		if stopErr := g.stop(false); errors.Is(stopErr, edge.ErrScriptRunning) {
			return errors.Join(err, stopErr)
		}
		return err
	}
}

// stop drains g (edge.Server.Shutdown, or Retire for a generation a
// reload replaced) and waits for its Serve. It returns
// edge.ErrScriptRunning if a loop of g was still in a Lua script at the
// end: that loop and its state stay until the process exits.
func (g *generation) stop(retire bool) error {
	drain := g.srv.Shutdown
	if retire {
		drain = g.srv.Retire
	}
	err := drain(context.Background())
	if errors.Is(err, edge.ErrScriptRunning) {
		return err
	}
	if serveErr := <-g.served; err == nil {
		err = serveErr
	}
	return err
}

// listening logs the frontends g listens for.
func (g *generation) listening() {
	for _, f := range g.cfg.Frontends {
		g.log.Info("listening", "frontend", f.Name, "bind", f.Bind, "service", f.UseService, "generation", g.n)
	}
}

// reloadResult is the outcome of a reload: the generation now serving, or
// why the previous one still is.
type reloadResult struct {
	gen *generation
	err error
}

// errStopping answers a reload asked for while the process stops.
var errStopping = errors.New("luaedge is stopping")

// process is the running server: the generation serving, a reload in
// progress, and the generations draining after a reload. Its fields are
// the run goroutine's, but for the channels and the counters noted.
type process struct {
	src    source
	stderr io.Writer
	log    *slog.Logger
	cur    *generation
	notify *notifier // systemd's, if it runs the process
	// serving is cur, for the runtime commands' and the admin listener's
	// goroutines; stopping is set once a stop signal came.
	serving  atomic.Pointer[generation]
	stopping atomic.Bool
	started  time.Time
	// hist is the stats' history of rates (nil without an admin listener
	// or a runtime socket), fed by sample.
	hist *metrics.History

	reloads chan chan<- reloadResult // reloads asked on the runtime socket
	done    chan struct{}            // closed when run returns

	drains        sync.WaitGroup // generations draining; any goroutine
	scriptRunning atomic.Bool    // a generation stopped with a loop stuck in Lua; any goroutine

	mu       sync.Mutex
	retiring map[*generation]bool // the generations draining; under mu
}

// run handles signals and reload requests until the process stops; it
// returns the exit status.
//
// One reload runs at a time, on its own goroutine, so that a stop signal
// is handled while a new generation starts. Reloads asked meanwhile (by
// SIGHUP or the runtime socket) are coalesced into one that starts when
// the running one ends: it reads the files as they are then.
func (p *process) run(sigs <-chan os.Signal) int {
	defer close(p.done)
	var (
		running chan reloadResult // the reload in progress, nil if none
		cancel  context.CancelFunc
		waiters []chan<- reloadResult // what running answers
		next    []chan<- reloadResult // asked during running: the next reload answers
		again   bool                  // a reload was asked during running
	)
	start := func() {
		p.notified(p.notify.reloading())
		ctx, c := context.WithTimeout(context.Background(), reloadStartTimeout)
		cancel = c
		running = make(chan reloadResult, 1)
		prev := p.cur
		go func() {
			g, err := p.reload(ctx, prev)
			running <- reloadResult{g, err}
		}()
	}
	ask := func(reply chan<- reloadResult) {
		if running != nil {
			again = true
			if reply != nil {
				next = append(next, reply)
			}
			return
		}
		if reply != nil {
			waiters = append(waiters, reply)
		}
		start()
	}
	answer := func(res reloadResult) {
		for _, w := range waiters {
			w <- res
		}
		waiters = nil
	}
	for {
		select {
		case err := <-p.cur.served:
			// The serving generation stopped by itself (gnet failed).
			p.log.Error("server stopped", "generation", p.cur.n, "err", err)
			if running != nil {
				cancel()
				if res := <-running; res.gen != nil {
					_ = res.gen.stop(false)
				}
			}
			waiters = append(waiters, next...)
			answer(reloadResult{err: errStopping})
			p.drains.Wait()
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				p.log.Info("SIGHUP: reloading the configuration and the scripts")
				ask(nil)
				continue
			}
			if sig == syscall.SIGUSR1 {
				p.log.Info("SIGUSR1: reopening the access log files")
				p.reopenLogs()
				continue
			}
			p.log.Info("stopping: finishing requests in flight", "signal", sig)
			p.stopping.Store(true)
			p.notified(p.notify.stopping())
			var starting *generation
			if running != nil {
				cancel()
				starting = (<-running).gen
			}
			waiters = append(waiters, next...)
			answer(reloadResult{err: errStopping})
			return p.stop(starting)
		case reply := <-p.reloads:
			ask(reply)
		case res := <-running:
			cancel()
			running = nil
			p.switchTo(res)
			p.notified(p.notify.ready(p.cur.n))
			answer(res)
			waiters, next = next, nil
			if again {
				again = false
				start()
			}
		}
	}
}

// notified logs a notification systemd did not get: the service goes on.
func (p *process) notified(err error) {
	if err != nil {
		p.log.Warn("cannot notify systemd", "NOTIFY_SOCKET", p.notify.addr, "err", err)
	}
}

// reload builds and starts the generation that follows prev, from the
// files as they are now. The files are checked first, as at start.
func (p *process) reload(ctx context.Context, prev *generation) (*generation, error) {
	cfg, scripts, warnings, err := load(p.src)
	if err != nil {
		return nil, err
	}
	if err := check(cfg, scripts); err != nil {
		if p.src.name() != "" {
			err = fmt.Errorf("%s: %w", p.src.name(), err)
		}
		return nil, err
	}
	log := newLogger(cfg.Log, p.stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	srv, err := prev.srv.Next(cfg, scripts, log)
	if err != nil {
		return nil, err
	}
	g := startGeneration(prev.n+1, cfg, log, srv)
	if err := g.boot(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// switchTo makes a reload's new generation the serving one and drains the
// previous one; after a failed reload it logs why the previous one still
// serves.
func (p *process) switchTo(res reloadResult) {
	if res.err != nil {
		if errors.Is(res.err, edge.ErrScriptRunning) {
			p.scriptRunning.Store(true)
		}
		p.log.Error("reload failed; the running generation keeps serving", "generation", p.cur.n, "err", res.err)
		return
	}
	old, g := p.cur, res.gen
	p.cur, p.log = g, g.log
	p.serving.Store(g)
	slog.SetDefault(g.log)
	// From here on every new connection goes to g: the old generation's
	// listeners close before the reload is announced (and answered).
	if err := old.srv.CloseListeners(); err != nil {
		g.log.Error("closing the previous generation's listeners", "previous", old.n, "err", err)
	}
	g.log.Info("new generation serving", "generation", g.n)
	g.listening()
	if g.cfg.RuntimeSocket != old.cfg.RuntimeSocket {
		g.log.Warn("runtime_socket changed: the socket in use stays until luaedge restarts", "runtime_socket", old.cfg.RuntimeSocket)
	}
	p.drains.Add(1)
	p.mu.Lock()
	p.retiring[old] = true
	p.mu.Unlock()
	go func() {
		defer p.drains.Done()
		defer func() {
			p.mu.Lock()
			delete(p.retiring, old)
			p.mu.Unlock()
		}()
		began := time.Now()
		err := old.stop(true)
		if errors.Is(err, edge.ErrScriptRunning) {
			p.scriptRunning.Store(true)
			g.log.Error("the previous generation has a Lua script still running: its loop and state stay until luaedge exits", "previous", old.n)
		} else if err != nil {
			g.log.Error("draining the previous generation", "previous", old.n, "err", err)
		}
		// What the old generation held in Go (its loops' buffers and
		// connections) is garbage now: give it back to the system at once
		// rather than when the heap next grows to a collection.
		debug.FreeOSMemory()
		g.log.Info("reloaded", "generation", g.n, "previous", old.n, "drain", time.Since(began).Round(time.Millisecond))
	}()
}

// stop drains the serving generation, and starting if not nil, and waits
// for the generations still draining after a reload.
func (p *process) stop(starting *generation) int {
	gens := []*generation{p.cur}
	if starting != nil {
		gens = append(gens, starting)
	}
	var wg sync.WaitGroup
	for _, g := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.stop(false)
			if errors.Is(err, edge.ErrScriptRunning) {
				p.scriptRunning.Store(true)
			} else if err != nil {
				p.log.Error("shutdown", "generation", g.n, "err", err)
			}
		}()
	}
	// The generations still draining close their idle connections now,
	// as the serving one does.
	p.mu.Lock()
	for g := range p.retiring {
		g.srv.CloseIdle()
	}
	p.mu.Unlock()
	wg.Wait()
	p.drains.Wait()
	if p.scriptRunning.Load() {
		p.log.Error("stopped with a Lua script still running; exiting without waiting for it")
		return exitScriptRunning
	}
	p.log.Info("stopped")
	return 0
}

// reloadCommand is the runtime socket's reload: it answers once the new
// generation serves, or with the error that kept the old one.
func (p *process) reloadCommand([]string) string {
	reply := make(chan reloadResult, 1)
	select {
	case p.reloads <- reply:
	case <-p.done:
		return "Success=0\n--\n" + errStopping.Error() + "\n"
	}
	res := <-reply
	if res.err != nil {
		return "Success=0\n--\n" + res.err.Error() + "\n"
	}
	return fmt.Sprintf("Success=1\n--\ngeneration %d serving\n", res.gen.n)
}

// reopenLogs has every generation reopen its access log files.
func (p *process) reopenLogs() {
	p.cur.srv.ReopenLogs()
	p.mu.Lock()
	defer p.mu.Unlock()
	for g := range p.retiring {
		g.srv.ReopenLogs()
	}
}
