package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// bindSet is the addresses the frontends listen on, as the kernel sees
// them: localhost:80 and 127.0.0.1:80 are one socket address, and
// 0.0.0.0:80 takes port 80 of every address. Two frontends on one of
// them would share the port (luaedge listens with SO_REUSEPORT) and split
// its connections between them, so it is refused.
type bindSet struct {
	seen []boundAddr
}

type boundAddr struct {
	frontend, addr string
	port           int
	ips            []net.IP // nil: every address of the machine
}

// add checks the bind list of the frontend at (frontends[i]) and records
// its addresses; it returns one error per bad address.
func (s *bindSet) add(at, frontend string, addrs []string) []error {
	var errs []error
	for j, a := range addrs {
		key := fmt.Sprintf("%s.bind[%d]: frontend %q", at, j, frontend)
		b, err := parseBind(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %v", key, a, err))
			continue
		}
		b.frontend = frontend
		if other := s.clash(b); other != nil {
			msg := fmt.Sprintf("%s: %s is already bound by frontend %q", key, a, other.frontend)
			if other.addr != a {
				msg += " (as " + other.addr + ": the same address and port)"
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		s.seen = append(s.seen, b)
	}
	return errs
}

// clash returns the address already recorded that b would share a port
// with, or nil. Port 0 (any free port) clashes only with the same words.
func (s *bindSet) clash(b boundAddr) *boundAddr {
	for i := range s.seen {
		o := &s.seen[i]
		if o.addr == b.addr || (b.port != 0 && o.port == b.port && overlap(o.ips, b.ips)) {
			return o
		}
	}
	return nil
}

func overlap(a, b []net.IP) bool {
	if a == nil || b == nil {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x.Equal(y) {
				return true
			}
		}
	}
	return false
}

// parseBind reads HOST:PORT; a host that is a name is resolved (from
// /etc/hosts first), as listening on it would.
func parseBind(a string) (boundAddr, error) {
	host, portStr, err := net.SplitHostPort(a)
	if err != nil {
		return boundAddr{}, fmt.Errorf("want HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, :8080): %v", strings.TrimPrefix(err.Error(), "address "+a+": "))
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return boundAddr{}, fmt.Errorf("the port must be a number from 0 to 65535, got %q", portStr)
	}
	b := boundAddr{addr: a, port: port}
	switch ip := net.ParseIP(strings.Split(host, "%")[0]); {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		// every address: ips stays nil
	case ip != nil:
		b.ips = []net.IP{ip}
	default:
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return boundAddr{}, fmt.Errorf("cannot resolve the host %q", host)
		}
		b.ips = ips
	}
	return b, nil
}
