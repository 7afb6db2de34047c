// Package backend holds the backends a frontend forwards requests to: their
// servers, the load-balancing algorithms and the health checks.
//
// The semantics follow HAProxy where they apply: "balance roundrobin",
// "static-rr", "leastconn", "first", "source", "random", "uri",
// "url_param" and "hdr" (with HAProxy's hashes and "hash-type": hash.go),
// server weights 0..256, maxconn, backup servers,
// health checks with inter/rise/fall, the drain/maint/ready admin states,
// the check_force_* overrides, and the backend's queue of requests waiting
// for a server under its maxconn (queue.go).
//
// A Backend is shared by every event loop; all of its methods and those of
// its servers are safe for concurrent use.
package backend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config of one backend. The YAML layer fills it; New validates it.
type Config struct {
	Name    string
	Balance string // HAProxy's balance line without the keyword: "roundrobin" (default), "url_param id", "hdr(host)"...
	// HashType is HAProxy's hash-type line without the keyword, for the
	// hashing algorithms (source, uri, url_param, hdr): "map-based" (the
	// default), "consistent", "map-based djb2 avalanche"...
	HashType string
	Servers  []ServerConfig
	Check    CheckConfig
	// Cookie is the persistence cookie a client keeps its server with
	// (nil: none).
	Cookie *Cookie
}

// Cookie is HAProxy's persistence cookie ("cookie NAME ..."): a request
// whose cookie names a server that is up goes to it. Read-only once made;
// what it does to requests and responses is proxy's (cookie.go).
type Cookie struct {
	Name string
	Mode CookieMode
	// Indirect: a client whose cookie names the server that answers gets
	// no new one and a server's own is dropped; in insert mode the cookie
	// is taken out of the requests servers get.
	Indirect bool
	Preserve bool // a server's own Set-Cookie of the cookie is left alone
	PostOnly bool // inserted in answers to POST requests only
	NoCache  bool // an answer a cache could keep gets cache-control: private with it
	HTTPOnly bool
	Secure   bool
	Domains  []string
	Attrs    []string
	// MaxIdle and MaxLife: a cookie whose dates say it was refreshed or
	// first given longer ago is ignored; the inserted cookie carries its
	// dates (proxy/cookie.go). 0: none.
	MaxIdle, MaxLife time.Duration
}

// CookieMode is how a persistence cookie names the server.
type CookieMode uint8

const (
	// CookieInsert: luaedge sets the cookie (Set-Cookie: NAME=VALUE).
	CookieInsert CookieMode = iota
	// CookieRewrite: the server sets it; luaedge replaces its value.
	CookieRewrite
	// CookiePrefix: the server sets it; luaedge prefixes its value with
	// "VALUE~", and takes the prefix off in requests.
	CookiePrefix
	// CookiePassive: the server sets it with its value; luaedge only reads
	// it.
	CookiePassive
)

// ServerConfig is one server of a backend.
type ServerConfig struct {
	Name    string
	Address string // host:port, the port numeric
	Weight  int    // 0..256; 0 in the config means 1 (SetWeight(0) stops new traffic)
	MaxConn int    // concurrent requests on this server; 0 is unlimited
	Backup  bool   // used only when no non-backup server is usable
	// Cookie is the value of the backend's persistence cookie that names
	// the server ("": none, the server is never chosen by cookie).
	Cookie string
	// Disabled starts the server in maintenance (HAProxy's disabled).
	Disabled bool
	// TLS is how connections to the server (and its http checks) speak
	// TLS; nil: clear text. Shared, read-only.
	TLS *tls.Config
	// SendProxy is the PROXY protocol version the connections to the
	// server start with (1 or 2); 0: none. CheckHeader is what its
	// health checks send first then: a PROXY header that names no client
	// (the receiver keeps the connection's own addresses). Read-only.
	SendProxy   int
	CheckHeader []byte
}

