// Package proxyproto implements the PROXY protocol (versions 1 and 2, as
// HAProxy's proxy-protocol.txt specifies them): the header a proxy or load
// balancer sends first on a connection to name the client it carries, and
// the header luaedge sends to its own servers.
//
// Nothing here does I/O. Parse reads a header at the start of the bytes
// received so far and tells whether more are needed; it is stateless
// between calls, and allocates nothing: a v2 header's TLVs are checked
// and left where they are, for TLV to find the one asked for.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"unsafe"
)

// Header is what a PROXY header says about its connection.
type Header struct {
	// Version is 1 (the text form) or 2 (the binary form).
	Version int
	// Local: the header names no client (a v2 LOCAL command, a v1 UNKNOWN
	// line, or a v2 PROXY for an unspecified or Unix-socket family): the
	// connection's own addresses stand, as the specification asks.
	Local bool
	// Src is the client's address and port, Dst the address it connected
	// to; zero when Local.
	Src, Dst netip.AddrPort
	// TLVs are a v2 header's TLVs as they came, checked (each whole, the
	// CRC32C if one is there); nil when it has none. They alias the bytes
	// given to Parse: a caller that keeps them copies them.
	TLVs []byte
}

// Errors of Parse. ErrIncomplete means that the bytes so far are a valid
// beginning of a header: call again when more have arrived.
var (
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	ErrNotProxy   = errors.New("proxyproto: not a PROXY protocol header")
	ErrInvalid    = errors.New("proxyproto: invalid header")
	ErrChecksum   = errors.New("proxyproto: CRC32C of the header does not match")
)

// V1Prefix starts a version 1 header; V2Signature a version 2 one.
const (
	V1Prefix    = "PROXY "
	V2Signature = "\r\n\r\n\x00\r\nQUIT\n"
)

// Sizes the specification sets: a v1 line is at most 107 bytes with its
// CRLF; a v2 header has 16 fixed bytes and up to 65535 after them.
const (
	MaxV1Length = 107
	v2Fixed     = 16
	MaxV2Length = v2Fixed + 0xffff
)

// Parse reads the PROXY header at the start of b into h and returns its
// length: the bytes after it are the connection's own. A b that cannot
// start a header is ErrNotProxy; a broken header is ErrInvalid (or
// ErrChecksum).
func Parse(b []byte, h *Header) (int, error) {
	switch {
	case len(b) == 0:
		return 0, ErrIncomplete
	case hasPrefix(b, V2Signature):
		return parseV2(b, h)
	case hasPrefix(b, V1Prefix):
		return parseV1(b, h)
	}
	return 0, ErrNotProxy
}

// hasPrefix reports whether b starts with p, or with as much of p as b
// holds (a beginning worth waiting for).
func hasPrefix(b []byte, p string) bool {
	n := min(len(b), len(p))
	return n > 0 && string(b[:n]) == p[:n]
}

// parseV1 reads "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY
// UNKNOWN ...\r\n".
func parseV1(b []byte, h *Header) (int, error) {
	end := bytes.IndexByte(b[:min(len(b), MaxV1Length)], '\n')
	if end < 0 {
		if len(b) >= MaxV1Length {
			return 0, ErrInvalid
		}
		return 0, ErrIncomplete
	}
	if end < 1 || b[end-1] != '\r' {
		return 0, ErrInvalid
	}
	line := b[len(V1Prefix) : end-1]
	n := end + 1
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		// Whatever follows is to be ignored.
		*h = Header{Version: 1, Local: true}
		return n, nil
	case "TCP4", "TCP6":
	default:
		return 0, ErrInvalid
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < 3) || len(f[i]) == 0 {
			return 0, ErrInvalid
		}
	}
	src, err1 := parseAddr(f[0], proto[3] == '4')
	dst, err2 := parseAddr(f[1], proto[3] == '4')
	sp, ok1 := parsePort(f[2])
	dp, ok2 := parsePort(f[3])
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return 0, ErrInvalid
	}
	*h = Header{Version: 1, Src: netip.AddrPortFrom(src, sp), Dst: netip.AddrPortFrom(dst, dp)}
	return n, nil
}

// parseAddr reads an address of the v1 family (4: dotted quad, else IPv6
// text).
func parseAddr(b []byte, v4 bool) (netip.Addr, error) {
	// Only the characters of addresses: without a zone ('%'), the Addr
	// that ParseAddr returns keeps nothing of its argument, which can
	// therefore alias b rather than be a copy.
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return netip.Addr{}, ErrInvalid
		}
	}
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil || a.Is4() != v4 {
		return netip.Addr{}, ErrInvalid
	}
	return a, nil
}

// parsePort reads a decimal port, 0 to 65535, without a sign or leading
// zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 0xffff
}

