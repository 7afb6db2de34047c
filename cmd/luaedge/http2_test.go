package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 over cleartext TCP with prior knowledge (h2c): the client opens
// with the HTTP/2 preface on an HTTP frontend's port.

const h2cLua = `
core.register_action("tag", { "http-req" }, function(txn)
	txn.http:req_set_header("x-edge", "req-" .. txn.f:method() .. "-" .. txn.f:req_ver() .. "-" .. txn.f:fc_http_major() .. "-" .. txn.f:scheme())
end)
core.register_service("echo", "http", function(applet)
	local body = applet:receive()
	if applet.path == "/slow" then
		core.Info("slow request " .. applet.qs)
		core.msleep(tonumber(applet.qs))
	end
	local tag = (applet.headers["x-edge"] or {})[0] or ""
	local out = applet.method .. " " .. applet.path .. "?" .. applet.qs .. " " .. applet.version .. " " .. tag .. " " .. body
	applet:set_status(200)
	applet:add_header("content-length", #out)
	applet:start_response()
	applet:send(out)
end)
`

func TestHTTP2PriorKnowledge(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 2
shutdown_timeout: 5s
lua:
  load: [hello.lua, echo.lua]
frontends:
  - name: hello
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello-world
  - name: echo
    bind: ["127.0.0.1:@PORT2@"]
    http_request: ["lua.tag"]
    use_service: lua.echo
`, map[string]string{"hello.lua": readTestdata(t, "hello.lua"), "echo.lua": h2cLua})
	c, _ := h2cClient(t)
	echo := "http://" + s.addrOf("2")

	t.Run("hello", func(t *testing.T) {
		resp, body := get(t, c, s.url("/"))
		wantResponse(t, "GET / over h2c", resp, body, 200, "Hello World !")
		if resp.ProtoMajor != 2 || resp.Header.Get("content-type") != "text/plain" || resp.ContentLength != 13 {
			t.Errorf("HTTP/%d, content-type %q, length %d", resp.ProtoMajor, resp.Header.Get("content-type"), resp.ContentLength)
		}
	})
	// The http-request action's header change reaches the service, which
	// echoes the body.
	t.Run("post", func(t *testing.T) {
		resp, body := do(t, c, "POST", echo+"/p?q=1", "the body")
		wantResponse(t, "POST over h2c", resp, body, 200, "POST /p?q=1 HTTP/2.0 req-POST-2.0-2-http the body")
	})
	// Twenty streams at once on the one connection, answered in the
	// reverse order of their start: each gets its own answer.
	t.Run("concurrent", func(t *testing.T) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ms := 200 - 10*i
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/slow?%d", echo, ms), strings.NewReader(fmt.Sprint("stream ", i)))
				_, body, err := fetch(c, req)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("POST /slow?%d HTTP/2.0 req-POST-2.0-2-http stream %d", ms, i); body != want {
					errs <- fmt.Errorf("got %q, want %q", body, want)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// One after the other, their sleeps alone would take 2.1 s.
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("20 streams took %v: they did not run at once", d)
		}
	})
	// HTTP/1 on the same port as before.
	t.Run("http1", func(t *testing.T) {
		h1, _ := newClient(t)
		resp, body := get(t, h1, s.url("/"))
		wantResponse(t, "GET / over HTTP/1.1", resp, body, 200, "Hello World !")
		if resp.ProtoMajor != 1 {
			t.Errorf("HTTP/%d", resp.ProtoMajor)
		}
	})
	t.Run("curl", func(t *testing.T) {
		out, _, _ := curl(t, "-i", "--http2-prior-knowledge", s.url("/"))
		if !strings.HasPrefix(out, "HTTP/2 200") || !strings.HasSuffix(out, "\r\n\r\nHello World !") {
			t.Errorf("curl --http2-prior-knowledge: %q", out)
		}
	})
}

// A request forwarded to an HTTP/1 server.
func TestHTTP2Forward(t *testing.T) {
	needBinary(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s host=%s body=%s", r.Method, r.URL, r.Host, b)
	}))
	defer be.Close()
	s := startServer(t, `workers: 1
frontends:
  - name: fwd
    bind: ["127.0.0.1:@PORT@"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: s1, address: "`+be.Listener.Addr().String()+`"}
`, nil)
	c, _ := h2cClient(t)
	resp, body := do(t, c, "POST", s.url("/a?b=1"), "hi")
	wantResponse(t, "POST forwarded", resp, body, 200, "POST /a?b=1 host="+s.addr()+" body=hi")
}

// A stop sends GOAWAY, and the streams in flight are answered.
func TestHTTP2GracefulStop(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 1
shutdown_timeout: 5s
lua:
  load: [echo.lua]
frontends:
  - name: echo
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
`, map[string]string{"echo.lua": h2cLua})
	c, _ := h2cClient(t)
	get(t, c, s.url("/warm")) // the connection is open
	done := getAsync(c, s.url("/slow?600"))
	s.waitLog(t, 5*time.Second, "slow request 600")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.err != nil || got.body != "GET /slow?600 HTTP/2.0  " {
			t.Errorf("stream in flight at the stop: %q %v", got.body, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the stream in flight")
	}
	// The connection closes once its last stream is done: the stop does
	// not wait for shutdown_timeout.
	start := time.Now()
	if !s.stop(10 * time.Second) {
		t.Fatal("luaedge has not exited")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("luaedge exited %v after the last stream; the connection was not closed", d)
	}
}

