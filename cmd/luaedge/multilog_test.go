// End-to-end tests of several log targets and of the syslog headers, the
// bytes each target receives compared with HAProxy 2.6's.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawSyslog keeps the messages a UDP socket of the test receives, whole,
// their times and pids masked.
type rawSyslog struct {
	pc   net.PacketConn
	mu   sync.Mutex
	msgs []string
	lens []int // the length of each message received
}

var (
	rawTime3164 = regexp.MustCompile(`[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d`)
	rawTimeISO  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d`)
	rawPID      = regexp.MustCompile(`\[\d+\]: | \d+ - - `)
)

func startRawSyslog(t *testing.T) *rawSyslog {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &rawSyslog{pc: pc}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := rawTime3164.ReplaceAllString(string(buf[:n]), "TIME")
			m = rawTimeISO.ReplaceAllString(m, "ISO")
			m = rawPID.ReplaceAllStringFunc(m, func(p string) string {
				if strings.HasPrefix(p, "[") {
					return "[PID]: "
				}
				return " PID - - "
			})
			s.mu.Lock()
			s.msgs, s.lens = append(s.msgs, m), append(s.lens, n)
			s.mu.Unlock()
		}
	}()
	return s
}

// take waits (5 s at most) for n messages, then returns all that came.
func (s *rawSyslog) take(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := append([]string(nil), s.msgs...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHAProxyCfgSeveralLogTargets: every log line of a section gets the
// lines its levels take, with its facility, header, length and sampling;
// log global brings each of the global section's in its place; log-tag
// and log-send-hostname name the program and the host. A keep-alive
// client and a second client on the same loop (one thread) are logged
// in the order of their requests. Compared byte for byte (the times and
// the pid masked) with HAProxy's messages.
func TestHAProxyCfgSeveralLogTargets(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "several log targets",
		cfg: `global
    nbthread 1
    log @A@ local0
    log @B@ format rfc5424 local1 notice
    log-tag mytag
    log-send-hostname myhost

defaults
    mode http
    option dontlognull
    log-format "LOG %ST %{+Q}r"
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    log global
    log @C@ format short local2
    http-request set-log-level err if { path /err }
    http-request return status 200 content-type text/plain string ok

frontend formats
    bind 127.0.0.1:@PORTB@
    log-tag fetag
    log @D@ format raw local3
    log @E@ format priority local4 info err
    log @F@ format iso local5
    log @G@ format timed local6
    log @H@ len 80 local7
    log @I@ format raw sample 1,3:4 local0
    log @J@ format rfc5424 local1
    http-request return status 200 content-type text/plain string ok
`,
	}
	long := "/" + strings.Repeat("abcdefghij", 8)
	want := map[string][]string{
		"A": {
			"<134>TIME myhost mytag[PID]: LOG 200 \"GET /ok HTTP/1.1\"\n",
			"<131>TIME myhost mytag[PID]: LOG 200 \"GET /err HTTP/1.1\"\n",
			"<134>TIME myhost mytag[PID]: LOG 200 \"GET /ok2 HTTP/1.1\"\n",
		},
		"B": {"<139>1 ISO myhost mytag PID - - LOG 200 \"GET /err HTTP/1.1\"\n"},
		"C": {"<6>LOG 200 \"GET /ok HTTP/1.1\"\n", "<3>LOG 200 \"GET /err HTTP/1.1\"\n", "<6>LOG 200 \"GET /ok2 HTTP/1.1\"\n"},
		"D": {"LOG 200 \"GET /1 HTTP/1.1\"\n", "LOG 200 \"GET /2 HTTP/1.1\"\n", "LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
		"E": {"<166>LOG 200 \"GET /1 HTTP/1.1\"\n", "<166>LOG 200 \"GET /2 HTTP/1.1\"\n", "<166>LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
		"F": {"ISO LOG 200 \"GET /1 HTTP/1.1\"\n", "ISO LOG 200 \"GET /2 HTTP/1.1\"\n", "ISO LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
		"G": {"<6>ISO LOG 200 \"GET /1 HTTP/1.1\"\n", "<6>ISO LOG 200 \"GET /2 HTTP/1.1\"\n", "<6>ISO LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
		"H": {"<190>TIME myhost fetag[PID]: LOG 200 \"GET /1 HTTP/1.1\"\n", "<190>TIME myhost fetag[PID]: LOG 200 \"GET /2 HTTP/1.1\"\n", "LONG"},
		"I": {"LOG 200 \"GET /1 HTTP/1.1\"\n", "LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
		"J": {"<142>1 ISO myhost fetag PID - - LOG 200 \"GET /1 HTTP/1.1\"\n", "<142>1 ISO myhost fetag PID - - LOG 200 \"GET /2 HTTP/1.1\"\n", "<142>1 ISO myhost fetag PID - - LOG 200 \"GET " + long + " HTTP/1.1\"\n"},
	}
	run := func(who string, logs map[string]*rawSyslog, addr func(string) string) {
		get := func(front, path string) {
			got, err := hcRaw(addr(front), "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3*time.Second)
			if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 ") {
				t.Fatalf("%s: GET %s: %q, %v", who, path, got, err)
			}
		}
		// A keep-alive client, a second client between its requests.
		c, err := net.Dial("tcp", addr(""))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		keepAlive := func(path string) {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: keep-alive GET %s: %v", who, path, err)
			}
			resp.Body.Close()
		}
		keepAlive("/ok")
		logs["A"].take(1) // its line came first
		get("", "/err")
		logs["A"].take(2)
		keepAlive("/ok2")
		for _, p := range []string{"/1", "/2", long} {
			get("B", p)
			logs["D"].take(len(logs["D"].take(0)) + 1) // in order
		}
		for name, w := range want {
			got := logs[name].take(len(w))
			if name == "H" && len(got) == 3 {
				// Cut at 80 bytes, then the newline.
				logs[name].mu.Lock()
				n := logs[name].lens[2]
				logs[name].mu.Unlock()
				if !strings.HasPrefix(got[2], "<190>TIME myhost fetag[PID]: LOG 200 \"GET /abc") || n != 81 {
					t.Errorf("%s: %s's long message %q is %d bytes, want 81", who, name, got[2], n)
				}
				got[2] = "LONG"
			}
			if strings.Join(got, "") != strings.Join(w, "") {
				t.Errorf("%s: %s received:\n%q\nwant:\n%q", who, name, got, w)
			}
		}
		// Nothing more comes: what the levels filter out is not late.
		time.Sleep(300 * time.Millisecond)
		for name, w := range want {
			if got := logs[name].take(0); len(got) != len(w) {
				t.Errorf("%s: %s received %d messages, want %d: %q", who, name, len(got), len(w), got)
			}
		}
	}
	start := func() (map[string]*rawSyslog, map[string]string) {
		logs, addrs := map[string]*rawSyslog{}, map[string]string{}
		for name := range want {
			logs[name] = startRawSyslog(t)
			addrs[name] = logs[name].pc.LocalAddr().String()
		}
		return logs, addrs
	}
	logs, addrs := start()
	le, _ := hcStartLuaedge(t, sc, addrs)
	run("luaedge", logs, le)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		logs, addrs := start()
		ha, _ := hcStartHAProxy(t, bin, sc, addrs)
		run("haproxy", logs, ha)
	}
}
