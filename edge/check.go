package edge

import (
	"fmt"

	"github.com/luaedge/luaedge/lj"
	proxypkg "github.com/luaedge/luaedge/proxy"
)

// CheckHost returns the host value (lj.Options.Host) of a state made to
// check the scripts (luaedge check) rather than to serve: the gate
// functions of the Proxy, Server and StickTable classes reach s through
// it, as a loop's state does; it has no loop, so no socket connects.
func (s *Server) CheckHost() any {
	return &loopState{srv: s, sockets: proxypkg.NewSockets(nil, s.handshakes, nil, nil)}
}

// CheckInits gives st, made with CheckHost, what a loop's state gets
// before its init functions (the proxies' description, the backends'
// names), then runs the scripts' core.register_init functions: they see
// core.backends, their servers and the stick tables as at start.
func (s *Server) CheckInits(st *lj.State) error {
	if err := st.LoadInternal([]byte(s.proxyInfo()), "=luaedge/proxies"); err != nil {
		return err
	}
	if err := st.SetBackends(s.backendNames()); err != nil {
		return err
	}
	if err := st.SetCaches(s.cacheNames()); err != nil {
		return err
	}
	if err := st.RunInits(); err != nil {
		return fmt.Errorf("core.register_init: %w", err)
	}
	return nil
}
