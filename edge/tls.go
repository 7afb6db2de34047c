package edge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/transport"
)

// frontendTLS builds what frontend fc (at its key path at) serves TLS
// with: one tls.Config per frontend per generation, shared by every
// loop, so that the session tickets one loop issues resume on any other
// (crypto/tls makes the ticket keys once per Config). The certificates
// are read now: a reload reads them again.
func frontendTLS(fc *config.Frontend, at string, log *slog.Logger) (*tls.Config, error) {
	t := fc.TLS
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: t.ALPN}
	if t.MinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	now := time.Now()
	load := func(key string, p config.CertKey) error {
		c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		leaf := c.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return fmt.Errorf("%s: %s: %v", key, p.Cert, err)
			}
		}
		if now.After(leaf.NotAfter) {
			log.Warn("certificate has expired", "key", key, "cert", p.Cert, "not_after", leaf.NotAfter)
		} else if now.Before(leaf.NotBefore) {
			log.Warn("certificate is not valid yet", "key", key, "cert", p.Cert, "not_before", leaf.NotBefore)
		}
		if p.OCSP != "" {
			if c.OCSPStaple, err = readStaple(p.OCSP, &c, leaf, now, log); err != nil {
				return fmt.Errorf("%s.ocsp: %v", key, err)
			}
		}
		cfg.Certificates = append(cfg.Certificates, c)
		return nil
	}
	if t.Cert != "" {
		if err := load(at+".tls", config.CertKey{Cert: t.Cert, Key: t.Key, OCSP: t.OCSP}); err != nil {
			return nil, err
		}
	}
	for j, p := range t.Certificates {
		if err := load(fmt.Sprintf("%s.tls.certificates[%d]", at, j), p); err != nil {
			return nil, err
		}
	}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("%s.tls.client_ca: %v", at, err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.tls.client_ca: %s: no PEM certificate in it", at, t.ClientCA)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if t.Verify == "optional" {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return cfg, nil
}

// readStaple reads the DER OCSP response in file for certificate c
// (whose leaf is leaf) and checks it: it must be a response for that
// certificate, signed by its issuer when c's chain has it, and say
// "good". One past its next update is stapled with a warning, as the
// client decides what to make of it.
func readStaple(file string, c *tls.Certificate, leaf *x509.Certificate, now time.Time, log *slog.Logger) ([]byte, error) {
	der, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var issuer *x509.Certificate
	if len(c.Certificate) > 1 {
		if issuer, err = x509.ParseCertificate(c.Certificate[1]); err != nil {
			return nil, fmt.Errorf("the certificate's issuer: %v", err)
		}
	}
	r, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if r.Status != ocsp.Good {
		return nil, fmt.Errorf("%s: the certificate's status is not good (%d)", file, r.Status)
	}
	if !r.NextUpdate.IsZero() && now.After(r.NextUpdate) {
		log.Warn("OCSP response is past its next update", "ocsp", file, "next_update", r.NextUpdate)
	}
	return der, nil
}

// keepTickets makes cfg, frontend name's configuration, issue and accept
// the session tickets of the frontend of that name in prev, the
// generation before: a reload does not cost every client a full
// handshake. The keys live in a configuration of their own, never used
// for a handshake, whose keys crypto/tls rotates as it does any
// server's; it passes from generation to generation.
func (s *Server) keepTickets(prev *Server, name string, cfg *tls.Config) {
	keeper := (*tls.Config)(nil)
	if prev != nil {
		keeper = prev.tickets[name]
	}
	if keeper == nil {
		keeper = &tls.Config{}
	}
	s.tickets[name] = keeper
	cfg.WrapSession = keeper.EncryptTicket
	cfg.UnwrapSession = keeper.DecryptTicket
}

// serverTLS builds the client configuration of connections to a server
// at addr (host:port) whose tls is t (at its key path at); nil: clear
// text. ALPN offers h2 to a server of a proto: h2 backend, http/1.1 to
// others. It is shared by every loop, and so is its session cache.
func serverTLS(t *config.ServerTLS, addr, at string, h2 bool) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
		InsecureSkipVerify: t.Verify == "none",
	}
	if h2 {
		cfg.NextProtos = []string{"h2"}
	}
	if t.SNI != "" {
		cfg.ServerName = t.SNI
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %v", at, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s: no PEM certificate in it", at, t.CAFile)
		}
	}
	return cfg, nil
}

// handshakePool is the pool of a generation's TLS handshakes.
func handshakePool(cfg *config.Config) *transport.HandshakePool {
	n := cfg.TLSHandshakeWorkers
	if n == 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	return transport.NewHandshakePool(n)
}

// acceptTLS serves TLS on c, an accepted connection of frontend f, and
// hands the clear connection to serve once the handshake is done.
func (s *Server) acceptTLS(l *eventloop.Loop, f *frontend, c transport.Conn, serve func(c transport.Conn, alpn string) eventloop.Handler) eventloop.Handler {
	p, ok := c.(*transport.Plain)
	if !ok {
		return nil
	}
	o := transport.TLSOptions{Loop: l, Pool: s.handshakes, Timeout: f.cfg.TLS.HandshakeTimeout.D()}
	return transport.NewServerTLS(p, f.tls, o, func(t *transport.TLS, err error) transport.Handler {
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.Log.Debug("TLS handshake failed", "frontend", f.cfg.Name, "client", c.RemoteAddr(), "err", err)
			}
			return nil
		}
		if h := serve(t, t.State().NegotiatedProtocol); h != nil {
			return h
		}
		return nil // an untyped nil: the connection closes
	})
}

// logKernelTLS says, once per generation with a TLS frontend, that
// records are encrypted in Go whether or not the kernel offers TLS.
func logKernelTLS(log *slog.Logger) {
	if transport.KernelTLS() {
		log.Info("kernel TLS is available but not used: TLS records are encrypted and decrypted by crypto/tls on the loops")
	} else {
		log.Info("kernel TLS is not available (no tls in net.ipv4.tcp_available_ulp): TLS records are encrypted and decrypted by crypto/tls on the loops")
	}
}
