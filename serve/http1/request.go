package http1

import (
	"net"
	"net/netip"
	"time"

	"github.com/luaedge/luaedge/proto/http1"
	servews "github.com/luaedge/luaedge/serve/ws"
	"github.com/luaedge/luaedge/stream"
	"github.com/luaedge/luaedge/transport"
)

// request is what a connection needs only while a request is in flight:
// its stream, the framing of its body and of its response, a tunnel's
// state, the addresses its fetches read. A connection borrows one from
// its loop's pool when the first byte of a request arrives and gives it
// back once the response is written and no byte of a next request is
// buffered (pipelined requests keep it), so that an idle keep-alive
// connection holds none, as nginx frees a request's memory between
// keep-alive requests. A borrowed request belongs to that connection
// alone until it is given back, reset: nothing of one client's request
// reaches the next borrower (in test builds, borrowing one that was
// written to in the pool panics). A request whose stream went to a
// WebSocket goes with it, and never back to the pool.
type request struct {
	// st is made with the request and lent with it to each borrower
	// (stream.Attach); given back, it is detached.
	st *stream.Stream

	// The connection's addresses as the fetches src and dst give them,
	// formatted when the request is borrowed: an idle connection keeps
	// them only in gnet's form. Source first in addrBuf, srcLen bytes,
	// then the destination, dstLen bytes.
	addrBuf          [addrBufLen]byte
	srcLen, dstLen   uint8
	srcPort, dstPort int

	// scanned counts the buffered bytes known to hold no end of head, so
	// a head that trickles in is not parsed again from the start each
	// time.
	scanned int
	headAt  int64 // when the request began to arrive, Unix ns

	// The request's body framing, and the script's waits for it.
	up        stream.Upstream // the request is with a backend
	waitBody  bool            // the script waits for body bytes
	buffering bool            // http_buffer_request: the script starts once the body is in
	keepAlive bool
	chunked   bool
	bodyDone  bool
	minor     int
	bodyLeft  int64                 // Content-Length bytes still to come
	bodyTotal int64                 // body bytes read
	dec       *http1.ChunkedDecoder // made for the first chunked body it reads; kept, reset, when given back

	// Response framing.
	headSent    bool
	respChunked bool

	// h2c is the upgrade to HTTP/2 answered 101: nothing more is read
	// here; the owner hands the connection over.
	h2c *H2CUpgrade

	// tunnel: a server accepted the request's WebSocket upgrade; what
	// the client sends goes to it untouched, with tunnelIdle as idle
	// timeout, or through relay when the frontend has ws_filters. The
	// request stays until the connection closes.
	tunnel     bool
	tunnelIdle time.Duration
	relay      *servews.Relay
	wst        *servews.Tunnel // the frames followed for the drain (wsdrain.go); nil with relay
}

// addrBufLen holds two addresses as netip writes them without a zone
// (an IPv6 address is at most 39 bytes).
const addrBufLen = 80

// maxFreeRequests bounds the requests a loop keeps for its connections:
// as many as it may have in flight at once under load (a forwarded
// request holds one until its response ends), not a burst's worth.
const maxFreeRequests = 1024

// borrow takes a request from the loop's pool for the request whose
// first bytes arrived.
func (h *Conn) borrow() *request {
	l := h.l
	var rq *request
	if n := len(l.free); n > 0 {
		rq = l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		checkClean(rq)
	} else {
		rq = &request{st: stream.New(l.Env, nil, stream.KindHTTP, nil)}
	}
	rq.st.Attach(h, h.fe.Stream, h.sessVars)
	rq.bodyDone = true // no body is expected before a head says so
	rq.setAddrs(h.c)
	rq.st.Src = rq.addrBuf[:rq.srcLen]
	h.rq = rq
	return rq
}

// giveBack returns the connection's request, over, to the loop's pool.
func (h *Conn) giveBack() {
	rq := h.rq
	h.rq = nil
	checkOver(rq)
	if rq.st.Detach() {
		h.sessVars = true
	}
	if rq.dec != nil {
		rq.dec.Reset()
	}
	*rq = request{st: rq.st, dec: rq.dec}
	if len(h.l.free) < maxFreeRequests {
		h.l.free = append(h.l.free, rq)
	}
}

// over reports whether the request's exchange is done: no script, no
// server, body read, no switch of protocol; its connection may then give
// it back.
func (rq *request) over() bool {
	return !rq.st.Running() && rq.up == nil && rq.bodyDone && !rq.tunnel && rq.h2c == nil
}

// setAddrs formats c's addresses into rq.
func (rq *request) setAddrs(c transport.Conn) {
	src, _ := c.RemoteAddr().(*net.TCPAddr)
	dst, _ := c.LocalAddr().(*net.TCPAddr)
	b := appendIP(rq.addrBuf[:0], src)
	rq.srcLen = uint8(len(b))
	b = appendIP(b, dst)
	rq.dstLen = uint8(len(b)) - rq.srcLen
	if src != nil {
		rq.srcPort = src.Port
	}
	if dst != nil {
		rq.dstPort = dst.Port
	}
}

// addrs returns the connection's addresses, as SetAddrs takes them.
func (rq *request) addrs() (src []byte, srcPort int, dst []byte, dstPort int) {
	n := int(rq.srcLen)
	return rq.addrBuf[:n:n], rq.srcPort, rq.addrBuf[n : n+int(rq.dstLen)], rq.dstPort
}

// appendIP appends a's address as net.IP's String writes it (IPv4 in
// dotted form, IPv6 as RFC 5952 says).
func appendIP(b []byte, a *net.TCPAddr) []byte {
	if a == nil {
		return b
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	return ip.Unmap().AppendTo(b)
}
