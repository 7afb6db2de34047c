// Package config reads luaedge's YAML configuration. The key names are a
// contract with users' files and tooling: extend them, never rename them.
// Every error names the key it is about ("frontends[1].bind[0]: ...").
package config

import (
	"errors"
	"fmt"
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
	// StickTables are tables of their own, named (HAProxy's backend that
	// holds only a stick-table): track.table and the sc_* and src_*
	// fetches name them as they name a frontend's or backend's table.
	StickTables []NamedStickTable `yaml:"stick_tables"`
	// Caches are RAM caches of responses (HAProxy's cache sections), each
	// shared by every loop; a frontend's cache key and its Lua actions'
	// txn:cache_use and txn:cache_store use them by name.
	Caches []Cache `yaml:"caches"`
	// RuntimeSocket is the path of the Unix socket that takes runtime
	// commands (reload, help); "" for none. A relative path is taken from
	// Dir.
	RuntimeSocket string `yaml:"runtime_socket"`
	// AccessLog is every frontend's access log, unless it has its own.
	AccessLog *AccessLog `yaml:"access_log"`
	// Admin is the admin listener (Prometheus metrics); nil: none.
	Admin *Admin `yaml:"admin"`
	// Hooks are the hook scripts (docs/hooks.md); nil: none.
	Hooks *Hooks `yaml:"hooks"`
	// Shared is where core.kv, core.bus, core.artifacts and ngx.shared
	// keep their state (shared.go).
	Shared Shared `yaml:"shared"`

	// MaxConn bounds the client connections open at once over every
	// frontend (HAProxy's global maxconn); 0: no bound. Connections past
	// it wait, unread, for one to close (see Frontend.MaxConn).
	MaxConn int `yaml:"maxconn"`

	// TLSHandshakeWorkers bounds the TLS handshakes computing at once,
	// over every loop; 0: twice the number of CPUs Go uses.
	TLSHandshakeWorkers int `yaml:"tls_handshake_workers"`

	// DNS and HTTPClient configure the client of scripts (client.go).
	DNS        DNS        `yaml:"dns"`
	HTTPClient HTTPClient `yaml:"http_client"`

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
	// Compat53 gives scripts what they use of Lua 5.3's library
	// (table.unpack, utf8, string.pack, 5.3's empty matches...); nil
	// (left out): on. false is for scripts written for LuaJIT.
	Compat53 *bool `yaml:"compat53"`
	// Path and CPath are package.path and package.cpath for require:
	// templates separated by ";", relative ones taken from Dir; ";;" is
	// LuaJIT's default directories (luapath.go).
	Path  string `yaml:"path"`
	CPath string `yaml:"cpath"`
	// The CPU limits (cgo.Limits); nil (left out): the default, read
	// through the methods below; 0 turns one off.
	ForcedYield    *Duration `yaml:"forced_yield"`
	BurstTimeout   *Duration `yaml:"burst_timeout"`
	SessionTimeout *Duration `yaml:"session_timeout"`
	// DeclaredVars are the proc.* variables a haproxy.cfg names (in var(),
	// set-var, unset-var): as in HAProxy, set_var(name, v, true) sets them
	// although they are unset. Not a YAML key.
	DeclaredVars []string `yaml:"-"`
	// ACLFiles are the pattern files a haproxy.cfg's ACLs load with -f,
	// read when the generation starts so that the runtime API lists and
	// changes them. Not a YAML key.
	ACLFiles []ACLFile `yaml:"-"`
	// MapFiles are the map files a haproxy.cfg's map converters look up
	// in, read when the generation starts so that the runtime API knows
	// them before the first lookup, as HAProxy does. Not a YAML key.
	MapFiles []MapFile `yaml:"-"`
}

// MapFile is a map file of a converter (Lua.MapFiles).
type MapFile struct {
	Path   string // absolute
	Method string // the converter's match method: "str", "beg", "ip"...
	Ints   bool   // the converter reads the values as integers (map_*_int)
}

// ACLFile is a pattern file of an ACL (Lua.ACLFiles).
type ACLFile struct {
	Path string // absolute
	// Method is the match method ("str", "beg", "ip"...) of an ACL that
	// matches the file as it is now, changed at run time.
	Method string
	// Fixed, when set, says why the file cannot change at run time (its
	// patterns were compiled into the rules): the runtime API answers it.
	Fixed string
}

// ForcedYieldOr, BurstTimeoutOr and SessionTimeoutOr return the CPU limits,
// with the defaults for keys left out.
func (l *Lua) ForcedYieldOr() time.Duration { return orDefault(l.ForcedYield, DefaultForcedYield) }

func (l *Lua) BurstTimeoutOr() time.Duration { return orDefault(l.BurstTimeout, DefaultBurstTimeout) }

func (l *Lua) SessionTimeoutOr() time.Duration {
	return orDefault(l.SessionTimeout, DefaultSessionTimeout)
}

