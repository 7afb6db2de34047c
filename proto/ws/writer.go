package ws

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"unicode/utf8"
)

// Writer frames what one connection sends, appending frames to the
// caller's buffer. It belongs to the connection and is used on its loop.
type Writer struct {
	role  Role
	flate *Flate        // the loop's; nil unless permessage-deflate was negotiated
	bits  int           // our compressor's window, in bits
	keys  *rand.ChaCha8 // masking keys, client role only
}

// minCompress is the size under which a message is sent uncompressed:
// deflating a few bytes rarely saves one and costs a compressor pass.
const minCompress = 64

// Init prepares w for a new connection of role with the permessage-deflate
// agreement d; f, the loop's Flate, is needed when d.On. A client's Writer
// gets its own generator of masking keys, seeded from crypto/rand: the
// keys must be unpredictable (RFC 6455 §5.3), and a syscall per frame is
// not needed for that.
func (w *Writer) Init(role Role, d Deflate, f *Flate) {
	keys := w.keys
	*w = Writer{role: role}
	if role == Client {
		if keys == nil {
			var seed [32]byte
			crand.Read(seed[:])
			keys = rand.NewChaCha8(seed)
		}
		w.keys = keys
	}
	if d.On {
		w.flate, w.bits = f, d.sendBits(role)
	}
}

// AppendMessage appends p as a whole message of type op (OpText or OpBinary)
// in one frame, compressed when permessage-deflate was negotiated and p has
// at least 64 bytes. Text must be UTF-8; the Writer does not check it.
func (w *Writer) AppendMessage(dst []byte, op Opcode, p []byte) []byte {
	if w.flate == nil || len(p) < minCompress {
		return w.appendFrame(dst, true, false, op, p)
	}
	masked := w.role == Client
	// The header is reserved for the largest size the compressed payload
	// can have (stored blocks: 5 bytes per 64 KiB, and the flush), so that
	// it is compressed in place behind it; when it turns out to need a
	// shorter header, it is moved back.
	hs := headerSize(len(p)+5*(len(p)/0xffff+1)+5, masked)
	start := len(dst)
	dst = append(dst, make([]byte, hs)...)
	body := len(dst)
	dst = w.flate.compress(dst, p, w.bits)
	n := len(dst) - body
	if need := headerSize(n, masked); need != hs {
		if need > hs {
			dst = append(dst, make([]byte, need-hs)...)
		}
		copy(dst[start+need:], dst[body:body+n])
		dst = dst[:start+need+n]
		hs = need
	}
	if masked {
		key := w.key()
		appendHeader(dst[:start], true, true, op, n, &key)
		mask(dst[start+hs:], key)
	} else {
		appendHeader(dst[:start], true, true, op, n, nil)
	}
	return dst
}

// AppendFrame appends one uncompressed frame, for a message sent in
// fragments: op is OpText or OpBinary on the first frame, OpContinuation on
// the others, and fin is set on the last.
func (w *Writer) AppendFrame(dst []byte, fin bool, op Opcode, p []byte) []byte {
	return w.appendFrame(dst, fin, false, op, p)
}

// AppendPing appends a ping. p must have at most MaxControlPayload bytes;
// more panics, so scripts' input must be checked first.
func (w *Writer) AppendPing(dst, p []byte) []byte {
	return w.appendControl(dst, OpPing, p)
}

// AppendPong appends a pong, p being the payload of the ping it answers
// (RFC 6455 §5.5.3). p must have at most MaxControlPayload bytes.
func (w *Writer) AppendPong(dst, p []byte) []byte {
	return w.appendControl(dst, OpPong, p)
}

// AppendClose appends a close frame with code and reason, or with an empty
// payload when code is CloseNoStatus. code must otherwise be one that
// ValidCloseCode accepts, and reason UTF-8: neither is checked. A reason
// over 123 bytes is cut, at a rune boundary, to fit in a control frame.
func (w *Writer) AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == CloseNoStatus {
		return w.appendFrame(dst, true, false, OpClose, nil)
	}
	if len(reason) > MaxControlPayload-2 {
		cut := MaxControlPayload - 2
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	var p [MaxControlPayload]byte
	binary.BigEndian.PutUint16(p[:], code)
	n := 2 + copy(p[2:], reason)
	return w.appendFrame(dst, true, false, OpClose, p[:n])
}

func (w *Writer) appendControl(dst []byte, op Opcode, p []byte) []byte {
	if len(p) > MaxControlPayload {
		panic("ws: control frame payload over 125 bytes")
	}
	return w.appendFrame(dst, true, false, op, p)
}

// appendFrame appends a frame with payload p, masked in the client role.
func (w *Writer) appendFrame(dst []byte, fin, rsv1 bool, op Opcode, p []byte) []byte {
	if w.role == Server {
		dst = appendHeader(dst, fin, rsv1, op, len(p), nil)
		return append(dst, p...)
	}
	key := w.key()
	dst = appendHeader(dst, fin, rsv1, op, len(p), &key)
	start := len(dst)
	dst = append(dst, p...)
	mask(dst[start:], key)
	return dst
}

func (w *Writer) key() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], uint32(w.keys.Uint64()))
	return k
}
