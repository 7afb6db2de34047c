// End-to-end tests: they build the luaedge binary, start it on generated
// configurations and talk to it with real clients (net/http, raw TCP
// connections, curl).
//
// The binary is built once by TestMain; set LUAEDGE_BIN to test a binary
// built elsewhere (a relative path is taken from the module root if it is
// not found from this folder). With -short the tests are skipped.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The luaedge binary under test, and why the tests are skipped if they are.
var (
	luaedgeBin string
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	switch {
	case testing.Short():
		skipReason = "end-to-end test: starts the luaedge binary (skipped with -short)"
		fmt.Fprintln(os.Stderr, "luaedge e2e: -short given, skipping the end-to-end tests")
	case os.Getenv("LUAEDGE_BIN") != "":
		bin, err := resolveBin(os.Getenv("LUAEDGE_BIN"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "luaedge e2e: LUAEDGE_BIN:", err)
			return 1
		}
		luaedgeBin = bin
	default:
		dir, err := os.MkdirTemp("", "luaedge-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "luaedge e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		luaedgeBin = filepath.Join(dir, "luaedge")
		gobin, err := exec.LookPath("go")
		if err != nil {
			fmt.Fprintln(os.Stderr, "luaedge e2e: cannot build the binary:", err)
			return 1
		}
		cmd := exec.Command(gobin, "build", "-o", luaedgeBin, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "luaedge e2e: go build: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// resolveBin finds $LUAEDGE_BIN: as given, or relative to the module root
// (so that a Makefile at the root can pass bin/luaedge).
func resolveBin(p string) (string, error) {
	candidates := []string{p}
	if !filepath.IsAbs(p) {
		if root, err := moduleRoot(); err == nil {
			candidates = append(candidates, filepath.Join(root, p))
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("%s: no such file", p)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

func needBinary(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// ---------------------------------------------------------------------------
// Running the server

// syncBuffer collects the server's output; the test reads it while the
// server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running luaedge process.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	dir   string
	ports map[string]int // "" for @PORT@, "2" for @PORT2@, ...
	out   *syncBuffer
	done  chan struct{} // closed when the process has exited
	err   error         // what Wait returned; read after done
	// wantExit is the exit status the test expects when it ends (0 unless
	// the test stops the server in a way that exits otherwise).
	wantExit int
}

// addr returns the address of @PORT@.
func (s *server) addr() string { return s.addrOf("") }

// addrOf returns the address of @PORT<name>@.
func (s *server) addrOf(name string) string {
	p, ok := s.ports[name]
	if !ok {
		s.t.Fatalf("the configuration has no @PORT%s@", name)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

func (s *server) url(path string) string { return "http://" + s.addr() + path }

// logs returns what the server wrote to stdout and stderr so far.
func (s *server) logs() string { return s.out.String() }

// waitLog waits until the server's output contains all of subs.
func (s *server) waitLog(t *testing.T, timeout time.Duration, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		logs := s.logs()
		missing := ""
		for _, sub := range subs {
			if !strings.Contains(logs, sub) {
				missing = sub
				break
			}
		}
		if missing == "" {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("server log has no %q after %v; log:\n%s", missing, timeout, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit status of an exited process (-1 if killed).
func (s *server) exitCode() int {
	<-s.done
	return s.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and waits up to timeout for the process to exit; it
// reports whether it did.
func (s *server) stop(timeout time.Duration) bool {
	if s.exited() {
		return true
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

var portRE = regexp.MustCompile(`@PORT(\d*)@`)

// startServer writes yaml (with @PORT@, @PORT2@... replaced by free ports)
// and files into a temporary folder and runs luaedge -c on it. The server
// is stopped with SIGTERM when the test ends.
func startServer(t *testing.T, yaml string, files map[string]string) *server {
	t.Helper()
	needBinary(t)
	var lastLogs string
	for attempt := 0; attempt < 3; attempt++ {
		dir := t.TempDir()
		ports := map[string]int{}
		cfg := portRE.ReplaceAllStringFunc(yaml, func(m string) string {
			name := portRE.FindStringSubmatch(m)[1]
			if _, ok := ports[name]; !ok {
				// A port just freed may come back for the next name.
				p := freePort(t)
				for slices.Contains(slices.Collect(maps.Values(ports)), p) {
					p = freePort(t)
				}
				ports[name] = p
			}
			return strconv.Itoa(ports[name])
		})
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), cfg)
		for name, content := range files {
			writeFile(t, filepath.Join(dir, name), content)
		}
		var addrs []string
		for _, p := range ports {
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
		}
		s, ok := launch(t, dir, []string{"-c", "luaedge.yaml"}, addrs)
		if ok {
			s.ports = ports
			return s
		}
		// Another process may have taken a port between freePort and bind.
		if lastLogs = s.logs(); !strings.Contains(lastLogs, "address already in use") {
			t.Fatalf("luaedge did not start; its output:\n%s", lastLogs)
		}
	}
	t.Fatalf("luaedge did not start; its output:\n%s", lastLogs)
	return nil
}

// launch runs the binary in dir with args and waits until it is ready (at
// most 5 s). ok is false if it exited first.
//
// The server logs "listening" once every loop has started. Only when its
// log level hides that line does launch connect to every address in addrs
// instead: the server counts such a connection as a client, on a loop and
// at a time the test does not control.
func launch(t *testing.T, dir string, args []string, addrs []string) (s *server, ok bool) {
	t.Helper()
	s = &server{t: t, dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(luaedgeBin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting luaedge: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	quietUntil := time.Now().Add(2 * time.Second) // no "listening" line by then: dial
	for {
		logs := s.logs()
		if strings.Contains(logs, "msg=listening") || strings.Contains(logs, `"msg":"listening"`) {
			addrs = nil
			break
		}
		if s.exited() {
			return s, false
		}
		if time.Now().After(quietUntil) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if s.exited() {
				return s, false
			}
			if time.Now().After(deadline) {
				_ = s.cmd.Process.Kill()
				<-s.done
				t.Fatalf("luaedge does not accept on %s after 5 s; its output:\n%s", a, s.logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		if !s.stop(10 * time.Second) {
			_ = s.cmd.Process.Kill()
			<-s.done
			t.Errorf("luaedge did not exit within 10 s of SIGTERM; its output:\n%s", s.logs())
			return
		}
		if code := s.cmd.ProcessState.ExitCode(); code != s.wantExit {
			t.Errorf("luaedge exited with status %d (%v); its output:\n%s", code, s.err, s.logs())
		} else if t.Failed() {
			t.Logf("server output:\n%s", s.logs())
		}
	})
	return s, true
}

// startHAProxy runs `haproxy -db -f haproxy.cfg` (bin) in dir until the
// test ends and waits until it accepts on every address of addrs; out is
// what it writes (its logs to stdout among them), shown with the
// configuration when the test fails.
func startHAProxy(t *testing.T, bin, dir string, addrs []string) (out *syncBuffer) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	out = &syncBuffer{}
	cmd := exec.Command(bin, "-db", "-f", "haproxy.cfg")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy configuration:\n%s\nhaproxy output:\n%s", cfg, out.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				t.Fatalf("haproxy exited; configuration:\n%s\noutput:\n%s", cfg, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not accept on %s; output:\n%s", a, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	givenPorts.Lock()
	defer givenPorts.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may hand a port out again once it is closed: two
		// placeholders of one configuration would then share it, and
		// HAProxy (SO_REUSEPORT) would bind both.
		if !givenPorts.m[port] {
			givenPorts.m[port] = true
			return port
		}
	}
}

// givenPorts are the ports freePort returned in this test process.
var givenPorts = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// routesConfig is a configuration with one frontend (@PORT@) answered by
// testdata/routes.lua; frontendExtra is YAML added to the frontend (keys
// indented by 4 spaces).
func routesConfig(workers int, frontendExtra string) string {
	return fmt.Sprintf(`workers: %d
shutdown_timeout: 5s
lua:
  load: [routes.lua]
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    mode: http
    use_service: lua.routes
%s`, workers, frontendExtra)
}

// startRoutes starts a server on testdata/routes.lua.
func startRoutes(t *testing.T, workers int, frontendExtra string) *server {
	t.Helper()
	needBinary(t)
	return startServer(t, routesConfig(workers, frontendExtra), map[string]string{"routes.lua": readTestdata(t, "routes.lua")})
}

// ---------------------------------------------------------------------------
// Clients

// rawConn is a client connection used at the wire level.
type rawConn struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("writing %q: %v", abbrev(s), err)
	}
}

// readResponse reads one response to a request of the given method.
func (c *rawConn) readResponse(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a response body: %v", err)
	}
	return resp, string(b)
}

// readHead reads a response head up to and including the empty line.
func (c *rawConn) readHead() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			c.t.Fatalf("reading a response head: %v (got %q)", err, sb.String())
		}
		if line == "\r\n" {
			return sb.String()
		}
	}
}

// readUntil reads until the bytes read end with suffix.
func (c *rawConn) readUntil(suffix string) string {
	c.t.Helper()
	var b []byte
	for !bytes.HasSuffix(b, []byte(suffix)) {
		ch, err := c.br.ReadByte()
		if err != nil {
			c.t.Fatalf("reading until %q: %v (got %q)", suffix, err, b)
		}
		b = append(b, ch)
	}
	return string(b)
}

// readAll reads until the server closes the connection.
func (c *rawConn) readAll() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("reading until close: %v (got %q)", err, b)
	}
	return string(b)
}

// expectClosed asserts that the server closes the connection within d
// without sending anything more.
func (c *rawConn) expectClosed(d time.Duration) {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.br)
	var ne net.Error
	switch {
	case len(b) > 0:
		c.t.Errorf("expected the connection to close, got more bytes: %q", abbrev(string(b)))
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Errorf("the connection is still open %v later", d)
	case err != nil && !isReset(err):
		c.t.Errorf("expected the connection to close: %v", err)
	}
}

// expectQuiet asserts that nothing arrives within d and the connection is
// still open.
func (c *rawConn) expectQuiet(d time.Duration) {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := c.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Errorf("expected nothing for %v, got %q, %v", d, b, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

func abbrev(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// headerOf returns the value of header name in a raw response head.
func headerOf(head, name string) (string, bool) {
	for _, line := range strings.Split(head, "\r\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func needCurl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	return p
}

// curl runs curl with args (no proxy, 10 s at most) and returns stdout,
// stderr and the time it took.
func curl(t *testing.T, args ...string) (string, string, time.Duration) {
	t.Helper()
	bin := needCurl(t)
	args = append([]string{"--noproxy", "*", "--max-time", "10", "-sS"}, args...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String(), took
}

// ---------------------------------------------------------------------------
// 1. HAProxy's hello-world service

const helloConfig = `workers: 2
lua:
  load: [hello.lua]
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    mode: http
    use_service: lua.hello-world
`

func TestHelloWorld(t *testing.T) {
	needBinary(t)
	s := startServer(t, helloConfig, map[string]string{"hello.lua": readTestdata(t, "hello.lua")})

	t.Run("net/http", func(t *testing.T) {
		c, _ := newClient(t)
		resp, body := get(t, c, s.url("/"))
		wantResponse(t, "GET /", resp, body, 200, "Hello World !")
		if resp.ContentLength != 13 || resp.Header.Get("Content-Length") != "13" {
			t.Errorf("content-length: %d %q, want 13", resp.ContentLength, resp.Header.Get("Content-Length"))
		}
		if len(resp.TransferEncoding) != 0 {
			t.Errorf("transfer-encoding %v on a response with a content-length", resp.TransferEncoding)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("content-type %q", ct)
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
		} else if d := time.Since(date); d < -2*time.Second || d > time.Minute {
			t.Errorf("Date %q is %v away from now", resp.Header.Get("Date"), d)
		}
		if resp.Header.Get("Server") == "" {
			t.Error("no Server header")
		}
	})

	t.Run("curl", func(t *testing.T) {
		out, _, _ := curl(t, "-i", s.url("/any/path?x=1"))
		head, body, ok := strings.Cut(out, "\r\n\r\n")
		if !ok {
			t.Fatalf("curl output has no head: %q", out)
		}
		if !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Errorf("status line: %q", strings.SplitN(head, "\r\n", 2)[0])
		}
		if v, _ := headerOf(head, "content-length"); v != "13" {
			t.Errorf("content-length %q, want 13", v)
		}
		for _, h := range []string{"date", "server", "content-type"} {
			if v, ok := headerOf(head, h); !ok || v == "" {
				t.Errorf("no %s header in %q", h, head)
			}
		}
		if body != "Hello World !" {
			t.Errorf("body %q", body)
		}
	})
}

// ---------------------------------------------------------------------------
// 2. The embedded default configuration

func TestEmbeddedDefault(t *testing.T) {
	needBinary(t)
	const addr = "127.0.0.1:8080"
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("%s is busy, and the embedded configuration binds it: %v", addr, err)
	}
	l.Close()
	s, ok := launch(t, t.TempDir(), nil, []string{addr})
	if !ok {
		t.Fatalf("luaedge without -c exited: %v; its output:\n%s", s.err, s.logs())
	}
	s.ports = map[string]int{"": 8080}
	s.waitLog(t, 2*time.Second, "listening", "frontend=demo")
	c, _ := newClient(t)

	t.Run("help", func(t *testing.T) {
		resp, body := get(t, c, s.url("/"))
		if resp.StatusCode != 200 || !strings.Contains(body, "luaedge demo service") || !strings.Contains(body, "/echo") {
			t.Errorf("GET /: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("echo", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.url("/echo?x=1"), nil)
		req.Header.Set("X-E2E", "yes")
		_, body := send(t, c, req)
		for _, want := range []string{
			"method: GET\n", "path: /echo\n", "query: x=1\n", "version: HTTP/1.1\n",
			"header x-e2e: yes\n", "header host: " + addr + "\n",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/echo body lacks %q:\n%s", want, body)
			}
		}
		_, body = do(t, c, "POST", s.url("/echo"), "abc")
		if !strings.Contains(body, "method: POST\n") || !strings.Contains(body, "header content-length: 3\n") {
			t.Errorf("POST /echo:\n%s", body)
		}
	})

	t.Run("json", func(t *testing.T) {
		resp, body := get(t, c, s.url("/json"))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET /json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var v struct {
			Server, Path, JIT string
			Time              int64
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("GET /json: %v in %q", err, body)
		}
		if v.Server != "luaedge" || v.Path != "/json" || !strings.HasPrefix(v.JIT, "LuaJIT") {
			t.Errorf("GET /json: %+v", v)
		}
		if d := time.Now().Unix() - v.Time; d < -2 || d > 60 {
			t.Errorf("GET /json: time %d is %d s away from now", v.Time, d)
		}
	})

	t.Run("stream", func(t *testing.T) {
		start := time.Now()
		resp, err := c.Get(s.url("/stream"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
			t.Errorf("transfer-encoding %v, content-length %d: want chunked", resp.TransferEncoding, resp.ContentLength)
		}
		br := bufio.NewReader(resp.Body)
		var lines []string
		var firstAt time.Duration
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if len(lines) == 0 {
					firstAt = time.Since(start)
				}
				lines = append(lines, line)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"chunk 1\n", "chunk 2\n", "chunk 3\n", "chunk 4\n", "chunk 5\n"}
		if fmt.Sprint(lines) != fmt.Sprint(want) {
			t.Errorf("lines %q, want %q", lines, want)
		}
		if total := time.Since(start); firstAt > total/2 {
			t.Errorf("the first line came after %v of %v: the answer is not streamed", firstAt, total)
		}
	})

	t.Run("upload", func(t *testing.T) {
		_, body := do(t, c, "POST", s.url("/upload"), "some body")
		if body != "received 9 bytes\n" {
			t.Errorf("POST /upload: %q", body)
		}
	})

	t.Run("upload of 100000 bytes", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.url("/upload"),
			&slowReader{data: strings.Repeat("0123456789", 10000), piece: 50000, pause: 50 * time.Millisecond})
		req.ContentLength = 100000
		if _, body := send(t, c, req); body != "received 100000 bytes\n" {
			t.Errorf("POST /upload of 100000 bytes: %q", body)
		}
	})

	t.Run("not found", func(t *testing.T) {
		resp, body := get(t, c, s.url("/nope"))
		wantResponse(t, "GET /nope", resp, body, 404, "not found: /nope\n")
	})
}

// ---------------------------------------------------------------------------
// 3. Keep-alive and pipelining

func TestKeepAlive(t *testing.T) {
	s := startRoutes(t, 2, "")

	t.Run("net/http reuses the connection", func(t *testing.T) {
		c, _ := newClient(t)
		for i := 0; i < 5; i++ {
			var info httptrace.GotConnInfo
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { info = i }}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			req, _ := http.NewRequestWithContext(ctx, "GET", s.url(fmt.Sprintf("/path/%d", i)), nil)
			resp, body := send(t, c, req)
			wantResponse(t, "request "+strconv.Itoa(i), resp, body, 200, fmt.Sprintf("path=/path/%d", i))
			if i > 0 && !info.Reused {
				t.Errorf("request %d did not reuse the connection", i)
			}
		}
	})

	t.Run("sequential on a raw connection", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		for i := 0; i < 3; i++ {
			c.send(fmt.Sprintf("GET /path/seq%d HTTP/1.1\r\nHost: e2e\r\n\r\n", i))
			resp, body := c.readResponse("GET")
			wantResponse(t, "request "+strconv.Itoa(i), resp, body, 200, fmt.Sprintf("path=/path/seq%d", i))
			if resp.Close {
				t.Errorf("request %d: the server closes a keep-alive connection", i)
			}
		}
	})

	t.Run("Connection: close from the client", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("GET /path/x HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n" +
			"GET /path/y HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := c.readResponse("GET")
		wantResponse(t, "GET with Connection: close", resp, body, 200, "path=/path/x")
		if !resp.Close {
			t.Error("the response does not say connection: close")
		}
		c.expectClosed(2 * time.Second) // and the request after it is not answered
	})

	t.Run("pipelining", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("GET /path/first HTTP/1.1\r\nHost: e2e\r\n\r\n" +
			"GET /path/second HTTP/1.1\r\nHost: e2e\r\n\r\n" +
			"GET /path/third HTTP/1.1\r\nHost: e2e\r\n\r\n")
		for _, want := range []string{"first", "second", "third"} {
			resp, body := c.readResponse("GET")
			wantResponse(t, want, resp, body, 200, "path=/path/"+want)
		}
	})

	t.Run("pipelining 50 requests", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		var reqs strings.Builder
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&reqs, "GET /path/%d HTTP/1.1\r\nHost: e2e\r\n\r\n", i)
		}
		c.send(reqs.String())
		for i := 0; i < 50; i++ {
			resp, body := c.readResponse("GET")
			wantResponse(t, "request "+strconv.Itoa(i), resp, body, 200, fmt.Sprintf("path=/path/%d", i))
		}
	})

	t.Run("pipelining behind a slow request and a body", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("GET /sleep?ms=200 HTTP/1.1\r\nHost: e2e\r\n\r\n" +
			"POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /path/third HTTP/1.1\r\nHost: e2e\r\n\r\n")
		for _, want := range []string{"slept 200", "5:hello", "path=/path/third"} {
			resp, body := c.readResponse("GET")
			wantResponse(t, want, resp, body, 200, want)
		}
	})
}

