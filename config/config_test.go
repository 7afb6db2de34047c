package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const minimal = `
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    use_service: lua.hello
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	f := c.Frontends[0]
	if f.Mode != "http" || f.Limits.MaxBody != DefaultMaxBody || f.Limits.MaxHeaders != DefaultMaxHeaders ||
		f.Timeouts.KeepAlive.D() != DefaultKeepAlive || c.ShutdownTimeout.D() != DefaultShutdownTimeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if f.ServiceName() != "hello" || f.Forwards() || c.Dir != "/etc/luaedge" {
		t.Fatalf("service %q forwards %v dir %q", f.ServiceName(), f.Forwards(), c.Dir)
	}
	if c.Lua.MemoryLimit != DefaultLuaMemoryLimit || c.Lua.Sandbox != "default" || c.Lua.UnsafeFFI || !c.Lua.Compat53On() {
		t.Fatalf("lua defaults not applied: %+v", c.Lua)
	}
	if f.HTTP2 != (HTTP2{Cleartext: "auto"}) {
		t.Errorf("http2 defaults to %+v, want cleartext auto and the protocol's own limits", f.HTTP2)
	}
	if c.RuntimeSocket != "" {
		t.Errorf("runtime_socket defaults to %q, want none", c.RuntimeSocket)
	}
}

// A relative runtime_socket is taken from the configuration's folder.
func TestRuntimeSocketPath(t *testing.T) {
	for in, want := range map[string]string{"run/le.sock": "/etc/luaedge/run/le.sock", "/run/le.sock": "/run/le.sock"} {
		c, err := Parse([]byte("runtime_socket: "+in+"\n"+minimal), "/etc/luaedge")
		if err != nil {
			t.Fatal(err)
		}
		if c.RuntimeSocket != want {
			t.Errorf("runtime_socket %s: %q, want %q", in, c.RuntimeSocket, want)
		}
	}
}

func TestUnits(t *testing.T) {
	c, err := Parse([]byte(`
lua: {memory_limit: 64MiB}
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    use_service: lua.hello
    limits: {max_body: 1m, max_header_bytes: 16KB}
    timeouts: {http_request: 1500, keep_alive: 2s}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	f := c.Frontends[0]
	if c.Lua.MemoryLimit != 64<<20 || f.Limits.MaxBody != 1<<20 || f.Limits.MaxHeaderBytes != 16000 {
		t.Fatalf("sizes: %d %d %d", c.Lua.MemoryLimit, f.Limits.MaxBody, f.Limits.MaxHeaderBytes)
	}
	if f.Timeouts.HTTPRequest.D() != 1500*time.Millisecond || f.Timeouts.KeepAlive.D() != 2*time.Second {
		t.Fatalf("durations: %v %v", f.Timeouts.HTTPRequest.D(), f.Timeouts.KeepAlive.D())
	}
}

