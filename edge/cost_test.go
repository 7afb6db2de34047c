package edge

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
)

// The cost of a request through the whole server, for the scripts of the
// benchmark cases: cgo crossings (each resume of a coroutine is one) and
// Go allocations. A keep-alive client that allocates nothing itself sends
// the requests from this process, so the process's counters measure the
// server.
func TestRequestCost(t *testing.T) {
	cases := []struct {
		name   string
		cgo    float64 // crossings per request
		allocs float64 // Go allocations per request
	}{
		// The loop's timers (the sweeper's tick) allocate a little
		// whatever the traffic: well under one in ten requests.
		{"hello", 1, 0.1},
		{"action", 1, 0.1},
		{"edge", 1, 0.1},
		{"proxy", 2, 0.1}, // the http-response action runs on the server's head: a second resume
		// The same with the access log on, to a file: it costs neither.
		{"hello-log", 1, 0.1},
		{"proxy-log", 2, 0.1},
		// http.request: a resume for the request, one for the response
		// (its head and body come together); the exchange, its copy of
		// the request and the stream's resume task.
		{"httpclient", 2, 3.1},
	}
	backend := startFixedBackend(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := serveBenchCase(t, tc.name, backend)
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := benchRequest(t, tc.name)
			buf := make([]byte, 64<<10)
			const warm, n = 300, 2000
			for i := 0; i < warm; i++ {
				roundTrip(t, c, req, buf)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			cgoBefore := runtime.NumCgoCall()
			for i := 0; i < n; i++ {
				roundTrip(t, c, req, buf)
			}
			cgoCalls := float64(runtime.NumCgoCall()-cgoBefore) / n
			runtime.ReadMemStats(&after)
			allocs := float64(after.Mallocs-before.Mallocs) / n
			t.Logf("%s: %.3f cgo crossings, %.3f Go allocations per request", tc.name, cgoCalls, allocs)
			if cgoCalls > tc.cgo+0.02 {
				t.Errorf("%.3f cgo crossings per request, want %v", cgoCalls, tc.cgo)
			}
			if allocs > tc.allocs {
				t.Errorf("%.3f Go allocations per request, want at most %v", allocs, tc.allocs)
			}
		})
	}
}

// serveBenchCase serves bench/cases/NAME in this process on a free port;
// backend is the address of the proxy case's server.
func serveBenchCase(t testing.TB, name, backend string) *testServer {
	t.Helper()
	src := filepath.Join("..", "bench", "cases", name)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	_, bport, _ := net.SplitHostPort(backend)
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("@PORT@", port, "@DIR@", dir, "@UPSTREAM_PORT@", bport, "@ADMIN_PORT@", "0").Replace(string(b))
		if err := os.WriteFile(filepath.Join(dir, f.Name()), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml, err := os.ReadFile(filepath.Join(dir, "luaedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(yaml, dir)
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := lj.ReadScripts(dir, cfg.Lua.Load)
	if err != nil {
		t.Fatal(err)
	}
	return runServer(t, cfg, scripts, addr)
}

// benchRequest is the case's request: a GET with its request.headers.
func benchRequest(t testing.TB, name string) []byte {
	req := "GET / HTTP/1.1\r\nHost: bench\r\n"
	if b, err := os.ReadFile(filepath.Join("..", "bench", "cases", name, "request.headers")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			req += strings.TrimSpace(line) + "\r\n"
		}
	}
	return []byte(req + "\r\n")
}

// roundTrip sends req on c and reads one response with a content-length
// into buf, without allocating.
func roundTrip(t testing.TB, c net.Conn, req, buf []byte) {
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			t.Fatalf("reading a response: %v (got %q)", err, buf[:n])
		}
		n += m
		head := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if head < 0 {
			continue
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
			t.Fatalf("response %q", buf[:n])
		}
		i := bytes.Index(buf[:head], []byte("content-length: ")) // luaedge writes names lower-case
		if i < 0 {
			t.Fatalf("response without content-length: %q", buf[:n])
		}
		line := buf[i+len("content-length: "):]
		length, _ := strconv.Atoi(string(line[:bytes.IndexByte(line, '\r')]))
		if n >= head+4+length {
			return
		}
	}
}

// startFixedBackend answers every request with the same short response,
// allocating nothing per request.
func startFixedBackend(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\nHello World !")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				n := 0
				for {
					m, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
					for {
						end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if end < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[end+4:n])
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkRequest is a keep-alive request of the benchmark cases
// through the whole server, the client in this process: its allocs/op
// (the client allocates nothing) and cpu-ns/op, the process's CPU time
// per request (client included), compare changes of the request path;
// ns/op is mostly the wake-ups of a round trip on loopback.
func BenchmarkRequest(b *testing.B) {
	backend := startFixedBackend(b)
	for _, name := range []string{"hello", "action", "proxy"} {
		b.Run(name, func(b *testing.B) {
			ts := serveBenchCase(b, name, backend)
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := benchRequest(b, name)
			buf := make([]byte, 64<<10)
			for i := 0; i < 300; i++ {
				roundTrip(b, c, req, buf)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU(b)
			for i := 0; i < b.N; i++ {
				roundTrip(b, c, req, buf)
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
