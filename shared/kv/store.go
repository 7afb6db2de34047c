// Package kv is the state scripts share beyond one core: the embedded
// store (Store: keys and values in this process, shared by every event
// loop, with a size limit, expiry and least-recently-used eviction), the
// Redis backend (Redis: the same operations on a Redis server, shared by
// every process that uses it, and the event bus on Redis pub/sub), and
// artifacts kept in a directory (Dir).
//
// Nothing here knows about event loops or Lua: every method of Store
// returns at once, and the methods of Redis and Dir block, so the caller
// runs them on goroutines of its own and brings their results back to its
// loop (edge does, through the yields of lj/lua/kv.lua).
package kv

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/luaedge/luaedge/shared/lru"
)

// Kind is the type of a stored value.
type Kind uint8

// The kinds a Store holds: what ngx.shared keeps (core.kv stores strings
// only, and numbers through Incr).
const (
	String Kind = iota + 1
	Number
	Bool
)

// Value is what a key holds.
type Value struct {
	Kind  Kind
	Str   string  // String
	Num   float64 // Number; Bool: 1 for true, 0 for false
	Flags uint32  // the caller's own (ngx.shared's user flags)
}

// Text returns v as a string: a String as it is, a Number in its shortest
// decimal form (what Redis answers for a counter), a Bool as "true" or
// "false".
func (v Value) Text() string {
	switch v.Kind {
	case Number:
		return FormatNumber(v.Num)
	case Bool:
		return strconv.FormatBool(v.Num != 0)
	}
	return v.Str
}

// FormatNumber writes n as Redis writes a counter: an integer without a
// fraction, else the shortest decimal that reads back as n.
func FormatNumber(n float64) string {
	if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}

// EntryOverhead is what each entry counts against Config.Size beside its
// key and value bytes: about the Go memory of its map slot, its entry and
// its links in the recency list.
const EntryOverhead = 96

// Shards: a store is split into up to maxShards parts, each with its own
// lock, recency list and share of the size, and each of at least
// shardBytes; a small one has one part, and an exact order.
const (
	maxShards  = 16
	shardBytes = 1 << 20
)

// expiredScan is how many of the least recently used entries of a shard
// are looked at for expired ones before a live entry is evicted.
const expiredScan = 8

// Errors the operations return; callers compare with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrExists    = errors.New("exists")
	ErrNotNumber = errors.New("not a number")
	ErrNoMemory  = errors.New("no memory")
	ErrTooLarge  = errors.New("too large")
)

// Config sizes a store.
type Config struct {
	// Size is the most bytes the store holds: keys and values, and
	// EntryOverhead per entry. Past it, a write evicts least recently used
	// entries (expired ones first).
	Size int64
	// MaxValue is the largest key plus value one entry may hold; 0: the
	// size of a shard (Size/Shards()).
	MaxValue int64
	// TextNumbers makes Incr add to a String that holds a number, as
	// Redis's INCRBYFLOAT does (core.kv); without it such a value is
	// ErrNotNumber (ngx.shared).
	TextNumbers bool
}

// Shards returns how many parts a store of this size is split into: up
// to 16, each of at least 1 MiB and four times MaxValue.
func (c Config) Shards() int {
	n := 1
	for n < maxShards {
		per := c.Size / int64(2*n)
		if per < shardBytes || per < 4*c.MaxValue {
			break
		}
		n *= 2
	}
	return n
}

// entry is one key's data; it belongs to its shard and is touched under
// the shard's lock only.
type entry struct {
	link lru.Links[entry] // in the recency list of the shard
	key  string
	val  Value
	exp  int64 // expiry, Unix nanoseconds; 0: never
	size int64 // what it counts against the shard's limit
}

func entrySize(key string, v Value) int64 {
	return int64(len(key)+len(v.Str)) + EntryOverhead
}

// shard is a part of a store with its own lock.
type shard struct {
	mu    sync.Mutex
	m     map[string]*entry
	order lru.List[entry] // back: the least recently used
	bytes int64
	limit int64
	_     [64]byte // keeps neighbouring shards' locks off one cache line
}

// Store is the embedded store: keys and values in this process, shared by
// every event loop. Every method is safe for concurrent use and returns
// without waiting for anything but the lock of the key's shard.
//
// A key lives until it is deleted, expires (its TTL passed: it is no
// longer seen at once, and its memory goes when it is next met or its
// shard needs room), or is evicted: a write that would take its shard
// past its share of Config.Size first drops expired entries among the
// least recently used, then the least recently used live ones. "Used" is
// a read or a write; in a store of several shards the order is each
// shard's, which approximates the store-wide one.
type Store struct {
	cfg      Config
	seed     maphash.Seed
	mask     uint64
	shards   []shard
	now      func() time.Time // the clock; tests replace it
	onChange func(key string) // set once, before use; nil: none
}

