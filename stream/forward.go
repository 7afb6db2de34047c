package stream

import (
	"bytes"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/httpenc"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/transport"
)

// Frontend is what streams need of the frontend that accepted them. It is
// built once from the configuration and shared, read-only, by every loop.
type Frontend struct {
	Name    string
	Index   int // in Env.FrontendStats
	Routes  []Route
	Default int // index of the default backend; -1: none
	// Limits bound the heads of requests and of backends' responses
	// (limits in the configuration).
	Limits http1.Limits
	// WSFilters: forwarded WebSockets go through Lua filters (ws_filters),
	// which read whole messages: no extension is negotiated for them.
	WSFilters bool
	// Compress is how its responses are compressed (compress.go); nil:
	// they are not, unless their backend says so.
	Compress *httpenc.Policy
	// Log is where its exchanges are logged; nil: they are not.
	Log *AccessLog
	// Cache is the cache (Env.Caches, index + 1) that answers and stores
	// all its requests (cache.go); 0: only those its rules send there.
	Cache int
}

// Frontend is the frontend the stream came on.
func (st *Stream) Frontend() *Frontend { return st.fe }

// HTTPOptions are an HTTP frontend's settings that every HTTP version
// serves alike. Set when the server is built, read-only after.
type HTTPOptions struct {
	MaxBody       int64
	BufferRequest bool          // http_buffer_request: a script starts once its body is in
	KeepAlive     time.Duration // an idle connection (on HTTP/2: with no stream open)
	RequestTime   time.Duration // timeouts.http_request: a head (or header block) left unfinished
	BodyTime      time.Duration // timeouts.body: between body bytes; on HTTP/2 also a response the client's windows hold back
	Track         *sticktable.Table
	// Server is the Server field's value added to answers without one
	// (server_header); nil: none. Read-only.
	Server []byte
	// Date: answers without a Date field get one (date_header).
	Date bool
	// Pages are the frontend's error_pages: the answers of luaedge's own
	// errors of these statuses (nil: its short text ones). Read-only.
	Pages map[int]*Page
}

// Page is an answer a protocol sends for one of its own errors: the
// reason and fields of its head (without content-length, which the
// protocol writes) and its body.
type Page struct {
	Status int // the answer's status; 0: the one the page is for
	Reason []byte
	Fields []http1.Header
	Body   []byte
}

func (f *Frontend) name() string {
	if f == nil {
		return ""
	}
	return f.Name
}

// Route sends requests for Host (any when "") whose path starts with
// PathPrefix to backend Backend (an index).
type Route struct {
	Host       string
	PathPrefix []byte
	Backend    int
}

// Backends opens exchanges with backend servers, on the stream's loop.
type Backends interface {
	// Open forwards the request in st.S() to a server of backend be (an
	// index): it picks the server, takes a pooled connection or dials one,
	// and sends the head and the body bytes already buffered. On failure
	// it returns the status to answer (503: no server, 502: no connection)
	// and why.
	Open(st *Stream, be int, src []byte) (u Upstream, status int, why string)
	// Tunnel connects a TCP stream to a server of backend be, sending
	// first the client bytes already buffered in st.S().
	Tunnel(st *Stream, be int, src []byte) (Tunnel, string)
}

// Upstream is a request on its way to a backend server.
type Upstream interface {
	// Body sends request body bytes; EndBody ends the body, with its
	// trailer fields (nil: none).
	Body(p []byte)
	EndBody(trailers []http1.Header)
	// Backlog is how many request bytes have not left yet.
	Backlog() int
	// Abandon ends the exchange from the client's side (the client is
	// gone, or was answered otherwise): the connection is not reused.
	Abandon()
	// Resume goes on relaying the response once the http-response rules
	// are done with its head.
	Resume()
	// AbortOnClose says the exchange is to be abandoned if the client
	// ends its side now: its backend has abort_on_close and the request
	// waits in the backend's queue, as HAProxy's option abortonclose.
	// Else it goes on, as HTTP wants of a client that only ended its
	// sending.
	AbortOnClose() bool
}

// Tunneler is a Protocol whose connection can carry a tunnel once a
// server switched protocols (its 101 to a WebSocket upgrade): HTTP/1.1,
// and an HTTP/2 stream whose extended CONNECT (RFC 8441) went to the
// server as an Upgrade (its client gets a 200).
type Tunneler interface {
	// Tunnel makes the connection send what the client sends to the
	// Upstream untouched (Stream.Body), and what the stream sends
	// (SendData) to the client; idle bounds the silence either way (0:
	// the frontend's keep-alive timeout). The connection closes after.
	Tunnel(idle time.Duration)
}

