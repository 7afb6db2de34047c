// Package stream runs exchanges: one Lua coroutine per stream (a request,
// a TCP connection, a background task), the single dispatcher of what it
// yields for, the response rules (framing length, statuses without a body,
// HEAD), routing and forwarding to backends. It talks down to the
// connection's protocol (HTTP/1 today; HTTP/2 and WebSocket next) through
// Protocol, and out to backends through Backends and Upstream; the
// protocols keep only their framing.
//
// A Stream belongs to one loop and is used from that loop's goroutine only.
package stream

import (
	"github.com/luaedge/luaedge/shared/cache"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/proto/httpenc"
	"github.com/luaedge/luaedge/transport"
)

// Env is what the streams of one loop share. The edge builds one per loop
// when the loop starts; it lives as long as the loop and is used from the
// loop's goroutine only.
type Env struct {
	Loop     *eventloop.Loop
	Lua      *lj.State
	Log      *slog.Logger
	Sockets  Sockets            // core.tcp() connections of this loop
	Backends Backends           // where requests are forwarded; nil: nowhere
	Bufs     *transport.BufPool // output buffers lent to the loop's connections
	// AccessLog is the loop's side of the access log's sinks; BackendNames
	// name the backends (by index) in its lines.
	AccessLog    *accesslog.Loop
	BackendNames []string
	// ServiceNames name the Lua services (by id less one,
	// cgo.Stream.Service) as the access log's lines do: <lua.NAME>.
	ServiceNames []string
	// BackendCompress is how each backend (by index) compresses the
	// responses of the requests forwarded to it; nil: as their
	// frontend does. Shared, read-only.
	BackendCompress []*httpenc.Policy
	// Caches are the configuration's RAM caches, by index (cache.go):
	// shared by every loop.
	Caches []*cache.Cache
	// The loop's counters, by frontend and backend index (Frontend.Index),
	// counted as each exchange ends.
	FrontendStats []metrics.Frontend
	BackendStats  []metrics.Backend
	// Conns reads the connection counts of every loop, for the lines of
	// a format that logs them (%ac %fc %bc); nil: they log 0.
	Conns ConnCounts
	// Untrack releases an entry of stick table table that a request's
	// rules tracked (its conn_cur), when the exchange ends.
	Untrack func(table, key string)
	// Draining reports that the server is stopping: responses close their
	// connection.
	Draining func() bool

	// The head or trailers being handed to a protocol: one at a time on a
	// loop, valid during the call.
	head     Head
	trailers Trailers
	// logFree are access-log records no stream holds (accesslog.go).
	logFree []*logState
	// encoder compresses the loop's responses, one piece at a time;
	// encFree are coding states no response holds; acceptEncoding holds a
	// request's Accept-Encoding values while a head is being sent
	// (compress.go).
	encoder        httpenc.Encoder
	encFree        []*httpenc.State
	acceptEncoding [][]byte
}

// ConnCounts are the current counts of every loop of the process, for
// the access log: client connections of the process and of a frontend
// (by index), exchanges in a backend (by index, metrics.Backend.Current).
// Any loop may call them.
type ConnCounts interface {
	Process() int64
	Frontend(fe int) int64
	Backend(be int) int64
}

// Server is a backend's server as the access log names it (%s) and
// counts its requests in flight (%sc).
type Server interface {
	Name() string
	Active() int
}

// Sockets performs the Socket operations scripts yield for.
type Sockets interface {
	// Op starts the operation s yielded for; resume runs on the loop when
	// it completed (its result is in s).
	Op(s *cgo.Stream, resume func())
	// CloseOf closes what the stream left open when it ends.
	CloseOf(s *cgo.Stream)
}

// Kind is what a stream runs.
type Kind uint8

const (
	KindHTTP Kind = iota // an HTTP request: actions, then a service or forwarding
	KindTCP              // a TCP connection: tcp-request rules, then a service or a tunnel
	KindTask             // a core.register_task function: no client
	// KindWebSocket is an HTTP request whose script accepted a WebSocket
	// upgrade: the coroutine goes on after the 101, and what it sends are
	// messages (MessageProtocol).
	KindWebSocket
)

