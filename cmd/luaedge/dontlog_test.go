// End-to-end tests of the access log's lines for empty connections
// (option dontlognull) and of the termination states of failed
// exchanges, on luaedge and HAProxy 2.6 alike.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// dlServer is a backend of the test answering each connection with
// serve, which gets the request head's first line.
func dlServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	return serveTCP(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		serve(c)
	})
}

// dlBackends are the servers of the termination states: one closing in
// the middle of its body (SD), one never answering (sH), one stopping in
// the middle of its body (sD), one streaming until its client goes (CD),
// and a port nothing listens on (SC).
func dlBackends(t *testing.T) map[string]string {
	hold := func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Read(make([]byte, 1))
	}
	head := "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"
	b := hcBackends(t)
	b["CLOSEMID"] = dlServer(t, func(c net.Conn) { _, _ = c.Write([]byte(head)) })
	b["SLOW"] = dlServer(t, hold)
	b["SLOWBODY"] = dlServer(t, func(c net.Conn) { _, _ = c.Write([]byte(head)); hold(c) })
	b["STREAM"] = dlServer(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"))
		chunk := make([]byte, 16<<10)
		for i := 0; i < 2000; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b["REFUSED"] = ln.Addr().String()
	ln.Close()
	return b
}

// dlSame reports whether got and want hold the same lines, in any order.
func dlSame(got, want []string) bool {
	g, w := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	return strings.Join(g, "\n") == strings.Join(w, "\n")
}

