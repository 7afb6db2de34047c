package http2_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	h2proto "github.com/luaedge/luaedge/proto/http2"

	"github.com/luaedge/luaedge/edge/edgetest"
)

// HTTP/2 connections, served in-process by a whole server, with
// x/net/http2's client over cleartext TCP (prior knowledge).

const app = `
local function answer(a, status, body, fields)
	a:set_status(status)
	if body then a:add_header("content-length", #body) end
	for k, v in pairs(fields or {}) do a:add_header(k, v) end
	a:start_response()
	if body then a:send(body) end
end
local routes = {}
routes["/hello"] = function(a)
	answer(a, 200, "hello " .. a.method .. " " .. a.path .. "?" .. a.qs .. " " .. a.version .. " " .. (a.headers["host"] or {})[0])
end
routes["/echo"] = function(a)
	local body = a:receive()
	answer(a, 200, body, {["x-len"] = tostring(#body)})
end
-- No content-length: the body ends with the stream.
routes["/stream"] = function(a)
	a:set_status(200)
	a:start_response()
	a:send("part1;")
	core.yield()
	a:send("part2")
end
-- More than the client's stream window: the rest waits for its credit.
routes["/big"] = function(a) answer(a, 200, string.rep("0123456789", 600000)) end
routes["/trailers"] = function(a)
	a:set_status(200)
	a:add_trailer("x-checksum", "abc123")
	a:start_response()
	a:send("with trailers")
end
routes["/fail"] = function(a) error("boom") end
routes["/slow"] = function(a)
	core.msleep(tonumber(a.qs) or 10)
	answer(a, 200, "slow " .. a.qs)
end
-- 1000 pieces of 64 KiB, counted in proc.pieces as they are sent.
routes["/pieces"] = function(a)
	local piece = string.rep("p", 65536)
	a:set_status(200)
	a:start_response()
	for i = 1, 1000 do
		a:send(piece)
		core.set_var("proc.pieces", i)
	end
end
routes["/pieces-sent"] = function(a) answer(a, 200, tostring(core.get_var("proc.pieces"))) end
core.register_service("app", "http", function(a)
	local f = routes[a.path]
	if f then return f(a) end
	answer(a, 404, "no route " .. a.path)
end)
`

const conf = `
workers: 1
shutdown_timeout: 3s
frontends:
  - name: main
    bind: ["@A@"]
    use_service: lua.app
    limits: {max_body: 100000}
  - name: strict
    bind: ["@B@"]
    use_service: lua.app
    timeouts: {keep_alive: 400ms, body: 300ms}
  - name: control
    bind: ["@C@"]
    use_service: lua.app
    http2: {max_queued_control: 8000, flood_allowance: 1GiB}
`

// client is an HTTP/2 client that talks h2c with prior knowledge; every
// request goes on one connection.
func client() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func get(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(b)
}

