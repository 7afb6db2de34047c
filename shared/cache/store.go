package cache

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/luaedge/luaedge/proto/http1"
)

// Head is a request's or a response's header fields.
type Head interface {
	NumFields() int
	Field(i int) (name, value []byte)
}

// Request says whether a request may be answered from the cache and
// whether its response may be stored, as HAProxy 2.6 reads its method,
// version and fields.
type Request struct {
	Lookup bool // the cache may answer it
	Store  bool // its response may be stored
}

// CheckRequest reads a request (method, HTTP version, fields).
func CheckRequest(method []byte, major, minor int, h Head) Request {
	get := string(method) == "GET"
	safe := get || string(method) == "HEAD"
	// Only HTTP/1.1 and later, GET and HEAD are looked up; only GET's
	// responses are stored.
	r := Request{Lookup: safe && (major > 1 || minor >= 1)}
	r.Store = get && r.Lookup
	pragma, cc := false, false
	if v, ok := first(h, "pragma"); ok && http1.EqualFold(v, "no-cache") {
		pragma = true
	}
	if _, ok := first(h, "authorization"); ok {
		r.Lookup, r.Store = false, false
	}
	eachValue(h, "cache-control", func(v []byte) {
		cc = true
		switch {
		// Directives whose values HAProxy does not weigh: the cache is
		// not used (the response is still stored).
		case hasPrefixFold(v, "max-age"), hasPrefixFold(v, "no-cache"), hasPrefixFold(v, "max-stale"), hasPrefixFold(v, "min-fresh"):
			r.Lookup = false
		case hasPrefixFold(v, "no-store"):
			r.Store = false
		}
	})
	// Pragma counts only without Cache-Control (RFC 7234, 5.4).
	if !cc && pragma {
		r.Lookup = false
	}
	return r
}

// Pending is a response being stored: its body is added as it is relayed
// to the client. It belongs to the exchange that began it.
type Pending struct {
	c    *Cache
	o    *Object
	body []byte
	size int64
	dead bool
}

// Begin decides whether a 200 response to a GET (status, reason, fields)
// is stored, as HAProxy 2.6's cache-store does, and returns its Pending;
// nil: it is not. req is the request's fields, contentLength the
// response's (-1: unknown). While it is pending, another response for the
// same object is not stored.
func (c *Cache) Begin(key [20]byte, req Head, status int, reason []byte, res Head, contentLength int64, now time.Time) *Pending {
	if status != 200 {
		return nil
	}
	o := &Object{Status: status, Reason: bytes.Clone(reason), key: key}
	for i := 0; i < res.NumFields(); i++ {
		n, v := res.Field(i)
		o.size += int64(len(n) + len(v) + 4)
	}
	if contentLength >= 0 && c.cfg.MaxObjectSize > 0 && o.size+contentLength > c.cfg.MaxObjectSize {
		return nil
	}
	var prebuilt secondaryKey
	if c.cfg.ProcessVary {
		sig, ok := varySignature(res)
		if !ok {
			return nil
		}
		if sig != 0 {
			// The request's key for the fields the response varies on,
			// its accept-encoding part being the response's coding.
			if prebuilt, ok = buildSecondary(req, ^uint32(0)); !ok {
				return nil
			}
			prebuilt.reduce(sig)
			enc, ok := responseEncoding(res)
			if !ok {
				return nil
			}
			prebuilt.setEncoding(enc)
			o.vary, o.secondary = sig, prebuilt
		}
	} else if _, ok := first(res, "vary"); ok {
		return nil
	}
	if !cacheable(res) {
		return nil
	}
	effective, explicit := maxAge(res, c.cfg.MaxAge, now)
	if v, ok := first(res, "age"); ok {
		age, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || age <= 0 {
			return nil
		}
		age = min(age, 1<<31)
		if age > explicit {
			return nil // stale already
		}
		o.age = age
	}
	o.lastModified = lastModified(res, now)
	for i := 0; i < res.NumFields(); i++ {
		n, v := res.Field(i)
		if http1.EqualFold(n, "age") {
			continue
		}
		f := Field{Name: bytes.ToLower(n), Value: bytes.Clone(v)}
		if string(f.Name) == "etag" {
			o.etag = f.Value
		}
		o.Fields = append(o.Fields, f)
	}
	o.validated = now.Unix()
	o.expire = now.Unix() + effective

	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.fresh(key, now.Unix())
	for i, x := range list {
		if o.vary != 0 && (x.vary == 0 || !x.secondary.matches(o.secondary)) {
			continue
		}
		if !x.complete {
			return nil // being stored by another exchange
		}
		c.unlink(x)
		list = append(list[:i], list[i+1:]...)
		break
	}
	if o.vary == 0 {
		for _, x := range list {
			c.unlink(x)
		}
		list = nil
	} else if len(list) >= c.cfg.MaxSecondaryEntries {
		// Too many variants: HAProxy refuses the new one (its expired
		// ones were dropped by fresh).
		return nil
	}
	c.byKey[key] = append(list, o)
	return &Pending{c: c, o: o, size: o.size}
}

// Write adds body bytes; past the object size limit the object is
// dropped.
func (p *Pending) Write(b []byte) {
	if p.dead {
		return
	}
	p.size += int64(len(b))
	if max := p.c.cfg.MaxObjectSize; max > 0 && p.size > max {
		p.Abort()
		return
	}
	p.body = append(p.body, b...)
}

