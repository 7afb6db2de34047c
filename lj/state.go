// Package lj is the LuaJIT side of luaedge: one state per event loop, the
// embedded Lua half of the APIs (lua/*.lua), the operator's scripts, and the
// pool of coroutines that run requests.
//
// Lua globals are per state, so per core. What must be shared across cores
// (proc.* variables, maps, ACLs) goes through Go, in the Shared object of
// the states' generation; stick tables and proxies belong to the host (the
// edge), which its gate functions reach through Host.
package lj

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/luaedge/luaedge/cgo"
)

//go:embed lua/*.lua
var luaFS embed.FS

// The API files, run in this order after bridge.lua in every state;
// compat53.lua first, whose tostring the others take; sandbox.lua last,
// whose seal runs before the first script.
var apiFiles = []string{"compat53.lua", "core.lua", "accounting.lua", "vars.lua", "applet_http.lua", "fetches.lua", "http.lua", "txn.lua", "channel.lua", "actions.lua", "filter.lua", "tasks.lua", "socket.lua", "applet_tcp.lua", "proxy.lua", "converters.lua", "map.lua", "regex.lua", "core_util.lua", "websocket.lua", "websocket_client.lua", "cjson.lua", "http_headers.lua", "http_util.lua", "http_cookie.lua", "http_zlib.lua", "http_stream.lua", "http_request.lua", "dovecot_http.lua", "haproxy_httpclient.lua", "kv.lua", "hooks.lua", "sandbox.lua"}

// Entry functions a coroutine can run; keep in step with lj/lua/bridge.lua.
const (
	EntryHTTP       = 1 // a frontend program: http-request rules, service, http-response rules
	EntryEndSession = 2 // drop a closed connection's sess.* variables
	EntryTask       = 3 // a core.register_task function
	EntryTCP        = 4 // a TCP frontend program: tcp-request rules, service or forwarding, tcp-response rules
	EntryWSFilter   = 5 // a frontend's ws_filters on one message of a forwarded WebSocket (a service's WebSocket runs them in its own coroutine)
	EntryCLI        = 6 // a core.register_cli function, for a runtime-socket command
	EntryConnect    = 7 // a frontend's connect hooks, for a client connection
	EntryClose      = 8 // a frontend's close hooks, for a client connection
	EntryFlush      = 9 // every hook script's flush.lua
)

// Script is one operator script: its path as configured (used in error
// messages) and its code.
type Script struct {
	Path string
	Code []byte
}

// ReadScripts reads the files of lua.load; relative paths are taken from dir.
func ReadScripts(dir string, paths []string) ([]Script, error) {
	scripts := make([]Script, 0, len(paths))
	for _, p := range paths {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		code, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		scripts = append(scripts, Script{Path: p, Code: code})
	}
	return scripts, nil
}

// Sandbox modes: what the scripts reach of the Lua library (lua.sandbox,
// docs/config.md; lj/lua/sandbox.lua).
const (
	SandboxDefault = "default" // HAProxy's library without what reaches into the process
	SandboxStrict  = "strict"  // without io, os commands, debug and files either
)

// Options configure a state.
type Options struct {
	Scripts     []Script
	MemoryLimit int64 // bytes; 0: none
	// Sandbox is SandboxDefault ("" too) or SandboxStrict. UnsafeFFI gives
	// the scripts LuaJIT's ffi and package.loadlib (lua.unsafe_ffi).
	Sandbox   string
	UnsafeFFI bool
	// NoCompat53 leaves out the Lua 5.3 library (lua.compat53: false),
	// for scripts written for LuaJIT.
	NoCompat53 bool
	// DeclaredVars are proc.* variables that set_var(..., ifexist) sets
	// although unset (config.Lua.DeclaredVars).
	DeclaredVars []string
	// Path and CPath are package.path and package.cpath (lua.path and
	// lua.cpath; ";;" stands for LuaJIT's defaults); "" keeps LuaJIT's.
	Path, CPath string
	// Shared is the data the states of one generation share (proc.*
	// variables, maps, the fast paths' change counters). nil gives the
	// state a Shared of its own, as for a state that stands alone
	// (`luaedge check`, tests).
	Shared *Shared
	// Host is the caller's own per-loop value, which gate functions
	// registered outside lj get back with Host(c) (nil: none).
	Host any
	// Watchdog holds the state's scripts to its CPU limits, from loading
	// the scripts on (nil: no limits).
	Watchdog *cgo.Watchdog
	// Hooks are the hook scripts loaded after Scripts, and the data
	// store they read (nil: none).
	Hooks *Hooks
	// Thread is the state's core, from 1 (core.thread); 0 for a state
	// that stands alone.
	Thread int
}

