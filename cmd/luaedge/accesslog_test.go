package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const accessLogLua = `
core.register_service("hello", "http", function(applet)
	applet:set_var("txn.user", "bob")
	if applet.path == "/fail" then error("the service failed") end
	local body = "hello\n"
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
core.register_action("tag", { "http-req" }, function(txn)
	txn:set_var("txn.tag", txn.sf:path())
end)
core.register_service("echo", "tcp", function(applet)
	applet:send("echo:" .. applet:getline())
end)
`

// readLines waits until the file at path holds n lines and returns them.
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			if len(lines) > n {
				t.Fatalf("%s: %d lines, want %d:\n%s", path, len(lines), n, b)
			}
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d lines after 5 s, have:\n%s", path, n, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawExchange sends req (which asks for connection: close) to addr and
// returns how many bytes came back, head and body: what %B counts.
func rawExchange(t *testing.T, addr, req string) int {
	t.Helper()
	_, n := rawStatus(t, addr, req)
	return n
}

// rawStatus is rawExchange that also returns the response's status.
func rawStatus(t *testing.T, addr, req string) (status, n int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if _, scanErr := fmt.Sscanf(string(b), "HTTP/1.1 %d ", &status); err != nil || scanErr != nil {
		t.Fatalf("%q: %q %v", req, b, err)
	}
	return status, len(b)
}

// httplogRE matches the default line: client, date, frontend,
// backend/server, timers, status, bytes, termination, request, cause.
var httplogRE = regexp.MustCompile(`^127\.0\.0\.1:(\d+) \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) (-?\d+) (\d+) (\S\S) "([^"]*)"(?: "([^"]*)")?$`)

