package http2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func FuzzFrame(f *testing.F) {
	for _, s := range [][]byte{
		frame(FrameData, FlagPadded|FlagEndStream, 1, "02 6162 0000"),
		frame(FrameHeaders, FlagPadded|FlagPriority|FlagEndHeaders, 3, "01 80000001 0f 82 00"),
		frame(FramePriority, 0, 5, "00000005 10"),
		frame(FrameSettings, 0, 0, "0004 7fffffff 0005 00004000"),
		frame(FrameGoAway, 0, 0, "00000005 0000000b 6869"),
		frame(FrameWindowUpdate, 0, 1, "80000000"),
		AppendFrameHeader(nil, FrameHeader{1 << 20, FrameData, 0, 1}),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, max := range []uint32{MinMaxFrameSize, 64} {
			fr, n, err := ParseFrame(in, max)
			switch {
			case err == ErrIncomplete:
				if n != 0 || len(in) >= FrameHeaderLen && FrameHeaderLen+int(fr.Length) <= len(in) {
					t.Fatalf("incomplete with n=%d len=%d length=%d", n, len(in), fr.Length)
				}
				continue
			case err == errFrameTooLarge:
				if fr.Length <= max {
					t.Fatalf("too large: %d", fr.Length)
				}
				continue
			case err != nil:
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("err %T", err)
				}
				if !e.Stream {
					continue
				}
			}
			if n != FrameHeaderLen+int(fr.Length) || n > len(in) || fr.Length > max || fr.StreamID > MaxWindow {
				t.Fatalf("n=%d length=%d len=%d id=%d", n, fr.Length, len(in), fr.StreamID)
			}
			if len(fr.Data) > int(fr.Length) {
				t.Fatalf("data %d of length %d", len(fr.Data), fr.Length)
			}
			if err == nil {
				describe(&fr) // every accessor its type has
				// The header re-encodes to the bytes parsed, reserved bit
				// aside, and every shorter prefix is incomplete.
				h := AppendFrameHeader(nil, fr.FrameHeader)
				want := bytes.Clone(in[:FrameHeaderLen])
				want[5] &= 0x7f
				if !bytes.Equal(h, want) {
					t.Fatalf("header %x, parsed from %x", h, want)
				}
				for i := range n {
					if _, m, err := ParseFrame(in[:i], max); err != ErrIncomplete || m != 0 {
						t.Fatalf("prefix %d: %d %v", i, m, err)
					}
				}
			}
		}
	})
}

// fuzzLimits are small enough for the fuzzer to reach every limit.
var fuzzLimits = []Limits{{}, {
	MaxConcurrentStreams: 2, StreamWindow: 1, ConnWindow: 1, MaxHeaderListSize: 200,
	MaxHeaderFields: 8, MaxFieldSize: 64, MaxHeaderBlock: 300, MaxHeaderFrames: 3,
	ResetBudget: 3, MaxQueuedControl: 5, FloodAllowance: 200,
}}

// connSeeds are client byte streams (after the preface and an empty
// SETTINGS) of the exchanges and attacks the other tests mount.
func connSeeds() [][]byte {
	var seeds [][]byte
	var w bytes.Buffer
	fr := http2.NewFramer(&w, nil)
	fr.AllowIllegalWrites = true
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	block := func(nv ...string) []byte {
		hb.Reset()
		for i := 0; i < len(nv); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: nv[i], Value: nv[i+1]})
		}
		return bytes.Clone(hb.Bytes())
	}
	post := []string{":method", "POST", ":scheme", "https", ":authority", "a", ":path", "/", "content-length", "5"}
	for _, write := range []func(){
		func() { // a GET, twice, the second indexed
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(browserGet...), EndStream: true, EndHeaders: true})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block(browserGet...), EndStream: true, EndHeaders: true})
		},
		func() { // a POST in CONTINUATIONs, padded DATA, trailers
			b := block(post...)
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})
			fr.WriteContinuation(1, true, b[3:])
			fr.WriteDataPadded(1, false, []byte("abc"), []byte{0, 0})
			fr.WriteData(1, false, []byte("de"))
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("x-t", "1"), EndStream: true, EndHeaders: true})
		},
		func() { // control frames
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
			fr.WriteSettingsAck()
			fr.WritePing(false, [8]byte{1})
			fr.WritePing(true, shutdownData)
			fr.WriteWindowUpdate(0, 100)
			fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 7})
			fr.WriteRawFrame(0xfa, 0xff, 0, []byte("x"))
			fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
		},
		func() { // rapid reset
			for id := uint32(1); id < 20; id += 2 {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(post...), EndHeaders: true})
				fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
		},
		func() { // CONTINUATION flood
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(post...)})
			for range 5 {
				fr.WriteContinuation(1, false, []byte{0x82, 0x82})
			}
		},
		func() { // HPACK bomb
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(append(getFields, "x-big", strings.Repeat("b", 100))...), EndStream: true, EndHeaders: true})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: append(block(getFields...), bytes.Repeat([]byte{0x80 | 62}, 20)...), EndStream: true, EndHeaders: true})
		},
		func() { // flow control past the window, DATA on closed streams
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(post[:8]...), EndHeaders: true})
			fr.WriteData(1, false, make([]byte, 100))
			fr.WriteWindowUpdate(1, 1)
			fr.WriteRSTStream(1, http2.ErrCodeCancel)
			fr.WriteData(1, true, []byte("late"))
		},
	} {
		write()
		seeds = append(seeds, bytes.Clone(w.Bytes()))
		w.Reset()
		hb.Reset()
		enc = hpack.NewEncoder(&hb) // each seed starts a connection
	}
	return seeds
}

