// Command luaedge is a programmable edge server: HTTP/1.1 on an event loop
// per core, answered by the operator's LuaJIT scripts.
//
//	luaedge                  run the embedded demo configuration (127.0.0.1:8080)
//	luaedge -c FILE          run FILE
//	luaedge check -c FILE    validate FILE and its scripts, then exit
//	luaedge version          print the version
//
// SIGTERM or SIGINT stops the server gracefully: it stops accepting, lets
// requests in flight finish for up to shutdown_timeout, and exits with
// status 0. If a Lua script is still running then (one that never
// yields), the process exits with status 3 without waiting for it.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/edge"
	"github.com/luaedge/luaedge/lj"
)

// exitScriptRunning is the exit status after a stop signal when a Lua
// script was still running shutdown_timeout (and a short grace) later.
const exitScriptRunning = 3

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

//go:embed default/luaedge.yaml default/demo.lua
var defaultFS embed.FS

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	lj.Version = version
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
	return serve(cfg, scripts, log)
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

func serve(cfg *config.Config, scripts []lj.Script, log *slog.Logger) int {
	srv, err := edge.New(cfg, scripts, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	// Signals are caught before the listeners open: a client may signal
	// as soon as the port accepts.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		log.Error("cannot start", "err", err)
		return 1
	case <-srv.Booted():
	}
	for _, f := range cfg.Frontends {
		log.Info("listening", "frontend", f.Name, "bind", f.Bind, "service", f.UseService)
	}
	return waitSignals(srv, sigs, errc, log)
}

func waitSignals(srv *edge.Server, sigs chan os.Signal, errc chan error, log *slog.Logger) int {
	for {
		select {
		case err := <-errc:
			if err != nil {
				log.Error("server stopped", "err", err)
				return 1
			}
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				log.Warn("SIGHUP: reload is not supported yet; ignoring")
				continue
			}
			log.Info("stopping: finishing requests in flight", "signal", sig)
			err := srv.Shutdown(context.Background())
			if errors.Is(err, edge.ErrScriptRunning) {
				// Serve cannot return while a loop is in the script.
				log.Error("stopped with a Lua script still running; exiting without waiting for it")
				return exitScriptRunning
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("shutdown", "err", err)
			}
			<-errc
			log.Info("stopped")
			return 0
		}
	}
}
