package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"
)

// TestHAProxyCfgTrackUntilBodyEnd: a request tracked by a rule keeps its
// entry (conn_cur) until the end of its response's body, as in HAProxy:
// while a server holds a body it started, another request of the client
// counts two connections.
func TestHAProxyCfgTrackUntilBodyEnd(t *testing.T) {
	needBinary(t)
	var release chan struct{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-length", "6")
		io.WriteString(w, "hel")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "lo\n")
	}))
	t.Cleanup(app.Close)
	sc := hcScenario{
		name: "track-until-body-end",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    stick-table type ip size 10 expire 1m store conn_cur
    http-request track-sc0 src
    http-request return status 200 content-type text/plain lf-string "cur=%[sc0_conn_cur]" if { path /cur }
    default_backend app

backend app
    server app1 @APP@
`,
	}
	backends := map[string]string{"APP": app.Listener.Addr().String()}
	run := func(name string, addr func(string) string) {
		release = make(chan struct{})
		cur := func() string {
			r, err := (&hxClient{addr: addr("")}).do(hxReq{Path: "/cur"})
			if err != nil {
				t.Fatal(err)
			}
			return r.Body
		}
		if got := cur(); got != "cur=1" {
			t.Errorf("%s: alone: %q, want cur=1", name, got)
		}
		c, err := net.Dial("tcp", addr(""))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /held HTTP/1.1\r\nHost: hx.test\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 3)
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "hel" {
			t.Fatalf("%s: the body's start: %q, %v", name, first, err)
		}
		if got := cur(); got != "cur=2" {
			t.Errorf("%s: while the body is held: %q, want cur=2", name, got)
		}
		close(release)
		if rest, _ := io.ReadAll(resp.Body); string(rest) != "lo\n" {
			t.Errorf("%s: the body's end: %q", name, rest)
		}
	}
	le, _ := hcStartLuaedge(t, sc, backends)
	run("luaedge", le)
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	ha, _ := hcStartHAProxy(t, bin, sc, backends)
	run("haproxy", ha)
}
