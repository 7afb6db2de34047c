// End-to-end tests of the access log's syslog levels and of the answers
// to tarpit and to malformed requests, on luaedge and HAProxy 2.6 alike.
package main

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// hcSyslog receives syslog messages on a UDP socket of the test.
type hcSyslog struct {
	pc   net.PacketConn
	mu   sync.Mutex
	msgs []string // "<PRI> the access-log line", from its "LOG " on
}

// hcStartSyslog listens on a UDP port; each message received is kept as
// its PRI and the line from "LOG ", both servers' headers left out
// (HAProxy's RFC 3164 one, luaedge's RFC 5424 one).
func hcStartSyslog(t *testing.T) *hcSyslog {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &hcSyslog{pc: pc}
	pri := regexp.MustCompile(`^<\d+>`)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			i := strings.Index(msg, "LOG ")
			if i < 0 {
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, pri.FindString(msg)+" "+strings.TrimRight(msg[i:], "\n"))
			s.mu.Unlock()
		}
	}()
	return s
}

// hcSyslogBoth runs check against luaedge, then against HAProxy when it is
// installed, each with a syslog receiver of its own at @SYSLOG@.
func hcSyslogBoth(t *testing.T, sc hcScenario, backends map[string]string, check func(who string, syslog *hcSyslog, addr func(string) string)) {
	t.Helper()
	leLog := hcStartSyslog(t)
	backends["SYSLOG"] = leLog.pc.LocalAddr().String()
	le, _ := hcStartLuaedge(t, sc, backends)
	check("luaedge", leLog, le)
	if bin, err := exec.LookPath("haproxy"); err == nil {
		haLog := hcStartSyslog(t)
		backends["SYSLOG"] = haLog.pc.LocalAddr().String()
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		check("haproxy", haLog, ha)
	}
}

