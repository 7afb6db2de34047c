package http2

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// Limits bounds what a client may make a connection hold or do. Zero (or
// negative) fields mean the defaults. Each is one of the defences of the
// package doc; the error a limit produces is written beside it.
type Limits struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: a stream
	// past it is refused (RST_STREAM REFUSED_STREAM). Default 100.
	MaxConcurrentStreams int
	// MaxFrameSize is SETTINGS_MAX_FRAME_SIZE: a longer frame is a
	// connection error (FRAME_SIZE_ERROR) as soon as its header arrives.
	// Default and minimum 16384.
	MaxFrameSize int
	// StreamWindow is SETTINGS_INITIAL_WINDOW_SIZE, the request body bytes
	// a client may send on a stream before the caller consumes them;
	// ConnWindow is the same for all streams together. More is a stream
	// or connection error (FLOW_CONTROL_ERROR). Defaults 256 KiB and
	// 1 MiB; minimum 65535 (what a client may assume before our SETTINGS).
	StreamWindow, ConnWindow int
	// MaxHeaderListSize is SETTINGS_MAX_HEADER_LIST_SIZE: the decoded size
	// of one header block (names, values and 32 bytes per field, RFC 9113
	// §6.5.2); MaxHeaderFields is the most fields in one block. A request
	// past either is answered 431 and the rest of its block is decoded
	// without being kept. Defaults 65536 and 100.
	MaxHeaderListSize, MaxHeaderFields int
	// MaxFieldSize bounds one decoded name or value, Huffman or not; a
	// longer one is a connection error (ENHANCE_YOUR_CALM), since the
	// HPACK state can no longer be kept. Default 16384.
	MaxFieldSize int
	// MaxHeaderBlock bounds the encoded bytes of one header block and
	// MaxHeaderFrames its frames (the HEADERS and its CONTINUATIONs); past
	// either, a connection error (ENHANCE_YOUR_CALM). Defaults 131072 and
	// 32.
	MaxHeaderBlock, MaxHeaderFrames int
	// ResetBudget is how many streams a client may have reset (by its
	// RST_STREAM, or by ours for its errors) before their response ended;
	// each response that ends earns one back, up to ResetBudget. Past it,
	// a connection error (ENHANCE_YOUR_CALM). Streams refused past
	// MaxConcurrentStreams cost nothing: a client may open them before
	// it sees our SETTINGS. Default 200.
	ResetBudget int
	// MaxQueuedControl bounds the frames written in reply to the client
	// (SETTINGS and PING acknowledgements, RST_STREAM) that wait in the
	// output the caller has not taken, those of the Feed under way
	// included: past it, a connection error (ENHANCE_YOUR_CALM). Default
	// 10000, more than a read of 64 KiB can ask for.
	MaxQueuedControl int
	// FloodAllowance is the slack of the flood ratio: when an eighth of
	// all frame bytes, in and out, exceeds the payload bytes (request and
	// response fields and data) plus FloodAllowance, the connection is
	// ended (ENHANCE_YOUR_CALM): it carries mostly frames that do no work
	// (SETTINGS, PING, PRIORITY, empty or refused frames). Default 1 MiB.
	FloodAllowance int
	// ExtendedConnect sends SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
	// and accepts requests with a :protocol pseudo-header field (Event.
	// Protocol), which the caller serves (WebSocket over HTTP/2). Without
	// it, such a request is malformed (a stream error, PROTOCOL_ERROR).
	ExtendedConnect bool
}

// Defaults of Limits.
const (
	DefaultMaxConcurrentStreams = 100
	DefaultStreamWindow         = 256 << 10
	DefaultConnWindow           = 1 << 20
	DefaultMaxHeaderListSize    = 65536
	DefaultMaxHeaderFields      = 100
	DefaultMaxFieldSize         = 16384
	DefaultMaxHeaderBlock       = 131072
	DefaultMaxHeaderFrames      = 32
	DefaultResetBudget          = 200
	DefaultMaxQueuedControl     = 10000
	DefaultFloodAllowance       = 1 << 20
)

// initialWindow is the window both sides start with (RFC 9113 §6.9.2).
const initialWindow = 65535

