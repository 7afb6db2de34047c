// Package admin is luaedge's runtime API, in the manner of HAProxy's
// stats socket: a Unix socket that takes command lines, and the same
// commands over HTTP on the admin listener. A client connects, sends one
// command line (commands separated by ';', words by blanks), reads the
// answers and sees the connection close; after "prompt" the connection
// stays open and takes a line after another. A line whose last word is
// "<<" is followed by a payload, lines up to an empty one, which the
// line's last command gets (HAProxy's "add map <map> <<"). socat is a
// client:
//
//	echo "show info;show stat" | socat stdio unix-connect:/run/luaedge.sock
//
// The package knows no command but help, prompt and quit; the program
// gives it the others (Commands).
package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is a command of the runtime API, found by the words that begin
// a command (its Path).
type Command struct {
	Path  []string // "show", "stat"
	Usage string   // its arguments, for help: "[<backend>]"
	// Help says in one line what it does. A command without one is listed
	// by its Usage alone (as HAProxy lists those of Lua scripts).
	Help string
	// ReadOnly says it changes nothing: it is logged at debug level (a
	// monitor polling show stat would fill the log), the others at info.
	ReadOnly bool
	// Run answers the command; args are the words after Path. The answer
	// is empty or ends with a newline. It runs on the client's goroutine
	// and may take as long as the command needs.
	Run func(args []string) string
	// RunPayload, when set, answers the command when a payload follows
	// it; payload is its lines joined by newlines. A command without it
	// runs without the payload, as HAProxy's commands that take none.
	RunPayload func(args []string, payload string) string
}

// Commands returns the commands answered now. It is called for every
// command: a program whose commands change (those a reload's scripts
// register) gives the current ones.
type Commands func() []Command

// Runtime answers command lines with a set of commands; the Socket and
// the HTTP handler share it. Its methods are safe for concurrent use.
type Runtime struct {
	cmds Commands
	log  *slog.Logger
}

// NewRuntime answers with cmds (plus help, prompt and quit).
func NewRuntime(cmds Commands, log *slog.Logger) *Runtime {
	return &Runtime{cmds: cmds, log: log}
}

// Limits on a client: a command line is at most maxLine bytes (HAProxy's
// buffer size), and is sent within readTimeout; in interactive mode the
// next line may wait promptTimeout.
const (
	maxLine       = 16 << 10
	readTimeout   = 10 * time.Second
	promptTimeout = 10 * time.Minute
)

// Split cuts a command line into its commands and their words as
// HAProxy's CLI does: ';' ends a command, blanks separate words, and a
// backslash makes the next character (a blank, ';', a backslash) part of
// a word. Empty commands are dropped.
func Split(line string) [][]string {
	var (
		cmds  [][]string
		words []string
		word  strings.Builder
		in    bool // a word is open (it may be empty after an escape)
	)
	endWord := func() {
		if in {
			words = append(words, word.String())
			word.Reset()
			in = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '\\':
			if i+1 < len(line) {
				i++
				word.WriteByte(line[i])
				in = true
			}
		case ';':
			endCmd()
		case ' ', '\t', '\r', '\n':
			endWord()
		default:
			word.WriteByte(c)
			in = true
		}
	}
	endCmd()
	return cmds
}