// Protocol is the connection below a stream: it frames what the stream
// sends for its protocol.
type Protocol interface {
	// SendHead sends a response head the stream validated.
	SendHead(h *Head)
	// SendData sends response body bytes (for TCP, bytes to the client).
	// The protocol copies or writes them before it returns.
	SendData(p []byte)
	// SendTrailers sends the response's trailer fields after its body;
	// EndResponse follows.
	SendTrailers(t *Trailers)
	// EndResponse completes the response (the last chunk, END_STREAM);
	// for TCP, the connection closes once what was sent has left.
	EndResponse()
	// Abort abandons the stream without (more of) a response: RST_STREAM
	// on HTTP/2, a close on HTTP/1 and TCP.
	Abort()
	// Fail answers status if no head has left yet, else aborts.
	Fail(status int)
	// WaitBody is called when the script waits for more request body (or
	// client bytes): the protocol steps the stream again when some arrived
	// or the body ended. It returns false when no more will come (the
	// stream then resumes on the next loop turn).
	WaitBody() bool
	// BodyConsumed tells that the script took request body bytes; unread
	// is what it holds unread now. A protocol that stopped reading (or, on
	// HTTP/2, withheld flow-control credit) while the script was busy can
	// go on.
	BodyConsumed(unread int)
	// Backlog is how many bytes sent to the client have not left yet.
	Backlog() int
	// SetSockopts applies the IP TOS and firewall mark a script set (-1:
	// unchanged).
	SetSockopts(tos, mark int)
	// Handle runs fn as a handler of the connection (the stream is resumed
	// from a timer or a posted task): the protocol marks itself busy, runs
	// fn, then goes on with its input and flushes what fn sent.
	Handle(fn func())
	// Forwarded tells the protocol that the request went to a backend
	// (its body now goes to the Upstream), or came back from it (nil).
	Forwarded(u Upstream)
}

// Upgrader is a Protocol whose connection (HTTP/1.1's Upgrade) or stream
// (HTTP/2's extended CONNECT, RFC 8441) can be handed over to WebSocket.
type Upgrader interface {
	// Upgrade answers the script's ws:accept (cgo.OpUpgrade): it checks
	// the request as a WebSocket opening handshake with what the script
	// asked for, and either refuses it or sends the 101 (the 200 on
	// HTTP/2) and hands the connection over, calling BecomeWebSocket.
	// Either way it records the outcome in S (SetWS) for the script,
	// which resumes on the next loop turn.
	Upgrade()
}

// Interimer is a Protocol that can send interim (1xx) responses before
// the final one: HTTP/1.1 and HTTP/2.
type Interimer interface {
	// SendInterim sends an interim response of status with fields, each
	// "name: value\r\n" (names lower-case, checked by the script's
	// side), unless the request came as HTTP/1.0, which has no interim
	// responses but 100 (RFC 9110 section 15.2). fields is valid during
	// the call.
	SendInterim(status int, fields []byte)
}

// MessageProtocol is the connection below a WebSocket stream.
type MessageProtocol interface {
	Protocol
	// SendMessage sends one message the script ended (le_end_msg); flags
	// says what it is (cgo.MsgText, MsgBinary, MsgPing, MsgPong,
	// MsgClose). The protocol frames or copies p before it returns.
	SendMessage(p []byte, flags uint8)
}

// Stream is one exchange and its coroutine.
type Stream struct {
	env  *Env
	down Protocol
	kind Kind
	fe   *Frontend

	// Src is the client's address, for balance source; set by the protocol.
	Src []byte

	step  func()      // st.Step, made on first use (stepFn): a method value passed on allocates
	th    *cgo.Thread // the running coroutine; nil once it ended
	gen   uint64      // counts coroutines run, so stale timers do nothing
	timer *time.Timer // a sleep or a wait for the client's backlog

	// sessVars is set once a script set a sess.* variable: the connection
	// drops them when it closes.
	sessVars bool
	// unread is how many request body bytes the script held unread when
	// it last yielded or was given more.
	unread int
	// ran is how long the script has run since it last waited for
	// something: the runs the watchdog yielded (cgo.Limits.Session).
	ran time.Duration

	// Response rules (HTTP).
	isHead   bool
	headSent bool
	noBody   bool  // HEAD, 1xx, 204, 304: no body bytes leave
	respLeft int64 // body bytes the head's content-length still allows; -1: no length
	// enc is the coding of the response being compressed (compress.go),
	// from the loop's free list, with the loop's brotli writer it
	// borrowed; nil: not compressed (an idle connection's stream, and a
	// stream whose exchange ended, hold none).
	enc *httpenc.State

	fwd forward // the exchange with a backend (forward.go)
	// store is the response being stored in a cache as it is relayed
	// (cache.go), the exchange's until UpstreamEnd; nil: none.
	store *cache.Pending
	flt   filtering // a forwarded response body going through Lua filters (filter.go)

	ws  MessageProtocol // down, once the stream became a WebSocket's
	log *logState       // the exchange's access-log record (accesslog.go); nil: none open
}

