package http2

// Flow control (RFC 9113 §5.2, §6.9). Inbound, the client may send what
// we granted: the windows shrink with each DATA frame and grow again only
// as the caller consumes the bytes (Consumed), by WINDOW_UPDATE once half
// a window is due, so a script or backend that reads slowly slows the
// client instead of filling memory. Outbound, WriteData sends what the
// client's windows allow and reports the rest.

// data takes a DATA frame.
func (c *Conn) data(f *Frame) error {
	id, l := f.StreamID, int64(f.Length)
	end := f.Flags.Has(FlagEndStream)
	if l > c.recvWindow {
		return errConnFlow
	}
	c.recvWindow -= l
	s := c.streams[id]
	if s == nil {
		c.credit(l)
		switch {
		case c.ignored(id), c.wasReset(id):
		case c.idle(id):
			return errIdleStream
		default:
			// Closed: perhaps by a reset of ours this frame crossed, so it
			// costs the client nothing from its budget.
			c.rst(id, ErrCodeStreamClosed)
		}
		return nil
	}
	var code ErrCode
	d := int64(len(f.Data))
	switch {
	case s.remoteEnded:
		code = ErrCodeStreamClosed
	case l > s.recvWindow:
		code = ErrCodeFlowControl
	case s.length >= 0 && (s.received+d > s.length || end && s.received+d != s.length):
		code = ErrCodeProtocol // RFC 9113 §8.1.1
	}
	if code != 0 {
		c.credit(l)
		return c.streamError(id, code)
	}
	s.recvWindow -= l
	s.received += d
	s.remoteEnded = end
	if s.draining {
		c.credit(l) // the caller is done with the stream: nothing is held
		if end {
			c.release(s)
		}
		return nil
	}
	s.held += d
	c.payload += d
	c.consumed(id, &s.streamFlow, l-d, s.remoteEnded) // the padding
	if d > 0 || end {
		c.events = append(c.events, Event{Kind: EventData, Stream: id, Data: f.Data, End: end, s: s})
	}
	return nil
}

// Consumed gives back the flow-control credit of n body bytes of stream
// id that the caller has used (or dropped). Credit for a stream that is
// closed was given back when it closed.
func (c *Conn) Consumed(id uint32, n int) {
	if s := c.streams[id]; s != nil && n > 0 {
		c.giveBack(id, &s.streamFlow, n, s.remoteEnded)
	}
}

// windowUpdate takes the client's WINDOW_UPDATE.
func (c *Conn) windowUpdate(f *Frame) error {
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
		if c.idle(id) && !c.ignored(id) {
			return errIdleStream
		}
		return nil // closed: it may have crossed our END_STREAM or reset
	}
	s.sendWindow += incr
	if s.sendWindow > MaxWindow {
		return c.streamError(id, ErrCodeFlowControl)
	}
	c.reportWindow(s)
	return nil
}

// windowOpened reports the streams waiting for credit that have some now.
func (c *Conn) windowOpened() {
	if c.sendWindow <= 0 {
		return
	}
	for _, s := range c.streams {
		c.reportWindow(s)
	}
}

func (c *Conn) reportWindow(s *stream) {
	if c.windowReopened(&s.streamFlow) {
		c.events = append(c.events, Event{Kind: EventWindow, Stream: s.id, s: s})
	}
}

// Window returns how many body bytes stream id may send now: the least of
// its window and the connection's. A stream left at 0 is stalled by its
// client; the caller times it.
func (c *Conn) Window(id uint32) int {
	s := c.streams[id]
	if s == nil {
		return 0
	}
	return int(max(0, min(c.sendWindow, s.sendWindow)))
}

// WriteData queues DATA frames carrying as much of p as the windows allow,
// in frames of at most the client's SETTINGS_MAX_FRAME_SIZE, and returns
// how much it sent. With end, once all of p is sent, the last frame ends
// the stream (an empty p sends an empty frame, which needs no credit).
// When it sends less than p, the caller keeps the rest and tries again
// after EventWindow for the stream. ErrStreamClosed: the stream is reset
// or its response has ended.
func (c *Conn) WriteData(id uint32, p []byte, end bool) (int, error) {
	s := c.streams[id]
	if s == nil {
		return 0, ErrStreamClosed
	}
	if len(p) == 0 && !end {
		return 0, nil
	}
	n, _ := writeData(&c.out, id, p, end, c.peerMaxFrame, &c.sendWindow, &s.sendWindow)
	c.payload += int64(n)
	if n < len(p) {
		s.wantWindow = true
	} else if end {
		c.endStream(s)
	}
	return n, nil
}

// writeData appends DATA frames of stream id carrying as much of p as
// the connection and stream windows allow, in frames of at most
// maxFrame, and takes what it sent from both windows. With end, once all
// of p is out, the last frame ends the stream (an empty p sends an empty
// frame, which needs no credit): ended reports it.
func writeData(out *[]byte, id uint32, p []byte, end bool, maxFrame int, connWindow, streamWindow *int64) (n int, ended bool) {
	for {
		k := int(max(0, min(int64(len(p)-n), int64(maxFrame), *connWindow, *streamWindow)))
		rest := len(p) - n - k
		if k == 0 && rest > 0 {
			return n, false
		}
		*out = AppendData(*out, id, end && rest == 0, p[n:n+k])
		*connWindow -= int64(k)
		*streamWindow -= int64(k)
		n += k
		if rest == 0 {
			return n, end
		}
	}
}
