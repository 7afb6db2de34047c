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
	// "bytes_out_cnt", "gpc0", "gpc0_rate(<period>)" and "gpt0". A period
	// is a number with an optional unit, as in HAProxy: ms (the default),
	// s, m, h or d ("10s", "1m", "500"). "server_id" and "server_key" keep
	// the server a stick rule stored for the key (StoreServer): its id in
	// its backend and its name.
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
	nCounters
)

// Rate slots of an entry.
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
}

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
	kind    keyKind
	stored  uint32        // bit c set when counter c is stored
	order   []counter     // stored counters in configuration order
	periods [nRates]int64 // nanoseconds; 0 when the rate is not stored
	expire  int64         // nanoseconds; 0 for never
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
	sp := &spec{kind: kind}
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("size: must be > 0 (got %d)", cfg.Size)
	}
	if cfg.Expire < 0 {
		return nil, fmt.Errorf("expire: must not be negative (got %s)", cfg.Expire)
	}
	sp.expire = int64(cfg.Expire)
	for i, raw := range cfg.Store {
		c, period, err := parseStore(raw)
		if err != nil {
			return nil, fmt.Errorf("store[%d]: %w", i, err)
		}
		if sp.stored&(1<<c) != 0 {
			return nil, fmt.Errorf("store[%d]: duplicate counter %q", i, counterNames[c])
		}
		sp.stored |= 1 << c
		sp.order = append(sp.order, c)
		if r := counterRate[c]; r >= 0 {
			sp.periods[r] = int64(period)
		}
	}
	return sp, nil
}

// parseStore parses one Config.Store item: a counter name, with a period in
// parentheses for the rates.
func parseStore(raw string) (counter, time.Duration, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, 0, errors.New("empty counter name")
	}
	name, arg, hasArg := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if hasArg {
		var ok bool
		if arg, ok = strings.CutSuffix(arg, ")"); !ok {
			return 0, 0, fmt.Errorf("missing ')' in %q", s)
		}
		arg = strings.TrimSpace(arg)
	}
	c, ok := counterByName[name]
	if !ok {
		return 0, 0, fmt.Errorf("unknown counter %q", name)
	}
	if counterRate[c] < 0 {
		if hasArg {
			return 0, 0, fmt.Errorf("counter %q takes no period", name)
		}
		return c, 0, nil
	}
	if !hasArg {
		return 0, 0, fmt.Errorf("counter %q needs a period, like %s(10s)", name, name)
	}
	d, err := parsePeriod(arg)
	if err != nil {
		return 0, 0, fmt.Errorf("period of %q: %w", name, err)
	}
	return c, d, nil
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
