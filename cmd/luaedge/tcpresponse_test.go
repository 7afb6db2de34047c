// tcp-response rules evaluated as the server's bytes arrive, within
// tcp-response inspect-delay, as HAProxy 2.6 evaluates them: the same
// haproxy.cfg on both, the same server, the same bytes to the client.
package main

import (
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"
)

// tcpResponseLua: seen sends the length of the server's input each time
// the rules run; peek waits for six bytes (as long as the rules may wait)
// and sends what it got.
const tcpResponseLua = `
core.register_action("seen", { "tcp-res" }, function(txn)
	txn.res:send("<" .. txn.res:input() .. ">")
end)
core.register_action("peek", { "tcp-res" }, function(txn)
	local d = txn.res:data(0, 6)
	txn.res:send("[" .. tostring(d) .. "]")
end)
`

// slowSpeaker is a server that speaks first, in three parts far apart:
// "ab" after 100ms, "cdef" 700ms later, "ghij\n" 300ms after that; then
// it closes.
func slowSpeaker(t *testing.T) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		for _, p := range []struct {
			wait time.Duration
			data string
		}{{100 * time.Millisecond, "ab"}, {700 * time.Millisecond, "cdef"}, {300 * time.Millisecond, "ghij\n"}} {
			time.Sleep(p.wait)
			if _, err := io.WriteString(c, p.data); err != nil {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	})
}

// seenRE matches a mark of seen.
var seenRE = regexp.MustCompile(`<\d+>`)

// oneRunPerInput keeps one mark of seen per input length: HAProxy runs
// the rules again on events other than new bytes (its own sends, the
// connection's setup), which change nothing but the count.
func oneRunPerInput(s string) string {
	last := ""
	return seenRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == last {
			return ""
		}
		last = m
		return m
	})
}

func TestTCPResponseInspectDelay(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "tcp-response inspect-delay",
		made: map[string]string{"res.lua": tcpResponseLua},
		cfg: `global
    nbthread 1
    lua-load res.lua

defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen acl
    bind 127.0.0.1:@PORTacl@
    tcp-response inspect-delay 3s
    tcp-response content lua.seen
    tcp-response content accept if { res.len ge 6 }
    tcp-response content reject
    server s @SLOW@

listen acl_short
    bind 127.0.0.1:@PORTaclshort@
    tcp-response inspect-delay 350ms
    tcp-response content lua.seen
    tcp-response content accept if { res.len ge 6 }
    tcp-response content reject
    server s @SLOW@

listen peek
    bind 127.0.0.1:@PORTpeek@
    tcp-response inspect-delay 3s
    tcp-response content lua.peek
    server s @SLOW@

listen peek_short
    bind 127.0.0.1:@PORTpeekshort@
    tcp-response inspect-delay 350ms
    tcp-response content lua.peek
    server s @SLOW@

listen nodelay
    bind 127.0.0.1:@PORTnodelay@
    tcp-response content lua.seen
    tcp-response content lua.peek
    server s @SLOW@
`,
	}
	want := map[string]string{
		// Run at the connection, then on each arrival until res.len
		// reaches 6: the rules decided, the rest is piped.
		"acl": "<0><2><6>abcdefghij\n",
		// The delay passes with 2 bytes: the last run rejects, after
		// what seen sent.
		"aclshort": "<0><2>",
		// data(0, 6) waits for the six bytes, or for the delay.
		"peek":      "[abcdef]abcdefghij\n",
		"peekshort": "[ab]abcdefghij\n",
		// Without a delay luaedge runs the rules once, on the server's
		// first bytes (HAProxy: when connected, on nothing).
		"nodelay": "<2>[ab]abcdefghij\n",
	}
	got := map[string]map[string]string{}
	hcCheckBoth(t, sc, map[string]string{"SLOW": slowSpeaker(t)}, func(who string, addr func(string) string) {
		got[who] = map[string]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name := range want {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := readAllFrom(addr(name))
				mu.Lock()
				got[who][name] = oneRunPerInput(s)
				mu.Unlock()
			}()
		}
		wg.Wait()
	})
	for name, w := range want {
		if g := got["luaedge"][name]; g != w {
			t.Errorf("%s on luaedge: %q, want %q", name, g, w)
		}
		ha, ok := got["haproxy"]
		if !ok {
			continue
		}
		if name == "nodelay" {
			t.Logf("%s on haproxy: %q", name, ha[name])
			continue
		}
		if ha[name] != got["luaedge"][name] {
			t.Errorf("%s: luaedge %q, haproxy %q", name, got["luaedge"][name], ha[name])
		}
	}
}

// readAllFrom connects to addr and reads until the connection ends.
func readAllFrom(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(8 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		return string(b) + " error: " + err.Error()
	}
	return string(b)
}
