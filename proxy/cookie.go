package proxy

import (
	"bytes"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
)

// persist is what one exchange does with its backend's persistence cookie
// (ck nil: the backend has none), as HAProxy's cookie modes do: decided
// with the request when its server is known (persistenceOf), applied to
// the Cookie fields the server gets (forwardCookie) and to the server's
// response head (begin, responseField, addFields). It belongs to the
// exchange (Upstream, h2Stream) and is remade for each.
type persist struct {
	ck     *backend.Cookie
	server string // the cookie value of the server that took the request ("": it has none)
	direct bool   // the request's cookie named that server
	post   bool   // the request is a POST (postonly)
	safe   bool   // GET, HEAD, OPTIONS or TRACE: a cache could keep the answer (nocache)
	ignore bool   // an ignore-persist rule held: the server's Set-Cookie is left alone, none is inserted

	// What the response head showed so far.
	found     bool // a Set-Cookie of the cookie
	cacheable bool // a cache could keep the answer, as HAProxy judges it
	pragma    bool // pragma: no-cache: it could not, whatever cache-control says
	fresh     bool // a lifetime: cache-control max-age or s-maxage, or expires
	validator bool // etag or last-modified
}

// cookieDelim separates the server's value from the server's own value of
// the cookie in prefix mode.
const cookieDelim = '~'

// cookieServer is the part of a request's cookie value v that names the
// server: all of it, or in prefix mode what comes before '~'.
func cookieServer(ck *backend.Cookie, v []byte) []byte {
	if ck.Mode == backend.CookiePrefix {
		if i := bytes.IndexByte(v, cookieDelim); i >= 0 {
			return v[:i]
		}
	}
	return v
}

// requestCookie returns the value of cookie name in s's request (its
// Cookie fields), and whether it has one.
func requestCookie(s *cgo.Stream, name string) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	for i := range s.NumFields() {
		n, v := s.Field(i)
		if !http1.EqualFold(n, "cookie") {
			continue
		}
		for len(v) > 0 {
			var pair []byte
			pair, v, _ = bytes.Cut(v, []byte(";"))
			k, val, ok := bytes.Cut(bytes.TrimSpace(pair), []byte("="))
			if ok && string(k) == name {
				return val, true
			}
		}
	}
	return nil, false
}

// persistenceOf is the persistence of s's request going to srv of backend
// b.
func persistenceOf(s *cgo.Stream, b *Backend, srv *backend.Server) persist {
	ck := b.Cookie()
	if ck == nil {
		return persist{}
	}
	p := persist{ck: ck, server: srv.CookieValue(), ignore: ignored(s)}
	if v, ok := requestCookie(s, ck.Name); ok && p.server != "" {
		p.direct = string(cookieServer(ck, v)) == p.server
	}
	switch string(s.Method()) {
	case "POST":
		p.post = true
	case "GET", "HEAD", "OPTIONS", "TRACE":
		p.safe = true
	}
	return p
}

// forwardCookie is a request's Cookie field value v as the server gets it:
// in insert mode with indirect, without the cookie's pairs; in prefix mode,
// with the server's "VALUE~" taken off the cookie's value; else as it is.
// It returns nil when nothing is left of it.
func (p *persist) forwardCookie(v []byte) []byte {
	switch {
	case p.ck == nil:
		return v
	case p.ck.Mode == backend.CookieInsert && p.ck.Indirect:
		return withoutCookie(v, p.ck.Name)
	case p.ck.Mode == backend.CookiePrefix:
		return unprefixed(v, p.ck.Name)
	}
	return v
}

// withoutCookie is a Cookie field's value without the pairs of cookie
// name; nil when none is left.
func withoutCookie(v []byte, name string) []byte {
	var out []byte
	for len(v) > 0 {
		var pair []byte
		pair, v, _ = bytes.Cut(v, []byte(";"))
		pair = bytes.TrimSpace(pair)
		if k, _, _ := bytes.Cut(pair, []byte("=")); len(pair) == 0 || string(k) == name {
			continue
		}
		if len(out) > 0 {
			out = append(out, "; "...)
		}
		out = append(out, pair...)
	}
	return out
}

// unprefixed is a Cookie field's value with the "VALUE~" that starts the
// values of cookie name taken off, the rest as it came.
func unprefixed(v []byte, name string) []byte {
	var out []byte
	for rest := v; len(rest) > 0; {
		pair, next, more := bytes.Cut(rest, []byte(";"))
		k, val, ok := bytes.Cut(pair, []byte("="))
		if i := bytes.IndexByte(val, cookieDelim); ok && i >= 0 && string(bytes.TrimSpace(k)) == name {
			if out == nil {
				out = append(out, v[:len(v)-len(rest)]...)
			}
			out = append(append(append(out, k...), '='), val[i+1:]...)
		} else if out != nil {
			out = append(out, pair...)
		}
		if more && out != nil {
			out = append(out, ';')
		}
		rest = next
	}
	if out == nil {
		return v
	}
	return out
}

