package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runawayScript has a hello service that names its worker, and runaways:
// a service that spins (a bare loop, a numeric for loop that the JIT
// compiles, a string-building loop) and an action that spins. Each spin
// is on a path; "/who" answers which worker the connection is on first.
const runawayScript = `
local worker = string.match(tostring({}), "0x%x+")

local function answer(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end

core.register_service("hello", "http", function(applet)
	if applet.path == "/timeouts" then
		-- This core's timeouts of the spin service and action.
		local n = {}
		for _, r in ipairs(core.get_script_stats()) do
			if r.name == "spin" then n[#n + 1] = r.kind .. "=" .. r.timeouts end
		end
		table.sort(n)
		answer(applet, table.concat(n, ",") .. " " .. worker)
		return
	end
	answer(applet, "hello " .. worker)
end)

core.register_service("spin", "http", function(applet)
	local p = applet.path
	if p == "/spin/loop" then
		while true do end
	elseif p == "/spin/for" then
		local x = 0
		for i = 1, 1e15 do x = x + i % 7 end
		answer(applet, tostring(x))
	elseif p == "/spin/concat" then
		local s = ""
		while true do s = s .. "x" if #s > 4096 then s = "" end end
	elseif p == "/spin/pcall" then
		-- Catching the timeout does not save the script.
		while true do pcall(function() while true do end end) end
	end
	answer(applet, "who " .. worker)
end)

core.register_action("spin", { "http-req" }, function(txn)
	if txn.sf:path() == "/spin" then
		while true do end
	end
end)
`

const runawayConfig = `workers: 2
lua:
  load: [runaway.lua]
  forced_yield: 10ms
  burst_timeout: 500ms
  session_timeout: 2s
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: spin
    bind: ["127.0.0.1:@PORT1@"]
    use_service: lua.spin
  - name: action
    bind: ["127.0.0.1:@PORT2@"]
    http_request: [lua.spin]
    use_service: lua.spin
`

