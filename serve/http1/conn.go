// Package http1 serves HTTP/1.x client connections: it parses requests,
// frames responses, and keeps a connection's phases and timeouts. What a
// request runs (Lua, forwarding) is the stream runner's (package stream).
package http1

import (
	"bytes"
	"cmp"
	"errors"
	"strconv"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/ws"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// Frontend is an HTTP frontend as its connections see it. It is built once
// from the configuration and shared, read-only, by every loop.
type Frontend struct {
	Stream *stream.Frontend // its Limits bound request heads too
	stream.HTTPOptions
	// UpgradeH2C takes requests that ask for HTTP/2 (Upgrade: h2c); the
	// connection's owner hands it over once H2C reports one.
	UpgradeH2C bool
	WS         *servews.Frontend // WebSocket settings; nil: upgrades are refused
}

// Loop is what the HTTP/1 connections of one loop share. It is used from
// that loop's goroutine only. It does not list the connections: their
// owner does, and calls CheckDeadline and Drain on them.
type Loop struct {
	Env *stream.Env
	WS  *servews.Loop // where upgraded connections go; nil: upgrades are refused
	// Programs and WSChains are, by frontend (Frontend.Stream.Index),
	// its program in the loop's Lua state and its ws_filters chain there
	// (0: none); set by whoever makes the loop.
	Programs, WSChains []int

	// req is the request head being parsed, shared by the loop's
	// connections: startRequest copies what a request keeps into its
	// stream within the same handler, so an idle connection holds no
	// parsed head (its field slots alone are over a kilobyte).
	req http1.Request

	// free holds the requests no connection has borrowed (request.go).
	free []*request
}

// What a connection is waiting for, for its deadline.
type phase uint8

const (
	phaseIdle   phase = iota // between requests (keep-alive timeout)
	phaseHead                // part of a request head arrived (http_request timeout)
	phaseBody                // the script waits for request body (body timeout)
	phaseBusy                // the request is being answered; no client deadline
	phaseTunnel              // a server switched protocols: bytes relayed both ways (idle timeout)
)

// Bodies a finished request left unread are drained to keep the
// connection only up to this many bytes; past it the connection closes.
const maxDrain = 256 << 10

// Response bodies this large are written straight from where they are
// instead of being copied into the connection's output buffer.
const directWrite = 16 << 10

// Conn is one HTTP/1.x client connection. It answers one request at a
// time, in order (pipelined requests wait in the inbound buffer). It keeps
// only what the connection needs while idle; what a request needs is in
// rq, borrowed from the loop for the request's time (request.go).
type Conn struct {
	l  *Loop
	fe *Frontend
	c  transport.Conn
	id int64

	// rq is the request being received or answered, and its stream:
	// borrowed from the loop's pool when its first byte arrives, given
	// back once its response is out and no further byte is buffered;
	// nil while the connection is idle.
	rq *request

	// track is the client's entry in the frontend's tracking table;
	// nil: the frontend tracks none.
	track *tracked

	// out holds the response bytes the running handler assembles. It is
	// this connection's alone: borrowed from the loop's pool on the
	// handler's first write and given back empty by flush before the
	// handler returns, so it is nil between handlers and can never carry
	// bytes to another connection.
	out *transport.Buf

	deadline   time.Duration // the current phase's, on the loop's Clock; 0: none
	phase      phase
	busy       bool // inside a handler: OnClose must not free what the stack uses
	closing    bool // close once the current response is out
	closed     bool
	lingering  bool // closing: the response is out, unread input is being dropped
	readPaused bool // reading from the client stopped: the script holds enough unread body
	drained    bool // the server stops: idle, the connection closes after drainGrace (Drain)
	// peerDone: the client ended its side while a request was answered;
	// the connection went on detached (OnPeerEOF) and closes once the
	// requests it sent are answered.
	peerDone bool
	// sessVars: a script of this connection set sess.* variables (those
	// of the request in flight are its stream's until it ends);
	// sessionEnded: they were dropped, the connection closed.
	sessVars     bool
	sessionEnded bool
	// handedOff: the connection and its request's stream went to WebSocket.
	handedOff bool
	// uncount: the connection closed and leaves its frontend's count
	// (stats.Sessions) in afterWork, once its last line is written: the
	// line's %ac and %fc count it, as HAProxy's do.
	uncount bool
	// requested: a byte of a request arrived; until then the connection
	// is empty (logged only if its frontend logs empty connections).
	requested bool
	waitGen   uint32 // counts the waits for body: the timeout of an earlier one does nothing

	// ws is the WebSocket connection this one became (Upgrade): it gets
	// the connection's events from then on; nil: none.
	ws *servews.Conn
}

// tracked is a connection's entry in its frontend's tracking table.
type tracked struct {
	key string
	// Bytes exchanged with the client not yet in the table, and how many
	// input bytes were left buffered after the last processing.
	bytes  sticktable.ByteCount
	leftIn int
}

// Init serves connection c of frontend fe on loop l with h, which is
// zero; id is the connection's number (for sess.* variables). A Conn is a
// value its owner embeds, so that a connection is one allocation.
func (h *Conn) Init(l *Loop, fe *Frontend, c transport.Conn, id int64) {
	*h = Conn{l: l, fe: fe, c: c, id: id}
	if key := sticktable.TrackKey(fe.Track, c.RemoteAddr()); key != "" {
		h.track = &tracked{key: key}
		fe.Track.ConnOpen(key)
	}
	h.setPhase(phaseIdle)
}

// Transport is the connection's.
func (h *Conn) Transport() transport.Conn { return h.c }

// ID is the connection's number.
func (h *Conn) ID() int64 { return h.id }

// WebSocket is the WebSocket connection this one became, nil if none.
func (h *Conn) WebSocket() *servews.Conn { return h.ws }

// stats are this loop's counters of the connection's frontend.
func (h *Conn) stats() *metrics.Frontend { return &h.l.Env.FrontendStats[h.fe.Stream.Index] }

// trackKey is the client's key in the frontend's tracking table ("": none).
func (h *Conn) trackKey() string {
	if h.track == nil {
		return ""
	}
	return h.track.key
}

// Peer gives the access log the connection's addresses, as the request
// in flight has them.
func (h *Conn) Peer() (src []byte, srcPort int, dst []byte, dstPort int) {
	if h.rq == nil {
		return nil, 0, nil, 0
	}
	return h.rq.addrs()
}

func (h *Conn) loopNow() time.Time { return h.l.Env.Loop.Now() }

// clock is the loop's time on its Clock, which deadlines are kept in.
func (h *Conn) clock() time.Duration { return h.l.Env.Loop.Clock(h.loopNow()) }

// OnTraffic processes what arrived.
func (h *Conn) OnTraffic() {
	if h.ws != nil {
		h.ws.OnTraffic()
		return
	}
	checkNoOutput(h)
	if t := h.track; t != nil {
		t.bytes.In += int64(h.c.Inbound() - t.leftIn)
	}
	if h.lingering {
		h.c.Discard(-1)
		if h.track != nil {
			h.track.leftIn = 0
		}
		return
	}
	h.process()
}

// process consumes buffered input: body bytes for the current request,
// then further requests, as long as nothing waits on the script or a
// backend; then it flushes.
func (h *Conn) process() {
	h.busy = true
	for !h.closed && !h.closing {
		rq := h.rq
		if rq == nil {
			if h.c.Inbound() == 0 {
				break
			}
			rq = h.borrow() // a request's first bytes
			h.requested = true
		}
		if rq.h2c != nil {
			break
		}
		if rq.tunnel {
			h.relayTunnel()
			break
		}
		if !rq.bodyDone {
			if !h.readBody() {
				break
			}
		}
		if rq.st.Running() || rq.up != nil || !rq.bodyDone {
			break
		}
		if !h.nextRequest() {
			break
		}
	}
	h.flush()
	if h.track != nil && !h.closed {
		h.track.leftIn = h.c.Inbound()
	}
	h.busy = false
	h.afterWork()
	if h.rq != nil && h.phase == phaseIdle && !h.closed && !h.closing && h.rq.over() && h.c.Inbound() == 0 {
		h.giveBack() // the response is out and nothing more came
	}
}

// Handle runs fn as a handler of this connection: a resumed script or a
// backend's event. The connection then goes on with its input and flushes.
func (h *Conn) Handle(fn func()) {
	if h.busy {
		fn()
		return
	}
	checkNoOutput(h)
	h.busy = true
	fn()
	h.busy = false
	h.process()
}

// send writes p to the client, counting it for the tracking table.
func (h *Conn) send(p []byte) {
	if h.track != nil {
		h.track.bytes.Out += int64(len(p))
	}
	h.c.Write(p)
}

// nextRequest parses and starts the next request; false when it needs
// more bytes or the connection is done.
func (h *Conn) nextRequest() bool {
	rq := h.rq
	buf := h.c.Peek()
	if len(buf) == 0 {
		h.setPhase(phaseIdle)
		if h.peerDone {
			h.closeAfterFlush() // the client sent all it will
		}
		return false
	}
	rq.headSent = false // no response of this request has left yet
	if h.phase != phaseHead {
		rq.headAt = h.loopNow().UnixNano() // the request's first bytes (%tr, %TR): the event's time
	}
	if !h.headMayBeComplete(buf) {
		h.headIncomplete()
		return false
	}
	n, err := h.l.req.Parse(buf, h.fe.Stream.Limits)
	if err == http1.ErrIncomplete {
		h.headIncomplete()
		return false
	}
	if err != nil {
		var perr *http1.Error
		status := 400
		if errors.As(err, &perr) {
			status = perr.Status
		}
		h.l.Env.Log.Debug("bad request", "status", status, "err", err, "remote", h.c.RemoteAddr())
		h.refuse(status, err.Error())
		return false
	}
	if r := &h.l.req; r.ContentLength > h.fe.MaxBody {
		rq.st.LogRequestLine(r.Method, r.Target, r.Major, r.Minor)
		h.refuse(413, "content-length over limits.max_body")
		return false
	}
	rq.scanned = 0
	if up := h.h2cUpgrade(); up != nil {
		rq.h2c = up
		h.c.Discard(n)
		o := h.outBuf()
		o.B = append(o.B, switchingToH2C...)
		return false
	}
	h.startRequest()
	h.c.Discard(n)
	return !h.closing
}

// headIncomplete waits for the rest of a request head; from a client
// that ended its side, it never comes: the connection closes.
func (h *Conn) headIncomplete() {
	if h.phase != phaseHead {
		h.setPhase(phaseHead)
	}
	if h.peerDone {
		h.logClientClose()
		h.closeAfterFlush()
	}
}

// headMayBeComplete reports whether buf is worth parsing: it holds the end
// of a head, or is already past a limit the parser reports (414, 431).
// Only bytes not seen before are searched.
func (h *Conn) headMayBeComplete(buf []byte) bool {
	lim := &h.fe.Stream.Limits
	if len(buf) > lim.MaxHeaderBytes || (len(buf) > lim.MaxRequestLine && bytes.IndexByte(buf[:lim.MaxRequestLine], '\n') < 0) {
		return true
	}
	// A line ended among the new bytes, or the head is still short: parse,
	// so that a bad line (a bare CR, bytes that are not HTTP) is refused at
	// once, not at the timeout. Past 1 KiB, parsing once per line keeps a
	// trickled head from costing a parse per byte.
	if len(buf) <= 1024 || bytes.IndexByte(buf[h.rq.scanned:], '\n') >= 0 {
		h.rq.scanned = len(buf)
		return true
	}
	h.rq.scanned = len(buf)
	return false
}

// startRequest copies the parsed head into a stream and runs it.
func (h *Conn) startRequest() {
	r, rq := &h.l.req, h.rq
	if err := rq.st.Start(lj.EntryHTTP, h.l.Programs[h.fe.Stream.Index], h.id); err != nil {
		h.l.Env.Log.Error("no coroutine for a request", "err", err)
		h.refuse(503, "no coroutine: "+err.Error())
		return
	}
	h.stats().Requests.Inc()
	if rq.headAt != 0 {
		rq.st.LogHeadStart(time.Unix(0, rq.headAt))
	}
	if t := h.track; t != nil {
		h.fe.Track.HTTPRequest(t.key)
		t.bytes.AddTo(h.fe.Track, t.key)
	}
	rq.minor = r.Minor
	rq.keepAlive = r.KeepAlive && !h.l.Env.Draining()
	rq.st.SetHead(string(r.Method) == "HEAD")
	rq.headSent, rq.respChunked = false, false
	rq.bodyTotal = 0
	rq.chunked = r.Chunked
	rq.bodyLeft = r.ContentLength
	rq.bodyDone = !r.HasBody()
	if rq.chunked {
		if rq.dec == nil {
			rq.dec = new(http1.ChunkedDecoder)
		}
		rq.dec.Reset()
	}

	s := rq.st.S()
	s.SetRequestLine(r.Method, r.Target, r.Path, r.Query, r.Major, r.Minor)
	s.SetAddrs(rq.addrs())
	if stream.SetConnTLS(s, h.c) {
		stream.SetHTTPS(s)
	}
	stream.SetConnProxy(s, h.c)
	if h.track != nil {
		// The stick counters the scripts read, without a gate call each.
		h.l.Env.Lua.FillStick(s, h.fe.Track, h.track.key)
	}
	s.SetAuthority(r.Host)
	s.SetContentLength(r.ContentLength)
	for i := range r.Headers {
		if !s.AddField(r.Headers[i].Name, r.Headers[i].Value) {
			h.refuse(500, "no memory for the request head")
			return
		}
	}
	if rq.bodyDone {
		rq.st.BodyEnd(nil)
	} else if r.Expect100 && r.Minor == 1 {
		o := h.outBuf()
		o.B = append(o.B, "HTTP/1.1 100 Continue\r\n\r\n"...)
	}
	if !rq.bodyDone && h.fe.BufferRequest {
		rq.buffering = true
		h.setPhase(phaseBody)
		return
	}
	h.setPhase(phaseBusy)
	rq.st.Step()
}

// readBody moves request body bytes from the inbound buffer to the stream
// (or drops them when the request was answered). It returns false when it
// needs more bytes.
func (h *Conn) readBody() bool {
	buf := h.c.Peek()
	if len(buf) == 0 {
		return false
	}
	consumed := 0
	got := false
	for consumed < len(buf) && !h.rq.bodyDone {
		var data []byte
		if h.rq.chunked {
			n, d, done, err := h.rq.dec.Next(buf[consumed:])
			if err != nil {
				h.l.Env.Log.Debug("bad chunked body", "err", err)
				h.bodyError(400, "bad chunked body: "+err.Error())
				return false
			}
			if n == 0 {
				break
			}
			consumed += n
			data = d
			h.rq.bodyDone = done
		} else {
			n := int64(len(buf) - consumed)
			if n > h.rq.bodyLeft {
				n = h.rq.bodyLeft
			}
			data = buf[consumed : consumed+int(n)]
			consumed += int(n)
			h.rq.bodyLeft -= n
			h.rq.bodyDone = h.rq.bodyLeft == 0
		}
		h.rq.bodyTotal += int64(len(data))
		if h.rq.bodyTotal > h.fe.MaxBody {
			h.bodyError(413, "request body over limits.max_body")
			return false
		}
		switch {
		case h.rq.up != nil || h.rq.st.Running():
			if !h.rq.st.Body(data) {
				h.bodyError(500, "no memory for the request body")
				return false
			}
			got = got || len(data) > 0
		case h.rq.bodyTotal > maxDrain:
			h.closeNow()
			return false
		}
	}
	h.c.Discard(consumed)
	if u := h.rq.up; u != nil {
		if h.rq.bodyDone {
			u.EndBody(h.trailers())
		} else if u.Backlog() >= transport.HighWater {
			h.rq.st.Throttle(h.c, u.Backlog, func() bool { return h.closed || h.rq == nil || h.rq.up != u })
		}
		return h.rq.bodyDone
	}
	if h.rq.st.Running() {
		if h.rq.bodyDone {
			if h.rq.chunked && !h.addTrailers() {
				h.bodyError(500, "no memory for the request trailers")
				return false
			}
			h.rq.st.BodyEnd(nil)
		}
		switch {
		case h.rq.buffering && h.rq.bodyDone:
			h.rq.buffering = false
			h.setPhase(phaseBusy)
			h.rq.st.Step()
		case h.rq.buffering:
			h.setPhase(phaseBody)
		case h.rq.waitBody && (got || h.rq.bodyDone):
			h.rq.waitBody = false
			h.setPhase(phaseBusy)
			h.rq.st.Step()
		case h.rq.waitBody:
			h.setPhase(phaseBody)
		}
		if !h.rq.bodyDone && !h.rq.waitBody && !h.rq.buffering && h.rq.st.Unread() > stream.UnreadHigh && !h.readPaused {
			h.readPaused = true
			h.c.PauseRead()
		}
	}
	return h.rq.bodyDone
}

// Tunnel makes the connection a tunnel to the server that switched
// protocols (stream.Tunneler); it closes when either side does.
func (h *Conn) Tunnel(idle time.Duration) {
	if idle <= 0 {
		idle = h.fe.KeepAlive
	}
	h.rq.tunnel, h.rq.tunnelIdle, h.rq.keepAlive = true, idle, false
	h.setPhase(phaseTunnel)
	if chain := h.l.WSChains[h.fe.Stream.Index]; chain != 0 && h.l.WS != nil && h.fe.WS != nil {
		h.rq.relay = servews.NewRelay(h.l.WS, h.fe.WS, chain, h.id, h.toClient, h.toServer, h.Handle, h.relayFailed)
		if h.fe.WS.Hooks {
			h.rq.relay.Hooks(h.rq.st.S())
		}
	} else {
		h.rq.wst = &servews.Tunnel{ToServer: h.toServer, ToClient: h.sendRaw, Drained: h.endTunnel, Post: h.l.Env.Loop.Post}
	}
	if h.l.Env.Draining() {
		h.drainTunnel() // switched while the server stops: closed at once
	}
}

// toClient and toServer are where a Relay writes frames; a Tunnel's go
// to toServer and sendRaw.
func (h *Conn) toClient(p []byte) {
	o := h.outBuf()
	o.B = append(o.B, p...)
}

func (h *Conn) toServer(p []byte) {
	if h.rq != nil && h.rq.up != nil {
		h.rq.up.Body(p)
	}
}

// relayFailed ends a filtered WebSocket: a filter failed or a side broke
// the protocol (the Relay sent both a close frame).
func (h *Conn) relayFailed(uint16) {
	h.rq.st.Close()
	h.closeNow()
}

// relayPauseAt is how many bytes the client may have sent, unread while
// a ws filter waits, before reading from it stops.
const relayPauseAt = 256 << 10

// relayTunnel sends what the client sent to the server, pausing the
// client while the server has a backlog.
func (h *Conn) relayTunnel() {
	u := h.rq.up
	buf := h.c.Peek()
	if u == nil || len(buf) == 0 {
		return
	}
	if h.rq.relay != nil {
		if h.rq.relay.Busy() {
			// A filter waits: the client is not read meanwhile.
			if !h.readPaused && len(buf) >= relayPauseAt {
				h.readPaused = true
				h.c.PauseRead()
			}
			return
		}
		h.resumeRead()
		h.rq.relay.FromClient(buf)
	} else {
		h.rq.wst.FromClient(buf)
	}
	h.c.Discard(len(buf))
	h.deadline = h.clock() + h.rq.tunnelIdle
	if u.Backlog() >= transport.HighWater {
		h.rq.st.Throttle(h.c, u.Backlog, func() bool { return h.closed || h.rq == nil || h.rq.up != u })
	}
}

// resumeRead reads from the client again after the script caught up.
func (h *Conn) resumeRead() {
	if h.readPaused {
		h.readPaused = false
		h.c.ResumeRead()
	}
}

// BodyConsumed reads from the client again once the script holds little
// unread body.
func (h *Conn) BodyConsumed(unread int) {
	if unread < stream.UnreadLow {
		h.resumeRead()
	}
}

// trailers returns the trailer fields of a chunked body that ended.
func (h *Conn) trailers() []http1.Header {
	if !h.rq.chunked {
		return nil
	}
	return h.rq.dec.Trailers()
}

// addTrailers gives the script the trailer fields of a chunked body.
func (h *Conn) addTrailers() bool {
	s := h.rq.st.S()
	for _, f := range h.rq.dec.Trailers() {
		if !s.AddTrailer(f.Name, f.Value) {
			return false
		}
	}
	return true
}

// bodyError ends a request whose body is bad or too large.
func (h *Conn) bodyError(status int, cause string) {
	if h.rq.st.Running() && h.rq.headSent {
		h.rq.st.Refuse(status, cause)
		h.rq.st.Close() // logged: nothing more is sent
		h.closeNow()
		return
	}
	h.refuse(status, cause)
}

// WaitBody is the script asking for more body: it waits under the body
// timeout, unless the body is complete. The timeout the script gave
// (milliseconds, in its op's argument; an http-stream read's) resumes it
// without more body.
func (h *Conn) WaitBody() bool {
	if h.rq.bodyDone {
		return false
	}
	h.rq.waitBody = true
	h.waitGen++
	h.setPhase(phaseBody)
	h.resumeRead()
	if _, ms := h.rq.st.S().Op(); ms > 0 {
		gen := h.waitGen
		h.after(time.Duration(ms*float64(time.Millisecond)), func() {
			if h.waitGen != gen || h.closed || h.rq == nil || !h.rq.waitBody {
				return
			}
			h.rq.waitBody = false
			h.setPhase(phaseBusy)
			h.Handle(h.rq.st.Step)
		})
	}
	return true
}

// Forwarded records that the request is with a backend (or back from it).
func (h *Conn) Forwarded(u stream.Upstream) {
	h.rq.up = u
	if u != nil {
		h.setPhase(phaseBusy)
	}
}

// Backlog is how many response bytes have not left yet (for a filtered
// WebSocket, with what the server sent that waits for a filter).
func (h *Conn) Backlog() int {
	if h.rq.relay != nil {
		return h.c.Outbound() + h.outLen() + h.rq.relay.Pending()
	}
	return h.c.Outbound() + h.outLen()
}

// SetSockopts applies TXN:set_tos and set_mark to the client socket.
func (h *Conn) SetSockopts(tos, mark int) {
	if err := transport.SetTOSMark(h.c, tos, mark); err != nil {
		h.l.Env.Log.Debug("set_tos / set_mark", "err", err)
	}
}

// Abort closes the connection: HTTP/1 cannot end one response otherwise.
func (h *Conn) Abort() {
	h.requestOver()
	h.closeNow()
}

// Fail answers status if nothing of the response left yet, else cuts the
// connection: a half-sent response cannot be turned into an error. As
// HAProxy's error answers (a script's 500, a server's 502, 503 or 504),
// it keeps a keep-alive connection whose request was read whole; one
// whose body is still coming closes, since the next request's start
// cannot be found.
func (h *Conn) Fail(status int) {
	h.requestOver()
	if h.rq.headSent {
		h.closeNow()
		return
	}
	h.writeSimple(status, h.rq.keepAlive && h.rq.bodyDone)
}

// SendHead serialises a response head, adding framing, Date and Server.
func (h *Conn) SendHead(hd *stream.Head) {
	if hd.Status >= 400 && h.track != nil {
		h.fe.Track.HTTPError(h.track.key)
	}
	if hd.Close {
		h.rq.keepAlive = false
	}
	if hd.Upgrade {
		h.sendSwitch(hd)
		return
	}
	start := len(h.outBuf().B)
	minor := 1
	if hd.Service {
		minor = h.rq.minor
	}
	b := http1.AppendStatusLine(h.out.B, minor, hd.Status, string(hd.Reason))
	for i, n := 0, hd.NumFields(); i < n; i++ {
		if name, value, ok := hd.Field(i); ok {
			b = http1.AppendHeader(b, name, value)
		}
	}
	if hd.Length < 0 && !(hd.Status < 200 || hd.Status == 204 || hd.Status == 304) {
		if h.rq.minor >= 1 {
			h.rq.respChunked = !hd.NoBody
			b = append(b, "transfer-encoding: chunked\r\n"...)
		} else {
			h.rq.keepAlive = false // HTTP/1.0: the body ends when the connection does
		}
	}
	if !hd.HasDate && h.fe.Date {
		b = http1.AppendDate(b, h.loopNow())
	}
	if !hd.HasServer && h.fe.Server != nil {
		b = append(append(append(b, "server: "...), h.fe.Server...), "\r\n"...)
	}
	if !h.rq.keepAlive || h.l.Env.Draining() {
		h.rq.keepAlive = false
		// An HTTP/1.0 answer closes its connection unless said otherwise.
		if minor >= 1 {
			b = append(b, "connection: close\r\n"...)
		}
	} else if h.rq.minor == 0 {
		b = append(b, "connection: keep-alive\r\n"...)
	}
	h.out.B = append(b, "\r\n"...)
	h.rq.headSent = true
	h.rq.st.LogBytesOut(len(h.out.B) - start)
}

// SendInterim sends an interim response (stream.Interimer) to an
// HTTP/1.1 client; it leaves when the running handler flushes, before
// the script goes on.
func (h *Conn) SendInterim(status int, fields []byte) {
	if h.rq.minor < 1 {
		return
	}
	start := len(h.outBuf().B)
	b := http1.AppendStatusLine(h.out.B, h.rq.minor, status, "")
	b = append(b, fields...)
	h.out.B = append(b, "\r\n"...)
	h.rq.st.LogBytesOut(len(h.out.B) - start)
}

// sendSwitch sends a server's 101 to a WebSocket upgrade.
func (h *Conn) sendSwitch(hd *stream.Head) {
	start := len(h.outBuf().B)
	b := http1.AppendStatusLine(h.out.B, h.rq.minor, hd.Status, string(hd.Reason))
	for i, n := 0, hd.NumFields(); i < n; i++ {
		if name, value, ok := hd.Field(i); ok {
			b = http1.AppendHeader(b, name, value)
		}
	}
	h.out.B = append(b, "connection: upgrade\r\nupgrade: websocket\r\n\r\n"...)
	h.rq.headSent = true
	h.rq.st.LogBytesOut(len(h.out.B) - start)
}

// SendData sends response body bytes, chunk-framed when the head had no
// length.
func (h *Conn) SendData(p []byte) {
	if h.rq.tunnel {
		h.deadline = h.clock() + h.rq.tunnelIdle
		if h.rq.relay != nil {
			h.rq.relay.FromServer(p)
		} else {
			h.rq.wst.FromServer(p)
		}
		return
	}
	if h.rq.respChunked {
		o := h.outBuf()
		o.B = strconv.AppendInt(o.B, int64(len(p)), 16)
		o.B = append(o.B, "\r\n"...)
	}
	h.sendRaw(p)
	if h.rq.respChunked {
		o := h.outBuf()
		o.B = append(o.B, "\r\n"...)
	}
}

// sendRaw sends p as it is: a large p is written without a copy.
func (h *Conn) sendRaw(p []byte) {
	if len(p) >= directWrite {
		h.flush()
		if !h.closed {
			h.send(p)
		}
	} else {
		o := h.outBuf()
		o.B = append(o.B, p...)
	}
}

// SendTrailers sends trailer fields in the last chunk. A response framed
// by its length (or a 1.0 client's) cannot carry them: they are dropped.
func (h *Conn) SendTrailers(t *stream.Trailers) {
	if !h.rq.respChunked {
		return
	}
	b := append(h.outBuf().B, "0\r\n"...)
	for i, n := 0, t.NumFields(); i < n; i++ {
		if name, value, ok := t.Field(i); ok {
			b = http1.AppendHeader(b, name, value)
		}
	}
	h.out.B = append(b, "\r\n"...)
	h.rq.respChunked = false // the last chunk has left
}

// EndResponse completes the response.
func (h *Conn) EndResponse() {
	if h.rq.respChunked {
		o := h.outBuf()
		o.B = http1.AppendLastChunk(o.B)
	}
	h.requestOver()
	// A head that left before the stop began promised keep-alive: the
	// client may already be sending its next request, which is answered
	// with connection: close (setPhase bounds the wait).
	if !h.rq.keepAlive {
		h.closeAfterFlush()
	}
}

// requestOver forgets the script's waits; a request body not read to its
// end is drained under the body timeout, or closes the connection when
// too much of it is left.
func (h *Conn) requestOver() {
	h.rq.waitBody = false
	h.rq.buffering = false
	h.resumeRead()
	if !h.rq.bodyDone {
		if h.rq.bodyLeft > maxDrain {
			h.rq.keepAlive = false
			h.closeAfterFlush()
		}
		h.setPhase(phaseBody)
	}
}

// refuse answers status and closes the connection (bad or refused
// request); the request is logged with the answer's bytes.
func (h *Conn) refuse(status int, cause string) {
	pg := h.fe.Pages[status]
	if pg != nil && pg.Status != 0 {
		status = pg.Status // the page answers another status (HAProxy's 400 for a 414)
	}
	h.rq.st.Refuse(status, cause)
	h.logFrom()
	if !h.requested && !h.logsEmpty() {
		h.rq.st.LogUnwritten() // answered, not logged: HAProxy's option dontlognull
	}
	h.requestOver()
	if h.rq.headSent {
		h.rq.st.Close()
		h.closeNow()
		return
	}
	if pg != nil {
		start := len(h.outBuf().B)
		h.out.B = h.appendPage(h.out.B, status, pg, false)
		h.rq.st.LogBytesOut(len(h.out.B) - start)
	} else {
		answer := http1.ErrorResponse(status)
		o := h.outBuf()
		o.B = append(o.B, answer...)
		h.rq.st.LogBytesOut(len(answer))
	}
	h.rq.st.Close()
	h.closeAfterFlush()
}

// pageCloses reports whether pg says connection: close (HAProxy's 400 and
// 408 pages do).
func pageCloses(pg *stream.Page) bool {
	for _, f := range pg.Fields {
		if http1.EqualFold(f.Name, "connection") && http1.EqualFold(f.Value, "close") {
			return true
		}
	}
	return false
}

// appendPage appends the frontend's error page pg of status (its
// error_pages): its length first, then its fields, as HAProxy's pages
// have them; connection: close unless keepAlive, in the place of the
// page's own connection field if it has one, else last.
func (h *Conn) appendPage(b []byte, status int, pg *stream.Page, keepAlive bool) []byte {
	b = http1.AppendStatusLine(b, 1, status, string(pg.Reason))
	b = append(b, "content-length: "...)
	b = strconv.AppendInt(b, int64(len(pg.Body)), 10)
	b = append(b, "\r\n"...)
	closed := keepAlive // connection: close written, or not to be
	for _, f := range pg.Fields {
		if !http1.EqualFold(f.Name, "connection") {
			b = http1.AppendHeader(b, f.Name, f.Value)
		} else if !closed {
			b = append(b, "connection: close\r\n"...)
			closed = true
		}
	}
	if !closed {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, pg.Body...)
}

// writeSimple answers a short text response generated by the server, or
// the frontend's page for status.
func (h *Conn) writeSimple(status int, keepAlive bool) {
	start := len(h.outBuf().B)
	if pg := h.fe.Pages[status]; pg != nil {
		status = cmp.Or(pg.Status, status)
		keepAlive = keepAlive && !pageCloses(pg)
		h.out.B = h.appendPage(h.out.B, status, pg, keepAlive)
		h.rq.headSent = true
		h.rq.st.LogBytesOut(len(h.out.B) - start)
		if !keepAlive {
			h.rq.keepAlive = false
			h.closeAfterFlush()
		}
		return
	}
	text := http1.StatusText(status)
	b := http1.AppendStatusLine(h.out.B, 1, status, "")
	b = append(b, "content-type: text/plain\r\ncontent-length: "...)
	b = strconv.AppendInt(b, int64(len(text)+5), 10)
	b = append(b, "\r\n"...)
	if h.fe.Date {
		b = http1.AppendDate(b, h.loopNow())
	}
	if h.fe.Server != nil {
		b = append(append(append(b, "server: "...), h.fe.Server...), "\r\n"...)
	}
	if !keepAlive {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	h.out.B = append(b, '\n')
	h.rq.headSent = true
	h.rq.st.LogBytesOut(len(h.out.B) - start)
	if !keepAlive {
		h.rq.keepAlive = false
		h.closeAfterFlush()
	}
}

func (h *Conn) setPhase(p phase) {
	h.phase = p
	switch p {
	case phaseIdle:
		h.deadline = h.clock() + h.idleTimeout() // idle since: see idleEnd
	case phaseHead:
		h.deadline = h.clock() + h.fe.RequestTime
	case phaseBody:
		h.deadline = h.clock() + h.fe.BodyTime
	case phaseTunnel:
		h.deadline = h.clock() + h.rq.tunnelIdle
	default:
		h.deadline = 0
	}
}

// CheckDeadline enforces the timeout of the current phase.
func (h *Conn) CheckDeadline(now time.Time) {
	t := h.l.Env.Loop.Clock(now)
	if h.lingering && !h.closed && t > h.deadline {
		h.c.Close()
		return
	}
	if h.closed || h.closing || h.deadline == 0 {
		return
	}
	end := h.deadline
	if h.phase == phaseIdle {
		end = h.idleEnd()
	}
	if t < end {
		return
	}
	switch h.phase {
	case phaseIdle:
		if !h.requested && !h.drained {
			h.timeoutEmpty()
			return
		}
		h.closeIdle()
	case phaseTunnel:
		h.l.Env.Log.Debug("tunnel idle timeout", "remote", h.c.RemoteAddr())
		h.busy = true
		h.rq.st.Close()
		h.closeNow()
		h.busy = false
		h.afterWork()
	case phaseHead, phaseBody:
		h.l.Env.Log.Debug("client timeout", "phase", h.phase, "remote", h.c.RemoteAddr())
		h.busy = true
		cause := "client timeout: request head (timeouts.http_request)"
		if h.phase == phaseBody {
			cause = "client timeout: request body (timeouts.body)"
		}
		if h.rq.st.Running() && h.rq.headSent {
			h.rq.st.Refuse(408, cause)
			h.rq.st.Close() // logged: nothing more is sent
			h.closeNow()
		} else {
			h.refuse(408, cause)
			h.flush()
		}
		h.busy = false
		h.afterWork()
	}
}

// Drain is called at shutdown, on each connection open, and on each
// connection accepted after: busy connections close after their response,
// and so do those receiving a request head; a forwarded WebSocket closes
// (wsdrain.go). An idle connection closes once it has been idle for
// drainGrace, now or when it next becomes idle: its client may be sending
// the next request right now, and closing under it would lose it. It may
// be called more than once.
func (h *Conn) Drain() {
	if h.closed {
		return // or it became a WebSocket, which drains on its own
	}
	h.drained = true
	if h.rq != nil && h.rq.tunnel {
		h.DrainWebSocket()
		return
	}
	if h.phase != phaseIdle || h.rq != nil && !h.rq.over() {
		return
	}
	if h.clock() >= h.idleEnd() {
		h.closeIdle()
	} // else the sweeper closes it then
}

// closeIdle closes an idle connection, unless its client's next request
// has arrived in the socket and the loop reads it at its next turn: that
// request is answered (with connection: close if the server stops), where
// the close would have lost it (and reset the connection). Closing an idle
// connection always races with the client's next request; this loses only
// the requests that arrive after the close. The sweeper looks again.
func (h *Conn) closeIdle() {
	if h.c.Unread() {
		return
	}
	h.closeNow()
}

// idleEnd is when an idle connection closes: its idle timeout after it
// became idle, or drainGrace after once drained. The idle phase's
// deadline is always the idle timeout's, so that the time the connection
// became idle is known however often Drain is called.
func (h *Conn) idleEnd() time.Duration {
	if d := h.idleTimeout(); h.drained && d > drainGrace {
		return h.deadline + drainGrace - d
	}
	return h.deadline
}

// idleTimeout is how long the connection waits idle: keep_alive between
// requests, http_request for the first one (HAProxy waits for it that
// long and answers 408).
func (h *Conn) idleTimeout() time.Duration {
	if !h.requested {
		return h.fe.RequestTime
	}
	return h.fe.KeepAlive
}

// logsEmpty reports whether the frontend logs the connections that end
// before a byte of a request came (access_log.log_empty, HAProxy without
// option dontlognull).
func (h *Conn) logsEmpty() bool {
	return h.fe.Stream.Log != nil && h.fe.Stream.Log.Empty
}

// logFrom starts the record of a request refused before it started at
// its first byte, or, when none came, when the connection began to wait
// for it: HAProxy's %Ta of a <BADREQ> runs from there.
func (h *Conn) logFrom() {
	switch {
	case h.rq.headAt != 0:
		h.rq.st.LogHeadStart(time.Unix(0, h.rq.headAt))
	case h.phase == phaseIdle:
		h.rq.st.LogHeadStart(h.loopNow().Add(h.deadline - h.idleTimeout() - h.clock()))
	}
}

// timeoutEmpty answers an empty connection that timed out 408 (HAProxy's
// 408 cR <BADREQ>, logged if the frontend logs empty connections), unless
// its client's first bytes have arrived in the socket (see closeIdle).
func (h *Conn) timeoutEmpty() {
	if h.c.Unread() {
		return
	}
	h.busy = true
	h.rq = h.borrow()
	h.refuse(408, "client timeout: no request (timeouts.http_request)")
	h.flush()
	h.busy = false
	h.afterWork()
}

// drainGrace is how long a connection answered just before a shutdown
// gets to send its next request (answered with connection: close).
const drainGrace = time.Second

// outBuf returns the connection's output buffer, borrowing an empty one
// from the loop's pool if the running handler has not written yet. (Call
// it in a statement of its own before writing h.out.B: in one with it,
// h.out may be read before the call sets it.)
func (h *Conn) outBuf() *transport.Buf {
	if h.out == nil {
		h.out = h.l.Env.Bufs.Get()
	}
	return h.out
}

// outLen is how many bytes the running handler assembled.
func (h *Conn) outLen() int {
	if h.out == nil {
		return 0
	}
	return len(h.out.B)
}

// flush writes what the running handler assembled to the client and gives
// the buffer back to the loop's pool, empty. Every handler that writes to
// a connection flushes it before it returns to the loop.
func (h *Conn) flush() {
	if h.out != nil {
		if len(h.out.B) > 0 && !h.closed {
			h.send(h.out.B)
		}
		h.l.Env.Bufs.Put(h.out)
		h.out = nil
	}
	if h.closing && !h.closed {
		h.close()
	}
}

func (h *Conn) closeAfterFlush() { h.closing = true }

// close closes the connection. If the client may still be sending (a
// request body the server did not read), closing at once would make the
// kernel answer with a reset that can destroy the response on its way; so
// the connection first stops writing, drops what still arrives for a
// while, then closes (RFC 9112 section 9.6).
func (h *Conn) close() {
	if h.closed || h.lingering {
		return
	}
	if (h.rq == nil || h.rq.bodyDone) && h.c.Inbound() == 0 || h.peerDone {
		h.c.Close()
		return
	}
	h.lingering = true
	h.deadline = h.clock() + transport.Linger
	transport.CloseWriteWhenSent(h.after, h.c, func() bool { return h.closed })
}

// after runs fn on the loop after d.
func (h *Conn) after(d time.Duration, fn func()) { h.l.Env.Loop.After(d, fn) }

// closeNow sends what is already buffered for the client (earlier
// pipelined responses, or the part of a response that could be sent) and
// closes the connection.
func (h *Conn) closeNow() {
	h.closing = true
	h.flush()
	h.close()
}

// Handoff gives the connection, before its first request or after the
// 101 of an upgrade, to another protocol (HTTP/2): it leaves this loop's
// set and this Conn does nothing more. Its tracking entry (the key
// returned, "" for none) and its place in the frontend's session count
// become the new handler's, which ends them when the connection closes.
// The bytes exchanged here go to the tracking table now, less those
// still buffered, which the new handler counts as it reads them.
func (h *Conn) Handoff() (trackKey string) {
	h.closed = true
	if h.rq != nil {
		h.giveBack() // what the upgrade needs was handed over (H2C)
	}
	if t := h.track; t != nil {
		t.bytes.In -= int64(h.c.Inbound())
		t.bytes.AddTo(h.fe.Track, t.key)
	}
	return h.trackKey()
}

// Upgrade answers a script's ws:accept (stream.Upgrader): the request must
// be a WebSocket upgrade (RFC 6455 §4.2.1) and the frontend under its
// WebSocket connections' bound. The script asked for permessage-deflate
// with 1 in ws_op and listed its subprotocols in io (comma-separated). A
// refusal leaves the status (400, 426, 503) and why in the stream for the
// script, which answers the request as it sees fit. Accepted, the 101
// leaves at once and the connection, its tracking entry, its place in
// the session count and the stream go to a serve/ws Conn; this Conn
// passes it the connection's events and does nothing more.
func (h *Conn) Upgrade() {
	s := h.rq.st.S()
	refuse := func(status int, why string) { s.SetWS(0, status, []byte(why)) }
	if h.fe.WS == nil || h.l.WS == nil {
		refuse(400, "WebSocket is not served on this connection")
		return
	}
	if !h.rq.bodyDone || h.rq.bodyTotal > 0 || h.rq.chunked || h.rq.bodyLeft > 0 {
		refuse(400, "a WebSocket upgrade request has no body")
		return
	}
	o, opt := h.fe.WS.Offer(s)
	res, err := o.Accept(s.Method(), h.rq.minor, &opt)
	if status, why := h.fe.WS.Refusal(err, h.l.Env.Draining()); status != 0 {
		refuse(status, why)
		return
	}
	b := http1.AppendStatusLine(h.outBuf().B, 1, 101, "")
	for i, n := 0, s.NumRFields(); i < n; i++ {
		if name, value := s.RField(i); !ws.HandshakeField(name) {
			b = http1.AppendHeader(b, name, value)
		}
	}
	b = res.AppendFields(b)
	h.out.B = append(b, "\r\n"...)
	h.rq.headSent = true
	h.flush() // the 101 leaves before the first frame
	h.closed, h.handedOff = true, true
	s.SetKind(cgo.KindWebSocket)
	s.SetWS(0, 0, []byte(res.Protocol))
	h.ws = servews.New(h.l.WS, h.fe.WS, h.stats(), h.c, h.id, h.trackKey(), h.rq.st, res.Deflate)
}

// OnClose releases what the connection holds.
func (h *Conn) OnClose(err error) {
	if h.ws != nil {
		h.ws.OnClose(err)
		return
	}
	if !h.closing && !h.lingering {
		h.logClientClose()
	}
	h.closed, h.uncount = true, true
	if t := h.track; t != nil {
		t.bytes.AddTo(h.fe.Track, t.key)
		h.fe.Track.ConnClose(t.key)
	}
	if !h.busy {
		h.afterWork()
	}
}

// OnPeerEOF keeps the connection when its client ended its side while a
// request it sent whole is being answered (eventloop.HalfCloser): the
// answer, and those of the requests pipelined after it, still go out; it
// closes after them. traffic and end are the OnTraffic and OnClose of the
// connection's owner.
func (h *Conn) OnPeerEOF(traffic func(), end func(error)) bool {
	rq := h.rq
	if h.ws != nil || h.closed || h.closing || h.lingering || rq == nil || !rq.bodyDone || rq.tunnel || rq.h2c != nil {
		return false
	}
	if !rq.st.Running() && rq.up == nil || rq.up != nil && rq.up.AbortOnClose() {
		return false
	}
	timeout := cmp.Or(h.fe.BodyTime, h.fe.KeepAlive)
	if transport.Detach(h.c, h.l.Env.Loop.Post, traffic, end, timeout) != nil {
		return false
	}
	h.peerDone = true
	return true
}

// logClientClose records a request its client's close cut before its
// head was complete, and an empty connection if its frontend logs them:
// HAProxy's 400 CR, written when the request's stream closes.
func (h *Conn) logClientClose() {
	switch {
	case h.rq == nil && !h.requested && h.logsEmpty():
		h.rq = h.borrow()
		h.rq.st.ClientClosed("client closed: no request")
		h.logFrom()
	case h.rq != nil && h.phase == phaseHead:
		h.rq.st.ClientClosed("client closed: request head incomplete")
		h.logFrom()
	}
}

// afterWork frees what a closed connection still holds once no code on the
// stack uses it.
func (h *Conn) afterWork() {
	if !h.closed || h.handedOff {
		return
	}
	if rq := h.rq; rq != nil {
		rq.st.Close()
		if rq.relay != nil {
			rq.relay.Close()
			h.sessVars = h.sessVars || rq.relay.SessVars()
		}
		h.giveBack()
	}
	if h.uncount {
		h.uncount = false
		h.stats().Sessions.Dec()
	}
	if h.sessVars && !h.sessionEnded {
		h.sessionEnded = true
		stream.EndSession(h.l.Env, h.id)
	}
}
