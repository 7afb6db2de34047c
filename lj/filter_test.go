package lj

import (
	"strings"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

const filterScripts = `
local function class(t)
	t.flags = filter.FLT_CFG_FL_HTX
	t.__index = t
	t.new = t.new or function(self) return setmetatable({ tag = self.tag }, { __index = self }) end
	return t
end

-- upper: a header each way, the response body upper-cased.
local Upper = class({})
function Upper:start_analyze(txn, chn)
	if chn:is_resp() then filter.register_data_filter(self, chn) end
end
function Upper:http_headers(txn, msg)
	local line = msg:get_stline()
	if msg:is_resp() then
		msg:add_header("x-res-" .. self.tag, line.code .. " " .. line.reason)
	else
		msg:set_header("x-req-" .. self.tag, line.method .. " " .. line.uri .. " " .. line.version)
	end
end
function Upper:http_payload(txn, msg)
	local b = msg:body()
	if b then msg:set(b:upper()) end
end
core.register_filter("upper", Upper, function(cls, args) cls.tag = args[1] end)

-- wrap: brackets around each piece it sees, and a count at the end.
local Wrap = class({})
function Wrap:start_analyze(txn, chn)
	if chn:is_resp() then filter.register_data_filter(self, chn) self.n = 0 end
end
function Wrap:http_payload(txn, msg)
	if msg:input() > 0 then
		self.n = self.n + 1
		msg:prepend("<")
		msg:append(">")
	end
	if msg:eom() then msg:append("#" .. self.n) end
end
core.register_filter("wrap", Wrap, function(cls, args) end)

-- hold: passes nothing on until the body ended, then all of it reversed;
-- forward, send, insert and remove on the way.
local Hold = class({})
function Hold:start_analyze(txn, chn)
	if chn:is_resp() then filter.register_data_filter(self, chn) end
end
function Hold:http_payload(txn, msg)
	if not msg:eom() then return filter.WAIT end
	local all = msg:body()
	msg:remove()
	msg:insert(all:reverse())
	msg:send("[")
	local n = msg:forward(3)
	msg:insert("]")
	return msg:input() + n * 0
end
core.register_filter("hold", Hold, function(cls, args) end)

-- misuse: body methods outside http_payload.
local Misuse = class({})
function Misuse:http_headers(txn, msg)
	if msg:is_resp() then
		local ok, err = pcall(msg.body, msg)
		msg:add_header("x-body-outside", tostring(ok) .. " " .. tostring(err):gsub("^.-: ", ""))
	end
end
core.register_filter("misuse", Misuse, function(cls, args) end)

-- Ignored: no HTX flag; and a new() that returns nothing.
NoHTX = { new = function() error("never made") end }
core.register_filter("nohtx", NoHTX, function(cls, args) end)
local Absent = class({ new = function() return nil end, http_headers = function() error("never called") end })
core.register_filter("absent", Absent, function(cls, args) end)
`

// filterRun runs a forwarded GET through the filters of lines: the
// server's answer is 200 with pieces of body, its end after the last.
func filterRun(t *testing.T, lines []string, pieces ...string) (*cgo.Stream, string) {
	t.Helper()
	s := newTestState(t, filterScripts, 0)
	id, err := s.Program("http", nil, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFilters(id, lines); err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/p")
	st := th.S
	resume := func(want int) {
		t.Helper()
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if op, _ := st.Op(); op != want {
			t.Fatalf("op %d, want %d (err %q)", op, want, st.Err())
		}
	}
	resume(cgo.OpForward)
	st.SetResponse(200, []byte("OK"))
	resume(cgo.OpResBody)
	var out strings.Builder
	for _, p := range pieces {
		st.AppendBody([]byte(p))
		resume(cgo.OpResBody)
		out.Write(st.Out())
		st.ConsumeOut()
	}
	st.SetFlag(cgo.FlagResEnd)
	resume(cgo.OpDone)
	if st.Flags()&(cgo.FlagAbort|cgo.FlagFailed) != 0 {
		t.Fatalf("aborted or failed: %s", st.Err())
	}
	out.Write(st.Out())
	return st, out.String()
}

func TestFilterHeadersAndBody(t *testing.T) {
	st, body := filterRun(t, []string{"lua.upper one", "lua.upper two"}, "hello ", "world")
	if got := field(st, "x-req-one"); got != "GET /p HTTP/1.1" {
		t.Errorf("x-req-one %q", got)
	}
	if field(st, "x-req-two") == "" || rfield(st, "x-res-two") != "200 OK" {
		t.Errorf("each declaration gets its own class copy: x-req-two %q, x-res-two %q", field(st, "x-req-two"), rfield(st, "x-res-two"))
	}
	if body != "HELLO WORLD" {
		t.Errorf("body %q", body)
	}
}

// The second filter reads what the first passed on, in order.
func TestFilterChain(t *testing.T) {
	_, body := filterRun(t, []string{"lua.upper a", "lua.wrap"}, "ab", "cd")
	if body != "<AB><CD>#2" {
		t.Errorf("body %q", body)
	}
	_, body = filterRun(t, []string{"lua.wrap", "lua.upper a"}, "ab", "cd")
	if body != "<AB><CD>#2" {
		t.Errorf("reversed order: body %q", body)
	}
}

// A filter that waits holds the body; what it inserts and forwards at
// the end moves the filters before it.
func TestFilterHoldUntilEnd(t *testing.T) {
	_, body := filterRun(t, []string{"lua.wrap", "lua.hold"}, "abc", "def")
	if body != "[2#>fed<>cba<]" {
		t.Errorf("body %q", body)
	}
}

func TestFilterMisuseAndIgnored(t *testing.T) {
	st, body := filterRun(t, []string{"lua.nohtx", "lua.absent", "lua.misuse", "lua.upper x"}, "x")
	if got := rfield(st, "x-body-outside"); !strings.HasPrefix(got, "false ") || !strings.Contains(got, "http_payload") {
		t.Errorf("x-body-outside %q", got)
	}
	if body != "X" {
		t.Errorf("body %q", body)
	}
}

func TestFilterConfigErrors(t *testing.T) {
	s := newTestState(t, filterScripts+`
core.register_filter("broken", {}, function(cls, args) error("bad args: " .. #args) end)
`, 0)
	id, err := s.Program("http", nil, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		"lua.nope":           "no Lua filter named 'nope'",
		"compression":        "only Lua filters",
		`lua.broken a "b c"`: "runtime error: ",
	} {
		err := s.SetFilters(id, []string{line})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}
	if err := s.SetFilters(id, []string{`lua.broken a "b c"`}); err == nil || !strings.Contains(err.Error(), "bad args: 2") {
		t.Errorf("quoted argument: %v", err)
	}
}

// A callback's error on the response aborts the exchange; on the
// request it answers HAProxy's 400.
func TestFilterErrors(t *testing.T) {
	code := filterScripts + `
local Fail = { flags = filter.FLT_CFG_FL_HTX }
Fail.__index = Fail
function Fail:new() return setmetatable({}, Fail) end
function Fail:http_headers(txn, msg)
	if msg:is_resp() == (txn.sf:path() ~= "/req") then error("boom") end
end
core.register_filter("fail", Fail, function() end)
`
	s := newTestState(t, code, 0)
	id, err := s.Program("http", nil, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFilters(id, []string{"lua.fail"}); err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/req")
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpDone || th.S.Status() != 400 || th.S.Flags()&cgo.FlagForward != 0 {
		t.Errorf("request error: op %d status %d", op, th.S.Status())
	}
	th = newRequest(t, s, id, "/res")
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	th.S.SetResponse(200, []byte("OK"))
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpDone || th.S.Flags()&cgo.FlagAbort == 0 {
		t.Errorf("response error: op %d flags %x", op, th.S.Flags())
	}
}

// The request's body goes through its filters once forwarded: what they
// pass on is in out, the end of the body stays theirs to tell until the
// coroutine waits for the response head.
func TestFilterRequestBody(t *testing.T) {
	code := filterScripts + `
local Req = { flags = filter.FLT_CFG_FL_HTX }
Req.__index = Req
function Req:new() return setmetatable({ n = 0 }, Req) end
function Req:start_analyze(txn, chn)
	if not chn:is_resp() then filter.register_data_filter(self, chn) end
end
function Req:http_payload(txn, msg)
	local b = msg:body()
	if b then self.n = self.n + #b; msg:set(b:upper()) end
	if msg:eom() then msg:append("#" .. self.n) end
end
function Req:http_end(txn, msg) txn.http:req_set_header("x-ended", msg:eom() and "yes" or "no") end
core.register_filter("req", Req, function() end)
`
	s := newTestState(t, code, 0)
	id, err := s.Program("http", nil, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFilters(id, []string{"lua.req"}); err != nil {
		t.Fatal(err)
	}
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	st := th.S
	st.Reset(EntryHTTP, id, 1)
	st.SetRequestLine([]byte("POST"), []byte("/"), []byte("/"), nil, 1, 1)
	st.AddField([]byte("content-length"), []byte("6"))
	st.SetContentLength(6)
	st.AppendBody([]byte("abc"))
	step := func(want int, out string) {
		t.Helper()
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if op, _ := st.Op(); op != want || string(st.Out()) != out {
			t.Fatalf("op %d out %q, want %d %q (err %q)", op, st.Out(), want, out, st.Err())
		}
		if st.Flags()&cgo.FlagBodyEnd != 0 || st.Flags()&cgo.FlagReqFilter == 0 {
			t.Fatalf("flags %x", st.Flags())
		}
		st.ConsumeOut()
	}
	step(cgo.OpRecv, "ABC")
	st.AppendBody([]byte("def"))
	st.SetFlag(cgo.FlagBodyEnd)
	step(cgo.OpForward, "DEF#6")
	if got := field(st, "x-ended"); got != "yes" {
		t.Errorf("x-ended %q", got)
	}
}

// A callback that returns filter.WAIT runs again after its wake time.
func TestFilterWait(t *testing.T) {
	code := filterScripts + `
local Slow = { flags = filter.FLT_CFG_FL_HTX }
Slow.__index = Slow
function Slow:new() return setmetatable({ calls = 0 }, Slow) end
function Slow:http_headers(txn, msg)
	self.calls = self.calls + 1
	if self.calls == 1 then
		filter.wake_time(25)
		return filter.WAIT
	end
	msg:add_header("x-calls", self.calls)
end
core.register_filter("slow", Slow, function() end)
`
	s := newTestState(t, code, 0)
	id, err := s.Program("http", nil, nil, "", true, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFilters(id, []string{"lua.slow"}); err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/")
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, arg := th.S.Op(); op != cgo.OpSleep || arg != 25 {
		t.Fatalf("op %d arg %v, want a sleep of 25 ms", op, arg)
	}
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if op, _ := th.S.Op(); op != cgo.OpForward || field(th.S, "x-calls") != "2" {
		t.Errorf("op %d, x-calls %q", op, field(th.S, "x-calls"))
	}
}