// Every error names the key it is about.
func TestErrorsNameTheirKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{``, "frontends: at least one frontend"},
		{`frontends: [{bind: ["127.0.0.1:1"], use_service: lua.x}]`, "frontends[0].name: missing"},
		{`frontends: [{name: a, use_service: lua.x}]`, "frontends[0].bind"},
		{`frontends: [{name: a, bind: ["nope"], use_service: lua.x}]`, "frontends[0].bind[0]"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: hello}]`, "frontends[0].use_service: want lua.NAME"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"]}]`, "frontends[0]: nothing answers"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], default_backend: b}]`, "frontends[0].default_backend: no backend named"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, mode: udp}]`, "frontends[0].mode: want http or tcp"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, websocket: {max_frame: 2g}}]`, "frontends[0].websocket.max_frame: must be at most 1GiB"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, websocket: {max_connections: -1}}]`, "frontends[0].websocket.max_connections"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, websocket: {pings: 1}}]`, "frontends[0].websocket.pings (line 1): unknown key"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, ws_filters: [upper]}]`, "frontends[0].ws_filters[0]: want lua.NAME"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, mode: tcp, ws_filters: [lua.upper]}]`, "frontends[0].ws_filters: WebSocket filters need mode: http"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, filters: ["upper x"]}]`, "frontends[0].filters[0]: want lua.NAME [args...]"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, mode: tcp, filters: [lua.upper]}]`, "frontends[0].filters: Lua filters need mode: http"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, mode: tcp, http_request: [lua.y]}]`, "frontends[0].http_request: http rules need mode: http"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x}, {name: a, bind: ["127.0.0.1:2"], use_service: lua.x}]`, "frontends[1].name"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x}, {name: b, bind: ["127.0.0.1:1"], use_service: lua.x}]`, `frontends[1].bind[0]: frontend "b": 127.0.0.1:1 is already bound by frontend "a"`},
		{"lua: {memory_limit: lots}\n" + minimal, "lua.memory_limit (line 1): invalid size"},
		{"lua: {sandbox: lax}\n" + minimal, "lua.sandbox: want default or strict"},
		{"lua: {sandbox: strict, unsafe_ffi: true}\n" + minimal, "lua.unsafe_ffi: cannot be used with lua.sandbox: strict"},
		{"lua: {unsafe_ffi: maybe}\n" + minimal, "lua.unsafe_ffi"},
		{"lua: {compat53: maybe}\n" + minimal, "lua.compat53"},
		{"log: {level: loud}\n" + minimal, "log.level"},
		{"workers: -1\n" + minimal, "workers"},
		{"nonsense: 1\n" + minimal, "nonsense (line 1): unknown key"},
		{`frontends:
  - name: a
    bind: ["127.0.0.1:1"]
    use_service: lua.x
    timeouts: {body: soon}`, "frontends[0].timeouts.body (line 5): invalid duration"},
		{`backends: [{name: b}, {name: b}]` + minimal, "backends[1].name"},
		{`frontends:
  - name: a
    bind: ["127.0.0.1:1"]
    use_service: lua.x
    server_header: "x\ny"`, `frontends[0].server_header: "x\ny" is not a field value`},
		{"runtime_socket: /run/" + strings.Repeat("x", 110) + "\n" + minimal, "runtime_socket: /run/xxx"},
		{"backends: [{name: b, proto: h3, servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].proto: want h1 or h2"},
		{"backends: [{name: b, server_name_header: \"x y\", servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].server_name_header: \"x y\" is not a field name"},
		{"backends: [{name: b, retries: -1, servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].retries: -1 is negative"},
		{"backends: [{name: b, retry_on: [503, nope], servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].retry_on: unknown keyword 'nope'"},
		{"backends: [{name: b, retry_on: [none, 503], servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].retry_on: 'none' stands alone"},
		{"backends: [{name: b, retry_on: [], servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].retry_on: want at least one keyword"},
		{"backends: [{name: b, cookie: {name: S, mode: rewrite, indirect: true}, servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].cookie.indirect: not with the rewrite mode"},
		{"backends: [{name: b, cookie: {mode: insert}, servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].cookie.name: missing"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, error_pages: {404: {body: x}}}]`, "frontends[0].error_pages: 404 is not a status luaedge answers itself"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, error_pages: {502: {headers: {content-length: "3"}}}}]`, "frontends[0].error_pages.502.headers: content-length is made from the body"},
		{"backends: [{name: b, proto: h2, check: {type: http}, servers: [{name: s, address: \"127.0.0.1:1\"}]}]\n" + minimal, "backends[0].check.type: http checks speak HTTP/1.1"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, http2: {cleartext: yes}}]`, "frontends[0].http2.cleartext: want auto, prior_knowledge or off"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, http2: {stream_window: 1000}}]`, "frontends[0].http2.stream_window: must be between 65535 and 2147483647"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, http2: {max_frame_size: 32MiB}}]`, "frontends[0].http2.max_frame_size: must be between 16384 and 16777215"},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, http2: {reset_budget: -1}}]`, "frontends[0].http2.reset_budget: must be between 1 and"},
		{"stick_tables: [{type: ip, size: 10}]\n" + minimal, "stick_tables[0].name: missing"},
		{"stick_tables: [{name: t, type: ip, size: 10}, {name: t, type: ip, size: 10}]\n" + minimal, `stick_tables[1].name: "t" is the name of another`},
		{`frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, track: {key: src, table: st}}]`, `frontends[0].track.table: no frontend or backend "st" with a stick_table, nor a stick_tables entry`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "8KiB": 8192, "2MB": 2000000, "1g": 1 << 30, "10 B": 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "12XB", "99999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) did not fail", in)
		}
	}
}

