package stream

import (
	"bytes"
	"strconv"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
)

// Head is a response head the stream validated, for the protocol to frame.
// It is valid during SendHead only (its slices alias the C stream).
type Head struct {
	Status int
	Reason []byte
	// Length is the content-length; -1 when the head has none (the
	// protocol frames the body itself: chunks, DATA frames, or the close).
	Length int64
	// NoBody: HEAD, 1xx, 204 or 304; no body bytes follow.
	NoBody bool
	// Close: the script asked for "connection: close".
	Close bool
	// HasDate, HasServer: the script set them; the protocol adds its own
	// otherwise.
	HasDate, HasServer bool
	// Service: a Lua service's own answer, which HTTP/1 sends in the
	// request's version (as HAProxy does); every other answer is HTTP/1.1
	// (RFC 9110 §6.2).
	Service bool
	// Upgrade: a server's 101 to a WebSocket upgrade; the protocol adds
	// the Connection and Upgrade fields, and a tunnel follows.
	Upgrade bool

	s *cgo.Stream
	// Compression (compress.go): coded, the body is compressed: the
	// fields of the identity's length and ranges are not sent, a strong
	// ETag goes weak (in etag, this loop's scratch). extra are fields
	// added after the response's own.
	coded  bool
	etag   []byte
	extra  [2][2][]byte
	nextra int
}

// NumFields is how many fields Field may return.
func (h *Head) NumFields() int { return h.s.NumRFields() + h.nextra }

// Field returns field i; ok is false for fields the protocol must not
// send (deleted by a script, or the framing and persistence fields that
// are the server's to decide).
func (h *Head) Field(i int) (name, value []byte, ok bool) {
	if n := h.s.NumRFields(); i >= n {
		f := &h.extra[i-n]
		return f[0], f[1], true
	}
	name, value = h.s.RField(i)
	if len(name) == 0 || skipField(name, h.Status) {
		return nil, nil, false
	}
	if h.coded {
		switch {
		case http1.EqualFold(name, "content-length"), http1.EqualFold(name, "accept-ranges"):
			return nil, nil, false
		case http1.EqualFold(name, "etag") && !bytes.HasPrefix(value, []byte("W/")):
			h.etag = append(append(h.etag[:0], "W/"...), value...)
			return name, h.etag, true
		}
	}
	return name, value, true
}

// addField adds a field after the response's own; name and value stay
// valid while the head is.
func (h *Head) addField(name, value []byte) {
	h.extra[h.nextra] = [2][]byte{name, value}
	h.nextra++
}

// skipField reports whether a field is the server's to write.
func skipField(name []byte, status int) bool {
	switch {
	case http1.EqualFold(name, "content-length"):
		return status < 200 || status == 204 // these carry no length (RFC 9110 section 8.6)
	case http1.EqualFold(name, "transfer-encoding"), http1.EqualFold(name, "connection"):
		return true
	}
	return false
}

// head validates the script's status and fields into h. It returns false
// (and logs) when a field is invalid: the response cannot be sent.
func (st *Stream) head(h *Head) bool {
	s := st.th.S
	*h = Head{Status: s.Status(), Reason: s.Reason(), Length: -1, s: s, etag: h.etag}
	if h.Status == 0 {
		h.Status = 200
	}
	for i, n := 0, s.NumRFields(); i < n; i++ {
		name, value := s.RField(i)
		if len(name) == 0 {
			continue
		}
		if !http1.ValidHeaderName(name) || !http1.ValidHeaderValue(value) {
			st.env.Log.Error("Lua script sent an invalid header", "frontend", st.fe.name(), "name", string(name))
			return false
		}
		if skipField(name, h.Status) {
			if http1.EqualFold(name, "connection") && http1.EqualFold(value, "close") {
				h.Close = true
			}
			continue
		}
		switch {
		case http1.EqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				st.env.Log.Error("Lua script sent an invalid content-length", "frontend", st.fe.name(), "value", string(value))
				return false
			}
			h.Length = n
		case http1.EqualFold(name, "date"):
			h.HasDate = true
		case http1.EqualFold(name, "server"):
			h.HasServer = true
		}
	}
	h.NoBody = st.isHead || h.Status < 200 || h.Status == 204 || h.Status == 304
	return true
}

// Trailers are the response's trailer fields, for the protocol to send.
// They are valid during SendTrailers only (their slices alias the C
// stream).
type Trailers struct {
	s    *cgo.Stream    // a script's trailers; or
	list []http1.Header // a server's
}

// NumFields is how many fields Field may return.
func (t *Trailers) NumFields() int {
	if t.s == nil {
		return len(t.list)
	}
	return t.s.NumRTrailers()
}

// Field returns trailer field i; ok is false for a field that may not be
// a trailer (framing, routing, authentication and content fields, RFC 9110
// section 6.5.1) or is not valid.
func (t *Trailers) Field(i int) (name, value []byte, ok bool) {
	if t.s == nil {
		name, value = t.list[i].Name, t.list[i].Value
	} else {
		name, value = t.s.RTrailer(i)
	}
	if len(name) == 0 || !http1.ValidHeaderName(name) || !http1.ValidHeaderValue(value) {
		return nil, nil, false
	}
	for _, no := range notTrailers {
		if http1.EqualFold(name, no) {
			return nil, nil, false
		}
	}
	return name, value, true
}

// notTrailers are fields a sender must not put in trailers.
var notTrailers = []string{"content-length", "transfer-encoding", "host", "connection", "te", "trailer", "content-type", "content-encoding", "content-range", "authorization", "set-cookie", "cache-control", "expires", "date", "location", "retry-after", "vary", "warning"}

// sendTrailers hands the script's response trailers to the protocol.
func (st *Stream) sendTrailers() {
	t := &st.env.trailers
	*t = Trailers{s: st.th.S}
	st.down.SendTrailers(t)
}

// sendHead validates the response head and hands it to the protocol.
func (st *Stream) sendHead() bool {
	h := &st.env.head // not on the stack: handing it to the protocol would allocate
	if !st.head(h) {
		return false
	}
	st.respLeft = h.Length
	st.noBody = h.NoBody
	st.chooseCoding(h)
	st.headSent = true
	st.logHead(h.Status, st.fwd.up != nil)
	st.th.S.SetFlag(cgo.FlagHeadSent)
	// A rule's answer (return, redirect, deny, txn:done) has its
	// termination state set; a service's has none.
	h.Service = st.fwd.up == nil && st.th.S.Term() == ""
	st.down.SendHead(h)
	return true
}
