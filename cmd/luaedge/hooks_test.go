package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaedge/luaedge/shared/kv/redistest"
)

// Hook scripts (docs/hooks.md) on the real binary: a folder per script,
// every hook file, on a frontend answered by Lua and one forwarding to a
// server, over HTTP/1 and HTTP/2.

// hookNote is a script's _shared.lua: note(hook) logs the hook it runs
// in, with the request's id.
const hookNote = `function note(name, extra)
	local a = { script = SCRIPT, hook = name, id = ctx.id }
	for k, v in pairs(extra or {}) do a[k] = v end
	log.info("hook ran", a)
end
`

// hookScripts are scripts a (priority 10), b (20: before a) and c
// (disabled): a has every hook file.
var hookScripts = map[string]string{
	"hooks/a/_shared.lua": "SCRIPT = 'a'\nsecret = 'of a'\n" + hookNote,
	"hooks/a/connect.lua": "note('connect', {addr = ctx.req.remote_addr})",
	"hooks/a/before_request.lua": `note("before_request")
local p = ctx.req.path
if p == "/block" then
	mut.resp.set_status(403)
	mut.resp.set_body("Blocked")
	mut.ctx.set_finish()
	return
end
if p == "/boom" then error("boom in a") end
local user = ctx.req.headers["x-user"] or "anon"
local wait = tonumber(ctx.req.headers["x-wait"] or "0")
if wait > 0 then core.msleep(wait) end
-- Read again after the wait: still this request's.
mut.req.set_header("x-route", user .. ":" .. (ctx.req.headers["x-user"] or "anon") .. ":" .. ctx.req.method)
mut.req.add_header("x-order", "a")
mut.req.set_header("x-b-global", tostring(seen))
mut.resp.set_header("x-pending", "from before_request")
`,
	"hooks/a/after_request.lua":   "note('after_request')",
	"hooks/a/before_response.lua": "note('before_response')\nmut.resp.set_header('x-hook', 'a:' .. ctx.resp.status_code)\nmut.resp.set_header('x-id', ctx.id)",
	"hooks/a/after_response.lua":  "note('after_response', {status = ctx.resp.status_code})",
	"hooks/a/error.lua":           "note('error')\nmut.resp.set_header('x-err', err.msg)",
	"hooks/a/close.lua":           "note('close', {addr = ctx.req.remote_addr, session = ctx.session_id})",
	"hooks/a/flush.lua":           "log.info('hook flush', {reason = opts.reason, session = opts.session})",
	"hooks/a/ws_open.lua":         "note('ws_open', {path = ctx.req.path})",
	"hooks/a/ws_msg.lua": `if msg.direction == "in" then
	if msg.data == "drop" then msg.data = nil else msg.data = msg.data:upper() end
else
	msg.data = "[" .. msg.data .. "]"
end`,
	"hooks/a/ws_close.lua":        "note('ws_close', {path = ctx.req.path})",
	"hooks/b/_shared.lua":         "SCRIPT = 'b'\nseen = 'b'\n" + hookNote,
	"hooks/b/before_request.lua":  "note('before_request')\nmut.req.add_header('x-order', 'b')",
	"hooks/b/before_response.lua": "note('before_response')\nmut.resp.set_header('x-a-global', tostring(secret))",
	"hooks/c/before_request.lua":  "mut.req.set_header('x-c', 'ran')",
}

// hookService answers with what the request carried.
const hookService = `local websocket = require "http.websocket"
local function field(h, n)
	local v = h[n]
	if v == nil then return "nil" end
	local out = v[0]
	for i = 1, #v do out = out .. "," .. v[i] end
	return out
end
core.register_service("echo", "http", function(applet)
	if applet.headers["upgrade"] then
		local ws = websocket.new_from_applet(applet)
		assert(ws:accept())
		for data, opcode in ws:each() do ws:send(data, opcode) end
		return
	end
	local h = applet.headers
	local body = "route=" .. field(h, "x-route") .. ";order=" .. field(h, "x-order") .. ";c=" .. field(h, "x-c") .. ";b=" .. field(h, "x-b-global")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// hookBackend answers as hookService does, and counts its requests.
func hookBackend(t *testing.T) (addr string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	field := func(r *http.Request, n string) string {
		if v := r.Header.Values(n); len(v) > 0 {
			return strings.Join(v, ",")
		}
		return "nil"
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Server", "yes")
		fmt.Fprintf(w, "route=%s;order=%s;c=%s;b=%s", field(r, "X-Route"), field(r, "X-Order"), field(r, "X-C"), field(r, "X-B-Global"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), hits
}

func startHooks(t *testing.T, backend, wsBackend string) *server {
	t.Helper()
	files := map[string]string{"svc.lua": hookService}
	for k, v := range hookScripts {
		files[k] = v
	}
	return startServer(t, `workers: 1
