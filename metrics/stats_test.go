package metrics

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sample is a snapshot of the counters of one HTTP frontend, one backend
// with two servers, after n requests.
func sample(gen int, n int64) *Snapshot {
	s := &Snapshot{Loops: 2, Version: "v1", Generation: gen, Uptime: 90 * time.Second,
		LuaMemory: []int64{1000, 2000}, LoopSessions: []int64{1, 2}, LoopRequests: []int64{n / 2, n - n/2}}
	f := FrontendSnapshot{Name: "web", Mode: "http", Status: "OPEN"}
	f.Sessions, f.SessionsTotal, f.Requests, f.BytesIn, f.BytesOut = 3, n/2, n, 10*n, 100*n
	f.Responses[Class2xx], f.Responses[Class5xx], f.RequestErrors = n-1, 1, 1
	b := BackendSnapshot{Name: "app", Algo: "roundrobin", Status: "UP", ActiveServers: 1, Weight: 10, Current: 2, Max: 5, Total: n}
	b.Requests, b.ConnectErrors, b.BytesOut, b.Timed, b.ResponseTime = n, 2, 100*n, n, n*int64(4*time.Millisecond)
	b.Responses[Class2xx] = n - 2
	b.Servers = []ServerSnapshot{
		{Name: "s1", ID: 1, Address: "10.0.0.1:80", Up: true, Status: "UP", Admin: "ready", Weight: 10, InitialWeight: 10,
			Active: 2, MaxActive: 5, Total: n - 2, MaxConn: 100, LastChange: 61 * time.Second,
			Check: CheckSnapshot{Configured: true, Enabled: true, Status: "L7OK", Code: 200, Duration: 3 * time.Millisecond, Health: 4, Rise: 2, Fall: 3}},
		{Name: "s2", ID: 2, Address: "10.0.0.2:80", Status: "MAINT", Admin: "maint", Weight: 0, InitialWeight: 5, Total: 2, ConnectErrors: 2,
			Retries: 6, Redispatches: 1,
			Check: CheckSnapshot{Configured: true, Enabled: true, Status: "L4CON", Rise: 2, Fall: 3, Failures: 3, Downs: 1}},
	}
	s.Frontends = []FrontendSnapshot{f, {Name: "raw", Mode: "tcp", Status: "STOP"}}
	s.Backends = []BackendSnapshot{b}
	s.Functions = []FunctionSnapshot{{Kind: "service", Name: "hello", Source: "a.lua:1", Calls: n, Errors: 1, CPU: 2 * time.Millisecond}}
	return s
}

// Rates are the counters' differences per second between samples; a new
// generation starts them (and the maxima) again.
func TestHistory(t *testing.T) {
	h := NewHistory()
	t0 := time.Unix(1000, 0)
	h.Add(t0, sample(1, 100))
	if r := h.Frontend("web"); r.ReqRate != 0 || r.SessionsMax != 3 {
		t.Fatalf("after one sample: %+v", r)
	}
	h.Add(t0.Add(2*time.Second), sample(1, 300))
	r := h.Frontend("web")
	if r.ReqRate != 100 || r.ConnRate != 50 || r.BytesOutRate != 10000 || r.ReqRateMax != 100 {
		t.Fatalf("frontend rates: %+v", r)
	}
	if b := h.Backend("app"); b.ReqRate != 100 || b.ResponseTime != 4*time.Millisecond {
		t.Fatalf("backend rates: %+v", b)
	}
	if s := h.Server("app", "s1"); s.ReqRate != 100 {
		t.Fatalf("server rate: %+v", s)
	}
	h.Add(t0.Add(3*time.Second), sample(1, 310))
	if r := h.Frontend("web"); r.ReqRate != 10 || r.ReqRateMax != 100 {
		t.Fatalf("after a slower second: %+v", r)
	}
	if p := h.Process(); p.ReqRate != 10 || p.ReqRateMax != 100 || p.SessionsMax != 3 {
		t.Fatalf("process: %+v", p)
	}
	if pts := h.Points(); len(pts) != 2 || pts[1].ReqRate != 10 || pts[0].ResponseTime != 4*time.Millisecond {
		t.Fatalf("points: %+v", pts)
	}
	h.Add(t0.Add(4*time.Second), sample(2, 5))
	if r := h.Frontend("web"); r.ReqRate != 0 || r.ReqRateMax != 0 {
		t.Fatalf("after a reload: %+v", r)
	}
	for i := 0; i < HistoryLen+10; i++ {
		h.Add(t0.Add(time.Duration(5+i)*time.Second), sample(2, int64(10+i)))
	}
	if n := len(h.Points()); n != HistoryLen {
		t.Fatalf("%d points kept, want %d", n, HistoryLen)
	}
}

