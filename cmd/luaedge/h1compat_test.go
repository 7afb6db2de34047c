// HTTP/1 details where luaedge forwards as HAProxy 2.6 does: the version
// and Connection field of an HTTP/1.0 client's request as a server gets
// it, and a server's empty lines before a status line. The same
// haproxy.cfg runs on both and the same raw requests must give the same
// results.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// h1compatServer is a backend that answers each request with what it
// received, quoted, and the number of its connection ("conn=N"), so a test
// sees both the bytes a proxy sent and whether it reused a connection. The
// path picks the answer's framing: /chunked (two chunks), /blank (empty
// lines, CRLF and LF, before the status line), /after (an empty line after
// a complete response), else a Content-Length.
func h1compatServer(t *testing.T) string {
	t.Helper()
	var conns atomic.Int32
	return serveEach(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		id := conns.Add(1)
		br := bufio.NewReader(c)
		for {
			raw, path, ok := h1compatReadRequest(br)
			if !ok {
				return
			}
			body := fmt.Sprintf("conn=%d got=%q\n", id, raw)
			var answer string
			switch path {
			case "/chunked":
				half := len(body) / 2
				answer = fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, body[:half], len(body)-half, body[half:])
			case "/blank":
				answer = "\r\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
			case "/after":
				answer = "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body + "\r\n"
			default:
				answer = "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
			}
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
	})
}

// h1compatReadRequest reads one request, head and Content-Length body, as
// received; false when the connection ended first.
func h1compatReadRequest(br *bufio.Reader) (raw, path string, ok bool) {
	var sb strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", "", false
		}
		sb.WriteString(line)
		if line == "\r\n" || line == "\n" {
			break
		}
		if name, value, found := strings.Cut(line, ":"); found && strings.EqualFold(name, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return "", "", false
	}
	sb.Write(body)
	_, rest, _ := strings.Cut(sb.String(), " ")
	path, _, _ = strings.Cut(rest, " ")
	return sb.String(), path, true
}

const h1compatConfig = hcHTTPDefaults + `
frontend www
    bind 127.0.0.1:@PORT@
    default_backend app

backend app
    # HAProxy then keeps a client's server connection for that client's
    # next request; luaedge warns (each loop reuses its idle connections).
    http-reuse never
    server s1 @RAW@
`

// h1compatAnswer is what a client got for one request: the status line's
// version, the framing fields, the decoded body.
type h1compatAnswer struct {
	proto, te, connection, body string
}

// h1compatAsk sends the raw requests one after the other on one
// connection and reads each answer.
func h1compatAsk(t *testing.T, addr string, reqs ...string) []h1compatAnswer {
	t.Helper()
	c := dialRaw(t, addr)
	var out []h1compatAnswer
	for _, r := range reqs {
		c.send(r)
		resp, body := c.readResponse("GET")
		out = append(out, h1compatAnswer{resp.Proto, strings.Join(resp.TransferEncoding, ","), resp.Header.Get("connection"), body})
	}
	return out
}

