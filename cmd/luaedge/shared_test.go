package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/shared/kv/redistest"
)

// The shared state through Redis: two luaedge processes (two instances
// of a fleet, on their own ports) and one redis-server started by the
// test.

// sharedYAML is each instance's configuration: @REDIS@ is the server's
// address; web (@PORT@) answers the kv and bus requests, lim (@PORT2@)
// is rate-limited by a stick table shared through Redis. The rate's
// period is a day: the test cannot straddle a period's boundary, where
// the previous period's weight starts to fall.
const sharedYAML = `workers: 2
shared:
  redis: {address: "@REDIS@", timeout: 300ms, prefix: "e2e:"}
stick_tables:
  - {name: fleet, type: ip, size: 1000, expire: 1m, store: [http_req_rate(1d)], shared: redis, sync_interval: 20ms}
lua: {load: [shared.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.api
  - name: lim
    bind: ["127.0.0.1:@PORT2@"]
    track: {key: src, table: fleet}
    http_request: ["lua.limit"]
    use_service: lua.api
`

const sharedLua = `
core.bus.subscribe("news", function(data, name)
	core.set_var("proc.last", name .. ":" .. data)
end)

-- More than 10 requests in the fleet's period: denied.
core.register_action("limit", { "http-req" }, function(txn)
	if txn.f:sc_http_req_rate(0) > 10 then return act.DENY end
end)

core.register_service("api", "http", function(applet)
	local p, q = applet.path, applet.qs
	local status, body = 200, ""
	local function answer(v, err)
		if err then status, body = 503, err else body = tostring(v) end
	end
	if p == "/set" then answer(core.kv.set("k", q))
	elseif p == "/get" then answer(core.kv.get("k"))
	elseif p == "/incr" then answer(core.kv.incr("n", 1))
	elseif p == "/emit" then answer(core.bus.emit("news", q))
	elseif p == "/last" then body = tostring(core.get_var("proc.last"))
	elseif p == "/rate" then body = tostring(applet.f:src_http_req_rate("fleet"))
	end
	applet:set_status(status)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// startShared starts one instance using the Redis at addr.
func startShared(t *testing.T, addr string) *server {
	t.Helper()
	return startServer(t, strings.ReplaceAll(sharedYAML, "@REDIS@", addr), map[string]string{"shared.lua": sharedLua})
}

// pollBody gets url until its body is want, for at most 10 s.
func pollBody(t *testing.T, url, want string, each func()) {
	t.Helper()
	c, _ := newClient(t)
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if each != nil {
			each()
		}
		if _, body := get(t, c, url); body == want {
			return
		} else {
			last = body
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: %q after 10s, want %q", url, last, want)
}

func TestSharedKVAndBusAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startShared(t, rs.Addr), startShared(t, rs.Addr)
	c, _ := newClient(t)

	// A value written through one instance is read through the other.
	if resp, body := get(t, c, a.url("/set?hello")); resp.StatusCode != 200 || body != "true" {
		t.Fatalf("set on a: %d %q", resp.StatusCode, body)
	}
	if _, body := get(t, c, b.url("/get")); body != "hello" {
		t.Fatalf("get on b: %q, want hello", body)
	}
	get(t, c, b.url("/incr"))
	if _, body := get(t, c, a.url("/incr")); body != "2" {
		t.Fatalf("incr on a after one on b: %q, want 2", body)
	}

	// An event emitted on one reaches the subscribers on the other (and on
	// itself). The subscription is made as the instance starts: emit until
	// it is seen.
	emit := func() { get(t, c, a.url("/emit?from-a")) }
	pollBody(t, b.url("/last"), "news:from-a", emit)
	pollBody(t, a.url("/last"), "news:from-a", nil)
}

func TestSharedRateLimitAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startShared(t, rs.Addr), startShared(t, rs.Addr)
	c, _ := newClient(t)
	status := func(s *server) int {
		resp, _ := get(t, c, "http://"+s.addrOf("2")+"/")
		return resp.StatusCode
	}
	for i := 1; i <= 6; i++ {
		if st := status(a); st != 200 {
			t.Fatalf("request %d on a: %d", i, st)
		}
	}
	// b counts its first request of this client before it has learnt
	// a's; its exchange, a sync_interval later, brings them.
	if st := status(b); st != 200 {
		t.Fatalf("first request on b: %d", st)
	}
	pollBody(t, b.url("/rate"), "7", nil)
	for i := 8; i <= 10; i++ {
		if st := status(b); st != 200 {
			t.Fatalf("request %d of the fleet, on b: %d", i, st)
		}
	}
	if st := status(b); st != 403 {
		t.Fatalf("request 11 of the fleet, on b: %d, want 403", st)
	}
	// a learns b's requests at the exchange that follows its next one.
	status(a)
	pollBody(t, a.url("/rate"), "12", nil)
	if st := status(a); st != 403 {
		t.Fatalf("a after the fleet passed the limit: %d, want 403", st)
	}
}

// With Redis stopped, a script's kv call fails at once with an error
// naming the server, the instance serves other requests, and once Redis
// is back the kv and the bus work again.
func TestSharedRedisDownAndBack(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startShared(t, rs.Addr), startShared(t, rs.Addr)
	c, _ := newClient(t)
	get(t, c, a.url("/set?before"))
	rs.Stop()
	for i := 0; i < 20; i++ { // past the pool's size: then failures are immediate
		start := time.Now()
		resp, body := get(t, c, a.url("/get"))
		if resp.StatusCode != 503 || !strings.Contains(body, "redis "+rs.Addr) {
			t.Fatalf("get with Redis down: %d %q", resp.StatusCode, body)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("get with Redis down took %v; the timeout is 300ms", took)
		}
	}
	if _, body := get(t, c, a.url("/last")); body == "" {
		t.Fatal("a request that does not use Redis was not served")
	}
	rs.Restart()
	pollBody(t, b.url("/get"), "after", func() { get(t, c, a.url("/set?after")) })
	pollBody(t, b.url("/last"), "news:again", func() { get(t, c, a.url("/emit?again")) })
}

// A Redis that accepts connections and never answers: a kv call ends at
// the timeout with an error, and the instance answers other requests
// meanwhile.
func TestSharedRedisSilent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // read nothing, answer nothing
		for {
			conn, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, conn)
		}
	}()
	a := startShared(t, l.Addr().String())
	c, _ := newClient(t)
	type result struct {
		status int
		body   string
		took   time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, body := get(t, c, a.url("/get"))
		done <- result{resp.StatusCode, body, time.Since(start)}
	}()
	other, _ := newClient(t)
	for i := 0; i < 5; i++ {
		if _, body := get(t, other, a.url("/last")); body != "nil" {
			t.Fatalf("another request while one waits for Redis: %q", body)
		}
	}
	r := <-done
	if r.status != 503 || !strings.Contains(r.body, "no answer within 300ms") {
		t.Fatalf("get from a silent Redis: %d %q", r.status, r.body)
	}
	if r.took < 250*time.Millisecond || r.took > 2*time.Second {
		t.Fatalf("get from a silent Redis took %v, want about the 300ms timeout", r.took)
	}
}

// The embedded stores (no shared.redis): shared by the loops of one
// process, delivered to every loop's subscribers, kept across a reload
// that does not change them; artifacts in a folder.
func TestSharedEmbedded(t *testing.T) {
	config := func(kvSize string) string {
		return `workers: 2
