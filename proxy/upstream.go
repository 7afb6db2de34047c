// Package proxy forwards streams to backend servers: per-loop pools of
// HTTP/1 connections to the servers, TCP tunnels, and the connections
// scripts open with core.tcp(). Everything here runs on the loop of the
// stream it serves; a connection never leaves the loop that dialled it.
package proxy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/eventloop"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/ws"
	"github.com/luaedge/luaedge/shared/sticktable"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// maxIdlePerServer bounds the idle keep-alive connections a loop keeps to
// one server.
const maxIdlePerServer = 64

// Backend is a configured backend with its timeouts. It is shared by every
// loop (backend.Backend does its own locking).
type Backend struct {
	*backend.Backend
	ConnectTimeout time.Duration
	ServerTimeout  time.Duration
	TunnelTimeout  time.Duration // TCP mode, once piped; 0: the frontend's keep_alive
	QueueTimeout   time.Duration // a request waiting in the backend's queue (then 503)
	InspectDelay   time.Duration // TCP mode: how long the tcp-response rules may wait for server bytes
	NameHeader     string        // a request field set to the server's name (lower case; "": none)
	H2             bool          // the servers speak HTTP/2 (proto: h2)
	Stick          []StickRule   // the configuration's stick rules (persist.go)
	// PersistDown: a request's persistence goes to its server even when
	// it is down or in maintenance (HAProxy's option persist).
	PersistDown bool
	// Retries and Redispatch: a request whose connection or answer
	// failed as RetryOn names goes again (retry.go), as HAProxy's
	// retries, option redispatch [interval] and retry-on.
	Retries, Redispatch int
	RetryOn             config.RetryOn
	// AbortOnClose: a request whose client ends its side before its
	// answer is abandoned (HAProxy's option abortonclose); else it goes on.
	AbortOnClose bool
}

// Pool is one loop's connections to backend servers: the Backends of the
// loop's streams. It is used from the loop's goroutine only.
type Pool struct {
	loop       *eventloop.Loop
	log        *slog.Logger
	backends   []*Backend
	handshakes *transport.HandshakePool // of TLS to servers; shared by the generation's loops
	// tables are the generation's stick tables by name, which the stick
	// stores of requests write into (persist.go); shared, read-only.
	tables map[string]*sticktable.Table

	idle map[*backend.Server][]*Upstream // keep-alive connections to reuse
	ups  map[*Upstream]struct{}          // connections in use, for their deadlines
	h2   map[*backend.Server][]*h2Conn   // HTTP/2 connections, each carrying many exchanges

	// Scratch for serialising a request head, and for a response's
	// Set-Cookie the persistence cookie changes; used within one call.
	head   []byte
	tokens []byte
	cookie []byte
}

// NewPool makes the pool of loop l; hs bounds the TLS handshakes with
// servers.
func NewPool(l *eventloop.Loop, log *slog.Logger, backends []*Backend, hs *transport.HandshakePool, tables map[string]*sticktable.Table) *Pool {
	return &Pool{
		loop:       l,
		log:        log,
		backends:   backends,
		handshakes: hs,
		tables:     tables,
		idle:       map[*backend.Server][]*Upstream{},
		ups:        map[*Upstream]struct{}{},
		h2:         map[*backend.Server][]*h2Conn{},
	}
}

