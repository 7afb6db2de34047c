package ws

// Header field lists (RFC 9110 §5.6.1) and extension parameters (RFC 6455
// §9.1), split without allocating.

// cut returns what comes before the first sep of v outside a quoted string,
// and what follows it; rest is nil when there is no sep.
func cut(v []byte, sep byte) (elem, rest []byte) {
	quoted, escaped := false, false
	for i, c := range v {
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return v[:i:i], v[i+1:]
		}
	}
	return v, nil
}

// nextElem returns the first element of a comma-separated list, OWS
// trimmed, and the rest after its comma. Both are nil when v is used up.
func nextElem(v []byte) (elem, rest []byte) {
	if v == nil {
		return nil, nil
	}
	elem, rest = cut(v, ',')
	return trimOWS(elem), rest
}

// hasToken reports whether the comma-separated list v has an element equal
// to token (lower case), case-insensitively.
func hasToken(v []byte, token string) bool {
	for e, rest := nextElem(v); e != nil; e, rest = nextElem(rest) {
		if equalFold(e, token) {
			return true
		}
	}
	return false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether a equals lower, which is in lower case, ASCII
// case-insensitively.
func equalFold(a []byte, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i, c := range a {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
