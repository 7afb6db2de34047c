package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// halfCloseLua is the scenario's services: an HTTP one answering its
// path, a TCP one that reads its client to the end and says how much
// came.
const halfCloseLua = `
core.register_service("hello", "http", function(applet)
  local body = "hello " .. applet.path
  applet:set_status(200)
  applet:add_header("content-length", #body)
  applet:start_response()
  applet:send(body)
end)
core.register_service("count", "tcp", function(applet)
  local all = applet:receive()
  applet:send("got " .. #(all or "") .. " bytes\n")
end)
`

// halfCloseAsk sends req on a new connection to addr, shuts its
// writing down (nc -N, socat) and reads until the server closes.
func halfCloseAsk(t *testing.T, addr, req string) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("reading the answer to %q: %v", abbrev(req), err)
	}
	return got
}

// halfCloseAnswers summarises the HTTP answers in raw: status, body
// length and digest of each, the fields that vary (date, server) left
// out.
func halfCloseAnswers(t *testing.T, raw []byte) string {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(string(raw)))
	var out []string
	for {
		if _, err := r.Peek(1); err == io.EOF {
			break
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			out = append(out, "junk: "+err.Error())
			break
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			out = append(out, "cut body: "+err.Error())
			break
		}
		out = append(out, fmt.Sprintf("%d %d %x", resp.StatusCode, len(body), sha256.Sum256(body)))
	}
	return strings.Join(out, ", ")
}

// A client that sends its request and then ends its side of the
// connection still gets its answer, as from HAProxy: a slow backend's
// large answer, a Lua service's;
// in TCP mode, the answer of a server that replies once its client
// ended, and of a Lua service that reads to the end. A server that ends
// its side first ends the session, as on HAProxy: its client gets what
// it sent, and what the client sends after reaches it no more. A second client on
// the same loop, served meanwhile, gets only its own.
func TestHAProxyCfgHalfClose(t *testing.T) {
	needBinary(t)
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // the client's end arrives first
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "slow "+r.URL.Path)
	}))
	t.Cleanup(slow.Close)
	// A TCP server that answers once its client ended.
	counter := serveTCP(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "server got %d bytes\n", n)
	})
	// A TCP server that talks first, ends its side, then reads its
	// client to the end (what it read goes to heard).
	heard := make(chan string, 1)
	banner := serveTCP(t, func(c net.Conn) {
		io.WriteString(c, "banner\n")
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		heard <- string(b)
	})
	sc := hcScenario{name: "half-close", made: map[string]string{"halfclose.lua": halfCloseLua}, cfg: `global
    nbthread 1
    stats socket @SOCK@ level admin
    lua-load halfclose.lua

defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend web
    mode http
    bind 127.0.0.1:@PORT@
    use_backend svc if { path_beg /svc }
    default_backend slow

backend slow
    mode http
    server s1 @SLOW@

backend svc
    mode http
    http-request use-service lua.hello

frontend tcpfe
    mode tcp
    bind 127.0.0.1:@PORTTCP@
    default_backend counter

backend counter
    mode tcp
    server c1 @COUNTER@

frontend tcpbanner
    mode tcp
    bind 127.0.0.1:@PORTBANNER@
    default_backend banner

backend banner
    mode tcp
    server b1 @BANNER@

frontend tcpsvc
    mode tcp
    bind 127.0.0.1:@PORTSVC@
    tcp-request content use-service lua.count
`}
	backends := map[string]string{"SLOW": slow.Listener.Addr().String(), "COUNTER": counter, "BANNER": banner}
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nhost: x\r\n\r\n" }
	stickBoth(t, sc, backends, func(addr func(string) string, _ func(string) string) []string {
		other := stickClient("127.0.0.2")
		var seen []string
		for _, reqs := range [][]string{{"/big"}, {"/svc/d"}} {
			done := make(chan []byte)
			go func() { done <- halfCloseAsk(t, addr(""), strings.Join(mapStrings(reqs, get), "")) }()
			if got := stickGet(t, other, addr(""), "/other"); got != "200 slow /other" {
				t.Errorf("the other client got %q", got)
			}
			seen = append(seen, strings.Join(reqs, " ")+" -> "+halfCloseAnswers(t, <-done))
		}
		seen = append(seen, "tcp proxied -> "+string(halfCloseAsk(t, addr("TCP"), strings.Repeat("x", 100000))))
		seen = append(seen, "tcp service -> "+string(halfCloseAsk(t, addr("SVC"), strings.Repeat("y", 5000))))
		seen = append(seen, "tcp server ends first -> "+halfCloseServerFirst(t, addr("BANNER"), heard))
		return seen
	})
}