// maxPooled bounds the idle coroutines a state keeps for reuse.
const maxPooled = 4096

// State is one LuaJIT state with the APIs and scripts loaded. It belongs to
// one event loop and is used from that loop's thread only.
type State struct {
	L    *cgo.State
	pool []*cgo.Thread
	bind *binding // what L is bound to; its gate calls reach it too
	// loaded is set once the scripts' script_init returned: Close runs
	// script_deinit only then, and only once.
	loaded bool
}

// NewState creates a state, loads the APIs, seals the library (Options.
// Sandbox), then runs the scripts' body context (their core.register_*
// calls) and the global script_init() if they define one. A script error
// names file:line.
func NewState(opts Options) (*State, error) {
	mode := opts.Sandbox
	switch mode {
	case "":
		mode = SandboxDefault
	case SandboxDefault, SandboxStrict:
	default:
		return nil, fmt.Errorf("lua.sandbox: want %s or %s, got %q", SandboxDefault, SandboxStrict, mode)
	}
	sh := opts.Shared
	if sh == nil {
		sh = NewShared("", 1)
	}
	b := &binding{shared: sh, host: opts.Host, hooks: opts.Hooks}
	L, err := cgo.NewState(opts.MemoryLimit, b, opts.Watchdog)
	if err != nil {
		return nil, fmt.Errorf("lua.memory_limit: %w", err)
	}
	s := &State{L: L, bind: b}
	if err := s.loadAPIs(); err != nil {
		L.Close()
		return nil, err
	}
	if err := L.LoadInternal([]byte(pathChunk(opts.Path, opts.CPath)), "=luaedge/path"); err != nil {
		L.Close()
		return nil, fmt.Errorf("lua.path: %w", err)
	}
	if opts.Thread > 0 {
		if err := L.LoadInternal([]byte("(...).set_thread("+strconv.Itoa(opts.Thread)+")"), "=luaedge/thread"); err != nil {
			L.Close()
			return nil, fmt.Errorf("core.thread: %w", err)
		}
	}
	if len(opts.DeclaredVars) > 0 {
		var b strings.Builder
		b.WriteString("(...).declare_vars({")
		for _, n := range opts.DeclaredVars {
			b.WriteString(luaString(n) + ",")
		}
		b.WriteString("})")
		if err := L.LoadInternal([]byte(b.String()), "=luaedge/vars"); err != nil {
			L.Close()
			return nil, fmt.Errorf("declared variables: %w", err)
		}
	}
	seal := "(...).seal(" + luaString(mode) + ", " + strconv.FormatBool(opts.UnsafeFFI) + ", " + strconv.FormatBool(!opts.NoCompat53) + ")"
	if err := L.LoadInternal([]byte(seal), "=luaedge/seal"); err != nil {
		L.Close()
		return nil, fmt.Errorf("luaedge sandbox: %w", err)
	}
	for _, sc := range opts.Scripts {
		// LuaJIT does not verify bytecode: a crafted chunk reads and
		// writes memory anywhere. Scripts are loaded as text.
		if len(sc.Code) > 0 && sc.Code[0] == luaBytecodeMark {
			L.Close()
			return nil, fmt.Errorf("lua.load %s: a bytecode chunk; luaedge loads scripts as text only", sc.Path)
		}
		if err := L.Load(sc.Code, "@"+sc.Path); err != nil {
			L.Close()
			return nil, fmt.Errorf("lua.load %s: %w", sc.Path, explainSyntax(err, sc.Code))
		}
	}
	if opts.Hooks != nil {
		if err := s.loadHooks(opts.Hooks); err != nil {
			L.Close()
			return nil, err
		}
	}
	// script_init runs after every file's body, before the frontends'
	// programs are compiled and before core.register_init functions (as
	// Dovecot runs it when it loads a script).
	if err := L.LoadInternal([]byte("(...).call_global('script_init')"), "=luaedge/script_init"); err != nil {
		L.Close()
		return nil, fmt.Errorf("script_init: %w", err)
	}
	s.loaded = true
	return s, nil
}

