package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestHAProxyCfgErrorKeepAlive: as HAProxy 2.6's, the error answers of a
// forward that failed (502 for a server that does not speak HTTP, 504
// for one that does not answer, 503 for one refusing connections or
// down) keep the client's keep-alive connection: the next request on it
// is answered, without a "connection: close" before. A second client on
// the same loop is answered in between, and a server that sends its head
// and body apart, bytes past its framing or closes mid-body leaves the
// clients after it their own answers.
func TestHAProxyCfgErrorKeepAlive(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	backends["GARBAGE"] = serveTCP(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			c.Write([]byte("not http\r\n\r\n"))
		}
	})
	backends["SILENT"] = serveTCP(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c) // until the proxy gives up
	})
	// LYING answers each request on its keep-alive connection: /apart
	// with its head and body apart, /past with bytes past its
	// Content-Length, /cut by closing mid-body.
	backends["LYING"] = serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			switch r.URL.Path {
			case "/apart":
				c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"))
				time.Sleep(50 * time.Millisecond)
				c.Write([]byte("hello"))
			case "/past":
				c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloINJECTED"))
			default:
				c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ncut short"))
				return
			}
		}
	})
	step := func(name, conn, path string, status int) hxStep {
		return hxStep{name: name, conn: conn, req: hxReq{Path: path}, want: hxWant{Status: status, AnyBody: true, Open: true}}
	}
	hcRunCompare(t, hcScenario{
		name: "error answers keep the connection",
		cfg: hcHTTPDefaults + `    timeout server 1s
    retries 0

frontend www
    bind 127.0.0.1:@PORT@
    use_backend garbage if { path /garbage }
    use_backend silent if { path /silent }
    use_backend closed if { path /closed }
    use_backend down if { path /down }
    use_backend lying if { path /apart } || { path /past } || { path /cut }
    default_backend app

backend garbage
    server s1 @GARBAGE@
backend silent
    server s1 @SILENT@
backend closed
    server s1 @CLOSED@
backend down
    server s1 @CLOSED@ check inter 100ms
backend lying
    server s1 @LYING@
backend app
    server app1 @APP@
`,
		steps: []hxStep{
			step("502", "a", "/garbage", 502),
			step("then 200 on the same connection", "a", "/ok", 200),
			step("another client", "b", "/ok", 200),
			step("504", "a", "/silent", 504),
			step("then 200 after the 504", "a", "/ok", 200),
			step("503: connection refused", "a", "/closed", 503),
			step("503: the server is down", "a", "/down", 503),
			step("then 200 after the 503s", "a", "/ok", 200),
			step("the other client still", "b", "/ok", 200),
			{name: "head and body apart", conn: "a", req: hxReq{Path: "/apart"}, want: hxWant{Status: 200, Body: "hello", Open: true}},
			{name: "bytes past the framing", conn: "a", req: hxReq{Path: "/past"}, want: hxWant{Status: 200, Body: "hello", Open: true}},
			{name: "the next client of that server: its own answer", conn: "c", req: hxReq{Path: "/apart"}, want: hxWant{Status: 200, Body: "hello", Open: true}},
			{name: "a close mid-body", conn: "b", req: hxReq{Path: "/cut"}, want: hxWant{Status: 200, Body: "cut short", Cut: true}},
			step("after it, the first client", "a", "/ok", 200),
			step("and the second, on a new connection", "b", "/ok", 200),
		},
	}, backends)
}

// TestHAProxyCfgAppletLength: applet.length is the Content-Length, or for
// a chunked body the bytes of it that had arrived, as HAProxy's.
func TestHAProxyCfgAppletLength(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	hcRunCompare(t, hcScenario{
		name: "applet.length",
		cfg: hcHTTPDefaults + `    option http-buffer-request

global
    lua-load length.lua

frontend www
    bind 127.0.0.1:@PORT@
    http-request use-service lua.length
`,
		made: map[string]string{"length.lua": `
core.register_service("length", "http", function(applet)
	local n = applet.length
	local body = tostring(n) .. " " .. (applet:receive() or "nil")
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`},
		steps: []hxStep{
			{name: "content-length", conn: "a", req: hxReq{Method: "POST", Path: "/", Body: "hello"}, want: hxWant{Status: 200, Body: "5 hello"}},
			{name: "chunked", conn: "a", req: hxReq{Method: "POST", Path: "/", Header: []string{"Transfer-Encoding: chunked"}, Body: "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"}, want: hxWant{Status: 200, Body: "8 helloabc"}},
			{name: "no body", conn: "b", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "0 "}},
		},
	}, backends)
}