// A frontend's tls gets its defaults (by mode) and its files taken from
// the configuration's folder; a backend's tls verifies by default, and a
// server's own tls replaces it.
func TestTLSDefaults(t *testing.T) {
	c, err := Parse([]byte(`
frontends:
  - name: web
    bind: ["127.0.0.1:8443"]
    use_service: lua.hello
    tls: {cert: site.pem, key: /keys/site.key, certificates: [{cert: b.pem, key: b.key}]}
  - name: raw
    mode: tcp
    bind: ["127.0.0.1:9443"]
    default_backend: app
    tls: {cert: site.pem, key: site.key, min_version: "1.3", ocsp: site.ocsp, client_ca: clients.pem}
backends:
  - name: app
    tls: {ca_file: ca.pem}
    servers:
      - {name: a, address: "127.0.0.1:1"}
      - {name: b, address: "127.0.0.1:2", tls: {verify: none}}
`), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	web, raw := c.Frontends[0].TLS, c.Frontends[1].TLS
	pairs := web.Pairs()
	if len(pairs) != 2 || pairs[0] != (CertKey{Cert: "/etc/luaedge/site.pem", Key: "/keys/site.key"}) || pairs[1].Cert != "/etc/luaedge/b.pem" {
		t.Fatalf("pairs %+v", pairs)
	}
	if strings.Join(web.ALPN, ",") != "h2,http/1.1" || web.MinVersion != "1.2" || web.HandshakeTimeout.D() != DefaultHandshakeTimeout {
		t.Fatalf("http frontend tls defaults: %+v", web)
	}
	if raw.ALPN != nil || raw.MinVersion != "1.3" {
		t.Fatalf("tcp frontend tls: %+v", raw)
	}
	// Client certificates are asked for only with client_ca, and then
	// required unless said otherwise.
	if web.Verify != "none" || raw.Verify != "required" || raw.ClientCA != "/etc/luaedge/clients.pem" || raw.Pairs()[0].OCSP != "/etc/luaedge/site.ocsp" {
		t.Fatalf("client certificates and OCSP: %+v, %+v", web, raw)
	}
	b := &c.Backends[0]
	if s := b.ServerTLS(0); s.Verify != "required" || s.CAFile != "/etc/luaedge/ca.pem" {
		t.Fatalf("server a tls %+v", s)
	}
	if s := b.ServerTLS(1); s.Verify != "none" {
		t.Fatalf("server b tls %+v", s)
	}
}

func TestTLSErrors(t *testing.T) {
	for tls, want := range map[string]string{
		`{cert: a.pem}`:                                "frontends[0].tls: cert and key go together",
		`{}`:                                           "frontends[0].tls: a certificate is needed",
		`{certificates: [{cert: a.pem}]}`:              "frontends[0].tls.certificates[0]: cert and key are both needed",
		`{cert: a, key: b, min_version: "1.1"}`:        "frontends[0].tls.min_version: want 1.2 or 1.3",
		`{cert: a, key: b, alpn: [""]}`:                "frontends[0].tls.alpn[0]",
		`{cert: a, key: b, handshake_timeout: x}`:      "invalid duration",
		`{cert: a, key: b, verify: required}`:          "frontends[0].tls.verify: required needs client_ca",
		`{cert: a, key: b, client_ca: c, verify: yes}`: "frontends[0].tls.verify: want none, optional or required",
		`{certificates: [{cert: a, key: b}], ocsp: o}`: "frontends[0].tls.ocsp: goes with cert",
	} {
		_, err := Parse([]byte(minimal+"    tls: "+tls+"\n"), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("tls %s: error %v, want %q", tls, err, want)
		}
	}
	_, err := Parse([]byte(minimal+"backends:\n  - name: b\n    servers: [{name: s, address: \"127.0.0.1:1\", tls: {verify: maybe}}]\n"), "")
	if err == nil || !strings.Contains(err.Error(), "backends[0].servers[0].tls.verify: want required or none") {
		t.Errorf("verify: maybe: %v", err)
	}
}

// An access log that is off writes "off", which reads back as off.
func TestAccessLogOffRoundTrip(t *testing.T) {
	out, err := yaml.Marshal(struct {
		A *AccessLog `yaml:"a"`
		B *AccessLog `yaml:"b"`
	}{&AccessLog{Off: true}, &AccessLog{To: "stdout", Format: "json"}})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		A *AccessLog `yaml:"a"`
		B *AccessLog `yaml:"b"`
	}
	if err := yaml.Unmarshal(out, &back); err != nil || !back.A.Off || back.B.Off || back.B.To != "stdout" || back.B.Format != "json" {
		t.Fatalf("%s read back as %+v %+v, %v", out, back.A, back.B, err)
	}
}
