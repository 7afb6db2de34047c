package haproxycfg

import (
	"strings"
	"testing"
)

// option originalto compiles into the forwarding action: per backend the
// header (the backend's name first) and the except networks of the
// frontend and of the backend; a backend without it takes the frontend's.
func TestOriginalTo(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults
    mode http

frontend f
    bind :7001
    option originalto except 10.0.0.0/8
    use_backend named if { path_beg /n }
    default_backend plain

backend plain
    server s 127.0.0.1:9000

backend named
    option originalto header X-Dst except ::1
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(res.Rules)
	for _, want := range []string{
		`["named"] = {"x-dst", {H.net("10.0.0.0/8")}, {H.net("::1")}}`,
		`["plain"] = {"x-original-to", {H.net("10.0.0.0/8")}, false}`,
		`if xot then H.originalto(txn, xot) end`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("want %s in:\n%s", want, rules)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"frontend f\n  bind :80\n  option originalto if-none\n", "haproxy.cfg:3: option originalto: only 'except NETWORK' and 'header NAME' are taken, got 'if-none'"},
		{"frontend f\n  bind :80\n  no option originalto\n", "haproxy.cfg:3: 'no option originalto': negation is not supported"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
