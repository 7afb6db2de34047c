package stream

import (
	"bytes"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/metrics"
)

// AccessLog is where a frontend's streams log; nil in Frontend.Log: not
// logged.
type AccessLog struct {
	// Targets are where each line goes, each with its levels and
	// facility; the line is formatted once with Format.
	Targets []accesslog.Target
	Format  *accesslog.Format
	// SeparateErrors: an exchange that ended in an error is logged at
	// level err, not info (HAProxy's option log-separate-errors).
	SeparateErrors bool
	// Empty: an HTTP/1 connection closed, or timed out, before its first
	// byte is logged, and so is a TCP session whose client sent nothing
	// (HAProxy without option dontlognull).
	Empty bool
}

// The record's times are read from the clock, not the loop's coarse one
// (eventloop.Loop.Now), which traffic on a connection does not refresh.

// logState is the record of a stream's exchange, for the counters
// (Env.FrontendStats, Env.BackendStats) and the access log: taken from
// the loop's free list (Env.logFree) when the request starts (or when a
// protocol refuses one it could not start), given back once written, when
// the exchange ends (for TCP, when the connection closes). An idle
// connection holds none. Its byte slices are reused by the requests that
// take it.
type logState struct {
	lineSet bool // the request line was copied from the C stream
	rec     accesslog.Record
	line    []byte    // method, target and addresses, copied
	fwdAt   time.Time // the request went to the backend
	srvAt   time.Time // a server was chosen for it (after the queue, if it waited)
	connAt  time.Time // the connection to the server was open
	vars    [][]byte  // the values of the format's variables
	be      int       // the backend it went to; -1: none
	srv     Server    // the server it went to (%sc); nil: none
	// service: a Lua service answered it, which the line names as its
	// server and times as HAProxy times an applet.
	service bool
	// untrack are the stick entries its rules tracked, "TABLE\0KEY\0"
	// each (cgo.Stream.TakeUntracked), released when it ends.
	untrack []byte
	// level is the line's level a script set (set-log-level,
	// txn:set_loglevel), as cgo.Stream.LogLevel says: 0 none, -1 silent
	// (no line; still counted), else the level + 1.
	level int
	// badReq: the request was refused before a request line was read
	// (HAProxy's <BADREQ>, which its protocol layer answers outside any
	// stream): the answer's bytes are not in %B and %TR is -1, as there.
	badReq bool
}

// logStart opens the record of a request that starts now.
func (st *Stream) logStart() {
	if st.fe == nil {
		return // a task
	}
	l := st.log
	if l == nil {
		if n := len(st.env.logFree); n > 0 {
			l = st.env.logFree[n-1]
			st.env.logFree = st.env.logFree[:n-1]
		} else {
			l = new(logState)
		}
		st.log = l
	}
	l.lineSet, l.level, l.badReq = false, 0, false
	l.rec = accesslog.Record{TCP: st.kind == KindTCP, Start: st.env.Loop.Now(), Frontend: st.fe.Name, Tw: -1, Tc: -1, Tr: -1}
	if l.rec.TCP {
		l.rec.TR = -1
	}
	l.fwdAt, l.srvAt, l.connAt, l.be, l.srv, l.service = time.Time{}, time.Time{}, time.Time{}, -1, nil, false
}

// logRequest copies the request line and the addresses from the C
// stream, once per request: the coroutine (and the C stream) may be gone
// when the exchange ends.
func (st *Stream) logRequest() {
	l := st.log
	if l == nil || l.lineSet || st.th == nil {
		return
	}
	l.lineSet = true
	s := st.th.S
	src, sp, dst, dp := s.Addrs()
	b := append(append(l.line[:0], src...), dst...)
	if st.kind == KindHTTP {
		m, t := s.Method(), s.Target()
		b = append(append(b, m...), t...)
		n := len(src) + len(dst)
		l.rec.Method, l.rec.Target = b[n:n+len(m)], b[n+len(m):]
		l.rec.Major, l.rec.Minor = s.Version()
	}
	l.line = b
	l.rec.ClientIP, l.rec.ClientPort = b[:len(src)], sp
	l.rec.FrontIP, l.rec.FrontPort = b[len(src):len(src)+len(dst)], dp
}

