package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// lifecycleScript answers "ok" to every path but /spin, where it logs and
// then never returns.
const lifecycleScript = `
core.register_service("life", "http", function(applet)
	if applet.path == "/spin" then
		core.log(core.err, "spin: started")
		while true do end
	end
	applet:set_status(200)
	applet:add_header("content-length", "3")
	applet:start_response()
	applet:send("ok\n")
end)
`

func lifecycleConfig(shutdownTimeout string) string {
	return `workers: 2
shutdown_timeout: ` + shutdownTimeout + `
lua:
  load: [life.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    mode: http
    use_service: lua.life
`
}

// A script that never returns holds its loop; SIGTERM must still end the
// process cleanly once shutdown_timeout has passed, without freeing the
// Lua state under the running script.
func TestStopWhileScriptRuns(t *testing.T) {
	s := startServer(t, lifecycleConfig("1s"), map[string]string{"life.lua": lifecycleScript})
	s.wantExit = 3
	rc := dialRaw(t, s.addr())
	rc.send("GET /spin HTTP/1.1\r\nHost: e2e\r\n\r\n")
	s.waitLog(t, 5*time.Second, "spin: started")
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// shutdown_timeout (1 s), the loops' stop grace (2 s), and a margin.
	select {
	case <-s.done:
	case <-time.After(6 * time.Second):
		t.Fatalf("luaedge has not exited %v after SIGTERM; its output:\n%s", time.Since(start), s.logs())
	}
	logs := s.logs()
	for _, bad := range []string{"SIGSEGV", "panic", "fatal error", "goroutine "} {
		if strings.Contains(logs, bad) {
			t.Fatalf("luaedge crashed at shutdown (%q in its output):\n%s", bad, logs)
		}
	}
	if code := s.exitCode(); code != 3 {
		t.Errorf("exit status %d, want 3 (stopped with a Lua script still running); output:\n%s", code, logs)
	}
	if !strings.Contains(logs, "Lua script still running") {
		t.Errorf("no log line says a Lua script was still running; output:\n%s", logs)
	}
}
