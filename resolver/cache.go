package resolver

import (
	"context"
	"net/netip"
	"time"
)

// Cache is one loop's view of a Resolver: the answers it got, kept for
// their TTL, and the lookups under way, each asked once however many wait
// for it. It is used from its loop's goroutine only; the lookups run on
// goroutines of their own and post their answers back with post.
type Cache struct {
	r       *Resolver
	post    func(func())     // runs a function on the loop (eventloop.Loop.Post)
	now     func() time.Time // the loop's clock
	entries map[string]*entry
	// Lookups under way, by name: what waits for each.
	pending map[string][]func([]netip.Addr, error)
}

// entry is an answer kept: addresses, or err (a name that does not
// exist), until expires.
type entry struct {
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// NewCache makes the cache of one loop; post and now are the loop's.
func (r *Resolver) NewCache(post func(func()), now func() time.Time) *Cache {
	return &Cache{r: r, post: post, now: now, entries: map[string]*entry{}, pending: map[string][]func([]netip.Addr, error){}}
}

// Resolve calls done on the loop with name's addresses (IPv4 first), or
// with the error that it has none. An IP address, a name of the hosts file
// and an answer still fresh in the cache call done before Resolve returns;
// otherwise a lookup runs on a goroutine and done follows on a later loop
// task. Whoever waits bounds the wait itself (done may come after its
// timeout; it must then do nothing).
func (c *Cache) Resolve(name string, done func([]netip.Addr, error)) {
	if ip, err := netip.ParseAddr(name); err == nil {
		done([]netip.Addr{ip.Unmap()}, nil)
		return
	}
	if addrs := c.r.Hosts(name); len(addrs) > 0 {
		done(addrs, nil)
		return
	}
	key := canonical(name)
	if e := c.entries[key]; e != nil {
		if c.now().Before(e.expires) {
			done(e.addrs, e.err)
			return
		}
		delete(c.entries, key)
	}
	waiting, asked := c.pending[key]
	c.pending[key] = append(waiting, done)
	if asked {
		return
	}
	go func() {
		addrs, ttl, err := c.r.Lookup(context.Background(), key)
		c.post(func() { c.answered(key, addrs, ttl, err) })
	}()
}

// answered keeps an answer and hands it to whoever waits for it.
func (c *Cache) answered(key string, addrs []netip.Addr, ttl time.Duration, err error) {
	if ttl > 0 && (err == nil || err == ErrNotFound) {
		c.keep(key, &entry{addrs: addrs, err: err, expires: c.now().Add(ttl)})
	}
	waiting := c.pending[key]
	delete(c.pending, key)
	for _, done := range waiting {
		done(addrs, err)
	}
}

// keep stores e, making room first when the cache is full: expired
// entries go, then any.
func (c *Cache) keep(key string, e *entry) {
	if len(c.entries) >= c.r.cfg.CacheSize {
		now := c.now()
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.r.cfg.CacheSize {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}
