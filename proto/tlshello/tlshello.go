// Package tlshello reads what HAProxy's req.ssl_* sample fetches read in
// the first bytes a client sends: the type of a TLS handshake message,
// the protocol version of an SSL/TLS hello, and the server name, ALPN
// names, elliptic curves and session ticket extensions of a ClientHello.
//
// Each function takes the bytes received so far and says whether they
// give an answer (OK), cannot give one whatever follows (No), or are too
// few yet (Short: HAProxy's SMP_F_MAY_CHANGE, the rules wait for more).
// The checks are HAProxy 2.6's, so that a configuration routes the same
// clients the same way; they never read past b. Nothing is allocated but
// the ALPN list.
package tlshello

// Status is what the bytes so far say about a fetch.
type Status int

const (
	OK    Status = iota // the value is known
	Short               // more bytes may give a value
	No                  // no value, whatever follows
)

// BufSize is HAProxy's default buffer size (tune.bufsize); RecvLimit, how
// much of it a channel fills (the buffer less tune.maxrewrite): a message
// announced as longer than that is taken as complete when the buffer is.
const (
	BufSize   = 16384
	RecvLimit = BufSize - 1024
)

func u16(b []byte) int { return int(b[0])<<8 | int(b[1]) }
func u24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

// HelloType is req.ssl_hello_type: the handshake type of the first
// record (1: ClientHello), once its whole first handshake message is in.
// Any record type from 20 to 23, or 255, is read as HAProxy does.
func HelloType(b []byte) (int, Status) {
	if len(b) == 0 {
		return 0, Short
	}
	if (b[0] < 0x14 || b[0] > 0x17) && b[0] != 0xff {
		return 0, No
	}
	if len(b) < 9 {
		return 0, Short
	}
	if u16(b[1:]) < 0x0300 || u16(b[3:]) < 4 {
		return 0, No
	}
	if len(b) < 9+u24(b[6:]) {
		return 0, Short
	}
	return int(b[5]), OK
}

// Version is req.ssl_ver: the version a ClientHello asks for, as
// major<<16 | minor (0x30003 for TLS 1.2), from an SSLv3-style record
// (the version inside the hello, not the record's) or an SSLv2 hello,
// once the record is in (or the buffer's receive limit).
func Version(b []byte) (int, Status) {
	if len(b) == 0 {
		return 0, Short
	}
	var version, msgLen, at int
	if (b[0] >= 0x14 && b[0] <= 0x17) || b[0] == 0xff {
		if len(b) < 11 {
			return 0, Short
		}
		msgLen = u16(b[3:])
		if int(b[1])<<16|int(b[2]) < 0x30000 || msgLen < 6 || msgLen > 1<<14+2048 {
			return 0, No
		}
		at = 5
		version = int(b[9])<<16 | int(b[10])
	} else {
		var rlen, plen int
		if b[0]&0x80 != 0 {
			if len(b) < 3 {
				return 0, Short
			}
			rlen, at = int(b[0]&0x7f)<<8|int(b[1]), 2
		} else {
			if len(b) < 4 {
				return 0, Short
			}
			rlen, plen, at = int(b[0]&0x3f)<<8|int(b[1]), int(b[2]), 3
		}
		if b[at] != 0x01 {
			return 0, No
		}
		at++
		if len(b) < at+8 {
			return 0, Short
		}
		h := b[at:]
		cilen, silen, chlen := u16(h[2:]), u16(h[4:]), u16(h[6:])
		if cilen%3 != 0 || (silen != 0 && silen != 16) || chlen < 16 || chlen > 32 || rlen != 9+cilen+silen+chlen {
			return 0, No
		}
		version = int(h[0])<<16 | int(h[1])
		at += 8
		msgLen = cilen + silen + chlen + plen
	}
	msgLen = min(msgLen, RecvLimit-at)
	if len(b)-at < msgLen {
		return 0, Short
	}
	return version, OK
}

