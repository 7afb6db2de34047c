package lj

// The fast paths of the reads scripts make on most requests (DESIGN.md,
// "The hot path", rule 6): what Lua reads here costs no gate call.
//
//   - proc.* variables and maps: each state keeps copies (lj/lua/vars.lua,
//     map.lua) and drops them when a change counter in C memory moved
//     (the generation's Shared.versions). Go bumps the counter after the change is made and
//     before the call that made it returns, so a read that starts after a
//     write returned, on any core, sees the write: at worst a read running
//     at the same time as a write on another core sees the value before it.
//   - stick counters: Go copies the counters the scripts read into the
//     stream before the first resume of a request (FillStick); a read sees
//     the table as it was when the request's Lua work started, and after a
//     yield or a counter write in the request it goes back to the gate.
//   - time, status reasons, base64 and hashes: C functions Lua calls
//     through FFI, or tables loaded once.

import (
	"fmt"
	"math/bits"
	"net/http"
	"strings"

	"github.com/luaedge/luaedge/cgo"
)

// Change counters in a generation's versions (Shared.versions):
// versionProc for every proc.* variable, versionMaps+id for the map index id
// (ids past the block are not cached by Lua).
const (
	versionProc  = 0
	versionMaps  = 1
	maxVersioned = 4096
)

// stickCounters names the counters the sc_* and src_* fetches read, by
// their slot in le_stream.stk (the Lua side gets this list from Go).
var stickCounters = []string{
	"conn_cnt", "conn_cur", "conn_rate", "http_req_cnt", "http_req_rate",
	"http_err_cnt", "http_err_rate", "gpc0", "gpc0_rate", "gpt0",
	"bytes_in_cnt", "bytes_out_cnt", "gpc1", "gpc1_rate",
}

// CounterTable is a stick table as FillStick reads it (eventloop's
// sticktable.Table).
type CounterTable interface {
	// Stores reports whether the table keeps the named counter.
	Stores(counter string) bool
	// Value returns the named counter of key; ok is false when key is
	// absent (the fetches then read 0).
	Value(key, counter string) (v int64, ok bool)
}

// FillStick copies the stick counters of key in t that this state's
// scripts read into s, before the request's first resume (after s.Reset).
// t is the frontend's tracking table and key the client's key in it; the
// caller skips the call when the client is not tracked.
func (st *State) FillStick(s *cgo.Stream, t CounterTable, key string) {
	want := st.L.StickWant()
	for want != 0 {
		i := bits.TrailingZeros32(want)
		want &^= 1 << i
		if i >= len(stickCounters) {
			continue
		}
		name := stickCounters[i]
		if !t.Stores(name) {
			s.SetStick(i, 0, false)
			continue
		}
		v, _ := t.Value(key, name)
		s.SetStick(i, v, true)
	}
}

// fastPathChunk is the Lua chunk that gives a state the tables of the fast
// paths: status reasons, stick counter slots, version counter indexes.
func fastPathChunk() string {
	var b strings.Builder
	b.WriteString("local I = ...\n")
	fmt.Fprintf(&b, "I.VERSION_PROC, I.VERSION_MAPS = %d, %d\n", versionProc, versionMaps)
	b.WriteString("I.status_text = {")
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			fmt.Fprintf(&b, "[%d]=%s,", code, luaString(t))
		}
	}
	b.WriteString("}\nI.stick_slots = {")
	for i, n := range stickCounters {
		fmt.Fprintf(&b, "%s=%d,", n, i)
	}
	b.WriteString("}\n")
	return b.String()
}
