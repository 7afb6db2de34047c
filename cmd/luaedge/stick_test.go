package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Persistence from a haproxy.cfg: use-server and stick rules, run on
// HAProxy 2.6 and on luaedge, which must choose the same servers. Each
// check returns what it saw, line by line, and the two are compared.

// stickServers are three listens that answer their name.
const stickServers = `
listen a1
    bind 127.0.0.1:@PORTS1@
    http-request return status 200 content-type text/plain string s1

listen a2
    bind 127.0.0.1:@PORTS2@
    http-request return status 200 content-type text/plain string s2

listen a3
    bind 127.0.0.1:@PORTS3@
    http-request return status 200 content-type text/plain string s3
`

// stickGlobal starts a scenario: one thread, so that every client is on
// the same loop, and the runtime API on @SOCK@.
const stickGlobal = `global
    nbthread 1
    stats socket @SOCK@ level admin

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
`

// stickClient is an HTTP client whose connections come from src, kept
// alive between requests.
func stickClient(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// stickGet sends a GET for path with the header fields hdr ("name: value"
// each) and returns the answer's body: the server's name.
func stickGet(t *testing.T, c *http.Client, addr, path string, hdr ...string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	for _, h := range hdr {
		n, v, _ := strings.Cut(h, ": ")
		req.Header.Set(n, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status[:3] + " " + strings.TrimSpace(string(body))
}

// askSocket sends a runtime API command to HAProxy's stats socket at
// path, waiting for the socket to be there.
func askSocket(t *testing.T, path, line string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			defer c.Close()
			fmt.Fprintf(c, "%s\n", line)
			b, _ := io.ReadAll(c)
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats socket %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tableLineRE takes what differs between two servers out of a show table
// line: the entry's address and its expiry.
var tableLineRE = regexp.MustCompile(`^0x[0-9a-f]+: (key=\S+ use=\d+) exp=\d+ (.*)$`)

// tableEntries is "show table NAME" with its entries sorted and without
// their addresses and expiries.
func tableEntries(ask func(string) string, name string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(ask("show table "+name)), "\n") {
		if m := tableLineRE.FindStringSubmatch(l); m != nil {
			l = m[1] + " " + m[2]
		}
		out = append(out, l)
	}
	sort.Strings(out[min(1, len(out)):])
	return out
}

// stickBoth runs check on luaedge and, when it is installed, on HAProxy,
// and reports where what they saw differs. ask sends a runtime API
// command.
func stickBoth(t *testing.T, sc hcScenario, backends map[string]string, check func(addr func(string) string, ask func(string) string) []string) {
	t.Helper()
	if backends == nil {
		backends = map[string]string{}
	}
	dir := t.TempDir()
	backends["SOCK"] = filepath.Join(dir, "le.sock")
	addr, _ := hcStartLuaedge(t, sc, backends)
	le := check(addr, func(line string) string { return askSocket(t, backends["SOCK"], line) })
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	backends["SOCK"] = filepath.Join(dir, "ha.sock")
	haddr, _ := hcStartHAProxy(t, bin, sc, backends)
	ha := check(haddr, func(line string) string { return askSocket(t, backends["SOCK"], line) })
	for i := 0; i < max(len(le), len(ha)); i++ {
		var l, h string
		if i < len(le) {
			l = le[i]
		}
		if i < len(ha) {
			h = ha[i]
		}
		if l != h {
			t.Errorf("step %d: luaedge %q, haproxy %q", i, l, h)
		}
	}
}

// stick on src over three servers: a client keeps its server across
// requests and connections, three clients get the three servers, two
// clients interleaved on one loop keep theirs; show table shows each
// client's server as HAProxy does. A server put in maintenance loses its
// clients to the balancing, and they stay where they went once it is
// back.
func TestHAProxyCfgStickOnSrc(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "stick-src", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    stick-table type ip size 100 expire 1m
    stick on src
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2, c3 := stickClient("127.0.0.1"), stickClient("127.0.0.2"), stickClient("127.0.0.3")
		var seen []string
		first := stickGet(t, c1, fe, "/")
		for i := 0; i < 3; i++ {
			if got := stickGet(t, c1, fe, "/"); got != first {
				t.Errorf("127.0.0.1 went to %s, then %s", first, got)
			}
		}
		s2, s3 := stickGet(t, c2, fe, "/"), stickGet(t, c3, fe, "/")
		if first == s2 || first == s3 || s2 == s3 {
			t.Errorf("three clients on %s, %s, %s", first, s2, s3)
		}
		seen = append(seen, first, s2, s3)
		// Interleaved on the loop, each keeps its own.
		for i := 0; i < 3; i++ {
			if a, b := stickGet(t, c1, fe, "/"), stickGet(t, c2, fe, "/"); a != first || b != s2 {
				t.Errorf("interleaved: %s and %s, want %s and %s", a, b, first, s2)
			}
		}
		// New connections.
		c1.CloseIdleConnections()
		c1 = stickClient("127.0.0.1")
		if got := stickGet(t, c1, fe, "/"); got != first {
			t.Errorf("127.0.0.1 on a new connection went to %s, want %s", got, first)
		}
		seen = append(seen, tableEntries(ask, "be")...)
		// The first client's server in maintenance: rebalanced, and
		// stuck to where it went.
		stuck := strings.TrimPrefix(first, "200 ")
		seen = append(seen, ask("disable server be/"+stuck))
		moved := stickGet(t, c1, fe, "/")
		if moved == first {
			t.Errorf("127.0.0.1 still went to %s in maintenance", first)
		}
		seen = append(seen, ask("enable server be/"+stuck))
		if got := stickGet(t, c1, fe, "/"); got != moved {
			t.Errorf("127.0.0.1 went to %s after its server came back, want %s where it was moved", got, moved)
		}
		return append(seen, moved)
	})
}

// stick on req.cook(sid) (a rule of the model), and stick match + stick
// store-request with a condition on a header (compiled to Lua): a key
// keeps its server, keys spread, a request without one is balanced and
// stores nothing; the server disabled in the configuration is never
// chosen.
func TestHAProxyCfgStickOnRequestKeys(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "stick-keys", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    use_backend users if { path_beg /u }
    default_backend sessions

backend sessions
    stick-table type string len 32 size 100 expire 1m
    stick on req.cook(sid)
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@

backend users
    stick-table type string len 32 size 100 expire 1m
    stick match hdr(x-user)
    stick store-request hdr(x-user) if { hdr(x-user) -m found }
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@ disabled
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c := stickClient("127.0.0.1")
		var seen []string
		for _, k := range []struct{ path, hdr string }{
			{"/", "cookie: sid=alpha"}, {"/", "cookie: a=1; sid=beta"}, {"/", "cookie: sid=gamma"},
			{"/u", "x-user: carol"}, {"/u", "x-user: dave"}, {"/u", "x-user: erin"},
		} {
			got := stickGet(t, c, fe, k.path, k.hdr)
			for i := 0; i < 3; i++ {
				// Keyless requests in between move the round robin on.
				seen = append(seen, stickGet(t, c, fe, k.path))
				if again := stickGet(t, c, fe, k.path, k.hdr); again != got {
					t.Errorf("%s %s went to %s, then %s", k.path, k.hdr, got, again)
				}
			}
			if k.path == "/u" && got == "200 s3" {
				t.Errorf("%s went to s3, which is disabled", k.hdr)
			}
			seen = append(seen, k.hdr+" -> "+got)
		}
		seen = append(seen, tableEntries(ask, "sessions")...)
		return append(seen, tableEntries(ask, "users")...)
	})
}

