package haproxycfg

import (
	"cmp"
	_ "embed"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/config"
)

//go:embed prelude.lua
var prelude string

// Names of the two generated scripts; they show in Lua errors.
const (
	PreludeName = "haproxy.cfg (prelude)"
	RulesName   = "haproxy.cfg (rules)"
)

// Result is a configuration read from haproxy.cfg files.
type Result struct {
	Config *config.Config
	// Prelude is Lua to load before the scripts of lua-load (it records
	// their actions and services), Rules after them (the rules compiled
	// from the configuration, which it checks against what the scripts
	// registered).
	Prelude, Rules []byte
	// Warnings name the keywords accepted that have no effect in luaedge.
	Warnings []string
}

// Load reads the files, in order, into a configuration.
func Load(paths []string) (*Result, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no configuration file")
	}
	f, err := parse(paths)
	if err != nil {
		return nil, err
	}
	return f.build()
}

// globalFetches and globalConverters are what a global set-var's
// expression may use: HAProxy evaluates it while reading the file, with
// no request, so only internal data (constants and proc.* variables).
var (
	globalFetches    = map[string]bool{"str": true, "int": true, "bool": true, "bin": true, "var": true, "always_true": true, "always_false": true}
	globalConverters = map[string]bool{"add": true, "sub": true, "mul": true, "div": true, "mod": true, "and": true, "or": true, "xor": true, "neg": true, "cpl": true,
		"xxh32": true, "xxh64": true, "xxh3": true, "concat": true, "strcmp": true, "secure_memcmp": true, "add_item": true}
)

// procVarsCode compiles the global section's set-var lines into Lua that
// sets the variables, in order, when the prelude loads, before the
// lua-load scripts: in every state (each one sets them before it serves,
// all to the same values) and again on a reload, as HAProxy evaluates
// them each time it reads its configuration. Their expressions run on a
// stand-in TXN whose var() reads proc.* variables only and whose
// converters are core.c.
func (f *file) procVarsCode(g *gen) (string, error) {
	if len(f.procVars) == 0 {
		return "", nil
	}
	sc := scope{phase: "global", dir: f.dir, g: g}
	var b strings.Builder
	b.WriteString("\ndo\nlocal txn = {c = core.c, get_var = function(_, n) if n:sub(1, 5) == \"proc.\" then return core.get_var(n) end end}\n")
	for _, r := range f.procVars {
		name, expr := r.words[0], r.words[1]
		parts := splitTop(expr, ',')
		for i, part := range parts {
			fn, args, err := callParts(part)
			if err != nil {
				return "", r.at.errorf("set-var %s: %v", name, err)
			}
			if i == 0 && !globalFetches[fn] {
				return "", r.at.errorf("set-var %s: fetch '%s' in the global section is not supported by luaedge (only str, int, bool, bin, var and always_true/false)", name, fn)
			}
			if i == 0 && fn == "var" && len(args) == 1 && !strings.HasPrefix(args[0], "proc.") {
				return "", r.at.errorf("set-var %s: var(%s): only proc.* variables exist in the global section", name, args[0])
			}
			if i > 0 && !globalConverters[fn] {
				return "", r.at.errorf("set-var %s: converter '%s' in the global section is not supported by luaedge (only add, sub, mul, div, mod, and, or, xor, neg, cpl, xxh32, xxh64, xxh3, concat, strcmp, secure_memcmp and add_item)", name, fn)
			}
		}
		code, _, _, err := sc.expr(expr, false)
		if err != nil {
			return "", r.at.errorf("set-var %s: %v", name, err)
		}
		fmt.Fprintf(&b, "do local v = %s; if v ~= nil then core.set_var(%s, v) end end\n", code, luaQuote(name))
	}
	b.WriteString("end\n")
	return b.String(), nil
}

// gen collects the generated Lua.
type gen struct {
	head   strings.Builder // constants (P) and named ACLs (ACL)
	body   strings.Builder // action and service registrations
	checks strings.Builder // what the scripts must have registered
	nconst int
	nact   int
	nlog   int // log-format fetches
	aclFns map[string]string
	// growing are the named ACL functions that read res.len, whose value
	// grows as server bytes come (HAProxy's SMP_F_MAY_CHANGE).
	growing map[string]bool
	// growingReq are those that read the client's input in mode tcp
	// (gen.growsReq); nconds, the conditions of cond3 (COND).
	growingReq map[string]bool
	nconds     int
	svc        bool // the HTTP frontends' generated service is registered
	// backendSets: the BACKENDS and SERVERS tables are written.
	backendSets bool
	// userlists are the userlist sections; ulRefs, the constants the
	// fetches read them from (userlistRef).
	userlists map[string]*userlist
	ulRefs    map[string]string
	// aclFiles are the ACL files add-acl and del-acl rules change (by
	// resolved path): an ACL loading one with -f matches its patterns as
	// they are now (shared by every core), not as read at start.
	aclFiles map[string]bool
	// aclDecls are the files ACLs load with -f (config.Lua.ACLFiles).
	aclDecls []config.ACLFile
	// mapDecls are the files map converters look up in
	// (config.Lua.MapFiles), in the order the configuration names them.
	mapDecls []config.MapFile
	// tables are the sections with a stick-table, by name: the table_*
	// converters name one.
	tables map[string]*proxy
}

// changedACLFiles returns the files the add-acl and del-acl rules of f
// name, resolved.
func (f *file) changedACLFiles() map[string]bool {
	out := map[string]bool{}
	for _, p := range f.proxies {
		for _, rs := range [][]rule{p.httpReq, p.httpRes} {
			for _, r := range rs {
				if file, ok := aclFileOf(r.words[0]); ok {
					out[resolvePath(f.dir, file)] = true
				}
			}
		}
	}
	return out
}

// aclFileOf reads FILE out of add-acl(FILE) or del-acl(FILE).
func aclFileOf(word string) (string, bool) {
	for _, kw := range []string{"add-acl(", "del-acl("} {
		if rest, ok := strings.CutPrefix(word, kw); ok {
			file, closed := strings.CutSuffix(rest, ")")
			return file, closed && file != ""
		}
	}
	return "", false
}

// grows reports whether a compiled condition reads res.len, directly or
// through a named ACL.
func (g *gen) grows(cond string) bool {
	if strings.Contains(cond, resLenCall) {
		return true
	}
	for fn := range g.growing {
		if strings.Contains(cond, fn+"(txn)") {
			return true
		}
	}
	return false
}

// constant hoists a Lua table built once at load time.
func (g *gen) constant(expr string) string {
	g.nconst++
	fmt.Fprintf(&g.head, "P[%d] = %s\n", g.nconst, expr)
	return fmt.Sprintf("P[%d]", g.nconst)
}

// action registers a generated action and returns its rule.
func (g *gen) action(phase, comment, code string) string {
	g.nact++
	name := fmt.Sprintf("haproxycfg_%d", g.nact)
	comment = strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(comment)
	fmt.Fprintf(&g.body, "-- %s\ncore.register_action(%s, {%s}, function(txn)\n%s\nend)\n", comment, luaQuote(name), luaQuote(phase), code)
	return "lua." + name
}

func (f *file) build() (*Result, error) {
	g := &gen{aclFns: map[string]string{}, userlists: f.userlists, ulRefs: map[string]string{}, aclFiles: f.changedACLFiles(), tables: f.tables()}
	cfg := &config.Config{Workers: f.global.Workers, Lua: f.global.Lua, Dir: f.dir, MaxConn: f.global.MaxConn, RuntimeSocket: f.global.RuntimeSocket, Caches: f.caches}
	if f.dns != nil {
		cfg.DNS = *f.dns
	}
	if err := f.persistTables(); err != nil {
		return nil, err
	}
	backends := map[string]*proxy{}
	for _, p := range f.proxies {
		// HAProxy drops these options in mode tcp (nothing is ignored
		// silently: luaedge says so).
		if p.mode != "http" && p.originalTo != "" {
			f.warn(p.originalToAt, "%s %s: 'option originalto' has no effect in mode tcp (it needs mode http, as in HAProxy)", p.kind, p.name)
		}
		if p.mode != "http" && (p.restrictHdrNames == "delete" || p.restrictHdrNames == "reject") {
			f.warn(p.restrictAt, "%s %s: 'option http-restrict-req-hdr-names' has no effect in mode tcp", p.kind, p.name)
		}
		if p.kind == "backend" || p.kind == "listen" {
			if backends[p.name] != nil {
				return nil, p.at.errorf("%s %s: another backend has this name", p.kind, p.name)
			}
			backends[p.name] = p
		}
	}
	// Backends with servers are the model's backends; a backend without
	// servers only holds rules (and services) for the frontends that use it.
	for _, p := range f.proxies {
		if p.kind == "frontend" {
			continue
		}
		if !p.forwards() {
			if p.stick != nil {
				// A table of its own, for track-sc0 ... table NAME.
				cfg.StickTables = append(cfg.StickTables, config.NamedStickTable{Name: p.name, StickTable: *p.stick})
			}
			continue
		}
		b := config.Backend{Name: p.name, Balance: p.balance, HashType: p.hashType, Servers: p.servers, StickTable: p.stick, Cookie: p.cookie, ServerNameHeader: p.nameHeader, PersistDown: p.persistDown, Retries: p.retries, Redispatch: p.redispatch, RetryOn: p.retryOn, AbortOnClose: p.abortOnClose}
		if ck := p.cookie; ck != nil && ck.DynamicKey == dynamicPending {
			// As HAProxy: dynamic without a dynamic-cookie-key gives the
			// servers no value.
			c := *ck
			c.DynamicKey = p.dynamicKey
			if c.DynamicKey == "" {
				f.warn(p.at, "%s %s: cookie ... dynamic without dynamic-cookie-key gives the servers no cookie value", p.kind, p.name)
			}
			b.Cookie = &c
		}
		b.Stick, _ = modelStick(p)
		if p.check.Type != "" {
			b.Check = p.check
		}
		b.Timeouts.Connect = p.timeouts["connect"]
		b.Timeouts.Server = p.timeouts["server"]
		b.Timeouts.Tunnel = p.timeouts["tunnel"]
		b.Timeouts.Inspect = p.timeouts["res-inspect-delay"]
		f.networkBackend(&b, p)
		cfg.Backends = append(cfg.Backends, b)
	}
	for _, p := range f.proxies {
		if p.kind == "backend" {
			continue
		}
		fe, err := f.frontend(g, p, backends)
		if err != nil {
			return nil, err
		}
		cfg.Frontends = append(cfg.Frontends, fe)
	}
	if len(cfg.Frontends) == 0 {
		return nil, fmt.Errorf("%s: no frontend or listen section", f.first)
	}
	cfg.Lua.ACLFiles = g.aclDecls
	cfg.Lua.MapFiles = g.mapDecls
	if err := cfg.Complete(); err != nil {
		return nil, fmt.Errorf("%s: %v", f.first, err)
	}
	var pre strings.Builder
	pre.WriteString("-- Generated from the HAProxy configuration.\n")
	for _, p := range f.luaPath {
		fmt.Fprintf(&pre, "if package then package.path = %s .. \";\" .. package.path end\n", luaQuote(p))
	}
	pre.WriteString(prelude)
	vars, err := f.procVarsCode(g)
	if err != nil {
		return nil, err
	}
	pre.WriteString(vars)
	pre.WriteString("\nhaproxycfg_runtime = H\n")
	var rules strings.Builder
	rules.WriteString("-- Generated from the HAProxy configuration.\nlocal H = haproxycfg_runtime\nhaproxycfg_runtime = nil\nlocal P, ACL, COND, UID = {}, {}, {}, {}\n")
	rules.WriteString(g.checks.String())
	rules.WriteString(g.head.String())
	rules.WriteString(g.body.String())
	return &Result{Config: cfg, Prelude: []byte(pre.String()), Rules: []byte(rules.String()), Warnings: f.warnings}, nil
}