// luaBytecodeMark is the first byte of a LuaJIT bytecode dump.
const luaBytecodeMark = 0x1b

func (s *State) loadAPIs() error {
	code, err := luaFS.ReadFile("lua/bridge.lua")
	if err != nil {
		return err
	}
	if err := s.L.LoadBridge(code, "@luaedge/bridge.lua"); err != nil {
		return fmt.Errorf("luaedge bridge: %w", err)
	}
	if err := s.L.LoadInternal([]byte(goFuncTable()), "=luaedge/gofuncs"); err != nil {
		return err
	}
	s.L.SetVersions(s.bind.shared.versions)
	if err := s.L.LoadInternal([]byte(fastPathChunk()), "=luaedge/fastpath"); err != nil {
		return err
	}
	if err := s.L.LoadInternal([]byte(s.bind.shared.storesChunk()), "=luaedge/stores"); err != nil {
		return err
	}
	for _, f := range apiFiles {
		code, err := luaFS.ReadFile("lua/" + f)
		if err != nil {
			return err
		}
		if err := s.L.LoadInternal(code, "@luaedge/"+f); err != nil {
			return fmt.Errorf("luaedge %s: %w", f, err)
		}
	}
	return nil
}

// Shared returns the shared data of the state's generation.
func (s *State) Shared() *Shared { return s.bind.shared }

// StickNames names the stick tables of a frontend's src_* and sc_* fetches:
// Own, its own table (the default of src_*), and Track, the table its
// clients are tracked in (sc0); "" for none.
type StickNames struct{ Own, Track string }

// Program compiles a frontend's http_request and http_response rules and
// its service (service "" for none) and returns the id EntryHTTP runs.
// forward says the frontend forwards to backends when no service is set;
// mode is "http" or "tcp". failOnError makes an error in an HTTP action
// end the request with a 500; without it the error is logged and the
// request goes on with the next rule, as in HAProxy.
func (s *State) Program(mode string, req, res []string, service string, forward bool, stick StickNames, failOnError bool) (int, error) {
	svc := "nil"
	if service != "" {
		svc = luaString(service)
	}
	out, err := s.L.EvalInternal("return (...).program("+luaList(req)+", "+luaList(res)+", "+svc+", "+strconv.FormatBool(forward)+", "+luaString(mode)+", "+luaString(stick.Own)+", "+luaString(stick.Track)+", "+strconv.FormatBool(failOnError)+")", "=luaedge/program")
	if err != nil {
		// The message names the key; a traceback through luaedge's own
		// code would only hide it.
		msg, _, _ := strings.Cut(err.Error(), "\nstack traceback:")
		return 0, errors.New(msg)
	}
	return strconv.Atoi(out)
}

// ServiceNames returns the names of the services the scripts registered,
// by id (cgo.Stream.Service) less one.
func (s *State) ServiceNames() ([]string, error) {
	out, err := s.L.EvalInternal("return (...).service_names()", "=luaedge/service_names")
	if err != nil {
		return nil, err
	}
	names := strings.Split(out, "\x00")
	return names[:len(names)-1], nil
}

// NameProgram tells program id the name of its frontend (the fe_name
// fetch).
func (s *State) NameProgram(id int, frontend string) error {
	return s.L.LoadInternal([]byte("(...).programs["+strconv.Itoa(id)+"].frontend = "+luaString(frontend)), "=luaedge/program_name")
}

