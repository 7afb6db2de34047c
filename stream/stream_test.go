package stream_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// The runner is driven the way a protocol drives it, on a real loop and a
// real Lua state: the test's Protocol records what the stream asks of it.

const script = `
local function answer(applet, status, fields, ...)
	applet:set_status(status)
	for i = 1, #fields, 2 do applet:add_header(fields[i], fields[i + 1]) end
	applet:start_response()
	for _, b in ipairs({...}) do applet:send(b) end
end
core.register_service("hello", "http", function(a)
	answer(a, 200, {"content-length", "5", "content-type", "text/plain"}, "hello")
end)
core.register_service("nolength", "http", function(a) answer(a, 200, {}, "abc", "def") end)
core.register_service("s204", "http", function(a) answer(a, 204, {"content-length", "3", "x-a", "1"}, "xyz") end)
core.register_service("s304", "http", function(a) answer(a, 304, {"content-length", "3"}, "xyz") end)
core.register_service("close", "http", function(a) answer(a, 200, {"connection", "close", "content-length", "0"}) end)
core.register_service("hopbyhop", "http", function(a)
	answer(a, 200, {"transfer-encoding", "chunked", "date", "x", "server", "y", "content-length", "2"}, "ok")
end)
core.register_service("badname", "http", function(a) answer(a, 200, {"bad name", "x"}, "never") end)
core.register_service("badvalue", "http", function(a) answer(a, 200, {"x-a", "line\nbreak"}, "never") end)
core.register_service("badlength", "http", function(a) answer(a, 200, {"content-length", "12a"}, "never") end)
core.register_service("short", "http", function(a) answer(a, 200, {"content-length", "10"}, "abc") end)
core.register_service("long", "http", function(a)
	answer(a, 200, {"content-length", "3"}, "ab")
	core.yield()
	a:send("cdef")
end)
core.register_service("error", "http", function(a) error("boom in service") end)
core.register_service("errorafterhead", "http", function(a)
	answer(a, 200, {"content-length", "10"}, "abc")
	core.yield()
	error("late boom")
end)
core.register_service("sleep", "http", function(a)
	answer(a, 200, {}, "before ")
	core.msleep(30)
	a:send("after")
end)
core.register_service("yield", "http", function(a)
	answer(a, 200, {}, "1")
	core.yield()
	a:send("2")
	core.yield()
	a:send("3")
end)
core.register_service("echo", "http", function(a)
	local body = a:receive()
	answer(a, 200, {"content-length", tostring(#body)}, body)
end)
ticks = 0
core.register_task(function()
	for i = 1, 3 do
		core.msleep(1)
		ticks = ticks + 1
	end
end)
-- hints sends two 103s (an empty list sends none) and checks what
-- early_hints refuses.
core.register_action("hints", {"http-req"}, function(txn)
	txn.http:early_hints({{"Link", "</a.css>; rel=preload"}, {"link", "</b.js>"}})
	txn.http:early_hints({})
	txn.http:early_hints({["x-b"] = {"1", "2"}})
	for _, bad in ipairs({{{"bad name", "x"}}, {{"x", "a\r\nb"}}, {["x"] = "\0"}}) do
		if pcall(txn.http.early_hints, txn.http, bad) then error("early_hints took a bad field") end
	end
end)
core.register_service("ticks", "http", function(a) answer(a, 200, {}, tostring(ticks)) end)
core.register_service("page", "http", function(a)
	answer(a, 200, {"content-type", "text/plain"}, string.rep("page text ", 100))
	a:receive() -- the test looks at the stream mid-body, then ends the body
	a:send(string.rep("more text ", 100))
end)
core.register_service("pagefails", "http", function(a)
	answer(a, 200, {"content-type", "text/plain"}, string.rep("page text ", 100))
	core.yield()
	error("late boom")
end)
`

var services = []string{"hello", "nolength", "s204", "s304", "close", "hopbyhop", "badname", "badvalue", "badlength", "short", "long", "error", "errorafterhead", "sleep", "yield", "echo", "ticks", "page", "pagefails"}

// lockedLog collects the server's log for the test to read.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is one loop with its Lua state and programs.
type env struct {
	loop    *eventloop.Loop
	env     *stream.Env
	progs   map[string]int
	forward int // a program that forwards
	log     *lockedLog
	sockets *sockets
}

// sockets is the runner's Sockets; no test script opens one.
type sockets struct{ closed int }

func (s *sockets) Op(*cgo.Stream, func()) {}
func (s *sockets) CloseOf(*cgo.Stream)    { s.closed++ }

