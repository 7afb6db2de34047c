package sticktable

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config of a table. The YAML layer fills it; New validates it.
type Config struct {
	// Type of the keys: "ip", "ipv6", "integer" or "string".
	Type string
	// Size is the most entries the table holds; when it is full, a new key
	// evicts the least recently updated entry (HAProxy purges the oldest).
	Size int
	// Expire removes entries that were not updated for this long; 0 keeps
	// them until they are evicted.
	Expire time.Duration
	// Store lists the counters to keep: "conn_cnt", "conn_cur",
	// "conn_rate(<period>)", "http_req_cnt", "http_req_rate(<period>)",
	// "http_err_cnt", "http_err_rate(<period>)", "bytes_in_cnt",
	// "bytes_out_cnt", the general purpose counters "gpc0", "gpc1",
	// "gpc0_rate(<period>)", "gpc1_rate(<period>)" and tag "gpt0", and
	// HAProxy 2.5's arrays of them "gpc(<n>)", "gpc_rate(<n>,<period>)"
	// and "gpt(<n>)" (1 <= n <= 100; an array excludes the single ones it
	// overrides: gpc with gpc0 and gpc1, gpc_rate with gpc0_rate and
	// gpc1_rate, gpt with gpt0). A period is a number with an optional
	// unit, as in HAProxy: ms (the default), s, m, h or d ("10s", "1m",
	// "500"). "server_id" and "server_key" keep the server a stick rule
	// stored for the key (StoreServer): its id in its backend and its name.
	Store []string
	// Shared adds the counts of the same table in other instances, which
	// the owner exchanges through a store (shared.go).
	Shared bool
}

// counter identifies one storable counter.
type counter uint8

const (
	cConnCnt counter = iota
	cConnCur
	cConnRate
	cHTTPReqCnt
	cHTTPReqRate
	cHTTPErrCnt
	cHTTPErrRate
	cBytesIn
	cBytesOut
	cGPC0
	cGPC0Rate
	cGPT0
	cServerID
	cServerKey
	cGPC1
	cGPC1Rate
	cGPT
	cGPC
	cGPCRate
	nCounters
)

// maxArray is the most elements of the arrays gpc, gpc_rate and gpt, as
// HAProxy's.
const maxArray = 100

// Rate slots of an entry: the three of the connection and HTTP events,
// then one per general purpose counter (rGPC0 + i for gpc<i>); nRates
// counts those up to gpc0's, which a shared table exchanges.
const (
	rConn = iota
	rHTTPReq
	rHTTPErr
	rGPC0
	nRates
)

// counterNames are the names used in Config.Store, Lookup, Dump and Info.
var counterNames = [nCounters]string{
	cConnCnt:     "conn_cnt",
	cConnCur:     "conn_cur",
	cConnRate:    "conn_rate",
	cHTTPReqCnt:  "http_req_cnt",
	cHTTPReqRate: "http_req_rate",
	cHTTPErrCnt:  "http_err_cnt",
	cHTTPErrRate: "http_err_rate",
	cBytesIn:     "bytes_in_cnt",
	cBytesOut:    "bytes_out_cnt",
	cGPC0:        "gpc0",
	cGPC0Rate:    "gpc0_rate",
	cGPT0:        "gpt0",
	cServerID:    "server_id",
	cServerKey:   "server_key",
	cGPC1:        "gpc1",
	cGPC1Rate:    "gpc1_rate",
	cGPT:         "gpt",
	cGPC:         "gpc",
	cGPCRate:     "gpc_rate",
}

// counterRate maps a rate counter to its rate slot; -1 for the others.
var counterRate = [nCounters]int8{
	cConnCnt:     -1,
	cConnCur:     -1,
	cConnRate:    rConn,
	cHTTPReqCnt:  -1,
	cHTTPReqRate: rHTTPReq,
	cHTTPErrCnt:  -1,
	cHTTPErrRate: rHTTPErr,
	cBytesIn:     -1,
	cBytesOut:    -1,
	cGPC0:        -1,
	cGPC0Rate:    rGPC0,
	cGPT0:        -1,
	cServerID:    -1,
	cServerKey:   -1,
	cGPC1:        -1,
	cGPC1Rate:    rGPC0 + 1,
	cGPT:         -1,
	cGPC:         -1,
	cGPCRate:     rGPC0,
}

