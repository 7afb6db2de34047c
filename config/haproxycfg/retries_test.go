package haproxycfg

import (
	"strings"
	"testing"

	"github.com/luaedge/luaedge/config"
)

// retries and option redispatch [N] become the backend's retries and
// redispatch, inherited from defaults as HAProxy's; without them, retries
// is left unset (the YAML default, HAProxy's 3) and redispatch 0.
func TestRetriesRedispatch(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults
    mode http
    retries 5
    option redispatch

frontend f
    bind 127.0.0.1:80
    retries 7
    default_backend inherits

backend inherits
    server a 127.0.0.1:8001

backend own
    retries 0
    option redispatch 2
    server a 127.0.0.1:8001

backend negative
    option redispatch -2
    server a 127.0.0.1:8001

backend off
    no option redispatch
    server a 127.0.0.1:8001

defaults plain
    mode http

backend bare
    server a 127.0.0.1:8001
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		retries    int // -1: not set
		redispatch int
	}{
		"inherits": {5, -1},
		"own":      {0, 2},
		"negative": {5, -2},
		"off":      {5, 0},
		"bare":     {-1, 0},
	}
	for _, b := range res.Config.Backends {
		w, ok := want[b.Name]
		if !ok {
			continue
		}
		delete(want, b.Name)
		got := -1
		if b.Retries != nil {
			got = *b.Retries
		}
		if got != w.retries || b.Redispatch != w.redispatch {
			t.Errorf("%s: retries %d redispatch %d, want %d and %d", b.Name, got, b.Redispatch, w.retries, w.redispatch)
		}
	}
	if len(want) != 0 {
		t.Errorf("backends missing: %v", want)
	}
	if b := res.Config.Backends; len(b) > 0 && b[len(b)-1].RetriesOr() != 3 {
		t.Errorf("bare: RetriesOr %d, want HAProxy's 3", b[len(b)-1].RetriesOr())
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "haproxy.cfg:8: 'retries' has no effect in a frontend") {
		t.Errorf("retries in a frontend is not warned:\n%s", w)
	}
}

func TestRetriesErrors(t *testing.T) {
	const fe = "frontend f\n  bind :80\n  mode http\n  default_backend b\n"
	for _, tc := range []struct{ cfg, want string }{
		{fe + "backend b\n  retries\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retries: want a number of retries"},
		{fe + "backend b\n  retries -1\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retries: want a number of retries"},
		{fe + "backend b\n  retries 2 3\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retries: want a number of retries"},
		{fe + "backend b\n  option redispatch x\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: option redispatch: want an optional integer interval"},
		{fe + "backend b\n  option redispatch 1 2\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: option redispatch: want an optional integer interval"},
		{fe + "backend b\n  retry-on\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retry-on: want at least one keyword"},
		{fe + "backend b\n  retry-on 503 foo\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retry-on: unknown keyword 'foo'"},
		{fe + "backend b\n  retry-on none 503\n  server a 127.0.0.1:1\n", "haproxy.cfg:6: retry-on: 'none' stands alone"},
		{"frontend f\n  bind :80\n  mode http\n  retry-on 503\n  default_backend b\nbackend b\n  server a 127.0.0.1:1\n", "haproxy.cfg:4: 'retry-on' only available in backend or listen section"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// retry-on is a backend's (or listen's) retry_on, inherited from
// defaults; a line replaces the set, it does not add to it.
func TestRetryOn(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults
    mode http
    retry-on 503 conn-failure

frontend f
    bind 127.0.0.1:80
    default_backend inherits

backend inherits
    server a 127.0.0.1:8001

backend own
    retry-on empty-response
    retry-on all-retryable-errors 404
    server a 127.0.0.1:8001

backend never
    retry-on none
    server a 127.0.0.1:8001

listen l
    bind 127.0.0.1:81
    retry-on junk-response response-timeout 0rtt-rejected
    server a 127.0.0.1:8001

defaults plain
    mode http

backend bare
    server a 127.0.0.1:8001
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.RetryOn{
		"inherits": config.Retry503 | config.RetryConnFailure,
		"own":      config.AllRetryableErrors | config.Retry404,
		"never":    0,
		"l":        config.RetryJunkResponse | config.RetryResponseTimeout | config.Retry0RTTRejected,
		"bare":     config.RetryConnFailure,
	}
	for _, b := range res.Config.Backends {
		w, ok := want[b.Name]
		if !ok {
			continue
		}
		delete(want, b.Name)
		if got := b.RetryOnOr(); got != w {
			t.Errorf("%s: retry_on %v is %b, want %b", b.Name, b.RetryOn, got, w)
		}
	}
	if len(want) != 0 {
		t.Errorf("backends missing: %v", want)
	}
}
