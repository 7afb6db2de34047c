package ws

import "unicode/utf8"

// utf8State validates text that arrives in pieces (the frames of a
// message). It carries a sequence cut by the end of a piece, and refuses a
// byte as soon as no valid text can have it there: "\xf4\x90" fails at
// once, not when the next frame or the end of the message comes
// (RFC 6455 §8.1 asks to fail fast).
type utf8State struct {
	need   uint8 // continuation bytes still expected
	lo, hi uint8 // the range the next continuation byte must be in
}

// valid feeds p and reports whether the text so far can still be valid.
func (s *utf8State) valid(p []byte) bool {
	i := 0
	for ; s.need > 0 && i < len(p); i++ {
		if !s.step(p[i]) {
			return false
		}
	}
	// The bulk goes to utf8.Valid, which is fast on ASCII; the last
	// sequence, maybe cut by the end of p, is stepped through.
	j := len(p)
	for k := len(p) - 1; k >= i && k >= len(p)-3; k-- {
		if c := p[k]; c >= 0xc0 {
			j = k
			break
		} else if c < 0x80 {
			break
		}
	}
	if !utf8.Valid(p[i:j]) {
		return false
	}
	for ; j < len(p); j++ {
		if !s.step(p[j]) {
			return false
		}
	}
	return true
}

// complete reports whether no sequence is left cut.
func (s *utf8State) complete() bool { return s.need == 0 }

// step feeds one byte. The ranges are those of the Unicode standard's
// table of well-formed UTF-8 (no overlong forms, surrogates, or code points
// above U+10FFFF).
func (s *utf8State) step(c byte) bool {
	if s.need > 0 {
		if c < s.lo || c > s.hi {
			return false
		}
		s.need--
		s.lo, s.hi = 0x80, 0xbf
		return true
	}
	switch {
	case c < 0x80:
	case c < 0xc2:
		return false
	case c < 0xe0:
		s.need, s.lo, s.hi = 1, 0x80, 0xbf
	case c == 0xe0:
		s.need, s.lo, s.hi = 2, 0xa0, 0xbf
	case c == 0xed:
		s.need, s.lo, s.hi = 2, 0x80, 0x9f
	case c < 0xf0:
		s.need, s.lo, s.hi = 2, 0x80, 0xbf
	case c == 0xf0:
		s.need, s.lo, s.hi = 3, 0x90, 0xbf
	case c < 0xf4:
		s.need, s.lo, s.hi = 3, 0x80, 0xbf
	case c == 0xf4:
		s.need, s.lo, s.hi = 3, 0x80, 0x8f
	default:
		return false
	}
	return true
}
