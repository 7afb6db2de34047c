package proxy

import (
	"bytes"

	"github.com/luaedge/luaedge/backend"
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
// be, b, if its rules chose one that is not down or in maintenance.
func persistent(st *stream.Stream, be int, b *Backend) *backend.Server {
	s := st.S()
	if s == nil {
		return nil
	}
	sbe, id := s.Persist()
	if id == 0 || sbe != be {
		return nil
	}
	if srv := b.ServerByID(id); srv != nil && srv.Persistent() {
		return srv
	}
	return nil
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

// requestStores returns the pending stick stores of st's request (nil
// when it has no C state), the stream's bytes.
func requestStores(st *stream.Stream) []byte {
	if s := st.S(); s != nil {
		return s.StickStores()
	}
	return nil
}
