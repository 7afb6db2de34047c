package eventloop

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
)

// sweepEvery is how often a loop checks its connections' timeouts.
const sweepEvery = 250 * time.Millisecond

// Loop is what luaedge keeps per gnet event loop: the LuaJIT state, the
// connections, and a pool of output buffers. Everything in it is used from
// the loop's thread only, except post.
type Loop struct {
	srv  *Server
	el   gnet.EventLoop
	id   int
	lua  *lj.State
	log  *slog.Logger
	now  time.Time // refreshed on each event; coarse clock for deadlines
	bufs bufPool   // empty output buffers lent to this loop's connections

	conns     map[*h1Conn]struct{}
	tcps      map[*tcpConn]struct{}
	ups       map[*upstreamConn]struct{}          // connections to servers, for their deadlines
	idle      map[*backend.Server][]*upstreamConn // keep-alive connections to reuse
	ubuf      []byte                              // upstream request bytes being assembled
	tokens    []byte                              // Connection header tokens of the message being relayed
	epfd      int                                 // the loop's epoll instance, for backpressure; -1: unknown
	paused    map[int]bool                        // sockets whose reads are paused (backpressure.go)
	sockets   map[int]*luaSocket                  // core.tcp() connections (socket.go)
	nextSock  int
	frontends map[*frontend]*frontendState
	stopSweep chan struct{}
	lastYield time.Time // when the loop last passed through the Go scheduler
}

// frontendState is a frontend resolved against one loop's Lua state.
type frontendState struct {
	*frontend
	program int // id of the compiled rules and service (lj.EntryHTTP's argument)
}

func newLoop(s *Server, el gnet.EventLoop, id int) (*Loop, error) {
	st, err := lj.NewState(lj.Options{Scripts: s.scripts, MemoryLimit: int64(s.cfg.Lua.MemoryLimit)}, id)
	if err != nil {
		return nil, err
	}
	l := &Loop{
		srv:       s,
		el:        el,
		id:        id,
		lua:       st,
		log:       s.log.With("loop", id),
		now:       time.Now(),
		conns:     map[*h1Conn]struct{}{},
		tcps:      map[*tcpConn]struct{}{},
		ups:       map[*upstreamConn]struct{}{},
		idle:      map[*backend.Server][]*upstreamConn{},
		epfd:      -1,
		paused:    map[int]bool{},
		sockets:   map[int]*luaSocket{},
		frontends: map[*frontend]*frontendState{},
		stopSweep: make(chan struct{}),
	}
	if err := st.L.Load([]byte(s.proxyInfo()), "=proxies"); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.SetBackends(s.backendNames()); err != nil {
		st.Close()
		return nil, err
	}
	for _, f := range s.frontends {
		if _, err := l.frontendState(f); err != nil {
			st.Close()
			return nil, err
		}
	}
	if err := st.RunInits(); err != nil {
		st.Close()
		return nil, fmt.Errorf("core.register_init: %w", err)
	}
	if err := l.startTasks(); err != nil {
		st.Close()
		return nil, err
	}
	loopsByID.Store(id, l)
	go l.sweeper()
	return l, nil
}

// startTasks starts the core.register_task functions on this loop.
func (l *Loop) startTasks() error {
	n, err := l.lua.Tasks()
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		th, err := l.lua.Thread()
		if err != nil {
			return err
		}
		th.S.Reset(lj.EntryTask, i, 0)
		t := &task{l: l, th: th, id: i}
		t.resume()
	}
	return nil
}

// task is a running core.register_task coroutine.
type task struct {
	l  *Loop
	th *cgo.Thread
	id int
}

// resume runs the task until it parks, and schedules its next step.
func (t *task) resume() {
	ok, msg := t.th.Resume()
	if !ok {
		t.l.log.Error("Lua task failed", "task", t.id, "err", msg)
		t.th.Free()
		return
	}
	s := t.th.S
	op, arg := s.Op()
	switch op {
	case cgo.OpDone:
		if s.Flags()&cgo.FlagFailed != 0 {
			t.l.log.Error("Lua task failed", "task", t.id, "err", string(s.Err()))
		}
		t.l.closeSocketsOf(s)
		t.l.lua.Release(t.th)
	case cgo.OpSocket:
		t.l.socketOp(s, t.resume)
	case cgo.OpSleep:
		t.l.after(time.Duration(arg*float64(time.Millisecond)), t.resume)
	case cgo.OpYield, cgo.OpFlush:
		t.l.after(yieldDelay, t.resume) // after a poll, as for requests
	default:
		t.l.log.Error("Lua task waited for something a task cannot have", "task", t.id, "op", op)
		t.th.Free()
	}
}

func (l *Loop) frontendState(f *frontend) (*frontendState, error) {
	if fs := l.frontends[f]; fs != nil {
		return fs, nil
	}
	req, res := f.cfg.Rules()
	own, track := f.cfg.StickTables()
	id, err := l.lua.Program(f.cfg.Mode, req, res, f.service, f.cfg.Forwards(), lj.StickNames{Own: own, Track: track})
	if err != nil {
		return nil, fmt.Errorf("frontend %s: %w", f.cfg.Name, err)
	}
	fs := &frontendState{frontend: f, program: id}
	l.frontends[f] = fs
	return fs, nil
}

// yieldInterval is how often a busy loop passes through the Go scheduler.
// It must stay below sysmon's 10 ms time slice: a goroutine that keeps its P
// longer is preempted by a signal, and every preemption or P taken back from
// a syscall sends sysmon back to polling every 20 µs, which under load costs
// the loop's core thousands of context switches a second.
const yieldInterval = 2 * time.Millisecond

// event starts the handling of an event on the loop: it refreshes the coarse
// clock and yields to the scheduler once per yieldInterval.
func (l *Loop) event() {
	l.now = time.Now()
	if l.now.Sub(l.lastYield) >= yieldInterval {
		l.lastYield = l.now
		runtime.Gosched()
	}
}

// post runs fn on the loop's thread.
func (l *Loop) post(fn func()) {
	err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.event()
		fn()
		return nil
	}))
	if err != nil {
		l.log.Debug("loop task dropped", "err", err)
	}
}

// after runs fn on the loop's thread once d has passed. The timer can be
// stopped; fn must check that what it resumes is still there.
func (l *Loop) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { l.post(fn) })
}

func (l *Loop) sweeper() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stopSweep:
			return
		case <-t.C:
			l.post(l.sweep)
		}
	}
}

// sweep closes connections past their deadline.
func (l *Loop) sweep() {
	for h := range l.conns {
		h.checkDeadline(l.now)
	}
	for u := range l.ups {
		u.checkDeadline(l.now)
	}
	for t := range l.tcps {
		t.checkIdle(l.now)
	}
}

// drain, at shutdown, closes idle connections and asks busy ones to close
// after their current request.
func (l *Loop) drain() {
	for h := range l.conns {
		h.drain()
	}
}

func (l *Loop) close() {
	close(l.stopSweep)
	l.lua.Close()
}
