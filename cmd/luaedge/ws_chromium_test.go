package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A browser opens a WebSocket to a Lua service through luaedge: headless
// Chromium loads a page that exchanges text, binary and a large message
// with the echo, closes with a code of its own, and reports what it saw
// over a second WebSocket.

const chromiumPage = `<!doctype html>
<title>luaedge WebSocket</title>
<script>
function report(m) {
  const r = new WebSocket("ws://" + location.host + "/report");
  r.onopen = () => { r.send(m); r.close(); };
}
const got = [];
const ws = new WebSocket("ws://" + location.host + "/ws", ["echo"]);
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  ws.send("hello from chromium");
  ws.send(new Uint8Array([1, 2, 3, 255]));
  ws.send("x".repeat(100000));
};
ws.onmessage = (e) => {
  got.push(typeof e.data === "string" ? e.data.length + ":" + e.data.slice(0, 19) : "bin:" + new Uint8Array(e.data).join(","));
  if (got.length === 3) ws.close(4001, "done");
};
ws.onclose = (e) => report("chromium protocol=" + ws.protocol + " extensions=" + ws.extensions + " | " + got.join(" | ") + " | close " + e.code + " " + e.reason + " clean=" + e.wasClean);
</script>
`

const chromiumLua = `
local websocket = require "http.websocket"
core.register_service("site", "http", function(applet)
   if applet.path == "/" then
      applet:add_header("content-type", "text/html")
      applet:add_header("content-length", #page)
      applet:start_response()
      applet:send(page)
      return
   end
   local ws = websocket.new_from_applet(applet)
   if not ws:accept{ protocols = { "echo" } } then return end
   if applet.path == "/report" then
      core.Info("report: " .. (ws:receive() or "nothing"))
      return
   end
   for data, opcode in ws:each() do ws:send(data, opcode) end
end)
`

func TestWSChromium(t *testing.T) {
	var browser string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no Chromium installed")
	}
	s := startServer(t, `workers: 2
lua:
  load: [site.lua]
frontends:
  - name: site
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.site
`, map[string]string{"site.lua": "page = [==[" + chromiumPage + "]==]\n" + chromiumLua})
	cmd := exec.Command(browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), s.url("/"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	logs := s.waitLog(t, 60*time.Second, "report: chromium")
	line := logs[strings.Index(logs, "report: chromium"):]
	line = line[:strings.IndexByte(line, '\n')]
	for _, want := range []string{"protocol=echo", "extensions=permessage-deflate; server_no_context_takeover",
		"| 19:hello from chromium | bin:1,2,3,255 | 100000:xxxxxxxxxxxxxxxxxxx | close 4001 done clean=true"} {
		if !strings.Contains(line, want) {
			t.Errorf("the browser reported %q; want %q in it", line, want)
		}
	}
}
