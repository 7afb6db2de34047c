package lj

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

const helloWorld = `
core.register_service("hello-world", "http", function(applet)
   local response = "Hello World !"
   applet:set_status(200)
   applet:add_header("content-length", string.len(response))
   applet:add_header("content-type", "text/plain")
   applet:start_response()
   applet:send(response)
end)
`

func newTestState(t *testing.T, code string, limit int64) *State {
	t.Helper()
	s, err := NewState(Options{Scripts: []Script{{Path: "test.lua", Code: []byte(code)}}, MemoryLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStateIn makes a state of generation sh, closed with the test.
func newStateIn(t *testing.T, sh *Shared, code string) *State {
	t.Helper()
	s, err := NewState(Options{Scripts: []Script{{Path: "test.lua", Code: []byte(code)}}, Shared: sh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newRequest starts a GET of path, without a body, for program id.
func newRequest(t *testing.T, s *State, id int, path string) *cgo.Thread {
	t.Helper()
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	th.S.Reset(EntryHTTP, id, 1)
	th.S.SetRequestLine([]byte("GET"), []byte(path), []byte(path), nil, 1, 1)
	th.S.SetFlag(cgo.FlagBodyEnd)
	return th
}

func runService(t *testing.T, s *State, name string) *cgo.Thread {
	t.Helper()
	id, err := s.Program("http", nil, nil, name, false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	th.S.Reset(EntryHTTP, id, 1)
	th.S.SetRequestLine([]byte("GET"), []byte("/a?b=1"), []byte("/a"), []byte("b=1"), 1, 1)
	th.S.AddField([]byte("Host"), []byte("example.com"))
	th.S.SetFlag(cgo.FlagBodyEnd)
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	return th
}

func TestHelloWorld(t *testing.T) {
	s := newTestState(t, helloWorld, 0)
	th := runService(t, s, "hello-world")
	if op, _ := th.S.Op(); op != cgo.OpDone {
		t.Fatalf("op = %d, want done", op)
	}
	if th.S.Status() != 200 || string(th.S.Out()) != "Hello World !" || th.S.NumRFields() != 2 {
		t.Fatalf("status %d out %q fields %d", th.S.Status(), th.S.Out(), th.S.NumRFields())
	}
	n, v := th.S.RField(0)
	if string(n) != "content-length" || string(v) != "13" {
		t.Fatalf("field 0 = %s: %s", n, v)
	}
}

func TestRequestFields(t *testing.T) {
	s := newTestState(t, `core.register_service("echo", "http", function(a)
		a:start_response()
		a:send(a.method .. " " .. a.path .. " " .. a.qs .. " " .. a.version .. " " .. a.headers["host"][0])
	end)`, 0)
	th := runService(t, s, "echo")
	if got := string(th.S.Out()); got != "GET /a b=1 HTTP/1.1 example.com" {
		t.Fatalf("out = %q", got)
	}
}

func TestErrorHasFileLine(t *testing.T) {
	s := newTestState(t, "core.register_service('bad', 'http', function(a)\n  error('boom')\nend)", 0)
	// Before the response started, the error is handed to Go to log
	// (FlagErrLog, FlagSvcErr) and the service answers HAProxy's 500.
	failed := func(th *cgo.Thread) bool {
		f := th.S.Flags()
		return f&cgo.FlagErrLog != 0 && f&cgo.FlagSvcErr != 0 && f&cgo.FlagFailed == 0 && th.S.Status() == 500
	}
	th := runService(t, s, "bad")
	if !failed(th) || !strings.Contains(string(th.S.Err()), "test.lua:2: boom") {
		t.Fatalf("flags %d status %d err %q", th.S.Flags(), th.S.Status(), th.S.Err())
	}
	// The coroutine survives the error and runs the next request.
	s.Release(th)
	th = runService(t, s, "bad")
	if !failed(th) {
		t.Fatal("second run did not fail")
	}
}

func TestSyntaxErrorAtLoad(t *testing.T) {
	_, err := NewState(Options{Scripts: []Script{{Path: "broken.lua", Code: []byte("x = = 1")}}})
	if err == nil || !strings.Contains(err.Error(), "broken.lua:1:") {
		t.Fatalf("err = %v", err)
	}
}

func TestOsExitIsAnError(t *testing.T) {
	s := newTestState(t, `core.register_service("x", "http", function(a) os.exit(1) end)`, 0)
	th := runService(t, s, "x")
	if !strings.Contains(string(th.S.Err()), "os.exit is not allowed") {
		t.Fatalf("err = %q", th.S.Err())
	}
}

func TestMemoryLimit(t *testing.T) {
	s := newTestState(t, `core.register_service("hog", "http", function(a)
		local t = {}
		for i = 1, 1e8 do t[i] = string.rep("x", 100) .. i end
	end)`, 8<<20)
	th := runService(t, s, "hog")
	if !strings.Contains(string(th.S.Err()), "not enough memory") {
		t.Fatalf("err = %q", th.S.Err())
	}
	if s.L.Used() > 8<<20 {
		t.Fatalf("used %d over limit", s.L.Used())
	}
}

func TestSleepYields(t *testing.T) {
	s := newTestState(t, `core.register_service("z", "http", function(a) core.msleep(5) a:start_response() a:send("woke") end)`, 0)
	th := runService(t, s, "z")
	if op, arg := th.S.Op(); op != cgo.OpSleep || arg != 5 {
		t.Fatalf("op %d arg %v", op, arg)
	}
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpDone || string(th.S.Out()) != "woke" {
		t.Fatalf("op %d out %q", op, th.S.Out())
	}
}

func TestUnknownService(t *testing.T) {
	s := newTestState(t, helloWorld, 0)
	if _, err := s.Program("http", nil, nil, "nope", false, StickNames{}, false); err == nil || !strings.Contains(err.Error(), "no Lua service named 'nope'") {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkHelloWorld(b *testing.B) {
	s, err := NewState(Options{Scripts: []Script{{Path: "h.lua", Code: []byte(helloWorld)}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id, _ := s.Program("http", nil, nil, "hello-world", false, StickNames{}, false)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		th, _ := s.Thread()
		th.S.Reset(EntryHTTP, id, 1)
		th.S.SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		th.S.AddField([]byte("Host"), []byte("x"))
		th.Resume(0)
		s.Release(th)
	}
}

func BenchmarkActionAndService(b *testing.B) {
	code, err := os.ReadFile("../bench/cases/action/action.lua")
	if err != nil {
		b.Fatal(err)
	}
	benchAction(b, code)
}

// BenchmarkFetches: an action that calls two fetches, then the service.
func BenchmarkFetches(b *testing.B) {
	benchAction(b, []byte(`core.register_action("tag", { "http-req" }, function(txn)
	txn:set_var("txn.route", txn.sf:method() .. " " .. txn.sf:path())
end)
`+helloWorld))
}

// benchAction runs the action "tag" then the service "hello-world" of code.
func benchAction(b *testing.B, code []byte) {
	s, err := NewState(Options{Scripts: []Script{{Path: "action.lua", Code: code}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id, err := s.Program("http", []string{"lua.tag"}, nil, "hello-world", false, StickNames{}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		th, _ := s.Thread()
		th.S.Reset(EntryHTTP, id, 1)
		th.S.SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		th.S.AddField([]byte("Host"), []byte("127.0.0.1:8080"))
		th.S.AddField([]byte("User-Agent"), []byte("wrk"))
		th.S.AddField([]byte("X-User"), []byte("alice"))
		th.S.AddField([]byte("X-Tenant"), []byte("acme"))
		if r := th.Resume(0); r.Dead || th.S.Status() != 200 {
			b.Fatal(r.Msg, string(th.S.Err()))
		}
		s.Release(th)
	}
}

// A coroutine that served a large request gives its buffers back when it
// returns to the pool, and serves the next request as before.
func TestReleaseTrimsBuffers(t *testing.T) {
	s := newTestState(t, `
core.register_service("echo", "http", function(applet)
	local body = applet:receive()
	applet:set_status(200)
	applet:start_response()
	applet:send(body)
end)
`, 0)
	id, err := s.Program("http", nil, nil, "echo", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(body []byte) (*cgo.Thread, int) {
		th, err := s.Thread()
		if err != nil {
			t.Fatal(err)
		}
		th.S.Reset(EntryHTTP, id, 1)
		th.S.SetRequestLine([]byte("POST"), []byte("/"), []byte("/"), nil, 1, 1)
		th.S.SetContentLength(int64(len(body)))
		th.S.AppendBody(body)
		th.S.SetFlag(cgo.FlagBodyEnd)
		sent := 0
		for {
			if r := th.Resume(0); r.Dead {
				t.Fatal(r.Msg)
			}
			sent += len(th.S.Out())
			th.S.ConsumeOut()
			if op, _ := th.S.Op(); op == cgo.OpDone {
				return th, sent
			}
		}
	}
	big := []byte(strings.Repeat("x", 1<<20))
	th, sent := serve(big)
	if sent != len(big) {
		t.Fatalf("echoed %d bytes", sent)
	}
	if held := th.S.Held(); held < 2<<20 {
		t.Fatalf("a 1 MiB request and its echo hold only %d bytes", held)
	}
	s.Release(th)
	if held := th.S.Held(); held > 2*maxIdleBuffer {
		t.Errorf("pooled stream holds %d bytes after release", held)
	}
	// The trimmed stream serves again.
	th2, sent := serve([]byte("small"))
	if th2 != th || sent != 5 {
		t.Errorf("reuse: same thread %v, echoed %d", th2 == th, sent)
	}
	s.Release(th2)

	// The state's converter scratch is trimmed the same way.
	evalIn(t, s, `return (...).new_converters(false):base64(string.rep("y", 1048576)):len()`)
	if n := s.L.ScratchHeld(); n < 1<<20 {
		t.Fatalf("scratch after a 1 MiB base64: %d bytes", n)
	}
	th3, _ := serve(nil)
	s.Release(th3)
	if n := s.L.ScratchHeld(); n > maxIdleBuffer {
		t.Errorf("scratch holds %d bytes after a release", n)
	}
}

// core.thread is the state's core from 1 (0 for a state standing alone),
// known while the scripts load; core.set_nice is accepted and checked.
func TestCoreThreadAndSetNice(t *testing.T) {
	code := `
if core.thread ~= WANT then error("core.thread " .. tostring(core.thread)) end
core.set_nice(10)
local ok, err = pcall(core.set_nice, "x")
if ok or not err:find("bad argument #1 to 'set_nice' (number expected, got string)", 1, true) then error(tostring(err)) end
ok, err = pcall(core.set_nice)
if ok or not err:find("'set_nice' needs 1 arguments", 1, true) then error(tostring(err)) end
`
	for _, thread := range []int{0, 3} {
		s, err := NewState(Options{Scripts: []Script{{Path: "test.lua", Code: []byte(strings.ReplaceAll(code, "WANT", strconv.Itoa(thread)))}}, Thread: thread})
		if err != nil {
			t.Fatalf("thread %d: %v", thread, err)
		}
		s.Close()
	}
}

// core.crypt_check checks crypt(3)'s MD5, SHA-256 and SHA-512 hashes
// (the cases made with the system's crypt).
func TestCoreCryptCheck(t *testing.T) {
	code := `
local cases = {
	{ "s3cret", "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1", true },
	{ "five", "$5$abc$NpWuFM07dho73by7eLsedZvHTZR2wm1dTBSVyYyHBC3", true },
	{ "one", "$1$xyz$sWACtorN50dHGydJLAp331", true },
	{ "wrong", "$1$xyz$sWACtorN50dHGydJLAp331", false },
	{ "x", "plain", false },
}
for i, c in ipairs(cases) do
	if core.crypt_check(c[1], c[2]) ~= c[3] then error("case " .. i) end
end
`
	newTestState(t, code, 0)
}

// capture.req.method, uri and ver, and capture_req_target, read the
// request line as it arrived, before and after a rewrite; the next
// request on the thread reads its own.
func TestCaptureRequestLine(t *testing.T) {
	s := newTestState(t, `core.register_action("rw", { "http-req" }, function(txn)
		local function line() return txn.f:capture_req_method() .. " " .. txn.f:capture_req_uri() .. " " .. txn.f:capture_req_ver() .. " " .. txn.f:capture_req_target() end
		local before = line()
		if txn.f:path() == "/a" then
			txn.http:req_set_method(txn.f:method() == "GET" and "PUT" or "PATCH")
			txn.http:req_set_path("/rewritten")
		end
		txn:set_var("txn.line", before .. "|" .. line() .. "|" .. txn.f:method() .. " " .. txn.f:url())
	end)
	core.register_service("echo", "http", function(a)
		a:start_response()
		a:send(a:get_var("txn.line"))
	end)`, 0)
	id, err := s.Program("http", []string{"lua.rw"}, nil, "echo", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target, path, query string
		minor                       int
		want                        string
	}{
		{"GET", "/a?b=1", "/a", "b=1", 1, "GET /a?b=1 HTTP/1.1 /a?b=1|GET /a?b=1 HTTP/1.1 /a?b=1|PUT /rewritten?b=1"},
		{"PURGE", "/a", "/a", "", 1, "PURGE /a HTTP/1.1 /a|PURGE /a HTTP/1.1 /a|PATCH /rewritten"},
		{"GET", "http://h.test/c?d", "/c", "d", 0, "GET /c?d HTTP/1.0 http://h.test/c?d|GET /c?d HTTP/1.0 http://h.test/c?d|GET http://h.test/c?d"},
	} {
		th := newRequest(t, s, id, tc.path)
		th.S.SetRequestLine([]byte(tc.method), []byte(tc.target), []byte(tc.path), []byte(tc.query), 1, tc.minor)
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if got := string(th.S.Out()); got != tc.want {
			t.Errorf("%s: out = %q, want %q", tc.target, got, tc.want)
		}
		s.Release(th)
	}
}

// The stream names the service that answers it, by the id whose name
// ServiceNames gives: the frontend's, or the one a rule chose with
// txn.service (HTTP and TCP); none for a request no service answered.
func TestServiceThatAnswered(t *testing.T) {
	s := newTestState(t, `core.register_service("one", "http", function(a) a:start_response() end)
	core.register_service("two", "http", function(a) a:start_response() end)
	core.register_service("up", "tcp", function(a) end)
	core.register_action("pick", {"http-req", "tcp-req"}, function(txn, name) txn:set_var("txn.service", name) end, 1)
	core.register_action("none", {"http-req"}, function(txn) txn:done() end)`, 0)
	names, err := s.ServiceNames()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "one,two,up" {
		t.Fatalf("ServiceNames() = %q", names)
	}
	for _, c := range []struct {
		mode    string
		req     []string
		service string
		want    int
	}{
		{"http", nil, "one", 1},
		{"http", []string{"lua.pick two"}, "one", 2},
		{"http", []string{"lua.none"}, "one", 0},
		{"tcp", []string{"lua.pick up"}, "", 3},
	} {
		id, err := s.Program(c.mode, c.req, nil, c.service, c.service == "", StickNames{}, false)
		if err != nil {
			t.Fatal(err)
		}
		th, err := s.Thread()
		if err != nil {
			t.Fatal(err)
		}
		entry := EntryHTTP
		if c.mode == "tcp" {
			entry = EntryTCP
		}
		th.S.Reset(entry, id, 1)
		th.S.SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		th.S.SetFlag(cgo.FlagBodyEnd)
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if got := th.S.Service(); got != c.want {
			t.Errorf("%s %v: Service() = %d, want %d", c.mode, c.req, got, c.want)
		}
		s.Release(th)
	}
}
