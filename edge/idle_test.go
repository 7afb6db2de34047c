package edge

import (
	"net"
	"runtime"
	"testing"
)

// An idle keep-alive connection costs the server little memory: its
// parsed request head, output buffer, chunk decoder, coroutine, stream and
// request state are the loop's, or borrowed from the loop for a request's
// time, between requests. What is left is the connection's own state (the
// edge's httpConn with serve/http1's Conn in it, 160 bytes, and its
// transport, 32) and gnet's (about 380 bytes with its addresses); the
// test's client side, in the same process, adds about 330 bytes.
// Measured: about 900 bytes; the earlier layout (the HTTP/1 side and a
// context wrapper allocated apart, a map of the connections: about 1,100
// bytes) fails it.
func TestIdleConnectionMemory(t *testing.T) {
	backend := startFixedBackend(t)
	ts := serveBenchCase(t, "hello", backend)
	req := benchRequest(t, "hello")
	buf := make([]byte, 4096)
	const n = 2000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	measure := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// The first connections size the loop's pools and tables.
	for i := 0; i < 100; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, req, buf)
		conns = append(conns, c)
	}
	before := measure()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, req, buf)
		conns = append(conns, c)
	}
	after := measure()
	per := float64(after-before) / n
	t.Logf("Go heap per idle keep-alive connection, client side included: %.0f bytes", per)
	if per > 1000 {
		t.Errorf("%.0f bytes of Go heap per idle connection", per)
	}
}
