package proxy

import (
	"bytes"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
)

// Persistence: the server a request's use-server or stick rules chose
// (lj/lua/fetches.lua writes it in the stream), and the stick stores
// they left pending, written once the server took the request: on its
// response head in HTTP (HAProxy runs the store rules with the response
// analysers), when the connection to it is established in TCP mode
// (HAProxy's response analysers start then, whether the server speaks or
// not).

// persistent returns the server the request of st must go to in backend
// be, b, if its rules chose one it may go to (Persists).
func persistent(st *stream.Stream, be int, b *Backend) *backend.Server {
	s := st.S()
	if s == nil {
		return nil
	}
	sbe, id := s.Persist()
	if id == 0 || sbe != be {
		return nil
	}
	if srv := b.ServerByID(id); srv != nil && b.Persists(srv, b.forced(s)) {
		return srv
	}
	return nil
}

// Persists reports whether a request whose persistence (cookie, stick
// rule, use-server) names srv goes there: srv is neither down nor in
// maintenance (Persistent), or the backend has option persist, or the
// request's force-persist rule held (forced), as HAProxy 2.6 decides.
func (b *Backend) Persists(srv *backend.Server, forced bool) bool {
	return forced || b.PersistDown || srv.Persistent()
}

// forced reports whether s's persistence goes to its server whatever
// its state: option persist, or a force-persist rule that held.
func (b *Backend) forced(s *cgo.Stream) bool {
	return b.PersistDown || (s != nil && s.PersistRule() == cgo.PersistForce)
}

// ignored reports whether an ignore-persist rule held for s: its
// persistence cookie is neither read nor set.
func ignored(s *cgo.Stream) bool {
	return s != nil && s.PersistRule() == cgo.PersistIgnore
}

// StickRule is one of a backend's stick rules of the configuration
// (config.StickRule), with its table.
type StickRule struct {
	Fetch, Name  string // config.StickKey's: src, req.cook or req.hdr, and NAME
	Match, Store bool
	Table        *sticktable.Table
}

// stickRules runs b's stick rules of the configuration on st's request,
// after its Lua rules, as HAProxy runs a backend's stick rules in order:
// a store rule of a table the request has a pending store for is skipped
// whole; a match refreshes the key's entry, and its server is returned
// when it is of b and not down or in maintenance (only the first). The
// stores go to the stream's pending ones.
func stickRules(st *stream.Stream, b *Backend) *backend.Server {
	s := st.S()
	if s == nil || len(b.Stick) == 0 {
		return nil
	}
	var chosen *backend.Server
	for _, r := range b.Stick {
		name := r.Table.Name()
		if r.Store && s.HasStickStore(name) {
			continue
		}
		raw, ok := stickKey(s, r)
		if !ok {
			continue
		}
		k, err := r.Table.Key(string(raw))
		if err != nil {
			continue
		}
		if r.Match {
			if id, srvName, ok := r.Table.MatchServer(k); ok && chosen == nil {
				chosen = b.Server(srvName)
				if chosen == nil && id > 0 {
					chosen = b.ServerByID(id)
				}
				if chosen != nil && !b.Persists(chosen, b.forced(s)) {
					chosen = nil
				}
			}
		}
		if r.Store {
			s.AddStickStore(name, k)
		}
	}
	return chosen
}

// stickKey is the key rule r reads from request s, if it has one.
func stickKey(s *cgo.Stream, r StickRule) ([]byte, bool) {
	switch r.Fetch {
	case "src":
		src, _, _, _ := s.Addrs()
		return src, len(src) > 0
	case "req.cook":
		return requestCookie(s, r.Name)
	}
	// req.hdr: the last value, as HAProxy's hdr() in a stick pattern.
	var v []byte
	found := false
	for i := range s.NumFields() {
		if n, val := s.Field(i); bytes.EqualFold(n, []byte(r.Name)) {
			v, found = val, true
		}
	}
	return v, found
}

// stickStore writes srv into the entries of the pending stick stores
// (TABLE\0KEY\0 each: a request's le_stream.stick, or a tunnel's copy of
// it), as HAProxy's process_store_rules: whatever server an entry named
// is replaced.
func (p *Pool) stickStore(stores []byte, srv *backend.Server) {
	for len(stores) > 0 {
		table, rest, ok1 := bytes.Cut(stores, []byte{0})
		key, rest, ok2 := bytes.Cut(rest, []byte{0})
		if !ok1 || !ok2 {
			return
		}
		stores = rest
		if t := p.tables[string(table)]; t != nil {
			t.StoreServer(string(key), srv.ID(), srv.Name())
		}
	}
}

// served is what persistence does once srv took st's request: its stick
// stores are written, and srv becomes the request's server
// (le_stream.srv_id), which its response's stick store-response rules
// store.
func (p *Pool) served(st *stream.Stream, srv *backend.Server) {
	p.stickStore(requestStores(st), srv)
	if s := st.S(); s != nil {
		s.SetServer(srv.ID())
	}
}

// requestStores returns the pending stick stores of st's request (nil
// when it has no C state), the stream's bytes.
func requestStores(st *stream.Stream) []byte {
	if s := st.S(); s != nil {
		return s.StickStores()
	}
	return nil
}