shutdown_timeout: 5s
lua:
  load: [svc.lua]
admin: {bind: "127.0.0.1:@PORT9@"}
hooks:
  dir: hooks
  flush_interval: 200ms
  scripts:
    a: {priority: 10}
    b: {priority: 20}
    c: {enabled: false}
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
  - name: proxy
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: be
    routes: [{path_prefix: /echo, backend: ws}]
  - name: plain
    bind: ["127.0.0.1:@PORT3@"]
    hooks: []
    use_service: lua.echo
  - name: dead
    bind: ["127.0.0.1:@PORT4@"]
    default_backend: dead
backends:
  - name: dead
    retries: 0
    servers: [{name: s1, address: "127.0.0.1:@PORT5@"}]
  - name: be
    servers: [{name: s1, address: "`+backend+`"}]
  - name: ws
    servers: [{name: s1, address: "`+wsBackend+`"}]
`, files)
}

// hookLines returns the hooks the log says ran for request id, in order
// ("script:hook").
func hookLines(logs, id string) []string {
	var out []string
	re := regexp.MustCompile(`msg="hook ran".* hook=(\w+) id=` + regexp.QuoteMeta(id) + `\b.* script=(\w)`)
	for _, line := range strings.Split(logs, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			out = append(out, m[2]+":"+m[1])
		}
	}
	return out
}

func TestHooks(t *testing.T) {
	be, hits := hookBackend(t)
	wsbe, _ := wsBackend(t)
	s := startHooks(t, be, wsbe)
	c1, _ := newClient(t)
	h2, _ := h2cClient(t)
	clients := map[string]*http.Client{"HTTP/1.1": c1, "HTTP/2": h2}
	wantOrder := []string{"b:before_request", "a:before_request", "a:after_request", "b:before_response", "a:before_response", "a:after_response"}

	for _, fe := range []string{"", "2"} {
		for proto, c := range clients {
			what := proto + " to " + map[string]string{"": "a Lua service", "2": "a server"}[fe]
			base := "http://" + s.addrOf(fe)

			// Mutations reach the service or server and the client, in
			// the scripts' priority order; the disabled script never runs;
			// each script's globals are its own.
			req, _ := http.NewRequest("GET", base+"/x", nil)
			req.Header.Set("X-User", "alice")
			resp, body := send(t, c, req)
			if body != "route=alice:alice:GET;order=b,a;c=nil;b=nil" {
				t.Errorf("%s: the service or server got %q", what, body)
			}
			for k, v := range map[string]string{"X-Hook": "a:200", "X-Pending": "from before_request", "X-A-Global": "nil"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %s = %q, want %q", what, k, got, v)
				}
			}
			if fe == "2" && resp.Header.Get("X-Server") != "yes" {
				t.Errorf("%s: the server's head was not relayed: %v", what, resp.Header)
			}
			// Every request hook ran once, in order, after_response last.
			id := resp.Header.Get("X-Id")
			var got []string
			deadline := time.Now().Add(5 * time.Second)
			for {
				if got = hookLines(s.logs(), id); len(got) >= len(wantOrder) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if strings.Join(got, " ") != strings.Join(wantOrder, " ") {
				t.Errorf("%s: hooks of %s ran %v, want %v", what, id, got, wantOrder)
			}

			// set_finish answers; before_response sees the answer; no
			// service nor server is asked.
			before := hits.Load()
			resp, body2 := get(t, c, base+"/block")
			wantResponse(t, what+" /block", resp, body2, 403, "Blocked")
			if resp.Header.Get("X-Hook") != "a:403" || hits.Load() != before {
				t.Errorf("%s /block: x-hook %q, server hits %d -> %d", what, resp.Header.Get("X-Hook"), before, hits.Load())
			}

			// A failing hook runs its script's error.lua; the request goes on.
			resp, _ = get(t, c, base+"/boom")
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("X-Err"), "boom in a") {
				t.Errorf("%s /boom: %d, x-err %q", what, resp.StatusCode, resp.Header.Get("X-Err"))
			}
		}
	}

	// A frontend without hooks: nothing changes.
	resp, body := get(t, c1, "http://"+s.addrOf("3")+"/x")
	if body != "route=nil;order=nil;c=nil;b=nil" || resp.Header.Get("X-Hook") != "" {
		t.Errorf("plain frontend: %q %v", body, resp.Header)
	}

	// A server that cannot be reached: after_response still runs, with
	// the status luaedge answered.
	resp, _ = get(t, c1, "http://"+s.addrOf("4")+"/x")
	if resp.StatusCode != 503 {
		t.Errorf("dead server: status %d", resp.StatusCode)
	}
	s.waitLog(t, 5*time.Second, "hook=after_response id=", fmt.Sprintf("script=a status=%d", resp.StatusCode))

	// The errors are counted against the hook, in the metrics.
	_, metrics := get(t, c1, "http://"+s.addrOf("9")+"/metrics")
	if !regexp.MustCompile(`luaedge_lua_function_errors_total\{kind="hook",name="a/before_request",source="[^"]*"\} 4\b`).MatchString(metrics) {
		t.Errorf("no count of a/before_request's 4 errors in the metrics:\n%s", grepLines(metrics, "hook"))
	}

	// connect and close ran per connection, flush on its interval.
	c1.CloseIdleConnections()
	logs := s.waitLog(t, 5*time.Second, "hook=connect", "hook=close", "reason=interval")
	if !regexp.MustCompile(`addr=127\.0\.0\.1:\d+ hook=close`).MatchString(logs) {
		t.Errorf("close hooks without the client's address:\n%s", grepLines(logs, "hook=close"))
	}

	// flush runs once more as the server stops.
	if !s.stop(10 * time.Second) {
		t.Fatal("luaedge did not stop")
	}
	s.waitLog(t, time.Second, "reason=stop")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Two clients on one loop: a hook that waits (here a sleep; a remote
// store would do the same) and the hooks of another request that run
// meanwhile never see each other's request.
func TestHooksConcurrent(t *testing.T) {
	be, _ := hookBackend(t)
	wsbe, _ := wsBackend(t)
	s := startHooks(t, be, wsbe)
	for _, fe := range []string{"", "2"} {
		var wg sync.WaitGroup
		results := map[string]string{}
		var mu sync.Mutex
		for _, user := range []string{"alice", "bob"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, _ := newClient(t)
				req, _ := http.NewRequest("GET", "http://"+s.addrOf(fe)+"/x", nil)
				req.Header.Set("X-User", user)
				if user == "alice" {
					req.Header.Set("X-Wait", "300")
				} else {
					time.Sleep(100 * time.Millisecond) // while alice's hook waits
				}
				_, body, err := fetch(c, req)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results[user] = body
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, user := range []string{"alice", "bob"} {
			if want := "route=" + user + ":" + user + ":GET;"; !strings.HasPrefix(results[user], want) {
				t.Errorf("frontend %q: %s got %q, want %s...", fe, user, results[user], want)
			}
		}
	}
}

// ws_open, ws_msg (changing, dropping) and ws_close on a WebSocket the
// Lua service accepts and on one forwarded to a server.
func TestHooksWebSocket(t *testing.T) {
	be, _ := hookBackend(t)
	wsbe, _ := wsBackend(t)
	s := startHooks(t, be, wsbe)
	for _, url := range []string{"ws://" + s.addr() + "/chat", "ws://" + s.addrOf("2") + "/echo"} {
		c, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("%s: %v %v", url, err, resp)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.WriteMessage(websocket.TextMessage, []byte("hi"))
		c.WriteMessage(websocket.TextMessage, []byte("drop"))
		c.WriteMessage(websocket.BinaryMessage, []byte("bin"))
		for _, want := range []string{"[HI]", "[BIN]"} {
			typ, got, err := c.ReadMessage()
			if err != nil || string(got) != want {
				t.Fatalf("%s: got %d %q %v, want %q", url, typ, got, err, want)
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: close: %v", url, err)
		}
		c.Close()
	}
	// ws_close runs once per WebSocket: the served one's as its service
	// sees the close, the forwarded one's as the connection closes.
	s.waitLog(t, 5*time.Second, "hook=ws_open id=", "path=/chat", "path=/echo")
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(s.logs(), "hook=ws_close") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logs := s.logs()
	if n := strings.Count(logs, "hook=ws_close"); n != 2 || strings.Count(logs, "hook=ws_open") != 2 {
		t.Errorf("ws_open and ws_close ran %d and %d times, want 2 each:\n%s", strings.Count(logs, "hook=ws_open"), n, grepLines(logs, "ws_"))
	}
}

// examples/hooks runs as its README says.
func TestHooksExample(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "hooks")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := files["luaedge.yaml"]
	delete(files, "luaedge.yaml")
	for old, new := range map[string]string{"127.0.0.1:8092": "127.0.0.1:@PORT@", "flush_interval: 30s": "flush_interval: 100ms", "workers: 2": "workers: 1"} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("examples/hooks/luaedge.yaml has no %q", old)
		}
		cfg = strings.Replace(cfg, old, new, 1)
	}
	s := startServer(t, cfg, files)
	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/"))
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || id == "" || body != "hello, request "+id+"\n" {
		t.Errorf("/: %d %q, x-request-id %q", resp.StatusCode, body, id)
	}
	resp, body = get(t, c, s.url("/admin"))
	wantResponse(t, "/admin", resp, body, 403, "forbidden\n")
	s.waitLog(t, 5*time.Second, "msg=blocked", "audit=true", "path=/admin", "msg=responses", "status_200=1", "status_403=1")
}

