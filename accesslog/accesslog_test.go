package accesslog

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testRecord() *Record {
	return &Record{
		Start:    time.Date(2026, 12, 7, 1, 2, 3, 456e6, time.Local),
		ClientIP: []byte("10.0.0.1"), ClientPort: 40000,
		FrontIP: []byte("10.0.0.2"), FrontPort: 80,
		Frontend: "fe", Backend: "be", Server: "s1",
		TR: 0, Tw: 0, Tc: 2 * time.Millisecond, Tr: 5 * time.Millisecond, Ta: 9 * time.Millisecond,
		Status: 200, BytesOut: 1234, BytesIn: 7, Term: "--",
		Method: []byte("GET"), Target: []byte(`/a?q="x"`), Major: 1, Minor: 1,
	}
}

func TestDefaultHTTPLine(t *testing.T) {
	f, err := ParseFormat("default", false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.Append(nil, testRecord()))
	want := `10.0.0.1:40000 [07/Dec/2026:01:02:03.456] fe be/s1 0/0/2/5/9 200 1234 -- "GET /a?q=#22x#22 HTTP/1.1"` + "\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r := testRecord()
	r.Backend, r.Server, r.Tc, r.Tr, r.Status, r.Term, r.Cause = "", "", -1, -1, 400, "PR", "bad\nrequest"
	r.Method = nil
	got = string(f.Append(nil, r))
	want = `10.0.0.1:40000 [07/Dec/2026:01:02:03.456] fe fe/<NOSRV> 0/0/-1/-1/9 400 1234 PR "<BADREQ>" "bad#0Arequest"` + "\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestCustomFormat(t *testing.T) {
	f, err := ParseFormat(`%ci %cp %fi:%fp %HM %HP %HQ %HV %ST %B %U %tsc %{+Q}r %[var(txn.user)] %[var(txn.none)] %ER 100%%`, false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	if v := f.Vars(); len(v) != 2 || v[0] != "txn.user" || v[1] != "txn.none" {
		t.Fatalf("Vars() = %q", v)
	}
	r := testRecord()
	r.Vars = [][]byte{[]byte("bob"), nil}
	got := string(f.Append(nil, r))
	want := `10.0.0.1 40000 10.0.0.2:80 GET /a ?q=#22x#22 HTTP/1.1 200 1234 7 ---- "GET /a?q=#22x#22 HTTP/1.1" bob - - 100%` + "\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A request without a valid line: each part is <BADREQ>, as HAProxy's.
	r.Method, r.Target, r.Status, r.Term = nil, nil, 400, "PR"
	got = string(f.Append(nil, r))
	want = `10.0.0.1 40000 10.0.0.2:80 <BADREQ> <BADREQ> <BADREQ> <BADREQ> 400 1234 7 PR-- "<BADREQ>" bob - - 100%` + "\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// %HPO is the path without the query, and without an absolute URI's
// scheme and authority (%HP keeps them), as HAProxy 2.6's.
func TestPathOnly(t *testing.T) {
	f, err := ParseFormat(`%HPO|%HP|%{+Q}HPO`, false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{"/a/b%20c?x=1", `/a/b%20c|/a/b%20c|"/a/b%20c"`},
		{"/", `/|/|"/"`},
		{"http://ex.com/p/q?z", `/p/q|http://ex.com/p/q|"/p/q"`},
		{"https://ex.com", `|https://ex.com|""`},
		{"http://ex.com?q", `|http://ex.com|""`},
		{"ex.com:443", `|ex.com:443|""`},
		{"*", `|*|""`},
		{"/a#b?c", `/a#23b|/a#23b|"/a#23b"`},
	} {
		r := testRecord()
		r.Target = []byte(tc.target)
		if got := string(f.Append(nil, r)); got != tc.want+"\n" {
			t.Errorf("%s: got %q, want %q", tc.target, got, tc.want+"\n")
		}
	}
	r := testRecord()
	r.Method, r.Target = nil, nil
	if got := string(f.Append(nil, r)); got != "<BADREQ>|<BADREQ>|\"<BADREQ>\"\n" {
		t.Errorf("no request line: got %q", got)
	}
}

// %Tw, %sq and %bq of a request that waited in its backend's queue; JSON
// adds its place.
func TestQueueFields(t *testing.T) {
	f, err := ParseFormat(`%Tw %sq/%bq`, false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord()
	r.Tw, r.Queued, r.BackendQueue = 42*time.Millisecond, true, 3
	if got := string(f.Append(nil, r)); got != "42 0/3\n" {
		t.Errorf("got %q", got)
	}
	j, _ := ParseFormat("json", false, Captures{})
	var m map[string]any
	if err := json.Unmarshal(j.Append(nil, r), &m); err != nil || m["t_queue"] != 42.0 || m["backend_queue"] != 3.0 {
		t.Errorf("json: %v %v", m, err)
	}
	r.Queued = false
	m = nil
	if err := json.Unmarshal(j.Append(nil, r), &m); err != nil || m["backend_queue"] != nil {
		t.Errorf("json, not queued: %v %v", m["backend_queue"], err)
	}
}

func TestFormatErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"%ci %zz":               "unknown log-format variable %zz",
		"%{+Q":                  "unclosed",
		"%{+X}r":                "unknown flag",
		"%[src]":                "luaedge knows %[var(NAME)]",
		"%[capture.req.hdr(0)]": "no such capture slot",
		"%[lua.f(1)]":           "luaedge knows",
		"%[var(proc.x)]":        "scope txn, req, res or sess",
		"%[var(txn.x)":          "unclosed",
		"plain %":               "unknown log-format variable %",
		"%ci %[var(txn.a)] %t":  "",
	} {
		_, err := ParseFormat(spec, false, Captures{})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", spec, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: got error %v, want one with %q", spec, err, want)
		}
	}
}

