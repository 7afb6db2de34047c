// Package haproxycfg reads HAProxy configuration files (haproxy.cfg) into
// luaedge's configuration model (config.Config). It is a second front end
// onto the same model as the YAML reader, not a second engine: what the
// model has (binds, timeouts, backends, servers, checks, stick tables, Lua
// rules and services) maps onto it, and HAProxy's native rules and ACLs
// are compiled into one generated Lua script that uses luaedge's
// HAProxy-compatible Lua API. A keyword luaedge cannot honour is an error
// naming the file, the line and the keyword; a keyword that has no effect
// in luaedge (daemon, user, stats timeout...) is accepted with a warning.
package haproxycfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/config"
)

// resolvePath makes a relative path of the configuration absolute: from
// the working directory when the file is there, as HAProxy reads it, else
// from dir, the folder of the first -f file (so that a configuration run
// from elsewhere still finds the files beside it).
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if abs, ok := inWorkDir(p); ok {
		return abs
	}
	return filepath.Join(dir, p)
}

// inWorkDir returns the absolute path of relative path p when a file is
// there from the working directory.
func inWorkDir(p string) (string, bool) {
	if filepath.IsAbs(p) {
		return "", false
	}
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	abs, err := filepath.Abs(p)
	return abs, err == nil
}

// pos is where a line is, for errors.
type pos struct {
	file string
	line int
}

func (p pos) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

// errorf is an error about the line at p.
func (p pos) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...))
}

// unsupported names what luaedge does not do.
func (p pos) unsupported(keyword string) error {
	return p.errorf("'%s' is not supported by luaedge", keyword)
}

// rule is one http-request / http-response / tcp-request / tcp-response
// line, as words, with its section's name.
type rule struct {
	at    pos
	words []string
	// tcp marks a tcp-request content rule of a section in mode http,
	// which runs before its http-request rules: its Lua actions are the
	// ones registered for tcp-req.
	tcp bool
	// content marks a tcp-request content rule.
	content bool
	// hints are the early-hint rules without a condition that follow an
	// early-hint rule: as HAProxy 2.6, their fields go in the same 103,
	// which a rule with a condition, or any other rule, ends.
	hints []rule
}

// useBackend is a use_backend line.
type useBackend struct {
	at     pos
	target string   // a backend name, or a %[...] expression
	cond   []string // the words of the condition ("if", ...), or nil
}

// proxy is a defaults, frontend, backend or listen section, and what the
// sections before it (defaults) gave it.
type proxy struct {
	kind, name string
	at         pos
	mode       string
	binds      []string
	tls        *config.FrontendTLS // the binds' ssl settings (all or none of them)
	timeouts   map[string]config.Duration
	inspectAt  pos               // where tcp-request inspect-delay was set (timeouts["inspect-delay"])
	acls       map[string][]rule // name -> the acl lines' words after the name
	httpReq    []rule
	httpRes    []rule
	filters    []rule // filter lua.NAME lines, in order
	tcpReq     []rule
	tcpConn    []rule // tcp-request connection / session set-dst, set-dst-port
	tcpRes     []rule
	useBackend []useBackend
	defBackend string
	servers    []config.Server
	balance    string
	hashType   string                // hash-type's words
	cookie     *config.BackendCookie // cookie NAME insert ...
	nameHeader string                // http-send-name-header NAME
	persist    []rule                // use-server, stick, force-persist and ignore-persist lines, in order (persist.go)
	// hasRules: a named defaults section with rules; rulesFrom, the one
	// whose rules a proxy starts with (nil: none).
	hasRules   bool
	rulesFrom  *proxy
	check      config.Check
	httpCheck  bool // option httpchk or http-check lines
	stick      *config.StickTable
	track      *config.Track
	errors     []errDirective // errorfile, http-error, errorfiles lines, in order
	bufferReq  bool
	forwardfor string // the header option forwardfor adds, "" for none
	httpclose  bool
	defServer  []string // the options of default-server, before each server's
	monitorURI string
	redirects  []rule // the section's redirect lines: after its http-request rules
	afterRes   []rule // http-after-response rules
	capture    config.Capture
	// log: the section's log lines ("global" for log global; nil: none):
	// those of its defaults, then its own, as HAProxy adds them (no log
	// clears them); its log-format (and where it was) and option httplog
	// / tcplog.
	logs      []logLine
	logTag    string // log-tag
	logFormat rule
	logOption string
	// logErrors: option log-separate-errors, errors logged at err.
	logErrors bool
	// dontLogNull: option dontlognull, empty connections not logged.
	dontLogNull bool
	// unique-id-format and unique-id-header.
	uniqueID       rule
	uniqueIDHeader string
	// option forwardfor except NET / if-none: no header for a client of
	// NET, or when the request has one.
	forwardforExcept string
	forwardforIfNone bool

	// network.go: bind ... accept-proxy (all binds or none), maxconn,
	// compression (copied when a line changes it).
	acceptProxy bool
	maxconn     int
	compression *config.Compression

	// persistDown: option persist (persistence goes to a server down or
	// in maintenance).
	persistDown bool
	// abortOnClose: option abortonclose.
	abortOnClose bool
	// retries (nil: HAProxy's 3) and redispatch: option redispatch's
	// interval, 0 without it.
	retries    *int
	redispatch int
	// retryOn: retry-on's keywords, as the line gave them (nil: not set,
	// HAProxy's conn-failure).
	retryOn []string
	// dynamicKey: dynamic-cookie-key, for a cookie line's dynamic.
	dynamicKey string
	// originalTo: the header option originalto adds ("" for none), and
	// its except network (no header for a destination there).
	originalTo, originalToExcept string
	originalToAt                 pos
	// restrictHdrNames: option http-restrict-req-hdr-names, "delete" or
	// "reject" ("" or "preserve": names are kept).
	restrictHdrNames string
	restrictAt       pos
}

// clone copies a defaults section for a proxy that inherits it.
func (d *proxy) clone() *proxy {
	p := *d
	p.timeouts = map[string]config.Duration{}
	for k, v := range d.timeouts {
		p.timeouts[k] = v
	}
	p.errors = append([]errDirective(nil), d.errors...)
	p.acls = map[string][]rule{}
	// A named defaults section's rules run before the proxy's own, as
	// if they were its first (an allow among them ends both), as HAProxy
	// runs them.
	p.httpReq, p.httpRes, p.tcpReq, p.tcpRes = append([]rule(nil), d.httpReq...), append([]rule(nil), d.httpRes...), append([]rule(nil), d.tcpReq...), append([]rule(nil), d.tcpRes...)
	p.afterRes, p.tcpConn = append([]rule(nil), d.afterRes...), append([]rule(nil), d.tcpConn...)
	p.useBackend, p.servers, p.binds, p.redirects = nil, nil, nil, nil
	p.tls, p.capture = nil, config.Capture{}
	p.hasRules, p.rulesFrom = false, nil
	if d.hasRules {
		p.rulesFrom = d
	}
	p.logs = append([]logLine(nil), d.logs...)
	return &p
}

// file is what the configuration files say, section by section.
type file struct {
	first    string // the first file, named by errors about the whole model
	dir      string
	global   config.Config // workers, lua
	luaPath  []string      // lua-prepend-path
	proxies  []*proxy      // frontends, backends and listens in order
	warnings []string
	logs     []logLine // the global section's log lines
	// logTag, logHost: the global section's log-tag and
	// log-send-hostname (%H: the machine's name).
	logTag, logHost string
	// resolvers: the resolvers sections' names; dns: the one DNS
	// configuration they give (luaedge has one resolver per process).
	resolvers map[string]bool
	dns       *config.DNS
	dnsAt     pos

	compLevel int // tune.comp.maxlevel

	// procVars are the global section's set-var lines: {NAME, EXPR}.
	procVars []rule

	httpErrors map[string]*httpErrors // the http-errors sections, by name
	userlists  map[string]*userlist   // the userlist sections, by name
	// caches are the cache sections, in order; cacheAt, where each begins.
	caches  []config.Cache
	cacheAt []pos
}

// cacheLine reads a line of a cache section, as HAProxy 2.6 does.
func (f *file) cacheLine(c *config.Cache, at pos, w []string) error {
	if len(w) != 2 {
		return at.errorf("cache %s: '%s' wants one value", c.Name, w[0])
	}
	n, err := strconv.ParseInt(w[1], 10, 64)
	switch w[0] {
	case "total-max-size":
		if err != nil || n < 1 || n > 4095 {
			return at.errorf("cache %s: total-max-size: want megabytes, 1 to 4095", c.Name)
		}
		c.TotalMaxSize = n
	case "max-object-size":
		if err != nil || n < 0 {
			return at.errorf("cache %s: max-object-size: want bytes", c.Name)
		}
		c.MaxObjectSize = n
	case "max-age":
		if err != nil || n < 0 {
			return at.errorf("cache %s: max-age: want seconds", c.Name)
		}
		c.MaxAge = config.Duration(time.Duration(n) * time.Second)
		if n == 0 {
			// HAProxy takes 0 as is: objects are never fresh.
			c.MaxAge = config.Duration(time.Nanosecond)
		}
	case "process-vary":
		if w[1] != "on" && w[1] != "off" {
			return at.errorf("cache %s: process-vary: want on or off", c.Name)
		}
		c.ProcessVary = w[1] == "on"
	case "max-secondary-entries":
		if err != nil || n < 1 {
			return at.errorf("cache %s: max-secondary-entries: want a positive number", c.Name)
		}
		c.MaxSecondaryEntries = int(n)
	default:
		return at.errorf("unknown keyword '%s' in 'cache' section", w[0])
	}
	return nil
}