// CheckConfig configures the health checks of every server of a backend.
type CheckConfig struct {
	// Type is "" (no active checks: servers are up unless forced down or
	// taken down by reported connect errors), "tcp" or "http".
	Type string
	// Path is the request path of http checks; default "/".
	Path string
	// Host is the Host header of http checks; default the server address.
	Host string
	// ExpectStatus is the status an http check wants; 0 accepts any 2xx or 3xx.
	ExpectStatus int
	// Interval between two checks of a server; default 2s.
	Interval time.Duration
	// Timeout bounds one check, connect and response together; default Interval.
	Timeout time.Duration
	// Rise is how many consecutive successes bring a down server up; default 2.
	Rise int
	// Fall is how many consecutive failures take an up server down; default 3.
	Fall int
}

// Defaults of CheckConfig's zero fields.
const (
	DefaultCheckInterval = 2 * time.Second
	DefaultRise          = 2
	DefaultFall          = 3
)

// MaxWeight is the largest server weight, as in HAProxy.
const MaxWeight = 256

// Balancing algorithms.
const (
	algoRoundRobin = iota
	algoLeastConn
	algoSource
	algoFirst
	algoRandom
	algoURI
	algoURLParam
	algoHeader
)

// RequestKey says what of a request the backend's algorithm hashes
// (Backend.RequestKey): the caller hands it to Pick.
type RequestKey int

const (
	KeyClient RequestKey = iota // the client's address (source), or nothing
	KeyTarget                   // the request target as received (uri, url_param)
	KeyHeader                   // the first value of a header field (hdr(NAME)), without its comma list
)

// CheckBalance reports whether a balance line (the words after
// "balance") is one New accepts.
func CheckBalance(line string) error {
	_, err := parseBalance(line)
	return err
}

// balance is a backend's balance line: the algorithm, the key it hashes
// and its options. Read-only once made.
type balance struct {
	algo  int
	key   RequestKey
	param string // url_param's parameter; hdr's field name, lower case
	// uri: whole keeps the query, pathOnly drops an absolute URI's
	// scheme and authority, maxLen (len) and depth (directories) cut it.
	whole, pathOnly bool
	maxLen, depth   int
	domainOnly      bool // hdr(NAME) use_domain_only
}

// parseBalance reads a balance line (HAProxy's words after "balance").
func parseBalance(line string) (balance, error) {
	w := strings.Fields(line)
	if len(w) == 0 {
		return balance{algo: algoRoundRobin}, nil
	}
	one := func(a int) (balance, error) {
		if len(w) > 1 {
			return balance{}, fmt.Errorf("balance %s: no options are supported (got %q)", w[0], strings.Join(w[1:], " "))
		}
		return balance{algo: a}, nil
	}
	switch name := w[0]; {
	case name == "roundrobin", name == "static-rr":
		// static-rr is roundrobin whose weights do not change at run
		// time: luaedge's spread is the same for both.
		return one(algoRoundRobin)
	case name == "leastconn":
		return one(algoLeastConn)
	case name == "source":
		return one(algoSource)
	case name == "first":
		return one(algoFirst)
	case name == "random", name == "random(2)":
		return one(algoRandom)
	case name == "uri":
		return parseURIOptions(w[1:])
	case name == "url_param":
		if len(w) != 2 {
			return balance{}, errors.New("balance url_param: want a parameter name, and no option (check_post is not supported)")
		}
		return balance{algo: algoURLParam, key: KeyTarget, param: w[1]}, nil
	case strings.HasPrefix(name, "hdr(") && strings.HasSuffix(name, ")") && len(name) > 5:
		bl := balance{algo: algoHeader, key: KeyHeader, param: strings.ToLower(name[4 : len(name)-1])}
		switch {
		case len(w) == 2 && w[1] == "use_domain_only":
			bl.domainOnly = true
		case len(w) > 1:
			return balance{}, fmt.Errorf("balance %s: only the option use_domain_only is supported (got %q)", name, strings.Join(w[1:], " "))
		}
		return bl, nil
	}
	return balance{}, fmt.Errorf("balance: unknown %q (want roundrobin, static-rr, leastconn, first, source, random, uri, url_param NAME or hdr(NAME))", line)
}

