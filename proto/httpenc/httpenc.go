// Package httpenc is HTTP's content codings for response compression:
// choosing a coding from a request's Accept-Encoding (RFC 9110 section
// 12.5.3), the rules of which responses are worth compressing, and the
// gzip (RFC 1952), deflate (zlib, RFC 1950) and brotli (RFC 7932)
// framing of a body compressed piece by piece as it is sent.
//
// Nothing here does I/O. An Encoder is one event loop's compressors,
// shared by the loop's responses. For gzip and deflate each piece is
// compressed whole within one call and ends byte-aligned (a sync flush),
// so a response holds no compressor between its pieces, only its checksum
// and length (State). A brotli stream cannot be cut that way (its header
// and window run from the first piece to the last), so a brotli response
// borrows one of the loop's brotli writers for its whole body and gives it
// back when it ends (Encoder.Release).
package httpenc

import (
	"bytes"
	"strings"
)

// Coding is a content coding.
type Coding uint8

// The codings luaedge compresses with; None is the identity.
const (
	None Coding = iota
	Gzip
	Deflate
	Brotli
)

// Name is the coding's name in Content-Encoding.
func (c Coding) Name() string {
	switch c {
	case Gzip:
		return "gzip"
	case Deflate:
		return "deflate"
	case Brotli:
		return "br"
	}
	return "identity"
}

// ParseCoding reads a coding's name as the configuration spells it.
func ParseCoding(name string) (Coding, bool) {
	switch name {
	case "gzip":
		return Gzip, true
	case "deflate":
		return Deflate, true
	case "br":
		return Brotli, true
	}
	return None, false
}

// Negotiate chooses the coding of a response among offered (in the
// server's order of preference) from the values of the request's
// Accept-Encoding fields: the one with the highest weight (q) above 0;
// on a tie brotli first (browsers send "gzip, deflate, br", all of weight
// 1, and br's bodies are the smallest), then the server's order; "*"
// weighs the codings not named; "x-gzip" is gzip. It returns None when the
// request has no Accept-Encoding (nothing is compressed for a client that
// did not ask), or accepts none of offered.
func Negotiate(values [][]byte, offered []Coding) Coding {
	if len(values) == 0 {
		return None
	}
	const unset = -1
	var q [4]int // by Coding, in thousandths
	q[Gzip], q[Deflate], q[Brotli] = unset, unset, unset
	star := unset
	for _, v := range values {
		for len(v) > 0 {
			var elem []byte
			elem, v, _ = bytes.Cut(v, []byte{','})
			name, weight, ok := element(elem)
			if !ok {
				continue
			}
			switch {
			case equalFold(name, "gzip") || equalFold(name, "x-gzip"):
				if q[Gzip] == unset {
					q[Gzip] = weight
				}
			case equalFold(name, "deflate"):
				if q[Deflate] == unset {
					q[Deflate] = weight
				}
			case equalFold(name, "br"):
				if q[Brotli] == unset {
					q[Brotli] = weight
				}
			case string(name) == "*":
				if star == unset {
					star = weight
				}
			}
		}
	}
	best, bestQ := None, 0
	for _, c := range offered {
		w := q[c]
		if w == unset {
			w = max(star, 0)
		}
		if w > bestQ || w == bestQ && w > 0 && c == Brotli {
			best, bestQ = c, w
		}
	}
	return best
}

// element reads one element of Accept-Encoding: a coding and its weight
// (1000 without q); ok is false for an empty element or a malformed
// weight (such a coding is not taken as accepted).
func element(e []byte) (name []byte, q int, ok bool) {
	name, params, _ := bytes.Cut(e, []byte{';'})
	name = bytes.TrimSpace(name)
	if len(name) == 0 {
		return nil, 0, false
	}
	q = 1000
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		p = bytes.TrimSpace(p)
		if len(p) < 2 || p[0]|0x20 != 'q' || p[1] != '=' {
			continue // a parameter that is not a weight
		}
		if q, ok = qvalue(bytes.TrimSpace(p[2:])); !ok {
			return nil, 0, false
		}
	}
	return name, q, true
}

// qvalue reads RFC 9110's weight: "0" to "1" with up to three decimals,
// in thousandths.
func qvalue(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	n := int(b[0]-'0') * 1000
	if len(b) > 1 {
		if b[1] != '.' {
			return 0, false
		}
		scale := 100
		for _, c := range b[2:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n += int(c-'0') * scale
			scale /= 10
		}
	}
	return n, n <= 1000
}

// equalFold reports whether b is s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}

// Policy is what a frontend or backend compresses (its compression keys),
// shared read-only by every loop.
type Policy struct {
	Codings   []Coding // in the server's order of preference
	Types     []string // media types, lower case; "text/*" takes a whole type
	MinLength int64    // a response whose length is known and below it is sent as is
	Level     int      // gzip's and deflate's: 1 (fastest) to 9 (smallest)
	Quality   int      // brotli's: 0 (fastest) to MaxQuality
}

// MaxQuality is the highest brotli quality luaedge compresses with: 10
// and 11 search for the optimal parse, at tens of times the CPU of 9,
// which no response compressed as it is sent can afford.
const MaxQuality = 9

// LevelOf is the level (or quality) the policy compresses coding c at.
func (p *Policy) LevelOf(c Coding) int {
	if c == Brotli {
		return p.Quality
	}
	return p.Level
}

// TypeMatches reports whether a response of Content-Type ct is of one of
// the policy's types; multipart types never are (their parts are
// compressed or not by themselves).
func (p *Policy) TypeMatches(ct []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte{';'})
	mt = bytes.TrimSpace(mt)
	if len(mt) == 0 || hasPrefixFold(mt, "multipart/") {
		return false
	}
	for _, t := range p.Types {
		if top, ok := strings.CutSuffix(t, "/*"); ok {
			if len(mt) > len(top) && mt[len(top)] == '/' && hasPrefixFold(mt, top) {
				return true
			}
		} else if equalFold(mt, t) {
			return true
		}
	}
	return false
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && equalFold(b[:len(p)], p)
}

// HasToken reports whether the comma-separated list v holds token
// (ignoring ASCII case and a token's parameters): no-transform in
// Cache-Control, accept-encoding or "*" in Vary.
func HasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var e []byte
		e, v, _ = bytes.Cut(v, []byte{','})
		e, _, _ = bytes.Cut(e, []byte{'='})
		if equalFold(bytes.TrimSpace(e), token) {
			return true
		}
	}
	return false
}

// Compressible reports whether a response status is one luaedge
// compresses: 200 to 203, as HAProxy (206 is a range of the identity, and
// the others carry no representation worth the time).
func Compressible(status int) bool { return status >= 200 && status <= 203 }