// procVarRE finds the proc.* variables a configuration names, in a var()
// fetch or a set-var, set-var-fmt or unset-var action.
var procVarRE = regexp.MustCompile(`\b(?:var|set-var|set-var-fmt|unset-var)\((proc\.[A-Za-z0-9_.]+)`)

// declareVars records the proc.* variables data names: HAProxy registers
// each name it reads, and a script's set_var(name, v, true) then sets it
// although it was never set (config.Lua.DeclaredVars).
func (f *file) declareVars(data []byte) {
	for _, m := range procVarRE.FindAllSubmatch(data, -1) {
		if name := string(m[1]); !slices.Contains(f.global.Lua.DeclaredVars, name) {
			f.global.Lua.DeclaredVars = append(f.global.Lua.DeclaredVars, name)
		}
	}
}

func (f *file) warn(at pos, format string, args ...any) {
	f.warnings = append(f.warnings, fmt.Sprintf("%s: %s", at, fmt.Sprintf(format, args...)))
}

// parse reads the files in order, as HAProxy does with several -f.
func parse(paths []string) (*file, error) {
	f := &file{compLevel: 1} // HAProxy compresses at level 1 unless tune.comp.maxlevel says
	defaults := map[string]*proxy{}
	last := &proxy{kind: "defaults", timeouts: map[string]config.Duration{}}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f.declareVars(data)
		if f.dir == "" {
			f.first = path
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, err
			}
			f.dir = filepath.Dir(abs)
		}
		var cur *proxy
		var errs *httpErrors // the http-errors section being read
		var ul *userlist     // the userlist section being read
		section := ""
		var conds condStack
		for i, raw := range strings.Split(string(data), "\n") {
			at := pos{path, i + 1}
			words, err := split(raw)
			if err != nil {
				return nil, at.errorf("%v", err)
			}
			if len(words) == 0 {
				continue
			}
			if strings.HasPrefix(words[0], ".") {
				if err := conds.directive(at, words, f); err != nil {
					return nil, err
				}
				continue
			}
			if conds.skipping() {
				continue
			}
			switch words[0] {
			case "global":
				section, cur = "global", nil
				continue
			case "defaults", "frontend", "backend", "listen":
				section = words[0]
				name, from := "", ""
				rest := words[1:]
				if len(rest) > 0 && rest[0] != "from" {
					name, rest = rest[0], rest[1:]
				}
				if len(rest) == 2 && rest[0] == "from" {
					from = rest[1]
				} else if len(rest) > 0 {
					return nil, at.errorf("%s: unexpected '%s'", words[0], strings.Join(rest, " "))
				}
				base := last
				if words[0] == "defaults" {
					// As HAProxy: a defaults section starts from the
					// documented settings, or from the one it names.
					base = &proxy{kind: "defaults", timeouts: map[string]config.Duration{}}
				}
				if from != "" {
					if base = defaults[from]; base == nil {
						return nil, at.errorf("%s %s: no defaults section named '%s'", words[0], name, from)
					}
				}
				cur = base.clone()
				cur.kind, cur.name, cur.at = words[0], name, at
				if words[0] == "defaults" {
					// A defaults section starts with no rules of its own.
					cur.httpReq, cur.httpRes, cur.tcpReq, cur.tcpRes, cur.afterRes, cur.tcpConn = nil, nil, nil, nil, nil, nil
					cur.rulesFrom = nil
					last = cur
					if name != "" {
						defaults[name] = cur
					}
					continue
				}
				if name == "" {
					return nil, at.errorf("%s: a name is needed", words[0])
				}
				f.proxies = append(f.proxies, cur)
				continue
			case "resolvers":
				if len(words) != 2 {
					return nil, at.errorf("resolvers: want a name")
				}
				section, cur = "resolvers", nil
				if f.resolvers == nil {
					f.resolvers = map[string]bool{}
				}
				f.resolvers[words[1]] = true
				if err := f.resolversSection(at); err != nil {
					return nil, err
				}
				continue
			case "http-errors":
				if len(words) != 2 {
					return nil, at.errorf("http-errors: want a name")
				}
				if prev := f.httpErrors[words[1]]; prev != nil {
					return nil, at.errorf("http-errors section '%s' already exists (declared at %s)", words[1], prev.at)
				}
				if f.httpErrors == nil {
					f.httpErrors = map[string]*httpErrors{}
				}
				errs = &httpErrors{at: at, replies: map[int]*errReply{}}
				f.httpErrors[words[1]] = errs
				section, cur = "http-errors", nil
				continue
			case "userlist":
				if len(words) != 2 {
					return nil, at.errorf("userlist: want a name")
				}
				if prev := f.userlists[words[1]]; prev != nil {
					return nil, at.errorf("userlist '%s' already exists (declared at %s)", words[1], prev.at)
				}
				if f.userlists == nil {
					f.userlists = map[string]*userlist{}
				}
				ul = &userlist{at: at, users: map[string]*ulUser{}, groups: map[string]bool{}}
				f.userlists[words[1]] = ul
				section, cur = "userlist", nil
				continue
			case "cache":
				if len(words) != 2 {
					return nil, at.errorf("cache: want a name")
				}
				for _, c := range f.caches {
					if c.Name == words[1] {
						return nil, at.errorf("cache '%s' already exists", words[1])
					}
				}
				f.caches = append(f.caches, config.Cache{Name: words[1]})
				f.cacheAt = append(f.cacheAt, at)
				section, cur = "cache", nil
				continue
			case "peers", "mailers", "program", "ring", "fcgi-app":
				return nil, at.unsupported(words[0] + " section")
			}
			switch section {
			case "userlist":
				if err := f.userlistLine(ul, at, words); err != nil {
					return nil, err
				}
			case "http-errors":
				if err := f.httpErrorsLine(errs, at, words); err != nil {
					return nil, err
				}
			case "cache":
				if err := f.cacheLine(&f.caches[len(f.caches)-1], at, words); err != nil {
					return nil, err
				}
			case "resolvers":
				if err := f.resolversLine(at, words); err != nil {
					return nil, err
				}
			case "global":
				if err := f.globalLine(at, words); err != nil {
					return nil, err
				}
			case "":
				return nil, at.errorf("'%s' outside of a section", words[0])
			default:
				if err := f.proxyLine(cur, at, words); err != nil {
					return nil, err
				}
			}
		}
		if len(conds) > 0 {
			return nil, pos{path, len(strings.Split(string(data), "\n"))}.errorf(".if without .endif")
		}
	}
	for i, c := range f.caches {
		if c.TotalMaxSize == 0 {
			return nil, f.cacheAt[i].errorf("cache %s: total-max-size missing (HAProxy: size not specified)", c.Name)
		}
		if c.MaxObjectSize > c.TotalMaxSize<<20/2 {
			return nil, f.cacheAt[i].errorf("cache %s: max-object-size is limited to half of total-max-size (%d)", c.Name, c.TotalMaxSize<<20/2)
		}
	}
	for _, name := range sortedKeys(f.userlists) {
		if err := f.userlists[name].check(name); err != nil {
			return nil, err
		}
	}
	// As HAProxy: a defaults section's rules serve either frontends or
	// backends, and no listen.
	users := map[*proxy]string{}
	for _, p := range f.proxies {
		d := p.rulesFrom
		if d == nil {
			continue
		}
		if p.kind == "listen" || (users[d] != "" && users[d] != p.kind) {
			return nil, p.at.errorf("%s %s: defaults section '%s' has rules, so it may serve frontends or backends, not both nor a listen (as in HAProxy)", p.kind, p.name, d.name)
		}
		users[d] = p.kind
	}
	return f, nil
}

// condStack is the .if blocks open at a line: for each, whether its
// lines are read, and whether a branch of it was taken.
type condStack []struct{ on, taken, parentOn bool }

func (c condStack) skipping() bool { return len(c) > 0 && !c[len(c)-1].on }

