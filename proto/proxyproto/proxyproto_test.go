package proxyproto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// tlv builds one TLV.
func tlv(typ byte, v string) string {
	var b []byte
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return string(append(b, v...))
}

// v2 builds a version 2 header: ver/cmd and family bytes, the address
// block and TLVs; withCRC appends a CRC32C TLV computed over it.
func v2(verCmd, fam byte, addrs string, withCRC bool, tlvs ...string) []byte {
	body := addrs + strings.Join(tlvs, "")
	if withCRC {
		body += tlv(TypeCRC32C, "\x00\x00\x00\x00")
	}
	b := []byte(V2Signature)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	b = append(b, body...)
	if withCRC {
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b, castagnoli))
	}
	return b
}

func inet4(src, dst string, sp, dp uint16) string {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(append([]byte{}, s[:]...), d[:]...)
	b = binary.BigEndian.AppendUint16(b, sp)
	return string(binary.BigEndian.AppendUint16(b, dp))
}

func inet6(src, dst string, sp, dp uint16) string {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(append([]byte{}, s[:]...), d[:]...)
	b = binary.BigEndian.AppendUint16(b, sp)
	return string(binary.BigEndian.AppendUint16(b, dp))
}

// TestV1 follows section 2.1 of the specification: the text header.
func TestV1(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Header
	}{
		{"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", Header{Version: 1, Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", Header{Version: 1, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:65535")}},
		{"PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n", Header{Version: 1, Src: ap("10.0.0.1:0"), Dst: ap("10.0.0.2:0")}},
		{"PROXY UNKNOWN\r\n", Header{Version: 1, Local: true}},
		{"PROXY UNKNOWN ffff:f...f:ffff 1 2 3\r\n", Header{Version: 1, Local: true}},
	} {
		var h Header
		n, err := Parse([]byte(c.in+"GET / HTTP/1.1\r\n"), &h)
		if err != nil || n != len(c.in) || !reflect.DeepEqual(h, c.want) {
			t.Errorf("%q: n=%d err=%v %+v, want %d %+v", c.in, n, err, h, len(c.in), c.want)
		}
	}
}

func TestV1Refused(t *testing.T) {
	for _, in := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",     // no CR
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",       // a field missing
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 7\r\n", // one too many
		"PROXY TCP4 192.0.2.1  198.51.100.2 56324 443\r\n",  // two spaces
		"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",       // the wrong family
		"PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",         // the wrong family
		"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",   // port range
		"PROXY TCP4 192.0.2.1 198.51.100.2 080 443\r\n",     // leading zero
		"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",      // sign
		"PROXY TCP4 192.0.2.01 198.51.100.2 1 443\r\n",      // octal-looking
		"PROXY TCP4 192.0.2.1 fe80::1%eth0 1 443\r\n",       // zone
		"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",         // protocol
		"PROXY \r\n", // nothing
		"PROXY TCP4 " + strings.Repeat("1", 100) + " 1 2 3\r\n", // over 107 bytes
	} {
		var h Header
		if _, err := Parse([]byte(in), &h); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", in, err)
		}
	}
	// 107 bytes without an end of line cannot become a header.
	if _, err := Parse([]byte("PROXY TCP6 "+strings.Repeat("a", 96)), new(Header)); !errors.Is(err, ErrInvalid) {
		t.Errorf("107 bytes without CRLF: %v", err)
	}
}

func TestNotProxy(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\n", "\x16\x03\x01", "PRI * HTTP/2.0", "proxy TCP4", "\r\n\r\n\x01"} {
		if _, err := Parse([]byte(in), new(Header)); !errors.Is(err, ErrNotProxy) {
			t.Errorf("%q: %v, want ErrNotProxy", in, err)
		}
	}
}

