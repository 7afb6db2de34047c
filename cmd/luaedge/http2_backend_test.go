package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2Backend is an HTTP/2 server with prior knowledge (x/net's), counting
// the connections luaedge opens to it.
type h2Backend struct {
	addr  string
	conns atomic.Int32
}

func serveH2Backend(t *testing.T, h http.HandlerFunc) *h2Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &h2Backend{addr: ln.Addr().String()}
	srv := &http2.Server{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			go srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
		}
	}()
	return b
}

// A backend with proto: h2 gets the forwarded requests as streams of
// HTTP/2 connections (one per loop, shared by the requests in flight),
// whatever the client spoke: heads both ways, bodies past the default
// windows both ways, trailers, the http-response rules, a stream the
// server resets among others that complete, and a slow client that does
// not hold up the others.
func TestHTTP2Backend(t *testing.T) {
	needBinary(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	release := make(chan struct{})
	var releaseOnce sync.Once
	be := serveH2Backend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("x-proto", r.Proto)
			w.Header().Set("x-host", r.Host)
			w.Header().Set("x-len", strconv.Itoa(len(b)))
			w.Header().Set("x-client", r.Header.Get("x-client"))
			fmt.Fprintf(w, "%s %s %x", r.Method, r.URL.RequestURI(), sha256.Sum256(b))
		case "/big":
			w.Header().Set("content-length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/trailers":
			w.Header().Set("Trailer", "x-sum")
			io.WriteString(w, "body")
			w.Header().Set("x-sum", "42")
		case "/reset":
			panic(http.ErrAbortHandler) // x/net resets the stream
		case "/wait":
			<-release
			io.WriteString(w, "released")
		}
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	s := startServer(t, `workers: 2
lua:
  load: [tag.lua]
frontends:
  - name: fwd
    bind: ["127.0.0.1:@PORT@"]
    http_response: ["lua.tag"]
    default_backend: app
backends:
  - name: app
    proto: h2
    servers:
      - {name: s1, address: "`+be.addr+`"}
`, map[string]string{"tag.lua": `
core.register_action("tag", { "http-res" }, function(txn)
	txn.http:res_set_header("x-tagged", txn.sf:status())
end)
`})
	c := &http.Client{Timeout: 20 * time.Second}

	t.Run("head and body", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.url("/echo?q=1"), bytes.NewReader(big))
		req.Header.Set("x-client", "me")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("POST /echo?q=1 %x", sha256.Sum256(big))
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("x-proto") != "HTTP/2.0" ||
			resp.Header.Get("x-host") != s.addr() || resp.Header.Get("x-len") != strconv.Itoa(len(big)) ||
			resp.Header.Get("x-client") != "me" || resp.Header.Get("x-tagged") != "200" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("download", func(t *testing.T) {
		resp, body := get(t, c, s.url("/big"))
		if resp.StatusCode != 200 || body != string(big) {
			t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
		}
	})
	t.Run("trailers to an HTTP/2 client", func(t *testing.T) {
		h2c, _ := h2cClient(t)
		resp, body := get(t, h2c, s.url("/trailers"))
		if body != "body" || resp.Trailer.Get("x-sum") != "42" {
			t.Fatalf("%q, trailers %v", body, resp.Trailer)
		}
	})
	t.Run("a reset stream among others", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := "/echo?n=" + strconv.Itoa(i)
				if i%4 == 0 {
					path = "/reset"
				}
				resp, err := c.Get(s.url(path))
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case path == "/reset" && resp.StatusCode != 502:
					errs <- fmt.Sprintf("%s: %d, want 502", path, resp.StatusCode)
				case path != "/reset" && (resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("GET "+path+" "))):
					errs <- fmt.Sprintf("%s: %d %q", path, resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
	t.Run("a slow client does not hold up the others", func(t *testing.T) {
		// A client that reads nothing of 8 MiB: its stream stops at its
		// windows; the others on the same connection go on.
		slow, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		fmt.Fprintf(slow, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		start := time.Now()
		for i := range 10 {
			resp, body := get(t, c, s.url("/echo?after-slow="+strconv.Itoa(i)))
			if resp.StatusCode != 200 || !bytes.HasPrefix([]byte(body), []byte("GET /echo?after-slow=")) {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("10 requests took %v beside a stalled download", d)
		}
	})
	if n := be.conns.Load(); n > 4 {
		t.Errorf("%d connections to the backend for two loops", n)
	}
}
