package main

import (
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rtFullBacklog is a listening socket whose accept queue is full: a new
// connection to it gets no answer to its SYN, so it runs out of timeout
// connect.
func rtFullBacklog(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue until a connection is no longer accepted in time.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the backlog never filled")
	return ""
}

// TestHAProxyCfgRetries: a connection refused or not accepted within
// timeout connect is tried again retries times (1 s or timeout connect
// apart when refused), then answered 503 SC or sC with %rc; option
// redispatch sends a retry to another server (%rc with a +: 2.6.12
// moves the first one);
// meanwhile another client on the same loop is served at once. HAProxy
// and luaedge log the same lines.
func TestHAProxyCfgRetries(t *testing.T) {
	needBinary(t)
	backends := dlBackends(t)
	backends["FULL"] = rtFullBacklog(t)
	sc := hcScenario{
		name: "retries",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    option dontlognull
    log-format "LOG %{+Q}r %s %ST %ts %rc"
    timeout connect 200ms
    timeout client 10s
    timeout server 2s

frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain string ok if { path /other }
    use_backend r0 if { path /r0 }
    use_backend r1 if { path /r1 }
    use_backend redisp if { path /redisp }
    use_backend noredisp if { path /noredisp }
    use_backend full if { path /full }
    default_backend r3

backend r3
    server s1 @REFUSED@
backend r0
    retries 0
    server s1 @REFUSED@
backend r1
    retries 1
    server s1 @REFUSED@
backend redisp
    balance first
    option redispatch
    server s1 @REFUSED@
    server s2 @APP@
backend noredisp
    balance first
    retries 1
    server s1 @REFUSED@
    server s2 @APP@
backend full
    retries 1
    server s1 @FULL@
`,
	}
	cases := []struct{ path, status, line string }{
		{"/r3", "503", `"GET /r3 HTTP/1.1" s1 503 SC 3`},
		{"/r0", "503", `"GET /r0 HTTP/1.1" s1 503 SC 0`},
		{"/r1", "503", `"GET /r1 HTTP/1.1" s1 503 SC 1`},
		{"/redisp", "200", `"GET /redisp HTTP/1.1" s2 200 -- +1`}, // 2.6 redispatches at the first retry
		{"/noredisp", "503", `"GET /noredisp HTTP/1.1" s1 503 SC 1`},
		{"/full", "503", `"GET /full HTTP/1.1" s1 503 sC 1`},
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		var wg sync.WaitGroup
		start := time.Now()
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
		// The other client is answered while the retries wait.
		o := time.Now()
		if got, err := hcRaw(addr(""), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); err != nil || !strings.HasSuffix(got, "ok") {
			t.Errorf("%s: the other client: %q, %v", who, got, err)
		}
		if d := time.Since(o); d > 150*time.Millisecond {
			t.Errorf("%s: the other client waited %v", who, d)
		}
		wg.Wait()
		// Three refused retries wait 200 ms each.
		if d := time.Since(start); d < 600*time.Millisecond {
			t.Errorf("%s: the retries took %v; want 600 ms at least", who, d)
		}
		want := []string{`<134> LOG "GET /other HTTP/1.1" <NOSRV> 200 LR 0`}
		for _, c := range cases {
			want = append(want, "<134> LOG "+c.line)
		}
		if got := syslog.take(0, len(want)); !dlSame(got, want) {
			t.Errorf("%s's messages:\n%s\nwant, in any order:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	leLog := hcStartSyslog(t)
	backends["SYSLOG"] = leLog.pc.LocalAddr().String()
	le, _ := hcStartLuaedge(t, sc, backends)
	run("luaedge", leLog, le)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		haLog := hcStartSyslog(t)
		backends["SYSLOG"] = haLog.pc.LocalAddr().String()
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		run("haproxy", haLog, ha)
	}
}
