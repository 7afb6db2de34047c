package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// balance url_param, hdr and uri from a haproxy.cfg: a request's key keeps
// its server, keys reach both servers, a request without the key goes
// round robin; first sends everything to the first server.
func TestHAProxyCfgBalanceByRequest(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{
		name: "balance",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    use_backend by_param if { path_beg /param }
    use_backend by_header if { path_beg /header }
    use_backend by_uri if { path_beg /uri }
    default_backend by_first

backend by_param
    balance url_param id
    server blue @BLUE@
    server green @GREEN@

backend by_header
    balance hdr(x-user)
    server blue @BLUE@
    server green @GREEN@

backend by_uri
    balance uri
    server blue @BLUE@
    server green @GREEN@

backend by_first
    balance first
    server blue @BLUE@
    server green @GREEN@
`,
	}
	addr, _ := hcStartLuaedge(t, sc, backends)
	get := func(path, user string) string {
		req, _ := http.NewRequest("GET", "http://"+addr("")+path, nil)
		if user != "" {
			req.Header.Set("x-user", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		name, _, _ := strings.Cut(strings.TrimPrefix(string(body), "backend="), " ")
		return name
	}
	for _, c := range []struct {
		name string
		key  func(i int) (path, user string)
	}{
		{"url_param", func(i int) (string, string) { return "/param?x=1&id=u" + string(rune('a'+i)), "" }},
		{"hdr", func(i int) (string, string) { return "/header", "u" + string(rune('a'+i)) }},
		{"uri", func(i int) (string, string) { return "/uri/u" + string(rune('a'+i)) + "?q=1", "" }},
	} {
		seen := map[string]bool{}
		for i := 0; i < 12; i++ {
			path, user := c.key(i)
			first := get(path, user)
			for j := 0; j < 3; j++ {
				if again := get(path, user); again != first {
					t.Errorf("%s: %s %s went to %s, then %s", c.name, path, user, first, again)
				}
			}
			seen[first] = true
		}
		if !seen["blue"] || !seen["green"] {
			t.Errorf("%s: 12 keys reached %v", c.name, seen)
		}
	}
	if a, b := get("/param?other=1", ""), get("/param?other=1", ""); a == b {
		t.Errorf("url_param without the parameter: %s then %s, want round robin", a, b)
	}
	for i := 0; i < 4; i++ {
		if got := get("/any", ""); got != "blue" {
			t.Errorf("first: request %d went to %s", i, got)
		}
	}
}

// cookie NAME insert: a request without the cookie (or with one naming no
// server) is balanced and its response gets Set-Cookie; one naming a
// server goes there and gets none; indirect takes the cookie out of
// what the server gets; the attributes as HAProxy writes them. The same
// on HAProxy 2.6 and on luaedge.
func TestHAProxyCfgCookiePersistence(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "cookie",
		cfg: hcHTTPDefaults + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend b

frontend f2
    bind 127.0.0.1:@PORTB@
    default_backend b2

backend b
    cookie SRV insert indirect nocache
    server s1 127.0.0.1:@PORTS1@ cookie c1
    server s2 127.0.0.1:@PORTS2@ cookie c2

backend b2
    cookie SRV insert httponly secure domain .example.com
    server s1 127.0.0.1:@PORTS1@ cookie c1
    server s2 127.0.0.1:@PORTS2@ cookie c2

listen a1
    bind 127.0.0.1:@PORTS1@
    http-request return status 200 content-type text/plain lf-string "s1 cookie=%[req.hdr(cookie)]"

listen a2
    bind 127.0.0.1:@PORTS2@
    http-request return status 200 content-type text/plain lf-string "s2 cookie=%[req.hdr(cookie)]"
`,
	}
	check := func(who string, addr func(string) string) {
		for _, c := range []struct{ front, cookie, body, set string }{
			{"", "", "s1 cookie=", "SRV=c1; path=/"},
			{"", "SRV=c2", "s2 cookie=", ""},
			{"", "a=1; SRV=c1; b=2", "s1 cookie=a=1; b=2", ""},
			{"", "SRV=zz", "s2 cookie=", "SRV=c2; path=/"},
			{"B", "", "s1 cookie=", "SRV=c1; path=/; domain=.example.com; HttpOnly; Secure"},
			{"B", "SRV=c2", "s2 cookie=SRV=c2", ""},
			{"B", "a=1; SRV=c1; b=2", "s1 cookie=a=1; SRV=c1; b=2", ""},
			{"B", "SRV=zz", "s2 cookie=SRV=zz", "SRV=c2; path=/; domain=.example.com; HttpOnly; Secure"},
		} {
			body, set, _ := cookieExchange(t, who, "GET", "http://"+addr(c.front)+"/", c.cookie)
			if body != c.body || set != c.set {
				t.Errorf("%s, front %q cookie %q: %q set-cookie %q; want %q and %q", who, c.front, c.cookie, body, set, c.body, c.set)
			}
		}
	}
	hcCheckBoth(t, sc, map[string]string{}, check)
}