// LogUnwritten keeps the exchange's line out of the access log (still
// counted), as HAProxy's option dontlognull does for a connection that
// sent nothing.
func (st *Stream) LogUnwritten() {
	if st.log != nil {
		st.log.level = -1
	}
}

// logAfterStep takes in what the step's script changed of the record: the
// line's level (set-log-level, txn:set_loglevel); its termination state
// (txn:set_termination_state); the client's address
// (set-src, set-src-port), which the line names as HAProxy's does.
func (st *Stream) logAfterStep(s *cgo.Stream) {
	l := st.log
	l.level = s.LogLevel()
	if t := s.Term(); t != "" && l.rec.Term == "" {
		l.rec.Term = t
	}
	if !l.lineSet {
		return
	}
	src, sp, _, _ := s.Addrs()
	if sp == l.rec.ClientPort && bytes.Equal(src, l.rec.ClientIP) {
		return
	}
	// Appended: the request line's and the other address's bytes stay
	// where the record points.
	l.line = append(l.line, src...)
	l.rec.ClientIP, l.rec.ClientPort = l.line[len(l.line)-len(src):], sp
}

// LogRequestLine gives the record of a request refused before it started
// its request line (Refuse follows).
func (st *Stream) LogRequestLine(method, target []byte, major, minor int) {
	if st.log == nil {
		st.logStart()
	}
	l := st.log
	if l == nil {
		return
	}
	l.lineSet = true
	l.line = append(append(l.line[:0], method...), target...)
	l.rec.Method, l.rec.Target = l.line[:len(method)], l.line[len(method):]
	l.rec.Major, l.rec.Minor = major, minor
}

// peer is what protocols that know their connection's addresses
// implement, for the record of a request refused before it started.
type peer interface {
	Peer() (src []byte, srcPort int, dst []byte, dstPort int)
}

// logVars copies the values of the variables the format logs, which the
// coroutine left in its C stream s at the end of its request.
func (st *Stream) logVars(s *cgo.Stream) {
	l := st.log
	if l == nil || st.fe.Log == nil || len(st.fe.Log.Format.Vars()) == 0 {
		return
	}
	l.vars = s.LogVars(l.vars[:0])
	l.rec.Vars = l.vars
}

// logUntracked takes the stick entries the request's rules tracked, to
// release when the exchange ends (after the response's body, as
// HAProxy's stream does); at once when it already ended.
func (st *Stream) logUntracked(s *cgo.Stream) {
	if l := st.log; l != nil {
		l.untrack = s.TakeUntracked(l.untrack)
		return
	}
	st.untrack(s.TakeUntracked(nil))
}

// untrack releases the stick entries of list, "TABLE\0KEY\0" each.
func (st *Stream) untrack(list []byte) {
	for len(list) > 0 && st.env.Untrack != nil {
		table, rest, _ := bytes.Cut(list, []byte{0})
		key, rest, _ := bytes.Cut(rest, []byte{0})
		st.env.Untrack(string(table), string(key))
		list = rest
	}
}

// logService records the Lua service that answered the request (TCP:
// the session), which the line names as its server, as HAProxy's does.
func (st *Stream) logService(s *cgo.Stream) {
	l := st.log
	if id := s.Service(); l != nil && id > 0 && id <= len(st.env.ServiceNames) {
		l.rec.Server, l.service = st.env.ServiceNames[id-1], true
	}
}