// The tests share one loop: starting and stopping an engine costs half a
// second. Each test uses its own streams; the log accumulates.
var (
	shared    *env
	sharedErr error
	startOnce sync.Once
	stopEnv   func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stopEnv != nil {
		stopEnv()
	}
	os.Exit(code)
}

// start returns the loop the tests share, starting it on first use.
func start(t *testing.T) *env {
	t.Helper()
	startOnce.Do(func() { shared, stopEnv, sharedErr = newEnv() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// newEnv runs a one-loop engine whose Setup builds the loop's Lua state
// and stream environment.
func newEnv() (*env, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	e := &env{progs: map[string]int{}, log: &lockedLog{}, sockets: &sockets{}}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var bufs transport.BufPool
	var state *lj.State
	eng := eventloop.New(eventloop.Options{Loops: 1, Log: log, Setup: func(l *eventloop.Loop) error {
		st, err := lj.NewState(lj.Options{Scripts: []lj.Script{{Path: "stream_test.lua", Code: []byte(script)}}})
		if err != nil {
			return err
		}
		state = st
		for _, s := range services {
			id, err := st.Program("http", nil, nil, s, false, lj.StickNames{}, false)
			if err != nil {
				return err
			}
			e.progs[s] = id
		}
		if e.progs["hints"], err = st.Program("http", []string{"lua.hints"}, nil, "hello", false, lj.StickNames{}, false); err != nil {
			return err
		}
		if e.forward, err = st.Program("http", nil, nil, "", true, lj.StickNames{}, false); err != nil {
			return err
		}
		e.loop = l
		e.env = &stream.Env{Loop: l, Lua: st, Log: log, Sockets: e.sockets, Bufs: &bufs, Draining: func() bool { return false }}
		return nil
	}})
	if err := eng.Listen(addr, func(*eventloop.Loop, transport.Conn) eventloop.Handler { return nil }); err != nil {
		return nil, nil, err
	}
	ran := make(chan error, 1)
	go func() { ran <- eng.Run() }()
	select {
	case <-eng.Booted():
	case err := <-ran:
		return nil, nil, fmt.Errorf("Run: %w", err)
	case <-time.After(10 * time.Second):
		return nil, nil, errors.New("engine not booted after 10 s")
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "Stop:", err)
		}
		<-ran
		state.Close() // the loop has returned
	}
	return e, stop, nil
}

// do runs fn on the loop and waits for it.
func (e *env) do(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	e.loop.Post(func() { fn(); close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("loop task did not run")
	}
}

// waitFor evaluates cond on the loop until it holds, for up to 10 s.
func (e *env) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		e.do(t, func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, e.log)
		}
		time.Sleep(time.Millisecond)
	}
}

// head is a copy of what SendHead got.
type head struct {
	status    int
	length    int64
	noBody    bool
	close     bool
	hasDate   bool
	hasServer bool
	fields    []string
}

// proto is the test's Protocol: it records every call, on the loop.
type proto struct {
	calls     []string
	heads     []head
	data      []byte
	waitBody  bool // what WaitBody answers
	handled   int
	forwarded []stream.Upstream
	backlog   int
	// answer is what Fail answers with, counted on st as a protocol
	// counts the error answers it writes; nil st: not counted.
	answer []byte
	st     *stream.Stream
}

func (p *proto) SendHead(h *stream.Head) {
	c := head{status: h.Status, length: h.Length, noBody: h.NoBody, close: h.Close, hasDate: h.HasDate, hasServer: h.HasServer}
	for i := 0; i < h.NumFields(); i++ {
		if n, v, ok := h.Field(i); ok {
			c.fields = append(c.fields, string(n)+": "+string(v))
		}
	}
	p.heads = append(p.heads, c)
	p.calls = append(p.calls, "head")
}
func (p *proto) SendInterim(status int, fields []byte) {
	p.calls = append(p.calls, fmt.Sprintf("interim %d %q", status, fields))
}
func (p *proto) SendData(b []byte)             { p.data = append(p.data, b...); p.calls = append(p.calls, "data") }
func (p *proto) EndResponse()                  { p.calls = append(p.calls, "end") }
func (p *proto) SendTrailers(*stream.Trailers) { p.calls = append(p.calls, "trailers") }
func (p *proto) BodyConsumed(int)              {}
func (p *proto) Abort()                        { p.calls = append(p.calls, "abort") }
func (p *proto) Fail(status int) {
	p.calls = append(p.calls, fmt.Sprintf("fail %d", status))
	if p.st != nil {
		p.st.LogBytesOut(len(p.answer))
	}
}
func (p *proto) WaitBody() bool       { p.calls = append(p.calls, "waitbody"); return p.waitBody }
func (p *proto) Backlog() int         { return p.backlog }
func (p *proto) SetSockopts(a, b int) {}
func (p *proto) Handle(fn func()) {
	p.handled++
	fn()
}
func (p *proto) Forwarded(u stream.Upstream) {
	p.forwarded = append(p.forwarded, u)
	if u == nil {
		p.calls = append(p.calls, "forwarded nil")
	} else {
		p.calls = append(p.calls, "forwarded")
	}
}

