package lj

// Go halves of core utilities (lj/lua/core_util.lua): HTTP date parsing,
// address parsing for core.parse_addr, and core.get_info.

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/cgo"
)

// Version is the luaedge version core.get_info reports; the main package
// sets it from its build-time version, once, before any state exists. It
// describes the binary, not a server, so it is process-wide.
var Version = "dev"

// processStart is when the process started (near enough: package init).
var processStart = time.Now()

var (
	shortDays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDays  = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	months    = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// dateScanner reads an HTTP date left to right; ok turns false on the first
// mismatch and stays so.
type dateScanner struct {
	s  string
	ok bool
}

func (d *dateScanner) lit(x string) {
	if d.ok && strings.HasPrefix(d.s, x) {
		d.s = d.s[len(x):]
		return
	}
	d.ok = false
}

// peek reports whether the rest starts with x.
func (d *dateScanner) peek(x string) bool { return d.ok && strings.HasPrefix(d.s, x) }

// oneOf reads one of names (case-sensitive) and returns its index.
func (d *dateScanner) oneOf(names []string) int {
	if d.ok {
		for i, n := range names {
			if strings.HasPrefix(d.s, n) {
				d.s = d.s[len(n):]
				return i
			}
		}
	}
	d.ok = false
	return 0
}

// num reads exactly n digits.
func (d *dateScanner) num(n int) int {
	if !d.ok || len(d.s) < n {
		d.ok = false
		return 0
	}
	v := 0
	for i := 0; i < n; i++ {
		c := d.s[i]
		if c < '0' || c > '9' {
			d.ok = false
			return 0
		}
		v = v*10 + int(c-'0')
	}
	d.s = d.s[n:]
	return v
}

// clock reads hh:mm:ss.
func (d *dateScanner) clock() (h, m, s int) {
	h = d.num(2)
	d.lit(":")
	m = d.num(2)
	d.lit(":")
	s = d.num(2)
	return
}

// unix checks the ranges and returns the timestamp of a UTC date; a second
// of 60 (a leap second) counts as the first second of the next minute.
func (d *dateScanner) unix(year, month, day, h, m, s int) (int64, bool) {
	if !d.ok || d.s != "" || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 {
		return 0, false
	}
	return time.Date(year, time.Month(month+1), day, h, m, s, 0, time.UTC).Unix(), true
}

// parseIMFDate parses "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 7231 IMF-fixdate).
func parseIMFDate(s string) (int64, bool) {
	d := &dateScanner{s: s, ok: true}
	d.oneOf(shortDays)
	d.lit(", ")
	day := d.num(2)
	d.lit(" ")
	mon := d.oneOf(months)
	d.lit(" ")
	year := d.num(4)
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" GMT")
	return d.unix(year, mon, day, h, m, sec)
}

// parseRFC850Date parses "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year
// up to 60 is 20xx, above 19xx; a four-digit year is accepted too.
func parseRFC850Date(s string) (int64, bool) {
	d := &dateScanner{s: s, ok: true}
	d.oneOf(longDays)
	d.lit(", ")
	day := d.num(2)
	d.lit("-")
	mon := d.oneOf(months)
	d.lit("-")
	year := d.num(2)
	if d.ok && !d.peek(" ") {
		year = year*100 + d.num(2)
	} else if year <= 60 {
		year += 2000
	} else {
		year += 1900
	}
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" GMT")
	return d.unix(year, mon, day, h, m, sec)
}

// parseASCTimeDate parses "Sun Nov  6 08:49:37 1994" (C's asctime format).
func parseASCTimeDate(s string) (int64, bool) {
	d := &dateScanner{s: s, ok: true}
	d.oneOf(shortDays)
	d.lit(" ")
	mon := d.oneOf(months)
	d.lit(" ")
	var day int
	if d.peek(" ") {
		d.lit(" ")
		day = d.num(1)
	} else {
		day = d.num(2)
	}
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" ")
	year := d.num(4)
	return d.unix(year, mon, day, h, m, sec)
}

// parseHTTPDate accepts any of the three formats, as RFC 7231's HTTP-date.
func parseHTTPDate(s string) (int64, bool) {
	if t, ok := parseIMFDate(s); ok {
		return t, true
	}
	if t, ok := parseRFC850Date(s); ok {
		return t, true
	}
	return parseASCTimeDate(s)
}