// Upstream is a connection from a loop to a backend server, and the
// exchange it carries. It goes back to the loop's pool after a response
// that keeps it open and leaves nothing unread.
type Upstream struct {
	p  *Pool
	be *Backend
	serverConn

	st         *stream.Stream  // the exchange it serves; nil when idle
	reqChunked bool            // the request body goes chunk-framed
	upgrade    bool            // the request asks for WebSocket: a 101 makes the exchange a tunnel
	h2ws       bool            // an HTTP/2 extended CONNECT (RFC 8441) sent as an Upgrade with key
	key        [ws.KeyLen]byte // h2ws: the Sec-WebSocket-Key sent, which the 101 must answer
	tunnel     bool            // the server switched protocols: bytes are relayed untouched
	persist    persist         // the backend's persistence cookie in this exchange
	method     []byte
	receiving  bool   // inside receive
	receiveFn  func() // u.receive, made once: a method value passed on allocates
	// replay: the exchange may go again on a new connection if this one
	// closes before the server sent a byte: the connection came from the
	// idle pool (a server may close it at its keep-alive timeout while the
	// request is on its way) and the request is idempotent and has no body.
	replay   bool
	answered bool // the server sent bytes for this exchange

	// The connection retries of the exchange (retry.go): how its server
	// was chosen, the attempts that failed before this connection, and
	// the length of the request head that starts pending (the body that
	// follows goes again as is).
	choice  choice
	tries   int
	headLen int
	// kept is the whole request as it went (its head of headLen bytes,
	// then its body as framed), which goes again when the server's
	// answer fails as the backend's retry-on names; nil when it cannot:
	// the backend names no such failure, or the request was larger than
	// maxKeptRequest, or had not all arrived with its head (wholeOrNot).
	// Dropped once a response head is taken. keeping: the request is
	// being written, and goes to kept too, until its body ends.
	kept    []byte
	keeping bool

	// timeout and tunnel are the exchange's server and tunnel timeouts:
	// the backend's, or its request's set-timeout.
	timeout, tunnelTimeout time.Duration

	resp     http1.Response
	headDone bool
	mode     http1.BodyMode
	left     int64 // body bytes left (BodyLength)
	dec      http1.ChunkedDecoder
	deadline time.Time
}

var (
	errConnectTimeout = errors.New("connect timeout")
	errServerTimeout  = errors.New("server timeout")
	errBadResponse    = errors.New("invalid response")
	errServerClosed   = errors.New("server closed the connection")
	errAbandoned      = errors.New("exchange abandoned")
)

// timeouts are the server and tunnel timeouts of s's request: the
// backend's, unless a set-timeout rule gave its own.
func (b *Backend) timeouts(s *cgo.Stream) (server, tunnel time.Duration) {
	server, tunnel = s.Timeouts()
	return cmp.Or(server, b.ServerTimeout), cmp.Or(tunnel, b.TunnelTimeout)
}

// dialAddr is an address for gnet to dial: gnet dials on a worker
// goroutine with net.Dial(Network(), String()), so a host name is looked
// up there, not on the event loop.
type dialAddr string

func (a dialAddr) Network() string { return "tcp" }
func (a dialAddr) String() string  { return string(a) }

// dialAddrOf checks that addr is host:port and wraps it for gnet.
func dialAddrOf(addr string) (dialAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("invalid port in %q", addr)
	}
	return dialAddr(net.JoinHostPort(host, port)), nil
}

// dialTarget is the address of srv for st's request: the server's own, or
// taken from the request's destination (backend.Server.DialAddr).
func dialTarget(st *stream.Stream, srv *backend.Server) (addr string, fixed bool, err error) {
	var dst []byte
	var port int
	if s := st.S(); s != nil {
		_, _, dst, port = s.Addrs()
	}
	return srv.DialAddr(dst, port)
}