// Tunnel is a TCP stream piped to a server.
type Tunnel interface {
	Write(p []byte)
	Backlog() int
	Close()
	// CloseWrite ends the server's input once the client's bytes have
	// left for it (the client ended its side); the server may still
	// answer.
	CloseWrite()
	// IdleTimeout is how long the piped connection may stay silent; 0:
	// the frontend's keep-alive timeout.
	IdleTimeout() time.Duration
	// InspectDelay bounds, from the connection to the server, how long
	// the tcp-response rules may wait for its bytes; 0: not at all.
	InspectDelay() time.Duration
}

// forward is a stream's exchange with a backend.
type forward struct {
	up            Upstream
	tunnel        Tunnel // TCP mode
	clientEnded   bool   // the TCP client sent all it will (ClientEnded)
	parkedForHead bool   // the coroutine waits to run http-response rules on the server's head
	awaitHead     bool   // the tcp-response rules wait for the server's first bytes
}

// drop abandons the exchange with the backend, if any.
func (f *forward) drop(st *Stream) {
	st.abortStore()
	if u := f.up; u != nil {
		f.up = nil
		f.parkedForHead = false
		u.Abandon()
		st.down.Forwarded(nil)
	}
	if t := f.tunnel; t != nil {
		f.tunnel = nil
		t.Close()
	}
}

// Forwarding reports whether the request is with a backend.
func (st *Stream) Forwarding() bool { return st.fwd.up != nil }

// route picks the backend for the request: the one a script chose, else
// the first matching route, else the frontend's default.
func (st *Stream) route(s *cgo.Stream) int {
	if i := s.Backend(); i >= 0 {
		return i
	}
	host := s.Authority()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	path := s.Path()
	for _, r := range st.fe.Routes {
		if (r.Host == "" || http1.EqualFold(host, r.Host)) && bytes.HasPrefix(path, r.PathPrefix) {
			return r.Backend
		}
	}
	return st.fe.Default
}

// startForward sends the request to a server of its backend.
func (st *Stream) startForward() {
	if p := st.th.S.Protocol(); len(p) > 0 && !http1.EqualFold(p, "websocket") {
		// An extended CONNECT (RFC 8441) is forwarded as an HTTP/1.1
		// Upgrade (proxy), which only WebSocket's has.
		st.forwardError(501, "an extended CONNECT is forwarded for WebSocket only")
		return
	}
	if st.serveFromCache(st.th.S) {
		return
	}
	be := st.route(st.th.S)
	if be < 0 || st.env.Backends == nil {
		st.forwardError(503, "no backend for this request")
		return
	}
	st.th.S.SetBackend(be)
	st.logForward(be)
	u, status, why := st.env.Backends.Open(st, be, st.Src)
	if u == nil {
		st.forwardError(status, why)
		return
	}
	st.fwd.up = u
	if st.flt.req {
		return // the request's filters hand its body on (filter.go)
	}
	st.down.Forwarded(u)
	st.bodyHandedOn()
}

// bodyHandedOn tells the protocol that the unread body went to a backend.
func (st *Stream) bodyHandedOn() {
	if st.unread > 0 {
		st.unread = 0
		st.down.BodyConsumed(0)
	}
}

// forwardError answers status for a request that could not be forwarded.
func (st *Stream) forwardError(status int, why string) {
	st.env.Log.Debug("cannot forward", "status", status, "why", why)
	st.answered(status)
	st.End()
	st.fail("SC", status, why)
}

// Body passes request body bytes on: to the backend when the request is
// forwarded, else to the script. It returns false when the script's
// buffer cannot take them (out of memory).
func (st *Stream) Body(p []byte) bool {
	if u := st.fwd.up; u != nil && !st.flt.req {
		u.Body(p)
		return true
	}
	st.LogBytesIn(len(p))
	if t := st.fwd.tunnel; t != nil {
		t.Write(p)
		return true
	}
	if st.th != nil && len(p) > 0 {
		if !st.th.S.AppendBody(p) {
			return false
		}
		st.unread = st.th.S.BodyUnread()
	}
	return true
}

// While a script that is not waiting for request body holds more than
// UnreadHigh bytes of it unread, its connection stops reading from the
// client, until the script waits for more or holds less than UnreadLow:
// a client that sends faster than the script reads is slowed down by TCP
// instead of being buffered. A script that waits for the whole body
// (receive() without a size) still gets it, up to limits.max_body.
const (
	UnreadHigh = 1 << 20
	UnreadLow  = 256 << 10
)