// over reports whether the stream gave its final word.
func (p *proto) over() bool {
	if len(p.calls) == 0 {
		return false
	}
	last := p.calls[len(p.calls)-1]
	return last == "end" || last == "abort" || strings.HasPrefix(last, "fail")
}

func (p *proto) String() string { return strings.Join(p.calls, ",") }

// request is how a test sets up a request before the first step.
type request struct {
	method, path, host string
	body               bool // the request has a body still to come
	head               bool // SetHead(true)
	acceptEncoding     string
}

// run starts service svc (or program prog if svc is "") on a new stream
// and steps it once.
func (e *env) run(t *testing.T, p *proto, fe *stream.Frontend, prog int, r request) *stream.Stream {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/"
	}
	if r.host == "" {
		r.host = "example.com"
	}
	var st *stream.Stream
	e.do(t, func() {
		st = stream.New(e.env, p, stream.KindHTTP, fe)
		if err := st.Start(lj.EntryHTTP, prog, 1); err != nil {
			t.Error(err)
			return
		}
		s := st.S()
		s.SetRequestLine([]byte(r.method), []byte(r.path), []byte(r.path), nil, 1, 1)
		s.SetAuthority([]byte(r.host))
		s.AddField([]byte("host"), []byte(r.host))
		if r.acceptEncoding != "" {
			s.AddField([]byte("accept-encoding"), []byte(r.acceptEncoding))
		}
		if !r.body {
			s.SetContentLength(0)
			st.BodyEnd(nil)
		} else {
			s.SetContentLength(-1)
		}
		st.SetHead(r.head)
		st.Step()
	})
	return st
}

func (e *env) serve(t *testing.T, svc string, r request) (*proto, *stream.Stream) {
	t.Helper()
	prog, ok := e.progs[svc]
	if !ok {
		t.Fatalf("no service %s", svc)
	}
	p := &proto{}
	st := e.run(t, p, &stream.Frontend{Name: "fe", Default: -1}, prog, r)
	e.waitFor(t, svc+" to answer", p.over)
	return p, st
}

func TestServiceAnswers(t *testing.T) {
	e := start(t)
	p, st := e.serve(t, "hello", request{})
	if got := p.String(); got != "head,data,end" {
		t.Fatalf("calls %s, want head,data,end", got)
	}
	h := p.heads[0]
	if h.status != 200 || h.length != 5 || h.noBody || h.close || h.hasDate || h.hasServer {
		t.Fatalf("head %+v", h)
	}
	if strings.Join(h.fields, "|") != "content-length: 5|content-type: text/plain" {
		t.Fatalf("fields %q", h.fields)
	}
	if string(p.data) != "hello" {
		t.Fatalf("data %q", p.data)
	}
	e.do(t, func() {
		if st.Running() || st.S() != nil {
			t.Error("the coroutine is still attached after the response")
		}
		if !st.HeadSent() {
			t.Error("HeadSent() = false")
		}
	})
}

// Response heads: the framing length, the statuses and methods without a
// body, and the fields that are the server's to write.
func TestResponseHead(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		svc    string
		req    request
		calls  string
		length int64
		noBody bool
		close  bool
		fields string
		data   string
	}{
		{"nolength", request{}, "head,data,end", -1, false, false, "", "abcdef"},
		{"hello", request{method: "HEAD", head: true}, "head,end", 5, true, false, "content-length: 5|content-type: text/plain", ""},
		// 204 carries no content-length (RFC 9110 section 8.6) and no body.
		{"s204", request{}, "head,end", -1, true, false, "x-a: 1", ""},
		// 304 keeps the content-length of the representation, no body.
		{"s304", request{}, "head,end", 3, true, false, "content-length: 3", ""},
		{"close", request{}, "head,end", 0, false, true, "content-length: 0", ""},
		// transfer-encoding is the protocol's; date and server are flagged.
		{"hopbyhop", request{}, "head,data,end", 2, false, false, "date: x|server: y|content-length: 2", "ok"},
	} {
		p, _ := e.serve(t, tc.svc, tc.req)
		if p.String() != tc.calls {
			t.Errorf("%s %s: calls %s, want %s", tc.req.method, tc.svc, p, tc.calls)
			continue
		}
		h := p.heads[0]
		if h.length != tc.length || h.noBody != tc.noBody || h.close != tc.close || strings.Join(h.fields, "|") != tc.fields {
			t.Errorf("%s %s: head %+v; want length %d noBody %v close %v fields %q", tc.req.method, tc.svc, h, tc.length, tc.noBody, tc.close, tc.fields)
		}
		if tc.svc == "hopbyhop" && (!h.hasDate || !h.hasServer) {
			t.Errorf("hopbyhop: HasDate %v HasServer %v", h.hasDate, h.hasServer)
		}
		if string(p.data) != tc.data {
			t.Errorf("%s: data %q, want %q", tc.svc, p.data, tc.data)
		}
	}
}

