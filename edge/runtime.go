package edge

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/shared/sticktable"
)

// What the runtime socket reaches of a running server. Backends, stick
// tables and map files are shared by every loop: a change made through
// them (a server's state or weight, a table entry cleared, a map entry)
// takes effect on every loop at once.

// Backend returns the backend called name, or nil.
func (s *Server) Backend(name string) *backend.Backend {
	for _, b := range s.backends {
		if b.Name() == name {
			return b.Backend
		}
	}
	return nil
}

// NewServer is a server the runtime API's add server makes: what the
// configuration says of a server, but its own TLS. SendProxy is "v1",
// "v2", "none", or "" for its backend's send_proxy.
type NewServer struct {
	Name, Address   string
	Weight, MaxConn int
	Backup, Check   bool
	SendProxy       string
}

// AddServer adds a server to backend be, in maintenance, as
// backend.AddServer does; it speaks TLS when the backend's tls says so,
// as a server of the configuration without its own.
func (s *Server) AddServer(be string, n NewServer) (*backend.Server, error) {
	for i, b := range s.backends {
		if b.Name() != be {
			continue
		}
		c := &s.cfg.Backends[i]
		sc := backend.ServerConfig{Name: n.Name, Address: n.Address, Weight: n.Weight, MaxConn: n.MaxConn, Backup: n.Backup}
		if err := backend.CheckAddr(n.Address); err != nil {
			return nil, err
		}
		tc, err := serverTLS(c.TLS, n.Address, "tls", c.Proto == "h2")
		if err != nil {
			return nil, err
		}
		sc.TLS = tc
		version := n.SendProxy
		if version == "" {
			version = c.SendProxy
		}
		if version == "none" {
			version = ""
		}
		sendProxy(&sc, version)
		return b.AddServer(sc, n.Check)
	}
	return nil, ErrNoBackend
}

// ErrNoBackend: no backend has the name.
var ErrNoBackend = errors.New("no such backend")

// DelServer deletes server name of backend be, as backend.DelServer
// does, and has every loop close the connections it keeps idle to it.
func (s *Server) DelServer(be, name string) error {
	b := s.Backend(be)
	if b == nil {
		return ErrNoBackend
	}
	sv, err := b.DelServer(name)
	if err != nil {
		return err
	}
	for _, ls := range s.loopStates() {
		ls.loop.Post(func() { ls.pool.Forget(sv) })
	}
	return nil
}

// Tables returns the stick tables, by name.
func (s *Server) Tables() []*sticktable.Table {
	out := make([]*sticktable.Table, 0, len(s.tables))
	for _, t := range s.tables {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *sticktable.Table) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Table returns the stick table called name, or nil.
func (s *Server) Table(name string) *sticktable.Table { return s.tables[name] }

// Shared returns what the generation's Lua states share: its map files.
func (s *Server) Shared() *lj.Shared { return s.shared }

// carryServerStates gives the servers of s the admin states and weights
// the runtime socket (or a script) set on prev's servers of the same
// backend and name, when the configuration left the server's weight as
// it was: a server put in maintenance stays there across a reload, as
// with HAProxy's server-state-file. Health states are not carried: the
// new generation checks its servers afresh.
func (s *Server) carryServerStates(prev *Server) {
	for _, b := range s.backends {
		pb := prev.Backend(b.Name())
		if pb == nil {
			continue
		}
		for _, sv := range b.Servers() {
			old := pb.Server(sv.Name())
			if old == nil {
				continue
			}
			if old.IsDynamic() {
				continue // the runtime API's servers end with their generation
			}
			sv.SetAdminState(old.AdminState())
			if old.InitialWeight() == sv.InitialWeight() {
				_ = sv.SetWeight(old.Weight())
			}
		}
	}
}

func secs(n int) time.Duration  { return time.Duration(n) * time.Second }
func msecs(n int) time.Duration { return time.Duration(n) * time.Millisecond }