// Unread is how many request body bytes the script holds unread.
func (st *Stream) Unread() int { return st.unread }

// BodyEnd tells that the request body (or the client's stream of bytes)
// ended, with its trailer fields (nil: none).
func (st *Stream) BodyEnd(trailers []http1.Header) {
	if u := st.fwd.up; u != nil && !st.flt.req {
		u.EndBody(trailers)
		return
	}
	if st.th != nil {
		st.th.S.SetFlag(cgo.FlagBodyEnd)
	}
}

// UpstreamHead is called by the Upstream when the server's response head
// is in st.S() (status and end-to-end fields): it runs the http-response
// rules if the coroutine waits for them, then sends the head. Whether a
// body follows is the response rules' to say (HEAD, 1xx, 204, 304), as
// for a script's answer.
func (st *Stream) UpstreamHead() {
	if st.flt.req {
		st.flt.headWaits = true
		return
	}
	if op, _ := st.th.S.Op(); op == cgo.OpForward {
		// The coroutine waits to run the http-response rules on this head.
		st.fwd.parkedForHead = true
		st.Step()
		return
	}
	st.sendUpstreamHead()
}

// afterResponseRules acts on the http-response rules' step.
func (st *Stream) afterResponseRules(op int, arg float64) {
	switch op {
	case cgo.OpDone:
		st.fwd.parkedForHead = false
		st.sendUpstreamHead()
		if u := st.fwd.up; u != nil {
			u.Resume()
		}
	case cgo.OpResBody:
		st.startFiltering()
	case cgo.OpSleep:
		st.park(time.Duration(arg * float64(time.Millisecond)))
	default:
		st.park(0)
	}
}

// ResponseRulesRunning reports that the http-response rules have not
// finished with the server's head: body bytes wait.
func (st *Stream) ResponseRulesRunning() bool { return st.fwd.parkedForHead || st.flt.headWaits }

// sendUpstreamHead sends the (possibly changed) response head and frees
// the coroutine: what follows is relayed without Lua.
func (st *Stream) sendUpstreamHead() {
	s := st.th.S
	if s.Flags()&(cgo.FlagStarted|cgo.FlagAbort) != 0 {
		// The rules answered (txn:done, DENY, ERROR...) or aborted: that
		// answer replaces the server's, whose body is not relayed.
		st.fwd.drop(st)
		if s.Flags()&cgo.FlagAbort != 0 {
			st.End()
			st.logEnd("PH", 0, "")
			st.down.Abort()
			return
		}
		if !st.sendHead() {
			st.End()
			st.fail("IH", 502, "invalid response head from the http-response rules")
			return
		}
		st.sendOut()
		st.endResponse()
		return
	}
	st.beginStore(s)
	if !st.sendHead() {
		st.fwd.drop(st)
		st.answered(502)
		st.End()
		st.fail("IH", 502, "invalid response head")
		return
	}
	if !st.afterPending() {
		st.End()
	} // else the coroutine waits for the end of the body (UpstreamEnd)
}

// UpstreamSwitched is called by the Upstream when the server answered a
// WebSocket upgrade with 101 (in st.S()): the 101 goes to the client
// without the http-response rules, the coroutine ends, and the connection
// becomes a tunnel between client and server (Tunneler); what the server
// sends next comes as UpstreamData, until UpstreamEnd. idle is the
// tunnel's timeout (0: the frontend's keep-alive).
func (st *Stream) UpstreamSwitched(idle time.Duration) {
	t, ok := st.down.(Tunneler)
	h := &st.env.head
	if !ok || !st.head(h) {
		st.fwd.drop(st)
		st.End()
		st.fail("IH", 502, "invalid response head")
		return
	}
	h.Upgrade = true
	st.fwd.parkedForHead = false
	st.headSent, st.noBody, st.respLeft = true, false, -1
	st.th.S.SetFlag(cgo.FlagHeadSent)
	st.down.SendHead(h)
	// The tunnel is set up while the request is still in the stream: a
	// relay running hooks keeps a copy of its head.
	t.Tunnel(idle)
	// Hooks see a forwarded WebSocket through ws_open and ws_close, not
	// after_response (as the http-response rules do not see its 101).
	st.end(false)
}

// UpstreamData relays response body bytes to the client.
func (st *Stream) UpstreamData(p []byte) {
	if st.store != nil {
		st.store.Write(p)
	}
	if st.flt.on {
		st.filterData(p)
		return
	}
	st.sendData(p)
}

