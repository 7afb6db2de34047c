package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// hashBackends starts four servers that answer with their name: S1..S4.
func hashBackends(t *testing.T) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("s%d", i)
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		addrs[strings.ToUpper(name)] = s.Listener.Addr().String()
	}
	return addrs
}

// The hashing algorithms send each key to the server HAProxy 2.6 sends
// it to: map-based (the default, sdbm) and consistent, each hash
// function, with and without avalanche, servers of different weights, a
// disabled server and a backup; uri with its options, url_param, hdr with
// use_domain_only, source (clients from 60 loopback addresses), uri over
// HTTP/2. 60 keys per backend, each asked of both.
func TestHAProxyCfgHashLikeHAProxy(t *testing.T) {
	needBinary(t)
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy to compare with")
	}
	servers := `    server s1 @S1@ weight 1
    server s2 @S2@ weight 2
    server s3 @S3@ weight 3
    server s4 @S4@ weight 5
`
	// Weights 2, 4, 6: their divisor 2 makes the map 6 slots long.
	even := `    server s1 @S1@ weight 2
    server s2 @S2@ weight 4
    server s3 @S3@ weight 6
`
	backends := []struct{ name, lines, servers string }{
		{"uri", "balance uri", servers},
		{"uri_whole_len", "balance uri whole len 14", servers},
		{"uri_depth", "balance uri depth 2", servers},
		{"uri_path_only", "balance uri path-only whole", servers},
		{"param", "balance url_param id", even},
		{"hdr", "balance hdr(x-user)", servers},
		{"domain", "balance hdr(x-host) use_domain_only", servers},
		{"djb2", "balance uri\n    hash-type map-based djb2", servers},
		{"wt6_aval", "balance url_param id\n    hash-type map-based wt6 avalanche", servers},
		{"crc32", "balance hdr(x-user)\n    hash-type map-based crc32", even},
		{"cons", "balance uri\n    hash-type consistent", servers},
		{"cons_djb2", "balance url_param id\n    hash-type consistent djb2", even},
		{"cons_sdbm", "balance hdr(x-user)\n    hash-type consistent sdbm", servers},
		// s2 disabled: it keeps its id and its weight's share of the
		// divisor, as in HAProxy; the backup takes nothing.
		{"disabled", "balance uri", "    server s1 @S1@ weight 3\n    server s2 @S2@ weight 2 disabled\n    server s3 @S3@ weight 4\n    server s4 @S4@ weight 6 backup\n"},
		{"source", "balance source", servers},
		{"cons_source", "balance source\n    hash-type consistent", servers},
		{"cons_disabled", "balance uri\n    hash-type consistent", "    server s1 @S1@ weight 3\n    server s2 @S2@ weight 2 disabled\n    server s3 @S3@ weight 4\n    server s4 @S4@ weight 6\n"},
	}
	var cfg strings.Builder
	cfg.WriteString(hcHTTPDefaults + "\nfrontend www\n    bind 127.0.0.1:@PORT@\n")
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    use_backend %s if { req.hdr(x-be) -m str %s }\n", b.name, b.name)
	}
	for _, b := range backends {
		fmt.Fprintf(&cfg, "\nbackend %s\n    %s\n%s", b.name, b.lines, b.servers)
	}
	sc := hcScenario{name: "hash", cfg: cfg.String()}

	// ask sends the request of key i to backend be, from the client
	// address 127.0.0.(i+2) (source's key); it returns the server that
	// answered.
	// With h2, over HTTP/2 (h2c), whose target HAProxy makes absolute.
	h2, _ := h2cClient(t)
	ask := func(addr, be string, i int, overH2 bool) string {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+2))}
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		if overH2 {
			client = h2
		}
		path := fmt.Sprintf("/static/d%d/item-%d.png?id=u%d&v=%d", i%7, i, i*31, i%3)
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		// The same authority on both, whose ports differ: HTTP/2's
		// target has it.
		req.Host = "www.example.com"
		req.Header.Set("x-be", be)
		req.Header.Set("x-user", fmt.Sprintf("user-%d, other", i*17))
		req.Header.Set("x-host", fmt.Sprintf("www.site%d.example", i))
		resp, err := client.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	addrs := hashBackends(t)
	const keys = 60
	got := map[string][]string{}
	h2Backends := map[string]bool{"uri": true, "uri_path_only": true, "cons": true}
	collect := func(who string, addr func(string) string) {
		for _, b := range backends {
			seen := map[string]bool{}
			for i := range keys {
				s := ask(addr(""), b.name, i, false)
				got[who+" "+b.name] = append(got[who+" "+b.name], s)
				seen[s] = true
				if h2Backends[b.name] {
					got[who+" h2 "+b.name] = append(got[who+" h2 "+b.name], ask(addr(""), b.name, i, true))
				}
			}
			if len(seen) < 2 {
				t.Errorf("%s %s: %d keys reached only %v", who, b.name, keys, seen)
			}
		}
	}
	le, _ := hcStartLuaedge(t, sc, addrs)
	collect("luaedge", le)
	ha, _ := hcStartHAProxy(t, bin, sc, addrs)
	collect("haproxy", ha)
	for _, b := range backends {
		for _, name := range []string{b.name, "h2 " + b.name} {
			l, h := got["luaedge "+name], got["haproxy "+name]
			for i := range l {
				if l[i] != h[i] {
					t.Errorf("%s: key %d went to %q on luaedge, %q on haproxy", name, i, l[i], h[i])
				}
			}
		}
	}
}
