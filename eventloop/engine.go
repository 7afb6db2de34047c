// Package eventloop runs gnet: one event loop per core, listeners, dialled
// connections, posted tasks and timers. It knows nothing of HTTP or Lua:
// a listener's Acceptor turns each new connection into a Handler, and the
// engine hands that handler the connection's events on its loop.
package eventloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/transport"
)

// Handler receives the events of one connection, on its loop.
type Handler interface {
	// OnTraffic is called when bytes arrived (read them with Peek).
	OnTraffic()
	// OnClose is called once, when the connection has closed.
	OnClose(err error)
}

// HalfCloser is a Handler that may go on after its peer ended its side of
// the connection (a read returned EOF) with an answer still to send: a
// client that sent its request and shut down its writing (nc -N, socat)
// waits for it. gnet closes such a connection; before it does, the engine
// calls OnPeerEOF, which may keep the connection through transport.Detach
// and return true: OnClose then comes once the connection has closed.
type HalfCloser interface {
	OnPeerEOF() bool
}

// LoopHandler is a Handler that knows its loop. The engine keeps it as its
// connection's context as it is, where any other Handler costs the
// connection a wrapper (conn) of 24 bytes: what the many idle keep-alive
// connections of an HTTP frontend save.
type LoopHandler interface {
	Handler
	Loop() *Loop
}

// Acceptor makes the handler of a connection accepted on loop l; nil
// refuses the connection (it is closed).
type Acceptor func(l *Loop, c transport.Conn) Handler

// Options configure an Engine.
type Options struct {
	Loops int // number of event loops
	Log   *slog.Logger
	// Setup prepares a loop before its first handler runs, on the loop's
	// goroutine; an error stops the engine (Run returns it).
	Setup func(l *Loop) error
}

// Engine serves a set of listeners on gnet's loops.
type Engine struct {
	gnet.BuiltinEventEngine

	opts   Options
	byAddr map[string]Acceptor // bind address as resolved ("127.0.0.1:8080")
	byPort map[int]Acceptor    // wildcard binds
	addrs  []string

	mu      sync.Mutex
	loops   map[gnet.EventLoop]*Loop
	list    []*Loop
	bootErr error // a loop failed to set up

	// The engine's listening sockets (listeners.go): those bound to its
	// addresses before it started, and its own, by cookie; listeners is
	// emptied by CloseListeners.
	preexisting map[uint64]int
	listeners   map[uint64]int
	startDone   sync.Once

	engine    gnet.Engine
	started   chan struct{} // closed by the first OnTick: gnet's loops exist
	listening chan struct{} // closed once the engine's listeners are known
	startOnce sync.Once
	served    chan struct{} // closed when gnet has stopped
	booted    chan struct{}
	nextLoop  atomic.Int32
}

// New makes an engine; add listeners with Listen, then Run.
func New(opts Options) *Engine {
	return &Engine{
		opts:      opts,
		byAddr:    map[string]Acceptor{},
		byPort:    map[int]Acceptor{},
		loops:     map[gnet.EventLoop]*Loop{},
		started:   make(chan struct{}),
		listening: make(chan struct{}),
		served:    make(chan struct{}),
		booted:    make(chan struct{}),
	}
}

// Listen adds a TCP listener on addr whose connections a makes handlers for.
func (e *Engine) Listen(addr string, a Acceptor) error {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	if ta.IP == nil || ta.IP.IsUnspecified() {
		e.byPort[ta.Port] = a
	} else {
		e.byAddr[ta.String()] = a
	}
	e.addrs = append(e.addrs, "tcp://"+addr)
	return nil
}

// Run serves until Stop; it returns an error if a listener cannot bind or
// a loop cannot be set up.
func (e *Engine) Run() error {
	starting.Lock()
	defer e.doneStarting()
	pre, err := e.listenSockets()
	if err != nil {
		return err
	}
	e.preexisting = pre
	err = gnet.Rotate(e, e.addrs,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(e.opts.Loops),
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
		gnet.WithLogger(gnetLogger{e.opts.Log}),
		// OnTick's first call tells startLoops that the loops exist.
		gnet.WithTicker(true),
	)
	close(e.served)
	e.mu.Lock()
	defer e.mu.Unlock()
	// gnet keeps its last engine per address in a package map (for its
	// deprecated gnet.Stop), which keeps this Engine reachable until
	// another engine listens on the same address. The loops have returned:
	// let go of what the handlers reach (a whole server, for edge).
	e.opts.Setup = nil
	e.byAddr, e.byPort = nil, nil
	e.loops, e.list = nil, nil
	if e.bootErr != nil {
		return e.bootErr
	}
	return err
}

// Booted is closed once every loop is set up and the listeners accept.
func (e *Engine) Booted() <-chan struct{} { return e.booted }

// Listening is closed once the listeners accept, before every loop is
// set up (a loop is set up at the latest by its first connection): from
// then on CloseListeners and Stop can stop the engine, even if a loop's
// Setup never returns.
func (e *Engine) Listening() <-chan struct{} { return e.listening }

// Loops returns the loops set up so far.
func (e *Engine) Loops() []*Loop {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Loop(nil), e.list...)
}

// Stop stops the loops, closing every connection. It returns
// context.DeadlineExceeded if a loop has not returned by ctx's deadline
// (a handler that does not come back, such as a script that never yields).
func (e *Engine) Stop(ctx context.Context) error {
	return e.engine.Stop(ctx)
}

// OnBoot keeps the gnet engine and sets up every loop. gnet calls it
// before it creates its loops.
func (e *Engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.engine = eng
	go e.startLoops()
	return gnet.None
}

