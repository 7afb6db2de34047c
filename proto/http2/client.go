package http2

import (
	"errors"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// ClientConn is the client side of one HTTP/2 connection: luaedge asking
// a backend server, over the bytes of the connection (after TLS, if any).
// It belongs to the loop of the connection; nothing in it is safe for
// concurrent use. Like Conn, it does no I/O and reads no clock.
//
// The caller opens streams (StartRequest, AddField, SendRequest), sends
// request bodies within the server's windows (WriteData; StartTrailers
// and SendTrailers), feeds the inbound bytes (Feed), handles what they
// said (Events), gives back flow-control credit as response bodies are
// relayed (Consumed), and writes what the ClientConn queued (Output).
type ClientConn struct {
	endpoint

	// Inbound: what the server sent.
	err     *Error
	streams map[uint32]*cstream
	dec     *hpack.Decoder
	hb      responseBlock
	events  []ClientEvent // what this Feed found

	peerMaxStreams int // the server's SETTINGS_MAX_CONCURRENT_STREAMS

	// Outbound.
	nextID   uint32
	head     bool // the request being built is a HEAD
	goAway   bool // the server's GOAWAY: no more streams
	goAwayID uint32
}

// cstream is one stream of a ClientConn, from its request until both
// directions ended or it was reset.
type cstream struct {
	id       uint32
	sentEnd  bool  // our END_STREAM went out
	head     bool  // a HEAD request: the response's content-length frames no body
	gotHead  bool  // the final response head arrived
	ended    bool  // the server's END_STREAM arrived
	length   int64 // the response's content-length, -1 when none
	received int64
	streamFlow
}

// responseBlock is the header block being received.
type responseBlock struct {
	active, endStream   bool
	id                  uint32
	s                   *cstream // nil: a block to decode and drop
	frames, bytes       int
	size, count         int
	start               int
	status              int
	length              int64
	regular, bad, large bool
}

// ClientEventKind is what a ClientEvent reports.
type ClientEventKind uint8

const (
	// ClientResponse is a final response head: Status and Fields (regular
	// fields only); End when it has no body. Interim (1xx) heads are not
	// reported, but for a 100 (ClientContinue).
	ClientResponse ClientEventKind = iota + 1
	// ClientData is response body bytes (Data, never empty unless End).
	ClientData
	// ClientTrailers is the response's trailer fields; it ends with them.
	ClientTrailers
	// ClientReset is the end of a stream before its exchange completed:
	// reset by the server, or by us for its error (Code). REFUSED_STREAM
	// (or a stream past a GOAWAY's last id) was not processed by the
	// server: the request may be sent again.
	ClientReset
	// ClientWindow tells that a stream whose WriteData was short has
	// credit again.
	ClientWindow
	// ClientContinue is the server's 100 (Continue): a request body held
	// for it (Expect: 100-continue) may go. Other interim heads are not
	// reported.
	ClientContinue
)

// ClientEvent is one thing Feed found. Data aliases the bytes given to
// Feed, Fields the ClientConn's field store: both are valid until the
// next Feed.
type ClientEvent struct {
	Kind   ClientEventKind
	Stream uint32
	Status int
	Fields []Field
	Data   []byte
	End    bool
	Code   ErrCode
}

// Errors of the client side.
var (
	// ErrNoStream is returned by SendRequest when the connection takes no
	// more streams (the server's GOAWAY or concurrency limit, or an
	// error): the caller opens another connection.
	ErrNoStream = errors.New("http2: the connection takes no more streams")

	errServerPush     = &Error{ErrCodeProtocol, false, "http2: PUSH_PROMISE, which we disabled"}
	errServerStream   = &Error{ErrCodeProtocol, false, "http2: frame on a stream we did not open"}
	errServerSettings = &Error{ErrCodeProtocol, false, "http2: server's first frame is not SETTINGS"}
)

// NewClientConn returns the client side of a new connection, with the
// client preface, our SETTINGS and the connection window queued in
// Output. Of lim, the windows, the header limits and MaxFrameSize apply
// to what the server sends; MaxConcurrentStreams caps the streams we
// open at once, under the server's own limit.
func NewClientConn(lim Limits) *ClientConn {
	lim = lim.withDefaults()
	c := &ClientConn{
		streams:        make(map[uint32]*cstream),
		peerMaxStreams: lim.MaxConcurrentStreams,
		nextID:         1,
	}
	c.init(lim)
	c.dec = hpack.NewDecoder(headerTableSize, c.onField)
	c.dec.SetMaxStringLength(lim.MaxFieldSize)
	c.out = append(c.out, ClientPreface...)
	c.out = AppendSettings(c.out,
		Setting{SettingEnablePush, 0},
		Setting{SettingInitialWindowSize, uint32(lim.StreamWindow)},
		Setting{SettingMaxFrameSize, uint32(lim.MaxFrameSize)},
		Setting{SettingMaxHeaderListSize, uint32(lim.MaxHeaderListSize)})
	if lim.ConnWindow > initialWindow {
		c.out = AppendWindowUpdate(c.out, 0, uint32(lim.ConnWindow-initialWindow))
	}
	return c
}

// Output returns what is queued for the server and empties the queue;
// the slice is valid until the next call on c.
func (c *ClientConn) Output() []byte {
	out := c.out
	c.out = c.out[:0]
	return out
}

// Events returns what the last Feed found.
func (c *ClientConn) Events() []ClientEvent { return c.events }

// Idle reports whether no stream is open.
func (c *ClientConn) Idle() bool { return len(c.streams) == 0 }

// CanOpen reports whether SendRequest can open one more stream now.
func (c *ClientConn) CanOpen() bool {
	return c.err == nil && !c.goAway && len(c.streams) < min(c.peerMaxStreams, c.lim.MaxConcurrentStreams) && c.nextID < 1<<31
}

// StartRequest begins a request head; AddField adds its fields and
// SendRequest sends it. No other call on c may come in between.
func (c *ClientConn) StartRequest(method, scheme, authority, path []byte) {
	c.block.b = c.block.b[:0]
	c.head = string(method) == "HEAD"
	c.encode(":method", method)
	c.encode(":scheme", scheme)
	if len(authority) > 0 {
		c.encode(":authority", authority)
	}
	c.encode(":path", path)
}

// StartTrailers begins the trailers of a request; SendTrailers sends them.
func (c *ClientConn) StartTrailers() { c.block.b = c.block.b[:0] }

// AddField adds a field to the block begun. The name is sent lowercased;
// the fields HTTP/2 does not carry (connection-specific ones, and host,
// which StartRequest's authority replaces) are left out. Names and values
// are the caller's to validate.
func (c *ClientConn) AddField(name, value []byte) {
	if len(name) == 0 {
		return
	}
	lower := c.lowerName(name)
	if connectionSpecific(lower) || string(lower) == "host" || string(lower) == "te" {
		return
	}
	c.encode(unsafe.String(unsafe.SliceData(lower), len(lower)), value)
}

func (c *ClientConn) encode(name string, value []byte) {
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: unsafe.String(unsafe.SliceData(value), len(value))})
}

