package stream

import (
	"bytes"
	"strconv"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/shared/cache"
)

// The RAM cache (HAProxy's cache sections, shared/cache): a request its
// rules (or its frontend's cache key) send to a cache is looked up as it
// would be forwarded; a hit is answered by a cacheHit, an Upstream that
// hands over the stored head and body as a server would, so that the
// http-response rules, compression and the access log treat it as they
// treat a server's response. A response to store is begun as its head
// leaves (after the http-response rules) and its body added as it is
// relayed: nothing waits for the cache.

// cacheOf returns the caches the request is looked up in and stored in
// (-1: none): its rules', else its frontend's.
func (st *Stream) cacheOf(s *cgo.Stream) (use, store int) {
	use, store = s.Cache()
	if st.fe != nil && st.fe.Cache > 0 {
		if use < 0 {
			use = st.fe.Cache - 1
		}
		if store < 0 {
			store = st.fe.Cache - 1
		}
	}
	if use >= len(st.env.Caches) || store >= len(st.env.Caches) {
		return -1, -1
	}
	return use, store
}

// cacheKey is the request's primary key: its absolute URI, made from the
// Host (or :authority) as HAProxy makes it (https:// for an origin-form
// HTTP/1 target); ok is false without a host.
func cacheKey(s *cgo.Stream) (key [20]byte, ok bool) {
	target := s.Target()
	if i := bytes.Index(target, []byte("://")); i > 0 && bytes.IndexByte(target[:i], '/') < 0 {
		return cache.Key(target), true
	}
	host := s.Authority()
	if len(host) == 0 {
		return key, false
	}
	scheme := []byte("https")
	if s.Kind() == cgo.KindHTTP2 && len(s.Scheme()) > 0 {
		scheme = s.Scheme()
	}
	uri := make([]byte, 0, len(scheme)+3+len(host)+len(target))
	uri = append(append(append(append(uri, scheme...), "://"...), host...), target...)
	return cache.Key(uri), true
}

// serveFromCache answers the request from its cache if it holds a fresh
// copy; false: forward it.
func (st *Stream) serveFromCache(s *cgo.Stream) bool {
	use, _ := st.cacheOf(s)
	if use < 0 {
		return false
	}
	major, minor := s.Version()
	if !cache.CheckRequest(s.Method(), major, minor, s).Lookup {
		return false
	}
	key, ok := cacheKey(s)
	if !ok {
		return false
	}
	now := time.Now()
	o, notModified := st.env.Caches[use].Lookup(key, s, now)
	if o == nil {
		return false
	}
	if notModified {
		s.SetResponse(304, []byte("Not Modified"))
	} else {
		s.SetResponse(o.Status, o.Reason)
	}
	for _, f := range o.Fields {
		s.AddRField(f.Name, f.Value)
	}
	var age [20]byte
	s.AddRField([]byte("age"), strconv.AppendInt(age[:0], o.Age(now), 10))
	s.SetCacheHit(use)
	u := &cacheHit{st: st, obj: o}
	st.fwd.up = u
	st.down.Forwarded(u)
	st.bodyHandedOn()
	if l := st.log; l != nil {
		l.fwdAt = st.env.Loop.Now()
		l.rec.Backend, l.rec.Server = st.fe.name(), "<CACHE>"
	}
	st.UpstreamHead()
	if st.fwd.up == u && !st.ResponseRulesRunning() {
		u.Resume()
	}
	return true
}

// cacheHit is the Upstream of a response served from a cache: the stored
// object, read-only, shared with every loop.
type cacheHit struct {
	st   *Stream
	obj  *cache.Object
	sent bool
}

func (u *cacheHit) Body([]byte)            { /* the request's body goes nowhere */ }
func (u *cacheHit) EndBody([]http1.Header) {}
func (u *cacheHit) Backlog() int           { return 0 }
func (u *cacheHit) Abandon()               { u.sent = true }
func (u *cacheHit) AbortOnClose() bool     { return false }

func (u *cacheHit) Resume() {
	if u.sent {
		return
	}
	u.sent = true
	// The response rules drop the body of a HEAD or a 304.
	u.st.UpstreamData(u.obj.Body)
	if u.st.fwd.up == u {
		u.st.UpstreamEnd()
	}
}

// beginStore decides, as the response head leaves, whether the response
// goes to a cache (and a successful unsafe request drops what the cache
// holds for its URI, RFC 7234 4.4).
func (st *Stream) beginStore(s *cgo.Stream) {
	use, store := st.cacheOf(s)
	if store < 0 || use < 0 || st.fromCache() {
		// As HAProxy, the key is made by the lookup (cache-use): a
		// response is stored only for a request that was looked up.
		return
	}
	key, ok := cacheKey(s)
	if !ok {
		return
	}
	c := st.env.Caches[store]
	major, minor := s.Version()
	req := cache.CheckRequest(s.Method(), major, minor, s)
	status := s.Status()
	if !req.Store {
		switch string(s.Method()) {
		case "GET", "HEAD", "OPTIONS", "TRACE":
		default:
			if status >= 200 && status < 400 {
				c.Invalidate(key)
			}
		}
		return
	}
	res := resFields{s}
	length := int64(-1)
	for i := 0; i < s.NumRFields(); i++ {
		if n, v := s.RField(i); string(n) == "content-length" {
			length, _ = strconv.ParseInt(string(v), 10, 64)
		}
	}
	st.store = c.Begin(key, s, status, s.Reason(), res, length, time.Now())
}

// fromCache reports whether the response comes from a cache.
func (st *Stream) fromCache() bool {
	_, ok := st.fwd.up.(*cacheHit)
	return ok
}

// abortStore drops the object being stored: its response did not end.
func (st *Stream) abortStore() {
	if st.store != nil {
		st.store.Abort()
		st.store = nil
	}
}

// resFields are the response head's fields, as the cache reads them.
type resFields struct{ s *cgo.Stream }

func (r resFields) NumFields() int               { return r.s.NumRFields() }
func (r resFields) Field(i int) ([]byte, []byte) { return r.s.RField(i) }