// Quote makes a command line of words, escaping what Split would cut:
// `luaedge admin set map m.map /k "two words"` sends one value.
func Quote(words []string) string {
	r := strings.NewReplacer(`\`, `\\`, " ", `\ `, "\t", "\\\t", ";", `\;`)
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = r.Replace(w)
	}
	return strings.Join(out, " ")
}

// builtin are the commands the package answers itself, listed last by
// help as HAProxy lists them.
var builtin = []Command{
	{Path: []string{"help"}, Usage: "[<command>]", Help: "list matching or all commands"},
	{Path: []string{"prompt"}, Help: "toggle interactive mode with prompt"},
	{Path: []string{"quit"}, Help: "disconnect"},
}

// payloadMark, the last word of a line, says a payload follows it.
const payloadMark = "<<"

// opensPayload reports whether line, cut into cmds, ends with the
// payload mark (unescaped).
func opensPayload(line string, cmds [][]string) bool {
	if len(cmds) == 0 || !strings.HasSuffix(strings.TrimRight(line, "\r\n"), " "+payloadMark) {
		return false
	}
	last := cmds[len(cmds)-1]
	return last[len(last)-1] == payloadMark
}

// readPayload reads the lines of a payload from next up to an empty one,
// at most maxLine bytes in all.
func readPayload(next func() (string, error)) (string, error) {
	var lines []string
	size := 0
	for {
		l, err := next()
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return strings.Join(lines, "\n"), nil
		}
		if size += len(l) + 1; size > maxLine {
			return "", errLine
		}
		lines = append(lines, l)
	}
}

// Exec answers one command (its words); the answer is empty or ends with
// a newline. help, prompt and quit are the caller's (exec answers help).
func (r *Runtime) Exec(words []string) string { return r.exec(words, "", false) }

// ExecPayload answers a command followed by a payload (its words without
// the mark "<<").
func (r *Runtime) ExecPayload(words []string, payload string) string {
	return r.exec(words, payload, true)
}

func (r *Runtime) exec(words []string, payload string, hasPayload bool) (answer string) {
	if len(words) == 0 {
		return ""
	}
	cmds := r.cmds()
	if words[0] == "help" {
		return help(cmds, words[1:])
	}
	cmd, ok := find(cmds, words)
	if !ok {
		return unknown(cmds, words)
	}
	level := slog.LevelInfo
	if cmd.ReadOnly {
		level = slog.LevelDebug
	}
	r.log.Log(context.Background(), level, "runtime command", "command", strings.Join(words, " "))
	// A command that panics answers an error: the process and the other
	// clients go on.
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("runtime command failed", "command", strings.Join(cmd.Path, " "), "panic", p, "stack", string(debug.Stack()))
			answer = fmt.Sprintf("Internal error: %v\n", p)
		}
	}()
	args := words[len(cmd.Path):]
	if hasPayload && cmd.RunPayload != nil {
		return cmd.RunPayload(args, payload)
	}
	return cmd.Run(args)
}

// find returns the command whose path is the longest to begin words.
func find(cmds []Command, words []string) (Command, bool) {
	var best Command
	found := false
	for _, c := range cmds {
		if len(c.Path) == 0 || len(c.Path) > len(words) || !slices.Equal(c.Path, words[:len(c.Path)]) {
			continue
		}
		if !found || len(c.Path) > len(best.Path) {
			best, found = c, true
		}
	}
	return best, found
}

// helpLine is a command's line in help: its path and usage, padded, then
// its help (HAProxy's layout).
func helpLine(c Command) string {
	if c.Help == "" {
		return "  " + c.Usage + "\n"
	}
	use := strings.Join(c.Path, " ")
	if c.Usage != "" {
		use += " " + c.Usage
	}
	return fmt.Sprintf("  %-40s: %s\n", use, c.Help)
}

// help lists the commands whose path begins with prefix (all if empty).
func help(cmds []Command, prefix []string) string {
	var b strings.Builder
	b.WriteString("The following commands are valid at this level:\n")
	for _, c := range sorted(cmds) {
		if len(prefix) <= len(c.Path) && slices.Equal(prefix, c.Path[:len(prefix)]) {
			b.WriteString(helpLine(c))
		}
	}
	for _, c := range builtin {
		b.WriteString(helpLine(c))
	}
	return b.String()
}

// unknown answers a line no command matches, with the commands that
// share its first word (all of them when none does).
func unknown(cmds []Command, words []string) string {
	var near []Command
	for _, c := range sorted(cmds) {
		if c.Path[0] == words[0] {
			near = append(near, c)
		}
	}
	if len(near) == 0 {
		near = sorted(cmds)
	}
	var b strings.Builder
	b.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	for _, c := range append(near, builtin...) {
		b.WriteString(helpLine(c))
	}
	return b.String()
}

func sorted(cmds []Command) []Command {
	out := slices.Clone(cmds)
	slices.SortStableFunc(out, func(a, b Command) int {
		return strings.Compare(strings.Join(a.Path, " "), strings.Join(b.Path, " "))
	})
	return out
}

// Failed reports whether an answer says its command failed: an unknown
// command, or an answer whose first line is "Success=0" (HAProxy's master
// CLI answers a reload so; a command that can fail answers
// "Success=1" or "Success=0" first).
func Failed(answer string) bool {
	return strings.HasPrefix(answer, "Unknown command") || strings.HasPrefix(answer, "Success=0\n")
}

// Socket is a listening runtime socket.
type Socket struct {
	ln *net.UnixListener
	rt *Runtime
	wg sync.WaitGroup // the accept loop
}

// Listen opens the socket at path, readable and writable by the process's
// user only, and answers rt's commands on it until Close. A file left at
// path by a process that has gone is replaced; a socket another process
// answers on is an error.
func Listen(path string, rt *Runtime) (*Socket, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The file is made with the umask's permissions; the commands change
	// the server, so only its user may use them. (HAProxy: mode 600.)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Socket{ln: ln, rt: rt}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// removeStale removes a socket file nobody listens on.
func removeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: another process answers on this socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	return os.Remove(path)
}

// Close stops accepting and removes the socket file. Commands already
// running finish on their connections.
func (s *Socket) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Socket) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.rt.log.Error("runtime socket", "err", err)
			}
			return
		}
		go s.rt.serve(c)
	}
}

// serve answers the client on c: one line, or lines until quit once it
// asked for prompt. Each answer is followed by an empty line (and, in
// interactive mode, the prompt "> "), as HAProxy's answers are.
func (r *Runtime) serve(c net.Conn) {
	defer c.Close()
	in := bufio.NewReaderSize(c, maxLine)
	interactive := false
	for {
		timeout := readTimeout
		if interactive {
			timeout = promptTimeout
		}
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		line, err := readLine(in)
		if err != nil {
			if !interactive || !errors.Is(err, io.EOF) {
				_, _ = io.WriteString(c, err.Error()+"\n")
			}
			return
		}
		cmds := Split(line)
		withPayload := opensPayload(line, cmds)
		var out strings.Builder
		for i, words := range cmds {
			switch words[0] {
			case "quit":
				_, _ = io.WriteString(c, out.String())
				return
			case "prompt":
				interactive = !interactive
				continue
			}
			if !withPayload || i < len(cmds)-1 {
				out.WriteString(r.Exec(words))
			} else {
				// The answers so far go out before the payload is read,
				// as HAProxy runs a line's commands one after another.
				_, _ = io.WriteString(c, out.String())
				out.Reset()
				payload, err := r.readPayload(c, in, interactive, timeout)
				if err != nil {
					if !errors.Is(err, io.EOF) {
						_, _ = io.WriteString(c, err.Error()+"\n")
					}
					return // a command whose payload did not end is not run, as in HAProxy
				}
				out.WriteString(r.ExecPayload(words[:len(words)-1], payload))
			}
			out.WriteString("\n")
			if interactive {
				out.WriteString("> ")
			}
		}
		if interactive && out.Len() == 0 {
			out.WriteString("\n> ") // the prompt after "prompt" or an empty line
		}
		if _, err := io.WriteString(c, out.String()); err != nil || !interactive {
			return
		}
	}
}

// readPayload reads a payload from the client on c (in is its reader),
// prompting each line with "+ " in interactive mode.
func (r *Runtime) readPayload(c net.Conn, in *bufio.Reader, interactive bool, timeout time.Duration) (string, error) {
	if interactive {
		_, _ = io.WriteString(c, "+ ")
	}
	return readPayload(func() (string, error) {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		l, err := readLine(in)
		if err == nil && interactive && strings.TrimRight(l, "\r\n") != "" {
			_, _ = io.WriteString(c, "+ ")
		}
		return l, err
	})
}

// errLine is what a client that sends no proper line gets.
var errLine = errors.New("A command is one line, at most 16 KiB, sent within 10 s.")

// readLine reads a line ended by a newline, or by the end of the input
// (socat without a newline sends its EOF after the line).
func readLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && len(line) > 0:
	case errors.Is(err, io.EOF):
		return "", io.EOF
	default:
		return "", errLine
	}
	return string(line), nil
}

// Send sends the command line to the socket at path and returns the
// answer, waiting for it at most timeout. A line ending in "<<" may be
// followed by its payload's lines ("add map m.map <<\n/k v").
func Send(path, line string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line = strings.TrimRight(line, "\n") + "\n"
	if first, _, _ := strings.Cut(line, "\n"); opensPayload(first, Split(first)) {
		line += "\n" // the empty line that ends the payload
	}
	if _, err := io.WriteString(c, line); err != nil {
		return "", err
	}
	answer, err := io.ReadAll(c)
	return string(answer), err
}
