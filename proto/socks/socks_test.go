package socks

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// The client's messages, byte for byte as RFC 1928 and RFC 1929 lay them
// out.
func TestClientMessages(t *testing.T) {
	if got := AppendGreeting(nil, false); !bytes.Equal(got, []byte{5, 1, 0}) {
		t.Errorf("greeting: % x", got)
	}
	if got := AppendGreeting(nil, true); !bytes.Equal(got, []byte{5, 2, 0, 2}) {
		t.Errorf("greeting with a password: % x", got)
	}
	got, err := AppendPasswordAuth(nil, "u", "pw")
	if err != nil || !bytes.Equal(got, []byte{1, 1, 'u', 2, 'p', 'w'}) {
		t.Errorf("password auth: % x %v", got, err)
	}
	if _, err := AppendPasswordAuth(nil, strings.Repeat("u", 256), ""); err != ErrTooLong {
		t.Errorf("a user of 256 bytes: %v", err)
	}
	got, err = AppendConnectName(nil, "a.test", 443)
	if err != nil || !bytes.Equal(got, []byte{5, 1, 0, 3, 6, 'a', '.', 't', 'e', 's', 't', 1, 187}) {
		t.Errorf("connect to a name: % x %v", got, err)
	}
	if _, err := AppendConnectName(nil, "", 443); err != ErrTooLong {
		t.Errorf("an empty name: %v", err)
	}
	got = AppendConnectAddr(nil, netip.MustParseAddr("10.0.0.1"), 80)
	if !bytes.Equal(got, []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}) {
		t.Errorf("connect to IPv4: % x", got)
	}
	got = AppendConnectAddr(nil, netip.MustParseAddr("::ffff:10.0.0.1"), 80) // a mapped address goes as IPv4
	if !bytes.Equal(got, []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}) {
		t.Errorf("connect to a mapped IPv4: % x", got)
	}
	got = AppendConnectAddr(nil, netip.MustParseAddr("::1"), 80)
	if len(got) != 22 || got[3] != 4 || got[19] != 1 || got[21] != 80 {
		t.Errorf("connect to IPv6: % x", got)
	}
}

func TestParseMethodAndAuth(t *testing.T) {
	for _, tc := range []struct {
		in     []byte
		n      int
		method byte
		err    error
	}{
		{nil, 0, 0, nil},
		{[]byte{5}, 0, 0, nil},
		{[]byte{5, 2, 9}, 2, MethodPassword, nil},
		{[]byte{5, 0xff}, 2, MethodNoAcceptable, nil},
		{[]byte{4, 0}, 0, 0, ErrVersion},
	} {
		n, m, err := ParseMethod(tc.in)
		if n != tc.n || m != tc.method || err != tc.err {
			t.Errorf("ParseMethod(% x) = %d, %d, %v", tc.in, n, m, err)
		}
	}
	if n, ok, err := ParseAuthReply([]byte{1, 0}); n != 2 || !ok || err != nil {
		t.Errorf("accepted: %d %v %v", n, ok, err)
	}
	if n, ok, err := ParseAuthReply([]byte{1, 1}); n != 2 || ok || err != nil {
		t.Errorf("refused: %d %v %v", n, ok, err)
	}
	if n, _, err := ParseAuthReply([]byte{1}); n != 0 || err != nil {
		t.Errorf("incomplete: %d %v", n, err)
	}
	if _, _, err := ParseAuthReply([]byte{5, 0}); err != ErrVersion {
		t.Errorf("wrong version: %v", err)
	}
}

// replies are the seed corpus of the reply parser: every address type,
// failures, and what a server may send that is not a reply.
var replies = [][]byte{
	{5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90},
	{5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90, 'd', 'a', 't', 'a'},
	{5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80},
	{5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 80},
	{5, 0, 0, 3, 0, 0, 80},
	{5, 5, 0, 1, 0, 0, 0, 0, 0, 0},
	{5, 2},
	{5, 0, 1, 1, 0, 0, 0, 0, 0, 0},
	{5, 0, 0, 9},
	{4, 0x5a, 0, 0},
	{'H', 'T', 'T', 'P', '/', '1', '.', '1'},
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		n    int
		code byte
		err  error
	}{
		{replies[0], 10, Succeeded, nil},
		{replies[1], 10, Succeeded, nil}, // the tunnel's bytes follow
		{replies[2], 22, Succeeded, nil},
		{replies[3], 11, Succeeded, nil},
		{replies[4], 7, Succeeded, nil},
		{replies[5], 4, ConnectionRefused, nil},
		{replies[6], 0, 0, nil}, // incomplete
		{replies[7], 0, 0, ErrReserved},
		{replies[8], 0, 0, ErrAddressType},
		{replies[9], 0, 0, ErrVersion},
		{replies[10], 0, 0, ErrVersion},
		{replies[0][:9], 0, 0, nil},
		{replies[3][:4], 0, 0, nil},
		{[]byte{'H'}, 0, 0, ErrVersion}, // known from the first byte
	} {
		n, code, err := ParseReply(tc.in)
		if n != tc.n || code != tc.code || err != tc.err {
			t.Errorf("ParseReply(% x) = %d, %d, %v; want %d, %d, %v", tc.in, n, code, err, tc.n, tc.code, tc.err)
		}
	}
	if ReplyText(NotAllowed) != "connection not allowed by ruleset" || ReplyText(42) != "unknown code 42" {
		t.Error("ReplyText")
	}
}

// The parser never reads past what it was given, never claims more than
// it was given, decides a complete reply the same however much follows,
// and calls every shorter prefix incomplete or an error.
func FuzzParseReply(f *testing.F) {
	for _, r := range replies {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, code, err := ParseReply(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("an error with n = %d", n)
			}
			return
		}
		if n > len(b) {
			t.Fatalf("n = %d of %d bytes", n, len(b))
		}
		if n == 0 {
			return
		}
		if n2, code2, err2 := ParseReply(b[:n]); n2 != n || code2 != code || err2 != nil {
			t.Fatalf("the reply alone: %d, %d, %v; with what follows: %d, %d", n2, code2, err2, n, code)
		}
		for k := 0; k < n; k++ {
			if n3, _, _ := ParseReply(b[:k]); n3 != 0 {
				t.Fatalf("prefix of %d bytes complete (%d) before the reply's %d", k, n3, n)
			}
		}
	})
}
