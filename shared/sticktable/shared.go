package sticktable

import (
	"strconv"
	"time"
)

// Shared tables (Config.Shared): the counters of the same table in other
// processes (other instances of a fleet) are added to this one's. The
// table does no I/O: its owner exchanges with a store every few
// milliseconds (edge, through Redis): Deltas says what this instance
// counted since the last exchange, and Apply takes the fleet's totals the
// store answered.
//
// What is shared:
//
//   - the cumulative counters conn_cnt, http_req_cnt, http_err_cnt,
//     bytes_in_cnt, bytes_out_cnt and gpc0: the fleet's total is the sum of
//     what every instance added (a clr_gpc0 sets the fleet's gpc0 to 0);
//   - the rates conn_rate, http_req_rate, http_err_rate and gpc0_rate:
//     each instance counts its events in periods aligned on the wall
//     clock (Unix time divided by the period), so that the instances'
//     counts of one period add up; a rate reads as HAProxy's freq_ctr over
//     those aligned periods;
//   - gpt0: the last value set by any instance.
//
// conn_cur stays per instance. A read shows this instance's counts now
// plus the other instances' as of the last exchange of the entry. An
// entry is in every exchange for watchFor after each event on it here
// (an entry this instance has not seen an event on lately keeps the
// others' part it last learnt; one it never saw an event on reads as this
// instance's alone, as absent). Counts made here and not yet exchanged
// are lost when the entry is evicted or expires, or the process stops.

// Cumulative counters exchanged, by index.
const (
	sConnCnt = iota
	sReqCnt
	sErrCnt
	sBytesIn
	sBytesOut
	sGPC0
	nShared
)

var sharedNames = [nShared]string{"conn_cnt", "http_req_cnt", "http_err_cnt", "bytes_in_cnt", "bytes_out_cnt", "gpc0"}

// sharedCounter maps a cumulative counter to its index; -1 for the others.
var sharedCounter = [nCounters]int8{
	cConnCnt: sConnCnt, cConnCur: -1, cConnRate: -1, cHTTPReqCnt: sReqCnt, cHTTPReqRate: -1,
	cHTTPErrCnt: sErrCnt, cHTTPErrRate: -1, cBytesIn: sBytesIn, cBytesOut: sBytesOut, cGPC0: sGPC0,
	cGPC0Rate: -1, cGPT0: -1, cServerID: -1, cServerKey: -1, cGPC1: -1, cGPC1Rate: -1, cGPT: -1, cGPC: -1, cGPCRate: -1,
}

var rateNames = [nRates]string{rConn: "conn_rate", rHTTPReq: "http_req_rate", rHTTPErr: "http_err_rate", rGPC0: "gpc0_rate"}

// watchFor is how long after its last event here an entry stays in the
// exchanges, so that it learns the other instances' counts as they come.
const watchFor = time.Second

// periodCounts counts events in the last two aligned periods: slot k&1
// holds period k (0 never occurs: periods are counted from 1970).
type periodCounts struct{ k, n [2]int64 }

func (p *periodCounts) add(k, n int64) {
	i := k & 1
	if p.k[i] != k {
		p.k[i], p.n[i] = k, 0
	}
	p.n[i] += n
}

func (p *periodCounts) set(k, n int64) {
	i := k & 1
	p.k[i], p.n[i] = k, n
}

func (p *periodCounts) at(k int64) int64 {
	if i := k & 1; p.k[i] == k {
		return p.n[i]
	}
	return 0
}

// rateSync is one rate of a shared entry.
type rateSync struct {
	ours   periodCounts // this instance's events
	pushed periodCounts // the part of ours sent to the store
	others periodCounts // the other instances', as of the last exchange
}

// entrySync is what a shared table keeps per entry beside the local
// counters (which are this instance's). Guarded by the shard's lock.
type entrySync struct {
	dirty     bool           // the key is in Table.dirty: in the next exchange
	last      int64          // tick of the entry's last event here
	pushed    [nShared]int64 // of each cumulative counter, the part sent to the store
	others    [nShared]int64 // the other instances' part, as of the last exchange
	gpc0Reset bool           // clr_gpc0 since the last Deltas
	gpt0Set   bool           // set_gpt0 since the last Deltas
	rates     [nRates]rateSync
}