// Open forwards the request of st to a server of backend be; when every
// server is at its maxconn, the request waits in the backend's queue
// (queue.go).
func (p *Pool) Open(st *stream.Stream, be int, src []byte) (stream.Upstream, int, string) {
	if be < 0 || be >= len(p.backends) {
		return nil, 503, "no backend for this request"
	}
	b := p.backends[be]
	key := src
	if k, name := b.RequestKey(); k != backend.KeyClient {
		key = requestKey(st.S(), k, name)
	}
	// The server the persistence cookie names, then, as HAProxy, a
	// use-server or stick rule's choice; the request waits for the
	// server's room if need be. The stick rules run whoever chose: their
	// stores apply to any server.
	var want *backend.Server
	forced := b.forced(st.S())
	if ck := b.Cookie(); ck != nil && !ignored(st.S()) {
		if v, ok := requestCookie(st.S(), ck.Name); ok {
			named, _ := cookieServer(ck, v, p.loop.Now().Unix())
			want = b.CookieServer(named, forced)
		}
	}
	if w := persistent(st, be, b); want == nil {
		want = w
	}
	if w := stickRules(st, b); want == nil {
		want = w
	}
	if want != nil {
		return p.queueFor(st, b, want, choice{key: key, direct: true, forced: forced})
	}
	srv := b.Pick(key)
	if srv == nil {
		return p.queue(st, b, key)
	}
	return p.openOn(st, b, srv, choice{key: key})
}

// requestKey is what of s's request a uri, url_param or hdr backend
// hashes (backend.Backend.Pick reads the part it wants): the target as
// HAProxy sees it, or the first value of the field; nil when the request
// has no such field (the backend then goes round robin).
func requestKey(s *cgo.Stream, k backend.RequestKey, name string) []byte {
	if s == nil {
		return nil
	}
	switch k {
	case backend.KeyTarget:
		t := s.Target()
		if major, _ := s.Version(); major == 2 && len(s.Authority()) > 0 && len(t) > 0 && t[0] == '/' {
			// HAProxy makes an HTTP/2 request's URI absolute, from
			// its :scheme and :authority.
			return slices.Concat(s.Scheme(), []byte("://"), s.Authority(), t)
		}
		return t
	case backend.KeyHeader:
		for i := range s.NumFields() {
			if n, v := s.Field(i); bytes.EqualFold(n, []byte(name)) {
				// HAProxy hashes the field's first value of a list.
				v, _, _ = bytes.Cut(v, []byte(","))
				return bytes.Trim(v, " \t")
			}
		}
	}
	return nil
}

// openOn forwards the request of st to srv, picked for it as c says.
func (p *Pool) openOn(st *stream.Stream, b *Backend, srv *backend.Server, c choice) (stream.Upstream, int, string) {
	st.LogServer(srv, false) // %Tw ends, %Tc starts
	ext := extendedConnect(st.S())
	if b.H2 && ext {
		srv.Done()
		return nil, 501, "WebSocket over HTTP/2 is forwarded to HTTP/1.1 servers only"
	}
	if b.H2 {
		return p.openH2(st, b, srv)
	}
	return p.openH1(st, b, srv, false, c)
}

// openH1 forwards the request of st to srv over HTTP/1, on a pooled
// connection unless fresh.
func (p *Pool) openH1(st *stream.Stream, b *Backend, srv *backend.Server, fresh bool, c choice) (stream.Upstream, int, string) {
	ext := extendedConnect(st.S())
	u, pooled, err := p.conn(st, b, srv, fresh)
	if err != nil {
		srv.Done()
		return nil, 502, err.Error()
	}
	if u.c == nil {
		u.sendProxy(st) // a new connection
	} else {
		st.LogConnected() // a kept-alive one: %Tc is 0
	}
	s := st.S()
	u.st = st
	u.slot = true
	u.method = append(u.method[:0], s.Method()...)
	// An extended CONNECT has no body: what its client sends on its
	// stream is the WebSocket's, once the server switched.
	u.reqChunked = !ext && s.ContentLength() < 0 && !(s.Flags()&cgo.FlagBodyEnd != 0 && s.BodyUnread() == 0)
	u.upgrade = ext || wantsWebSocket(s)
	u.h2ws = ext
	u.tunnel = false
	u.replay = pooled && !ext && !u.upgrade && replayable(s)
	u.answered = false
	var key []byte
	if ext {
		u.key = ws.NewKey()
		key = u.key[:]
		u.method = append(u.method[:0], "GET"...)
	}
	u.persist = persistenceOf(s, b, srv, p.loop.Now().Unix())
	u.timeout, u.tunnelTimeout = b.timeouts(s)
	u.choice, u.tries = c, 0
	u.kept, u.keeping = nil, b.RetryOn.AfterConnect() && !u.upgrade
	head := p.requestHead(s, u.reqChunked, u.upgrade, u.upgrade && st.Frontend().WSFilters, key, &u.persist, serverName{b.NameHeader, srv.Name()})
	u.headLen = len(head)
	u.write(head)
	if s.BodyUnread() > 0 {
		u.Body(s.TakeBody())
	}
	if s.Flags()&cgo.FlagBodyEnd != 0 {
		u.endBody(s.NumTrailers(), s.Trailer)
	}
	if u.keeping {
		p.loop.Post(func() { u.wholeOrNot(st) })
	}
	u.headDone = false
	u.deadline = p.loop.Now().Add(u.timeout)
	p.ups[u] = struct{}{}
	return u, 0, ""
}