// headerTableSize is the HPACK dynamic table the decoder keeps: the
// initial SETTINGS_HEADER_TABLE_SIZE, which we never raise, so no header
// block may grow it (a larger size update is a COMPRESSION_ERROR).
const headerTableSize = 4096

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	def(&l.MaxFrameSize, MinMaxFrameSize)
	def(&l.StreamWindow, DefaultStreamWindow)
	def(&l.ConnWindow, DefaultConnWindow)
	def(&l.MaxHeaderListSize, DefaultMaxHeaderListSize)
	def(&l.MaxHeaderFields, DefaultMaxHeaderFields)
	def(&l.MaxFieldSize, DefaultMaxFieldSize)
	def(&l.MaxHeaderBlock, DefaultMaxHeaderBlock)
	def(&l.MaxHeaderFrames, DefaultMaxHeaderFrames)
	def(&l.ResetBudget, DefaultResetBudget)
	def(&l.MaxQueuedControl, DefaultMaxQueuedControl)
	def(&l.FloodAllowance, DefaultFloodAllowance)
	l.MaxFrameSize = min(max(l.MaxFrameSize, MinMaxFrameSize), MaxMaxFrameSize)
	l.StreamWindow = min(max(l.StreamWindow, initialWindow), MaxWindow)
	l.ConnWindow = min(max(l.ConnWindow, initialWindow), MaxWindow)
	return l
}

// EventKind is what an Event reports.
type EventKind uint8

const (
	// EventRequest is a request head: Method, Scheme, Authority, Path,
	// ContentLength and Fields; End when the request has no body.
	EventRequest EventKind = iota + 1
	// EventData is request body bytes (Data, never empty unless End); End
	// on the last. The caller calls Consumed as they are used.
	EventData
	// EventTrailers is the request's trailer fields (Fields); the request
	// ends with them.
	EventTrailers
	// EventReset is the end of a stream the caller was told of, reset by
	// the client or for its error (Code): the caller abandons it. From
	// now on SendHeaders and WriteData for it return ErrStreamClosed and
	// the other calls do nothing.
	EventReset
	// EventWindow tells that a stream whose WriteData was short has credit
	// again.
	EventWindow
	// EventGoAway is the client's GOAWAY (Code): it opens no more streams;
	// Closing reports true from now on.
	EventGoAway
)

// Field is a header or trailer field as decoded. Names are lowercase.
type Field struct{ Name, Value string }

// Event is one thing Feed found. Data aliases the bytes given to Feed;
// Fields aliases the Conn's field store. Both are valid until the next
// Feed.
type Event struct {
	Kind   EventKind
	Stream uint32
	// The request's pseudo-header fields (EventRequest); Authority is
	// the host field's value when :authority is absent. Protocol is the
	// :protocol of an extended CONNECT (Limits.ExtendedConnect), "" for
	// any other request.
	Method, Scheme, Authority, Path, Protocol string
	// ContentLength is the request's content-length, -1 when it has none.
	ContentLength int64
	// Fields are the regular fields (EventRequest) or the trailer fields
	// (EventTrailers) in the order received. A cookie may come as several
	// fields (RFC 9113 §8.2.3).
	Fields []Field
	Data   []byte
	End    bool
	Code   ErrCode

	s *stream // to withdraw the event if its stream is reset in the same Feed
}

// stream is one client-initiated stream that was reported to the caller
// and has not closed. It belongs to its Conn.
type stream struct {
	id          uint32
	feed        uint32 // the Feed that reported its request
	remoteEnded bool   // END_STREAM received: half-closed (remote)
	dropped     bool   // reset in the Feed that reported it: its events are withdrawn
	draining    bool   // the response ended first: the rest of the request is checked and dropped
	length      int64  // the request's content-length, -1 when none
	received    int64  // request body bytes received
	streamFlow
}