// onEachWorker opens connections to addr until it has one on each of the
// two workers (asking path, whose answer ends with the worker's name).
func onEachWorker(t *testing.T, addr, path string) []*rawConn {
	t.Helper()
	byWorker := map[string]*rawConn{}
	for i := 0; i < 200 && len(byWorker) < 2; i++ {
		c := dialRaw(t, addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
		_, body := c.readResponse("GET")
		w := body[strings.LastIndexByte(body, ' ')+1:]
		if byWorker[w] == nil {
			byWorker[w] = c
		} else {
			c.Close()
		}
	}
	if len(byWorker) != 2 {
		t.Fatalf("200 connections reached %d workers, want 2", len(byWorker))
	}
	var out []*rawConn
	for _, c := range byWorker {
		out = append(out, c)
	}
	return out
}

// A runaway script on each loop is yielded every slice, so the loops go on
// serving, and stopped with a 500 once it has run session_timeout (2 s)
// without waiting; the log names the script's file:line.
func TestRunawayScriptsAreStopped(t *testing.T) {
	s := startServer(t, runawayConfig, map[string]string{"runaway.lua": runawayScript})
	for _, tc := range []struct{ frontend, path string }{
		{"1", "/spin/loop"},
		{"1", "/spin/for"},
		{"1", "/spin/concat"},
		{"1", "/spin/pcall"},
		{"2", "/spin"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			spinners := onEachWorker(t, s.addrOf(tc.frontend), "/who")
			start := time.Now()
			for _, c := range spinners {
				c.send("GET " + tc.path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
			}
			// While both loops run a runaway, each still answers hello,
			// well before the runaway ends (a frozen loop would answer
			// only after it: 2 s). A slice is 10 ms; the bound leaves room
			// for a loaded machine.
			seen := map[string]bool{}
			for i := 0; i < 200 && len(seen) < 2; i++ {
				c := dialRaw(t, s.addr())
				t0 := time.Now()
				c.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
				resp, body := c.readResponse("GET")
				if took := time.Since(t0); resp.StatusCode != 200 || took > time.Second {
					t.Fatalf("hello during a runaway: %d %q after %v", resp.StatusCode, body, took)
				}
				seen[body] = true
				c.Close()
			}
			if len(seen) != 2 || time.Since(start) > 1900*time.Millisecond {
				t.Fatalf("hello reached %d workers in %v while they ran runaways, want 2 before the runaways end", len(seen), time.Since(start))
			}
			for _, c := range spinners {
				resp, body := c.readResponse("GET")
				if resp.StatusCode != 500 {
					t.Errorf("%s: %d %q, want 500", tc.path, resp.StatusCode, body)
				}
			}
			if took := time.Since(start); took < 1900*time.Millisecond || took > 5*time.Second {
				t.Errorf("the runaways were stopped after %v, want about session_timeout (2s)", took)
			}
			// The loops serve normally after.
			for _, c := range onEachWorker(t, s.addr(), "/") {
				c.Close()
			}
		})
	}
	// Each worker counted its timeouts against the functions it stopped:
	// four runs of the service and one of the action.
	for _, c := range onEachWorker(t, s.addr(), "/timeouts") {
		c.send("GET /timeouts HTTP/1.1\r\nHost: e2e\r\n\r\n")
		if _, body := c.readResponse("GET"); !strings.HasPrefix(body, "action=1,service=4 ") {
			t.Errorf("GET /timeouts: %q, want action=1,service=4 on each worker", body)
		}
	}
	logs := s.waitLog(t, 2*time.Second, "execution timeout")
	for _, line := range []int{28, 31, 35, 38, 45} {
		if where := fmt.Sprintf("runaway.lua:%d", line); !strings.Contains(logs, where) {
			t.Errorf("no execution timeout log names %s; output:\n%s", where, logs)
		}
	}
}

// A script body that never ends cannot be yielded: burst_timeout does not
// apply to it, session_timeout does, and the server does not start.
func TestRunawayScriptBodyFailsStartup(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, dir+"/luaedge.yaml", `lua:
  load: [body.lua]
  session_timeout: 300ms
frontends:
  - name: main
    bind: ["127.0.0.1:`+fmt.Sprint(freePort(t))+`"]
    use_service: lua.none
`)
	writeFile(t, dir+"/body.lua", "local n = 0\nwhile true do n = n + 1 end\n")
	cmd := exec.Command(luaedgeBin, "-c", "luaedge.yaml")
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	go func() { out, _ = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("luaedge still runs 10 s after start with a script body that never ends; output:\n%s", out)
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("luaedge exited 0 with a script body that never ends; output:\n%s", out)
	}
	if !strings.Contains(string(out), "body.lua:2: execution timeout") {
		t.Errorf("the start-up error does not name body.lua:2: execution timeout; output:\n%s", out)
	}
}

// A request parked by a forced yield is in the middle of its script: when
// its client goes away, its coroutine must be dropped, never put back in
// the pool for the next request on the loop to resume (which would run the
// rest of the runaway in another client's request).
func TestForcedYieldedRequestIsNotReused(t *testing.T) {
	s := startServer(t, `workers: 1
log: {level: debug}
lua:
  load: [runaway.lua]
  forced_yield: 10ms
  session_timeout: 2s
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: spin
    bind: ["127.0.0.1:@PORT1@"]
    use_service: lua.spin
`, map[string]string{"runaway.lua": runawayScript})
	for round := 0; round < 3; round++ {
		// A finished request leaves its coroutine in the pool, saying it
		// is done; the runaway takes that coroutine.
		c := dialRaw(t, s.addrOf("1"))
		c.send("GET /who HTTP/1.1\r\nHost: e2e\r\n\r\n")
		c.readResponse("GET")
		c.send("GET /spin/pcall HTTP/1.1\r\nHost: e2e\r\n\r\n")
		// Forced yields go on while hello is answered.
		for i := 0; i < 5; i++ {
			h := dialRaw(t, s.addr())
			h.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
			if resp, body := h.readResponse("GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello ") {
				t.Fatalf("hello while a runaway is parked: %d %q", resp.StatusCode, body)
			}
			h.Close()
		}
		c.Close()
		// The next requests take coroutines from the pool.
		for i := 0; i < 5; i++ {
			h := dialRaw(t, s.addr())
			h.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
			if resp, body := h.readResponse("GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello ") {
				t.Fatalf("hello after the runaway's client left: %d %q", resp.StatusCode, body)
			}
			h.Close()
		}
	}
	if logs := s.logs(); strings.Contains(logs, "frontend=hello where=") {
		t.Errorf("a hello request ran the runaway's script:\n%s", logs)
	}
}