// replayable reports whether s's request may be sent twice: an
// idempotent method (RFC 9110 §9.2.2) and no body.
func replayable(s *cgo.Stream) bool {
	switch string(s.Method()) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
	default:
		return false
	}
	return s.ContentLength() == 0 || (s.ContentLength() < 0 && s.Flags()&cgo.FlagBodyEnd != 0 && s.BodyUnread() == 0)
}

// conn returns an idle pooled connection to srv (pooled), or dials a new
// one, always when fresh. A server whose address follows the request's
// destination gets a connection of the request's own, not pooled: the
// next request may go elsewhere.
func (p *Pool) conn(st *stream.Stream, be *Backend, srv *backend.Server, fresh bool) (*Upstream, bool, error) {
	target, fixed, err := dialTarget(st, srv)
	if err != nil {
		return nil, false, err
	}
	pool := p.idle[srv]
	for fixed && !fresh && len(pool) > 0 {
		u := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		p.idle[srv] = pool
		if u.closed {
			continue
		}
		// Bytes a server wrote after its response may sit in the socket
		// before the loop has read them; the next request on the
		// connection would take them for its answer.
		if !u.c.Idle() {
			p.log.Warn("server sent bytes on an idle connection; closing it", "backend", be.Name(), "server", srv.Name())
			u.close()
			continue
		}
		return u, true, nil
	}
	addr, err := dialAddrOf(target)
	if err != nil {
		return nil, false, err
	}
	u := &Upstream{p: p, be: be, serverConn: serverConn{srv: srv, private: !fixed}}
	u.receiveFn = u.receive
	if err := u.dial(addr); err != nil {
		return nil, false, err
	}
	return u, false, nil
}

// dial connects u to addr, within the backend's timeouts.connect.
func (u *Upstream) dial(addr dialAddr) error {
	if err := u.p.loop.Dial(addr, u); err != nil {
		return err
	}
	u.timer = u.p.loop.After(u.be.ConnectTimeout, func() {
		if u.c == nil && !u.closed {
			u.connectFailed(errConnectTimeout)
		}
	})
	return nil
}

// DialFailed is called on the loop when the dial failed.
func (u *Upstream) DialFailed(err error) { u.connectFailed(err) }

// Opened is called on the loop when the dial completed.
// The access log is told when the connection opened.
func (u *Upstream) Opened(c transport.Conn) {
	u.opened(c, u.p.loop, u.p.handshakes, u.be.ConnectTimeout, (*clearUpstream)(u), u.connectFailed)
	if u.st != nil {
		u.st.LogConnected()
	}
}

// clearUpstream is an Upstream as the handler of its TLS connection's
// clear side: the gnet events go to the TLS, which decrypts and calls it.
type clearUpstream Upstream

func (c *clearUpstream) OnTraffic()        { (*Upstream)(c).traffic() }
func (c *clearUpstream) OnClose(err error) { (*Upstream)(c).onClose(err) }