// Conn is the server side of one HTTP/2 connection, over the bytes of
// the connection (after TLS, if any). It belongs to the loop serving the
// connection; nothing in it is safe for concurrent use.
//
// The caller feeds it the inbound bytes (Feed), handles what it found
// (Events), answers through StartHeaders, AddField, SendHeaders,
// WriteData and Reset, gives back flow-control credit as request bodies
// are used (Consumed), and writes what the Conn queued for the peer
// (Output) to the connection. Timeouts are the caller's: a header block
// left open (InHeaderBlock) and a response held back by a window that
// stays closed (Window) must end the connection or the stream; the Conn
// reads no clock.
type Conn struct {
	endpoint

	// Inbound: what the client sent.
	preface int    // bytes of the client preface matched (len(ClientPreface): done)
	err     *Error // the connection error that ended c
	lastID  uint32 // the highest stream id the client used
	streams map[uint32]*stream
	active  int // streams open, against MaxConcurrentStreams
	dec     *hpack.Decoder
	hb      headerBlock
	events  []Event // what this Feed found
	feeds   uint32  // Feeds so far
	inFeed  bool
	closing []*stream // closed during this Feed: freed when it ends
	free    []*stream // for reuse

	// Defences.
	resetBudget int
	control     int   // control frames queued in out since the last Output
	frameBytes  int64 // all frame bytes, in and out (taken by Output)
	payload     int64 // of which payload: fields and data

	// Outbound.
	blockID      uint32 // the stream of the header block being encoded
	blockStatus  int
	statusDigits [3]byte
	shutdownPing bool // a graceful GOAWAY waits for our PING's ack
	goAwaySent   bool // a final GOAWAY was sent: streams past goAwayID are ignored
	goAwayID     uint32
	peerGoAway   bool
}

// ClientPreface is what an HTTP/2 client sends first (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// shutdownData is the payload of the PING of a graceful shutdown.
var shutdownData = [8]byte{'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'}

// Connection errors of the Conn.
var (
	errPreface          = &Error{ErrCodeProtocol, false, "http2: invalid client preface"}
	errFirstSettings    = &Error{ErrCodeProtocol, false, "http2: first frame is not SETTINGS"}
	errUpgradeLate      = &Error{ErrCodeInternal, false, "http2: Upgrade after the connection began"}
	errUpgradeSettings  = &Error{ErrCodeProtocol, false, "http2: invalid HTTP2-Settings"}
	errExpectedCont     = &Error{ErrCodeProtocol, false, "http2: frame in the middle of a header block"}
	errStrayCont        = &Error{ErrCodeProtocol, false, "http2: CONTINUATION without a header block"}
	errEvenStream       = &Error{ErrCodeProtocol, false, "http2: client stream with an even id"}
	errIdleStream       = &Error{ErrCodeProtocol, false, "http2: frame on an idle stream"}
	errClosedHeaders    = &Error{ErrCodeStreamClosed, false, "http2: HEADERS on a closed stream"}
	errPushPromise      = &Error{ErrCodeProtocol, false, "http2: PUSH_PROMISE from a client"}
	errConnFlow         = &Error{ErrCodeFlowControl, false, "http2: DATA beyond the connection window"}
	errConnWindowSize   = &Error{ErrCodeFlowControl, false, "http2: connection window above 2^31-1"}
	errStreamWindowSize = &Error{ErrCodeFlowControl, false, "http2: SETTINGS_INITIAL_WINDOW_SIZE takes a stream window above 2^31-1"}
	errCompression      = &Error{ErrCodeCompression, false, "http2: invalid header block"}
	errFieldSize        = &Error{ErrCodeEnhanceYourCalm, false, "http2: header field longer than the limit"}
	errHeaderBlock      = &Error{ErrCodeEnhanceYourCalm, false, "http2: header block larger than the limit"}
	errHeaderFrames     = &Error{ErrCodeEnhanceYourCalm, false, "http2: header block in too many frames"}
	errResets           = &Error{ErrCodeEnhanceYourCalm, false, "http2: too many streams reset"}
	errControlFlood     = &Error{ErrCodeEnhanceYourCalm, false, "http2: too many control frames unread"}
	errFlood            = &Error{ErrCodeEnhanceYourCalm, false, "http2: flood of frames that do no work"}
)

// ErrStreamClosed is returned for a stream that is not open: it was reset
// (EventReset), or its response ended.
var ErrStreamClosed = errors.New("http2: stream closed")

