package backend

import (
	"strings"
	"testing"
	"time"
)

// mustNew builds a backend or fails the test.
func mustNew(t *testing.T, cfg Config) *Backend {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// servers makes server configs named a, b, c... with the given weights.
func servers(weights ...int) []ServerConfig {
	var out []ServerConfig
	for i, w := range weights {
		out = append(out, ServerConfig{
			Name:    string(rune('a' + i)),
			Address: "127.0.0.1:" + string(rune('1'+i)) + "000",
			Weight:  w,
		})
	}
	return out
}

func TestNewValidation(t *testing.T) {
	ok := ServerConfig{Name: "s", Address: "10.0.0.1:80"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no name", Config{Servers: []ServerConfig{ok}}, "name: required"},
		{"balance", Config{Name: "x", Balance: "wrr", Servers: []ServerConfig{ok}},
			`balance: unknown "wrr" (want roundrobin, static-rr, leastconn, first, source, random, uri, url_param NAME or hdr(NAME))`},
		{"balance option", Config{Name: "x", Balance: "uri len 10 first", Servers: []ServerConfig{ok}},
			`balance uri: want the options len N, depth N, whole or path-only (got "first")`},
		{"balance url_param", Config{Name: "x", Balance: "url_param", Servers: []ServerConfig{ok}},
			`balance url_param: want a parameter name, and no option (check_post is not supported)`},
		{"hash-type", Config{Name: "x", HashType: "consistent md5", Servers: []ServerConfig{ok}},
			`hash_type: want a function sdbm, djb2, wt6 or crc32 after consistent, got "md5"`},
		{"no servers", Config{Name: "x"}, "servers: at least one server is required"},
		{"server name", Config{Name: "x", Servers: []ServerConfig{ok, {Address: "10.0.0.2:80"}}},
			"servers[1].name: required"},
		{"duplicate", Config{Name: "x", Servers: []ServerConfig{ok, {Name: "t", Address: "10.0.0.2:80"}, {Name: "s", Address: "10.0.0.3:80"}}},
			`servers[2].name: duplicate "s" (also servers[0])`},
		{"missing port", Config{Name: "x", Servers: []ServerConfig{ok, {Name: "t", Address: "10.0.0.2"}}},
			`servers[1].address: "10.0.0.2": missing port in address`},
		{"missing host", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: ":80"}}},
			`servers[0].address: ":80": missing host`},
		{"port name", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "example.com:http"}}},
			`servers[0].address: "example.com:http": port "http" is not a number from 1 to 65535, 0 (the destination's port) or +N / -N (the destination's port moved by N)`},
		{"port range", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "[::1]:65536"}}},
			`servers[0].address: "[::1]:65536": port "65536" is not a number from 1 to 65535, 0 (the destination's port) or +N / -N (the destination's port moved by N)`},
		{"port offset range", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "h:+70000"}}},
			`servers[0].address: "h:+70000": port "+70000" is not a number from 1 to 65535, 0 (the destination's port) or +N / -N (the destination's port moved by N)`},
		{"mapped port checked", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "h:+1"}}, Check: CheckConfig{Type: "tcp"}},
			`servers[0].address: "h:+1": its port follows the request's destination, so health checks have no port to connect to`},
		{"weight high", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "h:1", Weight: 257}}},
			"servers[0].weight: 257 is out of range 0..256"},
		{"weight negative", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "h:1", Weight: -1}}},
			"servers[0].weight: -1 is out of range 0..256"},
		{"maxconn", Config{Name: "x", Servers: []ServerConfig{{Name: "t", Address: "h:1", MaxConn: -2}}},
			"servers[0].maxconn: -2 is negative"},
		{"check type", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Type: "udp"}},
			`check.type: unknown "udp" (want tcp or http)`},
		{"check path", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Type: "http", Path: "health"}},
			`check.path: "health" does not start with /`},
		{"check path space", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Type: "http", Path: "/a b"}},
			`check.path: "/a b" has spaces or control characters`},
		{"check host", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Type: "http", Host: "a\r\nX: y"}},
			`check.host: "a\r\nX: y" has spaces or control characters`},
		{"expect status", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Type: "http", ExpectStatus: 99}},
			"check.expect_status: 99 is not an HTTP status (100..599)"},
		{"interval", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Interval: -time.Second}},
			"check.interval: -1s is negative"},
		{"timeout", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Timeout: -time.Second}},
			"check.timeout: -1s is negative"},
		{"rise", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Rise: -1}},
			"check.rise: -1 is negative"},
		{"fall", Config{Name: "x", Servers: []ServerConfig{ok}, Check: CheckConfig{Fall: -1}},
			"check.fall: -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.cfg)
			if err == nil {
				b.Stop()
				t.Fatalf("New succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	b := mustNew(t, Config{
		Name: "web",
		Servers: []ServerConfig{
			{Name: "one", Address: "10.0.0.1:80"},
			{Name: "two", Address: "[2001:db8::1]:8080", Weight: 7, MaxConn: 3, Backup: true},
			{Name: "three", Address: "backend.example:443"},
		},
	})
	if b.Name() != "web" {
		t.Errorf("Name = %q", b.Name())
	}
	if b.algoName != "roundrobin" {
		t.Errorf("balance = %q, want roundrobin", b.algoName)
	}
	c := b.check
	if c.Interval != 2*time.Second || c.Timeout != 2*time.Second || c.Rise != 2 || c.Fall != 3 || c.Path != "/" {
		t.Errorf("check defaults = %+v", c)
	}
	var names []string
	for i, s := range b.Servers() {
		names = append(names, s.Name())
		if s.ID() != i+1 {
			t.Errorf("%s: ID = %d, want %d", s.Name(), s.ID(), i+1)
		}
		if !s.Up() || !s.Usable() || s.IsDraining() {
			t.Errorf("%s: not up and usable at start", s.Name())
		}
	}
	if got := strings.Join(names, ","); got != "one,two,three" {
		t.Errorf("Servers = %s", got)
	}
	one, two := b.Server("one"), b.Server("two")
	if one == nil || two == nil || b.Server("four") != nil {
		t.Fatal("Server lookup")
	}
	if one.Weight() != 1 || one.MaxConn() != 0 || one.IsBackup() {
		t.Errorf("one: weight %d maxconn %d backup %v", one.Weight(), one.MaxConn(), one.IsBackup())
	}
	if two.Weight() != 7 || two.MaxConn() != 3 || !two.IsBackup() || two.Addr() != "[2001:db8::1]:8080" {
		t.Errorf("two: weight %d maxconn %d backup %v addr %s", two.Weight(), two.MaxConn(), two.IsBackup(), two.Addr())
	}
	if b.UpCount() != 3 {
		t.Errorf("UpCount = %d", b.UpCount())
	}
	// Without checks, Start has nothing to run.
	b.Start()
	b.Stop()
	b.Stop()
}

