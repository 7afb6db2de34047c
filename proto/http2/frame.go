package http2

import (
	"encoding/binary"
	"errors"
)

// FrameType is a frame's type (RFC 9113 §6).
type FrameType uint8

// Frame types of RFC 9113 §6.
const (
	FrameData         FrameType = 0x0
	FrameHeaders      FrameType = 0x1
	FramePriority     FrameType = 0x2
	FrameRSTStream    FrameType = 0x3
	FrameSettings     FrameType = 0x4
	FramePushPromise  FrameType = 0x5
	FramePing         FrameType = 0x6
	FrameGoAway       FrameType = 0x7
	FrameWindowUpdate FrameType = 0x8
	FrameContinuation FrameType = 0x9
)

var frameTypeNames = [...]string{
	"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
	"PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION",
}

// String returns the type's name in RFC 9113, or "UNKNOWN".
func (t FrameType) String() string {
	if int(t) < len(frameTypeNames) {
		return frameTypeNames[t]
	}
	return "UNKNOWN"
}

// Flags are a frame's flags; their meaning depends on its type. Flags a
// type does not define are ignored (RFC 9113 §4.1).
type Flags uint8

// Flags of RFC 9113 §6.
const (
	FlagEndStream  Flags = 0x1  // DATA, HEADERS
	FlagAck        Flags = 0x1  // SETTINGS, PING
	FlagEndHeaders Flags = 0x4  // HEADERS, CONTINUATION
	FlagPadded     Flags = 0x8  // DATA, HEADERS
	FlagPriority   Flags = 0x20 // HEADERS
)

// Has reports whether all of g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 §7).
type ErrCode uint32

// Error codes of RFC 9113 §7.
const (
	ErrCodeNo                 ErrCode = 0x0
	ErrCodeProtocol           ErrCode = 0x1
	ErrCodeInternal           ErrCode = 0x2
	ErrCodeFlowControl        ErrCode = 0x3
	ErrCodeSettingsTimeout    ErrCode = 0x4
	ErrCodeStreamClosed       ErrCode = 0x5
	ErrCodeFrameSize          ErrCode = 0x6
	ErrCodeRefusedStream      ErrCode = 0x7
	ErrCodeCancel             ErrCode = 0x8
	ErrCodeCompression        ErrCode = 0x9
	ErrCodeConnect            ErrCode = 0xa
	ErrCodeEnhanceYourCalm    ErrCode = 0xb
	ErrCodeInadequateSecurity ErrCode = 0xc
	ErrCodeHTTP11Required     ErrCode = 0xd
)

var errCodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// String returns the code's name in RFC 9113, or "unknown" (unknown codes
// are legal and mean INTERNAL_ERROR to the receiver).
func (c ErrCode) String() string {
	if int(c) < len(errCodeNames) {
		return errCodeNames[c]
	}
	return "unknown"
}

// Error is a protocol violation by the peer. A connection error (Stream
// false) ends the connection with GOAWAY; a stream error ends the stream
// the offending frame was on with RST_STREAM, and the connection goes on.
// Errors are shared values, so that refusing hostile input never
// allocates; callers must not modify them.
type Error struct {
	Code   ErrCode
	Stream bool
	Reason string
}

// Error returns e.Reason.
func (e *Error) Error() string { return e.Reason }

// ErrIncomplete reports that the frame is not complete yet: call again
// with more bytes.
var ErrIncomplete = errors.New("http2: incomplete frame")

// Frame errors of RFC 9113 §4 and §6.
var (
	errFrameTooLarge    = &Error{ErrCodeFrameSize, false, "http2: frame larger than SETTINGS_MAX_FRAME_SIZE"}
	errFrameTooShort    = &Error{ErrCodeFrameSize, false, "http2: frame too short for its fixed fields"}
	errPadding          = &Error{ErrCodeProtocol, false, "http2: padding longer than the payload"}
	errStreamZero       = &Error{ErrCodeProtocol, false, "http2: frame needs a stream, has stream 0"}
	errStreamNonZero    = &Error{ErrCodeProtocol, false, "http2: connection frame on a stream"}
	errPriorityLength   = &Error{ErrCodeFrameSize, true, "http2: PRIORITY length is not 5"}
	errRSTLength        = &Error{ErrCodeFrameSize, false, "http2: RST_STREAM length is not 4"}
	errSettingsAck      = &Error{ErrCodeFrameSize, false, "http2: SETTINGS ACK with a payload"}
	errSettingsLength   = &Error{ErrCodeFrameSize, false, "http2: SETTINGS length not a multiple of 6"}
	errEnablePush       = &Error{ErrCodeProtocol, false, "http2: SETTINGS_ENABLE_PUSH neither 0 nor 1"}
	errConnectProtocol  = &Error{ErrCodeProtocol, false, "http2: SETTINGS_ENABLE_CONNECT_PROTOCOL neither 0 nor 1"}
	errInitialWindow    = &Error{ErrCodeFlowControl, false, "http2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1"}
	errMaxFrameSize     = &Error{ErrCodeProtocol, false, "http2: SETTINGS_MAX_FRAME_SIZE out of range"}
	errPingLength       = &Error{ErrCodeFrameSize, false, "http2: PING length is not 8"}
	errGoAwayLength     = &Error{ErrCodeFrameSize, false, "http2: GOAWAY shorter than 8"}
	errWindowLength     = &Error{ErrCodeFrameSize, false, "http2: WINDOW_UPDATE length is not 4"}
	errWindowZero       = &Error{ErrCodeProtocol, false, "http2: WINDOW_UPDATE of 0 on the connection"}
	errStreamWindowZero = &Error{ErrCodeProtocol, true, "http2: WINDOW_UPDATE of 0 on a stream"}
)