// New makes the stream of one connection (or task). It runs nothing until
// Start.
func New(env *Env, down Protocol, kind Kind, fe *Frontend) *Stream {
	return &Stream{env: env, down: down, kind: kind, fe: fe}
}

// Attach lends a stream that is not running to protocol down of frontend
// fe for its next exchange; sessVars says whether the scripts of down's
// connection set sess.* variables before. A protocol that keeps its
// loop's streams in a pool (serve/http1) attaches one when a request
// begins and detaches it once the request is over, so that an idle
// connection holds none.
func (st *Stream) Attach(down Protocol, fe *Frontend, sessVars bool) {
	checkDetached(st)
	st.down, st.fe, st.sessVars = down, fe, sessVars
}

// Detach takes the stream back from its protocol once its exchange is
// over (no coroutine, server, coding or access-log record left), and
// resets it: nothing of the protocol's client stays in it. gen goes on
// counting, so that a timer or task of an earlier exchange still finds
// it stale. It returns whether the connection's scripts set sess.*
// variables, which the connection drops when it closes.
func (st *Stream) Detach() (sessVars bool) {
	checkOver(st)
	st.abortStore()
	sessVars = st.sessVars
	*st = Stream{env: st.env, kind: st.kind, gen: st.gen, step: st.step}
	return sessVars
}

// Start takes a coroutine that will run entry(arg) for connection connID.
// The caller fills the request with S, then calls Step.
func (st *Stream) Start(entry, arg int, connID int64) error {
	th, err := st.env.Lua.Thread()
	if err != nil {
		return err
	}
	st.gen++
	st.th = th
	st.unread, st.ran = 0, 0
	st.headSent, st.respLeft, st.noBody, st.isHead = false, -1, false, false
	st.dropCoding()
	th.S.Reset(entry, arg, connID)
	st.logStart()
	return nil
}

// BecomeWebSocket makes the stream a WebSocket connection's, with down
// the protocol below it from now on: its Upgrader calls it once the 101
// is sent.
func (st *Stream) BecomeWebSocket(down MessageProtocol) {
	st.down, st.ws, st.kind = down, down, KindWebSocket
}

// S is the running coroutine's C stream; nil once it ended.
func (st *Stream) S() *cgo.Stream {
	if st.th == nil {
		return nil
	}
	return st.th.S
}

// Running reports whether a coroutine is attached (running or parked).
func (st *Stream) Running() bool { return st.th != nil }

// HeadSent reports whether a response head went to the client.
func (st *Stream) HeadSent() bool { return st.headSent }

// SetHead marks the request as HEAD: the response carries no body.
func (st *Stream) SetHead(head bool) { st.isHead = head }

// SessVars reports whether a script of this connection set sess.* variables.
func (st *Stream) SessVars() bool { return st.sessVars }

