package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestHAProxyCfgLogConns: with several clients at once, on two loops,
// the access log's %ac %fc %bc %sc are HAProxy's (the line's own
// connection counts, its own request no longer does: a request held by
// the server counts in the others' lines), and a Lua service's requests
// (HTTP and TCP) name it as their server, timed and ended as HAProxy's
// applets, where a deny's have none.
func TestHAProxyCfgLogConns(t *testing.T) {
	needBinary(t)
	// The server holds /hold until the scenario releases it.
	var arrived, release chan struct{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(app.Close)
	sc := hcScenario{
		name:  "log-conns",
		files: []string{"services.lua", "tcpecho.lua"},
		cfg: `global
    nbthread 2
    log stdout format raw local0
    lua-load services.lua
    lua-load tcpecho.lua

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    log-format "LOG %ft %b/%s %ac/%fc/%bc/%sc %ST %Tw %ts %HP"
    http-request deny if { path /deny }
    http-request use-service lua.two if { path /two }
    default_backend app

frontend other
    bind 127.0.0.1:@PORTOTHER@
    log-format "LOG %ft %b/%s %ac/%fc/%bc/%sc %ST %Tw %ts %HP"
    http-request use-service lua.one

frontend tcpin
    mode tcp
    bind 127.0.0.1:@PORTTCP@
    log-format "LOG %ft %b/%s %ac/%fc/%bc/%sc %Tw %ts"
    tcp-request content use-service lua.upper

backend app
    server app1 @APP@
`,
	}
	want := []string{
		"LOG other other/<lua.one> 1/1/0/0 200 0 LR /one",
		// other's connection stays open; /hold waits on app1.
		"LOG www app/app1 3/2/1/1 200 0 -- /a",
		"LOG www www/<lua.two> 3/2/0/0 200 0 LR /two",
		"LOG www www/<NOSRV> 3/2/0/0 403 -1 PR /deny",
		"LOG tcpin tcpin/<lua.upper> 4/1/0/0 0 --",
		// /hold, released, once the TCP session closed.
		"LOG www app/app1 3/2/0/0 200 0 -- /hold",
	}
	backends := map[string]string{"APP": app.Listener.Addr().String()}
	run := func(addr func(string) string, logs func() string) []string {
		arrived, release = make(chan struct{}), make(chan struct{})
		other := &hxClient{addr: addr("OTHER")}
		defer other.close()
		// The first request lets the server see the close of the
		// connections that waited for its ports: its line is left out.
		for _, p := range []string{"/warm", "/one"} {
			if r, err := other.do(hxReq{Path: p}); err != nil || r.Status != 200 {
				t.Fatalf("%s: %+v, %v", p, r, err)
			}
		}
		// A line may be written after its answer left: each client
		// connects once the lines before it are written.
		hcLogLines(logs, 2)
		held := &hxClient{addr: addr("")}
		defer held.close()
		done := make(chan hxResp, 1)
		go func() {
			r, _ := held.do(hxReq{Path: "/hold"})
			done <- r
		}()
		<-arrived
		a := &hxClient{addr: addr("")}
		defer a.close()
		for _, p := range []string{"/a", "/two", "/deny"} {
			if _, err := a.do(hxReq{Path: p}); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		hcLogLines(logs, 5)
		c, err := net.Dial("tcp", addr("TCP"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "hi\nquit\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, _ := io.ReadAll(c); !strings.Contains(string(got), "HI") {
			t.Errorf("TCP service: %q", got)
		}
		c.Close()
		hcLogLines(logs, 6) // the TCP session's line before /hold's
		close(release)
		if r := <-done; r.Status != 200 {
			t.Errorf("/hold: %+v", r)
		}
		// Each loop writes its own lines: they are compared in order of
		// their text.
		var got []string
		for _, l := range hcLogLines(logs, len(want)+1) {
			if !strings.HasSuffix(l, " /warm") {
				got = append(got, l)
			}
		}
		sort.Strings(got)
		return got
	}
	sort.Strings(want)
	le, s := hcStartLuaedge(t, sc, backends)
	if got := run(le, s.logs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("luaedge's lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	ha, out := hcStartHAProxy(t, bin, sc, backends)
	if got := run(ha, out.String); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("haproxy's lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