// parseURIOptions reads the options of balance uri: whole, path-only,
// len N, depth N, in any order.
func parseURIOptions(w []string) (balance, error) {
	bl := balance{algo: algoURI, key: KeyTarget}
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "whole":
			bl.whole = true
		case "path-only":
			bl.pathOnly = true
		case "len", "depth":
			n := 0
			if i+1 < len(w) {
				n, _ = strconv.Atoi(w[i+1])
			}
			if n <= 0 {
				return balance{}, fmt.Errorf("balance uri: %s wants a positive integer", w[i])
			}
			if w[i] == "len" {
				bl.maxLen = n
			} else {
				bl.depth = n
			}
			i++
		default:
			return balance{}, fmt.Errorf("balance uri: want the options len N, depth N, whole or path-only (got %q)", w[i])
		}
	}
	return bl, nil
}

// Backend is a set of servers shared by every event loop; all methods are
// safe for concurrent use.
type Backend struct {
	name     string
	bal      balance
	hash     hashType
	algoName string
	cookie   *Cookie     // read-only
	check    CheckConfig // defaults applied

	// set is the servers now. The runtime API's add and del server
	// replace it whole (copy on write, serialised by edit), so that
	// Pick on every loop and the readers load it without a lock of
	// their own.
	set  atomic.Pointer[serverSet]
	edit sync.Mutex

	// mu serialises Pick: the balancer state below (and each server's
	// rrCur, and the set's weights) and the maxconn test-and-increment,
	// so that concurrent picks never overshoot maxconn.
	mu     sync.Mutex
	lcNext int // leastconn: where the next scan starts, to rotate ties

	cur  atomic.Int64 // requests in flight over all servers
	smax atomic.Int64 // highest cur seen; written under mu
	stot atomic.Uint64

	// queue holds the requests waiting for a server, first come first;
	// guarded by mu. qlen is its length, read without the lock; qmax the
	// longest it was (written under mu).
	queue []*Ticket
	qlen  atomic.Int64
	qmax  atomic.Int64

	hookMu sync.Mutex
	hooks  atomic.Pointer[[]func(*Server, bool)]

	// ctx is cancelled by Stop; it bounds every checker and probe goroutine.
	ctx     context.Context
	cancel  context.CancelFunc
	life    sync.Mutex // guards started and wg.Add against Stop
	started bool
	wg      sync.WaitGroup
}