// Compat53On reports whether the scripts get the Lua 5.3 library.
func (l *Lua) Compat53On() bool { return l.Compat53 == nil || *l.Compat53 }

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
	// HTTPAfterResponse are Lua actions registered for http-res that run
	// on every response, after the http_response actions: the service's,
	// the server's and the answers rules make (HAProxy's
	// http-after-response).
	HTTPAfterResponse []string `yaml:"http_after_response"`
	// Cache names a cache (caches) that answers every request it holds a
	// fresh copy for and stores every response it may (HAProxy's
	// cache-use and cache-store without a condition); "": none.
	Cache string `yaml:"cache"`
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
	HTTPBufferRequest bool `yaml:"http_buffer_request"`
	// ServerHeader is the Server field added to an answer that has none;
	// "": "luaedge", "off": none (a haproxy.cfg's frontends: HAProxy adds
	// none).
	ServerHeader string `yaml:"server_header,omitempty"`
	// DateHeader adds a Date field to an answer that has none (RFC 9110
	// §6.6.1); nil: on.
	DateHeader *bool `yaml:"date_header"`
	// HostOptional accepts HTTP/1.1 requests without a Host field (a
	// haproxy.cfg's frontends: HAProxy accepts them); false: 400.
	HostOptional bool     `yaml:"host_optional"`
	Limits       Limits   `yaml:"limits"`
	Timeouts     Timeouts `yaml:"timeouts"`
	HTTP2        HTTP2    `yaml:"http2"`
	// TLS makes the frontend's listeners speak TLS; nil: clear text.
	TLS *FrontendTLS `yaml:"tls"`
	// WebSocket bounds the WebSocket connections a Lua service accepted
	// (mode: http).
	WebSocket WebSocket `yaml:"websocket"`
	// WSFilters are the core.register_ws_filter functions (lua.NAME) run,
	// in order, on each message of the frontend's WebSockets: forwarded
	// to a backend, or accepted by a Lua service.
	WSFilters []string `yaml:"ws_filters"`
	// Filters are Lua filters (core.register_filter), "lua.NAME args...",
	// run in order on each HTTP exchange forwarded to a backend
	// (HAProxy's filter lua.NAME).
	Filters []string `yaml:"filters"`
	// ErrorPages are the answers luaedge sends for its own errors of these
	// statuses (a malformed request's 400, 408, 413, 414, 431, a server's
	// 500, 502, 503, 504), in place of its short text ones; a haproxy.cfg
	// gives HAProxy's pages, or its errorfiles.
	ErrorPages map[int]ErrorPage `yaml:"error_pages"`
	// AccessLog overrides the top-level access_log (see FrontendAccessLog).
	AccessLog *AccessLog `yaml:"access_log"`
	// AcceptProxy: every connection starts with a PROXY protocol header
	// (v1 or v2), whose client address replaces the connection's own; a
	// connection without a valid one is closed (HAProxy's accept-proxy).
	AcceptProxy bool `yaml:"accept_proxy"`
	// MaxConn bounds the frontend's client connections open at once; 0:
	// no bound. A connection accepted past it is not read: it waits, in
	// the order of arrival, for one to close; past MaxConn waiting ones,
	// a new connection is closed at once.
	MaxConn int `yaml:"maxconn"`
	// Compression compresses the frontend's responses (network.go); nil:
	// none. A backend's own applies to the requests forwarded to it.
	Compression *Compression `yaml:"compression"`
	// Capture names what each request and response keeps for the access
	// log (%hr, %hs) and the capture.req.hdr / capture.res.hdr fetches.
	Capture Capture `yaml:"capture"`
	// Hooks names the hook scripts that run on this frontend's
	// connections and requests; nil (left out): every enabled one on an
	// HTTP frontend, none on a TCP one.
	Hooks []string `yaml:"hooks"`
}

// Capture is a frontend's capture slots, numbered from 0 in each list
// (HAProxy's capture request header, declare capture...), and its
// captured cookie.
type Capture struct {
	Request  []CaptureSlot `yaml:"request"`
	Response []CaptureSlot `yaml:"response"`
	// Cookie is HAProxy's capture cookie (%CC, %CS); nil: none.
	Cookie *CaptureCookie `yaml:"cookie"`
}

// CaptureCookie captures the first cookie whose name starts with Name
// of each request (Cookie) and response (Set-Cookie), as "name=value",
// at most Len bytes.
type CaptureCookie struct {
	Name string `yaml:"name"`
	Len  int    `yaml:"len"`
}

// CaptureSlot is one capture: the last value of header Header of each
// head, or, without a header, what a script stores (TXN:capture_req,
// capture_res); at most Len bytes.
type CaptureSlot struct {
	Header string `yaml:"header"`
	Len    int    `yaml:"len"`
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
	// WebSocket accepts WebSocket over HTTP/2 (RFC 8441): the frontend's
	// SETTINGS say SETTINGS_ENABLE_CONNECT_PROTOCOL, and a Lua service
	// accepts an extended CONNECT with ws:accept(). Off by default: a
	// browser that sees it sends its WebSockets to the host that way,
	// and those are not forwarded to backends.
	WebSocket bool `yaml:"websocket"`
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

// FrontendTLS is what a frontend's listeners serve TLS with.
type FrontendTLS struct {
	// Cert and Key are PEM files: the certificate (with its chain) and
	// its private key. They are the default certificate, before
	// Certificates.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// OCSP is a file holding the DER OCSP response stapled with Cert.
	OCSP string `yaml:"ocsp"`
	// Certificates are more, chosen by the client's SNI (the first whose
	// names match); a client that sends no SNI, or one no certificate
	// matches, gets the first.
	Certificates []CertKey `yaml:"certificates"`
	// MinVersion is the oldest TLS version accepted: "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// ALPN lists the protocols offered, in order of preference; default
	// [h2, http/1.1] on an HTTP frontend, none on a TCP one.
	ALPN []string `yaml:"alpn"`
	// HandshakeTimeout closes a connection whose handshake is not over
	// this long after it was accepted.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// ClientCA is a PEM file of the CAs whose certificates clients may
	// present; Verify says whether they must: "required" (the default
	// with ClientCA), "optional", or "none" (the default without: no
	// certificate is asked for).
	ClientCA string `yaml:"client_ca"`
	Verify   string `yaml:"verify"`
}

// CertKey is a certificate and its key, PEM files, and the DER OCSP
// response stapled with it (optional).
type CertKey struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	OCSP string `yaml:"ocsp"`
}

