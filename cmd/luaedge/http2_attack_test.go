package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The known HTTP/2 attacks, mounted against the binary over h2c with
// prior knowledge. Each frontend has a small limit in its http2 block so
// that the attack is cut quickly. For each attack: the attacking
// connection is ended as documented (GOAWAY with the code of the limit,
// or a reset stream, or a close at a timeout); a well-behaved HTTP/1
// client and a well-behaved h2c client on the same loop (workers: 1) are
// answered promptly meanwhile; the server's RSS stays flat.

// h2AttackLua counts the requests to /attack in a proc variable (read with
// /count), so that a test sees whether a script ran for a stream that
// was reset as soon as opened. /sink reads the request body; /big?N
// sends N pieces of 64 KiB, counting them in proc.sent.
const h2AttackLua = `
local function answer(applet, status, body)
	applet:set_status(status)
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end
core.register_service("svc", "http", function(applet)
	local p = applet.path
	if p == "/attack" then
		core.set_var("proc.attacked", (core.get_var("proc.attacked") or 0) + 1)
	elseif p == "/count" then
		return answer(applet, 200, tostring(core.get_var("proc.attacked") or 0))
	elseif p == "/sink" then
		local body = applet:receive()
		return answer(applet, 200, tostring(#body))
	elseif p == "/big" then
		local piece = string.rep("x", 65536)
		applet:set_status(200)
		applet:start_response()
		for i = 1, tonumber(applet.qs) do
			applet:send(piece)
			core.set_var("proc.sent", i)
		end
		return
	end
	answer(applet, 200, "ok")
end)
`

const h2AttackConfig = `workers: 1
shutdown_timeout: 5s
lua:
  load: [attack.lua]
frontends:
  - name: rapid-reset
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.svc
    http2: {reset_budget: 1000}
  - name: continuation
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.svc
    http2: {max_header_frames: 8, max_header_block: 16KiB}
    timeouts: {http_request: 1s}
  - name: hpack
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.svc
    http2: {max_field_size: 4KiB}
  - name: control
    bind: ["127.0.0.1:@PORT4@"]
    use_service: lua.svc
    http2: {max_queued_control: 8000, flood_allowance: 1GiB}
  - name: flood
    bind: ["127.0.0.1:@PORT5@"]
    use_service: lua.svc
    http2: {flood_allowance: 64KiB}
  - name: stall
    bind: ["127.0.0.1:@PORT6@"]
    use_service: lua.svc
    timeouts: {body: 1s}
  - name: preface
    bind: ["127.0.0.1:@PORT7@"]
    use_service: lua.svc
    timeouts: {http_request: 1s, keep_alive: 30s}
  - name: preface-prior-knowledge
    bind: ["127.0.0.1:@PORT8@"]
    use_service: lua.svc
    http2: {cleartext: prior_knowledge}
    timeouts: {http_request: 1s, keep_alive: 30s}
`

// h2Attacker is an HTTP/2 client connection at the frame level. Frames
// are written to w and sent by flush in one write, so that the server
// reads them together; the framer reads from the connection.
type h2Attacker struct {
	c    net.Conn
	fr   *http2.Framer
	w    bytes.Buffer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

// dialAttacker opens an h2c connection and sends the preface and
// settings (not yet flushed).
func dialAttacker(addr string, settings ...http2.Setting) (*h2Attacker, error) {
	return dialAttackerBuf(addr, 0, settings...)
}

// dialAttackerBuf is dialAttacker with a socket receive buffer of rcvbuf
// bytes (0: the system's), so that what the client leaves unread soon
// backs up in the server.
func dialAttackerBuf(addr string, rcvbuf int, settings ...http2.Setting) (*h2Attacker, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
			return errors.Join(err, serr)
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &h2Attacker{c: c}
	a.fr = http2.NewFramer(&a.w, c)
	a.fr.AllowIllegalWrites = true
	a.enc = hpack.NewEncoder(&a.hbuf)
	a.w.WriteString(http2.ClientPreface)
	a.fr.WriteSettings(settings...)
	return a, nil
}

func (a *h2Attacker) flush() error {
	_, err := a.c.Write(a.w.Bytes())
	a.w.Reset()
	return err
}

// block encodes a request's header block; extra are name, value pairs.
func (a *h2Attacker) block(method, path string, extra ...string) []byte {
	a.hbuf.Reset()
	fields := append([]string{":method", method, ":scheme", "http", ":authority", "attack.test", ":path", path}, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		a.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(a.hbuf.Bytes())
}

func (a *h2Attacker) request(id uint32, method, path string, end bool, extra ...string) {
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: a.block(method, path, extra...), EndStream: end, EndHeaders: true})
}

