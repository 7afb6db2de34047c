package http2

import (
	"errors"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// appender is the HPACK encoder's output: the header block being built.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

var errStatus = errors.New("http2: status outside 100-999")

// StartHeaders begins a response head of stream id with status (1xx
// heads may come before the final one), or with status 0 its trailers.
// AddField adds the fields; SendHeaders sends the block. No other call on
// c may come in between.
func (c *Conn) StartHeaders(id uint32, status int) {
	c.block.b = c.block.b[:0]
	c.blockID, c.blockStatus = id, status
	if status >= 100 && status <= 999 {
		c.encodeStatus(status)
	}
}

// AddField adds a field to the block StartHeaders began. The name is sent
// lowercased; connection-specific fields (RFC 9113 §8.2.2) are left out.
// Names and values are the caller's to validate; they are not retained.
func (c *Conn) AddField(name, value []byte) {
	if len(name) == 0 {
		return
	}
	lower := c.lowerName(name)
	if connectionSpecific(lower) {
		return
	}
	c.encode(lower, value)
}

// encode adds one field to the block. The encoder indexes nothing (its
// table is empty), so it keeps neither string after the call: they may
// alias bytes that change.
func (c *Conn) encode(name, value []byte) {
	c.enc.WriteField(hpack.HeaderField{
		Name:  unsafe.String(unsafe.SliceData(name), len(name)),
		Value: unsafe.String(unsafe.SliceData(value), len(value)),
	})
}

func (c *Conn) encodeStatus(status int) {
	d := &c.statusDigits
	d[0], d[1], d[2] = byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10)
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: unsafe.String(&d[0], len(d))})
}

// SendHeaders sends the block StartHeaders began, in a HEADERS frame and
// as many CONTINUATION frames as the client's SETTINGS_MAX_FRAME_SIZE
// needs. With endStream the response ends with it (a head without a body,
// or trailers, which always end the stream). ErrStreamClosed: the stream
// is reset or its response has ended.
func (c *Conn) SendHeaders(endStream bool) error {
	s := c.streams[c.blockID]
	if s == nil {
		return ErrStreamClosed
	}
	if c.blockStatus != 0 && (c.blockStatus < 100 || c.blockStatus > 999) {
		return errStatus
	}
	endStream = endStream || c.blockStatus == 0
	c.writeBlock(s.id, endStream)
	if endStream {
		c.endStream(s)
	}
	return nil
}

// writeBlock queues the encoded block as HEADERS and CONTINUATION frames.
func (c *Conn) writeBlock(id uint32, endStream bool) {
	c.payload += int64(len(c.block.b))
	c.out = appendBlock(c.out, id, endStream, c.block.b, c.peerMaxFrame)
}

// appendBlock appends header block b of stream id as a HEADERS frame and
// as many CONTINUATION frames as the peer's largest frame needs.
func appendBlock(out []byte, id uint32, endStream bool, b []byte, maxFrame int) []byte {
	k := min(len(b), maxFrame)
	var fl Flags
	if endStream {
		fl |= FlagEndStream
	}
	if k == len(b) {
		fl |= FlagEndHeaders
	}
	out = AppendHeaders(out, id, fl, b[:k])
	for b = b[k:]; len(b) > 0; b = b[k:] {
		k = min(len(b), maxFrame)
		out = AppendContinuation(out, id, k == len(b), b[:k])
	}
	return out
}

// endStream closes s once its response has ended. A client still
// sending the request finishes it when the rest, by its content-length,
// fits in the window it has: the stream drains (what arrives is checked
// and dropped) and closes at END_STREAM. Any other is asked to stop
// (RFC 9113 §8.1). A response that ends earns back one reset of the
// budget.
func (c *Conn) endStream(s *stream) {
	c.resetBudget = min(c.resetBudget+1, c.lim.ResetBudget)
	if !s.remoteEnded {
		if s.length >= 0 && s.length-s.received <= s.recvWindow {
			s.draining = true
			c.credit(s.held)
			s.held = 0
			return
		}
		c.rst(s.id, ErrCodeNo)
	}
	c.release(s)
}

// Reset abandons stream id with RST_STREAM code (CANCEL, INTERNAL_ERROR,
// ...): the caller's own abort, of which no event is made.
func (c *Conn) Reset(id uint32, code ErrCode) {
	if s := c.streams[id]; s != nil {
		c.rst(id, code)
		c.release(s)
	}
}

// Shutdown begins a graceful shutdown (RFC 9113 §6.8): a GOAWAY that
// refuses nothing yet and a PING; once the client acknowledges the PING,
// all it sent before is here, and a GOAWAY with the last stream id
// follows: later streams are ignored, and the caller closes the
// connection once Idle.
func (c *Conn) Shutdown() {
	if c.err != nil || c.goAwaySent || c.shutdownPing {
		return
	}
	c.out = AppendGoAway(c.out, MaxWindow, ErrCodeNo, nil)
	c.out = AppendPing(c.out, false, shutdownData)
	c.shutdownPing = true
}

// GoAway sends a final GOAWAY with code: the streams the client opened so
// far go on, later ones are ignored. With NO_ERROR the caller closes the
// connection once Idle; with an error code (a timeout: ENHANCE_YOUR_CALM
// or NO_ERROR as it sees fit) once the output is written.
func (c *Conn) GoAway(code ErrCode) {
	if c.err != nil || c.goAwaySent && code == ErrCodeNo {
		return
	}
	if !c.goAwaySent {
		c.goAwayID = c.lastID
	}
	c.out = AppendGoAway(c.out, c.goAwayID, code, nil)
	c.goAwaySent = true
	c.shutdownPing = false
}