// WSFilterChain resolves the ws_filters (the names after "lua.") of
// program prog's frontend into the chain EntryWSFilter runs on its
// forwarded WebSockets, and returns its id; the WebSockets its services
// accept run the same chain in their own coroutines. prog 0 only checks
// the names.
func (s *State) WSFilterChain(prog int, names []string) (int, error) {
	out, err := s.L.EvalInternal("return (...).ws_chain("+strconv.Itoa(prog)+", "+luaList(names)+")", "=luaedge/ws_filters")
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\nstack traceback:")
		return 0, errors.New(msg)
	}
	return strconv.Atoi(out)
}

// SetBackends tells the scripts the backends' names, in config order, for
// txn:set_var("txn.backend", NAME).
func (s *State) SetBackends(names []string) error {
	var b strings.Builder
	b.WriteString("local ids = (...).backend_ids\n")
	for i, n := range names {
		b.WriteString("ids[" + luaString(n) + "] = " + strconv.Itoa(i) + "\n")
	}
	return s.L.LoadInternal([]byte(b.String()), "=luaedge/backends")
}

// SetCaches tells the scripts the caches' names, in config order, for
// txn:cache_use and txn:cache_store.
func (s *State) SetCaches(names []string) error {
	var b strings.Builder
	b.WriteString("local I = ...\n")
	for i, n := range names {
		b.WriteString("I.cache_ids[" + luaString(n) + "] = " + strconv.Itoa(i) + "\n")
		b.WriteString("I.cache_names[" + strconv.Itoa(i) + "] = " + luaString(n) + "\n")
	}
	return s.L.LoadInternal([]byte(b.String()), "=luaedge/caches")
}

// LoadInternal runs a chunk of luaedge's own (the host's, like the
// proxies' description edge gives its states): it gets the internal table
// as its argument (local I = ...), which the scripts never see.
func (s *State) LoadInternal(code []byte, name string) error {
	return s.L.LoadInternal(code, name)
}

// SetLogVars has the requests of program prog leave the values the
// access log names, as they end (cgo.Stream.LogVars): variables (txn.x),
// captures (capture.req.N, capture.res.N) and Lua fetches (lua.NAME),
// which the request waits for its response head to read.
func (s *State) SetLogVars(prog int, names []string) error {
	if len(names) == 0 {
		return nil
	}
	code := fmt.Sprintf("(...).set_log_vars(%d, %s)", prog, luaList(names))
	return s.L.LoadInternal([]byte(code), "=luaedge/log_vars")
}

// SetAfterResponse gives HTTP program prog its http_after_response rules:
// Lua actions registered for http-res that run once on every response,
// after the http-response rules.
func (s *State) SetAfterResponse(prog int, rules []string) error {
	if len(rules) == 0 {
		return nil
	}
	code := fmt.Sprintf("(...).set_after(%d, %s)", prog, luaList(rules))
	return s.L.LoadInternal([]byte(code), "=luaedge/http_after_response")
}

// SetFilters gives HTTP program prog its Lua filters, "lua.NAME args..."
// each, in declaration order: each declaration's class is set up here,
// by the function core.register_filter registered with it.
func (s *State) SetFilters(prog int, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	code := fmt.Sprintf("(...).set_filters(%d, %s)", prog, luaList(lines))
	if err := s.L.LoadInternal([]byte(code), "=luaedge/filters"); err != nil {
		// The message names the declaration; a traceback through
		// luaedge's own code would not help.
		msg, _, _ := strings.Cut(err.Error(), "\nstack traceback:")
		return errors.New(msg)
	}
	return nil
}

// Capture is a capture slot of a frontend: Header, when not "", is
// captured from each request (or response) head, its last value whole;
// a slot without one is filled by rules (TXN:capture_req, capture_res).
// Len is the most bytes kept.
type Capture struct {
	Header string
	Len    int
}

