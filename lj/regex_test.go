package lj

import (
	"reflect"
	"strings"
	"testing"
)

func TestCompileRegex(t *testing.T) {
	re, err := compileRegex(`^/api/(v\d+)/`, true)
	if err != nil || !re.MatchString("/api/v2/x") || re.MatchString("/API/v2/x") {
		t.Fatalf("case-sensitive: %v", err)
	}
	re, err = compileRegex(`^/api/(v\d+)/`, false)
	if err != nil || !re.MatchString("/API/V2/x") {
		t.Fatalf("case-insensitive: %v", err)
	}
}

func TestRegexPCREOnly(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{`foo(?=bar)`, "lookahead (?=...)"},
		{`foo(?!bar)`, "negative lookahead"},
		{`(?<=a)b`, "lookbehind (?<=...)"},
		{`(?<!a)b`, "negative lookbehind"},
		{`(?>a+)b`, "an atomic group"},
		{`(a)\1`, `a backreference \1`},
		{`a*+b`, "a possessive quantifier *+"},
		{`a++`, "a possessive quantifier ++"},
		{`abc\Z`, `the escape \Z`},
		{`(a|(?R))`, "recursion"},
		{`(?(1)a|b)`, "a conditional"},
		{`a{2000}`, "a repeat count above 1000"},
		{"\xff", "not valid UTF-8"},
	} {
		_, err := compileRegex(tc.pattern, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "PCRE feature") {
			t.Errorf("%q: err = %v, want %q", tc.pattern, err, tc.want)
		}
	}
	// plain syntax errors are reported as such
	_, err := compileRegex(`a(b`, true)
	if err == nil || strings.Contains(err.Error(), "PCRE") || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("a(b: %v", err)
	}
	_, err = compileRegex(`a{3,2}`, true)
	if err == nil || strings.Contains(err.Error(), "PCRE") {
		t.Errorf("a{3,2}: %v", err)
	}
}

func TestSubmatches(t *testing.T) {
	re, _ := compileRegex(`needle (..) (...)`, true)
	if got := submatches(re, "Looking for a needle in the haystack"); !reflect.DeepEqual(got, []string{"needle in the", "in", "the"}) {
		t.Errorf("got %q", got)
	}
	if got := submatches(re, "no"); got != nil {
		t.Errorf("no match: %q", got)
	}
	// stops at the first group that did not take part
	re, _ = compileRegex(`(a)(x)?(b)`, true)
	if got := submatches(re, "ab"); !reflect.DeepEqual(got, []string{"ab", "a"}) {
		t.Errorf("optional group: %q", got)
	}
	// at most 20 strings
	re, _ = compileRegex(strings.Repeat("(.)", 25), true)
	if got := submatches(re, strings.Repeat("x", 25)); len(got) != maxCaptures {
		t.Errorf("%d captures", len(got))
	}
}

func TestRegexList(t *testing.T) {
	var rl regexList
	re, _ := compileRegex("a", true)
	id := rl.add(re)
	if rl.get(int64(id)) != re {
		t.Fatal("lookup")
	}
	rl.remove(int64(id))
	if rl.get(int64(id)) != nil || rl.live() != 0 {
		t.Fatal("not freed")
	}
	rl.remove(int64(id)) // twice is harmless
	if id2 := rl.add(re); id2 != id {
		t.Errorf("id %d not reused (%d)", id, id2)
	}
	if rl.get(-1) != nil || rl.get(1<<40) != nil {
		t.Error("out of range")
	}
}