// Shared reports whether the table adds the counts of other instances.
func (t *Table) Shared() bool { return t.shared }

// periodOf is the aligned period (its index since 1970) holding the Unix
// time unix.
func periodOf(unix, period int64) int64 { return unix / period }

// unix converts a tick to Unix nanoseconds.
func unix(tick int64) int64 { return epoch.UnixNano() + tick }

// noteEvent records n events of rate r (if stored) on a shared entry and
// marks it for the next exchange. s must be locked.
func (t *Table) noteEvent(e *entry, r int, now, n int64) {
	if r >= 0 {
		if p := t.periods[r]; p > 0 {
			e.sync.rates[r].ours.add(periodOf(unix(now), p), n)
		}
	}
	t.markDirty(e, now)
}

// markDirty records an event on e at now and puts e in the next
// exchange. Its shard must be locked.
func (t *Table) markDirty(e *entry, now int64) {
	e.sync.last = now
	if e.sync.dirty {
		return
	}
	e.sync.dirty = true
	t.dirtyMu.Lock()
	t.dirty = append(t.dirty, e.key)
	t.dirtyMu.Unlock()
}

// ours returns this instance's cumulative counter i of e.
func ours(e *entry, i int) int64 {
	switch i {
	case sConnCnt:
		return e.connCnt
	case sReqCnt:
		return e.reqCnt
	case sErrCnt:
		return e.errCnt
	case sBytesIn:
		return e.bytesIn
	case sBytesOut:
		return e.bytesOut
	}
	return e.gpc[0]
}

// sharedValue returns counter c of a shared entry at now: this
// instance's plus the others'.
func (t *Table) sharedValue(e *entry, c counter, now int64) int64 {
	if i := sharedCounter[c]; i >= 0 {
		return ours(e, int(i)) + e.sync.others[i]
	}
	r := counterRate[c]
	if r < 0 {
		if c == cGPT0 {
			return e.gpt[0]
		}
		return e.refs // conn_cur
	}
	p := t.periods[r]
	if p == 0 {
		return 0
	}
	rs := &e.sync.rates[r]
	u := unix(now)
	k := periodOf(u, p)
	curr := rs.ours.at(k) + rs.others.at(k)
	prev := rs.ours.at(k-1) + rs.others.at(k-1)
	return curr + prev*(p-(u-k*p))/p
}

// Field is one field of an entry in the store: a counter's name, or a
// rate's name and period ("http_req_rate:176543210"), and a number.
type Field struct {
	Name string
	N    int64
}

// Delta is what one entry sends at an exchange: fields to set (a cleared
// gpc0, a gpt0), fields to add to, old rate periods to drop, and the
// fields whose fleet totals it wants back (Get), in the order Apply takes
// them.
type Delta struct {
	Key string
	Set []Field
	Add []Field
	Del []string
	Get []string
}

