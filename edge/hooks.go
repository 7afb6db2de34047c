package edge

// The hook scripts' events that belong to no request: a client
// connection's connect and close, and flush (docs/hooks.md). The
// request's own hooks run in its stream (lj/lua/hooks.lua).

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// ReadHooks reads the hook scripts cfg enables and its data store (nil:
// cfg has no hooks).
func ReadHooks(cfg *config.Config) (*lj.Hooks, error) {
	if cfg.Hooks == nil {
		return nil, nil
	}
	return lj.ReadHooks(cfg.Hooks.Dir, cfg.Hooks.Enabled(), cfg.Hooks.DataDir)
}

// Why a flush runs (le_stream.ws_code of lj.EntryFlush; lj/lua/hooks.lua).
const (
	flushInterval = 0
	flushStop     = 1
	flushReload   = 2
)

// connAddrs are a connection's addresses as the streams get them, kept
// for the close hooks (a closed connection has none).
type connAddrs struct {
	src, dst         []byte
	srcPort, dstPort int
}

func addrsOf(c transport.Conn) *connAddrs {
	a := &connAddrs{}
	if r, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a.src, a.srcPort = []byte(r.IP.String()), r.Port
	}
	if l, ok := c.LocalAddr().(*net.TCPAddr); ok {
		a.dst, a.dstPort = []byte(l.IP.String()), l.Port
	}
	return a
}

// fill writes the addresses, and connection c's TLS and PROXY TLVs,
// into a hook run's stream, as a request's are.
func (a *connAddrs) fill(s *cgo.Stream, c transport.Conn) {
	s.SetAddrs(a.src, a.srcPort, a.dst, a.dstPort)
	if stream.SetConnTLS(s, c) {
		stream.SetHTTPS(s)
	}
	stream.SetConnProxy(s, c)
}

// connectHooks runs frontend f's connect hooks for connection c (id id)
// as it is accepted. It returns false when a hook finished the connection
// (set_finish) at once: it is refused. A hook that waits goes on while
// the connection is served, and closes it if it finishes it.
func (ls *loopState) connectHooks(f *frontend, c transport.Conn, id int64) bool {
	refused, now := false, true
	addrs := addrsOf(c)
	stream.RunHooks(&ls.env, lj.EntryConnect, ls.programs[f.index], id, func(s *cgo.Stream) { addrs.fill(s, c) }, func(finish bool) {
		switch {
		case !finish:
		case now:
			refused = true
		default:
			c.Close()
		}
	})
	now = false
	return !refused
}

// closeHooks runs frontend f's close hooks for connection c (id id, its
// addresses addrs), which closed: posted, so that they come after the
// after_response hooks of its last requests, posted before.
func (ls *loopState) closeHooks(f *frontend, c transport.Conn, id int64, addrs *connAddrs) {
	prog := ls.programs[f.index]
	ls.loop.Post(func() {
		stream.RunHooks(&ls.env, lj.EntryClose, prog, id, func(s *cgo.Stream) { addrs.fill(s, c) }, nil)
	})
}

// flush runs the scripts' flush.lua on the loop (for why: flushInterval,
// flushStop, flushReload); done, if not nil, is called once they ran.
// opts.session names this flush: when, which worker, which of its
// flushes.
func (ls *loopState) flush(why int, done func()) {
	ls.flushes++
	session := time.Now().UTC().Format("20060102T150405") + "-w" + strconv.Itoa(ls.loop.ID) + "-" + strconv.Itoa(ls.flushes)
	stream.RunHooks(&ls.env, lj.EntryFlush, why, 0, func(s *cgo.Stream) { s.SetWS(0, why, []byte(session)) }, func(bool) {
		if done != nil {
			done()
		}
	})
}

// finalFlush runs the scripts' flush.lua on every loop as the server
// stops (a reload: retire false) and waits for them, at most until ctx
// ends.
func (s *Server) finalFlush(ctx context.Context, retire bool) {
	if s.hooks == nil || s.hooks.Has(s.cfg.Hooks.Enabled())&lj.HookFlush == 0 {
		return
	}
	why := flushStop
	if retire {
		why = flushReload
	}
	loops := s.loopStates()
	done := make(chan struct{}, len(loops))
	for _, ls := range loops {
		ls.loop.Post(func() { ls.flush(why, func() { done <- struct{}{} }) })
	}
	for range loops {
		select {
		case <-done:
		case <-ctx.Done():
			s.log.Warn("hook scripts' flush did not end in time", "err", ctx.Err())
			return
		}
	}
}
