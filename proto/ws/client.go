package ws

import (
	crand "crypto/rand"
	"encoding/base64"
	"errors"
)

// The client's side of the opening handshake (RFC 6455 §4.1): the request,
// and the checks of the server's answer.

// KeyLen is the length of a Sec-WebSocket-Key value: 16 bytes in base64.
const KeyLen = 24

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64.
// The RFC asks for a nonce chosen at random for each connection.
func NewKey() [KeyLen]byte {
	var nonce [16]byte
	crand.Read(nonce[:])
	var k [KeyLen]byte
	base64.StdEncoding.Encode(k[:], nonce[:])
	return k
}

// AppendRequest appends the opening handshake's request for target (the
// path and query, "/" at least) on host (the Host field: the URI's host,
// and its port unless the scheme's default), with key and the
// subprotocols offered (comma-separated tokens; "" for none), and
// permessage-deflate (ClientOffer) when deflate is set. extra is appended
// before the final CRLF: more header fields, each line ending in CRLF;
// the caller checks that they are fields and none of the handshake's own.
func AppendRequest(dst []byte, target, host string, key []byte, protocols, extra string, deflate bool) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: "+Version+"\r\n"...)
	if protocols != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, protocols...)
		dst = append(dst, "\r\n"...)
	}
	if deflate {
		dst = append(dst, "Sec-WebSocket-Extensions: "+ClientOffer+"\r\n"...)
	}
	dst = append(dst, extra...)
	return append(dst, "\r\n"...)
}

// Errors of a server's answer that fails the connection (RFC 6455 §4.1:
// "the client MUST Fail the WebSocket Connection").
var (
	ErrNotSwitching   = errors.New("ws: the server did not switch protocols (status is not 101)")
	errAnsUpgrade     = errors.New("ws: the server's 101 has no Upgrade: websocket")
	errAnsConnection  = errors.New("ws: the server's 101 has no Connection: upgrade")
	errAnsAccept      = errors.New("ws: the server's Sec-WebSocket-Accept does not match the key")
	errAnsProtocol    = errors.New("ws: the server chose a subprotocol that was not offered")
	errAnsExtension   = errors.New("ws: the server chose an extension that was not offered")
	errAnsDeflate     = errors.New("ws: the server's permessage-deflate parameters are invalid")
	errAnsMultiAccept = errors.New("ws: more than one Sec-WebSocket-Accept")
)

// Answer is a server's answer to the opening handshake, gathered field by
// field from its parsed head. Its slices alias the head's buffer and are
// valid as long as it is.
type Answer struct {
	upgrade    bool // Upgrade lists websocket
	connection bool // Connection lists upgrade
	accept     []byte
	accepts    int
	protocol   []byte
	protocols  int
	extensions [][]byte // the Sec-WebSocket-Extensions values
}

// AddField records one header field of the answer, if the handshake cares
// about it. Names are matched case-insensitively.
func (a *Answer) AddField(name, value []byte) {
	switch len(name) {
	case 7:
		if equalFold(name, "upgrade") && hasToken(value, "websocket") {
			a.upgrade = true
		}
	case 10:
		if equalFold(name, "connection") && hasToken(value, "upgrade") {
			a.connection = true
		}
	case 20:
		if equalFold(name, "sec-websocket-accept") {
			a.accept = value
			a.accepts++
		}
	case 22:
		if equalFold(name, "sec-websocket-protocol") {
			a.protocol = value
			a.protocols++
		}
	case 24:
		if equalFold(name, "sec-websocket-extensions") {
			a.extensions = append(a.extensions, value)
		}
	}
}

// Check checks the answer, whose status is status, to a request made with
// key offering protocols and, if deflate, permessage-deflate (as given to
// AppendRequest). It returns the subprotocol the server chose ("" for
// none) and the permessage-deflate agreement (its On false for none), or
// the error that fails the connection: ErrNotSwitching for any status but
// 101.
func (a *Answer) Check(status int, key []byte, protocols string, deflate bool) (string, Deflate, error) {
	if err := a.CheckSwitch(status, key); err != nil {
		return "", Deflate{}, err
	}
	d, err := a.deflate(deflate)
	if err != nil {
		return "", Deflate{}, err
	}
	if a.protocols == 0 {
		return "", d, nil
	}
	// One subprotocol, one of those offered (§4.1, point 6 of the checks).
	p := trimOWS(a.protocol)
	if a.protocols > 1 || len(p) == 0 {
		return "", Deflate{}, errAnsProtocol
	}
	for e, rest := nextElem([]byte(protocols)); e != nil; e, rest = nextElem(rest) {
		if string(e) == string(p) {
			return string(p), d, nil
		}
	}
	return "", Deflate{}, errAnsProtocol
}

// CheckSwitch checks that the answer switches to WebSocket for key: the
// status, Upgrade, Connection and Sec-WebSocket-Accept; not the
// subprotocol nor the extensions. A proxy that made the request for its
// own client, who negotiated those, checks this much.
func (a *Answer) CheckSwitch(status int, key []byte) error {
	switch {
	case status != 101:
		return ErrNotSwitching
	case !a.upgrade:
		return errAnsUpgrade
	case !a.connection:
		return errAnsConnection
	case a.accepts > 1:
		return errAnsMultiAccept
	}
	want := AcceptKey(key)
	if string(trimOWS(a.accept)) != string(want[:]) {
		return errAnsAccept
	}
	return nil
}

// deflate reads the extensions the server chose: nothing, or, when
// offered, permessage-deflate once, with valid parameters.
func (a *Answer) deflate(offered bool) (Deflate, error) {
	var d Deflate
	for _, v := range a.extensions {
		for e, rest := nextElem(v); e != nil; e, rest = nextElem(rest) {
			if len(e) == 0 {
				continue // an empty element of the list (RFC 9110 §5.6.1)
			}
			name, params := cut(e, ';')
			if !offered || d.On || !equalFold(trimOWS(name), ExtensionName) {
				return Deflate{}, errAnsExtension
			}
			var ok bool
			if d, ok = answerDeflate(params); !ok {
				return Deflate{}, errAnsDeflate
			}
		}
	}
	return d, nil
}
