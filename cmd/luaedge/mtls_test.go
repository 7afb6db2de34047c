package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Client certificates (mutual TLS), the ssl_c fetches, and OCSP stapling.

// testCA is a certificate authority that issues certificates for the tests.
type testCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM string
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test CA"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	tc := signTestCert(t, tmpl, key, tmpl, key)
	return &testCA{cert: tc.leaf, key: key, certPEM: tc.certPEM}
}

// issue makes a certificate for subject signed by ca: a server's (for
// 127.0.0.1) or a client's; certPEM holds it then the CA's certificate.
func (ca *testCA) issue(t *testing.T, subject pkix.Name, server bool) (tls.Certificate, testCert) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234567890ab),
		Subject:      subject,
		NotBefore:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:     time.Now().Add(24 * time.Hour).Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	tc := signTestCert(t, tmpl, key, ca.cert, ca.key)
	tc.certPEM += ca.certPEM
	pair, err := tls.X509KeyPair([]byte(tc.certPEM), []byte(tc.keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return pair, tc
}

// The same haproxy.cfg asks for client certificates on luaedge and on
// HAProxy, and the ssl_c fetches give the same answers; a client without
// a certificate, or with one of another CA, is refused where verify is
// required.
func TestHAProxyCfgClientCertificates(t *testing.T) {
	needBinary(t)
	ca := newTestCA(t, "Clients CA")
	other := newTestCA(t, "Other CA")
	_, server := ca.issue(t, pkix.Name{CommonName: "localhost"}, true)
	alice, aliceCert := ca.issue(t, pkix.Name{Country: []string{"FR"}, Organization: []string{"Example"},
		OrganizationalUnit: []string{"ops", "edge"}, CommonName: "alice"}, false)
	mallory, _ := other.issue(t, pkix.Name{CommonName: "mallory"}, false)
	cfg := `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend optional
    bind 127.0.0.1:@PORT1@ ssl crt site.pem ca-file clients.pem verify optional
    http-request return status 200 content-type text/plain lf-string "used=%[ssl_c_used] verify=%[ssl_c_verify]\n" unless { ssl_c_used }
    http-request return status 200 content-type text/plain lf-string "used=%[ssl_c_used] verify=%[ssl_c_verify] s=%[ssl_c_s_dn] cn=%[ssl_c_s_dn(CN)] ou2=%[ssl_c_s_dn(OU,2)] ou-1=%[ssl_c_s_dn(OU,-1)] rfc=%[ssl_c_s_dn(,0,rfc2253)] i=%[ssl_c_i_dn] icn=%[ssl_c_i_dn(CN)] serial=%[ssl_c_serial,hex] sha1=%[ssl_c_sha1,hex] nb=%[ssl_c_notbefore] na=%[ssl_c_notafter] v=%[ssl_c_version] sig=%[ssl_c_sig_alg] key=%[ssl_c_key_alg]\n"

frontend required
    bind 127.0.0.1:@PORT2@ ssl crt site.pem ca-file clients.pem verify required
    http-request return status 200 content-type text/plain lf-string "cn=%[ssl_c_s_dn(CN)]\n"
`
	start := func(run func(dir string, addrs []string)) []string {
		dir := t.TempDir()
		addrs := []string{"127.0.0.1:" + strconv.Itoa(freePort(t)), "127.0.0.1:" + strconv.Itoa(freePort(t))}
		c := cfg
		for i, a := range addrs {
			_, port, _ := net.SplitHostPort(a)
			c = strings.ReplaceAll(c, fmt.Sprintf("@PORT%d@", i+1), port)
		}
		writeFile(t, filepath.Join(dir, "haproxy.cfg"), c)
		writeFile(t, filepath.Join(dir, "site.pem"), server.certPEM+server.keyPEM)
		writeFile(t, filepath.Join(dir, "clients.pem"), ca.certPEM)
		run(dir, addrs)
		return addrs
	}
	ask := func(addr string, cert *tls.Certificate) string {
		cfg := &tls.Config{InsecureSkipVerify: true}
		if cert != nil {
			// Sent whether or not its CA is one the server names.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			return "refused"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	sum := sha1.Sum(aliceCert.leaf.Raw)
	wantAlice := fmt.Sprintf("200 used=1 verify=0 s=/C=FR/O=Example/OU=ops/OU=edge/CN=alice cn=alice ou2=edge ou-1=edge "+
		"rfc=CN=alice,OU=edge+OU=ops,O=Example,C=FR i=/O=Test CA/CN=Clients CA icn=Clients CA serial=1234567890AB sha1=%s "+
		"nb=240102030405Z na=%s v=3 sig=ecdsa-with-SHA256 key=id-ecPublicKey\n",
		strings.ToUpper(hex.EncodeToString(sum[:])), aliceCert.leaf.NotAfter.UTC().Format("060102150405Z"))
	check := func(who string, addrs []string) {
		for _, c := range []struct {
			name string
			addr string
			cert *tls.Certificate
			want string
		}{
			{"optional, no certificate", addrs[0], nil, "200 used=0 verify=0\n"},
			{"optional, alice", addrs[0], &alice, wantAlice},
			{"optional, another CA's", addrs[0], &mallory, "refused"},
			{"required, no certificate", addrs[1], nil, "refused"},
			{"required, alice", addrs[1], &alice, "200 cn=alice\n"},
			{"required, another CA's", addrs[1], &mallory, "refused"},
		} {
			if got := ask(c.addr, c.cert); got != c.want {
				t.Errorf("%s, %s:\n got %q\nwant %q", who, c.name, got, c.want)
			}
		}
	}
	check("luaedge", start(func(dir string, addrs []string) {
		if s, ok := launch(t, dir, []string{"-db", "-f", "haproxy.cfg"}, addrs); !ok {
			t.Fatalf("luaedge did not start; its output:\n%s", s.logs())
		}
	}))
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	check("haproxy", start(func(dir string, addrs []string) {
		cmd := exec.Command(bin, "-db", "-f", "haproxy.cfg")
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if c, err := net.Dial("tcp", addrs[1]); err == nil {
				c.Close()
				return
			}
		}
		t.Fatal("haproxy did not listen")
	}))
}

// An OCSP response named by tls.ocsp is stapled to the handshakes of its
// certificate; one for another certificate stops the start with the key's
// name.
func TestTLSOCSPStapling(t *testing.T) {
	needBinary(t)
	ca := newTestCA(t, "Site CA")
	_, site := ca.issue(t, pkix.Name{CommonName: "localhost"}, true)
	_, other := ca.issue(t, pkix.Name{CommonName: "other"}, true)
	staple := func(serial *big.Int) string {
		der, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{
			Status: ocsp.Good, SerialNumber: serial,
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		}, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		return string(der)
	}
	const cfg = `frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello-world
    tls: {cert: site.pem, key: site.key, ocsp: site.ocsp}
`
	good := staple(site.leaf.SerialNumber)
	s := startServer(t, "lua:\n  load: [hello.lua]\n"+cfg, map[string]string{
		"hello.lua": readTestdata(t, "hello.lua"), "site.pem": site.certPEM, "site.key": site.keyPEM, "site.ocsp": good,
	})
	c, err := tls.Dial("tcp", s.addr(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	got := c.ConnectionState().OCSPResponse
	c.Close()
	if string(got) != good {
		t.Fatalf("stapled %d bytes, want the %d of site.ocsp", len(got), len(good))
	}

	// A response for another certificate (another serial) is refused.
	other.leaf.SerialNumber = big.NewInt(99)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "luaedge.yaml"), "lua:\n  load: [hello.lua]\n"+strings.ReplaceAll(cfg, "@PORT@", strconv.Itoa(freePort(t))))
	for name, content := range map[string]string{"hello.lua": readTestdata(t, "hello.lua"), "site.pem": site.certPEM, "site.key": site.keyPEM, "site.ocsp": staple(other.leaf.SerialNumber)} {
		writeFile(t, filepath.Join(dir, name), content)
	}
	stdout, stderr, code := runBin(t, dir, "check", "-c", "luaedge.yaml")
	if code == 0 || !strings.Contains(stdout+stderr, "frontends[0].tls.ocsp") {
		t.Errorf("check with another certificate's OCSP response: exit %d\n%s%s", code, stdout, stderr)
	}
}
