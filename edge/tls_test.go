package edge_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and its key into dir, and returns a pool that trusts it.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "edge.test"},
		DNSNames:     []string{"edge.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, "c.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return pool
}

// Under the race detector: HTTP/2 and HTTP/1.1 clients over TLS, large
// bodies both ways through a Lua service and through a TLS backend,
// while stalled handshakes time out beside them. Every client gets its
// own bytes back.
func TestTLSUnderLoad(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir)
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("content-length", fmt.Sprint(len(b)))
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		_, _ = w.Write(b)
	}))
	defer backend.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: backend.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := edgetest.Start(t, `workers: 2
frontends:
  - name: svc
    bind: ["@A@"]
    use_service: lua.echo
    tls: {cert: `+dir+`/c.pem, key: `+dir+`/c.key, handshake_timeout: 2s}
  - name: fwd
    bind: ["@B@"]
    default_backend: be
    tls: {cert: `+dir+`/c.pem, key: `+dir+`/c.key}
backends:
  - name: be
    tls: {ca_file: `+ca+`, sni: example.com}
    servers: [{name: s, address: "`+backend.Listener.Addr().String()+`"}]
`, `
core.register_service("echo", "http", function(applet)
	local body = applet:receive()
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`)
	for range 10 {
		c, err := net.Dial("tcp", s.Addr["@A@"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0xf4, 0x01})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for ci := range 4 {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: ci%2 == 0}
		if ci%2 == 1 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for _, addr := range []string{s.Addr["@A@"], s.Addr["@B@"]} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					body := bytes.Repeat([]byte(fmt.Sprintf("%d-%d-%s;", ci, i, addr)), 4000)
					resp, err := c.Post("https://"+addr+"/", "text/plain", bytes.NewReader(body))
					if err != nil {
						errs <- fmt.Errorf("client %d (h2 %v) request %d at %s: %v", ci, ci%2 == 0, i, time.Now().Format("15:04:05.000"), err)
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !bytes.Equal(got, body) {
						errs <- fmt.Errorf("client %d to %s: %d bytes back (%v), %s", ci, addr, len(got), err, resp.Proto)
						return
					}
					if wantProto := map[bool]int{true: 2, false: 1}[ci%2 == 0]; resp.ProtoMajor != wantProto {
						errs <- fmt.Errorf("client %d: %s", ci, resp.Proto)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("log:\n%s", s.Log)
	}
	if strings.Contains(s.Log.String(), "level=ERROR") {
		t.Errorf("errors in the log:\n%s", s.Log)
	}
}