func TestHTTP2(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	base := "http://" + s.Addr["@A@"]
	c := client()
	defer c.CloseIdleConnections()

	t.Run("hello", func(t *testing.T) {
		resp, body := get(t, c, "GET", base+"/hello?x=1", "")
		want := "hello GET /hello?x=1 HTTP/2.0 " + s.Addr["@A@"]
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != want {
			t.Fatalf("got HTTP/%d %d %q, want HTTP/2 200 %q", resp.ProtoMajor, resp.StatusCode, body, want)
		}
		if resp.Header.Get("server") != "luaedge" || resp.Header.Get("date") == "" {
			t.Fatalf("head: %v", resp.Header)
		}
	})
	t.Run("echo", func(t *testing.T) {
		payload := strings.Repeat("abcdefgh", 5000)
		resp, body := get(t, c, "POST", base+"/echo", payload)
		if resp.StatusCode != 200 || body != payload || resp.Header.Get("x-len") != "40000" {
			t.Fatalf("got %d, %d bytes, x-len %q", resp.StatusCode, len(body), resp.Header.Get("x-len"))
		}
	})
	// More body than the stream's window (256 KiB) to a script that reads
	// it all at once: it must be credited as it arrives, or the client
	// stalls at the window and the script waits for ever.
	t.Run("echo past the window", func(t *testing.T) {
		payload := strings.Repeat("abcdefgh", 100000)
		resp, body := get(t, c, "POST", "http://"+s.Addr["@C@"]+"/echo", payload) // max_body: the default
		if resp.StatusCode != 200 || body != payload || resp.Header.Get("x-len") != "800000" {
			t.Fatalf("got %d, %d bytes, x-len %q", resp.StatusCode, len(body), resp.Header.Get("x-len"))
		}
	})
	t.Run("stream", func(t *testing.T) {
		_, body := get(t, c, "GET", base+"/stream", "")
		if body != "part1;part2" {
			t.Fatalf("got %q", body)
		}
	})
	t.Run("big", func(t *testing.T) {
		_, body := get(t, c, "GET", base+"/big", "")
		if body != strings.Repeat("0123456789", 600000) {
			t.Fatalf("got %d bytes", len(body))
		}
	})
	t.Run("trailers", func(t *testing.T) {
		resp, body := get(t, c, "GET", base+"/trailers", "")
		if body != "with trailers" || resp.Trailer.Get("x-checksum") != "abc123" {
			t.Fatalf("got %q, trailers %v", body, resp.Trailer)
		}
	})
	t.Run("head", func(t *testing.T) {
		resp, body := get(t, c, "HEAD", base+"/hello", "")
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("hello HEAD /hello? HTTP/2.0 "+s.Addr["@A@"])) {
			t.Fatalf("got %d, length %d, body %q", resp.StatusCode, resp.ContentLength, body)
		}
	})
	t.Run("errors", func(t *testing.T) {
		resp, _ := get(t, c, "GET", base+"/fail", "")
		if resp.StatusCode != 500 {
			t.Fatalf("failing script: %d", resp.StatusCode)
		}
		resp, _ = get(t, c, "POST", base+"/echo", strings.Repeat("x", 100001))
		if resp.StatusCode != 413 {
			t.Fatalf("body past max_body: %d", resp.StatusCode)
		}
	})
	// Streams of one connection run at once, each with its own answer.
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := fmt.Sprint(50 - 2*i)
				resp, err := c.Get(base + "/slow?" + q)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "slow "+q {
					errs <- fmt.Errorf("stream %d: got %q", i, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	// HTTP/1 on the same port is unchanged.
	t.Run("http1", func(t *testing.T) {
		resp, err := http.Get(base + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 1 || string(b) != "hello GET /hello? HTTP/1.1 "+s.Addr["@A@"] {
			t.Fatalf("got HTTP/%d %q", resp.ProtoMajor, b)
		}
	})
}

func TestHTTP2Timeouts(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	base := "http://" + s.Addr["@B@"]

	// A body that stops coming: the script waiting for it gets 408.
	t.Run("body", func(t *testing.T) {
		c := client()
		defer c.CloseIdleConnections()
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte("part of it"))
		req, _ := http.NewRequest("POST", base+"/echo", pr)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 408 || time.Since(start) > 5*time.Second {
			t.Fatalf("got %d after %v, want 408", resp.StatusCode, time.Since(start))
		}
	})
	// A connection with no stream closes after keep_alive, with GOAWAY.
	t.Run("idle", func(t *testing.T) {
		c := s.Dial(t, "@B@")
		c.Send(t, string(h2proto.AppendSettings([]byte(h2proto.ClientPreface))))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c.R)
		if err != nil {
			t.Fatalf("waiting for the close: %v", err)
		}
		var goAway bool
		for len(got) > 0 {
			f, n, err := h2proto.ParseFrame(got, h2proto.MaxMaxFrameSize)
			if err != nil {
				t.Fatalf("%v in %q", err, got)
			}
			goAway = goAway || f.Type == h2proto.FrameGoAway
			got = got[n:]
		}
		if !goAway {
			t.Fatal("closed without GOAWAY")
		}
	})
	// The preface sent a byte at a time is still HTTP/2.
	t.Run("trickled preface", func(t *testing.T) {
		c := s.Dial(t, "@B@")
		for _, b := range []byte(h2proto.ClientPreface) {
			c.Send(t, string([]byte{b}))
		}
		c.Send(t, string(h2proto.AppendSettings(nil)))
		head := make([]byte, 9)
		if _, err := io.ReadFull(c.R, head); err != nil || !bytes.Equal(head[3:5], []byte{byte(h2proto.FrameSettings), 0}) {
			t.Fatalf("first frame %x, %v: want the server's SETTINGS", head, err)
		}
	})
}

