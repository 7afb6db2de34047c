package lj

import (
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/shared/kv"
)

// The bus gates the host registers (edge/shared.go): here they record
// what the scripts asked for.
var testBus struct {
	sync.Mutex
	subscribed []string
	emitted    []string
}

func init() {
	RegisterGoFunc("bus_subscribe", func(c *cgo.Call) int {
		testBus.Lock()
		testBus.subscribed = append(testBus.subscribed, c.String(1))
		testBus.Unlock()
		return 0
	})
	RegisterGoFunc("bus_emit", func(c *cgo.Call) int {
		testBus.Lock()
		testBus.emitted = append(testBus.emitted, c.String(1)+"="+c.String(2))
		testBus.Unlock()
		c.PushBool(true)
		return 1
	})
}

func TestKVEmbedded(t *testing.T) {
	runLua(t, `
local kv = core.kv
eq(kv.get("a"), nil, "absent")
eq(kv.set("a", "1"), true, "set")
eq(kv.get("a"), "1", "get")
eq(kv.get("a"), "1", "get from the copy")
eq(kv.set("a", 2.5), true, "set a number")
eq(kv.get("a"), "2.5", "a number is stored as its text")
eq(kv.incr("a", 1), 3.5, "incr of a number's text")
eq(kv.get("a"), "3.5", "a counter reads as text")
eq(kv.incr("n", 2), 2, "incr of an absent key starts from 0")
eq(kv.incr("m", 1, 10), 11, "incr with init")
eq(kv.set("w", "word"), true)
local n, err = kv.incr("w", 1)
eq(n, nil) eq(err, "not a number")
kv.set("user:2", "x") kv.set("user:1", "x")
eq(list(kv.list("user:")), "user:1|user:2", "list")
eq(#kv.list(), 6, "list of everything")
eq(kv.delete("user:1"), true, "delete")
eq(kv.delete("user:1"), true, "delete of an absent key")
eq(kv.get("user:1"), nil, "deleted")
eq(kv.set("bin", "a\0b"), true)
eq(kv.get("bin"), "a\0b", "binary value")
local ok, err = kv.set("big", string.rep("x", 2 * 1048576))
eq(ok, nil) eq(err, "too large (a key and value over shared.kv.max_value, 1048576 bytes)")
raises("bad argument #1 to 'core.kv.get' (string expected, got nil)", kv.get)
raises("bad argument #2 to 'core.kv.set' (string expected, got table)", kv.set, "k", {})
raises("bad argument #3 to 'core.kv.set' (a time to live in seconds", kv.set, "k", "v", -1)
raises("bad argument #2 to 'core.kv.incr' (number expected, got string)", kv.incr, "k", "1")

-- A TTL ends a key: poll with a deadline.
eq(kv.set("t", "v", 0.05), true)
eq(kv.get("t"), "v")
local deadline = os.time() + 5
while kv.get("t") ~= nil do
	if os.time() > deadline then error("a key with a 50ms ttl outlived 5s") end
end

local art = core.artifacts
eq(art.exists("r/a.txt"), false, "exists of absent")
local v, err = art.read("r/a.txt")
eq(v, nil) eq(err, "not found")
eq(art.write("r/a.txt", "hello"), true, "write")
eq(art.write("r/b.txt", "x"), true)
eq(art.read("r/a.txt"), "hello", "read")
eq(art.exists("r/a.txt"), true, "exists")
eq(list(art.list("r/")), "r/a.txt|r/b.txt", "list")
eq(art.rename("r/a.txt", "s/a.txt"), true, "rename")
eq(art.read("s/a.txt"), "hello", "renamed")
local ok, err = art.rename("r/a.txt", "x")
eq(ok, nil) eq(err, "not found")
eq(art.delete("s/a.txt"), true, "delete")
local ok, err = art.delete("s/a.txt")
eq(ok, nil) eq(err, "not found")
local ok, err = art.write("../up", "x")
eq(ok, nil) eq(err:find("an artifact name is a relative path", 1, true), 1, "bad name")

eq(ngx, nil, "no ngx without dictionaries")
`)
}