// TestHAProxyCfgEmptyConnLog: without option dontlognull, a connection
// closed before its first byte logs 400 CR and one idle past timeout
// http-request is answered 408 and logs 408 cR; with it, neither logs
// (the 408 is still answered, after timeout http-request). A
// request head cut by the client's close logs 400 CR with or without it,
// and a keep-alive connection idle after its request logs nothing more.
// A second client on the same loop is served before and after.
func TestHAProxyCfgEmptyConnLog(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "empty connections",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    log-format "LOG %ST %ts %{+Q}r"
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout http-request 500ms
    timeout http-keep-alive 300ms

frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain string ok

frontend quiet
    bind 127.0.0.1:@PORTB@
    option dontlognull
    http-request return status 200 content-type text/plain string ok

frontend other
    bind 127.0.0.1:@PORTC@
    option dontlognull
    timeout http-keep-alive 10s
    http-request return status 200 content-type text/plain string ok
`,
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		other := hxDial(t, addr("C"))
		defer other.close()
		hxCheck(t, who+": the other client, before", other.do(hxReq{Path: "/before"}), hxWant{Status: 200, Body: "ok"})
		for _, front := range []string{"", "B"} {
			// Closed before its first byte.
			c, err := net.Dial("tcp", addr(front))
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			// Idle past timeout http-request (not the shorter
			// http-keep-alive): answered 408, logged only without
			// dontlognull.
			start := time.Now()
			got, err := hcRaw(addr(front), "", 3*time.Second)
			if err != nil || !strings.HasPrefix(got, "HTTP/1.1 408 ") {
				t.Errorf("%s %q: an idle connection's answer: %q, %v; want a 408", who, front, got, err)
			}
			if d := time.Since(start); d < 450*time.Millisecond {
				t.Errorf("%s %q: the 408 came after %v; want timeout http-request's 500ms", who, front, d)
			}
			// A head cut by the client's close.
			c, err = net.Dial("tcp", addr(front))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("GET /cut HTTP/1.1\r\n"))
			time.Sleep(100 * time.Millisecond) // the line arrives alone, then the close
			c.Close()
			// Idle after a first request, past timeout http-keep-alive.
			got, err = hcRaw(addr(front), "GET /ka HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
			if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 ") {
				t.Errorf("%s: keep-alive: %q, %v", who, got, err)
			}
		}
		hxCheck(t, who+": the other client, after", other.do(hxReq{Path: "/after"}), hxWant{Status: 200, Body: "ok"})
		want := []string{
			`<134> LOG 200 LR "GET /before HTTP/1.1"`,
			`<134> LOG 400 CR "<BADREQ>"`,
			`<134> LOG 408 cR "<BADREQ>"`,
			`<134> LOG 400 CR "<BADREQ>"`,
			`<134> LOG 200 LR "GET /ka HTTP/1.1"`,
			`<134> LOG 400 CR "<BADREQ>"`,
			`<134> LOG 200 LR "GET /ka HTTP/1.1"`,
			`<134> LOG 200 LR "GET /after HTTP/1.1"`,
		}
		syslog.take(0, len(want))
		time.Sleep(300 * time.Millisecond) // nothing more comes
		got := syslog.take(0, syslog.count())
		// From the first request on: HAProxy's start-up probe is an empty
		// connection of its own.
		for len(got) > 0 && !strings.Contains(got[0], "/before") {
			got = got[1:]
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestHAProxyCfgTermStates: the termination states of a redirect (LR),
// an http-response deny (PH), a server closing in its body (SD), server
// timeouts before the head and in the body (sH, sD), a refused connection
// (SC), a queue timeout (sQ) and a client going in the body (CD) are
// HAProxy's; meanwhile a second client on the same loop is served at
// once.
func TestHAProxyCfgTermStates(t *testing.T) {
	needBinary(t)
	backends := dlBackends(t)
	sc := hcScenario{
		name: "termination states",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    option dontlognull
    log-format "LOG %ts %{+Q}r"
    timeout connect 1s
    timeout client 10s
    timeout server 1s

frontend www
    bind 127.0.0.1:@PORT@
    http-request redirect location /x if { path /redir }
    http-request set-var(txn.rdeny) bool(true) if { path /rdeny }
    http-response deny if { var(txn.rdeny) -m bool }
    http-request return status 200 content-type text/plain string ok if { path /other }
    use_backend closemid if { path /closemid }
    use_backend slow if { path /slow }
    use_backend slowbody if { path /slowbody }
    use_backend stream if { path /stream }
    use_backend refused if { path /refused }
    use_backend queue if { path_beg /queue }
    default_backend app

backend app
    server s1 @APP@
backend closemid
    server s1 @CLOSEMID@
backend slow
    server s1 @SLOW@
backend slowbody
    server s1 @SLOWBODY@
backend stream
    server s1 @STREAM@
backend refused
    server s1 @REFUSED@
backend queue
    timeout queue 300ms
    server s1 @SLOW@ maxconn 1
`,
	}
	cases := []struct{ path, status, line string }{
		{"/redir", "302", `LR "GET /redir HTTP/1.1"`},
		{"/rdeny", "502", `PH "GET /rdeny HTTP/1.1"`},
		{"/closemid", "200", `SD "GET /closemid HTTP/1.1"`},
		{"/slow", "504", `sH "GET /slow HTTP/1.1"`},
		{"/slowbody", "200", `sD "GET /slowbody HTTP/1.1"`},
		{"/refused", "503", `SC "GET /refused HTTP/1.1"`}, // after the retries
		{"/queue1", "504", `sH "GET /queue1 HTTP/1.1"`},
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		var wg sync.WaitGroup
		for _, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := hcRaw(addr(""), "GET "+c.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 8*time.Second)
				if err != nil || !strings.HasPrefix(got, "HTTP/1.1 "+c.status) {
					t.Errorf("%s: %s: %.60q, %v; want a %s", who, c.path, got, err, c.status)
				}
			}()
		}
		// The second request of the queue waits behind the first.
		time.Sleep(100 * time.Millisecond)
		if got, err := hcRaw(addr(""), "GET /queue2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); err != nil || !strings.HasPrefix(got, "HTTP/1.1 503 ") {
			t.Errorf("%s: /queue2: %.60q, %v; want a 503", who, got, err)
		}
		// A client going while its body streams.
		c, err := net.Dial("tcp", addr(""))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, err := c.Read(make([]byte, 100)); err != nil {
			t.Errorf("%s: /stream: %v", who, err)
		}
		c.Close()
		// The other client is answered while the slow ones wait.
		start := time.Now()
		if got, err := hcRaw(addr(""), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); err != nil || !strings.HasSuffix(got, "ok") {
			t.Errorf("%s: the other client: %q, %v", who, got, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%s: the other client waited %v", who, d)
		}
		wg.Wait()
		want := []string{`<134> LOG sQ "GET /queue2 HTTP/1.1"`, `<134> LOG CD "GET /stream HTTP/1.1"`, `<134> LOG LR "GET /other HTTP/1.1"`}
		for _, c := range cases {
			want = append(want, "<134> LOG "+c.line)
		}
		if got := syslog.take(0, len(want)); !dlSame(got, want) {
			t.Errorf("%s's messages:\n%s\nwant, in any order:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestHAProxyCfgBadRequestLog: the line of a request without a valid
// request line (a bad request line, a bad header, a head cut by the
// client, a connection idle past timeout http-request) has HAProxy's
// fields: %B 0 though an answer was sent, %TR and %Tq -1, and <BADREQ>
// for each part of the request line; a good request on a second client of
// the same loop keeps its own, before and after.
func TestHAProxyCfgBadRequestLog(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "bad requests",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    log-format "LOG %ST %B %TR/%Tq %ts [%HM] [%HU] [%HP] [%HQ] [%HV] %{+Q}r"
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout http-request 500ms
    timeout http-keep-alive 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain string ok
`,
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		other := hxDial(t, addr(""))
		defer other.close()
		hxCheck(t, who+": the other client, before", other.do(hxReq{Path: "/before?x=1"}), hxWant{Status: 200, Body: "ok"})
		for _, req := range []string{"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n", ""} {
			got, err := hcRaw(addr(""), req, 3*time.Second)
			want := "HTTP/1.1 400 "
			if !strings.HasSuffix(req, "\r\n\r\n") {
				want = "HTTP/1.1 408 "
			}
			if err != nil || !strings.HasPrefix(got, want) {
				t.Errorf("%s: %q: %.40q, %v; want %q", who, req, got, err, want)
			}
		}
		c, err := net.Dial("tcp", addr(""))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GET /cut HTTP/1.1\r\n"))
		time.Sleep(100 * time.Millisecond) // the line arrives alone, then the close
		c.Close()
		hxCheck(t, who+": the other client, after", other.do(hxReq{Path: "/after"}), hxWant{Status: 200, Body: "ok"})
		bad := `LOG %s 0 -1/-1 %s [<BADREQ>] [<BADREQ>] [<BADREQ>] [<BADREQ>] [<BADREQ>] "<BADREQ>"`
		want := []string{
			`<134> LOG 200 %B 0/%Tq LR [GET] [/before?x=1] [/before] [?x=1] [HTTP/1.1] "GET /before?x=1 HTTP/1.1"`,
			"<134> " + fmt.Sprintf(bad, "400", "PR"),
			"<134> " + fmt.Sprintf(bad, "400", "PR"),
			"<134> " + fmt.Sprintf(bad, "408", "cR"),
			"<134> " + fmt.Sprintf(bad, "408", "cR"),
			"<134> " + fmt.Sprintf(bad, "400", "CR"),
			`<134> LOG 200 %B 0/%Tq LR [GET] [/after] [/after] [] [HTTP/1.1] "GET /after HTTP/1.1"`,
		}
		syslog.take(0, len(want)+1)
		got := syslog.take(0, syslog.count())
		for len(got) > 0 && !strings.Contains(got[0], "/before") {
			got = got[1:] // HAProxy's start-up probe
		}
		// The good requests' %B and %Tq (the idle time before them, in
		// HAProxy's) are their own; the pattern stands for them.
		num := regexp.MustCompile(`^(<134> LOG 200 )\d+ 0/\d+ `)
		for i := range got {
			got[i] = num.ReplaceAllString(got[i], "${1}%B 0/%Tq ")
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestHAProxyCfgEmptyTCPLog: a TCP session is logged when it ends, with
// HAProxy's termination state: -- for one its client closed (sent
// nothing, or talked), SC for one whose server refused; with option
// dontlognull, a session whose client sent nothing is not logged (empty,
// or refused), one that talked is. A second client of the same loop keeps
// its session open throughout, served before and after.
func TestHAProxyCfgEmptyTCPLog(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	backends["ECHO"] = startTCPEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backends["REFUSED"] = ln.Addr().String()
	ln.Close()
	sc := hcScenario{
		name: "empty TCP sessions",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode tcp
    log global
    log-format "LOG %ft %b/%s %B %U %ts"
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    retries 0

frontend loud
    bind 127.0.0.1:@PORT@
    default_backend echo

frontend quiet
    bind 127.0.0.1:@PORTB@
    option dontlognull
    default_backend echo

frontend loudref
    bind 127.0.0.1:@PORTC@
    default_backend refused

frontend quietref
    bind 127.0.0.1:@PORTD@
    option dontlognull
    default_backend refused2

backend echo
    server s1 @ECHO@

backend refused
    server s1 @REFUSED@

backend refused2
    server s1 @REFUSED@
`,
	}
	// talk sends msg on c and reads its echo.
	talk := func(who string, c net.Conn, msg string) {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Errorf("%s: %v", who, err)
			return
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Errorf("%s: the echo: %q, %v; want %q", who, buf, err, msg)
		}
	}
	dial := func(addr string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		mark := dial(addr(""))
		talk(who+": the first session", mark, "mark\n")
		mark.Close()
		other := dial(addr(""))
		talk(who+": the other client, before", other, "before\n")
		for _, front := range []string{"", "B"} {
			// Closed without a byte.
			dial(addr(front)).Close()
			// A session that talked.
			c := dial(addr(front))
			talk(who+": "+front, c, "hello\n")
			c.Close()
		}
		for _, front := range []string{"C", "D"} {
			// The server refuses: the client is closed, with nothing.
			c := dial(addr(front))
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("%s: %s: read %d, %v; want the close", who, front, n, err)
			}
			c.Close()
		}
		talk(who+": the other client, after", other, "after\n")
		other.Close()
		want := []string{
			"<134> LOG loud echo/s1 5 5 --",
			"<134> LOG loud echo/s1 0 0 --",
			"<134> LOG loud echo/s1 6 6 --",
			"<134> LOG quiet echo/s1 6 6 --",
			"<134> LOG loudref refused/s1 0 0 SC",
			"<134> LOG loud echo/s1 13 13 --",
		}
		syslog.take(0, len(want)+1)
		time.Sleep(300 * time.Millisecond) // nothing more comes
		got := syslog.take(0, syslog.count())
		for len(got) > 0 && got[0] != want[0] {
			got = got[1:] // HAProxy's start-up probes, before the first session
		}
		for i, l := range got {
			// HAProxy logs CC for the empty session when the client's
			// close comes before its server connection is open: a race
			// of its own, luaedge's line must be --.
			if who == "haproxy" && l == "<134> LOG loud echo/s1 0 0 CC" {
				got[i] = "<134> LOG loud echo/s1 0 0 --"
			}
		}
		if !dlSame(got, want) {
			t.Errorf("%s's messages:\n%s\nwant, in any order:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestHAProxyCfgEmptyH2Log: an HTTP/2 connection (TLS, ALPN h2) that ends
// before its client preface was whole is logged as HAProxy's, status 0,
// PR, <BADREQ>: one closed after part of the preface, or sending bytes
// that are not HTTP/2, with or without option dontlognull; one closed
// after the handshake without a byte, only without it. A connection
// closed after the whole preface is not logged. A second client's
// requests on the same loop are logged as theirs, before and after.
func TestHAProxyCfgEmptyH2Log(t *testing.T) {
	needBinary(t)
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "localhost")
	backends := hcBackends(t)
	sc := hcScenario{
		name: "empty HTTP/2 connections",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    log-format "LOG %f %ST %ts %HV"
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout http-request 5s

frontend loud
    bind 127.0.0.1:@PORT@ ssl crt site.pem alpn h2,http/1.1
    http-request return status 200 content-type text/plain string ok

frontend quiet
    bind 127.0.0.1:@PORTB@ ssl crt site.pem alpn h2,http/1.1
    option dontlognull
    http-request return status 200 content-type text/plain string ok
`,
		made: map[string]string{"site.pem": cert.certPEM + cert.keyPEM},
	}
	// h2conn opens a TLS connection that chose h2, sends data and closes.
	h2conn := func(who, addr, data string) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Errorf("%s: ALPN chose %q", who, p)
		}
		if data != "" {
			_, _ = c.Write([]byte(data))
		}
		time.Sleep(50 * time.Millisecond) // the bytes arrive, then the close
		c.Close()
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		other := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		get := func(path string) {
			resp, err := other.Get("https://" + addr("") + path)
			if err != nil {
				t.Errorf("%s: the other client, %s: %v", who, path, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || string(b) != "ok" {
				t.Errorf("%s: the other client, %s: %s %q", who, path, resp.Proto, b)
			}
		}
		get("/before") // HAProxy logs an HTTP/2 request's target whole (https://...): not compared
		for _, front := range []string{"", "B"} {
			h2conn(who, addr(front), "")                                  // nothing
			h2conn(who, addr(front), "PRI * HT")                          // part of the preface
			h2conn(who, addr(front), "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // not HTTP/2
			h2conn(who, addr(front), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  // the whole preface
		}
		get("/after")
		want := []string{
			`<134> LOG loud 200 LR HTTP/2.0`,
			`<134> LOG loud 0 PR <BADREQ>`,
			`<134> LOG loud 0 PR <BADREQ>`,
			`<134> LOG loud 0 PR <BADREQ>`,
			`<134> LOG quiet 0 PR <BADREQ>`,
			`<134> LOG quiet 0 PR <BADREQ>`,
			`<134> LOG loud 200 LR HTTP/2.0`,
		}
		syslog.take(0, len(want)+1)
		time.Sleep(300 * time.Millisecond) // nothing more comes
		got := syslog.take(0, syslog.count())
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestPriorKnowledgeEmptyLog: on a frontend serving HTTP/2 only
// (cleartext: prior_knowledge, HAProxy's bind ... proto h2), a connection
// closed after part of the preface is logged 0 PR <BADREQ>, with or
// without log_empty; one closed without a byte only with it; one closed
// after the whole preface is not. A second client's request on the same
// loop is logged after them.
func TestPriorKnowledgeEmptyLog(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [app.lua]
frontends:
  - name: loud
    bind: ["127.0.0.1:@PORT@"]
    http2: {cleartext: prior_knowledge}
    use_service: lua.hello
    access_log: {to: loud.log, format: "%ST %ts %{+Q}r", log_empty: true}
  - name: quiet
    bind: ["127.0.0.1:@PORT2@"]
    http2: {cleartext: prior_knowledge}
    use_service: lua.hello
    access_log: {to: quiet.log, format: "%ST %ts %{+Q}r"}
`, map[string]string{"app.lua": accessLogLua})
	for _, addr := range []string{s.addr(), s.addrOf("2")} {
		for _, data := range []string{"", "PRI * HT", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte(data))
			time.Sleep(50 * time.Millisecond) // the bytes arrive, then the close
			c.Close()
		}
		h2, _ := h2cClient(t)
		if r, err := h2.Get("http://" + addr + "/after"); err != nil || r.ProtoMajor != 2 {
			t.Fatalf("the other client: %v %v", r, err)
		}
	}
	bad, after := `0 PR "<BADREQ>"`, `200 LR "GET /after HTTP/2.0"` // a service answered it
	for file, want := range map[string][]string{"loud.log": {bad, bad, after}, "quiet.log": {bad, after}} {
		if got := readLines(t, filepath.Join(s.dir, file), len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
