package proxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
	"github.com/luaedge/luaedge/proto/socks"
	"github.com/luaedge/luaedge/transport"
)

// clientConn is a connection of a loop's Client to an origin: HTTP/1.1,
// carrying one exchange at a time, or HTTP/2, carrying many (chosen by
// ALPN over TLS, or asked for with version 2 in clear text). It belongs
// to the loop that dialled it.
//
// Its layers, from the socket up, each made once the one under it is
// ready: the TCP connection (raw); the TLS with an https proxy (ptls);
// the tunnel a proxy opens (a CONNECT, or SOCKS5), while which the
// proxy's answers are read from tunnel; the TLS with an https server
// (tc). The gnet events go down that stack (OnTraffic, proxyLayer,
// clearClientConn) to traffic.
type clientConn struct {
	cl     *Client
	key    origin
	target netip.Addr // the server's address for a "socks5" proxy

	c         transport.Conn   // the top layer, once ready; nil before
	raw       *transport.Plain // from the connection's open
	ptls      *transport.TLS   // the TLS with an https proxy; nil: none
	tc        *transport.TLS   // the TLS with an https server; nil: clear text
	tunnel    transport.Layer  // while the proxy's answers to our CONNECT or SOCKS5 requests are awaited
	socksWait socksStep        // the SOCKS5 answer awaited
	pending   []byte           // written before the connection opened
	closed    bool
	timer     *time.Timer // the connect timeout
	waiting   []*exchange // exchanges begun before it was ready

	// sock is the script's socket that a tunnel its CONNECT opened became
	// (stream.connection:take_socket()): the connection's events go to
	// it, and the client no longer knows the connection.
	sock *luaSocket

	reused    bool      // it has carried an exchange to its end before
	idleSince time.Time // since it carries none

	// HTTP/1: the exchange it carries, and the response's framing.
	ex       *exchange
	resp     http1.Response
	headDone bool
	gotBytes bool // some of the answer arrived
	noReuse  bool // the request did not end as framed (its body withheld)
	mode     http1.BodyMode
	left     int64
	dec      http1.ChunkedDecoder
	paused   bool // not read: its exchange's script is behind

	// HTTP/2.
	h2      *http2.ClientConn
	streams map[uint32]*exchange
	busy    bool        // inside a handler: frames are flushed as it ends
	fed     []*exchange // the exchanges one Feed's events concerned, delivered to after them
}

// dial opens a new connection to the origin key at addr (its proxy's);
// target is the server's address behind a "socks5" proxy.
func (c *Client) dial(key origin, addr, target netip.Addr) (*clientConn, error) {
	cc := &clientConn{cl: c, key: key, target: target}
	if err := c.loop.Dial(addrPort(addr, key.dialPort()), cc); err != nil {
		return nil, err
	}
	if t := c.opt.ConnectTimeout; t > 0 {
		cc.timer = c.loop.After(t, cc.handler(func() {
			if cc.c == nil && !cc.closed {
				cc.failAll(&clientError{errno: syscall.ETIMEDOUT, msg: "connect to " + key.dialHost() + " timed out"})
			}
		}))
	}
	return cc, nil
}

// handler wraps fn as a handler of the client: the scripts whose waits
// it ended are resumed once it returns.
func (cc *clientConn) handler(fn func()) func() {
	return func() {
		fn()
		cc.cl.flushReady()
	}
}

// begin sends ex on the connection, or queues it until it is ready.
func (cc *clientConn) begin(ex *exchange) {
	ex.conn = cc
	switch {
	case cc.closed:
		ex.connFailed(&clientError{errno: syscall.ECONNRESET, msg: "connection closed", retry: true}, false, false)
	case cc.c == nil:
		cc.waiting = append(cc.waiting, ex)
	case cc.h2 != nil:
		cc.startH2(ex)
	default:
		cc.startH1(ex)
	}
}

// DialFailed is called on the loop when the dial failed.
func (cc *clientConn) DialFailed(err error) {
	cc.failAll(ioError("connect to "+cc.key.dialHost(), err))
	cc.cl.flushReady()
}