// serverFrames is what an attacker read from the server.
type serverFrames struct {
	goAway   *http2.GoAwayFrame // nil: none
	statuses map[uint32]string  // :status of each stream answered
	resets   map[uint32]http2.ErrCode
	acks     int // PING and SETTINGS acknowledgements
	err      error
}

// readUntil reads frames until stop says so or the connection ends (or
// errs: a reset counts as an end), for at most d.
func (a *h2Attacker) readUntil(d time.Duration, stop func(*serverFrames) bool) *serverFrames {
	got := &serverFrames{statuses: map[uint32]string{}, resets: map[uint32]http2.ErrCode{}}
	_ = a.c.SetReadDeadline(time.Now().Add(d))
	dec := hpack.NewDecoder(4096, nil)
	for !stop(got) {
		f, err := a.fr.ReadFrame()
		if err != nil {
			got.err = err
			return got
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			got.goAway = f
		case *http2.HeadersFrame:
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err == nil && len(fields) > 0 && fields[0].Name == ":status" {
				got.statuses[f.StreamID] = fields[0].Value
			}
		case *http2.RSTStreamFrame:
			got.resets[f.StreamID] = f.ErrCode
		case *http2.PingFrame:
			if f.IsAck() {
				got.acks++
			}
		case *http2.SettingsFrame:
			if f.IsAck() {
				got.acks++
			}
		}
	}
	return got
}

// goAwayCode reads until GOAWAY and the connection's end, and reports
// the GOAWAY's code.
func (a *h2Attacker) goAwayCode(d time.Duration) (http2.ErrCode, error) {
	f, err := a.goAway(d)
	if f == nil {
		return 0, err
	}
	return f.ErrCode, err
}

// goAway reads until GOAWAY and the connection's end.
func (a *h2Attacker) goAway(d time.Duration) (*http2.GoAwayFrame, error) {
	got := a.readUntil(d, func(*serverFrames) bool { return false })
	if got.goAway == nil {
		return nil, fmt.Errorf("no GOAWAY before %v", got.err)
	}
	if !ended(got.err) {
		return got.goAway, fmt.Errorf("GOAWAY %v, then %v instead of the connection's end", got.goAway.ErrCode, got.err)
	}
	return got.goAway, nil
}

// ended reports whether a read error is the connection's end (a frame
// cut short included: what a client did not read may be lost at the
// close).
func ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)
}

// h2AttackServer starts the server of the attacks.
func h2AttackServer(t *testing.T) *server {
	return startServer(t, h2AttackConfig, map[string]string{"attack.lua": h2AttackLua})
}

// attacked counts the requests to /attack that reached the script.
func attacked(t *testing.T, s *server) int {
	t.Helper()
	c, _ := newClient(t)
	_, body := get(t, c, s.url("/count"))
	var n int
	if _, err := fmt.Sscan(body, &n); err != nil {
		t.Fatalf("/count: %q", body)
	}
	return n
}

// priorKnowledgePort is the frontend of h2AttackConfig that serves no
// HTTP/1.
const priorKnowledgePort = "8"

// maxRSSGrowth is how much the server's RSS may grow during an attack
// that sends it tens of MiB or asks it to hold as much.
const maxRSSGrowth = 16 << 20

