package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads and parses the Prometheus exposition at url.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("%s: %s", url, r.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include labels (name=value pairs); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		}
	}
	return 0, false
}

// After known traffic, /metrics on the admin listener has the exact
// counts: per frontend, per backend and server, per script function.
func TestMetricsExact(t *testing.T) {
	be := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "backend\n")
	})
	s := startServer(t, fmt.Sprintf(`workers: 2
lua:
  load: [app.lua]
admin: {bind: "127.0.0.1:@PORT9@"}
access_log: off
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello
  - name: px
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web1, address: "%s"}
      - {name: gone, address: "127.0.0.1:1"}
    balance: roundrobin
    retries: 0
`, be.addr), map[string]string{"app.lua": accessLogLua})
	// Raw requests, to count the bytes of each response (head and body).
	get := func(addr, path string) (status, n int) {
		t.Helper()
		return rawStatus(t, addr, "GET "+path+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
	}
	okBytes := 0
	for i := 0; i < 5; i++ {
		status, n := get(s.addr(), "/ok")
		if status != 200 {
			t.Fatalf("/ok: %d", status)
		}
		okBytes += n
	}
	status, failBytes := get(s.addr(), "/fail")
	if status != 500 {
		t.Fatalf("/fail: %d", status)
	}
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "NOT HTTP\r\n\r\n")
	if bad, _ := io.ReadAll(c); !strings.HasPrefix(string(bad), "HTTP/1.1 400 ") {
		t.Errorf("the bad request's answer: %q", bad)
	}
	c.Close()
	// Round robin over web1 and gone: gone refuses the connection (503,
	// with no retries).
	codes := map[int]int{}
	pBytes := 0
	for i := 0; i < 4; i++ {
		status, n := get(s.addrOf("2"), "/p")
		codes[status]++
		pBytes += n // luaedge's own 503 counts too, as HAProxy's
	}
	if codes[200]+codes[503] != 4 || codes[200] == 0 {
		t.Fatalf("proxied statuses %v", codes)
	}

	url := "http://" + s.addrOf("9") + "/metrics"
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(5 * time.Second)
	for { // the connections' closes reach the server after the responses
		fams = scrape(t, url)
		a, _ := value(fams, "luaedge_frontend_current_sessions", "proxy", "web")
		b, _ := value(fams, "luaedge_frontend_current_sessions", "proxy", "px")
		if a == 0 && b == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("current sessions %v and %v after 5 s", a, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"luaedge_frontend_http_requests_total", []string{"proxy", "web"}, 6},
		{"luaedge_frontend_sessions_total", []string{"proxy", "web"}, 7},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "web", "code", "2xx"}, 5},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "web", "code", "4xx"}, 1},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "web", "code", "5xx"}, 1},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "web", "code", "3xx"}, 0},
		{"luaedge_frontend_request_errors_total", []string{"proxy", "web"}, 1},
		// The five answers and HAProxy's 500 page for /fail, heads
		// included; not the 400 to a request without a request line,
		// which HAProxy's bout leaves out too.
		{"luaedge_frontend_bytes_out_total", []string{"proxy", "web"}, float64(okBytes + failBytes)},
		{"luaedge_frontend_http_requests_total", []string{"proxy", "px"}, 4},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "px", "code", "2xx"}, float64(codes[200])},
		{"luaedge_frontend_http_responses_total", []string{"proxy", "px", "code", "5xx"}, float64(codes[503])},
		{"luaedge_frontend_bytes_out_total", []string{"proxy", "px"}, float64(pBytes)},
		{"luaedge_backend_http_requests_total", []string{"proxy", "app"}, 4},
		{"luaedge_backend_http_responses_total", []string{"proxy", "app", "code", "2xx"}, float64(codes[200])},
		{"luaedge_backend_connection_errors_total", []string{"proxy", "app"}, float64(codes[503])},
		{"luaedge_backend_response_time_seconds", []string{"proxy", "app"}, float64(codes[200])},
		{"luaedge_server_status", []string{"proxy", "app", "server", "web1"}, 1},
		{"luaedge_server_weight", []string{"proxy", "app", "server", "web1"}, 1},
		{"luaedge_process_loops", nil, 2},
		{"luaedge_lua_function_calls_total", []string{"kind", "service", "name", "hello"}, 6},
		{"luaedge_lua_function_errors_total", []string{"kind", "service", "name", "hello"}, 1},
		{"luaedge_lua_function_timeouts_total", []string{"kind", "service", "name", "hello"}, 0},
	}
	for _, w := range want {
		got, ok := value(fams, w.name, w.labels...)
		if !ok || got != w.v {
			t.Errorf("%s%v = %v (found: %v), want %v", w.name, w.labels, got, ok, w.v)
		}
	}
	for _, loop := range []string{"1", "2"} {
		if m, ok := value(fams, "luaedge_lua_memory_bytes", "loop", loop); !ok || m < 10000 {
			t.Errorf("Lua memory of loop %s: %v %v", loop, m, ok)
		}
	}
	if v, _ := value(fams, "luaedge_cgo_calls_total"); v < 6 {
		t.Errorf("cgo calls %v", v)
	}
	if v, _ := value(fams, "luaedge_lua_function_cpu_seconds_total", "name", "hello"); v <= 0 {
		t.Errorf("CPU seconds of the service: %v", v)
	}
	if v, ok := value(fams, "luaedge_process_uptime_seconds"); !ok || v <= 0 {
		t.Errorf("uptime %v", v)
	}
	if r, err := http.Get("http://" + s.addrOf("9") + "/other"); err != nil || r.StatusCode != 404 {
		t.Errorf("another path on the admin listener: %v %v", r, err)
	}
}
