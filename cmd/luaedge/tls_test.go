package main

import (
	"context"
	"crypto"
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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TLS on frontends (ALPN, SNI, resumption, the ssl_fc fetches, stalled
// handshakes) and to backend servers.

// testCert is a self-signed ECDSA P-256 certificate for names, as PEM.
type testCert struct {
	certPEM, keyPEM string
	leaf            *x509.Certificate
}

func newTestCert(t *testing.T, notAfter time.Time, names ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	return signTestCert(t, tmpl, key, tmpl, key)
}

// signTestCert makes the certificate tmpl describes for key, signed by
// parent's key (parent is tmpl itself for a self-signed one).
func signTestCert(t *testing.T, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) testCert {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return testCert{
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})),
		leaf:    leaf,
	}
}

// The service reports what it saw of the connection; "state" is an
// identity of the loop's Lua state (each loop has its own).
const tlsLua = `
local state = tostring({}):match("0x%x+")
core.register_service("facts", "http", function(applet)
	local f = applet.f
	local out = string.format("ver=%s ssl=%s sni=%s proto=%s cipher=%s alpn=%s scheme=%s state=%s",
		applet.version, tostring(f:ssl_fc()), tostring(f:ssl_fc_sni()), tostring(f:ssl_fc_protocol()),
		tostring(f:ssl_fc_cipher()), tostring(f:ssl_fc_alpn()), tostring(f:scheme()), state)
	applet:set_status(200)
	applet:add_header("content-length", #out)
	applet:start_response()
	applet:send(out)
end)
`

// tlsClient is an HTTP client that trusts roots and dials 127.0.0.1
// whatever the host of the URL; h2 says whether it offers HTTP/2.
func tlsClient(t *testing.T, roots *x509.CertPool, h2 bool, cfg *tls.Config) (*http.Client, *http.Transport) {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.RootCAs = roots
	tr := &http.Transport{
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, "127.0.0.1:"+port)
		},
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		cfg.NextProtos = []string{"http/1.1"}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

func startTLSFacts(t *testing.T, a, b testCert, extra string) *server {
	return startServer(t, `workers: 2
shutdown_timeout: 5s
lua:
  load: [facts.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.facts
    tls:
      cert: a.pem
      key: a.key
      certificates: [{cert: b.pem, key: b.key}]
`+extra, map[string]string{"facts.lua": tlsLua, "a.pem": a.certPEM, "a.key": a.keyPEM, "b.pem": b.certPEM, "b.key": b.keyPEM})
}

