package sticktable

import (
	"fmt"
	"net/netip"
	"strconv"
)

// maxStringKey is the length string keys are cut to, HAProxy's default
// "len" of a string table.
const maxStringKey = 32

// Key normalises raw for the table's type, so that equal keys compare equal:
//
//   - ip: IPv4 text; an IPv4-mapped IPv6 address becomes IPv4, any other
//     IPv6 address is an error;
//   - ipv6: IPv6 text; an IPv4 address is mapped (::ffff:a.b.c.d) and a zone
//     is dropped;
//   - integer: a decimal 64-bit signed integer, without sign or leading zeros
//     when not needed;
//   - string: raw, cut to 32 bytes.
//
// The other methods take keys as returned by Key; they only cut string
// keys to length themselves, which costs nothing.
func (t *Table) Key(raw string) (string, error) {
	switch t.kind {
	case kindIP:
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return "", fmt.Errorf("sticktable %s: invalid ip key %q", t.name, raw)
		}
		a = a.Unmap()
		if !a.Is4() {
			return "", fmt.Errorf("sticktable %s: ip key %q is not an IPv4 address", t.name, raw)
		}
		return a.String(), nil
	case kindIPv6:
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return "", fmt.Errorf("sticktable %s: invalid ipv6 key %q", t.name, raw)
		}
		a = a.WithZone("")
		if a.Is4() {
			a = netip.AddrFrom16(a.As16())
		}
		return a.String(), nil
	case kindInteger:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return "", fmt.Errorf("sticktable %s: invalid integer key %q", t.name, raw)
		}
		return strconv.FormatInt(n, 10), nil
	default:
		return truncKey(raw), nil
	}
}

// truncKey cuts a string key to maxStringKey bytes.
func truncKey(s string) string {
	if len(s) > maxStringKey {
		return s[:maxStringKey]
	}
	return s
}
