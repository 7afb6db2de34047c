package http2

import (
	"github.com/luaedge/luaedge/proto/httpchar"
	"golang.org/x/net/http2/hpack"
)

// headerBlock is the header block being received: a HEADERS frame and its
// CONTINUATIONs. Its fragments go to the HPACK decoder as they arrive, so
// nothing but the decoded fields is kept, and those only up to the limits.
type headerBlock struct {
	active    bool
	id        uint32
	s         *stream // the stream whose trailers these are; nil for a request
	endStream bool
	frames    int
	bytes     int // encoded
	start     int // of its fields in Conn.fields
	// decode only: the block is refused with RST_STREAM code after it
	// ends (code 0 and ignore: ignored, past our GOAWAY).
	code   ErrCode
	ignore bool
	// The decoded list so far: its size (RFC 9113 §6.5.2) and fields;
	// tooLarge once past a limit, bad once a field makes it malformed.
	size, count   int
	tooLarge, bad bool
	// Request checks (RFC 9113 §8.3.1).
	pseudo        uint8 // pseudo-header fields seen
	regular       bool  // a regular field was seen
	method        string
	protocol      string
	scheme        string
	authority     string
	path          string
	host          string
	contentLength int64
}

// Pseudo-header fields of a request.
const (
	pseudoMethod uint8 = 1 << iota
	pseudoScheme
	pseudoAuthority
	pseudoPath
	pseudoProtocol // RFC 8441's :protocol
	pseudoHost     // not pseudo: the host field, which may appear once
)

// decoding reports whether decoded fields are still wanted.
func (hb *headerBlock) decoding() bool {
	return !hb.ignore && hb.code == 0 && !hb.tooLarge && !hb.bad
}

// headers begins a header block: a request, trailers, or one to decode
// and refuse.
func (c *Conn) headers(f *Frame) error {
	id := f.StreamID
	if id%2 == 0 {
		return errEvenStream
	}
	end := f.Flags.Has(FlagEndStream)
	c.hb = headerBlock{active: true, id: id, endStream: end, start: len(c.fields), contentLength: -1}
	hb := &c.hb
	s := c.streams[id]
	switch {
	case s != nil && s.remoteEnded:
		hb.code = ErrCodeStreamClosed // RFC 9113 §5.1, half-closed (remote)
	case s != nil && !end:
		hb.code = ErrCodeProtocol // trailers must end the stream (RFC 9113 §8.1)
	case s != nil:
		hb.s = s
	case c.ignored(id):
		hb.ignore = true
		c.lastID = max(c.lastID, id)
	case id <= c.lastID && c.wasReset(id):
		hb.ignore = true // trailers that crossed our reset
	case id <= c.lastID:
		return errClosedHeaders
	default:
		c.lastID = id
		switch {
		case f.Flags.Has(FlagPriority) && f.Priority.StreamDep == id:
			hb.code = ErrCodeProtocol // RFC 9113 §5.3.1
		case c.active >= c.lim.MaxConcurrentStreams:
			hb.code = ErrCodeRefusedStream
		}
	}
	c.dec.SetEmitEnabled(hb.decoding())
	return c.fragment(f.Data, f.Flags.Has(FlagEndHeaders))
}

// fragment decodes one fragment of the header block; the last ends it.
func (c *Conn) fragment(p []byte, last bool) error {
	hb := &c.hb
	done, err := decodeFragment(c.dec, &c.lim, &hb.frames, &hb.bytes, p, last)
	if !done || err != nil {
		return err
	}
	hb.active = false
	return c.endBlock()
}

// decodeFragment feeds one fragment of a header block (either side's) to
// dec, counting it against the limits on a block's frames and bytes;
// done once the last has been decoded.
func decodeFragment(dec *hpack.Decoder, lim *Limits, frames, bytes *int, p []byte, last bool) (done bool, err error) {
	*frames++
	*bytes += len(p)
	if *frames > lim.MaxHeaderFrames {
		return false, errHeaderFrames
	}
	if *bytes > lim.MaxHeaderBlock {
		return false, errHeaderBlock
	}
	if _, err := dec.Write(p); err != nil {
		return false, hpackError(err)
	}
	if !last {
		return false, nil
	}
	if err := dec.Close(); err != nil {
		return false, hpackError(err)
	}
	return true, nil
}

