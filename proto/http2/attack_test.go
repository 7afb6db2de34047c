package http2

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Rapid Reset (CVE-2023-44487): streams opened and reset in the same read
// never reach the caller, and a client that keeps resetting runs out of
// its budget.
func TestRapidReset(t *testing.T) {
	cl := newClient(t, Limits{ResetBudget: 50})
	cl.start()
	id := uint32(1)
	for range 50 {
		cl.get(id)
		cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		id += 2
	}
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	cl.expect(nil, nil)
	if !cl.c.Idle() {
		t.Fatal("streams left open")
	}
	// One more is past the budget.
	cl.get(id)
	cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	if err := cl.feed(); err != errResets {
		t.Fatalf("err = %v", err)
	}
	cl.expect(nil, []string{"GOAWAY 101 ENHANCE_YOUR_CALM"})
	if _, err := cl.c.Feed([]byte{0}); err != errResets {
		t.Fatalf("after the error: %v", err)
	}
}

// A stream reported in an earlier read and reset now is the caller's to
// abandon; it costs the budget too.
func TestResetAfterReport(t *testing.T) {
	cl := newClient(t, Limits{ResetBudget: 1})
	cl.start()
	cl.post(1)
	cl.post(3)
	cl.feed()
	cl.read()
	cl.fr.WriteData(1, false, []byte("x"))
	cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	cl.feed()
	cl.expect([]string{`DATA 1 "x"`, "RESET 1 CANCEL"}, nil)
	cl.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	if err := cl.feed(); err != errResets {
		t.Fatalf("err = %v", err)
	}
}

// Responses that end earn the budget back: a client that cancels now and
// then is never cut off.
func TestResetBudgetEarnedBack(t *testing.T) {
	cl := newClient(t, Limits{ResetBudget: 2})
	cl.start()
	for id := uint32(1); id < 2000; id += 4 {
		cl.get(id)
		cl.post(id + 2)
		cl.fr.WriteRSTStream(id+2, http2.ErrCodeCancel)
		if err := cl.feed(); err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		cl.respond(id, 204, "")
		cl.read()
	}
}

// Malformed requests spend the budget as resets do.
func TestMalformedRequestsBudget(t *testing.T) {
	cl := newClient(t, Limits{ResetBudget: 10})
	cl.start()
	for id := uint32(1); id <= 21; id += 2 {
		cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(":method", "GET"), EndStream: true, EndHeaders: true})
	}
	if err := cl.feed(); err != errResets {
		t.Fatalf("err = %v", err)
	}
}

// CONTINUATION flood: a header block that never ends is cut off after
// Limits.MaxHeaderFrames frames, having kept no more than the header list
// limit allows; header blocks are decoded as they arrive, never buffered.
func TestContinuationFlood(t *testing.T) {
	lim := Limits{MaxHeaderFrames: 100, MaxHeaderFields: 10}
	cl := newClient(t, lim)
	cl.start()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...)})
	cl.feed()
	if !cl.c.InHeaderBlock() {
		t.Fatal("header block not under way: no header timeout would run")
	}
	// Each frame carries fields (indexed: 1 byte each) one read at a time.
	frag := bytes.Repeat([]byte{0x80 | 2}, 1000) // :method GET, again and again
	for i := 2; i <= 100; i++ {
		cl.fr.WriteContinuation(1, false, frag)
		if err := cl.feed(); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if n := len(cl.c.fields); n > lim.MaxHeaderFields {
			t.Fatalf("%d fields kept", n)
		}
		if cl.wire.Len() != 0 {
			t.Fatal("a frame left unconsumed")
		}
	}
	cl.fr.WriteContinuation(1, false, frag)
	if err := cl.feed(); err != errHeaderFrames {
		t.Fatalf("err = %v", err)
	}
	cl.expect(nil, []string{"GOAWAY 1 ENHANCE_YOUR_CALM"})
}

// Empty CONTINUATION frames count as frames.
func TestEmptyContinuationFlood(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(getFields...)})
	for range DefaultMaxHeaderFrames {
		cl.fr.WriteContinuation(1, false, nil)
	}
	if err := cl.feed(); err != errHeaderFrames {
		t.Fatalf("err = %v", err)
	}
}