// A reload sends GOAWAY on the old generation's connections: the stream
// in flight is answered there, the connection closes after it (the old
// generation drains at once, not at shutdown_timeout), and the client's
// next request goes to the new generation on a new connection.
func TestHTTP2Reload(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 1
shutdown_timeout: 30s
runtime_socket: le.sock
lua:
  load: [echo.lua]
frontends:
  - name: echo
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.echo
`, map[string]string{"echo.lua": h2cLua})
	c, _ := h2cClient(t)
	get(t, c, s.url("/warm"))
	done := getAsync(c, s.url("/slow?800"))
	s.waitLog(t, 5*time.Second, "slow request 800")
	start := time.Now()
	s.mustReload(t)
	select {
	case got := <-done:
		if got.err != nil || got.body != "GET /slow?800 HTTP/2.0  " {
			t.Errorf("stream in flight at the reload: %q %v", got.body, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the stream in flight")
	}
	s.waitLog(t, 10*time.Second, "reloaded")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the old generation drained %v after the reload", d)
	}
	resp, body := get(t, c, s.url("/after"))
	wantResponse(t, "GET after the reload", resp, body, 200, "GET /after? HTTP/2.0  ")
}

// HTTP/2 streams forwarded to a backend that misbehaves: a head and its
// body apart, bytes past a response's framing, a close mid-body. Each
// stream gets only its own answer, and so do the other streams of the
// connection and an HTTP/1 client on the same loop.
func TestHTTP2IsolationMisbehavingBackend(t *testing.T) {
	release, cut := make(chan struct{}), make(chan struct{})
	be := startRawBackend(t, func(c net.Conn, req *http.Request) {
		switch req.URL.Path {
		case "/apart":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: session=client-a\r\n\r\n")
			<-release
			_, _ = io.WriteString(c, "body-a")
		case "/lie":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED")
		case "/cut":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part")
			<-cut
			c.Close()
		default:
			_, _ = io.WriteString(c, pathAnswer(req))
		}
	})
	s := startServer(t, isolationConfig(be.addr, ""), map[string]string{"iso.lua": isolationLua})
	client, _ := h2cClient(t)
	wantPath := func(path string) {
		t.Helper()
		if resp, body := get(t, client, s.url(path)); resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "path="+path || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("GET %s: HTTP/%d %d %q %v", path, resp.ProtoMajor, resp.StatusCode, body, resp.Header)
		}
	}
	http1Service := func() {
		t.Helper()
		b := dialRaw(t, s.addrOf("2"))
		b.send("GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if got := b.readAll(); strings.Contains(got, "client-a") || strings.Contains(got, "only-part") || !strings.HasSuffix(got, "own answer for /b") {
			t.Fatalf("the HTTP/1 client on the same loop got %q", got)
		}
	}

	// The head, and the body only later: meanwhile the other streams and
	// the HTTP/1 client get their own answers.
	a, err := client.Get(s.url("/apart"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Header.Get("Set-Cookie") != "session=client-a" {
		t.Fatalf("the /apart stream's head lacks its cookie: %v", a.Header)
	}
	wantPath("/other")
	http1Service()
	close(release)
	if body, err := io.ReadAll(a.Body); err != nil || string(body) != "body-a" {
		t.Fatalf("the /apart stream's body: %q, %v", body, err)
	}
	a.Body.Close()

	// Bytes past the framing: the next streams get their own answers.
	if resp, body := get(t, client, s.url("/lie")); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET /lie: %d %q", resp.StatusCode, body)
	}
	for i := 1; i <= 3; i++ {
		wantPath(fmt.Sprintf("/client%d", i))
	}

	// A close mid-body ends that stream only.
	c, err := client.Get(s.url("/cut"))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("only-part"))
	if _, err := io.ReadFull(c.Body, first); err != nil || string(first) != "only-part" {
		t.Fatalf("the /cut stream's first bytes: %q, %v", first, err)
	}
	wantPath("/during")
	http1Service()
	close(cut)
	if rest, err := io.ReadAll(c.Body); err == nil {
		t.Fatalf("the /cut stream ended cleanly after %q: want it reset", rest)
	}
	c.Body.Close()
	wantPath("/whole")
}

// A frontend's http2 block: cleartext chooses what a connection without
// TLS may speak, and the limits are what the server announces and
// enforces.
func TestHTTP2FrontendSettings(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 1
lua:
  load: [hello.lua]
frontends:
  - name: limited
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.hello-world
    http2: {max_concurrent_streams: 7, stream_window: 1MiB, max_header_fields: 10}
  - name: http1-only
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.hello-world
    http2: {cleartext: off}
`, map[string]string{"hello.lua": readTestdata(t, "hello.lua")})

	t.Run("limits", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok {
			t.Fatalf("first frame %v, want SETTINGS", f)
		}
		got := map[http2.SettingID]uint32{}
		sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
		if got[http2.SettingMaxConcurrentStreams] != 7 || got[http2.SettingInitialWindowSize] != 1<<20 {
			t.Errorf("SETTINGS %v, want 7 streams and a 1 MiB window", got)
		}
		// 11 fields (4 pseudo) with max_header_fields 10: 431.
		var block strings.Builder
		enc := hpack.NewEncoder(&block)
		for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"},
			{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}, {"f", "6"}, {"g", "7"}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte(block.String()), EndStream: true, EndHeaders: true})
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if h, ok := f.(*http2.HeadersFrame); ok {
				fields, err := hpack.NewDecoder(4096, nil).DecodeFull(h.HeaderBlockFragment())
				if err != nil || len(fields) == 0 || fields[0].Value != "431" {
					t.Fatalf("response %v %v, want :status 431", fields, err)
				}
				break
			}
		}
	})

	t.Run("cleartext off", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", s.addrOf("2"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, http2.ClientPreface)
		got, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "HTTP/1.1 505 ") {
			t.Fatalf("the HTTP/2 preface on an HTTP/1-only frontend got %q, want an HTTP/1.1 505", got)
		}
	})
}

