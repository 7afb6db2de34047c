package lj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

// writeHooks writes script folders under a temporary dir: files maps
// "SCRIPT/FILE.lua" to its code.
func writeHooks(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, code := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hookState makes a state with the hook scripts names of dir (in that
// order) on a program with service (forward when service is "") and
// the lua.load script code.
func hookState(t testing.TB, dir string, names []string, code, service string) (*State, int) {
	t.Helper()
	h, err := ReadHooks(dir, names, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewState(Options{Scripts: []Script{{Path: "case.lua", Code: []byte(code)}}, Hooks: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	id, err := s.Program("http", nil, nil, service, service == "", StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetHooks(id, names); err != nil {
		t.Fatal(err)
	}
	return s, id
}

// hookRequest runs one GET request on program prog as the edge would:
// the coroutine resumed until done, a forwarded request answered with a
// 200 from the "server", OP_AFTER resumed as the response was sent. It
// returns the thread, still holding the request (release it).
func hookRequest(t testing.TB, s *State, prog int, path string, headers ...string) (*cgo.Thread, []int) {
	t.Helper()
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	st := th.S
	st.Reset(EntryHTTP, prog, 7)
	st.SetRequestLine(hGET, []byte(path), []byte(path), nil, 1, 1)
	st.SetAddrs(hSrc, 40000, hSrc, 8080)
	st.SetAuthority(hHostV)
	st.AddField(hHost, hHostV)
	for i := 0; i+1 < len(headers); i += 2 {
		st.AddField([]byte(headers[i]), []byte(headers[i+1]))
	}
	st.SetFlag(cgo.FlagBodyEnd)
	var ops []int
	for {
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		op, _ := st.Op()
		ops = append(ops, op)
		switch op {
		case cgo.OpDone:
			if st.Flags()&cgo.FlagFailed != 0 {
				t.Fatalf("script failed: %s", st.Err())
			}
			return th, ops
		case cgo.OpForward:
			st.SetResponse(200, hOK)
			st.AddRField([]byte("x-server"), []byte("yes"))
		case cgo.OpAfter: // the response left
		default:
			t.Fatalf("unexpected op %d", op)
		}
	}
}

// rfield returns response field name of s ("" if none).
func rfield(s *cgo.Stream, name string) string {
	for i := 0; i < s.NumRFields(); i++ {
		n, v := s.RField(i)
		if string(n) == name {
			return string(v)
		}
	}
	return ""
}

// field returns request field name of s ("" if none).
func field(s *cgo.Stream, name string) string {
	for i := 0; i < s.NumFields(); i++ {
		n, v := s.Field(i)
		if string(n) == name {
			return string(v)
		}
	}
	return ""
}

const echoService = `core.register_service("echo", "http", function(applet)
	local body = "route=" .. tostring(applet.headers["x-route"] and applet.headers["x-route"][0])
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)`

// Every hook of a request runs, in the order of the lifecycle, and in
// priority order across scripts; the service sees before_request's
// change, the client before_response's.
func TestHooksOrder(t *testing.T) {
	record := func(name, hook string) string {
		return "order = order .. '" + name + ":" + hook + " '\n"
	}
	files := map[string]string{}
	for _, sc := range []string{"a", "b"} {
		files[sc+"/_shared.lua"] = "order = ''\n"
		for _, h := range []string{"before_request", "after_request", "before_response", "after_response"} {
			files[sc+"/"+h+".lua"] = record(sc, h)
		}
	}
	files["a/before_request.lua"] += "mut.req.set_header('x-route', ctx.req.path .. '@' .. ctx.req.headers['x-user'])\n"
	files["b/before_response.lua"] += "mut.resp.set_header('x-order', order)\n"
	s, prog := hookState(t, writeHooks(t, files), []string{"b", "a"}, echoService, "echo")
	th, ops := hookRequest(t, s, prog, "/x", "x-user", "alice")
	defer s.Release(th)
	if got := string(th.S.Out()); got != "route=/x@alice" {
		t.Errorf("service answered %q", got)
	}
	if got := rfield(th.S, "x-order"); got != "b:before_request b:after_request b:before_response " {
		t.Errorf("x-order = %q", got)
	}
	if len(ops) != 2 || ops[0] != cgo.OpAfter || ops[1] != cgo.OpDone {
		t.Errorf("ops %v, want one resume for the request and one for after_response", ops)
	}
	for sc, want := range map[string]string{
		"a": "a:before_request a:after_request a:before_response a:after_response ",
		"b": "b:before_request b:after_request b:before_response b:after_response ",
	} {
		got, err := s.L.EvalInternal("return (...).hook_scripts."+sc+".env.order", "=test")
		if err != nil || got != want {
			t.Errorf("script %s: order %q (%v), want %q", sc, got, err, want)
		}
	}
}

// A request whose program has no after_response hooks is done in one
// resume; one without hooks at all is untouched.
func TestHooksOneResume(t *testing.T) {
	dir := writeHooks(t, map[string]string{"a/before_request.lua": "mut.req.set_header('x-route', 'r')"})
	s, prog := hookState(t, dir, []string{"a"}, echoService, "echo")
	th, ops := hookRequest(t, s, prog, "/")
	defer s.Release(th)
	if len(ops) != 1 || string(th.S.Out()) != "route=r" {
		t.Errorf("ops %v, body %q", ops, th.S.Out())
	}
}

// Globals a script sets stay its own; _shared.lua's are the script's.
func TestHooksIsolation(t *testing.T) {
	dir := writeHooks(t, map[string]string{
		"a/_shared.lua":        "secret = 'a'\nfunction helper() return 'from a' end\n_G.leak = 1",
		"a/before_request.lua": "mut.req.set_header('x-route', helper() .. tostring(leak))",
		"b/before_request.lua": "mut.resp.set_header('x-b', tostring(secret) .. ',' .. tostring(helper) .. ',' .. tostring(leak))",
	})
	s, prog := hookState(t, dir, []string{"a", "b"}, echoService+"\nassert(secret == nil and leak == nil)", "echo")
	th, _ := hookRequest(t, s, prog, "/")
	defer s.Release(th)
	if got := string(th.S.Out()); got != "route=from a1" {
		t.Errorf("a's own globals: %q", got)
	}
	if got := rfield(th.S, "x-b"); got != "nil,nil,nil" {
		t.Errorf("b sees %q of a's globals", got)
	}
}

// A hook's error is counted against it, and error.lua gets err.msg; the
// request goes on.
func TestHooksError(t *testing.T) {
	dir := writeHooks(t, map[string]string{
		"a/before_request.lua": "error('boom')",
		"a/error.lua":          "mut.resp.set_header('x-err', err.hook .. ': ' .. err.msg)",
	})
	s, prog := hookState(t, dir, []string{"a"}, echoService, "echo")
	th, _ := hookRequest(t, s, prog, "/")
	defer s.Release(th)
	if got := rfield(th.S, "x-err"); !strings.HasPrefix(got, "before_request: ") || !strings.HasSuffix(got, "before_request.lua:1: boom") {
		t.Errorf("x-err = %q", got)
	}
	stats, err := s.ScriptStats()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range stats {
		if f.Kind == "hook" && f.Name == "a/before_request" {
			found = true
			if f.Calls != 1 || f.Errors != 1 {
				t.Errorf("a/before_request: %d calls, %d errors", f.Calls, f.Errors)
			}
		}
	}
	if !found {
		t.Errorf("no stats for a/before_request: %+v", stats)
	}
}

// set_finish answers the request with what mut.resp set: no service.
func TestHooksFinish(t *testing.T) {
	dir := writeHooks(t, map[string]string{
		"a/before_request.lua":  "if ctx.req.path == '/block' then mut.resp.set_status(403) mut.resp.set_body('Blocked') mut.ctx.set_finish() end",
		"b/before_request.lua":  "mut.resp.set_header('x-b', 'ran')",
		"b/before_response.lua": "mut.resp.add_header('x-finished', tostring(ctx.is_finished))",
	})
	s, prog := hookState(t, dir, []string{"a", "b"}, echoService, "echo")
	th, _ := hookRequest(t, s, prog, "/block")
	if th.S.Status() != 403 || string(th.S.Out()) != "Blocked" || rfield(th.S, "content-length") != "7" {
		t.Errorf("answer %d %q %q", th.S.Status(), th.S.Out(), rfield(th.S, "content-length"))
	}
	if rfield(th.S, "x-b") != "" || rfield(th.S, "x-finished") != "true" {
		t.Errorf("b ran after set_finish, or before_response did not: x-b %q, x-finished %q", rfield(th.S, "x-b"), rfield(th.S, "x-finished"))
	}
	s.Release(th)
	th, _ = hookRequest(t, s, prog, "/other")
	defer s.Release(th)
	if string(th.S.Out()) != "route=nil" || rfield(th.S, "x-b") != "ran" {
		t.Errorf("the next request: %q, x-b %q", th.S.Out(), rfield(th.S, "x-b"))
	}
}

// A forwarded request waits for the server's head only when a hook
// needs it; before_response changes the server's head.
func TestHooksForward(t *testing.T) {
	dir := writeHooks(t, map[string]string{
		"a/before_request.lua":  "mut.req.set_header('x-in', 'yes')",
		"a/before_response.lua": "mut.resp.set_header('x-seen', ctx.resp.headers['x-server'] .. ' ' .. ctx.resp.status)",
	})
	s, prog := hookState(t, dir, []string{"a"}, "", "")
	th, ops := hookRequest(t, s, prog, "/")
	defer s.Release(th)
	if len(ops) != 2 || ops[0] != cgo.OpForward {
		t.Errorf("ops %v", ops)
	}
	if field(th.S, "x-in") != "yes" || rfield(th.S, "x-seen") != "yes 200 OK" {
		t.Errorf("x-in %q, x-seen %q", field(th.S, "x-in"), rfield(th.S, "x-seen"))
	}

	dir = writeHooks(t, map[string]string{"a/before_request.lua": "mut.req.set_header('x-in', 'yes')"})
	s, prog = hookState(t, dir, []string{"a"}, "", "")
	th2, ops := hookRequest(t, s, prog, "/")
	defer s.Release(th2)
	if len(ops) != 1 || th2.S.Flags()&cgo.FlagForward == 0 {
		t.Errorf("without before_response: ops %v", ops)
	}
}

// A coroutine that waits for a server's head that never comes (the
// exchange failed) is resumed after the response with FlagAfter: it runs
// after_response only, with the status luaedge answered.
func TestHooksNoHead(t *testing.T) {
	dir := writeHooks(t, map[string]string{
		"a/before_response.lua": "mut.resp.set_header('x-seen', 'yes')",
		"a/after_response.lua":  "status = ctx.resp.status_code",
	})
	s, prog := hookState(t, dir, []string{"a"}, "", "")
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(th)
	st := th.S
	st.Reset(EntryHTTP, prog, 7)
	st.SetRequestLine(hGET, hSlash, hSlash, nil, 1, 1)
	st.SetFlag(cgo.FlagBodyEnd)
	th.Resume(0)
	if op, _ := st.Op(); op != cgo.OpForward || st.Flags()&cgo.FlagHooksAfter == 0 {
		t.Fatalf("op %d, flags %x", op, st.Flags())
	}
	st.SetResponse(502, nil) // as stream.Stream.answered
	st.ClearFlag(cgo.FlagForward)
	st.SetFlag(cgo.FlagAfter)
	th.Resume(0)
	if op, _ := st.Op(); op != cgo.OpDone || rfield(st, "x-seen") != "" {
		t.Fatalf("op %d, x-seen %q: before_response ran on no head", op, rfield(st, "x-seen"))
	}
	if got, err := s.L.EvalInternal("return (...).hook_scripts.a.env.status", "=test"); err != nil || got != "502" {
		t.Errorf("after_response saw status %q (%v)", got, err)
	}
}

// A hook reading the body waits for it (OP_RECV) and leaves it for the
// service.
func TestHooksBodyForService(t *testing.T) {
	dir := writeHooks(t, map[string]string{"a/before_request.lua": "mut.req.set_header('x-route', #ctx.req.body .. ':' .. ctx.req.body)"})
	s, prog := hookState(t, dir, []string{"a"}, `core.register_service("echo", "http", function(applet)
	local body = applet.headers["x-route"][0] .. "|" .. applet:receive()
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)`, "echo")
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(th)
	st := th.S
	st.Reset(EntryHTTP, prog, 7)
	st.SetRequestLine([]byte("POST"), hSlash, hSlash, nil, 1, 1)
	st.AppendBody([]byte("abc"))
	th.Resume(0)
	if op, _ := st.Op(); op != cgo.OpRecv {
		t.Fatalf("op %d, want a wait for the body", op)
	}
	st.AppendBody([]byte("de"))
	st.SetFlag(cgo.FlagBodyEnd)
	th.Resume(0)
	if op, _ := st.Op(); op != cgo.OpDone || string(st.Out()) != "5:abcde|abcde" {
		t.Errorf("op %d, body %q", op, st.Out())
	}
}

// Loading reports a bad file by name.
func TestHooksLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"a/before_requets.lua": "x()"}, "before_requets.lua: not a hook's name"},
		{map[string]string{"a/before_request.lua": "x = "}, "a/before_request.lua:1:"},
		{map[string]string{"a/_shared.lua": "error('bad shared')"}, "a/_shared.lua:1: bad shared"},
		{map[string]string{"a/before_request.lua": "\x1bLJ"}, "bytecode"},
	} {
		dir := writeHooks(t, tc.files)
		h, err := ReadHooks(dir, []string{"a"}, "")
		if err == nil {
			_, err = NewState(Options{Hooks: h})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.files, err, tc.want)
		}
	}
}

// BenchmarkHookCase: bench/cases/hook's hook (two headers read, a kv get,
// a header set) before the hello-world service.
func BenchmarkHookCase(b *testing.B) {
	dir, _ := filepath.Abs("../bench/cases/hook")
	code, err := os.ReadFile(filepath.Join(dir, "hello.lua"))
	if err != nil {
		b.Fatal(err)
	}
	s, prog := hookState(b, filepath.Join(dir, "hooks"), []string{"route"}, string(code), "hello-world")
	run := func() {
		th, _ := hookRequest(b, s, prog, "/", "x-user", "alice", "x-tenant", "acme")
		s.Release(th)
	}
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

// BenchmarkActionCase: bench/cases/action (the same header rewrite as an
// http-req action), for comparison.
func BenchmarkActionCase(b *testing.B) {
	dir, _ := filepath.Abs("../bench/cases/action")
	code, err := os.ReadFile(filepath.Join(dir, "action.lua"))
	if err != nil {
		b.Fatal(err)
	}
	s, prog := hookState(b, b.TempDir(), nil, string(code), "")
	_ = prog
	id, err := s.Program("http", []string{"lua.tag"}, nil, "hello-world", false, StickNames{}, false)
	if err != nil {
		b.Fatal(err)
	}
	run := func() {
		th, _ := hookRequest(b, s, id, "/", "x-user", "alice", "x-tenant", "acme")
		s.Release(th)
	}
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}