// section is a list of rules and where they come from: the frontend part
// of a frontend or listen, or a backend reached from it.
type section struct {
	p     *proxy
	id    string // "fe" or "be:NAME" (the allow state)
	be    string // the backend's name for a backend's rules
	rules []rule
	after bool // http-after-response rules
}

// frontend builds a frontend or listen.
func (f *file) frontend(g *gen, p *proxy, backends map[string]*proxy) (config.Frontend, error) {
	// HAProxy adds neither a Server nor a Date field to the answers, and
	// accepts HTTP/1.1 requests without Host.
	fe := config.Frontend{Name: p.name, Bind: p.binds, TLS: p.tls, Mode: p.mode, StickTable: p.stick, Track: p.track, HTTPBufferRequest: p.bufferReq, Capture: p.capture,
		ServerHeader: "off", DateHeader: new(bool), HostOptional: true}
	if fe.Mode == "" {
		fe.Mode = "tcp" // as HAProxy
	}
	if len(fe.Bind) == 0 {
		return fe, p.at.errorf("%s %s: no bind line", p.kind, p.name)
	}
	// HAProxy waits for a request head for timeout http-request, else
	// timeout client; for the next request, timeout http-keep-alive,
	// else http-request, else client.
	client := p.timeouts["client"]
	first := func(ks ...string) config.Duration {
		for _, k := range ks {
			if d := p.timeouts[k]; d != 0 {
				return d
			}
		}
		return 0
	}
	fe.Timeouts.HTTPRequest = first("http-request", "client")
	fe.Timeouts.KeepAlive = first("http-keep-alive", "http-request", "client")
	fe.Timeouts.Body = client
	if d := p.timeouts["inspect-delay"]; d != 0 {
		if fe.Mode == "tcp" {
			fe.Timeouts.Inspect = d
		} else {
			f.warn(p.inspectAt, "'tcp-request inspect-delay' has no effect in luaedge in mode http: its tcp-request content rules run with the request")
		}
	}
	f.networkFrontend(&fe, p)
	http := fe.Mode == "http"

	// The backends the frontend may use, in a stable order.
	reach := map[string]bool{}
	dynamic := false
	def := p.defBackend
	if p.kind == "listen" {
		def = p.name
	}
	if def != "" {
		if backends[def] == nil {
			return fe, p.at.errorf("%s %s: default_backend: no backend named '%s'", p.kind, p.name, def)
		}
		reach[def] = true
	}
	for _, u := range p.useBackend {
		if strings.Contains(u.target, "%[") {
			dynamic = true
			continue
		}
		if backends[u.target] == nil {
			return fe, u.at.errorf("use_backend: no backend named '%s'", u.target)
		}
		reach[u.target] = true
	}
	if dynamic {
		for name := range backends {
			reach[name] = true
		}
	}
	var order []string
	for _, name := range sortedKeys(reach) {
		if name != p.name {
			order = append(order, name)
		}
	}
	forwards := false
	for name := range reach {
		// option http-buffer-request in a backend: the model has it per
		// frontend.
		fe.HTTPBufferRequest = fe.HTTPBufferRequest || backends[name].bufferReq
		if b := backends[name]; b.forwards() {
			if b.mode != "" && b.mode != fe.Mode {
				return fe, b.at.errorf("backend %s is mode %s, frontend %s is mode %s", name, b.mode, p.name, fe.Mode)
			}
			forwards = true
		}
	}

	// In HTTP mode, HAProxy runs tcp-request content rules for each
	// request, before the http-request rules; luaedge takes there their
	// track-scN, set-src, set-src-port, set-dst, set-dst-port, Lua actions,
	// set-var and unset-var.
	tracksOf := func(x *proxy) (tracks, others []rule) {
		for _, r := range x.tcpReq {
			w := r.words[0]
			if strings.HasPrefix(w, "track-sc") || addrActions[w] || strings.HasPrefix(w, "lua.") ||
				strings.HasPrefix(w, "set-var(") || strings.HasPrefix(w, "unset-var(") {
				r.tcp = true
				tracks = append(tracks, r)
			} else {
				others = append(others, r)
			}
		}
		return tracks, others
	}
	// tcp-request connection rules (set-dst, set-dst-port) run before
	// the others; run again for each request of an HTTP connection, they
	// change its destination as they did the connection's.
	reqOf := func(x *proxy) []rule {
		rules := append([]rule(nil), x.tcpConn...)
		if http {
			// redirect lines run after the section's http-request rules.
			tracks, _ := tracksOf(x)
			rules = append(append(rules, tracks...), x.httpReq...)
			if x.restrictHdrNames == "delete" || x.restrictHdrNames == "reject" {
				// After the section's http-request rules, before its
				// redirect lines, as HAProxy checks the names.
				rules = append(rules, rule{at: x.restrictAt, words: []string{restrictHdrNamesRule, x.restrictHdrNames}})
			}
			return append(rules, x.redirects...)
		}
		return append(rules, x.tcpReq...)
	}
	resOf := func(x *proxy) []rule {
		if http {
			return x.httpRes
		}
		return x.tcpRes
	}
	if !http {
		for _, x := range append([]*proxy{p}, backendsOf(order, backends)...) {
			if len(x.httpReq)+len(x.httpRes)+len(x.redirects)+len(x.afterRes) > 0 {
				r := append(append(append(x.httpReq, x.httpRes...), x.redirects...), x.afterRes...)[0]
				return fe, r.at.errorf("http rules in %s, which is in mode tcp", x.name)
			}
		}
	} else {
		for _, x := range append([]*proxy{p}, backendsOf(order, backends)...) {
			if _, others := tracksOf(x); len(others)+len(x.tcpRes) > 0 {
				r := append(others, x.tcpRes...)[0]
				return fe, r.at.errorf("tcp-request/tcp-response content %s in %s, which is in mode http: not supported by luaedge (tcp-request content takes track-sc, lua.NAME, set-var and unset-var there)", r.words[0], x.name)
			}
		}
	}
	reqSecs := []section{{p: p, id: "fe", rules: reqOf(p)}}
	resSecs := []section{}
	for _, name := range order {
		b := backends[name]
		reqSecs = append(reqSecs, section{p: b, id: "be:" + name, be: name, rules: reqOf(b)})
		resSecs = append(resSecs, section{p: b, id: "be:" + name, be: name, rules: resOf(b)})
	}
	resSecs = append(resSecs, section{p: p, id: "fe", rules: resOf(p)})

	// A frontend forwards (to backends with servers) or answers with
	// services, not both: the model decides this per frontend.
	var services []rule
	for _, s := range reqSecs {
		for _, r := range s.rules {
			if r.words[0] == "use-service" {
				services = append(services, r)
			}
		}
	}
	if forwards && len(services) > 0 && !http {
		return fe, services[0].at.errorf("tcp-request content use-service in a frontend that also forwards to servers is not supported by luaedge (put the service in its own frontend)")
	}

	phase := fe.Mode
	b := &chain{f: f, g: g, fe: p.name, dir: f.dir, http: http, inspect: !http && fe.Timeouts.Inspect > 0, backends: backends, tables: f.tables(), caps: p.capture, resolvers: f.resolvers,
		beReplies: map[string]map[int]*errReply{}, close: p.httpclose}
	var err error
	if b.replies, err = f.replies(p); err != nil {
		return fe, err
	}
	if http {
		fe.ErrorPages = ownErrorPages(b.replies)
		// HAProxy's bounds on a request's head: it must fit in a buffer
		// (tune.bufsize 16384 less tune.maxrewrite 1024), with at most
		// tune.http.maxhdr (101) fields.
		fe.Limits.MaxRequestLine, fe.Limits.MaxHeaderBytes, fe.Limits.MaxHeaders = haproxyHeadBytes, haproxyHeadBytes, 101
	}
	for _, name := range order {
		if b.beReplies[name], err = f.replies(backends[name]); err != nil {
			return fe, err
		}
	}
	reqScope := scope{fe: p.name, phase: "http-req", dir: f.dir, g: g, caps: p.capture}
	// Pass-through: a plain "lua.NAME args" rule of the frontend, and a
	// frontend served by one unconditional use-service, need no
	// generated code.
	plainService := ""
	if len(services) == 1 && len(reqSecs[0].rules) > 0 {
		last := reqSecs[0].rules[len(reqSecs[0].rules)-1]
		if last.words[0] == "use-service" && len(last.words) == 2 && len(order) == 0 && !hasAllow(reqSecs[0].rules) {
			plainService = last.words[1]
			reqSecs[0].rules = reqSecs[0].rules[:len(reqSecs[0].rules)-1]
		}
	}
	var req, res []string
	if p.monitorURI != "" && http {
		// HAProxy answers it before any rule.
		page, err := b.page(reqScope, 200, "")
		if err != nil {
			return fe, err
		}
		req = append(req, g.action("http-req", "monitor-uri "+p.monitorURI,
			fmt.Sprintf("if txn.f:url() == %s then %s end", luaQuote(p.monitorURI), page)))
	}
	if hasAllowIn(reqSecs) {
		req = append(req, g.action(phase+"-req", "the allow state", "H.begin(txn)"))
	}
	var uid string // the action that makes the unique ID once the rules ran
	if len(p.uniqueID.words) > 0 && http {
		// As HAProxy: the unique-id fetch makes the ID when first asked,
		// and a request that goes on past its rules always has one.
		sc := scope{fe: p.name, phase: "http-req", dir: f.dir, g: g, caps: p.capture}
		id, err := sc.formatHTTP(p.uniqueID.words[0])
		if err != nil {
			return fe, p.uniqueID.at.errorf("unique-id-format: %v", err)
		}
		fmt.Fprintf(&g.head, "UID[%s] = function(txn) return %s end\n", luaQuote(p.name), id)
		code := fmt.Sprintf("local id = H.uid(txn, UID[%s])", luaQuote(p.name))
		if p.uniqueIDHeader != "" {
			code += fmt.Sprintf("\ntxn.http:req_add_header(%s, id)", luaQuote(p.uniqueIDHeader))
		}
		uid = g.action("http-req", "unique-id-format, unique-id-header", code)
	}
	for i, s := range reqSecs {
		if i == 1 {
			// After the frontend's rules, the backend is chosen; then the
			// rules of the backend chosen run.
			r, err := b.route(p, def, forwards, phase)
			if err != nil {
				return fe, err
			}
			req = append(req, r)
			if req, err = b.appendPersistRules(req, reach, backends, phase); err != nil {
				return fe, err
			}
		}
		for _, r := range s.rules {
			e, err := b.rule(s, r, phase+"-req", false)
			if err != nil {
				return fe, err
			}
			req = append(req, e)
		}
		req = append(req, b.strictReset(s, "http-req")...)
	}
	if len(reqSecs) == 1 && (len(p.useBackend) > 0 || def != "") {
		r, err := b.route(p, def, forwards, phase)
		if err != nil {
			return fe, err
		}
		req = append(req, r)
		if req, err = b.appendPersistRules(req, reach, backends, phase); err != nil {
			return fe, err
		}
	}
	// The use-server and stick rules of the backend the request goes to,
	// after every request rule (persist.go).
	for _, name := range sortedKeys(reach) {
		if x := backends[name]; len(x.persist) > 0 && len(x.servers) > 0 {
			r, err := b.persist(x, phase+"-req")
			if err != nil {
				return fe, err
			}
			if r != "" {
				req = append(req, r)
			}
		}
	}
	if uid != "" {
		req = append(req, uid)
	}
	if forwards {
		page, err := b.pageOfBackend(reqScope, 503)
		if err != nil {
			return fe, err
		}
		fallback := fmt.Sprintf("if not H.st(txn).fwd then\n%s\nend", page)
		if !http {
			fallback = "if not H.st(txn).fwd then txn:done() end"
		}
		// option forwardfor of the frontend or of the backend chosen adds
		// the header once: {name, networks of except or false, if-none}.
		var xff []string
		for _, name := range sortedKeys(reach) {
			o := backends[name]
			if o.forwardfor == "" {
				o = p
			}
			if o.forwardfor != "" && backends[name].forwards() {
				except := "false"
				if o.forwardforExcept != "" {
					except = "{H.net(" + luaQuote(o.forwardforExcept) + ")}"
				}
				xff = append(xff, fmt.Sprintf("[%s] = {%s, %s, %v}", luaQuote(name), luaQuote(o.forwardfor), except, o.forwardforIfNone))
			}
		}
		if len(xff) > 0 && http {
			fallback += fmt.Sprintf("\nlocal xff = %s[H.st(txn).be]\nif xff then H.forwardfor(txn, xff) end", g.constant("{"+strings.Join(xff, ", ")+"}"))
		}
		// option originalto of either adds the header (the backend's name
		// first) unless the destination is in the except network of
		// either: {name, frontend's networks or false, backend's or false}.
		var xot []string
		for _, name := range sortedKeys(reach) {
			be := backends[name]
			if (p.originalTo == "" && be.originalTo == "") || !be.forwards() {
				continue
			}
			hdr := cmp.Or(be.originalTo, p.originalTo)
			except := func(x *proxy) string {
				if x.originalTo == "" || x.originalToExcept == "" {
					return "false"
				}
				return "{H.net(" + luaQuote(x.originalToExcept) + ")}"
			}
			xot = append(xot, fmt.Sprintf("[%s] = {%s, %s, %s}", luaQuote(name), luaQuote(hdr), except(p), except(be)))
		}
		if len(xot) > 0 && http {
			fallback += fmt.Sprintf("\nlocal xot = %s[H.st(txn).be]\nif xot then H.originalto(txn, xot) end", g.constant("{"+strings.Join(xot, ", ")+"}"))
		}
		req = append(req, g.action(phase+"-req", "no backend, or a backend without servers: 503", fallback))
	}
	// The stick store-response rules of the backend the request went to,
	// before the http-response rules, as HAProxy runs them.
	for _, name := range sortedKeys(reach) {
		if x := backends[name]; len(x.persist) > 0 && len(x.servers) > 0 {
			r, err := b.persistResponse(x)
			if err != nil {
				return fe, err
			}
			if r != "" {
				res = append(res, r)
			}
		}
	}
	if hasAllowIn(resSecs) {
		res = append(res, g.action(phase+"-res", "the allow state", "H.st(txn).skip = {}"))
	}
	for _, s := range resSecs {
		for _, r := range s.rules {
			e, err := b.rule(s, r, phase+"-res", true)
			if err != nil {
				return fe, err
			}
			res = append(res, e)
		}
		res = append(res, b.strictReset(s, "http-res")...)
	}
	if p.httpclose && http {
		res = append(res, g.action("http-res", "option httpclose", `txn.http:res_set_header("connection", "close")`))
	}
	// http-after-response: the backends' rules first, then the
	// frontend's, as http-response.
	var after []string
	var afterSecs []section
	for _, name := range order {
		afterSecs = append(afterSecs, section{p: backends[name], id: "after:be:" + name, be: name, rules: backends[name].afterRes, after: true})
	}
	afterSecs = append(afterSecs, section{p: p, id: "after:fe", rules: p.afterRes, after: true})
	if hasAllowIn(afterSecs) {
		after = append(after, g.action("http-res", "the allow state of http-after-response", "H.st(txn).skip = {}"))
	}
	for _, s := range afterSecs {
		for _, r := range s.rules {
			e, err := b.rule(s, r, "http-res", true)
			if err != nil {
				return fe, err
			}
			after = append(after, e)
		}
		after = append(after, b.strictReset(s, "http-res")...)
	}
	if http {
		fe.HTTPAfterResponse = after
	}
	for _, r := range p.filters {
		if !http {
			return fe, r.at.errorf("'filter %s': Lua filters in mode tcp are not supported by luaedge", r.words[0])
		}
		fe.Filters = append(fe.Filters, filterLine(r.words))
	}
	al, err := f.accessLog(g, p, http)
	if err != nil {
		return fe, err
	}
	fe.AccessLog = al
	fe.HTTPRequest, fe.HTTPResponse = req, res
	if !http {
		fe.HTTPRequest, fe.HTTPResponse, fe.TCPRequest, fe.TCPResponse = nil, nil, req, res
	}
	switch {
	case forwards:
		fe.DefaultBackend = def
		if def == "" || !backends[def].forwards() {
			for _, name := range sortedKeys(reach) {
				if backends[name].forwards() {
					fe.DefaultBackend = name
					break
				}
			}
		}
	case plainService != "":
		fe.UseService = plainService
		fmt.Fprintf(&g.checks, "if not H.services[%s] then error(%s, 0) end\n", luaQuote(strings.TrimPrefix(plainService, "lua.")),
			luaQuote(fmt.Sprintf("%s: no Lua service named '%s' (core.register_service was not called for it)", p.at, strings.TrimPrefix(plainService, "lua."))))
	case !http:
		// Nothing forwards: the service a use-service rule chose
		// (txn.service) answers; without one the connection closes, as
		// HAProxy's without a server (SC).
		if len(fe.TCPRequest) == 0 {
			fe.TCPRequest = []string{g.action("tcp-req", "nothing answers", "")}
		}
	default:
		// Nothing forwards: a use-service rule's service answers
		// (txn.service), or HAProxy's 503 when none chose one. The
		// frontend's own service, generated, never runs.
		name := "haproxycfg_http"
		if !g.svc {
			g.svc = true
			fmt.Fprintf(&g.body, "core.register_service(%s, \"http\", H.svc())\n", luaQuote(name))
		}
		fe.UseService = "lua." + name
		// HAProxy's 503 when nothing answers skips the http-response
		// rules: it is sent from the request phase.
		page, err := b.pageOfBackend(reqScope, 503)
		if err != nil {
			return fe, err
		}
		fe.HTTPRequest = append(fe.HTTPRequest, g.action("http-req", "nothing answers: 503",
			fmt.Sprintf("if txn:get_var(\"txn.service\") == nil then\n%s\nend", page)))
	}
	return fe, nil
}