// New makes an empty store.
func New(cfg Config) (*Store, error) {
	if cfg.Size < EntryOverhead {
		return nil, fmt.Errorf("size: at least %d bytes, got %d", EntryOverhead, cfg.Size)
	}
	n := cfg.Shards()
	per := cfg.Size / int64(n)
	if cfg.MaxValue == 0 {
		cfg.MaxValue = per - EntryOverhead
	}
	if cfg.MaxValue < 1 || cfg.MaxValue+EntryOverhead > per {
		return nil, fmt.Errorf("max_value: between 1 and %d bytes for a size of %d (a key and value, and %d bytes of overhead, fit in %d), got %d", per-EntryOverhead, cfg.Size, EntryOverhead, per, cfg.MaxValue)
	}
	st := &Store{cfg: cfg, seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]shard, n), now: time.Now}
	for i := range st.shards {
		st.shards[i].m = map[string]*entry{}
		st.shards[i].limit = per
	}
	return st, nil
}

// Config returns what the store was made with (MaxValue filled in).
func (st *Store) Config() Config { return st.cfg }

// OnChange registers fn, called after every change of a key (a write, a
// delete, an expiry or eviction it notices, a new TTL) with the key, and
// with "" after a change of every key (FlushAll). fn runs under the
// key's shard lock: it must be short and must not call the store. Call it
// once, before the store is used.
func (st *Store) OnChange(fn func(key string)) { st.onChange = fn }

func (st *Store) changed(key string) {
	if st.onChange != nil {
		st.onChange(key)
	}
}

func (st *Store) shardOf(key string) *shard {
	if st.mask == 0 {
		return &st.shards[0]
	}
	return &st.shards[maphash.String(st.seed, key)&st.mask]
}

// expiry returns the expiry of a TTL given at now; 0 for none (ttl <= 0).
func expiry(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + int64(ttl)
}

func (e *entry) expired(now int64) bool { return e.exp != 0 && e.exp <= now }

// remove drops e from s, which must be locked.
func (st *Store) remove(s *shard, e *entry) {
	delete(s.m, e.key)
	s.order.Remove(&e.link)
	s.bytes -= e.size
	st.changed(e.key)
}

// live returns key's entry in s (locked) if it has one that has not
// expired; an expired one is dropped on the way.
func (st *Store) live(s *shard, key string, now int64) *entry {
	e := s.m[key]
	if e == nil {
		return nil
	}
	if e.expired(now) {
		st.remove(s, e)
		return nil
	}
	return e
}

// makeRoom frees room in s (locked) for need more bytes: expired entries
// among the least recently used first, then the least recently used live
// ones unless noEvict. It reports whether live entries were evicted, and
// ErrNoMemory when the room cannot be made.
func (st *Store) makeRoom(s *shard, need, now int64, noEvict bool) (evicted bool, err error) {
	if s.bytes+need <= s.limit {
		return false, nil
	}
	e := s.order.Back()
	for i := 0; e != nil && i < expiredScan && s.bytes+need > s.limit; i++ {
		next := e.link.Newer()
		if e.expired(now) {
			st.remove(s, e)
		}
		e = next
	}
	for s.bytes+need > s.limit {
		old := s.order.Back()
		if noEvict || old == nil {
			return evicted, ErrNoMemory
		}
		evicted = evicted || !old.expired(now)
		st.remove(s, old)
	}
	return evicted, nil
}

// Get returns key's value and its expiry (zero: none), and marks it used.
func (st *Store) Get(key string) (v Value, exp time.Time, ok bool) {
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := st.live(s, key, st.now().UnixNano())
	if e == nil {
		return Value{}, time.Time{}, false
	}
	s.order.MoveToFront(&e.link)
	if e.exp != 0 {
		exp = time.Unix(0, e.exp)
	}
	return e.val, exp, true
}

// SetMode is when Set writes.
type SetMode uint8

const (
	Always    SetMode = iota // whether or not the key exists
	IfAbsent                 // only when it does not (ngx.shared's add): else ErrExists
	IfPresent                // only when it does (replace): else ErrNotFound
)

// Set stores v under key for ttl (0: no expiry). noEvict refuses the write
// (ErrNoMemory) rather than evict live entries for it (ngx.shared's
// safe_set). evicted reports that live entries were evicted to make room.
// A key and value longer than Config.MaxValue is ErrTooLarge.
func (st *Store) Set(key string, v Value, ttl time.Duration, mode SetMode, noEvict bool) (evicted bool, err error) {
	size := entrySize(key, v)
	if size-EntryOverhead > st.cfg.MaxValue {
		return false, ErrTooLarge
	}
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := st.now().UnixNano()
	e := st.live(s, key, now)
	switch {
	case mode == IfAbsent && e != nil:
		return false, ErrExists
	case mode == IfPresent && e == nil:
		return false, ErrNotFound
	}
	if e != nil {
		// The old value's room counts as free, and the entry is kept out
		// of the eviction's reach.
		s.order.Remove(&e.link)
		s.bytes -= e.size
		delete(s.m, key)
	}
	evicted, err = st.makeRoom(s, size, now, noEvict)
	if err != nil {
		if e != nil { // refused: the old value stays
			s.m[key] = e
			s.order.PushFront(e, &e.link)
			s.bytes += e.size
		}
		return evicted, err
	}
	if e == nil {
		e = &entry{key: strings.Clone(key)}
	}
	e.val, e.exp, e.size = v, expiry(now, ttl), size
	e.val.Str = strings.Clone(v.Str)
	s.m[e.key] = e
	s.order.PushFront(e, &e.link)
	s.bytes += size
	st.changed(key)
	return evicted, nil
}