// ---------------------------------------------------------------------------
// 4. Chunked bodies

// decodeChunked strictly decodes a chunked body that ends with the
// connection's data, returning the data and the number of data chunks.
func decodeChunked(t *testing.T, raw string) (string, int) {
	t.Helper()
	var data strings.Builder
	chunks := 0
	rest := raw
	for {
		line, after, ok := strings.Cut(rest, "\r\n")
		if !ok {
			t.Fatalf("chunked body without a size line: %q", raw)
		}
		n, err := strconv.ParseUint(line, 16, 32)
		if err != nil {
			t.Fatalf("chunk size %q: %v in %q", line, err, raw)
		}
		if n == 0 {
			if after != "\r\n" {
				t.Fatalf("bytes after the last chunk: %q", after)
			}
			return data.String(), chunks
		}
		if uint64(len(after)) < n+2 || after[n:n+2] != "\r\n" {
			t.Fatalf("chunk of %d bytes not followed by CRLF in %q", n, raw)
		}
		data.WriteString(after[:n])
		chunks++
		rest = after[n+2:]
	}
}

// slowReader returns data in pieces with a pause before each but the first.
type slowReader struct {
	data  string
	piece int
	pause time.Duration
	n     int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	if r.n++; r.n > 1 {
		time.Sleep(r.pause)
	}
	n := copy(p[:min(len(p), r.piece)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestChunked(t *testing.T) {
	s := startRoutes(t, 2, "")

	t.Run("request body with extensions and trailers", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=value\r\nhello\r\n" +
			"6;quoted=\"a b\";flag\r\n world\r\n" +
			"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
		resp, body := c.readResponse("POST")
		wantResponse(t, "chunked POST", resp, body, 200, "11:hello world")
		// The trailers were consumed: the connection goes on.
		c.send("GET /path/after HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body = c.readResponse("GET")
		wantResponse(t, "request after the chunked one", resp, body, 200, "path=/path/after")
	})

	t.Run("request pipelined behind a chunked body", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
			"GET /path/next HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := c.readResponse("POST")
		wantResponse(t, "chunked POST", resp, body, 200, "3:abc")
		resp, body = c.readResponse("GET")
		wantResponse(t, "the request behind it", resp, body, 200, "path=/path/next")
	})

	t.Run("request body arriving in pieces", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		pieces := []string{
			"POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n",
			"4\r", "\nabcd\r\n1", "0\r\n0123456789", "abcdef\r\n", "0\r\n", "\r\n",
		}
		for _, p := range pieces {
			c.send(p)
			time.Sleep(20 * time.Millisecond)
		}
		resp, body := c.readResponse("POST")
		wantResponse(t, "chunked POST in pieces", resp, body, 200, "20:abcd0123456789abcdef")
	})

	t.Run("empty chunked request body", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		resp, body := c.readResponse("POST")
		wantResponse(t, "empty chunked POST", resp, body, 200, "0:")
	})

	t.Run("net/http chunked request body", func(t *testing.T) {
		c, _ := newClient(t)
		payload := strings.Repeat("chunky ", 3000)
		req, _ := http.NewRequest("POST", s.url("/body"), &slowReader{data: payload, piece: 5000, pause: 20 * time.Millisecond})
		req.ContentLength = -1 // unknown: net/http sends it chunked
		resp, body := send(t, c, req)
		wantResponse(t, "chunked POST", resp, body, 200, fmt.Sprintf("%d:%s", len(payload), payload))
	})

	t.Run("response", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("GET /chunks HTTP/1.1\r\nHost: e2e\r\n\r\n")
		head := c.readHead()
		if !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Errorf("status line of %q", head)
		}
		if v, _ := headerOf(head, "transfer-encoding"); v != "chunked" {
			t.Errorf("transfer-encoding %q, want chunked, in %q", v, head)
		}
		if _, ok := headerOf(head, "content-length"); ok {
			t.Errorf("content-length in a chunked response: %q", head)
		}
		raw := c.readUntil("\r\n0\r\n\r\n")
		data, chunks := decodeChunked(t, raw)
		if data != "onetwothree" || chunks != 3 {
			t.Errorf("body %q in %d chunks (%q), want onetwothree in 3", data, chunks, raw)
		}
		c.send("GET /path/after HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := c.readResponse("GET")
		wantResponse(t, "request after the chunked answer", resp, body, 200, "path=/path/after")

		hc, _ := newClient(t)
		resp, body = get(t, hc, s.url("/chunks"))
		wantResponse(t, "net/http GET /chunks", resp, body, 200, "onetwothree")
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("net/http saw transfer-encoding %v", resp.TransferEncoding)
		}
	})
}