// Step resumes the coroutine until it yields, and acts on what it yielded for.
func (st *Stream) Step() {
	th := st.th
	if st.log != nil && !st.log.lineSet {
		st.logRequest()
	}
	r := th.Resume(st.ran)
	if st.log != nil {
		st.logAfterStep(th.S)
	}
	switch r.Outcome {
	case cgo.ForcedYield:
		// The watchdog took the loop back: the loop's other work goes
		// first, then the script goes on where it was.
		st.ran = r.Ran
		st.park(yieldDelay)
		return
	case cgo.TimedOut:
		st.timedOut(r)
		return
	}
	st.ran = 0
	if r.Dead {
		// An error escaped the runner (out of memory in the error handler):
		// the coroutine is dead and leaves the pool.
		st.scriptError("Lua script failed", th.S, r.Msg)
		st.env.Sockets.CloseOf(th.S)
		th.Free()
		st.th = nil
		st.fwd.drop(st)
		st.fail("IR", 500, "Lua: "+firstLine(r.Msg))
		return
	}
	s := th.S
	if s.Flags()&cgo.FlagErrLog != 0 {
		if s.Flags()&cgo.FlagSvcErr != 0 {
			// The service failed before its response started: the script
			// answered HAProxy's 500 for it.
			st.scriptError("Lua script failed", s, string(s.Err()))
			st.logTerm("IR", "")
			s.ClearFlag(cgo.FlagSvcErr)
		} else {
			st.scriptError("Lua action failed; the request goes on (on_error: continue)", s, string(s.Err()))
		}
		st.logCause(s.Err())
		s.ClearFlag(cgo.FlagErrLog)
		s.ClearErr()
	}
	op, arg := s.Op()
	if op == cgo.OpAfter {
		// Done with the request, as OpDone; the coroutine's after_response
		// hooks run once the response was handed over (End).
		op = cgo.OpDone
	}
	if st.unread > 0 {
		if n := s.BodyUnread(); n < st.unread {
			st.unread = n
			st.down.BodyConsumed(n)
		}
	}
	if s.Flags()&cgo.FlagSockopt != 0 {
		s.ClearFlag(cgo.FlagSockopt)
		st.down.SetSockopts(s.Sockopts())
	}
	if op == cgo.OpDone && s.Flags()&(cgo.FlagFailed|cgo.FlagAbort) != 0 {
		st.fwd.drop(st)
		switch st.kind {
		case KindTCP:
			st.sendOut() // what the script sent before it failed or ended the connection
		case KindWebSocket:
			st.sendMessages()
		}
		failed := s.Flags()&cgo.FlagFailed != 0
		if failed {
			st.scriptError("Lua script failed", s, string(s.Err()))
			st.logCause(s.Err())
			// A service that started its response, then failed: what it
			// sent goes out and the connection is cut (Fail, once the
			// head left), as in HAProxy; a 500 would hide that it answered.
			if st.kind == KindHTTP && s.Flags()&cgo.FlagStarted != 0 && (st.headSent || st.sendHead()) {
				st.sendOut()
			}
		}
		st.End()
		if failed {
			st.fail("IR", 500, "")
		} else {
			st.logEnd("PR", 0, "")
			st.down.Abort()
		}
		return
	}
	switch st.kind {
	case KindHTTP:
		if st.flt.on {
			st.afterFilterStep(op, arg)
			return
		}
		if (st.flt.req || s.Flags()&cgo.FlagReqFilter != 0) && st.afterReqFilterStep(op, arg) {
			return
		}
		if st.fwd.parkedForHead {
			st.afterResponseRules(op, arg)
			return
		}
		if s.Flags()&cgo.FlagForward != 0 && st.fwd.up == nil && (op == cgo.OpDone || op == cgo.OpForward) {
			st.startForward()
			return
		}
		if op == cgo.OpDone || s.Flags()&cgo.FlagStarted != 0 {
			if !st.headSent && !st.sendHead() {
				st.End()
				st.fail("IR", 500, "invalid response head from the script")
				return
			}
			st.sendOut()
		}
	case KindTCP:
		st.sendOut()
		if st.fwd.awaitHead && op == cgo.OpDone {
			st.afterTCPResponseRules()
			return
		}
		if op == cgo.OpDone && s.Flags()&cgo.FlagForward != 0 && st.fwd.tunnel == nil {
			st.startTunnel(false)
			return
		}
	case KindWebSocket:
		st.sendMessages()
	}
	switch op {
	case cgo.OpDone:
		st.endResponse()
	case cgo.OpSleep:
		st.park(time.Duration(arg * float64(time.Millisecond)))
	case cgo.OpYield:
		st.park(yieldDelay)
	case cgo.OpRecv:
		if st.kind == KindTask {
			st.invalidOp(op)
			return
		}
		if st.fwd.awaitHead {
			return // tcp-response rules: TunnelData or the inspect delay resumes them
		}
		if !st.down.WaitBody() {
			st.park(0)
		}
	case cgo.OpSocket:
		st.env.Sockets.Op(s, st.resumeTask())
	case cgo.OpFlush:
		st.parkUntilDrained()
	case cgo.OpForward:
		if st.kind != KindTCP {
			st.invalidOp(op)
			return
		}
		st.startTunnel(true)
	case cgo.OpInterim:
		// Before the final head only: once a response started (a
		// script's, or a server's), a 1xx would land inside it.
		if p, ok := st.down.(Interimer); ok && st.kind == KindHTTP && !st.headSent && st.fwd.up == nil && s.Flags()&cgo.FlagStarted == 0 {
			p.SendInterim(int(arg), s.IO())
		}
		st.park(0)
	case cgo.OpUpgrade:
		if u, ok := st.down.(Upgrader); ok && st.kind == KindHTTP && !st.headSent && st.fwd.up == nil {
			u.Upgrade()
		} else {
			s.SetWS(0, 400, []byte("not a request that can become a WebSocket, or its response has started"))
		}
		st.park(0)
	default:
		st.invalidOp(op)
	}
}