func backendsOf(names []string, backends map[string]*proxy) []*proxy {
	var out []*proxy
	for _, n := range names {
		out = append(out, backends[n])
	}
	return out
}

func hasAllow(rules []rule) bool {
	for _, r := range rules {
		if r.words[0] == "allow" || r.words[0] == "accept" {
			return true
		}
	}
	return false
}

func hasAllowIn(secs []section) bool {
	for _, s := range secs {
		if hasAllow(s.rules) {
			return true
		}
	}
	return false
}

// chain compiles the rules of one frontend.
type chain struct {
	f       *file
	g       *gen
	fe, dir string
	http    bool
	// inspect: the frontend is in mode tcp with an inspect delay; its
	// tcp-request content rules wait for client bytes (cond3).
	inspect bool
	// The answers of error statuses: the frontend's, and each backend's
	// it may use, which come first for a request that went there.
	replies   map[int]*errReply
	beReplies map[string]map[int]*errReply
	backends  map[string]*proxy
	tables    map[string]*proxy // the sections with a stick-table, by name
	caps      config.Capture    // the frontend's capture slots
	resolvers map[string]bool   // the resolvers sections
	// close: the frontend's option httpclose; its answers carry
	// connection: close and end the connection, as HAProxy's client side
	// does with it (a backend's option httpclose is for its servers).
	close bool
}

