package main

import (
	"net/http"
	"testing"
)

// "get map" names the match method and the type of the values of each
// converter's lookups in a file, as HAProxy 2.6 does: a _int converter's
// values are "sint", the others' "str", and the same file looked up by
// map_beg_int and map_beg has a line for each, in the order of the
// configuration. Two clients read the converters on one loop around a
// change of the file's values.
func TestHAProxyCfgRuntimeMapTypes(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "runtime-map-types", cfg: stickGlobal + `
frontend f
    bind 127.0.0.1:@PORT@
    http-request set-var(txn.ip) src,map_ip(ip.map,none)
    http-request set-var(txn.ipi) src,map_ip_int(ipint.map,-1)
    http-request set-var(txn.n) req.hdr_cnt(x-n),map_int(int.map,none)
    http-request set-var(txn.ni) req.hdr_cnt(x-n),map_int_int(intint.map,-1)
    http-request set-var(txn.bi) path,map_beg_int(beg.map,-1)
    http-request set-var(txn.b) path,map_beg(beg.map,none)
    http-request set-var(txn.s) path,map(str.map,none)
    http-request set-var(txn.si) path,map_str_int(strint.map,-1)
    http-request set-var(txn.r) path,map_reg(reg.map,none)
    http-request set-var(txn.rm) path,map_regm(regm.map,none)
    http-request set-var(txn.d) hdr(x-host),map_dom(dom.map,none)
    http-request set-var(txn.e) path,map_end(end.map,none)
    http-request set-var(txn.u) path,map_sub(sub.map,none)
    http-request set-var(txn.di) path,map_dir(dir.map,none)
    http-request return status 200 content-type text/plain lf-string "%[var(txn.ip)] %[var(txn.ipi)] %[var(txn.n)] %[var(txn.ni)] %[var(txn.bi)] %[var(txn.b)] %[var(txn.s)] %[var(txn.si)] %[var(txn.r)] %[var(txn.rm)] %[var(txn.d)] %[var(txn.e)] %[var(txn.u)] %[var(txn.di)]"
`, made: map[string]string{
		"ip.map": "127.0.0.0/8 lo\n", "ipint.map": "127.0.0.1/32 7\n", "int.map": "1 one\n", "intint.map": "1 11\n",
		"beg.map": "/ab 5\n", "str.map": "/ab s\n", "strint.map": "/ab 3\n", "reg.map": "^/a.* r\n",
		"regm.map": "^/(a)b x\\1\n", "dom.map": "hx.test d\n", "end.map": "b e\n", "sub.map": "a u\n", "dir.map": "ab di\n",
	}}
	check := func(addr func(string) string, ask func(string) string) []string {
		fe := addr("")
		c1, c2 := stickClient("127.0.0.1"), stickClient("127.0.0.2")
		var seen []string
		get := func(c *http.Client, path string) {
			seen = append(seen, path+" "+stickGet(t, c, fe, path, "X-N: 1", "X-Host: hx.test"))
		}
		step := func(line string) { seen = append(seen, line+" -> "+ask(line)) }
		get(c1, "/ab")
		get(c2, "/ab")
		for _, line := range []string{
			"get map ip.map 127.0.0.1", "get map ipint.map 127.0.0.1", "get map ipint.map 10.0.0.1",
			"get map int.map 1", "get map intint.map 1", "get map intint.map x",
			"get map beg.map /abc", "get map beg.map /x", "get map str.map /ab", "get map strint.map /ab",
			"get map reg.map /ab", "get map regm.map /ab", "get map dom.map www.hx.test",
			"get map end.map /ab", "get map sub.map /ab", "get map dir.map /ab/c",
			"set map beg.map /ab 6", "get map beg.map /ab",
		} {
			step(line)
		}
		get(c2, "/ab")
		get(c1, "/ab")
		return seen
	}
	stickBoth(t, sc, nil, check)
}
