package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
)

// versionScript answers every request with its version.
func versionScript(version string) []lj.Script {
	code := fmt.Sprintf(`
core.register_service("v", "http", function(applet)
	applet:set_status(200)
	applet:add_header("content-length", %d)
	applet:start_response()
	applet:send(%q)
end)`, len(version), version)
	return []lj.Script{{Path: "v.lua", Code: []byte(code)}}
}

// versionConfig serves versionScript on addr, with a stick table of size.
func versionConfig(addr string, size config.Size) *config.Config {
	return &config.Config{
		Workers:         2,
		ShutdownTimeout: config.Duration(3 * time.Second),
		Frontends: []config.Frontend{{
			Name:       "main",
			Bind:       []string{addr},
			Mode:       "http",
			UseService: "lua.v",
			StickTable: &config.StickTable{Type: "ip", Size: size, Expire: config.Duration(time.Minute), Store: []string{"http_req_cnt"}},
			Track:      &config.Track{Key: "src"},
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
}

// askVersion fetches / on a new connection and returns the body.
func askVersion(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A reload in one process: the next generation listens on the same address
// while the old one still does; once the old one's listeners close, every
// new connection goes to the next one, none is refused; the old one,
// retired, answers what its accepted connections send, idle ones included,
// then stops, its loops and states released. The stick table carries over
// while its definition is the same.
func TestReloadInProcess(t *testing.T) {
	addr := freeTestAddr(t)
	old := runServer(t, versionConfig(addr, 1000), versionScript("v1"), addr)

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	roundTrip := func() (*http.Response, string, error) {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
			return nil, "", err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), err
	}
	if _, body, err := roundTrip(); err != nil || body != "v1" {
		t.Fatalf("before the reload: %q, %v", body, err)
	}

	buf := &lockedBuffer{}
	next, err := old.Next(versionConfig(addr, 1000), versionScript("v2"), slog.New(slog.NewTextHandler(buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if next.tables["main"] != old.tables["main"] {
		t.Error("the stick table, unchanged, was not carried over")
	}
	nextServed := make(chan error, 1)
	go func() { nextServed <- next.Serve() }()
	select {
	case <-next.Booted():
	case err := <-nextServed:
		t.Fatalf("the next generation did not start: %v\n%s", err, buf)
	}
	t.Cleanup(func() {
		if err := next.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown of the next generation: %v", err)
		}
		if err := <-nextServed; err != nil {
			t.Errorf("Serve of the next generation: %v", err)
		}
	})

	stopped := make(chan error, 1)
	go func() { stopped <- old.Retire(context.Background()) }()
	for run, i := 0, 0; run < 20; i++ {
		if i > 2000 {
			t.Fatal("new connections still reach the old generation after 2000 tries")
		}
		body, err := askVersion(addr)
		if err != nil {
			t.Fatalf("a new connection during the reload: %v; old log:\n%s", err, old.log)
		}
		if body == "v2" {
			run++
		} else {
			run = 0
		}
	}
	// The keep-alive connection the old generation accepted, idle longer
	// than a stop would let it be, is still open: its next request is
	// answered, with connection: close.
	time.Sleep(1500 * time.Millisecond) // a stop closes it after 1 s (serve/http1 drainGrace)
	resp, body, err := roundTrip()
	if err != nil || body != "v1" || !resp.Close {
		t.Fatalf("the old generation's idle keep-alive connection during the drain: %q, %v (response %+v)", body, err, resp)
	}
	waitStopped(t, old, stopped, " of the old generation")
	for _, ls := range old.loopStates() {
		select {
		case <-ls.stopSweep:
		default:
			t.Errorf("loop %d of the old generation is not released", ls.loop.ID)
		}
	}
	if body, err := askVersion(addr); err != nil || body != "v2" {
		t.Fatalf("after the reload: %q, %v", body, err)
	}

	// A changed definition makes a new table.
	third, err := next.Next(versionConfig(addr, 2000), versionScript("v3"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if third.tables["main"] == next.tables["main"] {
		t.Error("a stick table whose size changed was carried over")
	}
}

// freeTestAddr returns a loopback address nothing listens on.
func freeTestAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