// Opened is called on the loop when the dial completed (eventloop dials
// Plain connections): the layers above it follow, the TLS handshakes on
// the pool's goroutines.
func (cc *clientConn) Opened(c transport.Conn) {
	defer cc.cl.flushReady()
	p := c.(*transport.Plain)
	if cc.closed {
		p.Close()
		return
	}
	cc.raw = p
	if len(cc.waiting) == 0 { // its exchanges went away meanwhile
		cc.close()
		return
	}
	if cc.key.proxyScheme != "https" {
		cc.proxyOpen(p)
		return
	}
	o := transport.TLSOptions{Loop: cc.cl.loop, Pool: cc.cl.hs}
	cc.ptls = transport.NewClientTLS(p, cc.cl.tlsConfig(cc.key.proxyTLS()), o, func(t *transport.TLS, err error) transport.Handler {
		defer cc.cl.flushReady()
		if err != nil {
			cc.failAll(ioError("TLS handshake with proxy "+cc.key.proxyHost, err))
			return nil
		}
		if cc.closed {
			return nil
		}
		cc.proxyOpen(t)
		return (*proxyLayer)(cc)
	})
}

// proxyOpen goes on once the connection to the proxy (or to the server,
// without one) is open: the tunnel is asked for, if the origin is behind
// one, else the connection is secured.
func (cc *clientConn) proxyOpen(c transport.Layer) {
	switch {
	case cc.key.viaSocks():
		cc.tunnel, cc.socksWait = c, socksMethod
		c.Write(socks.AppendGreeting(cc.cl.head[:0], cc.key.proxyUser != "" || cc.key.proxyPass != ""))
	case cc.key.httpTunnel():
		cc.tunnel = c
		c.Write(cc.key.appendConnect(cc.cl.head[:0]))
	default:
		cc.secure(c)
	}
}

// secure starts the TLS with an https server on c; over clear text the
// connection is ready at once.
func (cc *clientConn) secure(c transport.Layer) {
	if cc.key.https {
		cc.startTLS(c)
		return
	}
	cc.ready(c, cc.key.version == "2")
}

// proxyAnswer reads the proxy's answer to the CONNECT: a 2xx opens the
// tunnel, in which the TLS with the server starts; anything else fails
// the connection (ECONNREFUSED, as lua-http reports it).
func (cc *clientConn) proxyAnswer() {
	p := cc.tunnel
	for !cc.closed {
		n, err := cc.resp.Parse(p.Peek(), []byte("CONNECT"), respLimits(cc.cl.opt))
		switch {
		case err == http1.ErrIncomplete:
			return
		case err != nil:
			cc.failAll(&clientError{errno: syscall.EPROTO, msg: "invalid answer from proxy " + cc.key.proxyHost + ": " + err.Error()})
			return
		case cc.resp.Status < 200:
			p.Discard(n)
			continue
		case cc.resp.Status > 299:
			cc.failAll(&clientError{errno: syscall.ECONNREFUSED,
				msg: "proxy " + cc.key.proxyHost + " answered " + strconv.Itoa(cc.resp.Status) + " to CONNECT " + cc.key.host})
			return
		}
		p.Discard(n)
		cc.tunnel = nil
		cc.secure(p)
		return
	}
}

// startTLS starts the TLS handshake with the server on p; the connection
// is ready once it is done.
func (cc *clientConn) startTLS(p transport.Layer) {
	o := transport.TLSOptions{Loop: cc.cl.loop, Pool: cc.cl.hs}
	cc.tc = transport.NewClientTLS(p, cc.cl.tlsConfig(cc.key), o, func(t *transport.TLS, err error) transport.Handler {
		defer cc.cl.flushReady()
		if err != nil {
			cc.failAll(ioError("TLS handshake with "+cc.key.host, err))
			return nil
		}
		if cc.closed {
			return nil
		}
		h2 := t.State().NegotiatedProtocol == "h2"
		if cc.key.version == "2" && !h2 {
			cc.failAll(&clientError{errno: syscall.EPROTO, msg: cc.key.host + " did not agree to HTTP/2 (ALPN)"})
			return nil
		}
		cc.ready(t, h2)
		return (*clearClientConn)(cc)
	})
}

// clearClientConn is a clientConn as the handler of its TLS connection's
// clear side.
type clearClientConn clientConn

func (c *clearClientConn) OnTraffic()        { (*clientConn)(c).traffic() }
func (c *clearClientConn) OnClose(err error) { (*clientConn)(c).onClose(err) }

// proxyLayer is a clientConn as the handler of the clear side of its
// TLS with an https proxy: the events go on to the TLS with the server,
// if any.
type proxyLayer clientConn

func (c *proxyLayer) OnTraffic()        { (*clientConn)(c).overProxy() }
func (c *proxyLayer) OnClose(err error) { (*clientConn)(c).closeOverProxy(err) }

