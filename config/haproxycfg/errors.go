package haproxycfg

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/luaedge/luaedge/proto/http1"
)

// errReply is the answer a section gives for an error status, as
// HAProxy 2.6 keeps one: an errorfile's whole answer, or the parts of an
// http-error line, whose body (lf-string, lf-file) and header values are
// log-format strings made for each answer.
type errReply struct {
	raw   string // an errorfile's whole answer; "" when made of the parts below
	ctype string
	body  string // string or file: as it is; lf-string or lf-file: a format
	lf    bool
	hdrs  [][2]string // hdr NAME FMT, in order
	// none: an errorfiles reference to a section that lacks the status;
	// HAProxy then answers the status with no payload.
	none bool
}

// errDirective is one errorfile, http-error or errorfiles line of a
// section. They apply in order when the configuration is built, since an
// http-errors section may come after the lines naming it; a section
// takes those of its defaults first.
type errDirective struct {
	at     pos
	status int
	reply  *errReply // errorfile, http-error; nil with default-errorfiles: HAProxy's page
	// errorfiles NAME [CODE...] (codes nil: every status the section has),
	// or http-error status CODE errorfiles NAME.
	section string
	codes   []int
}

// httpErrors is an http-errors section: its errorfile lines by status.
type httpErrors struct {
	at      pos
	replies map[int]*errReply
}

// readFile reads a file named by a line (resolvePath).
func (f *file) readFile(at pos, kw, name string) (string, error) {
	name = resolvePath(f.dir, name)
	data, err := os.ReadFile(name)
	if err != nil {
		return "", at.errorf("%s: %v", kw, err)
	}
	return string(data), nil
}

// errorStatus reads the status of an errorfile or http-error line: one
// of those HAProxy has an error page for.
func errorStatus(at pos, kw, v string) (int, error) {
	code, err := strconv.Atoi(v)
	if _, ok := errorPages[code]; err != nil || !ok {
		return 0, at.errorf("%s: status code '%s' not handled (HAProxy's are 200, 400-504)", kw, v)
	}
	return code, nil
}

// errorfile reads "errorfile CODE FILE" (in a proxy or an http-errors
// section).
func (f *file) errorfile(at pos, w []string) (int, *errReply, error) {
	if len(w) != 3 {
		return 0, nil, at.errorf("errorfile: want a status and a file")
	}
	code, err := errorStatus(at, "errorfile", w[1])
	if err != nil {
		return 0, nil, err
	}
	raw, err := f.readFile(at, "errorfile", w[2])
	if err != nil {
		return 0, nil, err
	}
	return code, &errReply{raw: raw}, nil
}

// errorloc reads "errorloc[302|303] N URL": the error answer N becomes a
// redirect to URL, with the head HAProxy sends (302 for errorloc and
// errorloc302, 303 for errorloc303).
func errorloc(at pos, w []string) (int, *errReply, error) {
	if len(w) != 3 {
		return 0, nil, at.errorf("%s: want a status and a URL", w[0])
	}
	code, err := errorStatus(at, w[0], w[1])
	if err != nil {
		return 0, nil, err
	}
	line := "HTTP/1.1 302 Found"
	if w[0] == "errorloc303" {
		line = "HTTP/1.1 303 See Other"
	}
	return code, &errReply{raw: line + "\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: " + w[2] + "\r\n\r\n"}, nil
}