// A write on one core is seen by the next read on every other core,
// whose copy it drops.
func TestKVCrossState(t *testing.T) {
	t.Run("new", func(t *testing.T) { testKVCrossState(t, NewShared("", 2)) })
	// The stores of a generation made by Next bump the block it shares
	// with the generation it follows.
	t.Run("next", func(t *testing.T) { testKVCrossState(t, NewShared("", 2).Next("", 2)) })
}

func testKVCrossState(t *testing.T, sh *Shared) {
	a, b := newStateIn(t, sh, ""), newStateIn(t, sh, "")
	read := `return tostring(core.kv.get("k")) .. " " .. tostring(core.kv.get("other"))`
	evalIn(t, a, `core.kv.set("k", "1") return ""`)
	for _, st := range []*State{a, b, a, b} { // twice each: the second read is from the copy
		if got := evalIn(t, st, read); got != "1 nil" {
			t.Fatalf("before the change: %q", got)
		}
	}
	evalIn(t, b, `core.kv.set("k", "2") core.kv.set("other", "o") return ""`)
	for name, st := range map[string]*State{"other core": a, "same core": b} {
		if got := evalIn(t, st, read); got != "2 o" {
			t.Fatalf("%s after the change: %q", name, got)
		}
	}
	evalIn(t, a, `core.kv.delete("k") return ""`)
	if got := evalIn(t, b, read); got != "nil o" {
		t.Fatalf("after the delete: %q", got)
	}
	// A write from Go (another generation's state, say) drops copies too.
	if _, err := sh.Stores().KV.Set("other", kv.Value{Kind: kv.String, Str: "go"}, 0, kv.Always, false); err != nil {
		t.Fatal(err)
	}
	if got := evalIn(t, a, read); got != "nil go" {
		t.Fatalf("after a write from Go: %q", got)
	}
}

// The slot of a key's change counter is computed by Lua with the C crc32
// and by Go with hash/crc32: they must agree.
func TestKVSlotsMatch(t *testing.T) {
	s := newStateIn(t, nil, "")
	for _, k := range []string{"", "a", "user:42", strings.Repeat("xyz", 100), "\x00\xff"} {
		got := evalIn(t, s, `local I = ...
local k = `+luaString(k)+`
return tostring(bit.band(I.hash(1, k, #k, 0), 1023) + I.shared.slot_base - `+strconv.Itoa(versionKV)+`)`) // 1: LE_HASH_CRC32
		if want := strconv.Itoa(int(crc32.ChecksumIEEE([]byte(k)) & 1023)); got != want || kvSlot(k) != int(crc32.ChecksumIEEE([]byte(k))&1023) {
			t.Fatalf("slot of %q: Lua %s, Go %s", k, got, want)
		}
	}
}

// The bench's hook (a header rewrite and a kv get) costs one cgo call per
// resume and no Go allocation: the get is served from the state's copy.
func TestKVFastPathCost(t *testing.T) {
	code := `
core.kv.set("tier:alice", "gold")
core.register_action("tag", { "http-req" }, function(txn)
	local tier = core.kv.get("tier:" .. txn.http:req_get_headers()["x-user"][0])
	txn.http:req_set_header("x-tier", tier or "none")
end)
` + helloWorld
	d := newDriver(t, []byte(code), []string{"lua.tag"}, nil, "hello-world", false, nil)
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
}

