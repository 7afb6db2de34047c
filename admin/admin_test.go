package admin

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, path string) *Socket {
	t.Helper()
	s, err := Listen(path, map[string]Command{
		"echo": {Help: "answers its arguments", Run: func(args []string) string { return strings.Join(args, " ") + "\n" }},
		"fail": {Help: "fails", Run: func([]string) string { return "Success=0\n--\nit failed\n" }},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "le.sock")
	s := listen(t, path)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %v, want 0600", perm)
	}
	for _, tc := range []struct {
		line, want string
		failed     bool
	}{
		{"echo a  b", "a b\n", false},
		{"fail", "Success=0\n--\nit failed\n", true},
		{"help", "  echo       : answers its arguments\n", false},
		{"", "  help       : this list\n", false},
		{"nope x", "Unknown command: 'nope'. The following commands", true},
	} {
		got, err := Send(path, tc.line, 5*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q: answer %q, want it to hold %q", tc.line, got, tc.want)
		}
		if Failed(got) != tc.failed {
			t.Errorf("%q: Failed = %v, want %v", tc.line, !tc.failed, tc.failed)
		}
	}

	// As socat sends it: the line without a newline, then end of file.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "echo half-closed")
	_ = c.(*net.UnixConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "half-closed\n" {
		t.Errorf("a line ended by EOF: %q", got)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file is still there after Close: %v", err)
	}
}

// A socket file left by a process that has gone is replaced; one another
// process answers on is not.
func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "le.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, nil, slog.Default()); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("Listen on a socket in use: %v", err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s := listen(t, path)
	defer s.Close()
	if got, err := Send(path, "echo ok", 5*time.Second); err != nil || got != "ok\n" {
		t.Fatalf("after replacing the stale file: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(filepath.Dir(path), "file"), nil, slog.Default()); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
}