// luaedge hooks init writes a script that loads, with the annotations.
func TestHooksInit(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runBin(t, dir, "hooks", "init", "demo")
	if code != 0 || !strings.Contains(out, "demo: {enabled: true") {
		t.Fatalf("hooks init: status %d\n%s%s", code, out, errOut)
	}
	if _, _, code := runBin(t, dir, "hooks", "init", "demo"); code != exitError {
		t.Errorf("hooks init over an existing folder: status %d", code)
	}
	annotations, err := os.ReadFile(filepath.Join(dir, "hooks", "_annotations.lua"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "hooks", "scripts", "_annotations.lua"))
	if err != nil || string(example) != string(annotations) {
		t.Errorf("examples/hooks/scripts/_annotations.lua (a link) is not what hooks init writes (%v)", err)
	}
	writeFile(t, filepath.Join(dir, "luaedge.yaml"), `hooks:
  scripts:
    demo: {}
frontends:
  - name: web
    bind: ["127.0.0.1:0"]
    default_backend: be
backends:
  - name: be
    servers: [{name: s1, address: "127.0.0.1:1"}]
`)
	if out, errOut, code := runBin(t, dir, "check", "-c", "luaedge.yaml"); code != 0 {
		t.Errorf("check of the new script: status %d\n%s%s", code, out, errOut)
	}
}