// route compiles use_backend and default_backend into an action that
// picks the backend (txn.backend, as a Lua action would).
func (c *chain) route(p *proxy, def string, forwards bool, phase string) (string, error) {
	sc := scope{fe: c.fe, tcpMode: !c.http, dir: c.dir, g: c.g, caps: c.caps}
	var code strings.Builder
	code.WriteString("local st = H.st(txn)\nlocal b\n")
	for _, u := range p.useBackend {
		cond, err := sc.cond(u.cond, p.acls)
		if err != nil {
			return "", u.at.errorf("use_backend: %v", err)
		}
		target := luaQuote(u.target)
		if strings.Contains(u.target, "%[") {
			t, err := sc.format(u.target)
			if err != nil {
				return "", u.at.errorf("use_backend: %v", err)
			}
			target = t
		}
		fmt.Fprintf(&code, "if b == nil and %s then local v = %s; if BACKENDS[v] then b = v end end\n", cond, target)
	}
	if def != "" {
		fmt.Fprintf(&code, "if b == nil then b = %s end\n", luaQuote(def))
	}
	code.WriteString("st.be = b\n")
	if forwards {
		code.WriteString("if b and SERVERS[b] then txn:set_var(\"txn.backend\", b); st.fwd = true else st.fwd = false end")
	}
	if !c.g.backendSets {
		c.g.backendSets = true
		var names, servers []string
		for _, n := range sortedKeys(c.backends) {
			names = append(names, "["+luaQuote(n)+"] = true")
			if c.backends[n].forwards() {
				servers = append(servers, "["+luaQuote(n)+"] = true")
			}
		}
		fmt.Fprintf(&c.g.head, "local BACKENDS = {%s}\nlocal SERVERS = {%s}\n", strings.Join(names, ", "), strings.Join(servers, ", "))
	}
	return c.g.action(phase+"-req", "use_backend and default_backend of "+p.name, code.String()), nil
}

// condIndex returns where a rule's condition starts (len(w) if none).
func condIndex(w []string) int {
	for i, x := range w {
		if x == "if" || x == "unless" {
			return i
		}
	}
	return len(w)
}

// rule compiles one rule into an entry of the frontend's list: the rule
// itself for a plain Lua action of the frontend, else a generated action.
func (c *chain) rule(s section, r rule, phase string, res bool) (string, error) {
	w := r.words
	ci := condIndex(w)
	act, condWords := w[:ci], w[ci:]
	sc := scope{fe: c.fe, be: s.be, tcpMode: !c.http, res: res, phase: phase, dir: c.dir, g: c.g, caps: c.caps}
	allow := hasAllow(s.rules)
	name := act[0]
	if strings.HasPrefix(name, "lua.") && len(condWords) == 0 && s.be == "" && !allow && !r.tcp {
		return quoteRule(act), nil
	}
	var gate []string
	if s.be != "" {
		gate = append(gate, fmt.Sprintf("H.st(txn).be == %s", luaQuote(s.be)))
	}
	if name == restrictHdrNamesRule {
		// Not a rule: an allow does not skip it.
		code, err := c.restrictHdrNames(sc, act[1])
		if err != nil {
			return "", r.at.errorf("option http-restrict-req-hdr-names: %v", err)
		}
		if len(gate) > 0 {
			code = fmt.Sprintf("if %s then\n%s\nend", strings.Join(gate, " and "), code)
		}
		return c.g.action(phase, fmt.Sprintf("%s: option http-restrict-req-hdr-names %s", r.at, act[1]), code), nil
	}
	if allow {
		gate = append(gate, fmt.Sprintf("not H.st(txn).skip[%s]", luaQuote(s.id)))
	}
	if name == "early-hint" {
		// Its condition holds for its own field only (earlyHints).
		condWords = nil
	}
	var cond string
	if len(condWords) > 0 {
		var err error
		if cond, err = sc.cond(condWords, s.p.acls); err != nil {
			return "", r.at.errorf("%s: %v", name, err)
		}
	}
	stmt, err := c.statement(sc, s, r, act, res)
	if err != nil {
		return "", err
	}
	if c.inspect && r.content && s.be == "" && cond != "" && c.g.growsReq(cond) {
		// Within the inspect delay, a condition on the client's bytes
		// that is undecided (HAProxy's ACL_TEST_MISS) makes the rules run
		// again from the first when more bytes came (act.YIELD, on the
		// last run: no match).
		call, unless, err := sc.cond3(condWords, s.p.acls)
		if err != nil {
			return "", r.at.errorf("%s: %v", name, err)
		}
		not := ""
		if unless {
			not = "not "
		}
		stmt = fmt.Sprintf("local c = %s\nif c == nil then return act.YIELD end\nif %sc then\n%s\nend", call, not, stmt)
		cond = ""
	}
	if phase == "tcp-res" && len(condWords) > 0 && condWords[0] == "if" && c.g.grows(cond) {
		// Undecided while more server bytes may come: act.YIELD makes
		// the rules run again on the next ones, until the inspect delay
		// passes (then the rule did not match), as HAProxy's ACL_TEST_MISS.
		stmt = fmt.Sprintf("if %s then\n%s\nelse\nreturn act.YIELD\nend", cond, stmt)
	} else if cond != "" {
		gate = append(gate, cond)
	}
	code := stmt
	if len(gate) > 0 {
		code = fmt.Sprintf("if %s then\n%s\nend", strings.Join(gate, " and "), stmt)
	}
	return c.g.action(phase, fmt.Sprintf("%s: %s", r.at, strings.Join(w, " ")), code), nil
}

// restrictHdrNamesRule is the rule that stands for option
// http-restrict-req-hdr-names delete|reject among a section's rules.
const restrictHdrNamesRule = "option http-restrict-req-hdr-names"

// restrictHdrNames compiles option http-restrict-req-hdr-names: the
// request's fields whose names hold a byte other than a letter, a digit
// or '-' are deleted, or the request is denied (403) as by a deny rule.
func (c *chain) restrictHdrNames(sc scope, mode string) (string, error) {
	if mode == "delete" {
		return "H.bad_hdr_names(txn, true)", nil
	}
	page, err := c.page(sc, 403, sc.be)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("if H.bad_hdr_names(txn, false) then\ntxn:set_termination_state(\"PR\")\ntxn:count_http_error()\ntxn:capture_cookie()\n%s\nend", page), nil
}

// quoteRule writes a Lua rule as the model's rule lists take it, quoting
// arguments with spaces.
func quoteRule(w []string) string {
	out := make([]string, len(w))
	for i, x := range w {
		if x == "" || strings.ContainsAny(x, " \t") {
			x = `"` + x + `"`
		}
		out[i] = x
	}
	return strings.Join(out, " ")
}

// varName reads NAME out of "set-var(NAME)" or "set-var(NAME,cond...)".
func varName(word, prefix string) (string, bool) {
	if !strings.HasPrefix(word, prefix+"(") || !strings.HasSuffix(word, ")") {
		return "", false
	}
	inner := word[len(prefix)+1 : len(word)-1]
	name, _, _ := strings.Cut(inner, ",")
	return name, name != ""
}

