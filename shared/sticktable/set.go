package sticktable

// Writing an entry's data from outside the proxy (the runtime socket's
// "set table") and reading one without refreshing it (the table_*
// converters).

import "errors"

// Set errors, worded as HAProxy's CLI answers them.
var (
	ErrUnknownType = errors.New("Unknown data type")
	ErrNotStored   = errors.New("Data type not stored in this table")
)

// ErrConnCur: conn_cur is the connections open on the entry, which keep
// it from expiring; setting it would keep it forever.
var ErrConnCur = errors.New("conn_cur counts the connections open on the entry in luaedge: it cannot be set")

// ErrSharedSet: a shared table's values are this instance's counts plus
// the fleet's; a value set here has no meaning in that sum.
var ErrSharedSet = errors.New("set table is not supported on a shared table (its counters add up the fleet's)")

// Setting is one data type to set and its value, as "set table ... key
// K data.TYPE VALUE" gives them: TYPE is a stored type as the
// configuration names it (gpc0, http_req_rate, gpc, gpt...); an array's
// name sets its first element, as HAProxy's.
type Setting struct {
	Type  string
	Value int64
}

// setTarget is what a stored type writes to in an entry.
type setTarget struct {
	c counter
	i int // the slot of gpc or gpt
}

// CheckSetting reports whether name is a type Set can write in t, with
// HAProxy's message when it is not.
func (t *Table) CheckSetting(name string) error {
	_, err := t.setTarget(name)
	return err
}

func (t *Table) setTarget(name string) (setTarget, error) {
	c, ok := counterByName[name]
	switch {
	case t.shared:
		return setTarget{}, ErrSharedSet
	case !ok:
		return setTarget{}, ErrUnknownType
	case !t.has(c):
		return setTarget{}, ErrNotStored
	case c == cConnCur:
		return setTarget{}, ErrConnCur
	case c == cGPC1:
		return setTarget{c, 1}, nil
	}
	return setTarget{c, 0}, nil
}

// Set creates the entry of key (as returned by Key) if absent, refreshes
// it and writes the settings, as HAProxy's "set table": the 32-bit
// counters and tags wrap as HAProxy's unsigned ones, and a rate reads as
// the value for its whole current period, then fades out. A setting the
// table cannot take (see CheckSetting) is an error and nothing is
// written.
func (t *Table) Set(key string, settings []Setting) error {
	if t.shared {
		return ErrSharedSet
	}
	targets := make([]setTarget, len(settings))
	for i, st := range settings {
		tg, err := t.setTarget(st.Type)
		if err != nil {
			return err
		}
		targets[i] = tg
	}
	now := t.tick()
	s, e := t.acquire(key, now)
	defer s.mu.Unlock()
	for i, st := range settings {
		u32 := int64(uint32(st.Value))
		switch tg := targets[i]; tg.c {
		case cConnCnt:
			e.connCnt = u32
		case cHTTPReqCnt:
			e.reqCnt = u32
		case cHTTPErrCnt:
			e.errCnt = u32
		case cBytesIn:
			e.bytesIn = st.Value
		case cBytesOut:
			e.bytesOut = st.Value
		case cGPC0, cGPC1, cGPC:
			e.gpc[tg.i] = u32
		case cGPT0, cGPT:
			e.gpt[tg.i] = u32
		case cServerID:
			e.serverID = int64(int32(st.Value))
		case cServerKey:
			// A name in HAProxy: an integer sets nothing there either.
		default: // the rates; gpc_rate's first element is gpc0_rate's slot
			e.rates[counterRate[tg.c]] = freqCtr{start: now, curr: u32}
		}
	}
	return nil
}

// Peek reads counter of key (as returned by Key) as the table_*
// converters do, without refreshing the entry: found is false when the
// key has no live entry, stored false when the table does not keep the
// counter (named as Value names them). "trackers" is the connections
// holding the entry plus the reader, as HAProxy's table_trackers counts
// its own reference; "expire" the milliseconds before the entry expires,
// "idle" those since it was last refreshed.
func (t *Table) Peek(key, counter string) (v int64, found, stored bool) {
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return 0, false, false
	}
	defer s.mu.Unlock()
	switch counter {
	case "trackers":
		return e.refs + 1, true, true
	case "expire":
		return t.expireMS(e, now), true, true
	case "idle":
		return (now - e.touched) / 1e6, true, true
	}
	f, ok := fieldByName(counter)
	if !ok || !t.stores(f) {
		return 0, true, false
	}
	return t.value(e, f, now), true, true
}
