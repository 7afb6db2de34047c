package lj

import (
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/luaedge/luaedge/cgo"
)

func init() {
	goFuncs["rep_value"] = cgo.RegisterGoFunc(goRepValue)
}

// repRegexps caches the patterns of HTTP:req_rep_header and friends, which
// scripts pass as strings on every call. It is process-wide on purpose: it
// holds nothing of any server (a compiled regexp depends on its pattern
// only, and is safe for concurrent use) and is bounded (maxRepRegexps).
var repRegexps sync.Map // pattern -> *regexp.Regexp

// goRepValue(value, regex, replace) -> new value, or nil when regex does not
// match: HAProxy's replace-header, where the whole value becomes replace
// with \1..\9 standing for the captures.
func goRepValue(c *cgo.Call) int {
	value, pattern, replace := c.String(1), c.String(2), c.String(3)
	re, err := compileCached(pattern)
	if err != nil {
		return c.Error(err.Error())
	}
	m := re.FindStringSubmatchIndex(value)
	if m == nil {
		c.PushNil()
		return 1
	}
	c.PushString(string(expandBackrefs(nil, replace, value, m)))
	return 1
}

// maxRepRegexps bounds repRegexps: scripts that build patterns per request
// must not grow it without end.
const maxRepRegexps = 4096

var repRegexpCount atomic.Int64

func compileCached(pattern string) (*regexp.Regexp, error) {
	if re, ok := repRegexps.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := compileRegex(pattern, true)
	if err != nil {
		return nil, err
	}
	if repRegexpCount.Add(1) <= maxRepRegexps {
		repRegexps.Store(pattern, re)
	}
	return re, nil
}

// expandBackrefs appends template to dst with \0..\9 replaced by the
// submatches of src at m; "\\" is a backslash.
func expandBackrefs(dst []byte, template, src string, m []int) []byte {
	for i := 0; i < len(template); i++ {
		c := template[i]
		if c != '\\' || i+1 == len(template) {
			dst = append(dst, c)
			continue
		}
		n := template[i+1]
		switch {
		case n >= '0' && n <= '9':
			k := int(n - '0')
			if 2*k+1 < len(m) && m[2*k] >= 0 {
				dst = append(dst, src[m[2*k]:m[2*k+1]]...)
			}
			i++
		case n == '\\':
			dst = append(dst, '\\')
			i++
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