// An HTTP/1.0 request reaches an HTTP/1.1 server as HTTP/1.0 with
// "connection: keep-alive" added last, whatever Connection field the
// client sent, as HAProxy 2.6 sends it; an HTTP/1.1 one as it came. A
// chunked answer reaches the HTTP/1.0 client as HTTP/1.1 unchunked,
// ending with the connection (HAProxy sends it chunked, which an HTTP/1.0
// client cannot read: only the body is compared).
func TestHTTP10ToServer(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "HTTP/1.0 to a server", cfg: h1compatConfig}
	tests := []struct {
		name, req, got string // got: what the server must receive
	}{
		{"no Connection field", "GET /a HTTP/1.0\r\n\r\n",
			"GET /a HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"},
		{"Connection: keep-alive", "GET /b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
			"GET /b HTTP/1.0\r\nhost: x\r\nconnection: keep-alive\r\n\r\n"},
		{"Connection: close", "GET /c HTTP/1.0\r\nConnection: close\r\n\r\n",
			"GET /c HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"},
		{"a Content-Length body", "POST /d HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
			"POST /d HTTP/1.0\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nhello"},
		{"HTTP/1.1", "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"GET /e HTTP/1.1\r\nhost: x\r\n\r\n"},
	}
	type result struct {
		got     []string         // what the server received, per test
		chunked []h1compatAnswer // a chunked answer to HTTP/1.0, twice on a kept-alive connection
	}
	results := map[string]*result{}
	hcCheckBoth(t, sc, map[string]string{"RAW": h1compatServer(t)}, func(who string, addr func(string) string) {
		r := &result{}
		results[who] = r
		for _, tt := range tests {
			a := h1compatAsk(t, addr(""), tt.req)[0]
			_, got, _ := strings.Cut(a.body, " got=")
			unq, err := strconv.Unquote(strings.TrimSpace(got))
			if err != nil {
				t.Fatalf("%s: %s: answer %q", who, tt.name, a.body)
			}
			r.got = append(r.got, unq)
		}
		ka := "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		c := dialRaw(t, addr(""))
		c.send(ka + ka)
		for i := 0; i < 2; i++ {
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				break // luaedge ended the connection after the first
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.chunked = append(r.chunked, h1compatAnswer{resp.Proto, strings.Join(resp.TransferEncoding, ","), resp.Header.Get("connection"), string(body)})
		}
	})
	le := results["luaedge"]
	for i, tt := range tests {
		if le.got[i] != tt.got {
			t.Errorf("%s: the server got %q from luaedge, want %q", tt.name, le.got[i], tt.got)
		}
		if ha, ok := results["haproxy"]; ok && ha.got[i] != le.got[i] {
			t.Errorf("%s: the server got %q from luaedge, %q from haproxy", tt.name, le.got[i], ha.got[i])
		}
	}
	// The body without its "conn=N " (the numbers differ).
	got := func(as []h1compatAnswer) string {
		if len(as) == 0 {
			return ""
		}
		_, g, _ := strings.Cut(as[0].body, " ")
		return g
	}
	want := fmt.Sprintf("got=%q\n", "GET /chunked HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
	// An HTTP/1.1 answer that ends with the connection (net/http takes
	// out its "connection: close"), as one answer only.
	if len(le.chunked) != 1 || le.chunked[0].proto != "HTTP/1.1" || le.chunked[0].te != "" ||
		le.chunked[0].connection != "" || got(le.chunked) != want {
		t.Errorf("chunked answer to HTTP/1.0 from luaedge: %+v", le.chunked)
	}
	if ha, ok := results["haproxy"]; ok {
		if got(ha.chunked) != want {
			t.Errorf("chunked answer to HTTP/1.0: luaedge %+v, haproxy %+v", le.chunked, ha.chunked)
		}
		t.Logf("HAProxy's framing to the HTTP/1.0 client: %+v", ha.chunked)
	}
}

// A server's empty lines (CRLF or bare LF) before a status line are
// skipped, and its connection stays in use; an empty line after a
// complete response is bytes past its framing, and the connection is
// closed, never reused: HAProxy 2.6 does both.
func TestServerEmptyLines(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "server's empty lines", cfg: h1compatConfig}
	// reuse tells, for a request and the next on the same client
	// connection, the status and whether the server saw them on the same
	// connection.
	reuse := func(addr, first string) string {
		c := dialRaw(t, addr)
		var conns []string
		var statuses []int
		for _, path := range []string{first, "/next"} {
			c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := c.readResponse("GET")
			statuses = append(statuses, resp.StatusCode)
			id, _, _ := strings.Cut(body, " ")
			conns = append(conns, id)
		}
		return fmt.Sprintf("%v same-conn=%v", statuses, conns[0] == conns[1])
	}
	want := map[string]string{
		"/blank": "[200 200] same-conn=true",
		"/after": "[200 200] same-conn=false",
		"/plain": "[200 200] same-conn=true",
	}
	got := map[string]map[string]string{}
	hcCheckBoth(t, sc, map[string]string{"RAW": h1compatServer(t)}, func(who string, addr func(string) string) {
		got[who] = map[string]string{}
		for path := range want {
			got[who][path] = reuse(addr(""), path)
		}
	})
	for path, w := range want {
		if g := got["luaedge"][path]; g != w {
			t.Errorf("%s on luaedge: %s, want %s", path, g, w)
		}
		if g, ok := got["haproxy"][path]; ok && g != w {
			t.Errorf("%s on haproxy: %s, want %s", path, g, w)
		}
	}
}

// The heads of the answers a haproxy.cfg frontend sends are HAProxy's:
// no Date or Server field of luaedge's own, and no "connection: close"
// to an HTTP/1.0 client, whose connection closes anyway. Each answer is
// read whole up to the close; its fields, names in lower case, are
// compared as a set (HAProxy writes its own pages' names capitalised),
// as hcAnswer puts them.
// Only the first answer's head counts.
func TestHAProxyCfgAnswerHeads(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "answer heads", files: []string{"services.lua", "hello.lua"}, cfg: strings.Replace(hcHTTPDefaults, "global\n", "global\n    lua-load services.lua\n    lua-load hello.lua\n", 1) + `
frontend www
    bind 127.0.0.1:@PORT@
    http-request use-service lua.one if { path /one }
    http-request use-service lua.hello-world if { path /hello }
    http-request return status 201 content-type text/plain string made if { path /return }
    http-request redirect location /elsewhere if { path /redirect }
    http-request deny if { path /deny }
    default_backend app

backend app
    server s1 @RAW@
`}
	reqs := []string{
		"GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /one HTTP/1.0\r\n\r\n",
		// kept alive, then a second request that ends the connection
		"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\n\r\n",
		"GET /return HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /redirect HTTP/1.0\r\n\r\n",
		"GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /proxied HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /proxied HTTP/1.0\r\n\r\n",
		"GET /bad HTTP/1.1\r\nHost: x\r\nbad field\r\n\r\n",
	}
	heads := map[string][]string{}
	hcCheckBoth(t, sc, map[string]string{"RAW": h1compatServer(t)}, func(who string, addr func(string) string) {
		for _, req := range reqs {
			c := dialRaw(t, addr(""))
			c.send(req)
			raw := c.readAll()
			if !strings.Contains(raw, "\r\n\r\n") {
				t.Fatalf("%s: %q: no complete head in %q", who, req, raw)
			}
			// The server's bodies name its connections, which differ.
			head, _, _ := strings.Cut(hcAnswer(raw), "\n\n")
			heads[who] = append(heads[who], head)
		}
	})
	for i, req := range reqs {
		le := heads["luaedge"][i]
		for _, f := range strings.Split(le, "\n") {
			if strings.HasPrefix(f, "date:") || strings.HasPrefix(f, "server:") || strings.HasPrefix(req, "GET /one HTTP/1.0") && strings.HasPrefix(f, "connection:") {
				t.Errorf("%q: luaedge sent %q", req, f)
			}
		}
		if ha := heads["haproxy"]; ha != nil && ha[i] != le {
			t.Errorf("%q:\nluaedge:\n%s\nhaproxy:\n%s", req, le, ha[i])
		}
	}
}