// ---------------------------------------------------------------------------
// 5. The AppletHTTP class

func TestAppletHTTP(t *testing.T) {
	s := startRoutes(t, 2, "")
	c, _ := newClient(t)

	t.Run("request fields", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /info?a=1&b=two HTTP/1.1\r\nHost: e2e.test\r\nX-Multi: one\r\nX-Case: Value Kept\r\n" +
			"x-multi: two\r\nX-MULTI: three\r\nContent-Length: 5\r\n\r\nhello")
		resp, body := rc.readResponse("POST")
		want := "method=POST\npath=/info\nqs=a=1&b=two\nversion=HTTP/1.1\nlength=5\n" +
			"header content-length[0]=5\nheader host[0]=e2e.test\nheader x-case[0]=Value Kept\n" +
			"header x-multi[0]=one\nheader x-multi[1]=two\nheader x-multi[2]=three\n"
		wantResponse(t, "POST /info", resp, body, 200, want)
		// The unread body was skipped: the connection goes on.
		rc.send("GET /info HTTP/1.1\r\nHost: e2e.test\r\n\r\n")
		resp, body = rc.readResponse("GET")
		want = "method=GET\npath=/info\nqs=\nversion=HTTP/1.1\nlength=0\nheader host[0]=e2e.test\n"
		wantResponse(t, "GET /info after a POST", resp, body, 200, want)
	})

	t.Run("header values", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /info HTTP/1.1\r\nHost: e2e\r\nX-Empty:\r\nX-Utf8: h\xc3\xa9llo\r\nX-Spaces:   a  b \t \r\n\r\n")
		resp, body := rc.readResponse("GET")
		want := "method=GET\npath=/info\nqs=\nversion=HTTP/1.1\nlength=0\nheader host[0]=e2e\n" +
			"header x-empty[0]=\nheader x-spaces[0]=a  b\nheader x-utf8[0]=h\xc3\xa9llo\n"
		wantResponse(t, "GET /info", resp, body, 200, want)
	})

	t.Run("absolute-form target", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET http://e2e.test/info?q=1 HTTP/1.1\r\nHost: e2e.test\r\n\r\n")
		resp, body := rc.readResponse("GET")
		want := "method=GET\npath=/info\nqs=q=1\nversion=HTTP/1.1\nlength=0\nheader host[0]=e2e.test\n"
		wantResponse(t, "GET absolute-form", resp, body, 200, want)
	})

	t.Run("HTTP/1.0", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /info HTTP/1.0\r\n\r\n")
		all := rc.readAll()
		if !strings.HasPrefix(all, "HTTP/1.0 200 ") {
			t.Errorf("status line of %q", all)
		}
		want := "method=GET\npath=/info\nqs=\nversion=HTTP/1.0\nlength=0\n"
		if _, body, _ := strings.Cut(all, "\r\n\r\n"); body != want {
			t.Errorf("body %q, want %q", body, want)
		}
	})

	t.Run("getline", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		body := "first\nsecond\n\nlast"
		rc.send(fmt.Sprintf("POST /lines HTTP/1.1\r\nHost: e2e\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		resp, got := rc.readResponse("POST")
		wantResponse(t, "getline", resp, got, 200, `[first\n][second\n][\n][last][]`)
	})

	t.Run("getline over a body arriving in pieces", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /lines HTTP/1.1\r\nHost: e2e\r\nContent-Length: 18\r\n\r\nfirst\nsec")
		time.Sleep(50 * time.Millisecond)
		rc.send("ond\n\nlast")
		resp, got := rc.readResponse("POST")
		wantResponse(t, "getline", resp, got, 200, `[first\n][second\n][\n][last][]`)
	})

	t.Run("receive in pieces", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /receive-sizes HTTP/1.1\r\nHost: e2e\r\nContent-Length: 10\r\n\r\nabcdefghij")
		resp, got := rc.readResponse("POST")
		wantResponse(t, "receive(3), receive(4), receive(), receive(), receive(5)", resp, got, 200, "abc|defg|hij||")
	})

	t.Run("receive over a body arriving in pieces", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /receive-sizes HTTP/1.1\r\nHost: e2e\r\nContent-Length: 10\r\n\r\nab")
		time.Sleep(50 * time.Millisecond)
		rc.send("cdefg")
		time.Sleep(50 * time.Millisecond)
		rc.send("hij")
		resp, got := rc.readResponse("POST")
		wantResponse(t, "receive in pieces", resp, got, 200, "abc|defg|hij||")
	})

	t.Run("set_status", func(t *testing.T) {
		for _, tt := range []struct{ path, statusLine, body string }{
			{"/reason", "HTTP/1.1 418 Short And Stout", "teapot"},
			{"/created", "HTTP/1.1 201 Created", "created"},
			// A reason with CR LF is replaced by the standard one.
			{"/inject", "HTTP/1.1 200 OK", "ok"},
		} {
			rc := dialRaw(t, s.addr())
			rc.send("GET " + tt.path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
			head := rc.readHead()
			if line, _, _ := strings.Cut(head, "\r\n"); line != tt.statusLine {
				t.Errorf("GET %s: status line %q, want %q", tt.path, line, tt.statusLine)
			}
			if strings.Contains(strings.ToLower(head), "x-injected") {
				t.Errorf("GET %s: a header was injected: %q", tt.path, head)
			}
		}
		resp, _ := get(t, c, s.url("/reason"))
		if resp.Status != "418 Short And Stout" {
			t.Errorf("net/http status %q", resp.Status)
		}
	})

	t.Run("priv", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			resp, body := get(t, c, s.url("/priv"))
			wantResponse(t, "GET /priv", resp, body, 200, "before=nil after=42")
		}
	})

	t.Run("txn variables", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			resp, body := get(t, c, s.url("/txn"))
			// As in HAProxy 2.6, ifexist only concerns proc.* variables.
			wantResponse(t, "GET /txn", resp, body, 200, "keep=nil a=x unset=nil ifexist-new=y ifexist-old=2")
		}
	})

	t.Run("proc variables are shared", func(t *testing.T) {
		// A new connection per request: with two workers they land on both.
		nc, tr := newClient(t)
		tr.DisableKeepAlives = true
		for i := 1; i <= 6; i++ {
			resp, body := get(t, nc, s.url("/proc-incr"))
			wantResponse(t, "GET /proc-incr", resp, body, 200, strconv.Itoa(i))
		}
		get(t, nc, s.url("/proc-set?v=shared"))
		for i := 0; i < 4; i++ {
			resp, body := get(t, nc, s.url("/proc-get"))
			wantResponse(t, "GET /proc-get", resp, body, 200, "name=shared")
		}
		get(t, nc, s.url("/proc-unset"))
		for i := 0; i < 4; i++ {
			resp, body := get(t, nc, s.url("/proc-get"))
			wantResponse(t, "GET /proc-get after unset", resp, body, 200, "name=nil")
		}
	})

	t.Run("sess variables live as long as the connection", func(t *testing.T) {
		a := dialRaw(t, s.addr())
		a.send("GET /sess-set?v=alice HTTP/1.1\r\nHost: e2e\r\n\r\nGET /sess-get HTTP/1.1\r\nHost: e2e\r\n\r\n")
		a.readResponse("GET")
		resp, body := a.readResponse("GET")
		wantResponse(t, "sess-get on the same connection", resp, body, 200, "user=alice")
		b := dialRaw(t, s.addr())
		b.send("GET /sess-get HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body = b.readResponse("GET")
		wantResponse(t, "sess-get on another connection", resp, body, 200, "user=nil")
	})

	t.Run("names outside a scope are ignored, as in HAProxy", func(t *testing.T) {
		resp, body := get(t, c, s.url("/bad-var-set"))
		wantResponse(t, "GET /bad-var-set", resp, body, 200, "not reached")
		resp, body = get(t, c, s.url("/bad-var-get"))
		wantResponse(t, "GET /bad-var-get", resp, body, 200, "not reached nil")
		resp, body = get(t, c, s.url("/hello"))
		wantResponse(t, "GET /hello after the errors", resp, body, 200, "Hello World !")
	})
}

