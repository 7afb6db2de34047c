package backend

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/cespare/xxhash/v2"
)

// DynamicCookie is the persistence cookie's value HAProxy gives a server
// at address (IP[:PORT]) with "cookie ... dynamic" and the backend's
// dynamic-cookie-key key: the XXH64 (seed 0) of the key, the IP's bytes
// (4 for IPv4, 16 for IPv6) and the port as 4 bytes in network order, in
// 16 hex digits, so that a cookie issued by HAProxy names the same server
// here. It is "" for an address that is not an IP.
func DynamicCookie(key, address string) string {
	var ip netip.Addr
	var port uint16
	if ap, err := netip.ParseAddrPort(address); err == nil {
		ip, port = ap.Addr(), ap.Port()
	} else if a, err := netip.ParseAddr(address); err == nil {
		ip = a
	} else {
		return ""
	}
	ip = ip.Unmap()
	b := append([]byte(key), ip.AsSlice()...)
	b = binary.BigEndian.AppendUint32(b, uint32(port))
	return fmt.Sprintf("%016x", xxhash.Sum64(b))
}
