package http1

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/luaedge/luaedge/proto/httpchar"
)

// statusText holds the reason phrases of RFC 9110 §15, plus 103 (RFC 8297),
// 418, 425 (RFC 8470), 428, 429, 431, 511 (RFC 6585) and 451 (RFC 7725).
var statusText = [...]string{
	100: "Continue",
	101: "Switching Protocols",
	103: "Early Hints",

	200: "OK",
	201: "Created",
	202: "Accepted",
	203: "Non-Authoritative Information",
	204: "No Content",
	205: "Reset Content",
	206: "Partial Content",

	300: "Multiple Choices",
	301: "Moved Permanently",
	302: "Found",
	303: "See Other",
	304: "Not Modified",
	305: "Use Proxy",
	307: "Temporary Redirect",
	308: "Permanent Redirect",

	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	411: "Length Required",
	412: "Precondition Failed",
	413: "Content Too Large",
	414: "URI Too Long",
	415: "Unsupported Media Type",
	416: "Range Not Satisfiable",
	417: "Expectation Failed",
	418: "I'm a teapot",
	421: "Misdirected Request",
	422: "Unprocessable Content",
	425: "Too Early",
	426: "Upgrade Required",
	428: "Precondition Required",
	429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	451: "Unavailable For Legal Reasons",

	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
	505: "HTTP Version Not Supported",
	511: "Network Authentication Required",
}

// StatusText returns the reason phrase for code ("OK", "Not Found", ...), or
// "" for an unknown code.
func StatusText(code int) string {
	if code < 0 || code >= len(statusText) {
		return ""
	}
	return statusText[code]
}

// Reason returns StatusText(code), or for a code it does not know the
// name of its class, as HAProxy does: "Informational", "Success",
// "Redirection", "Client Error", "Server Error", else "Other".
func Reason(code int) string {
	if t := StatusText(code); t != "" {
		return t
	}
	return ClassReason(code)
}

// ClassReason is the name HAProxy gives the class of status code:
// "Informational", "Success", "Redirection", "Client Error", "Server
// Error", else "Other".
func ClassReason(code int) string {
	switch code / 100 {
	case 1:
		return "Informational"
	case 2:
		return "Success"
	case 3:
		return "Redirection"
	case 4:
		return "Client Error"
	case 5:
		return "Server Error"
	}
	return "Other"
}

// AppendStatusLine appends the status line "HTTP/1.1 200 OK\r\n" to dst.
// minor 0 writes HTTP/1.0, anything else HTTP/1.1. An empty reason means
// Reason(code). A reason containing
// control characters is replaced the same way, so that a script cannot split
// the response, and a code outside 100..999 is written as 500.
func AppendStatusLine(dst []byte, minor int, code int, reason string) []byte {
	if minor == 0 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	if code < 100 || code > 999 {
		code, reason = 500, ""
	}
	dst = append(dst, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10), ' ')
	if reason == "" || !validReason(reason) {
		reason = Reason(code)
	}
	dst = append(dst, reason...)
	return append(dst, '\r', '\n')
}

// validReason reports whether s is a valid reason-phrase (RFC 9112 §4).
func validReason(s string) bool {
	for i := 0; i < len(s); i++ {
		if !httpchar.Value[s[i]] {
			return false
		}
	}
	return true
}

// AppendHeader appends "Name: value\r\n" to dst. It does not validate; use
// ValidHeaderName and ValidHeaderValue on untrusted fields.
func AppendHeader(dst []byte, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// dateLine is an immutable, formatted "Date: ...\r\n" line for one second.
type dateLine struct {
	unix int64
	line [len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")]byte
}

var dateCache atomic.Pointer[dateLine]

// AppendDate appends "Date: <IMF-fixdate>\r\n" for now (RFC 9110 §5.6.7).
// The formatted line is cached per second: formatting happens (and allocates
// a 48-byte value) once a second, every other call only copies. The cache
// is safe for concurrent use; it holds immutable values swapped atomically.
func AppendDate(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.unix != sec {
		d = newDateLine(now)
		dateCache.Store(d)
	}
	return append(dst, d.line[:]...)
}

func newDateLine(now time.Time) *dateLine {
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	t := now.UTC()
	d := &dateLine{unix: now.Unix()}
	b := d.line[:0]
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	wd := int(t.Weekday())
	b = append(b, "Date: "...)
	b = append(b, days[wd*3:wd*3+3]...)
	b = append(b, ',', ' ', byte('0'+day/10), byte('0'+day%10), ' ')
	b = append(b, months[(month-1)*3:(month-1)*3+3]...)
	b = append(b, ' ')
	y := year % 10000 // IMF-fixdate has four year digits
	if y < 0 {
		y = -y
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), ' ')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	b = append(b, " GMT\r\n"...)
	_ = b // written in place into d.line
	return d
}

// AppendChunk appends one chunk of a chunked body: hex size CRLF data CRLF.
// Empty data appends nothing, since a zero size would end the body.
func AppendChunk(dst []byte, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(data)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last-chunk with an empty trailer section,
// "0\r\n\r\n", which ends a chunked body.
func AppendLastChunk(dst []byte) []byte {
	return append(dst, "0\r\n\r\n"...)
}

// ValidHeaderName reports whether b is a non-empty token, and so safe to send
// as a field name.
func ValidHeaderName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !httpchar.Token[c] {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether b is safe to send as a field value: it
// has no CR, LF or NUL and, as the RFC 9110 §5.5 grammar and Parse require,
// no other control character than HTAB.
func ValidHeaderValue(b []byte) bool {
	return scanValue(b, 0) == len(b)
}

// EqualFold reports whether a and b are equal under ASCII case folding.
func EqualFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// errorResponses caches ErrorResponse per code, filled on first use. A race
// only builds the same immutable value twice.
var errorResponses [1000]atomic.Pointer[[]byte]

// ErrorResponse returns a complete minimal response for an error status,
// with "Connection: close", Content-Length and a text/plain body such as
// "400 Bad Request\n". It is built once per code and then served from a
// cache without allocating; a code outside 100..999 is treated as 500. The
// result is shared and must not be modified (its capacity equals its
// length, so appending to it copies).
func ErrorResponse(code int) []byte {
	if code < 100 || code > 999 {
		code = 500
	}
	if r := errorResponses[code].Load(); r != nil {
		return *r
	}
	r := buildErrorResponse(code)
	errorResponses[code].Store(&r)
	return r
}

func buildErrorResponse(code int) []byte {
	reason := Reason(code)
	body := strconv.Itoa(code) + " " + reason + "\n"
	b := AppendStatusLine(nil, 1, code, reason)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	return b[:len(b):len(b)]
}
