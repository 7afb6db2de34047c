package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The PROXY protocol accepted on a frontend (accept_proxy): the address
// the header carries is the client's for scripts and the access log.

const proxyProtoLua = `
core.register_service("who", "http", function(applet)
	local f = applet.f
	local body = string.format("src=%s sport=%s dst=%s dport=%s", f:src(), f:src_port(), f:dst(), f:dst_port())
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
core.register_service("whotcp", "tcp", function(applet)
	applet:send("src=" .. applet.f:src() .. " sport=" .. applet.f:src_port() .. "\n")
end)
`

// proxyV2 builds a version 2 header by hand (the test does not use the
// parser's own writer): PROXY over TCP from src to dst, with tlvs.
func proxyV2(t *testing.T, cmd byte, src, dst string, tlvs ...[]byte) []byte {
	t.Helper()
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	var addrs []byte
	fam := byte(0x00)
	if src != "" {
		s, d := net.ParseIP(strings.Split(src, "|")[0]), net.ParseIP(strings.Split(dst, "|")[0])
		var sp, dp int
		fmt.Sscan(strings.Split(src, "|")[1], &sp)
		fmt.Sscan(strings.Split(dst, "|")[1], &dp)
		if s.To4() != nil {
			fam = 0x11
			addrs = append(append(addrs, s.To4()...), d.To4()...)
		} else {
			fam = 0x21
			addrs = append(append(addrs, s.To16()...), d.To16()...)
		}
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(sp))
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(dp))
	}
	for _, tv := range tlvs {
		addrs = append(addrs, tv...)
	}
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return append(b, addrs...)
}

func startProxyProto(t *testing.T, extra string, files map[string]string) *server {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files["who.lua"] = proxyProtoLua
	return startServer(t, `workers: 1
shutdown_timeout: 5s
lua:
  load: [who.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.who
    accept_proxy: true
    timeouts: {proxy_header: 500ms}
    access_log: {to: access.log, format: "%ci:%cp %fi:%fp %ST %{+Q}r"}
  - name: tcp
    bind: ["127.0.0.1:@PORT2@"]
    mode: tcp
    use_service: lua.whotcp
    accept_proxy: true
    access_log: {to: tcp.log, format: "%ci:%cp %B", log_empty: true} # the client sends only the header
`+extra, files)
}