// Pairs returns the certificates in order, the default first.
func (t *FrontendTLS) Pairs() []CertKey {
	var out []CertKey
	if t.Cert != "" || t.Key != "" {
		out = append(out, CertKey{Cert: t.Cert, Key: t.Key, OCSP: t.OCSP})
	}
	return append(out, t.Certificates...)
}

// ServerTLS is how connections to a backend's servers speak TLS.
type ServerTLS struct {
	// Verify is "required" (the default: the server's certificate must
	// chain to CAFile, or to the system's roots, and name SNI or the
	// server's host) or "none".
	Verify string `yaml:"verify"`
	// CAFile is a PEM file of the certificates to trust instead of the
	// system's roots.
	CAFile string `yaml:"ca_file"`
	// SNI is the name sent and verified; default: the host of the
	// server's address (none for an IP address, which is then verified
	// against the certificate's IP addresses).
	SNI string `yaml:"sni"`
}

// WSFilterNames returns the names of ws_filters, without "lua.".
func (f *Frontend) WSFilterNames() []string {
	var names []string
	for _, n := range f.WSFilters {
		names = append(names, strings.TrimPrefix(n, "lua."))
	}
	return names
}

// WebSocket is what a frontend allows its WebSocket connections.
type WebSocket struct {
	// MaxFrame bounds a frame's payload (a frame is buffered whole before
	// it is parsed), MaxMessage a message's, inflated or not; over either
	// the connection closes with 1009.
	MaxFrame   Size `yaml:"max_frame"`
	MaxMessage Size `yaml:"max_message"`
	// MaxConnections bounds the frontend's WebSocket connections over
	// every worker (0: none); past it ws:accept refuses with 503.
	MaxConnections int `yaml:"max_connections"`
	// Deflate lets ws:accept negotiate permessage-deflate (default true).
	Deflate *bool `yaml:"deflate"`
	// IdleTimeout closes (1001) a connection that carried no message
	// either way for that long; 0, the default: never.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// PingInterval: a ping goes to a client silent for that long;
	// PingTimeout: a client that then sends nothing for that long is
	// disconnected.
	PingInterval Duration `yaml:"ping_interval"`
	PingTimeout  Duration `yaml:"ping_timeout"`
	// CloseTimeout bounds the wait for the client's close frame after
	// ours, and for the client to end the TCP connection after that.
	CloseTimeout Duration `yaml:"close_timeout"`
}

// ServerField is the Server field's value added to answers without one;
// nil: none.
func (f *Frontend) ServerField() []byte {
	switch f.ServerHeader {
	case "":
		return []byte("luaedge")
	case "off":
		return nil
	}
	return []byte(f.ServerHeader)
}

// DateField says whether answers without a Date field get one.
func (f *Frontend) DateField() bool { return f.DateHeader == nil || *f.DateHeader }

// DeflateOr is Deflate with its default.
func (w WebSocket) DeflateOr() bool { return w.Deflate == nil || *w.Deflate }

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
	// ProxyHeader bounds the wait for the PROXY protocol header of an
	// accept_proxy frontend's connection, from its accept; default: the
	// http_request timeout.
	ProxyHeader Duration `yaml:"proxy_header"`
	// Inspect (tcp mode) bounds, from the accept, how long the
	// tcp-request rules' channel reads wait for client bytes (HAProxy's
	// tcp-request inspect-delay); 0: no bound but keep_alive.
	Inspect Duration `yaml:"inspect"`
}

// Route sends matching requests to a backend.
type Route struct {
	Host       string `yaml:"host"`        // exact Host (port ignored); "" matches any
	PathPrefix string `yaml:"path_prefix"` // "" matches any
	Backend    string `yaml:"backend"`
}

// Backend is a group of servers requests can be forwarded to.
type Backend struct {
	Name    string `yaml:"name"`
	Balance string `yaml:"balance"` // HAProxy's balance line: roundrobin (default), leastconn, url_param NAME...
	// HashType is how the hashing algorithms (source, uri, url_param,
	// hdr) map a hash to a server: HAProxy's hash-type line, "map-based"
	// (the default) or "consistent", then the function (sdbm, djb2, wt6,
	// crc32) and avalanche.
	HashType string          `yaml:"hash_type"`
	Servers  []Server        `yaml:"servers"`
	Check    Check           `yaml:"check"`
	Timeouts BackendTimeouts `yaml:"timeouts"`
	// Proto is what the servers speak: "h1" (HTTP/1.1, the default) or
	// "h2" (HTTP/2 with prior knowledge, many exchanges on one
	// connection: HAProxy's proto h2).
	Proto string `yaml:"proto"`
	// StickTable is this backend's stick table, if it has one.
	StickTable *StickTable `yaml:"stick_table"`
	// TLS makes connections to the servers speak TLS; a server's own tls
	// replaces it.
	TLS *ServerTLS `yaml:"tls"`
	// SendProxy makes each connection to the servers start with a PROXY
	// protocol header naming the client: "v1" or "v2" (HAProxy's
	// send-proxy and send-proxy-v2); "" none. A server's own replaces it.
	SendProxy string `yaml:"send_proxy"`
	// Compression compresses the responses of the requests forwarded to
	// the backend, instead of their frontend's; nil: the frontend's.
	Compression *Compression `yaml:"compression"`
	// Cookie keeps a client on its server (HAProxy's cookie NAME
	// insert): nil, none.
	Cookie *BackendCookie `yaml:"cookie"`
	// ServerNameHeader is a request field set to the name of the server
	// the request goes to, in place of any the client sent (HAProxy's
	// http-send-name-header); "": none.
	ServerNameHeader string `yaml:"server_name_header"`
	// Stick keeps a key's requests on one server through a stick table,
	// in order (persist.go).
	Stick []StickRule `yaml:"stick"`
	// PersistDown sends a request whose persistence (cookie, stick rule,
	// use_server) names a server down or in maintenance there anyway
	// (HAProxy's option persist).
	PersistDown bool `yaml:"persist_down"`
	// Retries is how many times a request tries connecting again after
	// its connection to a server failed (refused, reset, TLS handshake,
	// timeouts.connect), as HAProxy's retries; nil: DefaultRetries.
	Retries *int `yaml:"retries"`
	// Redispatch lets a retry go to another server, as HAProxy's option
	// redispatch [interval] as 2.6.12 counts it: N > 0 the first retry
	// and every Nth after it, -N the first and every (Retries+1-N)th
	// after it (so -1, option redispatch alone, moves the first retry),
	// 0 (the default) never.
	Redispatch int `yaml:"redispatch"`
	// RetryOn names the failures after which a request goes again, as
	// HAProxy's retry-on (retryon.go): conn-failure, empty-response,
	// junk-response, response-timeout, 0rtt-rejected, the statuses 401
	// 403 404 408 425 500 501 502 503 504, all-retryable-errors, or none;
	// nil: conn-failure. Each retry counts toward Retries.
	RetryOn []string `yaml:"retry_on"`
	// AbortOnClose abandons a request whose client ends its side of the
	// connection before the answer (it leaves the queue, its server
	// exchange is dropped), as HAProxy's option abortonclose; by default
	// the request goes on and its answer is sent, since the client may
	// only have ended its sending (RFC 9112 section 9.6).
	AbortOnClose bool `yaml:"abort_on_close"`
}