// directive handles .if, .elif, .else, .endif and the messages.
func (c *condStack) directive(at pos, w []string, f *file) error {
	top := func() int { return len(*c) - 1 }
	switch w[0] {
	case ".if":
		v, err := condition(w[1:])
		if err != nil {
			return at.errorf(".if: %v", err)
		}
		parentOn := !c.skipping()
		*c = append(*c, struct{ on, taken, parentOn bool }{parentOn && v, v, parentOn})
	case ".elif":
		if len(*c) == 0 {
			return at.errorf(".elif without .if")
		}
		v, err := condition(w[1:])
		if err != nil {
			return at.errorf(".elif: %v", err)
		}
		b := &(*c)[top()]
		b.on = b.parentOn && !b.taken && v
		b.taken = b.taken || v
	case ".else":
		if len(*c) == 0 {
			return at.errorf(".else without .if")
		}
		b := &(*c)[top()]
		b.on = b.parentOn && !b.taken
		b.taken = true
	case ".endif":
		if len(*c) == 0 {
			return at.errorf(".endif without .if")
		}
		*c = (*c)[:top()]
	case ".notice", ".warning", ".diag":
		if !c.skipping() {
			f.warn(at, "%s", strings.Join(w[1:], " "))
		}
	case ".alert":
		if !c.skipping() {
			return at.errorf("%s", strings.Join(w[1:], " "))
		}
	default:
		return at.unsupported(w[0])
	}
	return nil
}

// haproxyVersion is the HAProxy version whose configuration luaedge reads,
// for version_atleast() and version_before().
const haproxyVersion = "2.6"

// condition evaluates the words of an .if: one term, or terms joined
// with && and ||, each maybe negated with !.
func condition(w []string) (bool, error) {
	if len(w) == 0 {
		return false, errors.New("a condition is needed")
	}
	result, and := false, false
	for i := 0; i < len(w); i++ {
		t := w[i]
		if t == "&&" || t == "||" {
			and = t == "&&"
			continue
		}
		neg := strings.HasPrefix(t, "!")
		t = strings.TrimPrefix(t, "!")
		v, err := term(t)
		if err != nil {
			return false, err
		}
		v = v != neg
		switch {
		case i == 0:
			result = v
		case and:
			result = result && v
		default:
			result = result || v
		}
	}
	return result, nil
}

func term(t string) (bool, error) {
	if n, err := strconv.Atoi(t); err == nil {
		return n != 0, nil
	}
	name, args, err := callParts(t)
	if err != nil {
		return false, err
	}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "defined":
		_, ok := os.LookupEnv(arg(0))
		return ok, nil
	case "feature":
		return arg(0) == "LUA", nil
	case "streq":
		return arg(0) == arg(1), nil
	case "strneq":
		return arg(0) != arg(1), nil
	case "version_atleast":
		return compareVersions(haproxyVersion, arg(0)) >= 0, nil
	case "version_before":
		return compareVersions(haproxyVersion, arg(0)) < 0, nil
	}
	return false, fmt.Errorf("'%s' is not supported by luaedge", t)
}

// compareVersions compares dotted versions numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// split cuts a line into words as HAProxy does: spaces separate words,
// "double" and 'single' quotes and backslashes escape, # starts a comment.
func split(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '\\' && i+1 < len(line):
			// As HAProxy: the escapes with a meaning; any other backslash
			// stays, as in a regex's \1.
			switch n := line[i+1]; {
			case n == 'n':
				w.WriteByte('\n')
			case n == 'r':
				w.WriteByte('\r')
			case n == 't':
				w.WriteByte('\t')
			case n == ' ' || n == '\\' || n == '#' || n == '\'' || n == '"' || (n == '$' && quote == '"'):
				w.WriteByte(n)
			case n == 'x' && i+3 < len(line) && isHex(line[i+2]) && isHex(line[i+3]):
				v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
				w.WriteByte(byte(v))
				i += 2
			default:
				w.WriteByte('\\')
				i--
			}
			i++
			in = true
		case quote == '"' && c == '$':
			// Environment variables: $NAME, ${NAME}, ${NAME-default}.
			name, def, hasDef, n := envRef(line[i+1:])
			if n == 0 {
				w.WriteByte(c)
				continue
			}
			v, ok := os.LookupEnv(name)
			if !ok && hasDef {
				v = def
			}
			w.WriteString(v)
			i += n
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '#':
			i = len(line)
		case c == ' ' || c == '\t' || c == '\r':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// envRef reads a variable reference after a '$': it returns the name,
// the default, and how many bytes it took (0 if it is not one).
func envRef(s string) (name, def string, hasDef bool, n int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", "", false, 0
		}
		inner := s[1:end]
		name, def, hasDef = strings.Cut(inner, "-")
		return name, def, hasDef, end + 1
	}
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], "", false, n
}

// resolversSection starts a resolvers section: luaedge has one DNS
// resolver (the dns key), which every resolvers section configures.
func (f *file) resolversSection(at pos) error {
	if f.dns != nil {
		f.warn(at, "luaedge has one DNS resolver: the nameservers of this resolvers section and of the one at %s are asked in order, whichever section a rule names", f.dnsAt)
		return nil
	}
	f.dns, f.dnsAt = &config.DNS{}, at
	return nil
}

// resolversLine reads a line of a resolvers section.
func (f *file) resolversLine(at pos, w []string) error {
	switch w[0] {
	case "nameserver":
		if len(w) < 3 {
			return at.errorf("nameserver: want a name and an address")
		}
		addr := w[2]
		for _, pre := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
			addr = strings.TrimPrefix(addr, pre)
		}
		if strings.Contains(addr, "@") {
			return at.errorf("nameserver %s: luaedge asks DNS servers over UDP (then TCP for a truncated answer): only an address[:port] is supported", w[2])
		}
		if !containsString(f.dns.Nameservers, addr) {
			f.dns.Nameservers = append(f.dns.Nameservers, addr)
		}
	case "parse-resolv-conf":
		// The servers of /etc/resolv.conf: luaedge's default when it is
		// given none.
	case "hold":
		if len(w) != 3 {
			return at.errorf("hold: want a status and a time")
		}
		d, err := duration(w[2])
		if err != nil {
			return at.errorf("hold %s: %v", w[1], err)
		}
		switch w[1] {
		case "valid":
			f.dns.MaxTTL = d
		case "nx":
			f.dns.NegativeTTL = d
		default:
			f.warn(at, "'hold %s' has no equivalent in luaedge and is ignored (see dns.max_ttl and dns.negative_ttl)", w[1])
		}
	case "timeout":
		if len(w) == 3 && w[1] == "resolve" {
			d, err := duration(w[2])
			if err != nil {
				return at.errorf("timeout resolve: %v", err)
			}
			f.dns.Timeout = d
			return nil
		}
		f.warn(at, "'%s' has no equivalent in luaedge and is ignored (see dns.timeout)", strings.Join(w, " "))
	case "resolve_retries", "accepted_payload_size":
		f.warn(at, "'%s' has no equivalent in luaedge and is ignored", w[0])
	default:
		return at.unsupported(w[0])
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// noEffect are keywords that change nothing luaedge does (processes,
// logging targets, stats): accepted with a warning.
var noEffect = map[string]bool{
	"daemon": true, "user": true, "group": true, "uid": true, "gid": true, "chroot": true, "pidfile": true,
	"master-worker": true, "debug": true,
	"ca-base": true, "crt-base": true, "ssl-default-bind-ciphers": true, "ssl-default-bind-ciphersuites": true,
	"ssl-default-bind-options": true, "ssl-default-server-ciphers": true, "ssl-default-server-options": true,
	"ssl-default-server-ciphersuites": true, "tune.ssl.default-dh-param": true, "stats": true, "spread-checks": true,
	"hard-stop-after": true, "insecure-fork-wanted": true, "expose-experimental-directives": true,
	"tune.bufsize": true, "tune.maxrewrite": true, "tune.idle-pool.shared": true, "cpu-map": true, "quiet": true, "h1-case-adjust": true,
}

func (f *file) globalLine(at pos, w []string) error {
	arg := func(n int) (string, error) {
		if len(w) != n+1 {
			return "", at.errorf("%s: want %d argument(s)", w[0], n)
		}
		return w[n], nil
	}
	switch w[0] {
	case "lua-load", "lua-load-per-thread":
		// luaedge has one Lua state per worker: both are per thread.
		if len(w) < 2 {
			return at.errorf("%s: a file is needed", w[0])
		}
		if len(w) > 2 {
			return at.errorf("%s: arguments to the script are not supported by luaedge", w[0])
		}
		// Left as written (the scripts' errors name it so, as HAProxy's
		// do) when the configuration's folder, from which the YAML's
		// paths start, finds the same file.
		load := w[1]
		if abs, ok := inWorkDir(load); ok && abs != filepath.Join(f.dir, load) {
			load = abs
		}
		f.global.Lua.Load = append(f.global.Lua.Load, load)
	case "lua-prepend-path":
		if len(w) < 2 || len(w) > 3 || (len(w) == 3 && w[2] != "path" && w[2] != "cpath") {
			return at.errorf("lua-prepend-path: want a path and optionally path or cpath")
		}
		if len(w) == 3 && w[2] == "cpath" {
			return at.errorf("lua-prepend-path ... cpath: C modules are not supported by luaedge")
		}
		f.luaPath = append(f.luaPath, w[1])
	case "set-var":
		// set-var proc.NAME EXPR: set at start (build's procVars).
		if len(w) != 3 {
			return at.errorf("set-var: want a proc.* variable name and a sample expression")
		}
		if !strings.HasPrefix(w[1], "proc.") || len(w[1]) == len("proc.") {
			return at.errorf("set-var: cannot set variable '%s', only scope 'proc' is permitted in the global section (as in HAProxy)", w[1])
		}
		f.procVars = append(f.procVars, rule{at: at, words: w[1:]})
		// HAProxy registers the name although the expression may give
		// nothing: set_var(..., ifexist) sets it then.
		if !slices.Contains(f.global.Lua.DeclaredVars, w[1]) {
			f.global.Lua.DeclaredVars = append(f.global.Lua.DeclaredVars, w[1])
		}
	case "expose-experimental-directives":
		// HAProxy asks for it before normalize-uri and other experimental
		// keywords; luaedge takes those it supports without it.
	case "nbthread":
		v, err := arg(1)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return at.errorf("nbthread: want a number of threads, got '%s'", v)
		}
		f.global.Workers = n
	case "tune.lua.maxmem":
		v, err := arg(1)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return at.errorf("tune.lua.maxmem: want megabytes, got '%s'", v)
		}
		if n > 0 {
			f.global.Lua.MemoryLimit = config.Size(n << 20)
		}
	case "tune.lua.session-timeout", "tune.lua.burst-timeout":
		v, err := arg(1)
		if err != nil {
			return err
		}
		d, err := duration(v)
		if err != nil {
			return at.errorf("%s: %v", w[0], err)
		}
		if w[0] == "tune.lua.session-timeout" {
			f.global.Lua.SessionTimeout = &d
		} else {
			f.global.Lua.BurstTimeout = &d
		}
	case "log":
		l, err := f.logTarget(at, w)
		if err != nil {
			return err
		}
		if l.to != "" {
			f.logs = append(f.logs, l)
		}
	case "log-tag":
		v, err := arg(1)
		if err != nil {
			return err
		}
		f.logTag = v
	case "log-send-hostname":
		if len(w) > 2 {
			return at.errorf("log-send-hostname: want at most a name")
		}
		f.logHost = "%H"
		if len(w) == 2 {
			f.logHost = w[1]
		}
	case "setenv", "presetenv":
		// As HAProxy: for the lines after it and the scripts (os.getenv).
		if len(w) != 3 {
			return at.errorf("%s: want a name and a value", w[0])
		}
		if _, set := os.LookupEnv(w[1]); w[0] == "setenv" || !set {
			if err := os.Setenv(w[1], w[2]); err != nil {
				return at.errorf("%s: %v", w[0], err)
			}
		}
	case "unsetenv":
		for _, name := range w[1:] {
			os.Unsetenv(name)
		}
	case "tune.lua.forced-yield", "tune.lua.service-timeout", "tune.lua.task-timeout", "tune.lua.log.loggers", "tune.lua.log.stderr":
		f.warn(at, "'%s' has no equivalent in luaedge and is ignored (see lua.forced_yield and the other CPU limits)", w[0])
	default:
		if ok, err := f.networkGlobal(at, w); ok {
			return err
		}
		if w[0] == "stats" && len(w) > 2 && w[1] == "socket" && !strings.Contains(w[2], "@") && !strings.Contains(w[2], ":") && f.global.RuntimeSocket == "" {
			// The runtime API on a Unix socket: luaedge's runtime_socket
			// (which takes every command, as level admin).
			f.global.RuntimeSocket = w[2]
			return nil
		}
		if noEffect[w[0]] {
			f.warn(at, "'%s' has no effect in luaedge", w[0])
			return nil
		}
		return at.unsupported(w[0])
	}
	return nil
}