// sendWithHeader writes header then an HTTP/1.1 request on a new
// connection and returns the response's body ("" and the error if the
// connection gave none).
func sendWithHeader(t *testing.T, addr string, header []byte) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(append(header, "GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"...)); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestProxyProtocolAccept(t *testing.T) {
	s := startProxyProto(t, "", nil)
	port := s.ports[""]
	tlv := func(typ byte, v string) []byte {
		return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
	}
	for _, c := range []struct {
		name, want string
		header     []byte
	}{
		{"v1 TCP4", "src=192.0.2.1 sport=56324 dst=198.51.100.2 dport=443", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")},
		{"v1 TCP6", "src=2001:db8::1 sport=1 dst=2001:db8::2 dport=2", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")},
		{"v1 UNKNOWN", fmt.Sprintf("dst=127.0.0.1 dport=%d", port), []byte("PROXY UNKNOWN\r\n")},
		{"v2 inet", "src=203.0.113.7 sport=40000 dst=198.51.100.9 dport=8443", proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|8443")},
		{"v2 inet6 with TLVs", "src=2001:db8::7 sport=7 dst=2001:db8::8 dport=8", proxyV2(t, 1, "2001:db8::7|7", "2001:db8::8|8",
			tlv(0x02, "example.com"), tlv(0x20, "\x01\x00\x00\x00\x00"+string(tlv(0x21, "TLSv1.3"))), tlv(0xe1, "custom"))},
		{"v2 local", fmt.Sprintf("dst=127.0.0.1 dport=%d", port), proxyV2(t, 0, "", "")},
	} {
		body, err := sendWithHeader(t, s.addr(), c.header)
		if err != nil || !strings.Contains(body, c.want) {
			t.Errorf("%s: %q %v, want %q", c.name, body, err, c.want)
		}
	}
	lines := readLines(t, filepath.Join(s.dir, "access.log"), 6)
	for i, want := range []string{
		`192.0.2.1:56324 198.51.100.2:443 200 "GET /x HTTP/1.1"`,
		`2001:db8::1:1 2001:db8::2:2 200`,
		fmt.Sprintf(` 127.0.0.1:%d 200`, port),
		`203.0.113.7:40000 198.51.100.9:8443 200`,
		`2001:db8::7:7 2001:db8::8:8 200`,
		fmt.Sprintf(` 127.0.0.1:%d 200`, port),
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("access log line %d: %q, want %q", i+1, lines[i], want)
		}
	}

	// curl sends a v1 header with its own addresses.
	out, _, _ := curl(t, "--haproxy-protocol", s.url("/curl"))
	if !strings.HasPrefix(out, "src=127.0.0.1 sport=") || !strings.HasSuffix(out, fmt.Sprintf("dst=127.0.0.1 dport=%d", port)) {
		t.Errorf("curl --haproxy-protocol: %q", out)
	}

	// HTTP/2 with prior knowledge after the header.
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_, err = c.Write(proxyV2(t, 1, "192.0.2.44|4444", "192.0.2.45|4545"))
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, body := get(t, &http.Client{Transport: tr, Timeout: 5 * time.Second}, s.url("/h2"))
	if resp.ProtoMajor != 2 || body != "src=192.0.2.44 sport=4444 dst=192.0.2.45 dport=4545" {
		t.Errorf("HTTP/2: %s %q", resp.Proto, body)
	}

	// TCP mode: the header, then the stream's bytes.
	c, err := net.Dial("tcp", s.addrOf("2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("PROXY TCP4 192.0.2.9 192.0.2.10 999 1000\r\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "src=192.0.2.9 sport=999\n" {
		t.Errorf("tcp: %q %v", line, err)
	}
	c.Close()
	if l := readLines(t, filepath.Join(s.dir, "tcp.log"), 1); !strings.HasPrefix(l[0], "192.0.2.9:999 ") {
		t.Errorf("tcp log: %q", l[0])
	}
}

// A connection that does not start with a valid header, or not soon
// enough, is closed without an answer.
func TestProxyProtocolRefused(t *testing.T) {
	s := startProxyProto(t, "", nil)
	badCRC := proxyV2(t, 1, "192.0.2.1|1", "192.0.2.2|2", []byte{0x03, 0, 4, 1, 2, 3, 4})
	for name, header := range map[string][]byte{
		"no header":     nil,
		"bad v1":        []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 99999\r\n"),
		"wrong CRC32C":  badCRC,
		"v2 bad family": append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x21, 0x41, 0, 0),
	} {
		if body, err := sendWithHeader(t, s.addr(), header); err == nil {
			t.Errorf("%s: answered %q", name, body)
		}
	}
	c := dialRaw(t, s.addr())
	c.send("PROXY TCP4 192.0.2.1 ")
	start := time.Now()
	c.expectClosed(3 * time.Second)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("closed after %v, before timeouts.proxy_header", took)
	}
	if n := len(readLinesIfAny(filepath.Join(s.dir, "access.log"))); n != 0 {
		t.Errorf("%d access-log lines for refused connections", n)
	}
}

// readLinesIfAny returns the lines of the file at path, none if it does
// not exist.
func readLinesIfAny(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// PROXY header first, then the TLS handshake (as HAProxy's accept-proxy
// on an ssl bind).
func TestProxyProtocolTLS(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(time.Hour), "localhost")
	s := startProxyProto(t, `  - name: tls
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.who
    accept_proxy: true
    tls: {cert: c.pem, key: c.key}
`, map[string]string{"c.pem": cert.certPEM, "c.key": cert.keyPEM})
	roots := x509.NewCertPool()
	roots.AddCert(cert.leaf)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_, err = c.Write([]byte("PROXY TCP4 192.0.2.77 192.0.2.78 7777 443\r\n"))
			}
			return c, err
		},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		resp, body := get(t, &http.Client{Transport: tr, Timeout: 5 * time.Second}, "https://"+s.addrOf("3")+"/tls")
		if resp.TLS == nil || body != "src=192.0.2.77 sport=7777 dst=192.0.2.78 dport=443" {
			t.Errorf("over TLS (%s): %q", resp.Proto, body)
		}
	}
}

// HAProxy itself sends the header (send-proxy-v2) with the client address
// it set from a request header.
func TestProxyProtocolFromHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed")
	}
	s := startProxyProto(t, "", nil)
	haPort := freePort(t)
	cfg := fmt.Sprintf(`defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:%d
  http-request set-src hdr(x-client)
  default_backend be
backend be
  server le %s send-proxy-v2
`, haPort, s.addr())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg)
	out := startHAProxy(t, bin, dir, []string{fmt.Sprintf("127.0.0.1:%d", haPort)})
	url := fmt.Sprintf("http://127.0.0.1:%d/via-haproxy", haPort)
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("x-client", "203.0.113.50")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(string(body), "src=203.0.113.50 ") || !strings.Contains(string(body), fmt.Sprintf("dst=127.0.0.1 dport=%d", haPort)) {
				t.Fatalf("through HAProxy: %d %q", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not answer: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proxyBackend is a server that takes the PROXY protocol: each
// connection's header is recorded, then HTTP (or, for tcp, one line
// answered) is served; answers name the header.
type proxyBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	heads []string // each connection's header, in order
}

func startProxyBackend(t *testing.T, tcp bool) *proxyBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &proxyBackend{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c, tcp)
		}
	}()
	return b
}