// UpstreamTrailers relays the trailer fields that ended the server's body.
func (st *Stream) UpstreamTrailers(list []http1.Header) {
	if st.flt.on {
		st.filterTrailers(list)
		return
	}
	st.finishCoding()
	if st.noBody || len(list) == 0 {
		return
	}
	t := &st.env.trailers
	*t = Trailers{list: list}
	st.down.SendTrailers(t)
}

// UpstreamEnd is called when the whole response was relayed.
func (st *Stream) UpstreamEnd() {
	if st.store != nil {
		st.store.Commit()
		st.store = nil
	}
	if st.flt.on {
		st.filterEnd()
		return
	}
	st.finishCoding()
	st.fwd.up = nil
	st.fwd.parkedForHead = false
	st.down.Forwarded(nil)
	st.End() // a coroutine that waits to run after_response hooks
	st.logEnd("--", 0, "")
	st.down.EndResponse()
}

// UpstreamRetried makes u the exchange's Upstream: the request went again
// on a new connection (proxy: a reused one closed before the server
// answered). It counts as a retry (%rc).
func (st *Stream) UpstreamRetried(u Upstream) {
	st.fwd.up = u
	st.down.Forwarded(u)
	if l := st.log; l != nil {
		l.rec.Retries++
	}
}

// ConnectFailed answers 503 to a request none of whose connections to
// its servers opened, retries included, as HAProxy does: termination
// state SC, or sC when the last one ran out of timeouts.connect.
func (st *Stream) ConnectFailed(timedOut bool) {
	st.abortStore()
	st.fwd.up = nil
	st.fwd.parkedForHead = false
	st.down.Forwarded(nil)
	st.answered(503)
	st.End()
	term, cause := "SC", "cannot connect to the server"
	if timedOut {
		term, cause = "sC", "connect timeout"
	}
	st.fail(term, 503, cause)
}

// QueueTimedOut answers 503 to a request that waited in its backend's
// queue for the backend's timeouts.queue without getting a server
// (HAProxy's termination state sQ).
func (st *Stream) QueueTimedOut() {
	st.fwd.up = nil
	st.fwd.parkedForHead = false
	st.down.Forwarded(nil)
	st.End()
	st.fail("sQ", 503, "queue timeout: no server of the backend had room (timeouts.queue)")
}

// queuedUpstream is an Upstream that may still wait in its backend's
// queue for a server.
type queuedUpstream interface{ Queued() bool }

// UpstreamFailed answers the client when the server side failed: status
// (502, 504) if no head has left, else the stream is cut.
func (st *Stream) UpstreamFailed(status int) {
	term, cause := []byte("SH"), "server connection failed"
	if status == 504 {
		term[0], cause = 's', "server timeout"
	}
	st.upstreamFailed(status, term, cause)
}

// UpstreamInvalid answers 502 to a request whose server sent a response
// head that is not HTTP: HAProxy's termination state PH.
func (st *Stream) UpstreamInvalid() {
	st.upstreamFailed(502, []byte("PH"), "invalid response from the server")
}

// upstreamFailed ends the exchange with status, and term (its second
// letter made D once the head left, C before the connection opened).
func (st *Stream) upstreamFailed(status int, term []byte, cause string) {
	st.abortStore()
	st.fwd.up = nil
	st.fwd.parkedForHead = false
	st.down.Forwarded(nil)
	st.answered(status)
	st.End()
	switch {
	case st.headSent:
		term[1] = 'D'
	case !st.logConnected():
		term[1] = 'C'
	}
	st.fail(string(term), status, cause)
}

// Handle runs fn as a handler of the stream's connection: a backend's
// events write to the client, and the client's connection goes on after.
func (st *Stream) Handle(fn func()) { st.down.Handle(fn) }

// Backlog is how many response bytes have not left for the client yet.
// The body Lua filters hold counts: the server waits while they hold much.
func (st *Stream) Backlog() int {
	if st.flt.on && st.th != nil {
		return st.down.Backlog() + st.th.S.BodyUnread()
	}
	return st.down.Backlog()
}

// Throttle pauses reading from src while the client has a backlog (see
// transport.Throttle); the exchange ending resumes it.
func (st *Stream) Throttle(src transport.Conn, backlog func() int, gone func() bool) {
	transport.Throttle(func(d time.Duration, fn func()) { st.env.Loop.After(d, fn) }, src, backlog, gone)
}

