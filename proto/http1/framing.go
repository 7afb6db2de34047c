package http1

// framing is what the fields of a message, request or response, say of
// its body's length and of its connection; it is part of the field state
// of each, on the stack of Parse.
type framing struct {
	cl, te        bool
	teCoding      bool // some coding was listed
	teChunked     bool // chunked was listed
	teLastChunked bool // the last coding listed so far is chunked
	connClose     bool
	connKeepAlive bool
	connUpgrade   bool // Connection lists upgrade (a request's matters)
}

// noteConnection records the options of one Connection line.
func (f *framing) noteConnection(v []byte) {
	for e, rest := nextElem(v); e != nil || rest != nil; e, rest = nextElem(rest) {
		switch {
		case EqualFold(e, "close"):
			f.connClose = true
		case EqualFold(e, "keep-alive"):
			f.connKeepAlive = true
		case EqualFold(e, "upgrade"):
			f.connUpgrade = true
		}
	}
}

// noteContentLength records a Content-Length field into *length; it
// returns clOK, or clBad or clDiffers (parseContentLength), for each
// side's error.
func (f *framing) noteContentLength(v []byte, length *int64) int {
	n, res := parseContentLength(v, f.cl, *length)
	if res == clOK {
		f.cl = true
		*length = n
	}
	return res
}

// Outcomes of noteCodings.
const (
	teOK      = iota
	teChunked // chunked listed twice, or with parameters
	teUnknown // a coding we do not know
)

// noteCodings records the codings of one Transfer-Encoding line; several
// lines form one list (RFC 9110 §5.3). It returns teOK, or the rule the
// line breaks, for each side's error.
func (f *framing) noteCodings(v []byte) int {
	f.te = true
	for e, rest := nextElem(v); e != nil || rest != nil; e, rest = nextElem(rest) {
		if len(e) == 0 {
			continue
		}
		f.teCoding = true
		name, params := e, false
		for i, c := range e {
			if c == ';' {
				name, params = trimOWS(e[:i]), true
				break
			}
		}
		switch {
		case EqualFold(name, "chunked"):
			// chunked must be applied exactly once and takes no parameters.
			if f.teChunked || params {
				return teChunked
			}
			f.teChunked, f.teLastChunked = true, true
		case EqualFold(name, "gzip"), EqualFold(name, "x-gzip"),
			EqualFold(name, "deflate"), EqualFold(name, "compress"),
			EqualFold(name, "x-compress"):
			f.teLastChunked = false
		default:
			return teUnknown
		}
	}
	return teOK
}
