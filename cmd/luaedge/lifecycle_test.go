package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
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

// lifecycleConfig turns the CPU limits off: /spin must hold its loop.
func lifecycleConfig(shutdownTimeout string) string {
	return `workers: 2
shutdown_timeout: ` + shutdownTimeout + `
lua:
  load: [life.lua]
  forced_yield: 0
  burst_timeout: 0
  session_timeout: 0
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    mode: http
    use_service: lua.life
`
}

// A script that never returns holds its loop (with the CPU limits off: the
// watchdog would stop it); SIGTERM must still end the
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
	// The wait for the busy loop to take what it accepted (1 s),
	// shutdown_timeout (1 s), the loops' stop grace (2 s), and a margin.
	select {
	case <-s.done:
	case <-time.After(8 * time.Second):
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

// loadClient is one keep-alive client of TestGracefulStopUnderLoad.
type loadClient struct {
	answered   int   // responses read in full
	afterStop  int   // of which sent after SIGTERM with connection: close
	refused    bool  // a new connection was refused: the listeners closed
	lost       error // a request sent on an open connection got no response
	lostDetail string
}

// run sends requests until a new connection is refused, the client has
// sent max requests, or end passes. A request that was written on a
// connection the server accepted and got no complete response is lost.
func (lc *loadClient) run(addr string, max int, end time.Time, stopped *atomic.Bool, answered *atomic.Int64) {
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	const req = "GET /ok HTTP/1.1\r\nHost: e2e\r\n\r\n"
	for i := 0; i < max && time.Now().Before(end); i++ {
		if c == nil {
			var err error
			c, err = net.DialTimeout("tcp", addr, 5*time.Second)
			// A reset during the handshake is a refusal too: the
			// listener closed with the connection half open, never
			// accepted (one fully open would have dialled).
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
				lc.refused = true
				return
			}
			if err != nil {
				lc.lost, lc.lostDetail = err, "dial"
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			br = bufio.NewReader(c)
		}
		after := stopped.Load()
		if _, err := io.WriteString(c, req); err != nil {
			lc.lost, lc.lostDetail = err, fmt.Sprintf("write of request %d (sent after SIGTERM: %v)", i, after)
			return
		}
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			lc.lost, lc.lostDetail = err, fmt.Sprintf("response to request %d (sent after SIGTERM: %v)", i, after)
			return
		}
		lc.answered++
		answered.Add(1)
		if resp.Close {
			if stopped.Load() {
				lc.afterStop++
			}
			c.Close()
			c = nil
		}
	}
}

// A graceful stop under load answers every request sent on a connection
// the server accepted: in-flight and idle keep-alive connections end with
// connection: close, and new connections are refused once the listeners
// are closed rather than accepted and dropped.
func TestGracefulStopUnderLoad(t *testing.T) {
	s := startServer(t, lifecycleConfig("5s"), map[string]string{"life.lua": lifecycleScript})
	const clients = 64
	var (
		stopped  atomic.Bool
		answered atomic.Int64
		wg       sync.WaitGroup
		lcs      = make([]loadClient, clients)
	)
	end := time.Now().Add(15 * time.Second)
	for i := range lcs {
		wg.Add(1)
		go func(lc *loadClient) {
			defer wg.Done()
			lc.run(s.addr(), 1_000_000, end, &stopped, &answered)
		}(&lcs[i])
	}
	// SIGTERM once every client is well into its keep-alive loop.
	deadline := time.Now().Add(10 * time.Second)
	for answered.Load() < clients*50 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests answered in 10 s; output:\n%s", answered.Load(), s.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped.Store(true)
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("luaedge has not exited %v after SIGTERM; output:\n%s", time.Since(start), s.logs())
	}
	if code := s.exitCode(); code != 0 {
		t.Errorf("exit status %d; output:\n%s", code, s.logs())
	}
	lost, refused, closed := 0, 0, 0
	for i, lc := range lcs {
		if lc.lost != nil {
			lost++
			t.Errorf("client %d: %s: %v", i, lc.lostDetail, lc.lost)
		}
		if lc.refused {
			refused++
		}
		closed += lc.afterStop
	}
	if lost > 0 {
		t.Errorf("%d of %d clients had a request go unanswered on an accepted connection", lost, clients)
	}
	if refused != clients-lost {
		t.Errorf("%d clients saw their new connection refused after the stop, want all %d", refused, clients-lost)
	}
	if closed == 0 {
		t.Error("no response after SIGTERM said connection: close")
	}
	t.Logf("%d requests answered; %d responses with connection: close after SIGTERM", answered.Load(), closed)
}
