package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// misbehaving is an HTTP/1.1 server that answers each request by its path
// and counts the attempts per path (a retry is another attempt).
type misbehaving struct {
	addr     string
	mu       sync.Mutex
	attempts map[string]int
	bodies   map[string][]string // the bodies each attempt got
	heads    chan string         // /slow: the head arrived, the body not yet read
}

func startMisbehaving(t *testing.T) *misbehaving {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	m := &misbehaving{addr: ln.Addr().String(), attempts: map[string]int{}, bodies: map[string][]string{}, heads: make(chan string, 8)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go m.serve(c)
		}
	}()
	return m
}

func (m *misbehaving) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts[path]
}

func (m *misbehaving) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	path := req.URL.Path
	if path == "/slow" {
		m.heads <- path
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.attempts[path]++
	n := m.attempts[path]
	m.bodies[path] = append(m.bodies[path], string(body))
	m.mu.Unlock()
	answer := func(status int, text string) {
		fmt.Fprintf(c, "HTTP/1.1 %d X\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s", status, len(text), text)
	}
	switch path {
	case "/close": // closes without a byte
	case "/cut": // closes in the middle of its head
		io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-len")
	case "/junk":
		io.WriteString(c, "garbage\r\n\r\n")
	case "/hang":
		io.Copy(io.Discard, c) // never answers
	case "/once": // 503, then 200 at the retry; and again
		if n%2 == 1 {
			answer(503, "busy")
			return
		}
		answer(200, fmt.Sprintf("attempt %d body=%s", n, body))
	default: // 503 with the attempt number
		answer(503, fmt.Sprintf("busy %d", n))
	}
}

// A backend with retry_on sends a request that went wrong after its
// connection opened again, up to retries (3) times, at once; the client
// gets the last attempt's answer: a server's status as it sent it, 502
// for a close before the head or a junk head, 504 for no answer within
// timeouts.server. Only a request that had arrived whole and fits in a
// buffer goes again. Another client on the same loop is answered while a
// request waits.
func TestRetryOn(t *testing.T) {
	m := startMisbehaving(t)
	s := edgetest.Start(t, `
workers: 1
shutdown_timeout: 3s
frontends:
  - name: fwd
    bind: ["@A@"]
    default_backend: all
    routes: [{path_prefix: /only503, backend: only503}]
  - name: svc
    bind: ["@B@"]
    use_service: lua.hello
backends:
  - name: all
    retry_on: [all-retryable-errors]
    timeouts: {server: 300ms}
    servers: [{name: s1, address: "`+m.addr+`"}]
  - name: only503
    retries: 1
    retry_on: [503]
    servers: [{name: s1, address: "`+m.addr+`"}]
`, proxyLua)

	do := func(t *testing.T, c *edgetest.Client, req string) (int, string) {
		t.Helper()
		c.Send(t, req)
		resp, body := readResponse(t, c, strings.Fields(req)[0])
		return resp.StatusCode, body
	}
	for _, tc := range []struct {
		path     string
		status   int
		body     string
		attempts int
	}{
		{"/once", 200, "attempt 2 body=", 2},
		{"/always", 503, "busy 4", 4}, // the last attempt's answer
		{"/close", 502, "", 4},
		{"/cut", 502, "", 4},
		{"/junk", 502, "", 4},
		{"/only503/x", 503, "busy 2", 2}, // retries: 1
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := s.Dial(t, "@A@")
			status, body := do(t, c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if status != tc.status || (tc.body != "" && body != tc.body) {
				t.Errorf("%d %q, want %d %q", status, body, tc.status, tc.body)
			}
			if n := m.count(tc.path); n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
		})
	}

	t.Run("timeout, another client meanwhile", func(t *testing.T) {
		c, other := s.Dial(t, "@A@"), s.Dial(t, "@B@")
		start := time.Now()
		c.Send(t, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := get(t, other, "/"); body != "served by lua" {
			t.Fatalf("the other client got %q", body)
		}
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("the other client waited %v", d)
		}
		resp, _ := readResponse(t, c, "GET")
		if resp.StatusCode != 504 {
			t.Errorf("/hang: %d, want 504", resp.StatusCode)
		}
		if d := time.Since(start); d < 4*300*time.Millisecond {
			t.Errorf("/hang answered after %v; want four timeouts.server", d)
		}
		if n := m.count("/hang"); n != 4 {
			t.Errorf("/hang: %d attempts, want 4", n)
		}
	})

	t.Run("a body goes again", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		status, body := do(t, c, "POST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		if status != 200 || body != "attempt 4 body=hello" {
			t.Errorf("%d %q, want the second attempt's 200 with the body", status, body)
		}
		status, body = do(t, c, "POST /once HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		if status != 200 || body != "attempt 6 body=abc" {
			t.Errorf("chunked: %d %q, want the 200 with the body", status, body)
		}
	})

	t.Run("a request larger than a buffer goes once", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		big := strings.Repeat("a", 16384)
		status, body := do(t, c, fmt.Sprintf("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(big), big))
		if status != 503 || body != "busy 1" || m.count("/big") != 1 {
			t.Errorf("%d %q after %d attempts; want the first 503", status, body, m.count("/big"))
		}
	})

	t.Run("a body not all there when the request left goes once", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe")
		<-m.heads
		c.Send(t, "llo")
		resp, body := readResponse(t, c, "POST")
		if resp.StatusCode != 503 || body != "busy 1" || m.count("/slow") != 1 {
			t.Errorf("%d %q after %d attempts; want the first 503", resp.StatusCode, body, m.count("/slow"))
		}
	})
}