// A header block's encoded bytes are capped too: a few large frames hit
// Limits.MaxHeaderBlock before the frame count.
func TestHeaderBlockBytes(t *testing.T) {
	cl := newClient(t, Limits{MaxHeaderBlock: 40000})
	cl.start()
	frag := bytes.Repeat([]byte{0x80 | 2}, MinMaxFrameSize)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag})
	cl.fr.WriteContinuation(1, false, frag)
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	cl.fr.WriteContinuation(1, false, frag)
	if err := cl.feed(); err != errHeaderBlock {
		t.Fatalf("err = %v", err)
	}
}

// HPACK bomb: one large entry in the dynamic table, referenced a thousand
// times for a byte each. The decoded list stops being kept at the limit,
// the request is answered 431, and the HPACK state stays in step for the
// next request.
func TestHPACKBomb(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start()
	big := strings.Repeat("b", 4000)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: cl.block(append(getFields, "x-big", big)...)})
	cl.feed()
	if len(cl.events) != 1 {
		t.Fatalf("events %q", cl.events)
	}
	cl.read()
	// x-big is the newest entry: index 62.
	bomb := append(cl.block(getFields...), bytes.Repeat([]byte{0x80 | 62}, 1000)...)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndStream: true, EndHeaders: true, BlockFragment: bomb})
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	if len(cl.c.fields) > DefaultMaxHeaderListSize/4000+1 {
		t.Fatalf("%d fields kept", len(cl.c.fields))
	}
	cl.expect(nil, []string{"HEADERS 3 END_STREAM :status=431"})
	cl.get(5)
	cl.feed()
	cl.expect([]string{"REQUEST 5 GET https example.com / cl=-1 END"}, nil)
}

// A request over the field count is answered 431 too; with a body still
// to come, the client is asked to stop sending it.
func TestTooManyFields(t *testing.T) {
	cl := newClient(t, Limits{MaxHeaderFields: 6})
	cl.start()
	cl.post(1, "a", "1", "b", "2", "c", "3")
	cl.fr.WriteData(1, true, []byte("body"))
	if err := cl.feed(); err != nil {
		t.Fatal(err)
	}
	// The DATA that crossed our reset is ignored (RFC 9113 §5.1).
	cl.expect(nil, []string{"HEADERS 1 END_STREAM :status=431", "RST_STREAM 1 NO_ERROR"})
}

// Trailers past the limits reset the stream the caller was told of.
func TestTrailersTooLarge(t *testing.T) {
	cl := newClient(t, Limits{MaxHeaderFields: 5})
	cl.start()
	cl.post(1)
	cl.feed()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6"), EndStream: true, EndHeaders: true})
	cl.feed()
	cl.expect([]string{"RESET 1 ENHANCE_YOUR_CALM"}, []string{"RST_STREAM 1 ENHANCE_YOUR_CALM"})
}

// A name or value past Limits.MaxFieldSize cannot be skipped without
// losing the HPACK state: the connection ends.
func TestFieldTooLong(t *testing.T) {
	cl := newClient(t, Limits{MaxFieldSize: 100})
	cl.start()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: cl.block(append(getFields, "x", strings.Repeat("v", 101))...)})
	if err := cl.feed(); err != errFieldSize {
		t.Fatalf("err = %v", err)
	}
	// A Huffman-coded string is measured decoded: the encoder shrinks
	// "0000..." to well under the limit.
	cl = newClient(t, Limits{MaxFieldSize: 100})
	cl.start()
	var enc bytes.Buffer
	e := hpack.NewEncoder(&enc)
	for i := 0; i < len(getFields); i += 2 {
		e.WriteField(hpack.HeaderField{Name: getFields[i], Value: getFields[i+1]})
	}
	e.WriteField(hpack.HeaderField{Name: "x", Value: strings.Repeat("0", 150)})
	if enc.Len() > 150 {
		t.Fatalf("not Huffman-coded: %d bytes", enc.Len())
	}
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: enc.Bytes()})
	if err := cl.feed(); err != errFieldSize {
		t.Fatalf("Huffman: err = %v", err)
	}
}