// A reload reads the script folders again: a changed hook takes effect in
// the new generation, and the old one flushes as it is retired.
func TestHooksReload(t *testing.T) {
	s := startServer(t, `workers: 1
runtime_socket: le.sock
lua:
  load: [svc.lua]
hooks:
  scripts:
    a: {}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
`, map[string]string{
		"svc.lua":                    hookService,
		"hooks/a/before_request.lua": "mut.req.set_header('x-route', 'v1')",
		"hooks/a/flush.lua":          "log.info('hook flush', {reason = opts.reason})",
	})
	c, _ := newClient(t)
	if _, body := get(t, c, s.url("/")); !strings.HasPrefix(body, "route=v1;") {
		t.Fatalf("before the reload: %q", body)
	}
	writeFile(t, filepath.Join(s.dir, "hooks", "a", "before_request.lua"), "mut.req.set_header('x-route', 'v2')")
	s.mustReload(t)
	c.CloseIdleConnections() // the old generation's connection
	if _, body := get(t, c, s.url("/")); !strings.HasPrefix(body, "route=v2;") {
		t.Errorf("after the reload: %q", body)
	}
	s.waitLog(t, 5*time.Second, "reason=reload")
}

// A hook that never reads the request body leaves it streaming to the
// server; one that reads it (ctx.req.body) or replaces it
// (mut.req.set_body) waits for it whole.
func TestHooksBody(t *testing.T) {
	heads := make(chan string, 4)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heads <- r.URL.Path
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "len=%s body=%s", r.Header.Get("X-Len"), b)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	s := startServer(t, `workers: 1
hooks:
  scripts:
    r: {}
frontends:
  - name: proxy
    bind: ["127.0.0.1:@PORT@"]
    default_backend: be
backends:
  - name: be
    servers: [{name: s1, address: "`+l.Addr().String()+`"}]
`, map[string]string{"hooks/r/before_request.lua": `local p = ctx.req.path
if p == "/read" then mut.req.set_header("x-len", #ctx.req.body) end
if p == "/replace" then mut.req.set_body("new body") end`})

	c := dialRaw(t, s.addr())
	c.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
	select {
	case <-heads: // the server has the request before the rest of its body
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the server before its body ended")
	}
	c.send("world")
	if resp, body := c.readResponse("POST"); resp.StatusCode != 200 || body != "len= body=helloworld" {
		t.Errorf("/stream: %d %q", resp.StatusCode, body)
	}
	for path, want := range map[string]string{"/read": "len=10 body=helloworld", "/replace": "len= body=new body"} {
		c.send("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
		c.send("world")
		if resp, body := c.readResponse("POST"); resp.StatusCode != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
		<-heads
	}
}

