package edge

import (
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

// InitialWeight returns the weight the configuration gives server sv of
// backend name (HAProxy's iweight); 0 if there is no such server.
func (s *Server) InitialWeight(name string, sv *backend.Server) int {
	for i, b := range s.backends {
		if b.Name() == name {
			return s.initialWeight(i, sv)
		}
	}
	return 0
}

// initialWeight is the configured weight of server sv of backend i.
func (s *Server) initialWeight(i int, sv *backend.Server) int {
	servers := s.cfg.Backends[i].Servers
	if sv.ID() < 1 || sv.ID() > len(servers) {
		return 0
	}
	if w := servers[sv.ID()-1].Weight; w != 0 {
		return w
	}
	return 1 // as backend.New takes 0
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
	for i, b := range s.backends {
		pb := prev.Backend(b.Name())
		if pb == nil {
			continue
		}
		for _, sv := range b.Servers() {
			old := pb.Server(sv.Name())
			if old == nil {
				continue
			}
			sv.SetAdminState(old.AdminState())
			if prev.InitialWeight(b.Name(), old) == s.initialWeight(i, sv) {
				_ = sv.SetWeight(old.Weight())
			}
		}
	}
}

func secs(n int) time.Duration  { return time.Duration(n) * time.Second }
func msecs(n int) time.Duration { return time.Duration(n) * time.Millisecond }
