package lj

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// syntaxErr matches LuaJIT's message for a chunk that does not parse:
// "file.lua:12: unexpected symbol near '/'" (the chunk name is the path).
var syntaxErr = regexp.MustCompile(`^(.*?):(\d+): .* near '([^']*)'`)

// lua53Operators are Lua 5.3's operators that LuaJIT (Lua 5.1) cannot
// parse, longest first, with what to write instead.
var lua53Operators = []struct{ op, what, instead string }{
	{"//", "integer division", "math.floor(a / b)"},
	{"<<", "the bitwise left shift", "bit.lshift(a, n)"},
	{">>", "the bitwise right shift", "bit.rshift(a, n)"},
	{"&", "the bitwise and", "bit.band(a, b)"},
	{"|", "the bitwise or", "bit.bor(a, b)"},
	{"~", "the bitwise xor or not", "bit.bxor(a, b) or bit.bnot(a)"},
}

// explainSyntax turns LuaJIT's syntax error on a Lua 5.3 operator into a
// message that says so: "app.lua:3: '//' (integer division) is Lua 5.3
// syntax, which LuaJIT does not parse; use math.floor(a / b)". Other
// errors are returned as they are.
func explainSyntax(err error, code []byte) error {
	m := syntaxErr.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	n, _ := strconv.Atoi(m[2])
	lines := strings.Split(string(code), "\n")
	if n < 1 || n > len(lines) {
		return err
	}
	line := codeOnly(lines[n-1])
	for _, o := range lua53Operators {
		i := strings.Index(line, o.op)
		if o.op == "~" {
			// "~=" is Lua 5.1's not-equal
			i = -1
			for j := 0; j < len(line); j++ {
				if line[j] == '~' && (j+1 == len(line) || line[j+1] != '=') {
					i = j
					break
				}
			}
		}
		if i >= 0 {
			return errors.New(m[1] + ":" + m[2] + ": '" + o.op + "' (" + o.what + ") is Lua 5.3 syntax, which LuaJIT does not parse; use " + o.instead + " (" + err.Error() + ")")
		}
	}
	return err
}

// codeOnly blanks the quoted strings of a line of Lua and cuts its
// comment, so that an operator found in what is left is code.
func codeOnly(line string) string {
	b := []byte(line)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"' || c == '\'':
			for i++; i < len(b) && b[i] != c; i++ {
				if b[i] == '\\' {
					b[i] = ' '
					i++
				}
				if i < len(b) {
					b[i] = ' '
				}
			}
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			return string(b[:i])
		}
	}
	return string(b)
}
