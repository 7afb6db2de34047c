package edge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/luaedge/luaedge/config"
	proxypkg "github.com/luaedge/luaedge/proxy"
	"github.com/luaedge/luaedge/resolver"
)

// clientOptions builds what the HTTP client of scripts (and the DNS
// lookups of every loop) share in a generation, from the dns and
// http_client keys; the files they name are read here, once per
// generation.
func clientOptions(cfg *config.Config) (*proxypkg.ClientOptions, error) {
	d := cfg.DNS
	r, err := resolver.New(resolver.Config{
		Nameservers: d.Nameservers,
		HostsFile:   d.HostsFile,
		Timeout:     d.Timeout.D(),
		MaxTTL:      d.MaxTTL.D(),
		NegativeTTL: d.NegativeTTL.D(),
		CacheSize:   d.CacheSize,
	})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	h := cfg.HTTPClient
	o := &proxypkg.ClientOptions{
		Timeout:         h.Timeout.D(),
		ConnectTimeout:  h.ConnectTimeout.D(),
		IdleTimeout:     h.IdleTimeout.D(),
		MaxIdlePerHost:  h.MaxIdlePerHost,
		MaxRequestBody:  int(h.MaxRequestBody),
		MaxResponseBody: int64(h.MaxResponseBody),
		MaxResponseHead: int(h.MaxResponseHead),
		Sessions:        tls.NewLRUClientSessionCache(256),
		Resolver:        r,
	}
	if h.CAFile != "" {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return nil, fmt.Errorf("http_client.ca_file: %v", err)
		}
		o.RootCAs = x509.NewCertPool()
		if !o.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http_client.ca_file: %s: no PEM certificate in it", h.CAFile)
		}
	}
	return o, nil
}