// duration reads an HAProxy time: a number with an optional unit (us, ms,
// s, m, h, d); milliseconds without one.
func duration(v string) (config.Duration, error) {
	i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := v, "ms"
	if i >= 0 {
		num, unit = v[:i], v[i:]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	mult := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if err != nil || mult == 0 {
		return 0, fmt.Errorf("invalid time '%s' (want e.g. 5s, 500ms, 1m)", v)
	}
	return config.Duration(time.Duration(n) * mult), nil
}

func (f *file) proxyLine(p *proxy, at pos, w []string) error {
	kw := w[0]
	isDefaults := p.kind == "defaults"
	fe := p.kind == "frontend" || p.kind == "listen"
	be := p.kind == "backend" || p.kind == "listen"
	only := func(ok bool) error {
		if !ok {
			return at.errorf("'%s' is not allowed in a %s section", kw, p.kind)
		}
		return nil
	}
	switch kw {
	case "mode":
		if len(w) != 2 || (w[1] != "http" && w[1] != "tcp") {
			return at.errorf("mode: want http or tcp")
		}
		p.mode = w[1]
	case "bind":
		if err := only(fe); err != nil {
			return err
		}
		if len(w) < 2 {
			return at.errorf("bind: an address is needed")
		}
		opts, acceptProxy := withoutAcceptProxy(w[2:])
		if len(p.binds) > 0 && acceptProxy != p.acceptProxy {
			return at.errorf("bind: luaedge takes accept-proxy per frontend; every bind of %s must have it, or none", p.name)
		}
		p.acceptProxy = acceptProxy
		t, err := bindTLS(at, opts, f.dir)
		if err != nil {
			return err
		}
		// luaedge serves TLS per frontend: its binds agree.
		if len(p.binds) > 0 && !reflect.DeepEqual(t, p.tls) {
			return at.errorf("bind: luaedge takes one TLS setting per frontend; every bind of %s must have the same ssl options, or none", p.name)
		}
		p.tls = t
		for _, a := range strings.Split(w[1], ",") {
			if strings.HasPrefix(a, ":") || strings.HasPrefix(a, "*:") {
				a = "0.0.0.0:" + a[strings.IndexByte(a, ':')+1:]
			}
			if strings.HasPrefix(a, "ipv4@") {
				a = strings.TrimPrefix(a, "ipv4@")
			}
			if strings.Contains(a, "@") || strings.HasPrefix(a, "/") {
				return at.errorf("bind %s: only address:port is supported by luaedge", a)
			}
			p.binds = append(p.binds, a)
		}
	case "timeout":
		if len(w) != 3 {
			return at.errorf("timeout: want a name and a time")
		}
		switch w[1] {
		case "client", "server", "connect", "http-request", "http-keep-alive", "tunnel", "queue", "tarpit":
		case "check", "client-fin", "server-fin":
			f.warn(at, "'timeout %s' has no equivalent in luaedge and is ignored", w[1])
			return nil
		default:
			return at.unsupported("timeout " + w[1])
		}
		d, err := duration(w[2])
		if err != nil {
			return at.errorf("timeout %s: %v", w[1], err)
		}
		p.timeouts[w[1]] = d
	case "option", "no":
		return f.option(p, at, w)
	case "monitor-uri":
		if len(w) != 2 {
			return at.errorf("monitor-uri: want a URI")
		}
		p.monitorURI = w[1]
	case "log":
		if isDefaults || fe {
			return f.proxyLog(p, at, w)
		}
		f.warn(at, "'log' in a backend has no effect in luaedge: the frontend logs each request")
	case "log-tag":
		if len(w) != 2 {
			return at.errorf("log-tag: want a tag")
		}
		p.logTag = w[1]
	case "log-format":
		if len(w) != 2 {
			return at.errorf("log-format: want one format (quote it)")
		}
		p.logFormat = rule{at: at, words: w[1:]}
	case "unique-id-format":
		if err := only(fe || isDefaults); err != nil {
			return err
		}
		if len(w) != 2 {
			return at.errorf("unique-id-format: want one format (quote it)")
		}
		p.uniqueID = rule{at: at, words: w[1:]}
	case "unique-id-header":
		if err := only(fe || isDefaults); err != nil {
			return err
		}
		if len(w) != 2 {
			return at.errorf("unique-id-header: want a header name")
		}
		p.uniqueIDHeader = w[1]
	case "capture":
		if err := only(fe); err != nil {
			return err
		}
		return f.captureLine(p, at, w)
	case "declare":
		if err := only(fe); err != nil {
			return err
		}
		if len(w) != 5 || w[1] != "capture" || w[3] != "len" {
			return at.errorf("declare: want 'declare capture request|response len N'")
		}
		return f.addCapture(p, at, w[2], "", w[4])
	case "maxconn", "compression":
		_, err := f.networkProxy(p, at, w)
		return err
	case "retries":
		if !be && !isDefaults {
			f.warn(at, "'retries' has no effect in a frontend")
			return nil
		}
		if len(w) != 2 {
			return at.errorf("retries: want a number of retries")
		}
		n, err := strconv.Atoi(w[1])
		if err != nil || n < 0 {
			return at.errorf("retries: want a number of retries")
		}
		p.retries = &n
	case "retry-on":
		if !be && !isDefaults {
			return at.errorf("'retry-on' only available in backend or listen section")
		}
		if _, err := config.ParseRetryOn(w[1:]); err != nil {
			return at.errorf("retry-on: %v", err)
		}
		p.retryOn = w[1:]
	case "description", "stats", "fullconn":
		f.warn(at, "'%s' has no effect in luaedge", kw)
	case "default_backend":
		if len(w) != 2 {
			return at.errorf("default_backend: want a backend name")
		}
		if err := only(fe || isDefaults); err != nil {
			return err
		}
		p.defBackend = w[1]
	case "use_backend":
		if err := only(fe); err != nil {
			return err
		}
		if len(w) < 2 {
			return at.errorf("use_backend: want a backend name")
		}
		u := useBackend{at: at, target: w[1]}
		if len(w) > 2 {
			if w[2] != "if" && w[2] != "unless" {
				return at.errorf("use_backend: want 'if' or 'unless' after the backend, got '%s'", w[2])
			}
			u.cond = w[2:]
		}
		p.useBackend = append(p.useBackend, u)
	case "acl":
		if err := only(!isDefaults); err != nil {
			return err
		}
		if len(w) < 3 {
			return at.errorf("acl: want a name and a criterion")
		}
		p.acls[w[1]] = append(p.acls[w[1]], rule{at: at, words: w[2:]})
	case "http-request", "http-response", "tcp-request", "tcp-response", "http-after-response":
		if isDefaults && p.name == "" {
			// As HAProxy: rules only in named defaults sections.
			return at.errorf("%s is not allowed in anonymous 'defaults' sections (as in HAProxy): name the section", strings.Join(w[:min(2, len(w))], " "))
		}
		if isDefaults && ((kw != "tcp-request" && kw != "tcp-response") || len(w) < 2 || w[1] != "inspect-delay") {
			p.hasRules = true
		}
		return f.ruleLine(p, at, w)
	case "server", "default-server":
		if err := only(be || (isDefaults && kw == "default-server")); err != nil {
			return err
		}
		if kw == "default-server" {
			// Checked now, applied to each server line after it.
			if _, err := f.serverOptions(&proxy{}, at, "default-server", w[1:]); err != nil {
				return err
			}
			p.defServer = append(append([]string{}, p.defServer...), w[1:]...)
			return nil
		}
		return f.server(p, at, w)
	case "balance":
		if err := only(be || isDefaults); err != nil {
			return err
		}
		line := strings.Join(w[1:], " ")
		if err := backend.CheckBalance(line); err != nil {
			return at.errorf("%v", err)
		}
		p.balance = line
	case "hash-type":
		if err := only(be || isDefaults); err != nil {
			return err
		}
		line := strings.Join(w[1:], " ")
		if err := backend.CheckHashType(line); err != nil {
			return at.errorf("hash-type: %v", err)
		}
		p.hashType = line
	case "http-check":
		return f.httpCheckLine(p, at, w)
	case "stick-table":
		if err := only(!isDefaults); err != nil {
			return err
		}
		return f.stickTable(p, at, w)
	case "errorfile":
		code, r, err := f.errorfile(at, w)
		if err != nil {
			return err
		}
		p.errors = append(p.errors, errDirective{at: at, status: code, reply: r})
	case "http-error":
		d, err := f.httpError(at, w[1:])
		if err != nil {
			return err
		}
		p.errors = append(p.errors, d)
	case "errorloc", "errorloc302", "errorloc303":
		code, r, err := errorloc(at, w)
		if err != nil {
			return err
		}
		p.errors = append(p.errors, errDirective{at: at, status: code, reply: r})
	case "errorfiles":
		d, err := f.errorfilesLine(at, w)
		if err != nil {
			return err
		}
		p.errors = append(p.errors, d)
	case "http-reuse":
		f.warn(at, "'http-reuse' has no effect in luaedge: idle server connections are reused by each loop")
	case "redirect":
		if isDefaults {
			return at.errorf("'redirect' in a defaults section is not supported by luaedge")
		}
		p.redirects = append(p.redirects, rule{at: at, words: w})
	case "cookie":
		if err := only(be || isDefaults); err != nil {
			return err
		}
		ck, err := cookieLine(at, w)
		if err != nil {
			return err
		}
		p.cookie = ck
	case "filter":
		if len(w) >= 2 && w[1] == "cache" {
			// luaedge stores the server's body before compressing it,
			// whatever the order of filters: the declaration changes
			// nothing.
			if len(w) != 3 {
				return at.errorf("'filter cache' expects a cache name")
			}
			f.warn(at, "'filter cache %s' has no effect in luaedge: the cache-use and cache-store rules work without it", w[2])
			return nil
		}
		switch {
		case be && !fe:
			return at.errorf("'filter' in a backend section is not supported by luaedge: declare the filter in the frontend")
		case !fe:
			return only(false)
		case len(w) < 2:
			return at.errorf("'filter' expects a filter name")
		case !strings.HasPrefix(w[1], "lua.") || len(w[1]) == len("lua."):
			return at.errorf("'filter %s' is not supported by luaedge: only Lua filters (filter lua.NAME)", w[1])
		}
		for _, a := range w[2:] {
			if strings.Contains(a, `"`) {
				return at.errorf("'filter %s': an argument holding '\"' is not supported by luaedge", w[1])
			}
		}
		p.filters = append(p.filters, rule{at: at, words: w[1:]})
	case "http-send-name-header":
		if err := only(be || isDefaults); err != nil {
			return err
		}
		if len(w) != 2 {
			return at.errorf("http-send-name-header: want a field name")
		}
		p.nameHeader = w[1]
	case "dynamic-cookie-key":
		if err := only(be || isDefaults); err != nil {
			return err
		}
		if len(w) != 2 {
			return at.errorf("dynamic-cookie-key: want a secret key")
		}
		p.dynamicKey = w[1]
	case "use-server", "stick", "force-persist", "ignore-persist":
		if err := only(be); err != nil {
			return err
		}
		return persistLine(p, at, w)
	case "reqadd", "rspadd", "dispatch", "source", "persist", "hash-balance-factor", "email-alert", "monitor", "tcp-check", "external-check", "server-template", "load-server-state-from-file":
		return at.unsupported(kw)
	default:
		return at.unsupported(kw)
	}
	return nil
}

func (f *file) option(p *proxy, at pos, w []string) error {
	neg := w[0] == "no"
	if neg && len(w) == 2 && w[1] == "log" {
		p.logs = nil
		return nil
	}
	if neg {
		w = w[1:]
		if len(w) < 2 || w[0] != "option" {
			return at.errorf("no: want 'no option NAME'")
		}
	}
	if len(w) < 2 {
		return at.errorf("option: a name is needed")
	}
	name := w[1]
	switch name {
	case "httplog", "tcplog":
		p.logOption = name
		if neg {
			p.logOption = ""
		}
		if len(w) > 2 {
			f.warn(at, "'option %s %s': luaedge logs HAProxy's %s format", name, strings.Join(w[2:], " "), name)
		}
	case "log-separate-errors":
		p.logErrors = !neg
	case "dontlognull":
		p.dontLogNull = !neg
	case "redispatch":
		p.redispatch = 0
		if neg {
			return nil
		}
		p.redispatch = -1 // HAProxy's default interval
		if len(w) > 2 {
			n, err := strconv.Atoi(w[2])
			if err != nil || len(w) > 3 {
				return at.errorf("option redispatch: want an optional integer interval")
			}
			p.redispatch = n
		}
	case "http-keep-alive", "http-server-close", "http-ignore-probes", "dontlog-normal", "log-health-checks", "splice-auto", "http-no-delay", "logasap", "tcp-smart-accept", "tcp-smart-connect", "contstats", "socket-stats", "allbackups", "clitcpka", "srvtcpka", "tcpka":
		f.warn(at, "'option %s' has no effect in luaedge", name)
	case "httpclose":
		p.httpclose = !neg
	case "persist":
		p.persistDown = !neg
	case "abortonclose":
		p.abortOnClose = !neg
	case "http-buffer-request":
		p.bufferReq = !neg
	case "forwardfor":
		p.forwardfor, p.forwardforExcept, p.forwardforIfNone = "", "", false
		if neg {
			return nil
		}
		p.forwardfor = "x-forwarded-for"
		for i := 2; i < len(w); i++ {
			switch {
			case w[i] == "header" && i+1 < len(w):
				p.forwardfor = strings.ToLower(w[i+1])
				i++
			case w[i] == "except" && i+1 < len(w):
				p.forwardforExcept = w[i+1]
				i++
			case w[i] == "if-none":
				p.forwardforIfNone = true
			default:
				return at.unsupported("option forwardfor " + w[i])
			}
		}
	case "originalto":
		if neg {
			return at.errorf("'no option originalto': negation is not supported for this option (as in HAProxy)")
		}
		p.originalTo, p.originalToExcept, p.originalToAt = "x-original-to", "", at
		for i := 2; i < len(w); i++ {
			switch {
			case w[i] == "header" && i+1 < len(w):
				p.originalTo = strings.ToLower(w[i+1])
				i++
			case w[i] == "except" && i+1 < len(w):
				p.originalToExcept = w[i+1]
				i++
			default:
				return at.errorf("option originalto: only 'except NETWORK' and 'header NAME' are taken, got '%s'", w[i])
			}
		}
	case "http-restrict-req-hdr-names":
		if neg {
			return at.errorf("'no option http-restrict-req-hdr-names': negation is not supported for this option (as in HAProxy)")
		}
		if len(w) != 3 || (w[2] != "preserve" && w[2] != "delete" && w[2] != "reject") {
			return at.errorf("option http-restrict-req-hdr-names: want preserve, delete or reject")
		}
		p.restrictHdrNames, p.restrictAt = w[2], at
	case "httpchk":
		p.httpCheck = true
		p.check.Type = "http"
		p.check.Path = "/"
		args := w[2:]
		switch len(args) {
		case 0:
		case 1:
			p.check.Path = args[0]
		case 2, 3:
			if args[0] != "GET" && args[0] != "HEAD" && args[0] != "OPTIONS" {
				return at.errorf("option httpchk %s: only GET, HEAD and OPTIONS checks are supported by luaedge", args[0])
			}
			p.check.Path = args[1]
			if len(args) == 3 {
				return at.errorf("option httpchk: a version and headers are not supported by luaedge (use http-check send)")
			}
		}
	default:
		return at.unsupported("option " + name)
	}
	return nil
}

func (f *file) httpCheckLine(p *proxy, at pos, w []string) error {
	if len(w) < 2 {
		return at.errorf("http-check: want send, expect or connect")
	}
	p.httpCheck = true
	p.check.Type = "http"
	if p.check.Path == "" {
		p.check.Path = "/"
	}
	switch w[1] {
	case "send":
		for i := 2; i+1 < len(w); i += 2 {
			switch w[i] {
			case "meth":
			case "uri":
				p.check.Path = w[i+1]
			case "hdr":
				if !strings.EqualFold(w[i+1], "host") || i+2 >= len(w) {
					return at.errorf("http-check send hdr: only a Host header is supported by luaedge")
				}
				p.check.Host = w[i+2]
				i++
			default:
				return at.unsupported("http-check send " + w[i])
			}
		}
	case "expect":
		if len(w) != 4 || w[2] != "status" {
			return at.errorf("http-check expect: only 'expect status CODE' is supported by luaedge")
		}
		n, err := strconv.Atoi(w[3])
		if err != nil {
			return at.errorf("http-check expect status: only one status code is supported by luaedge, got '%s'", w[3])
		}
		p.check.ExpectStatus = n
	default:
		return at.unsupported("http-check " + w[1])
	}
	return nil
}

func (f *file) server(p *proxy, at pos, w []string) error {
	if len(w) < 3 {
		return at.errorf("server: want a name and an address")
	}
	s, err := f.serverOptions(p, at, w[1], append(append([]string{}, p.defServer...), w[3:]...))
	if err != nil {
		return err
	}
	s.Address, err = serverAddr(w[2])
	if err != nil {
		return at.errorf("server %s: %v", w[1], err)
	}
	p.servers = append(p.servers, s)
	// luaedge checks every server of a backend with checks.
	for _, x := range p.servers {
		if p.check.Type != "" && portFollows(x.Address) && !strings.HasPrefix(x.Address, "0.0.0.0:") && !strings.HasPrefix(x.Address, "[::]:") {
			return at.errorf("server %s has neither service port nor check port (its port follows the destination; luaedge checks every server of a backend with checks, and has no check port)", x.Name)
		}
	}
	return nil
}

// serverAddr reads a server's address as HAProxy does: without a port
// (or with 0) the destination's port, +N / -N the destination's port
// moved by N; 0.0.0.0, :: or * the destination's address. The model
// writes the first as port 0 and the last as 0.0.0.0 (see backend's
// Server.DialAddr).
func serverAddr(a string) (string, error) {
	for _, pre := range []string{"ipv4@", "ipv6@"} {
		a = strings.TrimPrefix(a, pre)
	}
	if strings.HasPrefix(a, "*") {
		a = "0.0.0.0" + a[1:]
	}
	if _, _, err := net.SplitHostPort(a); err == nil {
		return a, nil
	}
	if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
		return a + ":0", nil
	}
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a + ":0", nil
	}
	// An IPv6 address without brackets: its last colon starts the port,
	// as HAProxy reads it.
	if _, err := netip.ParseAddr(a[:i]); err == nil {
		return net.JoinHostPort(a[:i], a[i+1:]), nil
	}
	return "", fmt.Errorf("invalid address '%s'", a)
}

