// Package sticktable implements HAProxy-style stick tables: per-key counters
// (connections, HTTP requests and errors, bytes, the general purpose
// counters and tags gpc0, gpc1, gpt0 and the arrays gpc(n) and gpt(n), and
// their rates over a period) that the proxy updates
// as it tracks a client and that rules read to rate-limit or tag it.
//
// The semantics follow HAProxy's "stick-table" where they apply:
//
//   - an event on a key creates its entry (like "track-sc") and refreshes it;
//     reading an entry (Lookup, Dump) does not refresh it;
//   - an entry not refreshed for Config.Expire goes away, except while it
//     has connections open (conn_cur > 0, whether stored or not): like an
//     entry a stream tracks in HAProxy, it stays, and its expiry counts
//     from when it was last refreshed;
//   - when the table is full a new key evicts the least recently refreshed
//     entry, preferring one without connections open;
//   - rates are HAProxy's freq_ctr: the count of the current period plus
//     the previous period's count weighted by the part of the current
//     period not yet elapsed.
//
// A Table is shared by every event loop; all of its methods are safe for
// concurrent use. Large tables are split into shards, each with its own lock
// and recency list, so that loops recording events on different keys rarely
// wait for each other; an event on an existing key costs a hash, a map
// lookup and a few stores under one shard lock, and allocates nothing. In a
// sharded table eviction takes the least recently refreshed entry of the
// new key's shard, which approximates the table-wide order; tables of fewer
// than 512 entries have one shard and an exact order.
package sticktable

import (
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/shared/lru"
)

// Sharding: at most maxShards shards, each expected to hold at least
// minPerShard entries when the table is full.
const (
	maxShards   = 64
	minPerShard = 256
)

// victimScan is how many of the least recently refreshed entries eviction
// looks at to find one without connections open.
const victimScan = 16

// purgeOnInsert is how many expired entries an insertion removes on the way.
const purgeOnInsert = 4

// epoch is the origin of ticks: times are kept as nanoseconds since it.
var epoch = time.Now()

// entry is the data of one key.
type entry struct {
	link    lru.Links[entry] // in the recency list of the shard
	key     string
	touched int64 // tick of the last refresh

	refs     int64 // open connections: conn_cur
	connCnt  int64
	reqCnt   int64
	errCnt   int64
	bytesIn  int64
	bytesOut int64
	// The general purpose counters and tags: spec.nGPC and spec.nGPT
	// slots, allocated with the entry and kept when it is reused.
	gpc []int64
	gpt []int64
	// The server a stick rule stored (StoreServer): its id in its
	// backend (0: none) and its name.
	serverID   int64
	serverName string
	rates      []freqCtr  // len(spec.periods) slots
	sync       *entrySync // a shared table's (shared.go); nil: not shared
}

// reset clears e's data as for a new entry created at now, keeping its
// slices.
func (e *entry) reset(now int64) {
	gpc, gpt, rates := e.gpc, e.gpt, e.rates
	clear(gpc)
	clear(gpt)
	*e = entry{link: e.link, key: e.key, touched: now, gpc: gpc, gpt: gpt, rates: rates}
	for i := range e.rates {
		e.rates[i] = freqCtr{start: now}
	}
}

// resetEntry resets e for t: a shared table's entry gets its exchange
// state afresh (and is in no exchange: Deltas skips a key that is not
// dirty).
func (t *Table) resetEntry(e *entry, now int64) {
	if e.gpc == nil {
		e.gpc = make([]int64, t.nGPC)
		e.gpt = make([]int64, t.nGPT)
		e.rates = make([]freqCtr, len(t.periods))
	}
	e.reset(now)
	if t.shared {
		e.sync = &entrySync{}
	}
}

// shard is a part of a table with its own lock.
type shard struct {
	mu    sync.Mutex
	m     map[string]*entry
	order lru.List[entry] // back: the least recently refreshed
	_     [64]byte
}

// Table is a stick table. Create it with New; its methods are safe for
// concurrent use.
type Table struct {
	name string
	typ  string
	size int
	*spec

	seed   maphash.Seed
	mask   uint64
	shards []shard
	used   atomic.Int64 // entries in all shards
	rr     atomic.Uint32

	now func() time.Time // the clock; tests replace it

	// A shared table's entries with events since the last exchange
	// (shared.go); dirtyMu is taken under a shard's lock, never the reverse.
	shared  bool
	dirtyMu sync.Mutex
	dirty   []string
}

