package tlshello

import (
	"crypto/tls"
	"net"
	"reflect"
	"testing"
	"time"
)

// clientHello returns the first bytes a Go TLS client sends with cfg.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, cfg)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake() // fails when s closes
		c.Close()
	}()
	buf := make([]byte, 1<<16)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := s.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestGoClientHello(t *testing.T) {
	b := clientHello(t, &tls.Config{ServerName: "a.example", NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	if v, st := HelloType(b); v != 1 || st != OK {
		t.Errorf("HelloType = %d, %v", v, st)
	}
	// Go sends 3.3 in the hello and TLS 1.3 in an extension.
	if v, st := Version(b); v != 0x30003 || st != OK {
		t.Errorf("Version = %#x, %v", v, st)
	}
	if v, st := SNI(b); v != "a.example" || st != OK {
		t.Errorf("SNI = %q, %v", v, st)
	}
	if v, st := ALPN(b); !reflect.DeepEqual(v, []string{"h2", "http/1.1"}) || st != OK {
		t.Errorf("ALPN = %q, %v", v, st)
	}
	if st := ECExt(b); st != OK {
		t.Errorf("ECExt = %v", st)
	}
	if v, st := SessionTicket(b); v != 1 || st != OK {
		t.Errorf("SessionTicket = %d, %v", v, st)
	}
	// Every shorter beginning asks for more.
	for i := 0; i < len(b); i++ {
		if _, st := SNI(b[:i]); st != Short {
			t.Fatalf("SNI of %d of %d bytes: %v, want Short", i, len(b), st)
		}
		if _, st := HelloType(b[:i]); st != Short {
			t.Fatalf("HelloType of %d of %d bytes: %v, want Short", i, len(b), st)
		}
	}
	// Without a name, ALPN or ticket extension.
	b = clientHello(t, &tls.Config{SessionTicketsDisabled: true, MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true})
	if _, st := SNI(b); st != No {
		t.Errorf("SNI without a name: %v", st)
	}
	if _, st := ALPN(b); st != No {
		t.Errorf("ALPN without the extension: %v", st)
	}
	if v, st := SessionTicket(b); v != 0 || st != OK {
		t.Errorf("SessionTicket without the extension = %d, %v", v, st)
	}
}

func TestNotTLS(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\n\r\n", "SSH-2.0-OpenSSH_9.0\r\n", "\x16\x02\x00\x00\x40\x01\x00\x00\x3c\x03\x03"} {
		b := []byte(in)
		if _, st := SNI(b); st != No {
			t.Errorf("SNI(%q) = %v", in, st)
		}
		if _, st := Version(b); st != No {
			t.Errorf("Version(%q) = %v", in, st)
		}
	}
	if _, st := HelloType([]byte("GET / HTTP/1.1\r\n")); st != No {
		t.Errorf("HelloType of HTTP: %v", st)
	}
	// An SSLv2 hello: 9 bytes of header, 3 bytes of ciphers, 16 of challenge.
	v2 := []byte{0x80, 9 + 3 + 16, 0x01, 0x03, 0x01, 0, 3, 0, 0, 0, 16, 0, 0, 0x0a}
	v2 = append(v2, make([]byte, 16)...)
	if v, st := Version(v2); v != 0x30001 || st != OK {
		t.Errorf("Version of an SSLv2 hello = %#x, %v", v, st)
	}
	if _, st := Version(v2[:len(v2)-1]); st != Short {
		t.Errorf("Version of a cut SSLv2 hello = %v", st)
	}
}
