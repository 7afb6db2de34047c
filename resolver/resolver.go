// Package resolver turns host names into addresses without blocking an
// event loop: a Resolver asks DNS servers itself (github.com/miekg/dns) on
// a goroutine of its own for each lookup, and a Cache per loop keeps the
// answers for their TTLs and hands them out on the loop.
//
// Why not Go's resolver: it gives no TTLs (an answer could only be kept
// for a fixed time), and its servers are those of /etc/resolv.conf, not
// the configuration's. Why a goroutine rather than a UDP socket on the
// loop: a lookup is rare next to the requests that use its answer, the
// goroutine parks in the kernel while it waits, and the loop sees only the
// answer, posted back; retries over TCP for a truncated answer come free.
//
// A Resolver is shared by every loop of a generation and safe for
// concurrent use; a Cache belongs to one loop and is used from it only.
// Neither imports anything of luaedge's.
package resolver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Config is what a Resolver asks and how long its answers are kept.
type Config struct {
	// Nameservers are the DNS servers asked, in order, as host:port (or a
	// bare IP: port 53); none: those of ResolvConf.
	Nameservers []string
	// ResolvConf is the file the default servers, search domains and ndots
	// are read from; "": /etc/resolv.conf.
	ResolvConf string
	// HostsFile maps names to addresses before DNS is asked; "":
	// /etc/hosts. A file that does not exist maps nothing.
	HostsFile string
	// Timeout bounds one lookup (every server and retry); 0: 5 s.
	Timeout time.Duration
	// MaxTTL caps how long an answer is kept (0: 1 h); NegativeTTL is how
	// long "no such name" is kept (0: 5 s).
	MaxTTL, NegativeTTL time.Duration
	// CacheSize bounds the names each loop's Cache keeps (0: 10000).
	CacheSize int
}

// Defaults of Config's fields left at zero.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxTTL      = time.Hour
	DefaultNegativeTTL = 5 * time.Second
	DefaultCacheSize   = 10000
)

// Resolver looks names up: in its hosts file, else from its DNS servers.
type Resolver struct {
	cfg     Config
	servers []string // host:port
	search  []string // the search domains of resolv.conf
	ndots   int
	hosts   map[string][]netip.Addr // lower-case names, without the final dot
}

// ErrNotFound is the error of a name that has no address.
var ErrNotFound = errors.New("no such host")

// New reads the files cfg names (once: a reload reads them again) and
// returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.HostsFile == "" {
		cfg.HostsFile = "/etc/hosts"
	}
	r := &Resolver{cfg: cfg, ndots: 1}
	if cc, err := dns.ClientConfigFromFile(cfg.ResolvConf); err == nil {
		r.search, r.ndots = cc.Search, cc.Ndots
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
	} else if len(cfg.Nameservers) == 0 && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", cfg.ResolvConf, err)
	}
	if len(cfg.Nameservers) > 0 {
		r.servers = r.servers[:0]
		for _, s := range cfg.Nameservers {
			addr, err := ServerAddr(s)
			if err != nil {
				return nil, err
			}
			r.servers = append(r.servers, addr)
		}
	}
	if len(r.servers) == 0 {
		r.servers = []string{"127.0.0.1:53"} // as the C library does without resolv.conf
	}
	hosts, err := readHosts(cfg.HostsFile)
	if err != nil {
		return nil, err
	}
	r.hosts = hosts
	return r, nil
}

