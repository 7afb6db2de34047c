// Package edgetest runs an edge server in a test's process, for the
// in-process tests of the packages it is made of (serve/*, proxy): they
// run under -race and the invariants tag, which the end-to-end tests of
// the built binary cannot.
package edgetest

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

// Log collects a server's log; safe for concurrent use.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Server is an edge server running in the test process.
type Server struct {
	Addr map[string]string // by placeholder: "@A@" -> "127.0.0.1:port"
	Log  *Log
	stop func()
}

// Stop begins the server's graceful stop, as SIGTERM does, and returns;
// the end of the test waits for it.
func (s *Server) Stop() { go s.stop() }

// placeholders are the addresses a configuration may ask for.
var placeholders = []string{"@A@", "@B@", "@C@", "@D@", "@E@"}

// FreeAddr returns a loopback address nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start serves the YAML configuration yml, whose placeholders @A@ to @E@
// become free loopback addresses, with the Lua script code. It is shut
// down when the test ends (close client connections before: an idle one
// holds the shutdown for its grace period); a panic in its log fails the
// test.
func Start(t testing.TB, yml, code string) *Server {
	t.Helper()
	s := &Server{Addr: map[string]string{}, Log: &Log{}}
	taken := map[string]bool{}
	for _, p := range placeholders {
		if strings.Contains(yml, p) {
			// A port just freed may be handed out again: each placeholder
			// gets one no other has.
			a := FreeAddr(t)
			for taken[a] {
				a = FreeAddr(t)
			}
			taken[a] = true
			s.Addr[p] = a
			yml = strings.ReplaceAll(yml, p, a)
		}
	}
	cfg, err := config.Parse([]byte(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := edge.New(cfg, []lj.Script{{Path: "test.lua", Code: []byte(code)}}, log)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Booted():
	case err := <-served:
		t.Fatalf("Serve: %v\n%s", err, s.Log)
	case <-time.After(10 * time.Second):
		t.Fatalf("not booted after 10 s\n%s", s.Log)
	}
	var once sync.Once
	var stopErr error
	s.stop = func() { once.Do(func() { stopErr = srv.Shutdown(context.Background()) }) }
	t.Cleanup(func() {
		if s.stop(); stopErr != nil {
			t.Errorf("Shutdown: %v", stopErr)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if strings.Contains(s.Log.String(), "panic") {
			t.Errorf("the log shows a panic:\n%s", s.Log)
		}
	})
	return s
}

// Client is a raw connection to the server.
type Client struct {
	net.Conn
	R *bufio.Reader
}

// Dial connects to the server's address for placeholder p; the connection
// closes when the test ends.
func (s *Server) Dial(t testing.TB, p string) *Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr[p], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &Client{Conn: c, R: bufio.NewReader(c)}
}

// Send writes s.
func (c *Client) Send(t testing.TB, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}
