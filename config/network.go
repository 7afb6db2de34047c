package config

import "fmt"

// validateNetwork checks the keys of the network-side features: maxconn,
// the PROXY protocol.
func (c *Config) validateNetwork() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.MaxConn < 0 {
		bad("maxconn: must be 0 (no bound) or more, got %d", c.MaxConn)
	}
	for i, f := range c.Frontends {
		if f.MaxConn < 0 {
			bad("frontends[%d].maxconn: must be 0 (no bound) or more, got %d", i, f.MaxConn)
		}
	}
	for i, b := range c.Backends {
		sendProxy := func(at, v string, server bool) {
			switch v {
			case "", "v1", "v2":
			case "none":
				if !server {
					bad("%s.send_proxy: want v1 or v2, got %q (none is for a server of a backend that sends one)", at, v)
				}
				return
			default:
				bad("%s.send_proxy: want v1 or v2, got %q", at, v)
				return
			}
			if v != "" && b.Proto == "h2" {
				bad("%s.send_proxy: a proto: h2 backend carries many clients' requests on one connection, which a PROXY header cannot name", at)
			}
		}
		sendProxy(fmt.Sprintf("backends[%d]", i), b.SendProxy, false)
		for j, sv := range b.Servers {
			sendProxy(fmt.Sprintf("backends[%d].servers[%d]", i, j), sv.SendProxy, true)
		}
	}
	return errs
}
