package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis runs a real redis-server on a free port for the test.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

// A small redis client over core.tcp(), written the way HAProxy users use
// LuaSocket-style libraries: connect, send, receive("*l") and receive(n).
const redisLua = `
local REDIS = "@REDIS@"
local function redis(cmd, ...)
	local tcp = core.tcp()
	tcp:settimeout(1)
	local ok, err = tcp:connect(REDIS)
	if not ok then return nil, err end
	local args = { cmd, ... }
	local out = { "*" .. #args .. "\r\n" }
	for _, a in ipairs(args) do out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n" end
	assert(tcp:send(table.concat(out)))
	local line = assert(tcp:receive("*l"))
	local kind, rest = line:sub(1, 1), line:sub(2)
	local r = rest
	if kind == "$" then
		local n = tonumber(rest)
		r = n >= 0 and tcp:receive(n + 2):sub(1, n) or nil
	elseif kind == "-" then
		r = nil
	end
	tcp:close()
	return r
end

core.register_service("redis", "http", function(applet)
	local key = applet.qs
	redis("INCR", key)
	local v = redis("GET", key)
	applet:start_response()
	applet:send("value=" .. tostring(v))
end)

core.register_action("limit", { "http-req" }, function(txn)
	local n = tonumber(redis("INCR", "hits:" .. txn.f:src()))
	if n and n > 3 then return act.DENY end
end)

core.register_service("peer", "http", function(applet)
	local tcp = core.tcp()
	assert(tcp:connect("127.0.0.1", tonumber(REDIS:match(":(%d+)$"))))
	local ip, port = tcp:getpeername()
	local lip = tcp:getsockname()
	tcp:close()
	local dead = core.tcp()
	dead:settimeout(0.5)
	local ok, err = dead:connect("127.0.0.1:1")
	applet:start_response()
	applet:send(ip .. ":" .. port .. " " .. lip .. " dead=" .. tostring(ok) .. "," .. tostring(err))
end)

core.register_task(function()
	while true do
		redis("INCR", "task-ticks")
		core.msleep(50)
	end
end)
`

func TestSocketTalksToRealRedis(t *testing.T) {
	addr := startRedis(t)
	s := startServer(t, `workers: 2
lua: {load: [redis.lua]}
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.redis
  - name: limited
    bind: ["127.0.0.1:@PORT2@"]
    http_request: ["lua.limit"]
    use_service: lua.peer
`, map[string]string{"redis.lua": strings.ReplaceAll(redisLua, "@REDIS@", addr)})
	c, _ := newClient(t)
	for i := 1; i <= 3; i++ {
		resp, body := get(t, c, s.url("/?counter"))
		if resp.StatusCode != 200 || body != "value="+strconv.Itoa(i) {
			t.Fatalf("request %d: %d %q\n%s", i, resp.StatusCode, body, s.logs())
		}
	}
	// An action that yields on a socket, then a service that reads
	// addresses and sees a refused connection as an error.
	for i := 1; i <= 4; i++ {
		resp, body := get(t, c, "http://"+s.addrOf("2")+"/")
		if i <= 3 && (resp.StatusCode != 200 || !strings.HasPrefix(body, addr+" 127.0.0.1 dead=nil,connect:")) {
			t.Fatalf("limited %d: %d %q", i, resp.StatusCode, body)
		}
		if i == 4 && resp.StatusCode != 403 {
			t.Fatalf("limited 4: %d, want 403", resp.StatusCode)
		}
	}
	// The tasks (one per worker) keep counting without blocking traffic.
	time.Sleep(300 * time.Millisecond)
	resp, body := get(t, c, s.url("/?task-ticks"))
	n, _ := strconv.Atoi(strings.TrimPrefix(body, "value="))
	if resp.StatusCode != 200 || n < 6 {
		t.Fatalf("task ticks: %q", body)
	}
}

// connect_ssl speaks TLS to a real TLS server (net/http's test server,
// whose certificate is self-signed: HAProxy's Lua sockets do not verify).
func TestSocketConnectSSL(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "over tls "+r.URL.Path)
	}))
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "https://")
	s := startServer(t, `workers: 1
lua: {load: [tls.lua]}
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.tls
`, map[string]string{"tls.lua": `
core.register_service("tls", "http", function(applet)
	local sock = core.tcp()
	sock:settimeout(2)
	applet:start_response()
	local ok, err = sock:connect_ssl("` + addr + `")
	if not ok then applet:send("connect failed: " .. tostring(err)) return end
	sock:send("GET /secret HTTP/1.0\r\nHost: test\r\n\r\n")
	local all = sock:receive("*a")
	sock:close()
	applet:send(all:match("\r\n\r\n(.*)$") or all)
end)
`})
	c, _ := newClient(t)
	if resp, body := get(t, c, s.url("/")); resp.StatusCode != 200 || body != "over tls /secret" {
		t.Fatalf("%d %q\n%s", resp.StatusCode, body, s.logs())
	}
}