// underAttack runs attack (one attacking connection; it returns what the
// server did wrong) over and over for d (at least once), from two
// goroutines, while an HTTP/1 client and an h2c client ask frontend port
// of s for /probe every few milliseconds; then it checks that they were
// answered promptly and that the RSS stayed flat.
func underAttack(t *testing.T, s *server, port string, d time.Duration, attack func() error) {
	t.Helper()
	base := vmRSS(t, s)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var probeErrs []error
	worst := map[string]time.Duration{}
	probes := map[string]int{}
	h1, _ := newClient(t)
	h2c, _ := h2cClient(t)
	for name, c := range map[string]*http.Client{"HTTP/1": h1, "h2c": h2c} {
		url := "http://" + s.addrOf(port) + "/probe"
		if name == "HTTP/1" && port == priorKnowledgePort {
			url = s.url("/probe") // the same loop, another frontend
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, body, err := fetchGet(c, url)
				if err == nil && (resp.StatusCode != 200 || body != "ok") {
					err = fmt.Errorf("got %d %q", resp.StatusCode, body)
				}
				took := time.Since(start)
				mu.Lock()
				if err != nil {
					probeErrs = append(probeErrs, fmt.Errorf("%s probe: %v", name, err))
				}
				worst[name] = max(worst[name], took)
				probes[name]++
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	peak := base
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if r := vmRSSOf(s); r > 0 {
				mu.Lock()
				peak = max(peak, r)
				mu.Unlock()
			}
		}
	}()
	var attackErrs []error
	var awg sync.WaitGroup
	until := time.Now().Add(d)
	for range 2 {
		awg.Add(1)
		go func() {
			defer awg.Done()
			for first := true; first || time.Now().Before(until); first = false {
				if err := attack(); err != nil {
					mu.Lock()
					attackErrs = append(attackErrs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	awg.Wait()
	close(stop)
	wg.Wait()
	for _, err := range attackErrs {
		t.Error(err)
	}
	for _, err := range probeErrs {
		t.Error(err)
	}
	for _, name := range []string{"HTTP/1", "h2c"} {
		if probes[name] == 0 {
			t.Errorf("no %s probe was answered during the attack", name)
		}
		// A loaded 2-core machine may stall the server for a while; an
		// attack that holds its loop stalls it for good.
		if worst[name] > time.Second {
			t.Errorf("a %s probe waited %v during the attack", name, worst[name])
		}
	}
	t.Logf("probes %v, slowest %v; RSS %d MiB, peak +%d KiB", probes, worst, base>>20, (peak-base)>>10)
	if peak-base > maxRSSGrowth {
		t.Errorf("RSS grew by %d MiB during the attack", (peak-base)>>20)
	}
}

// vmRSSOf is vmRSS for a goroutine other than the test's: 0 when it
// cannot be read.
func vmRSSOf(s *server) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb << 10
		}
	}
	return 0
}

func TestHTTP2Attacks(t *testing.T) {
	needBinary(t)
	s := h2AttackServer(t)

	// Rapid Reset (CVE-2023-44487): HEADERS and RST_STREAM pairs, 250 in a
	// write. The reset budget (1000) ends the connection; the streams
	// opened and reset in one read never reach the script: only a pair
	// split between two reads can.
	t.Run("rapid reset", func(t *testing.T) {
		var mu sync.Mutex
		opened := 0 // streams the server saw, by the GOAWAYs' last stream ids
		underAttack(t, s, "", time.Second, func() error {
			a, err := dialAttacker(s.addr())
			if err != nil {
				return err
			}
			defer a.c.Close()
			code := make(chan error, 1)
			go func() {
				f, err := a.goAway(10 * time.Second)
				if f != nil {
					mu.Lock()
					opened += int(f.LastStreamID+1) / 2
					mu.Unlock()
					if err == nil && f.ErrCode != http2.ErrCodeEnhanceYourCalm {
						err = fmt.Errorf("rapid reset: GOAWAY %v, want ENHANCE_YOUR_CALM", f.ErrCode)
					}
				}
				code <- err
			}()
			id := uint32(1)
			for sent := 0; sent < 100000; sent += 250 {
				for range 250 {
					a.request(id, "GET", "/attack", true)
					a.fr.WriteRSTStream(id, http2.ErrCodeCancel)
					id += 2
				}
				if a.flush() != nil {
					break // cut off
				}
				select {
				case err := <-code:
					return err
				default:
				}
			}
			return <-code
		})
		ran := attacked(t, s)
		t.Logf("%d streams opened and reset, %d reached the script", opened, ran)
		if opened < 2000 || ran*100 > opened {
			t.Errorf("%d of %d streams opened and reset reached the script", ran, opened)
		}
	})

	// CONTINUATION flood: a header block that never ends, in small,
	// empty or large frames: max_header_frames (8) or max_header_block
	// (16 KiB) ends the connection.
	t.Run("continuation flood", func(t *testing.T) {
		for _, frag := range []struct {
			name string
			data []byte
		}{
			{"small", bytes.Repeat([]byte{0x80 | 2}, 100)},
			{"empty", nil},
			{"large", bytes.Repeat([]byte{0x80 | 2}, 10000)},
		} {
			t.Run(frag.name, func(t *testing.T) {
				underAttack(t, s, "2", 500*time.Millisecond, func() error {
					a, err := dialAttacker(s.addrOf("2"))
					if err != nil {
						return err
					}
					defer a.c.Close()
					a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("GET", "/attack"), EndStream: true})
					for range 1000 {
						a.fr.WriteContinuation(1, false, frag.data)
						if a.flush() != nil {
							break
						}
					}
					c, err := a.goAwayCode(5 * time.Second)
					if err == nil && c != http2.ErrCodeEnhanceYourCalm {
						err = fmt.Errorf("CONTINUATION flood (%s): GOAWAY %v, want ENHANCE_YOUR_CALM", frag.name, c)
					}
					return err
				})
			})
		}
	})

	// A header block left open ends the connection at
	// timeouts.http_request (1 s; the sweep runs every 250 ms).
	t.Run("header block left open", func(t *testing.T) {
		underAttack(t, s, "2", 0, func() error {
			a, err := dialAttacker(s.addrOf("2"))
			if err != nil {
				return err
			}
			defer a.c.Close()
			a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("GET", "/attack"), EndStream: true})
			a.fr.WriteContinuation(1, false, []byte{0x80 | 2})
			if err := a.flush(); err != nil {
				return err
			}
			start := time.Now()
			c, err := a.goAwayCode(10 * time.Second)
			took := time.Since(start)
			switch {
			case err != nil:
				return err
			case c != http2.ErrCodeEnhanceYourCalm:
				return fmt.Errorf("header block left open: GOAWAY %v, want ENHANCE_YOUR_CALM", c)
			case took < 900*time.Millisecond || took > 3*time.Second:
				return fmt.Errorf("header block left open: closed after %v, want timeouts.http_request (1s)", took)
			}
			return nil
		})
	})

	// HPACK bomb: a 4000-byte field in the dynamic table, then header
	// blocks referencing it 16000 times (64 MB decoded each): each such
	// request is answered 431 without the fields being kept, and the
	// connection goes on.
	t.Run("hpack bomb", func(t *testing.T) {
		underAttack(t, s, "3", time.Second, func() error {
			a, err := dialAttacker(s.addrOf("3"))
			if err != nil {
				return err
			}
			defer a.c.Close()
			// x-big is the newest entry of the table: index 62.
			a.request(1, "GET", "/probe", true, "x-big", strings.Repeat("b", 4000))
			// The bomb's own fields are indexed from the static table or
			// not indexed, so that x-big stays at 62.
			bomb := append([]byte{0x82, 0x86, 0x84, 0x01, byte(len("attack.test"))}, "attack.test"...)
			bomb = append(bomb, bytes.Repeat([]byte{0x80 | 62}, 16000)...)
			const bombs = 20
			for i := range bombs {
				a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(3 + 2*i), BlockFragment: bomb, EndStream: true, EndHeaders: true})
			}
			last := uint32(3 + 2*bombs)
			a.request(last, "GET", "/probe", true)
			if err := a.flush(); err != nil {
				return err
			}
			got := a.readUntil(10*time.Second, func(f *serverFrames) bool { return f.statuses[last] != "" || f.goAway != nil })
			if got.goAway != nil || got.err != nil {
				return fmt.Errorf("hpack bomb: the connection ended (GOAWAY %v, %v)", got.goAway, got.err)
			}
			for i := range bombs {
				if st := got.statuses[uint32(3+2*i)]; st != "431" {
					return fmt.Errorf("hpack bomb: stream %d answered %q, want 431", 3+2*i, st)
				}
			}
			if got.statuses[1] != "200" || got.statuses[last] != "200" {
				return fmt.Errorf("hpack bomb: the requests around the bombs got %q and %q", got.statuses[1], got.statuses[last])
			}
			return nil
		})
		// An oversized Huffman-coded value: 6000 bytes decoded from 3750
		// on the wire, past max_field_size (4 KiB): the connection ends.
		underAttack(t, s, "3", 500*time.Millisecond, func() error {
			a, err := dialAttacker(s.addrOf("3"))
			if err != nil {
				return err
			}
			defer a.c.Close()
			a.request(1, "GET", "/attack", true, "x-zeros", strings.Repeat("0", 6000))
			if err := a.flush(); err != nil {
				return err
			}
			c, err := a.goAwayCode(5 * time.Second)
			if err == nil && c != http2.ErrCodeEnhanceYourCalm {
				err = fmt.Errorf("oversized Huffman string: GOAWAY %v, want ENHANCE_YOUR_CALM", c)
			}
			return err
		})
	})

	// SETTINGS and PING floods from a client that reads nothing: one that
	// read its answers would go on for ever, since a read of the server
	// (64 KiB) holds fewer frames than max_queued_control (8000); one that
	// does not is cut off once that many acknowledgements wait unsent
	// (the flood ratio is out of the way here). The answers it left unread may be lost at
	// the close: what matters is that the connection ends long before
	// the client has sent what it wanted, and that the server holds
	// little for it meanwhile.
	for _, kind := range []string{"PING", "SETTINGS"} {
		t.Run(kind+" flood unread", func(t *testing.T) {
			underAttack(t, s, "4", time.Second, func() error {
				a, err := dialAttackerBuf(s.addrOf("4"), 64<<10)
				if err != nil {
					return err
				}
				defer a.c.Close()
				_ = a.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				const most = 32 << 20
				sent, frameSize := 0, 9
				if kind == "PING" {
					frameSize = 17
				}
				for sent < most {
					for i := range 50 {
						if kind == "PING" {
							a.fr.WritePing(false, [8]byte{byte(i)})
						} else {
							a.fr.WriteSettings()
						}
					}
					sent += a.w.Len()
					if a.flush() != nil {
						break
					}
				}
				got := a.readUntil(10*time.Second, func(*serverFrames) bool { return false })
				switch {
				case !ended(got.err):
					return fmt.Errorf("%s flood: reading after the flood: %v", kind, got.err)
				case got.goAway != nil && got.goAway.ErrCode != http2.ErrCodeEnhanceYourCalm:
					return fmt.Errorf("%s flood: GOAWAY %v, want ENHANCE_YOUR_CALM", kind, got.goAway.ErrCode)
				case got.acks > sent/frameSize/2:
					return fmt.Errorf("%s flood: %d of %d frames acknowledged to a client that did not read", kind, got.acks, sent/frameSize)
				}
				return nil
			})
		})
	}

	// Frames that do no work: empty DATA on an open stream, PRIORITY.
	// The flood ratio (flood_allowance 64 KiB) ends the connection.
	for _, kind := range []string{"empty DATA", "PRIORITY"} {
		t.Run(kind+" flood", func(t *testing.T) {
			underAttack(t, s, "5", time.Second, func() error {
				a, err := dialAttacker(s.addrOf("5"))
				if err != nil {
					return err
				}
				defer a.c.Close()
				a.request(1, "POST", "/sink", false)
				code := make(chan error, 1)
				go func() {
					c, err := a.goAwayCode(10 * time.Second)
					if err == nil && c != http2.ErrCodeEnhanceYourCalm {
						err = fmt.Errorf("%s flood: GOAWAY %v, want ENHANCE_YOUR_CALM", kind, c)
					}
					code <- err
				}()
				for sent := 0; sent < 64<<20; {
					for range 1000 {
						if kind == "PRIORITY" {
							a.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 15})
						} else {
							a.fr.WriteData(1, false, nil)
						}
					}
					sent += a.w.Len()
					if a.flush() != nil {
						break
					}
					select {
					case err := <-code:
						return err
					default:
					}
				}
				return <-code
			})
		})
	}

	// Zero-window stall: the client's stream window is 0 and it never
	// opens it. The responses wait at most timeouts.body (1 s), then
	// their streams are reset (CANCEL); the services, which want to send
	// 64 MiB each, are held back meanwhile, so memory stays flat; the
	// connection goes on.
	t.Run("zero window", func(t *testing.T) {
		underAttack(t, s, "6", 0, func() error {
			a, err := dialAttacker(s.addrOf("6"), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
			if err != nil {
				return err
			}
			defer a.c.Close()
			// Each stream holds up to about 1 MiB of its answer (the
			// backlog at which a script waits) until it is reset.
			const streams = 1
			for i := range streams {
				a.request(uint32(1+2*i), "GET", "/big?1024", true)
			}
			if err := a.flush(); err != nil {
				return err
			}
			start := time.Now()
			got := a.readUntil(10*time.Second, func(f *serverFrames) bool { return len(f.resets) == streams || f.goAway != nil })
			took := time.Since(start)
			if got.err != nil || got.goAway != nil {
				return fmt.Errorf("zero window: the connection ended (GOAWAY %v, %v)", got.goAway, got.err)
			}
			for id, code := range got.resets {
				if code != http2.ErrCodeCancel || got.statuses[id] != "200" {
					return fmt.Errorf("zero window: stream %d: status %q, reset %v; want 200 then CANCEL", id, got.statuses[id], code)
				}
			}
			if took < 900*time.Millisecond || took > 3*time.Second {
				return fmt.Errorf("zero window: streams reset after %v, want timeouts.body (1s)", took)
			}
			// The connection goes on.
			a.fr.WritePing(false, [8]byte{'a', 'l', 'i', 'v', 'e'})
			if err := a.flush(); err != nil {
				return err
			}
			if got := a.readUntil(5*time.Second, func(f *serverFrames) bool { return f.acks > 0 }); got.acks == 0 {
				return fmt.Errorf("zero window: no PING answered after the resets: %v", got.err)
			}
			return nil
		})
	})

	// A slowloris on the preface: a client that sends part of the client
	// preface and stops is closed at timeouts.http_request (1 s), not at
	// keep_alive (30 s), with cleartext auto (the first bytes do not say
	// yet which protocol it is) and prior_knowledge (HTTP/2 from the
	// start); so is one that stops in its first frame.
	for _, c := range []struct{ name, port, sent string }{
		{"auto", "7", http2.ClientPreface[:10]},
		{"prior knowledge", "8", http2.ClientPreface[:10]},
		{"first frame", "7", http2.ClientPreface + "\x00\x00"},
	} {
		t.Run("partial preface "+c.name, func(t *testing.T) {
			underAttack(t, s, c.port, 0, func() error {
				conn, err := net.DialTimeout("tcp", s.addrOf(c.port), 5*time.Second)
				if err != nil {
					return err
				}
				defer conn.Close()
				if _, err := io.WriteString(conn, c.sent); err != nil {
					return err
				}
				start := time.Now()
				_ = conn.SetReadDeadline(start.Add(10 * time.Second))
				_, err = io.Copy(io.Discard, conn)
				took := time.Since(start)
				if err != nil && !isReset(err) {
					return fmt.Errorf("partial preface (%s): %v after %v", c.name, err, took)
				}
				if took < 900*time.Millisecond || took > 3*time.Second {
					return fmt.Errorf("partial preface (%s): closed after %v, want timeouts.http_request (1s)", c.name, took)
				}
				return nil
			})
		})
	}
}
