package edge

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/proxyproto"
	"github.com/luaedge/luaedge/transport"
)

// connSlots bounds the client connections open at once, over every loop:
// a frontend's maxconn, or the top-level one. A connection that finds
// them all taken waits, unread, in the order of arrival, for one to be
// given back; at most max wait (as HAProxy's listen backlog defaults to
// maxconn), and one past them is refused. Shared by every loop of a
// generation.
type connSlots struct {
	max  int64
	open atomic.Int64 // slots taken
	// waiting is len(queue), so that release looks at the queue only
	// when someone waits.
	waiting atomic.Int64

	mu sync.Mutex
	// queue holds what admits each waiting connection, in arrival order;
	// guarded by mu. An admit gets a slot taken for its connection and
	// must not block (it posts to the connection's loop).
	queue []func()
}

func newConnSlots(max int) *connSlots {
	if max <= 0 {
		return nil
	}
	return &connSlots{max: int64(max)}
}

// state reads the bound, the slots taken and the connections waiting;
// zero for no bound (nil).
func (s *connSlots) state() metrics.ConnLimit {
	if s == nil {
		return metrics.ConnLimit{}
	}
	return metrics.ConnLimit{Max: s.max, Open: s.open.Load(), Waiting: s.waiting.Load()}
}

// What acquire did.
const (
	slotTaken = iota
	slotQueued
	slotRefused
)

