package lj

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestHashes(t *testing.T) {
	// Known answers: crc32 and crc32c are the standard IEEE and Castagnoli
	// checksums; djb2, sdbm, wt6 and the avalanche follow HAProxy's hash.c.
	for _, tc := range []struct {
		alg, in string
		aval    bool
		want    uint32
	}{
		{"crc32", "abc", false, 891568578},
		{"crc32", "abc", true, 930845320},
		{"crc32", "", false, 0},
		{"crc32c", "abc", false, 0x364b3fb7},
		{"djb2", "abc", false, 193485963},
		{"djb2", "abc", true, 2235766107},
		{"djb2", "", false, 5381},
		{"djb2", "hello world", false, 894552257},
		{"djb2", "\xff\x80\x01", false, 193658917},
		{"sdbm", "abc", false, 807794786},
		{"sdbm", "hello world", false, 430867652},
		{"sdbm", "", true, 2874071335},
		{"wt6", "abc", false, 2483038440},
		{"wt6", "", false, 4187620192},
		{"wt6", "hello world", false, 1866899626},
		{"wt6", "\xff\x80\x01", false, 879659207},
		{"wt6", "abc", true, 266135527},
	} {
		got, ok := hashString(tc.alg, tc.in, tc.aval)
		if !ok || got != tc.want {
			t.Errorf("%s(%q, %v) = %d, want %d", tc.alg, tc.in, tc.aval, got, tc.want)
		}
	}
	if _, ok := hashString("md4", "", false); ok {
		t.Error("unknown hash accepted")
	}
	if fullHash(0) != 2874071335 {
		t.Errorf("fullHash(0) = %d", fullHash(0))
	}
}

func TestDigests(t *testing.T) {
	for _, tc := range []struct{ alg, in, want string }{
		{"sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha224", "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
		{"sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha384", "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{"sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	} {
		d, ok := digest(tc.alg, tc.in)
		if !ok || hex.EncodeToString([]byte(d)) != tc.want {
			t.Errorf("%s(%q) = %x", tc.alg, tc.in, d)
		}
	}
}

func TestBase64(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"aGVsbG8=", "hello", true},
		{"", "", true},
		{"aGVsbG8", "", false},     // no padding
		{"aGVs\nbG8=", "", false},  // no line breaks
		{"aGVsbG8*", "", false},    // bad character
		{"aGV=bG8=", "", false},    // padding inside
		{"_-8=", "", false},        // url alphabet
		{"//8=", "\xff\xff", true}, // std alphabet
		{"aGVsbG9=", "", false},    // non-zero trailing bits
		{"YQ==", "a", true},
	} {
		got, ok := base64Dec(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("base64Dec(%q) = %q, %v", tc.in, got, ok)
		}
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"_-8", "\xff\xef", true},
		{"_-8=", "\xff\xef", true},
		{"//8", "", false},
		{"YQ", "a", true},
	} {
		got, ok := base64URLDec(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("base64URLDec(%q) = %q, %v", tc.in, got, ok)
		}
	}
}

