// Package httpchar holds the character classes of HTTP's grammar (RFC 9110
// §5.6.2 tokens, §5.5 field values, RFC 3986 hosts) as lookup tables, for
// the parsers of every HTTP version: they sit in their innermost loops.
// The tables are filled once when the program starts and only read after.
package httpchar

var (
	Token [256]bool // tchar
	Value [256]bool // field-vchar, SP, HTAB, obs-text
	Host  [256]bool // reg-name, IP-literal and port characters
)

func init() {
	for c := '0'; c <= '9'; c++ {
		Token[c] = true
		Host[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		Token[c], Token[c-'a'+'A'] = true, true
		Host[c], Host[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		Token[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=%:[]" {
		Host[c] = true
	}
	Value['\t'] = true
	for c := 0x20; c < 0x7f; c++ {
		Value[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		Value[c] = true
	}
}