// SendRequest opens a stream with the head StartRequest began and
// returns its id; with endStream the request has no body.
func (c *ClientConn) SendRequest(endStream bool) (uint32, error) {
	if !c.CanOpen() {
		return 0, ErrNoStream
	}
	s := &cstream{id: c.nextID, length: -1, sentEnd: endStream, head: c.head,
		streamFlow: streamFlow{sendWindow: c.peerInitialWindow, recvWindow: int64(c.lim.StreamWindow)}}
	c.nextID += 2
	c.streams[s.id] = s
	c.out = appendBlock(c.out, s.id, endStream, c.block.b, c.peerMaxFrame)
	return s.id, nil
}

// SendTrailers sends the block StartTrailers began, ending the request.
func (c *ClientConn) SendTrailers(id uint32) error {
	s := c.streams[id]
	if s == nil || s.sentEnd {
		return ErrStreamClosed
	}
	s.sentEnd = true
	c.out = appendBlock(c.out, id, true, c.block.b, c.peerMaxFrame)
	c.closeIfDone(s)
	return nil
}

// WriteData queues as much of the request body p as the windows allow
// and returns how much; with end, once all of p is sent, the request
// ends. When it sends less, the caller keeps the rest and tries again
// after ClientWindow for the stream.
func (c *ClientConn) WriteData(id uint32, p []byte, end bool) (int, error) {
	s := c.streams[id]
	if s == nil || s.sentEnd {
		return 0, ErrStreamClosed
	}
	n, sent := writeData(&c.out, id, p, end, c.peerMaxFrame, &c.sendWindow, &s.sendWindow)
	if n < len(p) {
		s.wantWindow = true
	} else if sent {
		s.sentEnd = true
		c.closeIfDone(s)
	}
	return n, nil
}

