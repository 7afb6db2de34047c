package http2

import (
	"bytes"
	"time"

	"strconv"

	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// reqStream is one HTTP/2 stream of a Conn: the stream.Protocol below its
// request's stream.Stream. It belongs to its Conn, on the Conn's loop, and
// lives until its response is queued whole or the stream is reset.
type reqStream struct {
	h  *Conn
	id uint32
	st *stream.Stream
	// connID is its coroutine's connection id (sess.* variables, the
	// WebSocket gate): the Conn's, or one of its own for an extended
	// CONNECT, which may become a WebSocket (ws.go) living as long as a
	// connection.
	connID int64
	ws     *wsStream // the WebSocket it became; nil until then
	tunnel *tunnel   // the tunnel it became (a forwarded extended CONNECT); nil until then

	head bool // a HEAD request: its answer has no body

	// Request body.
	bodyDone  bool   // END_STREAM received
	bodyTotal int64  // against the frontend's max_body
	held      int    // body bytes given to the script, not yet credited back to the client
	waitBody  bool   // the script waits for body bytes
	waitGen   uint32 // counts the waits for body: the timeout of an earlier one does nothing
	recheck   bool   // a re-check of a forwarded body's backlog is scheduled
	buffering bool   // http_buffer_request: the script starts once the body is in
	up        stream.Upstream

	// Response.
	headSent bool
	// pending is response body the client's windows did not take yet:
	// this stream's own copy, sent on EventWindow. ended: the response
	// is complete once pending has left (with trailers, if any).
	pending      []byte
	ended        bool
	respTrailers [][]byte // name, value, name, value... copied from SendTrailers
	gone         bool     // forgotten by the Conn: nothing more is sent

	deadline time.Time // a wait for body or for the client's windows; zero: none
}

// Peer gives the access log the connection's addresses.
func (rs *reqStream) Peer() (src []byte, srcPort int, dst []byte, dstPort int) {
	return rs.h.srcIP, rs.h.srcPort, rs.h.dstIP, rs.h.dstPort
}

// data takes request body bytes.
func (rs *reqStream) data(p []byte, end bool) {
	h := rs.h
	rs.bodyTotal += int64(len(p))
	if rs.bodyTotal > h.fe.MaxBody {
		h.h2.Consumed(rs.id, len(p))
		rs.bodyError(413, "request body over limits.max_body")
		return
	}
	rs.bodyDone = end
	if rs.buffering {
		rs.deadline = h.now().Add(h.fe.BodyTime) // the timeout is between body bytes
	}
	if !rs.st.Running() && rs.up == nil {
		h.h2.Consumed(rs.id, len(p)) // answered already: dropped
		return
	}
	if !rs.st.Body(p) {
		h.h2.Consumed(rs.id, len(p))
		rs.bodyError(500, "no memory for the request body")
		return
	}
	rs.held += len(p)
	rs.credit()
	if end {
		rs.st.BodyEnd(nil)
	}
	rs.bodyArrived(len(p) > 0 || end)
}

// trailers takes the request's trailer fields; the body ends with them.
func (rs *reqStream) trailers(fields []http2.Field) {
	rs.bodyDone = true
	if !rs.st.Running() && rs.up == nil {
		return
	}
	list := make([]http1.Header, 0, len(fields))
	for _, f := range fields {
		list = append(list, http1.Header{Name: []byte(f.Name), Value: []byte(f.Value)})
	}
	if rs.up == nil {
		s := rs.st.S()
		for _, t := range list {
			if !s.AddTrailer(t.Name, t.Value) {
				rs.bodyError(500, "no memory for the request trailers")
				return
			}
		}
		list = nil
	}
	rs.st.BodyEnd(list)
	rs.bodyArrived(true)
}

// bodyArrived steps a script that waited for the body.
func (rs *reqStream) bodyArrived(got bool) {
	switch {
	case rs.buffering && rs.bodyDone:
		rs.buffering = false
		rs.deadline = time.Time{}
		rs.st.Step()
	case rs.waitBody && got:
		rs.waitBody = false
		rs.deadline = time.Time{}
		rs.st.Step()
	}
}

// credit gives the client back the window of the body bytes the script
// took (or may hold unread), or that left for the backend: a script that
// reads slowly holds its client back past UnreadHigh unread, a server
// past its backlog's high-water mark.
func (rs *reqStream) credit() {
	if rs.gone {
		return
	}
	u := rs.st.Unread()
	switch {
	case rs.up != nil:
		if rs.up.Backlog() >= transport.HighWater {
			rs.recheckCredit()
			return
		}
		u = 0 // handed on to the backend
	case rs.waitBody || rs.buffering || u <= stream.UnreadHigh:
		// A script waiting for the body (all of it, for receive() without
		// a length, or http_buffer_request) takes what comes, up to
		// max_body; one that is busy may leave UnreadHigh unread before
		// its client is held back, as on HTTP/1.
		u = 0
	}
	if rs.held > u {
		rs.h.h2.Consumed(rs.id, rs.held-u)
		rs.held = u
	}
}

// recheckCredit credits a forwarded body again once the server has taken
// some of it.
func (rs *reqStream) recheckCredit() {
	if rs.recheck {
		return
	}
	rs.recheck = true
	rs.h.l.Env.Loop.After(transport.Recheck, func() {
		rs.recheck = false
		if !rs.gone && !rs.h.closed {
			rs.h.Handle(rs.credit)
		}
	})
}

// bodyError ends a request whose body is too large or cannot be kept.
func (rs *reqStream) bodyError(status int, cause string) {
	rs.st.Refuse(status, cause)
	rs.up = nil
	rs.fail(status)
	rs.st.Close() // logged, with the answer's bytes
}

// refuse answers status to a request that cannot start, and logs why.
func (rs *reqStream) refuse(status int, cause string) {
	rs.st.Refuse(status, cause)
	rs.fail(status)
	rs.st.Close()
}

// WaitBody is the script asking for more body. The timeout the script
// gave (milliseconds, in its op's argument; an http-stream read's)
// resumes it without more body.
func (rs *reqStream) WaitBody() bool {
	if rs.bodyDone {
		return false
	}
	rs.waitBody = true
	rs.waitGen++
	rs.deadline = rs.h.now().Add(rs.h.fe.BodyTime)
	if _, ms := rs.st.S().Op(); ms > 0 {
		gen := rs.waitGen
		rs.h.l.Env.Loop.After(time.Duration(ms*float64(time.Millisecond)), func() {
			if rs.waitGen != gen || !rs.waitBody || rs.gone || rs.h.closed {
				return
			}
			rs.waitBody = false
			rs.deadline = time.Time{}
			rs.h.Handle(rs.st.Step)
		})
	}
	return true
}

// BodyConsumed credits the client with what the script read.
func (rs *reqStream) BodyConsumed(int) { rs.credit() }

// Forwarded records that the request is with a backend (or back from it).
func (rs *reqStream) Forwarded(u stream.Upstream) {
	rs.up = u
	rs.credit()
}

// Backlog is how many response bytes have not left yet: this stream's
// held back by its windows, and the connection's unsent.
func (rs *reqStream) Backlog() int { return len(rs.pending) + rs.h.c.Outbound() }

// SetSockopts applies TXN:set_tos and set_mark to the client socket,
// which all the connection's streams share.
func (rs *reqStream) SetSockopts(tos, mark int) {
	if err := transport.SetTOSMark(rs.h.c, tos, mark); err != nil {
		rs.h.l.Env.Log.Debug("set_tos / set_mark", "err", err)
	}
}

// Handle runs fn as a handler of the connection.
func (rs *reqStream) Handle(fn func()) { rs.h.Handle(fn) }

// SendHead sends the response head in a HEADERS frame, adding Date and
// Server. The body's end is always a DATA frame (or the trailers) with
// END_STREAM, sent by EndResponse.
//
// A server's 101 to the Upgrade a forwarded extended CONNECT became goes
// to the client as a 200 (RFC 8441 §5) without the 101's
// Sec-WebSocket-Accept (nor, as for any 2xx to a CONNECT, a
// Content-Length); its Sec-WebSocket-Protocol and -Extensions are the
// client's to check.
func (rs *reqStream) SendHead(hd *stream.Head) {
	if rs.gone {
		return
	}
	h := rs.h
	if hd.Status >= 400 && h.trackKey != "" {
		h.fe.Track.HTTPError(h.trackKey)
	}
	status := hd.Status
	if hd.Upgrade {
		status = 200
	}
	start := h.h2.Pending()
	h.h2.StartHeaders(rs.id, status)
	for i, n := 0, hd.NumFields(); i < n; i++ {
		name, value, ok := hd.Field(i)
		if ok && !(hd.Upgrade && (http1.EqualFold(name, "sec-websocket-accept") || http1.EqualFold(name, "content-length"))) {
			h.h2.AddField(name, value)
		}
	}
	if !hd.HasDate && h.fe.Date {
		h.scratch = appendDate(h.scratch[:0], h.now())
		h.h2.AddField([]byte("date"), h.scratch)
	}
	if !hd.HasServer && h.fe.Server != nil {
		h.h2.AddField([]byte("server"), h.fe.Server)
	}
	if h.h2.SendHeaders(false) != nil {
		return
	}
	rs.st.LogBytesOut(h.h2.Pending() - start)
	if status >= 200 {
		rs.headSent = true
	}
}

// SendInterim sends an interim response (stream.Interimer): a HEADERS
// frame without END_STREAM, before the final one.
func (rs *reqStream) SendInterim(status int, fields []byte) {
	if rs.gone || rs.headSent {
		return
	}
	h := rs.h
	start := h.h2.Pending()
	h.h2.StartHeaders(rs.id, status)
	for len(fields) > 0 {
		line, rest, _ := bytes.Cut(fields, []byte("\r\n"))
		if name, value, ok := bytes.Cut(line, []byte(": ")); ok {
			h.h2.AddField(name, value)
		}
		fields = rest
	}
	if h.h2.SendHeaders(false) != nil {
		return
	}
	rs.st.LogBytesOut(h.h2.Pending() - start)
}

// SendData sends response body bytes within the client's windows; what
// they do not take waits in pending. A tunnel's are what its server sent.
func (rs *reqStream) SendData(p []byte) {
	if rs.tunnel != nil {
		rs.tunnel.fromServer(p)
		return
	}
	rs.sendBody(p)
}

// sendBody sends p in DATA frames, the rest waiting in pending; a
// response's, not a tunnel's, is then bounded by timeouts.body.
func (rs *reqStream) sendBody(p []byte) {
	if rs.gone {
		return
	}
	if len(rs.pending) > 0 {
		rs.pending = append(rs.pending, p...)
		return
	}
	n, err := rs.writeData(p)
	if err != nil {
		return
	}
	if n < len(p) {
		rs.pending = append(rs.pending, p[n:]...)
		if rs.tunnel == nil {
			rs.deadline = rs.h.now().Add(rs.h.fe.BodyTime)
		}
	}
}

// outPiece bounds the body bytes queued in the Conn's output at a time.
const outPiece = 64 << 10

// writeData sends what the windows take of p, a piece at a time, each
// written to the connection before the next: the Conn's output buffer,
// kept for the life of the connection, never grows much past a piece,
// whatever windows the client grants.
func (rs *reqStream) writeData(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(len(p)-n, outPiece)
		m, err := rs.h.h2.WriteData(rs.id, p[n:n+k], false)
		n += m
		if err != nil {
			return n, err
		}
		rs.h.writeOut()
		if m < k {
			break
		}
	}
	return n, nil
}

