package http1

import "github.com/luaedge/luaedge/proto/httpchar"

// Bounds on chunked framing (RFC 9112 §7.1); the body itself is unbounded
// here, the caller limits it.
const (
	// MaxChunkLine bounds a chunk-size line including its extensions,
	// excluding the CRLF (or LF) ending it.
	MaxChunkLine = 4096
	// MaxTrailerBytes bounds the trailer section including its line ends.
	MaxTrailerBytes = 65536
	// maxChunkSize is the largest chunk size accepted (2^62).
	maxChunkSize = 1 << 62
)

var (
	errChunkSize     = &Error{400, "http1: invalid chunk size"}
	errChunkTooLarge = &Error{400, "http1: chunk size too large"}
	errChunkExt      = &Error{400, "http1: invalid chunk extension"}
	errChunkLine     = &Error{400, "http1: chunk size line too long"}
	errChunkDataEnd  = &Error{400, "http1: missing CRLF after chunk data"}
	errTrailerField  = &Error{400, "http1: invalid trailer field"}
	errTrailerFold   = &Error{400, "http1: obsolete line folding in trailer"}
	errTrailerSize   = &Error{400, "http1: trailer section too large"}
)

// Decoder states. Each names what the next byte must be.
const (
	csSize0        uint8 = iota // first hex digit of a chunk size
	csSize                      // more hex digits, ';', BWS, CR or LF
	csSizeWS                    // BWS after the size: more BWS or ';'
	csExt                       // chunk-ext outside a quoted string
	csExtQuoted                 // inside a quoted chunk-ext-val
	csExtEscape                 // after a backslash in a quoted string
	csSizeLF                    // LF after the CR ending the size line
	csData                      // chunk data, size bytes left
	csDataCR                    // CR or LF after chunk data
	csDataLF                    // LF after that CR
	csTrailerStart              // start of a trailer line (or the final empty line)
	csTrailerName               // in a trailer field name
	csTrailerValue              // in a trailer field value
	csTrailerLF                 // LF after the CR ending a trailer field line
	csEndLF                     // LF after the CR ending the message
	csDone                      // body complete
	csFailed                    // an error was returned; it is sticky
)

// ChunkedDecoder decodes a chunked message body (RFC 9112 §7.1)
// incrementally, one byte of framing at a time, so input may be split
// anywhere. The zero value is ready to use; call Reset before reusing it for
// another body.
//
// Framing lines (chunk sizes, the line end after each chunk's data,
// trailer fields and the final empty line) end in CRLF or in a bare LF, as
// the heads' lines do (see Request.Parse); a bare CR is refused.
type ChunkedDecoder struct {
	state      uint8
	size       uint64 // the size being read, then the data bytes left
	lineLen    int    // bytes of the current size line
	trailerLen int    // bytes of the trailer section so far
	err        error  // sticky error for csFailed
	lineStart  int    // offset in tbuf of the trailer line being read
	nameEnd    int    // offset in tbuf where its name ends
	tbuf       []byte // copies of trailer lines, name and value back to back
	trailers   []Header
}

// Reset prepares d for a new body, keeping its buffers.
func (d *ChunkedDecoder) Reset() {
	*d = ChunkedDecoder{tbuf: d.tbuf[:0], trailers: d.trailers[:0]}
}

// Trailers returns the trailer fields seen so far. They are copies owned by
// the decoder, valid until Reset. Trailer fields must not be merged into the
// header section (RFC 9110 §6.5.1).
func (d *ChunkedDecoder) Trailers() []Header { return d.trailers }

// Next consumes framing and data from in. It returns the number of bytes of
// in consumed, a span of chunk data (aliasing in; empty when only framing was
// consumed), whether the body ended (last-chunk and trailer section fully
// consumed; bytes after that are not touched), and an *Error with status 400
// for bad framing. Errors are sticky.
//
// Callers loop:
//
//	for len(in) > 0 {
//		n, data, done, err := d.Next(in)
//		// handle data, done, err
//		in = in[n:]
//		if n == 0 {
//			break
//		}
//	}
//
// n == 0 with no error and done false means more bytes are needed.
func (d *ChunkedDecoder) Next(in []byte) (n int, data []byte, done bool, err error) {
	i := 0
	for i < len(in) {
		switch d.state {
		case csData:
			m := len(in) - i
			if uint64(m) >= d.size {
				m = int(d.size)
				d.state = csDataCR
			}
			d.size -= uint64(m)
			return i + m, in[i : i+m : i+m], false, nil
		case csDone:
			return i, nil, true, nil
		case csFailed:
			return i, nil, false, d.err
		}
		c := in[i]
		i++
		if err := d.step(c); err != nil {
			d.state, d.err = csFailed, err
			return i, nil, false, err
		}
	}
	switch d.state {
	case csDone:
		return i, nil, true, nil
	case csFailed:
		return i, nil, false, d.err
	}
	return i, nil, false, nil
}

