package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/resolver"
	"github.com/luaedge/luaedge/transport"
)

// The HTTP client of scripts (lua-http's http.request, dovecot.http, in
// lj/lua/http_request.lua): each exchange runs on the loop of the script
// that asked for it, over connections of that loop's own pool. A request
// parks its coroutine (OpSocket, LE_SOCK_HTTP) until the response head
// arrives; reading the body parks it again (LE_SOCK_HTTP_READ) only when
// nothing has arrived yet.
//
// The pool is built as the backends' (upstream.go, h2.go) is, but apart
// from it: a backend's pool is keyed by configured server, with its health
// and connection slots; this one by origin (scheme, host, port and TLS
// settings), for any URI a script names.

// ClientOptions are the limits and defaults of the client, shared by the
// loops of a generation (read-only once built).
type ClientOptions struct {
	// Timeout bounds a whole exchange, from the request to the end of the
	// response body: past it the exchange fails with ETIMEDOUT.
	Timeout time.Duration
	// ConnectTimeout bounds a connection's set-up (TCP and TLS).
	ConnectTimeout time.Duration
	// IdleTimeout is how long a connection is kept without exchanges.
	IdleTimeout time.Duration
	// MaxIdlePerHost bounds the idle HTTP/1 connections kept per origin.
	MaxIdlePerHost int
	// MaxRequestBody, MaxResponseBody and MaxResponseHead bound what an
	// exchange carries (bytes).
	MaxRequestBody  int
	MaxResponseBody int64
	MaxResponseHead int
	// RootCAs verify servers' certificates; nil: the system's.
	RootCAs *x509.CertPool
	// Sessions keeps TLS sessions for resumption, shared by the loops.
	Sessions tls.ClientSessionCache
	// Resolver looks up the names of URIs (and of core.tcp connects).
	Resolver *resolver.Resolver
}

// Client is one loop's HTTP client: its exchanges and connections. It is
// used from the loop's goroutine only.
type Client struct {
	loop *eventloop.Loop
	opt  *ClientOptions
	hs   *transport.HandshakePool
	dns  *resolver.Cache

	exchanges map[int]*exchange
	sockets   *Sockets                 // the loop's: exchange ids are taken from its sequence, and the tunnel of a script's CONNECT becomes one of its sockets
	owned     map[*cgo.Stream]int      // exchanges in the map, by request or task: CloseOf looks for none in vain
	idle      map[origin][]*clientConn // HTTP/1 connections without an exchange
	h2        map[origin][]*clientConn // HTTP/2 connections, each carrying many
	tlsConfs  map[origin]*tls.Config
	timeouts  *timeouts // of the exchanges and of the waits on them

	// ready are waits ended by a handler (a connection's, a timer's),
	// resumed as it returns (flushReady): the script never runs in the
	// middle of one. Inside Op (the script's own step), a wait that ends
	// at once is resumed on the next loop turn instead.
	ready []*clientWait
	inOp  bool
	head  []byte // scratch for request heads, used within one call

	// bufs are spare buffers for the exchanges' response heads and
	// bodies: one is an exchange's until it gives it back (putBuf).
	bufs [][]byte
}

// origin is what a connection is to: a request reuses a connection of
// its own origin only.
type origin struct {
	https   bool
	host    string // as in the URI: a name or an address
	port    int
	sni     string // "" with noSNI
	noSNI   bool
	verify  bool
	version string
	// The proxy the connection goes through: "" (none); "http" or
	// "https" (TLS with the proxy): a CONNECT tunnel to an https origin,
	// the requests to an http one sent to the proxy in absolute form;
	// "socks5" (the origin's name looked up here) or "socks5h" (by the
	// proxy): a SOCKS5 tunnel to the origin. With the credentials it is
	// asked with.
	proxyScheme          string
	proxyHost            string
	proxyPort            int
	proxyAuth            string // http(s): the CONNECT's proxy-authorization
	proxyUser, proxyPass string // socks5(h): RFC 1929's
}

// dialHost and dialPort are where a connection to o is dialled: its
// proxy, if it has one.
func (o *origin) dialHost() string {
	if o.proxyScheme != "" {
		return o.proxyHost
	}
	return o.host
}

func (o *origin) dialPort() int {
	if o.proxyScheme != "" {
		return o.proxyPort
	}
	return o.port
}

// viaSocks reports whether o is reached through a SOCKS5 proxy.
func (o *origin) viaSocks() bool { return o.proxyScheme == "socks5" || o.proxyScheme == "socks5h" }