// Reset abandons stream id with RST_STREAM code (CANCEL when the client
// went away); no event is made of it.
func (c *ClientConn) Reset(id uint32, code ErrCode) {
	if s := c.streams[id]; s != nil {
		c.queueRST(id, code)
		c.forget(s)
	}
}

// Consumed gives back the credit of n response body bytes of stream id
// that the caller has relayed (or dropped).
func (c *ClientConn) Consumed(id uint32, n int) {
	if s := c.streams[id]; s != nil && n > 0 {
		c.giveBack(id, &s.streamFlow, n, s.ended)
	}
}

// GoAway ends the connection from our side: GOAWAY with code. No stream
// opens after it.
func (c *ClientConn) GoAway(code ErrCode) {
	if !c.goAway {
		c.goAway = true
		c.out = AppendGoAway(c.out, 0, code, nil)
	}
}

// Feed processes the complete frames at the start of p and returns how
// many bytes it consumed; the caller keeps the rest and calls again with
// more. A connection error is returned as an *Error after GOAWAY is
// queued: every stream is gone, and Feed returns the error again.
func (c *ClientConn) Feed(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	clear(c.events)
	c.events = c.events[:0]
	c.beginFields(c.hb.active, &c.hb.start)
	n := 0
	for {
		f, m, code, err := c.nextFrame(p[n:], errServerSettings, c.hb.active, c.hb.id)
		switch {
		case err != nil:
		case m == 0:
			return n, nil // an incomplete frame
		case code != 0:
			err = c.streamError(f.StreamID, code)
		default:
			err = c.frame(&f)
		}
		if err != nil {
			e := err.(*Error)
			c.err = e
			c.out = AppendGoAway(c.out, 0, e.Code, nil) // we accept no stream of the server's
			clear(c.streams)
			c.events = c.events[:0]
			return n, e
		}
		n += m
	}
}

func (c *ClientConn) frame(f *Frame) error {
	switch f.Type {
	case FrameData:
		return c.data(f)
	case FrameHeaders:
		return c.headers(f)
	case FrameContinuation:
		if !c.hb.active {
			return errStrayCont
		}
		return c.fragment(f.Data, f.Flags.Has(FlagEndHeaders))
	case FrameRSTStream:
		if s := c.streams[f.StreamID]; s != nil {
			c.events = append(c.events, ClientEvent{Kind: ClientReset, Stream: s.id, Code: f.ErrCode()})
			c.forget(s)
		} else if c.idle(f.StreamID) {
			return errServerStream
		}
	case FrameSettings:
		if f.Flags.Has(FlagAck) {
			return nil
		}
		if err := c.applySettings(f); err != nil {
			return err
		}
		c.out = AppendSettingsAck(c.out)
	case FramePing:
		if !f.Flags.Has(FlagAck) {
			c.out = AppendPing(c.out, true, f.PingData())
		}
	case FrameGoAway:
		c.goAway = true
		c.goAwayID = f.LastStreamID()
		// Streams past its last id were not processed: they may be sent
		// again on another connection.
		for id, s := range c.streams {
			if id > c.goAwayID {
				c.events = append(c.events, ClientEvent{Kind: ClientReset, Stream: id, Code: ErrCodeRefusedStream})
				c.forget(s)
			}
		}
	case FrameWindowUpdate:
		return c.windowUpdate(f)
	case FramePushPromise:
		return errServerPush
	}
	return nil // PRIORITY and unknown types are ignored
}