// New validates cfg and returns its backend, every server up and ready.
// Errors name the offending field, as in "servers[1].address: ...".
func New(cfg Config) (*Backend, error) {
	if cfg.Name == "" {
		return nil, errors.New("name: required")
	}
	algoName := strings.Join(strings.Fields(cfg.Balance), " ")
	if algoName == "" {
		algoName = "roundrobin"
	}
	bal, err := parseBalance(algoName)
	if err != nil {
		return nil, err
	}
	ht, err := parseHashType(cfg.HashType)
	if err != nil {
		return nil, fmt.Errorf("hash_type: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("servers: at least one server is required")
	}
	check, err := checkDefaults(cfg.Check)
	if err != nil {
		return nil, err
	}

	b := &Backend{
		name:     cfg.Name,
		bal:      bal,
		hash:     ht,
		algoName: algoName,
		cookie:   cfg.Cookie,
		check:    check,
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	seen := make(map[string]int, len(cfg.Servers))
	var servers []*Server
	for i, sc := range cfg.Servers {
		at := fmt.Sprintf("servers[%d]", i)
		if j, dup := seen[sc.Name]; dup && sc.Name != "" {
			return nil, fmt.Errorf("%s.name: duplicate %q (also servers[%d])", at, sc.Name, j)
		}
		seen[sc.Name] = i
		s, err := b.newServer(sc, i+1)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", at, err)
		}
		servers = append(servers, s)
	}
	b.set.Store(newServerSet(servers))
	return b, nil
}

// newServer validates sc and makes its server, numbered id, up and
// ready; errors name the field ("address: ...").
func (b *Backend) newServer(sc ServerConfig, id int) (*Server, error) {
	if sc.Name == "" {
		return nil, errors.New("name: required")
	}
	if err := CheckAddr(sc.Address); err != nil {
		return nil, fmt.Errorf("address: %w", err)
	}
	if err := checkable(sc.Address, b.check.Type); err != nil {
		return nil, fmt.Errorf("address: %w", err)
	}
	if sc.Weight < 0 || sc.Weight > MaxWeight {
		return nil, fmt.Errorf("weight: %d is out of range 0..%d", sc.Weight, MaxWeight)
	}
	if sc.MaxConn < 0 {
		return nil, fmt.Errorf("maxconn: %d is negative", sc.MaxConn)
	}
	s := &Server{
		b:          b,
		id:         id,
		name:       sc.Name,
		cookie:     sc.Cookie,
		backup:     sc.Backup,
		tls:        sc.TLS,
		sendProxy:  sc.SendProxy,
		checkHead:  sc.CheckHeader,
		removed:    make(chan struct{}),
		health:     b.check.Rise + b.check.Fall - 1,
		lastChange: time.Now(),
	}
	if b.check.Type != "" {
		// As HAProxy's: up, but down at the first failed check.
		s.health = b.check.Rise
	}
	s.addr.Store(newServerAddr(sc.Address))
	w := sc.Weight
	if w == 0 {
		w = 1
	}
	s.iweight = w
	s.weight.Store(int32(w))
	s.maxconn.Store(clampConn(sc.MaxConn))
	s.hstate.Store(healthUp)
	s.full.Store(s.health == s.maxHealth())
	if sc.Disabled {
		s.admin.Store(adminMaint)
	}
	return s, nil
}

// serverSet is the servers of a backend at one time; never changed once
// published (but for weights, Pick's scratch, guarded by the backend's
// mu).
type serverSet struct {
	servers   []*Server // the configuration's order, then those added
	byName    map[string]*Server
	primaries []*Server // non-backup servers, in the same order
	backups   []*Server
	weights   []int     // one pick's weights, by primary (hashing, random)
	table     hashTable // source, uri, url_param, hdr
}

func newServerSet(servers []*Server) *serverSet {
	set := &serverSet{servers: servers, byName: make(map[string]*Server, len(servers))}
	for _, s := range servers {
		set.byName[s.name] = s
		if s.backup {
			set.backups = append(set.backups, s)
		} else {
			set.primaries = append(set.primaries, s)
		}
	}
	set.weights = make([]int, len(set.primaries))
	iweights := make([]int, len(servers))
	for i, s := range servers {
		iweights[i] = s.iweight
	}
	set.table.gcd = gcdOf(iweights)
	return set
}

// checkDefaults validates c and fills in its defaults.
func checkDefaults(c CheckConfig) (CheckConfig, error) {
	switch c.Type {
	case "", "tcp", "http":
	default:
		return c, fmt.Errorf("check.type: unknown %q (want tcp or http)", c.Type)
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.Path[0] != '/' {
		return c, fmt.Errorf("check.path: %q does not start with /", c.Path)
	}
	if hasCtlOrSpace(c.Path) {
		return c, fmt.Errorf("check.path: %q has spaces or control characters", c.Path)
	}
	if hasCtlOrSpace(c.Host) {
		return c, fmt.Errorf("check.host: %q has spaces or control characters", c.Host)
	}
	if c.ExpectStatus != 0 && (c.ExpectStatus < 100 || c.ExpectStatus > 599) {
		return c, fmt.Errorf("check.expect_status: %d is not an HTTP status (100..599)", c.ExpectStatus)
	}
	switch {
	case c.Interval < 0:
		return c, fmt.Errorf("check.interval: %v is negative", c.Interval)
	case c.Timeout < 0:
		return c, fmt.Errorf("check.timeout: %v is negative", c.Timeout)
	case c.Rise < 0:
		return c, fmt.Errorf("check.rise: %d is negative", c.Rise)
	case c.Fall < 0:
		return c, fmt.Errorf("check.fall: %d is negative", c.Fall)
	}
	if c.Interval == 0 {
		c.Interval = DefaultCheckInterval
	}
	if c.Timeout == 0 {
		c.Timeout = c.Interval
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	return c, nil
}

// hasCtlOrSpace reports whether s would break an HTTP/1.1 request line or
// header if written as is.
func hasCtlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// CheckAddr accepts host:port with a non-empty host and a port from 1 to
// 65535, or one that takes from the request's destination (see
// Server.DialAddr): 0, or +N / -N. Host names are not looked up here: DNS
// may change between load and dial.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("%q: %s", addr, ae.Err)
		}
		return err
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", addr)
	}
	if _, _, ok := parsePort(port); !ok {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535, 0 (the destination's port) or +N / -N (the destination's port moved by N)", addr, port)
	}
	return nil
}