// logEnd writes the record of the exchange that ended, in state term
// (HAProxy's two characters), with the status sent (0: the one recorded)
// and why it failed ("" when it did not).
func (st *Stream) logEnd(term string, status int, cause string) {
	l := st.log
	if l == nil {
		return
	}
	st.logRequest()
	st.log = nil
	r := &l.rec
	if len(r.ClientIP) == 0 {
		if p, ok := st.down.(peer); ok {
			r.ClientIP, r.ClientPort, r.FrontIP, r.FrontPort = p.Peer()
		}
	}
	if status != 0 && r.Status == 0 {
		r.Status = status
	}
	if l.service && term == "--" && !r.TCP {
		term = "LR" // as HAProxy's line of an HTTP applet
	}
	if r.Term == "" {
		r.Term = term
	}
	if r.Cause == "" {
		r.Cause = cause
	}
	// The end is read now (one monotonic clock read on top of the
	// event's time); the other points are the time of their event.
	now := st.env.Loop.Now()
	now = now.Add(time.Since(now))
	r.Ta = now.Sub(r.Start)
	if l.badReq {
		r.TR = -1
	}
	switch {
	case !l.srvAt.IsZero():
		r.Tw = l.srvAt.Sub(l.fwdAt)
	case r.Queued:
		r.Tw = now.Sub(l.fwdAt) // it left the queue without a server
	case !l.fwdAt.IsZero(), l.service:
		r.Tw = 0 // a service, as HAProxy's applet, waits for nothing
	}
	if l.service {
		r.Tc = 0
	}
	st.count(l)
	if len(l.untrack) > 0 {
		st.untrack(l.untrack)
		l.untrack = l.untrack[:0]
	}
	if lg := st.fe.Log; lg != nil && l.level != -1 && (lg.Empty || !r.TCP || r.BytesIn > 0) {
		if lg.Format.Conns() {
			st.logConns(l)
		}
		st.env.AccessLog.Write(lg.Targets, lg.Format, r, lg.level(l))
	}
	*r = accesslog.Record{}
	l.srv = nil
	st.env.logFree = append(st.env.logFree, l)
}

// logConns reads the connection counts of l's line, as HAProxy's are
// when it logs: the exchange has left its backend (count took it out)
// and its server, its client connection is still open.
func (st *Stream) logConns(l *logState) {
	c := &l.rec.Conns
	if cc := st.env.Conns; cc != nil {
		c.Process, c.Frontend = cc.Process(), cc.Frontend(st.fe.Index)
		if l.be >= 0 {
			c.Backend = cc.Backend(l.be)
		}
	}
	if l.srv != nil {
		c.Server = int64(l.srv.Active())
	}
}

// level is the level of the exchange's line, as HAProxy's strm_log
// chooses it: the one a script set, else err for an error when the
// frontend logs errors apart, else info.
func (lg *AccessLog) level(l *logState) accesslog.Level {
	switch {
	case l.level > 0:
		return accesslog.Level(l.level - 1)
	case lg.SeparateErrors && failed(&l.rec):
		return accesslog.LevelErr
	}
	return accesslog.LevelInfo
}

// failed reports whether an exchange counts as an error for the log's
// level, as HAProxy counts one: ended by anything but its normal course
// (the termination state's first character other than - and L), an HTTP
// status of 500 or more, or a request sent again to a server.
func failed(r *accesslog.Record) bool {
	return (len(r.Term) > 0 && r.Term[0] != '-' && r.Term[0] != 'L') || (!r.TCP && r.Status >= 500) || r.Retries > 0
}

// LogBytesIn counts client bytes a protocol passed on without the stream
// (to a TCP tunnel).
func (st *Stream) LogBytesIn(n int) {
	if st.log != nil {
		st.log.rec.BytesIn += int64(n)
	}
}

func (st *Stream) logBytesOut(n int) {
	if st.log != nil && !st.log.badReq {
		st.log.rec.BytesOut += int64(n)
	}
}

// LogBytesOut counts response bytes a protocol wrote itself: the head of
// a response (HTTP/1: the status line and fields; HTTP/2: the HEADERS
// frames), or the whole of an error answer it generated (a refusal, a
// Fail), which %B includes as HAProxy's does; not the answer to a
// request refused before its request line was read, which HAProxy's %B
// leaves out.
func (st *Stream) LogBytesOut(n int) { st.logBytesOut(n) }