// httpTunnel reports whether o is reached through a CONNECT tunnel of
// an HTTP proxy (an http origin's requests are sent to the proxy).
func (o *origin) httpTunnel() bool {
	return o.https && (o.proxyScheme == "http" || o.proxyScheme == "https")
}

// proxyTLS is the origin of the TLS with an https proxy: verified, as
// servers are, against its host; HTTP/1.1 by ALPN.
func (o *origin) proxyTLS() origin {
	return origin{https: true, host: o.proxyHost, port: o.proxyPort, sni: o.proxyHost, verify: true, version: "1.1"}
}

func newClient(k *Sockets, hs *transport.HandshakePool, opt *ClientOptions) *Client {
	l := k.loop
	c := &Client{
		loop: l, opt: opt, hs: hs, dns: k.dns, sockets: k,
		exchanges: map[int]*exchange{},
		owned:     map[*cgo.Stream]int{},
		idle:      map[origin][]*clientConn{},
		h2:        map[origin][]*clientConn{},
		tlsConfs:  map[origin]*tls.Config{},
	}
	c.timeouts = newTimeouts(l.Now, l.Post, c.timedOut)
	return c
}

// buf returns an empty buffer for an exchange, which gives it back with
// putBuf once it no longer refers to it.
func (c *Client) buf() []byte {
	if n := len(c.bufs); n > 0 {
		b := c.bufs[n-1]
		c.bufs = c.bufs[:n-1]
		return b
	}
	return make([]byte, 0, 512)
}

// putBuf keeps b for another exchange, unless it is large or enough are
// kept already.
func (c *Client) putBuf(b []byte) {
	if b != nil && cap(b) <= 16<<10 && len(c.bufs) < 16 {
		c.bufs = append(c.bufs, b[:0])
	}
}

// clientError is why an exchange failed: errno and message go to the
// script as lua-http returns them (nil, message, errno).
type clientError struct {
	errno syscall.Errno
	msg   string
	// retry: the request may be sent again (it did not reach the server,
	// or the connection failed before any answer).
	retry bool
}

func (e *clientError) Error() string { return e.msg }

func errTimeout(what string) *clientError {
	return &clientError{errno: syscall.ETIMEDOUT, msg: what + " timed out"}
}

// ioError makes the clientError of a failed connection.
func ioError(what string, err error) *clientError {
	e := &clientError{errno: syscall.ECONNRESET, msg: what + ": " + err.Error(), retry: true}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		e.errno = errno
	case errors.Is(err, transport.ErrHandshakeTimeout):
		e.errno, e.retry = syscall.ETIMEDOUT, false
	}
	var ce *tls.CertificateVerificationError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &he) {
		e.errno, e.retry = syscall.EPROTO, false
	}
	return e
}

// clientWait is a script waiting on an exchange (or a lookup).
type clientWait struct {
	s      *cgo.Stream
	op     int
	want   int // HTTP_READ: bytes wanted at most (0: what has arrived)
	resume func()
	timer  *time.Timer // core.resolve's timeout (an exchange's waits have theirs in the Client's timeouts)
}

// finish records the outcome for the script; the caller resumes it.
func (w *clientWait) finish(id, res int, data []byte) {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.s.SetSockResult(id, res, data)
}

// fail ends a wait with an error: "ERRNO message" in io.
func (w *clientWait) fail(id, res int, e *clientError) {
	w.finish(id, res, []byte(strconv.Itoa(int(e.errno))+" "+e.msg))
}

// wake resumes the script of w, whose wait ended: once the running
// handler returns (flushReady), or on the next loop turn inside Op.
func (c *Client) wake(w *clientWait) {
	if c.inOp {
		c.loop.Post(w.resume)
		return
	}
	c.ready = append(c.ready, w)
}

// flushReady resumes the scripts whose waits ended; every handler of the
// client (connection events, timers, lookups) ends with it. The list is
// emptied in place, keeping its array; a handler run by a resume may
// flush it too, hence the nils.
func (c *Client) flushReady() {
	for i := 0; i < len(c.ready); i++ {
		w := c.ready[i]
		if w == nil {
			continue
		}
		c.ready[i] = nil
		w.resume()
	}
	c.ready = c.ready[:0]
}

