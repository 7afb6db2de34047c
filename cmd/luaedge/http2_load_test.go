package main

import (
	"bytes"
	"fmt"
	"hash/adler32"
	"io"
	"math/rand"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 under load and in the situations a real client creates: many
// streams at once on one connection, large bodies both ways under flow
// control, a slow stream among quick ones, a stream the client resets in
// the middle of its response.

// h2LoadLua has a hello service and the services of the tests below.
// /upload reads the body a piece at a time and answers its length and
// Adler-32; /download?N sends N pieces of 64 KiB, piece i made of the
// line "%07d\n" of i; /stream?N does the same counting the pieces sent in
// proc.sent; /sleep?MS answers after a sleep.
const h2LoadLua = `
local function answer(applet, body)
	applet:set_status(200)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end
local function piece(i) return string.rep(string.format("%07d\n", i), 8192) end
core.register_service("svc", "http", function(applet)
	local p = applet.path
	if p == "/upload" then
		local n, a, b = 0, 1, 0
		while true do
			local chunk = applet:receive(65536)
			if chunk == "" then break end
			n = n + #chunk
			for i = 1, #chunk do
				a = (a + string.byte(chunk, i)) % 65521
				b = (b + a) % 65521
			end
		end
		return answer(applet, n .. " " .. (b * 65536 + a))
	elseif p == "/download" or p == "/stream" then
		applet:set_status(200)
		applet:start_response()
		for i = 1, tonumber(applet.qs) do
			applet:send(piece(i))
			if p == "/stream" then core.set_var("proc.sent", i) end
		end
		return
	elseif p == "/sent" then
		return answer(applet, tostring(core.get_var("proc.sent") or 0))
	elseif p == "/sleep" then
		core.msleep(tonumber(applet.qs))
		return answer(applet, "slept " .. applet.qs)
	end
	answer(applet, "hello")
end)
`

const h2LoadConfig = `workers: 1
shutdown_timeout: 5s
lua:
  load: [load.lua]
frontends:
  - name: svc
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.svc
    limits: {max_body: 64MiB}
`

// h2load: 5000 requests as 100 concurrent streams on one connection, all
// answered 200.
func TestHTTP2H2load(t *testing.T) {
	needBinary(t)
	bin, err := exec.LookPath("h2load")
	if err != nil {
		t.Skip("h2load is not installed")
	}
	s := startServer(t, h2LoadConfig, map[string]string{"load.lua": h2LoadLua})
	out, err := exec.Command(bin, "-n", "5000", "-c", "1", "-m", "100", s.url("/hello")).CombinedOutput()
	if err != nil {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`requests: 5000 total, 5000 started, 5000 done, 5000 succeeded, 0 failed, 0 errored, 0 timeout`).Match(out) ||
		!regexp.MustCompile(`status codes: 5000 2xx`).Match(out) {
		t.Fatalf("h2load:\n%s", out)
	}
	if m := regexp.MustCompile(`finished in [^\n]*`).Find(out); m != nil {
		t.Logf("h2load %s", m)
	}
}

// Large bodies both ways, with the default windows (256 KiB a stream,
// 1 MiB the connection, on our side): 32 MiB uploaded to a service that
// reads it a piece at a time, and 32 MiB downloaded, checked byte for
// byte.
func TestHTTP2LargeBodies(t *testing.T) {
	needBinary(t)
	s := startServer(t, h2LoadConfig, map[string]string{"load.lua": h2LoadLua})
	c, _ := h2cClient(t)
	c.Timeout = 60 * time.Second
	const size = 32 << 20

	t.Run("upload", func(t *testing.T) {
		body := make([]byte, size)
		rand.New(rand.NewSource(1)).Read(body)
		resp, got := do(t, c, "POST", s.url("/upload"), string(body))
		want := fmt.Sprintf("%d %d", size, adler32.Checksum(body))
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || got != want {
			t.Fatalf("HTTP/%d %d %q, want %q", resp.ProtoMajor, resp.StatusCode, got, want)
		}
	})
	t.Run("download", func(t *testing.T) {
		resp, err := c.Get(s.url(fmt.Sprintf("/download?%d", size>>16)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("HTTP/%d %d", resp.ProtoMajor, resp.StatusCode)
		}
		buf := make([]byte, 64<<10)
		for i := 1; i <= size>>16; i++ {
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatalf("piece %d: %v", i, err)
			}
			if want := bytes.Repeat([]byte(fmt.Sprintf("%07d\n", i)), 8192); !bytes.Equal(buf, want) {
				t.Fatalf("piece %d differs: %q...", i, buf[:16])
			}
		}
		if n, err := io.Copy(io.Discard, resp.Body); n != 0 || err != nil {
			t.Fatalf("%d bytes past 32 MiB, %v", n, err)
		}
	})
}

// A stream whose service sleeps does not hold the others of its
// connection: 20 streams started after it are answered before it.
func TestHTTP2SlowStream(t *testing.T) {
	needBinary(t)
	s := startServer(t, h2LoadConfig, map[string]string{"load.lua": h2LoadLua})
	c, _ := h2cClient(t)
	get(t, c, s.url("/hello")) // the connection is open: every stream below shares it
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	fetch := func(path string) {
		defer wg.Done()
		_, _, err := fetchGet(c, s.url(path))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
		order = append(order, path)
	}
	wg.Add(1)
	go fetch("/sleep?1500")
	for i := range 20 {
		wg.Add(1)
		go fetch(fmt.Sprintf("/hello?%d", i))
	}
	wg.Wait()
	if len(order) != 21 || order[20] != "/sleep?1500" {
		t.Errorf("answered in the order %v: the sleeping stream is not last", order)
	}
}

// The client resets a stream in the middle of a large streamed response:
// the service stops sending, the other stream of the connection is
// answered, the connection goes on, nothing is logged above info, and
// the loop's coroutines keep serving (done 20 times).
func TestHTTP2ResetMidResponse(t *testing.T) {
	needBinary(t)
	s := startServer(t, h2LoadConfig, map[string]string{"load.lua": h2LoadLua})
	h1, _ := newClient(t)
	sent := func() int {
		t.Helper()
		_, body := get(t, h1, s.url("/sent"))
		n, err := strconv.Atoi(body)
		if err != nil {
			t.Fatalf("/sent: %q", body)
		}
		return n
	}
	a, err := dialAttacker(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.c.Close()
	base := vmRSS(t, s)
	id := uint32(1)
	for round := range 20 {
		// A slow stream beside the one reset.
		sleeper := id
		a.request(sleeper, "GET", "/sleep?200", true)
		big := id + 2
		a.request(big, "GET", "/stream?1024", true) // 64 MiB
		id += 4
		if err := a.flush(); err != nil {
			t.Fatal(err)
		}
		// Read 256 KiB of the big one (granting the windows as we go),
		// then reset it; the sleeper is answered meanwhile or after, on
		// the same connection.
		got, reset, done := 0, false, false
		var sleeperBody []byte
		_ = a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !reset || !done {
			f, err := a.fr.ReadFrame()
			if err != nil {
				t.Fatalf("round %d: %v after %d bytes", round, err, got)
			}
			switch f := f.(type) {
			case *http2.DataFrame:
				switch f.StreamID {
				case big:
					got += len(f.Data())
				case sleeper:
					sleeperBody = append(sleeperBody, f.Data()...)
					done = f.StreamEnded()
				}
				if n := uint32(len(f.Data())); n > 0 {
					a.fr.WriteWindowUpdate(0, n)
					if !reset {
						a.fr.WriteWindowUpdate(f.StreamID, n)
					}
				}
			case *http2.RSTStreamFrame, *http2.GoAwayFrame:
				t.Fatalf("round %d: %v", round, f)
			}
			if !reset && got >= 256<<10 {
				a.fr.WriteRSTStream(big, http2.ErrCodeCancel)
				reset = true
			}
			if err := a.flush(); err != nil {
				t.Fatal(err)
			}
		}
		if string(sleeperBody) != "slept 200" {
			t.Fatalf("round %d: the other stream got %q", round, sleeperBody)
		}
	}
	// The last reset stream's service stopped: what it sent no longer
	// grows (at most what it had queued when the reset came).
	n := sent()
	if n >= 1024 {
		t.Fatalf("the reset stream's service sent all its %d pieces", n)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if m := sent(); m != n {
			t.Fatalf("the reset stream's service goes on sending: %d then %d pieces", n, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The connection and the loop go on.
	a.request(id, "GET", "/hello", true)
	if err := a.flush(); err != nil {
		t.Fatal(err)
	}
	got := a.readUntil(5*time.Second, func(f *serverFrames) bool { return f.statuses[id] != "" || f.goAway != nil })
	if got.statuses[id] != "200" {
		t.Fatalf("a stream after the resets: %v, GOAWAY %v, %v", got.statuses, got.goAway, got.err)
	}
	if grew := vmRSS(t, s) - base; grew > 32<<20 {
		t.Errorf("RSS grew by %d MiB over 20 reset streams", grew>>20)
	}
	for _, line := range strings.Split(s.logs(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("logged: %s", line)
		}
	}
}
