package lj

// The Go halves of the HAProxy converters (lj/lua/converters.lua): the ones
// that hash, encode, escape, match regexes or parse addresses. The trivial
// string converters are pure Lua. Semantics follow HAProxy 2.6's
// doc/configuration.txt, section 7.3.1.

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/luaedge/luaedge/cgo"
)

// base64Dec decodes standard base64 with its padding, refusing anything else
// (line breaks included), as HAProxy's b64dec.
func base64Dec(s string) (string, bool) {
	if len(s)%4 != 0 || strings.ContainsAny(s, "\r\n") {
		return "", false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// base64URLDec decodes base64url, with or without padding (ub64dec).
func base64URLDec(s string) (string, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", false
	}
	return string(b), true
}

// fullHash is the avalanche applied by the hash converters when their
// argument is non-zero: Bob Jenkins' 32-bit integer hash ("6-shift"
// variant), then a multiplication by the prime 3221225473, as HAProxy.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

// djb2: h = h*33 + c from 5381.
func hashDJB2(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h*33 + uint32(s[i])
	}
	return h
}

// sdbm: h = c + h*65599.
func hashSDBM(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = uint32(s[i]) + h<<6 + h<<16 - h
	}
	return h
}

// wt6: the hash HAProxy uses for "hash-type ... wt6".
func hashWT6(s string) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	r0, r1 := uint32(6), uint32(18)
	rotl := func(x, n uint32) uint32 { return x<<n | x>>(32-n) }
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		h0 = ^(h0 ^ c)
		h1 = ^(h1 + c)
		h0, h1 = rotl(h1, r0), rotl(h0, r1)
		t := (h0>>16 ^ h1) & 0xffff
		r0, r1 = t&0x1f, t>>11
	}
	return h0 ^ h1
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hashString computes one of the 32-bit hash converters.
func hashString(alg, s string, avalanche bool) (uint32, bool) {
	var h uint32
	switch alg {
	case "crc32":
		h = crc32.ChecksumIEEE([]byte(s))
	case "crc32c":
		h = crc32.Checksum([]byte(s), castagnoli)
	case "djb2":
		h = hashDJB2(s)
	case "sdbm":
		h = hashSDBM(s)
	case "wt6":
		h = hashWT6(s)
	default:
		return 0, false
	}
	if avalanche {
		h = fullHash(h)
	}
	return h, true
}

// digests are the message digests of the digest and hmac converters, by
// their OpenSSL names.
var digests = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// hmacSum is the hmac converter: the MAC of s with key, by digest alg.
func hmacSum(alg, key, s string) (string, bool) {
	h, ok := digests[alg]
	if !ok {
		return "", false
	}
	m := hmac.New(h, []byte(key))
	m.Write([]byte(s))
	return string(m.Sum(nil)), true
}

// digest returns the binary digest of s (digests' algorithms).
func digest(alg, s string) (string, bool) {
	h, ok := digests[alg]
	if !ok {
		return "", false
	}
	d := h()
	d.Write([]byte(s))
	return string(d.Sum(nil)), true
}

// UTF-8 decoding results for the json converter, as HAProxy reports them.
const (
	utf8OK       = 0
	utf8BadSeq   = 1
	utf8Overlong = 2
	utf8InvRange = 4
)

// utf8Next decodes the sequence at the start of s: its code point, the bytes
// it takes and the problems found. Unlike unicode/utf8 it decodes the old 5
// and 6 byte forms and overlong forms, so that the json converter can fix or
// drop them as HAProxy does.
func utf8Next(s string) (cp uint32, n int, code int) {
	b := s[0]
	var need int
	switch {
	case b < 0x80:
		return uint32(b), 1, utf8OK
	case b < 0xc0:
		return uint32(b), 1, utf8BadSeq
	case b < 0xe0:
		cp, need = uint32(b&0x1f), 1
	case b < 0xf0:
		cp, need = uint32(b&0x0f), 2
	case b < 0xf8:
		cp, need = uint32(b&0x07), 3
	case b < 0xfc:
		cp, need = uint32(b&0x03), 4
	case b < 0xfe:
		cp, need = uint32(b&0x01), 5
	default:
		return uint32(b), 1, utf8BadSeq
	}
	if len(s) < need+1 {
		return uint32(b), 1, utf8BadSeq
	}
	n = 1
	for ; need > 0; need-- {
		if s[n]&0xc0 != 0x80 {
			return cp, n, utf8BadSeq
		}
		cp = cp<<6 | uint32(s[n]&0x3f)
		n++
	}
	if cp <= 0x7f && n > 1 || cp >= 0x80 && cp <= 0x7ff && n > 2 ||
		cp >= 0x800 && cp <= 0xffff && n > 3 || cp >= 0x10000 && cp <= 0x1fffff && n > 4 {
		code |= utf8Overlong
	}
	if cp >= 0xd800 && cp <= 0xdfff || cp >= 0xfffe && cp <= 0xffff {
		code |= utf8InvRange
	}
	return cp, n, code
}