// sendMessages hands the messages the script ended since the last step to
// the WebSocket protocol, one by one.
func (st *Stream) sendMessages() {
	s := st.th.S
	n := s.NumMessages()
	if n == 0 {
		return
	}
	out := s.Out()
	start := 0
	for i := 0; i < n; i++ {
		end, flags := s.Message(i)
		st.ws.SendMessage(out[start:end], flags)
		start = end
	}
	s.ConsumeOut()
}

// timedOut ends a stream whose script the watchdog stopped: it ran past a
// CPU limit (Lua's "execution timeout"). The client gets a 500, whatever
// the script did with the error.
func (st *Stream) timedOut(r cgo.Result) {
	st.env.Log.Error("Lua execution timeout", "frontend", st.fe.name(), "where", r.Where, "ran", r.Ran.Round(time.Millisecond))
	st.env.Lua.CountTimeout(st.th)
	st.fwd.drop(st)
	if r.Dead {
		st.env.Sockets.CloseOf(st.th.S)
		st.th.Free()
		st.th = nil
	}
	st.End()
	st.fail("IR", 500, "Lua execution timeout")
}

func (st *Stream) invalidOp(op int) {
	st.env.Log.Error("Lua script waited for something it cannot have here", "frontend", st.fe.name(), "op", op)
	st.End()
	st.logEnd("IR", 0, "Lua script waited for something it cannot have here")
	st.down.Abort()
}

// endResponse completes what the coroutine answered when it returned.
func (st *Stream) endResponse() {
	if st.kind == KindHTTP && st.respLeft > 0 && !st.noBody {
		st.env.Log.Warn("Lua service sent less than its content-length; closing the connection", "frontend", st.fe.name(), "missing", st.respLeft)
		st.End()
		st.logEnd("ID", 0, "Lua service sent less than its content-length")
		st.down.Abort()
		return
	}
	st.finishCoding()
	if st.kind == KindHTTP && st.th.S.NumRTrailers() > 0 && !st.noBody {
		st.sendTrailers()
	}
	st.End()
	st.logDone()
	st.down.EndResponse()
}

// yieldDelay is how long core.yield parks a stream: the smallest timer, so
// that the loop goes through a poll first; a task posted straight back
// could run before the poll, and a script that yields in a loop would
// starve the loop's other connections.
const yieldDelay = time.Microsecond

// park resumes the stream after d (0: on the next loop turn).
func (st *Stream) park(d time.Duration) {
	task := st.resumeTask()
	if d <= 0 {
		st.env.Loop.Post(task)
		return
	}
	st.timer = st.env.Loop.After(d, task)
}

// resumeTask returns a loop task that steps the stream as a handler of its
// connection, or does nothing if the coroutine has ended by then.
func (st *Stream) resumeTask() func() {
	gen := st.gen
	return func() {
		if st.gen != gen || st.th == nil {
			return
		}
		st.timer = nil
		st.down.Handle(st.stepFn())
	}
}

// stepFn is st.Step as a func value, made once, when first needed: most
// streams never wait on a timer or a server, and an idle connection
// keeps its stream.
func (st *Stream) stepFn() func() {
	if st.step == nil {
		st.step = st.Step
	}
	return st.step
}

// While a client has more than backlogHigh unsent, a script that flushes
// waits until it is under backlogLow: a client that reads slowly (or not
// at all) holds the script back instead of making the server buffer its
// whole answer.
const (
	backlogHigh = 1 << 20
	backlogLow  = 256 << 10
)

