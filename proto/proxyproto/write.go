package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// AppendV1 appends the version 1 header naming a client at src that
// connected to dst. Both IPv4 (IPv4-mapped IPv6 included) is "TCP4", else
// "TCP6"; an invalid address makes the "UNKNOWN" line, which tells the
// receiver to use the connection's own addresses (as for a health check).
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	if !src.IsValid() || !dst.IsValid() {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	b = append(b, V1Prefix...)
	if s.Is4() && d.Is4() {
		b = append(b, "TCP4 "...)
	} else {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
		b = append(b, "TCP6 "...)
	}
	b = s.AppendTo(b)
	b = append(b, ' ')
	b = d.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends the version 2 header naming a client at src that
// connected to dst, without TLVs; families as AppendV1. An invalid address
// makes a LOCAL command: the receiver uses the connection's own addresses.
func AppendV2(b []byte, src, dst netip.AddrPort) []byte {
	b = append(b, V2Signature...)
	if !src.IsValid() || !dst.IsValid() {
		return append(b, 0x20|cmdLocal, famUnspec<<4|protoUnspec, 0, 0)
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if s.Is4() && d.Is4() {
		b = append(b, 0x20|cmdProxy, famInet<<4|protoStream, 0, 12)
		s4, d4 := s.As4(), d.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
	} else {
		b = append(b, 0x20|cmdProxy, famInet6<<4|protoStream, 0, 36)
		s16, d16 := s.As16(), d.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
