package lj

import (
	"os"
	"strings"
	"testing"
)

func TestHTTPDates(t *testing.T) {
	const ts = 784111777 // Sun, 06 Nov 1994 08:49:37 GMT
	for _, tc := range []struct {
		parse func(string) (int64, bool)
		name  string
		in    string
		want  int64
		ok    bool
	}{
		{parseIMFDate, "imf", "Sun, 06 Nov 1994 08:49:37 GMT", ts, true},
		{parseIMFDate, "imf", "Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{parseIMFDate, "imf", "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800, true}, // leap second
		{parseIMFDate, "imf", "Sun, 6 Nov 1994 08:49:37 GMT", 0, false},
		{parseIMFDate, "imf", "sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{parseIMFDate, "imf", "Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{parseIMFDate, "imf", "Sun, 06 Nov 1994 08:49:37 GMT ", 0, false},
		{parseIMFDate, "imf", "Sun, 06 Nov 1994 24:49:37 GMT", 0, false},
		{parseIMFDate, "imf", "Sun, 00 Nov 1994 08:49:37 GMT", 0, false},
		{parseIMFDate, "imf", "Sunday, 06-Nov-94 08:49:37 GMT", 0, false},
		{parseRFC850Date, "rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", ts, true},
		{parseRFC850Date, "rfc850", "Sunday, 06-Nov-1994 08:49:37 GMT", ts, true},
		{parseRFC850Date, "rfc850", "Monday, 01-Jan-60 00:00:00 GMT", 2840140800, true}, // <= 60: 20xx
		{parseRFC850Date, "rfc850", "Monday, 01-Jan-61 00:00:00 GMT", -283996800, true},
		{parseRFC850Date, "rfc850", "Sun, 06-Nov-94 08:49:37 GMT", 0, false},
		{parseRFC850Date, "rfc850", "Sunday, 06 Nov 94 08:49:37 GMT", 0, false},
		{parseASCTimeDate, "asctime", "Sun Nov  6 08:49:37 1994", ts, true},
		{parseASCTimeDate, "asctime", "Sun Nov 06 08:49:37 1994", ts, true},
		{parseASCTimeDate, "asctime", "Sun Nov 6 08:49:37 1994", 0, false},
		{parseASCTimeDate, "asctime", "Sun Nov  6 08:49:37 94", 0, false},
		{parseHTTPDate, "http", "Sun, 06 Nov 1994 08:49:37 GMT", ts, true},
		{parseHTTPDate, "http", "Sunday, 06-Nov-94 08:49:37 GMT", ts, true},
		{parseHTTPDate, "http", "Sun Nov  6 08:49:37 1994", ts, true},
		{parseHTTPDate, "http", "", 0, false},
		{parseHTTPDate, "http", "1994-11-06T08:49:37Z", 0, false},
	} {
		got, ok := tc.parse(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%s(%q) = %d, %v; want %d, %v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseNet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		is6  bool
		bits int
		mask uint32
	}{
		{"10.0.0.1", true, false, 0, 0xffffffff},
		{"10.0.0.0/8", true, false, 0, 0xff000000},
		{"10.0.0.0/255.255.0.0", true, false, 0, 0xffff0000},
		{"10.0.0.0/0", true, false, 0, 0},
		{"::1", true, true, 128, 0},
		{"2001:db8::/32", true, true, 32, 0},
		{"::ffff:1.2.3.4", true, true, 128, 0},
		{"10.0.0.0/33", false, false, 0, 0},
		{"10.0.0/8", false, false, 0, 0},
		{"010.0.0.1", false, false, 0, 0},
		{"::1/129", false, false, 0, 0},
		{"::1/255.0.0.0", false, false, 0, 0},
		{"example.com", false, false, 0, 0},
		{"", false, false, 0, 0},
	} {
		n, ok := parseNet(tc.in)
		if ok != tc.ok || ok && (n.is6 != tc.is6 || n.is6 && n.bits != tc.bits || !n.is6 && n.mask4 != tc.mask) {
			t.Errorf("parseNet(%q) = %+v, %v", tc.in, n, ok)
		}
	}
}

func TestInfoValues(t *testing.T) {
	v := infoValues(3)
	if v[0] != "luaedge" || v[1] != Version || v[5] != float64(os.Getpid()) || v[9] != float64(0) {
		t.Errorf("info %v", v)
	}
	if up, ok := v[6].(string); !ok || !strings.HasPrefix(up, "0d 0h") {
		t.Errorf("uptime %v", v[6])
	}
	if n, ok := v[2].(float64); !ok || n != 3 {
		t.Errorf("nbthread %v", v[2])
	}
}