// NewConn returns the server side of a new connection, with the server's
// preface (SETTINGS, and a WINDOW_UPDATE to the connection window)
// queued in Output.
func NewConn(lim Limits) *Conn {
	lim = lim.withDefaults()
	c := &Conn{
		streams:     make(map[uint32]*stream),
		resetBudget: lim.ResetBudget,
	}
	c.init(lim)
	c.dec = hpack.NewDecoder(headerTableSize, c.onField)
	c.dec.SetMaxStringLength(lim.MaxFieldSize)
	settings := [...]Setting{
		{SettingMaxConcurrentStreams, uint32(lim.MaxConcurrentStreams)},
		{SettingInitialWindowSize, uint32(lim.StreamWindow)},
		{SettingMaxFrameSize, uint32(lim.MaxFrameSize)},
		{SettingMaxHeaderListSize, uint32(lim.MaxHeaderListSize)},
		{SettingEnablePush, 0},
		{SettingEnableConnectProtocol, 1},
	}
	n := len(settings)
	if !lim.ExtendedConnect {
		n-- // the last, RFC 8441's, is sent only to say yes
	}
	c.out = AppendSettings(c.out, settings[:n]...)
	if lim.ConnWindow > initialWindow {
		c.out = AppendWindowUpdate(c.out, 0, uint32(lim.ConnWindow-initialWindow))
	}
	return c
}

// Feed processes the complete frames at the start of p (the client
// preface first) and returns how many bytes it consumed; the caller keeps
// the rest and calls again with more. What it found is in Events until
// the next Feed; what it answered (acknowledgements, stream resets) is
// queued in Output.
//
// A stream error resets the stream and the connection goes on. A
// connection error is returned as an *Error, after queueing GOAWAY in
// Output: the caller writes it and closes the connection; every stream is
// gone, and Feed returns the error again.
//
// Rapid Reset (CVE-2023-44487): a stream opened and reset within one Feed
// is never reported, and resets count against Limits.ResetBudget.
func (c *Conn) Feed(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.beginFeed()
	n, err := c.feed(p)
	c.endFeed()
	if err != nil {
		c.fail(err)
		return n, err
	}
	return n, nil
}

