package admin

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testRuntime() *Runtime {
	cmds := []Command{
		{Path: []string{"echo"}, Usage: "<words>", Help: "answers its arguments", Run: func(args []string) string { return strings.Join(args, "|") + "\n" }},
		{Path: []string{"show", "x"}, Help: "shows x", Run: func(args []string) string { return "x " + strings.Join(args, "|") + "\n" }},
		{Path: []string{"show", "x", "deep"}, Help: "shows x deeply", Run: func(args []string) string { return "deep " + strings.Join(args, "|") + "\n" }},
		{Path: []string{"set", "quiet"}, Help: "answers nothing", Run: func([]string) string { return "" }},
		{Path: []string{"fail"}, Help: "fails", Run: func([]string) string { return "Success=0\n--\nit failed\n" }},
		{Path: []string{"panic"}, Help: "panics", Run: func([]string) string { panic("boom") }},
		{Path: []string{"lua", "cmd"}, Usage: "lua cmd: a script's command", Run: func([]string) string { return "lua\n" }},
		{Path: []string{"load"}, Help: "takes a payload", Run: func(args []string) string { return "no payload " + strings.Join(args, "|") + "\n" },
			RunPayload: func(args []string, payload string) string {
				return strings.Join(args, "|") + ": " + strings.ReplaceAll(payload, "\n", "|") + "\n"
			}},
	}
	return NewRuntime(func() []Command { return cmds }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func listen(t *testing.T, path string) *Socket {
	t.Helper()
	s, err := Listen(path, testRuntime())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Lines are cut as HAProxy's CLI cuts them: ';' between commands, blanks
// between words, a backslash escaping the next character.
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		line string
		want [][]string
	}{
		{"show info", [][]string{{"show", "info"}}},
		{"  show   stat  \n", [][]string{{"show", "stat"}}},
		{"show info;show stat", [][]string{{"show", "info"}, {"show", "stat"}}},
		{"a ; ; b", [][]string{{"a"}, {"b"}}},
		{`set map m k two\ words`, [][]string{{"set", "map", "m", "k", "two words"}}},
		{`x a\;b c\\`, [][]string{{"x", "a;b", `c\`}}},
		{`x \ `, [][]string{{"x", " "}}},
		{"", nil},
		{";", nil},
	} {
		if got := Split(tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	words := []string{"set", "map", "a b", "c;d", `e\f`}
	if got := Split(Quote(words)); !reflect.DeepEqual(got, [][]string{words}) {
		t.Errorf("Split(Quote(%q)) = %q", words, got)
	}
}

// The longest path that begins a command wins; help lists what begins
// with its words; a command that panics answers an error.
func TestExec(t *testing.T) {
	rt := testRuntime()
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"echo", "a", "b"}, "a|b\n"},
		{[]string{"show", "x", "1"}, "x 1\n"},
		{[]string{"show", "x", "deep", "1"}, "deep 1\n"},
		{[]string{"set", "quiet"}, ""},
		{[]string{"lua", "cmd", "arg"}, "lua\n"},
		{[]string{"panic"}, "Internal error: boom\n"},
	} {
		if got := rt.Exec(tc.words); got != tc.want {
			t.Errorf("Exec(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
	h := rt.Exec([]string{"help"})
	for _, want := range []string{
		"The following commands are valid at this level:\n",
		"  echo <words>                            : answers its arguments\n",
		"  lua cmd: a script's command\n",
		"  help [<command>]                        : list matching or all commands\n",
		"  prompt                                  : toggle interactive mode with prompt\n",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
	if h := rt.Exec([]string{"help", "show"}); !strings.Contains(h, "show x deep") || strings.Contains(h, "echo") {
		t.Errorf("help show:\n%s", h)
	}
	u := rt.Exec([]string{"show", "nope"})
	if !strings.HasPrefix(u, "Unknown command, but maybe one of the following ones is a better match:\n") ||
		!strings.Contains(u, "  show x ") || strings.Contains(u, "echo") || !Failed(u) {
		t.Errorf("an unknown show command:\n%s", u)
	}
	if u := rt.Exec([]string{"frobnicate"}); !strings.Contains(u, "  echo ") || !Failed(u) {
		t.Errorf("an unknown command lists every command:\n%s", u)
	}
}

func TestSocket(t *testing.T) {
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
		// Every answer is followed by an empty line, as HAProxy's.
		{"echo a  b", "a|b\n\n", false},
		{"set quiet", "\n", false},
		{"echo 1;echo 2", "1\n\n2\n\n", false},
		{"fail", "Success=0\n--\nit failed\n\n", true},
		{"load a <<\nk v\nk2 v2\n", "a: k v|k2 v2\n\n", false},
		{"", "", false},
	} {
		got, err := Send(path, tc.line, 5*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got != tc.want {
			t.Errorf("%q: answer %q, want %q", tc.line, got, tc.want)
		}
		if Failed(got) != tc.failed {
			t.Errorf("%q: Failed = %v, want %v", tc.line, !tc.failed, tc.failed)
		}
	}
	// Only the first line is read without prompt.
	if got := exchange(t, path, "echo 1\necho 2\n"); got != "1\n\n" {
		t.Errorf("two lines without prompt: %q", got)
	}
	// As socat sends it: the line without a newline, then end of file.
	if got := exchange(t, path, "echo half-closed"); got != "half-closed\n\n" {
		t.Errorf("a line ended by EOF: %q", got)
	}
	// Interactive: the prompt after each answer, until quit.
	if got := exchange(t, path, "prompt\necho 1\nset quiet\nquit\necho never\n"); got != "\n> 1\n\n> \n> " {
		t.Errorf("prompt mode: %q", got)
	}
	if got := exchange(t, path, strings.Repeat("x", maxLine+10)+"\n"); !strings.HasPrefix(got, "A command is one line") {
		t.Errorf("a line too long: %q", got)
	}
	// A payload: the lines after "<<" up to an empty one go to the
	// line's last command; one that takes none runs without it; one
	// whose payload does not end is not run.
	for in, want := range map[string]string{
		"echo 1; load a b <<\nk v\n  k2 v2\n\necho never\n":   "1\n\na|b: k v|  k2 v2\n\n",
		"echo x <<\nignored\n\n":                              "x\n\n",
		"load a\\<<\n":                                        "no payload a<<\n\n",
		"echo 1; load a <<\nk v\n":                            "1\n\n",
		"prompt\nload a <<\nk v\n\nquit\n":                    "\n> + + a: k v\n\n> ",
		"load a <<\n" + strings.Repeat("x", maxLine) + "\n\n": "A command is one line, at most 16 KiB, sent within 10 s.\n",
	} {
		if got := exchange(t, path, in); got != want {
			t.Errorf("%.40q: %q, want %q", in, got, want)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file is still there after Close: %v", err)
	}
}

// exchange sends in, closes its side and reads the whole answer.
func exchange(t *testing.T, path, in string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = io.WriteString(c, in)
		_ = c.(*net.UnixConn).CloseWrite()
	}()
	got, _ := io.ReadAll(c)
	return string(got)
}

// A socket file left by a process that has gone is replaced; one another
// process answers on is not.
func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "le.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, testRuntime()); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("Listen on a socket in use: %v", err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s := listen(t, path)
	defer s.Close()
	if got, err := Send(path, "echo ok", 5*time.Second); err != nil || got != "ok\n\n" {
		t.Fatalf("after replacing the stale file: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(filepath.Dir(path), "file"), testRuntime()); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
}

// Over HTTP: the lines of a POST's body, each answered; a browser's post
// from another origin is refused.
func TestRuntimeHTTP(t *testing.T) {
	srv := httptest.NewServer(testRuntime())
	defer srv.Close()
	post := func(body, origin string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if code, got := post("echo a;echo b\nset quiet\nprompt\n", ""); code != 200 || got != "a\n\nb\n\n\n" {
		t.Errorf("POST: %d %q", code, got)
	}
	if code, got := post("load a <<\nk v\nk2 v2\n\necho b\nload c <<\nk3 v3", ""); code != 200 || got != "a: k v|k2 v2\n\nb\n\n" {
		t.Errorf("POST with payloads: %d %q", code, got)
	}
	if code, _ := post("echo a", srv.URL); code != 200 {
		t.Errorf("from its own origin: %d", code)
	}
	if code, _ := post("echo a", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("from another origin: %d", code)
	}
	if r, err := http.Get(srv.URL); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", r, err)
	}
}
