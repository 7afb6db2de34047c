package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// roServer is a backend of the retry-on test: each request it reads
// whole counts as an attempt, then answer misbehaves as its kind says.
type roServer struct {
	addr     string
	mu       sync.Mutex
	attempts int
}

func (s *roServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

func (s *roServer) reset() {
	s.mu.Lock()
	s.attempts = 0
	s.mu.Unlock()
}

// roStart starts a server of kind: close (closes without a byte), junk
// (a head that is not HTTP), hang (never answers), once (503, then 200
// at the next attempt, with the body it got), busy (503 "busy N" at the
// Nth attempt), ok (200).
func roStart(t *testing.T, kind string) *roServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &roServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				body, err := io.ReadAll(req.Body)
				if err != nil {
					return
				}
				s.mu.Lock()
				s.attempts++
				n := s.attempts
				s.mu.Unlock()
				answer := func(status int, text string) {
					fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(text), text)
				}
				switch kind {
				case "close":
				case "junk":
					io.WriteString(c, "garbage\r\n\r\n")
				case "hang":
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, _ = c.Read(make([]byte, 1))
				case "once":
					if n%2 == 1 {
						answer(503, "busy")
						return
					}
					answer(200, "ok "+string(body))
				case "busy":
					answer(503, fmt.Sprintf("busy %d", n))
				default:
					answer(200, "ok")
				}
			}()
		}
	}()
	return s
}

// roAnswer is raw's status and, when want has more than a status, its
// body after a space.
func roAnswer(raw, want string) string {
	if len(raw) < 12 {
		return raw
	}
	code := raw[9:12]
	if len(want) == 3 {
		return code
	}
	_, body, _ := strings.Cut(raw, "\r\n\r\n")
	return code + " " + body
}

