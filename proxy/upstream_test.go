package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// Forwarding to backends, in-process: a whole server on one loop (so that
// the clients of a test share it) forwards to a backend written here,
// which misbehaves on request.

// backend is an HTTP/1.1 server whose answers depend on the path.
type backend struct {
	addr    string
	conns   atomic.Int32  // connections accepted
	release chan struct{} // lets /apart send its body
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: ln.Addr().String(), release: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.conns.Add(1)
			go b.serve(c, n)
		}
	}()
	return b
}

func (b *backend) serve(c net.Conn, n int32) {
	defer c.Close()
	br := bufio.NewReader(c)
	for reqs := 1; ; reqs++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		answer := fmt.Sprintf("conn=%d %s %s body=%s", n, req.Method, req.URL.Path, body)
		switch req.URL.Path {
		case "/stray": // bytes past the framing: this connection must not be reused
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%sHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale", len(answer), answer)
		case "/chunked":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: x-hop\r\nx-hop: dropped\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(answer), answer)
		case "/apart": // the head, then the body once the test says so
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n", len(answer))
			<-b.release
			io.WriteString(c, answer)
		case "/drop": // as a server at its keep-alive timeout: a kept-alive connection closes unanswered
			if reqs > 1 {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(answer), answer)
		case "/hang":
			io.Copy(io.Discard, br) // never answers
			return
		case "/cut":
			io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
			return
		case "/close": // no length: the body ends with the connection
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n%s", answer)
			return
		default:
			if req.Method == "HEAD" {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
				continue
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-backend: yes\r\n\r\n%s", len(answer), answer)
		}
	}
}

const proxyLua = `
core.register_service("hello", "http", function(a)
	local body = "served by lua"
	a:set_status(200)
	a:add_header("content-length", #body)
	a:start_response()
	a:send(body)
end)
`

func startProxy(t *testing.T) (*edgetest.Server, *backend) {
	t.Helper()
	b := startBackend(t)
	s := edgetest.Start(t, `
workers: 1
shutdown_timeout: 3s
frontends:
  - name: fwd
    bind: ["@A@"]
    default_backend: be
    routes: [{path_prefix: /dead, backend: dead}]
  - name: svc
    bind: ["@B@"]
    use_service: lua.hello
backends:
  - name: be
    servers: [{name: s1, address: "`+b.addr+`"}]
    timeouts: {server: 400ms}
  - name: dead
    retries: 1
    timeouts: {connect: 100ms} # the wait before the retry
    servers: [{name: d1, address: "`+edgetest.FreeAddr(t)+`"}]
`, proxyLua)
	return s, b
}

func readResponse(t *testing.T, c *edgetest.Client, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.R, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body of a %d: %v (got %q)", resp.StatusCode, err, b)
	}
	return resp, string(b)
}

