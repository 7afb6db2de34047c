package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

const tcpLua = `
-- A line protocol service: greets, then answers each line in upper case
-- until "quit".
core.register_service("upper", "tcp", function(applet)
	applet:send("hello " .. applet.f:src() .. "\n")
	while true do
		local line = applet:getline()
		if line == "" or line == "quit\n" then break end
		applet:send(line:upper())
	end
	applet:send("bye " .. tostring(applet:get_var("sess.tag")) .. "\n")
end)

-- A tcp-request action on the raw stream: it waits for the first line,
-- rewrites "PING" to "PONG" with Channel:set, or refuses "EVIL" with an
-- answer sent straight to the client; other input is passed on unread
-- with Channel:forward.
core.register_action("gate", { "tcp-req" }, function(txn)
	local line = txn.req:dup()
	txn:set_var("sess.tag", "gated")
	if line:find("^EVIL") then
		txn.res:send("denied\n")
		return act.DENY
	end
	if line:find("^PING") then
		txn.req:set("pong\n")
		return
	end
	txn.req:forward(txn.req:get_in_len())
end)

-- A tcp-response action tags what the server sends first.
core.register_action("tagres", { "tcp-res" }, function(txn)
	local first = txn.res:get()
	txn.res:send("[edge]" .. first)
end)
`

// startTCPEcho runs a TCP server that echoes what it receives.
func startTCPEcho(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// serveTCP runs a TCP server of the test: serve has each connection on a
// goroutine of its own, and the connection closes when it returns.
func serveTCP(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestTCPServiceAndChannelActions(t *testing.T) {
	echo := startTCPEcho(t)
	s := startServer(t, `workers: 2
lua: {load: [tcp.lua]}
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    mode: tcp
    tcp_request: ["lua.gate"]
    use_service: lua.upper
  - name: fwd
    bind: ["127.0.0.1:@PORT2@"]
    mode: tcp
    tcp_request: ["lua.gate"]
    tcp_response: ["lua.tagres"]
    default_backend: echo
backends:
  - name: echo
    servers: [{name: e1, address: "`+echo+`"}]
`, map[string]string{"tcp.lua": tcpLua})

	dial := func(addr string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	line := func(r *bufio.Reader) string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (got %q)\n%s", err, l, s.logs())
		}
		return l
	}

	// The service, behind the action: the rewritten first line reaches it.
	c, r := dial(s.addr())
	if _, err := c.Write([]byte("PING\n")); err != nil {
		t.Fatal(err)
	}
	if got := line(r); got != "hello 127.0.0.1\n" {
		t.Fatalf("greeting %q", got)
	}
	if got := line(r); got != "PONG\n" {
		t.Fatalf("rewritten first line: %q", got)
	}
	c.Write([]byte("abc\nquit\n"))
	if got := line(r); got != "ABC\n" {
		t.Fatalf("echo %q", got)
	}
	if got := line(r); got != "bye gated\n" {
		t.Fatalf("bye %q", got)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("want the connection closed after the service returned, got %v", err)
	}

	// A refused connection gets the action's answer, then is closed.
	c, r = dial(s.addr())
	c.Write([]byte("EVIL stuff\n"))
	if got := line(r); got != "denied\n" {
		t.Fatalf("refusal %q", got)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("want close after deny, got %v", err)
	}

	// Forwarding: forwarded bytes reach the server, the tcp-response rule
	// tags the first answer, the rest is piped both ways.
	c, r = dial(s.addrOf("2"))
	c.Write([]byte("first\n"))
	if got := line(r); got != "[edge]first\n" {
		t.Fatalf("first answer through the proxy: %q", got)
	}
	big := strings.Repeat("0123456789", 50000) + "\n"
	go c.Write([]byte(big))
	if got := line(r); got != big {
		t.Fatalf("piped %d bytes, got %d", len(big), len(got))
	}
}