func TestSetAddrWeightMaxConn(t *testing.T) {
	b := mustNew(t, Config{Name: "x", Servers: servers(1)})
	s := b.Servers()[0]
	if err := s.SetAddr("10.1.2.3:8443"); err != nil || s.Addr() != "10.1.2.3:8443" {
		t.Errorf("SetAddr: %v, Addr %s", err, s.Addr())
	}
	if err := s.SetAddr("10.1.2.3"); err == nil || s.Addr() != "10.1.2.3:8443" {
		t.Errorf("SetAddr without port: %v, Addr %s", err, s.Addr())
	}
	for _, w := range []int{-1, 257} {
		if err := s.SetWeight(w); err == nil {
			t.Errorf("SetWeight(%d) succeeded", w)
		}
	}
	if err := s.SetWeight(256); err != nil || s.Weight() != 256 {
		t.Errorf("SetWeight(256): %v, Weight %d", err, s.Weight())
	}
	s.SetMaxConn(-5)
	if s.MaxConn() != 0 {
		t.Errorf("SetMaxConn(-5): MaxConn %d, want 0", s.MaxConn())
	}
}

func TestStats(t *testing.T) {
	b := mustNew(t, Config{
		Name: "api",
		Servers: []ServerConfig{
			{Name: "a", Address: "10.0.0.1:80", Weight: 3, MaxConn: 10},
			{Name: "b", Address: "10.0.0.2:80", Weight: 2},
			{Name: "z", Address: "10.0.0.9:80", Backup: true},
		},
	})
	a := b.Server("a")
	p1, p2 := b.Pick(nil), b.Pick(nil)
	p2.Done()
	a.ReportConnectError()

	st := b.Stats()
	want := map[string]any{
		"pxname": "api", "svname": "BACKEND", "algo": "roundrobin",
		"scur": 1, "smax": 2, "stot": 2, "econ": 1,
		"act": 2, "bck": 1, "weight": 5, "status": "UP",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("backend %s = %v, want %v", k, st[k], v)
		}
	}
	p1.Done()

	ss := a.Stats()
	for k, v := range map[string]any{
		"pxname": "api", "svname": "a", "sid": 1, "addr": "10.0.0.1:80",
		"scur": 0, "stot": 1, "slim": 10, "econ": 1, "weight": 3,
		"act": 1, "bck": 0, "status": "no check", "chkdown": 0,
	} {
		if ss[k] != v {
			t.Errorf("server %s = %v, want %v", k, ss[k], v)
		}
	}
	if _, ok := ss["check_status"]; ok {
		t.Error("check_status present though no check ran")
	}
	if _, ok := b.Server("b").Stats()["slim"]; ok {
		t.Error("slim present without maxconn")
	}
	if b.Server("z").Stats()["bck"] != 1 {
		t.Error("backup server bck != 1")
	}

	a.CheckForceDown()
	b.Server("b").SetMaint()
	st = b.Stats()
	if st["act"] != 0 || st["bck"] != 1 || st["weight"] != 1 || st["status"] != "UP" {
		t.Errorf("backups only: %v", st)
	}
	b.Server("z").SetDrain()
	if st = b.Stats(); st["status"] != "DOWN" || st["act"] != 0 || st["bck"] != 0 {
		t.Errorf("all out: %v", st)
	}
}

