package lj

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/shared/sticktable"
)

// The stick tables the test gate "stk" reads, by name: in the server the
// eventloop registers that gate over its own tables.
var testTables sync.Map // name -> *sticktable.Table

func init() {
	RegisterGoFunc("stk", func(c *cgo.Call) int {
		v, ok := testTables.Load(c.String(1))
		if !ok {
			return c.Error("no stick table " + c.String(1))
		}
		t := v.(*sticktable.Table)
		k, err := t.Key(c.String(3))
		if err != nil {
			c.PushNil()
			return 1
		}
		switch c.String(2) {
		case "inc_gpc":
			c.PushNumber(float64(t.IncGPC(k, int(c.Int(4)))))
			return 1
		case "fetch":
			if !t.Stores(c.String(4)) {
				c.PushNil()
				return 1
			}
			n, _ := t.Value(k, c.String(4))
			c.PushNumber(float64(n))
			return 1
		}
		return c.Error("stk: unsupported in tests: " + c.String(2))
	})
}

// testTable makes a stick table the test gate and FillStick read.
func testTable(t testing.TB, name string) *sticktable.Table {
	tb, err := sticktable.New(name, sticktable.Config{Type: "ip", Size: 100, Expire: time.Minute,
		Store: []string{"http_req_cnt", "http_req_rate(10s)", "gpc0"}})
	if err != nil {
		t.Fatal(err)
	}
	testTables.Store(name, tb)
	t.Cleanup(func() { testTables.Delete(name) })
	return tb
}

// requestDriver runs requests through one state the way eventloop's
// HTTP/1 connection does (h1conn.startRequest, resume): a pooled
// coroutine, the request written into its stream, the tracking table
// counted and its counters copied in, resumes until the entry is done
// (a forwarded request is answered with a 200 head).
type requestDriver struct {
	t       testing.TB
	s       *State
	prog    int
	tbl     *sticktable.Table
	key     string
	resumes int
	last    *cgo.Thread
}

