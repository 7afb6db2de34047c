package accesslog

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format turns records into lines. It is compiled once, from the
// configuration, and shared read-only by every loop.
type Format struct {
	parts []part
	json  bool
	// cause: the line ends with the error's cause, quoted, when the
	// exchange ended in one (the default formats).
	cause bool
	// conns: the format logs connection counts (%ac %fc %bc %sc),
	// which the record then carries (Record.Conns).
	conns bool
	vars  []string
}

// part is a literal followed by a variable (none for the last literal).
type part struct {
	lit   string
	v     variable
	quote bool  // %{+Q}: the value between double quotes
	arg   int   // a sample (%[...]): its index in vars
	caps  []int // captures (%hr...): their indexes in vars
}

type variable uint8

const (
	vNone variable = iota
	vClientIP
	vClientPort
	vFrontIP
	vFrontPort
	vFrontend
	vBackend
	vServer
	vDate
	vUnixTime
	vTR
	vTw
	vTc
	vTr
	vTa
	vStatus
	vBytesOut
	vBytesIn
	vTerm
	vTermCookie
	vRequest
	vMethod
	vURI
	vPath
	vPathOnly
	vQuery
	vVersion
	vPID
	vHost
	vCause
	vVar
	vTd
	vZero      // times luaedge does not measure apart (%Th %Ti)
	vDash      // what luaedge does not record (%ID %bi %bp %si %sp %sslc %sslv; %CC %CS without a captured cookie)
	vCaptures  // %hr %hs: {v1|v2}
	vCapturesL // %hrl %hsl: v1 v2, - for none
	vMillis
	vDateGMT
	vDateLocal
	vServerQueue
	vBackendQueue
	vRetries
	vProcessConns
	vFrontendConns
	vBackendConns
	vServerConns
)

// names maps HAProxy's log-format variables (and luaedge's %ER) to
// values; see docs/operations.md.
var names = map[string]variable{
	"ci": vClientIP, "cp": vClientPort, "fi": vFrontIP, "fp": vFrontPort,
	"f": vFrontend, "ft": vFrontend, "b": vBackend, "s": vServer,
	"t": vDate, "tr": vDate, "Ts": vUnixTime,
	"TR": vTR, "Tq": vTR, "Tw": vTw, "Tc": vTc, "Tr": vTr, "Ta": vTa, "Tt": vTa,
	"ST": vStatus, "B": vBytesOut, "U": vBytesIn, "ts": vTerm, "tsc": vTermCookie,
	"r": vRequest, "HM": vMethod, "HU": vURI, "HP": vPath, "HPO": vPathOnly, "HQ": vQuery, "HV": vVersion,
	"pid": vPID, "H": vHost, "ER": vCause, "sq": vServerQueue, "bq": vBackendQueue,
	"Td": vTd, "Th": vZero, "Ti": vZero,
	"ac": vProcessConns, "fc": vFrontendConns, "bc": vBackendConns, "sc": vServerConns, "rc": vRetries,
	"CC": vDash, "CS": vDash, "ID": vDash, "bi": vDash, "bp": vDash, "si": vDash, "sp": vDash,
	"sslc": vDash, "sslv": vDash,
	"ms": vMillis, "T": vDateGMT, "trg": vDateGMT, "Tl": vDateLocal, "trl": vDateLocal,
}

// Captures is how many capture slots a frontend has for requests and for
// responses (%hr, %hs), which a format reads as samples capture.req.N and
// capture.res.N, and whether it captures a cookie (%CC, %CS: samples
// capture.req.cookie and capture.res.cookie).
type Captures struct {
	Request, Response int
	Cookie            bool
}

// The default formats: HAProxy's httplog and tcplog, without the
// connection counts and retries (which a custom format may log), the captures a
// frontend does not have and the queue positions (%sq/%bq, which a
// custom format may log); a line that ended in an error ends with its
// cause.
const (
	DefaultHTTP = `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %ts %{+Q}r`
	DefaultTCP  = `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Ta %B %U %ts`
)