// portFollows reports whether a server address's port is the
// destination's (0, +N, -N).
func portFollows(addr string) bool {
	_, port, _ := net.SplitHostPort(addr)
	return port == "0" || strings.HasPrefix(port, "+") || strings.HasPrefix(port, "-")
}

// serverOptions reads the options of a server or default-server line
// into a Server and p's check.
func (f *file) serverOptions(p *proxy, at pos, name string, w []string) (config.Server, error) {
	s := config.Server{Name: name}
	check, disabled, ssl := false, false, false
	var tls config.ServerTLS // ssl's settings
	num := func(i int) (int, error) {
		if i+1 >= len(w) {
			return 0, at.errorf("server %s: %s needs a value", s.Name, w[i])
		}
		n, err := strconv.Atoi(w[i+1])
		if err != nil {
			return 0, at.errorf("server %s: %s: invalid number '%s'", s.Name, w[i], w[i+1])
		}
		return n, nil
	}
	for i := 0; i < len(w); i++ {
		var err error
		switch w[i] {
		case "check":
			check = true
		case "backup":
			s.Backup = true
		case "cookie":
			if i+1 >= len(w) {
				return s, at.errorf("server %s: cookie needs a value", s.Name)
			}
			s.Cookie = w[i+1]
			i++
		case "disabled":
			disabled = true
		case "weight":
			s.Weight, err = num(i)
			i++
		case "maxconn":
			s.MaxConn, err = num(i)
			i++
		case "send-proxy":
			s.SendProxy = "v1"
		case "send-proxy-v2":
			s.SendProxy = "v2"
		case "no-send-proxy", "no-send-proxy-v2":
			s.SendProxy = "none"
		case "rise":
			p.check.Rise, err = num(i)
			i++
		case "fall":
			p.check.Fall, err = num(i)
			i++
		case "enabled":
			disabled = false
		case "ssl":
			ssl = true
		case "no-ssl":
			ssl = false
		case "verify", "ca-file", "sni":
			if i+1 >= len(w) {
				return s, at.errorf("server %s: %s needs a value", s.Name, w[i])
			}
			v := w[i+1]
			i++
			switch w[i-1] {
			case "verify":
				if v != "none" && v != "required" {
					return s, at.errorf("server %s: verify none or required, got '%s'", s.Name, v)
				}
				tls.Verify = v
			case "ca-file":
				tls.CAFile = resolvePath(f.dir, v)
			default:
				name, ok := strings.CutPrefix(v, "str(")
				if !ok || !strings.HasSuffix(name, ")") {
					return s, at.errorf("server %s: sni %s: only a fixed name, sni str(NAME), is supported by luaedge", s.Name, v)
				}
				tls.SNI = strings.TrimSuffix(name, ")")
			}
		case "check-ssl":
			// luaedge checks a server with TLS over TLS.
		case "inter":
			if i+1 >= len(w) {
				return s, at.errorf("server %s: inter needs a time", s.Name)
			}
			p.check.Interval, err = duration(w[i+1])
			i++
		default:
			return s, at.unsupported("server ... " + w[i])
		}
		if err != nil {
			return s, err
		}
	}
	if check && p.check.Type == "" {
		p.check.Type = "tcp"
	}
	if ssl {
		s.TLS = &tls
	}
	if name != "default-server" {
		s.Disabled = disabled
	}
	return s, nil
}