// The v2 header's fields.
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoUnspec = 0x0
	protoStream = 0x1
)

// TLV types (PP2_TYPE_*) and the SSL TLV's sub-types.
const (
	TypeALPN       = 0x01
	TypeAuthority  = 0x02
	TypeCRC32C     = 0x03
	TypeNoop       = 0x04
	TypeUniqueID   = 0x05
	TypeSSL        = 0x20
	TypeSSLVersion = 0x21
	TypeSSLCN      = 0x22
	TypeSSLCipher  = 0x23
	TypeSSLSigAlg  = 0x24
	TypeSSLKeyAlg  = 0x25
	TypeNetNS      = 0x30
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	zeros      [4]byte // the CRC32C TLV's value while it is computed
)

func parseV2(b []byte, h *Header) (int, error) {
	if len(b) < v2Fixed {
		return 0, ErrIncomplete
	}
	verCmd, fam := b[12], b[13]
	n := v2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return 0, ErrInvalid
	}
	cmd := verCmd & 0x0f
	if cmd != cmdLocal && cmd != cmdProxy {
		return 0, ErrInvalid
	}
	// A family must come with a stream: this header opens a TCP
	// connection.
	var addrLen int
	switch fam >> 4 {
	case famUnspec:
	case famInet:
		addrLen = 12
	case famInet6:
		addrLen = 36
	case famUnix:
		addrLen = 216
	default:
		return 0, ErrInvalid
	}
	if p := fam & 0x0f; p != protoStream && !(p == protoUnspec && fam>>4 == famUnspec) {
		return 0, ErrInvalid
	}
	if n-v2Fixed < addrLen {
		return 0, ErrInvalid
	}
	if len(b) < n {
		return 0, ErrIncomplete
	}
	hdr := b[:n]
	var out Header
	out.Version = 2
	a := hdr[v2Fixed:]
	switch {
	case cmd == cmdLocal || fam>>4 == famUnspec || fam>>4 == famUnix:
		// The addresses (if any) are not the client's: the connection's
		// own stand.
		out.Local = true
	case fam>>4 == famInet:
		out.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		out.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case fam>>4 == famInet6:
		out.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		out.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	}
	if err := checkTLVs(hdr, v2Fixed+addrLen); err != nil {
		return 0, err
	}
	if t := hdr[v2Fixed+addrLen:]; len(t) > 0 {
		out.TLVs = t
	}
	*h = out
	return n, nil
}

// checkTLVs checks that the TLVs from off fill hdr exactly, and the header's
// CRC32C when a TLV carries one; it allocates nothing.
func checkTLVs(hdr []byte, off int) error {
	for t := hdr[off:]; len(t) > 0; {
		typ, v, rest, ok := nextTLV(t)
		if !ok {
			return ErrInvalid
		}
		switch typ {
		case TypeCRC32C:
			if len(v) != 4 {
				return ErrInvalid
			}
			// The checksum is of the whole header with its own value as
			// zeros.
			at := len(hdr) - len(rest) - 4
			crc := crc32.Update(0, castagnoli, hdr[:at])
			crc = crc32.Update(crc, castagnoli, zeros[:])
			crc = crc32.Update(crc, castagnoli, hdr[at+4:])
			if crc != binary.BigEndian.Uint32(v) {
				return ErrChecksum
			}
		case TypeSSL:
			if len(v) < 5 {
				return ErrInvalid
			}
			for s := v[5:]; len(s) > 0; {
				if _, _, s, ok = nextTLV(s); !ok {
					return ErrInvalid
				}
			}
		}
		t = rest
	}
	return nil
}

// TLV returns the value of the first TLV of type typ in tlvs (a
// Header's), and whether there is one. The SSL TLV's sub-TLVs (types
// 0x21 to 0x25) are found inside it. The value aliases tlvs.
func TLV(tlvs []byte, typ byte) ([]byte, bool) {
	for t := tlvs; len(t) > 0; {
		tt, v, rest, ok := nextTLV(t)
		if !ok {
			return nil, false
		}
		if tt == typ {
			return v, true
		}
		if tt == TypeSSL && typ > TypeSSL && typ <= TypeSSLKeyAlg && len(v) >= 5 {
			if sv, ok := TLV(v[5:], typ); ok {
				return sv, true
			}
		}
		t = rest
	}
	return nil, false
}

// nextTLV splits the TLV at the start of t; ok is false if t is too short
// for it.
func nextTLV(t []byte) (typ byte, v, rest []byte, ok bool) {
	if len(t) < 3 {
		return 0, nil, nil, false
	}
	n := 3 + int(binary.BigEndian.Uint16(t[1:3]))
	if len(t) < n {
		return 0, nil, nil, false
	}
	return t[0], t[3:n], t[n:], true
}
