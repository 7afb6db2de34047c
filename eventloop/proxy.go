package eventloop

import (
	"bytes"
	"errors"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
)

// The proxy half of an HTTP/1 client connection: forwarding the current
// request to a backend server and relaying the response.

// route picks the backend for the current request: the one a script
// chose, else the first matching route, else the default backend.
func (h *h1Conn) route(s *cgo.Stream) *proxyBackend {
	srv := h.l.srv
	if i := s.Backend(); i >= 0 && i < len(srv.backends) {
		return srv.backends[i]
	}
	host := s.Authority()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	path := s.Path()
	for _, r := range h.fe.routes {
		if (r.host == "" || http1.EqualFold(host, r.host)) && bytes.HasPrefix(path, r.pathPrefix) {
			return r.backend
		}
	}
	return h.fe.defaultBackend
}

// startForward sends the current request to a server of its backend.
func (h *h1Conn) startForward() {
	s := h.th.S
	be := h.route(s)
	if be == nil {
		h.forwardError(503, "no backend for this request")
		return
	}
	srv := be.Pick(h.srcIP)
	if srv == nil {
		h.forwardError(503, "no server available in backend "+be.Name())
		return
	}
	u, err := h.l.upstream(be, srv, h)
	if err != nil {
		srv.Done()
		h.forwardError(502, err.Error())
		return
	}
	h.up, h.upSrv = u, srv
	h.dechunk = false
	h.reqChunked = h.chunked
	h.writeRequestHead(u, s)
	if n := s.BodyUnread(); n > 0 {
		h.forwardBody(s.TakeBody())
	}
	if h.bodyDone {
		h.endRequestBody()
	}
	u.begin(be.serverTimeout)
	h.setPhase(phaseBusy)
}