// ---------------------------------------------------------------------------
// 6. HEAD and HTTP/1.0

// headFields parses the header lines of a raw response head, names
// lower-cased, without Date.
func headFields(t *testing.T, head string) map[string]string {
	t.Helper()
	m := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	for _, line := range lines[1:] {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("bad header line %q", line)
		}
		if k = strings.ToLower(k); k != "date" {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestHEAD(t *testing.T) {
	s := startRoutes(t, 2, "")
	for _, tt := range []struct{ path, getBody string }{
		{"/hello", "Hello World !"},
		{"/chunks", "3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send("GET " + tt.path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
			getHead := rc.readHead()
			if got := rc.readUntil(tt.getBody[len(tt.getBody)-5:]); got != tt.getBody {
				t.Fatalf("GET body %q, want %q", got, tt.getBody)
			}
			rc.send("HEAD " + tt.path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
			headHead := rc.readHead()
			if a, b := headFields(t, getHead), headFields(t, headHead); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("HEAD headers differ from GET's:\n GET  %v\n HEAD %v", a, b)
			}
			if a, b := strings.SplitN(getHead, "\r\n", 2)[0], strings.SplitN(headHead, "\r\n", 2)[0]; a != b {
				t.Errorf("status line: GET %q, HEAD %q", a, b)
			}
			rc.expectQuiet(200 * time.Millisecond) // no body bytes
			rc.send("GET /path/after-head HTTP/1.1\r\nHost: e2e\r\n\r\n")
			resp, body := rc.readResponse("GET")
			wantResponse(t, "GET after HEAD", resp, body, 200, "path=/path/after-head")
		})
	}
	t.Run("net/http", func(t *testing.T) {
		c, _ := newClient(t)
		resp, body := do(t, c, "HEAD", s.url("/hello"), "")
		if resp.StatusCode != 200 || resp.ContentLength != 13 || body != "" {
			t.Errorf("HEAD /hello: %d, content-length %d, body %q", resp.StatusCode, resp.ContentLength, body)
		}
	})
}

func TestHTTP10(t *testing.T) {
	s := startRoutes(t, 2, "")

	t.Run("closes after the response", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /hello HTTP/1.0\r\n\r\n")
		start := time.Now()
		all := rc.readAll()
		if time.Since(start) > 2*time.Second {
			t.Errorf("the connection closed after %v", time.Since(start))
		}
		head, body, _ := strings.Cut(all, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.0 200 ") || body != "Hello World !" {
			t.Errorf("got %q", all)
		}
		if v, _ := headerOf(head, "content-length"); v != "13" {
			t.Errorf("content-length %q", v)
		}
	})

	t.Run("keep-alive when asked", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		for i := 0; i < 2; i++ {
			rc.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := rc.readResponse("GET")
			wantResponse(t, "HTTP/1.0 keep-alive", resp, body, 200, "Hello World !")
			if resp.Proto != "HTTP/1.0" || !strings.EqualFold(resp.Header.Get("Connection"), "keep-alive") {
				t.Errorf("proto %s, connection %q", resp.Proto, resp.Header.Get("Connection"))
			}
		}
	})

	for _, req := range []string{
		"GET /chunks HTTP/1.0\r\n\r\n",
		"GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	} {
		t.Run("body delimited by close/"+strings.Fields(req)[0]+strconv.Itoa(len(req)), func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(req)
			all := rc.readAll()
			head, body, _ := strings.Cut(all, "\r\n\r\n")
			if !strings.HasPrefix(head, "HTTP/1.0 200 ") || body != "onetwothree" {
				t.Errorf("got %q", all)
			}
			for _, h := range []string{"content-length", "transfer-encoding"} {
				if v, ok := headerOf(head, h); ok {
					t.Errorf("%s: %s in an HTTP/1.0 response delimited by close", h, v)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 7. Expect: 100-continue

func TestExpectContinue(t *testing.T) {
	s := startRoutes(t, 2, "")

	t.Run("raw", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		_ = rc.SetReadDeadline(time.Now().Add(2 * time.Second))
		interim := rc.readHead()
		if !strings.HasPrefix(interim, "HTTP/1.1 100 ") {
			t.Fatalf("got %q before sending the body, want 100 Continue", interim)
		}
		rc.send("hello")
		resp, body := rc.readResponse("POST")
		wantResponse(t, "POST after 100 Continue", resp, body, 200, "5:hello")
		rc.send("GET /path/next HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body = rc.readResponse("GET")
		wantResponse(t, "next request", resp, body, 200, "path=/path/next")
	})

	t.Run("body over max_body: no 100 Continue", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n")
		resp, _ := rc.readResponse("POST")
		if resp.StatusCode != 413 {
			t.Errorf("status %d, want 413 (and no 100 Continue)", resp.StatusCode)
		}
	})

	t.Run("HTTP/1.0 gets no 100 Continue", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /body HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
		all := rc.readAll()
		if !strings.HasPrefix(all, "HTTP/1.0 200 ") || !strings.HasSuffix(all, "\r\n\r\n5:hello") {
			t.Errorf("got %q", all)
		}
	})

	t.Run("curl", func(t *testing.T) {
		needCurl(t)
		file := filepath.Join(t.TempDir(), "body")
		writeFile(t, file, strings.Repeat("x", 4000))
		out, stderr, took := curl(t, "-v", "-d", "@"+file, s.url("/body"))
		if out != "4000:"+strings.Repeat("x", 4000) {
			t.Errorf("body %q", abbrev(out))
		}
		if strings.Contains(stderr, "Expect: 100-continue") && !strings.Contains(stderr, "HTTP/1.1 100 Continue") {
			t.Errorf("curl sent Expect: 100-continue and got no 100 Continue:\n%s", stderr)
		}
		if took > 900*time.Millisecond {
			t.Errorf("curl took %v: it waited for a 100 Continue", took)
		}
	})
}

// ---------------------------------------------------------------------------
// 8. Refused requests

func TestBadRequests(t *testing.T) {
	s := startRoutes(t, 2, `    limits:
      max_request_line: 256
      max_header_bytes: 1024
      max_headers: 10
      max_body: 1000
`)
	manyHeaders := "GET /hello HTTP/1.1\r\nHost: e2e\r\n"
	for i := 0; i < 10; i++ {
		manyHeaders += fmt.Sprintf("X-H%d: %d\r\n", i, i)
	}
	manyHeaders += "\r\n"
	chunkedOver := "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3e8\r\n" + strings.Repeat("x", 1000) + "\r\n1\r\ny\r\n0\r\n\r\n"
	smuggled := "GET /hello HTTP/1.1\r\nHost: e2e\r\n\r\n"

	bugs := map[string]string{} // cases skipped, and why
	tests := []struct {
		name, req string
		status    []int // accepted statuses, the first preferred
	}{
		{"request line over max_request_line", "GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\nHost: e2e\r\n\r\n", []int{414}},
		{"head over max_header_bytes", "GET /hello HTTP/1.1\r\nHost: e2e\r\nX-Big: " + strings.Repeat("b", 1100) + "\r\n\r\n", []int{431}},
		{"more headers than max_headers", manyHeaders, []int{431}},
		{"content-length over max_body", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 1001\r\n\r\n", []int{413}},
		{"chunked body over max_body", chunkedOver, []int{413}},
		{"content-length and transfer-encoding", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, []int{400}},
		{"transfer-encoding and content-length", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, []int{400}},
		{"two different content-lengths", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", []int{400}},
		{"content-length list with different values", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: 5, 6\r\n\r\nhello!", []int{400}},
		{"negative content-length", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: -1\r\n\r\n", []int{400}},
		{"signed content-length", "POST /body HTTP/1.1\r\nHost: e2e\r\nContent-Length: +5\r\n\r\nhello", []int{400}},
		{"obs-fold", "GET /hello HTTP/1.1\r\nHost: e2e\r\nX-A: a\r\n b\r\n\r\n", []int{400}},
		{"whitespace before the first header", "GET /hello HTTP/1.1\r\n Host: e2e\r\n\r\n", []int{400}},
		{"bare CR", "GET /hello HTTP/1.1\r\nHost: e2e\rX-A: a\r\n\r\n", []int{400}},
		{"bare CR among bare LF line endings", "GET /hello HTTP/1.1\nHost: e2e\nX-A: a\rb\n\n", []int{400}},
		{"content-length and transfer-encoding with bare LFs", "POST /body HTTP/1.1\nHost: e2e\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\n\n" + smuggled, []int{400}},
		{"bare CR after chunk data", "POST /body HTTP/1.1\nHost: e2e\nTransfer-Encoding: chunked\n\n5\nhello\r0\n\n", []int{400}},
		{"space before colon", "GET /hello HTTP/1.1\r\nHost: e2e\r\nX-A : a\r\n\r\n", []int{400}},
		{"space before colon in transfer-encoding", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello", []int{400}},
		{"invalid character in a header name", "GET /hello HTTP/1.1\r\nHost: e2e\r\nX(A): a\r\n\r\n", []int{400}},
		{"NUL in a header value", "GET /hello HTTP/1.1\r\nHost: e2e\r\nX-A: a\x00b\r\n\r\n", []int{400}},
		{"bad chunk size", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", []int{400}},
		{"chunk data longer than its size", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", []int{400}},
		{"chunked not last", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", []int{400}},
		{"unknown transfer coding", "POST /body HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: bogus, chunked\r\n\r\n0\r\n\r\n", []int{501, 400}},
		{"transfer-encoding in HTTP/1.0", "POST /body HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"missing Host", "GET /hello HTTP/1.1\r\n\r\n", []int{400}},
		{"two Host headers", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []int{400}},
		{"invalid method", "G(T /hello HTTP/1.1\r\nHost: e2e\r\n\r\n", []int{400}},
		{"HTTP/2.0 on the request line", "GET /hello HTTP/2.0\r\nHost: e2e\r\n\r\n", []int{505, 400}},
		{"HTTP/1.2", "GET /hello HTTP/1.2\r\nHost: e2e\r\n\r\n", []int{505, 400}},
		{"not HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", []int{400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bug := bugs[tt.name]; bug != "" {
				t.Skip(bug)
			}
			rc := dialRaw(t, s.addr())
			rc.send(tt.req)
			_ = rc.SetReadDeadline(time.Now().Add(3 * time.Second)) // refusals are immediate
			resp, body := rc.readResponse("GET")
			ok := false
			for _, st := range tt.status {
				ok = ok || resp.StatusCode == st
			}
			if !ok {
				t.Errorf("got %d %q, want %v", resp.StatusCode, body, tt.status)
			}
			if !resp.Close {
				t.Errorf("the %d response does not say connection: close", resp.StatusCode)
			}
			rc.expectClosed(2 * time.Second)
		})
	}

	t.Run("after a request on the same connection", func(t *testing.T) {
		for _, tt := range tests {
			if bugs[tt.name] != "" {
				continue
			}
			rc := dialRaw(t, s.addr())
			rc.send("GET /path/first HTTP/1.1\r\nHost: e2e\r\n\r\n")
			resp, body := rc.readResponse("GET")
			wantResponse(t, tt.name+": first request", resp, body, 200, "path=/path/first")
			rc.send(tt.req)
			resp, err := http.ReadResponse(rc.br, nil)
			if err != nil {
				t.Errorf("%s: no response: %v", tt.name, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status[0] && (len(tt.status) == 1 || resp.StatusCode != tt.status[1]) {
				t.Errorf("%s: got %d, want %v", tt.name, resp.StatusCode, tt.status)
			}
		}
	})

	t.Run("pipelined behind a good request", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /path/first HTTP/1.1\r\nHost: e2e\r\n\r\nGET /hello HTTP/2.0\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "the good request", resp, body, 200, "path=/path/first")
		resp, _ = rc.readResponse("GET")
		if resp.StatusCode != 505 && resp.StatusCode != 400 {
			t.Errorf("the bad request: %d, want 505", resp.StatusCode)
		}
		rc.expectClosed(2 * time.Second)
	})

	t.Run("at the limits", func(t *testing.T) {
		line := "GET /path/" + strings.Repeat("l", 256-len("GET /path/ HTTP/1.1")) + " HTTP/1.1"
		head := func(size int) string {
			h := "GET /path/head HTTP/1.1\r\nHost: e2e\r\nX-Pad: \r\n\r\n"
			return strings.Replace(h, "X-Pad: ", "X-Pad: "+strings.Repeat("p", size-len(h)), 1)
		}
		tenHeaders := "GET /path/ten HTTP/1.1\r\nHost: e2e\r\n"
		for i := 0; i < 9; i++ {
			tenHeaders += fmt.Sprintf("X-H%d: %d\r\n", i, i)
		}
		tenHeaders += "\r\n"
		for _, tt := range []struct {
			name, req string
			status    int
		}{
			{"request line of max_request_line bytes", line + "\r\nHost: e2e\r\n\r\n", 200},
			{"request line one byte over", strings.Replace(line, "/path/", "/path/l", 1) + "\r\nHost: e2e\r\n\r\n", 414},
			{"head of max_header_bytes bytes", head(1024), 200},
			{"head one byte over", head(1025), 431},
			{"max_headers headers", tenHeaders, 200},
		} {
			rc := dialRaw(t, s.addr())
			rc.send(tt.req)
			resp, body := rc.readResponse("GET")
			if resp.StatusCode != tt.status {
				t.Errorf("%s: %d %q, want %d", tt.name, resp.StatusCode, body, tt.status)
			}
		}
	})

	c, _ := newClient(t)
	resp, body := get(t, c, s.url("/hello"))
	wantResponse(t, "a normal request afterwards", resp, body, 200, "Hello World !")
	resp, body = do(t, c, "POST", s.url("/body"), strings.Repeat("z", 1000))
	wantResponse(t, "a body of exactly max_body", resp, body, 200, "1000:"+strings.Repeat("z", 1000))
	if s.exited() {
		t.Fatal("the server exited")
	}
}

// A service that answers without reading the body still gets its answer
// out when the body turns out too large or malformed.
func TestBadBodyAfterAnswer(t *testing.T) {
	s := startRoutes(t, 2, `    limits:
      max_body: 1000
`)
	for _, tt := range []struct{ name, req string }{
		{"chunked body over max_body", "POST /hello HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"7d0\r\n" + strings.Repeat("x", 2000) + "\r\n0\r\n\r\n"},
		{"bad chunk size", "POST /hello HTTP/1.1\r\nHost: e2e\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(tt.req)
			all := rc.readAll()
			if !strings.HasPrefix(all, "HTTP/1.1 ") {
				t.Fatalf("no response before the connection closed: %q", all)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(all)), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Errorf("incomplete response %q: %v", all, err)
			}
			if !(resp.StatusCode == 200 && string(b) == "Hello World !") && resp.StatusCode != 413 && resp.StatusCode != 400 {
				t.Errorf("got %d %q", resp.StatusCode, b)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 9. Script errors

const svcLua = `-- The services of TestScriptErrors.
core.register_service("svc", "http", function(applet)
	local path = applet.path
	if path == "/boom" then
		error("boom")
	elseif path == "/late" then
		applet:set_status(200)
		applet:start_response()
		applet:send("partial")
		core.yield()
		error("late boom")
	elseif path == "/bad-header-name" then
		applet:add_header("bad name", "x")
		applet:start_response()
		applet:send("x")
	elseif path == "/bad-header-value" then
		applet:add_header("x-a", "1\r\nX-Injected: yes")
		applet:start_response()
		applet:send("x")
	elseif path == "/bad-content-length" then
		applet:add_header("content-length", "lots")
		applet:start_response()
		applet:send("x")
	elseif path == "/exit" then
		os.exit(0)
	elseif path == "/hog" then
		local t = {}
		for i = 1, 1e9 do
			t[i] = string.rep("x", 4096) .. i
		end
	end
	local body = "ok " .. path
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)

core.register_service("other", "http", function(applet)
	applet:set_status(200)
	applet:add_header("content-length", 5)
	applet:start_response()
	applet:send("other")
end)
`

// lineOf returns the 1-based number of the first line of src containing sub.
func lineOf(t *testing.T, src, sub string) int {
	t.Helper()
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, sub) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the source", sub)
	return 0
}

func TestScriptErrors(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 2
shutdown_timeout: 5s
lua:
  load: [svc.lua]
  memory_limit: 16MiB
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.svc
  - name: other
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.other
`, map[string]string{"svc.lua": svcLua})
	c, _ := newClient(t)
	other := "http://" + s.addrOf("2") + "/"

	t.Run("error", func(t *testing.T) {
		resp, body := get(t, c, s.url("/boom"))
		if resp.StatusCode != 500 {
			t.Errorf("GET /boom: %d %q, want 500", resp.StatusCode, body)
		}
		s.waitLog(t, 2*time.Second, fmt.Sprintf("svc.lua:%d:", lineOf(t, svcLua, `error("boom")`)), "boom")
	})

	t.Run("the connection goes on", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /boom HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, _ := rc.readResponse("GET")
		if resp.StatusCode != 500 {
			t.Errorf("GET /boom: %d", resp.StatusCode)
		}
		rc.send("GET /ok HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET /ok after /boom", resp, body, 200, "ok /ok")
	})

	t.Run("concurrently", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 90)
		for i := 0; i < 90; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url, status, want := s.url("/boom"), 500, ""
				switch i % 3 {
				case 1:
					url, status, want = s.url("/fine"), 200, "ok /fine"
				case 2:
					url, status, want = other, 200, "other"
				}
				resp, err := c.Get(url)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != status || (want != "" && string(b) != want) {
					errs <- fmt.Sprintf("GET %s: %d %q", url, resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})

	t.Run("error after the head was sent", func(t *testing.T) {
		resp, err := c.Get(s.url("/late"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("GET /late: got a complete %d response %q; the failure must cut it", resp.StatusCode, b)
		}
		s.waitLog(t, 2*time.Second, fmt.Sprintf("svc.lua:%d:", lineOf(t, svcLua, `error("late boom")`)))
	})

	t.Run("invalid response headers", func(t *testing.T) {
		for _, path := range []string{"/bad-header-name", "/bad-header-value", "/bad-content-length"} {
			rc := dialRaw(t, s.addr())
			rc.send("GET " + path + " HTTP/1.1\r\nHost: e2e\r\n\r\n")
			head := rc.readHead()
			if !strings.HasPrefix(head, "HTTP/1.1 500 ") || strings.Contains(strings.ToLower(head), "x-injected") {
				t.Errorf("GET %s: %q, want a 500", path, head)
			}
		}
		s.waitLog(t, 2*time.Second, "invalid header", "invalid content-length")
	})

	t.Run("os.exit", func(t *testing.T) {
		resp, body := get(t, c, s.url("/exit"))
		if resp.StatusCode != 500 {
			t.Errorf("GET /exit: %d %q, want 500", resp.StatusCode, body)
		}
		s.waitLog(t, 2*time.Second, "os.exit")
		time.Sleep(100 * time.Millisecond)
		if s.exited() {
			t.Fatalf("the server exited: %v", s.err)
		}
		resp, body = get(t, c, s.url("/ok"))
		wantResponse(t, "GET /ok after /exit", resp, body, 200, "ok /ok")
	})

	if s.exited() {
		t.Fatalf("the server exited: %v", s.err)
	}
}

func TestMemoryLimit(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 1
shutdown_timeout: 5s
lua:
  load: [svc.lua]
  memory_limit: 16MiB
frontends:
  - name: main
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.svc
  - name: other
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.other
`, map[string]string{"svc.lua": svcLua})
	c, tr := newClient(t)
	tr.DisableKeepAlives = true
	for i := 0; i < 4; i++ {
		resp, body := get(t, c, s.url("/hog"))
		if resp.StatusCode != 500 {
			t.Errorf("GET /hog: %d %q, want 500", resp.StatusCode, body)
		}
	}
	s.waitLog(t, 2*time.Second, "not enough memory")
	for i := 0; i < 10; i++ {
		resp, body := get(t, c, s.url("/ok"))
		wantResponse(t, "GET /ok after /hog", resp, body, 200, "ok /ok")
	}
	resp, body := get(t, c, "http://"+s.addrOf("2")+"/")
	wantResponse(t, "the other frontend after /hog", resp, body, 200, "other")
	if s.exited() {
		t.Fatalf("the server exited: %v", s.err)
	}
}

// ---------------------------------------------------------------------------
// 10. A sleeping request does not hold up others

func TestSleepDoesNotBlock(t *testing.T) {
	s := startRoutes(t, 1, "")

	type result struct {
		status int
		body   string
		took   time.Duration
		err    error
	}
	// startGet runs a GET on a client of its own and returns once the
	// request is written.
	startGet := func(path string) <-chan result {
		c, _ := newClient(t)
		wrote := make(chan struct{})
		out := make(chan result, 1)
		go func() {
			var once sync.Once
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.url(path), nil)
			start := time.Now()
			resp, body, err := fetch(c, req)
			if resp == nil {
				once.Do(func() { close(wrote) })
				out <- result{err: err}
				return
			}
			out <- result{resp.StatusCode, body, time.Since(start), err}
		}()
		<-wrote
		time.Sleep(50 * time.Millisecond) // let the loop start the request
		return out
	}

	t.Run("msleep", func(t *testing.T) {
		slow := startGet("/sleep?ms=1000")
		c, _ := newClient(t)
		start := time.Now()
		resp, body := get(t, c, s.url("/path/fast"))
		took := time.Since(start)
		wantResponse(t, "GET /path/fast", resp, body, 200, "path=/path/fast")
		if took > 300*time.Millisecond {
			t.Errorf("GET /path/fast took %v while /sleep was pending", took)
		}
		select {
		case r := <-slow:
			t.Fatalf("the 1 s sleep ended before the fast request: %+v", r)
		default:
		}
		r := <-slow
		if r.err != nil || r.status != 200 || r.body != "slept 1000" {
			t.Fatalf("GET /sleep?ms=1000: %+v", r)
		}
		if r.took < 950*time.Millisecond || r.took > 2*time.Second {
			t.Errorf("GET /sleep?ms=1000 took %v", r.took)
		}
	})

	t.Run("many sleepers at once", func(t *testing.T) {
		start := time.Now()
		var results []<-chan result
		for i := 0; i < 5; i++ {
			results = append(results, startGet("/sleep?ms=500"))
		}
		for _, ch := range results {
			if r := <-ch; r.err != nil || r.status != 200 || r.body != "slept 500" {
				t.Errorf("GET /sleep?ms=500: %+v", r)
			}
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("5 parallel sleeps of 500 ms took %v on one worker", took)
		}
	})

	t.Run("client gone while its request sleeps", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			rc := dialRaw(t, s.addr())
			rc.send("GET /sleep?ms=200 HTTP/1.1\r\nHost: e2e\r\n\r\n")
			time.Sleep(30 * time.Millisecond)
			rc.Close()
		}
		time.Sleep(400 * time.Millisecond) // the timers fire for closed connections
		c, _ := newClient(t)
		for i := 0; i < 3; i++ {
			resp, body := get(t, c, s.url("/sleep?ms=20"))
			wantResponse(t, "GET /sleep?ms=20", resp, body, 200, "slept 20")
		}
	})

	t.Run("core.sleep", func(t *testing.T) {
		c, _ := newClient(t)
		start := time.Now()
		resp, body := get(t, c, s.url("/sleep-sec"))
		took := time.Since(start)
		wantResponse(t, "GET /sleep-sec", resp, body, 200, "slept 0.2s")
		if took < 190*time.Millisecond || took > time.Second {
			t.Errorf("core.sleep(0.2) took %v", took)
		}
	})

	t.Run("core.yield", func(t *testing.T) {
		c, _ := newClient(t)
		start := time.Now()
		resp, body := get(t, c, s.url("/yield"))
		wantResponse(t, "GET /yield", resp, body, 200, "yielded 100")
		if took := time.Since(start); took > time.Second {
			t.Errorf("100 yields took %v", took)
		}
	})

	t.Run("core.yield gives the loop a turn", func(t *testing.T) {
		spin := startGet("/spin")
		c, _ := newClient(t)
		start := time.Now()
		resp, body := get(t, c, s.url("/spin-stop"))
		took := time.Since(start)
		wantResponse(t, "GET /spin-stop", resp, body, 200, "ok")
		if took > 300*time.Millisecond {
			t.Errorf("GET /spin-stop took %v while /spin was yielding", took)
		}
		if r := <-spin; r.err != nil || r.body != "stopped" {
			t.Errorf("GET /spin: %+v", r)
		}
	})
}

// ---------------------------------------------------------------------------
// 11. Timeouts

func TestTimeouts(t *testing.T) {
	s := startRoutes(t, 2, `    timeouts:
      http_request: 300ms
      keep_alive: 300ms
      body: 300ms
`)
	// The server checks deadlines every 250 ms: a 300 ms timeout fires
	// between 300 and about 600 ms.
	within := func(t *testing.T, what string, took time.Duration) {
		t.Helper()
		if took < 250*time.Millisecond || took > 1200*time.Millisecond {
			t.Errorf("%s after %v, want about 300-600 ms", what, took)
		}
	}

	t.Run("incomplete head", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		start := time.Now()
		rc.send("GET /hello HTTP/1.1\r\nHost: e2e\r\n")
		resp, _ := rc.readResponse("GET")
		if resp.StatusCode != 408 {
			t.Errorf("status %d, want 408", resp.StatusCode)
		}
		rc.expectClosed(time.Second)
		within(t, "closed", time.Since(start))
	})

	t.Run("incomplete head on a kept-alive connection", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /hello HTTP/1.1\r\nHost: e2e\r\n\r\n")
		rc.readResponse("GET")
		start := time.Now()
		rc.send("GET /hello HTTP/1.1\r\n")
		resp, err := http.ReadResponse(rc.br, nil)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		if resp.StatusCode != 408 {
			t.Errorf("status %d, want 408", resp.StatusCode)
		}
		within(t, "408", time.Since(start))
	})

	t.Run("head sent a byte at a time", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		stop := make(chan struct{})
		defer close(stop)
		start := time.Now()
		go func() {
			req := "GET /hello HTTP/1.1\r\nHost: e2e\r\nX-Slow: " + strings.Repeat("s", 100)
			for i := 0; i < len(req); i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := rc.Write([]byte{req[i]}); err != nil {
					return
				}
			}
		}()
		resp, _ := rc.readResponse("GET")
		if resp.StatusCode != 408 {
			t.Errorf("status %d, want 408", resp.StatusCode)
		}
		within(t, "408", time.Since(start))
	})

	for _, c := range []struct{ name, path string }{
		{"incomplete body", "/trickle"},
		{"incomplete body, service in receive()", "/body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send("POST " + c.path + " HTTP/1.1\r\nHost: e2e\r\nContent-Length: 10\r\n\r\nabc")
			start := time.Now()
			resp, _ := rc.readResponse("POST")
			if resp.StatusCode != 408 {
				t.Errorf("status %d, want 408", resp.StatusCode)
			}
			rc.expectClosed(time.Second)
			within(t, "closed", time.Since(start))
		})
	}

	t.Run("incomplete body the service does not read", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("POST /hello HTTP/1.1\r\nHost: e2e\r\nContent-Length: 10\r\n\r\nabc")
		resp, body := rc.readResponse("POST")
		wantResponse(t, "POST /hello", resp, body, 200, "Hello World !")
		start := time.Now()
		rc.expectClosed(time.Second)
		within(t, "closed", time.Since(start))
	})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /hello HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET /hello", resp, body, 200, "Hello World !")
		start := time.Now()
		rc.expectClosed(time.Second)
		within(t, "closed", time.Since(start))
	})

	t.Run("connection that never sends", func(t *testing.T) {
		// Its first request gets http_request, then a 408, as in HAProxy.
		rc := dialRaw(t, s.addr())
		start := time.Now()
		resp, _ := rc.readResponse("GET")
		if resp.StatusCode != 408 {
			t.Errorf("status %d, want 408", resp.StatusCode)
		}
		rc.expectClosed(time.Second)
		// The deadline of a new connection starts from the loop's coarse
		// clock, which may be up to one sweep old: no lower bound here.
		if took := time.Since(start); took > 1200*time.Millisecond {
			t.Errorf("closed after %v, want about 300-600 ms", took)
		}
	})

	t.Run("not closed before the timeout", func(t *testing.T) {
		// http_request (a new connection's wait for its first byte) is 1 s
		// here, a multiple of the 250 ms sweep: a deadline computed from a
		// stale clock shows as an early answer.
		s := startRoutes(t, 1, "    timeouts: {http_request: 1s}\n")
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 53 * time.Millisecond)
				c, err := net.Dial("tcp", s.addr())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				start := time.Now()
				_ = c.SetReadDeadline(start.Add(3 * time.Second))
				_, _ = c.Read(make([]byte, 1))
				if took := time.Since(start); took < 990*time.Millisecond {
					t.Errorf("a new idle connection was answered after %v, before http_request (1 s)", took)
				}
			}()
		}
		wg.Wait()
	})

	t.Run("a busy request is not timed out", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /sleep?ms=800 HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET /sleep?ms=800", resp, body, 200, "slept 800")
	})
}