// Op performs the HTTP operation s yielded for (SockHTTP, SockHTTPRead,
// SockHTTPWrite or SockResolve).
func (c *Client) Op(s *cgo.Stream, op, id, arg int, timeout time.Duration, data []byte, resume func()) {
	c.inOp = true
	defer func() { c.inOp = false }()
	switch op {
	case cgo.SockHTTP:
		c.start(s, data, timeout, resume)
	case cgo.SockHTTPRead, cgo.SockHTTPWrite:
		ex := c.exchanges[id]
		if ex == nil || ex.owner != s {
			w := &clientWait{s: s, op: op, resume: resume}
			w.fail(id, cgo.SockEFail, &clientError{errno: syscall.EBADF, msg: "stream closed"})
			c.wake(w)
			return
		}
		if op == cgo.SockHTTPWrite {
			ex.write(data, arg == 1, timeout, resume)
			return
		}
		ex.await(op, arg, timeout, resume)
		ex.deliver()
	case cgo.SockResolve:
		c.resolve(&clientWait{s: s, op: op, resume: resume}, string(data), timeout)
	default:
		w := &clientWait{s: s, op: op, resume: resume}
		w.finish(id, cgo.SockEFail, []byte("unknown HTTP operation"))
		c.wake(w)
	}
}

// timedOut acts on a deadline of the timeouts that passed: the
// exchange's own fails it, and so does that of a wait for the response
// head; that of a read ends the read only.
func (c *Client) timedOut(t *timeout) {
	ex := t.ex
	if w := ex.wait; t.wait && w.op == cgo.SockHTTPRead {
		ex.wait = nil
		w.fail(ex.id, cgo.SockETimeout, errTimeout("read"))
		c.wake(w)
	} else {
		ex.fail(errTimeout("request"))
	}
	c.flushReady()
}

// resolve answers core.resolve: the addresses of name, space-separated.
func (c *Client) resolve(w *clientWait, name string, timeout time.Duration) {
	pending := true
	if timeout > 0 {
		w.timer = c.loop.After(timeout, func() {
			if pending {
				pending = false
				w.fail(0, cgo.SockETimeout, errTimeout("name resolution"))
				w.resume()
			}
		})
	}
	c.dns.Resolve(name, func(addrs []netip.Addr, err error) {
		if !pending {
			return
		}
		pending = false
		if err != nil {
			w.fail(0, cgo.SockEFail, dnsError(name, err))
		} else {
			var b []byte
			for i, a := range addrs {
				if i > 0 {
					b = append(b, ' ')
				}
				b = a.AppendTo(b)
			}
			w.finish(0, cgo.SockOK, b)
		}
		c.wake(w)
		c.flushReady()
	})
}

// dnsError is the clientError of a failed lookup.
func dnsError(name string, err error) *clientError {
	if errors.Is(err, resolver.ErrNotFound) {
		return &clientError{errno: syscall.EHOSTUNREACH, msg: "lookup " + name + ": no such host"}
	}
	return &clientError{errno: syscall.ETIMEDOUT, msg: "lookup " + name + ": " + err.Error()}
}

// start begins the exchange a script asked for with http.request's go.
func (c *Client) start(s *cgo.Stream, spec []byte, limit time.Duration, resume func()) {
	c.sockets.next++
	ex := &exchange{cl: c, id: c.sockets.next, owner: s}
	req := &ex.req
	err := req.parse(spec)
	if err == nil && c.opt.MaxRequestBody > 0 && len(req.body) > c.opt.MaxRequestBody {
		err = fmt.Errorf("request body of %d bytes is over http_client.max_request_body", len(req.body))
	}
	if err != nil {
		w := &clientWait{s: s, op: cgo.SockHTTP, resume: resume}
		w.fail(0, cgo.SockEFail, &clientError{errno: syscall.EINVAL, msg: err.Error()})
		c.wake(w)
		return
	}
	ex.key = origin{https: req.scheme == "https", host: req.host, port: req.port, version: req.version,
		proxyScheme: req.proxyScheme, proxyHost: req.proxyHost, proxyPort: req.proxyPort,
		proxyAuth: req.proxyAuth, proxyUser: req.proxyUser, proxyPass: req.proxyPass}
	if ex.key.https {
		ex.key.sni, ex.key.noSNI, ex.key.verify = req.sni, req.noSNI, req.verify
		switch {
		case ex.key.noSNI:
			ex.key.sni = ""
		case ex.key.sni == "":
			ex.key.sni = req.host
		}
	}
	ex.deadline = timeout{ex: ex}
	ex.waitLimit = timeout{ex: ex, wait: true}
	c.exchanges[ex.id] = ex
	c.owned[s]++
	if c.opt.Timeout > 0 {
		c.timeouts.set(&ex.deadline, c.opt.Timeout)
	}
	ex.await(cgo.SockHTTP, 0, limit, resume)
	ex.attempt(false)
}

