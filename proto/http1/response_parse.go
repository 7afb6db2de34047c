package http1

// The proxy side: parsing the head of what a backend server answers, and
// writing the request line sent to it.

// Response is the parsed head of one response, as read from a backend
// server. All byte slices alias the buffer given to Parse and are valid until
// that buffer changes. Parse resets every field, keeping the capacity of
// Headers, so one Response should be reused per connection.
type Response struct {
	// Major and Minor are the protocol version: 1.1 or 1.0.
	Major, Minor int
	// Status is the status code, 100..999.
	Status int
	// Reason is the reason-phrase exactly as sent. It may be empty (never nil
	// after a successful Parse) and carries no meaning (RFC 9112 §4).
	Reason []byte
	// Headers are the header fields in the order received, names as sent.
	Headers []Header
	// ContentLength is the Content-Length, or -1 when there is no such
	// header. It is 0 for a response that has no body whatever its fields
	// say (see Parse).
	ContentLength int64
	// Chunked reports Transfer-Encoding with chunked as the final coding. It
	// is false for a response that has no body.
	Chunked bool
	// KeepAlive reports whether the server keeps the connection after this
	// response: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive" (and no "close"). It is false whenever the
	// body ends with the connection (BodyClose).
	KeepAlive bool
	// HeadLen is the length of the head including any skipped leading empty
	// lines and the empty line ending it: the bytes the caller must consume.
	HeadLen int
}

// BodyMode says how the body of a response ends.
type BodyMode int

const (
	// BodyNone: the response ends with its head. This is so for 1xx, 204
	// and 304 responses, for responses to HEAD, for 2xx responses to CONNECT
	// (after which the connection is a tunnel) and for "Content-Length: 0".
	BodyNone BodyMode = iota
	// BodyLength: ContentLength bytes of body follow the head.
	BodyLength
	// BodyChunked: a chunked body follows the head (see ChunkedDecoder).
	BodyChunked
	// BodyClose: the body runs until the server closes the connection
	// (RFC 9112 §6.3): neither Content-Length nor chunked, for a status
	// that has a body.
	BodyClose
)

// Errors for malformed responses. Every one has status 502: the proxy
// answers its client 502 Bad Gateway and closes the backend connection,
// whose framing is unknown from then on.
var (
	errRespLineTooLong   = &Error{502, "http1: response status line too long"}
	errRespHeadTooLarge  = &Error{502, "http1: response head too large"}
	errRespTooManyFields = &Error{502, "http1: too many response header fields"}
	errRespBareCR        = &Error{502, "http1: bare CR in response"}
	errRespVersion       = &Error{502, "http1: malformed response HTTP version"}
	errRespVersionNotSup = &Error{502, "http1: response HTTP version not supported"}
	errRespStatus        = &Error{502, "http1: invalid response status code"}
	errRespReason        = &Error{502, "http1: invalid reason phrase"}
	errRespFieldName     = &Error{502, "http1: invalid response header field name"}
	errRespFieldValue    = &Error{502, "http1: invalid response header field value"}
	errRespObsFold       = &Error{502, "http1: obsolete line folding in response"}
	errRespContentLength = &Error{502, "http1: invalid Content-Length in response"}
	errRespMultiCL       = &Error{502, "http1: conflicting Content-Length values in response"}
	errRespCLAndTE       = &Error{502, "http1: both Content-Length and Transfer-Encoding in response"}
	errRespTE10          = &Error{502, "http1: Transfer-Encoding in HTTP/1.0 response"}
	errRespTEEmpty       = &Error{502, "http1: empty Transfer-Encoding in response"}
	errRespTEChunked     = &Error{502, "http1: chunked applied twice or with parameters in response"}
	errRespTEUnknown     = &Error{502, "http1: unknown transfer coding in response"}
)

// respBuf is the buffer as Response.Parse may see it.
type respBuf struct {
	b    []byte // the buffer, truncated to MaxHeaderBytes
	full bool   // b was truncated: needing more bytes means the head is too large
}

// more returns the error for needing a byte beyond rb.b.
func (rb *respBuf) more() error {
	if rb.full {
		return errRespHeadTooLarge
	}
	return ErrIncomplete
}