// checkable refuses a server whose port follows the destination when the
// backend has health checks, as HAProxy does: a check has no
// destination. A server at 0.0.0.0 or :: is checked at that address
// (the local host), as in HAProxy.
func checkable(addr, checkType string) error {
	host, port, _ := net.SplitHostPort(addr)
	if _, mapped, _ := parsePort(port); checkType != "" && mapped && !isAnyHost(host) {
		return fmt.Errorf("%q: its port follows the request's destination, so health checks have no port to connect to", addr)
	}
	return nil
}

// parsePort reads a server's port: a number from 0 to 65535, where 0 is
// the destination's port (mapped, offset 0), or +N / -N, the
// destination's port moved by N (mapped).
func parsePort(port string) (n int, mapped, ok bool) {
	sign := 0
	if port != "" && (port[0] == '+' || port[0] == '-') {
		sign = 1
		if port[0] == '-' {
			sign = -1
		}
		port = port[1:]
	}
	v, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, false, false
	}
	switch {
	case sign != 0:
		return sign * int(v), true, true
	case v == 0:
		return 0, true, true
	}
	return int(v), false, true
}

// Name returns the backend's name.
func (b *Backend) Name() string { return b.name }

// Servers returns the servers now, in config order and then those the
// runtime API added. The slice is shared: do not modify it.
func (b *Backend) Servers() []*Server { return b.set.Load().servers }

// Server returns the server called name, or nil.
func (b *Backend) Server(name string) *Server { return b.set.Load().byName[name] }

// ServerByID returns the server whose ID is id (Server.ID), or nil.
func (b *Backend) ServerByID(id int) *Server {
	for _, s := range b.set.Load().servers {
		if s.id == id {
			return s
		}
	}
	return nil
}

// Pick chooses a server for a new request and counts the request on it; the
// caller must call Done on the server when the request finishes, errors
// included. It returns nil when no server can take the request (all down,
// in maintenance, draining, forced NOLB, weight 0 or at maxconn), or when
// requests wait in the queue (they go first): the caller answers 503, or
// waits in the queue (Queue).
//
// key is the client address, used by "source" balancing; a trailing ":port"
// is ignored so that a connection's remote address can be passed as is.
//
// Non-backup servers are balanced by the backend's algorithm:
//   - roundrobin: smooth weighted round robin over the usable servers;
//     weights 5,1,1 give a a b a c a a.
//   - leastconn: the least requests in flight per unit of weight; ties go
//     round robin.
//   - source: a hash of the client address mapped over the servers that are
//     up and ready, by weight, as HAProxy's hash-type maps it (hash.go),
//     so a client sticks to its server while that set does not change and
//     gets the server HAProxy would give it. If its server is at maxconn
//     the request goes to the next usable server in config order rather
//     than waiting: the queue is the backend's, not the server's.
//   - uri, url_param, hdr: the same with HAProxy's hash of what it hashes
//     of the request's key (RequestKey): the target's path, the
//     parameter's value, the field's value; a request without one (no
//     such parameter, an empty field) goes round robin, as in HAProxy.
//   - first: the first usable server in config order.
//   - random: the less loaded of two servers drawn at random by weight
//     (HAProxy's random(2)).
//
// When no non-backup server is usable, the first usable backup server in
// config order takes the request, as HAProxy does without "allbackups".
func (b *Backend) Pick(key []byte) *Server {
	if b.qlen.Load() > 0 {
		return nil
	}
	b.mu.Lock()
	s := b.pickLocked(key)
	b.mu.Unlock()
	return s
}