// begin starts the response head of status.
func (p *persist) begin(status int) {
	p.found, p.pragma, p.fresh, p.validator = false, false, false, false
	switch status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
		p.cacheable = p.safe
	default:
		p.cacheable = false
	}
}

// responseField passes one field of the server's response head on: a
// Set-Cookie of the cookie is dropped (insert mode, or a client whose
// cookie named its server with indirect) or gets the server's value
// (rewrite, prefix) unless preserve; what the cache fields say is noted.
// It returns the value to pass on (in *scratch when changed) and false
// when the field is dropped.
func (p *persist) responseField(name, value []byte, scratch *[]byte) ([]byte, bool) {
	if p.ck == nil {
		return value, true
	}
	switch {
	case http1.EqualFold(name, "pragma"):
		if http1.EqualFold(bytes.TrimSpace(value), "no-cache") {
			p.pragma = true
		}
	case http1.EqualFold(name, "cache-control"):
		p.cacheControl(value)
	case http1.EqualFold(name, "expires"):
		p.fresh = true
	case http1.EqualFold(name, "etag"), http1.EqualFold(name, "last-modified"):
		p.validator = true
	case http1.EqualFold(name, "set-cookie"):
		return p.setCookie(value, scratch)
	}
	return value, true
}

// cacheControl notes, as HAProxy does value by value, whether the
// cache-control values v let a cache keep the answer, and whether they
// give it a lifetime.
func (p *persist) cacheControl(v []byte) {
	for len(v) > 0 {
		var d []byte
		d, v, _ = bytes.Cut(v, []byte(","))
		d = bytes.TrimSpace(d)
		switch {
		case http1.EqualFold(d, "public"):
			p.cacheable = true
		case http1.EqualFold(d, "private"), http1.EqualFold(d, "no-cache"), http1.EqualFold(d, "no-store"),
			http1.EqualFold(d, "max-age=0"), http1.EqualFold(d, "s-maxage=0"):
			p.cacheable = false
		case hasPrefixFold(d, "max-age"), hasPrefixFold(d, "s-maxage"):
			p.fresh = true
		}
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && http1.EqualFold(b[:len(prefix)], prefix)
}

// keepable is HAProxy's judgement of whether a cache could keep the
// answer: a safe request, a status cacheable by default or cache-control:
// public, nothing forbidding it, and a lifetime or a validator.
func (p *persist) keepable() bool {
	return p.cacheable && !p.pragma && (p.fresh || p.validator)
}

// setCookie is responseField for a Set-Cookie value v.
func (p *persist) setCookie(v []byte, scratch *[]byte) ([]byte, bool) {
	pair, attrs, _ := bytes.Cut(v, []byte(";"))
	k, val, ok := bytes.Cut(pair, []byte("="))
	if !ok || string(bytes.TrimSpace(k)) != p.ck.Name {
		return v, true
	}
	ck := p.ck
	if p.ignore {
		return v, true
	}
	p.found = true
	switch {
	case ck.Preserve:
		return v, true
	case ck.Mode == backend.CookieInsert || (p.direct && ck.Indirect):
		return nil, false
	case p.server == "" || ck.Mode == backend.CookiePassive:
		return v, true
	}
	b := append(append((*scratch)[:0], ck.Name...), '=')
	b = append(b, p.server...)
	if ck.Mode == backend.CookiePrefix {
		b = append(append(b, cookieDelim), bytes.TrimSpace(val)...)
	}
	if len(attrs) > 0 || len(pair) < len(v) {
		b = append(append(b, ';'), attrs...)
	}
	*scratch = b
	return b, true
}

// addFields adds what the response gets in insert mode: the Set-Cookie
// that gives the client the cookie of its server (one that clears it for
// a server without a value), unless its cookie already named that server,
// the server set one that preserve keeps, or the request is not a POST
// with postonly; with nocache, cache-control: private when a cache could
// keep the answer.
func (p *persist) addFields(s *cgo.Stream) {
	ck := p.ck
	if ck == nil || p.ignore || ck.Mode != backend.CookieInsert || p.direct || (p.found && ck.Preserve) || (ck.PostOnly && !p.post) {
		return
	}
	b := append([]byte(ck.Name), '=')
	if p.server == "" {
		b = append(b, "; Expires=Thu, 01-Jan-1970 00:00:01 GMT"...)
	} else {
		b = append(b, p.server...)
	}
	b = append(b, "; path=/"...)
	for _, d := range ck.Domains {
		b = append(append(b, "; domain="...), d...)
	}
	if ck.HTTPOnly {
		b = append(b, "; HttpOnly"...)
	}
	if ck.Secure {
		b = append(b, "; Secure"...)
	}
	for _, a := range ck.Attrs {
		b = append(append(b, "; "...), a...)
	}
	s.AddRField([]byte("set-cookie"), b)
	if ck.NoCache && p.keepable() {
		s.AddRField([]byte("cache-control"), []byte("private"))
	}
}
