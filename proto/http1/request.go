// Package http1 implements the HTTP/1.1 wire format (RFC 9112) for an
// event-loop server: an incremental, allocation-free request-head parser, a
// chunked body decoder, and append-style helpers to write responses.
//
// Nothing here does I/O. Bytes may arrive in arbitrary pieces: the caller
// keeps unconsumed bytes and calls again once more have arrived. Parse is
// stateless between calls, so every call rescans the buffer from its start;
// callers should only call it again after new bytes arrive.
package http1

import (
	"errors"

	"github.com/luaedge/luaedge/proto/httpchar"
)

// Header is one header field. Name and Value alias the parsed buffer; Value
// has surrounding optional whitespace (SP / HTAB) trimmed.
type Header struct{ Name, Value []byte }

// Limits bounds a request head. Zero (or negative) fields mean the defaults:
// MaxRequestLine 8192, MaxHeaderBytes 65536 (the whole head including the
// request line and the empty line ending it) and MaxHeaders 100.
// HostOptional accepts an HTTP/1.1 request without a Host field, which
// RFC 9112 §3.2 lets a server refuse and HAProxy accepts.
type Limits struct {
	MaxRequestLine, MaxHeaderBytes, MaxHeaders int
	HostOptional                               bool
}

// Default limits used for zero fields of Limits.
const (
	DefaultMaxRequestLine = 8192
	DefaultMaxHeaderBytes = 65536
	DefaultMaxHeaders     = 100
)

func (l Limits) values() (line, head, count int) {
	line, head, count = l.MaxRequestLine, l.MaxHeaderBytes, l.MaxHeaders
	if line <= 0 {
		line = DefaultMaxRequestLine
	}
	if head <= 0 {
		head = DefaultMaxHeaderBytes
	}
	if count <= 0 {
		count = DefaultMaxHeaders
	}
	return
}

// Request is the parsed head of one request. All byte slices alias the buffer
// given to Parse and are valid until that buffer changes. Parse resets every
// field, keeping the capacity of Headers, so one Request should be reused per
// connection.
type Request struct {
	// Method is the request method, case preserved (methods are case-sensitive).
	Method []byte
	// Target is the request-target exactly as sent.
	Target []byte
	// Path is the path part of Target: Target up to the first '?'. For an
	// absolute-form target ("http://h/p?q") it is the path after the
	// authority ("/p"), or "/" when that path is empty. For CONNECT it is the
	// authority-form target, for OPTIONS * it is "*".
	Path []byte
	// Query is the part of Target after the first '?', without the '?'. It is
	// nil when there is no '?' and empty (non-nil) for a bare '?'.
	Query []byte
	// Major and Minor are the protocol version: 1.1 or 1.0.
	Major, Minor int
	// Headers are the header fields in the order received, names as sent.
	Headers []Header
	// Host is the value of the Host header, nil if there is none. (For an
	// absolute-form target the Host header is still what is reported.)
	Host []byte
	// ContentLength is the Content-Length, or -1 when there is no such header.
	ContentLength int64
	// Chunked reports Transfer-Encoding with chunked as the final coding.
	Chunked bool
	// KeepAlive reports whether the connection persists after this exchange:
	// HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive" (and no "close").
	KeepAlive bool
	// Expect100 reports "Expect: 100-continue" (case-insensitive) on an
	// HTTP/1.1 request; RFC 9110 §10.1.1 says to ignore it in HTTP/1.0.
	Expect100 bool
	// Upgrade is the value of the Upgrade header when Connection lists the
	// "upgrade" token, else nil. Always nil for HTTP/1.0 (RFC 9110 §7.8).
	Upgrade []byte
	// HeadLen is the length of the head including any skipped leading empty
	// lines and the empty line ending it: the bytes the caller must consume.
	HeadLen int
}

// Error is a request that must be refused with Status (400, 414, 431, 501 or
// 505), after which the connection must be closed because the framing of
// what follows is unknown.
type Error struct {
	Status int
	Reason string
}

