package eventloop

import (
	"context"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
)

// tcpConn is a client connection of a mode: tcp frontend. One coroutine
// runs its tcp-request rules (which read the client's bytes through
// txn.req), then either its TCP service (AppletTCP) or forwarding: the
// connection is then piped to a server, after the tcp-response rules saw
// the server's first bytes.
type tcpConn struct {
	l    *Loop
	fe   *frontendState
	c    gnet.Conn
	id   int64
	th   *cgo.Thread
	gen  uint64
	busy bool

	// out holds what the running handler sends to the client: borrowed
	// from the loop's pool and given back empty by flushOut, as h1Conn.out.
	out      []byte
	src      []byte    // client address, for balance source
	sessVars bool      // the scripts set sess.* variables: drop them at close
	trackKey string    // the client's key in the frontend's tracking table
	bytes    byteCount // bytes exchanged with the client not yet in the tracking table
	closed   bool
	closing  bool
	waiting  bool // the coroutine waits for client bytes (OpRecv)
	lastSeen time.Time

	// Forwarding.
	be        *proxyBackend
	up        *tcpUpstream
	srv       *backend.Server
	awaitHead bool // the tcp-response rules wait for the server's first bytes
}

// tcpUpstream is the server side of a forwarded TCP connection.
type tcpUpstream struct {
	t       *tcpConn
	c       gnet.Conn // nil while connecting
	pending []byte
	closed  bool
	timer   *time.Timer
}

// tcpUpCtx marks a gnet connection as a tcpUpstream (its context).
type tcpUpCtx struct{ u *tcpUpstream }

func newTCPConn(l *Loop, fe *frontendState, c gnet.Conn, id int64) *tcpConn {
	t := &tcpConn{l: l, fe: fe, c: c, id: id, lastSeen: l.now}
	l.tcps[t] = struct{}{}
	if t.trackKey = trackKey(fe.track, c.RemoteAddr()); t.trackKey != "" {
		fe.track.ConnOpen(t.trackKey)
	}
	th, err := l.lua.Thread()
	if err != nil {
		l.log.Error("no coroutine for a connection", "err", err)
		t.closeNow()
		return t
	}
	t.th = th
	s := th.S
	s.Reset(lj.EntryTCP, fe.program, id)
	var src, dst []byte
	var sp, dp int
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src, sp = []byte(a.IP.String()), a.Port
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		dst, dp = []byte(a.IP.String()), a.Port
	}
	s.SetAddrs(src, sp, dst, dp)
	t.src = src
	t.work(t.resume)
	return t
}

// work runs fn with the connection marked busy, then flushes and frees
// what a close left behind.
func (t *tcpConn) work(fn func()) {
	t.busy = true
	fn()
	t.flushOut()
	t.busy = false
	t.afterWork()
}