// isArray reports whether c is one of the arrays: its first argument is
// its number of elements.
func isArray(c counter) bool { return c == cGPT || c == cGPC || c == cGPCRate }

// counterByName is the reverse of counterNames.
var counterByName = func() map[string]counter {
	m := make(map[string]counter, nCounters)
	for c, n := range counterNames {
		m[n] = counter(c)
	}
	return m
}()

// maxPeriod bounds rate periods as HAProxy's 32-bit millisecond ticks do.
const maxPeriod = (1<<31 - 1) * time.Millisecond

// Key types.
type keyKind uint8

const (
	kindIP keyKind = iota
	kindIPv6
	kindInteger
	kindString
)

var kindByName = map[string]keyKind{
	"ip":      kindIP,
	"ipv6":    kindIPv6,
	"integer": kindInteger,
	"string":  kindString,
}

// spec is a validated Config.
type spec struct {
	kind   keyKind
	stored uint32    // bit c set when counter c is stored
	order  []counter // stored counters in configuration order
	// periods of the rate slots, in nanoseconds (0: the rate is not
	// stored): nRates-1 + nGPC slots.
	periods []int64
	expire  int64 // nanoseconds; 0 for never
	// The general purpose counters and tags an entry keeps: slot i is
	// gpc<i> (its value, and its rate in rate slot rGPC0+i) and gpt<i>.
	// nGPC and nGPT are at least 1 (gpc0 and gpt0 are kept, unread,
	// when not stored, as before the arrays).
	nGPC, nGPT int
	gpcValue   []bool // slot i's value is stored (gpc0, gpc1 or gpc(n))
	gptValue   []bool // slot i's tag is stored (gpt0 or gpt(n))
	// The elements of the arrays gpc(n), gpc_rate(n,p) and gpt(n): 0
	// when the array is not stored.
	gpcArray, gpcRateArray, gptArray int
}

// parseConfig validates cfg. Errors name the offending field.
func parseConfig(name string, cfg Config) (*spec, error) {
	if name == "" {
		return nil, errors.New("name: must not be empty")
	}
	if cfg.Type == "" {
		return nil, errors.New("type: missing (want ip, ipv6, integer or string)")
	}
	kind, ok := kindByName[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("type: unknown type %q (want ip, ipv6, integer or string)", cfg.Type)
	}
	sp := &spec{kind: kind, nGPC: 1, nGPT: 1}
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("size: must be > 0 (got %d)", cfg.Size)
	}
	if cfg.Expire < 0 {
		return nil, fmt.Errorf("expire: must not be negative (got %s)", cfg.Expire)
	}
	sp.expire = int64(cfg.Expire)
	type stored struct {
		c      counter
		n      int
		period time.Duration
	}
	var all []stored
	for i, raw := range cfg.Store {
		c, n, period, err := parseStore(raw)
		if err != nil {
			return nil, fmt.Errorf("store[%d]: %w", i, err)
		}
		if sp.stored&(1<<c) != 0 {
			return nil, fmt.Errorf("store[%d]: duplicate counter %q", i, counterNames[c])
		}
		sp.stored |= 1 << c
		sp.order = append(sp.order, c)
		all = append(all, stored{c, n, period})
		if over, ok := overrides[c]; ok && sp.stored&over != 0 {
			return nil, fmt.Errorf("store[%d]: %q and %s in the same table (the array overrides them, as in HAProxy)", i, counterNames[c], overridden[c])
		}
		for a, over := range overrides {
			if sp.stored&(1<<a) != 0 && over&(1<<c) != 0 {
				return nil, fmt.Errorf("store[%d]: %q and %q in the same table (the array overrides it, as in HAProxy)", i, counterNames[c], counterNames[a])
			}
		}
		switch c {
		case cGPC1, cGPC1Rate:
			sp.nGPC = max(sp.nGPC, 2)
		case cGPC, cGPCRate:
			sp.nGPC = max(sp.nGPC, n)
		case cGPT:
			sp.nGPT = n
		}
	}
	if cfg.Shared {
		for i, x := range all {
			if x.c == cGPC1 || x.c == cGPC1Rate || isArray(x.c) {
				return nil, fmt.Errorf("store[%d]: %q is not exchanged between instances: a shared table stores gpc0, gpc0_rate and gpt0 of the general purpose counters", i, counterNames[x.c])
			}
		}
	}
	sp.periods = make([]int64, rGPC0+sp.nGPC)
	sp.gpcValue = make([]bool, sp.nGPC)
	sp.gptValue = make([]bool, sp.nGPT)
	for _, x := range all {
		switch x.c {
		case cGPC0:
			sp.gpcValue[0] = true
		case cGPC1:
			sp.gpcValue[1] = true
		case cGPT0:
			sp.gptValue[0] = true
		case cGPC:
			sp.gpcArray = x.n
			for j := range x.n {
				sp.gpcValue[j] = true
			}
		case cGPT:
			sp.gptArray = x.n
			for j := range x.n {
				sp.gptValue[j] = true
			}
		case cGPCRate:
			sp.gpcRateArray = x.n
			for j := range x.n {
				sp.periods[rGPC0+j] = int64(x.period)
			}
		default:
			if r := counterRate[x.c]; r >= 0 {
				sp.periods[r] = int64(x.period)
			}
		}
	}
	return sp, nil
}