// PickAvoiding is Pick for a request whose connection to avoid failed
// (a redispatch): as HAProxy, a round robin goes on to the next server
// rather than back to avoid; the other algorithms choose as Pick does.
func (b *Backend) PickAvoiding(key []byte, avoid *Server) *Server {
	if b.qlen.Load() > 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.choose(key)
	switch {
	case s != avoid:
	case b.bal.algo == algoRoundRobin:
		if o := b.choose(key); o != nil {
			s = o
		}
	case b.bal.algo == algoFirst, b.bal.algo == algoLeastConn, b.bal.algo == algoRandom:
		for _, o := range b.set.Load().primaries {
			if o != avoid && o.usableWeight() > 0 {
				s = o
				break
			}
		}
	}
	if s != nil {
		b.take(s)
	}
	return s
}

// RoundRobin reports whether the backend balances round robin or at
// random, the algorithms HAProxy redispatches any request of at once
// (its LB kind RR).
func (b *Backend) RoundRobin() bool { return b.bal.algo == algoRoundRobin || b.bal.algo == algoRandom }

// ActiveUp counts the non-backup servers that can take traffic (the
// "act" of Stats, HAProxy's srv_act).
func (b *Backend) ActiveUp() int {
	n := 0
	for _, s := range b.Servers() {
		if !s.backup && s.eligibleWeight() > 0 {
			n++
		}
	}
	return n
}

// pickLocked is Pick with b.mu held, whoever waits.
func (b *Backend) pickLocked(key []byte) *Server {
	s := b.choose(key)
	if s != nil {
		b.take(s)
	}
	return s
}

// choose is the server the algorithm gives key, not counted; with b.mu
// held.
func (b *Backend) choose(key []byte) *Server {
	set := b.set.Load()
	var s *Server
	switch b.bal.algo {
	case algoRoundRobin:
		s = pickRoundRobin(set)
	case algoLeastConn:
		s = b.pickLeastConn(set)
	case algoSource:
		if h, ok := b.hash.sourceHash(key); ok {
			s = pickHash(set, b.hash, h)
		} else {
			s = pickRoundRobin(set)
		}
	case algoURI, algoURLParam, algoHeader:
		if k, ok := b.bal.hashed(key); ok {
			s = pickHash(set, b.hash, b.hash.sum(k))
		} else {
			s = pickRoundRobin(set)
		}
	case algoFirst:
		s = pickFirst(set)
	case algoRandom:
		s = pickRandom(set)
	}
	if s == nil {
		for _, bk := range set.backups {
			if bk.usableWeight() > 0 {
				s = bk
				break
			}
		}
	}
	return s
}

// take counts a request picked for server s; with b.mu held.
func (b *Backend) take(s *Server) {
	if n := s.active.Add(1); n > s.smax.Load() {
		s.smax.Store(n)
	}
	s.stot.Add(1)
	if n := b.cur.Add(1); n > b.smax.Load() {
		b.smax.Store(n)
	}
	b.stot.Add(1)
}

// Cookie is the backend's persistence cookie, nil without one.
func (b *Backend) Cookie() *Cookie { return b.cookie }

// CookieServer is the server a request whose persistence cookie has
// value v goes to: the first the value names that still takes its
// clients' requests (Persistent, or any when forced: HAProxy's option
// persist and force-persist; the request waits for its maxconn with
// QueueFor); else nil, and the request is balanced as any other.
func (b *Backend) CookieServer(v []byte, forced bool) *Server {
	if len(v) == 0 {
		return nil
	}
	for _, s := range b.set.Load().servers {
		if s.cookie != "" && s.cookie == string(v) && (forced || s.Persistent()) {
			return s
		}
	}
	return nil
}

// RequestKey says what key Pick wants from a request, and the name of the
// parameter or header field it is read from.
func (b *Backend) RequestKey() (RequestKey, string) { return b.bal.key, b.bal.param }

// UpCount returns how many servers, backups included, are usable now (see
// Server.Usable: a server at maxconn does not count).
func (b *Backend) UpCount() int {
	n := 0
	for _, s := range b.Servers() {
		if s.Usable() {
			n++
		}
	}
	return n
}

