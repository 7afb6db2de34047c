package edge

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
)

// The Go half of HAProxy's Proxy, Server and Listener classes
// (lj/lua/proxy.lua). Scripts on every core act on the same frontends,
// backends and servers, so a change from one core is seen by all.

func init() {
	lj.RegisterGoFunc("proxy", goProxy)
	lj.RegisterGoFunc("server", goServer)
}

// proxyInfo is the Lua chunk describing the proxies to a new state.
func (s *Server) proxyInfo() string {
	b := "local I = ...\nI.set_proxies({\n"
	for i, f := range s.frontends {
		b += fmt.Sprintf("{cap=%q, name=%q, uuid=%d, mode=%q, stktable=%v, listeners={", "frontend", f.cfg.Name, i+1, f.cfg.Mode, s.tables[f.cfg.Name] != nil)
		for _, l := range f.cfg.Bind {
			b += strconv.Quote(l) + ","
		}
		b += "}},\n"
	}
	for i, be := range s.backends {
		b += fmt.Sprintf("{cap=%q, name=%q, uuid=%d, mode=%q, stktable=%v, servers={", "backend", be.Name(), len(s.frontends)+i+1, "http", s.tables[be.Name()] != nil)
		for _, sv := range be.Servers() {
			b += fmt.Sprintf("{name=%q, puid=%d},", sv.Name(), sv.ID())
		}
		b += "}},\n"
	}
	// A stick_tables entry is HAProxy's backend that holds only a table:
	// scripts reach it as core.backends[NAME].stktable, as in HAProxy.
	for i, t := range s.cfg.StickTables {
		b += fmt.Sprintf("{cap=%q, name=%q, uuid=%d, mode=%q, stktable=true, servers={}},\n", "backend", t.Name, len(s.frontends)+len(s.backends)+i+1, "http")
	}
	return b + "})\n"
}

// pushStats pushes a stats map as key, value pairs (sorted keys).
func pushStats(c *cgo.Call, m map[string]any) int {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		c.PushString(k)
		switch v := m[k].(type) {
		case int:
			c.PushNumber(float64(v))
		case int64:
			c.PushNumber(float64(v))
		case float64:
			c.PushNumber(v)
		case bool:
			c.PushBool(v)
		default:
			c.PushString(fmt.Sprint(v))
		}
		n += 2
		if n >= 60 { // the gate's stack room
			break
		}
	}
	return n
}

// goProxy(cap, name, method) for Proxy:pause/resume/stop/get_stats.
func goProxy(c *cgo.Call) int {
	s := serverOf(c)
	if s == nil {
		return c.Error("no proxies yet")
	}
	cap, name, method := c.String(1), c.String(2), c.String(3)
	if cap == "backend" {
		for _, be := range s.backends {
			if be.Name() == name {
				switch method {
				case "get_stats":
					return pushStats(c, be.Stats())
				case "pause", "resume", "stop":
					return 0 // a backend takes what its frontends send
				}
			}
		}
		for _, t := range s.cfg.StickTables {
			if t.Name == name {
				switch method {
				case "get_stats":
					return pushStats(c, map[string]any{"pxname": name, "svname": "BACKEND", "status": "UP", "scur": 0, "stot": 0})
				case "pause", "resume", "stop":
					return 0
				}
			}
		}
		return c.Error("no backend " + name)
	}
	for _, f := range s.frontends {
		if f.cfg.Name != name {
			continue
		}
		switch method {
		case "pause":
			f.paused.Store(true)
		case "resume":
			if !f.stopped.Load() {
				f.paused.Store(false)
			}
		case "stop":
			f.stopped.Store(true)
			f.paused.Store(true)
		case "get_stats":
			status := "OPEN"
			if f.stopped.Load() {
				status = "STOP"
			} else if f.paused.Load() {
				status = "PAUSED"
			}
			t := s.frontendTotals(f)
			return pushStats(c, map[string]any{
				"pxname": f.cfg.Name, "svname": "FRONTEND", "mode": f.cfg.Mode, "status": status,
				"scur": t.Sessions, "stot": t.SessionsTotal, "req_tot": t.Requests,
			})
		default:
			return c.Error("unknown Proxy method " + method)
		}
		return 0
	}
	return c.Error("no frontend " + name)
}

// goServer(backend, server, method, args...) for the Server class.
func goServer(c *cgo.Call) int {
	s := serverOf(c)
	if s == nil {
		return c.Error("no proxies yet")
	}
	for _, be := range s.backends {
		if be.Name() != c.String(1) {
			continue
		}
		sv := be.Server(c.String(2))
		if sv == nil {
			return c.Error("no server " + c.String(2) + " in backend " + be.Name())
		}
		switch m := c.String(3); m {
		case "is_draining":
			c.PushBool(sv.IsDraining())
			return 1
		case "set_maxconn":
			sv.SetMaxConn(int(c.Int(4)))
		case "get_maxconn":
			c.PushNumber(float64(sv.MaxConn()))
			return 1
		case "set_weight":
			if err := sv.SetWeight(int(c.Int(4))); err != nil {
				c.PushString(err.Error())
				return 1
			}
		case "get_weight":
			c.PushNumber(float64(sv.Weight()))
			return 1
		case "set_addr":
			addr := c.String(4)
			if !c.IsNoneOrNil(5) {
				addr = net.JoinHostPort(addr, c.String(5))
			}
			if err := sv.SetAddr(addr); err != nil {
				c.PushString(err.Error())
				return 1
			}
		case "get_addr":
			c.PushString(sv.Addr())
			return 1
		case "get_stats":
			return pushStats(c, sv.Stats())
		case "set_drain":
			sv.SetDrain()
		case "set_maint":
			sv.SetMaint()
		case "set_ready":
			sv.SetReady()
		case "check_enable", "agent_enable":
			sv.CheckEnable()
		case "check_disable", "agent_disable":
			sv.CheckDisable()
		case "check_force_up", "agent_force_up":
			sv.CheckForceUp()
		case "check_force_nolb":
			sv.CheckForceNoLB()
		case "check_force_down", "agent_force_down":
			sv.CheckForceDown()
		case "shut_sess":
			// Connections to a server are pooled per loop and close when idle;
			// new requests stop going there with set_maint.
		default:
			return c.Error("unknown Server method " + m)
		}
		return 0
	}
	return c.Error("no backend " + c.String(1))
}