func TestTLSFrontend(t *testing.T) {
	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	b := newTestCert(t, time.Now().Add(24*time.Hour), "b.test")
	roots := x509.NewCertPool()
	roots.AddCert(a.leaf)
	roots.AddCert(b.leaf)
	s := startTLSFacts(t, a, b, "")
	port := s.addr()[strings.LastIndexByte(s.addr(), ':')+1:]
	url := "https://a.test:" + port + "/"

	// ALPN picks HTTP/2 for a client that offers it, HTTP/1.1 for one
	// that does not, on the same port; scripts see the connection's TLS.
	t.Run("alpn", func(t *testing.T) {
		for _, h2 := range []bool{true, false} {
			c, _ := tlsClient(t, roots, h2, nil)
			resp, body := get(t, c, url)
			want, ver, alpn := "HTTP/1.1", "HTTP/1.1", "http/1.1"
			if h2 {
				want, ver, alpn = "HTTP/2.0", "HTTP/2.0", "h2"
			}
			if resp.StatusCode != 200 || resp.Proto != want {
				t.Fatalf("h2 %v: %s %d", h2, resp.Proto, resp.StatusCode)
			}
			wantBody := fmt.Sprintf("ver=%s ssl=1 sni=a.test proto=TLSv1.3 cipher=TLS_", ver)
			if !strings.HasPrefix(body, wantBody) || !strings.Contains(body, " alpn="+alpn+" scheme=https ") {
				t.Fatalf("h2 %v: body %q, want %q... alpn=%s scheme=https", h2, body, wantBody, alpn)
			}
		}
	})
	// TLS 1.2: the cipher suite by its OpenSSL name, as HAProxy gives it.
	t.Run("tls12", func(t *testing.T) {
		c, _ := tlsClient(t, roots, true, &tls.Config{MaxVersion: tls.VersionTLS12})
		_, body := get(t, c, url)
		if !strings.Contains(body, " proto=TLSv1.2 cipher=ECDHE-ECDSA-") {
			t.Fatalf("body %q", body)
		}
	})
	// SNI picks the certificate; no SNI (an IP address) gets the first.
	t.Run("sni", func(t *testing.T) {
		for name, want := range map[string]string{"a.test": "a.test", "b.test": "b.test", "": "a.test"} {
			cfg := &tls.Config{ServerName: name, InsecureSkipVerify: true}
			c, err := tls.Dial("tcp", s.addr(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := c.ConnectionState().PeerCertificates[0].Subject.CommonName
			c.Close()
			if got != want {
				t.Errorf("SNI %q: certificate of %q, want %q", name, got, want)
			}
		}
	})
	t.Run("curl", func(t *testing.T) {
		needCurl(t)
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.pem"), a.certPEM)
		resolve := "a.test:" + port + ":127.0.0.1"
		out, _, _ := curl(t, "--http2", "--cacert", filepath.Join(dir, "a.pem"), "--resolve", resolve, "-w", " http=%{http_version}", url)
		if !strings.HasPrefix(out, "ver=HTTP/2.0 ssl=1 sni=a.test") || !strings.HasSuffix(out, " http=2") {
			t.Errorf("curl --http2: %q", out)
		}
		out, _, _ = curl(t, "--http1.1", "-k", "-w", " http=%{http_version}", "https://"+s.addr()+"/")
		if !strings.HasPrefix(out, "ver=HTTP/1.1 ssl=1 sni=nil") || !strings.Contains(out, "alpn=http/1.1") || !strings.HasSuffix(out, " http=1.1") {
			t.Errorf("curl --http1.1: %q", out)
		}
	})
	// Session tickets issued by one loop resume on the other: one
	// tls.Config per frontend, shared by the loops.
	t.Run("resumption", func(t *testing.T) {
		c, tr := tlsClient(t, roots, true, &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(8)})
		tr.DisableKeepAlives = true
		resumed := map[string]bool{} // by loop state
		full := 0
		for i := 0; i < 40 && len(resumed) < 2; i++ {
			resp, body := get(t, c, url)
			state := body[strings.Index(body, "state=")+6:]
			if resp.TLS.DidResume {
				resumed[state] = true
			} else {
				full++
			}
		}
		if len(resumed) < 2 || full != 1 {
			t.Fatalf("resumed on %d loops (want 2), %d full handshakes (want 1)", len(resumed), full)
		}
	})
	// A plain HTTP request on the TLS port is not served.
	t.Run("clear text", func(t *testing.T) {
		c := dialRaw(t, s.addr())
		c.send("GET / HTTP/1.1\r\nhost: a\r\n\r\n")
		c.expectClosed(5 * time.Second)
	})
}

// Clients that open a connection and never finish their handshake hold
// nothing a normal client needs: with 200 of them, some silent, some
// stalled mid-record, a normal client is served at once; each is closed
// at handshake_timeout.
func TestTLSStalledHandshakes(t *testing.T) {
	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	b := newTestCert(t, time.Now().Add(24*time.Hour), "b.test")
	roots := x509.NewCertPool()
	roots.AddCert(a.leaf)
	s := startServer(t, `workers: 2
shutdown_timeout: 5s
tls_handshake_workers: 2
lua:
  load: [facts.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.facts
    tls: {cert: a.pem, key: a.key, handshake_timeout: 2s}
`, map[string]string{"facts.lua": tlsLua, "a.pem": a.certPEM, "a.key": a.keyPEM, "b.pem": b.certPEM, "b.key": b.keyPEM})
	var stalled []net.Conn
	start := time.Now()
	for i := range 200 {
		c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 1 {
			// A handshake record's header, announcing 500 bytes, and 3 of them.
			if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0xf4, 0x01, 0x00, 0x01}); err != nil {
				t.Fatal(err)
			}
		}
		stalled = append(stalled, c)
	}
	c, _ := tlsClient(t, roots, true, nil)
	for range 5 {
		before := time.Now()
		resp, _ := get(t, c, "https://a.test:"+s.addr()[strings.LastIndexByte(s.addr(), ':')+1:]+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if d := time.Since(before); d > time.Second {
			t.Fatalf("a normal request took %v beside 200 stalled handshakes", d)
		}
		c.CloseIdleConnections() // the next request makes a new handshake
	}
	for i, sc := range stalled {
		_ = sc.SetReadDeadline(start.Add(10 * time.Second))
		n, err := sc.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); n > 0 || (ok && ne.Timeout()) {
			t.Fatalf("stalled client %d: read %d, %v: not closed at the handshake timeout", i, n, err)
		}
	}
	if d := time.Since(start); d < 2*time.Second || d > 8*time.Second {
		t.Fatalf("stalled clients closed after %v, want about 2 s", d)
	}
}

