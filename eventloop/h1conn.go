package eventloop

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop/backend"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/proto/http1"
)

// What an HTTP/1 connection is waiting for, for its deadline.
type h1Phase uint8

const (
	phaseIdle h1Phase = iota // between requests (keep-alive timeout)
	phaseHead                // part of a request head arrived (http_request timeout)
	phaseBody                // the service waits for request body (body timeout)
	phaseBusy                // Lua is answering; no client deadline
)

// Bodies a finished service left unread are drained to keep the
// connection only up to this many bytes; past it the connection closes.
const maxDrain = 256 << 10

// Response bodies this large are written straight from the C buffer
// instead of being copied into the loop's scratch buffer.
const directWrite = 16 << 10

// While the socket has this much unsent, a service that flushes waits.
const outboundHighWater = 1 << 20

// h1Conn is one HTTP/1.x client connection. It answers one request at a
// time, in order (pipelined requests wait in gnet's inbound buffer).
type h1Conn struct {
	l   *Loop
	fe  *frontendState
	c   gnet.Conn
	id  int64
	lim http1.Limits
	req http1.Request

	// Addresses, formatted once per connection for the fetches src and dst.
	srcIP, dstIP     []byte
	srcPort, dstPort int

	// trackKey is the client's key in the frontend's tracking table ("": none).
	trackKey string
	// Bytes exchanged with the client not yet in the tracking table, and
	// how many input bytes were left buffered after the last processing.
	bytes  byteCount
	leftIn int

	// scanned counts the buffered bytes known to hold no end of head, so a
	// head that trickles in is not parsed again from the start each time.
	scanned int

	phase     h1Phase
	deadline  time.Time
	busy      bool // inside process or a resume task: onClose must not free the thread
	closing   bool // close once the current response is out
	closed    bool
	lingering bool // closing: the response is out, unread input is being dropped
	sessVars  bool // a request set sess.* variables

	// The request being answered.
	th        *cgo.Thread
	gen       uint64 // counts requests, so stale timers do nothing
	timer     *time.Timer
	waitBody  bool
	buffering bool // http_buffer_request: the entry starts once the body is in
	isHead    bool
	minor     int
	keepAlive bool

	// Request body framing.
	bodyLeft  int64 // Content-Length bytes still to come
	chunked   bool
	dec       http1.ChunkedDecoder
	bodyDone  bool
	bodyTotal int64

	// Forwarding to a backend (proxy.go).
	up            *upstreamConn
	upSrv         *backend.Server // picked for this request; Done when it ends
	reqChunked    bool            // the request body goes upstream chunk-framed
	rawChunks     bool            // the response body keeps the server's chunk framing
	dechunk       bool            // the server's chunks are undone for an HTTP/1.0 client
	dechunker     http1.ChunkedDecoder
	parkedForHead bool // http-response rules run on the upstream head

	// Response framing.
	headSent    bool
	respChunked bool
	respLeft    int64 // Content-Length bytes still to send; -1 when not fixed
	respNoBody  bool
}

func newH1Conn(l *Loop, fe *frontendState, c gnet.Conn, id int64) *h1Conn {
	lim := fe.cfg.Limits
	h := &h1Conn{
		l:  l,
		fe: fe,
		c:  c,
		id: id,
		lim: http1.Limits{
			MaxRequestLine: int(lim.MaxRequestLine),
			MaxHeaderBytes: int(lim.MaxHeaderBytes),
			MaxHeaders:     lim.MaxHeaders,
		},
		bodyDone: true,
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		h.srcIP, h.srcPort = []byte(a.IP.String()), a.Port
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		h.dstIP, h.dstPort = []byte(a.IP.String()), a.Port
	}
	if h.trackKey = trackKey(fe.track, c.RemoteAddr()); h.trackKey != "" {
		fe.track.ConnOpen(h.trackKey)
	}
	l.conns[h] = struct{}{}
	h.setPhase(phaseIdle)
	return h
}

