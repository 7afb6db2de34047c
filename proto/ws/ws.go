// Package ws implements the WebSocket wire format (RFC 6455) and its
// permessage-deflate extension (RFC 7692) for an event-loop server: the
// checks and answer of the opening handshake (and, for clients, its
// request and the checks of the answer), a parser of complete frames, a
// per-connection Reader assembling messages, and a Writer appending frames.
//
// Nothing here does I/O and nothing starts a goroutine. The caller keeps a
// connection's unconsumed inbound bytes and calls again once more have
// arrived. A frame is parsed only once it is complete, and its payload is
// unmasked in place, so the caller must consume the bytes of a frame it was
// given and never parse them again. Refusing hostile input never allocates.
package ws

import "errors"

// Role says which end of a connection the codec plays: a server receives
// masked frames and sends unmasked ones, a client the reverse (RFC 6455
// §5.1).
type Role uint8

const (
	Server Role = iota
	Client
)

// Opcode is a frame's opcode (RFC 6455 §5.2).
type Opcode uint8

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong and
// the reserved 0xB–0xF).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// Close status codes (RFC 6455 §7.4.1, and the IANA registry for
// 1012–1014).
const (
	CloseNormal             uint16 = 1000
	CloseGoingAway          uint16 = 1001
	CloseProtocolError      uint16 = 1002
	CloseUnsupportedData    uint16 = 1003
	CloseNoStatus           uint16 = 1005 // never on the wire: a close frame without a code
	CloseAbnormal           uint16 = 1006 // never on the wire: the connection ended without a close frame
	CloseInvalidPayload     uint16 = 1007
	ClosePolicyViolation    uint16 = 1008
	CloseTooBig             uint16 = 1009
	CloseMandatoryExtension uint16 = 1010
	CloseInternalError      uint16 = 1011
	CloseServiceRestart     uint16 = 1012
	CloseTryAgainLater      uint16 = 1013
	CloseBadGateway         uint16 = 1014
)

// ValidCloseCode reports whether code may be sent in a close frame, and so
// whether a received one is acceptable: the codes defined for use on the
// wire (1000–1003, 1007–1014) and those of libraries and applications
// (3000–4999). 1004, 1005, 1006 and 1015 are reserved and never sent;
// anything else below 3000 is unassigned.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// Error is a violation of the protocol by the peer. The connection must be
// closed: send a close frame with Code (and Reason, if wanted), then stop
// reading.
type Error struct {
	Code   uint16
	Reason string
}

// Error returns e.Reason.
func (e *Error) Error() string { return e.Reason }

// ErrIncomplete reports that the frame at the start of the input is not
// complete yet: call again with more bytes.
var ErrIncomplete = errors.New("ws: incomplete frame")

// Errors are shared values so that refusing hostile input never allocates.
// Callers must not modify them.
var (
	errRSV           = &Error{CloseProtocolError, "ws: reserved bit set"}
	errOpcode        = &Error{CloseProtocolError, "ws: reserved opcode"}
	errControlFrag   = &Error{CloseProtocolError, "ws: fragmented control frame"}
	errControlLen    = &Error{CloseProtocolError, "ws: control frame payload over 125 bytes"}
	errUnmasked      = &Error{CloseProtocolError, "ws: unmasked frame from a client"}
	errMasked        = &Error{CloseProtocolError, "ws: masked frame from a server"}
	errLength        = &Error{CloseProtocolError, "ws: payload length with its top bit set"}
	errFrameTooBig   = &Error{CloseTooBig, "ws: frame too large"}
	errCloseLen      = &Error{CloseProtocolError, "ws: close payload of one byte"}
	errCloseCode     = &Error{CloseProtocolError, "ws: invalid close code"}
	errCloseUTF8     = &Error{CloseInvalidPayload, "ws: close reason is not UTF-8"}
	errNoMessage     = &Error{CloseProtocolError, "ws: continuation frame outside a message"}
	errMidMessage    = &Error{CloseProtocolError, "ws: new message before the last one ended"}
	errMessageTooBig = &Error{CloseTooBig, "ws: message too large"}
	errTextUTF8      = &Error{CloseInvalidPayload, "ws: text message is not UTF-8"}
	errInflate       = &Error{CloseInvalidPayload, "ws: invalid compressed data"}
	errInflateTooBig = &Error{CloseTooBig, "ws: message too large once inflated"}
)

// Limits bound what a Reader accepts. Zero (or negative) fields mean the
// defaults.
type Limits struct {
	// MaxFrame bounds a frame's payload: a frame must be buffered whole
	// before it is parsed, so this bounds the inbound buffer.
	MaxFrame int
	// MaxMessage bounds a message: its payload, inflated if it was
	// compressed, and also its compressed bytes.
	MaxMessage int
}

// Default limits used for zero fields of Limits.
const (
	DefaultMaxFrame   = 1 << 20
	DefaultMaxMessage = 1 << 20
)

func (l Limits) values() (frame, message int) {
	frame, message = l.MaxFrame, l.MaxMessage
	if frame <= 0 {
		frame = DefaultMaxFrame
	}
	if message <= 0 {
		message = DefaultMaxMessage
	}
	return
}
