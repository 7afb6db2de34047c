package proxy

import (
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/transport"
)

// exchange is one request of a script and its response, from go() until
// the script has read the body's end, let it go (stream:shutdown, or the
// stream object collected), or its request or task ended. It belongs to
// its Client's loop; the response bytes it holds are its own (Go memory),
// copied into the stream's io as the script reads them.
type exchange struct {
	cl    *Client
	id    int
	owner *cgo.Stream // the request or task that made it: only it may read it
	req   clientRequest
	key   origin
	addr  netip.Addr // the server's (its proxy's), once looked up: only a new connection needs it
	// target is the server's address behind a "socks5" proxy, looked up
	// here as addr is, for the proxy to connect to.
	target netip.Addr
	conn   *clientConn // carrying it; nil before it has one and once it ended
	sid    uint32      // its stream on an HTTP/2 connection

	tries        int  // attempts begun (max_attempts bounds them)
	staleRetried bool // sent again once after a pooled connection had closed

	wait      *clientWait // the script waiting on it (&w), if it waits
	w         clientWait  // each wait ends before its script can start the next
	waitLimit timeout     // the script's timeout of wait, in the Client's timeouts
	deadline  timeout     // ClientOptions.Timeout, in the Client's timeouts

	// The response, as it arrives, in buffers of the Client's (buf).
	headDone bool
	head     []byte // the head for Lua (client_request.go), until delivered
	body     []byte // body received, not yet handed to the script
	received int64
	ended    bool
	trailers []byte // "N\n" and the fields, once ended with trailers
	err      *clientError

	// The request body, when it waits: for the server's 100
	// (bodyHeld, expectTimer) or, on HTTP/2, for flow-control credit
	// (pending, with END_STREAM after it if pendingEnd).
	bodyHeld    bool
	expectTimer *time.Timer
	pending     []byte
	pendingEnd  bool

	// A streamed body (req.streamed): the script writes it once told to
	// (bodyOpen), a piece at a time, while the connection keeps up
	// (recheck looks again at an HTTP/1 connection's queue), until the
	// last (bodyEnd). The exchange cannot be sent again once it began.
	bodyOpen bool
	bodyEnd  bool
	sent     int
	recheck  *time.Timer
}

// While a script leaves more than clientHighWater bytes of body unread,
// its HTTP/1 connection is not read; it is again under clientLowWater.
// (On HTTP/2 the stream's flow-control window does the same.)
const (
	clientHighWater = 256 << 10
	clientLowWater  = 64 << 10
)

// headBodyMax bounds the body delivered with the response head: a script
// that only looks at the head does not get the rest in its Lua heap.
const headBodyMax = 64 << 10

// done reports whether the exchange has been let go.
func (ex *exchange) done() bool { return ex.cl.exchanges[ex.id] != ex }

// await makes the script wait on ex for op (SockHTTP: the response head;
// SockHTTPRead: body), for timeout at most (0: no limit of its own).
func (ex *exchange) await(op, want int, timeout time.Duration, resume func()) {
	ex.w = clientWait{s: ex.owner, op: op, want: want, resume: resume}
	ex.wait = &ex.w
	if timeout > 0 {
		ex.cl.timeouts.set(&ex.waitLimit, timeout)
	}
}

// endWait ends the script's wait, if it waits: the caller resumes it, if
// it is to go on.
func (ex *exchange) endWait() {
	if ex.wait != nil {
		ex.wait = nil
		ex.cl.timeouts.stop(&ex.waitLimit)
	}
}

// attempt sends the request on a connection; fresh asks for a new one.
// The server's name (its proxy's, and behind a "socks5" proxy the
// server's too) is looked up only for a new connection.
func (ex *exchange) attempt(fresh bool) {
	ex.tries++
	if !fresh {
		if cc := ex.cl.pooled(ex); cc != nil {
			cc.begin(ex)
			return
		}
	}
	switch {
	case !ex.addr.IsValid():
		ex.lookup(ex.key.dialHost(), &ex.addr)
	case ex.key.proxyScheme == "socks5" && !ex.target.IsValid():
		ex.lookup(ex.key.host, &ex.target)
	default:
		ex.dial()
	}
}

