package transport_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/transport"
)

// selfSigned makes an ECDSA P-256 certificate for names, and a pool that
// trusts it.
func selfSigned(t *testing.T, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
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
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// echo is the clear handler of a TLS connection: it sends back what it
// reads; with bye set, it answers its first bytes with bye and CloseWrite.
type echo struct {
	c   transport.Conn
	bye string
}

func (e *echo) OnTraffic() {
	b := e.c.Peek()
	if e.bye != "" {
		e.c.Write([]byte(e.bye))
		e.c.CloseWrite()
		e.bye = ""
	} else {
		e.c.Write(b)
	}
	e.c.Discard(len(b))
}
func (e *echo) OnClose(error) {}

// tlsServer serves TLS with cfg on a one-loop engine; each connection's
// outcome (the error its handshake ended with) goes to the returned
// channel.
type tlsServer struct {
	addr     string
	outcomes chan error
	states   chan tls.ConnectionState
}

func serveTLS(t *testing.T, cfg *tls.Config, pool *transport.HandshakePool, timeout time.Duration, bye string) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &tlsServer{addr: ln.Addr().String(), outcomes: make(chan error, 1000), states: make(chan tls.ConnectionState, 100)}
	ln.Close()
	e := eventloop.New(eventloop.Options{Loops: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := e.Listen(srv.addr, func(l *eventloop.Loop, c transport.Conn) eventloop.Handler {
		o := transport.TLSOptions{Loop: l, Pool: pool, Timeout: timeout}
		return transport.NewServerTLS(c.(*transport.Plain), cfg, o, func(tc *transport.TLS, err error) transport.Handler {
			srv.outcomes <- err
			if err != nil {
				return nil
			}
			srv.states <- *tc.State()
			return &echo{c: tc, bye: bye}
		})
	}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- e.Run() }()
	select {
	case <-e.Booted():
	case err := <-ran:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("engine not booted")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		<-ran
	})
	return srv
}

// Bytes both ways, several MiB, arrive whole and in order over TLS 1.2 and
// 1.3, with the ALPN protocol the client offered first.
func TestTLSEcho(t *testing.T) {
	cert, roots := selfSigned(t, "a.test")
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		srv := serveTLS(t, cfg, transport.NewHandshakePool(2), 5*time.Second, "")
		c, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: roots, ServerName: "a.test", MinVersion: v, MaxVersion: v, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := <-srv.outcomes; err != nil {
			t.Fatalf("server handshake: %v", err)
		}
		st := <-srv.states
		if st.Version != v || st.NegotiatedProtocol != "h2" || st.ServerName != "a.test" {
			t.Fatalf("server state: version %x alpn %q sni %q", st.Version, st.NegotiatedProtocol, st.ServerName)
		}
		data := pattern(5 << 20)
		go func() { _, _ = c.Write(data) }()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("TLS %x: echoed bytes differ", v)
		}
		c.Close()
	}
}

// CloseWrite sends close_notify before the FIN: the client reads the last
// bytes, then a clean end of stream (io.EOF, not an unexpected EOF).
func TestTLSCloseWrite(t *testing.T) {
	cert, roots := selfSigned(t, "a.test")
	srv := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}}, transport.NewHandshakePool(1), 5*time.Second, "bye")
	c, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: roots, ServerName: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if string(got) != "bye" || err != nil {
		t.Fatalf("read %q, %v; want bye and a clean close_notify", got, err)
	}
}

// A client that connects and never finishes its handshake is closed at
// the timeout, whether it sent nothing or half a record.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert, _ := selfSigned(t, "a.test")
	srv := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}}, transport.NewHandshakePool(1), 300*time.Millisecond, "")
	for _, first := range [][]byte{nil, {0x16, 0x03, 0x01, 0x01, 0xf4, 1, 2, 3}} {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if first != nil {
			_, _ = c.Write(first)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("the server sent bytes to a client that sent no ClientHello")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the stalled client was not closed")
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("closed after %v, before the handshake timeout", d)
		}
		if err := <-srv.outcomes; !errors.Is(err, transport.ErrHandshakeTimeout) {
			t.Fatalf("outcome %v, want ErrHandshakeTimeout", err)
		}
		c.Close()
	}
}

// Stalled handshakes hold no slot of the pool: with one slot and a
// hundred clients that each sent part of a record, a normal client
// completes its handshake at once.
func TestTLSStalledHandshakesDoNotBlock(t *testing.T) {
	cert, roots := selfSigned(t, "a.test")
	srv := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}}, transport.NewHandshakePool(1), 30*time.Second, "")
	for range 100 {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0xf4, 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.addr, &tls.Config{RootCAs: roots, ServerName: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a normal handshake took %v behind stalled ones", d)
	}
}

// dialer is the handler of a connection the loop dials: it wraps it in a
// client TLS and forwards the gnet events to it.
type dialer struct {
	l     *eventloop.Loop
	cfg   *tls.Config
	inner *tls.Config    // a second TLS inside the first; nil: none
	tc    *transport.TLS // the gnet connection's handler
	clear *transport.TLS // the one the reader reads
	got   chan string
	fail  chan error
	buf   []byte
}

func (d *dialer) Opened(c transport.Conn) {
	d.tc = d.start(c.(*transport.Plain), d.cfg, d.inner)
}