// httpError reads "http-error status N [content-type T] [string S | file F
// | lf-string FMT | lf-file F | errorfile F | errorfiles NAME |
// default-errorfiles] [hdr NAME FMT]...".
func (f *file) httpError(at pos, w []string) (errDirective, error) {
	d := errDirective{at: at}
	if len(w) < 2 || w[0] != "status" {
		return d, at.errorf("http-error: want 'http-error status CODE ...'")
	}
	code, err := errorStatus(at, "http-error", w[1])
	if err != nil {
		return d, err
	}
	d.status = code
	r := &errReply{}
	payload := "" // the keyword that gave the answer's content
	for i := 2; i < len(w); i += 2 {
		kw := w[i]
		if kw == "default-errorfiles" {
			payload, i = kw, i-1
			continue
		}
		if i+1 >= len(w) {
			return d, at.errorf("http-error: '%s' needs a value", kw)
		}
		v := w[i+1]
		switch kw {
		case "content-type":
			r.ctype = v
			continue
		case "hdr":
			if i+2 >= len(w) {
				return d, at.errorf("http-error: hdr needs a name and a value")
			}
			r.hdrs = append(r.hdrs, [2]string{strings.ToLower(v), w[i+2]})
			i++
			continue
		case "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles":
		default:
			return d, at.unsupported("http-error ... " + kw)
		}
		if payload != "" {
			return d, at.errorf("http-error: unexpected '%s', '%s' already given", kw, payload)
		}
		payload = kw
		switch kw {
		case "string", "lf-string":
			r.body, r.lf = v, kw == "lf-string"
		case "file", "lf-file", "errorfile":
			data, err := f.readFile(at, "http-error", v)
			if err != nil {
				return d, err
			}
			r.body, r.lf = data, kw == "lf-file"
			if kw == "errorfile" {
				r.body, r.raw = "", data
			}
		case "errorfiles":
			d.section, d.codes = v, []int{code}
		}
	}
	switch payload {
	case "errorfiles":
		return d, nil
	case "default-errorfiles":
		return d, nil // reply nil: HAProxy's own page
	case "errorfile":
		// As HAProxy: the file is the whole answer; content-type and
		// hdr are ignored (it warns).
		if r.ctype != "" || len(r.hdrs) > 0 {
			f.warn(at, "http-error: content-type and hdr are ignored with errorfile, as HAProxy ignores them")
		}
		d.reply = &errReply{raw: r.raw}
		return d, nil
	}
	if r.body != "" && r.ctype == "" {
		return d, at.errorf("http-error: a body needs its content-type")
	}
	d.reply = r
	return d, nil
}

// errorfilesLine reads "errorfiles NAME [CODE...]" of a proxy.
func (f *file) errorfilesLine(at pos, w []string) (errDirective, error) {
	if len(w) < 2 {
		return errDirective{}, at.errorf("errorfiles: want the name of an http-errors section")
	}
	d := errDirective{at: at, section: w[1]}
	for _, v := range w[2:] {
		code, err := errorStatus(at, "errorfiles", v)
		if err != nil {
			return d, err
		}
		d.codes = append(d.codes, code)
	}
	return d, nil
}

// httpErrorsLine reads a line of an http-errors section.
func (f *file) httpErrorsLine(s *httpErrors, at pos, w []string) error {
	if w[0] != "errorfile" {
		return at.unsupported("http-errors ... " + w[0])
	}
	code, r, err := f.errorfile(at, w)
	if err != nil {
		return err
	}
	s.replies[code] = r
	return nil
}

// replies applies a section's errorfile, http-error and errorfiles lines
// in order: the answers it gives for its error statuses.
func (f *file) replies(p *proxy) (map[int]*errReply, error) {
	out := map[int]*errReply{}
	for _, d := range p.errors {
		if d.section == "" {
			if d.reply == nil {
				delete(out, d.status)
			} else {
				out[d.status] = d.reply
			}
			continue
		}
		s := f.httpErrors[d.section]
		if s == nil {
			return nil, d.at.errorf("no http-errors section named '%s'", d.section)
		}
		if d.codes == nil {
			for code, r := range s.replies {
				out[code] = r
			}
			continue
		}
		for _, code := range d.codes {
			if r := s.replies[code]; r != nil {
				out[code] = r
			} else {
				f.warn(d.at, "status %d is not in http-errors section '%s': HAProxy's own answer stays", code, d.section)
			}
		}
	}
	return out, nil
}

// sectionReply is the answer of status in http-errors section name, for
// deny and return ... errorfiles NAME: a status the section lacks is
// answered with no payload, as HAProxy does (with a warning).
func (f *file) sectionReply(at pos, kw, name string, status int) (*errReply, error) {
	s := f.httpErrors[name]
	if s == nil {
		return nil, at.errorf("%s: no http-errors section named '%s'", kw, name)
	}
	if r := s.replies[status]; r != nil {
		return r, nil
	}
	f.warn(at, "%s: status %d is not in http-errors section '%s': the answer has no payload, as HAProxy's", kw, status, name)
	return &errReply{none: true}, nil
}