// jsonEscape is the json converter: mode "" or "ascii" reads bytes, the utf8
// modes decode UTF-8 ("s": drop what is wrong instead of failing, "p":
// accept overlong forms). Characters above U+FFFF cannot be written as one
// \uXXXX escape: they fail, or are dropped by the "s" modes.
func jsonEscape(s, mode string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	utf, silent, permissive := mode != "ascii", strings.HasSuffix(mode, "s"), strings.HasPrefix(mode, "utf8p")
	for i := 0; i < len(s); {
		var c uint32
		if !utf {
			c = uint32(s[i])
			i++
		} else {
			cp, n, code := utf8Next(s[i:])
			i += n
			bad := code != utf8OK
			if permissive {
				bad = code&(utf8BadSeq|utf8InvRange) != 0
			}
			if bad || cp > 0xffff {
				if silent {
					continue
				}
				return "", false
			}
			c = cp
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c > 0x7e {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(byte(c))
			}
		}
	}
	return b.String(), true
}

// The regexes of regsub, compiled once per (pattern, case): converter
// arguments are nearly always constants. The cache stops growing at
// maxRegsubCache entries; later patterns are compiled on each call. It is
// process-wide on purpose: a compiled regexp depends on its pattern only,
// so the cache holds nothing of any server or generation.
const maxRegsubCache = 4096

var (
	regsubCache sync.Map // regsubKey -> *regexp.Regexp
	regsubCount atomic.Int64
)

type regsubKey struct {
	pattern string
	icase   bool
}

func regsubRegex(pattern string, icase bool) (*regexp.Regexp, error) {
	k := regsubKey{pattern, icase}
	if re, ok := regsubCache.Load(k); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := compileRegex(pattern, !icase)
	if err != nil {
		return nil, err
	}
	if regsubCount.Load() < maxRegsubCache {
		if _, loaded := regsubCache.LoadOrStore(k, re); !loaded {
			regsubCount.Add(1)
		}
	}
	return re, nil
}

