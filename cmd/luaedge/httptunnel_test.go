package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineServer speaks a line protocol: "echo: LINE" for each line, and on
// "bye" a last line and the close. A "slow" line is answered once
// release is closed, after held is.
type lineServer struct {
	addr          string
	held, release chan struct{}
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &lineServer{addr: ln.Addr().String(), held: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					switch line {
					case "bye":
						io.WriteString(c, "see you\n")
						return
					case "slow":
						once.Do(func() { close(s.held) })
						<-s.release
					}
					io.WriteString(c, "echo: "+line+"\n")
				}
			}()
		}
	}()
	return s
}

// socksServer is a SOCKS5 server (RFC 1928, RFC 1929) for CONNECT, with
// the credentials u:p when auth is set. It refuses port 1 (not allowed
// by its ruleset) and records the address type of each request.
type socksServer struct {
	addr  string
	auth  bool
	types chan byte // 1 IPv4, 3 a name, 4 IPv6
}

func startSocksServer(t *testing.T, auth bool) *socksServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &socksServer{addr: ln.Addr().String(), auth: auth, types: make(chan byte, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *socksServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil
		}
		return b
	}
	head := read(2)
	if head == nil || head[0] != 5 {
		return
	}
	methods := read(int(head[1]))
	want := byte(0)
	if s.auth {
		want = 2
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if s.auth {
		v := read(2)
		user := string(read(int(v[1])))
		plen := read(1)
		pass := string(read(int(plen[0])))
		if user != "u" || pass != "p" {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	req := read(4)
	if req == nil || req[1] != 1 {
		return
	}
	var host string
	switch req[3] {
	case 1:
		host = net.IP(read(4)).String()
	case 4:
		host = net.IP(read(16)).String()
	case 3:
		n := read(1)
		host = string(read(int(n[0])))
	}
	s.types <- req[3]
	port := binary.BigEndian.Uint16(read(2))
	if port == 1 {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	_ = c.SetDeadline(time.Time{})
	go func() { io.Copy(up, r); up.Close() }()
	io.Copy(c, up)
}

// tunnelLua: /connect?PROXYURI,TARGET[,VIA] speaks the line protocol over
// the tunnel of new_connect(PROXYURI, TARGET) (through request.proxy VIA
// if given); /get?URL,PROXY fetches URL through request.proxy PROXY;
// /ping answers pong.
const tunnelLua = `
local http_request = require "http.request"
local function reply(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end
core.register_service("tunnel", "http", function(applet)
	local a, b, c = applet.qs:match("^([^,]*),([^,]*),?(.*)$")
	if applet.path == "/ping" then return reply(applet, "pong") end
	if applet.path == "/get" then
		local req = http_request.new_from_uri(a)
		req.proxy = b
		req.sendname = "example.com"
		local h, st, errno = req:go(5)
		if not h then return reply(applet, "err:" .. tostring(errno) .. ":" .. tostring(st)) end
		return reply(applet, h:get(":status") .. " " .. st:get_body_as_string(5))
	end
	local req = http_request.new_connect(a, b)
	if c ~= "" then req.proxy = c end
	local h, st, errno = req:go(5)
	if not h then return reply(applet, "err:" .. tostring(errno) .. ":" .. tostring(st)) end
	local sock = st.connection:take_socket()
	if not sock then return reply(applet, h:get(":status") .. " no socket") end
	if st.connection:take_socket() ~= nil then return reply(applet, "taken twice") end
	sock:settimeout(5)
	local out = { h:get(":status") }
	for _, line in ipairs({ "hello", "slow" }) do
		assert(sock:send(line .. "\n"))
		out[#out + 1] = assert(sock:receive("*l"))
	end
	sock:send("bye\n")
	out[#out + 1] = sock:receive("*a")
	sock:close()
	reply(applet, table.concat(out, "|"))
end)
`

// A script's new_connect opens a tunnel through an HTTP proxy (clear, or
// over TLS to an https proxy, or itself through a SOCKS5 proxy) and
// speaks a line protocol over its socket; a proxy that refuses gives the
// script its answer or a clear error; request.proxy goes through https
// proxies (TLS inside TLS for an https server) and SOCKS5 proxies, who
// resolves the name depending on the scheme; and while a script waits on
// its tunnel the loop serves other clients.
func TestHTTPRequestTunnels(t *testing.T) {
	ts, ca := sniBackend(t)
	_, tlsPort, _ := net.SplitHostPort(ts.Listener.Addr().String())
	plain := startBackend(t, "", clientBackend)
	lines := startLineServer(t)
	px := startConnectProxy(t)
	tpx := &connectProxy{}
	tlsProxy := httptest.NewUnstartedServer(tpx.handler())
	tlsProxy.StartTLS() // httptest's certificate, which ca trusts too
	t.Cleanup(tlsProxy.Close)
	tpx.addr = tlsProxy.Listener.Addr().String()
	sx := startSocksServer(t, true)
	sxOpen := startSocksServer(t, false)

	s := startServer(t, `workers: 1
http_client: {ca_file: `+ca+`}
lua: {load: [tunnel.lua]}
frontends:
  - {name: tunnel, bind: ["127.0.0.1:@PORT@"], use_service: lua.tunnel}
`, map[string]string{"tunnel.lua": tunnelLua})
	c, _ := newClient(t)
	close(lines.release) // "slow" is answered at once but in the last case

	const talk = "echo: hello|echo: slow|see you\n"
	for _, tc := range []struct{ name, q, want string }{
		{"http proxy", "http://u:p@" + px.addr + "," + lines.addr, "200|" + talk},
		{"https proxy", "https://u:p@" + tpx.addr + "," + lines.addr, "200|" + talk},
		{"through socks5h", "http://u:p@" + px.addr + "," + lines.addr + ",socks5h://u:p@" + sx.addr, "200|" + talk},
		{"refused", "http://u:x@" + px.addr + "," + lines.addr, "407 no socket"},
	} {
		if _, body := get(t, c, s.url("/connect?"+tc.q)); body != tc.want {
			t.Fatalf("%s: %q, want %q\n%s", tc.name, body, tc.want, s.logs())
		}
	}
	if n := px.connects.Load(); n != 2 {
		t.Errorf("the HTTP proxy opened %d tunnels, want 2", n)
	}

	tlsTarget := "https://localhost:" + tlsPort + "/"
	plainTarget := "http://localhost:" + strings.Split(plain.addr, ":")[1] + "/proto"
	for _, tc := range []struct{ name, q, want string }{
		{"https proxy, https server", tlsTarget + ",https://u:p@" + tpx.addr, `200 HTTP/2.0 sni="example.com"`},
		{"https proxy, http server", plainTarget + ",https://u:p@" + tpx.addr, "200 HTTP/1.1"},
		{"https proxy refuses", tlsTarget + ",https://" + tpx.addr, "err:111:proxy 127.0.0.1 answered 407 to CONNECT localhost"},
		{"socks5h, https server", tlsTarget + ",socks5h://u:p@" + sx.addr, `200 HTTP/2.0 sni="example.com"`},
		{"socks5, http server", plainTarget + ",socks5://u:p@" + sx.addr, "200 HTTP/1.1"},
		{"socks5 without auth", plainTarget + ",socks5h://" + sxOpen.addr, "200 HTTP/1.1"},
		{"socks5 bad password", plainTarget + ",socks5h://u:x@" + sx.addr, "err:13:username_password_auth: Permission denied"},
		{"socks5 no acceptable method", plainTarget + ",socks5h://" + sx.addr, "err:84:socks:negotiate: unknown authentication method"},
		{"socks5 not allowed", "http://localhost:1/,socks5h://u:p@" + sx.addr, "err:13:socks:negotiate: remote error 2: connection not allowed by ruleset"},
	} {
		if _, body := get(t, c, s.url("/get?"+tc.q)); body != tc.want {
			t.Fatalf("%s: %q, want %q\n%s", tc.name, body, tc.want, s.logs())
		}
	}
	// socks5h sent the name (an address as one), socks5 the address
	// looked up here.
	var types []byte
	for len(sx.types) > 0 {
		types = append(types, <-sx.types)
	}
	if string(types) != string([]byte{1, 3, 1, 3}) {
		t.Errorf("address types sent to the SOCKS proxy: %v, want [1 3 1 3]", types)
	}

	// A script waiting on its tunnel holds nothing of the loop.
	slow := startLineServer(t)
	pending := getAsync(c, s.url("/connect?http://u:p@"+px.addr+","+slow.addr))
	select {
	case <-slow.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel's line never reached the server")
	}
	if _, body := get(t, c, s.url("/ping")); body != "pong" {
		t.Fatalf("another client while a tunnel waits: %q", body)
	}
	close(slow.release)
	select {
	case f := <-pending:
		if f.err != nil || f.body != "200|"+talk {
			t.Fatalf("the waiting tunnel: %q %v", f.body, f.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting tunnel never ended")
	}
}

// upgradeLua: /up?URL asks URL to switch to the "lines" protocol and
// speaks it over the socket take_socket gives; /ping answers pong.
const upgradeLua = `
local http_request = require "http.request"
local function reply(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", tostring(#body))
	applet:start_response()
	applet:send(body)
end
core.register_service("up", "http", function(applet)
	if applet.path == "/ping" then return reply(applet, "pong") end
	local req = http_request.new_from_uri(applet.qs)
	req.headers:upsert("connection", "upgrade")
	req.headers:upsert("upgrade", "lines")
	local h, st, errno = req:go(5)
	if not h then return reply(applet, "err:" .. tostring(errno) .. ":" .. tostring(st)) end
	local sock = st.connection:take_socket()
	if not sock then return reply(applet, h:get(":status") .. " no socket " .. st:get_body_as_string(5)) end
	sock:settimeout(5)
	assert(sock:send("hello\n"))
	local line = assert(sock:receive("*l"))
	sock:send("bye\n")
	local rest = sock:receive("*a")
	sock:close()
	reply(applet, h:get(":status") .. "|" .. h:get("upgrade") .. "|" .. line .. "|" .. rest)
end)
`

// A script's request with an Upgrade field that the server answers 101
// gets the connection as a socket (stream.connection:take_socket), and
// speaks the new protocol on it while the loop serves another client; a
// server that does not switch answers as usual, without a socket.
func TestHTTPRequestUpgradeSocket(t *testing.T) {
	needBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				if req.URL.Path == "/no" {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnope")
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: lines\r\nConnection: Upgrade\r\n\r\n")
				line, _ := r.ReadString('\n')
				close(held)
				<-release
				io.WriteString(c, "echo: "+line)
				if bye, _ := r.ReadString('\n'); bye == "bye\n" {
					io.WriteString(c, "see you\n")
				}
			}()
		}
	}()
	s := startServer(t, `workers: 1
lua: {load: [up.lua]}
frontends:
  - {name: up, bind: ["127.0.0.1:@PORT@"], use_service: lua.up}
`, map[string]string{"up.lua": upgradeLua})
	c, _ := newClient(t)
	got := make(chan string, 1)
	go func() {
		_, body := get(t, c, s.url("/up?http://"+ln.Addr().String()+"/up"))
		got <- body
	}()
	<-held // the script waits on its socket: another client is served
	if _, body := get(t, c, s.url("/ping")); body != "pong" {
		t.Errorf("/ping while a script waits on its socket: %q", body)
	}
	close(release)
	if body := <-got; body != "101|lines|echo: hello|see you\n" {
		t.Errorf("upgraded: %q\n%s", body, s.logs())
	}
	if _, body := get(t, c, s.url("/up?http://"+ln.Addr().String()+"/no")); body != "200 no socket nope" {
		t.Errorf("not upgraded: %q", body)
	}
}
