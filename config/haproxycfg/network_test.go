package haproxycfg

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// maxconn, accept-proxy, send-proxy(-v2), timeout queue and compression
// map onto their keys.
func TestNetworkKeywords(t *testing.T) {
	paths := write(t, "haproxy.cfg", `global
	maxconn 2000
	tune.comp.maxlevel 5

defaults
	mode http
	timeout connect 2s
	timeout queue 3s
	maxconn 500
	compression algo gzip

frontend www
	bind :8080 accept-proxy
	bind 127.0.0.1:8081 accept-proxy
	maxconn 100
	compression type text/html application/json
	default_backend app

frontend other
	bind :8090
	default_backend plain

backend app
	default-server send-proxy-v2
	server a 10.0.0.1:80 maxconn 10
	server b 10.0.0.2:80 send-proxy
	server c 10.0.0.3:80 no-send-proxy
	compression algo deflate gzip

backend plain
	server p 10.0.0.4:80
`)
	res, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	www, other := c.Frontends[0], c.Frontends[1]
	if c.MaxConn != 2000 || www.MaxConn != 100 || other.MaxConn != 500 {
		t.Errorf("maxconn: global %d, www %d, other %d", c.MaxConn, www.MaxConn, other.MaxConn)
	}
	if !www.AcceptProxy || other.AcceptProxy {
		t.Errorf("accept-proxy: %v %v", www.AcceptProxy, other.AcceptProxy)
	}
	app := &c.Backends[0]
	if got := []string{app.ServerSendProxy(0), app.ServerSendProxy(1), app.ServerSendProxy(2)}; !reflect.DeepEqual(got, []string{"v2", "v1", ""}) {
		t.Errorf("send-proxy by server: %q", got)
	}
	if app.Timeouts.Queue.D() != 3*time.Second {
		t.Errorf("timeout queue: %v", app.Timeouts.Queue.D())
	}
	if z := www.Compression; z == nil || !reflect.DeepEqual(z.Algorithms, []string{"gzip"}) || !reflect.DeepEqual(z.Types, []string{"text/html", "application/json"}) || z.Level != 5 {
		t.Errorf("www compression: %+v", z)
	}
	if z := other.Compression; z == nil || !reflect.DeepEqual(z.Algorithms, []string{"gzip"}) || len(z.Types) == 0 {
		t.Errorf("other compression (from defaults): %+v", z)
	}
	if z := app.Compression; z == nil || !reflect.DeepEqual(z.Algorithms, []string{"deflate", "gzip"}) {
		t.Errorf("app compression: %+v", z)
	}
	for _, tc := range []struct{ cfg, want string }{
		{"frontend f\n  bind :1 accept-proxy\n  bind :2\n  default_backend b\nbackend b\n  server s 1.2.3.4:80\n", "haproxy.cfg:3: bind: luaedge takes accept-proxy per frontend"},
		{"frontend f\n  bind :1\n  compression algo br\n  default_backend b\nbackend b\n  server s 1.2.3.4:80\n", "haproxy.cfg:3: compression algo br: HAProxy 2.6 has no brotli; set it in luaedge's YAML"},
		{"frontend f\n  bind :1\n  compression algo raw-deflate\n  default_backend b\nbackend b\n  server s 1.2.3.4:80\n", "haproxy.cfg:3: compression algo raw-deflate: luaedge compresses with gzip and deflate"},
		{"global\n  tune.comp.maxlevel 12\n", "haproxy.cfg:2: tune.comp.maxlevel: luaedge compresses at levels 1 to 9"},
		{"global\n  maxconn lots\n", "haproxy.cfg:2: maxconn: want a number"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.cfg, err, tc.want)
		}
	}
}