func TestDialAddr(t *testing.T) {
	b, err := New(Config{Name: "x", Servers: []ServerConfig{
		{Name: "fixed", Address: "10.0.0.1:80"},
		{Name: "any", Address: "0.0.0.0:0"},
		{Name: "anyport", Address: "[::]:8080"},
		{Name: "plus", Address: "10.0.0.1:+1000"},
		{Name: "minus", Address: "10.0.0.1:-10"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	tests := []struct {
		server, dst string
		port        int
		want        string
		fixed       bool
		err         bool
	}{
		{"fixed", "192.0.2.1", 443, "10.0.0.1:80", true, false},
		{"any", "192.0.2.1", 443, "192.0.2.1:443", false, false},
		{"any", "2001:db8::1", 443, "[2001:db8::1]:443", false, false},
		{"any", "", 443, "", false, true},
		{"anyport", "192.0.2.1", 443, "192.0.2.1:8080", false, false},
		{"plus", "192.0.2.1", 443, "10.0.0.1:1443", false, false},
		{"minus", "192.0.2.1", 443, "10.0.0.1:433", false, false},
		{"minus", "192.0.2.1", 5, "", false, true},
		{"any", "192.0.2.1", 0, "", false, true},
	}
	for _, tt := range tests {
		got, fixed, err := b.Server(tt.server).DialAddr([]byte(tt.dst), tt.port)
		if got != tt.want || fixed != tt.fixed || (err != nil) != tt.err {
			t.Errorf("%s to %s:%d: %q, %v, %v; want %q, %v, error %v", tt.server, tt.dst, tt.port, got, fixed, err, tt.want, tt.fixed, tt.err)
		}
	}
	// A transparent server is checked at its own address; a mapped port
	// is not checked, nor can an address become one under checks.
	c, err := New(Config{Name: "y", Servers: []ServerConfig{{Name: "s", Address: "0.0.0.0:0"}}, Check: CheckConfig{Type: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.Server("s").SetAddr("127.0.0.1:+1"); err == nil {
		t.Error("SetAddr took a mapped port on a checked backend")
	}
}

// A retry after a failed connection counts once, in wretr or (moved to
// another server) wredis; one after a failed answer counts twice, as
// HAProxy 2.6.12 counts it: wretr, then wretr again or wredis. Neither
// is a failed connection for good (econ), and the backend sums its
// servers'.
func TestRetryCounts(t *testing.T) {
	b := mustNew(t, Config{Name: "api", Servers: []ServerConfig{
		{Name: "a", Address: "10.0.0.1:80"}, {Name: "b", Address: "10.0.0.2:80"},
	}})
	a, o := b.Server("a"), b.Server("b")
	a.ReportConnectRetry(false)
	a.ReportConnectRetry(true)
	a.ReportAnswerRetry(false)
	a.ReportAnswerRetry(true)
	o.ReportAnswerRetry(false)
	for _, tc := range []struct {
		name                string
		stats               map[string]any
		wretr, wredis, econ int
	}{
		{"a", a.Stats(), 4, 2, 0},
		{"b", o.Stats(), 2, 0, 0},
		{"BACKEND", b.Stats(), 6, 2, 0},
	} {
		if tc.stats["wretr"] != tc.wretr || tc.stats["wredis"] != tc.wredis || tc.stats["econ"] != tc.econ {
			t.Errorf("%s: wretr %v wredis %v econ %v, want %d %d %d", tc.name, tc.stats["wretr"], tc.stats["wredis"], tc.stats["econ"], tc.wretr, tc.wredis, tc.econ)
		}
	}
}