// Error returns e.Reason.
func (e *Error) Error() string { return e.Reason }

// ErrIncomplete reports that the head is not complete yet: call again with
// more bytes.
var ErrIncomplete = errors.New("http1: incomplete request head")

// Errors are shared values so that rejecting hostile input never allocates.
// Callers must not modify them.
var (
	errLineTooLong   = &Error{414, "http1: request line too long"}
	errHeadTooLarge  = &Error{431, "http1: request head too large"}
	errTooManyFields = &Error{431, "http1: too many header fields"}
	errBareCR        = &Error{400, "http1: bare CR"}
	errMethod        = &Error{400, "http1: invalid method"}
	errTarget        = &Error{400, "http1: invalid request-target"}
	errVersion       = &Error{400, "http1: malformed HTTP version"}
	errVersionNotSup = &Error{505, "http1: HTTP version not supported"}
	errFieldName     = &Error{400, "http1: invalid header field name"}
	errFieldValue    = &Error{400, "http1: invalid header field value"}
	errObsFold       = &Error{400, "http1: obsolete line folding"}
	errNoHost        = &Error{400, "http1: missing Host header"}
	errMultiHost     = &Error{400, "http1: more than one Host header"}
	errBadHost       = &Error{400, "http1: invalid Host header"}
	errContentLength = &Error{400, "http1: invalid Content-Length"}
	errMultiCL       = &Error{400, "http1: conflicting Content-Length values"}
	errCLAndTE       = &Error{400, "http1: both Content-Length and Transfer-Encoding"}
	errTE10          = &Error{400, "http1: Transfer-Encoding in HTTP/1.0 request"}
	errTENotChunked  = &Error{400, "http1: final transfer coding is not chunked"}
	errTEUnknown     = &Error{501, "http1: unknown transfer coding"}
)

// headBuf is the buffer as Parse may see it.
type headBuf struct {
	b    []byte // the buffer, truncated to MaxHeaderBytes
	full bool   // b was truncated: needing more bytes means the head is too large
}

// more returns the error for needing a byte beyond hb.b.
func (hb *headBuf) more() error {
	if hb.full {
		return errHeadTooLarge
	}
	return ErrIncomplete
}

// Parse parses the request head at the start of b. It returns the head length
// (also in r.HeadLen), ErrIncomplete when more bytes are needed, or an *Error.
//
// Limits are enforced on incomplete input too: *Error 414 as soon as the
// request line exceeds lim.MaxRequestLine, 431 as soon as the head exceeds
// lim.MaxHeaderBytes or the field count exceeds lim.MaxHeaders, so a caller
// never buffers without bound. Bytes are examined strictly in order, and
// bytes past a limit are never looked at, so feeding a request in pieces
// yields either ErrIncomplete or exactly the whole-buffer result.
//
// Every line may end in CRLF or in a bare LF, as RFC 9112 §2.2 lets a
// recipient accept and as HAProxy does; a CR must be followed by LF (a bare
// CR is refused). Leading empty lines are skipped (§2.2) and counted in the
// head length.
// A bare LF smuggles only where the bytes go on as received to a server
// that reads them otherwise: luaedge's proxy writes a forwarded head anew
// from the parsed fields, and chunked framing anew from the decoded data.
func (r *Request) Parse(b []byte, lim Limits) (int, error) {
	r.reset()
	maxLine, maxHead, maxFields := lim.values()
	hb := headBuf{b: b}
	// A head of exactly maxHead bytes is fine; needing byte maxHead is not.
	if len(b) >= maxHead {
		hb.b, hb.full = b[:maxHead], true
	}
	buf := hb.b

	p, kind := skipEmptyLines(buf)
	switch kind {
	case lineMore:
		return 0, hb.more()
	case lineBareCR:
		return 0, errBareCR
	}
	p, err := r.parseRequestLine(&hb, p, maxLine)
	if err != nil {
		return 0, err
	}

	var st fieldState
	hs, p, err := r.parseFields(&hb, &st, r.Headers, p, maxFields)
	r.Headers = hs // keep the capacity even when incomplete
	if err != nil {
		return 0, err
	}
	if err := r.finish(&st, lim.HostOptional); err != nil {
		return 0, err
	}
	r.HeadLen = p
	return p, nil
}