// A head the stream cannot send is a 500, and nothing of it leaves.
func TestInvalidHeadFails(t *testing.T) {
	e := start(t)
	for _, svc := range []string{"badname", "badvalue", "badlength"} {
		p, st := e.serve(t, svc, request{})
		if p.String() != "fail 500" || len(p.heads) != 0 || len(p.data) != 0 {
			t.Errorf("%s: calls %s data %q, want fail 500 alone", svc, p, p.data)
		}
		e.do(t, func() {
			if st.Running() || st.HeadSent() {
				t.Errorf("%s: Running %v HeadSent %v after the failure", svc, st.Running(), st.HeadSent())
			}
		})
	}
	if !strings.Contains(e.log.String(), "invalid header") || !strings.Contains(e.log.String(), "invalid content-length") {
		t.Errorf("log does not say why:\n%s", e.log)
	}
}

// Bytes past the content-length are dropped, across steps; a body shorter
// than its content-length cannot end the response: the stream aborts.
func TestContentLengthEnforced(t *testing.T) {
	e := start(t)
	p, _ := e.serve(t, "long", request{})
	if string(p.data) != "abc" || p.calls[len(p.calls)-1] != "end" {
		t.Fatalf("long: calls %s data %q, want \"abc\" then end", p, p.data)
	}
	p, _ = e.serve(t, "short", request{})
	if p.String() != "head,data,abort" || string(p.data) != "abc" {
		t.Fatalf("short: calls %s data %q, want head,data,abort", p, p.data)
	}
}

// A script error is a 500 (the protocol knows whether a head left), and
// the stream can run the next request.
func TestScriptErrorFails(t *testing.T) {
	e := start(t)
	// Before its response started, the script answers HAProxy's 500 page
	// for the service, as HAProxy does; after, the stream fails.
	p, st := e.serve(t, "error", request{})
	if p.String() != "head,data,end" || p.heads[0].status != 500 || !strings.Contains(string(p.data), "500 Internal Server Error") || st.Running() {
		t.Fatalf("calls %s, heads %v, want head,data,end of a 500 page", p, p.heads)
	}
	if !strings.Contains(e.log.String(), "boom in service") {
		t.Errorf("the error is not logged:\n%s", e.log)
	}
	p2, _ := e.serve(t, "errorafterhead", request{})
	if p2.calls[0] != "head" || p2.calls[len(p2.calls)-1] != "fail 500" || strings.Contains(p2.String(), "end") {
		t.Fatalf("errorafterhead: calls %s, want head ... fail 500", p2)
	}
	// The Stream that failed serves the next request of its connection.
	e.do(t, func() {
		*p = proto{}
		if err := st.Start(lj.EntryHTTP, e.progs["hello"], 1); err != nil {
			t.Error(err)
			return
		}
		s := st.S()
		s.SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		st.BodyEnd(nil)
		st.Step()
	})
	e.waitFor(t, "hello after an error", p.over)
	if p.String() != "head,data,end" || string(p.data) != "hello" {
		t.Fatalf("after an error: calls %s data %q", p, p.data)
	}
}

// core.msleep parks the stream on a timer; it resumes as a handler of the
// connection (Handle), not before the time has passed.
func TestSleepResumesThroughHandle(t *testing.T) {
	e := start(t)
	begin := time.Now()
	p := &proto{}
	st := e.run(t, p, nil, e.progs["sleep"], request{})
	e.do(t, func() {
		if p.String() != "head,data" || !st.Running() || p.handled != 0 {
			t.Errorf("while asleep: calls %s running %v handled %d", p, st.Running(), p.handled)
		}
	})
	e.waitFor(t, "the sleep to end", p.over)
	if elapsed := time.Since(begin); elapsed < 30*time.Millisecond {
		t.Errorf("resumed after %v, before its 30 ms", elapsed)
	}
	if p.handled != 1 || string(p.data) != "before after" || p.String() != "head,data,data,end" {
		t.Fatalf("calls %s handled %d data %q", p, p.handled, p.data)
	}
}