func (f *file) stickTable(p *proxy, at pos, w []string) error {
	st := &config.StickTable{}
	for i := 1; i < len(w); i++ {
		if i+1 >= len(w) {
			return at.errorf("stick-table: %s needs a value", w[i])
		}
		v := w[i+1]
		switch w[i] {
		case "type":
			switch v {
			case "ip", "ipv6", "integer", "string":
			default:
				return at.errorf("stick-table type %s: only ip, ipv6, integer and string are supported by luaedge", v)
			}
			st.Type = v
			if v == "string" && i+3 < len(w) && w[i+2] == "len" {
				i += 2
			}
		case "size":
			n, err := config.ParseSize(v)
			if err != nil {
				return at.errorf("stick-table size: %v", err)
			}
			st.Size = config.Size(n)
		case "expire":
			d, err := duration(v)
			if err != nil {
				return at.errorf("stick-table expire: %v", err)
			}
			st.Expire = d
		case "store":
			for _, item := range splitTop(v, ',') {
				if name, _, _ := strings.Cut(item, "("); uncounted[strings.TrimSpace(name)] {
					return at.errorf("'stick-table ... store %s' is not supported by luaedge: its tables do not count %s", item, name)
				}
				st.Store = append(st.Store, item)
			}
		default:
			return at.unsupported("stick-table ... " + w[i])
		}
		i++
	}
	p.stick = st
	return nil
}

// uncounted are the stick table counters of HAProxy 2.6 that luaedge's
// tables do not have.
var uncounted = map[string]bool{
	"sess_cnt": true, "sess_rate": true, "http_fail_cnt": true, "http_fail_rate": true,
	"bytes_in_rate": true, "bytes_out_rate": true,
}

