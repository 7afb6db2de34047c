package ws

import "unicode/utf8"

// Reader reads one connection's messages from its inbound bytes, frame by
// frame. It belongs to the connection and is used on its loop. It keeps no
// inbound bytes: only the state of the message going on, the compressed
// frames of a compressed message until its last one, and, when the peer
// keeps its compression context, the peer's window.
type Reader struct {
	role       Role
	maxFrame   int
	maxMessage int
	flate      *Flate // the loop's; nil unless permessage-deflate was negotiated
	window     int    // bytes of the peer's window kept between messages; 0 when it keeps no context

	// The message going on.
	op         Opcode // OpText or OpBinary; 0 between messages
	compressed bool
	size       int // its bytes so far, as received
	text       utf8State

	gathered []byte // the compressed frames of the message going on, when it has more than one
	history  []byte // the last inflated bytes, when the peer keeps its context

	need int // the length of the frame Next last found incomplete; 0: none
}

// Event is what a frame meant.
type Event struct {
	// Op is OpText or OpBinary when the frame ended a message (the message
	// is what Next appended to the caller's buffer); OpPing, OpPong or
	// OpClose for a control frame; OpContinuation when the frame was part
	// of a message still going on.
	Op Opcode
	// Payload is a ping's or pong's payload, or a close frame's reason,
	// unmasked, aliasing the input given to Next.
	Payload []byte
	// Code is a close frame's status code: CloseNoStatus when it had none.
	Code uint16
}

// Init prepares r for a new connection of role with limits lim and the
// permessage-deflate agreement d; f, the loop's Flate, is needed when d.On.
// Buffers r holds are kept.
func (r *Reader) Init(role Role, lim Limits, d Deflate, f *Flate) {
	maxFrame, maxMessage := lim.values()
	*r = Reader{role: role, maxFrame: maxFrame, maxMessage: maxMessage,
		gathered: r.gathered[:0], history: r.history[:0]}
	if d.On {
		r.flate = f
		r.window = d.peerWindow(role)
	}
}

// Next reads the frame at the start of in and returns what it meant and the
// bytes of in it used, ErrIncomplete when the frame is not complete, or an
// *Error: then the connection must be closed with its code.
//
// A data frame's payload is appended to *msg, the caller's buffer for the
// message going on: this is the only copy of a message's bytes (inflated
// straight into *msg when compressed). When Next returns OpText or
// OpBinary, *msg holds the message; the caller empties it before the next
// message. Control frames may come between the frames of a message
// (RFC 6455 §5.4); they do not touch *msg.
//
// Rules that a frame's header breaks are checked before its payload
// arrives, so a frame that is too large is refused before it is buffered.
// Text is checked as UTF-8 frame by frame: the frame that breaks it is
// refused, even when its message has more frames to come. A compressed
// message is inflated, and its text checked, when its last frame arrives.
// Like ParseFrame, Next unmasks the frame in place: the caller must
// consume the bytes it used. After a close frame the peer sends nothing
// more (RFC 6455 §5.5.1): the caller answers it and stops reading. After
// an error, r must not be used again before Init.
func (r *Reader) Next(in []byte, msg *[]byte) (Event, int, error) {
	h, err := parseHeader(in, r.role, r.flate != nil, r.maxFrame)
	if err != nil {
		return Event{}, 0, err
	}
	if !h.op.IsControl() {
		if err := r.admit(&h); err != nil {
			return Event{}, 0, err
		}
	}
	f, n, err := h.frame(in)
	if err == ErrIncomplete {
		r.need = h.size + h.length
	}
	if err != nil {
		return Event{}, 0, err
	}
	r.need = 0
	if f.Op.IsControl() {
		ev := Event{Op: f.Op, Payload: f.Payload}
		if f.Op == OpClose {
			ev.Code, ev.Payload, _ = ParseClose(f.Payload) // checked by frame
		}
		return ev, n, nil
	}
	if err := r.data(&f, msg); err != nil {
		return Event{}, 0, err
	}
	if !f.Fin {
		return Event{Op: OpContinuation}, n, nil
	}
	op := r.op
	r.op = 0
	return Event{Op: op}, n, nil
}

// Need is how many bytes of input the frame that Next last found
// incomplete takes (0: none, or its header was not complete). A caller
// with fewer bytes buffered need not call Next again: a large frame is
// then looked at once its last byte is in, not at every read, which would
// cost a copy of what is buffered each time.
func (r *Reader) Need() int { return r.need }

// admit checks a data frame's header against the message going on
// (RFC 6455 §5.4) and the message limit.
func (r *Reader) admit(h *header) error {
	size := h.length
	if h.op == OpContinuation {
		if r.op == 0 {
			return errNoMessage
		}
		size += r.size
	} else if r.op != 0 {
		return errMidMessage
	}
	if size > r.maxMessage {
		return errMessageTooBig
	}
	return nil
}

// data takes a data frame's payload.
func (r *Reader) data(f *Frame, msg *[]byte) error {
	if f.Op != OpContinuation {
		r.op, r.compressed, r.size, r.text = f.Op, f.RSV1, 0, utf8State{}
	}
	r.size += len(f.Payload)
	if r.compressed {
		return r.inflate(f, msg)
	}
	if r.op == OpText && (!r.text.valid(f.Payload) || f.Fin && !r.text.complete()) {
		return errTextUTF8
	}
	*msg = append(*msg, f.Payload...)
	return nil
}

// gatheredKept bounds the buffer of compressed frames a connection keeps
// between messages, so that an idle connection does not hold a large one.
const gatheredKept = 64 << 10

// inflate takes a frame of a compressed message: a message of one frame is
// inflated from the input; the frames of a longer one are gathered until
// its last, since a decompressor cannot stop halfway through its input and
// resume without a goroutine.
func (r *Reader) inflate(f *Frame, msg *[]byte) error {
	p := f.Payload
	if !f.Fin || len(r.gathered) > 0 {
		r.gathered = append(r.gathered, p...)
		if !f.Fin {
			return nil
		}
		p = r.gathered
	}
	dict := r.history
	if len(dict) > r.window {
		dict = dict[len(dict)-r.window:]
	}
	start := len(*msg)
	out, err := r.flate.inflate(*msg, p, dict, r.maxMessage)
	*msg = out
	if cap(r.gathered) > gatheredKept {
		r.gathered = nil
	}
	r.gathered = r.gathered[:0]
	if err != nil {
		return err
	}
	if r.op == OpText && !utf8.Valid(out[start:]) {
		return errTextUTF8
	}
	if r.window > 0 {
		r.history = slideWindow(r.history, out[start:], r.window)
	}
	return nil
}