// hopByHop lists the fields that belong to one connection and are not
// forwarded (RFC 9110 section 7.6.1); framing is redone by the proxy.
var hopByHop = []string{"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}

func isHopByHop(name []byte) bool {
	for _, h := range hopByHop {
		if http1.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// connectionTokens returns the values of the Connection fields: the names
// of more fields that concern this connection only.
func connectionTokens(tokens []byte, n int, field func(int) ([]byte, []byte)) []byte {
	for i := 0; i < n; i++ {
		if name, value := field(i); http1.EqualFold(name, "connection") {
			tokens = append(append(tokens, ','), value...)
		}
	}
	return tokens
}

// listed reports whether name is one of the comma-separated tokens.
func listed(tokens, name []byte) bool {
	for len(tokens) > 0 {
		var tok []byte
		if i := bytes.IndexByte(tokens, ','); i >= 0 {
			tok, tokens = tokens[:i], tokens[i+1:]
		} else {
			tok, tokens = tokens, nil
		}
		if http1.EqualFold(name, string(bytes.TrimSpace(tok))) {
			return true
		}
	}
	return false
}

// writeRequestHead serialises the request as the scripts left it.
func (h *h1Conn) writeRequestHead(u *upstreamConn, s *cgo.Stream) {
	b := http1.AppendRequestLine(h.l.ubuf[:0], s.Method(), s.Target())
	tokens := connectionTokens(h.l.tokens[:0], s.NumFields(), s.Field)
	h.l.tokens = tokens
	for i, n := 0, s.NumFields(); i < n; i++ {
		name, value := s.Field(i)
		if len(name) == 0 || isHopByHop(name) || (len(tokens) > 0 && listed(tokens, name)) {
			continue
		}
		b = http1.AppendHeader(b, name, value)
	}
	if h.reqChunked {
		b = append(b, "transfer-encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	h.l.ubuf = b
	u.write(b)
}

// forwardBody sends request body bytes, chunk-framed when the request was chunked.
func (h *h1Conn) forwardBody(data []byte) {
	if len(data) == 0 || h.up == nil {
		return
	}
	if h.reqChunked {
		h.up.write(http1.AppendChunk(h.l.ubuf[:0], data))
		return
	}
	h.up.write(data)
}

// endRequestBody ends a chunked request body upstream.
func (h *h1Conn) endRequestBody() {
	if h.up != nil && h.reqChunked {
		h.up.write(http1.AppendLastChunk(h.l.ubuf[:0]))
	}
}

// reqMethod is the method sent upstream, for the response framing rules.
func (h *h1Conn) reqMethod() []byte {
	if h.th != nil {
		return h.th.S.Method()
	}
	if h.isHead {
		return []byte("HEAD")
	}
	return []byte("GET")
}

// upstreamHead takes the response head: into the stream, through the
// http-response rules if any, then to the client.
func (h *h1Conn) upstreamHead(u *upstreamConn, r *http1.Response) {
	s := h.th.S
	s.SetResponse(r.Status, r.Reason)
	tokens := connectionTokens(h.l.tokens[:0], len(r.Headers), func(i int) ([]byte, []byte) { return r.Headers[i].Name, r.Headers[i].Value })
	h.l.tokens = tokens
	for _, f := range r.Headers {
		if isHopByHop(f.Name) || (len(tokens) > 0 && listed(tokens, f.Name)) {
			continue
		}
		s.AddRField(f.Name, f.Value)
	}
	// The relayed body keeps the server's chunk framing, unless the client
	// speaks HTTP/1.0 and cannot read it.
	h.rawChunks = u.mode == http1.BodyChunked && h.minor >= 1
	h.dechunk = u.mode == http1.BodyChunked && h.minor == 0
	h.dechunker.Reset()
	if op, _ := s.Op(); op == cgo.OpForward {
		// The coroutine waits to run the http-response rules on this head.
		h.parkedForHead = true
		h.resume()
		return
	}
	h.sendUpstreamHead()
}

// sendUpstreamHead writes the (possibly changed) response head and frees
// the coroutine: what follows is relayed without Lua.
func (h *h1Conn) sendUpstreamHead() {
	if s := h.th.S; s.Flags()&(cgo.FlagStarted|cgo.FlagAbort) != 0 {
		// The rules answered (txn:done, DENY, ERROR...) or aborted: that
		// answer replaces the server's, whose body is not relayed.
		h.dropUpstream()
		if s.Flags()&cgo.FlagAbort != 0 {
			h.endStream()
			h.closeNow()
			return
		}
		h.keepAlive = false
		if h.writeHead() {
			h.writeBody()
			h.endResponse()
		} else {
			h.endStream()
			h.forwardError(502, "invalid response head")
		}
		return
	}
	if !h.writeHead() {
		h.endStream()
		h.forwardError(502, "invalid response head")
		return
	}
	if h.up != nil && h.up.mode == http1.BodyNone {
		h.respNoBody = true
	}
	h.endStream()
}

// relayBody passes response body bytes to the client.
func (h *h1Conn) relayBody(p []byte, _ bool) {
	if len(p) == 0 || h.respNoBody {
		return
	}
	switch {
	case h.dechunk:
		for len(p) > 0 {
			n, data, _, err := h.dechunker.Next(p)
			if err != nil || n == 0 {
				return
			}
			h.out = append(h.outBuf(), data...)
			p = p[n:]
		}
	case h.respChunked && !h.rawChunks:
		h.out = http1.AppendChunk(h.outBuf(), p)
	default:
		if len(p) >= directWrite {
			h.flush()
			if !h.closed {
				h.send(p)
			}
			return
		}
		h.out = append(h.outBuf(), p...)
	}
}

// upstreamDone ends the exchange after the whole response was relayed.
func (h *h1Conn) upstreamDone(u *upstreamConn) {
	if h.respChunked && !h.rawChunks {
		h.out = http1.AppendLastChunk(h.outBuf())
	}
	h.releaseUpstream()
	if !h.keepAlive || !h.resp1KeepAlive(u) || h.l.srv.draining.Load() {
		h.closeAfterFlush()
	}
	h.flush()
	if !h.closing && !h.closed {
		if h.c.InboundBuffered() > 0 || !h.bodyDone || h.th != nil {
			h.l.post(h.process) // go on with the request body or pipelined requests
		} else {
			h.setPhase(phaseIdle) // what process does when there is nothing to read
		}
	}
}

// resp1KeepAlive reports whether the response framing lets the client
// connection go on: a close-delimited body to an HTTP/1.0 client ends it.
func (h *h1Conn) resp1KeepAlive(u *upstreamConn) bool {
	return !(u.mode == http1.BodyClose && h.minor == 0)
}

// releaseUpstream forgets the upstream exchange and its server slot.
func (h *h1Conn) releaseUpstream() {
	if h.upSrv != nil {
		h.upSrv.Done()
		h.upSrv = nil
	}
	h.up = nil
	h.parkedForHead = false
}

// dropUpstream abandons the upstream exchange without answering the
// client (the client side is failing or gone).
func (h *h1Conn) dropUpstream() {
	if u := h.up; u != nil {
		u.h = nil
		u.failed(errors.New("exchange abandoned"))
		h.releaseUpstream()
	}
}

// upstreamFailed answers the client when the server side failed.
func (h *h1Conn) upstreamFailed(u *upstreamConn, err error) {
	h.busy = true
	defer func() {
		h.busy = false
		h.afterWork()
	}()
	status := 502
	if errors.Is(err, errConnectTimeout) || errors.Is(err, errServerTimeout) {
		status = 504
	}
	h.l.log.Warn("backend exchange failed", "backend", u.be.Name(), "server", u.srv.Name(), "err", err)
	h.releaseUpstream()
	if h.headSent {
		h.endStream()
		h.closeNow()
		return
	}
	h.forwardError(status, err.Error())
	h.flush()
}

// forwardError answers status for a request that could not be forwarded.
// The request body may be half sent, so the connection closes after.
func (h *h1Conn) forwardError(status int, why string) {
	h.l.log.Debug("cannot forward", "status", status, "why", why)
	h.endStream()
	h.keepAlive = false
	h.writeSimple(status, false)
}

// newProxyBackend wraps a backend with its timeouts.
func newProxyBackend(b *backend.Backend, index int, connect, server, tunnel time.Duration) *proxyBackend {
	return &proxyBackend{Backend: b, index: index, connectTimeout: connect, serverTimeout: server, tunnelTimeout: tunnel}
}

// routeRule is a frontend route resolved to its backend.
type routeRule struct {
	host       string
	pathPrefix []byte
	backend    *proxyBackend
}
