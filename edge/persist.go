package edge

import (
	"fmt"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
	proxypkg "github.com/luaedge/luaedge/proxy"
)

// Persistence: the Go half of TXN:use_server, stick_match and
// stick_store (lj/lua/fetches.lua), what haproxy.cfg's use-server and
// stick rules compile to. Lua records the server chosen and the pending
// stores in the request's stream; proxy reads them as it picks the server
// and stores the keys once the server took the request (proxy/persist.go).

func init() {
	lj.RegisterGoFunc("persist", goPersist)
}

// goPersist(op, ...):
//   - "server", backend, server, forced: the server's id if the request
//     may go there (proxy.Backend.Persists; forced: a force-persist rule
//     held), else nil;
//   - "match", backend, table, key, forced: the id and name of the server
//     the key's entry names, if that server is of backend and the request
//     may go there, else nil; a live entry is refreshed either way;
//   - "store", backend, table, key, id: writes server id of backend into
//     the entry of key in table (a stick store-response rule, once the
//     server answered); true when stored;
//   - "key", table, key: the key as the table holds it, nil when its type
//     cannot hold it; an error when the table stores no server.
func goPersist(c *cgo.Call) int {
	s := serverOf(c)
	if s == nil {
		return c.Error("no backends yet")
	}
	switch c.String(1) {
	case "server":
		be := s.backendNamed(c.String(2))
		if be == nil {
			return c.Error("use_server: no backend named '" + c.String(2) + "'")
		}
		if srv := be.Server(c.String(3)); srv != nil && be.Persists(srv, c.Bool(4)) {
			c.PushNumber(float64(srv.ID()))
			return 1
		}
	case "match":
		be := s.backendNamed(c.String(2))
		if be == nil {
			return c.Error("stick_match: no backend named '" + c.String(2) + "'")
		}
		t := s.tables[c.String(3)]
		if t == nil {
			return c.Error("stick_match: no stick table " + c.String(3))
		}
		k, err := t.Key(c.String(4))
		if err != nil {
			break
		}
		id, name, ok := t.MatchServer(k)
		if !ok {
			break
		}
		// As HAProxy: the server's name first, then its id.
		srv := be.Server(name)
		if srv == nil && id > 0 {
			srv = be.ServerByID(id)
		}
		if srv != nil && be.Persists(srv, c.Bool(5)) {
			c.PushNumber(float64(srv.ID()))
			c.PushString(srv.Name())
			return 2
		}
	case "store":
		be := s.backendNamed(c.String(2))
		if be == nil {
			return c.Error("stick_store_response: no backend named '" + c.String(2) + "'")
		}
		t := s.tables[c.String(3)]
		if t == nil || !t.StoresServer() {
			return c.Error("stick_store_response: no stick table " + c.String(3) + " storing server_id")
		}
		srv := be.ServerByID(int(c.Int(5)))
		k, err := t.Key(c.String(4))
		if srv == nil || err != nil {
			break
		}
		t.StoreServer(k, srv.ID(), srv.Name())
		c.PushBool(true)
		return 1
	case "key":
		t := s.tables[c.String(2)]
		if t == nil {
			return c.Error("stick_store: no stick table " + c.String(2))
		}
		if !t.StoresServer() {
			return c.Error("stick_store: stick table " + c.String(2) + " does not store server_id")
		}
		if k, err := t.Key(c.String(3)); err == nil {
			c.PushString(k)
			return 1
		}
	default:
		return c.Error("persist: unknown operation " + c.String(1))
	}
	c.PushNil()
	return 1
}

// stickRules resolves the stick rules of backend bc, whose tables are
// built (config.Complete checked them).
func (s *Server) stickRules(bc config.Backend) ([]proxypkg.StickRule, error) {
	var out []proxypkg.StickRule
	for j, r := range bc.Stick {
		key, match, store := r.Key()
		fetch, name, err := config.StickKey(key)
		if err != nil {
			return nil, fmt.Errorf("stick[%d]: %v", j, err)
		}
		table := r.Table
		if table == "" {
			table = bc.Name
		}
		t := s.tables[table]
		if t == nil || !t.StoresServer() {
			return nil, fmt.Errorf("stick[%d]: no stick table %s storing server_id", j, table)
		}
		out = append(out, proxypkg.StickRule{Fetch: fetch, Name: name, Match: match, Store: store, Table: t})
	}
	return out, nil
}

// backendNamed returns the backend called name, nil if none.
func (s *Server) backendNamed(name string) *proxypkg.Backend {
	for _, b := range s.backends {
		if b.Name() == name {
			return b
		}
	}
	return nil
}
