package http2

import "golang.org/x/net/http2/hpack"

// endpoint is what the two sides of a connection, Conn (the server's)
// and ClientConn (ours to a backend), keep and do alike: the order of
// the peer's frames, the field store of a Feed, the connection's flow
// control, the header block being encoded, the output and the streams
// lately reset. Each side embeds one; it belongs, like the side, to the
// loop of the connection.
type endpoint struct {
	lim Limits

	sawSettings bool    // the peer's first frame, its SETTINGS, arrived
	fields      []Field // decoded fields of this Feed's header blocks

	// Flow control of the connection.
	recvWindow        int64 // what the peer may send
	recvCredit        int64 // consumed bytes not yet returned by WINDOW_UPDATE
	sendWindow        int64 // what we may send
	peerInitialWindow int64
	peerMaxFrame      int

	out   []byte
	enc   *hpack.Encoder
	block appender // the header block being encoded
	lower []byte   // a lowercased field name
	// The streams we reset last: frames the peer sent before it saw our
	// RST_STREAM are ignored, not answered (RFC 9113 §5.1, closed).
	resets    [16]uint32
	resetNext int
}

// init readies e, in its place in its side (the encoder keeps a pointer
// to e.block), for a connection with lim, which has its defaults.
func (e *endpoint) init(lim Limits) {
	e.lim = lim
	e.recvWindow = int64(lim.ConnWindow)
	e.sendWindow = initialWindow
	e.peerInitialWindow = initialWindow
	e.peerMaxFrame = MinMaxFrameSize
	// The encoder keeps no dynamic table: it never retains the caller's
	// bytes (AddField passes them unconverted) and never allocates.
	e.enc = hpack.NewEncoder(&e.block)
	e.enc.SetMaxDynamicTableSizeLimit(0)
}

// beginFields empties the field store for a Feed. The fields of a header
// block still open (open, from *start on) stay, moved to the front.
func (e *endpoint) beginFields(open bool, start *int) {
	if open {
		k := copy(e.fields, e.fields[*start:])
		e.fields = e.fields[:k]
		*start = 0
	} else {
		e.fields = e.fields[:0]
	}
}

// nextFrame parses the frame at the start of p and checks that it is in
// place: the peer's first frame is its SETTINGS (else errFirst), and a
// header block under way (inBlock, of stream blockID) takes only its own
// CONTINUATION frames (RFC 9113 §6.2). m is 0 when the frame is not
// complete yet. A stream error ParseFrame found leaves a frame the
// connection can go on after: it comes back as code, for the caller to
// reset the stream. err is a connection error.
//
// The caller acts on f itself: handing it to each side through an
// interface would make every frame escape to the heap.
func (e *endpoint) nextFrame(p []byte, errFirst *Error, inBlock bool, blockID uint32) (f Frame, m int, code ErrCode, err error) {
	f, m, err = ParseFrame(p, uint32(e.lim.MaxFrameSize))
	if err == ErrIncomplete {
		return f, 0, 0, nil
	}
	if err == nil || err.(*Error).Stream {
		switch {
		case !e.sawSettings && (f.Type != FrameSettings || f.Flags.Has(FlagAck)):
			err = errFirst
		case inBlock && (f.Type != FrameContinuation || f.StreamID != blockID):
			err = errExpectedCont
		case err != nil:
			code, err = err.(*Error).Code, nil
		}
	}
	e.sawSettings = true
	return f, m, code, err
}

// streamFlow is the flow control of one stream, in its side's stream.
type streamFlow struct {
	sendWindow int64 // what we may send; negative after a SETTINGS decrease
	recvWindow int64 // what the peer may send
	recvCredit int64 // consumed bytes not yet returned by WINDOW_UPDATE
	held       int64 // body bytes delivered and not yet Consumed
	wantWindow bool  // WriteData was short: an event when credit arrives
}

// credit gives n bytes back to the connection window, by WINDOW_UPDATE
// once half of it is due.
func (e *endpoint) credit(n int64) {
	if n <= 0 {
		return
	}
	e.recvCredit += n
	if e.recvCredit >= int64(e.lim.ConnWindow)/2 {
		e.out = AppendWindowUpdate(e.out, 0, uint32(e.recvCredit))
		e.recvWindow += e.recvCredit
		e.recvCredit = 0
	}
}

// consumed gives n bytes of stream id (its flow w) back to the
// connection window and, unless the peer ended the stream (nothing more
// will come), to the stream's: by WINDOW_UPDATE once half of it is due.
func (e *endpoint) consumed(id uint32, w *streamFlow, n int64, peerEnded bool) {
	if n <= 0 {
		return
	}
	e.credit(n)
	if peerEnded {
		return
	}
	w.recvCredit += n
	if w.recvCredit >= int64(e.lim.StreamWindow)/2 {
		e.out = AppendWindowUpdate(e.out, id, uint32(w.recvCredit))
		w.recvWindow += w.recvCredit
		w.recvCredit = 0
	}
}

// giveBack gives back the credit of n body bytes of stream id (its flow
// w) that the caller has used or dropped: the Consumed of either side.
func (e *endpoint) giveBack(id uint32, w *streamFlow, n int, peerEnded bool) {
	k := min(int64(n), w.held)
	w.held -= k
	e.consumed(id, w, k, peerEnded)
}

// growSendWindow takes the peer's WINDOW_UPDATE of the connection.
func (e *endpoint) growSendWindow(incr int64) error {
	e.sendWindow += incr
	if e.sendWindow > MaxWindow {
		return errConnWindowSize
	}
	return nil
}

// setPeerInitialWindow takes the peer's SETTINGS_INITIAL_WINDOW_SIZE and
// returns by how much it changed, which applies to every open stream
// (RFC 9113 §6.9.2).
func (e *endpoint) setPeerInitialWindow(v uint32) (delta int64) {
	delta = int64(v) - e.peerInitialWindow
	e.peerInitialWindow = int64(v)
	return delta
}

// shift applies a change of the peer's initial window to a stream's send
// window.
func (w *streamFlow) shift(delta int64) error {
	w.sendWindow += delta
	if w.sendWindow > MaxWindow {
		return errStreamWindowSize
	}
	return nil
}

// windowReopened reports whether a stream whose WriteData was short (its
// flow w) has credit now, and then stops waiting for it: the caller
// tells its own caller.
func (e *endpoint) windowReopened(w *streamFlow) bool {
	if w.wantWindow && w.sendWindow > 0 && e.sendWindow > 0 {
		w.wantWindow = false
		return true
	}
	return false
}

// queueRST queues RST_STREAM and remembers the stream as reset.
func (e *endpoint) queueRST(id uint32, code ErrCode) {
	e.out = AppendRSTStream(e.out, id, code)
	e.resets[e.resetNext] = id
	e.resetNext = (e.resetNext + 1) % len(e.resets)
}

// wasReset reports whether we reset stream id lately.
func (e *endpoint) wasReset(id uint32) bool {
	for _, r := range e.resets {
		if r == id {
			return true
		}
	}
	return false
}

// lowerName returns name lowercased, in e.lower: valid until the next
// call.
func (e *endpoint) lowerName(name []byte) []byte {
	e.lower = append(e.lower[:0], name...)
	for i, b := range e.lower {
		if 'A' <= b && b <= 'Z' {
			e.lower[i] = b + 'a' - 'A'
		}
	}
	return e.lower
}

// connectionSpecific reports whether name (lowercase) is a field HTTP/2
// does not carry (RFC 9113 §8.2.2).
func connectionSpecific(name []byte) bool {
	switch string(name) {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}
