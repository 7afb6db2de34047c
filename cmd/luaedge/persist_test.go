package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// HAProxy's other persistence features, run on HAProxy 2.6 and on
// luaedge, which must choose the same servers and store the same entries:
// stick store-response, option persist, force-persist and ignore-persist,
// use-server with a format, and the persistence cookie's dates and
// dynamic values.

// storeServers are three listens that answer their name, with an x-key
// field echoing the request's, or else a Set-Cookie SID echoing its x-id.
const storeServers = `
listen a1
    bind 127.0.0.1:@PORTS1@
    http-request return status 200 content-type text/plain string s1 hdr x-key "%[req.hdr(x-key)]" if { req.hdr(x-key) -m found }
    http-request return status 200 content-type text/plain string s1 hdr set-cookie "SID=%[req.hdr(x-id)]; path=/" if { req.hdr(x-id) -m found }
    http-request return status 200 content-type text/plain string s1

listen a2
    bind 127.0.0.1:@PORTS2@
    http-request return status 200 content-type text/plain string s2 hdr x-key "%[req.hdr(x-key)]" if { req.hdr(x-key) -m found }
    http-request return status 200 content-type text/plain string s2 hdr set-cookie "SID=%[req.hdr(x-id)]; path=/" if { req.hdr(x-id) -m found }
    http-request return status 200 content-type text/plain string s2

listen a3
    bind 127.0.0.1:@PORTS3@
    http-request return status 200 content-type text/plain string s3 hdr x-key "%[req.hdr(x-key)]" if { req.hdr(x-key) -m found }
    http-request return status 200 content-type text/plain string s3 hdr set-cookie "SID=%[req.hdr(x-id)]; path=/" if { req.hdr(x-id) -m found }
    http-request return status 200 content-type text/plain string s3
`