// ---------------------------------------------------------------------------
// 12. Graceful stop

func TestGracefulStop(t *testing.T) {
	t.Run("request in flight", func(t *testing.T) {
		s := startRoutes(t, 2, "")
		c, _ := newClient(t)
		wrote := make(chan struct{})
		type result struct {
			resp *http.Response
			body string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.url("/sleep?ms=500"), nil)
			resp, body, err := fetch(c, req)
			done <- result{resp, body, err}
		}()
		<-wrote
		time.Sleep(100 * time.Millisecond)
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil {
			t.Fatalf("the request in flight failed: %v", r.err)
		}
		wantResponse(t, "the request in flight", r.resp, r.body, 200, "slept 500")
		if !r.resp.Close {
			t.Error("the last response of a stopping server does not say connection: close")
		}
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			t.Fatal("the server has not exited 2 s after its last request")
		}
		if code := s.exitCode(); code != 0 {
			t.Errorf("exit status %d", code)
		}
		s.waitLog(t, time.Second, "stopping", "stopped")
	})

	t.Run("response being streamed", func(t *testing.T) {
		s := startServer(t, strings.Replace(routesConfig(2, ""), "shutdown_timeout: 5s", "shutdown_timeout: 8s", 1),
			map[string]string{"routes.lua": readTestdata(t, "routes.lua")})
		rc := dialRaw(t, s.addr())
		rc.send("GET /stream-slow?ms=500 HTTP/1.1\r\nHost: e2e\r\n\r\n")
		rc.readHead()
		if got := rc.readUntil("first\n"); !strings.HasSuffix(got, "first\n") {
			t.Fatalf("got %q", got)
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if got := rc.readUntil("0\r\n\r\n"); !strings.Contains(got, "second\n") {
			t.Fatalf("rest of the body %q", got)
		}
		ended := time.Now()
		rc.expectClosed(2 * time.Second)
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			t.Fatalf("the server has not exited %v after its last response ended", time.Since(ended))
		}
		if code := s.exitCode(); code != 0 {
			t.Errorf("exit status %d", code)
		}
	})

	t.Run("idle connections", func(t *testing.T) {
		s := startRoutes(t, 2, "")
		var conns []*rawConn
		for i := 0; i < 4; i++ {
			rc := dialRaw(t, s.addr())
			rc.send("GET /hello HTTP/1.1\r\nHost: e2e\r\n\r\n")
			rc.readResponse("GET")
			conns = append(conns, rc)
		}
		start := time.Now()
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for _, rc := range conns {
			rc.expectClosed(2 * time.Second)
		}
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			t.Fatal("the server has not exited 2 s after SIGTERM with only idle connections")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("stopping took %v", took)
		}
		if code := s.exitCode(); code != 0 {
			t.Errorf("exit status %d", code)
		}
	})
}

