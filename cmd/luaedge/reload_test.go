package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/luaedge/luaedge/admin"
)

// versionLua answers every request with "version=N".
func versionLua(n int) string {
	return `
core.register_service("v", "http", function(applet)
	local body = "version=` + strconv.Itoa(n) + `\n"
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`
}

const reloadConfig = `workers: 2
shutdown_timeout: 5s
runtime_socket: le.sock
lua:
  load: [v.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.v
`

// getBody does a GET on a new connection and returns the body.
func getBody(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n", path); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

// mustGet is getBody that fails the test on an error.
func mustGet(t *testing.T, addr, path string) string {
	t.Helper()
	b, err := getBody(addr, path)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, addr, err)
	}
	return b
}

// sock returns the path of the server's runtime socket.
func (s *server) sock() string { return filepath.Join(s.dir, "le.sock") }

// reload asks for a reload on the runtime socket and returns the answer.
func (s *server) reload(t *testing.T) string {
	t.Helper()
	answer, err := admin.Send(s.sock(), "reload", 2*time.Minute)
	if err != nil {
		t.Fatalf("reload on the runtime socket: %v; log:\n%s", err, s.logs())
	}
	return answer
}

// mustReload reloads and fails the test unless the reload succeeded.
func (s *server) mustReload(t *testing.T) {
	t.Helper()
	if answer := s.reload(t); !strings.HasPrefix(answer, "Success=1\n") {
		t.Fatalf("reload: %q; log:\n%s", answer, s.logs())
	}
}

// waitCount waits until the log holds sub n times or more.
func (s *server) waitCount(t *testing.T, sub string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(s.logs(), sub) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log has %q %d times after 30 s, want %d; log:\n%s", sub, strings.Count(s.logs(), sub), n, s.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reloadLoad is a load of keep-alive clients that counts, by version, the
// answers they get, and every request that fails.
type reloadLoad struct {
	addr       string
	requests   atomic.Int64
	reconnects atomic.Int64
	failed     atomic.Int64
	versions   [16]atomic.Int64

	mu   sync.Mutex
	errs []string // the first failures
}

func (l *reloadLoad) fail(what string, err error) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, fmt.Sprintf("%s: %v", what, err))
	}
}

// client sends requests on one connection after the other until end: a
// connection is replaced when a response says connection: close (or when
// a request on it failed, counted).
func (l *reloadLoad) client(end time.Time) {
	var c net.Conn
	var br *bufio.Reader
	var onConn int           // requests answered on c
	var lastAnswer time.Time // when c's last response was read
	drop := func() {
		if c != nil {
			c.Close()
			c = nil
		}
	}
	defer drop()
	const req = "GET / HTTP/1.1\r\nHost: e2e\r\n\r\n"
	for time.Now().Before(end) {
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", l.addr, 5*time.Second); err != nil {
				l.fail("dial", err)
				c = nil
				continue
			}
			l.reconnects.Add(1)
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			br = bufio.NewReader(c)
			onConn, lastAnswer = 0, time.Now()
		}
		sent := time.Now()
		if _, err := io.WriteString(c, req); err != nil {
			l.fail("write", err)
			drop()
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			l.fail(fmt.Sprintf("response to request %d of its connection, sent at %s, %v after the previous answer", onConn+1, sent.Format("15:04:05.000"), sent.Sub(lastAnswer)), err)
			drop()
			continue
		}
		onConn++
		lastAnswer = time.Now()
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			l.fail("body", fmt.Errorf("status %d, %q, %v", resp.StatusCode, b, err))
			drop()
			continue
		}
		l.requests.Add(1)
		v, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(b), "version=")))
		if err == nil && v >= 0 && v < len(l.versions) {
			l.versions[v].Add(1)
		}
		if resp.Close {
			drop()
		}
	}
}

// Ten reloads under a load of keep-alive clients at saturation: no request
// fails, no connection is refused or reset, and after each reload the
// answers come from the new script.
func TestReloadUnderLoad(t *testing.T) {
	// Half a million access-log lines would only fill the test's buffer
	// of the server's output.
	s := startServer(t, "access_log: off\n"+reloadConfig, map[string]string{"v.lua": versionLua(0)})
	const clients, reloads = 64, 10
	const duration = 20 * time.Second
	l := &reloadLoad{addr: s.addr()}
	begin := time.Now()
	end := begin.Add(duration)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(end)
		}()
	}
	defer wg.Wait()
	for v := 1; v <= reloads; v++ {
		// The reloads are spread over the load's first 18 s.
		time.Sleep(time.Until(begin.Add(time.Duration(v) * 1800 * time.Millisecond)))
		writeFile(t, filepath.Join(s.dir, "v.lua"), versionLua(v))
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for l.versions[v].Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no answer from version %d 10 s after its SIGHUP; log:\n%s", v, s.logs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wg.Wait()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed of %d; the first: %s", n, l.requests.Load()+n, strings.Join(l.errs, "; "))
	}
	s.waitCount(t, "msg=reloaded", reloads)
	if strings.Contains(s.logs(), "reload failed") {
		t.Errorf("a reload failed; log:\n%s", s.logs())
	}
	var per []string
	for v := 0; v <= reloads; v++ {
		per = append(per, strconv.FormatInt(l.versions[v].Load(), 10))
	}
	t.Logf("%d requests in %v on %d connections; answers by version: %s", l.requests.Load(), duration, l.reconnects.Load(), strings.Join(per, " "))
}