func hpackError(err error) error {
	if err == hpack.ErrStringLength {
		return errFieldSize
	}
	return errCompression
}

// onField receives each field the decoder emits while it is enabled.
func (c *Conn) onField(f hpack.HeaderField) {
	hb := &c.hb
	hb.size += len(f.Name) + len(f.Value) + 32
	hb.count++
	switch {
	case hb.size > c.lim.MaxHeaderListSize || hb.count > c.lim.MaxHeaderFields:
		hb.tooLarge = true
	case !hb.checkField(f.Name, f.Value):
		hb.bad = true
	case f.Name[0] != ':':
		c.fields = append(c.fields, Field{f.Name, f.Value})
	}
	if !hb.decoding() {
		// The rest of the block is decoded to keep the HPACK state, not
		// kept: the decoder makes no strings for fields it does not
		// index.
		c.dec.SetEmitEnabled(false)
	}
}

// checkField checks a field against RFC 9113 §8.2 and, for a request,
// §8.3.1, and notes the pseudo-header fields and the fields that frame
// the request.
func (hb *headerBlock) checkField(name, value string) bool {
	if !validValue(value) {
		return false
	}
	if name != "" && name[0] == ':' {
		if hb.s != nil || hb.regular {
			return false // pseudo-header fields only lead a request
		}
		var bit uint8
		switch name {
		case ":method":
			bit, hb.method = pseudoMethod, value
		case ":scheme":
			bit, hb.scheme = pseudoScheme, value
		case ":authority":
			bit, hb.authority = pseudoAuthority, value
		case ":path":
			bit, hb.path = pseudoPath, value
		case ":protocol":
			bit, hb.protocol = pseudoProtocol, value
		default:
			return false // unknown, or a response's
		}
		if hb.pseudo&bit != 0 {
			return false
		}
		hb.pseudo |= bit
		return true
	}
	hb.regular = true
	if !validName(name) {
		return false
	}
	if hb.s != nil {
		return true // trailers: the caller decides what they may say
	}
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return false // connection-specific (RFC 9113 §8.2.2)
	case "te":
		return value == "trailers"
	case "host":
		if hb.pseudo&pseudoHost != 0 {
			return false
		}
		hb.pseudo |= pseudoHost
		hb.host = value
	case "content-length":
		n, ok := parseLength(value)
		if !ok || hb.contentLength >= 0 && n != hb.contentLength {
			return false
		}
		hb.contentLength = n
	}
	return true
}

// parseLength parses a content-length: digits only, at most 18 of them.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// endBlock acts on a complete header block.
func (c *Conn) endBlock() error {
	hb := &c.hb
	switch {
	case hb.ignore:
		return nil
	case hb.code == ErrCodeRefusedStream:
		c.rst(hb.id, hb.code)
		return nil // a client may open streams before it sees our SETTINGS
	case hb.code != 0:
		return c.streamError(hb.id, hb.code)
	case hb.tooLarge && hb.s != nil:
		return c.streamError(hb.id, ErrCodeEnhanceYourCalm)
	case hb.tooLarge:
		c.refuseTooLarge(hb.id, hb.endStream)
		return nil
	case hb.bad || hb.s == nil && !hb.validRequest(c.lim.ExtendedConnect):
		return c.streamError(hb.id, ErrCodeProtocol)
	}
	c.payload += int64(hb.bytes)
	fields := c.fields[hb.start:len(c.fields):len(c.fields)]
	if s := hb.s; s != nil {
		s.remoteEnded = true
		if s.length >= 0 && s.received != s.length {
			return c.streamError(s.id, ErrCodeProtocol)
		}
		if s.draining {
			c.release(s)
			return nil
		}
		c.events = append(c.events, Event{Kind: EventTrailers, Stream: s.id, Fields: fields, End: true, s: s})
		return nil
	}
	s := c.newStream(hb.id)
	s.length = hb.contentLength
	s.remoteEnded = hb.endStream
	c.events = append(c.events, Event{
		Kind: EventRequest, Stream: s.id,
		Method: hb.method, Scheme: hb.scheme, Authority: hb.authority, Path: hb.path, Protocol: hb.protocol,
		ContentLength: hb.contentLength, Fields: fields, End: hb.endStream, s: s,
	})
	return nil
}