// lookup looks host up into *addr, then goes on with the attempt.
func (ex *exchange) lookup(host string, addr *netip.Addr) {
	ex.cl.dns.Resolve(host, func(addrs []netip.Addr, err error) {
		defer ex.cl.flushReady()
		switch {
		case ex.done():
		case err != nil:
			ex.fail(dnsError(host, err))
		default:
			*addr = addrs[0]
			ex.tries-- // the same attempt
			ex.attempt(true)
		}
	})
}

// dial sends the request on a new connection.
func (ex *exchange) dial() {
	cc, err := ex.cl.dial(ex.key, ex.addr, ex.target)
	if err != nil {
		ex.fail(ioError("connect", err))
		return
	}
	cc.begin(ex)
}

// connFailed is called when the connection carrying ex failed before the
// response ended; stale says it was a pooled connection that failed
// before any byte of the answer (the server closed it while idle), and
// refused that the server did not process the request (HTTP/2
// REFUSED_STREAM or GOAWAY).
func (ex *exchange) connFailed(e *clientError, stale, refused bool) {
	ex.conn = nil
	if ex.done() || ex.err != nil || ex.ended {
		return
	}
	if !ex.headDone && !ex.bodyOpen && (refused || ex.req.idempotent()) {
		switch {
		case stale && !ex.staleRetried:
			ex.staleRetried = true
			ex.tries-- // not one of max_attempts: the request never reached a server
			ex.attempt(true)
			return
		case (e.retry || refused) && ex.tries < ex.req.maxAttempts:
			ex.attempt(true)
			return
		}
	}
	ex.fail(e)
}

// gotHead records the response head (status and fields, copied). The
// connection's handler delivers it once it has taken what else it read:
// the body that came with the head goes to the script in the same resume.
func (ex *exchange) gotHead(status int, version string, reason []byte, n int, field func(int) ([]byte, []byte)) {
	ex.headDone = true
	ex.head = appendHead(ex.cl.buf(), status, version, reason, n, field)
}

// data takes response body bytes (copied); the connection's handler
// delivers them, as gotHead's.
func (ex *exchange) data(p []byte) {
	if max := ex.cl.opt.MaxResponseBody; max > 0 && ex.received+int64(len(p)) > max {
		ex.fail(&clientError{errno: syscall.EMSGSIZE, msg: "response body over http_client.max_response_body (" + strconv.FormatInt(max, 10) + " bytes)"})
		return
	}
	ex.received += int64(len(p))
	if ex.body == nil {
		ex.body = ex.cl.buf()
	}
	ex.body = append(ex.body, p...)
}

// end records the end of the response, with its trailers; the connection
// has let ex go.
func (ex *exchange) end(n int, field func(int) ([]byte, []byte)) {
	ex.conn = nil
	ex.ended = true
	if n > 0 {
		ex.trailers = appendFields(nil, n, field)
	}
	ex.stopTimers()
	ex.deliver()
}

// fail ends the exchange with e: its connection lets it go, and the
// script gets e from its current or next wait.
func (ex *exchange) fail(e *clientError) {
	if ex.done() || ex.err != nil || ex.ended {
		return
	}
	ex.err = e
	ex.cl.putBuf(ex.body)
	ex.body = nil
	ex.stopTimers()
	if cc := ex.conn; cc != nil {
		ex.conn = nil
		cc.abandon(ex)
	}
	ex.deliver()
}

func (ex *exchange) stopTimers() {
	ex.cl.timeouts.stop(&ex.deadline)
	if ex.expectTimer != nil {
		ex.expectTimer.Stop()
		ex.expectTimer = nil
	}
	if ex.recheck != nil {
		ex.recheck.Stop()
		ex.recheck = nil
	}
}

// openBody lets the script write the streamed body: the head has left,
// and no 100 is awaited.
func (ex *exchange) openBody() {
	ex.bodyOpen = true
	ex.deliver()
}

// write sends a piece of the streamed body (the last if end) and makes
// the script wait until the connection takes more, or, after the last,
// for the response head. Once the server answered, nothing more is sent:
// the script gets the head (or the exchange's error).
func (ex *exchange) write(p []byte, end bool, timeout time.Duration, resume func()) {
	ex.await(cgo.SockHTTP, 0, timeout, resume)
	if ex.err == nil && !ex.headDone {
		ex.sent += len(p)
		switch {
		case !ex.bodyOpen || ex.bodyEnd || ex.conn == nil:
			ex.fail(&clientError{errno: syscall.EINVAL, msg: "request body not expected now"})
		case ex.cl.opt.MaxRequestBody > 0 && ex.sent > ex.cl.opt.MaxRequestBody:
			ex.fail(&clientError{errno: syscall.EMSGSIZE, msg: "request body over http_client.max_request_body (" + strconv.Itoa(ex.cl.opt.MaxRequestBody) + " bytes)"})
		default:
			ex.bodyEnd = end
			ex.conn.writeBody(ex, p, end)
		}
	}
	ex.deliver()
}

