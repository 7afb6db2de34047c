package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// AppletHTTP:add_trailer (a luaedge addition) sends trailer fields after a
// body framed in chunks; fields that may not be trailers are dropped, and
// the connection goes on with the next request.
func TestResponseTrailers(t *testing.T) {
	lua := `
core.register_service("t", "http", function(applet)
	applet:set_status(200)
	applet:add_trailer("x-checksum", "abc123")
	applet:add_trailer("content-type", "text/evil")
	applet:start_response()
	applet:send("part one, ")
	applet:send("part two")
end)
`
	s := startServer(t, `workers: 1
lua:
  load: [t.lua]
frontends:
  - name: t
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.t
`, map[string]string{"t.lua": lua})
	c, _ := newClient(t)
	for i := 0; i < 2; i++ {
		resp, err := c.Get(s.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "part one, part two" {
			t.Fatalf("body %q, %v", body, err)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
			t.Errorf("trailer x-checksum = %q (trailers %v)", got, resp.Trailer)
		}
		if got := resp.Trailer.Get("Content-Type"); got != "" || strings.Contains(resp.Header.Get("Content-Type"), "evil") {
			t.Errorf("a content-type trailer was sent: %q", got)
		}
	}
}

// Trailer fields cross the proxy both ways: those of a chunked request
// reach the server, those of a chunked response reach the client.
func TestProxyTrailers(t *testing.T) {
	be := startRawBackend(t, func(c net.Conn, req *http.Request) {
		got := req.Trailer.Get("X-Req-Sum")
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\nX-Saw: %s\r\n\r\n", got)
	})
	s := startServer(t, isolationConfig(be.addr, ""), map[string]string{"iso.lua": isolationLua})
	c := dialRaw(t, s.addr())
	c.send("POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Req-Sum: 7\r\n\r\n")
	resp, body := c.readResponse("POST")
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Saw") != "7" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
	// The connection goes on.
	c.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 {
		t.Fatalf("second request: %d", resp.StatusCode)
	}
}
