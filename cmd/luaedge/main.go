// Command luaedge is a programmable edge server: HTTP/1.1 on an event loop
// per core, answered by the operator's LuaJIT scripts.
//
//	luaedge                          run the embedded demo configuration (127.0.0.1:8080)
//	luaedge -c FILE                  run FILE
//	luaedge check -c FILE            validate FILE and its scripts, then exit
//	luaedge admin [-s SOCKET] CMD    send CMD to a running luaedge's runtime socket
//	luaedge version                  print the version
//
// SIGTERM or SIGINT stops the server gracefully: it stops accepting, lets
// requests in flight finish for up to shutdown_timeout, and exits with
// status 0. If a Lua script is still running then (one that never
// yields), the process exits with status 3 without waiting for it.
//
// SIGHUP, or reload on the runtime socket, reloads: the configuration and
// the scripts are read again into a new generation of the server, which
// takes new connections while the old one finishes its requests (see
// reload.go).
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/admin"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/edge"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
)

// exitScriptRunning is the exit status after a stop signal when a Lua
// script was still running shutdown_timeout (and a short grace) later.
const exitScriptRunning = 3

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

//go:embed default/luaedge.yaml default/demo.lua
var defaultFS embed.FS

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	lj.Version = version
	if len(args) > 0 && args[0] == "admin" {
		return adminCommand(args[1:], stdout, stderr)
	}
	cmd := "serve"
	if len(args) > 0 && (args[0] == "check" || args[0] == "version") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("luaedge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration file (default: the embedded demo)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if rest := fs.Args(); len(rest) > 0 {
		// "luaedge -c FILE check" as well as "luaedge check -c FILE".
		if cmd == "serve" && (rest[0] == "check" || rest[0] == "version") && len(rest) == 1 {
			cmd = rest[0]
		} else {
			fmt.Fprintf(stderr, "luaedge: unexpected argument %q\n", rest[0])
			return 2
		}
	}
	if cmd == "version" {
		fmt.Fprintln(stderr, "luaedge", version)
		return 0
	}
	cfg, scripts, err := load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	// The scripts' body runs in check already: their logs go through the
	// configured logger.
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	if err := check(cfg, scripts); err != nil {
		if *cfgPath != "" {
			fmt.Fprintf(stderr, "luaedge: %s: %v\n", *cfgPath, err)
		} else {
			fmt.Fprintln(stderr, "luaedge:", err)
		}
		return 1
	}
	if cmd == "check" {
		fmt.Fprintln(stderr, "configuration and scripts are valid")
		return 0
	}
	return serve(*cfgPath, cfg, scripts, log, stderr)
}

// adminTimeout bounds the wait for an answer on the runtime socket; a
// reload answers once its new generation has started.
const adminTimeout = reloadStartTimeout + 30*time.Second

// adminCommand is "luaedge admin [-s SOCKET] COMMAND...".
func adminCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("luaedge admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("s", "/run/luaedge.sock", "the runtime socket (runtime_socket in the configuration)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: luaedge admin [-s SOCKET] COMMAND [ARG...]   (COMMAND help lists them)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	answer, err := admin.Send(*sock, strings.Join(fs.Args(), " "), adminTimeout)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge admin:", err)
		return 1
	}
	fmt.Fprint(stdout, answer)
	if admin.Failed(answer) {
		return 1
	}
	return 0
}

// load reads the configuration and its scripts, or the embedded default.
func load(path string) (*config.Config, []lj.Script, error) {
	if path == "" {
		data, _ := defaultFS.ReadFile("default/luaedge.yaml")
		cfg, err := config.Parse(data, "")
		if err != nil {
			return nil, nil, fmt.Errorf("embedded configuration: %w", err)
		}
		code, _ := defaultFS.ReadFile("default/demo.lua")
		return cfg, []lj.Script{{Path: "demo.lua", Code: code}}, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	scripts, err := lj.ReadScripts(cfg.Dir, cfg.Lua.Load)
	if err != nil {
		return nil, nil, fmt.Errorf("lua.load: %w", err)
	}
	return cfg, scripts, nil
}

// check loads the scripts into a throwaway state and resolves what the
// frontends refer to, so that errors show before any listener opens.
func check(cfg *config.Config, scripts []lj.Script) error {
	// The scripts' bodies run here first: the CPU limits hold them too.
	wd := cgo.NewWatchdog(edge.CPULimits(cfg.Lua))
	defer wd.Stop()
	// Relative map paths in the scripts are taken from the config's folder.
	st, err := lj.NewState(lj.Options{Scripts: scripts, MemoryLimit: int64(cfg.Lua.MemoryLimit), Sandbox: cfg.Lua.Sandbox, UnsafeFFI: cfg.Lua.UnsafeFFI, Shared: lj.NewShared(cfg.Dir, 1), Watchdog: wd})
	if err != nil {
		return err
	}
	// Closing the state runs the scripts' script_deinit: an error there
	// is theirs to fix, not a reason to refuse the configuration.
	defer func() {
		if err := st.Close(); err != nil {
			slog.Error("Lua script_deinit failed", "err", err)
		}
	}()
	for i, f := range cfg.Frontends {
		req, res := f.Rules()
		own, track := f.StickTables()
		if _, err := st.Program(f.Mode, req, res, f.ServiceName(), f.Forwards(), lj.StickNames{Own: own, Track: track}, f.OnError == "fail"); err != nil {
			return fmt.Errorf("frontends[%d].%v", i, err)
		}
	}
	// Backends, servers, checks and stick tables are validated by
	// building them (nothing starts before Serve).
	_, err = edge.New(cfg, scripts, slog.Default())
	return err
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(cfgPath string, cfg *config.Config, scripts []lj.Script, log *slog.Logger, stderr io.Writer) int {
	srv, err := edge.New(cfg, scripts, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	p := &process{cfgPath: cfgPath, stderr: stderr, log: log, reloads: make(chan chan<- reloadResult), done: make(chan struct{}), retiring: map[*generation]bool{}}
	if cfg.RuntimeSocket != "" {
		sock, err := admin.Listen(cfg.RuntimeSocket, map[string]admin.Command{
			"reload": {Help: "reload the configuration and the scripts; answers once the new generation serves", Run: p.reloadCommand},
		}, log)
		if err != nil {
			log.Error("cannot start", "err", fmt.Errorf("runtime_socket: %w", err))
			return 1
		}
		defer sock.Close()
	}
	if a := cfg.Admin; a != nil {
		started := time.Now()
		src := func(ctx context.Context) *metrics.Snapshot {
			srv := p.serving.Load()
			if srv == nil {
				return nil // not serving yet
			}
			snap := srv.Snapshot(ctx)
			snap.Uptime = time.Since(started)
			return snap
		}
		h, err := admin.ListenHTTP(a.Bind, map[string]http.Handler{a.Metrics: metrics.Handler(src)}, log)
		if err != nil {
			log.Error("cannot start", "err", fmt.Errorf("admin.bind: %w", err))
			return 1
		}
		defer h.Close()
	}
	// Signals are caught before the listeners open: a client may signal
	// as soon as the port accepts.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	p.cur = startGeneration(1, cfg, log, srv)
	p.serving.Store(srv)
	select {
	case err := <-p.cur.served:
		log.Error("cannot start", "err", err)
		return 1
	case <-srv.Booted():
	}
	p.cur.listening()
	return p.run(sigs)
}