// Upgrade: h2c (RFC 7540 §3.2): a request without a body that asks for
// HTTP/2 is answered 101 and then as stream 1 of an HTTP/2 connection,
// which goes on with more streams. With a body, or on a frontend that
// serves no h2c, the upgrade is ignored and HTTP/1.1 answers.
func TestHTTP2Upgrade(t *testing.T) {
	needBinary(t)
	needCurl(t)
	s := startServer(t, `workers: 1
lua:
  load: [echo.lua]
frontends:
  - name: echo
    bind: ["127.0.0.1:@PORT@"]
    http_request: ["lua.tag"]
    use_service: lua.echo
  - name: http1-only
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.echo
    http2: {cleartext: off}
`, map[string]string{"echo.lua": h2cLua})

	t.Run("curl --http2", func(t *testing.T) {
		out, errOut, _ := curl(t, "-sv", "--http2", s.url("/up?1"))
		if out != "GET /up?1 HTTP/2.0 req-GET-2.0-2-http " || !strings.Contains(errOut, "< HTTP/1.1 101 Switching Protocols") || !strings.Contains(errOut, "< HTTP/2 200") {
			t.Errorf("got %q\n%s", out, errOut)
		}
	})
	t.Run("a body: no upgrade", func(t *testing.T) {
		out, errOut, _ := curl(t, "-sv", "--http2", "-d", "data", s.url("/post"))
		if out != "POST /post? HTTP/1.1 req-POST-1.1-1-http data" || strings.Contains(errOut, "101") {
			t.Errorf("got %q\n%s", out, errOut)
		}
	})
	t.Run("cleartext off: no upgrade", func(t *testing.T) {
		out, errOut, _ := curl(t, "-sv", "--http2", "http://"+s.addrOf("2")+"/off")
		if out != "GET /off? HTTP/1.1  " || strings.Contains(errOut, "101") {
			t.Errorf("got %q\n%s", out, errOut)
		}
	})

	// The upgrade, the preface and a second request sent at once: stream 1
	// answers the upgraded request, stream 3 the next.
	t.Run("more streams after the upgrade", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /one HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"+http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		var block strings.Builder
		enc := hpack.NewEncoder(&block)
		for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "example.com"}, {":path", "/two"}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte(block.String()), EndStream: true, EndHeaders: true})
		const switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
		head := make([]byte, len(switching))
		if _, err := io.ReadFull(c, head); err != nil || string(head) != switching {
			t.Fatalf("read %q, %v", head, err)
		}
		bodies := map[uint32]string{}
		for len(bodies) < 2 || !strings.HasSuffix(bodies[1], " ") || !strings.HasSuffix(bodies[3], " ") {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("after %v: %v", bodies, err)
			}
			if d, ok := f.(*http2.DataFrame); ok {
				bodies[d.StreamID] += string(d.Data())
			}
		}
		if bodies[1] != "GET /one? HTTP/2.0 req-GET-2.0-2-http " || bodies[3] != "GET /two? HTTP/2.0 req-GET-2.0-2-http " {
			t.Errorf("bodies %v", bodies)
		}
	})
}

