package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/luaedge/luaedge/config"
)

// checkCommand is "luaedge check": the configuration, its scripts (their
// body, script_init and core.register_init functions), what the frontends
// refer to, and the binds. Every problem found goes to stderr, one a
// line; what was checked goes to stdout.
func checkCommand(src source, stdout, stderr io.Writer) int {
	what := src.yaml
	switch {
	case len(src.haproxy) > 0:
		what = strings.Join(src.haproxy, ", ")
	case what == "":
		what = "the embedded demo configuration (no -c FILE given)"
	}
	cfg, scripts, warnings, err := load(src)
	if err != nil {
		return checkFailed(stderr, what, err)
	}
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	for _, w := range warnings {
		log.Warn(w)
	}
	errs := config.Problems(inConfig(src.name(), check(cfg, scripts)))
	errs = append(errs, config.Problems(inConfig(src.name(), checkBinds(cfg)))...)
	if len(errs) > 0 {
		return checkFailed(stderr, what, errors.Join(errs...))
	}
	fmt.Fprintf(stdout, "checked %s:\n", what)
	fmt.Fprintf(stdout, "  configuration: valid, %s, %s\n", plural(len(cfg.Frontends), "frontend"), plural(len(cfg.Backends), "backend"))
	names := make([]string, len(scripts))
	for i, s := range scripts {
		names[i] = s.Path
	}
	if len(names) == 0 {
		fmt.Fprintln(stdout, "  scripts: none")
	} else {
		fmt.Fprintf(stdout, "  scripts: %s loaded; script_init and core.register_init functions ran\n", strings.Join(names, ", "))
	}
	if names := cfg.Hooks.Enabled(); len(names) > 0 {
		fmt.Fprintf(stdout, "  hook scripts: %s loaded from %s\n", strings.Join(names, ", "), cfg.Hooks.Dir)
	}
	for _, f := range cfg.Frontends {
		fmt.Fprintf(stdout, "  frontend %s (%s): %s can be bound\n", f.Name, f.Mode, strings.Join(f.Bind, ", "))
	}
	fmt.Fprintln(stdout, "configuration and scripts are valid")
	return exitOK
}

func checkFailed(stderr io.Writer, what string, err error) int {
	problems := config.Problems(err)
	printProblems(stderr, err)
	fmt.Fprintf(stderr, "luaedge check: %s in %s\n", plural(len(problems), "problem"), what)
	return exitError
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkBinds tries each bind as the server will: a listening socket with
// SO_REUSEPORT, closed at once. It succeeds on a free port, and on one a
// running luaedge of the same user holds (its sockets are in the same
// SO_REUSEPORT group), as a reload needs; it fails on an address this
// machine does not have, and on a port another program holds.
func checkBinds(cfg *config.Config) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var errs []error
	for i, f := range cfg.Frontends {
		for j, b := range f.Bind {
			ln, err := lc.Listen(context.Background(), "tcp", b)
			if err == nil {
				ln.Close()
				continue
			}
			errs = append(errs, fmt.Errorf("frontends[%d].bind[%d]: frontend %q cannot listen on %s: %s", i, j, f.Name, b, bindProblem(err)))
		}
	}
	return errors.Join(errs...)
}

func bindProblem(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "the address is not one of this machine's"
	case errors.Is(err, syscall.EADDRINUSE):
		return "the port is in use by another program (a running luaedge of the same user would share it)"
	case errors.Is(err, syscall.EACCES):
		return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
	}
	return err.Error()
}
