package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
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
		resp, body := send(t, c, req)
		want := fmt.Sprintf("POST /echo?q=1 %x", sha256.Sum256(big))
		if resp.StatusCode != 200 || body != want || resp.Header.Get("x-proto") != "HTTP/2.0" ||
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

// rawH2Backend is an HTTP/2 server written frame by frame, to misbehave:
// answer calls back with each request's stream and path.
func rawH2Backend(t *testing.T, answer func(w *h2Writer, id uint32, path string)) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		w := &h2Writer{c: c, fr: http2.NewFramer(c, c)}
		w.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		w.mu.Lock()
		w.fr.WriteSettings()
		w.mu.Unlock()
		for {
			f, err := w.fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					w.mu.Lock()
					w.fr.WriteSettingsAck()
					w.mu.Unlock()
				}
			case *http2.MetaHeadersFrame:
				go answer(w, f.StreamID, f.PseudoValue("path"))
			}
		}
	})
}

// h2Writer writes a raw backend's frames, one writer at a time.
type h2Writer struct {
	mu sync.Mutex
	c  net.Conn
	fr *http2.Framer
}

func (w *h2Writer) head(id uint32, end bool, nv ...string) {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i < len(nv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: nv[i], Value: nv[i+1]})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: end})
}

func (w *h2Writer) data(id uint32, end bool, p string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fr.WriteData(id, end, []byte(p))
}

// An HTTP/2 backend that misbehaves: a head sent long before its body, a
// body past its content-length, a connection closed mid-body. Each
// client gets its own answer or its own error; a client of another
// frontend on the same loop, and other requests multiplexed on the same
// backend connection, get theirs.
func TestHTTP2BackendIsolation(t *testing.T) {
	needBinary(t)
	release, cut := make(chan struct{}), make(chan struct{})
	addr := rawH2Backend(t, func(w *h2Writer, id uint32, path string) {
		switch path {
		case "/apart":
			w.head(id, false, ":status", "200", "content-length", "6", "set-cookie", "session=client-a")
			<-release
			w.data(id, true, "body-a")
		case "/lie":
			w.head(id, false, ":status", "200", "content-length", "2")
			w.data(id, true, "okINJECTED")
		case "/cut":
			w.head(id, false, ":status", "200", "content-length", "100")
			w.data(id, false, "only-part")
			<-cut
			w.c.Close()
		default:
			w.head(id, false, ":status", "200")
			w.data(id, true, "path="+path)
		}
	})
	s := startServer(t, isolationConfig(addr, "")+"    proto: h2\n", map[string]string{"iso.lua": isolationLua})
	c := &http.Client{Timeout: 20 * time.Second}
	wantOwn := func(path string) {
		t.Helper()
		if resp, body := get(t, c, s.url(path)); resp.StatusCode != 200 || body != "path="+path || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, body, resp.Header)
		}
		if resp, body := get(t, c, "http://"+s.addrOf("2")+path); body != "own answer for "+path || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("GET %s on the service: %q %v", path, body, resp.Header)
		}
	}

	// The head arrives, the body waits; others go on meanwhile.
	apart := getAsync(http.DefaultClient, s.url("/apart"))
	for i := range 5 {
		wantOwn("/during-apart-" + strconv.Itoa(i))
	}
	close(release)
	if got := <-apart; got.err != nil || got.resp.Header.Get("Set-Cookie")+" "+got.body != "session=client-a body-a" {
		t.Fatalf("/apart got %q %v", got.body, got.err)
	}

	// A body past its framing: its client is cut, nobody gets the excess.
	if resp, err := c.Get(s.url("/lie")); err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && resp.StatusCode == 200 || bytes.Contains(b, []byte("INJECTED")) {
			t.Fatalf("/lie: %d %q %v", resp.StatusCode, b, rerr)
		}
	}
	for i := range 3 {
		wantOwn("/after-lie-" + strconv.Itoa(i))
	}

	// The connection closes mid-body: that client is cut; the next request
	// opens a new connection.
	cutDone := make(chan error, 1)
	go func() {
		_, _, err := fetchGet(http.DefaultClient, s.url("/cut"))
		cutDone <- err
	}()
	wantOwn("/before-cut")
	close(cut)
	if err := <-cutDone; err == nil {
		t.Fatal("/cut: the client read a whole body from a server that closed mid-body")
	}
	for i := range 3 {
		wantOwn("/after-cut-" + strconv.Itoa(i))
	}
}

// An HTTP/2 backend over TLS: ALPN h2, the same streams.
func TestHTTP2BackendTLS(t *testing.T) {
	needBinary(t)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %d", r.Proto, r.Method, r.URL.RequestURI(), len(b))
	}))
	be.EnableHTTP2 = true
	be.StartTLS()
	t.Cleanup(be.Close)
	s := startServer(t, `workers: 1
frontends:
  - name: fwd
    bind: ["127.0.0.1:@PORT@"]
    default_backend: app
backends:
  - name: app
    proto: h2
    tls: {verify: none}
    servers:
      - {name: s1, address: "`+be.Listener.Addr().String()+`"}
`, nil)
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		resp, body := do(t, c, "POST", s.url("/tls?"+strconv.Itoa(i)), "abc")
		if want := "HTTP/2.0 POST /tls?" + strconv.Itoa(i) + " 3"; resp.StatusCode != 200 || body != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
		}
	}
}