// Captures (%hr, %hs and their spaced forms, capture.*.hdr), Lua
// fetches, and the variables HAProxy's formats name that luaedge fills
// with what it has.
func TestCapturesAndHAProxyVariables(t *testing.T) {
	f, err := ParseFormat(`%hr %hs %hrl %hsl %[capture.req.hdr(1)] %[lua.tag] %[var(txn.a)] %Td %ac/%fc/%bc/%sc/%rc %sq/%bq %CC %CS %ID %si:%sp %ms %{+E}ST`, false, Captures{Request: 2, Response: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"capture.req.0", "capture.req.1", "capture.res.0", "lua.tag", "txn.a"}
	if v := f.Vars(); strings.Join(v, " ") != strings.Join(want, " ") {
		t.Fatalf("Vars() = %q, want %q", v, want)
	}
	r := testRecord()
	r.Vars = [][]byte{[]byte("host|x"), nil, []byte("abc"), []byte("t"), nil}
	got := string(f.Append(nil, r))
	if want := "{host#7Cx|} {abc} host#7Cx - abc - t - 2 0/0/0/0/0 0/0 - - - -:- 456 200\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The default format shows the captures before the request line.
	d, _ := ParseFormat("default", false, Captures{Request: 1})
	if got := string(d.Append(nil, r)); !strings.Contains(got, ` -- {host#7Cx} "GET`) {
		t.Errorf("default format with a capture: %q", got)
	}
}

// %ac %fc %bc %sc log the record's connection counts, and the format
// says it reads them (so that they are read only for such a format).
func TestConnectionCounts(t *testing.T) {
	f, err := ParseFormat(`%ac/%fc/%bc/%sc/%rc`, false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Conns() {
		t.Error("Conns() = false for a format with %ac")
	}
	r := testRecord()
	r.Conns = Conns{Process: 7, Frontend: 5, Backend: 3, Server: 2}
	if got := string(f.Append(nil, r)); got != "7/5/3/2/0\n" {
		t.Errorf("got %q", got)
	}
	for _, spec := range []string{"default", "%ci %b/%s %Th %Ti"} {
		if d, _ := ParseFormat(spec, false, Captures{}); d.Conns() {
			t.Errorf("%q: Conns() = true", spec)
		}
	}
}

// A frontend that captures a cookie logs it in %CC and %CS (samples
// capture.req.cookie and capture.res.cookie), and its default format
// shows them after the bytes, as HAProxy's httplog.
func TestCapturedCookies(t *testing.T) {
	f, err := ParseFormat(`%CC %CS %{+Q}CC`, false, Captures{Cookie: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := f.Vars(); strings.Join(v, " ") != "capture.req.cookie capture.res.cookie" {
		t.Fatalf("Vars() = %q", v)
	}
	r := testRecord()
	r.Vars = [][]byte{[]byte("sid=abc"), nil}
	if got := string(f.Append(nil, r)); got != "sid=abc - \"sid=abc\"\n" {
		t.Errorf("got %q", got)
	}
	d, _ := ParseFormat("default", false, Captures{Cookie: true})
	if got := string(d.Append(nil, r)); !strings.Contains(got, ` 200 1234 sid=abc - --`) {
		t.Errorf("default format with a captured cookie: %q", got)
	}
}

func TestJSONLine(t *testing.T) {
	f, _ := ParseFormat("json", false, Captures{})
	r := testRecord()
	r.Cause = "Lua: \"boom\"\n"
	r.Target = []byte("/\xff\x01")
	line := f.Append(nil, r)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for k, v := range map[string]any{"client_ip": "10.0.0.1", "client_port": 40000.0, "frontend": "fe", "backend": "be", "server": "s1",
		"t_connect": 2.0, "t_response": 5.0, "t_active": 9.0, "status": 200.0, "bytes_out": 1234.0, "bytes_in": 7.0,
		"termination": "--", "method": "GET", "uri": "/\ufffd\x01", "protocol": "HTTP/1.1", "error": "Lua: \"boom\"\n"} {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
		t.Errorf("not one line: %q", line)
	}
}

// A line formats without allocating: the loops log every request.
func TestAppendAllocs(t *testing.T) {
	f, _ := ParseFormat("default", false, Captures{})
	j, _ := ParseFormat("json", false, Captures{})
	r := testRecord()
	b := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { b = j.Append(f.Append(b[:0], r), r) }); n != 0 {
		t.Errorf("%v allocations per line", n)
	}
}

func TestFileSinkAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := New(0, "access.log", dir, Syslog{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	l := NewLoop([]*Sink{s})
	f, _ := ParseFormat("%HM %HU", false, Captures{})
	r := testRecord()
	l.Write(every(s), f, r, LevelInfo)
	l.Flush()
	path := filepath.Join(dir, "access.log")
	waitFile(t, path, "GET /a?q=#22x#22\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	s.Reopen()
	r.Target = []byte("/b")
	deadline := time.Now().Add(5 * time.Second)
	for { // the reopen is asynchronous: write until a line lands in the new file
		l.Write(every(s), f, r, LevelInfo)
		l.Flush()
		if b, _ := os.ReadFile(path); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new file after Reopen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	old, _ := os.ReadFile(path + ".1")
	if !strings.HasPrefix(string(old), "GET /a?q=#22x#22\n") {
		t.Errorf("rotated file: %q", old)
	}
	cur, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(cur), "GET /b\n") {
		t.Errorf("new file: %q", cur)
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// every is the target of s taking every line, at local0.
func every(s *Sink) []Target { return []Target{{Sink: s, Levels: DefaultLevels}} }

// udpSink starts a sink to a UDP socket of the test, with y's header.
func udpSink(t *testing.T, id int, y Syslog) (*Sink, net.PacketConn) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s, err := New(id, "syslog://"+pc.LocalAddr().String(), "", y)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, pc
}

// read returns the next n messages pc receives.
func read(t *testing.T, pc net.PacketConn, n int) []string {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	var got []string
	for len(got) < n {
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(buf[:k]))
	}
	return got
}

// Each header as HAProxy 2.6 writes it (the time and the pid masked),
// each line a message ending in a newline, with its own PRI.
func TestSyslogHeaders(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	local2, _ := ParseFacility("local2")
	for _, c := range []struct {
		y    Syslog
		want []string
	}{
		{Syslog{Header: HeaderRFC3164, Tag: "haproxy"}, []string{"<150>T haproxy[P]: GET 200\n", "<147>T haproxy[P]: GET 404\n"}},
		{Syslog{Header: HeaderRFC3164, Tag: "t", Hostname: "h"}, []string{"<150>T h t[P]: GET 200\n", "<147>T h t[P]: GET 404\n"}},
		{Syslog{Header: HeaderRFC5424, Tag: "luaedge"}, []string{"<150>1 T - luaedge P - - GET 200\n", "<147>1 T - luaedge P - - GET 404\n"}},
		{Syslog{Header: HeaderRFC5424, Tag: "t", Hostname: "h"}, []string{"<150>1 T h t P - - GET 200\n", "<147>1 T h t P - - GET 404\n"}},
		{Syslog{Header: HeaderRaw}, []string{"GET 200\n", "GET 404\n"}},
		{Syslog{Header: HeaderPriority}, []string{"<150>GET 200\n", "<147>GET 404\n"}},
		{Syslog{Header: HeaderShort}, []string{"<6>GET 200\n", "<3>GET 404\n"}},
		{Syslog{Header: HeaderTimed}, []string{"<6>T GET 200\n", "<3>T GET 404\n"}},
		{Syslog{Header: HeaderISO}, []string{"T GET 200\n", "T GET 404\n"}},
		{Syslog{Header: HeaderPriority, Len: 8}, []string{"<150>GET\n", "<147>GET\n"}},
	} {
		s, pc := udpSink(t, 0, c.y)
		l := NewLoop([]*Sink{s})
		f, _ := ParseFormat("%HM %ST", false, Captures{})
		ts := []Target{{Sink: s, Levels: Levels{Facility: local2, Max: LevelDebug}}}
		l.Write(ts, f, testRecord(), LevelInfo)
		r := testRecord()
		r.Status = 404
		l.Write(ts, f, r, LevelErr)
		l.Flush()
		got := read(t, pc, 2)
		for i, m := range got {
			m = strings.ReplaceAll(m, pid, "P")
			m = regexp.MustCompile(`[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d`).ReplaceAllString(m, "T")
			if m != c.want[i] {
				t.Errorf("%+v: message %q (%q), want %q", c.y, got[i], m, c.want[i])
			}
		}
	}
}

// A line goes to each target its levels take, with the target's
// facility, formatted once however many targets; a sampled target takes
// the lines its ranges say.
func TestSeveralTargets(t *testing.T) {
	a, pa := udpSink(t, 0, Syslog{Header: HeaderPriority})
	b, pb := udpSink(t, 1, Syslog{Header: HeaderShort})
	c, pc := udpSink(t, 2, Syslog{Header: HeaderRaw})
	local1, _ := ParseFacility("local1")
	notice, _ := ParseLevel("notice")
	sm, err := ParseSample("1,3:3")
	if err != nil {
		t.Fatal(err)
	}
	ts := []Target{
		{Sink: a, Levels: DefaultLevels},
		{Sink: b, Levels: Levels{Facility: local1, Max: notice}},
		{Sink: c, Levels: DefaultLevels, Sample: sm},
	}
	l := NewLoop([]*Sink{a, b, c})
	f, _ := ParseFormat("%ST", false, Captures{})
	for i, level := range []Level{LevelInfo, LevelErr, LevelInfo, LevelInfo} {
		r := testRecord()
		r.Status = 200 + i
		l.Write(ts, f, r, level)
	}
	l.Flush()
	if got, want := strings.Join(read(t, pa, 4), ""), "<134>200\n<131>201\n<134>202\n<134>203\n"; got != want {
		t.Errorf("first target: %q, want %q", got, want)
	}
	if got, want := strings.Join(read(t, pb, 1), ""), "<3>201\n"; got != want {
		t.Errorf("notice target: %q, want %q", got, want)
	}
	if got, want := strings.Join(read(t, pc, 3), ""), "200\n202\n203\n"; got != want {
		t.Errorf("sampled target: %q, want %q", got, want)
	}
	r := testRecord()
	if n := testing.AllocsPerRun(100, func() { l.Write(ts[:2], f, r, LevelInfo); l.bufs[0], l.bufs[1] = l.bufs[0][:0], l.bufs[1][:0] }); n != 0 {
		t.Errorf("%v allocations per line", n)
	}
	for _, bad := range []string{"1:0", "0:2", "3:2", "2-1:3", "1", "a:2"} {
		if _, err := ParseSample(bad); err == nil {
			t.Errorf("ParseSample(%q): no error", bad)
		}
	}
}

// A loop never waits for a sink: with the writer not running, the
// buffers past the queue's length are dropped and their lines counted.
func TestSlowSinkDrops(t *testing.T) {
	s, err := New(0, "stdout", "", Syslog{})
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoop([]*Sink{s})
	f, _ := ParseFormat("%HM", false, Captures{})
	for i := 0; i < queueLen+3; i++ {
		l.Write(every(s), f, testRecord(), LevelInfo)
		l.Flush()
	}
	if got := s.Dropped(); got != 3 {
		t.Errorf("dropped %d lines, want 3", got)
	}
}

// BenchmarkFileSink is what a line of the default format costs the
// process, writer included: formatting on the loop, and the writer's
// share of the writes to a file. cpu-ns/line is the process's CPU time
// (user and system, every thread) per line.
func BenchmarkFileSink(b *testing.B) {
	s, err := New(0, filepath.Join(b.TempDir(), "access.log"), "", Syslog{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	l := NewLoop([]*Sink{s})
	f, _ := ParseFormat("default", false, Captures{})
	r := testRecord()
	before := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Write(every(s), f, r, LevelInfo)
	}
	l.Flush()
	s.Close()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/line")
	if d := s.Dropped(); d > 0 {
		b.Logf("%d lines dropped", d)
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Levels filters as HAProxy's log line does: less severe than the max
// is not sent, more severe than the min is sent at the min.
func TestLevelsPriority(t *testing.T) {
	local2, _ := ParseFacility("local2")
	notice, _ := ParseLevel("notice")
	crit, _ := ParseLevel("crit")
	v := Levels{Facility: local2, Max: notice, Min: crit}
	for _, c := range []struct {
		level Level
		pri   uint8
		ok    bool
	}{
		{LevelInfo, 0, false},
		{LevelDebug, 0, false},
		{notice, 18*8 + 5, true},
		{LevelErr, 18*8 + 3, true},
		{0, 18*8 + 2, true}, // emerg, sent as crit
	} {
		pri, ok := v.Priority(c.level)
		if pri != c.pri || ok != c.ok {
			t.Errorf("%v: %d, %v; want %d, %v", c.level, pri, ok, c.pri, c.ok)
		}
	}
	if pri, ok := DefaultLevels.Priority(LevelInfo); pri != 134 || !ok {
		t.Errorf("default levels, info: %d, %v; want 134 (local0 info)", pri, ok)
	}
	if _, err := ParseLevel("warn"); err == nil {
		t.Error("ParseLevel(warn): no error")
	}
	if _, err := ParseFacility("local8"); err == nil {
		t.Error("ParseFacility(local8): no error")
	}
}

// %ST is -1 when no status was sent, 0 on the line of a connection that
// failed before it could carry a request, as HAProxy's.
func TestStatusWithoutRequest(t *testing.T) {
	f, err := ParseFormat("%ST %ts %{+Q}r", false, Captures{})
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord()
	r.Status, r.Term, r.Method, r.Target = 0, "CD", nil, nil
	if got := string(f.Append(nil, r)); got != "-1 CD \"<BADREQ>\"\n" {
		t.Errorf("no status: %q", got)
	}
	r.Term, r.NoRequest = "PR", true
	if got := string(f.Append(nil, r)); got != "0 PR \"<BADREQ>\"\n" {
		t.Errorf("no request: %q", got)
	}
}

// Spaces are separators, as in HAProxy's log-format: one is written
// between two things written, so the captures of a frontend without
// slots (%hr, %hs: nothing written) and runs of spaces leave one, leading
// ones none; one after the last thing written stays. An empty variable
// of another kind counts as written (%HQ of a request without a query).
func TestFormatSeparators(t *testing.T) {
	r := testRecord()
	for spec, want := range map[string]string{
		"%ST %hs %B":   "%ST %B",
		"  %ST  x  %B": "%ST x %B",
		"%ST %hr %hs":  "%ST ",
	} {
		f, err := ParseFormat(spec, false, Captures{})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := ParseFormat(want, false, Captures{})
		if got, exp := string(f.Append(nil, r)), string(w.Append(nil, r)); got != exp {
			t.Errorf("%q: %q, want %q", spec, got, exp)
		}
	}
	r.Target = []byte("/a") // no query: %HQ is empty, and its separators stay
	f, _ := ParseFormat("%HM %HQ %HP", false, Captures{})
	if got := string(f.Append(nil, r)); got != "GET  /a\n" {
		t.Errorf("an empty %%HQ: %q", got)
	}
}
