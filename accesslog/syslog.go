package accesslog

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Header is the header a sink writes before each line, as HAProxy's log
// line's "format" names it.
type Header uint8

// The headers, as HAProxy 2.6 writes them (T: the local time):
//
//	raw       the line alone
//	rfc3164   <PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: line
//	rfc5424   <PRI>1 T-ISO HOST|- TAG PID - - line
//	priority  <PRI>line
//	short     <SEVERITY>line
//	timed     <SEVERITY>T-ISO line
//	iso       T-ISO line
const (
	HeaderRaw Header = iota
	HeaderRFC3164
	HeaderRFC5424
	HeaderPriority
	HeaderShort
	HeaderTimed
	HeaderISO
)

var headerNames = [...]string{"raw", "rfc3164", "rfc5424", "priority", "short", "timed", "iso"}

// ParseHeader reads a header's name.
func ParseHeader(name string) (Header, error) {
	for i, n := range headerNames {
		if n == name {
			return Header(i), nil
		}
	}
	return 0, fmt.Errorf("unknown syslog format %q (want one of %s)", name, strings.Join(headerNames[:], ", "))
}

// String is the header's name.
func (h Header) String() string { return headerNames[h] }

// Syslog is how a sink writes each line: its header, the tag and host
// name the header names, and the length a message is cut at.
type Syslog struct {
	Header Header
	// Tag is the program's name in the rfc3164 and rfc5424 headers.
	Tag string
	// Hostname is sent in the rfc3164 and rfc5424 headers; "" for none
	// (rfc5424 says -).
	Hostname string
	// Len cuts each message, header included, at Len bytes before its
	// newline (HAProxy's len); 0: not cut.
	Len int
}

// DefaultTag is the tag of the headers unless one is configured.
const DefaultTag = "luaedge"

// hasPri says whether the header writes the line's PRI or severity: the
// loop then puts the PRI before each line in the sink's buffer.
func (h Header) hasPri() bool { return h != HeaderRaw && h != HeaderISO }

// stamp is a sink's header text for the lines of one buffer: what
// follows the PRI, made once per buffer (the lines of a buffer were
// written within the flush interval; their header says when they leave).
func (y *Syslog) stamp(b []byte, now time.Time, pid string) []byte {
	const iso = "2006-01-02T15:04:05.000000-07:00"
	switch y.Header {
	case HeaderRFC3164:
		b = now.AppendFormat(b, "Jan _2 15:04:05 ")
		if y.Hostname != "" {
			b = append(append(b, y.Hostname...), ' ')
		}
		b = append(b, y.Tag...)
		b = append(append(append(b, '['), pid...), "]: "...)
	case HeaderRFC5424:
		b = append(b, "1 "...)
		b = append(now.AppendFormat(b, iso), ' ')
		if y.Hostname != "" {
			b = append(b, y.Hostname...)
		} else {
			b = append(b, '-')
		}
		b = append(append(append(b, ' '), y.Tag...), ' ')
		b = append(append(b, pid...), " - - "...)
	case HeaderTimed, HeaderISO:
		b = append(now.AppendFormat(b, iso), ' ')
	}
	return b
}

// appendMessage appends the message of one line: the PRI (or severity)
// when the header has one, the stamp, the line, cut at Len, and a newline.
func (y *Syslog) appendMessage(b []byte, pri uint8, stamp, line []byte) []byte {
	start := len(b)
	switch y.Header {
	case HeaderRFC3164, HeaderRFC5424, HeaderPriority:
		b = strconv.AppendUint(append(b, '<'), uint64(pri), 10)
		b = append(b, '>')
	case HeaderShort, HeaderTimed:
		b = strconv.AppendUint(append(b, '<'), uint64(pri&7), 10)
		b = append(b, '>')
	}
	b = append(append(b, stamp...), line...)
	if y.Len > 0 && len(b)-start > y.Len {
		b = b[:start+y.Len]
	}
	return append(b, '\n')
}

// Sample is HAProxy's log sampling (sample RANGES:SIZE): of each SIZE
// lines, those whose number (from 1) is in RANGES are sent. It is shared
// by the loops: its count is atomic.
type Sample struct {
	size   uint64
	ranges [][2]uint64
	n      atomic.Uint64
}

// ParseSample reads RANGES:SIZE, RANGES being numbers and ranges (N-M)
// separated by commas, each within 1 and SIZE.
func ParseSample(s string) (*Sample, error) {
	rs, size, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(size, 10, 32)
	if !ok || err != nil || n == 0 {
		return nil, fmt.Errorf("sample %q: want RANGES:SIZE, SIZE a positive number", s)
	}
	sm := &Sample{size: n}
	for _, r := range strings.Split(rs, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b, err2 := strconv.ParseUint(hi, 10, 32)
		if err1 != nil || err2 != nil || a == 0 || a > b || b > n {
			return nil, fmt.Errorf("sample %q: range %q: want N or N-M within 1 and %d", s, r, n)
		}
		sm.ranges = append(sm.ranges, [2]uint64{a, b})
	}
	return sm, nil
}

// take counts a line and says whether it is sent.
func (sm *Sample) take() bool {
	i := (sm.n.Add(1)-1)%sm.size + 1
	for _, r := range sm.ranges {
		if i >= r[0] && i <= r[1] {
			return true
		}
	}
	return false
}
