package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// The HTTP/1 connection, served in-process by a whole server (the
// invariants tag makes a connection that keeps output between two
// handlers panic).

const app = `
local function answer(a, status, body, fields)
	a:set_status(status)
	if body then a:add_header("content-length", #body) end
	for k, v in pairs(fields or {}) do a:add_header(k, v) end
	a:start_response()
	if body then a:send(body) end
end
local routes = {}
routes["/hello"] = function(a) answer(a, 200, "hello " .. a.method .. " " .. a.path .. "?" .. a.qs) end
routes["/echo"] = function(a)
	local body = a:receive()
	answer(a, 200, body, {["x-len"] = tostring(#body)})
end
-- No content-length: chunked on HTTP/1.1, until the close on HTTP/1.0.
routes["/stream"] = function(a)
	a:set_status(200)
	a:start_response()
	a:send("part1;")
	core.yield()
	a:send("part2")
end
-- 100 KB: written straight from the script's buffer.
routes["/big"] = function(a) answer(a, 200, string.rep("0123456789", 10000)) end
routes["/fail"] = function(a) error("boom") end
routes["/slow"] = function(a)
	core.msleep(tonumber(a.qs) or 10)
	answer(a, 200, "slow " .. a.qs)
end
core.register_service("app", "http", function(a)
	local f = routes[a.path]
	if f then return f(a) end
	answer(a, 404, "no route " .. a.path)
end)
`

const conf = `
workers: 2
shutdown_timeout: 3s
frontends:
  - name: main
    bind: ["@A@"]
    use_service: lua.app
  - name: strict
    bind: ["@B@"]
    use_service: lua.app
    limits: {max_body: 1024}
    timeouts: {http_request: 300ms, keep_alive: 400ms, body: 300ms}
`

// readResponse reads one response (for a HEAD request when head is set)
// and its body.
func readResponse(t *testing.T, c *edgetest.Client, head bool) (*http.Response, string) {
	t.Helper()
	var req *http.Request
	if head {
		req = &http.Request{Method: "HEAD"}
	}
	resp, err := http.ReadResponse(c.R, req)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

func expect(t *testing.T, resp *http.Response, body string, status int, want string) {
	t.Helper()
	if resp.StatusCode != status || body != want {
		t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, status, want)
	}
}

// expectEOF checks that the server closed the connection after what was
// read.
func expectEOF(t *testing.T, c *edgetest.Client) {
	t.Helper()
	if b, err := c.R.ReadByte(); err == nil {
		rest, _ := c.R.Peek(c.R.Buffered())
		t.Fatalf("bytes after the last response: %q", append([]byte{b}, rest...))
	} else if err != io.EOF && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("waiting for the close: %v", err)
	}
}