// RetriesOr is the backend's Retries, DefaultRetries when not set.
func (b *Backend) RetriesOr() int {
	if b.Retries == nil {
		return DefaultRetries
	}
	return *b.Retries
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), as a
// field name is.
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	})
}

// ErrorPage is one of a frontend's error_pages.
type ErrorPage struct {
	// Status is the status the answer has; 0: the one it answers. A
	// haproxy.cfg answers a too long head's 414 and 431 with HAProxy's
	// 400, as HAProxy does.
	Status  int               `yaml:"status,omitempty"`
	Reason  string            `yaml:"reason"`  // "": the status's own
	Headers map[string]string `yaml:"headers"` // content-length is made
	Body    string            `yaml:"body"`
}

// BackendCookie is a backend's persistence cookie, HAProxy's cookie
// line: a request naming a usable server goes to it; in insert mode a
// response gets Set-Cookie: NAME=<its server's cookie> unless its request
// already named that server; in rewrite and prefix modes the server's own
// cookie NAME carries the server's value; in passive mode the servers set
// it themselves.
type BackendCookie struct {
	Name string `yaml:"name"`
	Mode string `yaml:"mode"` // insert (the default), rewrite, prefix or passive
	// Indirect: the cookie is taken out of the requests servers get
	// (insert mode), and a server's own is dropped when its client's
	// cookie already named it.
	Indirect bool `yaml:"indirect"`
	// Preserve: a server's own Set-Cookie of the cookie is left as it is
	// (and then none is inserted).
	Preserve bool `yaml:"preserve"`
	// PostOnly: the cookie is inserted in answers to POST requests only.
	PostOnly bool `yaml:"postonly"`
	// NoCache: an answer a cache could keep gets cache-control: private
	// with the cookie inserted.
	NoCache  bool     `yaml:"nocache"`
	HTTPOnly bool     `yaml:"httponly"`
	Secure   bool     `yaml:"secure"`
	Domains  []string `yaml:"domains"`
	Attrs    []string `yaml:"attrs"` // more attributes of the inserted cookie
	// MaxIdle and MaxLife: the inserted cookie carries the dates it was
	// last refreshed and first given, and a request's cookie idle or
	// alive longer than these is ignored (HAProxy's maxidle, maxlife; in
	// whole seconds); 0: never.
	MaxIdle Duration `yaml:"max_idle"`
	MaxLife Duration `yaml:"max_life"`
	// DynamicKey gives each server without a cookie value one made from
	// its address, its port and this key, as HAProxy's "cookie ...
	// dynamic" with dynamic-cookie-key; "": none.
	DynamicKey string `yaml:"dynamic_key"`
}

// validate checks the cookie of backends[i].
func (ck *BackendCookie) validate(i int) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("backends[%d].cookie.%s", i, fmt.Sprintf(format, a...)))
	}
	if ck.Name == "" {
		bad("name: missing")
	}
	switch ck.Mode {
	case "", "insert", "rewrite", "prefix", "passive":
	default:
		bad("mode: want insert, rewrite, prefix or passive, got %q", ck.Mode)
	}
	if ck.Mode == "rewrite" && ck.Indirect {
		bad("indirect: not with the rewrite mode")
	}
	if ck.Preserve && ck.Mode != "" && ck.Mode != "insert" && !ck.Indirect {
		bad("preserve: with the insert mode or indirect only")
	}
	for k, d := range map[string]Duration{"max_idle": ck.MaxIdle, "max_life": ck.MaxLife} {
		if d < 0 || (d > 0 && d.D() < time.Second) {
			bad("%s: want whole seconds, 1s or more", k)
		}
	}
	for _, a := range ck.Attrs {
		if strings.ContainsFunc(a, func(r rune) bool { return r == ';' || r < 0x20 || r == 0x7f }) {
			bad("attrs: %q: an attribute may not hold ';' or control characters", a)
		}
	}
	return errs
}

