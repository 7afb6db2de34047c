// Package config reads luaedge's YAML configuration. The key names are a
// contract with users' files and tooling: extend them, never rename them.
// Every error names the key it is about ("frontends[1].bind[0]: ...").
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a whole configuration file.
type Config struct {
	// Workers is the number of event loops, each with its own LuaJIT state;
	// 0 means one per core.
	Workers         int        `yaml:"workers"`
	ShutdownTimeout Duration   `yaml:"shutdown_timeout"`
	Log             Log        `yaml:"log"`
	Lua             Lua        `yaml:"lua"`
	Frontends       []Frontend `yaml:"frontends"`
	Backends        []Backend  `yaml:"backends"`
	// RuntimeSocket is the path of the Unix socket that takes runtime
	// commands (reload, help); "" for none. A relative path is taken from
	// Dir.
	RuntimeSocket string `yaml:"runtime_socket"`
	// AccessLog is every frontend's access log, unless it has its own.
	AccessLog *AccessLog `yaml:"access_log"`
	// Admin is the admin listener (Prometheus metrics); nil: none.
	Admin *Admin `yaml:"admin"`

	// Dir is the folder relative paths are taken from (the file's folder).
	Dir string `yaml:"-"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Lua configures the scripts every state loads.
type Lua struct {
	Load        []string `yaml:"load"`
	Hooks       string   `yaml:"hooks"`
	MemoryLimit Size     `yaml:"memory_limit"`
	// Sandbox is what scripts reach of the Lua library: "default"
	// (HAProxy's library without what reaches into the process) or
	// "strict" (without io, os commands, debug and files either).
	Sandbox string `yaml:"sandbox"`
	// UnsafeFFI gives scripts LuaJIT's ffi and package.loadlib, with which
	// a script can crash the server.
	UnsafeFFI bool `yaml:"unsafe_ffi"`
	// The CPU limits (cgo.Limits); nil (left out): the default, read
	// through the methods below; 0 turns one off.
	ForcedYield    *Duration `yaml:"forced_yield"`
	BurstTimeout   *Duration `yaml:"burst_timeout"`
	SessionTimeout *Duration `yaml:"session_timeout"`
}

// ForcedYieldOr, BurstTimeoutOr and SessionTimeoutOr return the CPU limits,
// with the defaults for keys left out.
func (l *Lua) ForcedYieldOr() time.Duration { return orDefault(l.ForcedYield, DefaultForcedYield) }

func (l *Lua) BurstTimeoutOr() time.Duration { return orDefault(l.BurstTimeout, DefaultBurstTimeout) }

func (l *Lua) SessionTimeoutOr() time.Duration {
	return orDefault(l.SessionTimeout, DefaultSessionTimeout)
}

func orDefault(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.D()
}

// Frontend is a set of listeners and what answers their requests.
type Frontend struct {
	Name           string   `yaml:"name"`
	Bind           []string `yaml:"bind"`
	Mode           string   `yaml:"mode"`
	HTTPRequest    []string `yaml:"http_request"`
	HTTPResponse   []string `yaml:"http_response"`
	TCPRequest     []string `yaml:"tcp_request"`
	TCPResponse    []string `yaml:"tcp_response"`
	UseService     string   `yaml:"use_service"`
	DefaultBackend string   `yaml:"default_backend"`
	// OnError is what a runtime error in an HTTP action does: "continue"
	// (the default, as HAProxy: logged, the next rule runs) or "fail" (the
	// request gets a 500).
	OnError string `yaml:"on_error"`
	// StickTable is this frontend's stick table, if it has one.
	StickTable *StickTable `yaml:"stick_table"`
	// Track counts each client address in a stick table (HAProxy's
	// track-sc0 src): connections, requests, errors.
	Track *Track `yaml:"track"`
	// Routes pick a backend by host and path prefix, first match wins;
	// default_backend takes the rest. A Lua action may override both with
	// txn:set_var("txn.backend", NAME).
	Routes []Route `yaml:"routes"`
	// HTTPBufferRequest waits for the whole request body (up to
	// limits.max_body) before running the http_request actions, so that
	// they can read it (HAProxy's option http-buffer-request).
	HTTPBufferRequest bool     `yaml:"http_buffer_request"`
	Limits            Limits   `yaml:"limits"`
	Timeouts          Timeouts `yaml:"timeouts"`
	HTTP2             HTTP2    `yaml:"http2"`
	// AccessLog overrides the top-level access_log (see FrontendAccessLog).
	AccessLog *AccessLog `yaml:"access_log"`
}

// HTTP2 is how an HTTP frontend serves HTTP/2, and the limits of its
// HTTP/2 connections; a limit left at 0 takes its default (see
// docs/config.md).
type HTTP2 struct {
	// Cleartext is what a connection without TLS may speak: "auto" (the
	// default: HTTP/2 when its first bytes are the client preface, or
	// after an Upgrade: h2c; HTTP/1 otherwise), "prior_knowledge" (HTTP/2
	// only, as nginx's `listen ... http2` without ssl) or "off" (HTTP/1
	// only).
	Cleartext            string `yaml:"cleartext"`
	MaxConcurrentStreams int    `yaml:"max_concurrent_streams"`
	StreamWindow         Size   `yaml:"stream_window"`
	ConnectionWindow     Size   `yaml:"connection_window"`
	MaxFrameSize         Size   `yaml:"max_frame_size"`
	MaxHeaderList        Size   `yaml:"max_header_list"`
	MaxHeaderFields      int    `yaml:"max_header_fields"`
	MaxFieldSize         Size   `yaml:"max_field_size"`
	MaxHeaderBlock       Size   `yaml:"max_header_block"`
	MaxHeaderFrames      int    `yaml:"max_header_frames"`
	ResetBudget          int    `yaml:"reset_budget"`
	MaxQueuedControl     int    `yaml:"max_queued_control"`
	FloodAllowance       Size   `yaml:"flood_allowance"`
}

// HTTP/2's bounds (RFC 9113 §6.5.2) on what the settings may say.
const (
	minHTTP2Window = 65535
	maxHTTP2Window = 1<<31 - 1
	minHTTP2Frame  = 16384
	maxHTTP2Frame  = 1<<24 - 1
)

func (h *HTTP2) validate(at string) error {
	switch h.Cleartext {
	case "auto", "prior_knowledge", "off":
	default:
		return fmt.Errorf("%s.cleartext: want auto, prior_knowledge or off, got %q", at, h.Cleartext)
	}
	inRange := func(key string, v, lo, hi int64) error {
		if v != 0 && (v < lo || v > hi) {
			return fmt.Errorf("%s.%s: must be between %d and %d, got %d", at, key, lo, hi, v)
		}
		return nil
	}
	const most = 1 << 30 // bounds the counts and sizes that have no protocol limit
	for _, c := range []struct {
		key       string
		v, lo, hi int64
	}{
		{"max_concurrent_streams", int64(h.MaxConcurrentStreams), 1, most},
		{"stream_window", int64(h.StreamWindow), minHTTP2Window, maxHTTP2Window},
		{"connection_window", int64(h.ConnectionWindow), minHTTP2Window, maxHTTP2Window},
		{"max_frame_size", int64(h.MaxFrameSize), minHTTP2Frame, maxHTTP2Frame},
		{"max_header_list", int64(h.MaxHeaderList), 1, most},
		{"max_header_fields", int64(h.MaxHeaderFields), 1, most},
		{"max_field_size", int64(h.MaxFieldSize), 1, most},
		{"max_header_block", int64(h.MaxHeaderBlock), 1, most},
		{"max_header_frames", int64(h.MaxHeaderFrames), 1, most},
		{"reset_budget", int64(h.ResetBudget), 1, most},
		{"max_queued_control", int64(h.MaxQueuedControl), 1, most},
		{"flood_allowance", int64(h.FloodAllowance), 1, most},
	} {
		if err := inRange(c.key, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	return nil
}

// Limits bound what a client may send; over them it gets 414, 431 or 413.
type Limits struct {
	MaxRequestLine Size `yaml:"max_request_line"`
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	MaxHeaders     int  `yaml:"max_headers"`
	MaxBody        Size `yaml:"max_body"`
}

// Timeouts of a frontend's client connections.
type Timeouts struct {
	// HTTPRequest bounds the wait for a complete request head (then 408).
	HTTPRequest Duration `yaml:"http_request"`
	// KeepAlive bounds the wait for the next request on an idle connection.
	KeepAlive Duration `yaml:"keep_alive"`
	// Body bounds the wait for more of a request body (then 408).
	Body Duration `yaml:"body"`
}

// Route sends matching requests to a backend.
type Route struct {
	Host       string `yaml:"host"`        // exact Host (port ignored); "" matches any
	PathPrefix string `yaml:"path_prefix"` // "" matches any
	Backend    string `yaml:"backend"`
}

// Backend is a group of servers requests can be forwarded to.
type Backend struct {
	Name     string          `yaml:"name"`
	Balance  string          `yaml:"balance"` // roundrobin (default), leastconn, source
	Servers  []Server        `yaml:"servers"`
	Check    Check           `yaml:"check"`
	Timeouts BackendTimeouts `yaml:"timeouts"`
	// StickTable is this backend's stick table, if it has one.
	StickTable *StickTable `yaml:"stick_table"`
}

// StickTable configures a stick table (HAProxy's stick-table line).
type StickTable struct {
	Type   string   `yaml:"type"` // ip, ipv6, integer, string
	Size   Size     `yaml:"size"`
	Expire Duration `yaml:"expire"`
	Store  []string `yaml:"store"` // e.g. conn_cur, http_req_rate(10s), gpc0
}

// Track names what a frontend counts, and where.
type Track struct {
	Key   string `yaml:"key"`   // src (the client address)
	Table string `yaml:"table"` // a frontend or backend with a stick_table; default: this frontend
}

// Server is one backend server.
type Server struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	Weight  int    `yaml:"weight"`
	MaxConn int    `yaml:"maxconn"`
	Backup  bool   `yaml:"backup"`
}

// Check is a backend's health check.
type Check struct {
	Type         string   `yaml:"type"` // tcp, http; empty: none
	Path         string   `yaml:"path"`
	Host         string   `yaml:"host"`
	ExpectStatus int      `yaml:"expect_status"`
	Interval     Duration `yaml:"interval"`
	Timeout      Duration `yaml:"timeout"`
	Rise         int      `yaml:"rise"`
	Fall         int      `yaml:"fall"`
}

// BackendTimeouts bound the exchanges with a backend's servers.
type BackendTimeouts struct {
	// Connect bounds connecting to a server (then 504).
	Connect Duration `yaml:"connect"`
	// Server bounds the wait for the response head, and for each read of
	// its body after (then 504, or a cut connection once the head is sent).
	Server Duration `yaml:"server"`
	// Tunnel bounds the silence of a forwarded TCP connection once it is
	// piped, both ways together (0: the frontend's keep_alive).
	Tunnel Duration `yaml:"tunnel"`
}

// Defaults applied to keys left out.
const (
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxRequestLine  = 8 << 10
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultMaxHeaders      = 100
	DefaultMaxBody         = 16 << 20
	DefaultHTTPRequest     = 10 * time.Second
	DefaultKeepAlive       = 60 * time.Second
	DefaultBody            = 30 * time.Second
	DefaultConnect         = 5 * time.Second
	DefaultServer          = 30 * time.Second
	DefaultForcedYield     = 10 * time.Millisecond
	DefaultBurstTimeout    = time.Second
	DefaultSessionTimeout  = 4 * time.Second
	// DefaultLuaMemoryLimit caps each LuaJIT state (one per worker): a
	// script that keeps growing a table fails with "not enough memory"
	// instead of the process running the machine out of memory.
	DefaultLuaMemoryLimit = 256 << 20
	DefaultLuaSandbox     = "default"
)

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads and validates a configuration; dir is where relative paths start.
func Parse(data []byte, dir string) (*Config, error) {
	c := &Config{Dir: dir}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err != io.EOF { // an empty file means the defaults
		return nil, nameKeys(data, err)
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	setDefault(&c.Lua.MemoryLimit, DefaultLuaMemoryLimit)
	setDefault(&c.Lua.Sandbox, DefaultLuaSandbox)
	if c.RuntimeSocket != "" && !filepath.IsAbs(c.RuntimeSocket) && c.Dir != "" {
		c.RuntimeSocket = filepath.Join(c.Dir, c.RuntimeSocket)
	}
	for i := range c.Frontends {
		f := &c.Frontends[i]
		if f.Mode == "" {
			f.Mode = "http"
		}
		if f.OnError == "" {
			f.OnError = "continue"
		}
		setDefault(&f.HTTP2.Cleartext, "auto")
		setDefault(&f.Limits.MaxRequestLine, DefaultMaxRequestLine)
		setDefault(&f.Limits.MaxHeaderBytes, DefaultMaxHeaderBytes)
		setDefault(&f.Limits.MaxBody, DefaultMaxBody)
		if f.Limits.MaxHeaders == 0 {
			f.Limits.MaxHeaders = DefaultMaxHeaders
		}
		setDefault(&f.Timeouts.HTTPRequest, Duration(DefaultHTTPRequest))
		setDefault(&f.Timeouts.KeepAlive, Duration(DefaultKeepAlive))
		setDefault(&f.Timeouts.Body, Duration(DefaultBody))
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		setDefault(&b.Timeouts.Connect, Duration(DefaultConnect))
		setDefault(&b.Timeouts.Server, Duration(DefaultServer))
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func (c *Config) validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("workers: must be 0 (one per core) or more, got %d", c.Workers)
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("log.format: want text or json, got %q", c.Log.Format)
	}
	// sun_path holds 108 bytes, the terminating NUL included.
	if len(c.RuntimeSocket) > 107 {
		return fmt.Errorf("runtime_socket: %s: a Unix socket path is at most 107 bytes, this one is %d", c.RuntimeSocket, len(c.RuntimeSocket))
	}
	if c.Lua.Hooks != "" {
		return errors.New("lua.hooks: hook scripts are not supported yet")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"forced_yield", c.Lua.ForcedYieldOr()}, {"burst_timeout", c.Lua.BurstTimeoutOr()}, {"session_timeout", c.Lua.SessionTimeoutOr()}} {
		if d.v < 0 {
			return fmt.Errorf("lua.%s: must be 0 (off) or more, got %v", d.key, d.v)
		}
	}
	switch c.Lua.Sandbox {
	case "default", "strict":
	default:
		return fmt.Errorf("lua.sandbox: want default or strict, got %q", c.Lua.Sandbox)
	}
	if c.Lua.UnsafeFFI && c.Lua.Sandbox == "strict" {
		return errors.New("lua.unsafe_ffi: cannot be used with lua.sandbox: strict (ffi reaches everything strict takes away)")
	}
	if len(c.Frontends) == 0 {
		return errors.New("frontends: at least one frontend is needed")
	}
	if err := c.validateObserve(); err != nil {
		return err
	}
	backends := map[string]bool{}
	for i, b := range c.Backends {
		if b.Name == "" {
			return fmt.Errorf("backends[%d].name: missing", i)
		}
		if backends[b.Name] {
			return fmt.Errorf("backends[%d].name: %q is used by another backend", i, b.Name)
		}
		backends[b.Name] = true
	}
	names := map[string]bool{}
	binds := map[string]string{}
	for i, f := range c.Frontends {
		at := fmt.Sprintf("frontends[%d]", i)
		if f.Name == "" {
			return fmt.Errorf("%s.name: missing", at)
		}
		if names[f.Name] {
			return fmt.Errorf("%s.name: %q is used by another frontend", at, f.Name)
		}
		names[f.Name] = true
		if len(f.Bind) == 0 {
			return fmt.Errorf("%s.bind: at least one address is needed", at)
		}
		for j, b := range f.Bind {
			if _, _, err := net.SplitHostPort(b); err != nil {
				return fmt.Errorf("%s.bind[%d]: %v", at, j, err)
			}
			if other, dup := binds[b]; dup {
				return fmt.Errorf("%s.bind[%d]: %s is already bound by frontend %q", at, j, b, other)
			}
			binds[b] = f.Name
		}
		switch f.Mode {
		case "http":
			if len(f.TCPRequest)+len(f.TCPResponse) > 0 {
				return fmt.Errorf("%s.tcp_request: tcp rules need mode: tcp (use http_request / http_response)", at)
			}
		case "tcp":
			if len(f.HTTPRequest)+len(f.HTTPResponse) > 0 {
				return fmt.Errorf("%s.http_request: http rules need mode: http (use tcp_request / tcp_response)", at)
			}
			if len(f.Routes) > 0 {
				return fmt.Errorf("%s.routes: routes need mode: http (use default_backend)", at)
			}
		default:
			return fmt.Errorf("%s.mode: want http or tcp, got %q", at, f.Mode)
		}
		if f.OnError != "continue" && f.OnError != "fail" {
			return fmt.Errorf("%s.on_error: want continue or fail, got %q", at, f.OnError)
		}
		if f.DefaultBackend != "" && !backends[f.DefaultBackend] {
			return fmt.Errorf("%s.default_backend: no backend named %q", at, f.DefaultBackend)
		}
		for j, r := range f.Routes {
			if !backends[r.Backend] {
				return fmt.Errorf("%s.routes[%d].backend: no backend named %q", at, j, r.Backend)
			}
			if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
				return fmt.Errorf("%s.routes[%d].path_prefix: must start with /", at, j)
			}
		}
		if f.UseService != "" && (f.DefaultBackend != "" || len(f.Routes) > 0) {
			return fmt.Errorf("%s.use_service: a frontend answers with a service or forwards to backends, not both", at)
		}
		if f.UseService == "" && f.DefaultBackend == "" && len(f.Routes) == 0 && len(f.HTTPRequest) == 0 && len(f.TCPRequest) == 0 {
			return fmt.Errorf("%s: nothing answers: set use_service, default_backend or routes (or http_request actions that reply)", at)
		}
		if f.UseService != "" && (!strings.HasPrefix(f.UseService, "lua.") || len(f.UseService) == len("lua.")) {
			return fmt.Errorf("%s.use_service: want lua.NAME, got %q", at, f.UseService)
		}
		if f.Track != nil {
			if f.Track.Key != "src" {
				return fmt.Errorf("%s.track.key: only src is supported, got %q", at, f.Track.Key)
			}
			if f.Track.Table == "" {
				if f.StickTable == nil {
					return fmt.Errorf("%s.track.table: missing, and the frontend has no stick_table", at)
				}
			} else if !c.hasTable(f.Track.Table) {
				return fmt.Errorf("%s.track.table: no frontend or backend %q with a stick_table", at, f.Track.Table)
			}
		}
		if f.Limits.MaxHeaders < 1 {
			return fmt.Errorf("%s.limits.max_headers: must be at least 1", at)
		}
		if err := f.HTTP2.validate(at + ".http2"); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) hasTable(name string) bool {
	for _, f := range c.Frontends {
		if f.Name == name && f.StickTable != nil {
			return true
		}
	}
	for _, b := range c.Backends {
		if b.Name == name && b.StickTable != nil {
			return true
		}
	}
	return false
}

// Rules returns the request and response rules of the frontend's mode.
func (f *Frontend) Rules() (req, res []string) {
	if f.Mode == "tcp" {
		return f.TCPRequest, f.TCPResponse
	}
	return f.HTTPRequest, f.HTTPResponse
}

// StickTables names the frontend's own stick table and the one it tracks
// its clients in ("" for none).
func (f *Frontend) StickTables() (own, track string) {
	if f.StickTable != nil {
		own = f.Name
	}
	if f.Track != nil {
		track = f.Track.Table
		if track == "" {
			track = f.Name
		}
	}
	return own, track
}

// Forwards reports whether the frontend forwards requests to backends.
func (f *Frontend) Forwards() bool { return f.DefaultBackend != "" || len(f.Routes) > 0 }

// ServiceName returns NAME of "use_service: lua.NAME".
func (f *Frontend) ServiceName() string { return strings.TrimPrefix(f.UseService, "lua.") }

// nameKeys rewrites yaml's "line N: ..." errors to name the key at that
// line ("lua.memory_limit: ..."), as every other error does.
func nameKeys(data []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	lineRE := regexp.MustCompile(`line (\d+): `)
	msg := lineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(lineRE.FindStringSubmatch(m)[1])
		if path := keyAt(&root, n, ""); path != "" {
			return path + " (" + strings.TrimSuffix(m, ": ") + "): "
		}
		return m
	})
	return errors.New(strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  "))
}

// keyAt returns the path of the key whose value is on line n.
func keyAt(n *yaml.Node, line int, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := keyAt(c, line, path); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if v.Kind == yaml.ScalarNode && (v.Line == line || k.Line == line) {
				return p
			}
			if r := keyAt(v, line, p); r != "" {
				return r
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.Kind == yaml.ScalarNode && c.Line == line {
				return p
			}
			if r := keyAt(c, line, p); r != "" {
				return r
			}
		}
	}
	return ""
}

// Size is a byte count: a number, or a string with a unit (KiB, MiB, GiB,
// KB, MB, GB, or k, m, g for powers of 1024 as in HAProxy).
type Size int64

// UnmarshalYAML reads a Size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses a Size.
func ParseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want e.g. 65536, 64KiB, 16MiB)", v)
	}
	return n * mult, nil
}

// Duration is a time span: a Go duration ("10s", "500ms") or a number of
// milliseconds as in HAProxy.
type Duration time.Duration

// UnmarshalYAML reads a Duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if ms, err := strconv.ParseInt(n.Value, 10, 64); err == nil && ms >= 0 {
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: invalid duration %q (want e.g. 10s, 500ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