// procStatus returns a field of /proc/PID/status in kB.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// openFiles counts the process's file descriptors.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkTarget is a TCP server that counts the connections it accepts.
func checkTarget(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// A hundred reloads leave nothing of the old generations behind: the
// process's memory after them is within 10 % of what it was after the
// first, its descriptors are as many, and one health checker runs.
func TestReloadReleasesGenerations(t *testing.T) {
	target, checks := checkTarget(t)
	cfg := reloadConfig + `backends:
  - name: app
    servers: [{name: s1, address: "` + target + `"}]
    check: {type: tcp, interval: 100ms}
`
	s := startServer(t, cfg, map[string]string{"v.lua": versionLua(0)})
	pid := s.cmd.Process.Pid
	// measure returns the memory, the descriptors and the health checks
	// per second once the previous generations have drained.
	measure := func(reloads int) (rss int64, fds int, checkRate int64) {
		s.waitCount(t, "msg=reloaded", reloads)
		for i := 0; i < 50; i++ {
			mustGet(t, s.addr(), "/")
		}
		before := checks.Load()
		time.Sleep(time.Second) // the window the checks are counted in
		return procStatus(t, pid, "VmRSS"), openFiles(t, pid), checks.Load() - before
	}
	s.mustReload(t)
	rss1, fds1, checks1 := measure(1)
	for i := 2; i <= 100; i++ {
		writeFile(t, filepath.Join(s.dir, "v.lua"), versionLua(i%10))
		s.mustReload(t)
	}
	rss100, fds100, checks100 := measure(100)
	if got := mustGet(t, s.addr(), "/"); got != "version=0\n" {
		t.Errorf("after the last reload: %q", got)
	}
	t.Logf("after 1 reload: RSS %d kB, %d descriptors, %d checks/s; after 100: RSS %d kB, %d descriptors, %d checks/s", rss1, fds1, checks1, rss100, fds100, checks100)
	if rss100 > rss1+rss1/10 {
		t.Errorf("RSS after 100 reloads is %d kB, more than 10 %% over the %d kB after the first", rss100, rss1)
	}
	if fds100 > fds1 {
		t.Errorf("%d descriptors open after 100 reloads, %d after the first", fds100, fds1)
	}
	if checks1 == 0 || checks100 > 2*checks1+2 {
		t.Errorf("health checks per second: %d after the first reload, %d after 100: old generations still check", checks1, checks100)
	}
}

// A reload that fails, for a script, the configuration or an init
// function, leaves the old generation serving and says why, in the log
// and on the runtime socket; luaedge admin and socat speak to the socket.
func TestReloadErrorKeepsOldGeneration(t *testing.T) {
	s := startServer(t, reloadConfig, map[string]string{"v.lua": versionLua(1)})
	goodConfig, err := os.ReadFile(filepath.Join(s.dir, "luaedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// By SIGHUP: the error is in the log.
	writeFile(t, filepath.Join(s.dir, "v.lua"), "core.register_service(\"v\", \"http\", function(applet)\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, 10*time.Second, "reload failed", "v.lua")
	if got := mustGet(t, s.addr(), "/"); got != "version=1\n" {
		t.Fatalf("after a failed reload: %q", got)
	}

	for _, tc := range []struct{ name, config, script, want string }{
		{"script", string(goodConfig), "core.register_service(\"v\", \"http\", function(applet)\n", "v.lua"},
		{"configuration", "nonsense: 1\n" + string(goodConfig), versionLua(2), "nonsense"},
		{"init function", string(goodConfig), versionLua(2) + `core.register_init(function() error("init broke") end)`, "init broke"},
	} {
		writeFile(t, filepath.Join(s.dir, "luaedge.yaml"), tc.config)
		writeFile(t, filepath.Join(s.dir, "v.lua"), tc.script)
		answer := s.reload(t)
		if !strings.HasPrefix(answer, "Success=0\n") || !strings.Contains(answer, tc.want) {
			t.Errorf("broken %s: the runtime socket answers %q, want Success=0 and %q", tc.name, answer, tc.want)
		}
		if got := mustGet(t, s.addr(), "/"); got != "version=1\n" {
			t.Fatalf("after a broken %s: %q; log:\n%s", tc.name, got, s.logs())
		}
	}
	if n := strings.Count(s.logs(), "reload failed"); n != 4 {
		t.Errorf("%d reload failures logged, want 4; log:\n%s", n, s.logs())
	}

	// luaedge admin: exit status 1 for a failed reload, 0 for one that
	// succeeds.
	out, err := exec.Command(luaedgeBin, "admin", "-s", s.sock(), "reload").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "init broke") {
		t.Errorf("luaedge admin reload of a broken init: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(s.dir, "v.lua"), versionLua(2))
	out, err = exec.Command(luaedgeBin, "admin", "-s", s.sock(), "reload").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Success=1\n") {
		t.Fatalf("luaedge admin reload: %v\n%s", err, out)
	}
	if got := mustGet(t, s.addr(), "/"); got != "version=2\n" {
		t.Errorf("after a good reload: %q", got)
	}
	if socat, err := exec.LookPath("socat"); err != nil {
		t.Log("socat is not installed: not tried")
	} else {
		cmd := exec.Command(socat, "stdio", "unix-connect:"+s.sock())
		cmd.Stdin = strings.NewReader("help\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "reload") {
			t.Errorf("help through socat: %v\n%s", err, out)
		}
	}
}

// Stick table entries, proc.* variables and a map changed at run time
// survive a reload that leaves their definitions as they were; a stick
// table whose definition changes, and a map whose file changes, start
// afresh.
func TestReloadCarriesState(t *testing.T) {
	script := func(v int) string {
		return `
local m = Map.new("m.map", Map._str)
core.register_service("v", "http", function(applet)
	if applet.path == "/set" then
		core.set_var("proc.n", "kept")
		core.set_map("m.map", "k", "set at run time")
	end
	local e = core.frontends.main.stktable:lookup(applet.f:src())
	local body = string.format("version=%d proc=%s map=%s reqs=%s", ` + strconv.Itoa(v) + `,
		tostring(core.get_var("proc.n")), tostring(m:lookup("k")), tostring(e and e.http_req_cnt))
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`
	}
	config := func(size string) string {
		return `workers: 2
runtime_socket: le.sock
lua:
  load: [v.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.v
    stick_table: {type: ip, size: ` + size + `, expire: 10m, store: [http_req_cnt]}
    track: {key: src}
`
	}
	s := startServer(t, config("1k"), map[string]string{"v.lua": script(1), "m.map": "k from the file\n"})
	reqs := func(body string) int {
		t.Helper()
		_, after, ok := strings.Cut(body, "reqs=")
		n, err := strconv.Atoi(after)
		if !ok || err != nil {
			t.Fatalf("no request count in %q", body)
		}
		return n
	}
	mustGet(t, s.addr(), "/set")
	mustGet(t, s.addr(), "/")
	before := mustGet(t, s.addr(), "/")

	writeFile(t, filepath.Join(s.dir, "v.lua"), script(2))
	s.mustReload(t)
	after := mustGet(t, s.addr(), "/")
	if want := fmt.Sprintf("version=2 proc=kept map=set at run time reqs=%d", reqs(before)+1); after != want {
		t.Errorf("after a reload with the same definitions: %q, want %q (before it: %q)", after, want, before)
	}

	// The table's size and the map file change: both start afresh; the
	// proc.* variable, which has no definition, stays.
	writeFile(t, filepath.Join(s.dir, "luaedge.yaml"), strings.ReplaceAll(config("2k"), "@PORT@", strconv.Itoa(s.ports[""])))
	writeFile(t, filepath.Join(s.dir, "m.map"), "k from the new file\n")
	writeFile(t, filepath.Join(s.dir, "v.lua"), script(3))
	s.mustReload(t)
	changed := mustGet(t, s.addr(), "/")
	if !strings.HasPrefix(changed, "version=3 proc=kept map=from the new file reqs=") || reqs(changed) >= reqs(after) {
		t.Errorf("after a reload with a new table size and map file: %q (before it: %q)", changed, after)
	}
}

// Binds added by a reload listen, binds it removes stop listening.
func TestReloadBinds(t *testing.T) {
	s := startServer(t, reloadConfig, map[string]string{"v.lua": versionLua(1)})
	a := s.addr()
	b := "127.0.0.1:" + strconv.Itoa(freePort(t))
	setBinds := func(binds ...string) {
		t.Helper()
		cfg := strings.Replace(reloadConfig, `["127.0.0.1:@PORT@"]`, `["`+strings.Join(binds, `", "`)+`"]`, 1)
		writeFile(t, filepath.Join(s.dir, "luaedge.yaml"), cfg)
		s.mustReload(t)
	}
	setBinds(a, b)
	for _, addr := range []string{a, b} {
		if got := mustGet(t, addr, "/"); got != "version=1\n" {
			t.Errorf("%s after its bind was added: %q", addr, got)
		}
	}
	setBinds(b)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := getBody(a, "/")
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still answers 10 s after its bind was removed (%v)", a, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := mustGet(t, b, "/"); got != "version=1\n" {
		t.Errorf("%s after the other bind was removed: %q", b, got)
	}
}

// slowLua is versionLua(n) whose body takes half a second of CPU, in the
// check and in every loop: a reload of it takes a second and a half or more.
func slowLua(n int) string {
	return "local t0 = os.clock() while os.clock() - t0 < 0.5 do end\n" + versionLua(n)
}

// SIGHUPs that arrive during a reload make one more reload after it, not
// one each; SIGTERM during a reload stops the process cleanly.
func TestReloadSignals(t *testing.T) {
	s := startServer(t, reloadConfig, map[string]string{"v.lua": versionLua(1)})
	writeFile(t, filepath.Join(s.dir, "v.lua"), slowLua(2))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Once the reload runs, four more. (The kernel merges a signal sent
	// while the same one is pending: at least one of them arrives.)
	s.waitLog(t, 10*time.Second, "SIGHUP: reloading")
	for i := 0; i < 4; i++ {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	s.waitCount(t, "msg=reloaded", 2)
	if got := mustGet(t, s.addr(), "/"); got != "version=2\n" {
		t.Errorf("after the reloads: %q", got)
	}
	if n := strings.Count(s.logs(), "msg=\"new generation serving\""); n != 2 {
		t.Errorf("%d reloads for a SIGHUP and 4 sent during its reload, want 2; log:\n%s", n, s.logs())
	}

	writeFile(t, filepath.Join(s.dir, "v.lua"), slowLua(3))
	hups := strings.Count(s.logs(), "SIGHUP: reloading")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitCount(t, "SIGHUP: reloading", hups+1)
	if !s.stop(20 * time.Second) {
		t.Fatalf("luaedge has not exited 20 s after a SIGTERM sent during a reload; log:\n%s", s.logs())
	}
	if code := s.exitCode(); code != 0 {
		t.Errorf("exit status %d after a SIGTERM during a reload; log:\n%s", code, s.logs())
	}
	if logs := s.logs(); !strings.Contains(logs, "msg=stopped") || strings.Contains(logs, "panic") {
		t.Errorf("the stop during a reload is not clean; log:\n%s", logs)
	}
}

// A response whose head left before a reload began promised keep-alive:
// the old generation must answer the client's next request on that
// connection (with connection: close), not close the connection under it.
func TestReloadDuringResponseKeepsItsPromise(t *testing.T) {
	const lua = `
core.register_service("v", "http", function(applet)
	applet:set_status(200)
	applet:add_header("content-length", "4")
	applet:start_response()
	applet:send("ab")
	if applet.path == "/slow" then
		-- The test creates the file once the old generation drains.
		while not io.open("go") do core.msleep(10) end
	end
	applet:send("cd")
end)
`
	s := startServer(t, reloadConfig, map[string]string{"v.lua": lua})
	// Spare keep-alive connections of the generation about to retire,
	// to probe when it has begun draining.
	var spares []*rawConn
	for i := 0; i < 20; i++ {
		rc := dialRaw(t, s.addr())
		rc.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
		if resp, body := rc.readResponse("GET"); body != "abcd" || resp.Close {
			t.Fatalf("GET /: %d %q close=%v", resp.StatusCode, body, resp.Close)
		}
		spares = append(spares, rc)
	}
	slow := dialRaw(t, s.addr())
	slow.send("GET /slow HTTP/1.1\r\nHost: e2e\r\n\r\n")
	resp, err := http.ReadResponse(slow.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Close {
		t.Fatal("the slow response announced close before any reload")
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for draining := false; !draining; {
		if len(spares) == 0 {
			t.Fatal("the old generation never began draining")
		}
		rc := spares[0]
		rc.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
		r, _ := rc.readResponse("GET")
		if draining = r.Close; draining {
			spares = spares[1:]
		} else {
			time.Sleep(20 * time.Millisecond) // polling the drain, no ordering assumed
		}
	}
	writeFile(t, filepath.Join(s.dir, "go"), "")
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "abcd" {
		t.Fatalf("slow body %q, %v", b, err)
	}
	slow.send("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n")
	r, body := slow.readResponse("GET") // failed with EOF when the end of the response closed the connection
	if r.StatusCode != 200 || body != "abcd" || !r.Close {
		t.Errorf("next request after the reload: %d %q close=%v", r.StatusCode, body, r.Close)
	}
}