// Commit stores the object, the whole body in; it evicts the least
// recently used objects to make room.
func (p *Pending) Commit() {
	if p.dead {
		return
	}
	p.dead = true
	c, o := p.c, p.o
	o.Body, o.size = p.body, p.size
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holds(o) {
		return // invalidated or replaced meanwhile
	}
	for c.used+o.size > c.cfg.TotalMaxSize {
		old := c.recency.Back()
		if old == nil {
			c.remove(o)
			return
		}
		c.recency.Remove(&old.links)
		c.used -= old.size
		old.complete = false
		c.remove(old)
	}
	o.complete = true
	c.used += o.size
	c.recency.PushFront(o, &o.links)
}

// Abort drops the object: its response did not end well, or outgrew the
// limit.
func (p *Pending) Abort() {
	if p.dead {
		return
	}
	p.dead, p.body = true, nil
	p.c.mu.Lock()
	p.c.remove(p.o)
	p.c.mu.Unlock()
}

// holds reports whether o is still listed under its key.
func (c *Cache) holds(o *Object) bool {
	for _, x := range c.byKey[o.key] {
		if x == o {
			return true
		}
	}
	return false
}

// remove takes o (no longer counted) out of byKey.
func (c *Cache) remove(o *Object) {
	list := c.byKey[o.key]
	for i, x := range list {
		if x == o {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.byKey, o.key)
		return
	}
	c.byKey[o.key] = list
}

// cacheable reads the response's Pragma and Cache-Control, and whether it
// has freshness information or a validator, as HAProxy 2.6 does.
func cacheable(res Head) bool {
	if v, ok := first(res, "pragma"); ok && http1.EqualFold(v, "no-cache") {
		return false
	}
	ok, cookie, fresh := true, true, false
	eachValue(res, "cache-control", func(v []byte) {
		switch {
		case http1.EqualFold(v, "public"):
			ok, cookie = true, true
		case http1.EqualFold(v, "private"), http1.EqualFold(v, "no-cache"), http1.EqualFold(v, "no-store"), http1.EqualFold(v, "max-age=0"), http1.EqualFold(v, "s-maxage=0"):
			ok, cookie = false, false
		case hasPrefixFold(v, `no-cache="set-cookie`):
			cookie = false
		case hasPrefixFold(v, "s-maxage"), hasPrefixFold(v, "max-age"):
			fresh = true
		}
	})
	if !fresh {
		_, fresh = first(res, "expires")
	}
	if !fresh {
		_, etag := first(res, "etag")
		_, lm := first(res, "last-modified")
		if !etag && !lm {
			return false
		}
	}
	return ok && cookie
}

// maxAge is the object's freshness in seconds (s-maxage, else max-age,
// else Expires, capped by the cache's max-age; else the cache's max-age),
// and the response's own (0 when it says none).
func maxAge(res Head, limit time.Duration, now time.Time) (effective, explicit int64) {
	capAge := int64(limit / time.Second)
	smax, max := int64(-1), int64(-1)
	bad := false
	eachValue(res, "cache-control", func(v []byte) {
		if n, ok, err := directive(v, "s-maxage"); ok {
			smax, bad = n, bad || err
		}
		if n, ok, err := directive(v, "max-age"); ok {
			max, bad = n, bad || err
		}
	})
	if bad {
		return -1, 0
	}
	expires := int64(-1)
	if smax == -1 && max == -1 {
		if v, ok := first(res, "expires"); ok {
			expires = 0 // an invalid date is in the past (RFC 7234, 5.3)
			if t, err := http.ParseTime(string(v)); err == nil && t.Unix() >= now.Unix() {
				expires = t.Unix() - now.Unix()
			}
		}
	}
	switch {
	case smax > 0:
		return min(smax, capAge), smax
	case max > 0:
		return min(max, capAge), max
	case expires >= 0:
		return min(expires, capAge), expires
	}
	return capAge, 0
}

// directive reads "word=N" (N possibly quoted) out of a Cache-Control
// value: ok says the word is there with a value, bad that N is not a
// number of seconds.
func directive(v []byte, word string) (n int64, ok, bad bool) {
	if len(v) < len(word)+2 || !http1.EqualFold(v[:len(word)], word) || v[len(word)] != '=' {
		return 0, false, false
	}
	s := v[len(word)+1:]
	if s[0] == '"' {
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, true, true
	}
	n, err := strconv.ParseInt(string(s[:end]), 10, 64)
	return n, true, err != nil
}

// lastModified is the date an If-Modified-Since is compared with: the
// response's Last-Modified, else its Date, else now.
func lastModified(res Head, now time.Time) int64 {
	for _, name := range []string{"last-modified", "date"} {
		if v, ok := first(res, name); ok {
			if t, err := http.ParseTime(string(v)); err == nil {
				return t.Unix()
			}
		}
	}
	return now.Unix()
}

// notModified reports whether a 304 answers the request: one of its
// If-None-Match entity tags matches the object's (or is *), or, without
// If-None-Match, the object was not modified since its If-Modified-Since.
func notModified(req Head, o *Object) bool {
	seen, match := false, false
	eachValue(req, "if-none-match", func(v []byte) {
		if match || (seen && o.etag == nil) {
			return
		}
		seen = true
		if string(v) == "*" || (o.etag != nil && weakEqual(v, o.etag)) {
			match = true
		}
	})
	if seen {
		return match
	}
	if v, ok := first(req, "if-modified-since"); ok {
		if t, err := http.ParseTime(string(v)); err == nil {
			return o.lastModified <= t.Unix()
		}
	}
	return false
}

// weakEqual compares two entity tags weakly (RFC 7232, 2.3.2).
func weakEqual(a, b []byte) bool {
	a = bytes.TrimPrefix(a, []byte("W/"))
	b = bytes.TrimPrefix(b, []byte("W/"))
	return len(a) >= 2 && a[0] == '"' && bytes.Equal(a, b)
}