// stick store-response: the key the server's answer gives (a field, a
// cookie it sets) is stored with that server, the first rule of each
// table whose key is found, beside the request's store of the same
// table; a condition on the response holds or not. Two clients
// interleaved on one loop keep their servers.
func TestHAProxyCfgStickStoreResponse(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "stick-store-response", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend other
    stick-table type string len 32 size 100 expire 1m

backend be
    stick-table type string len 32 size 100 expire 1m
    stick match req.cook(SID)
    stick match req.hdr(x-key)
    stick store-request req.hdr(x-req)
    stick store-response res.hdr(x-key)
    stick store-response res.cook(SID)
    stick store-response res.hdr(x-key) table other if { res.hdr(x-key) -m beg k }
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@
` + storeServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		a := stickGet(t, c1, fe, "/", "x-id: alpha")
		b := stickGet(t, c2, fe, "/", "x-id: beta", "x-req: rb")
		seen = append(seen, a, b)
		for i := 0; i < 4; i++ {
			// Keyless requests in between move the round robin on.
			seen = append(seen, stickGet(t, c1, fe, "/"))
			if x, y := stickGet(t, c1, fe, "/", "cookie: SID=alpha"), stickGet(t, c2, fe, "/", "cookie: SID=beta"); x != a || y != b {
				t.Errorf("interleaved: %s and %s, want %s and %s", x, y, a, b)
			}
		}
		k := stickGet(t, c1, fe, "/", "x-key: k1")
		m := stickGet(t, c2, fe, "/", "x-key: m1")
		for i := 0; i < 3; i++ {
			seen = append(seen, stickGet(t, c2, fe, "/"))
			if x, y := stickGet(t, c1, fe, "/", "x-key: k1"), stickGet(t, c2, fe, "/", "x-key: m1"); x != k || y != m {
				t.Errorf("x-key: %s and %s, want %s and %s", x, y, k, m)
			}
		}
		seen = append(seen, k, m)
		seen = append(seen, tableEntries(ask, "be")...)
		return append(seen, tableEntries(ask, "other")...)
	})
}

// persistGet sends a GET for path with the header fields hdr and returns
// the answer's status, body and Set-Cookie fields.
func persistGet(t *testing.T, c *http.Client, addr, path string, hdr ...string) string {
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
	return fmt.Sprintf("%s %s %q", resp.Status[:3], strings.TrimSpace(string(body)), resp.Header.Values("set-cookie"))
}

// force-persist sends a cookie's request to its server in maintenance,
// ignore-persist balances it and inserts no cookie; option persist
// keeps a stick entry's and a use-server rule's server in maintenance.
// A second client on the loop keeps its own server throughout.
func TestHAProxyCfgPersistRules(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "persist-rules", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    use_backend bp if { path_beg /p }
    default_backend be

backend be
    balance first
    cookie SRV insert indirect nocache
    force-persist if { req.hdr(x-force) -m found }
    ignore-persist if { req.hdr(x-ignore) -m found }
    server s1 127.0.0.1:@PORTS1@ cookie c1
    server s2 127.0.0.1:@PORTS2@ cookie c2
    server s3 127.0.0.1:@PORTS3@ cookie c3

backend bp
    option persist
    stick-table type string len 32 size 100 expire 1m
    use-server s3 if { path_beg /p/three }
    stick on req.hdr(x-user)
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		get := func(c *http.Client, path string, hdr ...string) {
			seen = append(seen, path+" "+strings.Join(hdr, ", ")+" -> "+persistGet(t, c, fe, path, hdr...))
		}
		other := func() {
			if got := persistGet(t, c2, fe, "/", "cookie: SRV=c3"); got != `200 s3 []` {
				t.Errorf("the other client went to %s", got)
			}
		}
		get(c1, "/")
		get(c1, "/", "cookie: SRV=c2")
		other()
		seen = append(seen, ask("disable server be/s2"))
		for i := 0; i < 2; i++ {
			get(c1, "/", "cookie: SRV=c2")
			other()
			get(c1, "/", "cookie: SRV=c2", "x-force: 1")
			get(c1, "/", "cookie: SRV=c2", "x-force: 1", "x-ignore: 1")
		}
		seen = append(seen, ask("enable server be/s2"))
		for i := 0; i < 2; i++ {
			get(c1, "/", "cookie: SRV=c2", "x-ignore: 1")
			other()
			get(c1, "/", "x-ignore: 1")
		}
		// option persist: stick entries and use-server in maintenance.
		get(c1, "/p", "x-user: u1")
		get(c1, "/p", "x-user: u2")
		seen = append(seen, ask("disable server bp/s1"), ask("disable server bp/s2"), ask("disable server bp/s3"))
		for i := 0; i < 2; i++ {
			get(c1, "/p", "x-user: u1")
			other()
			get(c1, "/p", "x-user: u2")
			get(c1, "/p/three")
		}
		return append(seen, tableEntries(ask, "bp")...)
	})
}

// use-server with a name made from a format: the server it names, the
// next rule when that server is in maintenance, and the end of the
// use-server rules when it names none.
func TestHAProxyCfgUseServerFormat(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "use-server-format", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    balance first
    use-server %[req.hdr(x-srv)] if { req.hdr(x-srv) -m found }
    use-server s%[req.hdr(x-n)] if { req.hdr(x-n) -m found }
    use-server s3 if { path_beg /three }
    server s1 127.0.0.1:@PORTS1@
    server s2 127.0.0.1:@PORTS2@
    server s3 127.0.0.1:@PORTS3@
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		run := func() {
			for _, r := range [][]string{
				{"/", "x-srv: s2"}, {"/three", "x-srv: nope"}, {"/three", "x-n: 7"}, {"/three", "x-n: 1"},
				{"/", "x-n: 2"}, {"/", "x-srv: s1", "x-n: 2"}, {"/three", "x-srv: s1"}, {"/three"},
			} {
				seen = append(seen, strings.Join(r, " ")+" -> "+stickGet(t, c1, fe, r[0], r[1:]...))
				if got := stickGet(t, c2, fe, "/", "x-srv: s3"); got != "200 s3" {
					t.Errorf("the other client went to %s", got)
				}
			}
		}
		run()
		seen = append(seen, ask("disable server be/s1"))
		run()
		return seen
	})
}

// cookieDate writes Unix time u as the persistence cookie's dates are
// written: 4-second units in five base64 characters.
func cookieDate(u int64) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	n := u >> 2
	var b []byte
	for i := 24; i >= 0; i -= 6 {
		b = append(b, chars[(n>>i)&0x3f])
	}
	return string(b)
}

// datedCookies says what the dates of the Set-Cookie fields in answer
// (persistGet's) are relative to now and to the dates sent (sent: the
// request's cookie value): "now" for a date within two quanta of now,
// "sent" for another date of the request's, else the raw value. The
// tolerance keeps the comparison of two servers run seconds apart from
// depending on where each fell in a 4-second quantum.
func datedCookies(answer string, now int64, sent string) string {
	re := regexp.MustCompile(`\|([A-Za-z0-9+/]{5})`)
	return re.ReplaceAllStringFunc(answer, func(m string) string {
		d := m[1:]
		switch {
		case cookieDateNear(d, now):
			return "|now"
		case strings.Contains(sent, d):
			return "|sent"
		}
		return m
	})
}

// cookieDateNear says whether the cookie date d is within two 4-second
// quanta of Unix time u.
func cookieDateNear(d string, u int64) bool {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var n int64
	for i := 0; i < len(d); i++ {
		n = n<<6 | int64(strings.IndexByte(chars, d[i]))
	}
	delta := n - u>>2
	return delta >= -2 && delta <= 2
}

// cookie maxidle and maxlife: the inserted cookie carries its dates; a
// request's cookie idle or alive too long, or dated a day ahead, names no
// server; one whose last date passed, or without the dates the backend
// wants, is given again; a backend without them drops the dates of a
// cookie that has some. A second client keeps its server.
func TestHAProxyCfgCookieDates(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "cookie-dates", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    use_backend plain if { path_beg /plain }
    default_backend be

backend be
    balance first
    cookie SRV insert indirect maxidle 30s maxlife 1h
    server s1 127.0.0.1:@PORTS1@ cookie c1
    server s2 127.0.0.1:@PORTS2@ cookie c2
    server s3 127.0.0.1:@PORTS3@ cookie c3

backend plain
    balance first
    cookie SRV insert
    server s1 127.0.0.1:@PORTS1@ cookie c1
    server s2 127.0.0.1:@PORTS2@ cookie c2
` + stickServers}
	stickBoth(t, sc, nil, func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		now := time.Now().Unix()
		d := func(ago int64) string { return cookieDate(now - ago) }
		for _, r := range []struct{ path, label, cookie string }{
			{"/", "", ""},
			{"/", "c2", "c2"},
			{"/", "c2|in4s|100s-ago", "c2|" + d(-4) + "|" + d(100)},    // fresh: kept as it is
			{"/", "c2|12s-ago|100s-ago", "c2|" + d(12) + "|" + d(100)}, // last date passed: given again
			{"/", "c2|12s-ago", "c2|" + d(12)},                         // no first date: given one
			{"/", "c2|60s-ago|100s-ago", "c2|" + d(60) + "|" + d(100)}, // idle too long
			{"/", "c2|in4s|2h-ago", "c2|" + d(-4) + "|" + d(7200)},
			{"/", "c2|in2d|100s-ago", "c2|" + d(-2*86400) + "|" + d(100)},
			{"/", "c2|!!!!!|100s-ago", "c2|!!!!!|" + d(100)},
			{"/", "c3|4s-ago", "c3|" + d(4)},
			{"/plain", "c2|12s-ago|100s-ago", "c2|" + d(12) + "|" + d(100)},
			{"/plain", "c2|in4s|100s-ago", "c2|" + d(-4) + "|" + d(100)},
			{"/plain", "c2|in4s", "c2|" + d(-4)},
			{"/plain", "c2", "c2"},
		} {
			var hdr []string
			if r.cookie != "" {
				hdr = append(hdr, "cookie: SRV="+r.cookie)
			}
			got := persistGet(t, c1, fe, r.path, hdr...)
			seen = append(seen, r.path+" "+r.label+" -> "+datedCookies(got, time.Now().Unix(), r.cookie))
			if got := persistGet(t, c2, fe, "/", "cookie: SRV=c3|"+cookieDate(time.Now().Unix()+4)+"|"+d(10)); got != `200 s3 []` {
				t.Errorf("the other client: %s", got)
			}
		}
		return seen
	})
}