// acquire takes a slot, or queues admit, which is called with a slot
// taken once one is free.
func (s *connSlots) acquire(admit func()) int {
	if s.take() {
		return slotTaken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(len(s.queue)) >= s.max {
		return slotRefused
	}
	s.queue = append(s.queue, admit)
	s.waiting.Add(1)
	// A slot given back between take and the append saw nobody waiting:
	// look again now that admit is in the queue.
	s.admit()
	return slotQueued
}

// take takes a slot if one is free.
func (s *connSlots) take() bool {
	for {
		n := s.open.Load()
		if n >= s.max {
			return false
		}
		if s.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release gives a slot back, to the first connection waiting if any.
func (s *connSlots) release() {
	s.open.Add(-1)
	if s.waiting.Load() == 0 {
		return
	}
	s.mu.Lock()
	s.admit()
	s.mu.Unlock()
}

// admit hands the free slots to the connections waiting first; s.mu is
// held.
func (s *connSlots) admit() {
	for len(s.queue) > 0 && s.take() {
		admit := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.waiting.Add(-1)
		admit()
	}
}

// pendingConn is a client connection before its protocol's handler: it
// takes its connection slots (frontend, then top-level maxconn), reads
// its PROXY protocol header on an accept_proxy frontend, then hands its
// events to the handler of its frontend's protocol. It belongs to its
// loop.
type pendingConn struct {
	s *Server
	l *eventloop.Loop
	f *frontend
	c transport.Conn

	held      []*connSlots      // slots taken, given back when the connection closes
	h         eventloop.Handler // the protocol's handler, once made
	paused    bool              // reading stopped while it waits for a slot
	proxyRead bool              // the PROXY header was read (or none is expected)
	timer     *time.Timer       // bounds the wait for the PROXY header
	closed    bool
}

// pending makes the handler of connection c of frontend f when it has a
// connection bound or takes a PROXY header; nil refuses it.
func (s *Server) pending(l *eventloop.Loop, f *frontend, c transport.Conn) eventloop.Handler {
	pc := &pendingConn{s: s, l: l, f: f, c: c, proxyRead: !f.cfg.AcceptProxy}
	if !pc.next() {
		return nil
	}
	return pc
}

// next takes the connection through what it has not passed yet: its
// slots, its PROXY header, then its protocol. It returns false when the
// connection is refused (no room to wait for a slot): close it.
func (pc *pendingConn) next() bool {
	for _, sl := range [...]*connSlots{pc.f.slots, pc.s.slots} {
		if sl == nil || pc.holds(sl) {
			continue
		}
		switch sl.acquire(func() { pc.l.Post(func() { pc.admitted(sl) }) }) {
		case slotTaken:
			pc.held = append(pc.held, sl)
		case slotQueued:
			pc.pause()
			return true
		default:
			return false
		}
	}
	pc.resume()
	if !pc.proxyRead {
		if pc.timer == nil {
			pc.timer = pc.l.After(pc.f.cfg.Timeouts.ProxyHeader.D(), pc.expire)
		}
		pc.readProxy()
		return true
	}
	pc.serve()
	return true
}

func (pc *pendingConn) holds(sl *connSlots) bool {
	for _, h := range pc.held {
		if h == sl {
			return true
		}
	}
	return false
}

// admitted is run on the loop when sl gave the waiting connection a slot.
func (pc *pendingConn) admitted(sl *connSlots) {
	if pc.closed {
		sl.release()
		return
	}
	pc.held = append(pc.held, sl)
	if !pc.next() {
		pc.c.Close()
	}
}

// pause stops reading a connection that waits for a slot: its client's
// bytes stay in the kernel, as those of a connection not accepted yet.
func (pc *pendingConn) pause() {
	if !pc.paused {
		pc.paused = true
		pc.c.PauseRead()
	}
}

func (pc *pendingConn) resume() {
	if pc.paused {
		pc.paused = false
		pc.c.ResumeRead()
	}
}

// readProxy reads the PROXY header once it is complete: its addresses
// replace the connection's own (a LOCAL header keeps them), and the
// protocol starts on what follows it. A connection that does not start
// with a valid header is closed.
func (pc *pendingConn) readProxy() {
	var hd proxyproto.Header
	n, err := proxyproto.Parse(pc.c.Peek(), &hd)
	if errors.Is(err, proxyproto.ErrIncomplete) {
		return
	}
	if err != nil {
		pc.l.Log.Debug("PROXY protocol header refused", "frontend", pc.f.cfg.Name, "client", pc.c.RemoteAddr(), "err", err)
		pc.c.Close()
		return
	}
	pc.proxyRead = true
	pc.timer.Stop()
	if !hd.Local {
		if a, ok := pc.c.(interface{ SetAddrs(remote, local net.Addr) }); ok {
			a.SetAddrs(net.TCPAddrFromAddrPort(hd.Src), net.TCPAddrFromAddrPort(hd.Dst))
		}
	}
	// The TLVs alias the connection's input, discarded below: the
	// connection keeps a copy (none made when the header had none).
	if len(hd.TLVs) > 0 {
		if p, ok := pc.c.(interface{ SetProxyTLVs([]byte) }); ok {
			p.SetProxyTLVs(bytes.Clone(hd.TLVs))
		}
	}
	pc.c.Discard(n)
	pc.serve()
}

// expire closes a connection whose PROXY header did not come in time.
func (pc *pendingConn) expire() {
	if !pc.proxyRead && !pc.closed {
		pc.l.Log.Debug("PROXY protocol header timeout", "frontend", pc.f.cfg.Name, "client", pc.c.RemoteAddr())
		pc.c.Close()
	}
}

// serve hands the connection to its frontend's protocol, with what
// arrived already.
func (pc *pendingConn) serve() {
	pc.h = pc.s.handler(pc.l, pc.f, pc.c)
	if pc.h == nil {
		pc.c.Close()
		return
	}
	if pc.c.Inbound() > 0 {
		pc.h.OnTraffic()
	}
}

func (pc *pendingConn) OnTraffic() {
	switch {
	case pc.h != nil:
		pc.h.OnTraffic()
	case !pc.paused && !pc.proxyRead:
		pc.readProxy()
	}
}

func (pc *pendingConn) OnClose(err error) {
	pc.closed = true
	if pc.timer != nil {
		pc.timer.Stop()
	}
	if pc.h != nil {
		pc.h.OnClose(err)
	}
	for _, sl := range pc.held {
		sl.release()
	}
	pc.held = nil
}