func (f *file) ruleLine(p *proxy, at pos, w []string) error {
	if len(w) < 2 {
		return at.errorf("%s: an action is needed", w[0])
	}
	r := rule{at: at, words: w[1:]}
	switch w[0] {
	case "http-request":
		if w[1] == "early-hint" {
			return f.earlyHint(p, at, w)
		}
		if w[1] == "wait-for-body" {
			return f.trackOrWait(p, at, w)
		}
		if w[1] == "capture" {
			return f.captureRule(p, at, w)
		}
		p.httpReq = append(p.httpReq, r)
	case "http-response":
		if w[1] == "capture" {
			return f.captureRule(p, at, w)
		}
		p.httpRes = append(p.httpRes, r)
	case "http-after-response":
		if len(w) >= 3 && w[1] == "capture" {
			return f.captureRule(p, at, w)
		}
		p.afterRes = append(p.afterRes, r)
	case "tcp-request":
		switch w[1] {
		case "inspect-delay":
			if len(w) != 3 {
				return at.errorf("tcp-request inspect-delay: want a time")
			}
			d, err := duration(w[2])
			if err != nil {
				return at.errorf("tcp-request inspect-delay: %v", err)
			}
			p.timeouts["inspect-delay"] = d
			p.inspectAt = at
		case "connection", "session", "content":
			if len(w) < 3 {
				return at.errorf("tcp-request %s: an action is needed", w[1])
			}
			if strings.HasPrefix(w[2], "track-sc") && w[1] != "content" {
				return f.trackOrWait(p, at, append([]string{w[0]}, w[2:]...))
			}
			if w[1] != "content" {
				if w[2] == "accept" && len(w) == 3 {
					return nil // accepting every connection is what happens anyway
				}
				if addrActions[w[2]] {
					if p.kind == "backend" {
						return at.errorf("tcp-request %s is not allowed in a backend", w[1])
					}
					p.tcpConn = append(p.tcpConn, rule{at: at, words: w[2:]})
					return nil
				}
				return at.unsupported("tcp-request " + w[1] + " " + w[2])
			}
			p.tcpReq = append(p.tcpReq, rule{at: at, words: w[2:], content: true})
		default:
			return at.unsupported("tcp-request " + w[1])
		}
	case "tcp-response":
		if w[1] == "inspect-delay" {
			// The backend's, as HAProxy's (a listen section is one).
			if p.kind == "frontend" {
				return at.errorf("tcp-response inspect-delay is not allowed in a frontend (as in HAProxy): set it in the backend")
			}
			if len(w) != 3 {
				return at.errorf("tcp-response inspect-delay: want a time")
			}
			d, err := duration(w[2])
			if err != nil {
				return at.errorf("tcp-response inspect-delay: %v", err)
			}
			p.timeouts["res-inspect-delay"] = d
			return nil
		}
		if w[1] != "content" || len(w) < 3 {
			return at.unsupported("tcp-response " + w[1])
		}
		p.tcpRes = append(p.tcpRes, rule{at: at, words: w[2:]})
	}
	return nil
}

// earlyHint reads http-request early-hint NAME FMT [if|unless COND]. A
// rule without a condition right after another early-hint rule joins
// that rule's 103 (rule.hints), as HAProxy 2.6 merges them.
func (f *file) earlyHint(p *proxy, at pos, w []string) error {
	if ci := condIndex(w[2:]); ci != 2 {
		return at.errorf("http-request early-hint: want a field name and a value (quote it)")
	}
	r := rule{at: at, words: w[1:]}
	if n := len(p.httpReq); n > 0 && len(w) == 4 {
		if last := &p.httpReq[n-1]; last.words[0] == "early-hint" {
			last.hints = append(last.hints, r)
			return nil
		}
	}
	p.httpReq = append(p.httpReq, r)
	return nil
}

// trackOrWait handles tcp-request connection / session track-sc0 src
// [table T], which is the frontend's track (every connection counted,
// once), and wait-for-body, the frontend's http_buffer_request. The
// track-scN rules of requests are compiled with the other rules.
func (f *file) trackOrWait(p *proxy, at pos, w []string) error {
	if w[1] == "wait-for-body" {
		for _, x := range w[2:] {
			if x == "if" || x == "unless" {
				return at.errorf("http-request wait-for-body with a condition is not supported by luaedge")
			}
		}
		p.bufferReq = true
		return nil
	}
	const only = "%s %s: only 'track-sc0 src [table T]' without a condition is supported by luaedge on connections (use http-request or tcp-request content track-scN for the others)"
	if w[1] != "track-sc0" || len(w) < 3 || w[2] != "src" {
		return at.errorf(only, w[0], w[1])
	}
	t := &config.Track{Key: "src"}
	rest := w[3:]
	if len(rest) >= 2 && rest[0] == "table" {
		t.Table, rest = rest[1], rest[2:]
	}
	if len(rest) > 0 {
		return at.errorf(only, w[0], w[1])
	}
	p.track = t
	return nil
}

// logLine is a log line of a section: its target as an access_log.to
// ("global" for log global), its facility and its max and min levels
// ("" when left out), its format, len and sample.
type logLine struct {
	to, facility, level, minLevel string
	format, sample                string
	length                        int
}

// logTarget reads a log line (log TARGET [len N] [format F] [sample R:S]
// FACILITY [LEVEL [MINLEVEL]]): its to is "" for log global, and for
// targets luaedge does not write to (warned).
func (f *file) logTarget(at pos, w []string) (logLine, error) {
	if len(w) < 2 {
		return logLine{}, at.errorf("log: want a target and a facility, or global")
	}
	if w[1] == "global" {
		return logLine{}, nil
	}
	l, err := logLevels(at, w[2:])
	if err != nil {
		return logLine{}, err
	}
	t := w[1]
	switch {
	case t == "stdout" || t == "fd@1":
		l.to = "stdout"
		return l, nil
	case t == "stderr" || t == "fd@2":
		l.to = "stderr"
		return l, nil
	case strings.HasPrefix(t, "/") || strings.HasPrefix(t, "unix@"):
		l.to = "unix://" + strings.TrimPrefix(t, "unix@")
		return l, nil
	}
	addr := t
	for _, pre := range []string{"udp@", "udp4@", "ipv4@", "udp6@", "ipv6@"} {
		addr = strings.TrimPrefix(addr, pre)
	}
	if strings.Contains(addr, "@") {
		f.warn(at, "log %s: luaedge writes access logs to stdout, stderr, files, UDP syslog and unix sockets; this target is ignored", t)
		return logLine{}, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "514") // syslog's port by default
	}
	l.to = "syslog://" + addr
	return l, nil
}

// logLevels reads what follows a log line's target: its options (len,
// format, sample), then the facility and the optional max and min
// levels, checked. Without len a message is cut at 1024 bytes, and
// without format its header is rfc3164, as HAProxy's.
func logLevels(at pos, w []string) (logLine, error) {
	l := logLine{format: "rfc3164", length: 1024}
	for len(w) >= 2 && (w[0] == "len" || w[0] == "format" || w[0] == "sample") {
		switch w[0] {
		case "len":
			n, err := strconv.Atoi(w[1])
			if err != nil || n < 80 || n > 65535 {
				return logLine{}, at.errorf("log: len: want a length within 80 and 65535, got '%s'", w[1])
			}
			l.length = n
		case "format":
			if _, err := accesslog.ParseHeader(w[1]); err != nil {
				return logLine{}, at.errorf("log: format: %v", err)
			}
			l.format = w[1]
		case "sample":
			if _, err := accesslog.ParseSample(w[1]); err != nil {
				return logLine{}, at.errorf("log: %v", err)
			}
			l.sample = w[1]
		}
		w = w[2:]
	}
	if len(w) == 0 || len(w) > 3 {
		return logLine{}, at.errorf("log: want a facility, and optionally a max and a min level, after the target")
	}
	l.facility = w[0]
	if _, err := accesslog.ParseFacility(l.facility); err != nil {
		return logLine{}, at.errorf("log: %v", err)
	}
	for i, level := range w[1:] {
		if _, err := accesslog.ParseLevel(level); err != nil {
			return logLine{}, at.errorf("log: %v", err)
		}
		if i == 0 {
			l.level = level
		} else {
			l.minLevel = level
		}
	}
	return l, nil
}

// proxyLog reads a log line of a defaults, frontend or listen section.
func (f *file) proxyLog(p *proxy, at pos, w []string) error {
	if len(w) == 2 && w[1] == "global" {
		if !slices.Contains(p.logs, logLine{to: "global"}) { // once, as HAProxy
			p.logs = append(p.logs, logLine{to: "global"})
		}
		return nil
	}
	l, err := f.logTarget(at, w)
	if err != nil || l.to == "" {
		return err
	}
	p.logs = append(p.logs, l)
	return nil
}