// ---------------------------------------------------------------------------
// 13. luaedge check

func TestCheckCommand(t *testing.T) {
	needBinary(t)
	const svc = `core.register_service("svc", "http", function(applet)
	applet:set_status(200)
	applet:start_response()
end)
core.register_service("tcpsvc", "tcp", function(applet) end)
`
	config := func(frontend string) string {
		return "workers: 2\nlua:\n  load: [svc.lua]\nfrontends:\n" + frontend
	}
	const good = `  - name: main
    bind: ["127.0.0.1:0"]
    use_service: lua.svc
`
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
		ok    bool
		want  []string // in the output
	}{
		{"valid", config(good), nil, true, []string{"valid"}},
		{"valid, every key", `workers: 1
shutdown_timeout: 3s
log: {level: debug, format: json}
lua:
  load: [svc.lua]
  memory_limit: 32MiB
frontends:
  - name: main
    bind: ["127.0.0.1:0", "[::1]:0"]
    mode: http
    use_service: lua.svc
    limits: {max_request_line: 4KiB, max_header_bytes: 32KiB, max_headers: 50, max_body: 1MiB}
    timeouts: {http_request: 5s, keep_alive: 30000, body: 10s}
`, nil, true, []string{"valid"}},
		{"unknown top-level key", "wrokers: 2\n" + config(good), nil, false, []string{"wrokers"}},
		{"unknown frontend key", config(good + "    use_servise: lua.svc\n"), nil, false, []string{"use_servise"}},
		{"unknown limits key", config(good + "    limits: {max_bdy: 10}\n"), nil, false, []string{"max_bdy"}},
		{"missing service", config("  - name: main\n    bind: [\"127.0.0.1:0\"]\n    use_service: lua.nothere\n"), nil, false,
			[]string{"frontends[0].use_service", "nothere"}},
		{"service of the wrong mode", config("  - name: main\n    bind: [\"127.0.0.1:0\"]\n    use_service: lua.tcpsvc\n"), nil, false,
			[]string{"frontends[0].use_service", "tcpsvc"}},
		{"missing filter", config(good + "    filters: [lua.nothere a]\n"), nil, false,
			[]string{"frontends[0].filters[0]", "nothere"}},
		{"use_service without lua.", config("  - name: main\n    bind: [\"127.0.0.1:0\"]\n    use_service: svc\n"), nil, false,
			[]string{"frontends[0].use_service"}},
		{"nothing answers", config("  - name: main\n    bind: [\"127.0.0.1:0\"]\n"), nil, false,
			[]string{"frontends[0]", "use_service"}},
		{"Lua syntax error", config(good), map[string]string{"svc.lua": "-- line 1\nlocal x = 1\nlocal y = = 2\n"}, false,
			[]string{"svc.lua:3"}},
		{"Lua error while loading", config(good), map[string]string{"svc.lua": "-- line 1\nerror(\"cannot start\")\n"}, false,
			[]string{"svc.lua:2", "cannot start"}},
		{"missing script", "lua:\n  load: [nope.lua]\nfrontends:\n" + good, nil, false, []string{"nope.lua"}},
		{"bind without a port", config("  - name: main\n    bind: [\"127.0.0.1\"]\n    use_service: lua.svc\n"), nil, false,
			[]string{"frontends[0].bind"}},
		{"no bind", config("  - name: main\n    use_service: lua.svc\n"), nil, false, []string{"frontends[0].bind"}},
		{"second frontend's bind", config(good + "  - name: second\n    bind: [\"localhost\"]\n    use_service: lua.svc\n"), nil, false,
			[]string{"frontends[1].bind"}},
		{"same bind twice", config(good + "  - name: second\n    bind: [\"127.0.0.1:0\"]\n    use_service: lua.svc\n"), nil, false,
			[]string{"frontends[1].bind"}},
		{"duplicate frontend name", config(good + "  - name: main\n    bind: [\"127.0.0.1:1\"]\n    use_service: lua.svc\n"), nil, false,
			[]string{"frontends[1].name"}},
		{"bad log level", "log: {level: loud}\n" + config(good), nil, false, []string{"log.level"}},
		{"bad mode", config(good + "    mode: udp\n"), nil, false, []string{"frontends[0].mode"}},
		{"no frontends", "lua:\n  load: [svc.lua]\n", nil, false, []string{"frontends"}},
		{"max_headers below 1", config(good + "    limits: {max_headers: -1}\n"), nil, false, []string{"max_headers"}},
		{"negative workers", "workers: -1\n" + config(good), nil, false, []string{"workers"}},
		{"missing ws filter", config(good + "    ws_filters: [lua.nothere]\n"), nil, false, []string{"frontends[0].ws_filters", "nothere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "luaedge.yaml"), tt.yaml)
			files := map[string]string{"svc.lua": svc}
			for k, v := range tt.files {
				files[k] = v
			}
			for k, v := range files {
				writeFile(t, filepath.Join(dir, k), v)
			}
			cmd := exec.Command(luaedgeBin, "check", "-c", filepath.Join(dir, "luaedge.yaml"))
			out, err := cmd.CombinedOutput()
			code := cmd.ProcessState.ExitCode()
			if err != nil && code <= 0 {
				t.Fatalf("running check: %v", err)
			}
			if (code == 0) != tt.ok {
				t.Errorf("exit status %d, want success %v; output:\n%s", code, tt.ok, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the output does not name %q:\n%s", w, out)
				}
			}
		})
	}

	t.Run("bad size names its key", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "svc.lua"), svc)
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), "lua:\n  load: [svc.lua]\n  memory_limit: lots\n"+"frontends:\n"+good)
		out, _ := exec.Command(luaedgeBin, "check", "-c", filepath.Join(dir, "luaedge.yaml")).CombinedOutput()
		if !strings.Contains(string(out), "memory_limit") {
			t.Errorf("the output does not name lua.memory_limit:\n%s", out)
		}
	})

	t.Run("serving a script with a syntax error", func(t *testing.T) {
		dir := t.TempDir()
		port := freePort(t)
		writeFile(t, filepath.Join(dir, "svc.lua"), "-- line 1\nlocal x = 1\nlocal y = = 2\n")
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), config(fmt.Sprintf("  - name: main\n    bind: [\"127.0.0.1:%d\"]\n    use_service: lua.svc\n", port)))
		cmd := exec.Command(luaedgeBin, "-c", "luaedge.yaml")
		cmd.Dir = dir
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("luaedge kept running with a broken script; output:\n%s", out.String())
		}
		if code := cmd.ProcessState.ExitCode(); code == 0 {
			t.Errorf("exit status 0 with a broken script")
		}
		if !strings.Contains(out.String(), "svc.lua:3") {
			t.Errorf("the output does not name svc.lua:3:\n%s", out.String())
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(luaedgeBin, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "luaedge ") {
			t.Errorf("luaedge version: %v %q", err, out)
		}
	})
}