// idle reports whether stream id was never opened by us.
func (c *ClientConn) idle(id uint32) bool { return id%2 == 0 || id >= c.nextID }

// forget drops s; the connection window gets back what it still held.
func (c *ClientConn) forget(s *cstream) {
	delete(c.streams, s.id)
	if s.held > 0 {
		c.credit(s.held)
	}
}

// streamError resets stream id for its error and tells the caller.
func (c *ClientConn) streamError(id uint32, code ErrCode) error {
	if s := c.streams[id]; s != nil {
		c.queueRST(id, code)
		c.events = append(c.events, ClientEvent{Kind: ClientReset, Stream: id, Code: code})
		c.forget(s)
	}
	return nil
}

// closeIfDone forgets a stream both sides have ended.
func (c *ClientConn) closeIfDone(s *cstream) {
	if s.sentEnd && s.ended {
		c.forget(s)
	}
}

func (c *ClientConn) applySettings(f *Frame) error {
	for i := range f.NumSettings() {
		s := f.Setting(i)
		switch s.ID {
		case SettingInitialWindowSize:
			delta := c.setPeerInitialWindow(s.Val)
			for _, st := range c.streams {
				if err := st.shift(delta); err != nil {
					return err
				}
			}
			if delta > 0 {
				c.windowOpened()
			}
		case SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		case SettingMaxConcurrentStreams:
			c.peerMaxStreams = int(min(s.Val, 1<<30))
		}
	}
	return nil
}

func (c *ClientConn) windowUpdate(f *Frame) error {
	id, incr := f.StreamID, int64(f.Increment())
	if id == 0 {
		if err := c.growSendWindow(incr); err != nil {
			return err
		}
		c.windowOpened()
		return nil
	}
	s := c.streams[id]
	if s == nil {
		if c.idle(id) {
			return errServerStream
		}
		return nil
	}
	s.sendWindow += incr
	if s.sendWindow > MaxWindow {
		return c.streamError(id, ErrCodeFlowControl)
	}
	c.reportWindow(s)
	return nil
}

func (c *ClientConn) windowOpened() {
	for _, s := range c.streams {
		c.reportWindow(s)
	}
}

func (c *ClientConn) reportWindow(s *cstream) {
	if c.windowReopened(&s.streamFlow) {
		c.events = append(c.events, ClientEvent{Kind: ClientWindow, Stream: s.id})
	}
}

// data takes a DATA frame of a response.
func (c *ClientConn) data(f *Frame) error {
	id, l := f.StreamID, int64(f.Length)
	end := f.Flags.Has(FlagEndStream)
	if l > c.recvWindow {
		return errConnFlow
	}
	c.recvWindow -= l
	s := c.streams[id]
	if s == nil {
		c.credit(l)
		if c.idle(id) {
			return errServerStream
		}
		if !c.wasReset(id) {
			c.queueRST(id, ErrCodeStreamClosed)
		}
		return nil
	}
	d := int64(len(f.Data))
	var code ErrCode
	switch {
	case !s.gotHead || s.ended:
		code = ErrCodeProtocol
	case l > s.recvWindow:
		code = ErrCodeFlowControl
	case s.length >= 0 && (s.received+d > s.length || end && s.received+d != s.length):
		code = ErrCodeProtocol
	}
	if code != 0 {
		c.credit(l)
		return c.streamError(id, code)
	}
	s.recvWindow -= l
	s.received += d
	s.held += d
	c.credit(l - d) // the padding
	if d > 0 || end {
		c.events = append(c.events, ClientEvent{Kind: ClientData, Stream: id, Data: f.Data, End: end})
	}
	if end {
		s.ended = true
		c.closeIfDone(s)
	}
	return nil
}