// use-server with ACLs: the first rule whose server can take the request
// wins over the balancing; a rule whose server is in maintenance is
// passed over.
func TestHAProxyCfgUseServer(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "use-server", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    acl vip req.hdr(x-vip) -m found
    use-server s3 if vip
    use-server s2 if { path_beg /two }
    use-server s1 unless { path_beg /two } || vip
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c := stickClient("127.0.0.1")
		var seen []string
		run := func() {
			for _, r := range []struct{ path, hdr string }{
				{"/", ""}, {"/", ""}, {"/two", ""}, {"/", "x-vip: 1"}, {"/two", "x-vip: 1"}, {"/two", "x-vip: 1"},
			} {
				var hdr []string
				if r.hdr != "" {
					hdr = append(hdr, r.hdr)
				}
				seen = append(seen, r.path+" "+r.hdr+" -> "+stickGet(t, c, fe, r.path, hdr...))
			}
		}
		run()
		seen = append(seen, ask("disable server be/s3"))
		run()
		return seen
	})
	// Without HAProxy, what it answers (the scenario above compares the
	// rest): the first matching rule wins.
	addr, _ := hcStartLuaedge(t, sc, map[string]string{"SOCK": filepath.Join(t.TempDir(), "x.sock")})
	c := stickClient("127.0.0.1")
	for _, r := range []struct{ path, hdr, want string }{
		{"/", "", "200 s1"}, {"/two", "", "200 s2"}, {"/two", "x-vip: 1", "200 s3"},
	} {
		hdr := []string{}
		if r.hdr != "" {
			hdr = append(hdr, r.hdr)
		}
		if got := stickGet(t, c, addr(""), r.path, hdr...); got != r.want {
			t.Errorf("%s %s went to %s, want %s", r.path, r.hdr, got, r.want)
		}
	}
}