// FrameHeaderLen is the length of a frame header.
const FrameHeaderLen = 9

// Frame size bounds of RFC 9113 §4.2 and §6.5.2.
const (
	MinMaxFrameSize = 1 << 14   // the initial and smallest SETTINGS_MAX_FRAME_SIZE
	MaxMaxFrameSize = 1<<24 - 1 // the largest
)

// MaxWindow is the largest flow-control window (RFC 9113 §6.9.1).
const MaxWindow = 1<<31 - 1

// FrameHeader is the header every frame starts with (RFC 9113 §4.1).
type FrameHeader struct {
	Length   uint32 // of the payload, padding included
	Type     FrameType
	Flags    Flags
	StreamID uint32 // the reserved bit cleared
}

// Priority is the priority signal of HEADERS and PRIORITY frames
// (RFC 9113 §5.3.2). Servers accept and ignore it; only a stream
// depending on itself is an error.
type Priority struct {
	StreamDep uint32
	Exclusive bool
	Weight    uint8
}

// Frame is one parsed frame. Its slices alias the buffer given to
// ParseFrame and are valid as long as it is.
type Frame struct {
	FrameHeader
	// Data is, without padding and priority fields, DATA's data and the
	// field block fragment of HEADERS and CONTINUATION; for other types,
	// the whole payload.
	Data []byte
	// Priority is set for PRIORITY and for HEADERS with FlagPriority.
	Priority Priority
}

// ParseFrame parses the complete frame at the start of p: the frame and
// its length (header included). It returns ErrIncomplete while the frame
// is incomplete, and an *Error for a frame RFC 9113 §4 and §6 forbid: the
// length check needs only the header, so a frame longer than maxFrameSize
// is refused before its payload arrives. A stream error comes with the
// frame's header and length (the frame is consumed and the connection
// goes on); a connection error ends the connection.
//
// ParseFrame checks the frame alone: what depends on the connection (stream
// states, header blocks, flow control) is Conn's. Unknown frame types are
// returned as they are, for the caller to ignore (RFC 9113 §5.5).
func ParseFrame(p []byte, maxFrameSize uint32) (Frame, int, error) {
	var f Frame
	if len(p) < FrameHeaderLen {
		return f, 0, ErrIncomplete
	}
	f.Length = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
	f.Type = FrameType(p[3])
	f.Flags = Flags(p[4])
	f.StreamID = binary.BigEndian.Uint32(p[5:]) & MaxWindow
	if f.Length > maxFrameSize {
		return f, 0, errFrameTooLarge
	}
	n := FrameHeaderLen + int(f.Length)
	if len(p) < n {
		return f, 0, ErrIncomplete
	}
	payload := p[FrameHeaderLen:n]
	f.Data = payload
	var err error
	switch f.Type {
	case FrameData:
		if f.StreamID == 0 {
			return f, n, errStreamZero
		}
		f.Data, err = unpad(f.Flags, payload, 0)
	case FrameHeaders:
		if f.StreamID == 0 {
			return f, n, errStreamZero
		}
		fixed := 0
		if f.Flags.Has(FlagPriority) {
			fixed = 5
		}
		f.Data, err = unpad(f.Flags, payload, fixed)
		if err == nil && fixed > 0 {
			pri := payload[:5]
			if f.Flags.Has(FlagPadded) {
				pri = payload[1:6]
			}
			f.Priority = parsePriority(pri)
		}
	case FramePriority:
		if f.StreamID == 0 {
			return f, n, errStreamZero
		}
		if len(payload) != 5 {
			return f, n, errPriorityLength
		}
		f.Priority = parsePriority(payload)
	case FrameRSTStream:
		if f.StreamID == 0 {
			return f, n, errStreamZero
		}
		if len(payload) != 4 {
			return f, n, errRSTLength
		}
	case FrameSettings:
		err = checkSettings(f.FrameHeader, payload)
	case FramePushPromise, FrameContinuation:
		if f.StreamID == 0 {
			return f, n, errStreamZero
		}
	case FramePing:
		if f.StreamID != 0 {
			return f, n, errStreamNonZero
		}
		if len(payload) != 8 {
			return f, n, errPingLength
		}
	case FrameGoAway:
		if f.StreamID != 0 {
			return f, n, errStreamNonZero
		}
		if len(payload) < 8 {
			return f, n, errGoAwayLength
		}
	case FrameWindowUpdate:
		if len(payload) != 4 {
			return f, n, errWindowLength
		}
		if f.Increment() == 0 {
			if f.StreamID == 0 {
				return f, n, errWindowZero
			}
			return f, n, errStreamWindowZero
		}
	}
	return f, n, err
}