// core.yield parks the stream for a loop turn; each resume goes through
// Handle and the output comes out in order.
func TestYieldResumes(t *testing.T) {
	e := start(t)
	p, _ := e.serve(t, "yield", request{})
	if p.handled != 2 || string(p.data) != "123" || p.String() != "head,data,data,data,end" {
		t.Fatalf("calls %s handled %d data %q", p, p.handled, p.data)
	}
}

// applet:receive with the body still coming asks the protocol to wait
// (WaitBody); the protocol steps it again with the body.
func TestReceiveWaitsForBody(t *testing.T) {
	e := start(t)
	p := &proto{waitBody: true}
	st := e.run(t, p, nil, e.progs["echo"], request{method: "POST", body: true})
	e.do(t, func() {
		if p.String() != "waitbody" || !st.Running() {
			t.Errorf("calls %s running %v, want waitbody and a parked coroutine", p, st.Running())
		}
		if !st.Body([]byte("abc")) || !st.Body([]byte("def")) {
			t.Error("Body refused bytes")
		}
		st.Step() // the protocol steps it when bytes arrived
	})
	e.do(t, func() {
		if p.String() != "waitbody,waitbody" {
			t.Errorf("calls %s, want a second waitbody before the end", p)
		}
		st.BodyEnd(nil)
		st.Step()
	})
	e.waitFor(t, "the echo", p.over)
	if string(p.data) != "abcdef" || p.heads[0].length != 6 {
		t.Fatalf("calls %s data %q", p, p.data)
	}
}

// When the protocol says no more body will come (WaitBody false), the
// stream resumes on the next loop turns by itself (through Handle), until
// the body's end is flagged.
func TestReceiveNoMoreBody(t *testing.T) {
	e := start(t)
	p := &proto{waitBody: false}
	st := e.run(t, p, nil, e.progs["echo"], request{method: "POST", body: true})
	e.do(t, func() {
		st.Body([]byte("xy"))
		st.S().SetFlag(cgo.FlagBodyEnd)
	})
	e.waitFor(t, "the echo", p.over)
	if string(p.data) != "xy" || p.handled < 1 || p.calls[0] != "waitbody" {
		t.Fatalf("calls %s data %q handled %d", p, p.data, p.handled)
	}
}

// Ending a stream parked on a timer stops it: the coroutine never resumes
// and nothing more reaches the protocol.
func TestEndWhileSleeping(t *testing.T) {
	e := start(t)
	p := &proto{}
	st := e.run(t, p, nil, e.progs["sleep"], request{})
	closed := e.sockets.closed
	e.do(t, func() {
		st.Close()
		closed = e.sockets.closed - closed
		if st.Running() || st.S() != nil {
			t.Error("still running after Close")
		}
		st.Close() // a second close does nothing
	})
	if closed != 1 {
		t.Errorf("CloseOf called %d times at End, want 1", closed)
	}
	// A timer set after the sleep's, for longer, runs after it would have.
	done := make(chan struct{})
	e.loop.After(60*time.Millisecond, func() { close(done) })
	<-done
	e.do(t, func() {
		if p.handled != 0 || p.String() != "head,data" {
			t.Errorf("after Close: calls %s handled %d", p, p.handled)
		}
	})
}

// A task runs with no client, sleeping between its steps.
func TestTaskRuns(t *testing.T) {
	e := start(t)
	p, _ := e.serve(t, "ticks", request{})
	before, err := strconv.Atoi(string(p.data))
	if err != nil {
		t.Fatalf("ticks: %q", p.data)
	}
	want := strconv.Itoa(before + 3)
	e.do(t, func() {
		if err := stream.Task(e.env, 1); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := e.serve(t, "ticks", request{})
		if string(p.data) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ticks %s, want %s", p.data, want)
		}
		time.Sleep(time.Millisecond)
	}
	if strings.Contains(e.log.String(), "Lua task") {
		t.Fatalf("a task that returned was logged as failed or ended:\n%s", e.log)
	}
}

// An action's early_hints go out as interim responses before the
// service's head, each as one call of the protocol.
func TestEarlyHints(t *testing.T) {
	e := start(t)
	p, _ := e.serve(t, "hints", request{})
	want := `interim 103 "link: </a.css>; rel=preload\r\nlink: </b.js>\r\n",interim 103 "x-b: 1\r\nx-b: 2\r\n",head,data,end`
	if got := p.String(); got != want {
		t.Fatalf("calls %s\nwant  %s", got, want)
	}
}
