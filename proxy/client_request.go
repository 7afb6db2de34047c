package proxy

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"time"
	"unsafe"

	"github.com/luaedge/luaedge/proto/http1"
)

// What a script's http.request crosses into Go with, and what comes back,
// in the stream's io buffer (lj/lua/http_request.lua writes and reads the
// other side).
//
// The request (LE_SOCK_HTTP), as netstrings ("LEN:BYTES": any byte a
// script gives is carried as it is, for Go to check): method, scheme,
// host, port, authority, path, version ("", "1.1" or "2"), verify ("1" or
// "0"), the TLS server name ("" for the host), no-SNI ("1": send no server
// name), the expect-100 wait in milliseconds ("0": none), max_attempts,
// the HTTP proxy to tunnel through with CONNECT (host, port, its
// proxy-authorization; "", "0", "" for none), streamed ("1": the body
// follows in LE_SOCK_HTTP_WRITE operations), the number of header fields
// and the fields (name, value), then the body: the rest of io.
//
// A streamed body: Go answers LE_SOCK_HTTP, and each LE_SOCK_HTTP_WRITE
// (io: a piece of body; sock_arg 1: the last), with sock_arg -1 and
// nothing in io while the server takes more body: once the head left and,
// with expect-100, the server's 100 came or the wait ended, and once the
// connection has sent most of what was written before. The last write,
// or a write once the server answered, gets the response head as
// LE_SOCK_HTTP does.
//
// The response head: "STATUS VERSION REASON\nNFIELDS\n" (REASON the
// server's phrase, empty from HTTP/2, which has none), each field as
// "name\nvalue\n" (names lower-case), then body bytes already received.
// Trailers, once the body ended, as "NFIELDS\n" and the fields, at the end
// of the delivery that ends the body (its length in sock_arg). Lua finds
// the ends with a plain search: the parsers (proto/http1, proto/http2)
// refuse a name that is not a token and a value with CR, LF or NUL.

// clientRequest is one request of a script, copied out of io (parse):
// its strings, fields and body are parts of one copy, which nothing
// writes to, kept for the exchange's life.
type clientRequest struct {
	method, scheme, host string
	port                 int
	authority, path      string
	version              string // "": HTTP/2 if ALPN says so, else HTTP/1.1; "1.1"; "2"
	verify               bool
	sni                  string
	noSNI                bool
	expect100            time.Duration
	maxAttempts          int
	proxyScheme          string // "": no proxy
	proxyHost            string
	proxyPort            int
	proxyAuth            string         // http(s) proxies: the proxy-authorization of the CONNECT
	proxyUser, proxyPass string         // SOCKS5 proxies: RFC 1929's credentials ("" and "": none)
	streamed             bool           // the body comes in the script's writes, not in body
	fields               []http1.Header // in few, or made for many
	few                  [4]http1.Header
	body                 []byte
}

var errBadSpec = errors.New("malformed request from Lua")

// asksUpgrade reports whether r has an Upgrade field: a 101 answers it
// with another protocol on the connection.
func (r *clientRequest) asksUpgrade() bool {
	for _, f := range r.fields {
		if http1.EqualFold(f.Name, "upgrade") && len(f.Value) > 0 {
			return true
		}
	}
	return false
}

// netstrings reads netstrings from the front of b.
type netstrings struct{ b []byte }

func (n *netstrings) next() ([]byte, bool) {
	i := bytes.IndexByte(n.b, ':')
	if i < 1 || i > 10 {
		return nil, false
	}
	l, err := strconv.Atoi(string(n.b[:i]))
	if err != nil || l < 0 || l > len(n.b)-i-1 {
		return nil, false
	}
	v := n.b[i+1 : i+1+l]
	n.b = n.b[i+1+l:]
	return v, true
}

// str returns the next netstring as a string that shares its bytes:
// they must never change.
func (n *netstrings) str() (string, bool) {
	v, ok := n.next()
	return unsafe.String(unsafe.SliceData(v), len(v)), ok
}

func (n *netstrings) int() (int, bool) {
	v, ok := n.next()
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(v))
	return i, err == nil
}

