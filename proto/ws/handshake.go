package ws

import (
	"crypto/sha1"
	"encoding/base64"
)

// Version is the protocol version spoken here (Sec-WebSocket-Version,
// RFC 6455 §4.1).
const Version = "13"

// keyGUID is appended to a client's key before hashing (RFC 6455 §1.3).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptLen is the length of a Sec-WebSocket-Accept value: a SHA-1 digest
// in base64.
const AcceptLen = 28

// HandshakeError is an upgrade request that must be refused with Status:
// 400, or 426 (Upgrade Required) when the client speaks another version,
// with a "Sec-WebSocket-Version: 13" field saying which one we speak
// (RFC 6455 §4.2.2).
type HandshakeError struct {
	Status int
	Reason string
}

// Error returns e.Reason.
func (e *HandshakeError) Error() string { return e.Reason }

var (
	errMethod      = &HandshakeError{400, "ws: upgrade request method is not GET"}
	errHTTP10      = &HandshakeError{400, "ws: upgrade request in HTTP/1.0"}
	errNotUpgrade  = &HandshakeError{400, "ws: request is not a websocket upgrade"}
	errNoVersion   = &HandshakeError{400, "ws: missing Sec-WebSocket-Version"}
	errVersion     = &HandshakeError{426, "ws: unsupported Sec-WebSocket-Version"}
	errKey         = &HandshakeError{400, "ws: missing or invalid Sec-WebSocket-Key"}
	errKeyRepeated = &HandshakeError{400, "ws: more than one Sec-WebSocket-Key"}
)

// Offer is a client's opening handshake (RFC 6455 §4.2.1), gathered field
// by field from a parsed request. Its slices alias the request's buffer
// and are valid as long as it is. One Offer can be reused with Reset.
type Offer struct {
	key        []byte
	keys       int
	version    []byte
	versions   int
	upgrade    bool // Upgrade lists websocket
	connection bool // Connection lists upgrade
	protocols  [][]byte
	extensions [][]byte
}

// Options is what a server accepts.
type Options struct {
	// Protocols are the subprotocols spoken, preferred first.
	Protocols []string
	// Deflate accepts permessage-deflate offers.
	Deflate bool
}

// Response is what the 101 response must say.
type Response struct {
	// Accept is the Sec-WebSocket-Accept value.
	Accept [AcceptLen]byte
	// Protocol is the subprotocol chosen, one of Options.Protocols, or ""
	// when the client offered none of them (the client decides whether
	// to go on without).
	Protocol string
	// Deflate is the permessage-deflate agreement; Deflate.On is false
	// when there is none.
	Deflate Deflate
}

// Reset empties o for another request, keeping its capacity.
func (o *Offer) Reset() {
	*o = Offer{protocols: o.protocols[:0], extensions: o.extensions[:0]}
}

// AddField records one header field of the request, if the handshake
// cares about it. Names are matched case-insensitively.
func (o *Offer) AddField(name, value []byte) {
	switch len(name) {
	case 7:
		if equalFold(name, "upgrade") && hasToken(value, "websocket") {
			o.upgrade = true
		}
	case 10:
		if equalFold(name, "connection") && hasToken(value, "upgrade") {
			o.connection = true
		}
	case 17:
		if equalFold(name, "sec-websocket-key") {
			o.key = value
			o.keys++
		}
	case 21:
		if equalFold(name, "sec-websocket-version") {
			o.version = value
			o.versions++
		}
	case 22:
		if equalFold(name, "sec-websocket-protocol") {
			o.protocols = append(o.protocols, value)
		}
	case 24:
		if equalFold(name, "sec-websocket-extensions") {
			o.extensions = append(o.extensions, value)
		}
	}
}

// Accept checks the request (its method and HTTP minor version, and the
// fields added) and negotiates what opt accepts. It returns the response's
// fields or a *HandshakeError.
func (o *Offer) Accept(method []byte, minor int, opt *Options) (Response, error) {
	var res Response
	switch {
	case string(method) != "GET":
		return res, errMethod
	case minor < 1:
		return res, errHTTP10
	case !o.upgrade || !o.connection:
		return res, errNotUpgrade
	case o.versions == 0:
		return res, errNoVersion
	case o.versions > 1 || string(o.version) != Version:
		return res, errVersion
	case o.keys > 1:
		return res, errKeyRepeated
	case !validKey(o.key):
		return res, errKey
	}
	res.Accept = AcceptKey(o.key)
	res.Protocol = o.selectProtocol(opt.Protocols)
	if opt.Deflate {
		res.Deflate = negotiateDeflate(o.extensions)
	}
	return res, nil
}

// AcceptConnect checks an extended CONNECT of HTTP/2 (RFC 8441 §5) as a
// WebSocket opening handshake: its Sec-WebSocket-Version, then the
// subprotocol and permessage-deflate as Accept negotiates them. The
// method and :protocol are the caller's to check; there is no key, and
// Response.Accept is left empty: the answer is a 200 with
// sec-websocket-protocol (Response.Protocol, when not empty) and
// sec-websocket-extensions (Response.Deflate.AppendExtension, when On).
func (o *Offer) AcceptConnect(opt *Options) (Response, error) {
	var res Response
	switch {
	case o.versions == 0:
		return res, errNoVersion
	case o.versions > 1 || string(o.version) != Version:
		return res, errVersion
	}
	res.Protocol = o.selectProtocol(opt.Protocols)
	if opt.Deflate {
		res.Deflate = negotiateDeflate(o.extensions)
	}
	return res, nil
}

// selectProtocol returns the first of ours the client offered.
func (o *Offer) selectProtocol(ours []string) string {
	for _, p := range ours {
		for _, v := range o.protocols {
			for e, rest := nextElem(v); e != nil; e, rest = nextElem(rest) {
				if string(e) == p {
					return p
				}
			}
		}
	}
	return ""
}

// validKey reports whether k is 16 bytes in base64 (RFC 6455 §4.1): 22
// characters of the alphabet and "==".
func validKey(k []byte) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	for _, c := range k[:22] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
// (RFC 6455 §4.2.2): the base64 of the SHA-1 of the key and a fixed GUID.
func AcceptKey(key []byte) [AcceptLen]byte {
	var buf [24 + len(keyGUID)]byte
	sum := sha1.Sum(append(append(buf[:0], key...), keyGUID...))
	var a [AcceptLen]byte
	base64.StdEncoding.Encode(a[:], sum[:])
	return a
}

// AppendFields appends the 101 response's WebSocket fields, each line
// ending in CRLF: Upgrade, Connection, Sec-WebSocket-Accept, and
// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when negotiated. The
// caller writes the status line, its other fields and the final CRLF.
func (r *Response) AppendFields(dst []byte) []byte {
	dst = append(dst, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, r.Accept[:]...)
	dst = append(dst, "\r\n"...)
	if r.Protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, r.Protocol...)
		dst = append(dst, "\r\n"...)
	}
	if r.Deflate.On {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = r.Deflate.AppendExtension(dst)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// HandshakeField reports whether a response field named name is one that
// the 101 response must not carry from elsewhere: those AppendFields
// writes, and the framing of a body (a 101 has none).
func HandshakeField(name []byte) bool {
	for _, f := range [...]string{"upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
		"sec-websocket-extensions", "content-length", "transfer-encoding"} {
		if equalFold(name, f) {
			return true
		}
	}
	return false
}