// statement compiles what a rule does.
func (c *chain) statement(sc scope, s section, r rule, w []string, res bool) (string, error) {
	name := w[0]
	args := w[1:]
	at := r.at
	side := "req"
	if res {
		side = "res"
	}
	need := func(n int) error {
		if len(args) != n {
			return at.errorf("%s: want %d argument(s), got %d", name, n, len(args))
		}
		return nil
	}
	fmtArg := func(v string) (string, error) {
		code, err := sc.formatHTTP(v)
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		return code, nil
	}
	if s.after && !afterActions[strings.SplitN(name, "(", 2)[0]] && !strings.HasPrefix(name, "lua.") {
		return "", at.errorf("http-after-response %s: not an action of http-after-response", name)
	}
	switch {
	case strings.HasPrefix(name, "track-sc"):
		return c.track(sc, s, at, name, args)
	case name == "capture":
		// capture SAMPLE id N (parse.go numbered the len form's slot).
		if len(args) != 3 || args[1] != "id" {
			return "", at.errorf("capture: want 'capture SAMPLE id N'")
		}
		id, err := strconv.Atoi(args[2])
		side, slots := "req", c.caps.Request
		if res {
			side, slots = "res", c.caps.Response
		}
		if err != nil || id < 0 || id >= len(slots) {
			return "", at.errorf("capture ... id %s: frontend %s has no such %s capture slot (declare capture, or capture ... header)", args[2], c.fe, map[string]string{"req": "request", "res": "response"}[side])
		}
		code, _, _, err := sc.expr(args[0], false)
		if err != nil {
			return "", at.errorf("capture: %v", err)
		}
		return fmt.Sprintf("local v = %s\nif v ~= nil then txn:capture_%s(%d, H.S(v)) end", code, side, id), nil
	case strings.HasPrefix(name, "do-resolve(") && strings.HasSuffix(name, ")"):
		return c.doResolve(sc, at, name, args)
	case name == "strict-mode":
		// Off, a set-header or add-header that does not fit is skipped
		// rather than answered 500 (the other rewrites never fail).
		if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
			return "", at.errorf("strict-mode: want on or off")
		}
		return fmt.Sprintf("H.st(txn).lax = %v", args[0] == "off"), nil
	case strings.HasPrefix(name, "lua."):
		fn := strings.TrimPrefix(name, "lua.")
		phase := sc.phase
		if r.tcp {
			phase = "tcp-req"
		}
		fmt.Fprintf(&c.g.checks, "if not H.actions[%s][%s] then error(%s, 0) end\n", luaQuote(phase), luaQuote(fn),
			luaQuote(fmt.Sprintf("%s: no Lua action named '%s' registered for %s (core.register_action)", at, fn, phase)))
		call := []string{"txn"}
		call = append(call, quoteAll(args)...)
		return fmt.Sprintf("return H.actions[%s][%s](%s)", luaQuote(phase), luaQuote(fn), strings.Join(call, ", ")), nil
	case name == "use-service":
		if err := need(1); err != nil {
			return "", err
		}
		if !strings.HasPrefix(args[0], "lua.") {
			return "", at.errorf("use-service %s: only Lua services (lua.NAME) are supported by luaedge", args[0])
		}
		svc := strings.TrimPrefix(args[0], "lua.")
		fmt.Fprintf(&c.g.checks, "if not H.services[%s] then error(%s, 0) end\n", luaQuote(svc),
			luaQuote(fmt.Sprintf("%s: no Lua service named '%s' (core.register_service was not called for it)", at, svc)))
		// txn.service answers with the service, also on a frontend
		// that forwards.
		return fmt.Sprintf("txn:set_var(\"txn.service\", %s)\nreturn act.STOP", luaQuote(svc)), nil
	case name == "set-header" || name == "add-header":
		if !c.http {
			break
		}
		if err := need(2); err != nil {
			return "", err
		}
		v, err := fmtArg(args[1])
		if err != nil {
			return "", err
		}
		op := strings.TrimSuffix(name, "-header")
		// HAProxy's head lives in a buffer of 16 KiB, of which a head
		// read takes at most 15 KiB: a field that does not fit fails the
		// rewrite, answered 500 (strict-mode, its default). Only a value
		// over 1 KiB can overflow, so only such a value is measured.
		if !strings.Contains(args[1], "%") && len(args[1]) <= haproxyRewriteReserve {
			return fmt.Sprintf("txn.http:%s_%s_header(%s, %s)", side, op, luaQuote(args[0]), v), nil
		}
		page, err := c.page(sc, 500, sc.be)
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		skip := "nil" // set-header replaces the fields of its name
		if op == "set" {
			skip = luaQuote(strings.ToLower(args[0]))
		}
		term := map[string]string{"req": "PR", "res": "PH"}[side]
		return fmt.Sprintf("local v = %s\nif #v > %d and H.head_bytes(txn, %q, %s) + #%s + #v > %d then\nif not H.st(txn).lax then\ntxn:set_termination_state(%q)\n%s\nend\nelse\ntxn.http:%s_%s_header(%s, v)\nend",
			v, haproxyRewriteReserve, side, skip, luaQuote(args[0]), haproxyBufSize, term, page, side, op, luaQuote(args[0])), nil
	case name == "del-header":
		if !c.http {
			break
		}
		// del-header NAME [-m str|beg|end|sub|reg]: the name matched
		// without case but by the regex, which sees it in lower case.
		if len(args) == 3 && args[1] == "-m" && args[2] != "str" {
			switch args[2] {
			case "beg", "end", "sub":
				return fmt.Sprintf("H.del_headers(txn, %q, %q, %s)", side, args[2], luaQuote(strings.ToLower(args[0]))), nil
			case "reg":
				re := sc.g.constant(fmt.Sprintf("H.regex(%s, true)", luaQuote(args[0])))
				return fmt.Sprintf("H.del_headers(txn, %q, \"reg\", %s)", side, re), nil
			}
			return "", at.errorf("del-header: -m wants str, beg, end, sub or reg, got '%s'", args[2])
		}
		if len(args) == 3 && args[1] == "-m" {
			args = args[:1]
		}
		if err := need(1); err != nil {
			return "", err
		}
		return fmt.Sprintf("txn.http:%s_del_header(%s)", side, luaQuote(args[0])), nil
	case name == "replace-header" || name == "replace-value":
		if !c.http {
			break
		}
		if err := need(3); err != nil {
			return "", err
		}
		fn := "rep_header"
		if name == "replace-value" {
			fn = "rep_value"
		}
		if strings.Contains(args[2], "%[") {
			return "", at.errorf("%s: sample expressions in the replacement are not supported by luaedge", name)
		}
		return fmt.Sprintf("txn.http:%s_%s(%s, %s, %s)", side, fn, luaQuote(args[0]), luaQuote(args[1]), luaQuote(args[2])), nil
	case strings.HasPrefix(name, "set-var-fmt("):
		v, _ := varName(name, "set-var-fmt")
		if err := need(1); err != nil {
			return "", err
		}
		// Not an HTTP rule's string: nothing is encoded.
		val, err := sc.format(args[0])
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		return fmt.Sprintf("txn:set_var(%s, %s)", luaQuote(v), val), nil
	case strings.HasPrefix(name, "set-var("):
		v, ok := varName(name, "set-var")
		if !ok {
			return "", at.errorf("%s: want set-var(NAME)", name)
		}
		if strings.Contains(name, ",") {
			return "", at.errorf("%s: set-var conditions are not supported by luaedge", name)
		}
		if err := need(1); err != nil {
			return "", err
		}
		code, _, _, err := sc.expr(args[0], false)
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		return fmt.Sprintf("local v = %s\nif v ~= nil then txn:set_var(%s, v) end", code, luaQuote(v)), nil
	case strings.HasPrefix(name, "unset-var("):
		v, ok := varName(name, "unset-var")
		if !ok {
			return "", at.errorf("%s: want unset-var(NAME)", name)
		}
		return fmt.Sprintf("txn:unset_var(%s)", luaQuote(v)), nil
	case (name == "set-path" || name == "set-query" || name == "set-uri" || name == "set-method") && !res && c.http:
		if err := need(1); err != nil {
			return "", err
		}
		v, err := fmtArg(args[0])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("txn.http:req_%s(%s)", strings.ReplaceAll(name, "-", "_"), v), nil
	case name == "set-pathq" && !res && c.http:
		if err := need(1); err != nil {
			return "", err
		}
		v, err := fmtArg(args[0])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("H.set_pathq(txn, %s)", v), nil
	case (name == "replace-path" || name == "replace-pathq" || name == "replace-uri") && !res && c.http:
		if err := need(2); err != nil {
			return "", err
		}
		v, err := fmtArg(args[1])
		if err != nil {
			return "", err
		}
		re := sc.g.constant(fmt.Sprintf("H.regex(%s, true)", luaQuote(args[0])))
		return fmt.Sprintf("H.replace_target(txn, %s, %s, %s)", luaQuote(strings.TrimPrefix(name, "replace-")), re, v), nil
	case name == "set-status" && res && c.http:
		if len(args) != 1 && !(len(args) == 3 && args[1] == "reason") {
			return "", at.errorf("set-status: want a status and optionally 'reason TEXT'")
		}
		code, err := strconv.Atoi(args[0])
		if err != nil {
			return "", at.errorf("set-status: invalid status '%s'", args[0])
		}
		if len(args) == 3 {
			return fmt.Sprintf("txn.http:res_set_status(%d, %s)", code, luaQuote(args[2])), nil
		}
		return fmt.Sprintf("txn.http:res_set_status(%d)", code), nil
	case strings.HasPrefix(name, "sc-inc-gpc") || strings.HasPrefix(name, "sc-set-gpt"):
		return c.scAction(sc, at, name, args)
	case strings.HasPrefix(name, "set-map(") || strings.HasPrefix(name, "del-map("):
		file := resolvePath(c.dir, strings.TrimSuffix(name[len("set-map("):], ")"))
		want := 2
		if name[:3] == "del" {
			want = 1
		}
		if err := need(want); err != nil {
			return "", err
		}
		key, err := fmtArg(args[0])
		if err != nil {
			return "", err
		}
		if want == 1 {
			return fmt.Sprintf("core.del_map(%s, %s)", luaQuote(file), key), nil
		}
		val, err := fmtArg(args[1])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("core.set_map(%s, %s, %s)", luaQuote(file), key, val), nil
	case strings.HasPrefix(name, "add-acl(") || strings.HasPrefix(name, "del-acl("):
		// HAProxy 2.6 has them in http-request and http-response rules.
		file, ok := aclFileOf(name)
		if !ok || !c.http {
			return "", at.errorf("%s: want %s(FILE) KEY in an http-request or http-response rule", name, name[:7])
		}
		if err := need(1); err != nil {
			return "", err
		}
		key, err := fmtArg(args[0])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("core.%s_acl(%s, %s)", name[:3], luaQuote(resolvePath(c.dir, file)), key), nil
	case addrActions[name] && !res:
		if err := need(1); err != nil {
			return "", err
		}
		code, _, _, err := sc.expr(args[0], false)
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		return fmt.Sprintf("txn:%s(%s)", strings.ReplaceAll(name, "-", "_"), code), nil
	case name == "set-timeout" && c.http && !res:
		return c.setTimeout(sc, s, at, args)
	case name == "normalize-uri" && c.http && !res:
		return c.normalizeURI(sc, at, args)
	case name == "set-log-level":
		if err := need(1); err != nil {
			return "", err
		}
		if args[0] == "silent" {
			return "txn:set_loglevel(core.silent)", nil
		}
		if _, err := accesslog.ParseLevel(args[0]); err != nil {
			return "", at.errorf("set-log-level: %v, or silent", err)
		}
		return fmt.Sprintf("txn:set_loglevel(core.%s)", args[0]), nil
	case name == "set-tos" || name == "set-mark":
		if err := need(1); err != nil {
			return "", err
		}
		if _, err := strconv.ParseInt(args[0], 0, 64); err != nil {
			return "", at.errorf("%s: want a number", name)
		}
		return fmt.Sprintf("txn:%s(%s)", strings.ReplaceAll(name, "-", "_"), args[0]), nil
	case name == "allow" || name == "accept":
		if len(args) > 0 {
			return "", at.errorf("%s takes no argument", name)
		}
		return fmt.Sprintf("H.st(txn).skip[%s] = true", luaQuote(s.id)), nil
	case name == "reject" || name == "silent-drop" || (name == "close" && res && !c.http):
		if len(args) > 0 {
			return "", at.errorf("%s takes no argument", name)
		}
		return "txn:done()", nil
	case name == "early-hint" && c.http && !res:
		return c.earlyHints(sc, s, r)
	case (name == "cache-use" && !res || name == "cache-store" && res) && c.http:
		if err := need(1); err != nil {
			return "", err
		}
		if !slices.ContainsFunc(c.f.caches, func(x config.Cache) bool { return x.Name == args[0] }) {
			return "", at.errorf("%s: no cache section named '%s'", name, args[0])
		}
		return fmt.Sprintf("txn:%s(%s)", strings.ReplaceAll(name, "-", "_"), luaQuote(args[0])), nil
	case name == "deny" && c.http:
		code, err := c.deny(sc, at, args, res)
		// Refused by the proxy, as HAProxy's line says: while the request
		// (PR) or the server's response head (PH) was processed.
		term := "PR"
		if res {
			term = "PH"
		}
		return "txn:set_termination_state(\"" + term + "\")\n" + code, err
	case name == "tarpit" && c.http && !res:
		return c.tarpit(sc, s, at, args)
	case name == "auth" && c.http && !res:
		return c.auth(sc, at, args)
	case name == "return" && c.http && !res:
		code, err := c.ret(sc, at, args)
		return "txn:set_termination_state(\"LR\")\n" + code, err // answered locally, as HAProxy's line says
	case name == "redirect" && c.http && !res:
		return c.redirect(sc, at, args)
	}
	return "", at.unsupported(r.words[0])
}

// auth compiles http-request auth [realm REALM]: the answer of status 401
// (an errorfile or http-error for it, else HAProxy's page) with its
// WWW-Authenticate fields replaced by a Basic challenge for the realm,
// by default the name of the section whose rule it is, as HAProxy's.
func (c *chain) auth(sc scope, at pos, args []string) (string, error) {
	realm := sc.fe
	if sc.be != "" {
		realm = sc.be
	}
	switch {
	case len(args) == 2 && args[0] == "realm":
		realm = args[1]
	case len(args) != 0:
		return "", at.errorf("auth: want nothing, or realm REALM")
	}
	a, err := c.pageAnswer(sc, 401, sc.be)
	if err != nil {
		return "", at.errorf("auth: %v", err)
	}
	return c.send(fmt.Sprintf("H.challenge(%s, %s)", a, luaQuote(`Basic realm="`+realm+`"`))), nil
}