func (st *Stream) parkUntilDrained() {
	if st.down.Backlog() <= backlogHigh {
		st.park(0)
		return
	}
	task := st.resumeTask()
	gen := st.gen
	var check func()
	check = func() {
		if st.gen == gen && st.th != nil && st.down.Backlog() > backlogLow {
			st.timer = st.env.Loop.After(transport.Recheck, check)
			return
		}
		task()
	}
	st.timer = st.env.Loop.After(transport.Recheck, check)
}

// End returns the coroutine to the pool (or frees it when it is parked
// mid-run) and closes what it left open; a coroutine that waits to run
// after_response hooks is handed to afterResponse. The protocol may start
// another.
func (st *Stream) End() { st.end(true) }

// end is End; after false frees a coroutine that waits to run
// after_response hooks instead.
func (st *Stream) end(after bool) {
	if st.fwd.up == nil {
		// The response is over, whole or cut; a server's body still
		// being relayed keeps its coding until UpstreamEnd or
		// UpstreamFailed.
		st.dropCoding()
	}
	th := st.th
	if th == nil {
		return
	}
	if st.flt.on || st.flt.req || st.flt.headWaits {
		st.flt = filtering{}
	}
	st.gen++
	st.th = nil
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	if th.S.Flags()&cgo.FlagSessVars != 0 {
		st.sessVars = true
	}
	st.logVars(th.S)
	st.logService(th.S)
	st.logUntracked(th.S)
	st.env.Sockets.CloseOf(th.S)
	switch op, _ := th.S.Op(); {
	case op == cgo.OpDone:
		st.env.Lua.Release(th)
	case after && st.kind != KindTask && (op == cgo.OpAfter ||
		op == cgo.OpForward && th.S.Flags()&cgo.FlagHooksAfter != 0):
		// Waiting to run after_response hooks, or for a server's head
		// that will not come (their request still gets them).
		afterResponse(st.env, th)
	default:
		th.Free() // parked mid-run: it cannot run another one
	}
}

// afterPending reports whether the coroutine waits to run after_response
// hooks: the response is being relayed, and End hands it on when it is
// over.
func (st *Stream) afterPending() bool {
	if st.th == nil {
		return false
	}
	op, _ := st.th.S.Op()
	return op == cgo.OpAfter
}

// answered records, for after_response hooks, the status luaedge
// answered with instead of the script or server (a 502, a 503...).
func (st *Stream) answered(status int) {
	if st.th != nil && !st.headSent && st.th.S.Flags()&cgo.FlagHooksAfter != 0 {
		st.th.S.SetResponse(status, nil)
	}
}

// Close ends the stream for good: the connection closed. The upstream
// exchange, if any, is abandoned.
func (st *Stream) Close() {
	st.dropCoding()
	forwarding := st.fwd.up != nil
	q, ok := st.fwd.up.(queuedUpstream)
	queued := ok && q.Queued()
	st.fwd.drop(st)
	st.End()
	if st.log != nil {
		switch {
		case st.kind == KindTCP:
			st.logEnd("CD", 0, "")
		case st.headSent:
			st.logEnd("CD", 0, "")
		case queued:
			st.logEnd("CQ", 0, "")
		case forwarding:
			st.logEnd("CH", 0, "")
		default:
			st.logEnd("CR", 0, "")
		}
	}
}

// sendOut hands what the script added to its output since the last step
// to the protocol.
func (st *Stream) sendOut() {
	s := st.th.S
	out := s.Out()
	if len(out) == 0 {
		return
	}
	s.ConsumeOut()
	st.sendData(out)
}

// sendData applies the response rules to body bytes and sends them.
func (st *Stream) sendData(p []byte) {
	if st.kind == KindHTTP {
		if st.noBody {
			return
		}
		if st.respLeft >= 0 {
			if int64(len(p)) > st.respLeft {
				st.env.Log.Warn("response body longer than its content-length; the excess is dropped", "frontend", st.fe.name())
				p = p[:st.respLeft]
			}
			st.respLeft -= int64(len(p))
		}
	}
	if len(p) > 0 {
		if st.enc != nil {
			p = st.env.encoder.Compress(st.enc, p)
		}
		st.logBytesOut(len(p))
		st.down.SendData(p)
	}
}