// Parse parses the response head at the start of b, the answer to a request
// with method reqMethod. It returns the head length (also in r.HeadLen),
// ErrIncomplete when more bytes are needed, or an *Error with status 502 for
// a malformed response or one beyond lim.
//
// Limits work as for Request.Parse and are enforced on incomplete input too:
// the status line against lim.MaxRequestLine, the whole head against
// lim.MaxHeaderBytes and the field count against lim.MaxHeaders. Bytes are
// examined strictly in order, so feeding a response in pieces yields either
// ErrIncomplete or exactly the whole-buffer result.
//
// The body length follows RFC 9112 §6.3. A response to HEAD, a 1xx, 204 or
// 304 response and a 2xx response to CONNECT have no body regardless of
// their fields: Content-Length and Transfer-Encoding are still validated,
// then ContentLength is set to 0 and Chunked to false. A Transfer-Encoding
// whose final coding is not chunked means the body runs until the server
// closes. Both Content-Length and Transfer-Encoding, Content-Length values
// that differ, and Transfer-Encoding in an HTTP/1.0 response are errors, as
// are transfer codings other than chunked, gzip, deflate and compress.
//
// A 1xx interim response (100 Continue, 103 Early Hints, ...) parses as a
// head of its own: the caller consumes HeadLen bytes and parses again for
// the final response, which follows on the same connection. 101 Switching
// Protocols is final: after it the connection speaks another protocol.
//
// Lines end in CRLF or in a bare LF, as in requests (see Request.Parse);
// a bare CR is refused. Empty lines before the status line are skipped
// and counted in the head length, as HAProxy 2.6 does (and as requests'
// are); bytes a server sends after a complete response are still not the
// next response's: the proxy closes such a connection. The SP after the status code may be missing when the
// reason-phrase is empty ("HTTP/1.1 204\r\n"), since servers omit it and it
// changes no framing.
func (r *Response) Parse(b []byte, reqMethod []byte, lim Limits) (int, error) {
	r.reset()
	maxLine, maxHead, maxFields := lim.values()
	rb := respBuf{b: b}
	// A head of exactly maxHead bytes is fine; needing byte maxHead is not.
	if len(b) >= maxHead {
		rb.b, rb.full = b[:maxHead], true
	}
	p, kind := skipEmptyLines(rb.b)
	switch kind {
	case lineMore:
		return 0, rb.more()
	case lineBareCR:
		return 0, errRespBareCR
	}
	p, err := r.parseStatusLine(&rb, p, maxLine)
	if err != nil {
		return 0, err
	}

	var st framing
	hs, p, err := r.parseFields(&rb, &st, r.Headers, p, maxFields)
	r.Headers = hs // keep the capacity even when incomplete
	if err != nil {
		return 0, err
	}
	if err := r.finish(&st, reqMethod); err != nil {
		return 0, err
	}
	r.HeadLen = p
	return p, nil
}

func (r *Response) reset() {
	h := r.Headers[:0]
	*r = Response{Headers: h, ContentLength: -1}
}

// parseStatusLine parses HTTP-version SP status-code SP [ reason-phrase ]
// CRLF (or LF) at index s of the buffer and returns the index after the
// line.
func (r *Response) parseStatusLine(rb *respBuf, s, maxLine int) (int, error) {
	buf := rb.b[s:]
	// As in parseRequestLine: content bytes at offsets 0..maxLine-1, the CR
	// at maxLine at the latest, and nothing beyond lb is examined.
	lb := buf
	lineCut := false
	if end := maxLine + 1; len(lb) >= end {
		lb, lineCut = lb[:end], true
	}
	more := func() error {
		if lineCut {
			return errRespLineTooLong
		}
		return rb.more()
	}

	// HTTP-version = "HTTP/" DIGIT "." DIGIT, checked byte by byte so that
	// garbage (an HTTP/0.9 body, a TLS alert) is refused without waiting.
	const proto = "HTTP/"
	p := 0
	for ; p < 8; p++ {
		if p >= len(lb) {
			return 0, more()
		}
		c := lb[p]
		switch {
		case p < 5:
			if c != proto[p] {
				return 0, errRespVersion
			}
		case p == 6:
			if c != '.' {
				return 0, errRespVersion
			}
		default:
			if c < '0' || c > '9' {
				return 0, errRespVersion
			}
		}
	}
	if lb[5] != '1' || lb[7] > '1' {
		return 0, errRespVersionNotSup
	}
	r.Major, r.Minor = 1, int(lb[7]-'0')
	if p >= len(lb) {
		return 0, more()
	}
	if lb[p] != ' ' {
		return 0, errRespVersion
	}
	p++

	// status-code = 3DIGIT, and 100..999: there are no 0xx codes.
	code := 0
	for i := 0; i < 3; i++ {
		if p >= len(lb) {
			return 0, more()
		}
		c := lb[p]
		if c < '0' || c > '9' || i == 0 && c == '0' {
			return 0, errRespStatus
		}
		code = code*10 + int(c-'0')
		p++
	}
	if p >= len(lb) {
		return 0, more()
	}
	switch lb[p] {
	case ' ':
		p++
	case '\r', '\n':
		// No SP before an empty reason-phrase: tolerated (see Parse).
	default:
		return 0, errRespStatus
	}
	rs := p
	p = scanValue(lb, p)
	if p >= len(lb) {
		return 0, more()
	}
	next := p + 1
	switch lb[p] {
	case '\r':
		// The LF may lie just past lb: it is not part of the line's length.
		if p+1 >= len(buf) {
			return 0, rb.more()
		}
		if buf[p+1] != '\n' {
			return 0, errRespBareCR
		}
		next = p + 2
	case '\n':
	default:
		return 0, errRespReason
	}
	r.Status = code
	r.Reason = lb[rs:p:p]
	return s + next, nil
}