// answer writes the Lua expression of the answer of status with reply r
// (nil: HAProxy's page), the table H.send takes: one made once, or, for
// one with log-format parts, a call making it for the request (txn).
// The fields are in HAProxy's order: an errorfile's own, else the hdr
// fields, the content-length, then the content-type.
func (c *chain) answer(sc scope, status int, r *errReply) (string, error) {
	if r == nil || r.raw != "" {
		files := map[int]string{}
		if r != nil {
			files[status] = r.raw
		}
		st, reason, fields, body := errorPage(status, files)
		return c.g.constant(answerTable(st, reason, fields, luaQuote(body))), nil
	}
	reason := haproxyReason(status)
	length := field{"content-length", ""} // the body's, made when sent
	if r.none {
		return c.g.constant(answerTable(status, reason, []field{length}, `""`)), nil
	}
	dynamic := r.lf
	for _, h := range r.hdrs {
		dynamic = dynamic || strings.Contains(h[1], "%[")
	}
	if !dynamic {
		// As HAProxy: a header whose value is empty is left out, and the
		// content-type goes with a body only.
		var fields []field
		for _, h := range r.hdrs {
			if h[1] != "" {
				fields = append(fields, field{h[0], h[1]})
			}
		}
		fields = append(fields, length)
		if r.body != "" && r.ctype != "" {
			fields = append(fields, field{"content-type", r.ctype})
		}
		return c.g.constant(answerTable(status, reason, fields, luaQuote(r.body))), nil
	}
	var b strings.Builder
	b.WriteString("function(txn)\nlocal h, v = {}\n")
	for _, h := range r.hdrs {
		code, err := sc.formatHTTP(h[1])
		if err != nil {
			return "", fmt.Errorf("hdr %s: %v", h[0], err)
		}
		fmt.Fprintf(&b, "v = %s\nif v ~= \"\" then h[#h + 1] = %s; h[#h + 1] = v end\n", code, luaQuote(h[0]))
	}
	body := luaQuote(r.body)
	if r.lf {
		code, err := sc.formatHTTP(r.body)
		if err != nil {
			return "", err
		}
		body = code
	}
	fmt.Fprintf(&b, "local body = %s\nh[#h + 1] = \"content-length\"; h[#h + 1] = \"\"\n", body)
	if r.ctype != "" {
		fmt.Fprintf(&b, "if body ~= \"\" then h[#h + 1] = \"content-type\"; h[#h + 1] = %s end\n", luaQuote(r.ctype))
	}
	fmt.Fprintf(&b, "return {status = %d, reason = %s, fields = h, body = body}\nend", status, luaQuote(reason))
	return c.g.constant(b.String()) + "(txn)", nil
}

// answerTable writes an answer as the Lua table H.send takes: its fields
// a list of names and values, in order.
func answerTable(status int, reason string, fields []field, body string) string {
	var h []string
	for _, f := range fields {
		h = append(h, luaQuote(f.name), luaQuote(f.value))
	}
	return fmt.Sprintf("{status = %d, reason = %s, fields = {%s}, body = %s}", status, luaQuote(reason), strings.Join(h, ", "), body)
}

// haproxyReason is the reason phrase HAProxy 2.6 gives a status in the
// answers it makes from parts (return, http-error, deny with a payload).
func haproxyReason(status int) string {
	if r, ok := haproxyReasons[status]; ok {
		return r
	}
	return http1.ClassReason(status)
}

var haproxyReasons = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
	205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 210: "Content Different", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	310: "Too many Redirects", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
	403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Time-out", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Requested range unsatisfiable",
	417: "Expectation failed", 418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Content",
	423: "Locked", 424: "Method failure", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
	449: "Retry With", 450: "Blocked by Windows Parental Controls", 451: "Unavailable For Legal Reasons",
	456: "Unrecoverable Error", 499: "client has closed connection", 500: "Internal Server Error",
	501: "Not Implemented", 502: "Bad Gateway or Proxy Error", 503: "Service Unavailable",
	504: "Gateway Time-out", 505: "HTTP Version not supported", 506: "Variant also negotiate",
	507: "Insufficient storage", 508: "Loop detected", 509: "Bandwidth Limit Exceeded", 510: "Not extended",
	511: "Network authentication required", 520: "Web server is returning an unknown error",
}
