package ws

import "encoding/binary"

// testKey masks the frames tests build as a client.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// tf describes a frame for a test to build, valid or not.
type tf struct {
	fin      bool
	rsv      byte // bits 0x40 (RSV1), 0x20 (RSV2), 0x10 (RSV3)
	op       Opcode
	p        string
	unmasked bool // a client frame without its mask (masked is the default)
	lenForm  int  // 126 or 127 to force a longer length encoding; 0 for the minimal one
	rawLen   uint64
	useRaw   bool // announce rawLen instead of len(p)
}

// bytes builds the frame as the client sends it (masked unless unmasked).
func (f tf) bytes() []byte {
	b0 := byte(f.op) | f.rsv
	if f.fin {
		b0 |= 0x80
	}
	n := uint64(len(f.p))
	if f.useRaw {
		n = f.rawLen
	}
	var b1 byte
	if !f.unmasked {
		b1 = 0x80
	}
	out := []byte{b0}
	switch {
	case f.lenForm == 127 || f.lenForm == 0 && n > 0xffff:
		out = append(out, b1|127)
		out = binary.BigEndian.AppendUint64(out, n)
	case f.lenForm == 126 || f.lenForm == 0 && n > 125:
		out = append(out, b1|126, byte(n>>8), byte(n))
	default:
		out = append(out, b1|byte(n))
	}
	if f.unmasked {
		return append(out, f.p...)
	}
	out = append(out, testKey[:]...)
	start := len(out)
	out = append(out, f.p...)
	mask(out[start:], testKey)
	return out
}

// frames concatenates frames.
func frames(fs ...tf) []byte {
	var out []byte
	for _, f := range fs {
		out = append(out, f.bytes()...)
	}
	return out
}

func text(fin bool, p string) tf { return tf{fin: fin, op: OpText, p: p} }
func bin(fin bool, p string) tf  { return tf{fin: fin, op: OpBinary, p: p} }
func cont(fin bool, p string) tf { return tf{fin: fin, op: OpContinuation, p: p} }
func ping(p string) tf           { return tf{fin: true, op: OpPing, p: p} }
func closeFrame(code uint16, reason string) tf {
	p := binary.BigEndian.AppendUint16(nil, code)
	return tf{fin: true, op: OpClose, p: string(p) + reason}
}