// The CSV is HAProxy's show stat: its header, FRONTEND lines, servers
// then BACKEND; the filter selects as HAProxy's arguments do.
func TestCSV(t *testing.T) {
	h := NewHistory()
	h.Add(time.Unix(0, 0), sample(1, 100))
	h.Add(time.Unix(1, 0), sample(1, 150))
	st := StatsOf(sample(1, 150), h, 5*time.Second)
	out := st.CSV(CSVFilter{})
	if !strings.HasPrefix(out, "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,") || !strings.HasSuffix(out, ",\n") {
		t.Fatalf("CSV:\n%s", out)
	}
	rows := parseCSV(t, out)
	if len(rows) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(rows), out)
	}
	want := []map[string]string{
		{"pxname": "web", "svname": "FRONTEND", "scur": "3", "stot": "75", "bin": "1500", "bout": "15000", "ereq": "1", "status": "OPEN",
			"iid": "1", "type": "0", "hrsp_2xx": "149", "hrsp_5xx": "1", "req_tot": "150", "req_rate": "50", "rate": "25", "mode": "http"},
		{"pxname": "raw", "svname": "FRONTEND", "status": "STOP", "iid": "2", "req_tot": "", "hrsp_2xx": "", "mode": "tcp"},
		{"pxname": "app", "svname": "s1", "scur": "2", "smax": "5", "slim": "100", "stot": "148", "status": "UP", "weight": "10",
			"act": "1", "iid": "3", "sid": "1", "type": "2", "check_status": "L7OK", "check_code": "200", "check_duration": "3",
			"check_health": "4", "lastchg": "61", "addr": "10.0.0.1:80", "qcur": "0"},
		{"pxname": "app", "svname": "s2", "status": "MAINT", "weight": "0", "econ": "2", "wretr": "6", "wredis": "1", "check_status": "L4CON", "chkfail": "3", "chkdown": "1", "sid": "2"},
		{"pxname": "app", "svname": "BACKEND", "scur": "2", "smax": "5", "stot": "150", "lbtot": "150", "econ": "2", "wretr": "6", "wredis": "1", "status": "UP",
			"act": "1", "bck": "0", "weight": "10", "type": "1", "iid": "3", "hrsp_2xx": "148", "rtime": "4", "algo": "roundrobin", "bout": "15000"},
	}
	for i, w := range want {
		for k, v := range w {
			if got := rows[i][k]; got != v {
				t.Errorf("line %d (%s/%s) %s = %q, want %q", i+1, rows[i]["pxname"], rows[i]["svname"], k, got, v)
			}
		}
	}
	for _, tc := range []struct {
		f    CSVFilter
		want []string
	}{
		{CSVFilter{Proxy: "app"}, []string{"s1", "s2", "BACKEND"}},
		{CSVFilter{Proxy: "3", Types: TypeBackend}, []string{"BACKEND"}},
		{CSVFilter{Proxy: "-1", Types: TypeFrontend}, []string{"FRONTEND", "FRONTEND"}},
		{CSVFilter{Proxy: "app", Types: -1, SID: 2}, []string{"s2"}},
		{CSVFilter{Proxy: "nope"}, nil},
	} {
		var got []string
		for _, r := range parseCSV(t, st.CSV(tc.f)) {
			got = append(got, r["svname"])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("filter %+v: %v, want %v", tc.f, got, tc.want)
		}
	}
}

// parseCSV reads a show stat answer into a map per line, by field name.
func parseCSV(t *testing.T, s string) []map[string]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(s, "# ")))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, name := range recs[0] {
			m[name] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

// The handler serves the page, its JSON and its CSV (path;csv as
// HAProxy's page, or ?format=csv).
func TestStatsHandler(t *testing.T) {
	h := NewHistory()
	h.Add(time.Unix(0, 0), sample(1, 10))
	h.Add(time.Unix(1, 0), sample(1, 30))
	src := func(context.Context) *Snapshot { return sample(1, 30) }
	mux := http.NewServeMux()
	handler := StatsHandler(src, h, 3*time.Second)
	mux.Handle("/stats", handler)
	mux.Handle("/stats;csv", handler)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (string, string) {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %s %s", path, r.Status, b)
		}
		return r.Header.Get("Content-Type"), string(b)
	}
	if ct, body := get("/stats"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<title>luaedge stats</title>") ||
		strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("page: %s, %d bytes; it must hold no external link or asset", ct, len(body))
	}
	for _, path := range []string{"/stats;csv", "/stats?format=csv"} {
		if _, body := get(path); !strings.HasPrefix(body, "# pxname,svname,") || !strings.Contains(body, "\napp,BACKEND,") {
			t.Errorf("%s:\n%s", path, body)
		}
	}
	_, body := get("/stats?format=json")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Refresh != 3 || st.Frontends[0].Requests != 30 || st.Frontends[0].ReqRate != 20 || st.Backends[0].Servers[1].Status != "MAINT" ||
		st.Process.LuaMemory != 3000 || len(st.PerLoop) != 2 || st.Functions[0].Calls != 30 || len(st.History) != 1 {
		t.Errorf("JSON: %s", body)
	}
	if r, _ := http.Get(srv.URL + "/stats?format=xml"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown format: %s", r.Status)
	}
}
