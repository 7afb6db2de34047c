package tlshello

import "testing"

// FuzzHello checks what the fetches promise for any input: no panic, a
// value only with OK, and that an answer (OK or No) does not change when
// more bytes follow, since the rules stop waiting on it.
func FuzzHello(f *testing.F) {
	// testdata/fuzz/FuzzHello holds Go clients' ClientHellos.
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		more := append(append([]byte(nil), in...), 0x16, 0x03, 0x01, 0x00)
		name, st := SNI(in)
		if st != OK && name != "" {
			t.Fatalf("SNI gave %q with %v", name, st)
		}
		if st != Short {
			if name2, st2 := SNI(more); st2 != st || name2 != name {
				t.Fatalf("SNI %q %v became %q %v with more bytes", name, st, name2, st2)
			}
		}
		names, st := ALPN(in)
		if st != OK && len(names) > 0 {
			t.Fatalf("ALPN gave %q with %v", names, st)
		}
		if st != Short {
			if _, st2 := ALPN(more); st2 != st {
				t.Fatalf("ALPN %v became %v with more bytes", st, st2)
			}
		}
		if st := ECExt(in); st != Short && ECExt(more) != st {
			t.Fatalf("ECExt %v changed with more bytes", st)
		}
		if v, st := SessionTicket(in); st != Short {
			if v2, st2 := SessionTicket(more); v2 != v || st2 != st {
				t.Fatalf("SessionTicket %d %v became %d %v", v, st, v2, st2)
			}
		}
		if v, st := HelloType(in); st != Short {
			if v2, st2 := HelloType(more); v2 != v || st2 != st {
				t.Fatalf("HelloType %d %v became %d %v", v, st, v2, st2)
			}
		}
		if v, st := Version(in); st != Short && len(in) < RecvLimit {
			if v2, st2 := Version(more); v2 != v || st2 != st {
				t.Fatalf("Version %#x %v became %#x %v", v, st, v2, st2)
			}
		}
	})
}