func FuzzConn(f *testing.F) {
	for _, s := range connSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lim := range fuzzLimits {
			// Fed whole or in pieces, the server writes the same bytes.
			whole, wholeErr := runConn(t, in, len(in), false, lim)
			for _, piece := range []int{1, 7} {
				if piece == 1 && len(in) > 512 {
					continue
				}
				out, err := runConn(t, in, piece, false, lim)
				if !bytes.Equal(out, whole) || err != wholeErr {
					t.Fatalf("pieces of %d: err %v, whole %v\n%s\nwhole:\n%s", piece, err, wholeErr, frames(out), frames(whole))
				}
			}
			runConn(t, in, 64, true, lim)
		}
	})
}

// runConn feeds a Conn the preface, an empty SETTINGS, then in, piece
// bytes at a time, and checks what it reports and writes. A responding
// caller answers each request and takes the output after each read; a
// passive one leaves all output queued.
func runConn(t *testing.T, in []byte, piece int, respond bool, lim Limits) ([]byte, error) {
	c := NewConn(lim)
	lim = lim.withDefaults()
	var out []byte
	take := func() { out = append(out, c.Output()...) }
	if _, err := c.Feed(append([]byte(ClientPreface), AppendSettings(nil)...)); err != nil {
		t.Fatal(err)
	}
	m := newStreamModel()
	var buf []byte
	var err error
	for len(in) > 0 || len(buf) > 0 {
		k := min(piece, len(in))
		if k == 0 && len(buf) > 0 {
			break // an incomplete frame stays
		}
		buf = append(buf, in[:k]...)
		in = in[k:]
		var n int
		n, err = c.Feed(buf)
		if n > len(buf) {
			t.Fatalf("consumed %d of %d", n, len(buf))
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("err %T", err)
			}
			if _, again := c.Feed(buf[n:]); again != err {
				t.Fatalf("after %v: %v", err, again)
			}
			if len(c.Events()) != 0 || !c.Idle() {
				t.Fatal("events or streams after a connection error")
			}
			break
		}
		for _, ev := range c.Events() {
			m.check(t, ev, lim)
			if respond {
				m.answer(t, c, ev)
			}
		}
		if c.active != len(c.streams) || c.active > lim.MaxConcurrentStreams {
			t.Fatalf("%d active, %d streams", c.active, len(c.streams))
		}
		if respond {
			take()
		}
		buf = append([]byte(nil), buf[n:]...) // events alias the bytes fed
	}
	take()
	checkOutput(t, out, err)
	return out, err
}

// streamModel is what a caller knows of the streams from the events.
type streamModel struct {
	open    map[uint32]bool // reported, true once the request ended
	closed  map[uint32]bool // ended by the caller: later events are stale
	last    uint32
	pending map[uint32][]byte // response body WriteData left
}

func newStreamModel() *streamModel {
	return &streamModel{open: map[uint32]bool{}, closed: map[uint32]bool{}, pending: map[uint32][]byte{}}
}