// TestIncomplete: every beginning of a valid header asks for more.
func TestIncomplete(t *testing.T) {
	for _, full := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
		v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), true, tlv(TypeAuthority, "example.com")),
	} {
		for i := 1; i < len(full); i++ {
			if _, err := Parse(full[:i], new(Header)); !errors.Is(err, ErrIncomplete) {
				t.Errorf("%q: %v, want ErrIncomplete", full[:i], err)
			}
		}
		if n, err := Parse(full, new(Header)); err != nil || n != len(full) {
			t.Errorf("%q: %d %v", full, n, err)
		}
	}
}

// TestV2 follows section 2.2: the binary header and its TLVs.
func TestV2(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want Header
	}{
		{"inet", v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 56324, 443), false),
			Header{Version: 2, Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{"inet6", v2(0x21, 0x21, inet6("2001:db8::1", "2001:db8::2", 1, 2), false),
			Header{Version: 2, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:2")}},
		{"local", v2(0x20, 0x00, "", false), Header{Version: 2, Local: true}},
		{"local with addresses", v2(0x20, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), false), Header{Version: 2, Local: true}},
		{"unspec", v2(0x21, 0x00, "", false), Header{Version: 2, Local: true}},
		{"unix", v2(0x21, 0x31, strings.Repeat("\x00", 216), false), Header{Version: 2, Local: true}},
		{"local with a TLV", v2(0x20, 0x00, "", false, tlv(TypeNoop, "")), Header{Version: 2, Local: true, TLVs: []byte(tlv(TypeNoop, ""))}},
	} {
		var h Header
		in := append(append([]byte{}, c.in...), "rest"...)
		n, err := Parse(in, &h)
		if err != nil || n != len(c.in) || !reflect.DeepEqual(h, c.want) {
			t.Errorf("%s: n=%d err=%v\n got %+v\nwant %+v", c.name, n, err, h, c.want)
		}
	}
}

// The TLVs stay as they came; TLV finds each, the SSL TLV's sub-TLVs
// inside it.
func TestV2TLVs(t *testing.T) {
	ssl := tlv(TypeSSL, "\x07\x00\x00\x00\x00"+tlv(TypeSSLVersion, "TLSv1.3")+tlv(TypeSSLCN, "client.example")+tlv(TypeSSLCipher, "TLS_AES_128_GCM_SHA256"))
	tlvs := tlv(TypeALPN, "h2") + tlv(TypeAuthority, "example.com") + tlv(TypeNoop, "\x00\x00") + tlv(TypeUniqueID, "abc-123") + ssl + tlv(0xe0, "custom") + tlv(0xe0, "second")
	in := v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), true, tlvs)
	var h Header
	n, err := Parse(in, &h)
	if err != nil || n != len(in) || h.Src != ap("192.0.2.1:1") {
		t.Fatalf("n=%d err=%v %+v", n, err, h)
	}
	if crc := tlv(TypeCRC32C, string(in[len(in)-4:])); string(h.TLVs) != tlvs+crc {
		t.Fatalf("TLVs %q", h.TLVs)
	}
	for typ, want := range map[byte]string{TypeALPN: "h2", TypeAuthority: "example.com", TypeUniqueID: "abc-123", 0xe0: "custom",
		TypeSSLVersion: "TLSv1.3", TypeSSLCN: "client.example", TypeSSLCipher: "TLS_AES_128_GCM_SHA256", TypeSSL: ssl[3:]} {
		if v, ok := TLV(h.TLVs, typ); !ok || string(v) != want {
			t.Errorf("TLV 0x%02x: %q %v, want %q", typ, v, ok, want)
		}
	}
	for _, typ := range []byte{TypeNetNS, TypeSSLKeyAlg, 0xe1} {
		if v, ok := TLV(h.TLVs, typ); ok {
			t.Errorf("TLV 0x%02x: %q, want none", typ, v)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = Parse(in, &h) }); allocs != 0 {
		t.Errorf("Parse allocates %v times", allocs)
	}
}