// skipEmptyLines returns the index after the empty lines (CRLF or bare LF)
// at the start of buf, which RFC 9112 §2.2 lets a recipient ignore before a
// request line and HAProxy also ignores before a status line. The kind is
// lineField when a line starts there, lineMore when buf ends in a CR, or
// lineBareCR.
func skipEmptyLines(buf []byte) (int, int) {
	p := 0
	for p < len(buf) && (buf[p] == '\r' || buf[p] == '\n') {
		if buf[p] == '\n' {
			p++
			continue
		}
		if p+1 >= len(buf) {
			return p, lineMore
		}
		if buf[p+1] != '\n' {
			return p, lineBareCR
		}
		p += 2
	}
	return p, lineField
}

// Outcomes of scanField.
const (
	lineField    = iota // a field line: name and value spans are set
	lineEnd             // the empty line ending the head
	lineMore            // more bytes are needed
	lineBareCR          // CR not followed by LF
	lineObsFold         // a line starting with whitespace
	lineBadName         // no token before ':' or something else after the name
	lineBadValue        // a byte a value may not hold
	nLineKinds
)

// startsField reports whether a line starting with c is a field line
// (rather than the end of the head or a malformed line).
func startsField(c byte) bool { return c != '\r' && c != '\n' && c != ' ' && c != '\t' }

// scanField reads the field line (or the empty line) at p of buf, for the
// request and the response parsers alike. For lineField it returns the
// name and value bounds (the value without surrounding OWS) and the index
// after the line; for lineEnd, the index after the head. A line ends in
// CRLF or in a bare LF (see Request.Parse).
func scanField(buf []byte, p int) (kind, ns, ne, vs, ve, next int) {
	if p >= len(buf) {
		return lineMore, 0, 0, 0, 0, 0
	}
	switch buf[p] {
	case '\r':
		if p+1 >= len(buf) {
			return lineMore, 0, 0, 0, 0, 0
		}
		if buf[p+1] != '\n' {
			return lineBareCR, 0, 0, 0, 0, 0
		}
		return lineEnd, 0, 0, 0, 0, p + 2
	case '\n':
		return lineEnd, 0, 0, 0, 0, p + 1
	case ' ', '\t':
		// obs-fold, or whitespace between the start-line and the first
		// field (RFC 9112 §2.2): both are smuggling vectors, so refuse.
		return lineObsFold, 0, 0, 0, 0, 0
	}
	ns = p
	for p < len(buf) && httpchar.Token[buf[p]] {
		p++
	}
	if p >= len(buf) {
		return lineMore, 0, 0, 0, 0, 0
	}
	// Anything but ':' right after the name, including "Host : x", is
	// rejected (RFC 9112 §5.1).
	if buf[p] != ':' || p == ns {
		return lineBadName, 0, 0, 0, 0, 0
	}
	ne = p
	p++
	for p < len(buf) && (buf[p] == ' ' || buf[p] == '\t') {
		p++
	}
	vs = p
	p = scanValue(buf, p)
	if p >= len(buf) {
		return lineMore, 0, 0, 0, 0, 0
	}
	switch buf[p] {
	case '\r':
		if p+1 >= len(buf) {
			return lineMore, 0, 0, 0, 0, 0
		}
		if buf[p+1] != '\n' {
			return lineBareCR, 0, 0, 0, 0, 0
		}
		next = p + 2
	case '\n':
		next = p + 1
	default:
		return lineBadValue, 0, 0, 0, 0, 0
	}
	ve = p
	for ve > vs && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
		ve--
	}
	return lineField, ns, ne, vs, ve, next
}

