// Package socks is the client side of SOCKS version 5 (RFC 1928) with
// username/password authentication (RFC 1929): the messages a client
// sends, written into a caller's buffer, and the server's answers parsed
// from the front of what arrived. Only CONNECT is spoken. Nothing here
// does I/O; a parser given too few bytes says so (n == 0, no error) and
// is called again with more.
package socks

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Authentication methods (RFC 1928 section 3).
const (
	MethodNone         byte = 0x00
	MethodPassword     byte = 0x02
	MethodNoAcceptable byte = 0xff
)

// Reply codes (RFC 1928 section 6); Succeeded is the only success.
const (
	Succeeded              byte = 0x00
	GeneralFailure         byte = 0x01
	NotAllowed             byte = 0x02
	NetworkUnreachable     byte = 0x03
	HostUnreachable        byte = 0x04
	ConnectionRefused      byte = 0x05
	TTLExpired             byte = 0x06
	CommandNotSupported    byte = 0x07
	AddressTypeUnsupported byte = 0x08
)

const version = 5

var (
	// ErrVersion: the server does not speak SOCKS5 (or RFC 1929's
	// version 1 of its sub-negotiation).
	ErrVersion = errors.New("not SOCKS5")
	// ErrReserved: the reply's reserved byte is not zero.
	ErrReserved = errors.New("reserved field set to non-zero")
	// ErrAddressType: the reply names its bound address in a type RFC
	// 1928 does not define.
	ErrAddressType = errors.New("unknown address type")
	// ErrTooLong: a name, user or password over 255 bytes, which the
	// messages cannot carry.
	ErrTooLong = errors.New("over 255 bytes")
)

// AppendGreeting writes the client's first message: the methods it
// offers, no authentication and, if password, username/password.
func AppendGreeting(dst []byte, password bool) []byte {
	if password {
		return append(dst, version, 2, MethodNone, MethodPassword)
	}
	return append(dst, version, 1, MethodNone)
}

// ParseMethod parses the server's choice of method: n is 2, or 0 while
// incomplete.
func ParseMethod(b []byte) (n int, method byte, err error) {
	if len(b) < 2 {
		return 0, 0, nil
	}
	if b[0] != version {
		return 0, 0, ErrVersion
	}
	return 2, b[1], nil
}

// AppendPasswordAuth writes the username/password request (RFC 1929).
func AppendPasswordAuth(dst []byte, user, password string) ([]byte, error) {
	if len(user) > 255 || len(password) > 255 {
		return dst, ErrTooLong
	}
	dst = append(dst, 1, byte(len(user)))
	dst = append(dst, user...)
	dst = append(dst, byte(len(password)))
	return append(dst, password...), nil
}

// ParseAuthReply parses the answer to the username/password request: n
// is 2, or 0 while incomplete; ok says the server accepted them.
func ParseAuthReply(b []byte) (n int, ok bool, err error) {
	if len(b) < 2 {
		return 0, false, nil
	}
	if b[0] != 1 {
		return 0, false, ErrVersion
	}
	return 2, b[1] == 0, nil
}

// AppendConnectName writes a CONNECT to name and port, the name for the
// server to resolve.
func AppendConnectName(dst []byte, name string, port uint16) ([]byte, error) {
	if len(name) == 0 || len(name) > 255 {
		return dst, ErrTooLong
	}
	dst = append(dst, version, 1, 0, 3, byte(len(name)))
	dst = append(dst, name...)
	return binary.BigEndian.AppendUint16(dst, port), nil
}

// AppendConnectAddr writes a CONNECT to an IPv4 or IPv6 address and port.
func AppendConnectAddr(dst []byte, addr netip.Addr, port uint16) []byte {
	addr = addr.Unmap()
	if addr.Is4() {
		a := addr.As4()
		dst = append(dst, version, 1, 0, 1)
		dst = append(dst, a[:]...)
	} else {
		a := addr.As16()
		dst = append(dst, version, 1, 0, 4)
		dst = append(dst, a[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, port)
}

// ParseReply parses the server's reply to the CONNECT: n is its length
// (the tunnel's bytes follow it), or 0 while incomplete; code is
// Succeeded or why the server did not connect. The bound address the
// reply carries is checked for its length only.
func ParseReply(b []byte) (n int, code byte, err error) {
	if len(b) < 4 {
		if len(b) > 0 && b[0] != version {
			return 0, 0, ErrVersion
		}
		return 0, 0, nil
	}
	if b[0] != version {
		return 0, 0, ErrVersion
	}
	code = b[1]
	if code != Succeeded {
		// The rest of a failure is of no use: the server closes.
		return 4, code, nil
	}
	if b[2] != 0 {
		return 0, 0, ErrReserved
	}
	switch b[3] {
	case 1:
		n = 4 + 4 + 2
	case 4:
		n = 4 + 16 + 2
	case 3:
		if len(b) < 5 {
			return 0, 0, nil
		}
		n = 5 + int(b[4]) + 2
	default:
		return 0, 0, ErrAddressType
	}
	if len(b) < n {
		return 0, 0, nil
	}
	return n, code, nil
}

// ReplyText is RFC 1928's name of a reply code.
func ReplyText(code byte) string {
	switch code {
	case Succeeded:
		return "succeeded"
	case GeneralFailure:
		return "general SOCKS server failure"
	case NotAllowed:
		return "connection not allowed by ruleset"
	case NetworkUnreachable:
		return "network unreachable"
	case HostUnreachable:
		return "host unreachable"
	case ConnectionRefused:
		return "connection refused"
	case TTLExpired:
		return "TTL expired"
	case CommandNotSupported:
		return "command not supported"
	case AddressTypeUnsupported:
		return "address type not supported"
	}
	return "unknown code " + strconv.Itoa(int(code))
}