// StickTable configures a stick table (HAProxy's stick-table line).
type StickTable struct {
	Type   string   `yaml:"type"` // ip, ipv6, integer, string
	Size   Size     `yaml:"size"`
	Expire Duration `yaml:"expire"`
	Store  []string `yaml:"store"` // e.g. conn_cur, http_req_rate(10s), gpc0
	// Shared is "redis" to add the counters of every instance sharing
	// shared.redis, exchanged every SyncInterval; "": this process's only.
	Shared       string   `yaml:"shared"`
	SyncInterval Duration `yaml:"sync_interval"`
}

// Cache is a RAM cache of responses, HAProxy's cache section.
type Cache struct {
	Name string `yaml:"name"`
	// TotalMaxSize is the room of its objects, in megabytes (1 to 4095).
	TotalMaxSize int64 `yaml:"total_max_size"`
	// MaxObjectSize: a larger object (head and body, in bytes) is not
	// stored; 0: a 256th of total_max_size. At most half of it.
	MaxObjectSize int64 `yaml:"max_object_size"`
	// MaxAge caps how long an object stays fresh; 0: 60s.
	MaxAge Duration `yaml:"max_age"`
	// ProcessVary stores responses varying on accept-encoding or referer,
	// one object per variant, at most MaxSecondaryEntries (0: 10).
	ProcessVary         bool `yaml:"process_vary"`
	MaxSecondaryEntries int  `yaml:"max_secondary_entries"`
}

// CacheIndex returns the index of the cache named name, -1 if none.
func (c *Config) CacheIndex(name string) int {
	for i, x := range c.Caches {
		if x.Name == name {
			return i
		}
	}
	return -1
}

// validateCaches checks the caches and the frontends' cache key.
func (c *Config) validateCaches() []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	for i, x := range c.Caches {
		switch {
		case x.Name == "":
			bad("caches[%d].name: missing", i)
		case c.CacheIndex(x.Name) != i:
			bad("caches[%d].name: %q names another cache", i, x.Name)
		}
		if x.TotalMaxSize < 1 || x.TotalMaxSize > 4095 {
			bad("caches[%d].total_max_size: want 1 to 4095 (megabytes), got %d", i, x.TotalMaxSize)
		} else if x.MaxObjectSize < 0 || x.MaxObjectSize > x.TotalMaxSize<<20/2 {
			bad("caches[%d].max_object_size: want at most half of total_max_size (%d bytes)", i, x.TotalMaxSize<<20/2)
		}
		if x.MaxAge < 0 {
			bad("caches[%d].max_age: negative", i)
		}
		if x.MaxSecondaryEntries < 0 {
			bad("caches[%d].max_secondary_entries: negative", i)
		}
	}
	for i, f := range c.Frontends {
		if f.Cache != "" && c.CacheIndex(f.Cache) < 0 {
			bad("frontends[%d].cache: no cache named %q", i, f.Cache)
		}
	}
	return errs
}

// NamedStickTable is a stick table of its own.
type NamedStickTable struct {
	Name       string `yaml:"name"`
	StickTable `yaml:",inline"`
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
	// TLS replaces the backend's tls for this server.
	TLS *ServerTLS `yaml:"tls"`
	// SendProxy replaces the backend's send_proxy for this server; "none"
	// sends no header where the backend would.
	SendProxy string `yaml:"send_proxy"`
	// Cookie is the value of the backend's persistence cookie that names
	// this server ("": it is never chosen by cookie).
	Cookie string `yaml:"cookie"`
	// Disabled starts the server in maintenance (HAProxy's disabled):
	// it takes no traffic until the runtime API sets it ready.
	Disabled bool `yaml:"disabled"`
}

// followsDestination reports whether a server address takes from each
// request's destination: host 0.0.0.0 or ::, port 0, +N or -N (the
// backend package connects accordingly).
func followsDestination(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return host == "0.0.0.0" || host == "::" || port == "0" || strings.HasPrefix(port, "+") || strings.HasPrefix(port, "-")
}

// ServerSendProxy returns the PROXY protocol version connections to
// server i start with: "v1", "v2", or "" for none.
func (b *Backend) ServerSendProxy(i int) string {
	v := b.Servers[i].SendProxy
	if v == "" {
		v = b.SendProxy
	}
	if v == "none" {
		return ""
	}
	return v
}

// ServerTLS returns how connections to server i speak TLS: its own tls,
// else the backend's; nil: clear text.
func (b *Backend) ServerTLS(i int) *ServerTLS {
	if t := b.Servers[i].TLS; t != nil {
		return t
	}
	return b.TLS
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
	// Queue bounds the wait of a request in the backend's queue, for a
	// server under its maxconn (then 503); default: connect.
	Queue Duration `yaml:"queue"`
	// Inspect (tcp mode) bounds, from the start of the connection to the
	// server, how long the tcp_response rules wait for more server bytes
	// (HAProxy's tcp-response inspect-delay); 0: they run once, on the
	// server's first bytes, and wait for nothing more.
	Inspect Duration `yaml:"inspect"`
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
	DefaultRetries         = 3 // HAProxy's retries
	DefaultServer          = 30 * time.Second
	DefaultForcedYield     = 10 * time.Millisecond
	DefaultBurstTimeout    = time.Second
	DefaultSessionTimeout  = 4 * time.Second
	DefaultWSMaxFrame      = 1 << 20
	DefaultWSMaxMessage    = 1 << 20
	DefaultWSPingInterval  = 30 * time.Second
	DefaultWSPingTimeout   = 15 * time.Second
	DefaultWSCloseTimeout  = 3 * time.Second
	// MaxWSMessage is the largest max_message (and max_frame): a message
	// is handed to Lua in a buffer with 32-bit lengths.
	MaxWSMessage = 1 << 30
	// DefaultLuaMemoryLimit caps each LuaJIT state (one per worker): a
	// script that keeps growing a table fails with "not enough memory"
	// instead of the process running the machine out of memory.
	DefaultLuaMemoryLimit = 256 << 20
	DefaultLuaSandbox     = "default"
	// DefaultHandshakeTimeout bounds a client's TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
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
		return nil, inFile(path, err)
	}
	return c, nil
}

