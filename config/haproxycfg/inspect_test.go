package haproxycfg

import (
	"strings"
	"testing"
	"time"
)

// tcp-request inspect-delay is the TCP frontend's timeouts.inspect, from a
// named defaults section too; an anonymous one refuses it, as HAProxy
// does, and in mode http it is warned.
func TestInspectDelay(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `defaults d
    mode tcp
    tcp-request inspect-delay 2s

frontend t1 from d
    bind :7001
    default_backend b

frontend t2 from d
    bind :7002
    tcp-request inspect-delay 300ms
    default_backend b

frontend h
    mode http
    bind :7003
    tcp-request inspect-delay 1s
    default_backend hb

backend b from d
    server s 127.0.0.1:9000

backend hb
    mode http
    server s 127.0.0.1:9000
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Duration{2 * time.Second, 300 * time.Millisecond, 0} {
		if got := res.Config.Frontends[i].Timeouts.Inspect.D(); got != want {
			t.Errorf("%s: inspect %v, want %v", res.Config.Frontends[i].Name, got, want)
		}
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "haproxy.cfg:17: 'tcp-request inspect-delay' has no effect in luaedge in mode http") {
		t.Errorf("warnings: %s", w)
	}
	_, err = Load(write(t, "haproxy.cfg", "defaults\n    tcp-request inspect-delay 2s\n"))
	if err == nil || !strings.Contains(err.Error(), "haproxy.cfg:2: tcp-request inspect-delay is not allowed in anonymous 'defaults' sections") {
		t.Errorf("anonymous defaults: %v", err)
	}
}
