package edge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
	proxypkg "github.com/luaedge/luaedge/proxy"
	"github.com/luaedge/luaedge/shared/kv"
	"github.com/luaedge/luaedge/stream"
)

// The shared state of scripts (core.kv, core.bus, core.artifacts,
// ngx.shared): the stores are built here from the configuration's shared
// block; embedded ones are lj's (the gate), remote ones are performed
// here, off the loops, for the coroutines that yield for them; and the
// bus delivers events to the loops that subscribe.

func init() {
	lj.RegisterGoFunc("bus_subscribe", goBusSubscribe)
	lj.RegisterGoFunc("bus_emit", goBusEmit)
}

// sharedState is what a generation holds of the shared state besides
// lj's stores: the remote backends and the bus. Built by build, read-only
// after, except the bus's own locked parts.
type sharedState struct {
	cfg       config.Shared
	redis     *kv.Redis  // shared.redis; nil: none
	kv        kv.Backend // core.kv when remote (redis); nil: embedded
	artifacts kv.Backend // core.artifacts when remote (redis or dir); nil: embedded
	// kvWhat and artWhat name the remote backends in a timeout's message.
	kvWhat, artWhat string
	bus             busHub
}

// buildShared makes the stores of s's generation, taking over prev's
// embedded stores whose configuration is unchanged (with their keys),
// and gives them to s.shared.
func (s *Server) buildShared(prev *Server) error {
	c := s.cfg.Shared.OrDefaults()
	sh := &s.sharedState
	sh.cfg = c
	st := lj.Stores{Dicts: map[string]*kv.Store{}, Timeout: config.DefaultRedisTimeout, KVMaxValue: int64(c.KV.MaxValue), ArtifactMax: int64(c.Artifacts.MaxSize)}
	var old lj.Stores
	var oldCfg config.Shared
	if prev != nil {
		old, oldCfg = prev.shared.Stores(), prev.sharedState.cfg
	}
	store := func(at string, keep *kv.Store, same bool, cfg kv.Config) (*kv.Store, error) {
		if keep != nil && same {
			return keep, nil
		}
		t, err := s.shared.NewStore(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", at, err)
		}
		return t, nil
	}
	var err error
	defer func() {
		if err != nil && sh.redis != nil {
			sh.redis.Close()
		}
	}()
	if r := c.Redis; r != nil {
		tc, err := serverTLS(r.TLS, r.Address, "shared.redis.tls", false)
		if err != nil {
			return err // before the client: nothing to close
		}
		if tc != nil {
			tc.NextProtos = nil
		}
		sh.redis = kv.NewRedis(kv.RedisConfig{Address: r.Address, Username: r.Username, Password: r.Password, DB: r.DB,
			TLS: tc, Pool: r.Pool, Timeout: r.Timeout.D(), Prefix: r.Prefix, MaxArtifact: int64(c.Artifacts.MaxSize)})
		sh.kv, sh.kvWhat = sh.redis, "redis "+r.Address
		st.RemoteBus, st.Timeout = true, r.Timeout.D()
	} else if st.KV, err = store("shared.kv", old.KV, oldCfg.Redis == nil && oldCfg.KV == c.KV,
		kv.Config{Size: int64(c.KV.Size), MaxValue: int64(c.KV.MaxValue), TextNumbers: true}); err != nil {
		return err
	}
	switch {
	case c.Artifacts.Dir != "":
		sh.artifacts = kv.NewDir(c.Artifacts.Dir, int64(c.Artifacts.MaxSize))
		sh.artWhat = "the artifacts' folder " + c.Artifacts.Dir
	case sh.redis != nil:
		sh.artifacts, sh.artWhat = sh.redis, sh.kvWhat
	default:
		same := oldCfg.Redis == nil && oldCfg.Artifacts == c.Artifacts
		if st.Artifacts, err = store("shared.artifacts", old.Artifacts, same,
			kv.Config{Size: int64(c.Artifacts.Size), MaxValue: int64(c.Artifacts.MaxSize)}); err != nil {
			return err
		}
	}
	for name, d := range c.Dicts {
		if st.Dicts[name], err = store("shared.dicts."+name, old.Dicts[name], oldCfg.Dicts[name] == d,
			kv.Config{Size: int64(d.Size), MaxValue: min(config.DefaultKVMaxValue, int64(d.Size)/4)}); err != nil {
			return err
		}
	}
	s.shared.SetStores(st)
	return nil
}