// New validates cfg and returns an empty table. Errors name the offending
// field, as in `store[2]: unknown counter "foo"`.
func New(name string, cfg Config) (*Table, error) {
	sp, err := parseConfig(name, cfg)
	if err != nil {
		return nil, err
	}
	return newTable(name, cfg, sp, shardCount(cfg.Size)), nil
}

// newTable builds a table of n shards, n a power of two.
func newTable(name string, cfg Config, sp *spec, n int) *Table {
	t := &Table{
		name:   name,
		typ:    cfg.Type,
		size:   cfg.Size,
		spec:   sp,
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
		now:    time.Now,
		shared: cfg.Shared,
	}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry)
	}
	return t
}

// shardCount is the number of shards for a table of size entries.
func shardCount(size int) int {
	n := 1
	for n < maxShards && size/(2*n) >= minPerShard {
		n *= 2
	}
	return n
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Type returns the table's key type: "ip", "ipv6", "integer" or "string".
func (t *Table) Type() string { return t.typ }

// Size returns the most entries the table holds.
func (t *Table) Size() int { return t.size }

// Used returns the number of entries, including expired ones not removed
// yet.
func (t *Table) Used() int { return int(t.used.Load()) }

// tick returns the clock as nanoseconds since epoch.
func (t *Table) tick() int64 { return int64(t.now().Sub(epoch)) }

func (t *Table) shardOf(key string) *shard {
	if t.mask == 0 {
		return &t.shards[0]
	}
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// fixKey applies the one normalisation that costs nothing: string keys are
// cut to their maximum length.
func (t *Table) fixKey(key string) string {
	if t.kind == kindString {
		return truncKey(key)
	}
	return key
}

// live reports whether e is alive at now. An entry past its expiry with
// connections open is kept and refreshed. s must be locked.
func (t *Table) live(s *shard, e *entry, now int64) bool {
	if t.expire == 0 || now-e.touched < t.expire {
		return true
	}
	if e.refs > 0 {
		e.touched = now
		s.order.MoveToFront(&e.link)
		return true
	}
	return false
}

// remove deletes e from s, which must be locked.
func (t *Table) remove(s *shard, e *entry) {
	delete(s.m, e.key)
	s.order.Remove(&e.link)
	t.used.Add(-1)
}

// expireTail removes up to limit expired entries from the old end of s,
// which must be locked; limit < 0 is no limit. Entries past their expiry
// with connections open are refreshed instead (each at most once, since it
// then is no longer past its expiry).
func (t *Table) expireTail(s *shard, now int64, limit int) {
	if t.expire == 0 {
		return
	}
	for e := s.order.Back(); e != nil && limit != 0; limit-- {
		if now-e.touched < t.expire {
			return
		}
		next := e.link.Newer()
		if e.refs > 0 {
			e.touched = now
			s.order.MoveToFront(&e.link)
		} else {
			t.remove(s, e)
		}
		e = next
	}
}

// victim picks the entry of s to evict, nil if s is empty: the least
// recently refreshed one without connections open among the oldest few,
// else the least recently refreshed. s must be locked.
func victim(s *shard) *entry {
	e := s.order.Back()
	for i := 0; e != nil && i < victimScan; i, e = i+1, e.link.Newer() {
		if e.refs == 0 {
			return e
		}
	}
	return s.order.Back()
}

// reserve takes a slot for a new entry, false if the table is full.
func (t *Table) reserve() bool {
	for {
		n := t.used.Load()
		if n >= int64(t.size) {
			return false
		}
		if t.used.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// evictElsewhere evicts one entry from a shard other than own, which must
// not be locked by the caller.
func (t *Table) evictElsewhere(own *shard) {
	n := len(t.shards)
	start := int(t.rr.Add(1))
	for i := range n {
		s := &t.shards[(start+i)&(n-1)]
		if s == own {
			continue
		}
		s.mu.Lock()
		if v := victim(s); v != nil {
			t.remove(s, v)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// acquire returns the live entry of key, created if needed and refreshed,
// with its shard locked; the caller unlocks it.
func (t *Table) acquire(key string, now int64) (*shard, *entry) {
	key = t.fixKey(key)
	s := t.shardOf(key)
	s.mu.Lock()
	for {
		if e := s.m[key]; e != nil {
			if !t.live(s, e, now) {
				t.resetEntry(e, now)
			}
			e.touched = now
			s.order.MoveToFront(&e.link)
			return s, e
		}
		t.expireTail(s, now, purgeOnInsert)
		if t.reserve() {
			e := &entry{key: strings.Clone(key)}
			t.resetEntry(e, now)
			s.m[e.key] = e
			s.order.PushFront(e, &e.link)
			return s, e
		}
		if v := victim(s); v != nil {
			// Full: the victim's slot and memory go to the new key.
			delete(s.m, v.key)
			s.order.Remove(&v.link)
			v.key = strings.Clone(key)
			t.resetEntry(v, now)
			s.m[v.key] = v
			s.order.PushFront(v, &v.link)
			return s, v
		}
		// Full, and this shard is empty: make room in another one. The
		// lock is dropped meanwhile, so look for the key again.
		s.mu.Unlock()
		t.evictElsewhere(s)
		s.mu.Lock()
	}
}

// find returns the live entry of key with its shard locked, or nil with
// nothing locked. It does not refresh the entry.
func (t *Table) find(key string, now int64) (*shard, *entry) {
	key = t.fixKey(key)
	s := t.shardOf(key)
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		s.mu.Unlock()
		return nil, nil
	}
	if !t.live(s, e, now) {
		t.remove(s, e)
		s.mu.Unlock()
		return nil, nil
	}
	return s, e
}

func (t *Table) has(c counter) bool { return t.stored&(1<<c) != 0 }

// Stores reports whether the table keeps the counter called name (as
// Lookup names them).
func (t *Table) Stores(name string) bool {
	f, ok := fieldByName(name)
	return ok && t.stores(f)
}

// countEvent counts one event of rate r on e at now, in the rate's period
// (when stored) and, in a shared table, for the next exchange.
func (t *Table) countEvent(e *entry, r int, now int64) {
	if p := t.periods[r]; p > 0 {
		e.rates[r].add(now, p, 1)
	}
	if e.sync != nil {
		t.noteEvent(e, r, now, 1)
	}
}

// ConnOpen records a new connection of key: conn_cnt and conn_cur go up by
// one and conn_rate counts an event. conn_cur is counted even when not
// stored: an entry with connections open does not expire.
func (t *Table) ConnOpen(key string) {
	now := t.tick()
	s, e := t.acquire(key, now)
	e.refs++
	e.connCnt++
	t.countEvent(e, rConn, now)
	s.mu.Unlock()
}

// ConnClose records the end of a connection of key opened with ConnOpen:
// conn_cur goes down by one (never below 0). It does not create an entry.
func (t *Table) ConnClose(key string) {
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return
	}
	if e.refs > 0 {
		e.refs--
	}
	e.touched = now
	s.order.MoveToFront(&e.link)
	s.mu.Unlock()
}

// HTTPRequest records an HTTP request of key: http_req_cnt goes up by one
// and http_req_rate counts an event.
func (t *Table) HTTPRequest(key string) {
	now := t.tick()
	s, e := t.acquire(key, now)
	e.reqCnt++
	t.countEvent(e, rHTTPReq, now)
	s.mu.Unlock()
}

// HTTPError records an HTTP error of key (what counts as one is the
// caller's choice; HAProxy counts invalid requests and 4xx responses):
// http_err_cnt goes up by one and http_err_rate counts an event.
func (t *Table) HTTPError(key string) {
	now := t.tick()
	s, e := t.acquire(key, now)
	e.errCnt++
	t.countEvent(e, rHTTPErr, now)
	s.mu.Unlock()
}

// Bytes adds in bytes received from the client of key to bytes_in_cnt and
// out bytes sent to it to bytes_out_cnt. Negative amounts count as 0.
func (t *Table) Bytes(key string, in, out int64) {
	now := t.tick()
	s, e := t.acquire(key, now)
	e.bytesIn += max(in, 0)
	e.bytesOut += max(out, 0)
	if e.sync != nil {
		t.noteEvent(e, -1, now, 0)
	}
	s.mu.Unlock()
}

// IncGPC increments general purpose counter i of key and returns its new
// value; gpc<i>_rate counts an event. When only the rate is stored it
// returns the events of the rate's current period, and 0 when neither is
// (as HAProxy). An i the table does not keep changes nothing.
func (t *Table) IncGPC(key string, i int) int64 {
	if i < 0 || i >= t.nGPC {
		return 0
	}
	now := t.tick()
	s, e := t.acquire(key, now)
	e.gpc[i]++
	v := e.gpc[i]
	t.countEvent(e, rGPC0+i, now)
	if e.sync != nil {
		v = t.sharedValue(e, cGPC0, now)
	}
	rated := t.periods[rGPC0+i] > 0
	if !t.gpcValue[i] && rated {
		v = e.rates[rGPC0+i].curr
	}
	s.mu.Unlock()
	if !t.gpcValue[i] && !rated {
		return 0
	}
	return v
}

// ClearGPC sets general purpose counter i of key to 0 and returns its old
// value (0 when it is not stored or the key is absent). It does not create
// an entry.
func (t *Table) ClearGPC(key string, i int) int64 {
	if i < 0 || i >= t.nGPC {
		return 0
	}
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return 0
	}
	v := e.gpc[i]
	e.gpc[i] = 0
	if sy := e.sync; sy != nil {
		// The fleet's gpc0 goes to 0: the exchange sets it before adding.
		v += sy.others[sGPC0]
		sy.pushed[sGPC0], sy.others[sGPC0], sy.gpc0Reset = 0, 0, true
		t.markDirty(e, now)
	}
	e.touched = now
	s.order.MoveToFront(&e.link)
	s.mu.Unlock()
	if !t.gpcValue[i] {
		return 0
	}
	return v
}

// SetGPT sets general purpose tag i of key to v. An i the table does not
// keep changes nothing.
func (t *Table) SetGPT(key string, i int, v int64) {
	if i < 0 || i >= t.nGPT {
		return
	}
	now := t.tick()
	s, e := t.acquire(key, now)
	e.gpt[i] = v
	if e.sync != nil {
		e.sync.gpt0Set = true
		t.markDirty(e, now)
	}
	s.mu.Unlock()
}

// GPCIndex reports whether the increments of general purpose counter i
// reach a stored value or rate: with array, as an element of gpc(n) or
// gpc_rate(n,p) only (HAProxy's sc-inc-gpc and sc_*_gpc); without, as
// gpc0 or gpc1 too (the *_gpc0 and *_gpc1 forms, which reach an array's
// first elements too).
func (t *Table) GPCIndex(i int, array bool) bool {
	if i < 0 || i >= t.nGPC {
		return false
	}
	if array {
		return i < t.gpcArray || i < t.gpcRateArray
	}
	return t.gpcValue[i] || t.periods[rGPC0+i] > 0
}

// GPTIndex reports whether general purpose tag i is stored: with array,
// as an element of gpt(n) only (sc-set-gpt, sc_get_gpt); without, as gpt0
// too (the *_gpt0 forms, which reach gpt(n)'s first element too).
func (t *Table) GPTIndex(i int, array bool) bool {
	if i < 0 || i >= t.nGPT {
		return false
	}
	if array {
		return i < t.gptArray
	}
	return t.gptValue[i]
}

// ArrayLen returns the elements of the array called name ("gpc",
// "gpc_rate" or "gpt") the table stores, 0 when it does not.
func (t *Table) ArrayLen(name string) int {
	switch name {
	case "gpc":
		return t.gpcArray
	case "gpc_rate":
		return t.gpcRateArray
	case "gpt":
		return t.gptArray
	}
	return 0
}

// field is one value of an entry: a counter of the configuration (c, i
// 0), or element i of the general purpose counters (c cGPC), of their
// rates (cGPCRate) or of the tags (cGPT). Those are named gpc<i>,
// gpc<i>_rate and gpt<i>, whether stored as gpc0, gpc1, gpc0_rate,
// gpc1_rate and gpt0 or as arrays, as in HAProxy's dump.
type field struct {
	c counter
	i int
}

// fieldByName returns the field called name.
func fieldByName(name string) (field, bool) {
	for _, p := range [...]struct {
		c              counter
		prefix, suffix string
	}{{cGPCRate, "gpc", "_rate"}, {cGPC, "gpc", ""}, {cGPT, "gpt", ""}} {
		rest, ok := strings.CutPrefix(name, p.prefix)
		if !ok {
			continue
		}
		if rest, ok = strings.CutSuffix(rest, p.suffix); !ok || rest == "" || len(rest) > 2 || (len(rest) > 1 && rest[0] == '0') {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 {
			continue
		}
		return field{p.c, i}, true
	}
	c, ok := counterByName[name]
	if !ok || isArray(c) || singleField[c] != (field{}) {
		return field{}, false
	}
	return field{c: c}, true
}

// singleField is the field of each single general purpose counter.
var singleField = map[counter]field{
	cGPC0: {cGPC, 0}, cGPC1: {cGPC, 1}, cGPC0Rate: {cGPCRate, 0}, cGPC1Rate: {cGPCRate, 1}, cGPT0: {cGPT, 0},
}

// name returns the name of f.
func (f field) name() string {
	switch f.c {
	case cGPC:
		return "gpc" + strconv.Itoa(f.i)
	case cGPCRate:
		return "gpc" + strconv.Itoa(f.i) + "_rate"
	case cGPT:
		return "gpt" + strconv.Itoa(f.i)
	}
	return counterNames[f.c]
}

// stores reports whether the table keeps f.
func (t *Table) stores(f field) bool {
	switch f.c {
	case cGPC:
		return f.i < t.nGPC && t.gpcValue[f.i]
	case cGPCRate:
		return f.i < t.nGPC && t.periods[rGPC0+f.i] > 0
	case cGPT:
		return f.i < t.nGPT && t.gptValue[f.i]
	}
	return t.has(f.c)
}

// fields returns the fields of the stored counters, in configuration
// order, arrays element by element.
func (t *Table) fields() []field {
	var out []field
	for _, c := range t.order {
		switch c {
		case cGPC:
			for i := range t.gpcArray {
				out = append(out, field{cGPC, i})
			}
		case cGPCRate:
			for i := range t.gpcRateArray {
				out = append(out, field{cGPCRate, i})
			}
		case cGPT:
			for i := range t.gptArray {
				out = append(out, field{cGPT, i})
			}
		case cServerKey:
		default:
			if f, ok := singleField[c]; ok {
				out = append(out, f)
			} else {
				out = append(out, field{c: c})
			}
		}
	}
	return out
}

// value returns field f of e at now.
func (t *Table) value(e *entry, f field, now int64) int64 {
	switch f.c {
	case cGPC:
		if e.sync != nil {
			return t.sharedValue(e, cGPC0, now)
		}
		return e.gpc[f.i]
	case cGPCRate:
		if e.sync != nil {
			return t.sharedValue(e, cGPC0Rate, now)
		}
		r := rGPC0 + f.i
		return e.rates[r].read(now, t.periods[r])
	case cGPT:
		return e.gpt[f.i]
	}
	return t.counterValue(e, f.c, now)
}

// counterValue returns counter c of e at now (not a general purpose one).
func (t *Table) counterValue(e *entry, c counter, now int64) int64 {
	if c == cServerID {
		return e.serverID // this instance's: servers are not shared
	}
	if c == cServerKey {
		return 0 // a name: ServerOf
	}
	if e.sync != nil {
		return t.sharedValue(e, c, now)
	}
	switch c {
	case cConnCnt:
		return e.connCnt
	case cConnCur:
		return e.refs
	case cHTTPReqCnt:
		return e.reqCnt
	case cHTTPErrCnt:
		return e.errCnt
	case cBytesIn:
		return e.bytesIn
	case cBytesOut:
		return e.bytesOut
	}
	r := counterRate[c]
	return e.rates[r].read(now, t.periods[r])
}

// expireMS returns the milliseconds until e expires, rounded up so that a
// live entry shows at least 1; 0 when the table has no expiry.
func (t *Table) expireMS(e *entry, now int64) int64 {
	if t.expire == 0 {
		return 0
	}
	left := max(t.expire-(now-e.touched), 0)
	return (left + int64(time.Millisecond) - 1) / int64(time.Millisecond)
}

// values returns the stored counters of e and its "expire".
func (t *Table) values(e *entry, now int64) map[string]int64 {
	fs := t.fields()
	m := make(map[string]int64, len(fs)+2)
	for _, f := range fs {
		m[f.name()] = t.value(e, f, now)
	}
	m["expire"] = t.expireMS(e, now)
	// HAProxy's "use": the streams holding the entry besides the reader.
	m["use"] = e.refs
	return m
}

// Lookup returns the stored counters of key by name ("http_req_rate",
// "gpc0"...; an array's elements as "gpc0", "gpc1", "gpc0_rate", "gpt0"...),
// rates as events in their period, plus "expire": the
// milliseconds until the entry expires (0 when the table has no expiry). It
// returns nil when the key is absent or expired. Lookup does not refresh
// the entry.
func (t *Table) Lookup(key string) map[string]int64 {
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return nil
	}
	defer s.mu.Unlock()
	return t.values(e, now)
}

// Value returns one stored counter of key without building a map, for
// rules that read a counter per request; ok is false when the key is absent
// or expired or the counter is unknown or not stored.
func (t *Table) Value(key, counter string) (v int64, ok bool) {
	f, known := fieldByName(counter)
	if !known || !t.stores(f) {
		return 0, false
	}
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return 0, false
	}
	v = t.value(e, f, now)
	s.mu.Unlock()
	return v, true
}

// Filter is a condition on a counter for Dump, like HAProxy's "show table
// <name> data.<counter> <op> <value>".
type Filter struct {
	Counter string // a stored counter, optionally prefixed with "data."
	Op      string // eq, ne, le, lt, ge or gt
	Value   int64
}

// maxFilters is the most conditions Dump takes, as "show table".
const maxFilters = 4

type filterOp uint8

const (
	opEQ filterOp = iota
	opNE
	opLE
	opLT
	opGE
	opGT
)

var opByName = map[string]filterOp{
	"eq": opEQ, "ne": opNE, "le": opLE, "lt": opLT, "ge": opGE, "gt": opGT,
}

type cond struct {
	f  field
	op filterOp
	v  int64
}

func (k cond) match(v int64) bool {
	switch k.op {
	case opEQ:
		return v == k.v
	case opNE:
		return v != k.v
	case opLE:
		return v <= k.v
	case opLT:
		return v < k.v
	case opGE:
		return v >= k.v
	default:
		return v > k.v
	}
}

// parseFilters validates filters against the stored counters.
func (t *Table) parseFilters(filters []Filter) ([]cond, error) {
	if len(filters) > maxFilters {
		return nil, fmt.Errorf("sticktable %s: %d filters, at most %d", t.name, len(filters), maxFilters)
	}
	conds := make([]cond, len(filters))
	for i, f := range filters {
		name := strings.TrimPrefix(f.Counter, "data.")
		fl, ok := fieldByName(name)
		if !ok {
			return nil, fmt.Errorf("sticktable %s: filters[%d]: unknown counter %q", t.name, i, f.Counter)
		}
		if !t.stores(fl) {
			return nil, fmt.Errorf("sticktable %s: filters[%d]: counter %q is not stored", t.name, i, name)
		}
		op, ok := opByName[f.Op]
		if !ok {
			return nil, fmt.Errorf("sticktable %s: filters[%d]: unknown operator %q (want eq, ne, le, lt, ge or gt)", t.name, i, f.Op)
		}
		conds[i] = cond{f: fl, op: op, v: f.Value}
	}
	return conds, nil
}

// Dump returns every live entry whose counters match all filters (up to
// four; none matches every entry): key → the map Lookup would return. An
// invalid filter is an error. Expired entries met on the way are removed.
func (t *Table) Dump(filters []Filter) (map[string]map[string]int64, error) {
	conds, err := t.parseFilters(filters)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]int64)
	now := t.tick()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
	entries:
		for k, e := range s.m {
			if !t.live(s, e, now) {
				t.remove(s, e)
				continue
			}
			for _, c := range conds {
				if !c.match(t.value(e, c.f, now)) {
					continue entries
				}
			}
			out[k] = t.values(e, now)
		}
		s.mu.Unlock()
	}
	return out, nil
}