// ServerAddr checks a nameserver's address: host:port, or an IP alone
// for port 53.
func ServerAddr(s string) (string, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("nameserver %q: want IP or IP:port", s)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", fmt.Errorf("nameserver %q: the host must be an IP address", s)
	}
	if _, err := net.LookupPort("udp", port); err != nil {
		return "", fmt.Errorf("nameserver %q: bad port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// readHosts reads a hosts file: "address name [aliases...]" lines, #
// comments.
func readHosts(path string) (map[string][]netip.Addr, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]netip.Addr{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hosts := map[string][]netip.Addr{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, name := range fields[1:] {
			name = canonical(name)
			hosts[name] = append(hosts[name], ip.Unmap())
		}
	}
	return hosts, sc.Err()
}

// canonical is name lower-case, without its final dot.
func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// Hosts returns the addresses the hosts file gives name, if any.
func (r *Resolver) Hosts(name string) []netip.Addr { return r.hosts[canonical(name)] }

// Lookup asks the DNS servers for name's IPv4 and IPv6 addresses (the
// search domains tried as resolv.conf says). It blocks for up to the
// configured timeout: call it on a goroutine of its own. It returns the
// addresses (IPv4 first) and how long they may be kept: the smallest TTL
// of the records that led to them, at most MaxTTL; for a name that does
// not exist, ErrNotFound and NegativeTTL.
func (r *Resolver) Lookup(ctx context.Context, name string) ([]netip.Addr, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var lastErr error = ErrNotFound
	for _, fqdn := range r.candidates(name) {
		addrs, ttl, err := r.lookupFQDN(ctx, fqdn)
		if err == nil {
			return addrs, ttl, nil
		}
		lastErr = err
		if !errors.Is(err, ErrNotFound) {
			break // a server failed or the time is up: the next suffix would too
		}
	}
	if errors.Is(lastErr, ErrNotFound) {
		return nil, r.cfg.NegativeTTL, ErrNotFound
	}
	return nil, 0, lastErr
}

// candidates are the fully qualified names to try for name, in order.
func (r *Resolver) candidates(name string) []string {
	if dns.IsFqdn(name) {
		return []string{name}
	}
	var out []string
	if dns.CountLabel(name) > r.ndots {
		out = append(out, dns.Fqdn(name))
	}
	for _, s := range r.search {
		out = append(out, dns.Fqdn(name+"."+strings.TrimSuffix(s, ".")))
	}
	if dns.CountLabel(name) <= r.ndots {
		out = append(out, dns.Fqdn(name))
	}
	return out
}

// lookupFQDN asks A and AAAA at once and merges the answers.
func (r *Resolver) lookupFQDN(ctx context.Context, fqdn string) ([]netip.Addr, time.Duration, error) {
	type answer struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	}
	aaaa := make(chan answer, 1)
	go func() {
		addrs, ttl, err := r.query(ctx, fqdn, dns.TypeAAAA)
		aaaa <- answer{addrs, ttl, err}
	}()
	addrs, ttl, err := r.query(ctx, fqdn, dns.TypeA)
	six := <-aaaa
	switch {
	case err == nil && six.err == nil:
		return append(addrs, six.addrs...), min(ttl, six.ttl), nil
	case err == nil:
		return addrs, ttl, nil
	case six.err == nil:
		return six.addrs, six.ttl, nil
	case errors.Is(err, ErrNotFound):
		return nil, 0, six.err // AAAA's failure says more, unless not found too
	}
	return nil, 0, err
}

// query asks the servers in turn for the records of type qtype of fqdn,
// until one answers.
func (r *Resolver) query(ctx context.Context, fqdn string, qtype uint16) ([]netip.Addr, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.RecursionDesired = true
	var lastErr error
	for _, srv := range r.servers {
		in, err := exchange(ctx, m, srv)
		if err != nil {
			lastErr = fmt.Errorf("DNS server %s: %w", srv, err)
			if ctx.Err() != nil {
				return nil, 0, lastErr
			}
			continue
		}
		switch in.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, 0, ErrNotFound
		default:
			lastErr = fmt.Errorf("DNS server %s: %s", srv, dns.RcodeToString[in.Rcode])
			continue
		}
		var addrs []netip.Addr
		ttl := r.cfg.MaxTTL
		for _, rr := range in.Answer {
			h := rr.Header()
			switch v := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
					addrs = append(addrs, a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(v.AAAA); ok {
					addrs = append(addrs, a)
				}
			case *dns.CNAME:
			default:
				continue
			}
			ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
		}
		if len(addrs) == 0 {
			return nil, 0, ErrNotFound // the name exists, without this type
		}
		return addrs, ttl, nil
	}
	return nil, 0, lastErr
}

// exchange sends m to srv over UDP, and again over TCP when the answer
// was truncated.
func exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp"}
	in, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, srv)
	}
	return in, err
}