// step advances the framing state machine by one byte.
func (d *ChunkedDecoder) step(c byte) error {
	switch d.state {
	case csSize0, csSize, csSizeWS, csExt, csExtQuoted, csExtEscape:
		if c != '\r' && c != '\n' { // the line end is not part of its length
			d.lineLen++
		}
		if d.lineLen > MaxChunkLine {
			return errChunkLine
		}
	case csTrailerStart, csTrailerName, csTrailerValue, csTrailerLF, csEndLF:
		d.trailerLen++
		if d.trailerLen > MaxTrailerBytes {
			return errTrailerSize
		}
	}

	switch d.state {
	case csSize0, csSize:
		if h := unhex(c); h >= 0 {
			if d.size > maxChunkSize>>4 {
				return errChunkTooLarge
			}
			d.size = d.size<<4 | uint64(h)
			if d.size > maxChunkSize {
				return errChunkTooLarge
			}
			d.state = csSize
			return nil
		}
		if d.state == csSize0 {
			return errChunkSize
		}
		switch c {
		case '\r':
			d.state = csSizeLF
		case '\n':
			d.endSizeLine()
		case ';':
			d.state = csExt
		case ' ', '\t':
			d.state = csSizeWS
		default:
			return errChunkSize
		}
	case csSizeWS:
		// BWS is only allowed in front of an extension: "5 \r\n" is
		// refused because peers disagree about it.
		switch c {
		case ' ', '\t':
		case ';':
			d.state = csExt
		default:
			return errChunkSize
		}
	case csExt:
		// Loose chunk-ext grammar: tokens, '=', ';', BWS and quoted strings.
		switch {
		case c == '\r':
			d.state = csSizeLF
		case c == '\n':
			d.endSizeLine()
		case c == '"':
			d.state = csExtQuoted
		case httpchar.Token[c] || c == ';' || c == '=' || c == ' ' || c == '\t':
		default:
			return errChunkExt
		}
	case csExtQuoted:
		switch {
		case c == '"':
			d.state = csExt
		case c == '\\':
			d.state = csExtEscape
		case !httpchar.Value[c]:
			return errChunkExt
		}
	case csExtEscape:
		if !httpchar.Value[c] {
			return errChunkExt
		}
		d.state = csExtQuoted
	case csSizeLF:
		if c != '\n' {
			return errBareCR
		}
		d.endSizeLine()
	case csDataCR:
		switch c {
		case '\r':
			d.state = csDataLF
		case '\n':
			d.state = csSize0
		default:
			return errChunkDataEnd
		}
	case csDataLF:
		if c != '\n' {
			return errChunkDataEnd
		}
		d.state = csSize0
	case csTrailerStart:
		switch {
		case c == '\r':
			d.state = csEndLF
		case c == '\n':
			d.state = csDone
		case c == ' ' || c == '\t':
			return errTrailerFold
		case httpchar.Token[c]:
			d.lineStart = len(d.tbuf)
			d.tbuf = append(d.tbuf, c)
			d.state = csTrailerName
		default:
			return errTrailerField
		}
	case csTrailerName:
		switch {
		case httpchar.Token[c]:
			d.tbuf = append(d.tbuf, c)
		case c == ':':
			d.nameEnd = len(d.tbuf)
			d.state = csTrailerValue
		default:
			return errTrailerField
		}
	case csTrailerValue:
		switch {
		case c == '\r':
			d.state = csTrailerLF
		case c == '\n':
			d.endTrailer()
		case httpchar.Value[c]:
			d.tbuf = append(d.tbuf, c)
		default:
			return errTrailerField
		}
	case csTrailerLF:
		if c != '\n' {
			return errBareCR
		}
		d.endTrailer()
	case csEndLF:
		if c != '\n' {
			return errBareCR
		}
		d.state = csDone
	}
	return nil
}

// endSizeLine moves on after a chunk-size line: to the data, or to the
// trailer section after the last chunk.
func (d *ChunkedDecoder) endSizeLine() {
	d.lineLen = 0
	if d.size == 0 {
		d.state = csTrailerStart
	} else {
		d.state = csData
	}
}

// endTrailer records the trailer field line just read.
func (d *ChunkedDecoder) endTrailer() {
	end := len(d.tbuf)
	d.trailers = append(d.trailers, Header{
		Name:  d.tbuf[d.lineStart:d.nameEnd:d.nameEnd],
		Value: trimOWS(d.tbuf[d.nameEnd:end:end]),
	})
	d.state = csTrailerStart
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