// A failing script's 500 to a HEAD request carries no DATA bytes (x/net's
// client drops them, so the frames are read here).
func TestHTTP2HeadError(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	c := s.Dial(t, "@A@")
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "HEAD"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/fail"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	in := h2proto.AppendSettings([]byte(h2proto.ClientPreface))
	in = h2proto.AppendHeaders(in, 1, h2proto.FlagEndHeaders|h2proto.FlagEndStream, block.Bytes())
	c.Send(t, string(in))
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		f, n, err := h2proto.ParseFrame(buf, h2proto.MaxMaxFrameSize)
		if err == h2proto.ErrIncomplete {
			k, rerr := c.R.Read(chunk)
			if rerr != nil {
				t.Fatalf("reading: %v", rerr)
			}
			buf = append(buf, chunk[:k]...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.StreamID == 1 && f.Type == h2proto.FrameData && f.Length > 0 {
			t.Fatalf("DATA of %d bytes on a HEAD response", f.Length)
		}
		if f.StreamID == 1 && f.Flags.Has(h2proto.FlagEndStream) {
			return
		}
		buf = buf[n:]
	}
}

// A client that floods PING without reading what it is sent is cut off
// once max_queued_control acknowledgements wait (the output is held while
// the client leaves more than transport.HighWater unread), instead of
// the server buffering an acknowledgement for each.
func TestHTTP2PingFloodUnread(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	c := s.Dial(t, "@C@")
	c.Send(t, string(h2proto.AppendSettings([]byte(h2proto.ClientPreface))))
	var pings []byte
	for range 100 {
		pings = h2proto.AppendPing(pings, false, [8]byte{})
	}
	const most = 64 << 20
	sent := 0
	for ; sent < most; sent += len(pings) {
		if _, err := c.Write(pings); err != nil {
			break
		}
	}
	got, err := io.ReadAll(c.R)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading after %d MiB of PING: %v", sent>>20, err)
	}
	// The kernel's buffers take some MiB of acknowledgements first.
	if len(got) > most/2 {
		t.Fatalf("%d MiB of PING sent, %d MiB answered to a client that did not read", sent>>20, len(got)>>20)
	}
}

// A client that reopens a stalled stream's window and resets it in the
// same write: the stream's script stops (the credit, handled first, finds
// the stream already closed), instead of running on with its output
// dropped.
func TestHTTP2ResetAfterWindowUpdate(t *testing.T) {
	s := edgetest.Start(t, conf, app)
	c := s.Dial(t, "@A@")
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/pieces"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	in := h2proto.AppendSettings([]byte(h2proto.ClientPreface))
	in = h2proto.AppendHeaders(in, 1, h2proto.FlagEndHeaders|h2proto.FlagEndStream, block.Bytes())
	c.Send(t, string(in))
	// The first 65535 bytes fill the windows; the rest waits.
	fr := http2.NewFramer(nil, c.R)
	for got := 0; got < 65535; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
	}
	out := h2proto.AppendWindowUpdate(nil, 0, 1<<20)
	out = h2proto.AppendWindowUpdate(out, 1, 1<<20)
	out = h2proto.AppendRSTStream(out, 1, h2proto.ErrCodeCancel)
	c.Send(t, string(out))
	base := "http://" + s.Addr["@A@"]
	cl := client()
	defer cl.CloseIdleConnections()
	// Running on, the script would send its 1000 pieces in well under a
	// second.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, n := get(t, cl, "GET", base+"/pieces-sent", ""); n == "1000" {
			t.Fatal("the reset stream's script went on to its end")
		}
	}
}