// page is the code sending the answer of status (pageAnswer).
func (c *chain) page(sc scope, status int, be string) (string, error) {
	a, err := c.pageAnswer(sc, status, be)
	return c.send(a), err
}

// pageAnswer is the answer of status as HAProxy picks it: the reply of
// backend be (the section whose rule answers, "" for the frontend's),
// else the frontend's, else HAProxy's page.
func (c *chain) pageAnswer(sc scope, status int, be string) (string, error) {
	r := c.beReplies[be][status]
	if r == nil {
		r = c.replies[status]
	}
	a, err := c.answer(sc, status, r)
	if err != nil {
		return "", fmt.Errorf("the answer of status %d: %v", status, err)
	}
	return a, nil
}

// send is the code sending answer a (answer's table, or H.challenge's).
func (c *chain) send(a string) string {
	return fmt.Sprintf("H.send(txn, %s, %v)", a, c.close)
}

// pageOfBackend is page for the backend the request went to (H.st's be,
// which the routing action sets), when the answer is not the rules'.
func (c *chain) pageOfBackend(sc scope, status int) (string, error) {
	var b strings.Builder
	for _, name := range sortedKeys(c.beReplies) {
		if c.beReplies[name][status] == nil {
			continue
		}
		page, err := c.page(sc, status, name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "if H.st(txn).be == %s then %s return end\n", luaQuote(name), page)
	}
	page, err := c.page(sc, status, "")
	return b.String() + page, err
}

// errorPages are HAProxy's built-in answers: the second line of each
// body, by status.
var errorPages = map[int]struct{ reason, text string }{
	200: {"OK", "Service ready."},
	400: {"Bad request", "Your browser sent an invalid request."},
	401: {"Unauthorized", "You need a valid user and password to access this content."},
	403: {"Forbidden", "Request forbidden by administrative rules."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"},
	407: {"Unauthorized", "You need a valid user and password to access this content."},
	408: {"Request Time-out", "Your browser didn't send a complete request in time."},
	410: {"Gone", "The resource is no longer available and will not be available again."},
	413: {"Payload Too Large", "The request entity exceeds the maximum allowed."},
	421: {"Misdirected Request", "Request sent to a non-authoritative server."},
	422: {"Unprocessable Content", "The server cannot process the contained instructions."},
	425: {"Too Early", "Your browser sent early data."},
	429: {"Too Many Requests", "You have sent too many requests in a given amount of time."},
	500: {"Internal Server Error", "An internal server error occurred."},
	501: {"Not Implemented", ".The server does not support the functionality required to fulfill the request."},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response."},
	503: {"Service Unavailable", "No server is available to handle this request."},
	504: {"Gateway Time-out", "The server didn't respond in time."},
}

// field is a header field of an answer, in lower case.
type field struct{ name, value string }

// errorPage returns the answer for status: the errorfile given for it,
// else HAProxy's page. Its fields are in the order HAProxy sends them;
// the content-length among them stands for the body's, made when sent.
func errorPage(status int, files map[int]string) (int, string, []field, string) {
	if raw, ok := files[status]; ok {
		if st, reason, fields, body, ok := parseAnswer(raw); ok {
			return st, reason, fields, body
		}
	}
	e, ok := errorPages[status]
	if !ok {
		e = errorPages[403]
		status = 403
	}
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", status, e.reason, e.text)
	fields := []field{{"content-length", ""}, {"cache-control", "no-cache"}}
	if status == 400 || status == 408 {
		fields = append(fields, field{"connection", "close"})
	}
	return status, e.reason, append(fields, field{"content-type", "text/html"}), body
}

// haproxyBufSize and haproxyRewriteReserve are HAProxy's default
// tune.bufsize and tune.maxrewrite: a head read takes at most their
// difference (haproxyHeadBytes); rewrites may fill the buffer.
const (
	haproxyBufSize        = 16384
	haproxyRewriteReserve = 1024
	haproxyHeadBytes      = haproxyBufSize - haproxyRewriteReserve
)

// ownErrorPages are the answers of the errors luaedge makes itself (a
// malformed request's 400, 408, 413, a server's 500, 502, 503, 504), as
// HAProxy makes them: its pages, or the frontend's errorfiles (the
// answers of http-error, made for each request, do not apply there).
func ownErrorPages(replies map[int]*errReply) map[int]config.ErrorPage {
	files := map[int]string{}
	for status, r := range replies {
		if r != nil && r.raw != "" {
			files[status] = r.raw
		}
	}
	pages := map[int]config.ErrorPage{}
	for _, status := range []int{400, 408, 413, 500, 502, 503, 504} {
		st, reason, fields, body := errorPage(status, files)
		if st == status {
			hdrs := map[string]string{}
			for _, f := range fields {
				if f.name != "content-length" && f.name != "transfer-encoding" {
					hdrs[f.name] = f.value // the length is made from the body
				}
			}
			pages[status] = config.ErrorPage{Reason: reason, Headers: hdrs, Body: body}
		}
	}
	// HAProxy has no 414 nor 431: a head too long for its buffer, or with
	// too many fields, is answered 400.
	if p, ok := pages[400]; ok {
		p.Status = 400
		pages[414], pages[431] = p, p
	}
	return pages
}

// parseAnswer reads an errorfile: a whole HTTP/1 answer, its fields in
// order (names in lower case, as HAProxy sends them).
func parseAnswer(raw string) (int, string, []field, string, bool) {
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		head, body, ok = strings.Cut(raw, "\n\n")
	}
	if !ok {
		return 0, "", nil, "", false
	}
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	parts := strings.SplitN(lines[0], " ", 3)
	if len(parts) < 2 {
		return 0, "", nil, "", false
	}
	st, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, "", nil, "", false
	}
	reason := http.StatusText(st)
	if len(parts) == 3 {
		reason = parts[2]
	}
	var fields []field
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields = append(fields, field{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)})
		}
	}
	return st, reason, fields, body, true
}

// deny: [deny_status N] [content-type T string|lf-string S] [hdr N V]...
func (c *chain) deny(sc scope, at pos, args []string, res bool) (string, error) {
	status := 403
	if res {
		status = 502
	}
	if len(args) >= 2 && args[0] == "deny_status" {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return "", at.errorf("deny: invalid deny_status '%s'", args[1])
		}
		// Alone it picks the error page; with more it is the reply's
		// status, as HAProxy reads it.
		status, args = n, args[2:]
	}
	// A denied request counts as an HTTP error of its tracked counters,
	// and its cookie is captured (capture cookie) as it stands.
	count := ""
	if !res {
		count = "txn:count_http_error()\ntxn:capture_cookie()\n"
	}
	if len(args) > 0 {
		code, err := c.reply(sc, at, "deny", status, args)
		return count + code, err
	}
	if _, ok := errorPages[status]; !ok {
		return "", at.errorf("deny: status %d has no error page (HAProxy's are 200, 400-504)", status)
	}
	page, err := c.page(sc, status, sc.be)
	if err != nil {
		return "", at.errorf("deny: %v", err)
	}
	return count + page, nil
}

// setTimeout compiles set-timeout server|tunnel TIME|EXPR: the request's
// server or tunnel timeout, a time or an expression giving milliseconds
// (ignored unless positive), in a backend or a listen as in HAProxy.
func (c *chain) setTimeout(sc scope, s section, at pos, args []string) (string, error) {
	if len(args) != 2 || (args[0] != "server" && args[0] != "tunnel") {
		return "", at.errorf("set-timeout: want 'set-timeout server|tunnel TIME|EXPR'")
	}
	if s.p.kind == "frontend" {
		return "", at.errorf("set-timeout: only in a backend or a listen (the server and tunnel timeouts are a backend's)")
	}
	if d, err := duration(args[1]); err == nil {
		ms := time.Duration(d).Milliseconds()
		if ms < 1 || ms > math.MaxInt32 {
			return "", at.errorf("set-timeout: %s is out of range (1ms to 24 days)", args[1])
		}
		return fmt.Sprintf("txn:set_timeout(%s, %d)", luaQuote(args[0]), ms), nil
	}
	code, _, _, err := sc.expr(args[1], false)
	if err != nil {
		return "", at.errorf("set-timeout: %v", err)
	}
	return fmt.Sprintf("local v = tonumber(H.S(%s))\nif v and v >= 1 and v <= 2147483647 then txn:set_timeout(%s, v) end", code, luaQuote(args[0])), nil
}

// normalizers are normalize-uri's, with the option each takes ("": none).
var normalizers = map[string]string{
	"path-merge-slashes": "", "path-strip-dot": "", "path-strip-dotdot": "full", "query-sort-by-name": "",
	"percent-to-uppercase": "strict", "percent-decode-unreserved": "strict", "fragment-strip": "", "fragment-encode": "",
}

// normalizeURI compiles http-request normalize-uri NAME [full|strict]: the
// request target normalized as HAProxy's normalizer does; a strict one
// that finds an invalid escape answers 400.
func (c *chain) normalizeURI(sc scope, at pos, args []string) (string, error) {
	if len(args) == 0 || len(args) > 2 {
		return "", at.errorf("normalize-uri: want a normalizer and maybe its option")
	}
	opt, ok := normalizers[args[0]]
	if !ok {
		return "", at.errorf("normalize-uri: unknown normalizer '%s'", args[0])
	}
	on := false
	if len(args) == 2 {
		if opt == "" || args[1] != opt {
			return "", at.errorf("normalize-uri %s: unexpected '%s'", args[0], args[1])
		}
		on = true
	}
	page, err := c.page(sc, 400, sc.be)
	if err != nil {
		return "", at.errorf("normalize-uri: %v", err)
	}
	return fmt.Sprintf("if not H.normalize_uri(txn, %s, %v) then %s return end", luaQuote(args[0]), on, page), nil
}

// tarpit compiles http-request tarpit [deny_status N] [...]: the request
// waits timeout tarpit (else timeout connect, else luaedge's connect
// default), then gets deny's answer, of status 500 by default, as
// HAProxy's: a robot is slowed down, and then refused; its log line's
// termination state is PT.
func (c *chain) tarpit(sc scope, s section, at pos, args []string) (string, error) {
	d := s.p.timeouts["tarpit"]
	if d == 0 {
		d = s.p.timeouts["connect"]
	}
	if d == 0 {
		d = config.Duration(config.DefaultConnect)
	}
	if len(args) < 2 || args[0] != "deny_status" {
		args = append([]string{"deny_status", "500"}, args...)
	}
	answer, err := c.deny(sc, at, args, false)
	if err != nil {
		return "", err
	}
	// The line says PT (held by the proxy, then refused), as HAProxy's.
	return fmt.Sprintf("core.msleep(%d)\ntxn:set_termination_state(\"PT\")\n%s", time.Duration(d).Milliseconds(), answer), nil
}

