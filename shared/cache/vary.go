package cache

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/luaedge/luaedge/proto/http1"
)

// The request fields a response may vary on, HAProxy 2.6's (a bit each in
// a vary signature); a response varying on another is not stored.
const (
	varyAcceptEncoding = 1 << 0
	varyReferer        = 1 << 1
)

// The content codings told apart in an accept-encoding key (bits).
const (
	encGzip = 1 << iota
	encDeflate
	encBr
	encCompress
	encAES128GCM
	encExi
	encPack200
	encZstd
	encIdentity
	encStar
	encOther
)

var codings = map[string]uint32{
	"gzip": encGzip, "x-gzip": encGzip, "deflate": encDeflate, "br": encBr,
	"compress": encCompress, "x-compress": encCompress, "aes128gcm": encAES128GCM,
	"exi": encExi, "pack200-gzip": encPack200, "zstd": encZstd, "identity": encIdentity, "*": encStar,
}

// secondaryLen is the length of a secondary key: the accept-encoding
// bitmap, then the CRC32 of the referer (little-endian each).
const secondaryLen = 8

type secondaryKey [secondaryLen]byte

// varySignature reads the response's Vary values: ok is false when one
// names a field the cache does not vary on.
func varySignature(res Head) (sig uint32, ok bool) {
	ok = true
	eachValue(res, "vary", func(v []byte) {
		switch {
		case http1.EqualFold(v, "accept-encoding"):
			sig |= varyAcceptEncoding
		case http1.EqualFold(v, "referer"):
			sig |= varyReferer
		default:
			ok = false
		}
	})
	return sig, ok
}

// buildSecondary makes the request's secondary key for the fields of sig
// (the others are zeros); ok is false for a request the cache cannot key
// (16 accept-encoding values or more).
func buildSecondary(req Head, sig uint32) (k secondaryKey, ok bool) {
	if sig&varyAcceptEncoding != 0 {
		bm, ok := acceptEncoding(req)
		if !ok {
			return k, false
		}
		binary.LittleEndian.PutUint32(k[0:4], bm)
	}
	if sig&varyReferer != 0 {
		if v, ok := first(req, "referer"); ok {
			binary.LittleEndian.PutUint32(k[4:8], crc32.ChecksumIEEE(v))
		}
	}
	return k, true
}

// acceptEncoding is the bitmap of the codings the request accepts.
func acceptEncoding(req Head) (uint32, bool) {
	bm, refused := uint32(encIdentity), ^uint32(0)
	count := 0
	eachValue(req, "accept-encoding", func(v []byte) {
		count++
		if count > 16 || len(v) == 0 {
			return
		}
		enc, zero, ok := parseCoding(bytes.ToLower(v))
		switch {
		case !ok:
			bm |= encOther
		case zero:
			refused &^= enc
		default:
			bm |= enc
		}
	})
	if bm&encStar != 0 {
		bm = ^uint32(0)
	}
	bm &= refused
	if count == 0 {
		bm = ^uint32(0) // no accept-encoding: anything goes
	}
	return bm, count < 16
}

// parseCoding reads "coding[;q=W]": its bit, whether its weight is 0.
func parseCoding(v []byte) (enc uint32, zero, ok bool) {
	name, params, _ := bytes.Cut(v, []byte(";"))
	name = bytes.TrimRight(name, " \t")
	enc, ok = codings[string(name)]
	if !ok {
		return 0, false, false
	}
	return enc, string(bytes.TrimLeft(params, " \t")) == "q=0", true
}

// responseEncoding is the bitmap of the response's content codings
// (identity when none); ok is false for one the cache does not know.
func responseEncoding(res Head) (uint32, bool) {
	var bm uint32
	ok := true
	eachValue(res, "content-encoding", func(v []byte) {
		enc, _, known := parseCoding(bytes.ToLower(v))
		if !known {
			ok = false
		}
		bm |= enc
	})
	if bm == 0 {
		bm = encIdentity
	}
	return bm, ok
}

// reduce zeroes the parts of k for fields outside sig.
func (k *secondaryKey) reduce(sig uint32) {
	if sig&varyAcceptEncoding == 0 {
		clear(k[0:4])
	}
	if sig&varyReferer == 0 {
		clear(k[4:8])
	}
}

// setEncoding puts a response's codings in the accept-encoding part (as
// HAProxy does for every response that varies, on whatever field).
func (k *secondaryKey) setEncoding(bm uint32) { binary.LittleEndian.PutUint32(k[0:4], bm) }

// matches reports whether a request's key (req) may be served the object
// whose key is k: the client accepts all of its codings, and the rest is
// equal.
func (k secondaryKey) matches(req secondaryKey) bool {
	ref, got := binary.LittleEndian.Uint32(k[0:4]), binary.LittleEndian.Uint32(req[0:4])
	if ref&encOther != 0 || ref&got != ref {
		return false
	}
	return bytes.Equal(k[4:8], req[4:8])
}

// first returns the first value of the field name (the whole line).
func first(h Head, name string) ([]byte, bool) {
	for i := 0; i < h.NumFields(); i++ {
		n, v := h.Field(i)
		if http1.EqualFold(n, name) {
			return v, true
		}
	}
	return nil, false
}

// eachValue calls fn with each comma-separated value of the fields name,
// trimmed.
func eachValue(h Head, name string, fn func(v []byte)) {
	for i := 0; i < h.NumFields(); i++ {
		n, v := h.Field(i)
		if !http1.EqualFold(n, name) {
			continue
		}
		for _, part := range bytes.Split(v, []byte(",")) {
			fn(bytes.Trim(part, " \t"))
		}
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && http1.EqualFold(b[:len(prefix)], prefix)
}

func sortEntries(e []Entry) {
	slices.SortFunc(e, func(a, b Entry) int {
		switch {
		case a.Hash < b.Hash:
			return -1
		case a.Hash > b.Hash:
			return 1
		}
		return 0
	})
}
