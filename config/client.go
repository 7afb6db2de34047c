package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DNS is how names are looked up: those of the URIs scripts request
// (http.request), of core.tcp() connects and of core.resolve.
type DNS struct {
	// Nameservers are the DNS servers asked, in order (IP or IP:port);
	// none: those of /etc/resolv.conf.
	Nameservers []string `yaml:"nameservers"`
	// Timeout bounds one lookup, every server and retry included.
	Timeout Duration `yaml:"timeout"`
	// HostsFile maps names to addresses before DNS is asked.
	HostsFile string `yaml:"hosts_file"`
	// MaxTTL caps how long an answer is kept (its TTL otherwise);
	// NegativeTTL is how long "no such name" is.
	MaxTTL      Duration `yaml:"max_ttl"`
	NegativeTTL Duration `yaml:"negative_ttl"`
	// CacheSize bounds the names each worker keeps.
	CacheSize int `yaml:"cache_size"`
}

// HTTPClient bounds the HTTP client of scripts (http.request,
// dovecot.http).
type HTTPClient struct {
	// Timeout bounds a whole exchange, from the request to the end of
	// the response body.
	Timeout        Duration `yaml:"timeout"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// IdleTimeout is how long a connection is kept without exchanges;
	// MaxIdlePerHost how many idle HTTP/1 connections are kept per origin
	// and worker.
	IdleTimeout    Duration `yaml:"idle_timeout"`
	MaxIdlePerHost int      `yaml:"max_idle_per_host"`
	// Size limits of one exchange.
	MaxRequestBody  Size `yaml:"max_request_body"`
	MaxResponseBody Size `yaml:"max_response_body"`
	MaxResponseHead Size `yaml:"max_response_head"`
	// CAFile holds the certificates (PEM) servers' certificates are
	// verified with; "": the system's.
	CAFile string `yaml:"ca_file"`
}

// Defaults of the dns and http_client keys.
const (
	DefaultDNSTimeout        = 5 * time.Second
	DefaultDNSMaxTTL         = time.Hour
	DefaultDNSNegativeTTL    = 5 * time.Second
	DefaultDNSCacheSize      = 10000
	DefaultHostsFile         = "/etc/hosts"
	DefaultClientTimeout     = 60 * time.Second
	DefaultClientConnect     = 5 * time.Second
	DefaultClientIdle        = 60 * time.Second
	DefaultClientIdlePerHost = 64
	DefaultClientMaxBody     = 16 << 20
	DefaultClientMaxHead     = 64 << 10
)

func (c *Config) clientDefaults() {
	d := &c.DNS
	setDefault(&d.Timeout, Duration(DefaultDNSTimeout))
	setDefault(&d.MaxTTL, Duration(DefaultDNSMaxTTL))
	setDefault(&d.NegativeTTL, Duration(DefaultDNSNegativeTTL))
	setDefault(&d.CacheSize, DefaultDNSCacheSize)
	setDefault(&d.HostsFile, DefaultHostsFile)
	d.HostsFile = c.path(d.HostsFile)
	h := &c.HTTPClient
	setDefault(&h.Timeout, Duration(DefaultClientTimeout))
	setDefault(&h.ConnectTimeout, Duration(DefaultClientConnect))
	setDefault(&h.IdleTimeout, Duration(DefaultClientIdle))
	setDefault(&h.MaxIdlePerHost, DefaultClientIdlePerHost)
	setDefault(&h.MaxRequestBody, DefaultClientMaxBody)
	setDefault(&h.MaxResponseBody, DefaultClientMaxBody)
	setDefault(&h.MaxResponseHead, DefaultClientMaxHead)
	h.CAFile = c.path(h.CAFile)
}

func (c *Config) validateClient() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, s := range c.DNS.Nameservers {
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		host, _, err := net.SplitHostPort(s)
		if _, perr := netip.ParseAddr(host); err != nil || perr != nil {
			bad("dns.nameservers[%d]: want an IP address, or IP:port, got %q", i, s)
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"dns.timeout", c.DNS.Timeout}, {"dns.max_ttl", c.DNS.MaxTTL}, {"dns.negative_ttl", c.DNS.NegativeTTL},
		{"http_client.timeout", c.HTTPClient.Timeout}, {"http_client.connect_timeout", c.HTTPClient.ConnectTimeout}, {"http_client.idle_timeout", c.HTTPClient.IdleTimeout}} {
		if d.v < 0 {
			bad("%s: must be positive, got %v", d.key, d.v.D())
		}
	}
	if c.DNS.CacheSize < 0 {
		bad("dns.cache_size: must be positive, got %d", c.DNS.CacheSize)
	}
	h := c.HTTPClient
	if h.MaxIdlePerHost < 0 {
		bad("http_client.max_idle_per_host: must be 0 or more, got %d", h.MaxIdlePerHost)
	}
	for _, s := range []struct {
		key string
		v   Size
	}{{"max_request_body", h.MaxRequestBody}, {"max_response_body", h.MaxResponseBody}, {"max_response_head", h.MaxResponseHead}} {
		if s.v < 0 || s.v > 1<<30 {
			bad("http_client.%s: must be between 1 and 1GiB, got %d", s.key, s.v)
		}
	}
	return errs
}
