// Command luaedge is a programmable edge server: HTTP/1.1 on an event loop
// per core, answered by the operator's LuaJIT scripts.
//
//	luaedge                          run the embedded demo configuration (127.0.0.1:8080)
//	luaedge [run] -c FILE            run FILE
//	luaedge check [-c FILE]          validate FILE, its scripts and binds, then exit
//	luaedge -f haproxy.cfg [-f ...]  run an HAProxy configuration (-db, -c as HAProxy)
//	luaedge check -f haproxy.cfg     validate it and its scripts, then exit
//	luaedge convert -f haproxy.cfg   print the equivalent YAML configuration
//	luaedge admin [-s SOCKET] CMD    send CMD to a running luaedge's runtime socket
//	luaedge version                  print the version
//	luaedge completion bash | man    print the shell completion, the manual page
//	luaedge --help                   list the commands and their flags (cli.go)
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
	"embed"
	"errors"
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
	cmd, explicit := "run", false
	if len(args) > 0 {
		if c := findCommand(args[0]); c != nil {
			if c.run != nil {
				return c.run(args[1:], stdout, stderr)
			}
			cmd, args, explicit = c.name, args[1:], true
		}
	}
	// HAProxy's command line (-f FILE..., -db, -c to check) is read as
	// HAProxy reads it: its -c is not ours.
	var src source
	if usesHAProxy(args) {
		files, checkOnly, err := haproxyArgs(args)
		if err != nil {
			fmt.Fprintln(stderr, "luaedge:", err)
			return exitUsage
		}
		src.haproxy = files
		if checkOnly {
			cmd = "check"
		}
		args = nil
	}
	fs := flag.NewFlagSet("luaedge", flag.ContinueOnError)
	opts := defineFlags(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // -h is answered below; a bad flag gets the hint
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if !explicit {
				printHelp(stdout)
			} else {
				printCommandHelp(stdout, *findCommand(cmd))
			}
			return exitOK
		}
		fmt.Fprintln(stderr, "luaedge --help lists the commands and their flags")
		return exitUsage
	}
	if rest := fs.Args(); len(rest) > 0 {
		// "luaedge -c FILE check" as well as "luaedge check -c FILE".
		if cmd == "run" && (rest[0] == "check" || rest[0] == "version") && len(rest) == 1 {
			cmd = rest[0]
		} else {
			fmt.Fprintf(stderr, "luaedge: unexpected argument %q (luaedge --help lists the commands)\n", rest[0])
			return exitUsage
		}
	}
	if opts.version || cmd == "version" {
		return versionCommand(nil, stdout, stderr)
	}
	src.yaml = opts.cfgPath
	if cmd == "check" {
		return checkCommand(src, stdout, stderr)
	}
	cfg, scripts, warnings, err := load(src)
	if err != nil {
		printProblems(stderr, err)
		return exitError
	}
	// The scripts' body runs in check already: their logs go through the
	// configured logger.
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	for _, w := range warnings {
		log.Warn(w)
	}
	if err := check(cfg, scripts); err != nil {
		printProblems(stderr, inConfig(src.name(), err))
		return exitError
	}
	return serve(src, cfg, scripts, log, stderr)
}

// options are the flags of run and check.
type options struct {
	cfgPath string
	version bool
	haproxy fileList // -f, read by haproxyArgs before these flags
	db      bool
}

// fileList is a flag given once per file.
type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(v string) error { *l = append(*l, v); return nil }

// defineFlags defines the flags of run and check on fs; --help, the man
// page and the completion list them from here. A command line with -f is
// HAProxy's (haproxyArgs reads it: -f, -db, and -c meaning check).
func defineFlags(fs *flag.FlagSet) *options {
	o := &options{}
	fs.StringVar(&o.cfgPath, "c", "", "the configuration `file` (default: the embedded demo)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Var(&o.haproxy, "f", "an HAProxy configuration `file` instead (several allowed; with -f, -c means check, as in HAProxy)")
	fs.BoolVar(&o.db, "db", false, "stay in the foreground, as HAProxy's -db (luaedge always does)")
	return o
}

// inConfig names the configuration file in each of err's problems.
func inConfig(cfgPath string, err error) error {
	if cfgPath == "" {
		return err
	}
	problems := config.Problems(err)
	for i, e := range problems {
		problems[i] = fmt.Errorf("%s: %w", cfgPath, e)
	}
	return errors.Join(problems...)
}

// printProblems writes each problem err reports on a line of its own.
func printProblems(w io.Writer, err error) {
	for _, e := range config.Problems(err) {
		fmt.Fprintln(w, "luaedge:", e)
	}
}

// adminTimeout bounds the wait for an answer on the runtime socket; a
// reload answers once its new generation has started.
const adminTimeout = reloadStartTimeout + 30*time.Second

// adminCommand is "luaedge admin [-s SOCKET] COMMAND...".
func adminCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("luaedge admin", flag.ContinueOnError)
	sock := defineAdminFlags(fs)
	if status, done := parseFlags(fs, *findCommand("admin"), args, stdout, stderr); done {
		return status
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	// One argument is a command line as is ("show info;show stat");
	// several are the words of one command, each kept whole.
	line := fs.Arg(0)
	if fs.NArg() > 1 {
		line = admin.Quote(fs.Args())
	}
	answer, err := admin.Send(*sock, line, adminTimeout)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge admin:", err)
		return exitError
	}
	fmt.Fprint(stdout, answer)
	if admin.Failed(answer) {
		return exitError
	}
	return exitOK
}

