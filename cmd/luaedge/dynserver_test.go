package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// openConnsBackend answers "c" and counts the connections open to it.
func openConnsBackend(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "c") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), &open
}

// add server makes a server in maintenance; enabled, every loop balances
// to it by its weight; it is in show stat, show servers state, the stats
// page's JSON and /metrics; del server refuses while it is in service,
// then removes it everywhere and the loops close their idle connections
// to it; a reload goes back to the configuration.
func TestRuntimeDynamicServer(t *testing.T) {
	s, _, _ := runtimeServer(t)
	addr, open := openConnsBackend(t)
	s.expectRT(t, "add server app/c "+addr+" weight 2 maxconn 50", "New server registered.\n")
	if got := hits(t, s, 8); got["c"] != 0 {
		t.Fatalf("c in maintenance was reached: %v", got)
	}
	state := s.rt(t, "show servers state app")
	host, port, _ := net.SplitHostPort(addr)
	if want := fmt.Sprintf("\n3 app 3 c %s 2 1 2 2 ", host); !strings.Contains(state, want) || !strings.Contains(state, " - "+port+" - 0 0 - - 0\n") {
		t.Fatalf("show servers state, want a line starting %q:\n%s", want, state)
	}
	s.expectRT(t, "enable server app/c", "")
	if got := hits(t, s, 60); got["a"] != 10 || got["b"] != 30 || got["c"] != 20 {
		t.Fatalf("weights 1, 3, 2 over 60 requests: %v", got)
	}
	rows := statRows(t, s.rt(t, "show stat"))
	if c := rows["app/c"]; c == nil || c["sid"] != "3" || c["stot"] != "20" || c["weight"] != "2" || c["slim"] != "50" || c["addr"] != addr {
		t.Errorf("show stat's line of c: %v", c)
	}
	if b := rows["app/BACKEND"]; b["weight"] != "6" || b["act"] != "3" {
		t.Errorf("show stat's backend line: %v", b)
	}
	admin := "http://" + s.addrOf("9")
	if v, ok := value(scrape(t, admin+"/metrics"), "luaedge_server_weight", "proxy", "app", "server", "c"); !ok || v != 2 {
		t.Errorf("/metrics: c's weight %v (listed: %v)", v, ok)
	}
	if body := mustGet(t, s.addrOf("9"), "/stats?format=json"); !strings.Contains(body, `"name":"c","address":"`+addr+`"`) {
		t.Errorf("the stats page's JSON lacks c:\n%s", body)
	}
	if open.Load() == 0 {
		t.Fatal("no connection to c is kept open")
	}

	for line, want := range map[string]string{
		"del server app/c":                        "Only servers in maintenance mode can be deleted.\n",
		"add server app/c " + addr:                "Already exists a server with the same name in backend.\n",
		"add server app/d":                        "'server' expects <name> and <addr>[:<port>] as arguments.\n",
		"add server app/d 127.0.0.1:1 ssl":        "'ssl' is not supported by add server in luaedge; it takes " + addServerOptions + " (TLS follows the backend's tls).\n",
		"add server app/d 127.0.0.1:1 weight":     "'weight' expects an integer argument.\n",
		"add server app/d 127.0.0.1:1 weight 300": "weight of server d is not within 0 and 256 (300).\n",
		"add server app/d 127.0.0.1:1 check":      "'check': backend app has no health checks (its check.type is not set).\n",
		"add server app/d 127.0.0.1":              "Invalid server 'd': \"127.0.0.1\": missing port in address.\n",
		"add server nope/d 127.0.0.1:1":           "No such backend.\n",
		"add server app 127.0.0.1:1":              "Require 'backend/server'.\n",
		"del server app/nope":                     "No such server.\n",
		"enable health app/c":                     "Health check was not configured on this server, cannot enable.\n",
	} {
		s.expectRT(t, line, want)
	}

	s.expectRT(t, "disable server app/c", "")
	s.expectRT(t, "del server app/c", "Server deleted.\n")
	if got := hits(t, s, 8); got["c"] != 0 || got["a"] != 2 {
		t.Fatalf("after del server: %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections to the deleted server are still open", open.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := statRows(t, s.rt(t, "show stat"))["app/c"]; ok {
		t.Error("show stat still lists c")
	}
	if strings.Contains(s.rt(t, "show servers state"), " app 3 c ") {
		t.Error("show servers state still lists c")
	}
	if _, ok := value(scrape(t, admin+"/metrics"), "luaedge_server_weight", "proxy", "app", "server", "c"); ok {
		t.Error("/metrics still has c")
	}

	// A reload goes back to the configuration: what add server made is
	// gone, what del server removed is back.
	s.expectRT(t, "add server app/d "+addr, "New server registered.\n")
	s.expectRT(t, "disable server app/a", "")
	s.expectRT(t, "del server app/a", "Server deleted.\n")
	s.mustReload(t)
	rows = statRows(t, s.rt(t, "show stat"))
	if rows["app/a"] == nil || rows["app/d"] != nil {
		t.Errorf("after a reload: %v", rows)
	}
	if s.exited() {
		t.Fatalf("luaedge exited:\n%s", s.logs())
	}
}