// unpad returns the part of a DATA or HEADERS payload after the pad length
// and fixed fields and before the padding.
func unpad(flags Flags, payload []byte, fixed int) ([]byte, error) {
	if !flags.Has(FlagPadded) {
		if len(payload) < fixed {
			return nil, errFrameTooShort
		}
		return payload[fixed:], nil
	}
	if len(payload) < 1+fixed {
		return nil, errFrameTooShort
	}
	pad := int(payload[0])
	rest := payload[1+fixed:]
	if pad > len(rest) {
		return nil, errPadding
	}
	return rest[:len(rest)-pad], nil
}

func parsePriority(p []byte) Priority {
	v := binary.BigEndian.Uint32(p)
	return Priority{StreamDep: v & MaxWindow, Exclusive: v>>31 == 1, Weight: p[4]}
}

// checkSettings validates a SETTINGS frame and the values it carries
// (RFC 9113 §6.5).
// ValidSettings reports whether p is a valid SETTINGS payload: what the
// HTTP2-Settings field of an Upgrade: h2c request must decode to.
func ValidSettings(p []byte) bool {
	return checkSettings(FrameHeader{Length: uint32(len(p)), Type: FrameSettings}, p) == nil
}

func checkSettings(h FrameHeader, payload []byte) error {
	if h.StreamID != 0 {
		return errStreamNonZero
	}
	if h.Flags.Has(FlagAck) {
		if len(payload) != 0 {
			return errSettingsAck
		}
		return nil
	}
	if len(payload)%6 != 0 {
		return errSettingsLength
	}
	for p := payload; len(p) > 0; p = p[6:] {
		if err := settingAt(p).check(); err != nil {
			return err
		}
	}
	return nil
}

// ErrCode returns the error code of RST_STREAM and GOAWAY frames.
func (f *Frame) ErrCode() ErrCode {
	if f.Type == FrameGoAway {
		return ErrCode(binary.BigEndian.Uint32(f.Data[4:]))
	}
	return ErrCode(binary.BigEndian.Uint32(f.Data))
}

// LastStreamID returns the last stream id of a GOAWAY frame.
func (f *Frame) LastStreamID() uint32 { return binary.BigEndian.Uint32(f.Data) & MaxWindow }

// DebugData returns the debug data of a GOAWAY frame.
func (f *Frame) DebugData() []byte { return f.Data[8:] }

// Increment returns the window increment of a WINDOW_UPDATE frame.
func (f *Frame) Increment() uint32 { return binary.BigEndian.Uint32(f.Data) & MaxWindow }

// PingData returns the opaque data of a PING frame.
func (f *Frame) PingData() [8]byte { return [8]byte(f.Data) }

// NumSettings returns how many settings a SETTINGS frame carries.
func (f *Frame) NumSettings() int { return len(f.Data) / 6 }

// Setting returns setting i of a SETTINGS frame.
func (f *Frame) Setting(i int) Setting { return settingAt(f.Data[i*6:]) }

// SettingID identifies a setting (RFC 9113 §6.5.2).
type SettingID uint16

// Settings of RFC 9113 §6.5.2.
const (
	SettingHeaderTableSize      SettingID = 0x1
	SettingEnablePush           SettingID = 0x2
	SettingMaxConcurrentStreams SettingID = 0x3
	SettingInitialWindowSize    SettingID = 0x4
	SettingMaxFrameSize         SettingID = 0x5
	SettingMaxHeaderListSize    SettingID = 0x6
	// SettingEnableConnectProtocol is RFC 8441's: the server accepts
	// extended CONNECT (a :protocol pseudo-header field).
	SettingEnableConnectProtocol SettingID = 0x8
)

