package ws

import "encoding/binary"

// Cursor follows the frame boundaries of one direction of a WebSocket
// relayed untouched (a tunnel): it reads the header of each frame that
// goes by and skips its payload, without copying, unmasking or checking
// it. A proxy that must put a frame of its own between the peer's (a
// close frame when it stops) waits for a boundary. Its zero value is at
// the start of a stream. It belongs to the tunnel and is used on its
// loop.
type Cursor struct {
	head  [14]byte // the first bytes of a header cut by a read
	nhead int
	left  uint64 // payload bytes of the frame going by still to come
}

// AtBoundary reports whether the bytes that went by end with a whole
// frame.
func (c *Cursor) AtBoundary() bool { return c.nhead == 0 && c.left == 0 }

// Skip follows p, the next bytes of the stream; it returns how many close
// frames began in p.
func (c *Cursor) Skip(p []byte) (closes int) {
	for len(p) > 0 {
		n, closed := c.step(p)
		if closed {
			closes++
		}
		p = p[n:]
	}
	return closes
}

// Finish follows the bytes at the start of p that complete the frame
// going by, and returns how many there are: 0 at a boundary, len(p) when
// the frame goes on past p.
func (c *Cursor) Finish(p []byte) int {
	n := 0
	for n < len(p) && !c.AtBoundary() {
		k, _ := c.step(p[n:])
		n += k
	}
	return n
}

// step takes bytes of the frame going by, or of the next frame's header,
// from p (not empty); closed reports that a close frame's header ended.
func (c *Cursor) step(p []byte) (n int, closed bool) {
	if c.left > 0 {
		k := uint64(len(p))
		if k > c.left {
			k = c.left
		}
		c.left -= k
		return int(k), false
	}
	// A header: gather it until its length is known, then whole.
	for n < len(p) {
		c.head[c.nhead] = p[n]
		c.nhead++
		n++
		if c.nhead >= 2 && c.nhead == frameHeaderSize(c.head[1]) {
			c.left = headerLength(c.head[:c.nhead])
			closed = Opcode(c.head[0]&0x0f) == OpClose
			c.nhead = 0
			return n, closed
		}
	}
	return n, false
}

// frameHeaderSize is the size of a header whose second byte is b1.
func frameHeaderSize(b1 byte) int {
	size := 2
	switch b1 & 0x7f {
	case 126:
		size = 4
	case 127:
		size = 10
	}
	if b1&0x80 != 0 {
		size += 4
	}
	return size
}

// headerLength is the payload length a whole header gives.
func headerLength(h []byte) uint64 {
	switch h[1] & 0x7f {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		return binary.BigEndian.Uint64(h[2:])
	default:
		return uint64(h[1] & 0x7f)
	}
}
