// tcp-request content rules that inspect the client's first bytes within
// tcp-request inspect-delay, as HAProxy 2.6 evaluates them: TLS
// passthrough routed by SNI and protocol detection, the same haproxy.cfg
// on both, the same servers, the same answers.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// peekedConn reads what a bufio.Reader peeked first.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// inspectServer is a backend named name that tells what reached it: a TLS
// handshake it completes ("name tls SNI"), a line of clear text ("name
// plain LINE"), or the start of a TLS record that never completes
// ("name partial N" after a second). Seeing the handshake through shows
// the bytes the proxy inspected reached it untouched.
func inspectServer(t *testing.T, name string, cert tls.Certificate) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		first, err := br.Peek(1)
		if err != nil {
			return
		}
		if first[0] != 0x16 {
			line, _ := br.ReadString('\n')
			fmt.Fprintf(c, "%s plain %s\n", name, strings.TrimSpace(line))
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if hdr, err := br.Peek(5); err != nil || len(hdr) < 5 {
			fmt.Fprintf(c, "%s partial %d\n", name, br.Buffered())
			return
		} else if _, err := br.Peek(5 + int(hdr[3])<<8 | int(hdr[4])); err != nil {
			fmt.Fprintf(c, "%s partial %d\n", name, br.Buffered())
			return
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var sni string
		tc := tls.Server(peekedConn{c, br}, &tls.Config{
			Certificates: []tls.Certificate{cert},
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				sni = h.ServerName
				return nil, nil
			},
		})
		if err := tc.Handshake(); err != nil {
			return
		}
		fmt.Fprintf(tc, "%s tls %s\n", name, sni)
		_ = tc.Close()
	})
}

// slowConn writes its first write in two parts, the second after pause.
type slowConn struct {
	net.Conn
	pause time.Duration
	done  bool
}

func (c *slowConn) Write(p []byte) (int, error) {
	if c.done || len(p) < 2 {
		return c.Conn.Write(p)
	}
	c.done = true
	n, err := c.Conn.Write(p[:len(p)/2])
	if err != nil {
		return n, err
	}
	time.Sleep(c.pause)
	m, err := c.Conn.Write(p[len(p)/2:])
	return n + m, err
}

// tlsAsk connects to addr, speaks TLS with server name sni (its first
// bytes in two parts pause apart, with a pause) and returns the line the
// server sends.
func tlsAsk(addr, sni string, pause time.Duration) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(8 * time.Second))
	var conn net.Conn = c
	if pause > 0 {
		conn = &slowConn{Conn: c, pause: pause}
	}
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// clearAsk connects to addr, sends parts (pause apart) and returns what
// comes back until the connection ends, and how long that took.
func clearAsk(addr string, pause time.Duration, parts ...string) (string, time.Duration) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error(), 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(8 * time.Second))
	for i, p := range parts {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := io.WriteString(c, p); err != nil {
			break
		}
	}
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		return string(b) + " error: " + err.Error(), time.Since(start)
	}
	return strings.TrimSpace(string(b)), time.Since(start)
}

