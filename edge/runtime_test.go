package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
)

const cliTestScript = `
core.register_service("t", "http", function(applet) applet:start_response() applet:send("ok") end)
core.register_cli({"show", "words"}, "show words: the words", function(applet, ...)
	applet:send(table.concat({...}, "|") .. "\n")
end)
core.register_cli({"wait"}, "wait: sleeps", function(applet)
	applet:send("before\n")
	core.msleep(100000)
	applet:send("never\n")
end)
core.register_cli({"boom"}, "boom", function(applet)
	applet:send("partial\n")
	error("kaboom")
end)
`

// A script's runtime command runs on the first loop and answers what it
// sent; an error keeps what it sent before; one that does not end in time
// is stopped, and the loop goes on serving.
func TestRunCLI(t *testing.T) {
	addr := freeTestAddr(t)
	cfg := versionConfig(addr, 100)
	cfg.Frontends[0].UseService = "lua.t"
	ts := runServer(t, cfg, []lj.Script{{Path: "cli.lua", Code: []byte(cliTestScript)}}, addr)
	clis := ts.CLIs()
	if len(clis) != 3 || strings.Join(clis[0].Path, " ") != "show words" || clis[1].Usage != "wait: sleeps" {
		t.Fatalf("CLIs = %+v", clis)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, failed, err := ts.RunCLI(ctx, 1, []string{"show", "words", "a b", "c"}); out != "show|words|a b|c\n" || failed || err != nil {
		t.Fatalf("show words: %q %v %v", out, failed, err)
	}
	if out, failed, err := ts.RunCLI(ctx, 3, []string{"boom"}); out != "partial\n" || !failed || err != nil {
		t.Fatalf("boom: %q %v %v", out, failed, err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if _, _, err := ts.RunCLI(short, 2, []string{"wait"}); !errors.Is(err, ErrCLITimeout) {
		t.Fatalf("wait: %v", err)
	}
	for i := 0; i < 4; i++ {
		if body, err := askVersion(addr); err != nil || body != "ok" {
			t.Fatalf("a request after the stopped command: %q %v", body, err)
		}
	}
	if out, _, err := ts.RunCLI(ctx, 1, []string{"show", "words"}); out != "show|words\n" || err != nil {
		t.Fatalf("show words again: %q %v", out, err)
	}
	if !strings.Contains(ts.log.String(), "kaboom") {
		t.Errorf("the command's error is not logged:\n%s", ts.log)
	}
}

// show sess: each open client connection, on the loop that has it,
// gone once closed.
func TestSessions(t *testing.T) {
	ts := startTestServer(t)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	list := ts.Sessions(context.Background())
	if len(list) != 1 || list[0].Frontend != "main" || list[0].Mode != "http/1.1" || list[0].Source.String() != c.LocalAddr().String() || list[0].Loop < 1 {
		t.Fatalf("Sessions = %+v", list)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(ts.Sessions(context.Background())) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still listed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reload keeps the admin states and weights set at run time on the
// servers of the same backend and name, unless the configuration changed
// the server's weight.
func TestReloadCarriesServerStates(t *testing.T) {
	addr := freeTestAddr(t)
	cfgWith := func(weightB int) *config.Config {
		cfg := versionConfig(addr, 100)
		cfg.Backends = []config.Backend{{Name: "app", Servers: []config.Server{
			{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2", Weight: weightB}, {Name: "c", Address: "127.0.0.1:3", Weight: 4},
		}}}
		return cfg
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	old, err := New(cfgWith(0), versionScript("v"), log)
	if err != nil {
		t.Fatal(err)
	}
	app := old.Backend("app")
	app.Server("a").SetMaint()
	_ = app.Server("b").SetWeight(7)
	app.Server("c").SetDrain()
	_ = app.Server("c").SetWeight(9)
	if w := app.Server("b").InitialWeight(); w != 1 {
		t.Fatalf("initial weight of b: %d", w)
	}
	next, err := old.Next(cfgWith(0), versionScript("v"), log)
	if err != nil {
		t.Fatal(err)
	}
	nb := next.Backend("app")
	if a, b, c := nb.Server("a"), nb.Server("b"), nb.Server("c"); a.AdminState() != backend.AdminMaint || b.Weight() != 7 ||
		c.AdminState() != backend.AdminDrain || c.Weight() != 9 {
		t.Fatalf("carried: a %s, b weight %d, c %s weight %d", a.AdminState(), b.Weight(), c.AdminState(), c.Weight())
	}
	third, err := next.Next(cfgWith(3), versionScript("v"), log)
	if err != nil {
		t.Fatal(err)
	}
	if w := third.Backend("app").Server("b").Weight(); w != 3 {
		t.Fatalf("b's weight after its configuration changed: %d, want 3", w)
	}
	if third.Backend("app").Server("a").AdminState() != backend.AdminMaint {
		t.Fatal("a's maintenance was not carried a second time")
	}
}