// keyLengths are the key sizes HAProxy reports for each key type (a
// string key's is HAProxy's default len, 32).
var keyLengths = map[keyKind]int{kindIP: 4, kindIPv6: 16, kindInteger: 4, kindString: 32}

// Info returns the table's attributes as HAProxy's StickTable:info() does:
// "type" (string), "length" (int, the key's length in bytes), "size" (int,
// the most entries), "used" (int), "nopurge" (false: a full table evicts),
// "expire" (int64, milliseconds; 0 for none) and "data" ([]string, the
// stored counters in configuration order, each "name=period": the period
// of a rate in milliseconds, -1 for the other counters; an array once, by
// its name: "gpc", "gpc_rate", "gpt").
func (t *Table) Info() map[string]any {
	data := make([]string, len(t.order))
	for i, c := range t.order {
		period := int64(-1)
		if r := counterRate[c]; r >= 0 {
			period = t.periods[r] / int64(time.Millisecond)
		}
		data[i] = counterNames[c] + "=" + strconv.FormatInt(period, 10)
	}
	return map[string]any{
		"type":    t.typ,
		"length":  keyLengths[t.kind],
		"size":    t.size,
		"used":    t.Used(),
		"nopurge": false,
		"expire":  t.expire / int64(time.Millisecond),
		"data":    data,
	}
}

// Purge removes the entries expired at now. The proxy calls it
// periodically; events and lookups also drop expired entries they meet.
func (t *Table) Purge(now time.Time) {
	if t.expire == 0 {
		return
	}
	tick := int64(now.Sub(epoch))
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		t.expireTail(s, tick, -1)
		s.mu.Unlock()
	}
}