// expandSubst appends subst to b with \0..\9 replaced by the groups of the
// match m (a group that did not match gives nothing), \xHH by that byte and
// \c by c.
func expandSubst(b *strings.Builder, subst, s string, m []int) {
	for i := 0; i < len(subst); i++ {
		c := subst[i]
		if c != '\\' || i+1 == len(subst) {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		c = subst[i]
		switch {
		case c >= '0' && c <= '9':
			g := int(c-'0') * 2
			if g+1 < len(m) && m[g] >= 0 {
				b.WriteString(s[m[g]:m[g+1]])
			}
		case c == 'x' && i+2 < len(subst) && isHex(subst[i+1]) && isHex(subst[i+2]):
			v, _ := strconv.ParseUint(subst[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// regsub replaces the first match of re in s (every match with global) by
// subst. Global matches are Go's successive non-overlapping matches; an
// empty match right after a match is skipped.
func regsub(s string, re *regexp.Regexp, subst string, global bool) string {
	var ms [][]int
	if global {
		ms = re.FindAllStringSubmatchIndex(s, -1)
	} else if m := re.FindStringSubmatchIndex(s); m != nil {
		ms = [][]int{m}
	}
	if ms == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for _, m := range ms {
		b.WriteString(s[pos:m[0]])
		expandSubst(&b, subst, s, m)
		pos = m[1]
	}
	b.WriteString(s[pos:])
	return b.String()
}

// ipmask applies mask4 to an IPv4 address, or mask6 to an IPv6 one (an
// IPv4-mapped IPv6 address counts as IPv4). ok is false when the input is
// IPv6 and there is no mask6 (the converter fails, as in HAProxy).
func ipmask(in ipNet, mask4 uint32, mask6 *[16]byte) (string, bool) {
	if in.is6 && in.v6[0]|in.v6[1]|in.v6[2]|in.v6[3]|in.v6[4]|in.v6[5]|in.v6[6]|in.v6[7]|in.v6[8]|in.v6[9] == 0 && in.v6[10]&in.v6[11] == 0xff {
		in = ipNet{v4: uint32(in.v6[12])<<24 | uint32(in.v6[13])<<16 | uint32(in.v6[14])<<8 | uint32(in.v6[15])}
	}
	if !in.is6 {
		v := in.v4 & mask4
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), true
	}
	if mask6 == nil {
		return "", false
	}
	a := in.v6
	for i := range a {
		a[i] &= mask6[i]
	}
	return netip.AddrFrom16(a).String(), true
}

func init() {
	goFuncs["conv_base64"] = cgo.RegisterGoFunc(goConvBase64)
	goFuncs["conv_hash"] = cgo.RegisterGoFunc(goConvHash)
	goFuncs["conv_digest"] = cgo.RegisterGoFunc(goConvDigest)
	goFuncs["conv_hmac"] = cgo.RegisterGoFunc(goConvHMAC)
	goFuncs["conv_json_query"] = cgo.RegisterGoFunc(goConvJSONQuery)
	goFuncs["conv_json"] = cgo.RegisterGoFunc(goConvJSON)
	goFuncs["conv_regsub"] = cgo.RegisterGoFunc(goConvRegsub)
	goFuncs["conv_ipmask"] = cgo.RegisterGoFunc(goConvIPMask)
}

// goConvBase64(op, str) -> str | nil; op: "enc", "dec", "uenc", "udec".
func goConvBase64(c *cgo.Call) int {
	s := c.String(2)
	var out string
	ok := true
	switch c.String(1) {
	case "enc":
		out = base64.StdEncoding.EncodeToString([]byte(s))
	case "uenc":
		out = base64.RawURLEncoding.EncodeToString([]byte(s))
	case "dec":
		out, ok = base64Dec(s)
	case "udec":
		out, ok = base64URLDec(s)
	default:
		return c.Error("conv_base64: unknown operation")
	}
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushString(out)
	return 1
}

// goConvHash(alg, str, avalanche) -> number
func goConvHash(c *cgo.Call) int {
	h, ok := hashString(c.String(1), c.String(2), c.Int(3) != 0)
	if !ok {
		return c.Error("conv_hash: unknown hash " + c.String(1))
	}
	c.PushNumber(float64(h))
	return 1
}

// goConvDigest(alg, str) -> binary string
func goConvDigest(c *cgo.Call) int {
	d, ok := digest(c.String(1), c.String(2))
	if !ok {
		return c.Error("conv_digest: unknown digest " + c.String(1))
	}
	c.PushString(d)
	return 1
}

// goConvHMAC(alg, key, str) -> binary string
func goConvHMAC(c *cgo.Call) int {
	d, ok := hmacSum(c.String(1), c.String(2), c.String(3))
	if !ok {
		return c.Error("conv_hmac: unknown digest " + c.String(1))
	}
	c.PushString(d)
	return 1
}

// jsonPath splits a JSON path of json_query ("$.a.b[2]['c d']") into
// object keys (strings) and array indexes (ints).
func jsonPath(p string) ([]any, bool) {
	if !strings.HasPrefix(p, "$") {
		return nil, false
	}
	var steps []any
	for i := 1; i < len(p); {
		switch {
		case p[i] == '.':
			// A key runs to the next '.' or '['; "\." is a dot in it.
			var key strings.Builder
			j := i + 1
			for ; j < len(p) && p[j] != '.' && p[j] != '['; j++ {
				if p[j] == '\\' && j+1 < len(p) {
					j++
				}
				key.WriteByte(p[j])
			}
			if key.Len() == 0 {
				return nil, false
			}
			steps, i = append(steps, key.String()), j
		case p[i] == '[' && i+1 < len(p) && (p[i+1] == '\'' || p[i+1] == '"'):
			end := strings.IndexByte(p[i+2:], p[i+1])
			if end < 0 || i+2+end+1 >= len(p) || p[i+2+end+1] != ']' {
				return nil, false
			}
			steps, i = append(steps, p[i+2:i+2+end]), i+2+end+2
		case p[i] == '[':
			end := strings.IndexByte(p[i:], ']')
			n, err := strconv.Atoi(p[i+1 : i+max(end, 1)])
			if end < 0 || err != nil || n < 0 {
				return nil, false
			}
			steps, i = append(steps, n), i+end+1
		default:
			return nil, false
		}
	}
	return steps, true
}

// jsonQuery finds path in the JSON document doc: a string, a json.Number,
// a bool; nil for nothing, or for null, an array or an object (which
// json_query cannot give either).
func jsonQuery(doc, path string) any {
	steps, ok := jsonPath(path)
	if !ok {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	for _, st := range steps {
		switch k := st.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	switch v.(type) {
	case string, json.Number, bool:
		return v
	}
	return nil
}

// jsonIntMax bounds the integers json_query gives, as HAProxy's (2^53-1).
const jsonIntMax = 1<<53 - 1

// goConvJSONQuery(doc, path, as_int) -> str | number | bool | nil: a
// number is written as C's %g, or with as_int read as its leading integer.
func goConvJSONQuery(c *cgo.Call) int {
	switch v := jsonQuery(c.String(1), c.String(2)).(type) {
	case string:
		c.PushString(v)
	case bool:
		c.PushBool(v)
	case json.Number:
		if c.Int(3) != 0 {
			lead := v.String()
			if i := strings.IndexAny(lead, ".eE"); i >= 0 {
				lead = lead[:i]
			}
			n, err := strconv.ParseInt(lead, 10, 64)
			if err != nil || n < -jsonIntMax || n > jsonIntMax {
				c.PushNil()
				return 1
			}
			c.PushNumber(float64(n))
			return 1
		}
		f, err := v.Float64()
		if err != nil {
			c.PushNil()
			return 1
		}
		c.PushString(strconv.FormatFloat(f, 'g', 6, 64))
	default:
		c.PushNil()
	}
	return 1
}

// goConvJSON(str, mode) -> str | nil
func goConvJSON(c *cgo.Call) int {
	out, ok := jsonEscape(c.String(1), c.String(2))
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushString(out)
	return 1
}

// goConvRegsub(str, regex, subst, flags) -> str | nil, err
func goConvRegsub(c *cgo.Call) int {
	flags := c.String(4)
	icase, global := false, false
	for i := 0; i < len(flags); i++ {
		switch flags[i] {
		case 'i':
			icase = true
		case 'g':
			global = true
		default:
			c.PushNil()
			c.PushString(fmt.Sprintf("invalid regex flag '%c', only 'i' and 'g' are supported", flags[i]))
			return 2
		}
	}
	re, err := regsubRegex(c.String(2), icase)
	if err != nil {
		c.PushNil()
		c.PushString(err.Error())
		return 2
	}
	c.PushString(regsub(c.String(1), re, c.String(3), global))
	return 1
}

// goConvIPMask(addr, mask4[, mask6]) -> str | nil (no result) | nil, err
// addr is a string, or a number taken as an IPv4 address in host order;
// masks are bit counts (numbers) or strings (bits, dotted, ffff:: form).
func goConvIPMask(c *cgo.Call) int {
	fail := func(msg string) int {
		c.PushNil()
		c.PushString(msg)
		return 2
	}
	var in ipNet
	if c.Type(1) == cgo.TypeNumber {
		in = ipNet{v4: uint32(c.Int(1))}
	} else {
		var ok bool
		if in, ok = parseAddr(c.String(1)); !ok {
			// Not an address: the converter fails (HAProxy raises a
			// casting error; a bad header should not kill the request).
			c.PushNil()
			return 1
		}
	}
	// A number converts to its decimal string: a bit count.
	m4, ok := parseMask4(c.String(2))
	if !ok {
		return fail(fmt.Sprintf("bad argument #2 to converter 'ipmask' (mask4: '%s' is not a valid IPv4 mask)", c.String(2)))
	}
	var m6 *[16]byte
	if !c.IsNoneOrNil(3) {
		m, ok := parseMask6(c.String(3))
		if !ok {
			return fail(fmt.Sprintf("bad argument #3 to converter 'ipmask' (mask6: '%s' is not a valid IPv6 mask)", c.String(3)))
		}
		m6 = &m
	}
	out, ok := ipmask(in, m4, m6)
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushString(out)
	return 1
}