// OnTraffic is the gnet event of the connection: its lowest TLS's, if
// any.
func (cc *clientConn) OnTraffic() {
	if cc.ptls != nil {
		cc.ptls.OnTraffic()
		return
	}
	cc.overProxy()
}

// OnClose is the gnet event of the connection: its lowest TLS's, if any.
func (cc *clientConn) OnClose(err error) {
	if cc.ptls != nil {
		cc.ptls.OnClose(err)
		return
	}
	cc.closeOverProxy(err)
}

// overProxy handles what arrived over the connection to the proxy (or
// the server): the TLS with the server's, if any.
func (cc *clientConn) overProxy() {
	if cc.tc != nil {
		cc.tc.OnTraffic()
		return
	}
	cc.traffic()
}

func (cc *clientConn) closeOverProxy(err error) {
	if cc.tc != nil {
		cc.tc.OnClose(err)
		return
	}
	cc.onClose(err)
}

// ready starts using c: the exchanges waiting for it leave.
func (cc *clientConn) ready(c transport.Conn, h2 bool) {
	cc.c = c
	if cc.timer != nil {
		cc.timer.Stop()
		cc.timer = nil
	}
	if len(cc.pending) > 0 {
		c.Write(cc.pending)
		cc.pending = nil
	}
	waiting := cc.waiting
	cc.waiting = nil
	if h2 {
		cc.h2 = http2.NewClientConn(http2.Limits{MaxHeaderListSize: cc.cl.opt.MaxResponseHead})
		cc.streams = map[uint32]*exchange{}
		cc.idleSince = cc.cl.loop.Now()
		cc.cl.h2[cc.key] = append(cc.cl.h2[cc.key], cc)
		for _, ex := range waiting {
			cc.startH2(ex)
		}
		cc.flush()
		return
	}
	for i, ex := range waiting {
		if i == 0 {
			cc.startH1(ex)
		} else {
			ex.attempt(false) // an HTTP/1 connection carries one at a time
		}
	}
}

// write sends p, or holds it until the connection opens.
func (cc *clientConn) write(p []byte) {
	if cc.closed {
		return
	}
	if cc.c == nil {
		cc.pending = append(cc.pending, p...)
		return
	}
	cc.c.Write(p)
}

// traffic handles what the server sent.
func (cc *clientConn) traffic() {
	defer cc.cl.flushReady()
	switch {
	case cc.sock != nil:
		cc.sock.traffic()
	case cc.closed:
	case cc.socksWait != 0:
		cc.socksAnswer()
	case cc.tunnel != nil:
		cc.proxyAnswer()
	case cc.h2 != nil:
		cc.trafficH2()
	default:
		cc.trafficH1()
	}
}

// onClose is called when the connection closed.
func (cc *clientConn) onClose(err error) {
	defer cc.cl.flushReady()
	if cc.sock != nil {
		cc.sock.onClose()
		return
	}
	if cc.closed {
		return
	}
	if ex := cc.ex; ex != nil && cc.headDone && cc.mode == http1.BodyClose {
		cc.finishH1() // the close ends the body
	}
	if err == nil {
		err = fmt.Errorf("closed by the server")
	}
	cc.failAll(ioError("connection to "+cc.key.host, err))
}

// failAll closes the connection and fails (or sends again) every
// exchange on it.
func (cc *clientConn) failAll(e *clientError) {
	stale := cc.reused && !cc.gotBytes
	exs := cc.waiting
	cc.waiting = nil
	if cc.ex != nil {
		exs = append(exs, cc.ex)
		cc.ex = nil
	}
	for _, ex := range cc.streams {
		exs = append(exs, ex)
	}
	clear(cc.streams)
	cc.close()
	for _, ex := range exs {
		ex.connFailed(e, stale, false)
	}
}