// requestLineErrors answers the field lines scanField refuses.
var requestLineErrors = [nLineKinds]error{
	lineBareCR:   errBareCR,
	lineObsFold:  errObsFold,
	lineBadName:  errFieldName,
	lineBadValue: errFieldValue,
}

// addHeader appends the field buf[ns:ne]: buf[vs:ve] to hs. It fills the
// slot in place: appending a Header built on the stack costs a
// store-forwarding stall per field.
func addHeader(hs []Header, buf []byte, ns, ne, vs, ve int) ([]Header, []byte, []byte) {
	if len(hs) < cap(hs) {
		hs = hs[:len(hs)+1]
	} else {
		hs = append(hs, Header{})
	}
	f := &hs[len(hs)-1]
	f.Name, f.Value = buf[ns:ne:ne], buf[vs:ve:ve]
	return hs, f.Name, f.Value
}

// parseFields parses field lines and the empty line ending the head,
// appending to hs (a local slice, so that appends stay in registers) and
// returning the index after the head.
func (r *Request) parseFields(hb *headBuf, st *fieldState, hs []Header, p, maxFields int) ([]Header, int, error) {
	buf := hb.b
	for {
		// A field beyond the limit is refused as soon as it starts, so that
		// a client cannot make the server wait for the rest of it.
		if len(hs) >= maxFields && p < len(buf) && startsField(buf[p]) {
			return hs, 0, errTooManyFields
		}
		kind, ns, ne, vs, ve, next := scanField(buf, p)
		switch kind {
		case lineField:
		case lineEnd:
			return hs, next, nil
		case lineMore:
			return hs, 0, hb.more()
		default:
			return hs, 0, requestLineErrors[kind]
		}
		p = next
		var name, value []byte
		hs, name, value = addHeader(hs, buf, ns, ne, vs, ve)
		if err := r.noteField(st, name, value); err != nil {
			return hs, 0, err
		}
	}
}

// scanValue returns the index of the first byte at or after p that may not
// appear in a field value (or len(b)). Eight bytes at a time while none of
// them is a control character or DEL, since values are most of a head.
func scanValue(b []byte, p int) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	for p+8 <= len(b) {
		x := uint64(b[p]) | uint64(b[p+1])<<8 | uint64(b[p+2])<<16 | uint64(b[p+3])<<24 |
			uint64(b[p+4])<<32 | uint64(b[p+5])<<40 | uint64(b[p+6])<<48 | uint64(b[p+7])<<56
		// A byte < 0x20 (HTAB included, handled by the slow path) or == 0x7f.
		lt := (x - ones*0x20) & ^x & high
		y := x ^ (ones * 0x7f)
		del := (y - ones) & ^y & high
		if lt|del != 0 {
			break
		}
		p += 8
	}
	for p < len(b) && httpchar.Value[b[p]] {
		p++
	}
	return p
}

func (r *Request) reset() {
	h := r.Headers[:0]
	*r = Request{Headers: h, ContentLength: -1}
}