// PING and SETTINGS floods: acknowledgements the client does not read
// are capped by Limits.MaxQueuedControl.
func TestControlFlood(t *testing.T) {
	for _, kind := range []string{"PING", "SETTINGS", "RST_STREAM"} {
		t.Run(kind, func(t *testing.T) {
			cl := newClient(t, Limits{MaxQueuedControl: 100, ResetBudget: 1000})
			cl.start()
			id := uint32(1)
			write := func(i int) {
				switch kind {
				case "PING":
					cl.fr.WritePing(false, [8]byte{byte(i)})
				case "SETTINGS":
					cl.fr.WriteSettings()
				case "RST_STREAM":
					// DATA on a stream the client reset: we answer with a
					// reset (a second DATA there would be ignored).
					cl.get(id)
					cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
					cl.fr.WriteData(id, false, nil)
					id += 2
				}
			}
			// Taken after each read: no limit.
			for i := range 300 {
				write(i)
				if err := cl.feed(); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			// Left queued while the client does not read: cut off.
			for i := range 101 {
				write(i)
				n, err := cl.c.Feed(cl.wire.Bytes())
				cl.wire.Next(n)
				if i < 100 && err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if i == 100 && err != errControlFlood {
					t.Fatalf("err = %v", err)
				}
			}
		})
	}
}

// Floods of frames that do no work (empty DATA, PRIORITY, SETTINGS,
// unknown types) trip the flood ratio; a long upload or download does not.
func TestFloodRatio(t *testing.T) {
	lim := Limits{FloodAllowance: 10000}
	for _, kind := range []string{"empty DATA", "PRIORITY", "SETTINGS", "unknown"} {
		t.Run(kind, func(t *testing.T) {
			cl := newClient(t, lim)
			cl.start()
			cl.post(1)
			cl.feed()
			for i := range 100000 {
				switch kind {
				case "empty DATA":
					cl.fr.WriteData(1, false, nil)
				case "PRIORITY":
					cl.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1})
				case "SETTINGS":
					cl.fr.WriteSettings()
				case "unknown":
					cl.fr.WriteRawFrame(0xfa, 0, 0, nil)
				}
				if i%100 == 0 {
					if err := cl.feed(); err == errFlood {
						// Frames are 9 bytes or more: cut off within a
						// read of where the ratio says.
						if i < 8*10000/20 || i > 8*10000/9+100 {
							t.Fatalf("cut off after %d frames", i)
						}
						return
					} else if err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Fatal("not cut off")
		})
	}
	t.Run("upload", func(t *testing.T) {
		cl := newClient(t, lim)
		cl.start()
		cl.post(1)
		chunk := make([]byte, 100)
		for range 5000 {
			cl.fr.WriteData(1, false, chunk)
			if err := cl.feed(); err != nil {
				t.Fatal(err)
			}
			cl.c.Consumed(1, len(chunk))
			cl.flush()
			cl.read()
		}
	})
	t.Run("download", func(t *testing.T) {
		cl := newClient(t, lim)
		cl.start()
		cl.get(1)
		cl.feed()
		cl.c.StartHeaders(1, 200)
		cl.c.SendHeaders(false)
		chunk := make([]byte, 1000)
		for range 2000 {
			if n, err := cl.c.WriteData(1, chunk, false); n != len(chunk) || err != nil {
				t.Fatal(n, err)
			}
			cl.flush()
			cl.read()
			cl.fr.WriteWindowUpdate(0, 1000)
			cl.fr.WriteWindowUpdate(1, 1000)
			if err := cl.feed(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A client that never opens its window holds a response back; the Conn
// reports it stalled (Window 0) for the caller's timeout, however much
// else the client sends.
func TestZeroWindowStall(t *testing.T) {
	cl := newClient(t, Limits{})
	cl.start(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	cl.get(1)
	cl.feed()
	cl.read()
	c := cl.c
	c.StartHeaders(1, 200)
	c.SendHeaders(false)
	if n, _ := c.WriteData(1, []byte("body"), true); n != 0 || c.Window(1) != 0 {
		t.Fatalf("sent %d, window %d", n, c.Window(1))
	}
	for i := range 100 {
		cl.fr.WritePing(false, [8]byte{byte(i)})
		cl.fr.WriteWindowUpdate(0, 1) // the connection's, not the stream's
		cl.feed()
		if len(cl.events) != 0 || c.Window(1) != 0 {
			t.Fatalf("events %q, window %d", cl.events, c.Window(1))
		}
	}
	// The caller's timeout ends it.
	c.Reset(1, ErrCodeCancel)
	c.GoAway(ErrCodeEnhanceYourCalm)
	cl.flush()
	got := cl.read()
	if got[len(got)-2] != "RST_STREAM 1 CANCEL" || got[len(got)-1] != "GOAWAY 1 ENHANCE_YOUR_CALM" {
		t.Fatalf("got %q", got[len(got)-2:])
	}
}