// write sends request bytes, holding them until the connection is open;
// while keeping, they go to kept too, as long as it stays within
// maxKeptRequest.
func (u *Upstream) write(p []byte) {
	if u.closed {
		return
	}
	if u.keeping {
		if len(u.kept)+len(p) > maxKeptRequest {
			u.kept, u.keeping = nil, false
		} else {
			u.kept = append(u.kept, p...)
		}
	}
	u.send(p)
}

// Body sends request body bytes, chunk-framed when the request is chunked.
func (u *Upstream) Body(data []byte) {
	if len(data) == 0 {
		return
	}
	if u.reqChunked {
		u.p.head = http1.AppendChunk(u.p.head[:0], data)
		u.write(u.p.head)
		return
	}
	u.write(data)
}

// EndBody ends a chunked request body, with its trailer fields. On a
// tunnel (an extended CONNECT's client ended its stream) it ends what
// goes to the server, as a TCP FIN, once what waits has left; what the
// server sends is still relayed.
func (u *Upstream) EndBody(trailers []http1.Header) {
	if u.tunnel {
		u.closeWrite()
		return
	}
	u.endBody(len(trailers), func(i int) ([]byte, []byte) { return trailers[i].Name, trailers[i].Value })
}

// endBody ends a chunked request body with n trailer fields. A body framed
// by its length cannot carry them.
func (u *Upstream) endBody(n int, field func(int) ([]byte, []byte)) {
	defer func() { u.keeping = false }() // kept is whole
	if !u.reqChunked {
		return
	}
	if n == 0 {
		u.p.head = http1.AppendLastChunk(u.p.head[:0])
	} else {
		b := append(u.p.head[:0], "0\r\n"...)
		for i := 0; i < n; i++ {
			name, value := field(i)
			if http1.ValidHeaderName(name) && http1.ValidHeaderValue(value) {
				b = http1.AppendHeader(b, name, value)
			}
		}
		u.p.head = append(b, "\r\n"...)
	}
	u.write(u.p.head)
}

// wholeOrNot drops the request kept for st's exchange if its body has
// not ended yet: as HAProxy, which keeps a request whole when it first
// leaves, luaedge goes again only with a body that came with its head
// (in the bytes the client's connection had read when the request
// left).
func (u *Upstream) wholeOrNot(st *stream.Stream) {
	if u.st == st && u.keeping {
		u.kept, u.keeping = nil, false
	}
}

// closeWrite half-closes the connection once its output has left.
func (u *Upstream) closeWrite() {
	if u.closed || u.c == nil {
		return
	}
	if u.c.Outbound() > 0 {
		u.p.loop.After(transport.Recheck, u.closeWrite)
		return
	}
	u.c.CloseWrite()
}

// Backlog is how many request bytes wait to leave.
func (u *Upstream) Backlog() int { return u.backlog() }

// Abandon ends the exchange from the client's side; the connection closes.
func (u *Upstream) Abandon() {
	u.st = nil
	u.fail(errAbandoned)
}

// connectFailed tries the exchange again on a new connection (retry.go)
// or, with no retry left, counts the failure against the server and
// answers the client HAProxy's 503 (SC, or sC for timeouts.connect).
func (u *Upstream) connectFailed(err error) {
	if u.closed {
		return
	}
	st := u.st
	if st == nil {
		u.srv.ReportConnectError()
		u.fail(err)
		return
	}
	if u.tries < u.be.Retries && u.be.RetryOn&config.RetryConnFailure != 0 {
		st.Handle(func() { u.retry(err) })
		return
	}
	u.srv.ReportConnectError()
	u.close()
	u.freeSlot()
	u.st = nil
	u.p.log.Warn("cannot connect to server", "backend", u.be.Name(), "server", u.srv.Name(), "retries", u.tries, "err", err)
	st.Handle(func() { st.ConnectFailed(errors.Is(err, errConnectTimeout)) })
}