// SetCaptures gives program prog the capture slots of its requests and
// responses.
func (s *State) SetCaptures(prog int, req, res []Capture) error {
	if len(req)+len(res) == 0 {
		return nil
	}
	list := func(cs []Capture) string {
		if len(cs) == 0 {
			return "nil"
		}
		var b strings.Builder
		b.WriteString("{")
		for _, c := range cs {
			h := "false"
			if c.Header != "" {
				h = luaString(strings.ToLower(c.Header))
			}
			fmt.Fprintf(&b, "{header = %s, len = %d}, ", h, c.Len)
		}
		b.WriteString("}")
		return b.String()
	}
	code := fmt.Sprintf("(...).set_captures(%d, %s, %s)", prog, list(req), list(res))
	return s.L.LoadInternal([]byte(code), "=luaedge/captures")
}

// SetCookieCapture has program prog capture the first cookie whose name
// starts with name, from each request's Cookie fields and each response's
// Set-Cookie fields, as "name=value" cut to n bytes (HAProxy's capture
// cookie): the access log's %CC and %CS.
func (s *State) SetCookieCapture(prog int, name string, n int) error {
	code := fmt.Sprintf("(...).set_cookie_capture(%d, %s, %d)", prog, luaString(name), n)
	return s.L.LoadInternal([]byte(code), "=luaedge/cookie_capture")
}

// RunInits runs the core.register_init functions, in registration order.
func (s *State) RunInits() error {
	return s.L.LoadInternal([]byte("(...).run_inits()"), "=luaedge/register_init")
}

// Tasks returns how many core.register_task functions the scripts registered.
func (s *State) Tasks() (int, error) {
	out, err := s.L.EvalInternal("return #(...).tasks", "=luaedge/tasks")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// Thread returns an idle coroutine from the pool, or a new one.
func (s *State) Thread() (*cgo.Thread, error) {
	if n := len(s.pool); n > 0 {
		t := s.pool[n-1]
		s.pool = s.pool[:n-1]
		return t, nil
	}
	return s.L.NewThread()
}

// maxIdleBuffer bounds each C buffer a pooled coroutine's stream keeps
// (and the state's converter scratch): a request that grew one past it
// (a 1 MiB body, a large response) gives the memory back when it ends,
// so up to maxPooled idle coroutines hold little. Most requests fit in
// it and reuse their buffers without a malloc.
const maxIdleBuffer = 64 << 10

// Release returns a coroutine whose entry function finished to the pool,
// freeing its stream's buffers past maxIdleBuffer. Slices read from the
// stream are invalid after it.
func (s *State) Release(t *cgo.Thread) {
	s.L.TrimScratch(maxIdleBuffer)
	if len(s.pool) >= maxPooled {
		t.Free()
		return
	}
	t.S.Trim(maxIdleBuffer)
	s.pool = append(s.pool, t)
}

// Close unloads the state: it runs the scripts' global script_deinit(),
// if they define one, then frees the pooled coroutines and the state. An
// error in script_deinit (file:line) is returned after the state is freed:
// the unload goes on. Call it on the state's loop, or once the loop has
// returned, never while a script runs in the state; a second call does
// nothing.
func (s *State) Close() error {
	var err error
	if s.loaded {
		s.loaded = false
		if e := s.L.LoadInternal([]byte("(...).call_global('script_deinit')"), "=luaedge/script_deinit"); e != nil {
			err = fmt.Errorf("script_deinit: %w", e)
		}
	}
	for _, t := range s.pool {
		t.Free()
	}
	s.pool = nil
	s.L.Close()
	s.bind.zlib.closeAll() // their goroutines
	return err
}

func luaList(items []string) string {
	var b strings.Builder
	b.WriteString("{")
	for _, it := range items {
		b.WriteString(luaString(it))
		b.WriteString(",")
	}
	b.WriteString("}")
	return b.String()
}

// luaString quotes s as a Lua string literal.
func luaString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\x00", `\0`).Replace(s) + "'"
}