// One line per request in the default format, over HTTP/1 and HTTP/2
// (h2c), with the status, the bytes, the termination state and, for
// protocol and script errors, the cause.
func TestAccessLogDefault(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    access_log: {to: access.log}
    limits: {max_body: 100}
`, map[string]string{"app.lua": accessLogLua})
	one := rawExchange(t, s.addr(), "GET /one?x=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
	if r, err := http.Get(s.url("/fail")); err != nil || r.StatusCode != 500 {
		t.Fatalf("/fail: %v %v", r, err)
	}
	h2, _ := h2cClient(t)
	if r, err := h2.Get(s.url("/two")); err != nil || r.ProtoMajor != 2 {
		t.Fatalf("h2c: %v %v", r, err)
	}
	bad := rawExchange(t, s.addr(), "NOT HTTP\r\n\r\n")
	big := rawExchange(t, s.addr(), "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	long := rawExchange(t, s.addr(), "GET /"+strings.Repeat("a", 10000)+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if bad == 0 || long == 0 {
		t.Errorf("the answers to the bad requests: %d and %d bytes, want some", bad, long)
	}

	lines := readLines(t, filepath.Join(s.dir, "access.log"), 6)
	// The server log names the request a script failed, and its traceback
	// has only the script's frames.
	logs := s.waitLog(t, 5*time.Second, `msg="Lua script failed" loop=1 frontend=web method=GET path=/fail client=127.0.0.1:`)
	if strings.Contains(logs, "luaedge/") || !strings.Contains(logs, `stack traceback:\n\tapp.lua:4: in function`) {
		t.Errorf("the script error's traceback:\n%s", logs)
	}
	type want struct {
		server, status, bytes, term, req, cause string
	}
	// %B counts the response's head and body, as sent: the HTTP/2 head is
	// its HEADERS frame, more than the 6 bytes of body; the errors
	// luaedge answers itself count too, except the answer to a request
	// without a valid request line (<BADREQ>), 0 as in HAProxy.
	for i, w := range []want{
		{"<lua.hello>", "200", fmt.Sprint(one), "LR", "GET /one?x=1 HTTP/1.1", ""},
		{"<lua.hello>", "500", "", "IR", "GET /fail HTTP/1.1", "Lua: app.lua:4: the service failed"},
		{"<lua.hello>", "200", "", "LR", "GET /two HTTP/2.0", ""},
		{"<NOSRV>", "400", "0", "PR", "<BADREQ>", "http1: "},
		{"<NOSRV>", "413", fmt.Sprint(big), "PR", "POST /big HTTP/1.1", "content-length over limits.max_body"},
		{"<NOSRV>", "414", "0", "PR", "<BADREQ>", "request line too long"},
	} {
		m := httplogRE.FindStringSubmatch(lines[i])
		if m == nil {
			t.Errorf("line %d does not match the default format: %q", i, lines[i])
			continue
		}
		// A service's line is timed as HAProxy's of an applet: %Tw and
		// %Tc 0, %Tr until its head.
		timers := m[6] == "-1" && m[7] == "-1" && m[8] == "-1"
		if strings.HasPrefix(w.server, "<lua.") {
			timers = m[6] == "0" && m[7] == "0" && m[8] != "-1"
		}
		if m[2] != "web" || m[3] != "web" || m[4] != w.server || !timers {
			t.Errorf("line %d: frontend, backend/server or timers wrong: %q", i, lines[i])
		}
		if i == 2 {
			if n, _ := strconv.Atoi(m[11]); n <= 6+9 {
				t.Errorf("line %d: %s bytes, want the body and a HEADERS frame", i, m[11])
			}
		}
		if m[10] != w.status || (w.bytes != "" && m[11] != w.bytes) || m[12] != w.term || m[13] != w.req || !strings.Contains(m[14], w.cause) || (w.cause == "") != (m[14] == "") {
			t.Errorf("line %d: %q\nwant status %s, bytes %s, termination %s, request %q, cause %q", i, lines[i], w.status, w.bytes, w.term, w.req, w.cause)
		}
	}
}

// JSON and a custom format with variables a script set; the
// top-level access_log is the default of the frontends.
func TestAccessLogJSONAndCustom(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
access_log: {to: all.log, format: json}
frontends:
  - name: js
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: custom
    bind: ["127.0.0.1:@PORT2@"]
    http_request: [lua.tag]
    use_service: lua.hello
    access_log: {to: custom.log, format: "%ft %HM %HP %HQ %HV %ST %B %U %[var(txn.tag)] %[var(txn.user)] %[var(txn.none)] %{+Q}ER"}
  - name: quiet
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.hello
    access_log: off
`, map[string]string{"app.lua": accessLogLua})
	j1 := rawExchange(t, s.addr(), "POST /j?a=b HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\n12345")
	c1 := rawExchange(t, s.addrOf("2"), "GET /c?q=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
	f1 := rawExchange(t, s.addrOf("2"), "GET /fail HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
	if _, err := http.Get("http://" + s.addrOf("3") + "/"); err != nil {
		t.Fatal(err)
	}
	j := readLines(t, filepath.Join(s.dir, "all.log"), 1)
	var m map[string]any
	if err := json.Unmarshal([]byte(j[0]), &m); err != nil {
		t.Fatalf("%q: %v", j[0], err)
	}
	for k, v := range map[string]any{"client_ip": "127.0.0.1", "frontend": "js", "status": 200.0, "bytes_out": float64(j1), "bytes_in": 0.0,
		"termination": "LR", "method": "POST", "uri": "/j?a=b", "protocol": "HTTP/1.1", "t_queue": 0.0, "t_connect": 0.0, "server": "<lua.hello>"} {
		if m[k] != v {
			t.Errorf("json %s = %#v, want %#v (%s)", k, m[k], v, j[0])
		}
	}
	c := readLines(t, filepath.Join(s.dir, "custom.log"), 2)
	if want := fmt.Sprintf(`custom GET /c ?q=1 HTTP/1.1 200 %d 0 /c bob - "-"`, c1); c[0] != want {
		t.Errorf("custom line %q, want %q", c[0], want)
	}
	// A service that fails before its response started answers HAProxy's
	// 500 page: its bytes, head included, are logged.
	if want := fmt.Sprintf(`custom GET /fail  HTTP/1.1 500 %d 0 /fail bob - "Lua: app.lua:4: the service failed"`, f1); c[1] != want {
		t.Errorf("custom line %q, want %q", c[1], want)
	}
}

// A forwarded request names its backend and server, with the connect
// and response timers; a TCP session logs its bytes both ways.
func TestAccessLogProxyAndTCP(t *testing.T) {
	be := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		io.WriteString(w, "from the backend\n")
	})
	s := startServer(t, fmt.Sprintf(`workers: 1
lua:
  load: [app.lua]
frontends:
  - name: px
    bind: ["127.0.0.1:@PORT@"]
    default_backend: app
    access_log: {to: access.log}
  - name: tcp
    bind: ["127.0.0.1:@PORT2@"]
    mode: tcp
    use_service: lua.echo
    access_log: {to: tcp.log}
backends:
  - name: app
    servers:
      - {name: web1, address: "%s"}
`, be.addr), map[string]string{"app.lua": accessLogLua})
	n := rawExchange(t, s.addr(), "GET /p HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
	lines := readLines(t, filepath.Join(s.dir, "access.log"), 1)
	m := httplogRE.FindStringSubmatch(lines[0])
	if m == nil || m[2] != "px" || m[3] != "app" || m[4] != "web1" || m[6] != "0" || m[7] == "-1" || m[8] == "-1" || m[10] != "200" || m[11] != fmt.Sprint(n) || m[12] != "--" {
		t.Fatalf("proxied request's line: %q", lines[0])
	}
	var tc, tr, ta int
	fmt.Sscan(m[7]+" "+m[8]+" "+m[9], &tc, &tr, &ta)
	// The loop's clock is read once per event: a millisecond may be lost.
	if tr < 29 || ta < tc+tr {
		t.Errorf("timers Tc %d Tr %d Ta %d: the server took 30 ms", tc, tr, ta)
	}

	c, err := net.Dial("tcp", s.addrOf("2"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "echo:ping\n" {
		t.Fatalf("echo: %q", got)
	}
	tl := readLines(t, filepath.Join(s.dir, "tcp.log"), 1)
	// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Ta %B %U %ts
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] tcp tcp/<lua\.echo> 0/0/\d+ 10 5 --$`).MatchString(tl[0]) {
		t.Errorf("TCP session's line: %q", tl[0])
	}
}

// Syslog over UDP, RFC 5424, to a local listener.
func TestAccessLogSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := startServer(t, fmt.Sprintf(`workers: 1
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    access_log: {to: "syslog://%s", format: "%%HM %%HU %%ST"}
`, pc.LocalAddr()), map[string]string{"app.lua": accessLogLua})
	if _, err := http.Get(s.url("/sys")); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	// HAProxy's rfc5424 header: the local time, no host name unless
	// configured, a newline at the end.
	re := regexp.MustCompile(`^<134>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d - luaedge \d+ - - GET /sys 200\n$`)
	if !re.Match(buf[:n]) {
		t.Errorf("syslog message %q", buf[:n])
	}
}

// SIGUSR1 reopens the file: after a rotation, lines go to the new file.
func TestAccessLogReopen(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    access_log: {to: access.log, format: "%HU"}
`, map[string]string{"app.lua": accessLogLua})
	path := filepath.Join(s.dir, "access.log")
	if _, err := http.Get(s.url("/before")); err != nil {
		t.Fatal(err)
	}
	readLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, 5*time.Second, "SIGUSR1")
	// The writer reopens the file asynchronously: requests go on until one
	// lands in the new file; none is lost, none goes to the old one after.
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for {
		n++
		if _, err := http.Get(s.url(fmt.Sprintf("/after%d", n))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if b, _ := os.ReadFile(path); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new access.log after SIGUSR1")
		}
	}
	// Every line is written in time; the last ones may still be on their way.
	deadline = time.Now().Add(5 * time.Second)
	var old, cur []byte
	var all []string
	for {
		old, _ = os.ReadFile(path + ".1")
		cur, _ = os.ReadFile(path)
		all = strings.Split(strings.TrimSpace(string(old)+string(cur)), "\n")
		if len(all) >= n+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(all) != n+1 || all[0] != "/before" || !strings.HasPrefix(string(old), "/before\n") || all[n] != fmt.Sprintf("/after%d", n) {
		t.Errorf("lines across the rotation: old %q, new %q (%d requests after)", old, cur, n)
	}
	if s.exited() {
		t.Fatal("SIGUSR1 stopped the server")
	}
}