// doResolve compiles do-resolve(VAR,RESOLVERS[,ipv4|ipv6]) EXPR: the
// name EXPR gives is looked up (core.resolve: the request waits) and the
// address of the family preferred (IPv6 by default, as HAProxy), else of
// the other, is stored in VAR; on a failure VAR is not set.
func (c *chain) doResolve(sc scope, at pos, name string, args []string) (string, error) {
	params := strings.Split(name[len("do-resolve("):len(name)-1], ",")
	if len(params) < 2 || len(params) > 3 || len(args) != 1 {
		return "", at.errorf("do-resolve: want do-resolve(VAR,RESOLVERS[,ipv4|ipv6]) EXPR")
	}
	if !c.resolvers[params[1]] {
		return "", at.errorf("do-resolve: no resolvers section named '%s'", params[1])
	}
	v6 := "true"
	if len(params) == 3 {
		switch params[2] {
		case "ipv4":
			v6 = "false"
		case "ipv6":
		default:
			return "", at.errorf("do-resolve: want ipv4 or ipv6, got '%s'", params[2])
		}
	}
	code, _, _, err := sc.expr(args[0], false)
	if err != nil {
		return "", at.errorf("do-resolve: %v", err)
	}
	return fmt.Sprintf("local ip = H.resolve(%s, %s)\nif ip then txn:set_var(%s, ip) end", code, v6, luaQuote(params[0])), nil
}

// scAction compiles the actions on general purpose counters and tags of
// a tracked entry: sc-inc-gpc0(SC), sc-inc-gpc1(SC), sc-inc-gpc(IDX,SC),
// sc-set-gpt0(SC) VALUE and sc-set-gpt(IDX,SC) VALUE (VALUE an integer
// or a sample expression). As HAProxy's, they do nothing when the
// counter is not tracked or its table does not store the counter.
func (c *chain) scAction(sc scope, at pos, name string, args []string) (string, error) {
	kw, inner, ok := strings.Cut(name, "(")
	inner, closed := strings.CutSuffix(inner, ")")
	array := kw == "sc-inc-gpc" || kw == "sc-set-gpt"
	want := kw + "(SC)"
	if array {
		want = kw + "(IDX,SC)"
	}
	known := map[string]bool{"sc-inc-gpc0": true, "sc-inc-gpc1": true, "sc-inc-gpc": true, "sc-set-gpt0": true, "sc-set-gpt": true}
	if !known[kw] {
		return "", at.unsupported(kw)
	}
	params := strings.Split(inner, ",")
	bad := !ok || !closed || (array && len(params) != 2) || (!array && len(params) != 1)
	nums := make([]int, len(params))
	for i, p := range params {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		nums[i] = n
		bad = bad || err != nil
	}
	if bad {
		return "", at.errorf("%s: want %s, SC 0, 1 or 2", name, want)
	}
	sc0 := nums[len(nums)-1]
	if sc0 < 0 || sc0 > 2 {
		return "", at.errorf("%s: want %s, SC 0, 1 or 2", name, want)
	}
	if array && (nums[0] < 0 || nums[0] > 99) {
		return "", at.errorf("%s: the index must be between 0 and 99", name)
	}
	setter := strings.HasPrefix(kw, "sc-set-")
	if setter != (len(args) == 1) {
		if setter {
			return "", at.errorf("%s: want an integer or a sample expression", name)
		}
		return "", at.errorf("%s takes no argument", name)
	}
	switch kw {
	case "sc-inc-gpc0", "sc-inc-gpc1":
		return fmt.Sprintf("txn.f:sc_%s(%d)", strings.ReplaceAll(kw[3:], "-", "_"), sc0), nil
	case "sc-inc-gpc":
		return fmt.Sprintf("txn.f:sc_inc_gpc(%d, %d)", nums[0], sc0), nil
	}
	v := args[0]
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		code, _, _, err := sc.expr(v, false)
		if err != nil {
			return "", at.errorf("%s: %v", name, err)
		}
		v = code
	}
	if kw == "sc-set-gpt0" {
		return fmt.Sprintf("txn:sc_set_gpt0(%d, %s)", sc0, v), nil
	}
	return fmt.Sprintf("txn:sc_set_gpt(%d, %d, %s)", nums[0], sc0, v), nil
}

// addrActions are the actions that change the client's or the
// destination's address (TXN.set_src... in Lua): tcp-request connection
// rules too.
var addrActions = map[string]bool{"set-src": true, "set-src-port": true, "set-dst": true, "set-dst-port": true}

// afterActions are the actions of http-after-response rules.
var afterActions = map[string]bool{
	"add-header": true, "allow": true, "capture": true, "del-header": true, "replace-header": true,
	"replace-value": true, "set-header": true, "set-status": true, "set-var": true, "set-var-fmt": true,
	"strict-mode": true, "unset-var": true,
}

// strictReset is the action ending section s's rules in phase when they
// hold a strict-mode rule: HAProxy's strict mode is on again for the
// next section's.
func (c *chain) strictReset(s section, phase string) []string {
	for _, r := range s.rules {
		if r.words[0] == "strict-mode" {
			return []string{c.g.action(phase, "the end of "+s.id+"'s rules: strict-mode on", "H.st(txn).lax = false")}
		}
	}
	return nil
}

// track compiles track-scN KEY [table T]: the request tracks KEY in
// sticky counter N, in the section's stick table or T.
func (c *chain) track(sc scope, s section, at pos, name string, args []string) (string, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "track-sc"))
	if err != nil || n < 0 || n > 2 {
		return "", at.errorf("%s: want track-sc0, track-sc1 or track-sc2", name)
	}
	if len(args) != 1 && !(len(args) == 3 && args[1] == "table") {
		return "", at.errorf("%s: want a key and optionally 'table NAME'", name)
	}
	table := s.p.name
	if s.p.stick == nil {
		table = ""
	}
	if len(args) == 3 {
		table = args[2]
		if t := c.tables[table]; t == nil {
			return "", at.errorf("%s ... table %s: no frontend, backend or listen named %s with a stick-table", name, table, table)
		}
	}
	if table == "" {
		return "", at.errorf("%s: %s has no stick-table (add one, or name another with 'table NAME')", name, s.p.name)
	}
	code, _, _, err := sc.expr(args[0], false)
	if err != nil {
		return "", at.errorf("%s: %v", name, err)
	}
	return fmt.Sprintf("txn:track_sc(%d, %s, %s)", n, code, luaQuote(table)), nil
}

// ret: return [status N] [content-type T] [string S|lf-string F|file F|errorfile F] [hdr N V]...
func (c *chain) ret(sc scope, at pos, args []string) (string, error) {
	status := 200
	if len(args) >= 2 && args[0] == "status" {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 200 || n > 599 {
			return "", at.errorf("return: invalid status '%s'", args[1])
		}
		status, args = n, args[2:]
	}
	return c.reply(sc, at, "return", status, args)
}

// reply compiles the answer options of deny and return. As in HAProxy, a
// content-type goes with a body only: without one, or with an empty string
// or file, it is dropped.
func (c *chain) reply(sc scope, at pos, kw string, status int, args []string) (string, error) {
	ctype := ""
	body := ""
	bodySet, rawEmpty := false, false
	var hdrs []string
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			return "", at.errorf("%s: '%s' needs a value", kw, args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return "", at.errorf("%s: invalid status '%s'", kw, v)
			}
			status = n
		case "content-type":
			ctype = luaQuote(v)
		case "string":
			body, bodySet, rawEmpty = luaQuote(v), true, v == ""
		case "lf-string":
			code, err := sc.formatHTTP(v)
			if err != nil {
				return "", at.errorf("%s: %v", kw, err)
			}
			body, bodySet = code, true
		case "file", "lf-file":
			p := resolvePath(c.dir, v)
			data, err := os.ReadFile(p)
			if err != nil {
				return "", at.errorf("%s: %v", kw, err)
			}
			body, bodySet, rawEmpty = luaQuote(string(data)), true, len(data) == 0 && args[i] == "file"
			if args[i] == "lf-file" {
				code, err := sc.formatHTTP(string(data))
				if err != nil {
					return "", at.errorf("%s: %v", kw, err)
				}
				body = code
			}
		case "errorfile", "errorfiles":
			// The answer is the file, or the section's for the status, whole:
			// HAProxy ignores content-type and hdr with them.
			r := &errReply{}
			var err error
			if args[i] == "errorfile" {
				data, err := c.f.readFile(at, kw, v)
				if err != nil {
					return "", err
				}
				r.raw = data
			} else if r, err = c.f.sectionReply(at, kw, v, status); err != nil {
				return "", err
			}
			if _, ok := errorPages[status]; !ok && args[i] == "errorfiles" {
				return "", at.errorf("%s: status %d not handled with errorfiles (HAProxy's are 200, 400-504)", kw, status)
			}
			a, err := c.answer(sc, status, r)
			if err != nil {
				return "", at.errorf("%s: %v", kw, err)
			}
			return c.send(a), nil
		case "hdr":
			if i+2 >= len(args) {
				return "", at.errorf("%s: hdr needs a name and a value", kw)
			}
			code, err := sc.formatHTTP(args[i+2])
			if err != nil {
				return "", at.errorf("%s: %v", kw, err)
			}
			hdrs = append(hdrs, fmt.Sprintf("v = %s\nif v ~= \"\" then h[#h + 1] = %s; h[#h + 1] = v end\n", code, luaQuote(strings.ToLower(v))))
			i++
		case "default-errorfiles":
			// The section's answer of the status, as deny without a payload.
			if _, ok := errorPages[status]; !ok {
				return "", at.errorf("%s: status %d not handled with default-errorfiles (HAProxy's are 200, 400-504)", kw, status)
			}
			page, err := c.page(sc, status, sc.be)
			if err != nil {
				return "", at.errorf("%s: %v", kw, err)
			}
			return page, nil
		default:
			return "", at.errorf("%s: '%s' is not supported by luaedge", kw, args[i])
		}
		i++
	}
	if !bodySet || rawEmpty {
		ctype = ""
	} else if ctype == "" {
		return "", at.errorf("%s: a body needs a content-type", kw)
	}
	// As HAProxy's: the hdr fields whose value is not empty, the
	// content-length (the body's, made when sent), the content-type.
	var b strings.Builder
	b.WriteString("local h, v = {}\n")
	for _, h := range hdrs {
		b.WriteString(h)
	}
	b.WriteString("h[#h + 1] = \"content-length\"; h[#h + 1] = \"\"\n")
	if ctype != "" {
		fmt.Fprintf(&b, "h[#h + 1] = \"content-type\"; h[#h + 1] = %s\n", ctype)
	}
	if body == "" {
		body = `""`
	}
	b.WriteString(c.send(fmt.Sprintf("{status = %d, reason = %s, fields = h, body = %s}", status, luaQuote(haproxyReason(status)), body)))
	return b.String(), nil
}