// Setting is one setting of a SETTINGS frame.
type Setting struct {
	ID  SettingID
	Val uint32
}

func settingAt(p []byte) Setting {
	return Setting{SettingID(binary.BigEndian.Uint16(p)), binary.BigEndian.Uint32(p[2:])}
}

// check reports a value RFC 9113 §6.5.2 forbids. Unknown settings are
// ignored.
func (s Setting) check() error {
	switch s.ID {
	case SettingEnablePush:
		if s.Val > 1 {
			return errEnablePush
		}
	case SettingEnableConnectProtocol:
		if s.Val > 1 {
			return errConnectProtocol
		}
	case SettingInitialWindowSize:
		if s.Val > MaxWindow {
			return errInitialWindow
		}
	case SettingMaxFrameSize:
		if s.Val < MinMaxFrameSize || s.Val > MaxMaxFrameSize {
			return errMaxFrameSize
		}
	}
	return nil
}

// AppendFrameHeader appends a frame header to b.
func AppendFrameHeader(b []byte, h FrameHeader) []byte {
	return append(b, byte(h.Length>>16), byte(h.Length>>8), byte(h.Length), byte(h.Type), byte(h.Flags),
		byte(h.StreamID>>24), byte(h.StreamID>>16), byte(h.StreamID>>8), byte(h.StreamID))
}

// AppendData appends a DATA frame carrying data (at most the peer's
// SETTINGS_MAX_FRAME_SIZE bytes) to b.
func AppendData(b []byte, id uint32, endStream bool, data []byte) []byte {
	var fl Flags
	if endStream {
		fl = FlagEndStream
	}
	b = AppendFrameHeader(b, FrameHeader{uint32(len(data)), FrameData, fl, id})
	return append(b, data...)
}

// AppendHeaders appends a HEADERS frame carrying a field block fragment
// to b; flags may hold FlagEndStream and FlagEndHeaders.
func AppendHeaders(b []byte, id uint32, flags Flags, fragment []byte) []byte {
	b = AppendFrameHeader(b, FrameHeader{uint32(len(fragment)), FrameHeaders, flags, id})
	return append(b, fragment...)
}

// AppendContinuation appends a CONTINUATION frame to b.
func AppendContinuation(b []byte, id uint32, endHeaders bool, fragment []byte) []byte {
	var fl Flags
	if endHeaders {
		fl = FlagEndHeaders
	}
	b = AppendFrameHeader(b, FrameHeader{uint32(len(fragment)), FrameContinuation, fl, id})
	return append(b, fragment...)
}

// AppendRSTStream appends a RST_STREAM frame to b.
func AppendRSTStream(b []byte, id uint32, code ErrCode) []byte {
	b = AppendFrameHeader(b, FrameHeader{4, FrameRSTStream, 0, id})
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

// AppendSettings appends a SETTINGS frame to b.
func AppendSettings(b []byte, settings ...Setting) []byte {
	b = AppendFrameHeader(b, FrameHeader{uint32(6 * len(settings)), FrameSettings, 0, 0})
	for _, s := range settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

// AppendSettingsAck appends a SETTINGS frame acknowledging the peer's.
func AppendSettingsAck(b []byte) []byte {
	return AppendFrameHeader(b, FrameHeader{0, FrameSettings, FlagAck, 0})
}

// AppendPing appends a PING frame to b.
func AppendPing(b []byte, ack bool, data [8]byte) []byte {
	var fl Flags
	if ack {
		fl = FlagAck
	}
	b = AppendFrameHeader(b, FrameHeader{8, FramePing, fl, 0})
	return append(b, data[:]...)
}

// AppendGoAway appends a GOAWAY frame to b.
func AppendGoAway(b []byte, lastID uint32, code ErrCode, debug []byte) []byte {
	b = AppendFrameHeader(b, FrameHeader{uint32(8 + len(debug)), FrameGoAway, 0, 0})
	b = binary.BigEndian.AppendUint32(b, lastID&MaxWindow)
	b = binary.BigEndian.AppendUint32(b, uint32(code))
	return append(b, debug...)
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame to b; incr is 1 to
// 2^31-1.
func AppendWindowUpdate(b []byte, id uint32, incr uint32) []byte {
	b = AppendFrameHeader(b, FrameHeader{4, FrameWindowUpdate, 0, id})
	return binary.BigEndian.AppendUint32(b, incr&MaxWindow)
}