// OnTick is first called once gnet has created and started its loops
// (gnet starts the ticker after them), which makes it the start signal
// for startLoops; it has nothing else to do.
func (e *Engine) OnTick() (time.Duration, gnet.Action) {
	e.startOnce.Do(func() { close(e.started) })
	return time.Hour, gnet.None
}

// bootProbe marks the connections startLoops registers.
type bootProbe struct{}

// startLoops sets up every loop before traffic, so that what Setup
// starts (init functions, tasks) runs at start-up. A loop is set up on
// its first event; gnet gives no handle on its loops, but registering a
// connection goes to each loop in turn (round robin), so a connected UDP
// socket, which sends nothing, is registered once per loop as that first
// event. It waits for OnTick: before, gnet may still be adding its loops
// to the list Register reads. Nothing else calls Engine.Register
// (connections to servers are dialled on a given loop), so the round
// robin is not shared. A loop that cannot be set up stops the engine: Run
// returns the error and Booted never closes.
func (e *Engine) startLoops() {
	select {
	case <-e.started:
	case <-e.served: // gnet could not start
		return
	}
	e.noteListeners()
	probe := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for i := 0; i < e.opts.Loops; i++ {
		ctx := gnet.NewContext(gnet.NewNetAddrContext(context.Background(), probe), bootProbe{})
		res, err := e.engine.Register(ctx)
		if err == nil {
			if r := <-res; r.Err != nil {
				err = r.Err
			}
		}
		if err == nil {
			e.mu.Lock()
			err = e.bootErr
			e.mu.Unlock()
		}
		if err != nil {
			e.mu.Lock()
			e.bootErr = err
			e.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = e.engine.Stop(ctx)
			cancel()
			return
		}
	}
	close(e.booted)
}

// loop returns the Loop of el, setting it up on first use, on el's own
// goroutine (so no two set-ups of one loop race).
func (e *Engine) loop(el gnet.EventLoop) (*Loop, error) {
	e.mu.Lock()
	l := e.loops[el]
	e.mu.Unlock()
	if l != nil {
		return l, nil
	}
	id := int(e.nextLoop.Add(1)) - 1
	l = &Loop{ID: id, Log: e.opts.Log.With("loop", id+1), el: el, started: time.Now()}
	l.Event()
	if e.opts.Setup != nil {
		if err := e.opts.Setup(l); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	e.loops[el] = l
	e.list = append(e.list, l)
	e.mu.Unlock()
	return l, nil
}

// OnOpen gives a new connection to its handler.
func (e *Engine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch ctx := c.Context().(type) {
	case dialCtx:
		l, err := e.loop(c.EventLoop())
		if err != nil {
			return nil, gnet.Close
		}
		l.Event()
		c.SetContext(&conn{h: ctx.d, l: l})
		ctx.d.Opened(transport.NewPlain(c))
		return nil, gnet.None
	case bootProbe:
		if _, err := e.loop(c.EventLoop()); err != nil {
			e.mu.Lock()
			e.bootErr = err
			e.mu.Unlock()
		}
		return nil, gnet.Close
	}
	accept := e.acceptorOf(c.LocalAddr())
	if accept == nil {
		e.opts.Log.Error("connection on an unknown listener", "addr", c.LocalAddr())
		return nil, gnet.Close
	}
	l, err := e.loop(c.EventLoop())
	if err != nil {
		e.opts.Log.Error("cannot set up an event loop", "err", err)
		return nil, gnet.Close
	}
	l.Event() // the new connection's deadlines start now
	h := accept(l, transport.NewPlain(c))
	if h == nil {
		return nil, gnet.Close
	}
	if lh, ok := h.(LoopHandler); ok && lh.Loop() == l {
		c.SetContext(lh)
		return nil, gnet.None
	}
	c.SetContext(&conn{h: h, l: l})
	return nil, gnet.None
}

// conn is a gnet connection's context: its handler, and the loop whose
// clock and yields the handler's events go through (Loop.Event). Found
// without a lookup in the engine's map, which every loop shares.
type conn struct {
	h Handler
	l *Loop
}

// OnTraffic hands what arrived to the connection's handler.
//
// Event here matters under load: busy connections keep gnet's polls from
// ever coming back empty (gnet yields only then), and a loop that passes
// through the scheduler only on posted tasks runs for more than sysmon's
// 10 ms. Measured on the ws echo bench: a preemption signal every 16 ms,
// sysmon sleeping 20 µs at a time (0.7 nanosleep per message), on the
// loop's core.
func (e *Engine) OnTraffic(c gnet.Conn) gnet.Action {
	switch cc := c.Context().(type) {
	case *conn:
		cc.l.Event()
		cc.h.OnTraffic()
	case LoopHandler:
		cc.Loop().Event()
		cc.OnTraffic()
	default:
		return gnet.Close
	}
	return gnet.None
}

// OnClose tells the connection's handler; when the peer ended its side
// (gnet read EOF), a HalfCloser may keep the connection instead.
func (e *Engine) OnClose(c gnet.Conn, err error) gnet.Action {
	var h Handler
	switch cc := c.Context().(type) {
	case *conn:
		cc.l.Event()
		h = cc.h
	case LoopHandler:
		cc.Loop().Event()
		h = cc
	default:
		return gnet.None
	}
	if hc, ok := h.(HalfCloser); ok && errors.Is(err, io.EOF) && hc.OnPeerEOF() {
		return gnet.None
	}
	h.OnClose(err)
	return gnet.None
}

func (e *Engine) acceptorOf(a net.Addr) Acceptor {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	if len(e.byAddr) > 0 {
		if f := e.byAddr[ta.String()]; f != nil {
			return f
		}
	}
	return e.byPort[ta.Port]
}

// gnetLogger sends gnet's own logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "source", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "source", "gnet") }
