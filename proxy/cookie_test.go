package proxy

import "testing"

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