// Stats returns the backend's statistics under HAProxy's stats field names:
//
//	pxname, svname ("BACKEND"), algo
//	scur, smax, stot   requests in flight, their highest count, total picked
//	qcur, qmax         requests waiting in the queue, their highest count
//	econ               connect errors reported on its servers
//	wretr, wredis      connection retries and redispatches of its servers
//	act, bck           non-backup and backup servers that can take traffic
//	                   (up, ready, not NOLB, weight > 0; maxconn is ignored)
//	weight             total weight of those non-backup servers, or of the
//	                   backups when no non-backup server counts
//	status             "UP" when act+bck > 0, else "DOWN"
//
// Numbers are int, text is string.
func (b *Backend) Stats() map[string]any {
	var act, bck, wact, wbck int
	var econ, wretr, wredis uint64
	for _, s := range b.Servers() {
		econ += s.econ.Load()
		wretr += s.wretr.Load()
		wredis += s.wredis.Load()
		w := s.eligibleWeight()
		if w == 0 {
			continue
		}
		if s.backup {
			bck++
			wbck += w
		} else {
			act++
			wact += w
		}
	}
	weight, status := wact, "UP"
	if act == 0 {
		weight = wbck
	}
	if act+bck == 0 {
		status = "DOWN"
	}
	return map[string]any{
		"pxname": b.name,
		"svname": "BACKEND",
		"algo":   b.algoName,
		"scur":   int(b.cur.Load()),
		"smax":   int(b.smax.Load()),
		"stot":   int(b.stot.Load()),
		"qcur":   b.QueueLen(),
		"qmax":   b.QueueMax(),
		"econ":   int(econ),
		"wretr":  int(wretr),
		"wredis": int(wredis),
		"act":    act,
		"bck":    bck,
		"weight": weight,
		"status": status,
	}
}

// OnStateChange registers fn to be called whenever a server's Up changes,
// with the new value; meant for logging. It runs on the goroutine that made
// the change: a checker goroutine, or the caller of a CheckForce* or
// ReportConnect* method. It must not block. Callbacks run in registration
// order.
func (b *Backend) OnStateChange(fn func(s *Server, up bool)) {
	if fn == nil {
		return
	}
	b.hookMu.Lock()
	defer b.hookMu.Unlock()
	var hooks []func(*Server, bool)
	if old := b.hooks.Load(); old != nil {
		hooks = append(hooks, *old...)
	}
	hooks = append(hooks, fn)
	b.hooks.Store(&hooks)
}

func (b *Backend) notify(s *Server, up bool) {
	if hooks := b.hooks.Load(); hooks != nil {
		for _, fn := range *hooks {
			fn(s, up)
		}
	}
}

// Start begins health checking, one goroutine per server. It does nothing
// when Check.Type is "", when already started, or after Stop.
func (b *Backend) Start() {
	if b.check.Type == "" {
		return
	}
	b.life.Lock()
	defer b.life.Unlock()
	if b.started || b.ctx.Err() != nil {
		return
	}
	b.started = true
	servers := b.Servers()
	n := time.Duration(len(servers))
	for i, s := range servers {
		if s.noCheck {
			continue
		}
		// Spread the first checks over one interval so that servers are not
		// all probed at the same instant, as HAProxy does.
		delay := b.check.Interval * time.Duration(i) / n
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.checkLoop(s, delay)
		}()
	}
}

// Stop ends health checking, including the probes of servers taken down by
// reported connect errors, and waits for the goroutines to return; checks
// in progress are abandoned. It is final: Start does nothing afterwards.
// Server states stay as they are.
func (b *Backend) Stop() {
	b.life.Lock()
	b.cancel()
	b.life.Unlock()
	b.wg.Wait()
}

// goChecker runs fn on a new goroutine counted by Stop, unless Stop has
// been called; it reports whether it did.
func (b *Backend) goChecker(fn func()) bool {
	b.life.Lock()
	defer b.life.Unlock()
	if b.ctx.Err() != nil {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
	return true
}