// ---------------------------------------------------------------------------
// 14. Many concurrent clients

func TestManyClients(t *testing.T) {
	s := startRoutes(t, 2, "")
	c, tr := newClient(t)
	tr.MaxIdleConnsPerHost = 50
	const clients, requests = 50, 20
	var wg sync.WaitGroup
	errs := make(chan string, clients*requests)
	start := time.Now()
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requests; i++ {
				path := fmt.Sprintf("/path/g%d/r%d", g, i)
				resp, body, err := fetchGet(c, s.url(path))
				if resp == nil {
					errs <- err.Error()
					return
				}
				if err != nil || resp.StatusCode != 200 || body != "path="+path {
					errs <- fmt.Sprintf("GET %s: %d %q %v", path, resp.StatusCode, body, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 10 {
			t.Error(e)
		}
	}
	if n > 10 {
		t.Errorf("... %d errors in all", n)
	}
	t.Logf("%d requests from %d clients in %v", clients*requests, clients, time.Since(start))
}

// ---------------------------------------------------------------------------
// Large bodies and response framing

func TestLargeBodies(t *testing.T) {
	s := startRoutes(t, 2, "")
	c, _ := newClient(t)
	block := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 400)[:10000]
	wantBig := func(n int) string {
		return strings.Repeat(block, n/len(block)+1)[:n]
	}

	for _, tt := range []struct {
		name, query string
		chunked     bool
	}{
		{"content-length", "n=3000000", false},
		{"chunked", "n=3000000&chunked=1", true},
	} {
		t.Run("response/"+tt.name, func(t *testing.T) {
			resp, body := get(t, c, s.url("/big?"+tt.query))
			if resp.StatusCode != 200 || len(body) != 3000000 || body != wantBig(3000000) {
				t.Errorf("GET /big?%s: %d, %d bytes", tt.query, resp.StatusCode, len(body))
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != tt.chunked {
				t.Errorf("transfer-encoding %v", resp.TransferEncoding)
			}
		})
	}

	t.Run("response read slowly", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /big?n=3000000 HTTP/1.1\r\nHost: e2e\r\n\r\n")
		time.Sleep(300 * time.Millisecond) // let the server fill the socket
		resp, body := rc.readResponse("GET")
		if resp.StatusCode != 200 || body != wantBig(3000000) {
			t.Errorf("GET /big: %d, %d bytes", resp.StatusCode, len(body))
		}
		rc.send("GET /path/after HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body = rc.readResponse("GET")
		wantResponse(t, "after /big", resp, body, 200, "path=/path/after")
	})

	t.Run("request", func(t *testing.T) {
		payload := wantBig(2000000)
		sum := 0
		for i := 0; i < len(payload); i++ {
			sum = (sum + int(payload[i])) % 1000000007
		}
		resp, body := do(t, c, "POST", s.url("/sum"), payload)
		wantResponse(t, "POST /sum", resp, body, 200, fmt.Sprintf("%d %d", len(payload), sum))
	})
}

// A response sent while the client is still sending its body must reach
// it: the server closes in stages (RFC 9112 section 9.6), not with a reset
// that would make the client's kernel drop the answer unread. The client
// writes its body and reads at once, as a browser does; Go's http.Client
// is not used here because it closes its own connection when the answer
// says "close" and then reports its pending write as the request's error.
func TestEarlyResponseWithUnreadBody(t *testing.T) {
	s := startRoutes(t, 2, "")
	small := startRoutes(t, 2, "    limits: {max_body: 1000}\n")
	payload := []byte(strings.Repeat("u", 8<<20))
	post := func(addr, path string) (*http.Response, string) {
		rc := dialRaw(t, addr)
		rc.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: e2e\r\nContent-Length: %d\r\n\r\n", path, len(payload)))
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			rc.Conn.Write(payload) // fails once the server has closed: not this test's concern
		}()
		resp, body := rc.readResponse("POST")
		rc.Conn.Close()
		<-wrote
		return resp, body
	}
	for i := 0; i < 5; i++ {
		resp, body := post(s.addr(), "/hello")
		wantResponse(t, "POST of 8 MiB to a service that does not read it", resp, body, 200, "Hello World !")
	}
	for i := 0; i < 5; i++ {
		resp, _ := post(small.addr(), "/body")
		if resp.StatusCode != 413 {
			t.Errorf("POST of 8 MiB over max_body: %d, want 413", resp.StatusCode)
		}
	}
}

func TestResponseFraming(t *testing.T) {
	s := startRoutes(t, 2, "")

	t.Run("shorter than its content-length", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /short HTTP/1.1\r\nHost: e2e\r\n\r\n")
		head := rc.readHead()
		if v, _ := headerOf(head, "content-length"); v != "10" {
			t.Fatalf("head %q", head)
		}
		if rest := rc.readAll(); rest != "12345" {
			t.Errorf("body %q, want the 5 bytes sent and then the connection closed", rest)
		}
	})

	t.Run("connection: close from the service", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /close HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET /close", resp, body, 200, "bye")
		if !resp.Close {
			t.Error("no connection: close")
		}
		rc.expectClosed(2 * time.Second)
	})

	t.Run("service that never starts its response", func(t *testing.T) {
		// HAProxy's 500, and the connection goes on.
		rc := dialRaw(t, s.addr())
		rc.send("GET /empty HTTP/1.1\r\nHost: e2e\r\n\r\nGET /path/next HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET /empty", resp, body, 500, "<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n")
		resp, body = rc.readResponse("GET")
		wantResponse(t, "GET /path/next", resp, body, 200, "path=/path/next")
	})

	t.Run("204 has no body framing", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /no-content HTTP/1.1\r\nHost: e2e\r\n\r\n")
		head := rc.readHead()
		if !strings.HasPrefix(head, "HTTP/1.1 204 ") {
			t.Errorf("head %q", head)
		}
		for _, h := range []string{"content-length", "transfer-encoding"} {
			if v, ok := headerOf(head, h); ok {
				t.Errorf("%s: %s on a 204", h, v)
			}
		}
		rc.expectQuiet(100 * time.Millisecond)
		rc.send("GET /path/next HTTP/1.1\r\nHost: e2e\r\n\r\n")
		resp, body := rc.readResponse("GET")
		wantResponse(t, "GET after a 204", resp, body, 200, "path=/path/next")
	})

	t.Run("header injection through a header value", func(t *testing.T) {
		rc := dialRaw(t, s.addr())
		rc.send("GET /bad-header-value HTTP/1.1\r\nHost: e2e\r\n\r\n")
		head := rc.readHead()
		if strings.Contains(strings.ToLower(head), "x-injected") || !strings.HasPrefix(head, "HTTP/1.1 500 ") {
			t.Errorf("head %q, want a 500 without the injected header", head)
		}
	})

	t.Run("404 from the service", func(t *testing.T) {
		c, _ := newClient(t)
		resp, body := get(t, c, s.url("/nowhere"))
		wantResponse(t, "GET /nowhere", resp, body, 404, "not found: /nowhere\n")
	})
}

