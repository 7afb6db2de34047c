package tcp_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/luaedge/luaedge/edge/edgetest"
)

const tcpLua = `
-- Answers each line reversed until "quit" or the client's end.
core.register_service("lines", "tcp", function(applet)
	applet:send("ready\n")
	while true do
		local line = applet:getline()
		if line == nil or line == "" or line == "quit\n" then break end
		applet:send(line:sub(1, -2):reverse() .. "\n")
	end
	applet:send("bye\n")
end)

-- Wraps what the server sends first.
core.register_action("mark", { "tcp-res" }, function(txn)
	local first = txn.res:get()
	txn.res:send("<" .. first:upper() .. ">")
end)
`

// startEcho runs a TCP server that echoes what it receives.
func startEcho(t *testing.T) string {
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
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func readLine(t *testing.T, c *edgetest.Client) string {
	t.Helper()
	l, err := c.R.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

func expectEOF(t *testing.T, c *edgetest.Client) {
	t.Helper()
	if b, err := io.ReadAll(c.R); err != nil || len(b) != 0 {
		t.Fatalf("want the close; got %q, %v", b, err)
	}
}

func TestTCP(t *testing.T) {
	echo := startEcho(t)
	s := edgetest.Start(t, `
workers: 2
shutdown_timeout: 3s
frontends:
  - name: lines
    bind: ["@A@"]
    mode: tcp
    use_service: lua.lines
  - name: marked
    bind: ["@B@"]
    mode: tcp
    tcp_response: ["lua.mark"]
    default_backend: echo
  - name: idle
    bind: ["@C@"]
    mode: tcp
    use_service: lua.lines
    timeouts: {keep_alive: 300ms}
  - name: tunnel
    bind: ["@D@"]
    mode: tcp
    default_backend: echo
  - name: dead
    bind: ["@E@"]
    mode: tcp
    default_backend: dead
backends:
  - name: echo
    servers: [{name: e1, address: "`+echo+`"}]
  - name: dead
    retries: 0
    servers: [{name: d1, address: "`+edgetest.FreeAddr(t)+`"}]
`, tcpLua)

	// A service reads lines that arrive in pieces and answers each; it
	// ends the connection when it returns.
	t.Run("service", func(t *testing.T) {
		c := s.Dial(t, "@A@")
		if l := readLine(t, c); l != "ready\n" {
			t.Fatalf("greeting %q", l)
		}
		c.Send(t, "ab")
		c.Send(t, "c\nde")
		if l := readLine(t, c); l != "cba\n" {
			t.Fatalf("got %q", l)
		}
		c.Send(t, "f\nquit\nignored\n")
		if l := readLine(t, c); l != "fed\n" {
			t.Fatalf("got %q", l)
		}
		if l := readLine(t, c); l != "bye\n" {
			t.Fatalf("got %q", l)
		}
		expectEOF(t, c)
	})

	// A client that goes away while the script waits for its next line
	// ends the stream; the loops go on serving.
	t.Run("client gone", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			c := s.Dial(t, "@A@")
			readLine(t, c)
			c.Send(t, "xyz\nunfinished")
			if l := readLine(t, c); l != "zyx\n" {
				t.Fatalf("got %q", l)
			}
			c.Close()
		}
		c := s.Dial(t, "@A@")
		readLine(t, c)
		c.Send(t, "quit\n")
		if l := readLine(t, c); l != "bye\n" {
			t.Fatalf("after clients went away: %q", l)
		}
	})

	// A connection silent for keep_alive is closed.
	t.Run("idle timeout", func(t *testing.T) {
		c := s.Dial(t, "@C@")
		readLine(t, c)
		expectEOF(t, c)
	})

	// The tcp-response rules see the server's first bytes; what follows is
	// relayed as is.
	t.Run("tcp-response rules", func(t *testing.T) {
		c := s.Dial(t, "@B@")
		c.Send(t, "hello")
		got := make([]byte, len("<HELLO>"))
		if _, err := io.ReadFull(c.R, got); err != nil || string(got) != "<HELLO>" {
			t.Fatalf("first bytes %q, %v", got, err)
		}
		c.Send(t, "again")
		got = make([]byte, 5)
		if _, err := io.ReadFull(c.R, got); err != nil || string(got) != "again" {
			t.Fatalf("later bytes %q, %v", got, err)
		}
	})

	// A tunnel relays megabytes both ways, in order, while the client
	// writes and reads at once.
	t.Run("tunnel", func(t *testing.T) {
		c := s.Dial(t, "@D@")
		want := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstu\n"), 4<<20/32)
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(want)
			werr <- err
		}()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c.R, got); err != nil {
			t.Fatal(err)
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("the tunnel altered or reordered the bytes")
		}
		// The client closing ends the tunnel.
		if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		expectEOF(t, c)
	})

	// A tunnel whose server cannot be reached closes the client.
	t.Run("dead backend", func(t *testing.T) {
		c := s.Dial(t, "@E@")
		c.Send(t, "anyone?")
		expectEOF(t, c)
		if !strings.Contains(s.Log.String(), "TCP backend connection failed") {
			t.Errorf("the failure is not logged:\n%s", s.Log)
		}
	})
}

// On one loop, two clients of a line service interleaved and a tunnel
// whose server sends part of an answer and closes: each client gets only
// its own bytes, and the cut tunnel ends only its own client.
func TestTCPIsolationOnOneLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cut := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.WriteString(c, "partial")
				<-cut
				c.Close()
			}()
		}
	}()
	s := edgetest.Start(t, `
workers: 1
shutdown_timeout: 3s
frontends:
  - name: lines
    bind: ["@A@"]
    mode: tcp
    use_service: lua.lines
  - name: cut
    bind: ["@B@"]
    mode: tcp
    default_backend: cut
backends:
  - name: cut
    servers: [{name: c1, address: "`+ln.Addr().String()+`"}]
`, tcpLua)
	a := s.Dial(t, "@A@")
	b := s.Dial(t, "@A@")
	tun := s.Dial(t, "@B@")
	for _, c := range []*edgetest.Client{a, b} {
		if l := readLine(t, c); l != "ready\n" {
			t.Fatalf("greeting %q", l)
		}
	}
	got := make([]byte, len("partial"))
	if _, err := io.ReadFull(tun.R, got); err != nil || string(got) != "partial" {
		t.Fatalf("tunnel: %q, %v", got, err)
	}
	for i := 0; i < 10; i++ {
		a.Send(t, "abc\n")
		b.Send(t, "xyz\n")
		if i == 5 {
			close(cut)
			expectEOF(t, tun)
		}
		if l := readLine(t, b); l != "zyx\n" {
			t.Fatalf("client B got %q", l)
		}
		if l := readLine(t, a); l != "cba\n" {
			t.Fatalf("client A got %q", l)
		}
	}
	a.Close()
	b.Close()
}