// close closes the connection and takes it out of the pool.
func (cc *clientConn) close() {
	if cc.closed {
		return
	}
	cc.closed = true
	if cc.timer != nil {
		cc.timer.Stop()
		cc.timer = nil
	}
	if cc.c != nil {
		cc.c.Close()
	} else if cc.raw != nil {
		cc.raw.Close() // while its layers are made
	}
	pool := cc.cl.idle
	if cc.h2 != nil {
		pool = cc.cl.h2
	}
	list := pool[cc.key]
	for i, x := range list {
		if x == cc {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(pool, cc.key)
	} else {
		pool[cc.key] = list
	}
}

// abandon lets ex go before its response ended: an HTTP/1 connection
// cannot carry another exchange until that response is read, so it
// closes; an HTTP/2 stream is reset.
func (cc *clientConn) abandon(ex *exchange) {
	for i, w := range cc.waiting {
		if w == ex {
			cc.waiting = append(cc.waiting[:i:i], cc.waiting[i+1:]...)
			return
		}
	}
	if cc.h2 != nil {
		if cc.streams[ex.sid] == ex {
			delete(cc.streams, ex.sid)
			cc.h2.Reset(ex.sid, http2.ErrCodeCancel)
			cc.noteIdle()
			cc.flush()
		}
		return
	}
	if cc.ex == ex {
		cc.ex = nil
		cc.close()
	}
}

// --- HTTP/1.1 ---

// startH1 sends the request of ex; its body waits for a 100 when it
// asks for one.
func (cc *clientConn) startH1(ex *exchange) {
	cc.ex = ex
	ex.conn = cc
	cc.headDone, cc.gotBytes, cc.noReuse, cc.paused = false, false, false, false
	r := &ex.req
	b := r.appendHTTP1Head(cc.cl.head[:0])
	held := r.expects100()
	if !held && !r.streamed {
		b = append(b, r.body...)
	}
	cc.write(b)
	cc.cl.head = b[:0]
	switch {
	case held:
		cc.holdBody(ex)
	case r.streamed:
		ex.openBody()
	}
}

// holdBody holds the request body of ex until the server's 100, or the
// request's expect-100 wait.
func (cc *clientConn) holdBody(ex *exchange) {
	ex.bodyHeld = true
	ex.expectTimer = cc.cl.loop.After(ex.req.expect100, cc.handler(func() {
		ex.expectTimer = nil
		if ex.conn == cc && ex.bodyHeld {
			cc.sendHeldBody(ex)
		}
	}))
}

// sendHeldBody sends the body held for a 100; a streamed one, the script
// may write now.
func (cc *clientConn) sendHeldBody(ex *exchange) {
	ex.bodyHeld = false
	if ex.expectTimer != nil {
		ex.expectTimer.Stop()
		ex.expectTimer = nil
	}
	switch {
	case ex.req.streamed:
		ex.openBody()
	case cc.h2 != nil:
		ex.pending, ex.pendingEnd = ex.req.body, true
		cc.sendPending(ex)
		if !cc.busy {
			cc.flush()
		}
	default:
		cc.write(ex.req.body)
	}
}

// writeBody sends a piece of the streamed body of ex, the last if end:
// as a chunk on HTTP/1.1, in DATA frames on HTTP/2, where what the
// windows do not take now waits in ex.pending (copied).
func (cc *clientConn) writeBody(ex *exchange, p []byte, end bool) {
	if cc.h2 != nil {
		n, err := cc.h2.WriteData(ex.sid, p, end)
		if err == nil && n < len(p) {
			ex.pending, ex.pendingEnd = append([]byte(nil), p[n:]...), end
		}
		if !cc.busy {
			cc.flush()
		}
		return
	}
	b := cc.cl.head[:0]
	if len(p) > 0 {
		b = strconv.AppendInt(b, int64(len(p)), 16)
		b = append(b, "\r\n"...)
		b = append(b, p...)
		b = append(b, "\r\n"...)
	}
	if end {
		b = append(b, "0\r\n\r\n"...)
	}
	cc.write(b)
	if cap(b) <= 64<<10 { // the scratch of a large piece is not kept
		cc.cl.head = b[:0]
	}
}

var respLimits = func(o *ClientOptions) http1.Limits {
	return http1.Limits{MaxRequestLine: 8 << 10, MaxHeaderBytes: o.MaxResponseHead, MaxHeaders: 200}
}

// trafficH1 parses the response head, then takes the body for the
// script, as far as it keeps up; the script gets what arrived once all of
// it is taken.
func (cc *clientConn) trafficH1() {
	ex := cc.ex
	if ex == nil {
		if len(cc.c.Peek()) > 0 { // bytes on an idle connection break the protocol
			cc.close()
		}
		return
	}
	defer ex.deliver()
	for !cc.closed && cc.ex == ex {
		buf := cc.c.Peek()
		if len(buf) == 0 {
			return
		}
		cc.gotBytes = true
		if !cc.headDone {
			n, err := cc.resp.Parse(buf, []byte(ex.req.method), respLimits(cc.cl.opt))
			if err == http1.ErrIncomplete {
				return
			}
			if err != nil {
				cc.ex = nil
				cc.close()
				ex.fail(&clientError{errno: syscall.EPROTO, msg: "invalid response from " + cc.key.host + ": " + err.Error()})
				return
			}
			r := &cc.resp
			// A CONNECT's 2xx, and a 101 to an Upgrade, make the
			// connection the script's socket (take_socket).
			if ex.req.method == "CONNECT" && r.Status >= 200 && r.Status < 300 || r.Status == 101 && ex.req.asksUpgrade() {
				cc.c.Discard(n)
				cc.handOver(ex)
				return
			}
			if r.Status < 200 {
				if r.Status == 100 && ex.bodyHeld {
					cc.sendHeldBody(ex)
				}
				cc.c.Discard(n)
				continue
			}
			if ex.bodyHeld || (ex.req.streamed && !ex.bodyEnd) { // answered before the body's end: the request is not framed as sent
				ex.bodyHeld = false
				cc.noReuse = true
			}
			cc.headDone = true
			cc.mode = r.BodyMode()
			cc.left = r.ContentLength
			if cc.mode == http1.BodyChunked {
				cc.dec.Reset()
			}
			ex.gotHead(r.Status, "1.1", r.Reason, len(r.Headers), func(i int) ([]byte, []byte) { return r.Headers[i].Name, r.Headers[i].Value })
			cc.c.Discard(n)
			if cc.mode == http1.BodyNone {
				cc.finishH1()
				return
			}
			continue
		}
		if len(ex.body) >= clientHighWater {
			cc.paused = true
			cc.c.PauseRead()
			return
		}
		n, done := cc.bodyH1(ex, buf)
		cc.c.Discard(n)
		if cc.closed || cc.ex != ex {
			return
		}
		if done {
			cc.finishH1()
			return
		}
		if n == 0 {
			return
		}
	}
}

// bodyH1 takes body bytes from buf; it returns how many it consumed and
// whether the body ended.
func (cc *clientConn) bodyH1(ex *exchange, buf []byte) (int, bool) {
	switch cc.mode {
	case http1.BodyLength:
		n := min(int64(len(buf)), cc.left)
		ex.data(buf[:n])
		cc.left -= n
		return int(n), cc.left == 0
	case http1.BodyChunked:
		consumed := 0
		for consumed < len(buf) && cc.ex == ex {
			n, data, done, err := cc.dec.Next(buf[consumed:])
			if err != nil {
				cc.ex = nil
				cc.close()
				ex.fail(&clientError{errno: syscall.EPROTO, msg: "invalid chunked body from " + cc.key.host + ": " + err.Error()})
				return consumed, false
			}
			if n == 0 {
				break
			}
			consumed += n
			if len(data) > 0 {
				ex.data(data)
			}
			if done {
				return consumed, true
			}
		}
		return consumed, false
	default: // BodyClose
		ex.data(buf)
		return len(buf), false
	}
}

// finishH1 ends the exchange the response of which is complete, and
// pools the connection if it can carry another.
func (cc *clientConn) finishH1() {
	ex := cc.ex
	cc.ex = nil
	reuse := cc.resp.KeepAlive && cc.mode != http1.BodyClose && !cc.noReuse && !cc.closed &&
		ex.req.method != "CONNECT" && cc.c.Inbound() == 0
	tr := cc.dec.Trailers()
	if cc.mode != http1.BodyChunked {
		tr = nil
	}
	ex.end(len(tr), func(i int) ([]byte, []byte) { return tr[i].Name, tr[i].Value })
	if !reuse || len(cc.cl.idle[cc.key]) >= cc.cl.opt.MaxIdlePerHost {
		cc.close()
		return
	}
	cc.reused = true
	cc.idleSince = cc.cl.loop.Now()
	cc.cl.idle[cc.key] = append(cc.cl.idle[cc.key], cc)
}

// --- HTTP/2 ---

// startH2 opens a stream for ex.
func (cc *clientConn) startH2(ex *exchange) {
	h := cc.h2
	if !h.CanOpen() {
		ex.conn = nil
		ex.attempt(true)
		return
	}
	r := &ex.req
	h.StartRequest([]byte(r.method), []byte(r.scheme), []byte(r.authority), []byte(r.path))
	for _, f := range r.fields {
		if !skipField(f.Name) {
			h.AddField(f.Name, f.Value)
		}
	}
	if r.sendsLength() {
		h.AddField([]byte("content-length"), strconv.AppendInt(nil, int64(len(r.body)), 10))
	}
	id, err := h.SendRequest(len(r.body) == 0 && !r.streamed)
	if err != nil {
		ex.conn = nil
		ex.attempt(true)
		return
	}
	ex.conn, ex.sid = cc, id
	cc.streams[id] = ex
	switch {
	case r.expects100():
		cc.holdBody(ex)
	case r.streamed:
		ex.openBody()
	default:
		ex.pending, ex.pendingEnd = r.body, true
		cc.sendPending(ex)
	}
	if !cc.busy {
		cc.flush()
	}
}

// sendPending sends what the windows take of ex's request body; a
// script writing a streamed body is told when all of it has left.
func (cc *clientConn) sendPending(ex *exchange) {
	if len(ex.pending) == 0 {
		return
	}
	n, err := cc.h2.WriteData(ex.sid, ex.pending, ex.pendingEnd)
	if err == nil {
		ex.pending = ex.pending[n:]
	}
	if len(ex.pending) == 0 && ex.req.streamed {
		ex.deliver()
	}
}

// flush writes the frames the HTTP/2 connection queued.
func (cc *clientConn) flush() {
	if out := cc.h2.Output(); len(out) > 0 && !cc.closed {
		cc.write(out)
	}
}

// noteIdle starts the idle time of an HTTP/2 connection without streams.
func (cc *clientConn) noteIdle() {
	if len(cc.streams) == 0 {
		cc.idleSince = cc.cl.loop.Now()
	}
}

// trafficH2 feeds the server's frames to the protocol and hands each
// exchange what concerns it.
func (cc *clientConn) trafficH2() {
	cc.busy = true
	n, err := cc.h2.Feed(cc.c.Peek())
	if err == nil {
		for _, ev := range cc.h2.Events() {
			if ex := cc.streams[ev.Stream]; ex != nil {
				cc.eventH2(ex, &ev)
				cc.fed = append(cc.fed, ex)
			}
		}
		for i, ex := range cc.fed {
			ex.deliver()
			cc.fed[i] = nil
		}
		cc.fed = cc.fed[:0]
	}
	cc.c.Discard(n)
	cc.busy = false
	cc.flush()
	if err != nil {
		cc.failAll(&clientError{errno: syscall.EPROTO, msg: "HTTP/2 connection error from " + cc.key.host + ": " + err.Error()})
		return
	}
	if cc.h2.Idle() && !cc.h2.CanOpen() {
		cc.close() // the server sent GOAWAY and the last stream is done
	}
}

// eventH2 acts on what the server said of the stream of ex.
func (cc *clientConn) eventH2(ex *exchange, ev *http2.ClientEvent) {
	cc.gotBytes = true
	ended := func() {
		delete(cc.streams, ex.sid)
		cc.noteIdle()
		// A request whose body the server did not wait for ends here
		// (RFC 9113 section 8.1); one that ended is forgotten already.
		cc.h2.Reset(ex.sid, http2.ErrCodeCancel)
	}
	switch ev.Kind {
	case http2.ClientResponse:
		f := ev.Fields
		ex.bodyHeld = false // answered without the body
		ex.gotHead(ev.Status, "2", nil, len(f), func(i int) ([]byte, []byte) { return bytesOf(f[i].Name), bytesOf(f[i].Value) })
		if ev.End {
			ended()
			ex.end(0, nil)
		}
	case http2.ClientData:
		ex.data(ev.Data)
		if ev.End && cc.streams[ex.sid] == ex {
			ended()
			ex.end(0, nil)
		}
	case http2.ClientTrailers:
		f := ev.Fields
		ended()
		ex.end(len(f), func(i int) ([]byte, []byte) { return bytesOf(f[i].Name), bytesOf(f[i].Value) })
	case http2.ClientReset:
		ended()
		refused := ev.Code == http2.ErrCodeRefusedStream
		ex.connFailed(&clientError{errno: syscall.ECONNRESET, msg: "stream reset by " + cc.key.host + " (" + ev.Code.String() + ")"}, false, refused)
	case http2.ClientWindow:
		cc.sendPending(ex)
	case http2.ClientContinue:
		if ex.bodyHeld {
			cc.sendHeldBody(ex)
		}
	}
}
