package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// browser is a headless Chromium (Debian's chromium, installed by `make
// test`) driven over the DevTools protocol: the tests open a page served
// by luaedge and read what its script found.
type browser struct {
	t    *testing.T
	ws   *websocket.Conn // the page's DevTools connection
	next int             // the next command id
}

// needChromium starts a headless Chromium for the test, stopped at its
// end. Certificates are not checked: the tests serve self-signed ones.
func needChromium(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make test installs it)")
	}
	// The flags keep a headless Chromium from reaching out to the network
	// (there is none to reach) and from needing a sandbox as root.
	// Its profile is not a t.TempDir: Chromium's helper processes may
	// still write there for a moment after they are killed.
	profile, err := os.MkdirTemp("", "luaedge-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--ignore-certificate-errors",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers are stopped with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Chromium prints its DevTools address once it listens.
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				found <- url
			}
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start its DevTools server")
	}
	// The page's own DevTools connection, from the target list.
	host := strings.TrimPrefix(browserURL, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	var targets []struct{ Type, WebSocketDebuggerURL string }
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/json/list")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" {
				ws, _, err := websocket.DefaultDialer.Dial(tg.WebSocketDebuggerURL, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ws.Close() })
				return &browser{t: t, ws: ws, next: 1}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium has no page target (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends a DevTools command and returns its result.
func (b *browser) call(method string, params any) json.RawMessage {
	b.t.Helper()
	id := b.next
	b.next++
	_ = b.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_ = b.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := b.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	for {
		var msg struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if err := b.ws.ReadJSON(&msg); err != nil {
			b.t.Fatalf("%s: %v", method, err)
		}
		if msg.ID != id {
			continue // an event, or an answer to an earlier command
		}
		if msg.Error != nil {
			b.t.Fatalf("%s: %s", method, msg.Error.Message)
		}
		return msg.Result
	}
}

// eval evaluates a JavaScript expression in the page and returns its
// value as a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	res := b.call("Runtime.evaluate", map[string]any{"expression": "String(" + expr + ")", "returnByValue": true})
	var r struct {
		Result struct{ Value string }
	}
	if err := json.Unmarshal(res, &r); err != nil {
		b.t.Fatal(err)
	}
	return r.Result.Value
}

// open loads url and waits until the page's script sets document.title
// to "done" (or "failed: ..."), then returns the page's text.
func (b *browser) open(url string, timeout time.Duration) string {
	b.t.Helper()
	b.call("Page.navigate", map[string]any{"url": url})
	deadline := time.Now().Add(timeout)
	for {
		title := b.eval("document.title")
		if title == "done" || strings.HasPrefix(title, "failed") {
			text := b.eval("document.body ? document.body.innerText : ''")
			if title != "done" {
				b.t.Fatalf("the page at %s says %q: %s", url, title, text)
			}
			return text
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page at %s did not finish in %v (title %q, text %q)", url, timeout, title, b.eval("document.body ? document.body.innerText : ''"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A page served by a Lua service runs its script in Chromium: the
// harness itself works (the TLS and WebSocket tests build on it).
func TestBrowserOpensLuaPage(t *testing.T) {
	needBinary(t)
	b := needChromium(t)
	s := startServer(t, `workers: 1
lua:
  load: [page.lua]
frontends:
  - name: page
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.page
`, map[string]string{"page.lua": `
core.register_service("page", "http", function(applet)
	local body = "<!doctype html><title>loading</title><body>" ..
		"<script>document.body.textContent = 'served over ' + '` + "\" .. applet.version .. \"" + `' + ' by ' + location.host; document.title = 'done'</script>"
	applet:set_status(200)
	applet:add_header("content-type", "text/html")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`})
	text := b.open(s.url("/"), 30*time.Second)
	if want := fmt.Sprintf("served over HTTP/1.1 by %s", s.addr()); text != want {
		t.Errorf("page text %q, want %q", text, want)
	}
}

// Chromium loads a page over https from a Lua service, with a
// self-signed certificate, and negotiates HTTP/2: the page reports the
// protocol its navigation used, and the service what it saw.
func TestBrowserHTTP2OverTLS(t *testing.T) {
	needBinary(t)
	b := needChromium(t)
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "localhost")
	s := startServer(t, `workers: 2
lua:
  load: [page.lua]
frontends:
  - name: page
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.page
    tls: {cert: c.pem, key: c.key}
`, map[string]string{"c.pem": cert.certPEM, "c.key": cert.keyPEM, "page.lua": `
core.register_service("page", "http", function(applet)
	local saw = "lua saw " .. applet.version .. " alpn " .. tostring(applet.f:ssl_fc_alpn()) .. " " .. tostring(applet.f:ssl_fc_protocol())
	local body = "<!doctype html><title>loading</title><body><p id=lua>" .. saw .. "</p><p id=js></p>" ..
		"<script>document.getElementById('js').textContent = 'page saw ' + performance.getEntriesByType('navigation')[0].nextHopProtocol; document.title = 'done'</script>"
	applet:set_status(200)
	applet:add_header("content-type", "text/html")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`})
	text := b.open("https://"+s.addr()+"/", 30*time.Second)
	for _, want := range []string{"lua saw HTTP/2.0 alpn h2 TLSv1.3", "page saw h2"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text %q lacks %q", text, want)
		}
	}
}
