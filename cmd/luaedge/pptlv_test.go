package main

import (
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"
)

// ppTLV builds one PROXY v2 TLV.
func ppTLV(typ byte, v string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
}

const ppTLVLua = `
core.register_service("tlvs", "http", function(applet)
	local f = applet.f
	local body = string.format("auth=%s id=%s alpn=%s ver=%s custom=%s num=%s", tostring(f:fc_pp_authority()), tostring(f:fc_pp_unique_id()),
		tostring(f:fc_pp_tlv("ALPN")), tostring(f:fc_pp_tlv("SSL_VERSION")), tostring(f:fc_pp_tlv(0xe1)), tostring(f:fc_pp_tlv("0xe1")))
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
core.register_service("badtlv", "http", function(applet)
	local ok, err = pcall(function() return applet.f:fc_pp_tlv("NOPE") end)
	local body = tostring(ok) .. " " .. tostring(err)
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`

// The TLVs of a PROXY v2 header reach scripts through fc_pp_authority,
// fc_pp_unique_id and fc_pp_tlv, on each request of the connection; a
// header without TLVs (or a v1 one) gives nil.
func TestProxyProtocolTLVFetches(t *testing.T) {
	s := startServer(t, `workers: 1
lua:
  load: [tlvs.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.tlvs
    accept_proxy: true
  - name: bad
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.badtlv
    accept_proxy: true
`, map[string]string{"tlvs.lua": ppTLVLua})
	ssl := ppTLV(0x20, "\x01\x00\x00\x00\x00"+string(ppTLV(0x21, "TLSv1.3"))+string(ppTLV(0x22, "client")))
	for _, c := range []struct {
		name, want string
		header     []byte
	}{
		{"v2 with TLVs", "auth=example.com id=req-42 alpn=h2 ver=TLSv1.3 custom=mine num=mine", proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|443",
			ppTLV(0x01, "h2"), ppTLV(0x02, "example.com"), ppTLV(0x05, "req-42"), ssl, ppTLV(0xe1, "mine"), ppTLV(0xe1, "second"))},
		{"v2 LOCAL with a TLV", "auth=local.example id=nil alpn=nil ver=nil custom=nil num=nil", proxyV2(t, 0, "", "", ppTLV(0x02, "local.example"))},
		{"v2 without TLVs", "auth=nil id=nil alpn=nil ver=nil custom=nil num=nil", proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|443")},
		{"v1", "auth=nil id=nil alpn=nil ver=nil custom=nil num=nil", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")},
	} {
		body, err := sendWithHeader(t, s.addr(), c.header)
		if err != nil || body != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, body, err, c.want)
		}
	}
	// Every request of a kept-alive connection sees them.
	c := dialWithHeader(t, s.addr(), proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|443", ppTLV(0x02, "kept.example")))
	for i := 0; i < 3; i++ {
		if body := c.get(t, "/"); !strings.HasPrefix(body, "auth=kept.example ") {
			t.Errorf("request %d on the connection: %q", i+1, body)
		}
	}
	body, err := sendWithHeader(t, s.addrOf("2"), proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|443", ppTLV(0x02, "x")))
	if err != nil || !strings.HasPrefix(body, "false ") || !strings.Contains(body, "fc_pp_tlv': argument #1 must be a TLV type") {
		t.Errorf("fc_pp_tlv(\"NOPE\"): %q %v", body, err)
	}
}

// In a haproxy.cfg, %[fc_pp_authority] and %[fc_pp_unique_id] answer as
// HAProxy 2.6's (compared with a running haproxy when one is installed);
// %[fc_pp_tlv(...)] as HAProxy 2.9's.
func TestProxyProtocolTLVHAProxyCfg(t *testing.T) {
	sc := hcScenario{name: "pp tlvs", cfg: `global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend www
    bind 127.0.0.1:@PORT@ accept-proxy
    http-request return status 200 content-type text/plain lf-string "auth=%[fc_pp_authority] id=%[fc_pp_unique_id]\n" if { path /26 }
    http-request set-var(txn.alpn) fc_pp_tlv(ALPN)
    http-request return status 200 content-type text/plain lf-string "alpn=%[var(txn.alpn)] custom=%[fc_pp_tlv(0xe1)]\n"
`}
	header := proxyV2(t, 1, "203.0.113.7|40000", "198.51.100.9|443", ppTLV(0x01, "h2"), ppTLV(0x02, "example.com"), ppTLV(0x05, "req-42"), ppTLV(0xe1, "mine"))
	ask := func(addr, path string) string {
		c := dialWithHeader(t, addr, header)
		return c.get(t, path)
	}
	le, _ := hcStartLuaedge(t, sc, nil)
	if got := ask(le(""), "/26"); got != "auth=example.com id=req-42\n" {
		t.Errorf("luaedge: %q", got)
	}
	if got := ask(le(""), "/29"); got != "alpn=h2 custom=mine\n" {
		t.Errorf("luaedge, fc_pp_tlv: %q", got)
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed")
	}
	sc.cfg = strings.Split(sc.cfg, "    http-request set-var")[0] // fc_pp_tlv is HAProxy 2.9's
	ha, out := hcStartHAProxy(t, bin, sc, nil)
	if got := ask(ha(""), "/26"); got != "auth=example.com id=req-42\n" {
		t.Errorf("haproxy: %q\n%s", got, out.String())
	}
}

// ppConn is a client connection that started with a PROXY header.
type ppConn struct{ c *hxConn }

func dialWithHeader(t *testing.T, addr string, header []byte) *ppConn {
	t.Helper()
	c := hxDial(t, addr)
	if _, err := c.cl.c.Write(header); err != nil {
		t.Fatal(err)
	}
	return &ppConn{c}
}

func (p *ppConn) get(t *testing.T, path string) string {
	t.Helper()
	r := p.c.do(hxReq{Path: path})
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %q", path, r.Status, r.Body)
	}
	return r.Body
}