// fail ends the connection after a dial or I/O error and tells the stream.
func (u *Upstream) fail(err error) {
	if u.closed {
		return
	}
	u.close()
	u.freeSlot()
	if st := u.st; st != nil {
		u.st = nil
		status := 502
		if errors.Is(err, errConnectTimeout) || errors.Is(err, errServerTimeout) {
			status = 504
		}
		u.p.log.Warn("backend exchange failed", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
		st.Handle(func() { st.UpstreamFailed(status) })
	}
}

// failInvalid ends the connection after a response head that is not
// HTTP and tells the stream (HAProxy's PH).
func (u *Upstream) failInvalid() {
	if u.closed {
		return
	}
	u.close()
	u.freeSlot()
	if st := u.st; st != nil {
		u.st = nil
		st.Handle(st.UpstreamInvalid)
	}
}

// close closes the connection; it is not reused.
func (u *Upstream) close() {
	if !u.closed {
		delete(u.p.ups, u)
		u.shut()
	}
}

// OnTraffic is the gnet event of the connection: its TLS's, if any.
func (u *Upstream) OnTraffic() {
	if u.tc != nil {
		u.tc.OnTraffic()
		return
	}
	u.traffic()
}

// OnClose is the gnet event of the connection: its TLS's, if any.
func (u *Upstream) OnClose(err error) {
	if u.tc != nil {
		u.tc.OnClose(err)
		return
	}
	u.onClose(err)
}

// traffic parses the response head, then relays the body to the client,
// as a handler of the client's connection.
func (u *Upstream) traffic() {
	st := u.st
	if st == nil {
		// Bytes on an idle connection break the protocol.
		if len(u.c.Peek()) > 0 {
			u.p.log.Warn("server sent bytes on an idle connection; closing it", "backend", u.be.Name(), "server", u.srv.Name())
			u.close()
		}
		return
	}
	st.Handle(u.receiveFn)
}

// receive consumes what the server sent for the current exchange.
func (u *Upstream) receive() {
	u.receiving = true
	defer func() { u.receiving = false }()
	for !u.closed && u.st != nil {
		st := u.st
		if u.headDone {
			if st.ResponseRulesRunning() {
				return // the body waits in the buffer; Resume goes on
			}
			if u.mode == http1.BodyNone {
				u.finish()
				return
			}
		}
		buf := u.c.Peek()
		if len(buf) == 0 {
			return
		}
		u.answered = true
		if !u.headDone {
			n, err := u.resp.Parse(buf, u.method, st.Frontend().Limits)
			if err == http1.ErrIncomplete {
				return
			}
			if err != nil {
				u.p.log.Warn("invalid response from server", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
				if u.answerRetried(u.be.RetryOn&config.RetryJunkResponse != 0) {
					u.retryAnswer(errBadResponse)
					return
				}
				u.failInvalid()
				return
			}
			if u.resp.Status == 101 && u.h2ws && !u.switchChecked() {
				u.fail(errBadResponse)
				return
			}
			if u.resp.Status == 101 && u.upgrade {
				// The server accepted the WebSocket upgrade: from here on
				// the bytes are relayed untouched both ways, until either
				// side closes; the backend's timeouts.tunnel (or the
				// frontend's keep-alive) bounds the silence.
				u.headDone, u.tunnel, u.mode = true, true, http1.BodyClose
				u.deadline = time.Time{}
				u.c.Discard(n)
				u.deliverSwitch(st)
				continue
			}
			if u.resp.Status < 200 {
				u.c.Discard(n) // interim responses (100, 103) are not relayed
				continue
			}
			if u.answerRetried(u.be.RetryOn.Status(u.resp.Status)) {
				u.retryAnswer(fmt.Errorf("status %d", u.resp.Status))
				return
			}
			u.headDone = true
			u.kept = nil
			u.mode = u.resp.BodyMode()
			u.left = u.resp.ContentLength
			if u.mode == http1.BodyChunked {
				u.dec.Reset()
			}
			u.deadline = u.p.loop.Now().Add(u.timeout)
			u.c.Discard(n)
			u.deliverHead(st)
			continue
		}
		n, done := u.relay(st, buf)
		u.c.Discard(n)
		if !u.tunnel {
			u.deadline = u.p.loop.Now().Add(u.timeout)
		}
		if done {
			u.finish()
			return
		}
		if n == 0 || u.closed {
			return
		}
		if st.Backlog() >= transport.HighWater {
			st.Throttle(u.c, st.Backlog, func() bool { return u.st != st || u.closed })
		}
	}
}

// switchChecked checks the server's 101 to the Upgrade an extended
// CONNECT became: it must answer our key, as its client, who sent none,
// cannot check it (the subprotocol and extensions are the client's to
// check, in the 200 it gets).
func (u *Upstream) switchChecked() bool {
	var a ws.Answer
	for _, f := range u.resp.Headers {
		a.AddField(f.Name, f.Value)
	}
	if err := a.CheckSwitch(101, u.key[:]); err != nil {
		u.p.log.Warn("invalid answer to a WebSocket upgrade", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
		return false
	}
	return true
}

// Resume goes on relaying after the http-response rules finished with the
// head (they may have waited on a timer).
func (u *Upstream) AbortOnClose() bool { return false } // not queued

func (u *Upstream) Resume() {
	if !u.receiving && u.c != nil {
		u.p.loop.Post(u.traffic)
	}
}

// deliverHead puts the response head in the stream and lets it go on.
func (u *Upstream) deliverHead(st *stream.Stream) {
	u.p.served(st, u.srv)
	s := st.S()
	r := &u.resp
	s.SetResponse(r.Status, r.Reason)
	s.SetResponseVersion(r.Major, r.Minor)
	tokens := connectionTokens(u.p.tokens[:0], len(r.Headers), func(i int) ([]byte, []byte) { return r.Headers[i].Name, r.Headers[i].Value })
	u.p.tokens = tokens
	u.persist.begin(r.Status)
	for _, f := range r.Headers {
		if isHopByHop(f.Name) || (len(tokens) > 0 && listed(tokens, f.Name)) {
			continue
		}
		if v, keep := u.persist.responseField(f.Name, f.Value, &u.p.cookie); keep {
			s.AddRField(f.Name, v)
		}
	}
	u.persist.addFields(s)
	st.UpstreamHead()
}

// deliverSwitch puts the server's 101 in the stream, which sends it and
// makes the client's connection a tunnel.
func (u *Upstream) deliverSwitch(st *stream.Stream) {
	u.p.served(st, u.srv)
	s := st.S()
	r := &u.resp
	s.SetResponse(r.Status, r.Reason)
	s.SetResponseVersion(r.Major, r.Minor)
	for _, f := range r.Headers {
		if !isHopByHop(f.Name) {
			s.AddRField(f.Name, f.Value)
		}
	}
	st.UpstreamSwitched(u.tunnelTimeout)
}

// relay passes body bytes to the client as they arrive, unframed. It
// returns the bytes consumed and whether the body ended.
func (u *Upstream) relay(st *stream.Stream, buf []byte) (int, bool) {
	switch u.mode {
	case http1.BodyLength:
		n := int64(len(buf))
		if n > u.left {
			n = u.left
		}
		st.UpstreamData(buf[:n])
		u.left -= n
		return int(n), u.left == 0
	case http1.BodyChunked:
		consumed := 0
		for consumed < len(buf) {
			n, data, done, err := u.dec.Next(buf[consumed:])
			if err != nil {
				u.p.log.Warn("invalid chunked body from server", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
				u.fail(errBadResponse)
				return consumed, false
			}
			if n == 0 {
				break
			}
			consumed += n
			if len(data) > 0 {
				st.UpstreamData(data)
			}
			if done {
				st.UpstreamTrailers(u.dec.Trailers())
				return consumed, true
			}
		}
		return consumed, false
	default: // BodyClose: until the server closes
		st.UpstreamData(buf)
		return len(buf), false
	}
}

// finish completes the exchange and pools the connection if it can be reused.
func (u *Upstream) finish() {
	st := u.st
	u.st = nil
	delete(u.p.ups, u)
	u.freeSlot()
	// Bytes past the response's framing (a longer body, a second response,
	// a body after 204 or to HEAD) would be read as the answer to the next
	// client's request: a connection holding any is not reused.
	stray := u.c.Inbound()
	// An extended CONNECT that got no 101 may have sent its client's
	// first bytes after its head: the connection is not reused.
	reuse := u.resp.KeepAlive && u.mode != http1.BodyClose && !u.closed && stray == 0 && !u.private && !u.h2ws
	if stray > 0 && !u.closed {
		u.p.log.Warn("server sent bytes past the end of its response; closing the connection", "backend", u.be.Name(), "server", u.srv.Name(), "bytes", stray)
	}
	if st != nil {
		st.UpstreamEnd()
	}
	if !reuse || len(u.p.idle[u.srv]) >= maxIdlePerServer {
		u.close()
		return
	}
	u.deadline = time.Time{}
	u.p.idle[u.srv] = append(u.p.idle[u.srv], u)
}

// onClose is called when the server side closed.
func (u *Upstream) onClose(error) {
	if u.closed {
		return
	}
	if st := u.st; st != nil && u.headDone && u.mode == http1.BodyClose {
		st.Handle(u.finish) // the close ends the body
		return
	}
	if st := u.st; st != nil && u.replay && !u.answered {
		st.Handle(u.again)
		return
	}
	// A close before the whole response head is HAProxy's empty
	// response.
	if st := u.st; st != nil && !u.headDone && u.answerRetried(u.be.RetryOn&config.RetryEmptyResponse != 0) {
		st.Handle(func() { u.retryAnswer(errServerClosed) })
		return
	}
	u.fail(errServerClosed)
}

// again sends the exchange's request once more, on a new connection to the
// same server, which keeps the slot: the pooled connection it went on was
// closed by the server before it answered (see replay).
func (u *Upstream) again() {
	st := u.st
	if u.closed || st == nil {
		return
	}
	u.st = nil
	u.slot = false // the new connection's now
	u.close()
	u.p.log.Info("server closed a reused connection before answering; sending the request again on a new one", "backend", u.be.Name(), "server", u.srv.Name())
	nu, status, why := u.p.openH1(st, u.be, u.srv, true, u.choice)
	if nu == nil {
		u.p.log.Warn("backend exchange failed", "backend", u.be.Name(), "server", u.srv.Name(), "err", why)
		st.UpstreamFailed(status)
		return
	}
	st.UpstreamRetried(nu)
}

// CheckDeadlines enforces timeouts.server on the loop's exchanges.
func (p *Pool) CheckDeadlines(now time.Time) {
	p.checkH2Deadlines(now)
	for u := range p.ups {
		if u.st == nil || u.closed || u.deadline.IsZero() || !now.After(u.deadline) {
			continue
		}
		if st := u.st; u.c != nil && !u.headDone && u.answerRetried(u.be.RetryOn&config.RetryResponseTimeout != 0) {
			u.deadline = time.Time{} // the retry replaces it
			st.Handle(func() { u.retryAnswer(errServerTimeout) })
			continue
		}
		u.fail(errServerTimeout)
	}
}

// Forget closes the loop's idle connections to srv, which its backend
// deleted (no request goes to it any more), and drops its entries.
func (p *Pool) Forget(srv *backend.Server) {
	for _, u := range p.idle[srv] {
		u.close()
	}
	delete(p.idle, srv)
	for _, h := range slices.Clone(p.h2[srv]) {
		h.close()
	}
}
