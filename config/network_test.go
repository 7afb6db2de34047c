package config

import (
	"strings"
	"testing"
	"time"
)

func TestNetworkKeys(t *testing.T) {
	c, err := Parse([]byte(`
maxconn: 1000
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    default_backend: app
    accept_proxy: true
    maxconn: 100
  - name: other
    bind: ["127.0.0.1:8081"]
    default_backend: app
    timeouts: {http_request: 3s, proxy_header: 1s}
backends:
  - name: app
    send_proxy: v2
    timeouts: {connect: 2s}
    servers:
      - {name: a, address: "127.0.0.1:9000", maxconn: 10}
      - {name: b, address: "127.0.0.1:9001", send_proxy: v1}
      - {name: c, address: "127.0.0.1:9002", send_proxy: none}
  - name: slow
    timeouts: {queue: 250ms, inspect: 400ms}
    servers: [{name: a, address: "127.0.0.1:9000"}]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	web, other := c.Frontends[0], c.Frontends[1]
	if c.MaxConn != 1000 || web.MaxConn != 100 || !web.AcceptProxy || other.AcceptProxy {
		t.Errorf("maxconn %d %d, accept_proxy %v %v", c.MaxConn, web.MaxConn, web.AcceptProxy, other.AcceptProxy)
	}
	// proxy_header defaults to the http_request timeout.
	if web.Timeouts.ProxyHeader.D() != DefaultHTTPRequest || other.Timeouts.ProxyHeader.D() != time.Second {
		t.Errorf("proxy_header %v %v", web.Timeouts.ProxyHeader.D(), other.Timeouts.ProxyHeader.D())
	}
	app := &c.Backends[0]
	if got := []string{app.ServerSendProxy(0), app.ServerSendProxy(1), app.ServerSendProxy(2)}; strings.Join(got, ",") != "v2,v1," {
		t.Errorf("send_proxy by server: %q", got)
	}
	// The queue timeout defaults to the connect timeout.
	if app.Timeouts.Queue.D() != 2*time.Second || c.Backends[1].Timeouts.Queue.D() != 250*time.Millisecond {
		t.Errorf("queue timeouts %v %v", app.Timeouts.Queue.D(), c.Backends[1].Timeouts.Queue.D())
	}
	// The tcp-response inspect delay: none unless set.
	if app.Timeouts.Inspect != 0 || c.Backends[1].Timeouts.Inspect.D() != 400*time.Millisecond {
		t.Errorf("inspect %v %v", app.Timeouts.Inspect.D(), c.Backends[1].Timeouts.Inspect.D())
	}
}

func TestCompressionKeys(t *testing.T) {
	c, err := Parse([]byte(`
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    default_backend: app
    compression: {}
backends:
  - name: app
    compression: {algorithms: [deflate, gzip, br], types: [text/*], min_length: 1KiB, level: 9, brotli_quality: 6}
    servers: [{name: a, address: "127.0.0.1:9000"}]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	f, b := c.Frontends[0].Compression, c.Backends[0].Compression
	if strings.Join(f.Algorithms, ",") != "gzip" || len(f.Types) != len(DefaultCompressTypes) || f.MinLength != 256 || f.Level != 1 || f.BrotliQuality != 4 {
		t.Errorf("defaults: %+v", f)
	}
	if strings.Join(b.Algorithms, ",") != "deflate,gzip,br" || strings.Join(b.Types, ",") != "text/*" || b.MinLength != 1024 || b.Level != 9 || b.BrotliQuality != 6 {
		t.Errorf("set: %+v", b)
	}
}

func TestNetworkErrors(t *testing.T) {
	be := func(b string) string {
		return "backends: [" + b + "]\nfrontends: [{name: f, bind: [\"127.0.0.1:1\"], default_backend: b}]\n"
	}
	for _, tc := range []struct{ yaml, want string }{
		{"maxconn: -1\n" + minimal, "maxconn: must be 0 (no bound) or more"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, maxconn: -5}]`, "frontends[0].maxconn: must be 0"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, accept_proxy: v2}]`, "frontends[0].accept_proxy (line 1): expected true or false"},
		{be(`{name: b, send_proxy: v3, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].send_proxy: want v1 or v2, got "v3"`},
		{be(`{name: b, send_proxy: none, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].send_proxy: want v1 or v2, got "none"`},
		{be(`{name: b, servers: [{name: s, address: "127.0.0.1:2", send_proxy: yes}]}`), `backends[0].servers[0].send_proxy: want v1 or v2, got "yes"`},
		{be(`{name: b, proto: h2, send_proxy: v2, servers: [{name: s, address: "127.0.0.1:2"}]}`), "backends[0].send_proxy: a proto: h2 backend carries many clients' requests"},
		{be(`{name: b, compression: {algorithms: [zstd]}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.algorithms[0]: want gzip, deflate or br, got "zstd"`},
		{be(`{name: b, compression: {brotli_quality: 10}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.brotli_quality: want 1 (fastest) to 9`},
		{be(`{name: b, compression: {brotli_quality: -1}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.brotli_quality: want 1 (fastest) to 9`},
		{be(`{name: b, compression: {algorithms: []}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.algorithms: at least one`},
		{be(`{name: b, compression: {level: 10}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.level: want 1 (fastest) to 9`},
		{be(`{name: b, compression: {types: [Text/HTML]}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.types[0]: want a media type in lower case`},
		{be(`{name: b, compression: {types: [html]}, servers: [{name: s, address: "127.0.0.1:2"}]}`), `backends[0].compression.types[0]`},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, mode: tcp, compression: {}}]`, "frontends[0].compression: compressing responses needs mode: http"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, compression: {level: fast}}]`, "frontends[0].compression.level (line 1)"},
	} {
		_, err := Parse([]byte(tc.yaml), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}