// writable reports whether the connection of ex takes more of its body
// now: an HTTP/2 stream once the windows took what was written, an
// HTTP/1 connection while its queue is short. Otherwise the script is
// told later: by sendPending, or by a look at the queue a little later.
func (ex *exchange) writable() bool {
	cc := ex.conn
	if cc == nil {
		return false
	}
	if cc.h2 != nil {
		return len(ex.pending) == 0
	}
	if cc.c == nil || cc.c.Outbound() < transport.LowWater {
		return true
	}
	if ex.recheck == nil {
		ex.recheck = ex.cl.loop.After(transport.Recheck, cc.handler(func() {
			ex.recheck = nil
			ex.deliver()
		}))
	}
	return false
}

// release lets the exchange go: what it holds is dropped, and a
// connection still carrying it lets it go (an HTTP/1 one closes, an
// HTTP/2 stream is reset).
func (ex *exchange) release() {
	if ex.done() {
		return
	}
	delete(ex.cl.exchanges, ex.id)
	if n := ex.cl.owned[ex.owner] - 1; n > 0 {
		ex.cl.owned[ex.owner] = n
	} else {
		delete(ex.cl.owned, ex.owner)
	}
	ex.stopTimers()
	if cc := ex.conn; cc != nil {
		ex.conn = nil
		cc.abandon(ex)
	}
	ex.cl.putBuf(ex.body)
	ex.cl.putBuf(ex.head)
	ex.body, ex.head = nil, nil
}

// deliver ends the script's wait if what it waits for is there: the head
// (with the body received so far), or body bytes, or the end, or an
// error. An exchange whose end (or error) went to the script is let go.
func (ex *exchange) deliver() {
	w := ex.wait
	if w == nil {
		return
	}
	if ex.err != nil {
		ex.endWait()
		res := cgo.SockEFail
		if ex.err.errno == syscall.ETIMEDOUT {
			res = cgo.SockETimeout
		}
		w.fail(ex.id, res, ex.err)
		ex.release()
		ex.cl.wake(w)
		return
	}
	out := ex.cl.head[:0]
	n := len(ex.body)
	switch w.op {
	case cgo.SockHTTP:
		if !ex.headDone {
			if ex.bodyOpen && !ex.bodyEnd && ex.writable() {
				// More of the streamed body: sock_arg -1, nothing in io.
				ex.endWait()
				w.finish(ex.id, cgo.SockOK, nil)
				w.s.SetSockArg(-1)
				ex.cl.wake(w)
			}
			return
		}
		out = append(out, ex.head...)
		ex.cl.putBuf(ex.head)
		ex.head = nil
		n = min(n, headBodyMax)
	default: // SockHTTPRead
		if n == 0 && !ex.ended {
			return
		}
		if w.want > 0 && n > w.want {
			n = w.want
		}
	}
	out = append(out, ex.body[:n]...)
	ex.body = ex.body[:copy(ex.body, ex.body[n:])]
	res := cgo.SockOK
	if ex.ended && len(ex.body) == 0 {
		res = cgo.SockEClosed
		out = append(out, ex.trailers...)
	}
	ex.endWait()
	w.finish(ex.id, res, out)
	w.s.SetSockArg(len(ex.trailers))
	if cap(out) <= 64<<10 { // the scratch of a large body is not kept
		ex.cl.head = out[:0]
	}
	if res == cgo.SockEClosed {
		ex.release()
	} else {
		ex.took(n)
	}
	ex.cl.wake(w)
}

// took tells the connection that the script took n body bytes: HTTP/2
// credits them to the server, a paused HTTP/1 connection reads again.
func (ex *exchange) took(n int) {
	cc := ex.conn
	if cc == nil || n == 0 {
		return
	}
	if cc.h2 != nil {
		cc.h2.Consumed(ex.sid, n)
		cc.flush()
		return
	}
	if cc.paused && len(ex.body) < clientLowWater {
		cc.paused = false
		cc.c.ResumeRead()
		cc.cl.loop.Post(cc.handler(cc.traffic)) // what is buffered already
	}
}
