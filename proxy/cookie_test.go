package proxy

import (
	"testing"
	"time"

	"github.com/luaedge/luaedge/backend"
)

// withoutCookie takes every pair of one cookie out of a Cookie field's
// value and keeps the others in order.
func TestWithoutCookie(t *testing.T) {
	for in, want := range map[string]string{
		"SRV=c1":                "",
		"a=1; SRV=c1; b=2":      "a=1; b=2",
		"SRV=c1;a=1":            "a=1",
		"a=1; SRVX=2; SRV=; b":  "a=1; SRVX=2; b",
		"a=1;  ; SRV=c1; SRV=2": "a=1",
		"":                      "",
	} {
		if got := string(withoutCookie([]byte(in), "SRV")); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// unprefixed takes the server's "VALUE~" off every value of one cookie
// and leaves the rest of the field as it came.
func TestUnprefixed(t *testing.T) {
	for in, want := range map[string]string{
		"JS=c1~abc":                "JS=abc",
		"a=1; JS=c2~x~y;b=2":       "a=1; JS=x~y;b=2",
		"a=1;JS=abc":               "a=1;JS=abc",
		"JSX=c1~abc; JS=c1~":       "JSX=c1~abc; JS=",
		" JS =c1~v ; JS=c2~w":      " JS =v ; JS=w",
		"":                         "",
		"a=1;  ;JS=c1~v":           "a=1;  ;JS=v",
		"JS=c1~v;":                 "JS=v;",
		"no pairs at all; JS":      "no pairs at all; JS",
		"a=\"q;x\"; JS=c1~v; tail": "a=\"q;x\"; JS=v; tail",
	} {
		if got := string(unprefixed([]byte(in), "JS")); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// A cookie's dates, as HAProxy writes and reads them: the server's value
// before '|' (but in prefix mode), a cookie too old, idle too long or
// dated a day ahead names no server, a date that does not decode is none.
func TestCookieDates(t *testing.T) {
	const now = 1_700_000_000
	date := func(u int64) string { return string(appendS30(nil, u>>2)) }
	if got := b64tos30([]byte(date(now))) << 2; got != now {
		t.Fatalf("the date round trip gives %d", got)
	}
	ck := &backend.Cookie{Mode: backend.CookieInsert, MaxIdle: 30 * time.Second, MaxLife: time.Hour}
	for _, tc := range []struct {
		v, srv      string
		last, first int64
	}{
		{"c1", "c1", 0, 0},
		{"c1|" + date(now-8) + "|" + date(now-100), "c1", now - 8, now - 100},
		{"c1|" + date(now-8), "c1", now - 8, 0},
		{"c1|" + date(now-60) + "|" + date(now-100), "", 0, 0},
		{"c1|" + date(now) + "|" + date(now-7200), "", 0, 0},
		{"c1|" + date(now+2*86400), "", 0, 0},
		{"c1|!!!!!|" + date(now-100), "c1", 0, now - 100},
		{"c1|abc", "c1", 0, 0},
	} {
		srv, d := cookieServer(ck, []byte(tc.v), now)
		if string(srv) != tc.srv || d.last != tc.last || d.first != tc.first {
			t.Errorf("%s: %q %+v, want %q %d %d", tc.v, srv, d, tc.srv, tc.last, tc.first)
		}
	}
	if srv, _ := cookieServer(&backend.Cookie{Mode: backend.CookiePrefix}, []byte("c1~x|y"), now); string(srv) != "c1" {
		t.Errorf("prefix mode: %q", srv)
	}
}
