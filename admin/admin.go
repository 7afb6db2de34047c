// Package admin is luaedge's runtime socket: a Unix socket that takes
// commands in the manner of HAProxy's stats socket. A client connects,
// sends one command line (words separated by blanks, ended by a newline),
// reads the text of the answer and sees the connection close. socat is a
// client:
//
//	echo reload | socat stdio unix-connect:/run/luaedge.sock
//
// The package knows no command but help; the program gives it the others.
package admin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is what a command line's first word runs.
type Command struct {
	Help string // one line, for help: what the command does
	// Run answers the command; args are the words after the first. The
	// answer ends with a newline. It runs on the connection's goroutine and
	// may take as long as the command needs.
	Run func(args []string) string
}

// Limits on a client: a command line is short, and is sent at once.
const (
	maxLine     = 4096
	readTimeout = 10 * time.Second
)

// Socket is a listening runtime socket.
type Socket struct {
	ln   *net.UnixListener
	cmds map[string]Command
	log  *slog.Logger
	wg   sync.WaitGroup // the accept loop
}

// Listen opens the socket at path, readable and writable by the process's
// user only, and serves cmds (plus help) on it until Close. A file left at
// path by a process that has gone is replaced; a socket another process
// answers on is an error.
func Listen(path string, cmds map[string]Command, log *slog.Logger) (*Socket, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The file is made with the umask's permissions; the commands reload
	// the server, so only its user may use them. (HAProxy: mode 600.)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Socket{ln: ln, cmds: cmds, log: log}
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
				s.log.Error("runtime socket", "err", err)
			}
			return
		}
		go s.serve(c)
	}
}

// serve answers the one command line of c.
func (s *Socket) serve(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(readTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxLine), maxLine).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		// socat without a newline sends EOF after the line: take it.
		_, _ = io.WriteString(c, "A command is one line, at most 4 KiB, sent within 10 s.\n")
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	words := strings.Fields(line)
	if len(words) == 0 {
		_, _ = io.WriteString(c, s.help())
		return
	}
	s.log.Info("runtime command", "command", words[0])
	var answer string
	switch cmd, ok := s.cmds[words[0]]; {
	case words[0] == "help":
		answer = s.help()
	case ok:
		answer = cmd.Run(words[1:])
	default:
		answer = "Unknown command: '" + words[0] + "'. " + s.help()
	}
	_, _ = io.WriteString(c, answer)
}

// help lists the commands.
func (s *Socket) help() string {
	var b strings.Builder
	b.WriteString("The following commands are valid at this level:\n")
	names := []string{"help"}
	for name := range s.cmds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h := "this list"
		if name != "help" {
			h = s.cmds[name].Help
		}
		fmt.Fprintf(&b, "  %-10s : %s\n", name, h)
	}
	return b.String()
}

// Send sends the command line to the socket at path and returns the
// answer, waiting for it at most timeout.
func Send(path, line string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, strings.TrimRight(line, "\n")+"\n"); err != nil {
		return "", err
	}
	answer, err := io.ReadAll(c)
	return string(answer), err
}

// Failed reports whether an answer says its command failed: an unknown
// command, or an answer whose first line is "Success=0" (HAProxy's master
// CLI answers a reload so; a command that can fail answers
// "Success=1" or "Success=0" first).
func Failed(answer string) bool {
	return strings.HasPrefix(answer, "Unknown command") || strings.HasPrefix(answer, "Success=0\n")
}
