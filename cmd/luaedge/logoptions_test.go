package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// option httplog and option tcplog give HAProxy's lines, and a
// frontend's own log line adds a target to those of its defaults (each
// request is logged twice here, once per target), as on HAProxy; the
// fields that depend on timing, ports and connection counts are left out
// of the comparison, and so are the bytes (%B): HAProxy counts an HTTP
// answer's bytes as its internal form holds them, not as they were sent.
func TestHAProxyCfgLogOptions(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{name: "log-options", cfg: `global
    nbthread 1

defaults
    mode http
    log stdout format raw local0
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend hl
    bind 127.0.0.1:@PORT@
    log stderr format raw local0
    option httplog
    capture request header Host len 8
    http-request deny if { path /deny }
    default_backend app

backend app
    server app1 @APP@

listen tl
    mode tcp
    bind 127.0.0.1:@PORTTCP@
    option tcplog
    server app1 @APP@
`}
	run := func(addr func(string) string, out func() string) []string {
		c := &http.Client{Timeout: 10 * time.Second}
		for _, path := range []string{"/a?x=1", "/deny"} {
			r, err := c.Get("http://" + addr("") + path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		tc, err := net.Dial("tcp", addr("TCP"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(tc, "GET /t HTTP/1.0\r\nhost: t\r\n\r\n")
		io.ReadAll(tc)
		tc.Close()
		return logOptionLines(out, 5)
	}
	le, s := hcStartLuaedge(t, sc, backends)
	got := run(le, s.logs)
	if len(got) != 5 {
		t.Fatalf("luaedge logged %d lines, want 5:\n%s", len(got), strings.Join(got, "\n"))
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	ha, out := hcStartHAProxy(t, bin, sc, backends)
	want := run(ha, out.String)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("luaedge's lines:\n%s\nHAProxy's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// logOptionLines polls a server's output until it holds n access-log
// lines (of the frontends hl and tl), for at most 5 s, and returns them
// sorted, with the client's port, the dates, the timers and the
// connection counts replaced.
func logOptionLines(out func() string, n int) []string {
	norm := []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^\]]+\]`), "127.0.0.1:P [T]"},
		{regexp.MustCompile(` -?\d+(/-?\d+){2,4} `), " TIMERS "},
		{regexp.MustCompile(` \d+/\d+/\d+/\d+/\+?\d+ \d+/\d+`), " COUNTS"},
		{regexp.MustCompile(`^(\S+ \S+ \S+ \S+ TIMERS (\d{3} )?)\d+ `), "${1}BYTES "},
	}
	probeTCP := regexp.MustCompile(`\] tl \S+ \S+ 0 `)
	lines := func() []string {
		var l []string
		for _, line := range strings.Split(out(), "\n") {
			if !strings.Contains(line, "] hl ") && !strings.Contains(line, "] tl ") {
				continue
			}
			// The test's start dials the ports (empty connections,
			// which HAProxy logs too: <BADREQ>, or 0 bytes with -- or
			// CC as the probe's close falls).
			if strings.Contains(line, "<BADREQ>") || probeTCP.MatchString(line) {
				continue
			}
			for _, r := range norm {
				line = r.re.ReplaceAllString(line, r.with)
			}
			l = append(l, line)
		}
		return l
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(lines()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	l := lines()
	slices.Sort(l)
	return l
}