// http-send-name-header: the server gets its own name in the field,
// in place of what the client sent there.
func TestHAProxyCfgSendNameHeader(t *testing.T) {
	needBinary(t)
	hcRunCompare(t, hcScenario{
		name: "http-send-name-header",
		cfg: hcHTTPDefaults + `
frontend f
    bind 127.0.0.1:@PORT@
    default_backend b

backend b
    balance roundrobin
    http-send-name-header X-Server
    server blue 127.0.0.1:@PORTS1@
    server green 127.0.0.1:@PORTS2@

listen s1
    bind 127.0.0.1:@PORTS1@
    http-request return status 200 content-type text/plain lf-string "x-server=%[req.fhdr(x-server)] n=%[req.hdr_cnt(x-server)]"

listen s2
    bind 127.0.0.1:@PORTS2@
    http-request return status 200 content-type text/plain lf-string "x-server=%[req.fhdr(x-server)] n=%[req.hdr_cnt(x-server)]"
`,
		steps: []hxStep{
			{name: "first server", conn: "a", req: hxReq{Path: "/"}, want: hxWant{Status: 200, Body: "x-server=blue n=1"}},
			{name: "the client's own replaced", conn: "a", req: hxReq{Path: "/", Header: []string{"X-Server: spoofed", "x-server: again"}}, want: hxWant{Status: 200, Body: "x-server=green n=1"}},
		},
	}, nil)
}

// cookieExchange sends a request with a Cookie field (none for "") and
// returns the answer's body, Set-Cookie and Cache-Control fields (each
// field's values joined with " | ").
func cookieExchange(t *testing.T, who, method, url, cookie string) (body, setCookie, cacheControl string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b), strings.Join(resp.Header.Values("set-cookie"), " | "), strings.Join(resp.Header.Values("cache-control"), " | ")
}