func (c *Conn) feed(p []byte) (int, error) {
	n := 0
	if c.preface < len(ClientPreface) {
		want := ClientPreface[c.preface:]
		k := min(len(want), len(p))
		if string(p[:k]) != want[:k] {
			return 0, errPreface
		}
		c.preface += k
		n = k
	}
	for c.preface == len(ClientPreface) {
		f, m, code, err := c.nextFrame(p[n:], errFirstSettings, c.hb.active, c.hb.id)
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
			return n, err
		}
		n += m
		c.frameBytes += int64(m)
		if err := c.checkFlood(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkFlood applies the limits on what the client makes us write and on
// frames that do no work.
func (c *Conn) checkFlood() error {
	if c.control > c.lim.MaxQueuedControl {
		return errControlFlood
	}
	if (c.frameBytes+int64(len(c.out)))/8 > c.payload+int64(c.lim.FloodAllowance) {
		return errFlood
	}
	return nil
}

func (c *Conn) beginFeed() {
	c.inFeed = true
	c.feeds++
	clear(c.events) // nothing of the last Feed's input stays reachable
	c.events = c.events[:0]
	c.beginFields(c.hb.active, &c.hb.start)
}

// endFeed withdraws the events of streams opened and reset in this Feed
// and frees the streams that closed.
func (c *Conn) endFeed() {
	c.inFeed = false
	if len(c.closing) == 0 {
		return
	}
	kept := c.events[:0]
	for _, ev := range c.events {
		if ev.s == nil || !ev.s.dropped {
			kept = append(kept, ev)
		}
	}
	clear(c.events[len(kept):])
	c.events = kept
	for _, s := range c.closing {
		c.freeStream(s)
	}
	clear(c.closing)
	c.closing = c.closing[:0]
}

// fail ends the connection with a connection error: GOAWAY, and nothing
// reported of this Feed.
func (c *Conn) fail(err error) {
	e := err.(*Error)
	c.err = e
	if !c.goAwaySent {
		c.goAwayID = c.lastID
	}
	c.out = AppendGoAway(c.out, c.goAwayID, e.Code, nil)
	c.goAwaySent = true
	c.hb.active = false
	clear(c.events)
	c.events = c.events[:0]
	for id, s := range c.streams {
		delete(c.streams, id)
		c.freeStream(s)
	}
	c.active = 0
}

// Events returns what the last Feed found, in order. It is valid until
// the next Feed.
func (c *Conn) Events() []Event { return c.events }

// Output returns the bytes queued for the client and empties the queue.
// They are valid until the next call on c: the caller writes or copies
// them before that. A caller whose connection is congested may leave
// output queued (not call Output) and keep feeding: a client that floods
// control frames without reading is then cut off at
// Limits.MaxQueuedControl.
func (c *Conn) Output() []byte {
	b := c.out
	c.out = c.out[:0]
	c.control = 0
	c.frameBytes += int64(len(b))
	return b
}

// Pending returns how many bytes are queued for the client.
func (c *Conn) Pending() int { return len(c.out) }

// InHeaderBlock reports whether a header block has begun and not ended
// (CONTINUATION frames are expected): the caller's header timeout runs.
// Bytes of an incomplete frame left unconsumed by Feed are the caller's
// to time too.
func (c *Conn) InHeaderBlock() bool { return c.hb.active }

// InPreface reports whether the client preface has begun and not ended:
// Feed consumes its bytes as they match, and the caller times the rest
// as it does a header block.
func (c *Conn) InPreface() bool { return c.preface > 0 && c.preface < len(ClientPreface) }

// PrefaceDone reports whether the whole client preface came.
func (c *Conn) PrefaceDone() bool { return c.preface == len(ClientPreface) }

// Idle reports whether no stream is open and no header block is under way.
func (c *Conn) Idle() bool { return c.active == 0 && !c.hb.active }

// Closing reports whether the connection is going away: a final GOAWAY
// was sent, or the client's received. The caller closes it once Idle
// (and its output is written).
func (c *Conn) Closing() bool { return c.goAwaySent || c.peerGoAway }

// frame processes one frame that ParseFrame accepted and that is in
// place.
func (c *Conn) frame(f *Frame) error {
	switch f.Type {
	case FrameData:
		return c.data(f)
	case FrameHeaders:
		return c.headers(f)
	case FramePriority:
		if f.Priority.StreamDep == f.StreamID {
			return c.streamError(f.StreamID, ErrCodeProtocol)
		}
	case FrameRSTStream:
		return c.rstStream(f)
	case FrameSettings:
		return c.settings(f)
	case FramePushPromise:
		return errPushPromise
	case FramePing:
		return c.ping(f)
	case FrameGoAway:
		c.peerGoAway = true
		c.events = append(c.events, Event{Kind: EventGoAway, Code: f.ErrCode()})
	case FrameWindowUpdate:
		return c.windowUpdate(f)
	case FrameContinuation:
		if !c.hb.active {
			return errStrayCont
		}
		return c.fragment(f.Data, f.Flags.Has(FlagEndHeaders))
	}
	return nil // PRIORITY is accepted and unknown types are ignored
}

// ignored reports whether frames of stream id are to be ignored: it
// began after our final GOAWAY (RFC 9113 §6.8).
func (c *Conn) ignored(id uint32) bool { return c.goAwaySent && id > c.goAwayID }

// idle reports whether stream id was never used by the client.
func (c *Conn) idle(id uint32) bool { return id > c.lastID || id%2 == 0 }

func (c *Conn) rstStream(f *Frame) error {
	id := f.StreamID
	s := c.streams[id]
	if s == nil {
		if c.idle(id) && !c.ignored(id) {
			return errIdleStream
		}
		return nil // closed: a reset that crossed ours or our response's end
	}
	c.closeStream(s, f.ErrCode(), false)
	return c.spendReset()
}

// streamError resets stream id for the client's error (RFC 9113 §5.4.2).
func (c *Conn) streamError(id uint32, code ErrCode) error {
	if s := c.streams[id]; s != nil {
		c.closeStream(s, code, true)
	} else {
		c.rst(id, code)
	}
	return c.spendReset()
}

// spendReset takes one reset from the budget.
func (c *Conn) spendReset() error {
	c.resetBudget--
	if c.resetBudget < 0 {
		return errResets
	}
	return nil
}

// closeStream ends s before its exchange completed: by the client's reset
// (sendRST false) or by ours. The caller hears of it (EventReset) unless
// its request was reported in this same Feed: then it hears nothing.
func (c *Conn) closeStream(s *stream, code ErrCode, sendRST bool) {
	if sendRST {
		c.rst(s.id, code)
	}
	if c.inFeed && s.feed == c.feeds {
		s.dropped = true
	} else {
		c.events = append(c.events, Event{Kind: EventReset, Stream: s.id, Code: code})
	}
	c.release(s)
}

// release forgets s: the connection window gets back the body bytes the
// caller still held.
func (c *Conn) release(s *stream) {
	delete(c.streams, s.id)
	c.active--
	c.credit(s.held)
	if c.inFeed {
		c.closing = append(c.closing, s) // events of this Feed point to it
	} else {
		c.freeStream(s)
	}
}

func (c *Conn) freeStream(s *stream) {
	*s = stream{}
	c.free = append(c.free, s)
}

func (c *Conn) newStream(id uint32) *stream {
	var s *stream
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		s = new(stream)
	}
	*s = stream{
		id:         id,
		feed:       c.feeds,
		length:     -1,
		streamFlow: streamFlow{sendWindow: c.peerInitialWindow, recvWindow: int64(c.lim.StreamWindow)},
	}
	c.streams[id] = s
	c.active++
	return s
}

// rst queues RST_STREAM, a control frame when it answers what Feed found.
func (c *Conn) rst(id uint32, code ErrCode) {
	c.queueRST(id, code)
	if c.inFeed {
		c.control++
	}
}

func (c *Conn) settings(f *Frame) error {
	if f.Flags.Has(FlagAck) {
		return nil // ours need no synchronisation: none is below its initial value
	}
	if err := c.applySettings(f.Data); err != nil {
		return err
	}
	c.out = AppendSettingsAck(c.out)
	c.control++
	return nil
}

// applySettings takes the client's settings (a SETTINGS payload, already
// checked).
func (c *Conn) applySettings(p []byte) error {
	var grew bool
	for ; len(p) >= 6; p = p[6:] {
		s := settingAt(p)
		switch s.ID {
		case SettingInitialWindowSize:
			delta := c.setPeerInitialWindow(s.Val)
			for _, st := range c.streams {
				if err := st.shift(delta); err != nil {
					return err
				}
			}
			grew = grew || delta > 0
		case SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		}
		// The header table size does not matter to an encoder without a
		// dynamic table; push is never used; the others are advisory.
	}
	if grew {
		c.windowOpened()
	}
	return nil
}

// Upgrade begins a connection upgraded from HTTP/1.1 (Upgrade: h2c, RFC
// 7540 §3.2), before the first Feed: settings is the decoded
// HTTP2-Settings field, applied as a SETTINGS frame would be, without
// an acknowledgement (the 101 is one). Stream 1 is the request that
// asked for the upgrade, already complete (half-closed remote): the
// caller starts it itself and answers it with SendHeaders and WriteData
// as any stream; no event reports it. Feed then expects the client
// preface.
func (c *Conn) Upgrade(settings []byte) error {
	if c.lastID != 0 || c.feeds != 0 {
		return errUpgradeLate
	}
	if !ValidSettings(settings) {
		return errUpgradeSettings
	}
	if err := c.applySettings(settings); err != nil {
		return err
	}
	s := c.newStream(1)
	s.remoteEnded = true
	s.length = 0
	c.lastID = 1
	return nil
}

func (c *Conn) ping(f *Frame) error {
	data := f.PingData()
	if f.Flags.Has(FlagAck) {
		if c.shutdownPing && data == shutdownData {
			c.shutdownPing = false
			c.GoAway(ErrCodeNo)
		}
		return nil
	}
	c.out = AppendPing(c.out, true, data)
	c.control++
	return nil
}