// LogHeadStart records when the first byte of the request's head arrived:
// the request's date (%tr) and the start of %TR and %Ta, which otherwise
// start when the head was complete.
func (st *Stream) LogHeadStart(at time.Time) {
	if l := st.log; l != nil && !at.IsZero() && at.Before(l.rec.Start) {
		l.rec.TR = l.rec.Start.Sub(at)
		l.rec.Start = at
	}
}

// LogTerm records how a TCP session ended (state term, HAProxy's two
// characters, and why); the record is written when the connection closes.
func (st *Stream) LogTerm(term, cause string) { st.logTerm(term, cause) }

func (st *Stream) logTerm(term, cause string) {
	if l := st.log; l != nil && l.rec.Term == "" {
		l.rec.Term, l.rec.Cause = term, cause
	}
}

// LogQueued records that the request waits in its backend's queue, with
// pos requests before it (%bq).
func (st *Stream) LogQueued(pos int) {
	if l := st.log; l != nil {
		l.rec.Queued, l.rec.BackendQueue = true, pos
	}
}

// LogServer records the server a request (or TCP session) went to;
// reused says that the connection to it was already open.
func (st *Stream) LogServer(srv Server, reused bool) {
	l := st.log
	if l == nil {
		return
	}
	l.rec.Server, l.srv = srv.Name(), srv
	l.srvAt = st.env.Loop.Now()
	if reused {
		st.LogConnected()
	}
}

// LogRedispatched records that the request's connection retries went to
// another server, srv.
func (st *Stream) LogRedispatched(srv Server) {
	if l := st.log; l != nil {
		l.rec.Server, l.rec.Redispatched, l.srv = srv.Name(), true, srv
	}
}

// LogConnected records that the connection to the server is open.
func (st *Stream) LogConnected() {
	l := st.log
	if l == nil || l.fwdAt.IsZero() || !l.connAt.IsZero() {
		return
	}
	l.connAt = st.env.Loop.Now()
	from := l.srvAt
	if from.IsZero() {
		from = l.fwdAt
	}
	l.rec.Tc = l.connAt.Sub(from)
}

// logForward records that the request goes to backend be.
func (st *Stream) logForward(be int) {
	l := st.log
	if l == nil {
		return
	}
	if l.be >= 0 && l.be < len(st.env.BackendStats) {
		st.env.BackendStats[l.be].Current.Dec()
	}
	l.fwdAt, l.be = st.env.Loop.Now(), be
	if be >= 0 && be < len(st.env.BackendNames) {
		l.rec.Backend = st.env.BackendNames[be]
	}
	if be >= 0 && be < len(st.env.BackendStats) {
		st.env.BackendStats[be].Current.Inc()
	}
}

// logHead records the response head's status, and when a server's came.
func (st *Stream) logHead(status int, fromServer bool) {
	l := st.log
	if l == nil {
		return
	}
	l.rec.Status = status
	switch {
	case fromServer && !l.connAt.IsZero():
		l.rec.Tr = st.env.Loop.Now().Sub(l.connAt)
	case !fromServer && st.th != nil && st.th.S.Service() > 0:
		// A service's head: %Tr, as HAProxy's for an applet, from the
		// end of the request's head.
		st.logService(st.th.S)
		l.rec.Tr = max(st.env.Loop.Now().Sub(l.rec.Start)-max(l.rec.TR, 0), 0)
	}
}

// logConnected reports whether the request's server connection opened.
func (st *Stream) logConnected() bool { return st.log != nil && !st.log.connAt.IsZero() }

