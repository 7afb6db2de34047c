package lj

import "testing"

// txn:set_dst and set_dst_port change the destination the fetches read
// and Go reads back (Stream.Addrs), as haproxy.cfg's set-dst rules do.
func TestSetDst(t *testing.T) {
	code := `core.register_action("dst", { "http-req" }, function(txn)
	local out = {}
	local function step(ok) out[#out + 1] = tostring(ok) .. "=" .. txn.f:dst() .. ":" .. txn.f:dst_port() end
	step(txn:set_dst("not an address"))
	step(txn:set_dst("10.0.0.0/8"))
	step(txn:set_dst(nil))
	step(txn:set_dst("2001:DB8:0::1"))
	step(txn:set_dst(0x0a000001))
	step(txn:set_dst_port("x"))
	step(txn:set_dst_port(70000))
	step(txn:set_dst_port(-1))
	step(txn:set_dst_port("8443"))
	txn.http:req_set_header("x-out", table.concat(out, " "))
end)`
	d := newDriver(t, []byte(code), []string{"lua.dst"}, nil, "", true, nil)
	d.run()
	want := "false=127.0.0.1:8080 false=127.0.0.1:8080 false=127.0.0.1:8080 true=2001:db8::1:8080 true=10.0.0.1:8080 " +
		"false=10.0.0.1:8080 true=10.0.0.1:4464 true=10.0.0.1:65535 true=10.0.0.1:8443"
	if got := d.field(false, "x-out"); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if _, _, dst, port := d.last.S.Addrs(); string(dst) != "10.0.0.1" || port != 8443 {
		t.Errorf("Addrs: %s:%d, want 10.0.0.1:8443", dst, port)
	}
}

// txn:set_src and set_src_port change the client the fetches read and Go
// reads back, with set_dst's rules for what is an address or a port.
func TestSetSrc(t *testing.T) {
	code := `core.register_action("src", { "http-req" }, function(txn)
	local out = {}
	local function step(ok) out[#out + 1] = tostring(ok) .. "=" .. txn.f:src() .. ":" .. txn.f:src_port() end
	step(txn:set_src("not an address"))
	step(txn:set_src("192.0.2.7"))
	step(txn:set_src_port({}))
	step(txn:set_src_port(4242))
	txn.http:req_set_header("x-out", table.concat(out, " "))
end)`
	d := newDriver(t, []byte(code), []string{"lua.src"}, nil, "", true, nil)
	d.run()
	if got, want := d.field(false, "x-out"), "false=127.0.0.1:"; len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("got %q", got)
	}
	if src, port, _, _ := d.last.S.Addrs(); string(src) != "192.0.2.7" || port != 4242 {
		t.Errorf("Addrs: %s:%d, want 192.0.2.7:4242", src, port)
	}
}