// TestHAProxyCfgRetryOn: retry-on sends a request again after its
// connection opened, when the server closed before answering, sent junk,
// did not answer within timeout server or answered a status it names,
// up to retries times, at once; the client gets the last attempt's
// answer and the log's %rc and termination state are HAProxy's. Only a
// request kept whole (its body came with it and fits in a buffer) goes
// again; without conn-failure a refused connection is not retried; with
// option redispatch the retry goes to another server (+ in %rc). show
// stat counts wretr and wredis as HAProxy does. Another client on the
// same loop is answered while the retries go on.
func TestHAProxyCfgRetryOn(t *testing.T) {
	needBinary(t)
	servers := map[string]*roServer{}
	for _, k := range []string{"close", "junk", "hang", "once", "oncepost", "busy", "bigbusy", "ok"} {
		kind := k
		if k == "oncepost" {
			kind = "once"
		}
		if k == "bigbusy" {
			kind = "busy"
		}
		servers[k] = roStart(t, kind)
	}
	backends := dlBackends(t)
	for k, s := range servers {
		backends[strings.ToUpper(k)] = s.addr
	}
	sc := hcScenario{
		name: "retryon",
		cfg: `global
    nbthread 1
    log @SYSLOG@ local0
    stats socket @SOCK@ level admin

defaults
    mode http
    log global
    option dontlognull
    log-format "LOG %{+Q}r %s %ST %ts %rc"
    timeout connect 200ms
    timeout client 10s
    timeout server 300ms

frontend www
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain string ok if { path /other }
    use_backend close if { path /close }
    use_backend once if { path /once }
    use_backend oncepost if { path /oncepost }
    use_backend busy if { path /busy }
    use_backend bigbusy if { path /bigbusy }
    use_backend junk if { path /junk }
    use_backend junknot if { path /junknot }
    use_backend hang if { path /hang }
    use_backend refused if { path /refused }
    use_backend redisp if { path /redisp }

backend close
    retry-on all-retryable-errors
    server s1 @CLOSE@
backend once
    retry-on 503
    server s1 @ONCE@
backend oncepost
    retry-on 503 conn-failure
    server s1 @ONCEPOST@
backend busy
    retries 2
    retry-on 503 504
    server s1 @BUSY@
backend bigbusy
    retry-on 503
    server s1 @BIGBUSY@
backend junk
    retry-on junk-response
    server s1 @JUNK@
backend junknot
    retry-on empty-response response-timeout
    server s1 @JUNK@
backend hang
    retries 1
    retry-on response-timeout
    server s1 @HANG@
backend refused
    retry-on 503
    server s1 @REFUSED@
backend redisp
    balance first
    option redispatch
    retry-on 503
    server s1 @BUSY@
    server s2 @OK@
`,
	}
	big := strings.Repeat("a", 17000)
	cases := []struct {
		req, answer, line string
		server            string // whose attempts are counted
		attempts          int
	}{
		{"GET /close HTTP/1.1\r\n\r\n", "502", `"GET /close HTTP/1.1" s1 502 SH 3`, "close", 4},
		{"GET /once HTTP/1.1\r\n\r\n", "200 ok ", `"GET /once HTTP/1.1" s1 200 -- 1`, "once", 2},
		{"POST /oncepost HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "200 ok hello", `"POST /oncepost HTTP/1.1" s1 200 -- 1`, "oncepost", 2},
		{"GET /busy HTTP/1.1\r\n\r\n", "503 busy 3", `"GET /busy HTTP/1.1" s1 503 -- 2`, "", 0},
		{"POST /bigbusy HTTP/1.1\r\nContent-Length: 17000\r\n\r\n" + big, "503 busy 1", `"POST /bigbusy HTTP/1.1" s1 503 -- 0`, "bigbusy", 1},
		{"GET /junk HTTP/1.1\r\n\r\n", "502", `"GET /junk HTTP/1.1" s1 502 PH 3`, "", 0},
		{"GET /junknot HTTP/1.1\r\n\r\n", "502", `"GET /junknot HTTP/1.1" s1 502 PH 0`, "", 0},
		{"GET /hang HTTP/1.1\r\n\r\n", "504", `"GET /hang HTTP/1.1" s1 504 sH 1`, "hang", 2},
		{"GET /refused HTTP/1.1\r\n\r\n", "503", `"GET /refused HTTP/1.1" s1 503 SC 0`, "", 0},
		{"GET /redisp HTTP/1.1\r\n\r\n", "200 ok", `"GET /redisp HTTP/1.1" s2 200 -- +1`, "", 0},
	}
	// The statuses of each backend's line in show stat: wretr and wredis.
	wantStats := map[string]string{
		"close": "6,0", "once": "2,0", "oncepost": "2,0", "busy": "4,0", "bigbusy": "0,0",
		"junk": "6,0", "junknot": "0,0", "hang": "2,0", "refused": "0,0", "redisp": "1,1",
	}
	run := func(who string, syslog *hcSyslog, addr func(string) string, sock string) {
		for _, s := range servers {
			s.reset()
		}
		// The busy server's attempts are shared by /busy and /redisp:
		// /busy goes first.
		if got, err := hcRaw(addr(""), strings.Replace(cases[3].req, "\r\n", "\r\nHost: x\r\nConnection: close\r\n", 1), 8*time.Second); err != nil || roAnswer(got, cases[3].answer) != cases[3].answer {
			t.Errorf("%s: /busy: %q, %v; want %q", who, got, err, cases[3].answer)
		}
		var wg sync.WaitGroup
		for i, c := range cases {
			if i == 3 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := hcRaw(addr(""), strings.Replace(c.req, "\r\n", "\r\nHost: x\r\nConnection: close\r\n", 1), 8*time.Second)
				if err != nil || roAnswer(got, c.answer) != c.answer {
					t.Errorf("%s: %.30q: %.200q, %v; want %q", who, c.req, got, err, c.answer)
				}
			}()
		}
		// The other client is answered while the retries go on.
		o := time.Now()
		if got, err := hcRaw(addr(""), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); err != nil || !strings.HasSuffix(got, "ok") {
			t.Errorf("%s: the other client: %q, %v", who, got, err)
		}
		if d := time.Since(o); d > 150*time.Millisecond {
			t.Errorf("%s: the other client waited %v", who, d)
		}
		wg.Wait()
		for _, c := range cases {
			if c.server != "" && servers[c.server].count() != c.attempts {
				t.Errorf("%s: %s got %d attempts, want %d", who, c.server, servers[c.server].count(), c.attempts)
			}
		}
		want := []string{`<134> LOG "GET /other HTTP/1.1" <NOSRV> 200 LR 0`}
		for _, c := range cases {
			want = append(want, "<134> LOG "+c.line)
		}
		if got := syslog.take(0, len(want)); !dlSame(got, want) {
			t.Errorf("%s's messages:\n%s\nwant, in any order:\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		stats := map[string]string{}
		for _, l := range strings.Split(askSocket(t, sock, "show stat"), "\n") {
			f := strings.Split(l, ",")
			if len(f) > 16 && f[1] == "BACKEND" {
				if _, ok := wantStats[f[0]]; ok {
					stats[f[0]] = f[15] + "," + f[16]
				}
			}
		}
		for b, w := range wantStats {
			if stats[b] != w {
				t.Errorf("%s: backend %s: wretr,wredis %q, want %q", who, b, stats[b], w)
			}
		}
	}
	dir := t.TempDir()
	leLog := hcStartSyslog(t)
	backends["SYSLOG"] = leLog.pc.LocalAddr().String()
	backends["SOCK"] = filepath.Join(dir, "le.sock")
	le, _ := hcStartLuaedge(t, sc, backends)
	run("luaedge", leLog, le, backends["SOCK"])
	if bin, err := exec.LookPath("haproxy"); err == nil {
		haLog := hcStartSyslog(t)
		backends["SYSLOG"] = haLog.pc.LocalAddr().String()
		backends["SOCK"] = filepath.Join(dir, "ha.sock")
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		run("haproxy", haLog, ha, backends["SOCK"])
	}
}