// A client too slow to send its request head gets a 408, logged with
// termination state cR and its cause.
func TestAccessLogTimeout(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    access_log: {to: access.log, format: "%ST %ts %{+Q}r %{+Q}ER"}
    timeouts: {http_request: 300ms}
`, map[string]string{"app.lua": accessLogLua})
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 408") {
		t.Fatalf("answer %q", got)
	}
	lines := readLines(t, filepath.Join(s.dir, "access.log"), 1)
	if want := `408 cR "<BADREQ>" "client timeout: request head (timeouts.http_request)"`; lines[0] != want {
		t.Errorf("line %q, want %q", lines[0], want)
	}
}

// %TR is the time the request's head took to arrive, from its first byte;
// %Ta and the date count from that byte too.
func TestAccessLogTR(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
    access_log: {to: access.log, format: "%TR %Ta %HP"}
`, map[string]string{"app.lua": accessLogLua})
	c := dialRaw(t, s.addr())
	start := time.Now()
	c.send("GET /slow HTTP/1.1\r\n")
	c.expectQuiet(200 * time.Millisecond) // the head is not complete
	c.send("host: x\r\n\r\n")
	c.readResponse("GET")
	took := time.Since(start)
	c.send("GET /fast HTTP/1.1\r\nhost: x\r\n\r\n")
	c.readResponse("GET")
	lines := readLines(t, filepath.Join(s.dir, "access.log"), 2)
	var tr, ta int
	var path string
	fmt.Sscan(lines[0], &tr, &ta, &path)
	if path != "/slow" || tr < 180 || tr > int(took.Milliseconds()) || ta < tr {
		t.Errorf("slow head: %q (it took %v)", lines[0], took)
	}
	fmt.Sscan(lines[1], &tr, &ta, &path)
	if path != "/fast" || tr > 50 {
		t.Errorf("fast head: %q", lines[1])
	}
}