func get(t *testing.T, c *edgetest.Client, path string) (*http.Response, string) {
	t.Helper()
	c.Send(t, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	return readResponse(t, c, "GET")
}

func TestProxy(t *testing.T) {
	s, b := startProxy(t)

	// Sequential requests reuse one backend connection; an answer with
	// bytes past its framing is relayed exactly, and its connection is
	// closed, never reused for the next request.
	t.Run("reuse and stray bytes", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		base := b.conns.Load()
		for i := 0; i < 3; i++ {
			resp, body := get(t, c, "/a")
			want := fmt.Sprintf("conn=%d GET /a body=", base+1)
			if resp.StatusCode != 200 || body != want || resp.Header.Get("X-Backend") != "yes" {
				t.Fatalf("request %d: %d %q, want %q", i, resp.StatusCode, body, want)
			}
		}
		resp, body := get(t, c, "/stray")
		if want := fmt.Sprintf("conn=%d GET /stray body=", base+1); body != want {
			t.Fatalf("stray: %d %q, want %q", resp.StatusCode, body, want)
		}
		resp, body = get(t, c, "/a")
		if want := fmt.Sprintf("conn=%d GET /a body=", base+2); body != want {
			t.Fatalf("after stray bytes: %d %q, want %q on a new connection", resp.StatusCode, body, want)
		}
		if !strings.Contains(s.Log.String(), "past the end of its response") {
			t.Errorf("the stray bytes are not logged:\n%s", s.Log)
		}
	})

	// A kept-alive connection the server closes before answering: an
	// idempotent request without a body goes again on a new connection,
	// once; one with a body gets a 502. Another client of the loop gets
	// its own answers meanwhile.
	t.Run("reused connection closed unanswered", func(t *testing.T) {
		c, other := s.Dial(t, "@A@"), s.Dial(t, "@B@")
		base := b.conns.Load()
		resp, body := get(t, c, "/a")
		var first int32
		if _, err := fmt.Sscanf(body, "conn=%d ", &first); err != nil {
			t.Fatalf("first request: %q: %v", body, err)
		}
		fresh := max(first, base) + 1 // the connection the retry opens
		resp, body = get(t, c, "/drop")
		if want := fmt.Sprintf("conn=%d GET /drop body=", fresh); resp.StatusCode != 200 || body != want {
			t.Fatalf("GET on a connection closed unanswered: %d %q, want 200 %q", resp.StatusCode, body, want)
		}
		if _, body := get(t, other, "/"); body != "served by lua" {
			t.Fatalf("the other client got %q", body)
		}
		c.Send(t, "POST /drop HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
		if resp, _ := readResponse(t, c, "POST"); resp.StatusCode != 502 {
			t.Fatalf("POST on a connection closed unanswered: %d, want 502 (not sent twice)", resp.StatusCode)
		}
		if n := b.conns.Load(); n != fresh {
			t.Errorf("%d connections to the server, want %d: the POST went on the retry's connection, and not again", n, fresh)
		}
		if n := strings.Count(s.Log.String(), "sending the request again"); n != 1 {
			t.Errorf("%d retries logged, want 1:\n%s", n, s.Log)
		}
	})

	// A chunked request body goes out chunked; a chunked answer comes back
	// with the fields named by its connection field dropped.
	t.Run("chunked both ways", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
		c.Send(t, "2\r\nef\r\n0\r\n\r\n")
		resp, body := readResponse(t, c, "POST")
		if !strings.HasSuffix(body, "POST /chunked body=abcdef") || resp.Header.Get("X-Hop") != "" {
			t.Fatalf("got %d %q, x-hop %q", resp.StatusCode, body, resp.Header.Get("X-Hop"))
		}
	})

	// HEAD: the answer's length is kept, no body follows, and the
	// connections on both sides go on.
	t.Run("HEAD", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		c.Send(t, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, c, "HEAD")
		if resp.StatusCode != 200 || resp.ContentLength != 5 || body != "" {
			t.Fatalf("HEAD: %d length %d body %q", resp.StatusCode, resp.ContentLength, body)
		}
		if _, body := get(t, c, "/after-head"); !strings.HasSuffix(body, "GET /after-head body=") {
			t.Fatalf("after HEAD: %q", body)
		}
	})

	// A server that sends its head and its body apart: meanwhile another
	// client of the same loop is served, and gets nothing of the first
	// exchange; then the first client gets exactly its answer.
	t.Run("head and body apart", func(t *testing.T) {
		c1 := s.Dial(t, "@A@")
		c1.Send(t, "GET /apart HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c1.R, nil)
		if err != nil {
			t.Fatal(err)
		}
		c2 := s.Dial(t, "@B@")
		for i := 0; i < 3; i++ {
			c2.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if r2, body := readResponse(t, c2, "GET"); r2.StatusCode != 200 || body != "served by lua" {
				t.Fatalf("the other client got %d %q", r2.StatusCode, body)
			}
		}
		if n := c2.R.Buffered(); n != 0 {
			t.Fatalf("the other client has %d more bytes", n)
		}
		close(b.release)
		body, err := io.ReadAll(resp.Body)
		if err != nil || !strings.HasSuffix(string(body), "GET /apart body=") {
			t.Fatalf("body %q, %v", body, err)
		}
	})

	// A body delimited by the server's close is relayed whole, chunked to
	// an HTTP/1.1 client, whose connection goes on.
	t.Run("close-delimited answer", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		resp, body := get(t, c, "/close")
		if resp.StatusCode != 200 || !strings.HasSuffix(body, "GET /close body=") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if len(resp.TransferEncoding) != 1 || resp.Close {
			t.Fatalf("transfer-encoding %v close %v, want chunked on a kept connection", resp.TransferEncoding, resp.Close)
		}
		if _, body := get(t, c, "/next"); !strings.HasSuffix(body, "GET /next body=") {
			t.Fatalf("next request: %q", body)
		}
	})

	// Failures: nobody listening (503 once the retry failed too), no
	// answer in time (504), a server cut in the middle of its body (the
	// client is cut too).
	t.Run("failures", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		if resp, _ := get(t, c, "/dead"); resp.StatusCode != 503 {
			t.Fatalf("dead server: %d, want 503", resp.StatusCode)
		}
		c = s.Dial(t, "@A@")
		if resp, _ := get(t, c, "/hang"); resp.StatusCode != 504 {
			t.Fatalf("silent server: %d, want 504", resp.StatusCode)
		}
		c = s.Dial(t, "@A@")
		c.Send(t, "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c.R, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil || string(body) != "only this" {
			t.Fatalf("cut body: %q, %v; want the bytes sent and an error", body, err)
		}
	})
}