// validRequest checks the pseudo-header fields of a request (RFC 9113
// §8.3.1; RFC 8441 §4 for an extended CONNECT, when extended allows it)
// and fills in its authority from host.
func (hb *headerBlock) validRequest(extended bool) bool {
	if hb.pseudo&pseudoMethod == 0 || !validToken(hb.method) {
		return false
	}
	if hb.pseudo&(pseudoAuthority|pseudoHost) == pseudoAuthority|pseudoHost && !asciiEqualFold(hb.authority, hb.host) {
		return false // RFC 9113 §8.3.1: they must name the same server
	}
	if hb.pseudo&pseudoAuthority == 0 {
		hb.authority = hb.host
	}
	if !inClass(hb.authority, &httpchar.Host) {
		return false
	}
	if hb.pseudo&pseudoProtocol != 0 {
		// RFC 8441 §4: CONNECT only, with the other pseudo-header fields.
		if !extended || hb.method != "CONNECT" || !validToken(hb.protocol) || hb.pseudo&pseudoAuthority == 0 {
			return false
		}
	} else if hb.method == "CONNECT" {
		// RFC 9113 §8.5: :authority only.
		return hb.pseudo&(pseudoScheme|pseudoPath) == 0 && hb.pseudo&pseudoAuthority != 0 && hb.authority != ""
	}
	if hb.pseudo&(pseudoScheme|pseudoPath) != pseudoScheme|pseudoPath || !validToken(hb.scheme) {
		return false
	}
	if hb.path == "" || hb.path[0] != '/' && (hb.path != "*" || hb.method != "OPTIONS") || !inClass(hb.path, &pathTab) {
		return false
	}
	if hb.endStream && hb.contentLength > 0 {
		return false // no DATA can follow to match it (RFC 9113 §8.1.1)
	}
	return true
}

// refuseTooLarge answers a request whose header block is past the limits
// with 431, and asks the client to stop sending its body (RFC 9113 §8.1).
func (c *Conn) refuseTooLarge(id uint32, ended bool) {
	c.block.b = c.block.b[:0]
	c.encodeStatus(431)
	c.writeBlock(id, true)
	if !ended {
		c.rst(id, ErrCodeNo)
	}
}

// Character classes beyond httpchar's, as tables because they sit in the
// innermost loops.
var (
	nameTab [256]bool // tchar without uppercase: an HTTP/2 field name's
	pathTab [256]bool // visible ASCII: what HTTP/1 accepts in a request-target
)

func init() {
	nameTab = httpchar.Token
	for c := 'A'; c <= 'Z'; c++ {
		nameTab[c] = false
	}
	for c := 0x21; c < 0x7f; c++ {
		pathTab[c] = true
	}
}

// validName reports a regular field name: lowercase tchar (RFC 9113
// §8.2.1).
func validName(s string) bool { return s != "" && inClass(s, &nameTab) }

func validToken(s string) bool { return s != "" && inClass(s, &httpchar.Token) }

// inClass reports whether every byte of s is in class.
func inClass(s string, class *[256]bool) bool {
	for i := 0; i < len(s); i++ {
		if !class[s[i]] {
			return false
		}
	}
	return true
}

// validValue reports a field value without control characters other than
// HTAB (RFC 9113 §8.2.1 forbids NUL, CR and LF; the others are refused as
// HTTP/1 refuses them, since a request may be forwarded over HTTP/1) and
// without leading or trailing whitespace.
func validValue(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpchar.Value[s[i]] {
			return false
		}
	}
	return true
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