// pooled returns a connection of the origin of ex that takes one more
// exchange: an HTTP/2 one with a stream to spare, or an idle HTTP/1 one;
// nil if none.
//
// An idle HTTP/1 connection is peeked at first (bytes after its last
// response, or the server's close, make it not reusable), unless ex may
// be sent again (idempotent) and the connection was last used less than
// peekAfter ago: servers close connections idle for longer than that,
// and a request that finds its connection closed all the same is sent
// again on a new one (connFailed). The peek is a system call, a sixth of
// those of a request that reuses connections at a high rate.
func (c *Client) pooled(ex *exchange) *clientConn {
	o := ex.key
	for _, cc := range c.h2[o] {
		if !cc.closed && cc.h2.CanOpen() {
			return cc
		}
	}
	list := c.idle[o]
	for len(list) > 0 {
		cc := list[len(list)-1]
		list = list[:len(list)-1]
		c.idle[o] = list
		if cc.closed {
			continue
		}
		recent := c.loop.Now().Sub(cc.idleSince) < peekAfter
		if !(recent && ex.req.idempotent()) && !cc.c.Idle() {
			cc.close()
			continue
		}
		return cc
	}
	return nil
}

// peekAfter: see pooled.
const peekAfter = time.Second

// tlsConfig returns the TLS configuration of connections to o, made once
// per loop.
func (c *Client) tlsConfig(o origin) *tls.Config {
	if cfg := c.tlsConfs[o]; cfg != nil {
		return cfg
	}
	cfg := &tls.Config{
		ServerName:         o.sni,
		MinVersion:         tls.VersionTLS12,
		RootCAs:            c.opt.RootCAs,
		ClientSessionCache: c.opt.Sessions,
		InsecureSkipVerify: !o.verify,
	}
	if o.noSNI {
		// crypto/tls sends the name it verifies: without one to send,
		// the certificate is verified here, against the host (as
		// lua-http, whose sendname = false leaves the check to the
		// host). An address is never sent: it needs nothing of this.
		if _, err := netip.ParseAddr(o.host); err == nil {
			cfg.ServerName = o.host
		} else {
			cfg.InsecureSkipVerify = true
			if o.verify {
				cfg.VerifyConnection = verifyHost(o.host, c.opt.RootCAs)
			}
		}
	}
	switch o.version {
	case "1.1":
		cfg.NextProtos = []string{"http/1.1"}
	case "2":
		cfg.NextProtos = []string{"h2"}
	default:
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	c.tlsConfs[o] = cfg
	return cfg
}

// verifyHost verifies a server's certificate chain against roots (nil:
// the system's) and its name against host.
func verifyHost(host string, roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		opts := x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: x509.NewCertPool()}
		for _, cert := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(cert)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
}

// closeConns closes the pooled connections that match.
func (c *Client) closeConns(match func(*clientConn) bool) {
	var doomed []*clientConn
	for _, pool := range []map[origin][]*clientConn{c.idle, c.h2} {
		for _, list := range pool {
			for _, cc := range list {
				if match(cc) {
					doomed = append(doomed, cc)
				}
			}
		}
	}
	for _, cc := range doomed {
		cc.close()
	}
}

// CloseOf ends the exchanges a finished request or task left open.
func (c *Client) CloseOf(s *cgo.Stream) {
	if c.owned[s] == 0 {
		return
	}
	for _, ex := range c.exchanges {
		if ex.owner == s {
			ex.endWait()
			ex.release()
		}
	}
}

// CloseExchange lets exchange id go (stream:shutdown, or its stream
// object collected), unless a script waits on it.
func (c *Client) CloseExchange(id int) {
	if ex := c.exchanges[id]; ex != nil && ex.wait == nil {
		ex.release()
	}
}

// CheckIdle closes the connections idle for longer than IdleTimeout.
func (c *Client) CheckIdle(now time.Time) {
	c.closeConns(func(cc *clientConn) bool {
		return cc.ex == nil && len(cc.streams) == 0 && now.Sub(cc.idleSince) > c.opt.IdleTimeout
	})
}

// dialAddr of an address and port.
func addrPort(a netip.Addr, port int) dialAddr {
	return dialAddr(net.JoinHostPort(a.String(), strconv.Itoa(port)))
}