func (h *h1Conn) onTraffic() gnet.Action {
	h.l.event()
	if h.trackKey != "" {
		h.bytes.in += int64(h.c.InboundBuffered() - h.leftIn)
	}
	if h.lingering {
		_, _ = h.c.Discard(-1)
		h.leftIn = 0
		return gnet.None
	}
	h.process()
	return gnet.None
}

// process consumes buffered input: body bytes for the current request,
// then further requests, as long as nothing waits on Lua.
func (h *h1Conn) process() {
	h.busy = true
	for !h.closed && !h.closing {
		if !h.bodyDone {
			if !h.readBody() {
				break
			}
		}
		if h.th != nil || h.up != nil || !h.bodyDone {
			break
		}
		if !h.nextRequest() {
			break
		}
	}
	h.flush()
	if h.trackKey != "" && !h.closed {
		h.leftIn = h.c.InboundBuffered()
	}
	h.busy = false
	h.afterWork()
}

// send writes p to the client, counting it for the tracking table.
func (h *h1Conn) send(p []byte) {
	h.bytes.out += int64(len(p))
	writeTo(h.c, p)
}

// nextRequest parses and starts the next request; false when it needs
// more bytes or the connection is done.
func (h *h1Conn) nextRequest() bool {
	buf, _ := h.c.Peek(-1)
	if len(buf) == 0 {
		h.setPhase(phaseIdle)
		return false
	}
	h.headSent = false // no response of this request has left yet
	if !h.headMayBeComplete(buf) {
		if h.phase != phaseHead {
			h.setPhase(phaseHead)
		}
		return false
	}
	n, err := h.req.Parse(buf, h.lim)
	if err == http1.ErrIncomplete {
		if h.phase != phaseHead {
			h.setPhase(phaseHead)
		}
		return false
	}
	if err != nil {
		var perr *http1.Error
		status := 400
		if errors.As(err, &perr) {
			status = perr.Status
		}
		h.l.log.Debug("bad request", "status", status, "err", err, "remote", h.c.RemoteAddr())
		h.refuse(status)
		return false
	}
	if h.req.ContentLength > int64(h.fe.cfg.Limits.MaxBody) {
		h.refuse(413)
		return false
	}
	h.scanned = 0
	h.startRequest()
	_, _ = h.c.Discard(n)
	return !h.closing
}

// headMayBeComplete reports whether buf is worth parsing: it holds the end
// of a head, or is already past a limit the parser reports (414, 431).
// Only bytes not seen before are searched.
func (h *h1Conn) headMayBeComplete(buf []byte) bool {
	if len(buf) > h.lim.MaxHeaderBytes || (len(buf) > h.lim.MaxRequestLine && bytes.IndexByte(buf[:h.lim.MaxRequestLine], '\n') < 0) {
		return true
	}
	// A line ended among the new bytes, or the head is still short: parse,
	// so that a bad line (a bare LF, bytes that are not HTTP) is refused at
	// once, not at the timeout. Past 1 KiB, parsing once per line keeps a
	// trickled head from costing a parse per byte.
	if len(buf) <= 1024 || bytes.IndexByte(buf[h.scanned:], '\n') >= 0 {
		h.scanned = len(buf)
		return true
	}
	h.scanned = len(buf)
	return false
}