// responseLineErrors answers the field lines scanField refuses.
var responseLineErrors = [nLineKinds]error{
	lineBareCR:   errRespBareCR,
	lineObsFold:  errRespObsFold,
	lineBadName:  errRespFieldName,
	lineBadValue: errRespFieldValue,
}

// parseFields parses field lines and the empty line ending the head,
// appending to hs and returning the index after the head: the request's
// scanning (scanField) with the response's errors and semantics.
func (r *Response) parseFields(rb *respBuf, st *framing, hs []Header, p, maxFields int) ([]Header, int, error) {
	buf := rb.b
	for {
		// A field beyond the limit is refused as soon as it starts, so that
		// a client cannot make the server wait for the rest of it.
		if len(hs) >= maxFields && p < len(buf) && startsField(buf[p]) {
			return hs, 0, errRespTooManyFields
		}
		kind, ns, ne, vs, ve, next := scanField(buf, p)
		switch kind {
		case lineField:
		case lineEnd:
			return hs, next, nil
		case lineMore:
			return hs, 0, rb.more()
		default:
			return hs, 0, responseLineErrors[kind]
		}
		p = next
		var name, value []byte
		hs, name, value = addHeader(hs, buf, ns, ne, vs, ve)
		if err := r.noteField(st, name, value); err != nil {
			return hs, 0, err
		}
	}
}

// noteField applies the framing-relevant semantics of one field.
func (r *Response) noteField(st *framing, n, v []byte) error {
	switch len(n) {
	case 10:
		if EqualFold(n, "connection") {
			st.noteConnection(v)
		}
	case 14:
		if !EqualFold(n, "content-length") {
			return nil
		}
		return r.noteContentLength(st, v)
	case 17:
		if !EqualFold(n, "transfer-encoding") {
			return nil
		}
		return r.noteTransferEncoding(st, v)
	}
	return nil
}

// noteContentLength records a Content-Length field of the response: a proxy
// that picked one of two lengths could desynchronise from the server
// (response splitting).
func (r *Response) noteContentLength(st *framing, v []byte) error {
	switch st.noteContentLength(v, &r.ContentLength) {
	case clBad:
		return errRespContentLength
	case clDiffers:
		return errRespMultiCL
	}
	return nil
}

// noteTransferEncoding records the codings of one Transfer-Encoding line;
// several lines form one list (RFC 9110 §5.3).
func (r *Response) noteTransferEncoding(st *framing, v []byte) error {
	if r.Minor == 0 {
		// RFC 9112 §6.1: the framing of such a message is faulty.
		return errRespTE10
	}
	switch st.noteCodings(v) {
	case teChunked:
		return errRespTEChunked
	case teUnknown:
		return errRespTEUnknown
	}
	return nil
}

// finish checks the rules that need the whole head and derives the body
// length (RFC 9112 §6.3) and the connection semantics.
func (r *Response) finish(st *framing, reqMethod []byte) error {
	if st.te {
		if st.cl {
			return errRespCLAndTE
		}
		if !st.teCoding {
			return errRespTEEmpty
		}
		// Otherwise a final coding other than chunked means the body runs
		// until the server closes (§6.3 rule 4); ContentLength stays -1.
		r.Chunked = st.teLastChunked
	}
	if r.Minor == 1 {
		r.KeepAlive = !st.connClose
	} else {
		r.KeepAlive = st.connKeepAlive && !st.connClose
	}
	s := r.Status
	if s < 200 || s == 204 || s == 304 || string(reqMethod) == "HEAD" ||
		s < 300 && string(reqMethod) == "CONNECT" {
		// §6.3 rules 1 and 2: the head is the whole response.
		r.ContentLength, r.Chunked = 0, false
		return nil
	}
	if !r.Chunked && r.ContentLength < 0 {
		r.KeepAlive = false // the close ends the body
	}
	return nil
}

// BodyMode says how the body following a parsed head ends. It is derived
// from Chunked and ContentLength, which Parse sets accordingly.
func (r *Response) BodyMode() BodyMode {
	switch {
	case r.Chunked:
		return BodyChunked
	case r.ContentLength > 0:
		return BodyLength
	case r.ContentLength == 0:
		return BodyNone
	}
	return BodyClose
}

// AppendRequestLine appends the request line "METHOD target HTTP/1.x\r\n"
// to dst, as a proxy sends a request upstream: x is minor, 0 or 1. It does
// not validate: method must be a token and target free of SP and control
// characters, as the Method and Target of a parsed Request are.
func AppendRequestLine(dst, method, target []byte, minor int) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	if minor == 0 {
		return append(dst, " HTTP/1.0\r\n"...)
	}
	return append(dst, " HTTP/1.1\r\n"...)
}