// captureLine reads capture request|response header NAME len N, and
// capture cookie NAME len N (a later one replaces it, as in HAProxy).
func (f *file) captureLine(p *proxy, at pos, w []string) error {
	if len(w) == 6 && (w[1] == "request" || w[1] == "response") && w[2] == "header" && w[4] == "len" {
		return f.addCapture(p, at, w[1], w[3], w[5])
	}
	if len(w) == 5 && w[1] == "cookie" && w[3] == "len" {
		n, err := strconv.Atoi(w[4])
		if err != nil || n < 1 {
			return at.errorf("capture cookie: invalid len '%s'", w[4])
		}
		// HAProxy keeps at most tune.http.cookielen (63) bytes.
		if n > 63 {
			f.warn(at, "capture cookie: len %d is cut to 63 bytes, as HAProxy does", n)
			n = 63
		}
		p.capture.Cookie = &config.CaptureCookie{Name: w[2], Len: n}
		return nil
	}
	return at.errorf("capture: want 'capture request|response header NAME len N' or 'capture cookie NAME len N'")
}

// addCapture adds a capture slot to side (request or response).
func (f *file) addCapture(p *proxy, at pos, side, header, length string) error {
	n, err := strconv.Atoi(length)
	if err != nil || n < 1 {
		return at.errorf("capture: invalid len '%s'", length)
	}
	slot := config.CaptureSlot{Header: header, Len: n}
	switch side {
	case "request":
		p.capture.Request = append(p.capture.Request, slot)
	case "response":
		p.capture.Response = append(p.capture.Response, slot)
	default:
		return at.errorf("capture: want request or response, got '%s'", side)
	}
	return nil
}

// captureRule reads http-request capture SAMPLE len N (a new request
// slot of the frontend, in the order of the lines, as HAProxy numbers
// them) and http-request / http-response / http-after-response capture
// SAMPLE id N (an existing slot); the rule is kept as "capture SAMPLE id
// N [condition]".
func (f *file) captureRule(p *proxy, at pos, w []string) error {
	if len(w) < 5 || (w[3] != "len" && w[3] != "id") {
		return at.errorf("%s capture: want 'capture SAMPLE len N' or 'capture SAMPLE id N'", w[0])
	}
	words := append([]string{}, w[1:]...)
	if w[3] == "len" {
		if w[0] != "http-request" || (p.kind != "frontend" && p.kind != "listen") {
			return at.errorf("%s capture ... len: only http-request rules of a frontend or listen add a capture slot (use id N)", w[0])
		}
		if err := f.addCapture(p, at, "request", "", w[4]); err != nil {
			return err
		}
		words[2], words[3] = "id", strconv.Itoa(len(p.capture.Request)-1)
	}
	r := rule{at: at, words: words}
	switch w[0] {
	case "http-request":
		p.httpReq = append(p.httpReq, r)
	case "http-response":
		p.httpRes = append(p.httpRes, r)
	default:
		p.afterRes = append(p.afterRes, r)
	}
	return nil
}

// splitTop splits s at sep outside of parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // an escaped character separates nothing
		case '\'', '"':
			// A quoted argument (add_item(',',...)) holds separators and
			// parentheses as they are.
			if j := strings.IndexByte(s[i+1:], s[i]); j >= 0 {
				i += j + 1
			}
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// bindTLS reads a bind line's options after the address: ssl, crt FILE
// (a PEM with the certificate and its key; several crt are chosen by
// SNI, the first being the default; FILE.ocsp beside it, if there is
// one, is its OCSP response, as HAProxy loads it), alpn LIST,
// ssl-min-ver, ca-file FILE and verify none|optional|required (none by
// default, as in HAProxy). dir is the configuration file's folder. nil:
// no ssl.
func bindTLS(at pos, opts []string, dir string) (*config.FrontendTLS, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	t := &config.FrontendTLS{}
	ssl := false
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		arg := func() (string, error) {
			if i+1 >= len(opts) {
				return "", at.errorf("bind ... %s: a value is needed", o)
			}
			i++
			return opts[i], nil
		}
		switch o {
		case "ssl":
			ssl = true
		case "crt":
			f, err := arg()
			if err != nil {
				return nil, err
			}
			f = resolvePath(dir, f)
			ck := config.CertKey{Cert: f, Key: f}
			staple := f + ".ocsp"
			if _, err := os.Stat(staple); err == nil {
				ck.OCSP = staple
			}
			t.Certificates = append(t.Certificates, ck)
		case "ca-file":
			f, err := arg()
			if err != nil {
				return nil, err
			}
			t.ClientCA = resolvePath(dir, f)
		case "verify":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			if v != "none" && v != "optional" && v != "required" {
				return nil, at.errorf("bind ... verify: want none, optional or required, got '%s'", v)
			}
			t.Verify = v
		case "alpn":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			t.ALPN = strings.Split(v, ",")
		case "ssl-min-ver":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			switch v {
			case "TLSv1.2":
				t.MinVersion = "1.2"
			case "TLSv1.3":
				t.MinVersion = "1.3"
			default:
				return nil, at.errorf("bind ... ssl-min-ver %s: luaedge serves TLSv1.2 and TLSv1.3", v)
			}
		default:
			return nil, at.unsupported("bind ... " + o)
		}
	}
	if !ssl || len(t.Certificates) == 0 {
		return nil, at.errorf("bind: ssl and crt go together")
	}
	if t.Verify == "" {
		t.Verify = "none"
	}
	if t.Verify != "none" && t.ClientCA == "" {
		return nil, at.errorf("bind ... verify %s: a ca-file is needed to verify client certificates", t.Verify)
	}
	return t, nil
}

// cookieLine reads "cookie NAME [rewrite|insert|prefix] [indirect]
// [nocache] [postonly] [preserve] [httponly] [secure] [domain D]...
// [attr A]...", with HAProxy's checks; without a mode, the cookie is
// passive (the servers set it).
// dynamicPending marks a cookie line's "dynamic" until the section's
// dynamic-cookie-key is known; a byte no key given on a line can hold.
const dynamicPending = "\x00"

// cookieTime reads maxidle's and maxlife's time: seconds without a unit,
// whole seconds, as HAProxy keeps them.
func cookieTime(v string) (config.Duration, error) {
	if v != "" && strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		v += "s"
	}
	d, err := duration(v)
	if err != nil {
		return 0, err
	}
	if d != 0 && d.D() < time.Second {
		return 0, fmt.Errorf("'%s' is under 1s, the smallest non-null value", v)
	}
	return config.Duration(d.D().Truncate(time.Second)), nil
}

func cookieLine(at pos, w []string) (*config.BackendCookie, error) {
	if len(w) < 2 {
		return nil, at.errorf("cookie: a name is needed")
	}
	ck := &config.BackendCookie{Name: w[1]}
	var modes []string
	for i := 2; i < len(w); i++ {
		switch w[i] {
		case "insert", "rewrite", "prefix":
			if !slices.Contains(modes, w[i]) {
				modes = append(modes, w[i])
			}
		case "indirect":
			ck.Indirect = true
		case "nocache":
			ck.NoCache = true
		case "postonly":
			ck.PostOnly = true
		case "preserve":
			ck.Preserve = true
		case "httponly":
			ck.HTTPOnly = true
		case "secure":
			ck.Secure = true
		case "domain", "attr":
			if i+1 >= len(w) {
				return nil, at.errorf("cookie: %s needs a value", w[i])
			}
			if w[i] == "domain" {
				ck.Domains = append(ck.Domains, w[i+1])
			} else {
				if strings.ContainsFunc(w[i+1], func(r rune) bool { return r == ';' || r < 0x20 || r == 0x7f }) {
					return nil, at.errorf("cookie: attr %q: ';' and control characters are not permitted in an attribute", w[i+1])
				}
				ck.Attrs = append(ck.Attrs, w[i+1])
			}
			i++
		case "maxidle", "maxlife":
			if i+1 >= len(w) {
				return nil, at.errorf("cookie: %s needs a time in seconds", w[i])
			}
			d, err := cookieTime(w[i+1])
			if err != nil {
				return nil, at.errorf("cookie: %s: %v", w[i], err)
			}
			if w[i] == "maxidle" {
				ck.MaxIdle = d
			} else {
				ck.MaxLife = d
			}
			i++
		case "dynamic":
			// The key comes from dynamic-cookie-key (build.go).
			ck.DynamicKey = dynamicPending
		default:
			return nil, at.errorf("cookie %s: unknown option '%s' (rewrite, insert, prefix, indirect, nocache, postonly, preserve, httponly, secure, domain, attr, maxidle, maxlife, dynamic)", w[1], w[i])
		}
	}
	switch len(modes) {
	case 0:
		ck.Mode = "passive"
	case 1:
		ck.Mode = modes[0]
	default:
		return nil, at.errorf("cookie %s: the 'rewrite', 'insert' and 'prefix' modes are incompatible", w[1])
	}
	if ck.Mode == "rewrite" && ck.Indirect {
		return nil, at.errorf("cookie %s: the 'rewrite' and 'indirect' modes are incompatible", w[1])
	}
	if ck.Preserve && ck.Mode != "insert" && !ck.Indirect {
		return nil, at.errorf("cookie %s: 'preserve' requires at least 'insert' or 'indirect'", w[1])
	}
	return ck, nil
}