func TestHTTP1(t *testing.T) {
	s := edgetest.Start(t, conf, app)

	// Requests sent in one write are answered in order, bodies and all:
	// a body read by a script, a HEAD, a chunked answer, large answers.
	t.Run("pipelined", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "GET /hello?1 HTTP/1.1\r\nHost: x\r\n\r\n"+
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"+
			"HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /hello?2 HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?1")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "abcde")
		resp, body = readResponse(t, c, true)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != 100000 {
			t.Fatalf("HEAD: %d length %d body %q", resp.StatusCode, resp.ContentLength, body)
		}
		big := strings.Repeat("0123456789", 10000)
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, big)
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "part1;part2")
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("no-length answer on HTTP/1.1: transfer-encoding %v", resp.TransferEncoding)
		}
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, big)
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?2")
		if resp.Close {
			t.Fatal("keep-alive connection answered with connection: close")
		}
	})

	// A chunked request body, arriving in pieces, reaches the script whole;
	// the connection then serves the next request.
	t.Run("chunked body", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc")
		c.Send(t, "\r\n4;ext=1\r\ndefg\r\n")
		c.Send(t, "0\r\nX-Trailer: t\r\n\r\n")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "abcdefg")
		c.Send(t, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?")
	})

	// Lines ending in a bare LF, as HAProxy reads them: pipelined heads,
	// a chunked body in pieces, and a head past 1 KiB whose last empty line
	// arrives alone (the check for a complete head must see it).
	t.Run("bare LF line ends", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "\nGET /hello?1 HTTP/1.1\nHost: x\n\n"+
			"POST /echo HTTP/1.1\nHost: x\r\nTransfer-Encoding: chunked\n\n3\nabc")
		c.Send(t, "\n4;ext=1\ndefg\r\n")
		c.Send(t, "0\nX-Trailer: t\n\n")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?1")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "abcdefg")
		for _, end := range [][2]string{{"\n", "\n"}, {"\n\r", "\n"}, {"\r\n", "\n"}} {
			c.Send(t, "GET /hello?2 HTTP/1.1\nHost: x\nX-Pad: "+strings.Repeat("p", 1200)+end[0])
			c.Send(t, end[1])
			resp, body = readResponse(t, c, false)
			expect(t, resp, body, 200, "hello GET /hello?2")
		}
		c.Send(t, "GET /hello HTTP/1.1\nHost: x\nX: a\rb\n\n")
		resp, _ = readResponse(t, c, false)
		if resp.StatusCode != 400 || !resp.Close {
			t.Fatalf("bare CR: %d close %v, want 400 and a close", resp.StatusCode, resp.Close)
		}
		expectEOF(t, c)
	})

	// Expect: 100-continue gets the interim answer before the body is sent.
	t.Run("expect 100-continue", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		line, err := c.R.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("interim line %q, %v", line, err)
		}
		if blank, err := c.R.ReadString('\n'); err != nil || blank != "\r\n" {
			t.Fatalf("after the interim line: %q, %v", blank, err)
		}
		c.Send(t, "body")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "body")
	})

	// HTTP/1.0: closed after the answer unless keep-alive is asked for; an
	// answer without a length ends with the connection.
	t.Run("HTTP/1.0", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "GET /hello HTTP/1.0\r\n\r\n")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?")
		if resp.ProtoMinor != 0 || !resp.Close {
			t.Fatalf("HTTP/1.%d close %v, want HTTP/1.0 and a close", resp.ProtoMinor, resp.Close)
		}
		expectEOF(t, c)

		c = s.Dial(t, "@A@")
		c.Send(t, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?")
		if resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("connection: %q, want keep-alive", resp.Header.Get("Connection"))
		}
		c.Send(t, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "part1;part2")
		if resp.ContentLength != -1 || len(resp.TransferEncoding) != 0 || !resp.Close {
			t.Fatalf("HTTP/1.0 answer without length: length %d te %v close %v", resp.ContentLength, resp.TransferEncoding, resp.Close)
		}
		expectEOF(t, c)
	})

	// A script error is a 500 that keeps the connection.
	t.Run("script error", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, c, false)
		if resp.StatusCode != 500 || resp.Close || !strings.Contains(body, "500 Internal Server Error") {
			t.Fatalf("got %d close %v %q", resp.StatusCode, resp.Close, body)
		}
		c.Send(t, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body = readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?")
	})

	t.Run("bad request", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, "hello GET /hello?")
		resp, _ = readResponse(t, c, false)
		if resp.StatusCode != 400 || !resp.Close {
			t.Fatalf("garbage: %d close %v, want 400 and a close", resp.StatusCode, resp.Close)
		}
		expectEOF(t, c)
	})

	// Bodies over max_body are refused with 413, whether announced by
	// content-length or found while reading chunks.
	t.Run("max body", func(t *testing.T) {
		c := s.Dial(t, "@B@")
		c.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n")
		resp, _ := readResponse(t, c, false)
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("content-length over max_body: %d close %v", resp.StatusCode, resp.Close)
		}
		expectEOF(t, c)

		c = s.Dial(t, "@B@")
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 600, strings.Repeat("x", 600))
		c.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk+chunk)
		resp, _ = readResponse(t, c, false)
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("chunked body over max_body: %d close %v", resp.StatusCode, resp.Close)
		}
		expectEOF(t, c)

		// At the limit: served.
		c = s.Dial(t, "@B@")
		c.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n"+strings.Repeat("y", 1024))
		resp, body := readResponse(t, c, false)
		expect(t, resp, body, 200, strings.Repeat("y", 1024))
	})

	// The request head, body and keep-alive timeouts.
	t.Run("timeouts", func(t *testing.T) {
		head := s.Dial(t, "@B@")
		head.Send(t, "GET /hello HTTP/1.1\r\nHo")
		body := s.Dial(t, "@B@")
		body.Send(t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		idle := s.Dial(t, "@B@")
		idle.Send(t, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, b := readResponse(t, idle, false)
		expect(t, resp, b, 200, "hello GET /hello?")
		for name, c := range map[string]*edgetest.Client{"head": head, "body": body} {
			resp, _ := readResponse(t, c, false)
			if resp.StatusCode != 408 || !resp.Close {
				t.Fatalf("%s timeout: %d close %v, want 408", name, resp.StatusCode, resp.Close)
			}
			expectEOF(t, c)
		}
		expectEOF(t, idle) // closed with no answer after keep_alive
	})
}

// Many clients at once on both loops, each pipelining requests whose
// answers name them: no answer reaches another client, none is lost.
func TestHTTP1ConcurrentClients(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	const clients, requests = 16, 8
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	conns := make([]*edgetest.Client, clients)
	for i := range conns {
		conns[i] = s.Dial(t, "@A@")
	}
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := conns[i]
			var req strings.Builder
			for j := 0; j < requests; j++ {
				if j%3 == 1 {
					fmt.Fprintf(&req, "GET /slow?%d HTTP/1.1\r\nHost: x\r\n\r\n", 1+i%3)
					continue
				}
				fmt.Fprintf(&req, "GET /hello?c%dr%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j)
			}
			if _, err := c.Write([]byte(req.String())); err != nil {
				errs <- err.Error()
				return
			}
			br := bufio.NewReader(c)
			for j := 0; j < requests; j++ {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Sprintf("client %d response %d: %v", i, j, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("hello GET /hello?c%dr%d", i, j)
				if j%3 == 1 {
					want = fmt.Sprintf("slow %d", 1+i%3)
				}
				if string(b) != want {
					errs <- fmt.Sprintf("client %d response %d: %q, want %q", i, j, b, want)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
