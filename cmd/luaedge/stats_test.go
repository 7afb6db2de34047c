package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/metrics"
)

const statsConfig = `workers: 2
admin: {bind: "127.0.0.1:@PORT9@", stats_refresh: 1s}
access_log: off
lua:
  load: [app.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: px
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: app
backends:
  - name: app
    retries: 0
    servers:
      - {name: web1, address: "%s", weight: 2}
      - {name: gone, address: "127.0.0.1:1"}
`

// statsJSON reads the stats page's JSON form.
func statsJSON(t *testing.T, s *server) *metrics.Stats {
	t.Helper()
	r, err := http.Get("http://" + s.addrOf("9") + "/stats?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st metrics.Stats
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// startStatsServer serves statsConfig and sends known traffic: 5 good
// and 1 failing requests to web, 1 refused request, and 3 to px, whose
// round robin (weights 2 and 1) sends 2 to web1 and 1 to gone (503: it
// refuses the connection, and app has no retries).
func startStatsServer(t *testing.T) *server {
	t.Helper()
	be := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backend\n") })
	s := startServer(t, fmt.Sprintf(statsConfig, be.addr), map[string]string{"app.lua": accessLogLua})
	get := func(url string, want int) {
		t.Helper()
		r, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != want {
			t.Fatalf("%s: %d, want %d", url, r.StatusCode, want)
		}
	}
	for i := 0; i < 5; i++ {
		get(s.url("/ok"), 200)
	}
	get(s.url("/fail"), 500)
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "NOT HTTP\r\n\r\n")
	io.ReadAll(c)
	c.Close()
	for _, want := range []int{200, 503, 200} {
		get("http://"+s.addrOf("2")+"/p", want)
	}
	return s
}

// After known traffic, the stats page's JSON and CSV forms carry the
// exact counts: frontends, backend, servers, script functions.
func TestStatsPageNumbers(t *testing.T) {
	s := startStatsServer(t)
	var st *metrics.Stats
	deadline := time.Now().Add(5 * time.Second)
	for { // the connections' closes reach the server after the responses
		st = statsJSON(t, s)
		if st.Process.Sessions == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	web, px, app := st.Frontends[0], st.Frontends[1], st.Backends[0]
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"web requests", web.Requests, 6},
		{"web sessions", web.Sessions.Total, 7},
		{"web 2xx", web.Responses["2xx"], 5},
		{"web 4xx", web.Responses["4xx"], 1},
		{"web 5xx", web.Responses["5xx"], 1},
		{"web request errors", web.RequestErrors, 1},
		{"web bytes out", web.BytesOut, 863}, // heads included, as %B; not the 400 to a <BADREQ>, as HAProxy's bout
		{"px requests", px.Requests, 3},
		{"px 5xx", px.Responses["5xx"], 1},
		{"app requests", app.Requests, 3},
		{"app 2xx", app.Responses["2xx"], 2},
		{"app connect errors", app.ConnectErrors, 1},
		{"app bytes out", app.BytesOut, 499}, // the 503 luaedge answered included
		{"app sessions total", app.Sessions.Total, 3},
		{"web1 total", app.Servers[0].Sessions.Total, 2},
		{"gone total", app.Servers[1].Sessions.Total, 1},
		{"gone connect errors", app.Servers[1].ConnectErrors, 1},
		{"process requests", st.Process.Requests, 9},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if st.Loops != 2 || st.Generation != 1 || st.Refresh != 1 || len(st.PerLoop) != 2 || st.Process.LuaMemory < 10000 {
		t.Errorf("process: %+v, loops %+v", st, st.PerLoop)
	}
	if sv := app.Servers[0]; sv.Name != "web1" || sv.Weight != 2 || sv.InitialWeight != 2 || sv.Status != "no check" || sv.Admin != "ready" {
		t.Errorf("web1: %+v", sv)
	}
	var hello *metrics.FunctionStats
	for i, f := range st.Functions {
		if f.Kind == "service" && f.Name == "hello" {
			hello = &st.Functions[i]
		}
	}
	if hello == nil || hello.Calls != 6 || hello.Errors != 1 || hello.CPU <= 0 {
		t.Errorf("the service's line: %+v", hello)
	}

	r, err := http.Get("http://" + s.addrOf("9") + "/stats;csv")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	rows := statRows(t, string(body)+"\n")
	for key, fields := range map[string]map[string]string{
		"web/FRONTEND": {"req_tot": "6", "stot": "7", "hrsp_2xx": "5", "hrsp_4xx": "1", "hrsp_5xx": "1", "ereq": "1", "bout": "863"},
		"px/FRONTEND":  {"req_tot": "3", "hrsp_5xx": "1"},
		"app/web1":     {"stot": "2", "weight": "2", "status": "no check"},
		"app/gone":     {"stot": "1", "econ": "1"},
		"app/BACKEND":  {"lbtot": "3", "hrsp_2xx": "2", "econ": "1", "bout": "499", "algo": "roundrobin"},
	} {
		for f, v := range fields {
			if rows[key][f] != v {
				t.Errorf(";csv %s %s = %q, want %q", key, f, rows[key][f], v)
			}
		}
	}
}

// The page in Chromium draws the numbers and updates them by itself:
// after more traffic, the request count on the page moves to the new
// total without a reload, and the chart gains points.
func TestStatsPageChromium(t *testing.T) {
	b := needChromium(t)
	s := startStatsServer(t)
	b.call("Page.navigate", map[string]any{"url": "http://" + s.addrOf("9") + "/stats"})
	cellValue := func(key string) string {
		return b.eval(`(document.querySelector('[data-k="` + key + `"]') || {dataset: {}}).dataset.v`)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s; it shows:\n%s", what, b.eval("document.body.innerText"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("web's 6 requests", func() bool { return cellValue("fe/web/req_tot") == "6" })
	for key, want := range map[string]string{
		"fe/web/hrsp_5xx": "1", "fe/web/ereq": "1", "be/app/stot": "3", "be/app/econ": "1",
		"sv/app/web1/status": "no check", "sv/app/web1/weight": "2", "sv/app/gone/stot": "1", "fn/service/hello/calls": "6",
	} {
		if got := cellValue(key); got != want {
			t.Errorf("page cell %s = %q, want %q", key, got, want)
		}
	}
	if v, _ := strconv.Atoi(cellValue("loop/1/lua_memory")); v < 10000 {
		t.Errorf("loop 1's Lua memory on the page: %d", v)
	}
	refreshes := func() int {
		n, _ := strconv.Atoi(b.eval(`document.getElementById("updated").dataset.refreshes`))
		return n
	}
	first := refreshes()
	for i := 0; i < 20; i++ {
		mustGet(t, s.addr(), "/ok")
	}
	waitFor("web's 26 requests", func() bool { return cellValue("fe/web/req_tot") == "26" })
	if refreshes() <= first {
		t.Errorf("the page did not read the numbers again (%d refreshes, then %d)", first, refreshes())
	}
	waitFor("the chart's points", func() bool {
		n, _ := strconv.Atoi(b.eval(`document.querySelector("#c-rate polyline").dataset.n`))
		return n >= 2
	})
	if strings.Contains(b.eval(`document.getElementById("err").textContent`), "Cannot") {
		t.Errorf("the page reports an error: %s", b.eval(`document.getElementById("err").textContent`))
	}
}