// cookie ... dynamic with dynamic-cookie-key: luaedge gives each server
// the value HAProxy gives it, and each takes the other's cookies (both run
// at once before the same servers).
func TestHAProxyCfgCookieDynamic(t *testing.T) {
	needBinary(t)
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed")
	}
	backends := map[string]string{}
	for _, name := range []string{"D1", "D2", "D3"} {
		body := strings.ToLower(name)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }))
		t.Cleanup(srv.Close)
		backends[name] = srv.Listener.Addr().String()
	}
	sc := hcScenario{name: "cookie-dynamic", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    dynamic-cookie-key s3cr3t
    cookie SRV insert indirect dynamic maxidle 1h
    server d1 @D1@
    server d2 @D2@
    server d3 @D3@ cookie own
`}
	backends["SOCK"] = filepath.Join(t.TempDir(), "le.sock")
	le, _ := hcStartLuaedge(t, sc, backends)
	backends["SOCK"] = filepath.Join(t.TempDir(), "ha.sock")
	ha, _ := hcStartHAProxy(t, bin, sc, backends)
	valueRE := regexp.MustCompile(`SRV=([^|;]*)`)
	// issued: the cookie each gives each server, by server.
	issued := func(fe string) map[string]string {
		c := stickClient("127.0.0.1")
		out := map[string]string{}
		for i := 0; i < 3; i++ {
			req, _ := http.NewRequest("GET", "http://"+fe+"/", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := valueRE.FindStringSubmatch(resp.Header.Get("set-cookie"))
			if m == nil {
				t.Fatalf("no cookie from %s: %q", body, resp.Header.Get("set-cookie"))
			}
			out[string(body)] = resp.Header.Get("set-cookie")
		}
		return out
	}
	lc, hc := issued(le("")), issued(ha(""))
	if len(lc) != 3 || len(hc) != 3 {
		t.Fatalf("servers reached: luaedge %v, haproxy %v", lc, hc)
	}
	for name, h := range hc {
		if lv, hv := valueRE.FindStringSubmatch(lc[name])[1], valueRE.FindStringSubmatch(h)[1]; lv != hv {
			t.Errorf("%s: luaedge's cookie %s, haproxy's %s", name, lv, hv)
		}
		if name == "d3" && !strings.Contains(h, "SRV=own|") {
			t.Errorf("d3's own cookie value: %s", h)
		}
	}
	// Each takes the other's cookie, dates and all, and sends its client
	// to that server with no new cookie (or the same value with its date
	// renewed, once the clock passed into the next 4-second quantum); a
	// second client keeps its own.
	sameServer := func(got, name, cookie string) bool {
		value := valueRE.FindStringSubmatch(cookie)[1]
		return got == "200 "+name+" []" || strings.HasPrefix(got, "200 "+name+" [\"SRV="+value+"|")
	}
	for _, x := range []struct {
		fe     string
		cookie map[string]string
	}{{le(""), hc}, {ha(""), lc}} {
		other := stickClient("127.0.0.2")
		for i := 0; i < 2; i++ {
			for _, name := range []string{"d1", "d2", "d3"} {
				v, _, _ := strings.Cut(x.cookie[name], ";")
				if got := persistGet(t, stickClient("127.0.0.1"), x.fe, "/", "cookie: "+v); !sameServer(got, name, v) {
					t.Errorf("%s to %s: %s", v, x.fe, got)
				}
				w, _, _ := strings.Cut(x.cookie["d2"], ";")
				if got := persistGet(t, other, x.fe, "/", "cookie: "+w); !sameServer(got, "d2", w) {
					t.Errorf("the other client: %s", got)
				}
			}
		}
	}
}
