// http-request early-hint on luaedge and on HAProxy 2.6: the 103 Early
// Hints interim responses before the final one, over HTTP/1.1, HTTP/1.0
// and HTTP/2, for a Lua service, a forwarded request, a deny and a
// redirect.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const earlyHintCfg = `global
    nbthread 1
    lua-load svc.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    http-request early-hint link "</a.css>; rel=preload" if { path_beg /a }
    http-request early-hint link "</b.js>; rel=preload; as=%[path]"
    http-request early-hint x-one 1 if { path_beg /none }
    http-request early-hint x-two 2
    http-request deny if { path /deny }
    http-request redirect location /elsewhere if { path /redir }
    http-request use-service lua.hello unless { path_beg /be/ }
    use_backend app if { path_beg /be/ }

backend app
    http-request early-hint x-backend "%[path]"
    server s1 @APP@
`

const earlyHintLua = `
core.register_service("hello", "http", function(applet)
  local body = "hello\n"
  applet:set_status(200)
  applet:add_header("content-type", "text/plain")
  applet:add_header("content-length", #body)
  applet:start_response()
  applet:send(body)
end)
`

// ehRaw sends an HTTP/1 request (closing the connection after it) and
// returns the interim responses as they came, and the final status line.
func ehRaw(addr, version, path string) (interim []string, final string, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s %s\r\nHost: x\r\nConnection: close\r\n\r\n", path, version)
	r := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return interim, "", fmt.Errorf("after %q: %v", head.String(), err)
			}
			if line == "\r\n" {
				break
			}
			head.WriteString(line)
		}
		status := strings.SplitN(head.String(), "\r\n", 2)[0]
		if !strings.Contains(status, " 1") || strings.Contains(status, " 101 ") {
			io.Copy(io.Discard, r)
			return interim, status, nil
		}
		interim = append(interim, head.String())
	}
}

// ehH2 does an HTTP/2 (h2c) request and returns the 1xx heads it got,
// as "STATUS name: value; ...", and the final status.
func ehH2(t *testing.T, addr, path string) ([]string, int) {
	t.Helper()
	c, _ := h2cClient(t)
	var interim []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		var f []string
		for _, k := range sortedHeaderKeys(h) {
			f = append(f, strings.ToLower(k)+": "+strings.Join(h[k], ", "))
		}
		interim = append(interim, fmt.Sprintf("%d %s", code, strings.Join(f, "; ")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("h2 %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return interim, resp.StatusCode
}

func sortedHeaderKeys(h textproto.MIMEHeader) []string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestHAProxyCfgEarlyHint(t *testing.T) {
	needBinary(t)
	backends := hcBackends(t)
	sc := hcScenario{name: "early-hint", cfg: earlyHintCfg, made: map[string]string{"svc.lua": earlyHintLua}}
	type answer struct {
		interim []string
		final   string
	}
	// What each server answers, by request.
	run := func(addr func(string) string) map[string]answer {
		out := map[string]answer{}
		for _, v := range []string{"HTTP/1.1", "HTTP/1.0"} {
			for _, p := range []string{"/a", "/none", "/deny", "/redir", "/be/x"} {
				in, final, err := ehRaw(addr(""), v, p)
				if err != nil {
					t.Fatalf("%s %s: %v", v, p, err)
				}
				out[v+" "+p] = answer{in, final}
			}
		}
		for _, p := range []string{"/a", "/deny", "/be/x"} {
			in, st := ehH2(t, addr(""), p)
			out["HTTP/2 "+p] = answer{in, fmt.Sprint(st)}
		}
		return out
	}
	le, _ := hcStartLuaedge(t, sc, backends)
	got := run(le)
	// What HAProxy 2.6 answers (also compared below when it is installed).
	want := map[string]answer{
		"HTTP/1.1 /a": {[]string{
			"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\nlink: </b.js>; rel=preload; as=/a\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-two: 2\r\n"}, "HTTP/1.1 200 OK"},
		"HTTP/1.1 /none": {[]string{
			"HTTP/1.1 103 Early Hints\r\nlink: </b.js>; rel=preload; as=/none\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-one: 1\r\nx-two: 2\r\n"}, "HTTP/1.1 200 OK"},
		"HTTP/1.1 /deny": {[]string{
			"HTTP/1.1 103 Early Hints\r\nlink: </b.js>; rel=preload; as=/deny\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-two: 2\r\n"}, "HTTP/1.1 403 Forbidden"},
		"HTTP/1.1 /redir": {[]string{
			"HTTP/1.1 103 Early Hints\r\nlink: </b.js>; rel=preload; as=/redir\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-two: 2\r\n"}, "HTTP/1.1 302 Found"},
		"HTTP/1.1 /be/x": {[]string{
			"HTTP/1.1 103 Early Hints\r\nlink: </b.js>; rel=preload; as=/be/x\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-two: 2\r\n",
			"HTTP/1.1 103 Early Hints\r\nx-backend: /be/x\r\n"}, "HTTP/1.1 200 OK"},
		"HTTP/1.0 /a":     {nil, "HTTP/1.1 200 OK"},
		"HTTP/1.0 /none":  {nil, "HTTP/1.1 200 OK"},
		"HTTP/1.0 /deny":  {nil, "HTTP/1.1 403 Forbidden"},
		"HTTP/1.0 /redir": {nil, "HTTP/1.1 302 Found"},
		"HTTP/1.0 /be/x":  {nil, "HTTP/1.1 200 OK"},
		"HTTP/2 /a":       {[]string{"103 link: </a.css>; rel=preload, </b.js>; rel=preload; as=/a", "103 x-two: 2"}, "200"},
		"HTTP/2 /deny":    {[]string{"103 link: </b.js>; rel=preload; as=/deny", "103 x-two: 2"}, "403"},
		"HTTP/2 /be/x":    {[]string{"103 link: </b.js>; rel=preload; as=/be/x", "103 x-two: 2", "103 x-backend: /be/x"}, "200"},
	}
	// luaedge answers an HTTP/1.0 request with HTTP/1.0, HAProxy with
	// HTTP/1.1: only the interim responses and the status are compared.
	same := func(a, b answer) bool {
		strip := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(s, "HTTP/1.0 "), "HTTP/1.1 ") }
		return fmt.Sprintf("%q", a.interim) == fmt.Sprintf("%q", b.interim) && strip(a.final) == strip(b.final)
	}
	for k, w := range want {
		if !same(got[k], w) {
			t.Errorf("luaedge, %s: got %q %q, want %q %q", k, got[k].interim, got[k].final, w.interim, w.final)
		}
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		ha, _ := hcStartHAProxy(t, bin, sc, backends)
		for k, h := range run(ha) {
			if !same(got[k], h) {
				t.Errorf("%s: luaedge %q %q, HAProxy %q %q", k, got[k].interim, got[k].final, h.interim, h.final)
			}
		}
	}
	// curl shows the 103s it got, over HTTP/1.1 and HTTP/2.
	if curl, err := exec.LookPath("curl"); err == nil {
		for _, v := range []string{"--http1.1", "--http2-prior-knowledge"} {
			out, err := exec.Command(curl, "-sv", v, "http://"+le("")+"/a").CombinedOutput()
			if err != nil {
				t.Fatalf("curl %s: %v\n%s", v, err, out)
			}
			if n := strings.Count(string(out), " 103 "); n != 2 || !strings.Contains(string(out), "< link: </a.css>; rel=preload") {
				t.Errorf("curl %s: want two 103s with the link fields:\n%s", v, out)
			}
		}
	}
}

// The 103s of one client's request never reach another client of the
// same loop: clients asking at once over HTTP/1.1 (which get them) and
// HTTP/1.0 (which must not) each get their own answers only.
func TestEarlyHintSecondClient(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "early-hint", cfg: earlyHintCfg, made: map[string]string{"svc.lua": earlyHintLua}}
	addr, _ := hcStartLuaedge(t, sc, hcBackends(t))
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 16; i++ {
		for _, v := range []string{"HTTP/1.1", "HTTP/1.0"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in, final, err := ehRaw(addr(""), v, "/a")
				switch {
				case err != nil:
					errs <- v + ": " + err.Error()
				case v == "HTTP/1.0" && len(in) != 0, v == "HTTP/1.1" && len(in) != 2, !strings.HasSuffix(final, "200 OK"):
					errs <- fmt.Sprintf("%s: interim %q, final %q", v, in, final)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