// SendTrailers keeps the trailer fields for the end of the response.
func (rs *reqStream) SendTrailers(t *stream.Trailers) {
	for i, n := 0, t.NumFields(); i < n; i++ {
		if name, value, ok := t.Field(i); ok {
			rs.respTrailers = append(rs.respTrailers, append([]byte(nil), name...), append([]byte(nil), value...))
		}
	}
}

// EndResponse completes the response once its body has left.
func (rs *reqStream) EndResponse() {
	rs.ended = true
	rs.waitBody, rs.buffering = false, false
	rs.deadline = time.Time{}
	rs.dropBody()
	rs.sendPending()
}

// sendPending sends what the windows held back, and ends the stream once
// everything has left.
func (rs *reqStream) sendPending() {
	if rs.gone {
		return
	}
	h := rs.h
	if len(rs.pending) > 0 {
		n, err := rs.writeData(rs.pending)
		if err != nil {
			// Reset within the Feed under way (a WINDOW_UPDATE and then
			// the client's RST_STREAM): the stream's EventReset will find
			// it forgotten, so its script is stopped here.
			h.forget(rs)
			if rs.ws != nil {
				rs.ws.lost()
			} else {
				rs.st.Close()
			}
			return
		}
		rs.pending = rs.pending[:copy(rs.pending, rs.pending[n:])]
		if len(rs.pending) > 0 {
			// A WebSocket's client that does not read is its pings' to
			// find out, not a deadline's; a tunnel's, its idle timeout's.
			if rs.ws == nil && rs.tunnel == nil && (n > 0 || rs.deadline.IsZero()) {
				rs.deadline = h.now().Add(h.fe.BodyTime)
			}
			return
		}
		if rs.tunnel == nil {
			rs.deadline = time.Time{}
		}
	}
	if !rs.ended {
		return
	}
	if len(rs.respTrailers) > 0 {
		h.h2.StartHeaders(rs.id, 0)
		for i := 0; i+1 < len(rs.respTrailers); i += 2 {
			h.h2.AddField(rs.respTrailers[i], rs.respTrailers[i+1])
		}
		h.h2.SendHeaders(true)
	} else {
		h.h2.WriteData(rs.id, nil, true)
	}
	h.forget(rs)
}

