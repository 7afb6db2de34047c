package main

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The answers haproxy.cfg rules make, read raw: their heads must be
// HAProxy's byte for byte, field order included, and with option
// httpclose in the frontend they say connection: close and end the
// connection. Each answer goes to two clients on the one loop; an answer
// that keeps the connection is asked for again on each. The 400 luaedge
// makes itself has the fields of HAProxy's in their order.
func TestHAProxyCfgAnswerFieldOrder(t *testing.T) {
	needBinary(t)
	const page403 = "content-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"
	const page503 = "content-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"
	sc := hcScenario{
		name: "answer heads",
		cfg: `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout tarpit 50ms

frontend www
    bind 127.0.0.1:@PORT@
    errorfile 429 e429.http
    http-error status 500 content-type text/plain string "bad" hdr x-e 1
    http-request return status 200 content-type text/plain string "hi" hdr x-b 1 hdr x-a 2 hdr x-empty "%[var(txn.none)]" hdr x-b 3 if { path /ret }
    http-request return status 204 hdr x-b 1 if { path /ret204 }
    http-request return status 404 if { path /ret404 }
    http-request return status 429 errorfile e429.http if { path /reterr }
    http-request redirect location /to code 301 if { path /r301 }
    http-request redirect location /to code 302 if { path /r302 }
    http-request redirect location /to code 303 if { path /r303 }
    http-request redirect location /to code 307 if { path /r307 }
    http-request redirect location /to code 308 if { path /r308 }
    http-request redirect location /to set-cookie A=1 if { path /set }
    http-request redirect location /to code 301 clear-cookie B if { path /clear }
    http-request redirect location /to code 308 set-cookie A=1 clear-cookie C= if { path /clear2 }
    http-request redirect prefix /p if { path /prefix }
    http-request deny if { path /deny }
    http-request deny deny_status 429 if { path /deny429 }
    http-request deny deny_status 503 content-type text/plain string "slow" hdr x-q 1 if { path /denyrep }
    http-request deny status 401 hdr x-w 1 if { path /deny401 }
    http-request tarpit if { path /tarpit }
    http-request tarpit deny_status 403 if { path /tarpit403 }
    http-request auth realm R if { path /auth }
    default_backend none

frontend close
    bind 127.0.0.1:@PORTclose@
    option httpclose
    http-request deny if { path /deny }
    http-request return status 200 content-type text/plain string "hi" hdr x-b 1 if { path /ret }
    http-request redirect location /to if { path /r }
    default_backend none

frontend serverclose
    bind 127.0.0.1:@PORTserverclose@
    option http-server-close
    http-request deny if { path /deny }
    default_backend closing

backend none
    server s1 127.0.0.1:1 disabled

backend closing
    option httpclose
    http-request return status 200 content-type text/plain string "hi" if { path /ret }
    server s1 127.0.0.1:1 disabled

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    option httpclose

listen inherited
    bind 127.0.0.1:@PORTinherited@
    http-request deny if { path /deny }
    server s1 127.0.0.1:1 disabled
`,
		made: map[string]string{"e429.http": "HTTP/1.1 429 Slow Down\r\nX-Z: z\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nCache-Control: no-store\r\n\r\nslow down\n"},
	}
	type answer struct {
		front, path string
		head        string // after the status line
		closes      bool
	}
	redirect := func(code, reason, more string) string {
		return "HTTP/1.1 " + code + " " + reason + "\r\ncontent-length: 0\r\nlocation: /to\r\n" + more
	}
	answers := []answer{
		{"", "/ret", "HTTP/1.1 200 OK\r\nx-b: 1\r\nx-a: 2\r\nx-b: 3\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n", false},
		{"", "/ret204", "HTTP/1.1 204 No Content\r\nx-b: 1\r\n", false},
		{"", "/ret404", "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n", false},
		{"", "/reterr", "HTTP/1.1 429 Slow Down\r\nx-z: z\r\ncontent-type: text/plain\r\ncontent-length: 10\r\ncache-control: no-store\r\n", false},
		{"", "/r301", redirect("301", "Moved Permanently", ""), false},
		{"", "/r302", redirect("302", "Found", "cache-control: no-cache\r\n"), false},
		{"", "/r303", redirect("303", "See Other", "cache-control: no-cache\r\n"), false},
		{"", "/r307", redirect("307", "Temporary Redirect", "cache-control: no-cache\r\n"), false},
		{"", "/r308", redirect("308", "Permanent Redirect", ""), false},
		{"", "/set", redirect("302", "Found", "cache-control: no-cache\r\nset-cookie: A=1; path=/;\r\n"), false},
		{"", "/clear", redirect("301", "Moved Permanently", "set-cookie: B; path=/; Max-Age=0;\r\n"), false},
		{"", "/clear2", redirect("308", "Permanent Redirect", "set-cookie: C=; path=/; Max-Age=0;\r\n"), false},
		{"", "/prefix", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /p/prefix\r\ncache-control: no-cache\r\n", false},
		{"", "/deny", "HTTP/1.1 403 Forbidden\r\n" + page403, false},
		{"", "/deny429", "HTTP/1.1 429 Slow Down\r\nx-z: z\r\ncontent-type: text/plain\r\ncontent-length: 10\r\ncache-control: no-store\r\n", false},
		{"", "/denyrep", "HTTP/1.1 503 Service Unavailable\r\nx-q: 1\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n", false},
		{"", "/deny401", "HTTP/1.1 401 Unauthorized\r\nx-w: 1\r\ncontent-length: 0\r\n", false},
		{"", "/tarpit", "HTTP/1.1 500 Internal Server Error\r\nx-e: 1\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n", false},
		{"", "/tarpit403", "HTTP/1.1 403 Forbidden\r\n" + page403, false},
		{"", "/auth", "HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"R\"\r\n", false},
		{"", "/none", "HTTP/1.1 503 Service Unavailable\r\n" + page503, false},
		{"close", "/deny", "HTTP/1.1 403 Forbidden\r\n" + page403 + "connection: close\r\n", true},
		{"close", "/ret", "HTTP/1.1 200 OK\r\nx-b: 1\r\ncontent-length: 2\r\ncontent-type: text/plain\r\nconnection: close\r\n", true},
		{"close", "/r", redirect("302", "Found", "cache-control: no-cache\r\nconnection: close\r\n"), true},
		{"close", "/none", "HTTP/1.1 503 Service Unavailable\r\n" + page503 + "connection: close\r\n", true},
		// A backend's option httpclose is for its servers: the client's
		// connection stays, as with option http-server-close.
		{"serverclose", "/deny", "HTTP/1.1 403 Forbidden\r\n" + page403, false},
		{"serverclose", "/ret", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n", false},
		{"serverclose", "/none", "HTTP/1.1 503 Service Unavailable\r\n" + page503, false},
		{"inherited", "/deny", "HTTP/1.1 403 Forbidden\r\n" + page403 + "connection: close\r\n", true},
		{"inherited", "/none", "HTTP/1.1 503 Service Unavailable\r\n" + page503 + "connection: close\r\n", true},
	}
	hcCheckBoth(t, sc, nil, func(who string, addr func(string) string) {
		for _, a := range answers {
			req := "GET " + a.path + " HTTP/1.1\r\nHost: a.test\r\n\r\n"
			c1, c2 := dialRaw(t, addr(a.front)), dialRaw(t, addr(a.front))
			rounds := 2
			if a.closes {
				rounds = 1
			}
			for round := 0; round < rounds; round++ {
				c1.send(req)
				c2.send(req)
				for i, c := range []*rawConn{c1, c2} {
					if got := readAnswerHead(c); got != a.head+"\r\n" {
						t.Errorf("%s: %s %s, client %d, request %d: head\n%s\nwant\n%s", who, a.front, a.path, i+1, round+1, got, a.head+"\r\n")
					}
				}
			}
			if a.closes {
				c1.expectClosed(2 * time.Second)
				c2.expectClosed(2 * time.Second)
			}
			c1.Close()
			c2.Close()
		}
		// The 400 of a malformed request, made before any rule: HAProxy
		// writes its page's names as the page has them, luaedge in lower
		// case; the order is the same.
		const want400 = "http/1.1 400 bad request\r\ncontent-length: 90\r\ncache-control: no-cache\r\nconnection: close\r\ncontent-type: text/html\r\n\r\n"
		c1, c2 := dialRaw(t, addr("")), dialRaw(t, addr(""))
		c1.send("GET / HTTP/1.1\r\nHost: a.test\r\nbad field\r\n\r\n")
		c2.send("GET / HTTP/1.1\r\nHost: a.test\r\nbad field\r\n\r\n")
		for i, c := range []*rawConn{c1, c2} {
			if got := strings.ToLower(readAnswerHead(c)); got != want400 {
				t.Errorf("%s: a malformed request, client %d: head\n%s\nwant\n%s", who, i+1, got, want400)
			}
			c.expectClosed(2 * time.Second)
		}
	})
}

// readAnswerHead reads an answer: its head, returned whole, and its body
// (of its content-length).
func readAnswerHead(c *rawConn) string {
	c.t.Helper()
	head := c.readHead()
	for _, l := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(strings.ToLower(l), "content-length: "); ok {
			n, _ := strconv.Atoi(v)
			if _, err := io.ReadFull(c.br, make([]byte, n)); err != nil {
				c.t.Fatalf("reading a body of %d bytes: %v", n, err)
			}
		}
	}
	return head
}

// A set-header whose value does not fit in HAProxy's 16 KiB buffer fails
// the rewrite: a 500, in http-request as in http-response (strict-mode,
// HAProxy's default), or no rewrite after strict-mode off; one that fits
// goes through. Two clients on the one
// loop ask each; only the answers' heads are compared (HAProxy closes the
// connection after such a 500, luaedge keeps it).
func TestHAProxyCfgRewriteOverflow(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "rewrite overflow",
		cfg: hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.in) req.hdr(x-in)
    http-request set-var(txn.p) path
    http-request strict-mode off if { path /lax }
    http-request set-header x-big %[var(txn.in)]%[var(txn.in)]%[var(txn.in)]%[var(txn.in)] if { path /req } || { path /lax }
    http-response set-header x-big %[var(txn.in)]%[var(txn.in)]%[var(txn.in)]%[var(txn.in)] if { var(txn.p) -m str /res }
    http-request return status 200 content-type text/plain string "ok" hdr x-n "%[req.hdr_cnt(x-big)]" if { path /req } || { path /lax }
    default_backend app

backend app
    server s1 @APP@
`}
	const page500 = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 97\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n"
	cases := []struct {
		path string
		in   int // bytes of x-in: the value set is four times that
		head string
	}{
		{"/req", 5000, page500},
		{"/req", 2000, "HTTP/1.1 200 OK\r\nx-n: 1\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\n"},
		{"/lax", 5000, "HTTP/1.1 200 OK\r\nx-n: 0\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\n"},
		{"/res", 5000, page500},
	}
	hcCheckBoth(t, sc, hcBackends(t), func(who string, addr func(string) string) {
		for _, c := range cases {
			req := "GET " + c.path + " HTTP/1.1\r\nHost: a.test\r\nx-in: " + strings.Repeat("a", c.in) + "\r\n\r\n"
			c1, c2 := dialRaw(t, addr("")), dialRaw(t, addr(""))
			c1.send(req)
			c2.send(req)
			for i, cl := range []*rawConn{c1, c2} {
				if got := readAnswerHead(cl); got != c.head {
					t.Errorf("%s: %s with a value of %d bytes, client %d: head\n%s\nwant\n%s", who, c.path, 4*c.in, i+1, got, c.head)
				}
			}
			c1.Close()
			c2.Close()
		}
	})
}