// defineAdminFlags defines the flags of admin on fs.
func defineAdminFlags(fs *flag.FlagSet) *string {
	return fs.String("s", "/run/luaedge.sock", "the runtime `socket` (runtime_socket in the configuration)")
}

// load reads the configuration and its scripts, or the embedded default.
// warnings name what an HAProxy configuration says that luaedge ignores.
func load(src source) (cfg *config.Config, scripts []lj.Script, warnings []string, err error) {
	if len(src.haproxy) > 0 {
		if src.yaml != "" {
			return nil, nil, nil, fmt.Errorf("-c and -f: one configuration, YAML or HAProxy's")
		}
		return loadHAProxy(src.haproxy)
	}
	cfg, scripts, err = loadYAML(src.yaml)
	return cfg, scripts, nil, err
}

// loadYAML reads a YAML configuration and its scripts, or the embedded
// default.
func loadYAML(path string) (*config.Config, []lj.Script, error) {
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

// check loads the scripts into a throwaway state, resolves what the
// frontends refer to and builds the backends and stick tables, so that
// errors show before any listener opens; then it runs the scripts'
// core.register_init functions, with the proxies they will see at start.
// It reports every problem it finds (errors.Join).
func check(cfg *config.Config, scripts []lj.Script) error {
	var errs []error
	// Backends, servers, checks and stick tables are validated by
	// building them (nothing starts before Serve).
	srv, err := edge.New(cfg, scripts, slog.Default())
	var host any
	if err != nil {
		errs = append(errs, err)
	} else {
		host = srv.CheckHost()
	}
	// The scripts' bodies run here first: the CPU limits hold them too.
	wd := cgo.NewWatchdog(edge.CPULimits(cfg.Lua))
	defer wd.Stop()
	hooks, err := edge.ReadHooks(cfg)
	if err != nil {
		if srv != nil { // else edge.New reported it
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	// Relative map paths in the scripts are taken from the config's folder.
	st, err := lj.NewState(lj.Options{Scripts: scripts, MemoryLimit: int64(cfg.Lua.MemoryLimit), Sandbox: cfg.Lua.Sandbox, UnsafeFFI: cfg.Lua.UnsafeFFI, NoCompat53: !cfg.Lua.Compat53On(), DeclaredVars: cfg.Lua.DeclaredVars, Path: cfg.Lua.Path, CPath: cfg.Lua.CPath, Shared: lj.NewShared(cfg.Dir, 1), Host: host, Watchdog: wd, Hooks: hooks})
	if err != nil {
		return errors.Join(append(errs, err)...)
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
		id, err := st.Program(f.Mode, req, res, f.ServiceName(), f.Forwards(), lj.StickNames{Own: own, Track: track}, f.OnError == "fail")
		if err == nil {
			err = st.SetHooks(id, cfg.FrontendHooks(&cfg.Frontends[i]))
		}
		if err == nil && f.Mode == "http" {
			err = st.SetFilters(id, f.Filters)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("frontends[%d].%v", i, err))
		}
		if names := f.WSFilterNames(); len(names) > 0 {
			if _, err := st.WSFilterChain(id, names); err != nil {
				errs = append(errs, fmt.Errorf("frontends[%d].%v", i, err))
			}
		}
	}
	if srv != nil {
		if err := srv.CheckInits(st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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

func serve(src source, cfg *config.Config, scripts []lj.Script, log *slog.Logger, stderr io.Writer) int {
	srv, err := edge.New(cfg, scripts, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	p := &process{src: src, stderr: stderr, log: log, notify: newNotifier(), reloads: make(chan chan<- reloadResult), done: make(chan struct{}), retiring: map[*generation]bool{}, started: time.Now()}
	// The runtime commands' and the stats page's rates come from a
	// sample of the counters each second.
	if cfg.RuntimeSocket != "" || cfg.Admin != nil {
		p.hist = metrics.NewHistory()
	}
	rt := admin.NewRuntime(p.commands, log)
	if cfg.RuntimeSocket != "" {
		sock, err := admin.Listen(cfg.RuntimeSocket, rt)
		if err != nil {
			log.Error("cannot start", "err", fmt.Errorf("runtime_socket: %w", err))
			return 1
		}
		defer sock.Close()
	}
	if a := cfg.Admin; a != nil {
		routes := map[string]http.Handler{a.Metrics: metrics.Handler(p.snapshot)}
		if a.Stats != "" {
			// HAProxy's page gives its CSV at its path followed by ;csv.
			stats := metrics.StatsHandler(p.snapshot, p.hist, a.StatsRefresh.D())
			routes[a.Stats] = stats
			routes[a.Stats+";csv"] = stats
		}
		if a.Runtime != "" {
			routes[a.Runtime] = rt
		}
		h, err := admin.ListenHTTP(a.Bind, routes, log)
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
	p.serving.Store(p.cur)
	select {
	case err := <-p.cur.served:
		log.Error("cannot start", "err", err)
		return 1
	case <-srv.Booted():
	}
	p.cur.listening()
	p.notified(p.notify.ready(p.cur.n))
	if p.hist != nil {
		go p.sample() // until run returns
	}
	return p.run(sigs)
}
