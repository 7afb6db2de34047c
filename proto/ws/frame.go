package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxControlPayload is the largest payload of a control frame (RFC 6455
// §5.5).
const MaxControlPayload = 125

// Frame is one parsed frame.
type Frame struct {
	Fin bool
	// RSV1 marks the first frame of a compressed message (RFC 7692 §6);
	// ParseFrame refuses it on any other frame, and unless
	// permessage-deflate was negotiated.
	RSV1 bool
	Op   Opcode
	// Payload is unmasked and aliases the buffer given to ParseFrame.
	Payload []byte
}

// header is a frame's header, decoded.
type header struct {
	fin, rsv1 bool
	op        Opcode
	masked    bool
	key       [4]byte
	length    int // of the payload
	size      int // of the header
}

// ParseFrame parses the frame at the start of p as role receives it, with
// permessage-deflate negotiated or not. It returns the frame, the bytes of p
// it used, ErrIncomplete when more bytes are needed, or an *Error.
//
// The frame's rules (RFC 6455 §5) are checked as soon as the bytes that
// break them are in: reserved bits and opcodes, masking, control frames
// fragmented or over 125 bytes, a length over lim.MaxFrame (CloseTooBig).
// A close frame's payload is checked too (code, UTF-8 reason). The payload
// is unmasked in place: the caller must consume the frame and never parse
// its bytes again. Rules between frames (fragmentation) are the Reader's.
func ParseFrame(p []byte, role Role, deflate bool, lim Limits) (Frame, int, error) {
	maxFrame, _ := lim.values()
	h, err := parseHeader(p, role, deflate, maxFrame)
	if err != nil {
		return Frame{}, 0, err
	}
	return h.frame(p)
}

// parseHeader decodes the header at the start of p, refusing what breaks a
// rule as soon as the byte that tells arrives.
func parseHeader(p []byte, role Role, deflate bool, maxFrame int) (header, error) {
	var h header
	if len(p) < 1 {
		return h, ErrIncomplete
	}
	b0 := p[0]
	h.fin = b0&0x80 != 0
	h.rsv1 = b0&0x40 != 0
	h.op = Opcode(b0 & 0x0f)
	if b0&0x30 != 0 {
		return h, errRSV
	}
	switch h.op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, errOpcode
	}
	// RSV1 says "compressed", which only the first frame of a data message
	// may say (RFC 7692 §6.1).
	if h.rsv1 && (!deflate || h.op == OpContinuation || h.op.IsControl()) {
		return h, errRSV
	}
	if h.op.IsControl() && !h.fin {
		return h, errControlFrag
	}
	if len(p) < 2 {
		return h, ErrIncomplete
	}
	b1 := p[1]
	h.masked = b1&0x80 != 0
	switch {
	case role == Server && !h.masked:
		return h, errUnmasked
	case role == Client && h.masked:
		return h, errMasked
	}
	n := uint64(b1 & 0x7f)
	if h.op.IsControl() && n > MaxControlPayload {
		return h, errControlLen
	}
	// Lengths are taken in any encoding, minimal or not: the RFC asks
	// senders for the minimal one, but a longer one is not ambiguous.
	size := 2
	switch n {
	case 126:
		size = 4
		if len(p) < size {
			return h, ErrIncomplete
		}
		n = uint64(binary.BigEndian.Uint16(p[2:]))
	case 127:
		size = 10
		if len(p) < size {
			return h, ErrIncomplete
		}
		n = binary.BigEndian.Uint64(p[2:])
		if n>>63 != 0 {
			return h, errLength
		}
	}
	if n > uint64(maxFrame) {
		return h, errFrameTooBig
	}
	if h.masked {
		if len(p) < size+4 {
			return h, ErrIncomplete
		}
		copy(h.key[:], p[size:])
		size += 4
	}
	h.length, h.size = int(n), size
	return h, nil
}

// frame returns the frame h heads in p, its payload unmasked, and the
// frame's length.
func (h *header) frame(p []byte) (Frame, int, error) {
	end := h.size + h.length
	if len(p) < end {
		return Frame{}, 0, ErrIncomplete
	}
	payload := p[h.size:end:end]
	if h.masked {
		mask(payload, h.key)
	}
	if h.op == OpClose {
		if _, _, err := ParseClose(payload); err != nil {
			return Frame{}, 0, err
		}
	}
	return Frame{Fin: h.fin, RSV1: h.rsv1, Op: h.op, Payload: payload}, end, nil
}

// ParseClose returns the status code and reason of a close frame's payload
// (RFC 6455 §5.5.1): CloseNoStatus and no reason for an empty payload. A
// payload of one byte or an invalid code is a protocol error, a reason
// that is not UTF-8 an invalid payload (RFC 6455 §8.1). The reason aliases
// payload.
func ParseClose(payload []byte) (code uint16, reason []byte, err error) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, errCloseLen
	}
	code = binary.BigEndian.Uint16(payload)
	if !ValidCloseCode(code) {
		return 0, nil, errCloseCode
	}
	reason = payload[2:]
	if !utf8.Valid(reason) {
		return 0, nil, errCloseUTF8
	}
	return code, reason, nil
}

// mask XORs b with key, in place (RFC 6455 §5.3): eight bytes at a time,
// since a key repeated twice lines up with every eight bytes.
func mask(b []byte, key [4]byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// headerSize is the size of the header of a frame with an n-byte payload,
// in the minimal length encoding.
func headerSize(n int, masked bool) int {
	size := 2
	switch {
	case n > 0xffff:
		size = 10
	case n > 125:
		size = 4
	}
	if masked {
		size += 4
	}
	return size
}

// appendHeader appends the header of a frame with an n-byte payload, masked
// with key unless key is nil.
func appendHeader(dst []byte, fin, rsv1 bool, op Opcode, n int, key *[4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	var b1 byte
	if key != nil {
		b1 = 0x80
	}
	switch {
	case n > 0xffff:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	case n > 125:
		dst = append(dst, b0, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, b1|byte(n))
	}
	if key != nil {
		dst = append(dst, key[:]...)
	}
	return dst
}