// overrides are the single counters each array excludes, as bits of
// spec.stored; overridden names them for messages.
var (
	overrides = map[counter]uint32{
		cGPC:     1<<cGPC0 | 1<<cGPC1,
		cGPCRate: 1<<cGPC0Rate | 1<<cGPC1Rate,
		cGPT:     1 << cGPT0,
	}
	overridden = map[counter]string{cGPC: `"gpc0" or "gpc1"`, cGPCRate: `"gpc0_rate" or "gpc1_rate"`, cGPT: `"gpt0"`}
)

// parseStore parses one Config.Store item: a counter name, with in
// parentheses an array's number of elements and a rate's period, in that
// order ("gpc_rate(4,10s)").
func parseStore(raw string) (c counter, n int, period time.Duration, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, 0, 0, errors.New("empty counter name")
	}
	name, arg, hasArg := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if hasArg {
		var ok bool
		if arg, ok = strings.CutSuffix(arg, ")"); !ok {
			return 0, 0, 0, fmt.Errorf("missing ')' in %q", s)
		}
		arg = strings.TrimSpace(arg)
	}
	c, ok := counterByName[name]
	if !ok {
		return 0, 0, 0, fmt.Errorf("unknown counter %q", name)
	}
	if isArray(c) {
		if !hasArg {
			like := name + "(4)"
			if counterRate[c] >= 0 {
				like = name + "(4,10s)"
			}
			return 0, 0, 0, fmt.Errorf("counter %q needs its number of elements, like %s", name, like)
		}
		ns, rest, _ := strings.Cut(arg, ",")
		n, err = strconv.Atoi(strings.TrimSpace(ns))
		if err != nil || n < 1 || n > maxArray {
			return 0, 0, 0, fmt.Errorf("counter %q: number of elements %q out of range (1-%d)", name, ns, maxArray)
		}
		arg, hasArg = strings.TrimSpace(rest), strings.Contains(arg, ",")
	}
	if counterRate[c] < 0 {
		if hasArg {
			return 0, 0, 0, fmt.Errorf("counter %q takes no period", name)
		}
		return c, n, 0, nil
	}
	if !hasArg {
		like := name + "(10s)"
		if isArray(c) {
			like = name + "(4,10s)"
		}
		return 0, 0, 0, fmt.Errorf("counter %q needs a period, like %s", name, like)
	}
	d, err := parsePeriod(arg)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("period of %q: %w", name, err)
	}
	return c, n, d, nil
}

// parsePeriod parses an HAProxy time: digits and an optional unit among
// ms (the default), s, m, h and d.
func parsePeriod(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid period %q (want a number and a unit: ms, s, m, h or d)", s)
	}
	var unit time.Duration
	switch s[i:] {
	case "", "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid period %q: unknown unit %q (want ms, s, m, h or d)", s, s[i:])
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > int64(maxPeriod/unit) {
		return 0, fmt.Errorf("invalid period %q: too large (at most %s)", s, maxPeriod)
	}
	if n == 0 {
		return 0, fmt.Errorf("invalid period %q: must be > 0", s)
	}
	return time.Duration(n) * unit, nil
}