func TestJSONEscape(t *testing.T) {
	for _, tc := range []struct {
		in, mode, want string
		ok             bool
	}{
		{`Very "Ugly" UA 1/2`, "ascii", `Very \"Ugly\" UA 1\/2`, true},
		{"a\\b\b\f\n\r\t\x01\x7f", "ascii", `a\\b\b\f\n\r\t\u0001\u007f`, true},
		{"caf\xc3\xa9", "ascii", `caf\u00c3\u00a9`, true},
		{"caf\xc3\xa9", "utf8", `caf\u00e9`, true},
		{"\xe2\x82\xac", "utf8", `\u20ac`, true},
		{"a\xffb", "utf8", "", false},
		{"a\xffb", "utf8s", "ab", true},
		{"a\xffb", "utf8p", "", false},
		{"a\xffb", "utf8ps", "ab", true},
		{"\xc1\x81", "utf8", "", false},      // overlong 'A'
		{"\xc1\x81", "utf8s", "", true},      // dropped
		{"\xc1\x81", "utf8p", "A", true},     // fixed
		{"\xc1\x81x", "utf8ps", "Ax", true},  // fixed
		{"\xed\xa0\x80", "utf8p", "", false}, // surrogate: invalid range
		{"\xed\xa0\x80z", "utf8ps", "z", true},
		{"\xf0\x9f\x98\x80", "utf8", "", false}, // above U+FFFF
		{"\xf0\x9f\x98\x80!", "utf8s", "!", true},
		{"\xc3", "utf8", "", false}, // truncated
		{"\xc3(", "utf8s", "(", true},
	} {
		got, ok := jsonEscape(tc.in, tc.mode)
		if ok != tc.ok || got != tc.want {
			t.Errorf("json(%q, %s) = %q, %v; want %q, %v", tc.in, tc.mode, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRegsub(t *testing.T) {
	for _, tc := range []struct {
		in, re, subst string
		icase, global bool
		want          string
	}{
		{"/////a///b/c/xzxyz/", "/+", "/", false, true, "/a/b/c/xzxyz/"},
		{"?;&a=1", "[?;&]*", "", false, false, "a=1"},
		{"/FOO12/bar", "(foo|bar)([0-9]+)?", `\2\1`, true, false, "/12FOO/bar"},
		{"/foo12/bar", "(foo|bar)([0-9]+)?", `\2\1`, false, true, "/12foo/bar"},
		{"abc", "x*", "-", false, true, "-a-b-c-"},
		{"abc", "b", `[\0]`, false, false, "a[b]c"},
		{"abc", "b", `\x41\q\`, false, false, "aAqc"},
		{"abc", "(z)?b", `<\1\9>`, false, false, "a<>c"},
		{"aaa", "^a", "b", false, true, "baa"},
		{"no match", "x", "y", false, true, "no match"},
	} {
		re, err := regsubRegex(tc.re, tc.icase)
		if err != nil {
			t.Fatal(err)
		}
		if got := regsub(tc.in, re, tc.subst, tc.global); got != tc.want {
			t.Errorf("regsub(%q, %q, %q) = %q, want %q", tc.in, tc.re, tc.subst, got, tc.want)
		}
	}
	a, _ := regsubRegex("x+", false)
	b, _ := regsubRegex("x+", false)
	if a != b {
		t.Error("regex not cached")
	}
	if _, err := regsubRegex("(?<=a)", false); err == nil {
		t.Error("lookbehind compiled")
	}
}

func TestIPMask(t *testing.T) {
	m6 := lenToMask6(64)
	for _, tc := range []struct {
		in   string
		m4   string
		m6   *[16]byte
		want string
		ok   bool
	}{
		{"192.168.1.77", "24", nil, "192.168.1.0", true},
		{"192.168.1.77", "255.255.0.0", nil, "192.168.0.0", true},
		{"192.168.1.77", "0", nil, "0.0.0.0", true},
		{"::ffff:10.1.2.3", "8", nil, "10.0.0.0", true},
		{"2001:db8:1:2:3:4:5:6", "24", &m6, "2001:db8:1:2::", true},
		{"2001:db8::1", "24", nil, "", false},
	} {
		in, ok := parseAddr(tc.in)
		if !ok {
			t.Fatal(tc.in)
		}
		m4, ok := parseMask4(tc.m4)
		if !ok {
			t.Fatal(tc.m4)
		}
		got, ok := ipmask(in, m4, tc.m6)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ipmask(%s, %s) = %q, %v", tc.in, tc.m4, got, ok)
		}
	}
	for _, bad := range []string{"33", "-1", "+8", "", "255.255.0.0.0", "x"} {
		if _, ok := parseMask4(bad); ok {
			t.Errorf("mask4 %q accepted", bad)
		}
	}
	if m, ok := parseMask6("ffff:ffff::"); !ok || m != lenToMask6(32) {
		t.Errorf("mask6 ffff:ffff:: = %x", m)
	}
	if _, ok := parseMask6("129"); ok {
		t.Error("mask6 129 accepted")
	}
}

// An input address is read as HAProxy casts a string: a leading IPv4
// address whatever follows it, else the whole string as IPv6.
func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when not an address
	}{
		{"10.1.1.1", "10.1.1.1"},
		{"10.1.1.1, 192.0.2.7", "10.1.1.1"},
		{"10.1.1.1:8080", "10.1.1.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"::ffff:10.1.2.3", "::ffff:10.1.2.3"},
		{"10.1.1", ""},
		{"10.1.1.1.", ""},
		{"10.1.1.256", ""},
		{"10..1.1", ""},
		{"x10.1.1.1", ""},
		{"2001:db8::1, 10.0.0.1", ""},
	} {
		in, ok := parseAddr(tc.in)
		got := ""
		if ok && in.is6 {
			got = netip.AddrFrom16(in.v6).Unmap().String()
			if strings.HasPrefix(tc.in, "::ffff:") {
				got = "::ffff:" + got
			}
		} else if ok {
			got = netip.AddrFrom4([4]byte{byte(in.v4 >> 24), byte(in.v4 >> 16), byte(in.v4 >> 8), byte(in.v4)}).String()
		}
		if got != tc.want {
			t.Errorf("parseAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