// earlyHints compiles an early-hint rule and those merged with it
// (rule.hints) into one 103 Early Hints, sent before the rules go on:
// the first rule's field if its condition holds, then the others'. A 103
// with no field is not sent; an HTTP/1.0 client gets none (both as
// HAProxy 2.6).
func (c *chain) earlyHints(sc scope, s section, r rule) (string, error) {
	var b strings.Builder
	b.WriteString("local h = {}\n")
	for i, x := range append([]rule{r}, r.hints...) {
		w := x.words
		ci := condIndex(w)
		if ci != 3 {
			return "", x.at.errorf("early-hint: want a field name and a value (quote it)")
		}
		if !httpToken(w[1]) {
			return "", x.at.errorf("early-hint: invalid field name '%s'", w[1])
		}
		v, err := sc.formatHTTP(w[2])
		if err != nil {
			return "", x.at.errorf("early-hint: %v", err)
		}
		add := fmt.Sprintf("h[#h + 1] = {%s, %s}", luaQuote(strings.ToLower(w[1])), v)
		if i == 0 && ci < len(w) {
			cond, err := sc.cond(w[ci:], s.p.acls)
			if err != nil {
				return "", x.at.errorf("early-hint: %v", err)
			}
			add = fmt.Sprintf("if %s then %s end", cond, add)
		}
		b.WriteString(add + "\n")
	}
	b.WriteString("txn.http:early_hints(h)")
	return b.String(), nil
}

// httpToken reports whether s is an HTTP token (a field name).
func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// redirect: location|prefix|scheme VALUE [code N] [drop-query] [append-slash] [set-cookie C] [clear-cookie C] [ignore-empty],
// the options in any order, as HAProxy takes them.
func (c *chain) redirect(sc scope, at pos, args []string) (string, error) {
	kind, v := "", ""
	code := 302
	dropQuery, appendSlash, ignoreEmpty := false, false, false
	cookie := "" // the last set-cookie or clear-cookie, as HAProxy keeps one
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "location", "prefix", "scheme":
			if kind != "" || i+1 >= len(args) {
				return "", at.errorf("redirect: want one of location, prefix or scheme, and a value")
			}
			var err error
			if v, err = sc.formatHTTP(args[i+1]); err != nil {
				return "", at.errorf("redirect: %v", err)
			}
			kind = args[i]
			i++
		case "ignore-empty":
			ignoreEmpty = true
		case "code":
			if i+1 >= len(args) {
				return "", at.errorf("redirect: code needs a value")
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || (n != 301 && n != 302 && n != 303 && n != 307 && n != 308) {
				return "", at.errorf("redirect: code must be 301, 302, 303, 307 or 308, got '%s'", args[i+1])
			}
			code = n
			i++
		case "drop-query":
			dropQuery = true
		case "append-slash":
			appendSlash = true
		case "set-cookie", "clear-cookie":
			if i+1 >= len(args) {
				return "", at.errorf("redirect: %s needs a value", args[i])
			}
			// As HAProxy: clear-cookie NAME[=] keeps the name as given.
			cookie = args[i+1] + "; path=/;"
			if args[i] == "clear-cookie" {
				cookie = args[i+1] + "; path=/; Max-Age=0;"
			}
			i++
		default:
			return "", at.errorf("redirect: '%s' is not supported by luaedge", args[i])
		}
	}
	if kind == "" {
		return "", at.errorf("redirect: want location, prefix or scheme and a value")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "local val = %s\n", v)
	if ignoreEmpty {
		// An empty value skips the rule.
		b.WriteString("if val ~= \"\" then\n")
	}
	b.WriteString("txn:set_termination_state(\"LR\")\n") // answered locally, as HAProxy's line says
	uri := "local path = txn.f:path() or \"\"\n"
	if appendSlash {
		uri += "if path:sub(-1) ~= \"/\" then path = path .. \"/\" end\n"
	}
	if dropQuery {
		uri += "local uri = path\n"
	} else {
		uri += "local q = txn.f:query()\nlocal uri = q and (path .. \"?\" .. q) or path\n"
	}
	switch kind {
	case "location":
		b.WriteString("local loc = val\n")
	case "prefix":
		fmt.Fprintf(&b, "%slocal pre = val\nif pre == \"/\" then pre = \"\" end\nlocal loc = pre .. uri\n", uri)
	case "scheme":
		fmt.Fprintf(&b, "%slocal host = txn.f:req_fhdr(\"host\")\nlocal loc = val .. \"://\" .. (host or \"\") .. uri\n", uri)
	}
	reasons := map[int]string{301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect"}
	// In HAProxy's order: content-length (0), location, cache-control,
	// set-cookie.
	b.WriteString(`local h = {"content-length", "", "location", loc`)
	if code == 302 || code == 303 || code == 307 {
		// As HAProxy: the temporary redirects are not to be cached.
		b.WriteString(`, "cache-control", "no-cache"`)
	}
	if cookie != "" {
		fmt.Fprintf(&b, `, "set-cookie", %s`, luaQuote(cookie))
	}
	b.WriteString("}\n" + c.send(fmt.Sprintf("{status = %d, reason = %s, fields = h, body = \"\"}", code, luaQuote(reasons[code]))))
	if ignoreEmpty {
		b.WriteString("\nend")
	}
	return b.String(), nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// tables returns the sections that have a stick-table, by name.
func (f *file) tables() map[string]*proxy {
	m := map[string]*proxy{}
	for _, p := range f.proxies {
		if p.stick != nil {
			m[p.name] = p
		}
	}
	return m
}

// defaultLogFormat is HAProxy's log line when a section logs without
// option httplog or a log-format: its option tcplog.
const defaultLogFormat = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"

// httpLogFormat is HAProxy's option httplog.
const httpLogFormat = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"

// accessLog maps the section's log lines, log-format and option httplog /
// tcplog onto its access_log: off without log lines (as HAProxy), else
// a target per log line (log global: the global section's, all of them,
// in its place).
func (f *file) accessLog(g *gen, p *proxy, http bool) (*config.AccessLog, error) {
	var targets []logLine
	for _, l := range p.logs {
		if l.to == "global" {
			targets = append(targets, f.logs...)
		} else {
			targets = append(targets, l)
		}
	}
	if len(targets) == 0 {
		return &config.AccessLog{Off: true}, nil
	}
	al := &config.AccessLog{Format: defaultLogFormat, SeparateErrors: p.logErrors, LogEmpty: !p.dontLogNull, Tag: f.logTag, Hostname: f.logHost}
	if p.logTag != "" {
		al.Tag = p.logTag
	}
	for _, t := range targets {
		al.Targets = append(al.Targets, config.LogTarget{To: t.to, Facility: t.facility, Level: t.level, MinLevel: t.minLevel, SyslogFormat: t.format, Length: t.length, Sample: t.sample})
	}
	if len(al.Targets) == 1 {
		// One target reads as the map's own keys.
		t := al.Targets[0]
		al.Targets = nil
		al.To, al.Facility, al.Level, al.MinLevel, al.SyslogFormat, al.Length, al.Sample = t.To, t.Facility, t.Level, t.MinLevel, t.SyslogFormat, t.Length, t.Sample
	}
	switch {
	case len(p.logFormat.words) > 0:
		spec, err := g.logFormat(p, http)
		if err == nil {
			// Checked here to name the line: the server compiles it.
			_, err = accesslog.ParseFormat(spec, !http, accesslog.Captures{Request: len(p.capture.Request), Response: len(p.capture.Response), Cookie: p.capture.Cookie != nil})
		}
		if err != nil {
			return nil, p.logFormat.at.errorf("log-format: %v", err)
		}
		al.Format = spec
	case p.logOption == "httplog" && http:
		al.Format = httpLogFormat
	case p.logOption != "":
		// tcplog, or a TCP frontend's httplog, which HAProxy makes tcplog.
		al.Format = defaultLogFormat
	}
	return al, nil
}

// logFormat rewrites p's log-format for the access log: a sample
// expression luaedge's access log does not read itself (var(), the
// capture fetches) becomes a Lua fetch, generated here, that the request
// calls when it ends. The other variables are the access log's.
func (g *gen) logFormat(p *proxy, http bool) (string, error) {
	s := p.logFormat.words[0]
	sc := scope{fe: p.name, res: false, phase: "http-req", g: g, caps: p.capture}
	if !http {
		sc.phase = "tcp-req"
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "%ID") && (i+3 == len(s) || !isLetter(s[i+3])) {
			out.WriteString("%[var(txn.__hc_unique_id)]")
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "%[") {
			out.WriteByte(s[i])
			if s[i] == '%' && i+1 < len(s) && s[i+1] == '%' {
				out.WriteByte('%')
				i++
			}
			continue
		}
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return "", fmt.Errorf("'%s': missing ']'", s)
		}
		expr := s[i+2 : i+end]
		i += end
		if (strings.HasPrefix(expr, "var(") || strings.HasPrefix(expr, "capture.req.hdr(") || strings.HasPrefix(expr, "capture.res.hdr(")) && !strings.Contains(expr, "),") {
			out.WriteString("%[" + expr + "]")
			continue
		}
		code, _, _, err := sc.expr(expr, false)
		if err != nil {
			return "", err
		}
		g.nlog++
		name := fmt.Sprintf("haproxycfg_log_%d", g.nlog)
		fmt.Fprintf(&g.body, "-- %s: log-format %%[%s]\ncore.register_fetches(%s, function(txn) return %s end)\n", p.logFormat.at, expr, luaQuote(name), code)
		out.WriteString("%[lua." + name + "]")
	}
	return out.String(), nil
}

// filterLine writes a filter line's words as the model's "lua.NAME
// args...": an argument that is empty or holds spaces is double-quoted.
func filterLine(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t") {
			w = `"` + w + `"`
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

// forwards reports whether a backend section forwards to servers: it
// has one that is not disabled. One whose servers are all disabled
// answers as a backend without servers (its http-error 503).
func (p *proxy) forwards() bool {
	return slices.ContainsFunc(p.servers, func(s config.Server) bool { return !s.Disabled })
}