// startTunnel pipes a TCP stream to a server of its backend; keep says the
// coroutine waits to run tcp-response rules on the server's first bytes.
func (st *Stream) startTunnel(keep bool) {
	s := st.th.S
	be := s.Backend()
	if be < 0 {
		be = st.fe.Default
	}
	if be < 0 || st.env.Backends == nil {
		st.env.Log.Warn("no backend for a TCP connection", "frontend", st.fe.name())
		st.End()
		st.logTerm("SC", "no backend for this connection")
		st.down.Abort()
		return
	}
	st.logForward(be)
	t, why := st.env.Backends.Tunnel(st, be, st.Src)
	if t == nil {
		st.env.Log.Warn("cannot open a TCP tunnel", "frontend", st.fe.name(), "why", why)
		st.End()
		st.logTerm("SC", why)
		st.down.Abort()
		return
	}
	st.fwd.tunnel = t
	if st.fwd.clientEnded {
		t.CloseWrite()
	}
	st.fwd.awaitHead = keep
	st.bodyHandedOn()
	if !keep {
		st.End()
		return
	}
	if t.InspectDelay() <= 0 {
		// The tcp-response rules' first run, on the server's first
		// bytes, is their last: nothing waits for more.
		st.th.S.SetFlag(cgo.FlagResInspectOver)
	}
}

// TunnelOpened is called when the tunnel's connection to the server is
// up. With an inspect delay, the tcp-response rules run a first time, on
// nothing yet, as HAProxy's do, and the delay starts: when it passes, they
// run a last time if they still wait (for more bytes, or for the first
// ones of a silent server). Without one they wait for the first bytes.
func (st *Stream) TunnelOpened() {
	t := st.fwd.tunnel
	if t == nil || !st.fwd.awaitHead || st.th == nil || t.InspectDelay() <= 0 {
		return
	}
	st.env.Loop.After(t.InspectDelay(), func() {
		if st.fwd.tunnel != t || !st.fwd.awaitHead || st.th == nil {
			return // the rules ended, or the connection did
		}
		st.th.S.SetFlag(cgo.FlagResInspectOver)
		st.resumeResponseRules()
	})
	st.resumeResponseRules()
}

// resumeResponseRules runs the tcp-response rules if they wait for
// server bytes.
func (st *Stream) resumeResponseRules() {
	if op, _ := st.th.S.Op(); op == cgo.OpForward || op == cgo.OpRecv {
		st.down.Handle(st.stepFn())
	}
}

// ClientEnded says the TCP client sent all it will and its bytes were
// handed to the stream: its tunnel, now or once it starts, ends the
// server's input after them, as HAProxy passes a client's shutdown on.
func (st *Stream) ClientEnded() {
	st.fwd.clientEnded = true
	if t := st.fwd.tunnel; t != nil {
		t.CloseWrite()
	}
}

// Tunnel is the server side of a TCP stream piped to a server; nil before.
func (st *Stream) Tunnel() Tunnel { return st.fwd.tunnel }

// TunnelData is what the server sent: through the tcp-response rules the
// first time if they wait for it, else to the client.
func (st *Stream) TunnelData(p []byte) {
	if st.fwd.awaitHead && st.th != nil {
		st.th.S.AppendBody(p)
		st.resumeResponseRules()
		return
	}
	st.logBytesOut(len(p))
	st.down.SendData(p)
}

// afterTCPResponseRules sends on what the tcp-response rules left of the
// server's first bytes and frees the coroutine.
func (st *Stream) afterTCPResponseRules() {
	st.fwd.awaitHead = false
	if p := st.th.S.TakeBody(); len(p) > 0 {
		st.down.SendData(p)
	}
	st.End()
}

// TunnelRetried makes t the stream's tunnel: the connection to a server
// failed and t tries again. It counts as a retry (%rc).
func (st *Stream) TunnelRetried(t Tunnel) {
	st.fwd.tunnel = t
	if st.fwd.clientEnded {
		t.CloseWrite()
	}
	if l := st.log; l != nil {
		l.rec.Retries++
	}
}

// TunnelConnectFailed ends a stream none of whose connections to its
// servers opened, retries included, as HAProxy does: the client's
// connection closes, termination state SC, or sC when the last one ran
// out of timeouts.connect.
func (st *Stream) TunnelConnectFailed(timedOut bool, cause string) {
	if st.fwd.tunnel == nil {
		return
	}
	st.fwd.tunnel = nil
	st.End()
	term := "SC"
	if timedOut {
		term = "sC"
	}
	st.logTerm(term, cause)
	st.down.Abort()
}

// TunnelClosed is called when the server side of the tunnel closed.
func (st *Stream) TunnelClosed() {
	if st.fwd.tunnel == nil {
		return
	}
	st.fwd.tunnel = nil
	st.End()
	st.logTerm("--", "")
	st.down.EndResponse() // close the client after what is buffered
}
