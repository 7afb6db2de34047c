package stream

import (
	"bytes"

	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/httpenc"
)

// Response compression (a frontend's or backend's compression keys), for
// Lua's answers and servers' alike, over HTTP/1.1 and HTTP/2: the head
// says whether the body is compressed; each piece of body the stream
// sends is compressed by the loop's encoder as it goes (nothing is
// buffered), and the coding's trailer follows the last. A brotli
// response holds one of the loop's brotli writers from its first piece
// to its end (dropCoding).

// Field values the compression adds.
var (
	fieldVary            = []byte("vary")
	fieldContentEncoding = []byte("content-encoding")
	acceptEncodingValue  = []byte("accept-encoding")
	codingNames          = [...][]byte{httpenc.Gzip: []byte("gzip"), httpenc.Deflate: []byte("deflate"), httpenc.Brotli: []byte("br")}
)

// chooseCoding decides, as the response head h leaves, whether its body is
// compressed, as HAProxy does: for a request of HTTP/1.1 or later (HEAD
// excepted), a response of status 200 to 203 with a body, a Content-Type
// of the policy's types, no Content-Encoding or Content-Range, no
// "no-transform", at most one ETag, and, when its length is known, at
// least the policy's min_length. Such a response says Vary:
// Accept-Encoding; if the client accepts one of the policy's codings, its
// body is compressed: the head loses its Content-Length (the protocol
// frames the body) and Accept-Ranges, and a strong ETag goes weak.
func (st *Stream) chooseCoding(h *Head) {
	st.dropCoding()
	var p *httpenc.Policy
	if st.fe != nil {
		p = st.fe.Compress
	}
	s := st.th.S
	if st.fwd.up != nil {
		if be := s.Backend(); be >= 0 && be < len(st.env.BackendCompress) && st.env.BackendCompress[be] != nil {
			p = st.env.BackendCompress[be]
		}
	}
	if p == nil || h.NoBody || !httpenc.Compressible(h.Status) {
		return
	}
	if major, minor := s.Version(); major == 1 && minor == 0 {
		return // a 1.0 client's body would end with the connection
	}
	var ctype, etag []byte
	etags, varies := 0, false
	for i, n := 0, s.NumRFields(); i < n; i++ {
		name, value := s.RField(i)
		switch {
		case len(name) == 0:
		case http1.EqualFold(name, "content-encoding"), http1.EqualFold(name, "content-range"):
			return // coded already (a server that compresses is left alone), or a part
		case http1.EqualFold(name, "cache-control"):
			if httpenc.HasToken(value, "no-transform") {
				return
			}
		case http1.EqualFold(name, "content-type"):
			if ctype == nil {
				ctype = value
			}
		case http1.EqualFold(name, "etag"):
			etags++
			etag = value
		case http1.EqualFold(name, "vary"):
			varies = varies || httpenc.HasToken(value, "accept-encoding") || httpenc.HasToken(value, "*")
		}
	}
	if !p.TypeMatches(ctype) || (h.Length >= 0 && h.Length < p.MinLength) || etags > 1 ||
		etags == 1 && !bytes.HasPrefix(etag, []byte("W/")) && !bytes.HasPrefix(etag, []byte(`"`)) {
		return
	}
	if !varies {
		h.addField(fieldVary, acceptEncodingValue)
	}
	c := httpenc.Negotiate(st.acceptEncoding(s.NumFields(), s.Field), p.Codings)
	if c == httpenc.None {
		return
	}
	h.addField(fieldContentEncoding, codingNames[c])
	h.coded = true
	h.Length = -1
	if n := len(st.env.encFree); n > 0 {
		st.enc = st.env.encFree[n-1]
		st.env.encFree = st.env.encFree[:n-1]
	} else {
		st.enc = new(httpenc.State)
	}
	st.enc.Start(c, p.LevelOf(c))
}

// dropCoding gives the response's coding state back to the loop, with
// the brotli writer it holds, if any: when the compressed body ended, or
// when the response was cut (the script failed, the server's body broke
// off, the client went away: Close), or at the next request at the
// latest.
func (st *Stream) dropCoding() {
	if st.enc != nil {
		st.env.encoder.Release(st.enc)
		st.env.encFree = append(st.env.encFree, st.enc)
		st.enc = nil
	}
}

// acceptEncoding returns the values of the request's Accept-Encoding
// fields, in the loop's scratch (valid while the head is sent).
func (st *Stream) acceptEncoding(n int, field func(int) ([]byte, []byte)) [][]byte {
	ae := st.env.acceptEncoding[:0]
	for i := 0; i < n; i++ {
		if name, value := field(i); http1.EqualFold(name, "accept-encoding") {
			ae = append(ae, value)
		}
	}
	st.env.acceptEncoding = ae
	return ae
}

// finishCoding sends the end of a compressed body (the last block and the
// coding's trailer), once, before the response's trailers and its end.
func (st *Stream) finishCoding() {
	if st.enc == nil {
		return
	}
	out := st.env.encoder.Finish(st.enc)
	st.dropCoding()
	st.logBytesOut(len(out))
	st.down.SendData(out)
}