// Refuse ends a request a protocol refuses (a bad or too large request,
// a client too slow, no coroutine to run it): its record takes status and
// cause, opened now if the request never started. The protocol then
// writes its answer, counting it with LogBytesOut, and calls Close, which
// writes the record (%B counts the error answers luaedge writes itself,
// as HAProxy does, except to a request without a request line: there,
// as in HAProxy, %B is 0 and %TR -1) and closes the stream.
func (st *Stream) Refuse(status int, cause string) {
	term := "PR"
	switch {
	case status == 408:
		term = "cR"
	case status >= 500:
		term = "RR"
	}
	st.refuse(term, status, cause)
}

// ClientClosed ends a request whose client closed before its head was
// complete (or, where the frontend logs empty connections, before its
// first byte): HAProxy's 400 CR, which nothing answers. Close writes the
// record.
func (st *Stream) ClientClosed(cause string) { st.refuse("CR", 400, cause) }

// NoRequest ends a connection that failed before it could carry a request
// (HTTP/2: closed, or not HTTP/2, before its client preface was whole),
// which HAProxy logs PR <BADREQ> with the status 0. Close writes the
// record.
func (st *Stream) NoRequest(cause string) {
	st.refuse("PR", 0, cause)
	st.log.rec.NoRequest = true
}

func (st *Stream) refuse(term string, status int, cause string) {
	started := st.log != nil && st.th != nil
	if st.log == nil {
		st.logStart()
	}
	if status != 0 && status < 500 && st.fe != nil && st.fe.Index < len(st.env.FrontendStats) {
		st.env.FrontendStats[st.fe.Index].RequestErrors.Inc()
	}
	if started && st.headSent {
		term = term[:1] + "D"
	}
	if !started && !st.log.lineSet {
		st.log.badReq = true
	}
	if r := &st.log.rec; r.Term == "" {
		r.Term = term
		if r.Status == 0 {
			r.Status = status
		}
		if r.Cause == "" {
			r.Cause = cause
		}
	}
}

// fail ends the exchange with status: the protocol answers it, or cuts
// the response if its head left (Protocol.Fail, which counts what it
// writes with LogBytesOut); then the record is written with term and
// cause, the answer's bytes in it.
func (st *Stream) fail(term string, status int, cause string) {
	st.down.Fail(status)
	st.logEnd(term, status, cause)
}

// logDone records an exchange that ended normally: an HTTP request is
// logged now, a TCP session when its connection closes.
func (st *Stream) logDone() {
	if st.kind == KindTCP {
		st.logTerm("--", "")
		return
	}
	st.logEnd("--", 0, "")
}

// logCause records a script's error for the request's line: the first
// line of its message (the traceback stays in the error log).
func (st *Stream) logCause(err []byte) {
	if l := st.log; l != nil && l.rec.Cause == "" {
		l.rec.Cause = "Lua: " + firstLine(string(err))
	}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// count adds the exchange that ended to the loop's counters of its
// frontend and backend.
func (st *Stream) count(l *logState) {
	r := &l.rec
	if st.fe.Index < len(st.env.FrontendStats) {
		f := &st.env.FrontendStats[st.fe.Index]
		if c := metrics.ClassOf(r.Status); c >= 0 && !r.TCP {
			f.Responses[c].Inc()
		}
		f.BytesIn.Add(r.BytesIn)
		f.BytesOut.Add(r.BytesOut)
	}
	if l.be < 0 || l.be >= len(st.env.BackendStats) {
		return
	}
	b := &st.env.BackendStats[l.be]
	b.Current.Dec()
	b.Requests.Inc()
	b.BytesIn.Add(r.BytesIn)
	b.BytesOut.Add(r.BytesOut)
	switch {
	case len(r.Term) == 2 && (r.Term[0] == 'S' || r.Term[0] == 's'):
		if r.Term[1] == 'C' {
			b.ConnectErrors.Inc()
		} else {
			b.ResponseErrors.Inc()
		}
	case r.Tr >= 0 && !r.TCP:
		if c := metrics.ClassOf(r.Status); c >= 0 {
			b.Responses[c].Inc()
		}
		b.ResponseTime.Add(int64(r.Tr))
		b.Timed.Inc()
	}
}