// halfCloseServerFirst reads what the server behind addr sends until it
// ends its side, then sends on the same connection and ends its own: it
// returns what it read and what the server (heard) got.
func halfCloseServerFirst(t *testing.T, addr string, heard <-chan string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		return "read: " + err.Error()
	}
	if _, err := io.WriteString(c, "after the server's end"); err != nil {
		return fmt.Sprintf("got %q, then write: %v", got, err)
	}
	c.(*net.TCPConn).CloseWrite()
	select {
	case h := <-heard:
		return fmt.Sprintf("got %q, server heard %q", got, h)
	case <-time.After(10 * time.Second):
		return fmt.Sprintf("got %q, server heard nothing", got)
	}
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// Requests pipelined before the client's end are all answered, in order,
// then the connection closes, whether the server sends a head and its body
// apart or bytes past the body's length (dropped); an answer its server cut short is cut
// short for the client, whose connection closes. (HAProxy answers the first only, or all,
// depending on when the end reaches it.) A second client on the loop
// meanwhile gets its own answer.
func TestHalfClosePipelined(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		switch r.URL.Path {
		case "/apart": // the head, then the body a while later
			w.Header().Set("content-length", "5")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "apart")
			return
		case "/past": // bytes past the body's length
			c, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbodyEXTRA")
			c.Close()
			return
		}
		if r.URL.Path == "/cut" { // a close in the middle of the body
			w.Header().Set("content-length", "1000")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
			return
		}
		io.WriteString(w, "slow "+r.URL.Path)
	}))
	t.Cleanup(slow.Close)
	s := startServer(t, `workers: 1
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    default_backend: slow
backends:
  - name: slow
    servers: [{name: s1, address: "`+slow.Listener.Addr().String()+`"}]
`, nil)
	done := make(chan []byte)
	go func() {
		done <- halfCloseAsk(t, s.addr(), "GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /apart HTTP/1.1\r\nhost: x\r\n\r\nGET /past HTTP/1.1\r\nhost: x\r\n\r\nGET /c HTTP/1.1\r\nhost: x\r\n\r\n")
	}()
	if got := stickGet(t, stickClient("127.0.0.2"), s.addr(), "/other"); got != "200 slow /other" {
		t.Errorf("the other client got %q", got)
	}
	got := string(<-done)
	var bodies []string
	r := bufio.NewReader(strings.NewReader(got))
	for {
		if _, err := r.Peek(1); err == io.EOF {
			break
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("after %q: %v in %q", bodies, err, got)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
	}
	if want := []string{"slow /a", "apart", "body", "slow /c"}; strings.Join(bodies, "|") != strings.Join(want, "|") {
		t.Errorf("answers %q, want %q", bodies, want)
	}
	cut := halfCloseAsk(t, s.addr(), "GET /cut HTTP/1.1\r\nhost: x\r\n\r\nGET /after HTTP/1.1\r\nhost: x\r\n\r\n")
	if !strings.HasSuffix(string(cut), "\r\n\r\npartial") {
		t.Errorf("the cut answer: %q", cut)
	}
	if got := stickGet(t, stickClient("127.0.0.2"), s.addr(), "/other"); got != "200 slow /other" {
		t.Errorf("the other client, after: %q", got)
	}
}
