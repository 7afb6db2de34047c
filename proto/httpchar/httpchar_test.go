package httpchar

import "testing"

func TestClasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		tab  *[256]bool
		in   string
		out  string
	}{
		{"token", &Token, "aZ09!#$%&'*+-.^_`|~", " \t\"(),/:;<=>?@[\\]{}\x7f\x80"},
		{"value", &Value, "a \t~\x80\xff\"", "\x00\r\n\x7f"},
		{"host", &Host, "aZ09-._~!$&'()*+,;=%:[]", " /?#@\"\x80"},
	} {
		for i := 0; i < len(tc.in); i++ {
			if !tc.tab[tc.in[i]] {
				t.Errorf("%s: %q refused", tc.name, tc.in[i])
			}
		}
		for i := 0; i < len(tc.out); i++ {
			if tc.tab[tc.out[i]] {
				t.Errorf("%s: %q accepted", tc.name, tc.out[i])
			}
		}
	}
}