// take waits (5 s at most) for n messages more than it took before, and
// returns those that came.
func (s *hcSyslog) take(from, n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := append([]string(nil), s.msgs[from:]...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is how many messages came so far.
func (s *hcSyslog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// hcRaw sends data on a new connection and reads the answer until the
// server closes, or for wait at most.
func hcRaw(addr, data string, wait time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(data)); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

// TestHAProxyCfgLogLevels: a log line's facility and max level filter
// and label the syslog messages (PRI) as HAProxy's do: set-log-level
// err passes a notice filter, debug and the default info do not;
// option log-separate-errors logs a malformed request and a 503 at err.
// Compared message for message with HAProxy's.
func TestHAProxyCfgLogLevels(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "log levels",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local2 notice

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
    http-request set-log-level err if { path /err }
    http-request set-log-level debug if { path /debug }
    http-request set-log-level notice if { path /notice }
    http-request set-log-level silent if { path /silent }
    http-request return status 200 content-type text/plain string ok

frontend apart
    bind 127.0.0.1:@PORTB@
    log @SYSLOG@ local3
    option log-separate-errors
    http-request return status 503 content-type text/plain string down if { path /down }
    http-request set-log-level crit if { path /crit }
    http-request return status 200 content-type text/plain string ok
`,
	}
	reqs := []struct{ front, data string }{
		{"", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"", "GET /err HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"", "GET /debug HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"", "GET /notice HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"", "GET /silent HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"", "GET /a b c\r\n\r\n"}, // 400 at info: filtered out
		{"B", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"B", "GET /down HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"B", "GET /a b c\r\n\r\n"},
		{"B", "GET /crit HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	// local2 is facility 18 (PRI 144 + level), local3 19 (152 + level).
	want := []string{
		`<147> LOG 200 "GET /err HTTP/1.1"`,
		`<149> LOG 200 "GET /notice HTTP/1.1"`,
		`<158> LOG 200 "GET /ok HTTP/1.1"`,
		`<155> LOG 503 "GET /down HTTP/1.1"`,
		`<155> LOG 400 "<BADREQ>"`,
		`<154> LOG 200 "GET /crit HTTP/1.1"`,
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		for _, r := range reqs {
			// Connection: close on each, so that the order of the lines is
			// the order of the requests.
			data := strings.Replace(r.data, "Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1)
			if _, err := hcRaw(addr(r.front), data, 3*time.Second); err != nil {
				t.Fatalf("%s: %q: %v", who, r.data, err)
			}
		}
		got := syslog.take(0, len(want))
		// Nothing more comes: the filtered lines are not late.
		time.Sleep(300 * time.Millisecond)
		got = syslog.take(0, syslog.count())
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// TestHAProxyCfgTarpitLog: a tarpit holds its request, then answers 500
// and logs PT as HAProxy does; meanwhile a second client on the same
// loop (one thread) is answered at once, and a deny, logged PR (return:
// LR).
func TestHAProxyCfgTarpitLog(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "tarpit log",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    option dontlognull
    log-format "LOG %ST %ts %{+Q}r"
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout tarpit 1s

frontend www
    bind 127.0.0.1:@PORT@
    http-request tarpit if { path /tarpit }
    http-request deny if { path /deny }
    http-request return status 200 content-type text/plain string ok
`,
	}
	want := []string{
		`<134> LOG 200 LR "GET /other HTTP/1.1"`,
		`<134> LOG 403 PR "GET /deny HTTP/1.1"`,
		`<134> LOG 500 PT "GET /tarpit HTTP/1.1"`,
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		start := time.Now()
		held := make(chan string, 1)
		go func() {
			got, err := hcRaw(addr(""), "GET /tarpit HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
			if err != nil {
				got = err.Error()
			}
			held <- got
		}()
		// The second client comes once the first is held (its line is
		// the first to come), and is answered during the tarpit.
		time.Sleep(200 * time.Millisecond)
		got, err := hcRaw(addr(""), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "ok") {
			t.Errorf("%s: the second client: %q, %v", who, got, err)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("%s: the second client waited for the tarpit (%v)", who, d)
		}
		if got, err := hcRaw(addr(""), "GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); err != nil || !strings.HasPrefix(got, "HTTP/1.1 403 ") {
			t.Errorf("%s: deny: %q, %v", who, got, err)
		}
		if got := <-held; !strings.HasPrefix(got, "HTTP/1.1 500 ") {
			t.Errorf("%s: the tarpit's answer: %q", who, got)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("%s: the tarpit answered after %v, before its timeout", who, d)
		}
		if got := syslog.take(0, len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}

// hcAnswer normalises a raw HTTP/1 answer for comparison: the status
// line, the field names in lower case with their values, sorted, and
// the body; closed says the server closed after it.
func hcAnswer(raw string) string {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	fields := lines[1:]
	for i, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		fields[i] = strings.ToLower(name) + ":" + strings.TrimSpace(value)
	}
	sort.Strings(fields)
	return lines[0] + "\n" + strings.Join(fields, "\n") + "\n\n" + body
}

// TestHAProxyCfgMalformedAnswers: luaedge's own answers to a malformed
// request, a too long URI, too large or too many header fields are
// HAProxy's 400 page, and their log line HAProxy's; a request line HAProxy
// takes (a 9000-byte URI) is served by both. A second client's
// keep-alive connection on the same loop is served before and after.
func TestHAProxyCfgMalformedAnswers(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "malformed answers",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0

defaults
    mode http
    log global
    option dontlognull
    log-format "LOG %ST %ts %{+Q}r"
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain string ok
`,
	}
	var many strings.Builder
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&many, "X-H%d: v\r\n", i)
	}
	reqs := []struct{ name, data string }{
		{"bad request line", "GET /a b c\r\n\r\n"},
		{"20000-byte URI", "GET /" + strings.Repeat("a", 20000) + " HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"20000-byte field", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20000) + "\r\n\r\n"},
		{"120 fields", "GET / HTTP/1.1\r\nHost: x\r\n" + many.String() + "\r\n"},
		{"unknown transfer-encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
	}
	page := "HTTP/1.1 400 Bad request\ncache-control:no-cache\nconnection:close\ncontent-length:90\ncontent-type:text/html\n\n" +
		"<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
	run := func(who string, syslog *hcSyslog, addr func(string) string) {
		other := hxDial(t, addr(""))
		defer other.close()
		hxCheck(t, who+": the other client, before", other.do(hxReq{Path: "/before"}), hxWant{Status: 200, Body: "ok"})
		for _, r := range reqs {
			got, err := hcRaw(addr(""), r.data, 5*time.Second)
			if err != nil || hcAnswer(got) != page {
				t.Errorf("%s: %s: %q, %v; want HAProxy's 400 page", who, r.name, got, err)
			}
		}
		got, err := hcRaw(addr(""), "GET /"+strings.Repeat("a", 9000)+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 ") {
			t.Errorf("%s: a 9000-byte URI: %.60q, %v", who, got, err)
		}
		hxCheck(t, who+": the other client, after", other.do(hxReq{Path: "/after"}), hxWant{Status: 200, Body: "ok"})
		want := []string{`<134> LOG 200 LR "GET /before HTTP/1.1"`}
		for range reqs {
			want = append(want, `<134> LOG 400 PR "<BADREQ>"`)
		}
		want = append(want, `<134> LOG 200 LR "GET /`+strings.Repeat("a", 9000)+` HTTP/1.1"`, `<134> LOG 200 LR "GET /after HTTP/1.1"`)
		// Their first 80 bytes: HAProxy cuts a message at 1024.
		cut := func(l []string) string {
			var b strings.Builder
			for _, m := range l {
				b.WriteString(m[:min(len(m), 80)] + "\n")
			}
			return b.String()
		}
		if got := syslog.take(0, len(want)); cut(got) != cut(want) {
			t.Errorf("%s's messages:\n%s\nwant:\n%s", who, cut(got), cut(want))
		}
	}
	hcSyslogBoth(t, sc, backends, run)
}