// Parse reads and validates a configuration; dir is where relative paths
// (and those of include) start.
func Parse(data []byte, dir string) (*Config, error) {
	c := &Config{Dir: dir}
	doc, errs := readDoc(data, dir, nil)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if doc != nil { // an empty file means the defaults
		if err := doc.Decode(c); err != nil {
			return nil, nameKeys(data, err)
		}
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Complete sets the defaults and validates a Config built by another
// front end than the YAML reader (config/haproxycfg), as Parse does.
func (c *Config) Complete() error {
	c.setDefaults()
	return c.validate()
}

func (c *Config) setDefaults() {
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	c.clientDefaults()
	setDefault(&c.Lua.MemoryLimit, DefaultLuaMemoryLimit)
	setDefault(&c.Lua.Sandbox, DefaultLuaSandbox)
	c.Lua.resolvePaths(c.Dir)
	if c.Hooks != nil {
		c.Hooks.setDefaults(c)
	}
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
		setDefault(&f.Timeouts.ProxyHeader, f.Timeouts.HTTPRequest)
		if t := f.TLS; t != nil {
			setDefault(&t.MinVersion, "1.2")
			setDefault(&t.HandshakeTimeout, Duration(DefaultHandshakeTimeout))
			if t.ALPN == nil && f.Mode == "http" {
				t.ALPN = []string{"h2", "http/1.1"}
			}
			if t.ClientCA != "" {
				setDefault(&t.Verify, "required")
			}
			setDefault(&t.Verify, "none")
			for _, p := range []*string{&t.Cert, &t.Key, &t.OCSP, &t.ClientCA} {
				*p = c.path(*p)
			}
			for j := range t.Certificates {
				t.Certificates[j].Cert = c.path(t.Certificates[j].Cert)
				t.Certificates[j].Key = c.path(t.Certificates[j].Key)
				t.Certificates[j].OCSP = c.path(t.Certificates[j].OCSP)
			}
		}
		f.Compression.setDefaults()
		w := &f.WebSocket
		setDefault(&w.MaxFrame, DefaultWSMaxFrame)
		setDefault(&w.MaxMessage, DefaultWSMaxMessage)
		setDefault(&w.PingInterval, Duration(DefaultWSPingInterval))
		setDefault(&w.PingTimeout, Duration(DefaultWSPingTimeout))
		setDefault(&w.CloseTimeout, Duration(DefaultWSCloseTimeout))
	}
	c.Shared.setDefaults(c)
	for i := range c.Backends {
		b := &c.Backends[i]
		setDefault(&b.Timeouts.Connect, Duration(DefaultConnect))
		setDefault(&b.Timeouts.Server, Duration(DefaultServer))
		setDefault(&b.Timeouts.Queue, b.Timeouts.Connect)
		b.Compression.setDefaults()
		c.serverTLSDefaults(b.TLS)
		for j := range b.Servers {
			c.serverTLSDefaults(b.Servers[j].TLS)
		}
	}
}

func (c *Config) serverTLSDefaults(t *ServerTLS) {
	if t != nil {
		setDefault(&t.Verify, "required")
		t.CAFile = c.path(t.CAFile)
	}
}

// path takes a relative file path from Dir; "" stays "".
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Workers < 0 {
		bad("workers: must be 0 (one per core) or more, got %d", c.Workers)
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		bad("log.level: want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format: want text or json, got %q", c.Log.Format)
	}
	// sun_path holds 108 bytes, the terminating NUL included.
	if len(c.RuntimeSocket) > 107 {
		bad("runtime_socket: %s: a Unix socket path is at most 107 bytes, this one is %d", c.RuntimeSocket, len(c.RuntimeSocket))
	}
	if c.Lua.Hooks != "" {
		bad("lua.hooks: hook scripts are configured by the top-level key hooks (dir, scripts), not here (docs/hooks.md)")
	}
	errs = append(errs, c.validateHooks()...)
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"forced_yield", c.Lua.ForcedYieldOr()}, {"burst_timeout", c.Lua.BurstTimeoutOr()}, {"session_timeout", c.Lua.SessionTimeoutOr()}} {
		if d.v < 0 {
			bad("lua.%s: must be 0 (off) or more, got %v", d.key, d.v)
		}
	}
	errs = append(errs, c.Lua.validateMemory()...)
	errs = append(errs, c.validateClient()...)
	switch c.Lua.Sandbox {
	case "default", "strict":
	default:
		bad("lua.sandbox: want default or strict, got %q", c.Lua.Sandbox)
	}
	if c.Lua.UnsafeFFI && c.Lua.Sandbox == "strict" {
		bad("lua.unsafe_ffi: cannot be used with lua.sandbox: strict (ffi reaches everything strict takes away)")
	}
	if len(c.Frontends) == 0 {
		bad("frontends: at least one frontend is needed")
	}
	if c.TLSHandshakeWorkers < 0 {
		bad("tls_handshake_workers: must be 0 (twice the CPUs) or more, got %d", c.TLSHandshakeWorkers)
	}
	if err := c.validateObserve(); err != nil {
		return err
	}
	errs = append(errs, c.validateNetwork()...)
	backends := map[string]bool{}
	for i, b := range c.Backends {
		if b.Name == "" {
			bad("backends[%d].name: missing", i)
		}
		if backends[b.Name] {
			bad("backends[%d].name: %q is used by another backend", i, b.Name)
		}
		backends[b.Name] = true
		if b.Proto != "" && b.Proto != "h1" && b.Proto != "h2" {
			bad("backends[%d].proto: want h1 or h2, got %q", i, b.Proto)
		}
		if b.Proto == "h2" && b.Check.Type == "http" {
			bad("backends[%d].check.type: http checks speak HTTP/1.1; the servers of a proto: h2 backend take tcp checks", i)
		}
		if err := b.TLS.validate(fmt.Sprintf("backends[%d].tls", i)); err != nil {
			errs = append(errs, err)
		}
		if b.Cookie != nil {
			errs = append(errs, b.Cookie.validate(i)...)
		}
		if n := b.ServerNameHeader; n != "" && !isToken(n) {
			bad("backends[%d].server_name_header: %q is not a field name", i, n)
		}
		if b.Retries != nil && *b.Retries < 0 {
			bad("backends[%d].retries: %d is negative", i, *b.Retries)
		}
		if b.RetryOn != nil {
			if _, err := ParseRetryOn(b.RetryOn); err != nil {
				bad("backends[%d].retry_on: %v", i, err)
			}
		}
		errs = append(errs, c.validateStick(i, &b)...)
		for j, sv := range b.Servers {
			if err := sv.TLS.validate(fmt.Sprintf("backends[%d].servers[%d].tls", i, j)); err != nil {
				errs = append(errs, err)
			}
			if b.Proto == "h2" && followsDestination(sv.Address) {
				bad("backends[%d].servers[%d].address: %q follows each request's destination; a proto: h2 backend shares its connections between requests, so its servers need an address of their own", i, j, sv.Address)
			}
		}
	}
	errs = append(errs, c.Shared.validate()...)
	errs = append(errs, c.validateSharedTables()...)
	errs = append(errs, c.validateCaches()...)
	for i, t := range c.StickTables {
		if t.Name == "" {
			bad("stick_tables[%d].name: missing", i)
		}
		if c.tableIndex(t.Name) != i || c.proxyNamed(t.Name) {
			bad("stick_tables[%d].name: %q is the name of another stick table, frontend or backend", i, t.Name)
		}
	}
	names := map[string]bool{}
	var binds bindSet
	for i, f := range c.Frontends {
		at := fmt.Sprintf("frontends[%d]", i)
		if f.Name == "" {
			bad("%s.name: missing", at)
		} else if names[f.Name] {
			bad("%s.name: %q is used by another frontend", at, f.Name)
		}
		names[f.Name] = true
		if len(f.Bind) == 0 {
			bad("%s.bind: at least one address is needed", at)
		}
		for status, p := range f.ErrorPages {
			switch status {
			case 400, 408, 413, 414, 431, 500, 502, 503, 504:
			default:
				bad("%s.error_pages: %d is not a status luaedge answers itself (400, 408, 413, 414, 431, 500, 502, 503, 504)", at, status)
			}
			if p.Status != 0 && (p.Status < 400 || p.Status > 599) {
				bad("%s.error_pages.%d.status: %d is not an error status (400-599)", at, status, p.Status)
			}
			for name := range p.Headers {
				switch n := strings.ToLower(name); {
				case !isToken(n):
					bad("%s.error_pages.%d.headers: %q is not a field name", at, status, name)
				case n == "content-length" || n == "transfer-encoding":
					bad("%s.error_pages.%d.headers: %s is made from the body", at, status, name)
				}
			}
		}
		if strings.TrimSpace(f.ServerHeader) != f.ServerHeader || strings.ContainsFunc(f.ServerHeader, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			bad("%s.server_header: %q is not a field value", at, f.ServerHeader)
		}
		errs = append(errs, binds.add(at, f.Name, f.Bind)...)
		switch f.Mode {
		case "http":
			if len(f.TCPRequest)+len(f.TCPResponse) > 0 {
				bad("%s.tcp_request: tcp rules need mode: tcp (use http_request / http_response)", at)
			}
		case "tcp":
			if len(f.HTTPRequest)+len(f.HTTPResponse)+len(f.HTTPAfterResponse) > 0 {
				bad("%s.http_request: http rules need mode: http (use tcp_request / tcp_response)", at)
			}
			if len(f.Capture.Request)+len(f.Capture.Response) > 0 || f.Capture.Cookie != nil {
				bad("%s.capture: captures need mode: http", at)
			}
			if len(f.Routes) > 0 {
				bad("%s.routes: routes need mode: http (use default_backend)", at)
			}
		default:
			bad("%s.mode: want http or tcp, got %q", at, f.Mode)
		}
		if f.OnError != "continue" && f.OnError != "fail" {
			bad("%s.on_error: want continue or fail, got %q", at, f.OnError)
		}
		if f.DefaultBackend != "" && !backends[f.DefaultBackend] {
			bad("%s.default_backend: no backend named %q", at, f.DefaultBackend)
		}
		for j, r := range f.Routes {
			if !backends[r.Backend] {
				bad("%s.routes[%d].backend: no backend named %q", at, j, r.Backend)
			}
			if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
				bad("%s.routes[%d].path_prefix: must start with /", at, j)
			}
		}
		if f.UseService != "" && (f.DefaultBackend != "" || len(f.Routes) > 0) {
			bad("%s.use_service: a frontend answers with a service or forwards to backends, not both", at)
		}
		if f.UseService == "" && f.DefaultBackend == "" && len(f.Routes) == 0 && len(f.HTTPRequest) == 0 && len(f.TCPRequest) == 0 {
			bad("%s: nothing answers: set use_service, default_backend or routes (or http_request actions that reply)", at)
		}
		if f.UseService != "" && (!strings.HasPrefix(f.UseService, "lua.") || len(f.UseService) == len("lua.")) {
			bad("%s.use_service: want lua.NAME, got %q", at, f.UseService)
		}
		if f.Track != nil {
			if f.Track.Key != "src" {
				bad("%s.track.key: only src is supported, got %q", at, f.Track.Key)
			}
			if f.Track.Table == "" {
				if f.StickTable == nil {
					bad("%s.track.table: missing, and the frontend has no stick_table", at)
				}
			} else if !c.hasTable(f.Track.Table) {
				bad("%s.track.table: no frontend or backend %q with a stick_table, nor a stick_tables entry", at, f.Track.Table)
			}
		}
		for _, side := range []struct {
			name  string
			slots []CaptureSlot
		}{{"request", f.Capture.Request}, {"response", f.Capture.Response}} {
			for j, c := range side.slots {
				if c.Len < 1 {
					bad("%s.capture.%s[%d].len: must be at least 1", at, side.name, j)
				}
			}
		}
		if c := f.Capture.Cookie; c != nil && (c.Name == "" || c.Len < 1) {
			bad("%s.capture.cookie: want a name and a len of at least 1", at)
		}
		if f.Limits.MaxHeaders < 1 {
			bad("%s.limits.max_headers: must be at least 1", at)
		}
		if err := f.HTTP2.validate(at + ".http2"); err != nil {
			errs = append(errs, err)
		}
		if err := f.TLS.validate(at + ".tls"); err != nil {
			errs = append(errs, err)
		}
		w := f.WebSocket
		switch {
		case w.MaxFrame > MaxWSMessage:
			bad("%s.websocket.max_frame: must be at most 1GiB", at)
		case w.MaxMessage > MaxWSMessage:
			bad("%s.websocket.max_message: must be at most 1GiB", at)
		case w.MaxConnections < 0:
			bad("%s.websocket.max_connections: must be 0 (no bound) or more", at)
		}
		for j, n := range f.WSFilters {
			if !strings.HasPrefix(n, "lua.") || len(n) == len("lua.") {
				bad("%s.ws_filters[%d]: want lua.NAME, got %q", at, j, n)
			}
		}
		for j, line := range f.Filters {
			if w := strings.Fields(line); len(w) == 0 || !strings.HasPrefix(w[0], "lua.") || len(w[0]) == len("lua.") {
				bad("%s.filters[%d]: want lua.NAME [args...], got %q", at, j, line)
			}
		}
		if len(f.Filters) > 0 && f.Mode != "http" {
			bad("%s.filters: Lua filters need mode: http (TCP-mode filters are not supported)", at)
		}
		if len(f.WSFilters) > 0 && f.Mode != "http" {
			bad("%s.ws_filters: WebSocket filters need mode: http", at)
		}
	}
	return errors.Join(errs...)
}

