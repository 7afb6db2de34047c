package eventloop

import (
	"context"
	"log/slog"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/lj"
)

// sweepEvery is how often a loop checks its connections' timeouts.
const sweepEvery = 250 * time.Millisecond

// Loop is what luaedge keeps per gnet event loop: the LuaJIT state, the
// connections, and a scratch buffer for serialising responses. Everything
// in it is used from the loop's thread only, except post.
type Loop struct {
	srv  *Server
	el   gnet.EventLoop
	id   int
	lua  *lj.State
	log  *slog.Logger
	now  time.Time // refreshed on each event; coarse clock for deadlines
	wbuf []byte    // response bytes being assembled; flushed before returning to gnet

	conns     map[*h1Conn]struct{}
	frontends map[*frontend]*frontendState
	stopSweep chan struct{}
}

// frontendState is a frontend resolved against one loop's Lua state.
type frontendState struct {
	*frontend
	serviceID int
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
		frontends: map[*frontend]*frontendState{},
		stopSweep: make(chan struct{}),
	}
	go l.sweeper()
	return l, nil
}

func (l *Loop) frontendState(f *frontend) (*frontendState, error) {
	if fs := l.frontends[f]; fs != nil {
		return fs, nil
	}
	id, err := l.lua.ServiceID(f.service, "http")
	if err != nil {
		return nil, err
	}
	fs := &frontendState{frontend: f, serviceID: id}
	l.frontends[f] = fs
	return fs, nil
}

// post runs fn on the loop's thread.
func (l *Loop) post(fn func()) {
	err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.now = time.Now()
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