// dropBody gives back the window of the body bytes the script held when
// its answer ended: they will not be read.
func (rs *reqStream) dropBody() {
	if rs.held > 0 && rs.up == nil {
		rs.h.h2.Consumed(rs.id, rs.held)
		rs.held = 0
	}
}

// Abort resets the stream.
func (rs *reqStream) Abort() {
	if rs.gone {
		return
	}
	rs.h.h2.Reset(rs.id, http2.ErrCodeInternal)
	rs.h.forget(rs)
}

// Fail answers status if no head has left yet, else resets the stream.
func (rs *reqStream) Fail(status int) { rs.fail(status) }

func (rs *reqStream) fail(status int) {
	if rs.gone {
		return
	}
	h := rs.h
	if rs.headSent {
		rs.Abort()
		return
	}
	if status >= 400 && h.trackKey != "" {
		h.fe.Track.HTTPError(h.trackKey)
	}
	rs.dropBody()
	rs.deadline = time.Time{}
	start := h.h2.Pending()
	pg := h.fe.Pages[status]
	if pg != nil && pg.Status != 0 {
		status = pg.Status // the page answers another status (HAProxy's 400 for a 414)
	}
	h.h2.StartHeaders(rs.id, status)
	var body []byte
	if pg != nil {
		body = append(h.scratch[:0], pg.Body...)
	} else {
		body = strconv.AppendInt(h.scratch[:0], int64(status), 10)
		body = append(body, ' ')
		body = append(body, http1.StatusText(status)...)
		body = append(body, '\n')
	}
	n := len(body)
	b := strconv.AppendInt(body, int64(n), 10)
	h.scratch = b
	if pg != nil {
		// The frontend's page, its length first as HTTP/1's; HTTP/2 has
		// no connection field.
		h.h2.AddField([]byte("content-length"), b[n:])
		for _, f := range pg.Fields {
			if !http1.EqualFold(f.Name, "connection") {
				h.h2.AddField(f.Name, f.Value)
			}
		}
	} else {
		h.h2.AddField([]byte("content-type"), []byte("text/plain"))
		h.h2.AddField([]byte("content-length"), b[n:])
	}
	if h.fe.Date {
		h.scratch = appendDate(b, h.now())
		h.h2.AddField([]byte("date"), h.scratch[len(b):])
	}
	if h.fe.Server != nil {
		h.h2.AddField([]byte("server"), h.fe.Server)
	}
	if h.h2.SendHeaders(false) == nil {
		rs.headSent = true
		sent := h.h2.Pending() - start
		if !rs.head {
			rs.pending = append(rs.pending[:0], h.scratch[:n]...)
			sent += n
		}
		rs.st.LogBytesOut(sent)
		rs.ended = true
		rs.sendPending()
		return
	}
	h.forget(rs)
}

// timedOut ends a stream past its deadline: its script waited too long
// for body (408), or its client's windows held the response back.
func (rs *reqStream) timedOut() {
	rs.h.l.Env.Log.Debug("HTTP/2 stream timeout", "stream", rs.id, "remote", rs.h.c.RemoteAddr())
	if rs.st.Running() && !rs.headSent {
		rs.refuse(408, "client timeout: request body (timeouts.body)")
		return
	}
	rs.st.Close()
	rs.h.h2.Reset(rs.id, http2.ErrCodeCancel)
	rs.h.forget(rs)
}
