package lj

// Regular expressions for the Regex class, the regsub converter and _reg maps.
//
// HAProxy compiles its regexes with PCRE (or libc's regcomp); luaedge uses
// Go's regexp package, whose syntax is RE2's. Most patterns written for
// HAProxy mean the same in both: literals, classes ([a-z], \d, \w, \s),
// anchors ^ $ \b \A \z, groups, alternation, greedy and lazy quantifiers,
// bounded repeats, (?i) and the other inline flags, (?:...), (?P<n>...) and
// (?<n>...). Both pick the leftmost match and prefer the first alternative.
//
// What PCRE has and RE2 does not; such a pattern fails to compile (Regex.new
// returns false and a message naming the feature, a converter or Map.new
// raises it):
//   - backreferences inside the pattern: \1 .. \9, \g{n}, \k<name>
//     (back references in regsub's substitution string do work);
//   - lookahead and lookbehind: (?=...) (?!...) (?<=...) (?<!...);
//   - atomic groups (?>...) and possessive quantifiers *+ ++ ?+ {n,m}+;
//   - recursion and subroutine calls (?R) (?1) (?&name), conditionals
//     (?(cond)yes|no), callouts, (*VERB) controls such as (*UTF) or (*SKIP);
//   - the escapes \Z (end or before a final newline), \G, \K, \h, \H, \v,
//     \V, \R, \X, \C, \N and \e;
//   - repeat counts above 1000;
//   - patterns that are not valid UTF-8 (raw bytes above 0x7f); in a
//     pattern, \xHH means the character U+00HH (two bytes in UTF-8 above
//     0x7f), not the byte 0xHH.
// Differences in meaning for patterns that do compile:
//   - without (?m), $ matches only at the very end of the input; PCRE's $
//     also matches before a final "\n" (so "abc$" does not match "abc\n");
//   - the input is read as UTF-8: . and classes match one character, not one
//     byte, for valid multi-byte sequences (invalid bytes match one by one),
//     and (?i) folds Unicode letters; \d \w \s and \b stay ASCII as in PCRE;
//   - matching time is linear in the input: there is no catastrophic
//     backtracking, and no match limit error.

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/luaedge/luaedge/cgo"
)

// maxCaptures is how many strings Regex.match returns at most (the whole
// match and 19 groups), as HAProxy.
const maxCaptures = 20