func TestV2Refused(t *testing.T) {
	addr := inet4("192.0.2.1", "198.51.100.2", 1, 2)
	bad := v2(0x21, 0x11, addr, true, tlv(TypeAuthority, "example.com"))
	bad[len(bad)-1] ^= 1
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"version 1 bits", v2(0x11, 0x11, addr, false), ErrInvalid},
		{"command 2", v2(0x22, 0x11, addr, false), ErrInvalid},
		{"family 4", v2(0x21, 0x41, addr, false), ErrInvalid},
		{"datagram", v2(0x21, 0x12, addr, false), ErrInvalid},
		{"inet without a protocol", v2(0x21, 0x10, addr, false), ErrInvalid},
		{"short addresses", v2(0x21, 0x11, addr[:11], false), ErrInvalid},
		{"short inet6", v2(0x21, 0x21, addr, false), ErrInvalid},
		{"TLV past the end", v2(0x21, 0x11, addr, false, tlv(TypeAuthority, "example.com")[:5]), ErrInvalid},
		{"TLV header cut", v2(0x21, 0x11, addr, false, "\x02\x00"), ErrInvalid},
		{"short CRC", v2(0x21, 0x11, addr, false, tlv(TypeCRC32C, "\x00\x00")), ErrInvalid},
		{"wrong CRC", bad, ErrChecksum},
		{"short SSL", v2(0x21, 0x11, addr, false, tlv(TypeSSL, "\x01\x00")), ErrInvalid},
		{"SSL sub-TLV cut", v2(0x21, 0x11, addr, false, tlv(TypeSSL, "\x01\x00\x00\x00\x00\x21\x00\x09TLS")), ErrInvalid},
	} {
		if _, err := Parse(c.in, new(Header)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRefusalAllocatesNothing(t *testing.T) {
	bad := v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), true, tlv(TypeAuthority, "example.com"))
	bad[len(bad)-1] ^= 1
	inputs := [][]byte{bad, []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 99999\r\n"), []byte("GET / HTTP/1.1\r\n"), []byte("PROXY TCP4 1.2")}
	var h Header
	if n := testing.AllocsPerRun(100, func() {
		for _, in := range inputs {
			_, _ = Parse(in, &h)
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestRoundTrip: what AppendV1 and AppendV2 write, Parse reads back.
func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		src, dst netip.AddrPort
		want     Header
	}{
		{ap("192.0.2.1:56324"), ap("198.51.100.2:443"), Header{Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{ap("[2001:db8::1]:1"), ap("[2001:db8::2]:2"), Header{Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:2")}},
		{ap("[::ffff:192.0.2.1]:5"), ap("198.51.100.2:6"), Header{Src: ap("192.0.2.1:5"), Dst: ap("198.51.100.2:6")}},
		{ap("192.0.2.1:5"), ap("[2001:db8::2]:6"), Header{Src: ap("[::ffff:192.0.2.1]:5"), Dst: ap("[2001:db8::2]:6")}},
		{netip.AddrPort{}, netip.AddrPort{}, Header{Local: true}},
	} {
		for v, appendFn := range map[int]func([]byte, netip.AddrPort, netip.AddrPort) []byte{1: AppendV1, 2: AppendV2} {
			b := appendFn(nil, c.src, c.dst)
			var h Header
			n, err := Parse(b, &h)
			want := c.want
			want.Version = v
			if err != nil || n != len(b) || !reflect.DeepEqual(h, want) {
				t.Errorf("v%d %v %v: %q: n=%d err=%v %+v, want %+v", v, c.src, c.dst, b, n, err, h, want)
			}
		}
	}
	if got := string(AppendV1(nil, ap("192.0.2.1:56324"), ap("198.51.100.2:443"))); got != "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" {
		t.Errorf("v1: %q", got)
	}
}

func BenchmarkParseV2(b *testing.B) {
	in := v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), true)
	var h Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseV1(b *testing.B) {
	in := []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")
	var h Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in, &h); err != nil {
			b.Fatal(err)
		}
	}
}