func TestTCPRequestInspect(t *testing.T) {
	needBinary(t)
	tc := newTestCert(t, time.Now().Add(24*time.Hour), "a.example")
	cert, err := tls.X509KeyPair([]byte(tc.certPEM), []byte(tc.keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]string{}
	for _, name := range []string{"a", "b", "default", "ssh", "http"} {
		backends["BE_"+strings.ToUpper(name)] = inspectServer(t, name, cert)
	}
	sc := hcScenario{
		name: "tcp-request inspect-delay",
		cfg: `global
    nbthread 1

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend sni
    bind 127.0.0.1:@PORTsni@
    tcp-request inspect-delay 5s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend be_a if { req_ssl_sni -i a.example }
    use_backend be_b if { req.ssl_sni -m end .b.example } { req.ssl_alpn h2 } { req.ssl_ver 3.3 }
    default_backend be_default

frontend short
    bind 127.0.0.1:@PORTshort@
    tcp-request inspect-delay 400ms
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend be_a if { req_ssl_sni -i a.example }
    default_backend be_default

frontend tlsonly
    bind 127.0.0.1:@PORTtlsonly@
    tcp-request inspect-delay 5s
    tcp-request content reject unless { req.ssl_hello_type 1 }
    default_backend be_a

frontend proto
    bind 127.0.0.1:@PORTproto@
    tcp-request inspect-delay 5s
    acl is_ssh req.payload(0,7) -m str SSH-2.0
    acl is_http req.payload(0,3) -m bin 474554
    tcp-request content accept if is_ssh || is_http
    tcp-request content accept if { req.len ge 16 }
    use_backend be_ssh if is_ssh
    use_backend be_http if is_http
    default_backend be_default

backend be_a
    server s @BE_A@
backend be_b
    server s @BE_B@
backend be_default
    server s @BE_DEFAULT@
backend be_ssh
    server s @BE_SSH@
backend be_http
    server s @BE_HTTP@
`,
	}
	type result struct {
		got     string
		elapsed time.Duration
	}
	clientHelloStart := string([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03})
	cases := []struct {
		name string
		run  func(addr func(string) string) result
		want string
	}{
		{"sni a", func(addr func(string) string) result { return result{got: tlsAsk(addr("sni"), "a.example", 0)} }, "a tls a.example"},
		{"sni b", func(addr func(string) string) result { return result{got: tlsAsk(addr("sni"), "x.b.example", 0)} }, "b tls x.b.example"},
		{"sni other", func(addr func(string) string) result { return result{got: tlsAsk(addr("sni"), "c.example", 0)} }, "default tls c.example"},
		// The ClientHello in two parts 300ms apart: the rules wait.
		{"slow client", func(addr func(string) string) result {
			return result{got: tlsAsk(addr("sni"), "a.example", 300*time.Millisecond)}
		}, "a tls a.example"},
		// Not TLS: no hello, no name, the default backend.
		{"clear client", func(addr func(string) string) result {
			g, _ := clearAsk(addr("sni"), 0, "GET / HTTP/1.0\r\n\r\n")
			return result{got: g}
		}, "default plain GET / HTTP/1.0"},
		{"clear client rejected", func(addr func(string) string) result {
			g, _ := clearAsk(addr("tlsonly"), 0, "GET / HTTP/1.0\r\n\r\n")
			return result{got: g}
		}, ""},
		{"tls client accepted", func(addr func(string) string) result { return result{got: tlsAsk(addr("tlsonly"), "a.example", 0)} }, "a tls a.example"},
		// A hello that never completes: when the 400ms delay passes the
		// rules decide on what there is, and the bytes go on.
		{"delay expires", func(addr func(string) string) result {
			g, d := clearAsk(addr("short"), 0, clientHelloStart)
			return result{got: g, elapsed: d}
		}, "default partial 10"},
		{"ssh in two parts", func(addr func(string) string) result {
			g, _ := clearAsk(addr("proto"), 200*time.Millisecond, "SS", "H-2.0-client\r\n")
			return result{got: g}
		}, "ssh plain SSH-2.0-client"},
		{"http", func(addr func(string) string) result {
			g, _ := clearAsk(addr("proto"), 0, "GET /x HTTP/1.1\r\n\r\n")
			return result{got: g}
		}, "http plain GET /x HTTP/1.1"},
		{"other protocol", func(addr func(string) string) result {
			g, _ := clearAsk(addr("proto"), 200*time.Millisecond, "HELO", " mail.example.com\r\n")
			return result{got: g}
		}, "default plain HELO mail.example.com"},
	}
	got := map[string]map[string]result{}
	hcCheckBoth(t, sc, backends, func(who string, addr func(string) string) {
		got[who] = map[string]result{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		// All at once: the clients share the loop.
		for _, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.run(addr)
				mu.Lock()
				got[who][c.name] = r
				mu.Unlock()
			}()
		}
		wg.Wait()
	})
	for _, c := range cases {
		le := got["luaedge"][c.name]
		if le.got != c.want {
			t.Errorf("%s on luaedge: %q, want %q", c.name, le.got, c.want)
		}
		if ha, ok := got["haproxy"]; ok && ha[c.name].got != le.got {
			t.Errorf("%s: luaedge %q, haproxy %q", c.name, le.got, ha[c.name].got)
		}
	}
	// The delay, not the server's second, decided: 0.4s + 1s, far from 5s.
	if d := got["luaedge"]["delay expires"].elapsed; d < 1400*time.Millisecond || d > 3*time.Second {
		t.Errorf("delay expires: answered after %v", d)
	}
}