// Task runs a core.register_task function with no client.
func Task(env *Env, id int) error {
	st := New(env, taskProtocol{env, id}, KindTask, nil)
	if err := st.Start(lj.EntryTask, id, 0); err != nil {
		return err
	}
	st.Step()
	return nil
}

// taskProtocol is what is below a task: nothing to send to.
type taskProtocol struct {
	env *Env
	id  int
}

func (t taskProtocol) SendHead(*Head)         {}
func (t taskProtocol) SendData([]byte)        {}
func (t taskProtocol) EndResponse()           {}
func (t taskProtocol) SendTrailers(*Trailers) {}
func (t taskProtocol) WaitBody() bool         { return false }
func (t taskProtocol) BodyConsumed(int)       {}
func (t taskProtocol) Backlog() int           { return 0 }
func (t taskProtocol) SetSockopts(int, int)   {}
func (t taskProtocol) Handle(fn func())       { fn() }
func (t taskProtocol) Forwarded(Upstream)     {}
func (t taskProtocol) Abort() {
	t.env.Log.Error("Lua task ended", "task", t.id)
}
func (t taskProtocol) Fail(int) {
	t.env.Log.Error("Lua task failed", "task", t.id)
}

// EndSession drops the sess.* variables of a closed connection in the
// loop's Lua state.
func EndSession(env *Env, connID int64) {
	th, err := env.Lua.Thread()
	if err != nil {
		return
	}
	th.S.Reset(lj.EntryEndSession, 0, connID)
	if r := th.Resume(0); r.Outcome != cgo.Yielded || r.Dead {
		env.Log.Error("ending a Lua session failed", "err", r.Msg, "where", r.Where)
		if r.Dead {
			th.Free()
		} else {
			env.Lua.Release(th)
		}
		return
	}
	env.Lua.Release(th)
}

// SetConnTLS records, with a request, the TLS of client connection c
// (the ssl_fc fetches); it reports whether c is a TLS connection.
func SetConnTLS(s *cgo.Stream, c transport.Conn) bool {
	t, ok := c.(*transport.TLS)
	if !ok {
		return false
	}
	f := t.Facts()
	s.SetTLS(f.Version, f.Cipher, f.SNI, f.ALPN, f.Client)
	return true
}

// SetConnProxy records, with a request, the TLVs of the PROXY v2 header
// client connection c started with (the fc_pp_* fetches); nothing when
// it had none.
func SetConnProxy(s *cgo.Stream, c transport.Conn) {
	// A switch on the concrete types: an assertion to an interface looks
	// its method table up, once per request, for what is mostly nothing.
	var tlvs []byte
	switch t := c.(type) {
	case *transport.Plain:
		tlvs = t.ProxyTLVs()
	case *transport.TLS:
		tlvs = t.ProxyTLVs()
	}
	if len(tlvs) > 0 {
		s.SetProxyTLVs(tlvs)
	}
}

// https is the scheme of a request that came over TLS.
var https = []byte("https")

// SetHTTPS records the scheme of a request that came over TLS (the
// HTTP/1 request line carries none).
func SetHTTPS(s *cgo.Stream) { s.SetScheme(https) }

// scriptError logs a script's error with the request it failed (method,
// path, client) and its traceback without luaedge's own frames.
func (st *Stream) scriptError(text string, s *cgo.Stream, err string) {
	src, port, _, _ := s.Addrs()
	client := string(src) + ":" + strconv.Itoa(port)
	if st.kind == KindHTTP {
		st.env.Log.Error(text, "frontend", st.fe.name(), "method", string(s.Method()), "path", string(s.Path()), "client", client, "err", userTraceback(err))
		return
	}
	st.env.Log.Error(text, "frontend", st.fe.name(), "client", client, "err", userTraceback(err))
}

// userTraceback drops from a script error's traceback the frames of
// luaedge's own chunks (luaedge/*.lua) and the xpcall that runs the
// script: they say nothing to the script's author. The message, first,
// stays as it is.
func userTraceback(msg string) string {
	i := strings.Index(msg, "\nstack traceback:")
	if i < 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg[:i])
	for _, line := range strings.Split(msg[i+1:], "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "luaedge/") || t == "[C]: in function 'xpcall'" {
			continue
		}
		b.WriteByte('\n')
		b.WriteString(line)
	}
	return b.String()
}