// startRequest copies the parsed head into a stream and runs the service.
func (h *h1Conn) startRequest() {
	r := &h.req
	th, err := h.l.lua.Thread()
	if err != nil {
		h.l.log.Error("no coroutine for a request", "err", err)
		h.refuse(503)
		return
	}
	h.gen++
	h.th = th
	h.fe.stats.reqTot.Add(1)
	if h.trackKey != "" {
		h.fe.track.HTTPRequest(h.trackKey)
		h.bytes.addTo(h.fe.track, h.trackKey)
	}
	h.minor = r.Minor
	h.keepAlive = r.KeepAlive && !h.l.srv.draining.Load()
	h.isHead = string(r.Method) == "HEAD"
	h.headSent, h.respChunked, h.respLeft, h.respNoBody = false, false, -1, false
	h.bodyTotal = 0
	h.chunked = r.Chunked
	h.bodyLeft = r.ContentLength
	h.bodyDone = !r.HasBody()
	if h.chunked {
		h.dec.Reset()
	}

	s := th.S
	s.Reset(lj.EntryHTTP, h.fe.program, h.id)
	s.SetRequestLine(r.Method, r.Target, r.Path, r.Query, r.Major, r.Minor)
	s.SetAddrs(h.srcIP, h.srcPort, h.dstIP, h.dstPort)
	s.SetAuthority(r.Host)
	s.SetContentLength(r.ContentLength)
	for i := range r.Headers {
		if !s.AddField(r.Headers[i].Name, r.Headers[i].Value) {
			h.refuse(500)
			return
		}
	}
	if h.bodyDone {
		s.SetFlag(cgo.FlagBodyEnd)
	} else if r.Expect100 && r.Minor == 1 {
		h.l.wbuf = append(h.l.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
	if !h.bodyDone && h.fe.cfg.HTTPBufferRequest {
		h.buffering = true
		h.setPhase(phaseBody)
		return
	}
	h.setPhase(phaseBusy)
	h.resume()
}

// readBody moves request body bytes from gnet's buffer to the stream (or
// drops them when the service has finished). It returns false when it
// needs more bytes.
func (h *h1Conn) readBody() bool {
	buf, _ := h.c.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	consumed := 0
	got := false
	for consumed < len(buf) && !h.bodyDone {
		var data []byte
		if h.chunked {
			n, d, done, err := h.dec.Next(buf[consumed:])
			if err != nil {
				h.l.log.Debug("bad chunked body", "err", err)
				h.bodyError(400)
				return false
			}
			if n == 0 {
				break
			}
			consumed += n
			data = d
			h.bodyDone = done
		} else {
			n := int64(len(buf) - consumed)
			if n > h.bodyLeft {
				n = h.bodyLeft
			}
			data = buf[consumed : consumed+int(n)]
			consumed += int(n)
			h.bodyLeft -= n
			h.bodyDone = h.bodyLeft == 0
		}
		h.bodyTotal += int64(len(data))
		if h.bodyTotal > int64(h.fe.cfg.Limits.MaxBody) {
			h.bodyError(413)
			return false
		}
		if h.up != nil {
			h.forwardBody(data)
		} else if h.th != nil && len(data) > 0 {
			if !h.th.S.AppendBody(data) {
				h.bodyError(500)
				return false
			}
			got = true
		} else if h.th == nil && h.bodyTotal > maxDrain {
			h.closeNow()
			return false
		}
	}
	_, _ = h.c.Discard(consumed)
	if u := h.up; u != nil {
		if h.bodyDone {
			h.endRequestBody()
		} else if u.c != nil {
			h.l.throttle(h.c, u.c, func() bool { return h.up != u || h.closed || u.closed })
		}
		return h.bodyDone
	}
	if h.th != nil {
		if h.bodyDone {
			h.th.S.SetFlag(cgo.FlagBodyEnd)
		}
		if h.buffering {
			if h.bodyDone {
				h.buffering = false
				h.setPhase(phaseBusy)
				h.resume()
			} else {
				h.setPhase(phaseBody)
			}
		} else if h.waitBody && (got || h.bodyDone) {
			h.waitBody = false
			h.setPhase(phaseBusy)
			h.resume()
		} else if h.waitBody {
			h.setPhase(phaseBody)
		}
	}
	return h.bodyDone
}

// bodyError ends a request whose body is bad or too large.
func (h *h1Conn) bodyError(status int) {
	if h.th != nil && h.headSent {
		h.closeNow()
		return
	}
	h.refuse(status)
}

// resume runs the current request's coroutine one step and acts on what it
// yielded for.
func (h *h1Conn) resume() {
	th := h.th
	ok, msg := th.Resume()
	if !ok {
		// An error escaped the runner (out of memory in the error handler):
		// the coroutine is dead and leaves the pool.
		h.l.log.Error("Lua service failed", "service", h.fe.service, "err", msg)
		th.Free()
		h.th = nil
		h.scriptFailed()
		return
	}
	s := th.S
	op, arg := s.Op()
	if s.Flags()&cgo.FlagSockopt != 0 {
		applySockopts(h.c, s, h.l)
	}
	if op == cgo.OpDone && s.Flags()&cgo.FlagAbort != 0 {
		h.endStream()
		h.closeNow()
		return
	}
	if op == cgo.OpDone && s.Flags()&cgo.FlagFailed != 0 {
		h.l.log.Error("Lua script failed", "frontend", h.fe.cfg.Name, "err", string(s.Err()))
		h.dropUpstream()
		h.endStream()
		h.scriptFailed()
		return
	}
	if h.parkedForHead {
		// The http-response rules ran on the server's head.
		switch op {
		case cgo.OpDone:
			h.parkedForHead = false
			h.sendUpstreamHead()
			if u := h.up; u != nil && !u.inTraffic {
				h.l.post(u.onTraffic) // relay the body that waited
			}
		case cgo.OpSleep:
			h.park(time.Duration(arg * float64(time.Millisecond)))
		default:
			h.park(0)
		}
		return
	}
	if s.Flags()&cgo.FlagForward != 0 && h.up == nil && (op == cgo.OpDone || op == cgo.OpForward) {
		h.startForward()
		return
	}
	if op == cgo.OpDone || s.Flags()&cgo.FlagStarted != 0 {
		if !h.headSent && !h.writeHead() {
			h.endStream()
			h.scriptFailed()
			return
		}
		h.writeBody()
	}
	switch op {
	case cgo.OpDone:
		h.endResponse()
	case cgo.OpSleep:
		h.park(time.Duration(arg * float64(time.Millisecond)))
	case cgo.OpYield:
		h.yield()
	case cgo.OpRecv:
		// Lua asks only when what it has is not enough: wait for more
		// body or its end, under the body timeout.
		if h.bodyDone {
			h.park(0)
		} else {
			h.waitBody = true
			h.setPhase(phaseBody)
		}
	case cgo.OpSocket:
		gen := h.gen
		h.l.socketOp(s, func() {
			if h.closed || h.gen != gen || h.th == nil {
				return
			}
			h.busy = true
			h.resume()
			h.busy = false
			h.process()
		})
	case cgo.OpFlush:
		if h.c.OutboundBuffered() > outboundHighWater {
			h.park(time.Millisecond)
		} else {
			h.park(0)
		}
	default:
		h.l.log.Error("Lua service yielded an unknown op", "op", op)
		h.endStream()
		h.closeNow()
	}
}

// yield resumes the current request once the loop has polled its sockets:
// a task posted straight back could run before the poll, and a script
// that yields in a loop would starve the loop's other connections.
func (h *h1Conn) yield() {
	h.park(yieldDelay)
}

// yieldDelay is how long core.yield parks a request: the smallest timer,
// so that the loop goes through a poll first.
const yieldDelay = time.Microsecond

// park resumes the current request after d (0: on the next loop turn).
func (h *h1Conn) park(d time.Duration) {
	gen := h.gen
	task := func() {
		if h.closed || h.gen != gen || h.th == nil {
			return
		}
		h.timer = nil
		h.busy = true
		h.resume()
		h.busy = false
		h.process()
	}
	if d <= 0 {
		h.l.post(task)
		return
	}
	h.timer = h.l.after(d, task)
}

// scriptFailed answers 500 if nothing was sent yet, else cuts the
// connection: a half-sent response cannot be turned into an error.
func (h *h1Conn) scriptFailed() {
	if h.headSent {
		h.closeNow()
		return
	}
	h.writeSimple(500, h.keepAlive && h.bodyDone)
}

// writeHead serialises the script's status and headers, adding framing,
// Date and Server. It returns false if the script's headers are invalid.
func (h *h1Conn) writeHead() bool {
	s := h.th.S
	status := s.Status()
	if status == 0 {
		status = 200
	}
	if status >= 400 && h.trackKey != "" {
		h.fe.track.HTTPError(h.trackKey)
	}
	mark := len(h.l.wbuf)
	b := http1.AppendStatusLine(h.l.wbuf, h.minor, status, string(s.Reason()))
	hasDate, hasServer := false, false
	h.respLeft = -1
	for i, n := 0, s.NumRFields(); i < n; i++ {
		name, value := s.RField(i)
		if len(name) == 0 {
			continue // deleted by a script
		}
		if !http1.ValidHeaderName(name) || !http1.ValidHeaderValue(value) {
			h.l.wbuf = h.l.wbuf[:mark]
			h.l.log.Error("Lua service sent an invalid header", "service", h.fe.service, "name", string(name))
			return false
		}
		switch {
		case http1.EqualFold(name, "content-length") && (status < 200 || status == 204):
			continue // these statuses carry no length (RFC 9110 section 8.6)
		case http1.EqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				h.l.wbuf = h.l.wbuf[:mark]
				h.l.log.Error("Lua service sent an invalid content-length", "service", h.fe.service, "value", string(value))
				return false
			}
			h.respLeft = n
		case http1.EqualFold(name, "transfer-encoding"), http1.EqualFold(name, "connection"):
			// Framing and persistence are the server's to decide.
			if http1.EqualFold(name, "connection") && http1.EqualFold(value, "close") {
				h.keepAlive = false
			}
			continue
		case http1.EqualFold(name, "date"):
			hasDate = true
		case http1.EqualFold(name, "server"):
			hasServer = true
		}
		b = http1.AppendHeader(b, name, value)
	}
	h.respNoBody = h.isHead || status < 200 || status == 204 || status == 304
	if h.respLeft < 0 && !(status < 200 || status == 204 || status == 304) {
		if h.minor >= 1 {
			h.respChunked = !h.isHead
			b = append(b, "transfer-encoding: chunked\r\n"...)
		} else {
			h.keepAlive = false // HTTP/1.0: the body ends when the connection does
		}
	}
	if !hasDate {
		b = http1.AppendDate(b, h.l.now)
	}
	if !hasServer {
		b = append(b, "server: luaedge\r\n"...)
	}
	if !h.keepAlive || h.l.srv.draining.Load() {
		h.keepAlive = false
		b = append(b, "connection: close\r\n"...)
	} else if h.minor == 0 {
		b = append(b, "connection: keep-alive\r\n"...)
	}
	h.l.wbuf = append(b, "\r\n"...)
	h.headSent = true
	s.SetFlag(cgo.FlagHeadSent)
	return true
}

// writeBody sends what the script added to its output since the last call.
func (h *h1Conn) writeBody() {
	s := h.th.S
	out := s.Out()
	if len(out) == 0 {
		return
	}
	s.ConsumeOut()
	if h.respNoBody {
		return
	}
	if h.respLeft >= 0 {
		if int64(len(out)) > h.respLeft {
			h.l.log.Warn("Lua service sent more than its content-length; the excess is dropped", "service", h.fe.service)
			out = out[:h.respLeft]
		}
		h.respLeft -= int64(len(out))
	}
	if h.respChunked {
		h.l.wbuf = strconv.AppendInt(h.l.wbuf, int64(len(out)), 16)
		h.l.wbuf = append(h.l.wbuf, "\r\n"...)
	}
	if len(out) >= directWrite {
		h.flush()
		if !h.closed {
			h.send(out)
		}
	} else {
		h.l.wbuf = append(h.l.wbuf, out...)
	}
	if h.respChunked {
		h.l.wbuf = append(h.l.wbuf, "\r\n"...)
	}
}

// endResponse completes the response after the service returned.
func (h *h1Conn) endResponse() {
	if h.respChunked {
		h.l.wbuf = http1.AppendLastChunk(h.l.wbuf)
	}
	if h.respLeft > 0 && !h.respNoBody {
		h.l.log.Warn("Lua service sent less than its content-length; closing the connection", "service", h.fe.service, "missing", h.respLeft)
		h.keepAlive = false
	}
	h.endStream()
	if !h.keepAlive || h.l.srv.draining.Load() {
		h.closeAfterFlush()
	}
}

// endStream returns the coroutine to the pool and forgets the request.
func (h *h1Conn) endStream() {
	if h.th == nil {
		return
	}
	if h.th.S.Flags()&cgo.FlagSessVars != 0 {
		h.sessVars = true
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	h.waitBody = false
	h.buffering = false
	h.l.closeSocketsOf(h.th.S)
	if op, _ := h.th.S.Op(); op == cgo.OpDone {
		h.l.lua.Release(h.th)
	} else {
		h.th.Free() // parked mid-request: it cannot run another one
	}
	h.th = nil
	if !h.bodyDone {
		if h.bodyLeft > maxDrain {
			h.keepAlive = false
			h.closeAfterFlush()
		}
		h.setPhase(phaseBody) // the rest of the body is drained under the body timeout
	}
}

// refuse answers status and closes the connection (bad or refused request).
func (h *h1Conn) refuse(status int) {
	h.endStream()
	if h.headSent {
		h.closeNow()
		return
	}
	h.l.wbuf = append(h.l.wbuf, http1.ErrorResponse(status)...)
	h.closeAfterFlush()
}

// writeSimple answers a short text response generated by the server.
func (h *h1Conn) writeSimple(status int, keepAlive bool) {
	text := http1.StatusText(status)
	b := http1.AppendStatusLine(h.l.wbuf, h.minor, status, "")
	b = append(b, "content-type: text/plain\r\ncontent-length: "...)
	b = strconv.AppendInt(b, int64(len(text)+5), 10)
	b = append(b, "\r\n"...)
	b = http1.AppendDate(b, h.l.now)
	b = append(b, "server: luaedge\r\n"...)
	if !keepAlive {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	h.l.wbuf = append(b, '\n')
	h.headSent = true
	if !keepAlive {
		h.closeAfterFlush()
	}
}

func (h *h1Conn) setPhase(p h1Phase) {
	h.phase = p
	t := h.fe.cfg.Timeouts
	switch p {
	case phaseIdle:
		h.deadline = h.l.now.Add(t.KeepAlive.D())
	case phaseHead:
		h.deadline = h.l.now.Add(t.HTTPRequest.D())
	case phaseBody:
		h.deadline = h.l.now.Add(t.Body.D())
	default:
		h.deadline = time.Time{}
	}
}

// checkDeadline enforces the timeout of the current phase.
func (h *h1Conn) checkDeadline(now time.Time) {
	if h.lingering && !h.closed && now.After(h.deadline) {
		_ = h.c.Close()
		return
	}
	if h.closed || h.closing || h.deadline.IsZero() || now.Before(h.deadline) {
		return
	}
	switch h.phase {
	case phaseIdle:
		h.closeNow()
	case phaseHead, phaseBody:
		h.l.log.Debug("client timeout", "phase", h.phase, "remote", h.c.RemoteAddr())
		h.busy = true
		if h.th != nil && h.headSent {
			h.closeNow()
		} else {
			h.refuse(408)
			h.flush()
		}
		h.busy = false
		h.afterWork()
	}
}

// drain is called at shutdown: busy connections close after their
// response, and so do those receiving a request head. An idle connection
// closes once it has been idle for drainGrace: its client may be sending
// the next request right now, and closing under it would lose it.
func (h *h1Conn) drain() {
	if h.th != nil || h.phase != phaseIdle {
		return
	}
	end := h.deadline.Add(drainGrace - h.fe.cfg.Timeouts.KeepAlive.D()) // idle since + drainGrace
	if end.Before(h.deadline) {
		h.deadline = end // the sweeper closes it then
	}
	if !h.l.now.Before(h.deadline) {
		h.closeNow()
	}
}

// drainGrace is how long a connection answered just before a shutdown
// gets to send its next request (answered with connection: close).
const drainGrace = time.Second

// flush writes the loop's scratch buffer to the connection.
func (h *h1Conn) flush() {
	if len(h.l.wbuf) > 0 {
		if !h.closed {
			h.send(h.l.wbuf)
		}
		h.l.wbuf = h.l.wbuf[:0]
	}
	if h.closing && !h.closed {
		h.close()
	}
}

func (h *h1Conn) closeAfterFlush() { h.closing = true }

// lingerFor is how long a connection closing with request bytes unread
// keeps reading (and dropping) them.
const lingerFor = 2 * time.Second

// close closes the connection. If the client may still be sending (a
// request body the server did not read), closing at once would make the
// kernel answer with a reset that can destroy the response on its way; so
// the connection first stops writing, drops what still arrives for a
// while, then closes (RFC 9112 section 9.6).
func (h *h1Conn) close() {
	if h.closed || h.lingering {
		return
	}
	if h.bodyDone && h.c.InboundBuffered() == 0 {
		_ = h.c.Close()
		return
	}
	h.lingering = true
	h.deadline = h.l.now.Add(lingerFor)
	h.lingerStep()
}

// lingerStep half-closes once the response has left, then waits.
func (h *h1Conn) lingerStep() {
	if h.closed {
		return
	}
	if h.c.OutboundBuffered() > 0 {
		h.l.after(5*time.Millisecond, h.lingerStep)
		return
	}
	_ = unix.Shutdown(h.c.Fd(), unix.SHUT_WR)
	_, _ = h.c.Discard(-1)
}

// closeNow sends what is already buffered for the client (earlier
// pipelined responses, or the part of a response that could be sent) and
// closes the connection.
func (h *h1Conn) closeNow() {
	h.closing = true
	h.flush()
	h.close()
}

func (h *h1Conn) onClose(error) {
	h.closed = true
	if h.trackKey != "" {
		h.bytes.addTo(h.fe.track, h.trackKey)
		h.fe.track.ConnClose(h.trackKey)
	}
	h.dropUpstream()
	delete(h.l.conns, h)
	if !h.busy {
		h.afterWork()
	}
}

// afterWork frees what a closed connection still holds once no code on the
// stack uses it.
func (h *h1Conn) afterWork() {
	if !h.closed {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if h.th != nil {
		// The coroutine is parked mid-request; it cannot be reused.
		h.l.closeSocketsOf(h.th.S)
		h.th.Free()
		h.th = nil
	}
	if h.sessVars {
		h.sessVars = false
		h.l.endSession(h.id)
	}
}

// endSession drops a closed connection's sess.* variables in Lua.
func (l *Loop) endSession(connID int64) {
	th, err := l.lua.Thread()
	if err != nil {
		return
	}
	th.S.Reset(lj.EntryEndSession, 0, connID)
	if ok, msg := th.Resume(); !ok {
		l.log.Error("ending a Lua session failed", "err", msg)
		th.Free()
		return
	}
	l.lua.Release(th)
}

// applySockopts sets the IP TOS and firewall mark a script asked for
// (TXN:set_tos, TXN:set_mark) on the client socket c.
func applySockopts(c gnet.Conn, s *cgo.Stream, l *Loop) {
	s.ClearFlag(cgo.FlagSockopt)
	tos, mark := s.Sockopts()
	if tos >= 0 {
		if err := unix.SetsockoptInt(c.Fd(), unix.IPPROTO_IP, unix.IP_TOS, tos); err != nil {
			l.log.Debug("set_tos", "err", err)
		}
	}
	if mark >= 0 {
		if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_MARK, mark); err != nil {
			l.log.Debug("set_mark", "err", err)
		}
	}
}
