package tcp_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/edge"
	"github.com/luaedge/luaedge/lj"
)

// lockedLog collects the server's log.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is an edge server running in the test process.
type server struct {
	addr map[string]string // by placeholder: "@A@" -> "127.0.0.1:port"
	log  *lockedLog
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer serves the YAML configuration yml, whose placeholders @A@
// to @E@ become free loopback addresses, with the Lua script code.
// It is shut down when the test ends (close client connections before:
// an idle one holds the shutdown for its grace period).
func startServer(t *testing.T, yml, code string) *server {
	t.Helper()
	s := &server{addr: map[string]string{}, log: &lockedLog{}}
	for _, p := range []string{"@A@", "@B@", "@C@", "@D@", "@E@"} {
		if strings.Contains(yml, p) {
			s.addr[p] = freeAddr(t)
			yml = strings.ReplaceAll(yml, p, s.addr[p])
		}
	}
	cfg, err := config.Parse([]byte(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := edge.New(cfg, []lj.Script{{Path: "test.lua", Code: []byte(code)}}, log)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Booted():
	case err := <-served:
		t.Fatalf("Serve: %v\n%s", err, s.log)
	case <-time.After(10 * time.Second):
		t.Fatalf("not booted after 10 s\n%s", s.log)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if strings.Contains(s.log.String(), "panic") {
			t.Errorf("the log shows a panic:\n%s", s.log)
		}
	})
	return s
}

// client is a raw connection to the server.
type client struct {
	net.Conn
	r *bufio.Reader
}

// dial connects to the server's address for placeholder p; the
// connection closes when the test ends.
func (s *server) dial(t *testing.T, p string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr[p], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{Conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}
