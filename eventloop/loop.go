package eventloop

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/transport"
)

// Loop is one gnet event loop. Its handlers, posted tasks and timers all
// run on the loop's goroutine, one at a time; everything a loop owns is
// touched from there only, except Post.
type Loop struct {
	ID  int // 0 .. loops-1, in the order the loops started
	Log *slog.Logger

	el        gnet.EventLoop
	now       time.Time // refreshed on each event: the time of the event being handled
	started   time.Time // when the loop was set up: where Clock starts
	lastYield time.Time // when the loop last passed through the Go scheduler
}

// yieldInterval is how often a busy loop passes through the Go scheduler.
// It must stay below sysmon's 10 ms time slice, with room for a long
// event: a goroutine that keeps its P longer is preempted by a signal,
// and every preemption or P taken back from a syscall sends sysmon back
// to polling every 20 µs, which under load costs the loop's core
// thousands of context switches a second. Not much below it either: each
// yield wakes a spare thread (runtime.Gosched does), which looks for work,
// finds none and sleeps again, at 2 ms a few percent of a small
// request's CPU.
const yieldInterval = 5 * time.Millisecond

// Event starts the handling of an event on the loop: it refreshes the
// loop's clock and yields to the scheduler once per yieldInterval. The
// engine calls it before every handler and task.
//
// The clock costs one read of the monotonic clock per event: the wall
// time is lastYield's moved on by the monotonic time since, and is read
// afresh at each yield, so a step of the system clock shows within
// yieldInterval. (time.Now reads both clocks, and every clock read is a
// noticeable part of a small request's user time.)
func (l *Loop) Event() {
	since := time.Since(l.lastYield)
	if since < yieldInterval {
		l.now = l.lastYield.Add(since)
		return
	}
	l.now = time.Now()
	l.lastYield = l.now
	runtime.Gosched()
}

// Now is the time of the event being handled.
func (l *Loop) Now() time.Time { return l.now }

// Clock is t as the monotonic time since the loop started: what a
// deadline kept for each connection is written in (8 bytes where a
// time.Time takes 24). t is the loop's Now or later.
func (l *Loop) Clock(t time.Time) time.Duration { return t.Sub(l.started) }

// Post runs fn on the loop's goroutine. It may be called from any goroutine.
func (l *Loop) Post(fn func()) {
	err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.Event()
		fn()
		return nil
	}))
	if err != nil {
		l.Log.Debug("loop task dropped", "err", err)
	}
}

// After runs fn on the loop's goroutine once d has passed. The timer can
// be stopped; fn must check that what it acts on is still there.
func (l *Loop) After(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { l.Post(fn) })
}

// Dialer is the handler of a connection the loop dials.
type Dialer interface {
	Handler
	// Opened is called on the loop when the connection is established.
	Opened(c transport.Conn)
	// DialFailed is called on the loop when it could not be.
	DialFailed(err error)
}

// dialCtx marks a gnet connection being dialled (its context).
type dialCtx struct{ d Dialer }

// Dial connects to addr on this loop; d learns the outcome on the loop.
// gnet dials on a worker goroutine with net.Dial(addr.Network(),
// addr.String()), so a host name is looked up there, not on the loop.
func (l *Loop) Dial(addr net.Addr, d Dialer) error {
	res, err := l.el.Register(gnet.NewContext(context.Background(), dialCtx{d}), addr)
	if err != nil {
		return err
	}
	go func() {
		if r := <-res; r.Err != nil {
			l.Post(func() { d.DialFailed(r.Err) })
		}
	}()
	return nil
}