// ---------------------------------------------------------------------------
// Signals, logging, several frontends

func TestSignals(t *testing.T) {
	t.Run("SIGHUP is ignored", func(t *testing.T) {
		s := startRoutes(t, 2, "")
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		s.waitLog(t, 2*time.Second, "SIGHUP")
		c, _ := newClient(t)
		resp, body := get(t, c, s.url("/hello"))
		wantResponse(t, "GET /hello after SIGHUP", resp, body, 200, "Hello World !")
	})

	t.Run("SIGINT stops", func(t *testing.T) {
		s := startRoutes(t, 2, "")
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			t.Fatal("the server has not exited 2 s after SIGINT")
		}
		if code := s.exitCode(); code != 0 {
			t.Errorf("exit status %d", code)
		}
	})
}

func TestLogging(t *testing.T) {
	needBinary(t)
	// The access log (another format, on stdout too) is not this test's.
	s := startServer(t, "log: {level: warn, format: json}\naccess_log: off\n"+routesConfig(2, ""),
		map[string]string{"routes.lua": readTestdata(t, "routes.lua")})
	c, _ := newClient(t)
	get(t, c, s.url("/log"))
	get(t, c, s.url("/boom"))
	s.waitLog(t, 2*time.Second, "e2e warning from Lua", "e2e failure from Lua")
	var warn, failed bool
	for _, line := range strings.Split(strings.TrimSpace(s.logs()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		switch {
		case rec["msg"] == "e2e warning from Lua":
			warn = rec["level"] == "WARN"
		case strings.Contains(fmt.Sprint(rec["err"]), "e2e failure from Lua"):
			failed = rec["level"] == "ERROR"
		case rec["level"] == "INFO" || rec["level"] == "DEBUG":
			t.Errorf("a %s line with log.level warn: %q", rec["level"], line)
		}
	}
	if !warn || !failed {
		t.Errorf("missing the warning (%v) or the service failure (%v) in:\n%s", warn, failed, s.logs())
	}
}

func TestFrontends(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 2
lua:
  load: [routes.lua, hello.lua]
frontends:
  - name: small
    bind: ["127.0.0.1:@PORT@", "127.0.0.1:@PORT2@"]
    use_service: lua.routes
    limits: {max_body: 10}
  - name: hello
    bind: ["0.0.0.0:@PORT3@"]
    use_service: lua.hello-world
`, map[string]string{"routes.lua": readTestdata(t, "routes.lua"), "hello.lua": readTestdata(t, "hello.lua")})
	c, tr := newClient(t)
	// One connection per request: refusals on a kept-alive connection are
	// TestBadRequests' business.
	tr.DisableKeepAlives = true
	for _, name := range []string{"", "2"} {
		base := "http://" + s.addrOf(name)
		resp, body := get(t, c, base+"/path/x")
		wantResponse(t, "GET /path/x on "+base, resp, body, 200, "path=/path/x")
		resp, body = do(t, c, "POST", base+"/body", "0123456789a")
		if resp.StatusCode != 413 {
			t.Errorf("11 bytes to a frontend with max_body 10: %d %q", resp.StatusCode, body)
		}
	}
	base := "http://" + s.addrOf("3")
	resp, body := get(t, c, base+"/path/x")
	wantResponse(t, "GET on the hello frontend", resp, body, 200, "Hello World !")
	resp, body = do(t, c, "POST", base+"/", "0123456789a")
	wantResponse(t, "11 bytes to the hello frontend", resp, body, 200, "Hello World !")
}