// Incr adds delta to the number under key and returns the sum. A key that
// is absent (or expired) starts from *init, and then takes ttl (0: no
// expiry); with init nil it is ErrNotFound. A key that holds something
// else than a number is ErrNotNumber (see Config.TextNumbers). An existing
// key keeps its expiry.
func (st *Store) Incr(key string, delta float64, init *float64, ttl time.Duration) (n float64, evicted bool, err error) {
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := st.now().UnixNano()
	e := st.live(s, key, now)
	if e != nil {
		switch {
		case e.val.Kind == Number:
			n = e.val.Num
		case e.val.Kind == String && st.cfg.TextNumbers:
			n, err = strconv.ParseFloat(strings.TrimSpace(e.val.Str), 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				return 0, false, ErrNotNumber
			}
		default:
			return 0, false, ErrNotNumber
		}
		n += delta
		size := entrySize(key, Value{Kind: Number})
		s.bytes += size - e.size
		e.val, e.size = Value{Kind: Number, Num: n, Flags: e.val.Flags}, size
		s.order.MoveToFront(&e.link)
		st.changed(key)
		return n, false, nil
	}
	if init == nil {
		return 0, false, ErrNotFound
	}
	n = *init + delta
	size := entrySize(key, Value{Kind: Number})
	evicted, err = st.makeRoom(s, size, now, false)
	if err != nil {
		return 0, evicted, err
	}
	e = &entry{key: strings.Clone(key), val: Value{Kind: Number, Num: n}, exp: expiry(now, ttl), size: size}
	s.m[e.key] = e
	s.order.PushFront(e, &e.link)
	s.bytes += size
	st.changed(key)
	return n, evicted, nil
}

// Delete removes key; it reports whether a live key was removed.
func (st *Store) Delete(key string) bool {
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := st.live(s, key, st.now().UnixNano())
	if e == nil {
		return false
	}
	st.remove(s, e)
	return true
}

// TTL returns how long key has left to live; 0 when it never expires.
// ok is false when the key is absent.
func (st *Store) TTL(key string) (left time.Duration, ok bool) {
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := st.now().UnixNano()
	e := st.live(s, key, now)
	if e == nil {
		return 0, false
	}
	if e.exp == 0 {
		return 0, true
	}
	return time.Duration(e.exp - now), true
}

// Expire gives key a new TTL (0: none); false when the key is absent.
func (st *Store) Expire(key string, ttl time.Duration) bool {
	s := st.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := st.now().UnixNano()
	e := st.live(s, key, now)
	if e == nil {
		return false
	}
	e.exp = expiry(now, ttl)
	st.changed(key)
	return true
}

// Rename moves the value of from to to, replacing what to held, and keeps
// its expiry; ErrNotFound when from is absent.
func (st *Store) Rename(from, to string) error {
	if from == to {
		if _, _, ok := st.Get(from); !ok {
			return ErrNotFound
		}
		return nil
	}
	s := st.shardOf(from)
	s.mu.Lock()
	now := st.now().UnixNano()
	e := st.live(s, from, now)
	if e == nil {
		s.mu.Unlock()
		return ErrNotFound
	}
	v, exp := e.val, e.exp
	st.remove(s, e)
	s.mu.Unlock()
	var ttl time.Duration
	if exp != 0 {
		ttl = max(time.Duration(exp-now), 1)
	}
	_, err := st.Set(to, v, ttl, Always, false)
	return err
}

// Keys returns the live keys that start with prefix, sorted, at most max
// of them (max <= 0: all). It locks each shard in turn and walks it whole:
// a cost in the size of the store, not of the answer.
func (st *Store) Keys(prefix string, max int) []string {
	var keys []string
	now := st.now().UnixNano()
	for i := range st.shards {
		s := &st.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if strings.HasPrefix(k, prefix) && !e.expired(now) {
				keys = append(keys, k)
			}
		}
		s.mu.Unlock()
	}
	slices.Sort(keys)
	if max > 0 && len(keys) > max {
		keys = keys[:max]
	}
	return keys
}

// FlushAll removes every key.
func (st *Store) FlushAll() {
	for i := range st.shards {
		s := &st.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.order.Clear()
		s.bytes = 0
		s.mu.Unlock()
	}
	st.changed("")
}

// FlushExpired removes expired keys, at most max of them (max <= 0: all),
// and returns how many it removed.
func (st *Store) FlushExpired(max int) int {
	n := 0
	now := st.now().UnixNano()
	for i := range st.shards {
		s := &st.shards[i]
		s.mu.Lock()
		for _, e := range s.m {
			if max > 0 && n >= max {
				break
			}
			if e.expired(now) {
				st.remove(s, e)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Used returns the bytes the entries count against Config.Size, expired
// ones not yet removed included.
func (st *Store) Used() int64 {
	var n int64
	for i := range st.shards {
		s := &st.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}