// countingConn counts the bytes a client writes and reads.
type countingConn struct {
	net.Conn
	in, out int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in += int64(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out += int64(n)
	return n, err
}

// An HTTP/2 connection's bytes count in the client's stick-table entry
// (bytes_in_cnt, bytes_out_cnt) as HTTP/1's do, to the byte.
func TestHTTP2StickTableBytes(t *testing.T) {
	needBinary(t)
	s := startServer(t, `workers: 1
lua: {load: [bytes.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    stick_table: {type: ip, size: 100, store: [bytes_in_cnt, bytes_out_cnt]}
    track: {key: src}
    use_service: lua.bytes
  - name: untracked
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.bytes
`, map[string]string{"bytes.lua": `
core.register_service("bytes", "http", function(applet)
	local e = core.frontends["web"].stktable:lookup(applet.f:src()) or {bytes_in_cnt = 0, bytes_out_cnt = 0}
	local s = string.format("%d %d", e.bytes_in_cnt, e.bytes_out_cnt)
	applet:add_header("content-length", #s)
	applet:start_response()
	applet:send(s)
end)
`})
	// counters reads the entry through the untracked frontend.
	counters := func() (in, out int64) {
		t.Helper()
		_, b := get(t, http.DefaultClient, "http://"+s.addrOf("2")+"/")
		fmt.Sscanf(b, "%d %d", &in, &out)
		return in, out
	}

	raw, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := &countingConn{Conn: raw}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var block strings.Builder
	enc := hpack.NewEncoder(&block)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte(block.String()), EndStream: true, EndHeaders: true})
	for ended := false; !ended; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			ended = d.StreamEnded()
		}
	}
	// Our GOAWAY ends the connection: the server closes once it has
	// written all it will, and everything it wrote is read.
	fr.WriteGoAway(1, http2.ErrCodeNo, nil)
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatal(err)
	}
	c.Close()

	for deadline := time.Now().Add(5 * time.Second); ; {
		in, out := counters()
		if in == c.out && out == c.in {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bytes_in_cnt %d, bytes_out_cnt %d; the HTTP/2 connection sent %d and received %d", in, out, c.out, c.in)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