// closeShared stops what buildShared started, once the loops are gone.
func (s *Server) closeShared() {
	s.sharedState.bus.stop()
	if r := s.sharedState.redis; r != nil {
		r.Close()
	}
}

// loopSockets is the stream.Sockets of a loop: core.tcp()'s sockets, and
// the shared-state operations scripts wait for (cgo.SockShared), which
// come through the same yield (OP_SOCKET) and the stream's one dispatcher.
type loopSockets struct {
	*proxypkg.Sockets
	ls *loopState
}

func (k loopSockets) Op(s *cgo.Stream, resume func()) {
	if _, op, _, _, _ := s.SockOp(); op == cgo.SockShared {
		k.ls.sharedOp(s, resume)
		return
	}
	k.Sockets.Op(s, resume)
}

func (k loopSockets) CloseOf(s *cgo.Stream) {
	k.ls.sharedClose(s)
	k.Sockets.CloseOf(s)
}

var _ stream.Sockets = loopSockets{}

// sharedWait is a remote operation a coroutine of the loop waits on.
type sharedWait struct {
	resume func()
	cancel context.CancelFunc
	timer  *time.Timer
}

// sharedOp starts the operation s yielded for: on a goroutine of its own,
// whose result is posted back to the loop; the loop's timer answers
// "no answer" at the operation's timeout if the backend has not (a
// directory on a hung file system does not heed the context).
func (ls *loopState) sharedOp(s *cgo.Stream, resume func()) {
	op, events, err := lj.SharedRequest(s)
	if err != nil {
		lj.SharedFail(s, false, err.Error())
		ls.loop.Post(resume)
		return
	}
	if events {
		ls.bus.wait(ls, s, resume)
		return
	}
	sh := &ls.srv.sharedState
	be, what := sh.kv, sh.kvWhat
	if op.Code.Artifact() {
		be, what = sh.artifacts, sh.artWhat
	}
	if be == nil {
		lj.SharedFail(s, false, "this store is not remote")
		ls.loop.Post(resume)
		return
	}
	_, _, _, timeout, _ := s.SockOp()
	ctx, cancel := context.WithCancel(context.Background())
	w := &sharedWait{resume: resume, cancel: cancel}
	ls.pending[s] = w
	w.timer = ls.loop.After(timeout, func() {
		if ls.pending[s] != w {
			return
		}
		delete(ls.pending, s)
		cancel()
		lj.SharedFail(s, true, fmt.Sprintf("%s: no answer within %v", what, timeout))
		w.resume()
	})
	go func() {
		res := be.Do(ctx, op)
		ls.loop.Post(func() {
			if ls.pending[s] != w {
				return // timed out, or the stream ended
			}
			delete(ls.pending, s)
			w.timer.Stop()
			cancel()
			lj.SharedReply(s, op, res)
			w.resume()
		})
	}()
}

// sharedClose forgets what stream s waited for: it ended.
func (ls *loopState) sharedClose(s *cgo.Stream) {
	if w := ls.pending[s]; w != nil {
		delete(ls.pending, s)
		w.timer.Stop()
		w.cancel()
	}
	if ls.bus.pump == s {
		ls.bus.pump, ls.bus.waiting = nil, nil
	}
}

// The bus. Each loop runs its subscribers in one task of its Lua state
// (lj/lua/kv.lua, I.tasks[0]), started when the loop's first event comes
// (and again after the CPU watchdog stopped it). Events are queued per
// loop and handed to the task in batches while it waits. An event is
// delivered to the loops that subscribed to its name: with shared.redis,
// the events of every process (this one's too) come back from Redis's
// pub/sub; without, an emit posts them to this generation's loops
// directly.

// MaxBusQueued bounds the bytes of events queued for one loop and not yet
// taken by its subscribers; past it, events for that loop are dropped
// (and counted in the log).
const MaxBusQueued = 64 << 20

// busBatch bounds what one hand-over to the subscribers' task carries.
const busBatch = 256 << 10