// start runs a TLS with cfg over p, then, if inner is set, another with
// inner over it, and pings.
func (d *dialer) start(p transport.Layer, cfg, inner *tls.Config) *transport.TLS {
	return transport.NewClientTLS(p, cfg, transport.TLSOptions{Loop: d.l, Pool: transport.NewHandshakePool(1), Timeout: 5 * time.Second},
		func(tc *transport.TLS, err error) transport.Handler {
			if err != nil {
				d.fail <- err
				return nil
			}
			if inner != nil {
				return d.start(tc, inner, nil) // the inner TLS takes the outer's events
			}
			d.clear = tc
			tc.Write([]byte("ping"))
			return &reader{d}
		})
}
func (d *dialer) DialFailed(err error) { d.fail <- err }

// The gnet events go to the TLS, which decrypts and calls the reader.
func (d *dialer) OnTraffic()        { d.tc.OnTraffic() }
func (d *dialer) OnClose(err error) { d.tc.OnClose(err) }

type reader struct{ d *dialer }

func (r *reader) OnTraffic() {
	d := r.d
	d.buf = append(d.buf, d.clear.Peek()...)
	d.clear.Discard(-1)
	if len(d.buf) >= 4 {
		d.got <- string(d.buf)
	}
}
func (r *reader) OnClose(error) {}

// serveUpper answers each connection ln accepts (through wrap, which may
// run a TLS server over it) with its first 4 bytes in upper case, until
// the test ends.
func serveUpper(t *testing.T, ln net.Listener, wrap func(net.Conn) net.Conn) {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				in := wrap(c)
				b := make([]byte, 4)
				if _, err := io.ReadFull(in, b); err == nil {
					_, _ = in.Write(bytes.ToUpper(b))
				}
			}()
		}
	}()
}

// clientLoop runs an engine of one loop, stopped when the test ends, and
// returns its loop.
func clientLoop(t *testing.T) *eventloop.Loop {
	loops := make(chan *eventloop.Loop, 1)
	e := eventloop.New(eventloop.Options{Loops: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Setup: func(l *eventloop.Loop) error { loops <- l; return nil }})
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	bind := free.Addr().String()
	free.Close()
	_ = e.Listen(bind, func(*eventloop.Loop, transport.Conn) eventloop.Handler { return nil })
	ran := make(chan error, 1)
	go func() { ran <- e.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
		<-ran
	})
	return <-loops
}

// dialUpper dials addr from loop l with d and checks the outcome: "PING"
// back when the server is trusted, an unknown authority when not.
func dialUpper(t *testing.T, l *eventloop.Loop, addr *net.TCPAddr, d *dialer, trusted bool) {
	t.Helper()
	l.Post(func() {
		if err := l.Dial(addr, d); err != nil {
			d.fail <- err
		}
	})
	select {
	case got := <-d.got:
		if !trusted || got != "PING" {
			t.Fatalf("trusted %v: got %q", trusted, got)
		}
	case err := <-d.fail:
		var uerr x509.UnknownAuthorityError
		if trusted || !errors.As(err, &uerr) {
			t.Fatalf("trusted %v: %v", trusted, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome")
	}
}

// The client side: a handshake with a Go TLS server verifies its
// certificate, then records go both ways on the loop; an untrusted
// certificate fails the handshake.
func TestTLSClient(t *testing.T) {
	cert, roots := selfSigned(t, "b.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	serveUpper(t, ln, func(c net.Conn) net.Conn { return c })
	l := clientLoop(t)
	for _, trusted := range []bool{true, false} {
		cfg := &tls.Config{ServerName: "b.test", RootCAs: roots}
		if !trusted {
			cfg.RootCAs = x509.NewCertPool()
		}
		dialUpper(t, l, ln.Addr().(*net.TCPAddr), &dialer{l: l, cfg: cfg, got: make(chan string, 1), fail: make(chan error, 1)}, trusted)
	}
}

// A TLS over a TLS (the TLS with a server inside an https proxy's
// tunnel): the outer one hands its clear bytes to the inner one, whose
// certificate is verified on its own.
func TestTLSOverTLS(t *testing.T) {
	outerCert, outerRoots := selfSigned(t, "proxy.test")
	innerCert, innerRoots := selfSigned(t, "server.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{outerCert}})
	if err != nil {
		t.Fatal(err)
	}
	serveUpper(t, ln, func(c net.Conn) net.Conn {
		return tls.Server(c, &tls.Config{Certificates: []tls.Certificate{innerCert}})
	})
	l := clientLoop(t)
	for _, trusted := range []bool{true, false} {
		inner := &tls.Config{ServerName: "server.test", RootCAs: innerRoots}
		if !trusted {
			inner.RootCAs = outerRoots // the proxy's roots do not vouch for the server
		}
		d := &dialer{l: l, cfg: &tls.Config{ServerName: "proxy.test", RootCAs: outerRoots}, inner: inner,
			got: make(chan string, 1), fail: make(chan error, 1)}
		dialUpper(t, l, ln.Addr().(*net.TCPAddr), d, trusted)
	}
}

// A TLS 1.3 client sends its data right after its last flight: more than
// the handshake takes arrives while the server's handshake is still
// running (slowed here), and waits in the connection, in order.
func TestTLSDataDuringHandshake(t *testing.T) {
	cert, roots := selfSigned(t, "a.test")
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, VerifyConnection: func(tls.ConnectionState) error {
		time.Sleep(200 * time.Millisecond) // after the server's flight, before the client's Finished is read
		return nil
	}}
	srv := serveTLS(t, cfg, transport.NewHandshakePool(1), 5*time.Second, "")
	c, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: roots, ServerName: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	data := pattern(1 << 20)
	go func() { _, _ = c.Write(data) }()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed bytes differ")
	}
}
