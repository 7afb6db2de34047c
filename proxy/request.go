package proxy

import (
	"bytes"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
)

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

// wantsWebSocket reports whether an HTTP/1.1 request asks to upgrade to
// WebSocket (Upgrade: websocket, Connection: upgrade): forwarded, it keeps
// those fields, which are otherwise the client connection's only.
func wantsWebSocket(s *cgo.Stream) bool {
	if s.Kind() != cgo.KindHTTP1 {
		return false
	}
	var upgrade, connection bool
	for i, n := 0, s.NumFields(); i < n; i++ {
		name, value := s.Field(i)
		switch {
		case http1.EqualFold(name, "upgrade"):
			upgrade = upgrade || listed(value, []byte("websocket"))
		case http1.EqualFold(name, "connection"):
			connection = connection || listed(value, []byte("upgrade"))
		}
	}
	return upgrade && connection
}

// extendedConnect reports whether an HTTP/2 request is a WebSocket's
// extended CONNECT (RFC 8441): forwarded, it becomes an HTTP/1.1 Upgrade.
func extendedConnect(s *cgo.Stream) bool {
	return s.Kind() == cgo.KindHTTP2 && string(s.Method()) == "CONNECT" && http1.EqualFold(s.Protocol(), "websocket")
}

// serverName is HAProxy's http-send-name-header: field (lower case; "":
// none) set to name, the server's the request goes to, in place of any
// the client sent.
type serverName struct{ field, name string }

func (sn serverName) replaces(name []byte) bool {
	return sn.field != "" && http1.EqualFold(name, sn.field)
}

// requestHead serialises the request as the scripts left it, for an
// HTTP/1.1 server. An HTTP/1.0 client's request goes as HTTP/1.0 with
// "connection: keep-alive" (the server connection is pooled), as HAProxy
// 2.6 sends it; as HTTP/1.1 when its body must go chunked (a length only
// a script's change made unknown). upgrade keeps a WebSocket upgrade's fields, and
// noExtensions drops its Sec-WebSocket-Extensions (ws_filters read plain
// messages). An extended CONNECT (RFC 8441) goes as the opening handshake
// of HTTP/1.1 (RFC 6455 §4.1) with key, its Sec-WebSocket-Key (nil for any
// other request): a GET with Upgrade; its Sec-WebSocket-Version,
// -Protocol and -Extensions fields are the client's. The bytes are the
// pool's scratch: valid until the next call.
func (p *Pool) requestHead(s *cgo.Stream, chunked, upgrade, noExtensions bool, key []byte, ps *persist, sn serverName) []byte {
	method := s.Method()
	if key != nil {
		method = []byte("GET")
	}
	minor := 1
	if major, m := s.Version(); s.Kind() == cgo.KindHTTP1 && major == 1 && m == 0 && !chunked && !upgrade {
		minor = 0
	}
	b := http1.AppendRequestLine(p.head[:0], method, s.Target(), minor)
	tokens := connectionTokens(p.tokens[:0], s.NumFields(), s.Field)
	p.tokens = tokens
	for i, n := 0, s.NumFields(); i < n; i++ {
		name, value := s.Field(i)
		if len(name) == 0 || isHopByHop(name) || (len(tokens) > 0 && listed(tokens, name)) ||
			(noExtensions && http1.EqualFold(name, "sec-websocket-extensions")) ||
			(key != nil && http1.EqualFold(name, "sec-websocket-key")) || sn.replaces(name) {
			continue
		}
		if http1.EqualFold(name, "cookie") {
			if value = ps.forwardCookie(value); value == nil {
				continue
			}
		}
		b = http1.AppendHeader(b, name, value)
	}
	if sn.field != "" {
		b = http1.AppendHeader(b, []byte(sn.field), []byte(sn.name))
	}
	if chunked {
		b = append(b, "transfer-encoding: chunked\r\n"...)
	}
	if upgrade {
		b = append(b, "connection: upgrade\r\nupgrade: websocket\r\n"...)
	}
	if minor == 0 {
		b = append(b, "connection: keep-alive\r\n"...)
	}
	if key != nil {
		b = append(b, "sec-websocket-key: "...)
		b = append(b, key...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	p.head = b
	return b
}