// infoValues are the values of core.get_info, in the order of the names in
// lj/lua/core_util.lua (info_names). Only what luaedge knows truthfully;
// threads is the caller's generation's number of loops.
func infoValues(threads int) []any {
	up := time.Since(processStart)
	sec := int64(up / time.Second)
	uptime := fmt.Sprintf("%dd %dh%02dm%02ds", sec/86400, sec%86400/3600, sec%3600/60, sec%60)
	var ulimit any = nil
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		ulimit = float64(rl.Cur)
	}
	var node any = nil
	if h, err := os.Hostname(); err == nil {
		node = h
	}
	return []any{
		"luaedge",                    // Name
		Version,                      // Version
		float64(threads),             // Nbthread
		float64(1),                   // Nbproc
		float64(1),                   // Process_num
		float64(os.Getpid()),         // Pid
		uptime,                       // Uptime
		float64(sec),                 // Uptime_sec
		float64(processStart.Unix()), // Start_time_sec
		float64(0),                   // Memmax_MB: no process-wide limit
		ulimit,                       // Ulimit-n
		node,                         // node
	}
}

func init() {
	goFuncs["date_parse"] = cgo.RegisterGoFunc(goDateParse)
	goFuncs["addr_parse"] = cgo.RegisterGoFunc(goAddrParse)
	goFuncs["addr_text"] = cgo.RegisterGoFunc(goAddrText)
	goFuncs["proc_info"] = cgo.RegisterGoFunc(goProcInfo)
}

// goDateParse(format, str) -> timestamp | nil
// format: "http", "imf", "rfc850", "asctime".
func goDateParse(c *cgo.Call) int {
	s := c.String(2)
	var t int64
	var ok bool
	switch c.String(1) {
	case "http":
		t, ok = parseHTTPDate(s)
	case "imf":
		t, ok = parseIMFDate(s)
	case "rfc850":
		t, ok = parseRFC850Date(s)
	case "asctime":
		t, ok = parseASCTimeDate(s)
	default:
		return c.Error("date_parse: unknown format " + c.String(1))
	}
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushNumber(float64(t))
	return 1
}

// goAddrParse(str) -> nil | 4, text, ip, mask | 6, text, ip1..ip4, mask1..mask4
// The words are 32-bit, most significant first; text is the address and
// prefix length ("10.0.0.1/8"), or the dotted mask when not contiguous.
func goAddrParse(c *cgo.Call) int {
	n, ok := parseNet(c.String(1))
	if !ok {
		c.PushNil()
		return 1
	}
	if !n.is6 {
		a := fmt.Sprintf("%d.%d.%d.%d", n.v4>>24, n.v4>>16&0xff, n.v4>>8&0xff, n.v4&0xff)
		if l := contiguousLen(n.mask4); l >= 0 {
			a += fmt.Sprintf("/%d", l)
		} else {
			a += fmt.Sprintf("/%d.%d.%d.%d", n.mask4>>24, n.mask4>>16&0xff, n.mask4>>8&0xff, n.mask4&0xff)
		}
		c.PushNumber(4)
		c.PushString(a)
		c.PushNumber(float64(n.v4))
		c.PushNumber(float64(n.mask4))
		return 4
	}
	c.PushNumber(6)
	c.PushString(fmt.Sprintf("%s/%d", netip.AddrFrom16(n.v6), n.bits))
	m := lenToMask6(n.bits)
	for _, w := range [][16]byte{n.v6, m} {
		for i := 0; i < 16; i += 4 {
			c.PushNumber(float64(uint32(w[i])<<24 | uint32(w[i+1])<<16 | uint32(w[i+2])<<8 | uint32(w[i+3])))
		}
	}
	return 10
}

// goAddrText(str) -> the address as the dst fetch writes it (IPv4 dotted,
// IPv6 as RFC 5952 says) | nil when str is not one IP address.
func goAddrText(c *cgo.Call) int {
	a, err := netip.ParseAddr(c.String(1))
	if err != nil || a.Zone() != "" {
		c.PushNil()
		return 1
	}
	c.PushString(a.String())
	return 1
}

// goProcInfo() -> the values of core.get_info, in order (nil when unknown).
func goProcInfo(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	vals := infoValues(sh.threads)
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			c.PushString(v)
		case float64:
			c.PushNumber(v)
		default:
			c.PushNil()
		}
	}
	return len(vals)
}