// The cookie modes besides insert, and insert's options, as HAProxy 2.6
// has them: rewrite gives the server's own cookie the server's value,
// prefix puts it before the server's and takes it off in requests,
// passive only reads it; insert drops a server's own cookie of the name
// unless preserve, clears the cookie of a server without a value, sets it
// for POSTs only with postonly, adds attr; nocache makes a cacheable
// answer private.
func TestHAProxyCfgCookieModes(t *testing.T) {
	needBinary(t)
	// Server sN answers what cookie it got; on /set it sets SRV (JS on
	// /js) itself; on /nostore with cache-control: no-store.
	server := func(n string) string {
		return `
listen a` + n + `
    bind 127.0.0.1:@PORTS` + n + `@
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr set-cookie "SRV=own; path=/app" if { path /set }
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr set-cookie "JS=abc; path=/" if { path /js }
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr cache-control no-store if { path /nostore }
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr cache-control max-age=60 if { path /fresh }
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr etag '"v1"' if { path /etag }
    http-request return status 404 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr cache-control "public, max-age=60" if { path /public404 }
    http-request return status 403 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]" hdr cache-control max-age=60 if { path /fresh403 }
    http-request return status 200 content-type text/plain lf-string "s` + n + ` cookie=%[req.hdr(cookie)]"
`
	}
	backend := func(name, cookie string, values ...string) string {
		b := "\nbackend " + name + "\n    " + cookie + "\n"
		for i, v := range values {
			n := strconv.Itoa(i + 1)
			b += "    server s" + n + " 127.0.0.1:@PORTS" + n + "@"
			if v != "" {
				b += " cookie " + v
			}
			b += "\n"
		}
		return b
	}
	cfg := hcHTTPDefaults
	for _, f := range []string{"rw", "pfx", "psv", "pres", "post", "ins"} {
		cfg += "\nfrontend " + f + "\n    bind 127.0.0.1:@PORT" + f + "@\n    default_backend " + f + "\n"
	}
	cfg += backend("rw", "cookie SRV rewrite", "c1", "c2") +
		backend("pfx", "cookie JS prefix", "c1", "c2") +
		backend("psv", "cookie SRV", "c1", "c2") +
		backend("pres", "cookie SRV insert preserve indirect", "c1", "c2") +
		backend("post", "cookie SRV insert postonly attr SameSite=Lax attr Priority=High", "c1", "c2") +
		backend("ins", "cookie SRV insert nocache", "", "c2") +
		server("1") + server("2")
	sc := hcScenario{name: "cookie modes", cfg: cfg}
	check := func(who string, addr func(string) string) {
		for _, c := range []struct{ front, method, path, cookie, body, set, cc string }{
			// rewrite: the server's own cookie carries the server's value.
			{"rw", "GET", "/set", "", "s1 cookie=", "SRV=c1; path=/app", ""},
			{"rw", "GET", "/", "SRV=c2", "s2 cookie=SRV=c2", "", ""},
			{"rw", "GET", "/set", "SRV=c2", "s2 cookie=SRV=c2", "SRV=c2; path=/app", ""},
			// prefix: "c2~" chooses s2 and is taken off.
			{"pfx", "GET", "/js", "", "s1 cookie=", "JS=c1~abc; path=/", ""},
			{"pfx", "GET", "/", "a=1; JS=c2~abc; b=2", "s2 cookie=a=1; JS=abc; b=2", "", ""},
			{"pfx", "GET", "/js", "JS=c2~old", "s2 cookie=JS=old", "JS=c2~abc; path=/", ""},
			// passive: read only.
			{"psv", "GET", "/", "SRV=c2", "s2 cookie=SRV=c2", "", ""},
			{"psv", "GET", "/set", "", "s1 cookie=", "SRV=own; path=/app", ""},
			// preserve: the server's own stays, and then none is inserted.
			{"pres", "GET", "/set", "", "s1 cookie=", "SRV=own; path=/app", ""},
			{"pres", "GET", "/", "", "s2 cookie=", "SRV=c2; path=/", ""},
			{"pres", "GET", "/set", "SRV=c1", "s1 cookie=", "SRV=own; path=/app", ""},
			// postonly, attr.
			{"post", "GET", "/", "", "s1 cookie=", "", ""},
			{"post", "POST", "/", "", "s2 cookie=", "SRV=c2; path=/; SameSite=Lax; Priority=High", ""},
			// insert: a server's own cookie of the name is dropped; a
			// server without a value clears it; nocache makes private
			// what a cache could keep: a safe request, a status
			// cacheable by default (or public), a lifetime or a
			// validator.
			{"ins", "GET", "/set", "", "s1 cookie=", "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/", ""},
			{"ins", "GET", "/set", "", "s2 cookie=", "SRV=c2; path=/", ""},
			{"ins", "GET", "/fresh", "", "s1 cookie=", "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/", "max-age=60 | private"},
			{"ins", "GET", "/etag", "", "s2 cookie=", "SRV=c2; path=/", "private"},
			{"ins", "POST", "/fresh", "", "s1 cookie=", "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/", "max-age=60"},
			{"ins", "GET", "/public404", "", "s2 cookie=", "SRV=c2; path=/", "public, max-age=60 | private"},
			{"ins", "GET", "/fresh403", "", "s1 cookie=", "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/", "max-age=60"},
			{"ins", "GET", "/nostore", "", "s2 cookie=", "SRV=c2; path=/", "no-store"},
			{"ins", "GET", "/", "SRV=c2", "s2 cookie=SRV=c2", "", ""},
		} {
			body, set, cc := cookieExchange(t, who, c.method, "http://"+addr(c.front)+c.path, c.cookie)
			if body != c.body || set != c.set || cc != c.cc {
				t.Errorf("%s, %s %s %s cookie %q: %q set-cookie %q cache-control %q; want %q, %q and %q", who, c.front, c.method, c.path, c.cookie, body, set, cc, c.body, c.set, c.cc)
			}
		}
	}
	hcCheckBoth(t, sc, map[string]string{}, check)
}

// Rules in a named defaults section run before each proxy's own, an
// allow among them ending both; the same on HAProxy 2.6 and luaedge.
func TestHAProxyCfgDefaultsRules(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "defaults rules",
		cfg: `global
    nbthread 1

defaults web
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    http-request deny deny_status 403 if { path_beg /private }
    http-request set-header x-from-defaults yes
    http-request return status 200 content-type text/plain string "early\n" if { path /early }
    http-response set-header x-defaults-res yes

frontend f1 from web
    bind 127.0.0.1:@PORT@
    http-request return status 200 content-type text/plain lf-string "f1 %[req.hdr(x-from-defaults)]\n"

frontend f2 from web
    bind 127.0.0.1:@PORTB@
    http-request return status 200 content-type text/plain lf-string "f2 %[req.hdr(x-from-defaults)]\n"
`,
	}
	check := func(who string, addr func(string) string) {
		for _, c := range []struct {
			front, path, body string
			status            int
		}{
			{"", "/x", "f1 yes\n", 200},
			{"B", "/x", "f2 yes\n", 200},
			{"", "/early", "early\n", 200},
			{"B", "/private/a", "", 403},
		} {
			resp, err := http.Get("http://" + addr(c.front) + c.path)
			if err != nil {
				t.Fatalf("%s: %v", who, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || (c.body != "" && string(body) != c.body) {
				t.Errorf("%s, %s%s: %d %q; want %d %q", who, c.front, c.path, resp.StatusCode, body, c.status, c.body)
			}
		}
	}
	hcCheckBoth(t, sc, map[string]string{}, check)
}