// compileRegex compiles a pattern; on failure the message says which PCRE
// feature RE2 lacks when that is the cause.
func compileRegex(pattern string, caseSensitive bool) (*regexp.Regexp, error) {
	p := pattern
	if !caseSensitive {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err == nil {
		return re, nil
	}
	if why := pcreOnly(pattern, err); why != "" {
		return nil, fmt.Errorf("regex '%s': %s is a PCRE feature that luaedge's regexes (RE2 syntax) do not support", pattern, why)
	}
	msg := err.Error()
	if se, ok := err.(*syntax.Error); ok {
		msg = string(se.Code)
		if se.Expr != "" {
			msg += ": " + se.Expr
		}
	}
	return nil, fmt.Errorf("regex '%s': %s", pattern, msg)
}

// pcreOnly names the PCRE-only construct that made compilation fail, or
// returns "".
func pcreOnly(pattern string, err error) string {
	se, ok := err.(*syntax.Error)
	if !ok {
		return ""
	}
	switch se.Code {
	case syntax.ErrInvalidPerlOp, syntax.ErrMissingRepeatArgument, syntax.ErrInvalidNamedCapture, syntax.ErrMissingParen, syntax.ErrUnexpectedParen:
		for _, p := range []struct{ prefix, what string }{
			{"(?=", "lookahead (?=...)"},
			{"(?!", "negative lookahead (?!...)"},
			{"(?<=", "lookbehind (?<=...)"},
			{"(?<!", "negative lookbehind (?<!...)"},
			{"(?>", "an atomic group (?>...)"},
			{"(?|", "a branch reset group (?|...)"},
			{"(?R", "recursion (?R)"},
			{"(?(", "a conditional (?(cond)...)"},
			{"(?&", "a subroutine call (?&name)"},
			{"(?C", "a callout (?C)"},
			{"(?#", "a comment group (?#...)"},
			{"(*", "a (*VERB) control"},
		} {
			if strings.Contains(pattern, p.prefix) {
				return p.what
			}
		}
		for d := '0'; d <= '9'; d++ {
			if strings.Contains(pattern, "(?"+string(d)) || strings.Contains(pattern, "(?+"+string(d)) || strings.Contains(pattern, "(?-"+string(d)) {
				return "a subroutine call (?N)"
			}
		}
	case syntax.ErrInvalidEscape:
		e := se.Expr
		if len(e) >= 2 && e[0] == '\\' {
			switch c := e[1]; {
			case c >= '1' && c <= '9', c == 'g', c == 'k':
				return "a backreference " + e
			case strings.IndexByte("ZGKhHvVRXCNe", c) >= 0:
				return "the escape " + e
			}
		}
	case syntax.ErrInvalidRepeatOp:
		if strings.HasSuffix(se.Expr, "+") {
			return "a possessive quantifier " + se.Expr
		}
	case syntax.ErrInvalidRepeatSize:
		for _, f := range strings.FieldsFunc(se.Expr, func(r rune) bool { return r < '0' || r > '9' }) {
			if len(f) > 4 || len(f) == 4 && f > "1000" {
				return "a repeat count above 1000 (" + se.Expr + ")"
			}
		}
	case syntax.ErrInvalidUTF8:
		return "a pattern that is not valid UTF-8"
	}
	return ""
}

// MaxRegexes bounds the Regex objects one state holds at a time: each holds
// a compiled regex in Go memory, outside lua.memory_limit.
const MaxRegexes = 65536

// regexList is the Regex objects one state made with Regex.new, by id
// (binding.regexes). Ids are reused after regex_free (the Lua object's
// finalizer). A Lua object never leaves its state, so neither do ids; the
// list is used from the state's loop only and needs no lock.
type regexList struct {
	list []*regexp.Regexp
	free []int
}

func (r *regexList) add(re *regexp.Regexp) int {
	if n := len(r.free); n > 0 {
		id := r.free[n-1]
		r.free = r.free[:n-1]
		r.list[id] = re
		return id
	}
	r.list = append(r.list, re)
	return len(r.list) - 1
}

func (r *regexList) get(id int64) *regexp.Regexp {
	if id < 0 || id >= int64(len(r.list)) {
		return nil
	}
	return r.list[id]
}

func (r *regexList) remove(id int64) {
	if id < 0 || id >= int64(len(r.list)) || r.list[id] == nil {
		return
	}
	r.list[id] = nil
	r.free = append(r.free, int(id))
}

// live returns how many regexes are not freed.
func (r *regexList) live() int { return len(r.list) - len(r.free) }

// regexesOf returns the Regex objects of the state that made the gate call c.
func regexesOf(c *cgo.Call) *regexList {
	if b := bindingOf(c); b != nil {
		return &b.regexes
	}
	return nil
}

// submatches returns the strings Regex.match returns: the whole match then
// the groups, stopping at the first group that took no part in the match
// (as HAProxy does), at most maxCaptures; nil when nothing matches.
func submatches(re *regexp.Regexp, s string) []string {
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return nil
	}
	out := make([]string, 0, len(loc)/2)
	for i := 0; i+1 < len(loc) && len(out) < maxCaptures; i += 2 {
		if loc[i] < 0 {
			break
		}
		out = append(out, s[loc[i]:loc[i+1]])
	}
	return out
}

func init() {
	goFuncs["regex_new"] = cgo.RegisterGoFunc(goRegexNew)
	goFuncs["regex_exec"] = cgo.RegisterGoFunc(goRegexExec)
	goFuncs["regex_match"] = cgo.RegisterGoFunc(goRegexMatch)
	goFuncs["regex_free"] = cgo.RegisterGoFunc(goRegexFree)
}

// goRegexNew(pattern, case_sensitive) -> id | nil, err
func goRegexNew(c *cgo.Call) int {
	rl := regexesOf(c)
	if rl == nil {
		return c.Error(errNoShared)
	}
	if rl.live() >= MaxRegexes {
		return c.Error(fmt.Sprintf("Regex.new: this core holds %d regexes, luaedge's limit (lj.MaxRegexes)", MaxRegexes))
	}
	re, err := compileRegex(c.String(1), c.Bool(2))
	if err != nil {
		c.PushNil()
		c.PushString(err.Error())
		return 2
	}
	c.PushNumber(float64(rl.add(re)))
	return 1
}

// goRegexExec(id, str) -> boolean
func goRegexExec(c *cgo.Call) int {
	var re *regexp.Regexp
	if rl := regexesOf(c); rl != nil {
		re = rl.get(c.Int(1))
	}
	if re == nil {
		return c.Error("Regex: this regex was freed")
	}
	c.PushBool(re.MatchString(c.String(2)))
	return 1
}

// goRegexMatch(id, str) -> whole, group1, ... | nothing
// (At most maxCaptures results: the gate's stack guarantees 20 slots.)
func goRegexMatch(c *cgo.Call) int {
	var re *regexp.Regexp
	if rl := regexesOf(c); rl != nil {
		re = rl.get(c.Int(1))
	}
	if re == nil {
		return c.Error("Regex: this regex was freed")
	}
	m := submatches(re, c.String(2))
	for _, s := range m {
		c.PushString(s)
	}
	return len(m)
}

// goRegexFree(id)
func goRegexFree(c *cgo.Call) int {
	if rl := regexesOf(c); rl != nil {
		rl.remove(c.Int(1))
	}
	return 0
}