func TestNgxShared(t *testing.T) {
	sh := NewShared("", 1)
	st := sh.Stores()
	d, err := sh.NewStore(kv.Config{Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st.Dicts = map[string]*kv.Store{"cache": d}
	sh.SetStores(st)
	runLuaState(t, sh, `
local d = ngx.shared.cache
eq(ngx.shared.other, nil, "an undeclared dictionary")
eq(d:get("k"), nil, "absent")
local ok, err, forcible = d:set("k", "v")
eq(ok, true) eq(err, nil) eq(forcible, false)
eq(d:get("k"), "v")
eq(select("#", d:get("k")), 1, "no flags when 0")
d:set("n", 42, 0, 7)
local v, flags = d:get("n")
eq(v, 42, "numbers stay numbers") eq(flags, 7, "flags")
d:set("b", false)
eq(d:get("b"), false, "booleans stay booleans")
eq(d:incr("n", 1), 43, "incr")
local v, err = d:incr("absent", 1)
eq(v, nil) eq(err, "not found")
eq(d:incr("absent", 1, 10), 11, "incr with init")
local v, err = d:incr("k", 1)
eq(v, nil) eq(err, "not a number")
local ok, err = d:add("k", "again")
eq(ok, false) eq(err, "exists")
local ok, err = d:replace("nope", "x")
eq(ok, false) eq(err, "not found")
eq(d:replace("k", "w"), true)
eq(d:get("k"), "w")
eq(d:ttl("k"), 0, "no expiry")
eq(d:expire("k", 100), true)
local left = d:ttl("k")
eq(left > 99 and left <= 100, true, "ttl after expire")
local v, err = d:ttl("nope")
eq(v, nil) eq(err, "not found")
d:set("k", nil)
eq(d:get("k"), nil, "set to nil deletes")
local keys = d:get_keys(0)
table.sort(keys)
eq(list(keys), "absent|b|n", "get_keys")
eq(#d:get_keys(1), 1, "get_keys max")
local v, err = d:get("")
eq(v, nil) eq(err, "empty key")
local ok, err = d:set("t", {})
eq(ok, false) eq(err, "bad value type")
eq(d:capacity(), 1048576)
eq(d:free_space() < 1048576, true, "free_space")
d:flush_all()
eq(#d:get_keys(0), 0, "flush_all")
raises("ngx.shared dictionary expected", d.get, {}, "k")
`)
}

// remoteState is a state whose core.kv, bus and artifacts are remote, as
// with shared.redis.
func remoteState(t *testing.T, code string) *State {
	sh := NewShared("", 1)
	sh.SetStores(Stores{RemoteBus: true, Timeout: 250 * time.Millisecond})
	return newStateIn(t, sh, code)
}

// resumeUntil resumes th and checks what it yielded for.
func resumeUntil(t *testing.T, th *cgo.Thread, wantOp int) {
	t.Helper()
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	if th.S.Flags()&cgo.FlagFailed != 0 {
		t.Fatalf("script failed: %s", th.S.Err())
	}
	if op, _ := th.S.Op(); op != wantOp {
		t.Fatalf("op = %d, want %d", op, wantOp)
	}
}

// A remote operation yields the request for the host (OP_SOCKET with
// cgo.SockShared), which answers it; a failure reaches the script as nil,
// err.
func TestKVRemoteYields(t *testing.T) {
	s := remoteState(t, `
core.register_service("svc", "http", function(applet)
	local v, err = core.kv.get("k")
	local n = core.kv.incr("n", 2, 5, 1.5)
	local ok2, err2 = core.kv.set("k", "v", 2)
	local keys = core.kv.list("p")
	local body = tostring(v) .. "|" .. tostring(err) .. "|" .. tostring(n) .. "|" .. tostring(ok2) .. "|" .. tostring(err2) .. "|" .. table.concat(keys, ",")
	applet:set_status(200)
	applet:start_response()
	applet:send(body)
end)`)
	id, err := s.Program("http", nil, nil, "svc", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/")
	step := func(want kv.Op, answer func(op kv.Op)) {
		t.Helper()
		resumeUntil(t, th, cgo.OpSocket)
		if _, sop, _, timeout, _ := th.S.SockOp(); sop != cgo.SockShared || timeout != 250*time.Millisecond {
			t.Fatalf("sock_op %d timeout %v", sop, timeout)
		}
		op, events, err := SharedRequest(th.S)
		if err != nil || events {
			t.Fatalf("request: %v %v", err, events)
		}
		if op != want {
			t.Fatalf("op %+v, want %+v", op, want)
		}
		answer(op)
	}
	step(kv.Op{Code: kv.OpGet, Key: "k"}, func(op kv.Op) { SharedFail(th.S, true, "redis x: no answer within 250ms") })
	step(kv.Op{Code: kv.OpIncr, Key: "n", Delta: 2, Init: 5, TTL: 1500 * time.Millisecond}, func(op kv.Op) {
		SharedReply(th.S, op, kv.Result{Num: 7})
	})
	step(kv.Op{Code: kv.OpSet, Key: "k", Value: "v", TTL: 2 * time.Second}, func(op kv.Op) {
		SharedReply(th.S, op, kv.Result{Err: errors.New("redis x: down")})
	})
	step(kv.Op{Code: kv.OpList, Key: "p"}, func(op kv.Op) {
		SharedReply(th.S, op, kv.Result{Keys: []string{"p1", "p:2"}})
	})
	resumeUntil(t, th, cgo.OpDone)
	if got, want := string(th.S.Out()), "nil|redis x: no answer within 250ms|7|nil|redis x: down|p1,p:2"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
}

// A remote operation outside a request (the scripts' body) is an error
// that says where it can be called.
func TestKVRemoteOutsideRequest(t *testing.T) {
	_, err := NewState(Options{Scripts: []Script{{Path: "body.lua", Code: []byte(`core.kv.get("k")`)}}, Shared: func() *Shared {
		sh := NewShared("", 1)
		sh.SetStores(Stores{RemoteBus: true, Timeout: time.Second})
		return sh
	}()})
	if err == nil || !strings.Contains(err.Error(), "core.kv.get: waits for the remote store") || !strings.Contains(err.Error(), "body.lua:1") {
		t.Fatalf("got %v", err)
	}
}

// The bus's task waits for events, calls each subscriber of their name
// with (data, name), goes on after a subscriber's error, and waits again.
func TestBusTask(t *testing.T) {
	s := newStateIn(t, nil, `
got = {}
core.bus.subscribe("a", function(data, name) got[#got + 1] = name .. "=" .. data end)
core.bus.subscribe("a", function(data) if data == "boom" then error("subscriber failed") end end)
core.bus.subscribe("b", function(data, name) got[#got + 1] = "b:" .. data end)
`)
	testBus.Lock()
	sub := strings.Join(testBus.subscribed, ",")
	testBus.subscribed = nil
	testBus.Unlock()
	if sub != "a,b" {
		t.Fatalf("the host was told of subscriptions %q, want a,b (once each)", sub)
	}
	th, err := s.Thread()
	if err != nil {
		t.Fatal(err)
	}
	th.S.Reset(EntryTask, 0, 0)
	resumeUntil(t, th, cgo.OpSocket)
	if _, events, _ := SharedRequest(th.S); !events {
		t.Fatal("the bus's task does not wait for events")
	}
	BusEvents(th.S, []BusEvent{{"a", "1"}, {"c", "nobody"}, {"a", "boom"}, {"b", "2"}})
	resumeUntil(t, th, cgo.OpSocket)
	if got := evalIn(t, s, `return table.concat(got, ",")`); got != "a=1,a=boom,b:2" {
		t.Fatalf("delivered %q", got)
	}
	stats, err := s.ScriptStats()
	if err != nil {
		t.Fatal(err)
	}
	var calls, errs int64
	for _, f := range stats {
		if f.Kind == "subscriber" {
			calls += f.Calls
			errs += f.Errors
		}
	}
	if calls != 5 || errs != 1 {
		t.Fatalf("subscriber calls %d errors %d, want 5 and 1", calls, errs)
	}
	if got := evalIn(t, s, `local ok, err = core.bus.emit("e", "d") return tostring(ok)`); got != "true" {
		t.Fatalf("emit: %s", got)
	}
}

// BenchmarkKVGet is a core.kv.get of an embedded store served from the
// state's copy; BenchmarkKVGetGate the same read through the gate every
// time (a key whose copy is dropped, or the first read in a second).
func BenchmarkKVGet(b *testing.B) { benchKV(b, `core.kv.get("tier:alice")`) }

func BenchmarkKVGetGate(b *testing.B) {
	benchKV(b, `gocall(go.kv_get, 1, "tier:alice", true)`)
}

// BenchmarkKVSet is a core.kv.set (always through the gate).
func BenchmarkKVSet(b *testing.B) { benchKV(b, `core.kv.set("tier:alice", "gold")`) }

func benchKV(b *testing.B, call string) {
	s, err := NewState(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	code := "local I = ...\nlocal gocall, go = I.gocall, I.go\ncore.kv.set(\"tier:alice\", \"gold\")\n" +
		"for i = 1, 100 do " + call + " end\n" // warm the trace and the copy
	if _, err := s.L.EvalInternal(code+"return 0", "=bench"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	code = "local I = ...\nlocal gocall, go = I.gocall, I.go\nfor i = 1, " + strconv.Itoa(b.N) + " do " + call + " end\nreturn 0"
	if _, err := s.L.EvalInternal(code, "=bench"); err != nil {
		b.Fatal(err)
	}
}
