package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHAProxyCfgTCPRetries: in mode tcp, a connection to a server that is
// refused or not accepted within timeout connect is tried again as an
// HTTP request's (retries, 1 s or timeout connect apart when refused,
// option redispatch, retry-on none), then the client's connection closes
// with SC or sC; %rc, the server in the log and show stat's wretr and
// wredis are HAProxy's. Another client on the same loop is served while
// the retries wait.
func TestHAProxyCfgTCPRetries(t *testing.T) {
	needBinary(t)
	backends := dlBackends(t)
	backends["FULL"] = rtFullBacklog(t)
	sc := hcScenario{
		name: "tcp retries",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0
    stats socket @SOCK@ level admin

defaults
    mode tcp
    log global
    log-format "LOG %f %b %s %ts %rc"
    timeout connect 200ms
    timeout client 10s
    timeout server 10s

frontend r3
    bind 127.0.0.1:@PORT@
    default_backend r3
frontend redisp
    bind 127.0.0.1:@PORT2@
    default_backend redisp
frontend never
    bind 127.0.0.1:@PORT3@
    default_backend never
frontend full
    bind 127.0.0.1:@PORT4@
    default_backend full
frontend other
    bind 127.0.0.1:@PORT5@
    default_backend app

backend r3
    server s1 @REFUSED@
backend redisp
    balance first
    option redispatch
    server s1 @REFUSED@
    server s2 @APP@
backend never
    retry-on none
    server s1 @REFUSED@
backend full
    retries 1
    server s1 @FULL@
backend app
    server s1 @APP@
`,
	}
	const req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	cases := []struct {
		port, status, line string
	}{
		{"", "", "r3 r3 s1 SC 3"},
		{"2", "HTTP/1.1 200", "redisp redisp s2 -- +1"},
		{"3", "", "never never s1 SC 0"},
		{"4", "", "full full s1 sC 1"},
	}
	wantStats := map[string]string{"r3": "3,0", "redisp": "0,1", "never": "0,0", "full": "1,0"}
	// HAProxy's start is awaited by connecting to each frontend: those
	// connections log lines and count retries of their own, which come
	// before the test's (probes: how many).
	backendStats := func(sock string) map[string][2]int {
		stats := map[string][2]int{}
		for _, l := range strings.Split(askSocket(t, sock, "show stat"), "\n") {
			f := strings.Split(l, ",")
			if len(f) > 16 && f[1] == "BACKEND" {
				r, _ := strconv.Atoi(f[15])
				d, _ := strconv.Atoi(f[16])
				stats[f[0]] = [2]int{r, d}
			}
		}
		return stats
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string, sock string, probes int) {
		if got := syslog.take(0, probes); len(got) != probes {
			t.Fatalf("%s: the start's connections logged %q", who, got)
		}
		base := backendStats(sock)
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := hcRaw(addr(c.port), req, 8*time.Second)
				if err != nil || !strings.HasPrefix(got, c.status) || (c.status == "" && got != "") {
					t.Errorf("%s: %s: %.60q, %v; want %q", who, c.line, got, err, c.status)
				}
			}()
		}
		o := time.Now()
		if got, err := hcRaw(addr("5"), req, 5*time.Second); err != nil || !strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Errorf("%s: the other client: %.60q, %v", who, got, err)
		}
		if d := time.Since(o); d > 150*time.Millisecond {
			t.Errorf("%s: the other client waited %v", who, d)
		}
		wg.Wait()
		// Three refused retries wait 200 ms each.
		if d := time.Since(start); d < 600*time.Millisecond {
			t.Errorf("%s: the retries took %v; want 600 ms at least", who, d)
		}
		want := []string{"<134> LOG other app s1 -- 0"}
		for _, c := range cases {
			want = append(want, "<134> LOG "+c.line)
		}
		if got := syslog.take(probes, len(want)); !dlSame(got, want) {
			t.Errorf("%s's messages:\n%s\nwant, in any order:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		stats := backendStats(sock)
		for b, w := range wantStats {
			got := fmt.Sprintf("%d,%d", stats[b][0]-base[b][0], stats[b][1]-base[b][1])
			if got != w {
				t.Errorf("%s: backend %s: wretr,wredis %q, want %q", who, b, got, w)
			}
		}
	}
	dir := t.TempDir()
	leLog := hcStartSyslog(t)
	backends["SYSLOG"] = leLog.pc.LocalAddr().String()
	backends["SOCK"] = filepath.Join(dir, "le.sock")
	le, _ := hcStartLuaedge(t, sc, backends)
	run("luaedge", leLog, le, backends["SOCK"], 0)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		haLog := hcStartSyslog(t)
		backends["SYSLOG"] = haLog.pc.LocalAddr().String()
		backends["SOCK"] = filepath.Join(dir, "ha.sock")
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		run("haproxy", haLog, ha, backends["SOCK"], 5)
	}
}