func (m *streamModel) check(t *testing.T, ev Event, lim Limits) {
	for _, fl := range ev.Fields {
		if !validName(fl.Name) || !validValue(fl.Value) {
			t.Fatalf("field %q: %q", fl.Name, fl.Value)
		}
	}
	if m.closed[ev.Stream] && ev.Kind != EventRequest {
		return // queued before the caller ended the stream
	}
	ended, known := m.open[ev.Stream]
	switch ev.Kind {
	case EventRequest:
		if known || m.closed[ev.Stream] || ev.Stream%2 == 0 || ev.Stream <= m.last || ev.Method == "" {
			t.Fatalf("request %d after %d: %+v", ev.Stream, m.last, ev)
		}
		if ev.Method != "CONNECT" && (ev.Scheme == "" || ev.Path == "") {
			t.Fatalf("request without scheme or path: %+v", ev)
		}
		if len(ev.Fields) > lim.MaxHeaderFields {
			t.Fatalf("%d fields", len(ev.Fields))
		}
		m.last = ev.Stream
		m.open[ev.Stream] = ev.End
	case EventData, EventTrailers:
		if !known || ended || ev.Kind == EventData && len(ev.Data) == 0 && !ev.End || ev.Kind == EventTrailers && !ev.End {
			t.Fatalf("%+v on a stream known %v ended %v", ev, known, ended)
		}
		m.open[ev.Stream] = ev.End
	case EventReset, EventWindow:
		if !known {
			t.Fatalf("%+v on an unknown stream", ev)
		}
		if ev.Kind == EventReset {
			delete(m.open, ev.Stream)
			delete(m.pending, ev.Stream)
		}
	case EventGoAway:
	default:
		t.Fatalf("kind %d", ev.Kind)
	}
}

// answer plays a caller: it consumes bodies, resets a third of the
// requests, answers a third at once and a third once the request ends,
// and sends what a window held back once it opens.
func (m *streamModel) answer(t *testing.T, c *Conn, ev Event) {
	id := ev.Stream
	if m.closed[id] {
		return
	}
	switch ev.Kind {
	case EventData:
		c.Consumed(id, len(ev.Data))
	case EventWindow:
		m.send(t, c, id, m.pending[id])
		return
	case EventReset, EventGoAway:
		return
	}
	switch {
	case ev.Kind == EventRequest && id%3 == 0:
		c.Reset(id, ErrCodeCancel)
		m.end(id)
	case ev.Kind == EventRequest && id%3 == 1, ev.End && id%3 == 2:
		c.StartHeaders(id, 200)
		c.AddField([]byte("Content-Type"), []byte("text/plain"))
		if err := c.SendHeaders(false); err != nil {
			t.Fatal(err)
		}
		m.send(t, c, id, []byte("a body of some length"))
	}
}

// send sends body, keeping what the windows hold back.
func (m *streamModel) send(t *testing.T, c *Conn, id uint32, body []byte) {
	n, err := c.WriteData(id, body, true)
	if err != nil {
		t.Fatal(err)
	}
	if n < len(body) {
		m.pending[id] = body[n:]
	} else {
		m.end(id)
	}
}

func (m *streamModel) end(id uint32) {
	delete(m.open, id)
	delete(m.pending, id)
	m.closed[id] = true
}

// checkOutput checks that the server wrote well-formed frames, field
// blocks included, and a GOAWAY last after a connection error.
func checkOutput(t *testing.T, out []byte, err error) {
	dec := hpack.NewDecoder(4096, func(hpack.HeaderField) {})
	var last Frame
	for len(out) > 0 {
		f, n, perr := ParseFrame(out, MaxMaxFrameSize)
		if perr != nil {
			t.Fatalf("server wrote %x: %v", out[:min(len(out), 32)], perr)
		}
		switch f.Type {
		case FrameHeaders, FrameContinuation:
			if _, derr := dec.Write(f.Data); derr != nil {
				t.Fatalf("server's header block: %v", derr)
			}
			if f.Flags.Has(FlagEndHeaders) {
				if derr := dec.Close(); derr != nil {
					t.Fatalf("server's header block: %v", derr)
				}
			}
		case FramePushPromise, FramePriority:
			t.Fatalf("server wrote %s", describe(&f))
		}
		// Only a reset may name a stream the client never opened: a
		// PRIORITY frame in error, which RFC 9113 §5.3.1 makes a stream
		// error even there.
		if f.StreamID%2 == 0 && f.StreamID != 0 && f.Type != FrameRSTStream {
			t.Fatalf("server wrote %s", describe(&f))
		}
		last = f
		out = out[n:]
	}
	if err != nil && (last.Type != FrameGoAway || last.ErrCode() != err.(*Error).Code) {
		t.Fatalf("after %v the server wrote %s last", err, describe(&last))
	}
}

func frames(out []byte) string {
	var b strings.Builder
	for len(out) > 0 {
		f, n, err := ParseFrame(out, MaxMaxFrameSize)
		if err != nil {
			fmt.Fprintf(&b, "%v\n", err)
			break
		}
		fmt.Fprintf(&b, "%s\n", describe(&f))
		out = out[n:]
	}
	return b.String()
}