// validate checks the keys of a frontend's tls (at is its key path); the
// files are read when the server is built.
func (t *FrontendTLS) validate(at string) error {
	if t == nil {
		return nil
	}
	if (t.Cert == "") != (t.Key == "") {
		return fmt.Errorf("%s: cert and key go together", at)
	}
	for j, p := range t.Certificates {
		if p.Cert == "" || p.Key == "" {
			return fmt.Errorf("%s.certificates[%d]: cert and key are both needed", at, j)
		}
	}
	if len(t.Pairs()) == 0 {
		return fmt.Errorf("%s: a certificate is needed (cert and key, or certificates)", at)
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		return fmt.Errorf("%s.min_version: want 1.2 or 1.3, got %q", at, t.MinVersion)
	}
	for j, p := range t.ALPN {
		if p == "" || len(p) > 255 {
			return fmt.Errorf("%s.alpn[%d]: a protocol name is 1 to 255 bytes", at, j)
		}
	}
	if t.HandshakeTimeout < 0 {
		return fmt.Errorf("%s.handshake_timeout: must be positive", at)
	}
	if t.OCSP != "" && t.Cert == "" {
		return fmt.Errorf("%s.ocsp: goes with cert", at)
	}
	switch t.Verify {
	case "none":
	case "optional", "required":
		if t.ClientCA == "" {
			return fmt.Errorf("%s.verify: %s needs client_ca, the CAs client certificates are checked against", at, t.Verify)
		}
	default:
		return fmt.Errorf("%s.verify: want none, optional or required, got %q", at, t.Verify)
	}
	return nil
}

// validate checks the keys of a backend's or server's tls.
func (t *ServerTLS) validate(at string) error {
	if t == nil {
		return nil
	}
	if t.Verify != "required" && t.Verify != "none" {
		return fmt.Errorf("%s.verify: want required or none, got %q", at, t.Verify)
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
	return c.tableIndex(name) >= 0
}

// proxyNamed reports whether a frontend or backend is called name.
func (c *Config) proxyNamed(name string) bool {
	for _, f := range c.Frontends {
		if f.Name == name {
			return true
		}
	}
	for _, b := range c.Backends {
		if b.Name == name {
			return true
		}
	}
	return false
}

// tableIndex returns the index of the first stick_tables entry named
// name, or -1.
func (c *Config) tableIndex(name string) int {
	for i, t := range c.StickTables {
		if t.Name == name {
			return i
		}
	}
	return -1
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

// MarshalYAML writes a Size as a number of bytes.
func (s Size) MarshalYAML() (any, error) { return int64(s), nil }

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

// MarshalYAML writes a Duration as Go spells it ("10s", "1m30s").
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
