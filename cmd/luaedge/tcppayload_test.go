package main

import (
	"bufio"
	"net"
	"testing"
	"time"
)

const tcpPayloadLua = `
-- Once the client's first bytes are there, the payload fetches read them.
core.register_action("payload", { "tcp-req" }, function(txn)
	txn.req:dup()
	local f, sf = txn.f, txn.sf
	local out = {}
	for _, v in ipairs({
		sf:req_payload(1, 3), sf:req_payload(4, 0), sf:req_payload(7, 0), sf:req_payload(6, 5),
		sf:req_payload_lv(0, 1), sf:req_payload_lv(0, 1, "+1"), sf:req_payload_lv(0, 1, 4), sf:req_payload_lv(0, 2),
		tostring(f:req_payload(9, 0)), tostring(f:req_payload_lv(3, 1)),
	}) do out[#out + 1] = "<" .. v .. ">" end
	txn:set_var("sess.out", table.concat(out, " "))
end)

core.register_service("report", "tcp", function(applet)
	applet:send(applet:get_var("sess.out") .. "\n")
end)
`

// txn.f:req_payload and req_payload_lv in TCP mode read the client's
// bytes received so far with HAProxy's offsets: 0 as the length reads to
// the end, a block past the bytes is nil, payload_lv's size is the
// big-endian integer at its offset and its block starts after it, at an
// offset, or at a signed one from there. Two clients on one loop.
func TestTCPPayloadFetches(t *testing.T) {
	s := startServer(t, `workers: 1
lua: {load: [payload.lua]}
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    mode: tcp
    tcp_request: ["lua.payload"]
    use_service: lua.report
`, map[string]string{"payload.lua": tcpPayloadLua})
	ask := func(c net.Conn, r *bufio.Reader, data string) string {
		if _, err := c.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (got %q)\n%s", err, l, s.logs())
		}
		return l
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	c1, r1 := dial()
	c2, r2 := dial()
	if got, want := ask(c1, r1, "\x03abcdefg"), "<abc> <defg> <g> <> <abc> <bcd> <def> <> <nil> <nil>\n"; got != want {
		t.Errorf("first client: %q, want %q", got, want)
	}
	if got, want := ask(c2, r2, "\x00\x02xyz"), "<\x02xy> <z> <> <> <> <> <> <xy> <nil> <nil>\n"; got != want {
		t.Errorf("second client: %q, want %q", got, want)
	}
}