// kv, bus and artifacts in hooks, over the shared store: embedded (one
// instance, two workers) and Redis (two instances).
const hookStoreScript = `local p, q = ctx.req.path, ctx.req.query
if p == "/kv/set" then
	local ok, err = kv.set("hk:" .. q, "v-" .. q)
	mut.resp.set_header("x-r", tostring(ok) .. tostring(err or ""))
elseif p == "/kv/get" then
	local v, err = kv.get("hk:" .. q)
	mut.resp.set_header("x-r", tostring(v) .. " " .. tostring(kv.get_base64("hk:" .. q)))
elseif p == "/kv/list" then
	local t, err = kv.list("hk:")
	local keys = {}
	for k, v in pairs(t or {}) do keys[#keys + 1] = k .. "=" .. v end
	table.sort(keys)
	mut.resp.set_header("x-r", table.concat(keys, ",") .. tostring(err or ""))
elseif p == "/kv/del" then
	mut.resp.set_header("x-r", tostring(kv.delete("hk:" .. q)))
elseif p == "/emit" then
	mut.resp.set_header("x-r", tostring(bus.emit("hook-news", q)))
elseif p == "/last" then
	mut.resp.set_header("x-r", tostring(last_news))
elseif p == "/art" then
	local ok, err = artifacts.write("hook.txt", "made by " .. q)
	local text = artifacts.read("hook.txt")
	mut.resp.set_header("x-r", tostring(ok) .. tostring(err or "") .. " " .. tostring(text))
end
mut.ctx.set_finish()
`

func startHookStore(t *testing.T, shared string) *server {
	t.Helper()
	return startServer(t, `workers: 2
`+shared+`
hooks:
  scripts:
    s: {}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    default_backend: none
backends:
  - name: none
    servers: [{name: s1, address: "127.0.0.1:1"}]
`, map[string]string{
		"hooks/s/_shared.lua":        `bus.subscribe("hook-news", function(data) last_news = data end)`,
		"hooks/s/before_request.lua": hookStoreScript,
	})
}

// hookAnswer returns the x-r header of path on s.
func hookAnswer(t *testing.T, c *http.Client, s *server, path string) string {
	t.Helper()
	resp, _ := get(t, c, s.url(path))
	return resp.Header.Get("X-R")
}

func TestHooksSharedStore(t *testing.T) {
	c, _ := newClient(t)
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		s := startHookStore(t, "")
		check("set", hookAnswer(t, c, s, "/kv/set?a"), "true")
		check("set", hookAnswer(t, c, s, "/kv/set?b"), "true")
		check("get", hookAnswer(t, c, s, "/kv/get?a"), "v-a di1h")
		check("list", hookAnswer(t, c, s, "/kv/list"), "hk:a=v-a,hk:b=v-b")
		check("delete", hookAnswer(t, c, s, "/kv/del?a"), "true")
		check("get after delete", hookAnswer(t, c, s, "/kv/get?a"), "nil nil")
		check("artifacts", hookAnswer(t, c, s, "/art?s"), "true made by s")
		check("emit", hookAnswer(t, c, s, "/emit?hello"), "nil")
		// Every worker's subscriber gets it, whichever takes the request.
		for i := 0; i < 4; i++ {
			c.CloseIdleConnections() // a new connection: any worker
			deadline := time.Now().Add(5 * time.Second)
			for hookAnswer(t, c, s, "/last") != "hello" {
				if time.Now().After(deadline) {
					t.Fatal("the bus event did not reach the worker's subscriber")
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	t.Run("redis", func(t *testing.T) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Skip("redis-server not installed")
		}
		rs := redistest.Start(t)
		shared := "shared:\n  redis: {address: \"" + rs.Addr + "\", timeout: 300ms, prefix: \"hooks:\"}"
		a, b := startHookStore(t, shared), startHookStore(t, shared)
		check("set on a", hookAnswer(t, c, a, "/kv/set?x"), "true")
		check("get on b", hookAnswer(t, c, b, "/kv/get?x"), "v-x di14")
		check("list on b", hookAnswer(t, c, b, "/kv/list"), "hk:x=v-x")
		// The subscription is made as an instance starts: emit until seen.
		deadline := time.Now().Add(10 * time.Second)
		for hookAnswer(t, c, b, "/last") != "from-a" {
			if time.Now().After(deadline) {
				t.Fatal("an event emitted on a did not reach b's hooks")
			}
			hookAnswer(t, c, a, "/emit?from-a")
			time.Sleep(20 * time.Millisecond)
		}
	})
}
