package httpenc

import (
	"bytes"
	"testing"
)

// FuzzNegotiate: whatever Accept-Encoding says, the choice is one of the
// codings offered (or none), and one the field names (or "*" covers).
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0.5, deflate", "*;q=0", "x-gzip;q=1.000, br", "deflate;q=0., *", ";;,q=1", "GZIP ; Q=0.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ae string) {
		for _, offered := range [][]Coding{{Gzip, Deflate}, {Deflate, Gzip}, {Deflate}, {Gzip, Deflate, Brotli}} {
			c := Negotiate([][]byte{[]byte(ae)}, offered)
			if c == None {
				continue
			}
			lower := bytes.ToLower([]byte(ae))
			if bytes.IndexByte(lower, '*') < 0 && !bytes.Contains(lower, []byte(c.Name())) {
				t.Fatalf("%q offering %v: chose %s, which it does not name", ae, offered, c.Name())
			}
			found := false
			for _, o := range offered {
				found = found || o == c
			}
			if !found {
				t.Fatalf("%q: chose %s, not offered", ae, c.Name())
			}
		}
	})
}

// FuzzEncode: any body, cut into pieces anywhere, decodes to itself.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello, hello, hello"), uint16(3), byte(1))
	f.Add(text(5000), uint16(1000), byte(6))
	f.Add([]byte{}, uint16(0), byte(9))
	var e Encoder
	f.Fuzz(func(t *testing.T, body []byte, cut uint16, level byte) {
		for _, c := range []Coding{Gzip, Deflate, Brotli} {
			lvl := int(level%9) + 1
			if c == Brotli {
				lvl = int(level % (MaxQuality + 1))
			}
			var s State
			s.Start(c, lvl)
			var out []byte
			for rest := body; len(rest) > 0; {
				n := min(len(rest), int(cut)+1)
				out = append(out, e.Compress(&s, rest[:n])...)
				rest = rest[n:]
			}
			out = append(out, e.Finish(&s)...)
			if got := decode(t, c, out); !bytes.Equal(got, body) {
				t.Fatalf("%s level %d: %d bytes decode to %d", c.Name(), lvl, len(body), len(got))
			}
		}
	})
}