// headers begins a response header block: a head (interim or final) or
// trailers.
func (c *ClientConn) headers(f *Frame) error {
	id := f.StreamID
	if c.idle(id) {
		return errServerStream
	}
	s := c.streams[id]
	c.hb = responseBlock{active: true, id: id, endStream: f.Flags.Has(FlagEndStream), s: s, start: len(c.fields), length: -1}
	if s == nil && !c.wasReset(id) {
		c.hb.bad = true // a closed stream: decoded to keep the HPACK state, then refused
	}
	c.dec.SetEmitEnabled(s != nil)
	return c.fragment(f.Data, f.Flags.Has(FlagEndHeaders))
}

func (c *ClientConn) fragment(p []byte, last bool) error {
	hb := &c.hb
	done, err := decodeFragment(c.dec, &c.lim, &hb.frames, &hb.bytes, p, last)
	if !done || err != nil {
		return err
	}
	hb.active = false
	return c.endBlock()
}

// onField checks each field of a response block (RFC 9113 §8.3.2).
func (c *ClientConn) onField(f hpack.HeaderField) {
	hb := &c.hb
	hb.size += len(f.Name) + len(f.Value) + 32
	hb.count++
	switch {
	case hb.size > c.lim.MaxHeaderListSize || hb.count > c.lim.MaxHeaderFields:
		hb.large = true
	case !validValue(f.Value):
		hb.bad = true
	case f.Name == ":status":
		if hb.regular || hb.status != 0 || hb.s.gotHead || len(f.Value) != 3 {
			hb.bad = true
			break
		}
		for i := 0; i < 3; i++ {
			if f.Value[i] < '0' || f.Value[i] > '9' {
				hb.bad = true
			}
			hb.status = hb.status*10 + int(f.Value[i]-'0')
		}
	case f.Name != "" && f.Name[0] == ':', !validName(f.Name):
		hb.bad = true
	default:
		hb.regular = true
		switch f.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			hb.bad = true
		case "content-length":
			n, ok := parseLength(f.Value)
			if !ok || hb.length >= 0 && n != hb.length {
				hb.bad = true
			}
			hb.length = n
		}
		if !hb.bad {
			c.fields = append(c.fields, Field{f.Name, f.Value})
		}
	}
	if hb.bad || hb.large {
		c.dec.SetEmitEnabled(false)
	}
}

// endBlock acts on a complete response block.
func (c *ClientConn) endBlock() error {
	hb := &c.hb
	s := hb.s
	switch {
	case s == nil && hb.bad:
		return errClosedHeaders
	case s == nil: // trailers or a head crossing our reset
		return nil
	case hb.bad, hb.large:
		return c.streamError(s.id, ErrCodeProtocol)
	}
	fields := c.fields[hb.start:len(c.fields):len(c.fields)]
	if s.gotHead { // trailers end the stream (RFC 9113 §8.1)
		if !hb.endStream || hb.status != 0 || s.length >= 0 && s.received != s.length {
			return c.streamError(s.id, ErrCodeProtocol)
		}
		s.ended = true
		c.events = append(c.events, ClientEvent{Kind: ClientTrailers, Stream: s.id, Fields: fields, End: true})
		c.closeIfDone(s)
		return nil
	}
	switch {
	case hb.status == 0 || hb.status == 101:
		return c.streamError(s.id, ErrCodeProtocol)
	case hb.status < 200:
		if hb.endStream {
			return c.streamError(s.id, ErrCodeProtocol)
		}
		c.fields = c.fields[:hb.start] // an interim head: its fields are not reported
		if hb.status == 100 {
			c.events = append(c.events, ClientEvent{Kind: ClientContinue, Stream: s.id})
		}
		return nil
	}
	s.gotHead = true
	s.length = hb.length
	if s.head || hb.status == 204 || hb.status == 304 {
		s.length = -1 // its content-length does not frame a body (RFC 9110 §8.6)
	}
	c.events = append(c.events, ClientEvent{Kind: ClientResponse, Stream: s.id, Status: hb.status, Fields: fields, End: hb.endStream})
	if hb.endStream {
		s.ended = true
		c.closeIfDone(s)
	}
	return nil
}
