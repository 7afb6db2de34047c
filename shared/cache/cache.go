// Package cache is HAProxy's small-object RAM cache (its "cache"
// sections): responses stored whole in Go memory, shared by every loop,
// keyed as HAProxy 2.6 keys them (the absolute URI, and with process-vary
// the request fields a response varies on), served while fresh.
//
// A Cache belongs to its generation's server and is used by every loop
// under its mutex; a stored Object is never written again, so a loop
// serving it reads it without the lock (an evicted object stays valid for
// whoever still holds it, until the garbage collector sees it unused).
// Nothing here knows streams or loops: callers pass a request's and a
// response's fields (Head).
package cache

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/luaedge/luaedge/shared/lru"
)

// Config is a cache section.
type Config struct {
	Name string
	// TotalMaxSize bounds the bytes of the objects stored.
	TotalMaxSize int64
	// MaxObjectSize: a larger object (head and body) is not stored.
	MaxObjectSize int64
	// MaxAge caps an object's freshness.
	MaxAge time.Duration
	// ProcessVary: responses that vary on accept-encoding or referer are
	// stored, one object per variant (at most MaxSecondaryEntries).
	ProcessVary         bool
	MaxSecondaryEntries int
}

// Field is a header field.
type Field struct{ Name, Value []byte }

// Object is a stored response. Read-only once stored.
type Object struct {
	Status int
	Reason []byte
	Fields []Field // as the server sent them, without Age
	Body   []byte

	key          [20]byte
	secondary    secondaryKey
	vary         uint32 // the vary signature: the fields its variants differ by
	expire       int64  // unix seconds: fresh before
	validated    int64  // unix seconds: when stored
	age          int64  // the server's Age
	lastModified int64
	etag         []byte
	size         int64
	links        lru.Links[Object]
	complete     bool // the whole body is in (guarded by the cache's mutex)
}

// Age is the value of the Age field the object is served with.
func (o *Object) Age(now time.Time) int64 {
	a := now.Unix() - o.validated
	if a < 0 {
		a = 0
	}
	return a + o.age
}

// Cache is one cache section's store.
type Cache struct {
	cfg Config

	mu sync.Mutex
	// byKey holds, for each primary key, its objects (more than one only
	// for responses with Vary), oldest first.
	byKey   map[[20]byte][]*Object
	recency lru.List[Object]
	used    int64
	// lastClear is, per primary key, when its expired variants were last
	// swept for room (HAProxy sweeps at most once a second).
	lastClear map[[20]byte]int64
}

// New makes an empty cache.
func New(cfg Config) *Cache {
	if cfg.MaxSecondaryEntries <= 0 {
		cfg.MaxSecondaryEntries = 10
	}
	return &Cache{cfg: cfg, byKey: map[[20]byte][]*Object{}, lastClear: map[[20]byte]int64{}}
}

// Config returns the cache's configuration.
func (c *Cache) Config() Config { return c.cfg }

// Key is a request's primary key: the SHA-1 of its absolute URI.
func Key(absURI []byte) [20]byte { return sha1.Sum(absURI) }

// Lookup returns the fresh object stored for a request (nil: none), and
// whether a 304 answers the request's conditions instead.
func (c *Cache) Lookup(key [20]byte, req Head, now time.Time) (*Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.fresh(key, now.Unix())
	if len(list) == 0 {
		return nil, false
	}
	var o *Object
	if list[0].vary == 0 {
		o = list[0]
	} else {
		sk, ok := buildSecondary(req, list[0].vary)
		if !ok {
			return nil, false
		}
		for _, x := range list {
			if x.vary != 0 && x.secondary.matches(sk) {
				o = x
				break
			}
		}
	}
	if o == nil || !o.complete {
		return nil, false
	}
	c.recency.MoveToFront(&o.links)
	return o, notModified(req, o)
}

// fresh drops the expired objects of key and returns those left.
func (c *Cache) fresh(key [20]byte, now int64) []*Object {
	list := c.byKey[key]
	kept := list[:0]
	for _, o := range list {
		if o.expire > now {
			kept = append(kept, o)
		} else {
			c.unlink(o)
		}
	}
	for i := len(kept); i < len(list); i++ {
		list[i] = nil
	}
	if len(kept) == 0 {
		delete(c.byKey, key)
		delete(c.lastClear, key)
		return nil
	}
	c.byKey[key] = kept
	return kept
}

// unlink takes o out of the recency list and the count of bytes (not
// out of byKey).
func (c *Cache) unlink(o *Object) {
	if o.complete {
		c.recency.Remove(&o.links)
		c.used -= o.size
	}
}

// Invalidate drops what is stored for key: an unsafe method (POST, PUT,
// DELETE...) succeeded on it (RFC 7234, 4.4).
func (c *Cache) Invalidate(key [20]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.byKey[key] {
		c.unlink(o)
	}
	delete(c.byKey, key)
	delete(c.lastClear, key)
}

// Used is the bytes the objects stored take.
func (c *Cache) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Entry is a stored object as show cache lists it.
type Entry struct {
	Addr      string // the object's address, as show cache names it
	Hash      uint32
	Secondary [secondaryLen]byte
	Size      int64
	Expire    int64 // seconds left
}

// Entries lists the fresh objects, by hash.
func (c *Cache) Entries(now time.Time) []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Entry
	for k := range c.byKey {
		for _, o := range c.fresh(k, now.Unix()) {
			if o.complete {
				out = append(out, Entry{Addr: fmt.Sprintf("%p", o), Hash: binary.LittleEndian.Uint32(o.key[:4]), Secondary: o.secondary, Size: o.size, Expire: o.expire - now.Unix()})
			}
		}
	}
	sortEntries(out)
	return out
}