func newDriver(t testing.TB, code []byte, req, res []string, service string, forward bool, tbl *sticktable.Table) *requestDriver {
	t.Helper()
	s, err := NewState(Options{Scripts: []Script{{Path: "case.lua", Code: code}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	names := StickNames{}
	if tbl != nil {
		names = StickNames{Own: tbl.Name(), Track: tbl.Name()}
	}
	id, err := s.Program("http", req, res, service, forward, names, false)
	if err != nil {
		t.Fatal(err)
	}
	d := &requestDriver{t: t, s: s, prog: id, tbl: tbl}
	if tbl != nil {
		if d.key, err = tbl.Key("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

var (
	hGET, hSlash, hHost, hHostV = []byte("GET"), []byte("/"), []byte("Host"), []byte("127.0.0.1:8080")
	hUser, hUserV, hTenant      = []byte("X-User"), []byte("alice"), []byte("X-Tenant")
	hTenantV, hSrc              = []byte("acme"), []byte("127.0.0.1")
	hOK                         = []byte("OK")
)

// run serves one request; the thread stays in d.last until the next run.
func (d *requestDriver) run() {
	if d.last != nil {
		d.s.Release(d.last)
		d.last = nil
	}
	th, err := d.s.Thread()
	if err != nil {
		d.t.Fatal(err)
	}
	s := th.S
	if d.tbl != nil {
		d.tbl.HTTPRequest(d.key)
	}
	s.Reset(EntryHTTP, d.prog, 1)
	s.SetRequestLine(hGET, hSlash, hSlash, nil, 1, 1)
	s.SetAddrs(hSrc, 40000, hSrc, 8080)
	if d.tbl != nil {
		d.s.FillStick(s, d.tbl, d.key)
	}
	s.SetAuthority(hHostV)
	s.AddField(hHost, hHostV)
	s.AddField(hUser, hUserV)
	s.AddField(hTenant, hTenantV)
	s.SetFlag(cgo.FlagBodyEnd)
	for {
		d.resumes++
		if r := th.Resume(0); r.Dead {
			d.t.Fatal(r.Msg)
		}
		op, _ := s.Op()
		if op == cgo.OpDone {
			break
		}
		if op != cgo.OpForward {
			d.t.Fatalf("unexpected op %d", op)
		}
		s.SetResponse(200, hOK)
	}
	if s.Flags()&cgo.FlagFailed != 0 {
		d.t.Fatalf("script failed: %s", s.Err())
	}
	d.last = th
}

// measure returns the cgo calls per resume and the Go allocations per
// request, after warm-up requests (the first requests ask Go for the
// stick counters they read, and fill the state's caches).
func (d *requestDriver) measure() (cgoPerResume, allocs float64) {
	for i := 0; i < 10; i++ {
		d.run()
	}
	const n = 200
	d.resumes = 0
	before := runtime.NumCgoCall()
	for i := 0; i < n; i++ {
		d.run()
	}
	cgoPerResume = float64(runtime.NumCgoCall()-before) / float64(d.resumes)
	allocs = testing.AllocsPerRun(n, d.run)
	return
}

// field returns the value of the last request (req) or response field name.
func (d *requestDriver) field(resp bool, name string) string {
	s := d.last.S
	n := s.NumFields()
	get := s.Field
	if resp {
		n, get = s.NumRFields(), s.RField
	}
	v := ""
	for i := 0; i < n; i++ {
		if k, val := get(i); string(k) == name {
			v = string(val)
		}
	}
	return v
}

// The request of the fast-path target: an http-request action that looks a
// map up, reads a stick counter, reads the clock and sets two headers costs
// one cgo call (the resume) and no Go allocation.
func TestFastPathRequestCost(t *testing.T) {
	dir := t.TempDir()
	mapFile := filepath.Join(dir, "tiers.map")
	if err := os.WriteFile(mapFile, []byte("alice gold\nbob silver\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl := testTable(t, "fast_cost")
	code := `
local tiers = Map.new(` + luaString(mapFile) + `, Map._str)
core.register_action("tag", { "http-req" }, function(txn)
	local tier = tiers:lookup("alice") or "none"
	local rate = txn.sf:sc_http_req_rate(0)
	local now = core.now()
	txn.http:req_set_header("x-tier", tier)
	txn.http:req_set_header("x-rate", rate .. "@" .. (now.sec > 1.6e9 and "now" or "bad"))
end)
` + helloWorld
	d := newDriver(t, []byte(code), []string{"lua.tag"}, nil, "hello-world", false, tbl)
	cgoPer, allocs := d.measure()
	t.Logf("cgo calls per resume %.2f, Go allocations per request %.2f", cgoPer, allocs)
	if cgoPer > 1 {
		t.Errorf("cgo calls per resume = %.2f, want 1", cgoPer)
	}
	if allocs > 0 {
		t.Errorf("Go allocations per request = %.2f, want 0", allocs)
	}
	d.run()
	if got := d.field(false, "x-tier"); got != "gold" {
		t.Errorf("x-tier = %q", got)
	}
	// The rate counts every request made so far in its 10 s period.
	want, _ := tbl.Value(d.key, "http_req_rate")
	if got := d.field(false, "x-rate"); got != strconv.FormatInt(want, 10)+"@now" {
		t.Errorf("x-rate = %q, want %d@now", got, want)
	}
}

// The scripts of bench/cases cost one cgo call per resume and no Go
// allocation per request.
func TestFastPathBenchCases(t *testing.T) {
	cases := []struct {
		name, file string
		req, res   []string
		service    string
		forward    bool
		track      bool
		resumes    int
	}{
		{"hello", "hello.lua", nil, nil, "hello-world", false, false, 1},
		{"action", "action.lua", []string{"lua.tag"}, nil, "hello-world", false, false, 1},
		{"proxy", "proxy.lua", []string{"lua.tag"}, []string{"lua.stamp"}, "", true, false, 2},
		{"edge", "edge.lua", nil, nil, "edge", false, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join("..", "bench", "cases", c.name))
			if err != nil {
				t.Fatal(err)
			}
			code, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			code = []byte(strings.ReplaceAll(string(code), "@DIR@", dir))
			var tbl *sticktable.Table
			if c.track {
				tbl = testTable(t, "bench_"+c.name)
			}
			d := newDriver(t, code, c.req, c.res, c.service, c.forward, tbl)
			cgoPer, allocs := d.measure()
			t.Logf("cgo calls per resume %.2f, Go allocations per request %.2f", cgoPer, allocs)
			if cgoPer > 1 {
				t.Errorf("cgo calls per resume = %.2f, want 1", cgoPer)
			}
			if allocs > 0 {
				t.Errorf("Go allocations per request = %.2f, want 0", allocs)
			}
			before := d.resumes
			d.run()
			if got := d.resumes - before; got != c.resumes {
				t.Errorf("resumes per request = %d, want %d", got, c.resumes)
			}
		})
	}
}

// evalIn runs code in state s, as a chunk of luaedge's own (local I =
// ...), and returns its result as a string.
func evalIn(t *testing.T, s *State, code string) string {
	t.Helper()
	out, err := s.L.EvalInternal(code, "=test")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A change made on one core is seen by every other core's next read: the
// states' copies of maps and proc.* variables are dropped when Go's change
// counter moves, before the call that made the change returns.
func TestFastPathCrossCore(t *testing.T) {
	dir := t.TempDir()
	strFile := filepath.Join(dir, "str.map")
	begFile := filepath.Join(dir, "beg.map")
	if err := os.WriteFile(strFile, []byte("a 1\nb 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(begFile, []byte("/api api\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := `str = Map.new(` + luaString(strFile) + `, Map._str)
beg = Map.new(` + luaString(begFile) + `, Map._beg)`
	sh := NewShared("", 2)
	a := newStateIn(t, sh, open) // two loops' states of one generation
	b := newStateIn(t, sh, open)
	read := `return tostring(str:lookup("a")) .. " " .. tostring(str:lookup("c")) .. " " ..
	tostring(beg:lookup("/api/x")) .. " " .. tostring(beg:lookup("/web")) .. " " .. tostring(core.get_var("proc.v"))`
	for _, st := range []*State{a, b} {
		// Twice: the second read is served from the copies.
		for i := 0; i < 2; i++ {
			if got := evalIn(t, st, read); got != "1 nil api nil nil" {
				t.Fatalf("before the changes: %q", got)
			}
		}
	}
	evalIn(t, b, `core.set_map(`+luaString(strFile)+`, "a", "9")
core.set_map(`+luaString(strFile)+`, "c", "3")
core.set_map(`+luaString(begFile)+`, "/web", "web")
core.set_var("proc.v", "x")
return ""`)
	for name, st := range map[string]*State{"other core": a, "same core": b} {
		if got := evalIn(t, st, read); got != "9 3 api web x" {
			t.Fatalf("%s after the changes: %q", name, got)
		}
	}
	evalIn(t, a, `core.del_map(`+luaString(strFile)+`, "a")
core.del_map(`+luaString(begFile)+`, "/api")
core.unset_var("proc.v")
return ""`)
	if got := evalIn(t, b, read); got != "nil 3 nil web nil" {
		t.Fatalf("after the deletions: %q", got)
	}
}

// The stick counters copied into a request hold for its first resume only:
// after a yield, or after the script wrote a counter, reads take the gate
// and see the table as it is then.
func TestFastPathStickAfterYieldAndWrite(t *testing.T) {
	tbl := testTable(t, "fast_yield")
	code := `core.register_service("s", "http", function(applet)
	local f = applet.f
	local out = { f:sc_http_req_cnt(0), f:src_get_gpc0() }
	core.yield()
	out[#out + 1] = f:sc_http_req_cnt(0)
	f:sc_inc_gpc0(0)
	out[#out + 1] = f:sc0_get_gpc0()
	applet:add_header("x-out", table.concat(out, " "))
	applet:start_response()
end)`
	d := newDriver(t, []byte(code), nil, nil, "s", false, tbl)
	th, err := d.s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	defer d.s.Release(th)
	for i := 1; i <= 2; i++ {
		// The first request asks for the counters; the second gets them copied.
		tbl.HTTPRequest(d.key)
		th.S.Reset(EntryHTTP, d.prog, 1)
		th.S.SetAddrs(hSrc, 40000, hSrc, 8080)
		d.s.FillStick(th.S, tbl, d.key)
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		if op, _ := th.S.Op(); op != cgo.OpYield {
			t.Fatalf("op %d, want a yield", op)
		}
		tbl.HTTPRequest(d.key) // another request of the client meanwhile
		if r := th.Resume(0); r.Dead {
			t.Fatal(r.Msg)
		}
		d.last = th
		want := strconv.Itoa(2*i-1) + " " + strconv.Itoa(i-1) + " " + strconv.Itoa(2*i) + " " + strconv.Itoa(i)
		if got := d.field(true, "x-out"); got != want {
			t.Fatalf("request %d: %q, want %q", i, got, want)
		}
	}
	d.last = nil
	if d.s.L.StickWant() == 0 {
		t.Fatal("the state did not ask for the counters it read")
	}
}

// The converters run in C (cgo/convert.c) give what their Go twins give.
func TestCConvertersMatchGo(t *testing.T) {
	s := newTestState(t, "", 0)
	inputs := []string{"", "a", "ab", "abc", "abcd", "hello world", "\x00\xff\xfe", "aGVsbG8=", "aGVsbG8",
		"aGVsbA==", "aGVsbB==", "_-8", "_-8=", "a===", "====", "ab\ncd", "a+b/", "a-b_", strings.Repeat("xyz\x80", 50)}
	for _, in := range inputs {
		lit := luaString(in)
		got := evalIn(t, s, `local I = ...
local c = I.new_converters(false)
local function show(v) if v == nil then return "nil" end return c:hex(v) end
local s = `+lit+`
local out = { show(c:base64(s)), show(c:b64dec(s)), show(c:ub64enc(s)), show(c:ub64dec(s)) }
for _, h in ipairs({ "crc32", "crc32c", "djb2", "sdbm", "wt6" }) do
	out[#out + 1] = tostring(c[h](c, s)) .. "/" .. tostring(c[h](c, s, 1))
end
return table.concat(out, " ")`)
		hex := func(v string, ok bool) string {
			if !ok {
				return "nil"
			}
			return strings.ToUpper(fmt.Sprintf("%x", v))
		}
		want := []string{
			hex(base64.StdEncoding.EncodeToString([]byte(in)), true), hex(base64Dec(in)),
			hex(base64.RawURLEncoding.EncodeToString([]byte(in)), true), hex(base64URLDec(in)),
		}
		for _, h := range []string{"crc32", "crc32c", "djb2", "sdbm", "wt6"} {
			a, _ := hashString(h, in, false)
			b, _ := hashString(h, in, true)
			want = append(want, fmt.Sprintf("%d/%d", a, b))
		}
		if got != strings.Join(want, " ") {
			t.Errorf("%q:\n got  %s\n want %s", in, got, strings.Join(want, " "))
		}
	}
}

// BenchmarkEdgeCase: bench/cases/edge's service with its client tracked.
func BenchmarkEdgeCase(b *testing.B) {
	dir, _ := filepath.Abs("../bench/cases/edge")
	code, err := os.ReadFile(filepath.Join(dir, "edge.lua"))
	if err != nil {
		b.Fatal(err)
	}
	code = []byte(strings.ReplaceAll(string(code), "@DIR@", dir))
	d := newDriver(b, code, nil, nil, "edge", false, testTable(b, "bench_edge_b"))
	d.run()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.run()
	}
}
