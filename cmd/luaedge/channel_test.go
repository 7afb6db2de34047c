package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveEach starts a TCP server that runs handle on each connection it
// accepts (closing it after) until the test ends, when it closes the
// connections still open and waits for their handlers; it returns its
// address.
func serveEach(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// startEcho starts a TCP server that sends back what it reads.
func startEcho(t *testing.T) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// The Channel class method by method (testdata/haproxycfg/channel.lua),
// run on HAProxy 2.6 and on luaedge with the same haproxy.cfg: in TCP mode
// every result and what reaches the server after the changes; in HTTP
// mode the lengths and states both channels give, and the refusals.
func TestHAProxyCfgChannelAPI(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	backends["ECHO"] = startEcho(t)
	sc := hcScenario{
		name:  "channel",
		files: []string{"channel.lua"},
		cfg: `global
    nbthread 1
    lua-load channel.lua

defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen tcp
    mode tcp
    bind 127.0.0.1:@PORT@
    tcp-request inspect-delay 5s
    tcp-request content lua.channel-tcp
    server echo @ECHO@

frontend www
    mode http
    bind 127.0.0.1:@PORTH@
    http-request lua.channel-http-req
    http-response lua.channel-http-res
    http-response set-header x-q %[var(txn.q)]
    http-response set-header x-s %[var(txn.s)]
    default_backend app

backend app
    mode http
    server app @APP@
`,
	}
	// HAProxy 2.6.12's answers. Its append puts the data in front of the
	// input, as prepend does (its documentation says at the end).
	const wantTCP = `wait="hello\
world\
"
input=12
output=0
is_resp=false
res.is_resp=true
may_recv=true
res.may_recv=true
res.input=0
is_full=false
data()="hello\
world\
"
data(6)="world\
"
data(-6)="world\
"
data(-20)="hello\
world\
"
data(0,5)="hello"
data(0,0)=""
data(13)=ERR offset out of range.
data(2,-2)=ERR length out of range.
line()="hello\
"
line(6)="world\
"
line(0,3)="hel"
line(-3)="ld\
"
line(0,0)=""
insert(X,5)=1
insert(Y)=1
insert(W,-1)=1
prepend(P)=1
append(A)=1
after inserts="APYhelloX\
worldW\
"
set(Z,1,2)=1
set(Q,-2)=1
set(E,0,0)=1
after sets="EAZhelloX\
worldQ"
set(L,1,99)=ERR length out of range.
remove(0,1)=1
remove(-2)=2
remove(1,0)=0
remove(1,-1)=12
after removes="A"
set(all)=12
forward(3)=3
output=3
input=9
data()="lo\
world\
"
data(0,2)="lo"
line()="lo\
"
insert(I,0)=1
append(A)=1
after forward="AIlo\
world\
"
data(1,2,3)=ERR channel.lua:9: 'data' expects at most 2 arguments
insert()=ERR channel.lua:9: 'insert' expects at least 1 argument and at most 2 arguments
insert(1)=1
set(nil)=ERR channel.lua:75: bad argument #1 to 'set' (string expected, got nil)
remove(0,99)=ERR length out of range.
data(x)=ERR channel.lua:77: bad argument #1 to 'data' (number expected, got string)
data(1.5)=ERR channel.lua:78: bad argument #1 to 'data' (number has no integer representation)
append()=ERR channel.lua:9: 'append' needs 2 arguments
forward()=ERR channel.lua:9: 'forward' needs 2 arguments
--
hel1AIlo
world
`
	refused := "=ERR Cannot manipulate HAProxy channels in HTTP mode."
	var wantHTTP []string
	for _, side := range []string{"req", "res"} {
		resp := side == "res"
		wantHTTP = append(wantHTTP, side+".output=0", side+".get_out_len=0", side+".may_recv=true", side+".is_full=false")
		if resp {
			wantHTTP = append(wantHTTP, side+".is_resp=true")
		} else {
			wantHTTP = append(wantHTTP, side+".is_resp=false")
		}
		for _, m := range []string{"data", "line", "set", "remove", "dup", "get", "getline", "append", "prepend", "insert", "send", "forward"} {
			wantHTTP = append(wantHTTP, side+"."+m+refused)
		}
	}
	sorted := func(parts []string) string { // the report's order is its own
		parts = append([]string(nil), parts...)
		sort.Strings(parts)
		return strings.Join(parts, "\n")
	}
	check := func(who string, addr func(string) string) {
		c, err := net.DialTimeout("tcp", addr(""), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(8 * time.Second))
		if _, err := io.WriteString(c, "hello\nworld\n"); err != nil {
			t.Fatal(err)
		}
		// The report, then what the server got back to the client.
		br := bufio.NewReader(c)
		var got strings.Builder
		for !strings.HasSuffix(got.String(), "world\n") || !strings.Contains(got.String(), "--\n") {
			line, err := br.ReadString('\n')
			got.WriteString(line)
			if err != nil {
				break
			}
		}
		// Positions are the file's name and line: the folder differs.
		text := luaFolder.ReplaceAllString(got.String(), "channel.lua:")
		if d := firstLineDiff(wantTCP, text); d != "" {
			t.Errorf("%s, TCP mode: %s", who, d)
		}

		resp, err := http.Get("http://" + addr("H") + "/")
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		resp.Body.Close()
		// input is left out: HAProxy counts its internal encoding of
		// the message there.
		for _, h := range []string{"x-q", "x-s"} {
			var kept []string
			for _, p := range strings.Split(resp.Header.Get(h), ";") {
				if !strings.Contains(p, ".input=") && !strings.Contains(p, ".get_in_len=") {
					kept = append(kept, p)
				}
			}
			if d := firstLineDiff(sorted(wantHTTP), sorted(kept)); d != "" {
				t.Errorf("%s, HTTP mode, %s: %s", who, h, d)
			}
		}
	}
	hcCheckBoth(t, sc, backends, check)
}

// luaFolder matches the folder before a script's name in an error.
var luaFolder = regexp.MustCompile(`[^ ]*/channel\.lua:`)

// firstLineDiff names the first line where got differs from want ("":
// none).
func firstLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ": got " + strconv.Quote(gl) + ", want " + strconv.Quote(wl)
		}
	}
	return ""
}

// tcp-request inspect-delay bounds the waits of the tcp-request rules'
// channel reads: a client that sends less than a read asks for gets what
// it sent back once the delay has passed, on both servers.
func TestHAProxyCfgInspectDelay(t *testing.T) {
	needBinary(t)
	backends := map[string]string{"ECHO": startEcho(t)}
	sc := hcScenario{
		name:  "inspect-delay",
		files: []string{"channel.lua"},
		cfg: `global
    nbthread 1
    lua-load channel.lua

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

defaults tcpd
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    tcp-request inspect-delay 400ms

listen tcp from tcpd
    bind 127.0.0.1:@PORT@
    tcp-request content lua.channel-inspect
    server echo @ECHO@
`,
	}
	check := func(who string, addr func(string) string) {
		c, err := net.DialTimeout("tcp", addr(""), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(8 * time.Second))
		start := time.Now()
		if _, err := io.WriteString(c, "abc"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		took := time.Since(start)
		if want := `data(0,5)="abc" line()="abc"` + "\n"; line != want || err != nil {
			t.Errorf("%s: %q, %v; want %q", who, line, err, want)
		}
		if took < 300*time.Millisecond || took > 3*time.Second {
			t.Errorf("%s: the answer came after %v; want the 400ms inspect delay", who, took)
		}
	}
	hcCheckBoth(t, sc, backends, check)
}