// parseRequestLine parses method SP request-target SP HTTP-version CRLF
// (or LF) starting at p and returns the index after the line.
func (r *Request) parseRequestLine(hb *headBuf, p, maxLine int) (int, error) {
	buf := hb.b
	// Content bytes may sit at offsets 0..maxLine-1 and the CR at maxLine at
	// the latest, so the line is scanned only within lb. Running out of lb
	// when it was cut by the limit means the line is too long; bytes beyond
	// it are never examined, which keeps piecewise results consistent.
	lb := buf
	lineCut := false
	if end := p + maxLine + 1; len(lb) >= end {
		lb, lineCut = lb[:end], true
	}
	more := func() error {
		if lineCut {
			return errLineTooLong
		}
		return hb.more()
	}

	s := p
	for p < len(lb) && httpchar.Token[lb[p]] {
		p++
	}
	if p >= len(lb) {
		return 0, more()
	}
	if lb[p] != ' ' || p == s {
		return 0, errMethod
	}
	r.Method = lb[s:p:p]
	p++

	// A fragment ('#') is never sent in a request-target (RFC 9112 §3.2);
	// HAProxy 2.6 refuses it too, so that rules never see one.
	s = p
	for p < len(lb) && lb[p] > 0x20 && lb[p] < 0x7f && lb[p] != '#' {
		p++
	}
	if p >= len(lb) {
		return 0, more()
	}
	if lb[p] != ' ' || p == s {
		return 0, errTarget
	}
	r.Target = lb[s:p:p]
	p++

	// HTTP-version = "HTTP/" DIGIT "." DIGIT, checked byte by byte so that
	// garbage (say a TLS handshake) is refused without waiting for more.
	const proto = "HTTP/"
	vs := p
	for i := 0; i < 8; i++ {
		if p >= len(lb) {
			return 0, more()
		}
		c := lb[p]
		switch {
		case i < 5:
			if c != proto[i] {
				return 0, errVersion
			}
		case i == 6:
			if c != '.' {
				return 0, errVersion
			}
		default:
			if c < '0' || c > '9' {
				return 0, errVersion
			}
		}
		p++
	}
	if p >= len(lb) {
		return 0, more()
	}
	next := p + 1
	switch lb[p] {
	case '\r':
		// The LF may lie just past lb: it is not part of the line's length.
		if p+1 >= len(buf) {
			return 0, hb.more()
		}
		if buf[p+1] != '\n' {
			return 0, errBareCR
		}
		next = p + 2
	case '\n':
	default:
		return 0, errVersion
	}
	major, minor := int(lb[vs+5]-'0'), int(lb[vs+7]-'0')
	if major != 1 || minor > 1 {
		return 0, errVersionNotSup
	}
	r.Major, r.Minor = major, minor
	if err := r.splitTarget(); err != nil {
		return 0, err
	}
	return next, nil
}