// ParseFormat compiles spec: "default" (DefaultHTTP, or DefaultTCP when
// tcp), "json", or a log-format string, for a frontend with caps. An
// unknown variable is an error. The default HTTP format logs the captured
// cookies (%CC %CS) after the bytes, and the captures (%hr, %hs) before
// the request line, when the frontend has some, as HAProxy's httplog.
func ParseFormat(spec string, tcp bool, caps Captures) (*Format, error) {
	switch spec {
	case "", "default":
		def := DefaultHTTP
		if tcp {
			def = DefaultTCP
		} else {
			c := ""
			if caps.Request > 0 {
				c += "%hr "
			}
			if caps.Response > 0 {
				c += "%hs "
			}
			def = strings.Replace(def, "%{+Q}r", c+"%{+Q}r", 1)
			if caps.Cookie {
				def = strings.Replace(def, "%B ", "%B %CC %CS ", 1)
			}
		}
		f, err := ParseFormat(def, tcp, caps)
		if err != nil {
			return nil, err
		}
		f.cause = true
		return f, nil
	case "json":
		return &Format{json: true}, nil
	}
	f := &Format{}
	var lit strings.Builder
	for i := 0; i < len(spec); {
		c := spec[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		i++
		if i < len(spec) && spec[i] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		p := part{}
		if i < len(spec) && spec[i] == '{' {
			end := strings.IndexByte(spec[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed %%{ at offset %d", i-1)
			}
			for _, flag := range strings.Split(spec[i+1:i+end], ",") {
				switch flag {
				case "+Q":
					p.quote = true
				case "-Q", "+E", "-E", "":
					// Values are always escaped (+E).
				default:
					return nil, fmt.Errorf("unknown flag %q (luaedge knows +Q and +E)", flag)
				}
			}
			i += end + 1
		}
		if i < len(spec) && spec[i] == '[' {
			end := strings.IndexByte(spec[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed %%[ at offset %d", i)
			}
			expr := spec[i+1 : i+end]
			name, err := sampleName(expr, caps)
			if err != nil {
				return nil, err
			}
			p.v, p.arg = vVar, f.sample(name)
			i += end + 1
		} else {
			j := i
			for j < len(spec) && (spec[j] >= 'a' && spec[j] <= 'z' || spec[j] >= 'A' && spec[j] <= 'Z') {
				j++
			}
			name := spec[i:j]
			v, ok := names[name]
			switch name {
			case "CC", "CS":
				if caps.Cookie {
					side := "req"
					if name == "CS" {
						side = "res"
					}
					v, p.arg = vVar, f.sample("capture."+side+".cookie")
				}
			case "hr", "hrl", "hs", "hsl":
				side, n := "req", caps.Request
				if name[1] == 's' {
					side, n = "res", caps.Response
				}
				v, ok = vCaptures, true
				if len(name) == 3 {
					v = vCapturesL
				}
				for k := 0; k < n; k++ {
					p.caps = append(p.caps, f.sample(fmt.Sprintf("capture.%s.%d", side, k)))
				}
			}
			if !ok {
				return nil, fmt.Errorf("unknown log-format variable %%%s", name)
			}
			p.v = v
			i = j
			switch v {
			case vProcessConns, vFrontendConns, vBackendConns, vServerConns:
				f.conns = true
			}
		}
		p.lit = lit.String()
		lit.Reset()
		f.parts = append(f.parts, p)
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, part{lit: lit.String()})
	}
	return f, nil
}

// sampleName reads the sample of a %[...]: var(NAME) a variable (in
// scope txn, req, res or sess), capture.req.hdr(N) and capture.res.hdr(N)
// a capture, lua.NAME a Lua fetch called with the transaction. It returns
// the name Lua reads it by (txn.x, capture.req.N, lua.NAME).
func sampleName(expr string, caps Captures) (string, error) {
	if name, ok := strings.CutPrefix(expr, "lua."); ok && name != "" && !strings.ContainsAny(name, "(),") {
		return expr, nil
	}
	for _, c := range []struct {
		prefix, side string
		n            int
	}{{"capture.req.hdr(", "req", caps.Request}, {"capture.res.hdr(", "res", caps.Response}} {
		if arg, ok := strings.CutPrefix(expr, c.prefix); ok && strings.HasSuffix(arg, ")") {
			k, err := strconv.Atoi(arg[:len(arg)-1])
			if err != nil || k < 0 || k >= c.n {
				return "", fmt.Errorf("%%[%s]: the frontend has no such capture slot (it has %d)", expr, c.n)
			}
			return fmt.Sprintf("capture.%s.%d", c.side, k), nil
		}
	}
	name, ok := strings.CutPrefix(expr, "var(")
	if !ok || !strings.HasSuffix(name, ")") || len(name) < 2 {
		return "", fmt.Errorf("%%[%s]: luaedge knows %%[var(NAME)], %%[capture.req.hdr(N)], %%[capture.res.hdr(N)] and %%[lua.NAME] as sample expressions", expr)
	}
	name = name[:len(name)-1]
	scope, _, _ := strings.Cut(name, ".")
	switch scope {
	case "txn", "req", "res", "sess":
	default:
		return "", fmt.Errorf("%%[%s]: a logged variable is in scope txn, req, res or sess", expr)
	}
	return name, nil
}

// sample returns the index of name in vars, adding it once.
func (f *Format) sample(name string) int {
	for i, v := range f.vars {
		if v == name {
			return i
		}
	}
	f.vars = append(f.vars, name)
	return len(f.vars) - 1
}

// Conns reports whether the format logs connection counts (%ac %fc %bc
// %sc): only then are they read for its records (Record.Conns).
func (f *Format) Conns() bool { return f.conns }

// Vars are the samples the format logs, for Record.Vars: variables
// (txn.x), captures (capture.req.N, capture.res.N, capture.req.cookie,
// capture.res.cookie), Lua fetches (lua.NAME).
func (f *Format) Vars() []string { return f.vars }

// dateLayout is HAProxy's log date; dateLayoutZone its date with a zone
// (%T, %Tl).
const (
	dateLayout     = "02/Jan/2006:15:04:05.000"
	dateLayoutZone = "02/Jan/2006:15:04:05 -0700"
)

// Append appends r's line, with its newline, to b.
func (f *Format) Append(b []byte, r *Record) []byte {
	if f.json {
		return appendJSON(b, r)
	}
	// As HAProxy's log-format: a space is a separator, written unless
	// the last thing written was one (or nothing was yet), so that the
	// captures of a frontend without slots (%hr, %hs), which write
	// nothing, leave one. Any other variable counts as written, empty
	// or not.
	sep := true
	for i := range f.parts {
		p := &f.parts[i]
		for lit := p.lit; lit != ""; {
			k := strings.IndexByte(lit, ' ')
			if k < 0 {
				b, sep = append(b, lit...), false
				break
			}
			if k > 0 {
				b, sep = append(b, lit[:k]...), false
			}
			if !sep {
				b, sep = append(b, ' '), true
			}
			lit = lit[k+1:]
		}
		if p.v == vNone {
			continue
		}
		n := len(b)
		if p.quote {
			b = append(b, '"')
		}
		b = appendValue(b, p, r)
		if p.quote {
			b = append(b, '"')
		}
		if len(b) > n || p.v != vCaptures && p.v != vCapturesL {
			sep = false
		}
	}
	if f.cause && r.Cause != "" {
		b = append(b, ` "`...)
		b = appendEscaped(b, r.Cause)
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendRequestPart appends the part v (%HM %HU %HP %HPO %HQ %HV) of r's
// request line.
func appendRequestPart(b []byte, v variable, r *Record) []byte {
	switch v {
	case vMethod:
		return appendText(b, r.Method)
	case vURI:
		return appendText(b, r.Target)
	case vPath:
		path, _ := splitTarget(r.Target)
		return appendText(b, path)
	case vPathOnly:
		path, _ := splitTarget(targetPath(r.Target))
		return appendText(b, path)
	case vQuery:
		_, q := splitTarget(r.Target)
		return appendText(b, q)
	}
	if len(r.Method) == 0 {
		return b
	}
	return appendVersion(b, r)
}

func appendValue(b []byte, p *part, r *Record) []byte {
	switch p.v {
	case vClientIP:
		return appendText(b, r.ClientIP)
	case vClientPort:
		return strconv.AppendInt(b, int64(r.ClientPort), 10)
	case vFrontIP:
		return appendText(b, r.FrontIP)
	case vFrontPort:
		return strconv.AppendInt(b, int64(r.FrontPort), 10)
	case vFrontend:
		return append(b, r.Frontend...)
	case vBackend:
		if r.Backend == "" {
			return append(b, r.Frontend...) // as HAProxy: the frontend answered
		}
		return append(b, r.Backend...)
	case vServer:
		if r.Server == "" {
			return append(b, "<NOSRV>"...)
		}
		return append(b, r.Server...)
	case vDate:
		return r.Start.AppendFormat(b, dateLayout)
	case vUnixTime:
		return strconv.AppendInt(b, r.Start.Unix(), 10)
	case vTR:
		return appendMs(b, r.TR)
	case vTw:
		return appendMs(b, r.Tw)
	case vTc:
		return appendMs(b, r.Tc)
	case vTr:
		return appendMs(b, r.Tr)
	case vTa:
		return appendMs(b, r.Ta)
	case vStatus:
		if r.Status == 0 && r.NoRequest {
			return append(b, '0')
		}
		if r.Status == 0 {
			return append(b, "-1"...)
		}
		return strconv.AppendInt(b, int64(r.Status), 10)
	case vBytesOut:
		return strconv.AppendInt(b, r.BytesOut, 10)
	case vBytesIn:
		return strconv.AppendInt(b, r.BytesIn, 10)
	case vTerm:
		return append(b, r.term()...)
	case vTermCookie:
		return append(append(b, r.term()...), "--"...)
	case vRequest:
		if len(r.Method) == 0 {
			return append(b, "<BADREQ>"...)
		}
		b = appendText(b, r.Method)
		b = append(b, ' ')
		b = appendText(b, r.Target)
		b = append(b, ' ')
		return appendVersion(b, r)
	case vMethod, vURI, vPath, vPathOnly, vQuery, vVersion:
		if len(r.Method) == 0 && !r.TCP {
			return append(b, "<BADREQ>"...) // as HAProxy's, for a request without a valid line
		}
		return appendRequestPart(b, p.v, r)
	case vPID:
		return strconv.AppendInt(b, int64(os.Getpid()), 10)
	case vHost:
		return append(b, hostname...)
	case vCause:
		if r.Cause == "" {
			return append(b, '-')
		}
		return appendEscaped(b, r.Cause)
	case vServerQueue:
		return append(b, '0') // requests wait in their backend's queue, never a server's
	case vBackendQueue:
		return strconv.AppendInt(b, int64(r.BackendQueue), 10)
	case vRetries:
		if r.Redispatched {
			b = append(b, '+')
		}
		return strconv.AppendInt(b, int64(r.Retries), 10)
	case vVar:
		if p.arg < len(r.Vars) && r.Vars[p.arg] != nil {
			return appendText(b, r.Vars[p.arg])
		}
		return append(b, '-')
	case vCaptures:
		// As HAProxy: nothing without slots; a slot with no value is empty.
		if len(p.caps) == 0 {
			return b
		}
		b = append(b, '{')
		for k, i := range p.caps {
			if k > 0 {
				b = append(b, '|')
			}
			if i < len(r.Vars) {
				b = appendCaptured(b, r.Vars[i])
			}
		}
		return append(b, '}')
	case vCapturesL:
		for k, i := range p.caps {
			if k > 0 {
				b = append(b, ' ')
			}
			if i < len(r.Vars) && r.Vars[i] != nil {
				b = appendCaptured(b, r.Vars[i])
			} else {
				b = append(b, '-')
			}
		}
		return b
	case vTd:
		// The data transfer: what the exchange took besides the other
		// stages, -1 when one of them was not reached.
		if r.TR < 0 || r.Tw < 0 || r.Tc < 0 || r.Tr < 0 {
			return append(b, "-1"...)
		}
		return appendMs(b, max(r.Ta-r.TR-r.Tw-r.Tc-r.Tr, 0))
	case vZero:
		return append(b, '0')
	case vProcessConns:
		return strconv.AppendInt(b, r.Conns.Process, 10)
	case vFrontendConns:
		return strconv.AppendInt(b, r.Conns.Frontend, 10)
	case vBackendConns:
		return strconv.AppendInt(b, r.Conns.Backend, 10)
	case vServerConns:
		return strconv.AppendInt(b, r.Conns.Server, 10)
	case vDash:
		return append(b, '-')
	case vMillis:
		ms := r.Start.Nanosecond() / 1e6
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	case vDateGMT:
		return r.Start.UTC().AppendFormat(b, dateLayoutZone)
	case vDateLocal:
		return r.Start.AppendFormat(b, dateLayoutZone)
	}
	return b
}

func (r *Record) term() string {
	if r.Term == "" {
		return "--"
	}
	return r.Term
}

// Hostname is the machine's name, as %H logs it.
func Hostname() string { return hostname }

// hostname is the machine's name, for %H.
var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "-"
	}
	return h
}()

func appendMs(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}

func appendVersion(b []byte, r *Record) []byte {
	b = append(b, "HTTP/"...)
	b = strconv.AppendInt(b, int64(r.Major), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(r.Minor), 10)
}

// splitTarget returns the path of a request target and its query, with
// its '?' ("" when none), as HAProxy's %HP and %HQ.
func splitTarget(t []byte) (path, query []byte) {
	for i, c := range t {
		if c == '?' {
			return t[:i], t[i:]
		}
	}
	return t, nil
}

// targetPath returns the path and query of a request target, as
// HAProxy's %HPO reads it: an absolute URI's after its scheme and
// authority; nothing for "*", an authority (CONNECT) or an absolute URI
// without a path.
func targetPath(t []byte) []byte {
	if len(t) > 0 && t[0] == '/' {
		return t
	}
	i := bytes.Index(t, []byte("://"))
	if i < 1 || !isScheme(t[:i]) {
		return nil
	}
	rest := t[i+3:]
	if j := bytes.IndexByte(rest, '/'); j >= 0 {
		return rest[j:]
	}
	return nil
}

// isScheme reports whether s is a URI scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func isScheme(s []byte) bool {
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// appendText appends p with the bytes that could break a line, a quoted
// field or a parser escaped as HAProxy does: '#' and the hexadecimal
// code.
func appendText(b, p []byte) []byte {
	for _, c := range p {
		b = appendByte(b, c)
	}
	return b
}

// appendCaptured appends a captured value: '{', '|' and '}' are escaped
// too, as HAProxy does, so that the list stays readable.
func appendCaptured(b, p []byte) []byte {
	for _, c := range p {
		if c == '{' || c == '|' || c == '}' {
			const hex = "0123456789ABCDEF"
			b = append(b, '#', hex[c>>4], hex[c&15])
			continue
		}
		b = appendByte(b, c)
	}
	return b
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = appendByte(b, s[i])
	}
	return b
}

func appendByte(b []byte, c byte) []byte {
	if c < 0x20 || c == 0x7f || c == '"' || c == '#' {
		const hex = "0123456789ABCDEF"
		return append(b, '#', hex[c>>4], hex[c&15])
	}
	return append(b, c)
}

// appendJSON appends r as one JSON object on a line.
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"time":"`...)
	b = r.Start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client_ip":"`...)
	b = appendJSONText(b, r.ClientIP)
	b = append(b, `","client_port":`...)
	b = strconv.AppendInt(b, int64(r.ClientPort), 10)
	b = append(b, `,"frontend":"`...)
	b = appendJSONText(b, r.Frontend)
	b = append(b, '"')
	if r.Backend != "" {
		b = append(b, `,"backend":"`...)
		b = appendJSONText(b, r.Backend)
		b = append(b, '"')
	}
	if r.Server != "" {
		b = append(b, `,"server":"`...)
		b = appendJSONText(b, r.Server)
		b = append(b, '"')
	}
	if !r.TCP {
		b = append(b, `,"t_request":`...)
		b = appendMs(b, r.TR)
	}
	b = append(b, `,"t_queue":`...)
	b = appendMs(b, r.Tw)
	if r.Queued {
		b = append(b, `,"backend_queue":`...)
		b = strconv.AppendInt(b, int64(r.BackendQueue), 10)
	}
	b = append(b, `,"t_connect":`...)
	b = appendMs(b, r.Tc)
	if !r.TCP {
		b = append(b, `,"t_response":`...)
		b = appendMs(b, r.Tr)
	}
	b = append(b, `,"t_active":`...)
	b = appendMs(b, r.Ta)
	if !r.TCP {
		b = append(b, `,"status":`...)
		if r.Status == 0 {
			b = append(b, "-1"...)
		} else {
			b = strconv.AppendInt(b, int64(r.Status), 10)
		}
	}
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = append(b, `,"termination":"`...)
	b = append(b, r.term()...)
	b = append(b, '"')
	if !r.TCP && len(r.Method) > 0 {
		b = append(b, `,"method":"`...)
		b = appendJSONText(b, r.Method)
		b = append(b, `","uri":"`...)
		b = appendJSONText(b, r.Target)
		b = append(b, `","protocol":"`...)
		b = appendVersion(b, r)
		b = append(b, '"')
	}
	if r.Cause != "" {
		b = append(b, `,"error":"`...)
		b = appendJSONText(b, r.Cause)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendJSONText appends p as the inside of a JSON string; bytes that are
// not UTF-8 become U+FFFD.
func appendJSONText[T string | []byte](b []byte, p T) []byte {
	const hex = "0123456789abcdef"
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			p = p[1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(string(p[:min(len(p), utf8.UTFMax)]))
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, p[:n]...)
		}
		p = p[n:]
	}
	return b
}
