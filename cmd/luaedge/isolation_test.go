package main

// Isolation: every path that writes to a client is checked with a second
// client on the same loop (workers: 1), against backends that misbehave.
// A response, or any part of one, must only ever reach the client that
// asked for it.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawBackend is a TCP server that speaks HTTP/1.1 by hand, so that it can
// break the protocol: each request read from a connection is passed to
// answer, which writes what it likes.
type rawBackend struct {
	ln    net.Listener
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func startRawBackend(t *testing.T, answer func(c net.Conn, req *http.Request)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln, addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					answer(c, req)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

// pathAnswer is a well-formed response that names the path it answers.
func pathAnswer(req *http.Request) string {
	body := "path=" + req.URL.Path
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

const isolationLua = `
core.register_service("own", "http", function(applet)
	local body = "own answer for " .. applet.path
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
core.register_action("stamp", { "http-res" }, function(txn)
	txn.http:res_set_header("x-stamped", "1")
end)
core.register_action("res_deny", { "http-res" }, function(txn) return act.DENY end)
core.register_action("res_error", { "http-res" }, function(txn) return act.ERROR end)
core.register_action("res_invalid", { "http-res" }, function(txn) return act.INVALID end)
core.register_action("res_fail", { "http-res" }, function(txn) error("broken response rule") end)
core.register_action("req_done", { "http-req" }, function(txn)
	txn.http:req_set_header("x-before-done", "1")
	core.done()
end)
`

// isolationConfig is one loop with a proxying frontend (@PORT@) and a Lua
// service on another frontend (@PORT2@).
func isolationConfig(backend, proxyRules string) string {
	return `workers: 1
log: {level: debug}
lua:
  load: [iso.lua]
frontends:
  - name: edge
    bind: ["127.0.0.1:@PORT@"]
` + proxyRules + `    default_backend: app
  - name: svc
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.own
backends:
  - name: app
    servers: [{name: s1, address: "` + backend + `"}]
`
}

// A backend sends its response head, and its body only later. The head
// must reach its own client at once, and nothing of it may reach a second
// client served on the same loop meanwhile.
func TestIsolationHeadAndBodyApart(t *testing.T) {
	for _, rules := range []string{"", "    http_response: [\"lua.stamp\"]\n"} {
		t.Run(fmt.Sprintf("rules=%q", strings.TrimSpace(rules)), func(t *testing.T) {
			release := make(chan struct{})
			be := startRawBackend(t, func(c net.Conn, req *http.Request) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: session=client-a\r\n\r\n")
				<-release
				_, _ = io.WriteString(c, "body-a")
			})
			s := startServer(t, isolationConfig(be.addr, rules), map[string]string{"iso.lua": isolationLua})
			a := dialRaw(t, s.addr())
			a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			_ = a.SetReadDeadline(time.Now().Add(3 * time.Second))
			head := a.readHead()
			if !strings.Contains(strings.ToLower(head), "set-cookie: session=client-a") {
				t.Fatalf("client A's head lacks its cookie: %q", head)
			}
			b := dialRaw(t, s.addrOf("2"))
			b.send("GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			got := b.readAll()
			if strings.Contains(got, "client-a") || !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "own answer for /b") {
				t.Fatalf("client B got %q", got)
			}
			close(release)
			if body := a.readUntil("body-a"); body != "body-a" {
				t.Fatalf("client A's body: %q", body)
			}
		})
	}
}

// A backend writes past its response's framing. Those bytes must never be
// taken for the response to another client: the pooled connection that
// holds them is closed, and three unrelated clients get their own answers.
func TestIsolationBytesPastFraming(t *testing.T) {
	cases := []struct {
		name, method, lie string
	}{
		{"body longer than content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokINJECTED"},
		{"two responses for one request", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
		{"body after 204", "GET", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
		{"body to HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
		{"empty line, then a response", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
		{"empty line written apart, then a response", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok|\n|HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
		{"excess written apart", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok|HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			written := make(chan struct{}, 1)
			be := startRawBackend(t, func(c net.Conn, req *http.Request) {
				if req.URL.Path != "/lie" {
					_, _ = io.WriteString(c, pathAnswer(req))
					return
				}
				// Each part is in luaedge's socket buffer when its write
				// returns (loopback).
				for _, part := range strings.Split(tc.lie, "|") {
					_, _ = io.WriteString(c, part)
				}
				written <- struct{}{}
			})
			for _, rules := range []string{"", "    http_response: [\"lua.stamp\"]\n"} {
				s := startServer(t, isolationConfig(be.addr, rules), map[string]string{"iso.lua": isolationLua})
				c := dialRaw(t, s.addr())
				c.send(tc.method + " /lie HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				c.readAll()
				<-written
				for i := 1; i <= 3; i++ {
					c := dialRaw(t, s.addr())
					path := fmt.Sprintf("/client%d", i)
					c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
					resp, body := c.readResponse("GET")
					if resp.StatusCode != 200 || body != "path="+path {
						t.Fatalf("rules %q: client %d got %d %q", rules, i, resp.StatusCode, body)
					}
				}
			}
		})
	}
}

// An http-response rule that answers instead of the backend (deny, error,
// invalid, a Lua error with on_error: fail) answers its own client at once,
// and the next client, on another connection to the same loop, gets the
// backend's answer. A Lua error with on_error: continue (the default, as
// HAProxy) lets the backend's response through.
func TestIsolationResponseRuleAnswers(t *testing.T) {
	be := startRawBackend(t, func(c net.Conn, req *http.Request) {
		_, _ = io.WriteString(c, pathAnswer(req))
	})
	for _, tc := range []struct{ action, onError, status string }{
		{"res_deny", "", "502"}, {"res_error", "", "500"}, {"res_invalid", "", "502"},
		{"res_fail", "fail", "500"}, {"res_fail", "continue", "200"},
	} {
		t.Run(tc.action+tc.onError, func(t *testing.T) {
			rules := "    http_response: [\"lua." + tc.action + "\"]\n"
			if tc.onError != "" {
				rules += "    on_error: " + tc.onError + "\n"
			}
			s := startServer(t, isolationConfig(be.addr, rules), map[string]string{"iso.lua": isolationLua})
			a := dialRaw(t, s.addr())
			_ = a.SetReadDeadline(time.Now().Add(3 * time.Second))
			a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, _ := a.readResponse("GET")
			if strconv.Itoa(resp.StatusCode) != tc.status {
				t.Fatalf("client A: status %d, want %s", resp.StatusCode, tc.status)
			}
			b := dialRaw(t, s.addrOf("2"))
			b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := b.readResponse("GET"); resp.StatusCode != 200 || body != "own answer for /b" {
				t.Fatalf("client B on the service: %d %q", resp.StatusCode, body)
			}
			c := dialRaw(t, s.addr())
			c.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := c.readResponse("GET"); strconv.Itoa(resp.StatusCode) != tc.status {
				t.Fatalf("client C through the rules: status %d, want %s", resp.StatusCode, tc.status)
			}
		})
	}
}

// core.done() in an http-request action ends the action; the transaction
// goes on, and a proxying frontend forwards the request.
func TestCoreDoneInActionForwards(t *testing.T) {
	be := startRawBackend(t, func(c net.Conn, req *http.Request) {
		body := "seen x-before-done=" + req.Header.Get("X-Before-Done")
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	s := startServer(t, isolationConfig(be.addr, "    http_request: [\"lua.req_done\"]\n"), map[string]string{"iso.lua": isolationLua})
	c := dialRaw(t, s.addr())
	c.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || body != "seen x-before-done=1" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

// vmRSS returns the server's current resident memory in bytes.
func vmRSS(t *testing.T, s *server) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A service that sends 100 MiB to a client that does not read is held
// back by the client's pace: the server buffers a few MiB at most, and
// the whole answer arrives once the client reads.
func TestServiceSendBackpressure(t *testing.T) {
	const size = 100 << 20
	lua := `
core.register_service("big", "http", function(applet)
	local chunk = string.rep("x", 65536)
	applet:set_status(200)
	applet:add_header("content-length", tostring(` + strconv.Itoa(size) + `))
	applet:start_response()
	for i = 1, ` + strconv.Itoa(size/65536) + ` do applet:send(chunk) end
	core.Info("big answer sent whole")
end)
`
	s := startServer(t, `workers: 1
log: {level: info}
lua:
  load: [big.lua]
frontends:
  - name: big
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.big
`, map[string]string{"big.lua": lua})
	base := vmRSS(t, s)
	c := dialRaw(t, s.addr())
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// The client does not read for a while: memory must stay flat.
	peak := base
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		if r := vmRSS(t, s); r > peak {
			peak = r
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.logs(), "big answer sent whole") {
		t.Fatalf("the service sent 100 MiB to a client that read nothing")
	}
	if grew := peak - base; grew > 16<<20 {
		t.Fatalf("RSS grew by %d MiB for a client that does not read", grew>>20)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
	s.waitLog(t, 5*time.Second, "big answer sent whole")
}

// A backend closes in the middle of a body framed by its length: its
// client's response is cut (the connection closes), a client served by a
// service on the same loop meanwhile gets its own answer, and the next
// proxied client gets a whole response on a new backend connection.
func TestIsolationBackendClosesMidBody(t *testing.T) {
	release := make(chan struct{})
	be := startRawBackend(t, func(c net.Conn, req *http.Request) {
		if req.URL.Path == "/cut" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part")
			<-release
			c.Close()
			return
		}
		_, _ = io.WriteString(c, pathAnswer(req))
	})
	s := startServer(t, isolationConfig(be.addr, ""), map[string]string{"iso.lua": isolationLua})
	a := dialRaw(t, s.addr())
	a.send("GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
	a.readHead()
	if got := a.readUntil("only-part"); got != "only-part" {
		t.Fatalf("client A's first bytes: %q", got)
	}
	b := dialRaw(t, s.addrOf("2"))
	b.send("GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if got := b.readAll(); strings.Contains(got, "only-part") || !strings.HasSuffix(got, "own answer for /b") {
		t.Fatalf("client B got %q", got)
	}
	close(release)
	a.expectClosed(3 * time.Second)
	c := dialRaw(t, s.addr())
	c.send("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || body != "path=/whole" {
		t.Fatalf("client C: %d %q", resp.StatusCode, body)
	}
}

// Two TCP clients piped to the same backend on one loop, their messages
// interleaved, each get back only their own bytes.
func TestIsolationTCPTunnels(t *testing.T) {
	echo := startTCPEcho(t)
	s := startServer(t, `workers: 1
frontends:
  - name: fwd
    bind: ["127.0.0.1:@PORT@"]
    mode: tcp
    default_backend: echo
backends:
  - name: echo
    servers: [{name: e1, address: "`+echo+`"}]
`, nil)
	a := dialRaw(t, s.addr())
	b := dialRaw(t, s.addr())
	for i := 0; i < 20; i++ {
		ma := fmt.Sprintf("client-a-%d\n", i)
		mb := fmt.Sprintf("client-b-%d\n", i)
		a.send(ma)
		b.send(mb)
		if got := b.readUntil("\n"); got != mb {
			t.Fatalf("client B got %q, want %q", got, mb)
		}
		if got := a.readUntil("\n"); got != ma {
			t.Fatalf("client A got %q, want %q", got, ma)
		}
	}
}

// A service that reads a request body slower than its client sends it
// holds the client back: the server buffers a few MiB at most, and the
// whole body arrives.
func TestRequestBodyBackpressure(t *testing.T) {
	const size = 48 << 20
	lua := `
core.register_service("slow", "http", function(applet)
	local total = 0
	while true do
		local d = applet:receive(65536)
		if d == "" then break end
		total = total + #d
		core.msleep(1)
	end
	local body = "got " .. total
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end)
`
	s := startServer(t, `workers: 1
lua:
  load: [slow.lua]
frontends:
  - name: slow
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.slow
    limits: {max_body: 1GiB}
    timeouts: {body: 30s}
`, map[string]string{"slow.lua": lua})
	base := vmRSS(t, s)
	c := dialRaw(t, s.addr())
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	peak := base
	done := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("b"), 1<<20)
		if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size); err != nil {
			done <- err
			return
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for sending := true; sending; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			sending = false
		case <-time.After(20 * time.Millisecond):
		}
		if r := vmRSS(t, s); r > peak {
			peak = r
		}
	}
	resp, body := c.readResponse("POST")
	if resp.StatusCode != 200 || body != fmt.Sprintf("got %d", size) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if grew := peak - base; grew > 16<<20 {
		t.Fatalf("RSS grew by %d MiB for a %d MiB body read slowly", grew>>20, size>>20)
	}
}
