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