// busHub is a generation's bus: which loops subscribe to which names.
type busHub struct {
	mu      sync.RWMutex
	names   map[string][]*loopState
	once    sync.Once // starts the Redis subscription
	stopSub func()    // stops it; nil: not started
	dropped atomic.Int64
}

// busLoop is a loop's side of the bus; used on the loop only, except
// queued.
type busLoop struct {
	queue   []lj.BusEvent
	queued  atomic.Int64 // bytes posted to the loop and not taken yet
	pump    *cgo.Stream  // the subscribers' task once it waited; nil: not running
	waiting func()       // its resume while it waits for events
}

// subscribe makes ls receive the events called name.
func (hb *busHub) subscribe(s *Server, ls *loopState, name string) {
	hb.mu.Lock()
	if hb.names == nil {
		hb.names = map[string][]*loopState{}
	}
	for _, l := range hb.names[name] {
		if l == ls {
			hb.mu.Unlock()
			return
		}
	}
	hb.names[name] = append(hb.names[name], ls)
	hb.mu.Unlock()
	if r := s.sharedState.redis; r != nil {
		hb.once.Do(func() {
			hb.mu.Lock()
			hb.stopSub = r.Subscribe(func(name, data string) { hb.publish(s.log, name, data) }, s.log)
			hb.mu.Unlock()
		})
	}
}

// publish queues an event for every loop that subscribes to its name.
// Safe from any goroutine.
func (hb *busHub) publish(log *slog.Logger, name, data string) {
	hb.mu.RLock()
	loops := hb.names[name]
	hb.mu.RUnlock()
	n := int64(len(name) + len(data))
	for _, ls := range loops {
		if ls.bus.queued.Add(n) > MaxBusQueued {
			ls.bus.queued.Add(-n)
			if d := hb.dropped.Add(1); d&(d-1) == 0 { // the 1st, 2nd, 4th, 8th...
				log.Warn("core.bus: a loop's subscribers are behind; events dropped", "event", name, "dropped", d)
			}
			continue
		}
		ev := lj.BusEvent{Name: name, Data: data}
		ls.loop.Post(func() { ls.bus.push(ls, ev) })
	}
}

func (hb *busHub) stop() {
	hb.mu.Lock()
	stop := hb.stopSub
	hb.stopSub = nil
	hb.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// push queues ev on the loop and hands it over if the task waits, or
// starts the task.
func (b *busLoop) push(ls *loopState, ev lj.BusEvent) {
	b.queue = append(b.queue, ev)
	switch {
	case b.waiting != nil:
		resume := b.waiting
		b.waiting = nil
		lj.BusEvents(b.pump, b.take())
		resume()
	case b.pump == nil:
		if err := stream.Task(&ls.env, 0); err != nil {
			ls.loop.Log.Error("core.bus: cannot start the subscribers' task", "err", err)
		}
	}
}

// wait is the subscribers' task s waiting for events.
func (b *busLoop) wait(ls *loopState, s *cgo.Stream, resume func()) {
	b.pump = s
	if len(b.queue) == 0 {
		b.waiting = resume
		return
	}
	lj.BusEvents(s, b.take())
	ls.loop.Post(resume)
}

// take removes a batch of events from the queue.
func (b *busLoop) take() []lj.BusEvent {
	n, size := 0, 0
	for n < len(b.queue) && (n == 0 || size < busBatch) {
		size += len(b.queue[n].Name) + len(b.queue[n].Data)
		n++
	}
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil
	}
	b.queued.Add(-int64(size))
	return batch
}

// bus_subscribe(name): the calling loop receives the events called name.
func goBusSubscribe(c *cgo.Call) int {
	ls, ok := lj.Host(c).(*loopState)
	if !ok || ls.loop == nil { // luaedge check: no loop to deliver to
		return 0
	}
	ls.srv.sharedState.bus.subscribe(ls.srv, ls, c.String(1))
	return 0
}

// bus_emit(name, data) -> true: core.bus.emit without Redis.
func goBusEmit(c *cgo.Call) int {
	ls, ok := lj.Host(c).(*loopState)
	if !ok || ls.loop == nil {
		c.PushBool(true)
		return 1
	}
	ls.srv.sharedState.bus.publish(ls.loop.Log, c.String(1), c.String(2))
	c.PushBool(true)
	return 1
}
