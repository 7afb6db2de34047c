package proxyproto

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks what Parse promises for any input: it never reads past
// the header it reports, refusing is final (more bytes do not help), a
// shorter beginning of a header asks for more, and the addresses of a
// header that names a client survive being written again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.2", 1, 2), true, tlv(TypeAuthority, "example.com"), tlv(TypeUniqueID, "id")))
	f.Add(v2(0x21, 0x21, inet6("2001:db8::1", "2001:db8::2", 1, 2), false, tlv(TypeSSL, "\x01\x00\x00\x00\x00"+tlv(0x21, "TLSv1.3"))))
	f.Add(v2(0x20, 0x00, "", false))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Header
		n, err := Parse(in, &h)
		switch {
		case errors.Is(err, ErrIncomplete):
			if len(in) >= MaxV2Length {
				t.Fatalf("incomplete after %d bytes", len(in))
			}
			return
		case err != nil:
			// A refusal stands whatever follows.
			var h2 Header
			if _, err2 := Parse(append(append([]byte{}, in...), "\r\n\r\n"...), &h2); errors.Is(err2, ErrIncomplete) || err2 == nil && !errors.Is(err, ErrNotProxy) {
				t.Fatalf("refused (%v), then %v with more bytes", err, err2)
			}
			return
		}
		if n <= 0 || n > len(in) || h.Version != 1 && h.Version != 2 {
			t.Fatalf("n=%d of %d, version %d", n, len(in), h.Version)
		}
		if h.Version == 1 && n > MaxV1Length {
			t.Fatalf("v1 header of %d bytes", n)
		}
		for typ := range 256 {
			if v, ok := TLV(h.TLVs, byte(typ)); ok && len(v) > len(h.TLVs) {
				t.Fatalf("TLV 0x%02x of %d bytes in %d", typ, len(v), len(h.TLVs))
			}
		}
		var again Header
		if m, err := Parse(in[:n], &again); m != n || err != nil || !reflect.DeepEqual(h, again) {
			t.Fatalf("the header alone: %d %v", m, err)
		}
		for i := 1; i < n; i++ {
			if _, err := Parse(in[:i], new(Header)); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("%d bytes of a %d-byte header: %v", i, n, err)
			}
		}
		if h.Local {
			if h.Src.IsValid() || h.Dst.IsValid() {
				t.Fatalf("local with addresses %+v", h)
			}
			return
		}
		for _, write := range []func([]byte, Header) []byte{
			func(b []byte, h Header) []byte { return AppendV1(b, h.Src, h.Dst) },
			func(b []byte, h Header) []byte { return AppendV2(b, h.Src, h.Dst) },
		} {
			var back Header
			b := write(nil, h)
			if _, err := Parse(b, &back); err != nil || back.Src.Addr().Unmap() != h.Src.Addr().Unmap() || back.Dst.Port() != h.Dst.Port() {
				t.Fatalf("%+v written as %q: %+v %v", h, b, back, err)
			}
		}
	})
}