// A frontend (itself TLS) forwards to backend servers over TLS: verified
// against ca_file; an untrusted certificate fails the connection (503,
// as a refused one once retries run out, and the log says why); verify: none accepts it. Two clients on the one loop
// each get their own answers, from a server that sends head and body
// apart.
func TestTLSToBackend(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		w.Header().Set("content-length", fmt.Sprint(len(id)+5))
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(w, "body-"+id)
	}))
	defer ts.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	roots := x509.NewCertPool()
	roots.AddCert(a.leaf)
	addr := ts.Listener.Addr().String()
	s := startServer(t, `workers: 1
shutdown_timeout: 5s
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    tls: {cert: a.pem, key: a.key}
    routes:
      - {path_prefix: /trusted, backend: trusted}
      - {path_prefix: /untrusted, backend: untrusted}
      - {path_prefix: /noverify, backend: noverify}
backends:
  - name: trusted
    tls: {ca_file: ca.pem, sni: example.com}
    servers: [{name: s1, address: "`+addr+`"}]
  - name: untrusted
    tls: {}
    retries: 0
    servers: [{name: s1, address: "`+addr+`"}]
  - name: noverify
    servers: [{name: s1, address: "`+addr+`", tls: {verify: none}}]
`, map[string]string{"a.pem": a.certPEM, "a.key": a.keyPEM, "ca.pem": caPEM})
	base := "https://a.test:" + s.addr()[strings.LastIndexByte(s.addr(), ':')+1:]
	c, _ := tlsClient(t, roots, true, nil)
	resp, body := get(t, c, base+"/trusted?id=1")
	wantResponse(t, "trusted", resp, body, 200, "body-1")
	resp, body = get(t, c, base+"/noverify?id=2")
	wantResponse(t, "verify: none", resp, body, 200, "body-2")
	resp, _ = get(t, c, base+"/untrusted?id=3")
	if resp.StatusCode != 503 {
		t.Fatalf("untrusted server: status %d, want 503", resp.StatusCode)
	}
	s.waitLog(t, 5*time.Second, "cannot connect to server", "backend=untrusted", "certificate signed by unknown authority")

	// Isolation: two clients (one over HTTP/2, one over HTTP/1.1) on the
	// one loop, requests interleaved.
	c1, _ := tlsClient(t, roots, true, nil)
	c2, _ := tlsClient(t, roots, false, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for ci, cl := range []*http.Client{c1, c2} {
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("c%d-%d", ci, i)
				_, body, err := fetchGet(cl, base+"/trusted?id="+id)
				if err != nil {
					errs <- err
					return
				}
				if body != "body-"+id {
					errs <- fmt.Errorf("client %s got %q", id, body)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Certificates are read again by a reload: a new certificate is served
// to new connections; a broken one leaves the old generation serving.
func TestTLSReload(t *testing.T) {
	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	b := newTestCert(t, time.Now().Add(24*time.Hour), "b.test")
	s := startTLSFacts(t, a, b, "")
	serial := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", s.addr(), &tls.Config{ServerName: "a.test", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != a.leaf.SerialNumber.String() {
		t.Fatalf("serial %s before the reload", got)
	}
	// Session tickets outlive a reload: its clients resume.
	cache := tls.NewLRUClientSessionCache(8)
	resume := func() bool {
		t.Helper()
		c, err := tls.Dial("tcp", s.addr(), &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, ClientSessionCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// TLS 1.3 tickets come after the handshake: read until the
		// server's answer to a request has brought them.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		io.ReadAll(c)
		return c.ConnectionState().DidResume
	}
	if resume() {
		t.Fatal("the first connection resumed")
	}
	if !resume() {
		t.Fatal("no resumption before the reload")
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitCount(t, `msg="new generation serving"`, 1)
	if !resume() {
		t.Error("a session of the previous generation did not resume after the reload")
	}
	a2 := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	writeFile(t, filepath.Join(s.dir, "a.pem"), a2.certPEM)
	writeFile(t, filepath.Join(s.dir, "a.key"), a2.keyPEM)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitCount(t, `msg="new generation serving"`, 2)
	deadline := time.Now().Add(5 * time.Second)
	for serial() != a2.leaf.SerialNumber.String() {
		if time.Now().After(deadline) {
			t.Fatal("the reloaded certificate is not served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A key that does not match its certificate: the reload fails.
	writeFile(t, filepath.Join(s.dir, "a.key"), a.keyPEM)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, 10*time.Second, "reload failed", "private key does not match public key")
	if got := serial(); got != a2.leaf.SerialNumber.String() {
		t.Fatalf("after a failed reload: serial %s", got)
	}
}

// luaedge check reads the certificates: a missing file or a key that is
// not the certificate's is an error naming the key; an expired
// certificate is a warning.
func TestTLSCheck(t *testing.T) {
	needBinary(t)
	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	old := newTestCert(t, time.Now().Add(-time.Hour), "old.test")
	other := newTestCert(t, time.Now().Add(24*time.Hour), "other.test")
	for _, tc := range []struct {
		name, tls string
		files     map[string]string
		fails     bool
		want      string
	}{
		{"missing", "{cert: nope.pem, key: a.key}", map[string]string{"a.key": a.keyPEM}, true, "frontends[0].tls: open "},
		{"mismatch", "{cert: a.pem, key: other.key}", map[string]string{"a.pem": a.certPEM, "other.key": other.keyPEM}, true, "frontends[0].tls: tls: private key does not match public key"},
		{"second", "{cert: a.pem, key: a.key, certificates: [{cert: a.pem, key: other.key}]}", map[string]string{"a.pem": a.certPEM, "a.key": a.keyPEM, "other.key": other.keyPEM}, true, "frontends[0].tls.certificates[0]: "},
		{"expired", "{cert: old.pem, key: old.key}", map[string]string{"old.pem": old.certPEM, "old.key": old.keyPEM}, false, "certificate has expired"},
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), `lua:
  load: [facts.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:1"]
    use_service: lua.facts
    tls: `+tc.tls+"\n")
		writeFile(t, filepath.Join(dir, "facts.lua"), tlsLua)
		for name, content := range tc.files {
			writeFile(t, filepath.Join(dir, name), content)
		}
		out, err := runCheck(dir)
		if (err != nil) != tc.fails || !strings.Contains(out, tc.want) {
			t.Errorf("%s: check: %v\n%s\nwant %q", tc.name, err, out, tc.want)
		}
	}
}

func runCheck(dir string) (string, error) {
	cmd := exec.Command(luaedgeBin, "check", "-c", filepath.Join(dir, "luaedge.yaml"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A TCP frontend with tls serves the clear bytes to a Lua service, or
// tunnels them to a server; a TCP backend with tls speaks TLS to it.
func TestTLSTCPMode(t *testing.T) {
	// A TLS echo server, and a clear one.
	srvCert := newTestCert(t, time.Now().Add(24*time.Hour), "echo.test")
	pair, err := tls.X509KeyPair([]byte(srvCert.certPEM), []byte(srvCert.keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	echo := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer tlsLn.Close()
	go echo(tlsLn)
	clearLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer clearLn.Close()
	go echo(clearLn)

	a := newTestCert(t, time.Now().Add(24*time.Hour), "a.test")
	roots := x509.NewCertPool()
	roots.AddCert(a.leaf)
	s := startServer(t, `workers: 1
shutdown_timeout: 5s
lua:
  load: [svc.lua]
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    mode: tcp
    use_service: lua.upper
    tls: {cert: a.pem, key: a.key, alpn: [x-upper]}
  - name: tunnel
    bind: ["127.0.0.1:@PORT2@"]
    mode: tcp
    default_backend: clear
    tls: {cert: a.pem, key: a.key}
  - name: totls
    bind: ["127.0.0.1:@PORT3@"]
    mode: tcp
    default_backend: secure
backends:
  - name: clear
    servers: [{name: e1, address: "`+clearLn.Addr().String()+`"}]
  - name: secure
    tls: {ca_file: echo.pem, sni: echo.test}
    servers: [{name: e1, address: "`+tlsLn.Addr().String()+`"}]
`, map[string]string{"a.pem": a.certPEM, "a.key": a.keyPEM, "echo.pem": srvCert.certPEM, "svc.lua": `
core.register_service("upper", "tcp", function(applet)
	applet:send("hello " .. tostring(applet.f:ssl_fc_protocol()) .. " " .. tostring(applet.f:ssl_fc_alpn()) .. "\n")
	local line = applet:getline()
	applet:send(line:upper())
end)
`})
	dial := func(addr string) net.Conn {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "a.test", NextProtos: []string{"x-upper"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	readN := func(c net.Conn, n int) string {
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("read: %v (got %q)", err, b)
		}
		return string(b)
	}
	c := dial(s.addr())
	want := "hello TLSv1.3 x-upper\n"
	if got := readN(c, len(want)); got != want {
		t.Fatalf("service: %q", got)
	}
	_, _ = io.WriteString(c, "shout\n")
	if got := readN(c, 6); got != "SHOUT\n" {
		t.Fatalf("service: %q", got)
	}
	c.Close()
	for _, addr := range []string{s.addrOf("2"), s.addrOf("3")} {
		var c net.Conn
		if addr == s.addrOf("2") {
			c = dial(addr)
		} else {
			c, err = net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		}
		msg := strings.Repeat("0123456789", 10000)
		go func() { _, _ = io.WriteString(c, msg) }()
		if got := readN(c, len(msg)); got != msg {
			t.Fatalf("tunnel %s: the echo differs", addr)
		}
		c.Close()
	}
}