// parse copies the request out of io into r.
func (r *clientRequest) parse(io []byte) error {
	n := netstrings{bytes.Clone(io)}
	ok := true
	get := func(p *string) {
		if ok {
			*p, ok = n.str()
		}
	}
	getInt := func(p *int) {
		if ok {
			*p, ok = n.int()
		}
	}
	var verify, noSNI, streamed string
	var expect, nfields int
	get(&r.method)
	get(&r.scheme)
	get(&r.host)
	getInt(&r.port)
	get(&r.authority)
	get(&r.path)
	get(&r.version)
	get(&verify)
	get(&r.sni)
	get(&noSNI)
	getInt(&expect)
	getInt(&r.maxAttempts)
	get(&r.proxyScheme)
	get(&r.proxyHost)
	getInt(&r.proxyPort)
	get(&r.proxyAuth)
	get(&r.proxyUser)
	get(&r.proxyPass)
	get(&streamed)
	getInt(&nfields)
	if !ok || nfields < 0 || nfields > len(n.b) {
		return errBadSpec
	}
	r.verify = verify != "0"
	r.noSNI = noSNI == "1"
	r.streamed = streamed == "1"
	r.expect100 = time.Duration(expect) * time.Millisecond
	r.fields = r.few[:0]
	if nfields > len(r.few) {
		r.fields = make([]http1.Header, 0, nfields)
	}
	for range nfields {
		name, ok1 := n.next()
		value, ok2 := n.next()
		if !ok1 || !ok2 {
			return errBadSpec
		}
		r.fields = append(r.fields, http1.Header{Name: name, Value: value})
	}
	r.body = n.b
	switch {
	case r.scheme != "http" && r.scheme != "https":
		return errors.New("scheme must be http or https, got " + strconv.Quote(r.scheme))
	case r.host == "":
		return errors.New("no host to connect to")
	case r.port < 1 || r.port > 65535:
		return errors.New("invalid port " + strconv.Itoa(r.port))
	case r.version != "" && r.version != "1.1" && r.version != "2":
		return errors.New("version must be 1.1 or 2, got " + strconv.Quote(r.version))
	case r.method == "" || !http1.ValidHeaderName([]byte(r.method)):
		return errors.New("invalid method " + strconv.Quote(r.method))
	case r.method != "CONNECT" && (r.path == "" || bytes.ContainsAny([]byte(r.path), " \r\n")):
		return errors.New("invalid path " + strconv.Quote(r.path))
	case bytes.ContainsAny([]byte(r.authority), " \r\n"):
		return errors.New("invalid authority " + strconv.Quote(r.authority))
	case r.streamed && len(r.body) > 0:
		return errBadSpec
	case r.proxyScheme != "" && r.proxyScheme != "http" && r.proxyScheme != "https" && r.proxyScheme != "socks5" && r.proxyScheme != "socks5h":
		return errors.New("unsupported proxy scheme " + strconv.Quote(r.proxyScheme))
	case r.proxyScheme != "" && r.proxyHost == "":
		return errors.New("no proxy host")
	case r.proxyScheme != "" && (r.proxyPort < 1 || r.proxyPort > 65535):
		return errors.New("invalid proxy port " + strconv.Itoa(r.proxyPort))
	case !http1.ValidHeaderValue([]byte(r.proxyAuth)):
		return errors.New("invalid proxy-authorization")
	}
	for _, f := range r.fields {
		if !http1.ValidHeaderName(f.Name) || !http1.ValidHeaderValue(f.Value) {
			return errors.New("invalid header field " + strconv.Quote(string(f.Name)))
		}
	}
	if r.maxAttempts < 1 {
		r.maxAttempts = 1
	}
	return nil
}

// idempotent reports whether the request may be sent again after a
// failure (RFC 9110 section 9.2.2).
func (r *clientRequest) idempotent() bool {
	switch r.method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// sendsLength reports whether the request states its body's length: it
// has a body, or its method usually has one (an empty POST says 0).
func (r *clientRequest) sendsLength() bool {
	if r.streamed {
		return false
	}
	if len(r.body) > 0 {
		return true
	}
	switch r.method {
	case "POST", "PUT", "PATCH":
		return true
	}
	return false
}

// skipField reports whether a field of the script's is left out of the
// request: the client frames the body and names the host itself.
func skipField(name []byte) bool {
	return http1.EqualFold(name, "host") || http1.EqualFold(name, "content-length") || http1.EqualFold(name, "transfer-encoding")
}

// appendHTTP1Head writes the request's HTTP/1.1 head into dst.
func (r *clientRequest) appendHTTP1Head(dst []byte) []byte {
	target := r.path
	if r.method == "CONNECT" {
		target = r.authority
	}
	dst = http1.AppendRequestLine(dst, []byte(r.method), []byte(target), 1)
	if r.authority != "" {
		dst = http1.AppendHeader(dst, []byte("host"), []byte(r.authority))
	}
	for _, f := range r.fields {
		if !skipField(f.Name) {
			dst = http1.AppendHeader(dst, f.Name, f.Value)
		}
	}
	if r.sendsLength() {
		dst = append(dst, "content-length: "...)
		dst = strconv.AppendInt(dst, int64(len(r.body)), 10)
		dst = append(dst, "\r\n"...)
	}
	if r.streamed {
		dst = append(dst, "transfer-encoding: chunked\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendConnect writes the CONNECT that opens a tunnel to the origin's
// server through its HTTP proxy.
func (o *origin) appendConnect(dst []byte) []byte {
	target := []byte(net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	dst = http1.AppendRequestLine(dst, []byte("CONNECT"), target, 1)
	dst = http1.AppendHeader(dst, []byte("host"), target)
	if o.proxyAuth != "" {
		dst = http1.AppendHeader(dst, []byte("proxy-authorization"), []byte(o.proxyAuth))
	}
	return append(dst, "\r\n"...)
}

// expects100 reports whether the body waits for the server's 100 (or
// the expect-100 timeout) before it leaves.
func (r *clientRequest) expects100() bool {
	if r.expect100 <= 0 || (len(r.body) == 0 && !r.streamed) {
		return false
	}
	for _, f := range r.fields {
		if http1.EqualFold(f.Name, "expect") && bytes.EqualFold(bytes.TrimSpace(f.Value), []byte("100-continue")) {
			return true
		}
	}
	return false
}

// appendHead writes a response head for Lua: the status line of the
// format above, then the fields, names lower-cased. The parsers refuse a
// reason with CR or LF.
func appendHead(dst []byte, status int, version string, reason []byte, n int, field func(int) ([]byte, []byte)) []byte {
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, version...)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, '\n')
	return appendFields(dst, n, field)
}

// appendFields writes "N\n" and n fields, "name\nvalue\n", names
// lower-cased.
func appendFields(dst []byte, n int, field func(int) ([]byte, []byte)) []byte {
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, '\n')
	for i := range n {
		name, value := field(i)
		start := len(dst)
		dst = append(dst, name...)
		for j := start; j < len(dst); j++ {
			if c := dst[j]; 'A' <= c && c <= 'Z' {
				dst[j] = c + 'a' - 'A'
			}
		}
		dst = append(dst, '\n')
		dst = append(dst, value...)
		dst = append(dst, '\n')
	}
	return dst
}
