package edge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
)

// generationScript answers with what its server's gate calls see: its
// proc.* variable and its frontend's stats. NAME is the frontend's name.
const generationScript = `
core.register_init(function() core.set_var("proc.owner", "NAME") end)
core.register_service("g", "http", function(applet)
	local st = core.frontends["NAME"]:get_stats()
	local body = string.format("owner=%s pxname=%s stot=%d", tostring(core.get_var("proc.owner")), st.pxname, st.stot)
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// startNamedServer serves generationScript on one frontend called name, on
// a free loopback port, until the test ends.
func startNamedServer(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := &config.Config{
		Workers:         2,
		ShutdownTimeout: config.Duration(3 * time.Second),
		Frontends: []config.Frontend{{
			Name:       name,
			Bind:       []string{addr},
			Mode:       "http",
			UseService: "lua.g",
			Limits: config.Limits{
				MaxRequestLine: config.DefaultMaxRequestLine,
				MaxHeaderBytes: config.DefaultMaxHeaderBytes,
				MaxHeaders:     config.DefaultMaxHeaders,
				MaxBody:        config.DefaultMaxBody,
			},
			Timeouts: config.Timeouts{
				HTTPRequest: config.Duration(config.DefaultHTTPRequest),
				KeepAlive:   config.Duration(config.DefaultKeepAlive),
				Body:        config.Duration(config.DefaultBody),
			},
		}},
	}
	buf := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	code := strings.ReplaceAll(generationScript, "NAME", name)
	srv, err := New(cfg, []lj.Script{{Path: name + ".lua", Code: []byte(code)}}, log)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Booted():
	case err := <-served:
		t.Fatalf("Serve returned before the server booted: %v\nlog:\n%s", err, buf)
	case <-time.After(10 * time.Second):
		t.Fatalf("the server has not booted after 10 s; log:\n%s", buf)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr
}

// get fetches / from addr on a new connection and returns the body.
func get(t *testing.T, addr string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Two servers in one process each see their own proc.* variables and their
// own proxies, whichever was created last.
func TestTwoServersApart(t *testing.T) {
	one := startNamedServer(t, "one")
	two := startNamedServer(t, "two")
	for i := 0; i < 3; i++ {
		get(t, one)
	}
	// The stats count the connection asking for them.
	if got, want := get(t, one), "owner=one pxname=one stot=4"; got != want {
		t.Errorf("server one: %q, want %q", got, want)
	}
	if got, want := get(t, two), "owner=two pxname=two stot=1"; got != want {
		t.Errorf("server two: %q, want %q", got, want)
	}
}