// TCP mode, stick on src: a client keeps its server across connections;
// the entry is stored once the connection to the server is established,
// though the server has not spoken yet.
func TestHAProxyCfgStickTCP(t *testing.T) {
	needBinary(t)
	backends := map[string]string{}
	for _, name := range []string{"T1", "T2"} {
		name := name
		// Each answers its name once the client sent a line.
		backends[name] = serveEach(t, func(c net.Conn) {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				io.WriteString(c, strings.ToLower(name)+"\n")
			}
		})
	}
	sc := hcScenario{name: "stick-tcp", cfg: stickGlobal + `
listen t
    mode tcp
    bind 127.0.0.1:@PORT@
    stick-table type ip size 100 expire 1m
    stick on src
    server t1 @T1@
    server t2 @T2@
`}
	stickBoth(t, sc, backends, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		dial := func(src string) net.Conn {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", fe)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			return c
		}
		who := func(src string) string {
			c := dial(src)
			defer c.Close()
			io.WriteString(c, "who\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			return strings.TrimSpace(line)
		}
		// Which server each client went to: the round robin's start
		// differs (the servers' readiness probes connect through it), so
		// what is compared is whether the table agrees with the clients.
		went := map[string]string{}
		var seen []string
		// A client that has not sent anything yet is in the table as
		// soon as its server's connection is up.
		silent := dial("127.0.0.4")
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(ask("show table t key 127.0.0.4"), "server_id=") {
			if time.Now().After(deadline) {
				t.Fatalf("no entry for a connected client:\n%s", ask("show table t"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(silent, "who\n")
		line, _ := bufio.NewReader(silent).ReadString('\n')
		silent.Close()
		went["127.0.0.4"] = strings.TrimSpace(line)
		for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
			first := who(src)
			for i := 0; i < 3; i++ {
				if again := who(src); again != first {
					t.Errorf("%s went to %s, then %s", src, first, again)
				}
			}
			went[src] = first
		}
		for _, l := range tableEntries(ask, "t") {
			for src, srv := range went {
				l = strings.Replace(l, "key="+src+" use=0 server_id="+srv[1:]+" server_key="+srv, "key="+src+" use=0 (its server)", 1)
			}
			seen = append(seen, l)
		}
		return seen
	})
}

// use-server honours the server's maxconn: requests sent to a full
// server wait for it in the queue, not for another server.
func TestHAProxyCfgUseServerMaxconn(t *testing.T) {
	needBinary(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	sc := hcScenario{name: "use-server-maxconn", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    timeout queue 5s
    use-server slow if { path_beg /slow }
    server slow @SLOW@ maxconn 1
    server s1 127.0.0.1:@PORTS1@
` + stickServers}
	stickBoth(t, sc, map[string]string{"SLOW": slow.Listener.Addr().String()}, func(addr func(string) string, ask func(string) string) []string {
		mu.Lock()
		most = 0
		mu.Unlock()
		got := make(chan string, 3)
		for i := 0; i < 3; i++ {
			go func() {
				resp, err := http.Get("http://" + addr("") + "/slow")
				if err != nil {
					got <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- resp.Status[:3] + " " + string(body)
			}()
		}
		var seen []string
		for i := 0; i < 3; i++ {
			seen = append(seen, <-got)
		}
		mu.Lock()
		defer mu.Unlock()
		if most != 1 {
			t.Errorf("%d requests at once on a server of maxconn 1", most)
		}
		return append(seen, fmt.Sprintf("at most %d at once", most))
	})
}

// The YAML model: a backend's stick rule on a cookie, and a Lua action
// choosing the server with txn:use_server; show table names the servers.
func TestStickRulesYAML(t *testing.T) {
	var names []string
	for _, n := range []string{"a", "b", "c"} {
		n := n
		b := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, n) })
		names = append(names, b.addr)
	}
	s := startServer(t, fmt.Sprintf(`runtime_socket: le.sock
access_log: off
lua:
  load: [pin.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    http_request: [lua.pin]
    default_backend: app
backends:
  - name: app
    stick_table: {type: string, size: 100, expire: 1m, store: [server_id, server_key]}
    stick:
      - on: req.cook(sid)
    servers:
      - {name: a, address: "%s"}
      - {name: b, address: "%s"}
      - {name: c, address: "%s"}
`, names[0], names[1], names[2]), map[string]string{"pin.lua": `
core.register_action("pin", {"http-req"}, function(txn)
	local srv = txn.f:req_hdr("x-pin")
	if srv then txn:use_server("app", srv) end
end)
`})
	c := stickClient("127.0.0.1")
	got := map[string]string{}
	for _, sid := range []string{"x", "y", "z"} {
		got[sid] = stickGet(t, c, s.addr(), "/", "cookie: sid="+sid)
		for i := 0; i < 3; i++ {
			stickGet(t, c, s.addr(), "/") // moves the round robin on
			if again := stickGet(t, c, s.addr(), "/", "cookie: sid="+sid); again != got[sid] {
				t.Errorf("sid=%s went to %s, then %s", sid, got[sid], again)
			}
		}
	}
	if got["x"] == got["y"] || got["y"] == got["z"] || got["x"] == got["z"] {
		t.Errorf("three cookies on %v", got)
	}
	// A pinned request goes where the action says, and is stored there.
	pin := "c"
	if got["x"] == "200 c" {
		pin = "a"
	}
	if r := stickGet(t, c, s.addr(), "/", "cookie: sid=x", "x-pin: "+pin); r != "200 "+pin {
		t.Errorf("pinned to %s: went to %s", pin, r)
	}
	if r := stickGet(t, c, s.addr(), "/", "cookie: sid=x"); r != "200 "+pin {
		t.Errorf("sid=x after the pin: went to %s, want %s", r, pin)
	}
	if r := stickGet(t, c, s.addr(), "/", "x-pin: nope"); !strings.HasPrefix(r, "200 ") {
		t.Errorf("a pin to no server: %s", r)
	}
	out := s.rt(t, "show table app key x")
	if !strings.Contains(out, " server_id=") || !strings.HasSuffix(strings.TrimSpace(out), "server_key="+pin) {
		t.Errorf("show table app key x:\n%s", out)
	}
}