// readProxyHeader reads a v1 line or a v2 header from r, as bytes.
func readProxyHeader(r *bufio.Reader) (string, error) {
	first, err := r.Peek(12)
	if err != nil {
		return "", err
	}
	if string(first) == "\r\n\r\n\x00\r\nQUIT\n" {
		fixed := make([]byte, 16)
		if _, err := io.ReadFull(r, fixed); err != nil {
			return "", err
		}
		rest := make([]byte, binary.BigEndian.Uint16(fixed[14:]))
		_, err := io.ReadFull(r, rest)
		return string(fixed) + string(rest), err
	}
	return r.ReadString('\n')
}

func (b *proxyBackend) serve(c net.Conn, tcp bool) {
	defer c.Close()
	r := bufio.NewReader(c)
	head, err := readProxyHeader(r)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.heads = append(b.heads, head)
	b.mu.Unlock()
	if tcp {
		line, _ := r.ReadString('\n')
		fmt.Fprintf(c, "backend got %q after %q\n", line, head)
		return
	}
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		body := fmt.Sprintf("%q", head)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(body), body)
	}
}

func (b *proxyBackend) headers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.heads...)
}

// v2Header describes a v2 header as "v2 PROXY src dst" or "v2 LOCAL".
func v2Header(h string) string {
	b := []byte(h)
	if len(b) < 16 || b[12]&0x0f == 0 {
		return "v2 LOCAL"
	}
	if b[13] == 0x11 && len(b) >= 28 {
		return fmt.Sprintf("v2 PROXY %s:%d %s:%d", net.IP(b[16:20]), binary.BigEndian.Uint16(b[24:26]), net.IP(b[20:24]), binary.BigEndian.Uint16(b[26:28]))
	}
	return fmt.Sprintf("v2 family %#x", b[13])
}

// send_proxy: each connection to the server starts with a header naming
// the client (the one an accept_proxy frontend was told of, passed on);
// such a connection serves one exchange; health checks send a header
// that names no client.
func TestProxyProtocolSend(t *testing.T) {
	v1 := startProxyBackend(t, false)
	v2 := startProxyBackend(t, false)
	tcp := startProxyBackend(t, true)
	s := startServer(t, fmt.Sprintf(`workers: 1
shutdown_timeout: 5s
frontends:
  - name: v1
    bind: ["127.0.0.1:@PORT@"]
    default_backend: v1
  - name: v2
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: v2
    accept_proxy: true
  - name: tcp
    bind: ["127.0.0.1:@PORT3@"]
    mode: tcp
    default_backend: tcp
backends:
  - name: v1
    send_proxy: v1
    servers: [{name: s, address: "%s"}]
  - name: v2
    check: {type: http, interval: 100ms}
    servers: [{name: s, address: "%s", send_proxy: v2}]
  - name: tcp
    send_proxy: v1
    servers: [{name: s, address: "%s"}]
`, v1.ln.Addr(), v2.ln.Addr(), tcp.ln.Addr()), nil)

	// Two requests on one client connection: two server connections.
	c := dialRaw(t, s.addr())
	for i := 0; i < 2; i++ {
		c.send("GET / HTTP/1.1\r\nhost: a\r\n\r\n")
		_, body := c.readResponse("GET")
		local := c.LocalAddr().(*net.TCPAddr)
		want := fmt.Sprintf("%q", fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", local.Port, s.ports[""]))
		if body != want {
			t.Errorf("v1 request %d: the server saw %s, want %s", i, body, want)
		}
	}
	if n := len(v1.headers()); n != 2 {
		t.Errorf("v1: %d server connections for 2 requests, want 2", n)
	}

	// The client an accept_proxy frontend was told of goes on.
	body, err := sendWithHeader(t, s.addrOf("2"), []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	fmt.Sscanf(body, "%q", &raw)
	if got := v2Header(raw); got != "v2 PROXY 192.0.2.1:56324 198.51.100.2:443" {
		t.Errorf("v2: the server saw %s", got)
	}
	// The health checks (every 100 ms) send a LOCAL header.
	deadline := time.Now().Add(5 * time.Second)
	for {
		local := 0
		for _, h := range v2.headers() {
			if v2Header(h) == "v2 LOCAL" {
				local++
			}
		}
		if local >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LOCAL header from the checks; headers: %q", v2.headers())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// TCP mode: the header, then the client's bytes.
	tc := dialRaw(t, s.addrOf("3"))
	tc.send("hello\n")
	line := tc.readUntil("\n")
	want := fmt.Sprintf("backend got %q after %q\n", "hello\n", fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", tc.LocalAddr().(*net.TCPAddr).Port, s.ports["3"]))
	if line != want {
		t.Errorf("tcp: %q, want %q", line, want)
	}
}