runtime_socket: le.sock
shared:
  kv: {size: ` + kvSize + `}
  dicts: {hits: {size: 1m}}
  artifacts: {dir: art}
lua: {load: [emb.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.api
`
	}
	script := `
core.bus.subscribe("ping", function(data) core.kv.incr("pings", 1) end)
core.register_service("api", "http", function(applet)
	local p, q = applet.path, applet.qs
	local body
	if p == "/set" then body = tostring(core.kv.set("k", q))
	elseif p == "/get" then body = tostring(core.kv.get("k"))
	elseif p == "/emit" then body = tostring(core.bus.emit("ping"))
	elseif p == "/pings" then body = tostring(core.kv.get("pings"))
	elseif p == "/hit" then body = tostring(ngx.shared.hits:incr("n", 1, 0))
	elseif p == "/write" then body = tostring(core.artifacts.write("r/a.txt", q))
	elseif p == "/read" then body = tostring(core.artifacts.read("r/a.txt"))
	end
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`
	s := startServer(t, config("1m"), map[string]string{"emb.lua": script})
	mustGet(t, s.addr(), "/set?shared")
	// Each request on a connection of its own: the loops take turns.
	for i := 0; i < 6; i++ {
		if got := mustGet(t, s.addr(), "/get"); got != "shared" {
			t.Fatalf("get %d: %q", i, got)
		}
	}
	for i := 1; i <= 4; i++ {
		if got := mustGet(t, s.addr(), "/hit"); got != strconv.Itoa(i) {
			t.Fatalf("hit %d: %q", i, got)
		}
	}
	// One event, one subscriber per loop.
	mustGet(t, s.addr(), "/emit")
	pollBody(t, s.url("/pings"), "2", nil)

	if got := mustGet(t, s.addr(), "/write?report"); got != "true" {
		t.Fatalf("write: %q", got)
	}
	if got := mustGet(t, s.addr(), "/read"); got != "report" {
		t.Fatalf("read: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "art", "r", "a.txt")); err != nil || string(b) != "report" {
		t.Fatalf("the artifact's file: %q %v", b, err)
	}

	// A reload keeps the stores whose size is unchanged.
	writeFile(t, filepath.Join(s.dir, "emb.lua"), script+"\n-- changed\n")
	s.mustReload(t)
	if got := mustGet(t, s.addr(), "/get"); got != "shared" {
		t.Fatalf("get after a reload: %q", got)
	}
	if got := mustGet(t, s.addr(), "/hit"); got != "5" {
		t.Fatalf("hit after a reload: %q", got)
	}
	// A new kv size makes a new, empty store; the dictionary stays.
	writeFile(t, filepath.Join(s.dir, "luaedge.yaml"), strings.ReplaceAll(config("2m"), "@PORT@", strconv.Itoa(s.ports[""])))
	s.mustReload(t)
	if got := mustGet(t, s.addr(), "/get"); got != "nil" {
		t.Fatalf("get after a reload with a new kv size: %q", got)
	}
	if got := mustGet(t, s.addr(), "/hit"); got != "6" {
		t.Fatalf("hit after a reload with a new kv size: %q", got)
	}
}