func (t *tcpConn) onTraffic() gnet.Action {
	t.l.event()
	t.lastSeen = t.l.now
	buf, _ := t.c.Next(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	t.countBytes(int64(len(buf)), 0)
	if t.up != nil {
		t.up.write(buf)
		if t.up.c != nil {
			u := t.up
			t.l.throttle(t.c, u.c, func() bool { return t.up != u || t.closed || u.closed })
		}
		return gnet.None
	}
	if t.th == nil {
		return gnet.None // the rules or service are over; the rest is dropped
	}
	t.th.S.AppendBody(buf)
	if t.waiting {
		t.waiting = false
		t.work(t.resume)
	}
	return gnet.None
}

// resume runs the coroutine one step and acts on what it yielded for.
func (t *tcpConn) resume() {
	th := t.th
	ok, msg := th.Resume()
	if !ok {
		t.l.log.Error("Lua script failed", "frontend", t.fe.cfg.Name, "err", msg)
		th.Free()
		t.th = nil
		t.closeNow()
		return
	}
	s := th.S
	op, arg := s.Op()
	if s.Flags()&cgo.FlagSockopt != 0 {
		applySockopts(t.c, s, t.l)
	}
	t.sendOut()
	if op == cgo.OpDone && s.Flags()&cgo.FlagFailed != 0 {
		t.l.log.Error("Lua script failed", "frontend", t.fe.cfg.Name, "err", string(s.Err()))
		t.release()
		t.closeNow()
		return
	}
	if t.awaitHead && op == cgo.OpDone {
		// The tcp-response rules ran on the server's first bytes.
		t.awaitHead = false
		t.writeClient(s.TakeBody())
		t.release()
		return
	}
	switch op {
	case cgo.OpDone:
		if s.Flags()&cgo.FlagForward != 0 && s.Flags()&cgo.FlagAbort == 0 && t.up == nil {
			t.forward(false)
			return
		}
		// A service returned, or the rules ended the connection.
		t.release()
		t.closing = true
	case cgo.OpForward:
		t.forward(true)
	case cgo.OpRecv:
		if s.Flags()&cgo.FlagBodyEnd != 0 {
			t.park(0)
		} else {
			t.waiting = true
		}
	case cgo.OpSleep:
		t.park(time.Duration(arg * float64(time.Millisecond)))
	case cgo.OpYield:
		t.park(yieldDelay)
	case cgo.OpFlush:
		t.parkUntilDrained()
	case cgo.OpSocket:
		t.l.socketOp(s, t.resumeTask(t.gen))
	default:
		t.l.log.Error("Lua script yielded an unknown op", "op", op)
		t.release()
		t.closeNow()
	}
}

func (t *tcpConn) resumeTask(gen uint64) func() {
	return func() {
		if t.closed || t.gen != gen || t.th == nil {
			return
		}
		t.work(t.resume)
	}
}

// parkUntilDrained holds a service that flushed while the client has a
// backlog over outboundHighWater (see h1Conn.parkUntilDrained).
func (t *tcpConn) parkUntilDrained() {
	if t.c.OutboundBuffered() <= outboundHighWater {
		t.park(0)
		return
	}
	task := t.resumeTask(t.gen)
	var check func()
	check = func() {
		if !t.closed && t.th != nil && t.c.OutboundBuffered() > outboundLowWater {
			t.l.after(relayRecheck, check)
			return
		}
		task()
	}
	t.l.after(relayRecheck, check)
}

func (t *tcpConn) park(d time.Duration) {
	task := t.resumeTask(t.gen)
	if d <= 0 {
		t.l.post(task)
		return
	}
	t.l.after(d, task)
}

// sendOut moves what the script sent to the client into the write buffer.
func (t *tcpConn) sendOut() {
	if t.th == nil {
		return
	}
	s := t.th.S
	if out := s.Out(); len(out) > 0 {
		t.out = append(t.outBuf(), out...)
		s.ConsumeOut()
	}
}

func (t *tcpConn) writeClient(p []byte) {
	if len(p) > 0 {
		t.out = append(t.outBuf(), p...)
	}
}

// outBuf returns the connection's output buffer, borrowing an empty one
// from the loop's pool if the running handler has not written yet.
func (t *tcpConn) outBuf() []byte {
	if t.out == nil {
		t.out = t.l.bufs.get()
	}
	return t.out
}

// flushOut writes what the running handler assembled to the client and
// gives the buffer back to the loop's pool, empty.
func (t *tcpConn) flushOut() {
	if t.out != nil {
		if len(t.out) > 0 && !t.closed {
			t.send(t.out)
			t.lastSeen = t.l.now // sending counts as activity too
		}
		t.l.bufs.put(t.out)
		t.out = nil
	}
	if t.closing && !t.closed {
		_ = t.c.Close()
	}
}

// forward connects to a server of the backend and sends the buffered
// client bytes; keep says the coroutine waits to run tcp-response rules.
func (t *tcpConn) forward(keep bool) {
	s := t.th.S
	be := t.fe.defaultBackend
	if i := s.Backend(); i >= 0 && i < len(t.l.srv.backends) {
		be = t.l.srv.backends[i]
	}
	if be == nil {
		t.l.log.Warn("no backend for a TCP connection", "frontend", t.fe.cfg.Name)
		t.release()
		t.closeNow()
		return
	}
	srv := be.Pick(t.src)
	if srv == nil {
		t.l.log.Warn("no server available", "backend", be.Name())
		t.release()
		t.closeNow()
		return
	}
	addr, err := dialAddrOf(srv.Addr())
	if err != nil {
		srv.Done()
		t.release()
		t.closeNow()
		return
	}
	u := &tcpUpstream{t: t}
	t.up, t.srv, t.be = u, srv, be
	u.pending = append(u.pending, s.TakeBody()...)
	t.awaitHead = keep
	if !keep {
		t.release()
	}
	res, err := t.l.el.Register(gnet.NewContext(context.Background(), tcpUpCtx{u}), addr)
	if err != nil {
		t.upFailed(u, err)
		return
	}
	go func() {
		if r := <-res; r.Err != nil {
			t.l.post(func() { t.upFailed(u, r.Err) })
		}
	}()
	u.timer = t.l.after(be.connectTimeout, func() {
		if u.c == nil && !u.closed {
			t.upFailed(u, errConnectTimeout)
		}
	})
}

func (t *tcpConn) upFailed(u *tcpUpstream, err error) {
	if u.closed {
		return
	}
	t.l.log.Warn("TCP backend connection failed", "frontend", t.fe.cfg.Name, "err", err)
	srv := t.srv
	if u.c == nil && srv != nil {
		srv.ReportConnectError()
	}
	u.close()
	if t.up == u {
		t.work(func() {
			t.release()
			t.closeNow()
		})
	}
}

func (u *tcpUpstream) opened(c gnet.Conn) {
	u.c = c
	if u.timer != nil {
		u.timer.Stop()
	}
	if u.closed {
		_ = c.Close()
		return
	}
	if u.t.srv != nil {
		u.t.srv.ReportConnectOK()
	}
	if len(u.pending) > 0 {
		_, _ = c.Write(u.pending)
		u.pending = nil
	}
}

func (u *tcpUpstream) write(p []byte) {
	if u.closed {
		return
	}
	if u.c == nil {
		u.pending = append(u.pending, p...)
		return
	}
	_, _ = u.c.Write(p)
}

// onTraffic relays the server's bytes to the client, through the
// tcp-response rules the first time if there are any.
func (u *tcpUpstream) onTraffic() {
	t := u.t
	t.l.event()
	t.lastSeen = t.l.now
	if t.closed {
		u.close()
		return
	}
	buf, _ := u.c.Next(-1)
	if t.awaitHead && t.th != nil {
		if op, _ := t.th.S.Op(); op == cgo.OpForward {
			t.th.S.AppendBody(buf)
			t.work(t.resume)
			return
		}
		t.th.S.AppendBody(buf) // the rules are still running (waiting for more)
		if t.waiting {
			t.waiting = false
			t.work(t.resume)
		}
		return
	}
	t.send(buf)
	t.l.throttle(u.c, t.c, func() bool { return t.up != u || t.closed || u.closed })
}

func (u *tcpUpstream) onClose() {
	t := u.t
	was := u.closed
	u.closed = true
	if !was && t.up == u && !t.closed {
		t.work(func() {
			t.release()
			t.closing = true // the server closed: close the client after what is buffered
		})
	}
}

func (u *tcpUpstream) close() {
	if u.closed {
		return
	}
	u.closed = true
	if u.timer != nil {
		u.timer.Stop()
	}
	if u.c != nil {
		_ = u.c.Close()
	}
}

// release gives the coroutine back (or drops it when it is parked).
func (t *tcpConn) release() {
	if t.th == nil {
		return
	}
	t.gen++
	t.l.closeSocketsOf(t.th.S)
	if t.th.S.Flags()&cgo.FlagSessVars != 0 {
		t.sessVars = true
	}
	if op, _ := t.th.S.Op(); op == cgo.OpDone {
		t.l.lua.Release(t.th)
	} else {
		t.th.Free()
	}
	t.th = nil
}

// trackBytesEvery is how many bytes a tracked connection relays between two
// updates of the tracking table, so that long tunnels show up before they end.
const trackBytesEvery = 64 << 10

// send writes p to the client, counting it for the tracking table.
func (t *tcpConn) send(p []byte) {
	t.countBytes(0, int64(len(p)))
	_, _ = t.c.Write(p)
}

// countBytes counts bytes from (in) and to (out) a tracked client.
func (t *tcpConn) countBytes(in, out int64) {
	if t.trackKey == "" {
		return
	}
	t.bytes.in += in
	t.bytes.out += out
	if t.bytes.in+t.bytes.out >= trackBytesEvery {
		t.bytes.addTo(t.fe.track, t.trackKey)
	}
}

func (t *tcpConn) closeNow() {
	t.closing = true
	t.flushOut()
}

func (t *tcpConn) onClose() {
	t.closed = true
	if t.trackKey != "" {
		t.bytes.addTo(t.fe.track, t.trackKey)
		t.fe.track.ConnClose(t.trackKey)
	}
	delete(t.l.tcps, t)
	if u := t.up; u != nil {
		u.close()
	}
	if t.srv != nil {
		t.srv.Done()
		t.srv = nil
	}
	if t.th != nil && t.waiting && !t.busy {
		// Let the service see the end of the client's bytes and return.
		t.waiting = false
		t.th.S.SetFlag(cgo.FlagBodyEnd)
		t.work(t.resume)
	}
	t.afterWork()
}

func (t *tcpConn) afterWork() {
	if t.closed && !t.busy {
		t.release()
		if t.sessVars {
			t.sessVars = false
			t.l.endSession(t.id)
		}
	}
}

// checkIdle closes a connection silent for longer than the frontend's
// keep_alive timeout, or the backend's tunnel timeout once it is piped.
func (t *tcpConn) checkIdle(now time.Time) {
	limit := t.fe.cfg.Timeouts.KeepAlive.D()
	if t.up != nil && t.be != nil && t.be.tunnelTimeout > 0 {
		limit = t.be.tunnelTimeout
	}
	if !t.closed && now.Sub(t.lastSeen) > limit {
		t.work(func() {
			t.release()
			t.closeNow()
		})
	}
}