// The answers luaedge writes itself (refusals, script failures, failed
// forwards, a deny) log the bytes sent, head and body, in %B, as HAProxy
// does: each is compared with what the client read; but the answer to a
// request without a valid request line logs 0, as HAProxy's.
func TestAccessLogErrorBytes(t *testing.T) {
	// A server that never answers (504), and one that answers garbage
	// (502).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { garbage.Close() })
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "NOT HTTP AT ALL\r\n\r\n")
			c.Close()
		}
	}()
	s := startServer(t, fmt.Sprintf(`workers: 1
lua:
  load: [errors.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    http_request: [lua.gate]
    on_error: fail
    routes:
      - {path_prefix: /down, backend: down}
      - {path_prefix: /silent, backend: silent}
      - {path_prefix: /garbage, backend: garbage}
    access_log: {to: errors.log, format: "%%ST %%B %%ts"}
    limits: {max_body: 100, max_request_line: 1KiB, max_headers: 5}
    timeouts: {http_request: 300ms}
backends:
  - name: down
    timeouts: {connect: 100ms} # the wait between its 3 retries
    servers: [{name: s, address: "127.0.0.1:1"}]
  - name: silent
    timeouts: {server: 300ms}
    servers: [{name: s, address: "%s"}]
  - name: garbage
    servers: [{name: s, address: "%s"}]
`, silent.Addr(), garbage.Addr()), map[string]string{"errors.lua": `
core.register_action("gate", { "http-req" }, function(txn)
	local p = txn.sf:path()
	if p == "/boom" then error("the action failed") end
	if p == "/deny" then txn:done({status = 403, body = "denied\n"}) end
end)
`})
	req := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
	}
	type want struct {
		status int
		term   string
		badReq bool // %B 0: <BADREQ>
	}
	var wants []want
	var got []int
	for _, c := range []struct {
		req string
		want
	}{
		{"NOT HTTP\r\n\r\n", want{400, "PR", true}},
		{"POST /big HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n", want{413, "PR", false}},
		{"GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nhost: x\r\n\r\n", want{414, "PR", true}},
		{"GET / HTTP/1.1\r\nhost: x\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\n\r\n", want{431, "PR", true}},
		{"GET / HTTP/1.1\r\nhost: x\r\n", want{408, "cR", true}}, // the head never ends
		{req("/boom"), want{500, "IR", false}},
		{req("/deny"), want{403, "--", false}},
		{req("/nowhere"), want{503, "SC", false}},
		{req("/down"), want{503, "SC", false}},    // connection refused, retries included
		{req("/garbage"), want{502, "PH", false}}, // as HAProxy: a head that is not HTTP
		{req("/silent"), want{504, "sH", false}},
	} {
		status, n := rawStatus(t, s.addr(), c.req)
		if status != c.status {
			t.Errorf("%.30q: status %d, want %d", c.req, status, c.status)
		}
		wants = append(wants, c.want)
		if c.badReq {
			if n == 0 {
				t.Errorf("%.30q: no answer", c.req)
			}
			n = 0
		}
		got = append(got, n)
	}
	lines := readLines(t, filepath.Join(s.dir, "errors.log"), len(wants))
	for i, w := range wants {
		if line := fmt.Sprintf("%d %d %s", w.status, got[i], w.term); lines[i] != line {
			t.Errorf("line %d: %q, want %q (the bytes the client read)", i, lines[i], line)
		}
	}
}