// splitTarget fills Path and Query from Target (RFC 9112 §3.2).
func (r *Request) splitTarget() error {
	t := r.Target
	switch {
	case t[0] == '/': // origin-form
	case len(t) == 1 && t[0] == '*': // asterisk-form
		if string(r.Method) != "OPTIONS" {
			return errTarget
		}
	case string(r.Method) == "CONNECT": // authority-form
	default: // absolute-form: scheme "://" authority path-abempty ["?" query]
		i := 0
		for i < len(t) && (t[i] >= 'a' && t[i] <= 'z' || t[i] >= 'A' && t[i] <= 'Z' ||
			i > 0 && (t[i] >= '0' && t[i] <= '9' || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
			i++
		}
		if i == 0 || len(t) < i+3 || string(t[i:i+3]) != "://" {
			return errTarget
		}
		a := i + 3
		for a < len(t) && t[a] != '/' && t[a] != '?' && t[a] != '#' {
			a++
		}
		if a == len(t) || t[a] != '/' {
			// Empty path means "/": alias the second slash of "://" so that
			// Path still points into the caller's buffer.
			r.Path = t[i+2 : i+3 : i+3]
			if a < len(t) && t[a] == '?' {
				r.Query = t[a+1 : len(t) : len(t)]
			}
			return nil
		}
		t = t[a:]
	}
	for i, c := range t {
		if c == '?' {
			r.Path = t[:i:i]
			r.Query = t[i+1 : len(t) : len(t)]
			return nil
		}
	}
	r.Path = t
	return nil
}

// fieldState carries what the fields seen so far imply; it lives on the
// stack of Parse.
type fieldState struct {
	framing
	host            bool
	upgrade         []byte
	upgradeSeen     bool
	expect100Listed bool
}

// noteField applies the framing-relevant semantics of one field.
func (r *Request) noteField(st *fieldState, n, v []byte) error {
	switch len(n) {
	case 4:
		if !EqualFold(n, "host") {
			return nil
		}
		if st.host {
			return errMultiHost
		}
		st.host = true
		for _, c := range v {
			if !httpchar.Host[c] {
				return errBadHost
			}
		}
		r.Host = v
	case 6:
		if EqualFold(n, "expect") && EqualFold(v, "100-continue") {
			st.expect100Listed = true
		}
	case 7:
		if EqualFold(n, "upgrade") && !st.upgradeSeen {
			st.upgradeSeen = true
			st.upgrade = v
		}
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

// Outcomes of parseContentLength besides a length.
const (
	clOK = iota
	clBad
	clDiffers
)

// parseContentLength parses a Content-Length value: a length, or a list of
// identical ones ("5, 5"), as RFC 9110 §8.6 permits; anything else is
// refused, since two lengths are the classic smuggling vector. have and
// prev are what an earlier Content-Length field said.
func parseContentLength(v []byte, have bool, prev int64) (int64, int) {
	if len(v) == 0 {
		return 0, clBad
	}
	for len(v) > 0 {
		i := 0
		var n int64
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			d := int64(v[i] - '0')
			if n > (1<<63-1-d)/10 {
				return 0, clBad
			}
			n = n*10 + d
			i++
		}
		if i == 0 {
			return 0, clBad
		}
		if have && n != prev {
			return 0, clDiffers
		}
		have, prev = true, n
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i == len(v) {
			break
		}
		if v[i] != ',' {
			return 0, clBad
		}
		i++
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i == len(v) { // trailing comma
			return 0, clBad
		}
		v = v[i:]
	}
	return prev, clOK
}

// noteContentLength records a Content-Length field of the request.
func (r *Request) noteContentLength(st *fieldState, v []byte) error {
	switch st.noteContentLength(v, &r.ContentLength) {
	case clBad:
		return errContentLength
	case clDiffers:
		return errMultiCL
	}
	return nil
}

// noteTransferEncoding records the codings of one Transfer-Encoding line;
// several lines form one list (RFC 9110 §5.3).
func (r *Request) noteTransferEncoding(st *fieldState, v []byte) error {
	if r.Minor == 0 {
		// RFC 9112 §6.1: HTTP/1.0 framing cannot be trusted with it.
		return errTE10
	}
	switch st.noteCodings(v) {
	case teChunked:
		return errTENotChunked
	case teUnknown:
		return errTEUnknown
	}
	return nil
}

// finish checks the rules that need the whole head and derives the
// connection semantics.
func (r *Request) finish(st *fieldState, hostOptional bool) error {
	if r.Minor == 1 && !st.host && !hostOptional {
		return errNoHost
	}
	if st.te {
		if st.cl {
			return errCLAndTE
		}
		if !st.teLastChunked {
			// RFC 9112 §6.3: the length cannot be determined.
			return errTENotChunked
		}
		r.Chunked = true
	}
	if r.Minor == 1 {
		r.KeepAlive = !st.connClose
		r.Expect100 = st.expect100Listed
		if st.connUpgrade && st.upgradeSeen {
			r.Upgrade = st.upgrade
		}
	} else {
		r.KeepAlive = st.connKeepAlive && !st.connClose
	}
	return nil
}

// HasBody reports whether a message body follows the head (Chunked or
// ContentLength > 0).
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// UpgradeTo reports whether the request asks to switch to protocol
// (compared without case; "h2c", "websocket"): Connection lists upgrade
// and the Upgrade list names it.
func (r *Request) UpgradeTo(protocol string) bool {
	for e, rest := nextElem(r.Upgrade); e != nil; e, rest = nextElem(rest) {
		if EqualFold(e, protocol) {
			return true
		}
	}
	return false
}

// nextElem returns the first element of a comma-separated list, OWS
// trimmed, and the rest after its comma. Both are nil when v is used up;
// empty elements come back as empty non-nil slices.
func nextElem(v []byte) (elem, rest []byte) {
	if v == nil {
		return nil, nil
	}
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
