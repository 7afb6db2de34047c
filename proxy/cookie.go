package proxy

import (
	"bytes"
	"strings"

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
	server string      // the cookie value of the server that took the request ("": it has none)
	direct bool        // the request's cookie named that server
	post   bool        // the request is a POST (postonly)
	safe   bool        // GET, HEAD, OPTIONS or TRACE: a cache could keep the answer (nocache)
	ignore bool        // an ignore-persist rule held: the server's Set-Cookie is left alone, none is inserted
	dates  cookieDates // of the request's cookie (none when it expired)
	now    int64       // Unix seconds when the request was sent, for the dates inserted

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

// cookieDateDelim separates the server's value from the cookie's dates.
const cookieDateDelim = '|'

// cookieDates are the dates a cookie's value carries after the server's,
// "VALUE|LAST|FIRST" as HAProxy writes them with maxidle and maxlife:
// when it was last refreshed and first given, in Unix seconds (multiples
// of 4); 0: none.
type cookieDates struct{ last, first int64 }

// cookieServer is the part of a request's cookie value v that names the
// server (in prefix mode what comes before '~'; in the others what comes
// before '|'), and the dates after it, as HAProxy reads them. A cookie
// whose dates say it is too old for ck's maxlife or idle longer than its
// maxidle, or dated more than a day ahead of now (Unix seconds), names no
// server and has no dates, as if it were not there.
func cookieServer(ck *backend.Cookie, v []byte, now int64) ([]byte, cookieDates) {
	if ck.Mode == backend.CookiePrefix {
		if i := bytes.IndexByte(v, cookieDelim); i >= 0 {
			return v[:i], cookieDates{}
		}
		return v, cookieDates{}
	}
	i := bytes.IndexByte(v, cookieDateDelim)
	if i < 0 {
		return v, cookieDates{}
	}
	srv, rest := v[:i], v[i+1:]
	var d cookieDates
	if len(rest) >= 5 {
		if n := b64tos30(rest[:5]); n > 0 {
			d.last = n << 2
		}
	}
	if j := bytes.IndexByte(rest, cookieDateDelim); j >= 0 && len(rest)-j > 5 {
		if n := b64tos30(rest[j+1 : j+6]); n > 0 {
			d.first = n << 2
		}
	}
	const day = 86400
	maxLife, maxIdle := int64(ck.MaxLife.Seconds()), int64(ck.MaxIdle.Seconds())
	if (d.first != 0 && maxLife > 0 && (now-d.first > maxLife || d.first-now > day)) ||
		(d.last != 0 && maxIdle > 0 && (now-d.last > maxIdle || d.last-now > day)) {
		return nil, cookieDates{}
	}
	return srv, d
}

// b64chars is the alphabet of the cookie's dates: base64's.
const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// b64tos30 decodes five characters of b64chars into the 30-bit number
// they write; -1 for any other character.
func b64tos30(b []byte) int64 {
	var n int64
	for _, c := range b[:5] {
		i := strings.IndexByte(b64chars, c)
		if i < 0 {
			return -1
		}
		n = n<<6 | int64(i)
	}
	return n
}

// appendS30 appends the five characters of b64chars that write n's low
// 30 bits.
func appendS30(b []byte, n int64) []byte {
	for i := 24; i >= 0; i -= 6 {
		b = append(b, b64chars[(n>>i)&0x3f])
	}
	return b
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
// b, at now (Unix seconds).
func persistenceOf(s *cgo.Stream, b *Backend, srv *backend.Server, now int64) persist {
	ck := b.Cookie()
	if ck == nil {
		return persist{}
	}
	p := persist{ck: ck, server: srv.CookieValue(), ignore: ignored(s), now: now}
	if v, ok := requestCookie(s, ck.Name); ok && !p.ignore {
		var named []byte
		named, p.dates = cookieServer(ck, v, now)
		p.direct = p.server != "" && string(named) == p.server
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
// a server without a value), unless its cookie already named that server
// and its dates need no change, the server set one that preserve keeps,
// or the request is not a POST with postonly; with nocache,
// cache-control: private when a cache could keep the answer.
func (p *persist) addFields(s *cgo.Stream) {
	ck := p.ck
	if ck == nil || p.ignore || ck.Mode != backend.CookieInsert || (p.found && ck.Preserve) || (ck.PostOnly && !p.post) {
		return
	}
	// As HAProxy: a cookie that named the server is given again once its
	// last date passed (HAProxy dates it up to 4 s ahead), or to add or
	// drop its first date as maxlife wants.
	d := p.dates
	if p.direct && !(((ck.MaxIdle > 0 || d.last != 0) && (d.last == 0 || d.last < p.now)) ||
		(ck.MaxLife > 0 && d.first == 0) || (ck.MaxLife == 0 && d.first != 0)) {
		return
	}
	b := append([]byte(ck.Name), '=')
	if p.server == "" {
		b = append(b, "; Expires=Thu, 01-Jan-1970 00:00:01 GMT"...)
	} else {
		b = append(b, p.server...)
		if ck.MaxIdle > 0 || ck.MaxLife > 0 {
			// The dates in 4-second units, rounded up.
			b = appendS30(append(b, cookieDateDelim), (p.now+3)>>2)
			if ck.MaxLife > 0 {
				first := (p.now + 3) >> 2
				if d.first != 0 {
					first = d.first >> 2
				}
				b = appendS30(append(b, cookieDateDelim), first)
			}
		}
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