// Deltas takes the entries with events in the last watchFor and returns
// what each adds to the fleet's counts (perhaps nothing: it then only
// reads them). The amounts count as
// sent from now on; if the exchange fails, Apply with ok false takes them
// back.
func (t *Table) Deltas() []Delta {
	t.dirtyMu.Lock()
	keys := t.dirty
	t.dirty = nil
	t.dirtyMu.Unlock()
	out := make([]Delta, 0, len(keys))
	now := t.tick()
	for _, key := range keys {
		s := t.shardOf(key)
		s.mu.Lock()
		e := s.m[key]
		if e == nil || e.sync == nil || !e.sync.dirty {
			s.mu.Unlock()
			continue
		}
		sy := e.sync
		if now-sy.last >= int64(watchFor) {
			sy.dirty = false
		} else {
			t.dirtyMu.Lock()
			t.dirty = append(t.dirty, key) // in the next exchange too
			t.dirtyMu.Unlock()
		}
		d := Delta{Key: key}
		if sy.gpc0Reset {
			sy.gpc0Reset = false
			d.Set = append(d.Set, Field{"gpc0", 0})
		}
		if sy.gpt0Set {
			sy.gpt0Set = false
			d.Set = append(d.Set, Field{"gpt0", e.gpt[0]})
		}
		for i := range nShared {
			if n := ours(e, i) - sy.pushed[i]; n != 0 {
				d.Add = append(d.Add, Field{sharedNames[i], n})
				sy.pushed[i] += n
			}
			d.Get = append(d.Get, sharedNames[i])
		}
		d.Get = append(d.Get, "gpt0")
		u := unix(now)
		for r := range nRates {
			p := t.periods[r]
			if p == 0 {
				continue
			}
			rs := &sy.rates[r]
			k := periodOf(u, p)
			for _, kk := range [2]int64{k - 1, k} {
				name := rateNames[r] + ":" + strconv.FormatInt(kk, 10)
				if n := rs.ours.at(kk) - rs.pushed.at(kk); n > 0 {
					d.Add = append(d.Add, Field{name, n})
					rs.pushed.set(kk, rs.ours.at(kk))
				}
				d.Get = append(d.Get, name)
			}
			d.Del = append(d.Del, rateNames[r]+":"+strconv.FormatInt(k-2, 10))
		}
		s.mu.Unlock()
		out = append(out, d)
	}
	return out
}

// Apply takes the result of an exchange of deltas: ok true with fleet[i]
// the fleet's totals of deltas[i].Get (after the exchange's additions);
// ok false when it failed, which takes back what the deltas sent, to be
// sent again at the next exchange.
func (t *Table) Apply(deltas []Delta, fleet [][]int64, ok bool) {
	for i, d := range deltas {
		s := t.shardOf(d.Key)
		s.mu.Lock()
		e := s.m[d.Key]
		if e == nil || e.sync == nil {
			s.mu.Unlock()
			continue // evicted meanwhile: what it counted is lost
		}
		if !ok {
			t.takeBack(e, d)
			s.mu.Unlock()
			continue
		}
		vals := fleet[i]
		for j, name := range d.Get {
			if j < len(vals) {
				t.applyField(e, name, vals[j])
			}
		}
		s.mu.Unlock()
	}
}

// applyField sets the others' part of one field from the fleet's total
// v. e's shard must be locked.
func (t *Table) applyField(e *entry, name string, v int64) {
	sy := e.sync
	for i, n := range sharedNames {
		if n == name {
			sy.others[i] = v - sy.pushed[i]
			return
		}
	}
	if name == "gpt0" {
		if !sy.gpt0Set { // a set since the exchange wins
			e.gpt[0] = v
		}
		return
	}
	if r, k, ok := rateField(name); ok {
		rs := &sy.rates[r]
		rs.others.set(k, max(v-rs.pushed.at(k), 0))
	}
}

// rateField splits a rate's field name ("http_req_rate:176543210") into
// its rate slot and period.
func rateField(name string) (r int, k int64, ok bool) {
	for r, rn := range rateNames {
		if len(name) > len(rn) && name[:len(rn)] == rn && name[len(rn)] == ':' {
			k, err := strconv.ParseInt(name[len(rn)+1:], 10, 64)
			return r, k, err == nil
		}
	}
	return 0, 0, false
}

// takeBack undoes what Deltas counted as sent for d, and marks the entry
// for the next exchange. e's shard must be locked.
func (t *Table) takeBack(e *entry, d Delta) {
	sy := e.sync
	for _, f := range d.Set {
		switch f.Name {
		case "gpc0":
			sy.gpc0Reset = true
		case "gpt0":
			sy.gpt0Set = true
		}
	}
	for _, f := range d.Add {
		for i, n := range sharedNames {
			if n == f.Name {
				sy.pushed[i] -= f.N
			}
		}
		if r, k, ok := rateField(f.Name); ok {
			rs := &sy.rates[r]
			rs.pushed.set(k, rs.pushed.at(k)-f.N)
		}
	}
	t.markDirty(e, sy.last)
}

// Expire returns how long an entry lives without events (0: for ever):
// the store's copy of a shared entry lives as long.
func (t *Table) Expire() time.Duration { return time.Duration(t.expire) }