// extensions returns the extensions block of a complete ClientHello at
// the start of b, after HAProxy's checks of what comes before it.
// HAProxy waits for as many bytes after the record header as the hello's
// body announces, and reads the last four from beyond them if it must;
// here the whole message must be in (at most four bytes more).
func extensions(b []byte) ([]byte, Status) {
	if len(b) == 0 {
		return nil, Short
	}
	if b[0] != 0x16 {
		return nil, No
	}
	if len(b) < 3 {
		return nil, Short
	}
	if b[1] < 3 {
		return nil, No
	}
	if len(b) < 5 {
		return nil, Short
	}
	if u16(b[3:]) < 1+3+2+32+1+2+2+1+1+2+2 {
		return nil, No
	}
	b = b[5:]
	if len(b) < 1 {
		return nil, Short
	}
	if b[0] != 0x01 {
		return nil, No
	}
	if len(b) < 4 {
		return nil, Short
	}
	n := u24(b[1:])
	if n < 2+32+1+2+2+1+1+2+2 {
		return nil, No
	}
	if len(b) < 4+n {
		return nil, Short
	}
	h := b[4 : 4+n]
	if h[0] < 3 || h[1] < 1 {
		return nil, No
	}
	sid := int(h[34])
	if sid > 32 || sid > n-35 {
		return nil, No
	}
	h = h[35+sid:]
	if len(h) < 4 {
		return nil, No
	}
	// HAProxy lets a length reach past what is left by up to its own
	// size, then finds too little left: No either way.
	if cs := u16(h); cs < 2 || cs > len(h)-2 {
		return nil, No
	} else {
		h = h[2+cs:]
	}
	if len(h) < 2 || h[0] < 1 || int(h[0]) > len(h)-1 {
		return nil, No
	}
	h = h[1+int(h[0]):]
	if len(h) < 2 {
		return nil, No
	}
	if el := u16(h); el > len(h)-2 {
		return nil, No
	} else {
		return h[2 : 2+el], OK
	}
}

// walk calls fn on each extension of a complete ClientHello in b, in
// order, until fn says it is done (found), with the status fn gives. An
// extension longer than what is left ends the walk with No; the end of
// the extensions, with OK and not found.
func walk(b []byte, fn func(typ int, data []byte) (done bool, st Status)) (st Status, found bool) {
	ext, st := extensions(b)
	if st != OK {
		return st, false
	}
	for len(ext) >= 4 {
		typ, n := u16(ext), u16(ext[2:])
		if n > len(ext)-4 {
			return No, false
		}
		if done, st := fn(typ, ext[4:4+n]); done {
			return st, true
		}
		ext = ext[4+n:]
	}
	return OK, false
}

// orNo is the status of a fetch that has no value when the extension it
// reads is missing.
func orNo(st Status, found bool) Status {
	if st == OK && !found {
		return No
	}
	return st
}

// SNI is req.ssl_sni: the first host name of the server name extension.
// HAProxy bounds the name list by the extensions left and not the name
// by anything; here a list or name that runs past its extension is no
// name.
func SNI(b []byte) (string, Status) {
	var name string
	st := orNo(walk(b, func(typ int, d []byte) (bool, Status) {
		if typ != 0 {
			return false, OK
		}
		if len(d) < 5 {
			return true, No
		}
		if l := u16(d); l < 4 || l > len(d)-2 {
			return true, No
		}
		if d[2] != 0 {
			return false, OK // not a host name: the next extension
		}
		n := u16(d[3:])
		if 5+n > len(d) {
			return true, No
		}
		name = string(d[5 : 5+n])
		return true, OK
	}))
	return name, st
}

// ALPN is req.ssl_alpn: the protocol names of the ALPN extension, in the
// client's order, read as HAProxy does (without the list's length), up
// to the first that does not fit.
func ALPN(b []byte) ([]string, Status) {
	var names []string
	st := orNo(walk(b, func(typ int, d []byte) (bool, Status) {
		if typ != 16 {
			return false, OK
		}
		if len(d) < 3 {
			return true, No
		}
		for at := 2; at < len(d); {
			n := int(d[at])
			if at+1+n > len(d) {
				break
			}
			names = append(names, string(d[at+1:at+1+n]))
			at += 1 + n
		}
		if len(names) == 0 {
			return true, No
		}
		return true, OK
	}))
	return names, st
}

// ECExt is req.ssl_ec_ext: OK when the ClientHello has the supported
// groups (elliptic curves) extension; No when it has not, as HAProxy
// gives no sample then.
func ECExt(b []byte) Status {
	return orNo(walk(b, func(typ int, _ []byte) (bool, Status) {
		return typ == 10, OK
	}))
}

// SessionTicket is req.ssl_st_ext: 0 without the session ticket
// extension, 1 with it empty, 2 with a ticket.
func SessionTicket(b []byte) (int, Status) {
	v := 0
	st, _ := walk(b, func(typ int, d []byte) (bool, Status) {
		if typ != 35 {
			return false, OK
		}
		v = 1
		if len(d) > 0 {
			v = 2
		}
		return true, OK
	})
	return v, st
}
