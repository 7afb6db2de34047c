package edge

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/shared/kv"
	"github.com/luaedge/luaedge/shared/sticktable"
)

// Stick tables: built from the configuration, fed by the connections of
// the frontends that track their clients, and read by scripts through the
// StickTable class (lj/lua/proxy.lua). They are shared by every loop.

func init() {
	lj.RegisterGoFunc("stk", goStk)
}

// newStickTable builds the table of a frontend or backend.
func newStickTable(name, at string, c *config.StickTable) (*sticktable.Table, error) {
	t, err := sticktable.New(name, sticktable.Config{Type: c.Type, Size: int(c.Size), Expire: c.Expire.D(), Store: c.Store, Shared: c.Shared == "redis"})
	if err != nil {
		return nil, fmt.Errorf("%s.stick_table.%v", at, err)
	}
	return t, nil
}

// purgeTables drops expired entries until stop is closed.
func purgeTables(tables map[string]*sticktable.Table, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for _, tb := range tables {
				tb.Purge(now)
			}
		}
	}
}

// syncTable exchanges the counts of table name, shared through Redis,
// every interval until stop is closed: what this instance counted since
// the last exchange goes to Redis, the fleet's totals come back
// (shared/sticktable/shared.go says what is shared). A failed exchange is
// logged once, and its counts go with the next one.
func (s *Server) syncTable(name string, t *sticktable.Table, every time.Duration, stop <-chan struct{}) {
	r := s.sharedState.redis
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		deltas := t.Deltas()
		if len(deltas) == 0 {
			continue
		}
		ups := make([]kv.HashUpdate, len(deltas))
		for i, d := range deltas {
			u := kv.HashUpdate{Key: d.Key, Del: d.Del, Get: d.Get}
			for _, f := range d.Set {
				u.Set = append(u.Set, kv.Field{Name: f.Name, N: f.N})
			}
			for _, f := range d.Add {
				u.Add = append(u.Add, kv.Field{Name: f.Name, N: f.N})
			}
			ups[i] = u
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.Timeout())
		fleet, err := r.SyncHashes(ctx, name, t.Expire(), ups)
		cancel()
		t.Apply(deltas, fleet, err == nil)
		switch {
		case err != nil && !failing:
			failing = true
			s.log.Warn("stick table: exchanging counts with Redis failed; this instance counts alone until it works", "table", name, "err", err)
		case err == nil && failing:
			failing = false
			s.log.Info("stick table: counts exchanged with Redis again", "table", name)
		}
	}
}

// goStk(table, "info" | "lookup", key | "dump", filters) for StickTable,
// and the sc_* and src_* fetches and the tracking of requests (below).
func goStk(c *cgo.Call) int {
	s := serverOf(c)
	if s == nil {
		return c.Error("no stick tables yet")
	}
	t := s.tables[c.String(1)]
	if t == nil {
		return c.Error("no stick table " + c.String(1))
	}
	switch c.String(2) {
	case "info":
		info := t.Info()
		// "name=period,...", made a table in Lua (proxy.lua).
		if data, ok := info["data"].([]string); ok {
			info["data"] = strings.Join(data, ",")
		}
		return pushStats(c, info)
	case "lookup":
		k, err := t.Key(c.String(3))
		if err != nil {
			c.PushNil()
			return 1
		}
		m := t.Lookup(k)
		if m == nil {
			c.PushNil()
			return 1
		}
		luaArrays(t, m)
		st := make(map[string]any, len(m))
		for name, v := range m {
			st[name] = v
		}
		return pushStats(c, st)
	case "track", "error":
		// The counters a request's rules track (TXN:track_sc): (table,
		// op, key, "http" for an HTTP request). track returns the key as
		// the table holds it, or nil when its type cannot hold it; the
		// request's end releases it (untrack).
		k, err := t.Key(c.String(3))
		if err != nil {
			c.PushNil()
			return 1
		}
		switch c.String(2) {
		case "track":
			t.ConnOpen(k)
			if c.String(4) == "http" {
				t.HTTPRequest(k)
			}
			c.PushString(k)
			return 1
		default:
			t.HTTPError(k)
		}
		return 0
	case "fetch", "inc_gpc", "clr_gpc", "set_gpt":
		// src_* and sc_* fetches and the sc-* actions: (table, op,
		// client address, counter, ...). A client not in the table
		// counts 0; a counter the table does not store is no value.
		k, err := t.Key(c.String(3))
		if err != nil {
			c.PushNil()
			return 1
		}
		switch c.String(2) {
		case "inc_gpc", "clr_gpc":
			// (..., index, "array" for the sc_*_gpc forms): a counter
			// not stored reads 0 and is left alone.
			i := int(c.Int(4))
			switch {
			case !t.GPCIndex(i, c.String(5) == "array"):
				c.PushNumber(0)
			case c.String(2) == "inc_gpc":
				c.PushNumber(float64(t.IncGPC(k, i)))
			default:
				c.PushNumber(float64(t.ClearGPC(k, i)))
			}
		case "set_gpt":
			// (..., index, "array" for sc-set-gpt, value): a 32-bit
			// unsigned integer, as HAProxy casts it.
			i := int(c.Int(4))
			if t.GPTIndex(i, c.String(5) == "array") {
				t.SetGPT(k, i, int64(uint32(c.Int(6))))
			}
			return 0
		default:
			// (..., counter[, array, index]): an element of an array
			// is read only from the array (sc_get_gpc and friends).
			if !t.Stores(c.String(4)) || (!c.IsNoneOrNil(5) && int(c.Int(6)) >= t.ArrayLen(c.String(5))) {
				c.PushNil()
				return 1
			}
			v, _ := t.Value(k, c.String(4))
			c.PushNumber(float64(v))
		}
		return 1
	case "peek":
		// The table_* converters: (table, "peek", key, counter[,
		// array, index]); false for a key not in the table, nil for
		// no value (a key the table's type cannot hold, a counter it
		// does not store, an element beyond its array).
		k, err := t.Key(c.String(3))
		if err != nil {
			c.PushNil()
			return 1
		}
		v, found, stored := t.Peek(k, c.String(4))
		switch {
		case !found:
			c.PushBool(false)
		case !stored || (!c.IsNoneOrNil(5) && int(c.Int(6)) >= t.ArrayLen(c.String(5))):
			c.PushNil()
		default:
			c.PushNumber(float64(v))
		}
		return 1
	case "dump":
		var filters []sticktable.Filter
		for _, f := range strings.Split(c.String(3), ";") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			parts := strings.Fields(f)
			if len(parts) != 3 {
				return c.Error("StickTable:dump: a filter is {counter, op, value}, got " + f)
			}
			v, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				return c.Error("StickTable:dump: filter value " + parts[2] + " is not a number")
			}
			filters = append(filters, sticktable.Filter{Counter: parts[0], Op: parts[1], Value: v})
		}
		entries, err := t.Dump(filters)
		if err != nil {
			return c.Error("StickTable:dump: " + err.Error())
		}
		// One line an entry: key, then name=value pairs (parsed in Lua).
		keys := make([]string, 0, len(entries))
		for k := range entries {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k)
			luaArrays(t, entries[k])
			for name, v := range entries[k] {
				fmt.Fprintf(&b, "\t%s=%d", name, v)
			}
			b.WriteByte('\n')
		}
		c.PushString(b.String())
		return 1
	}
	return c.Error("unknown StickTable method " + c.String(2))
}

// luaArrays gives an entry's arrays as HAProxy's Lua does: one field by
// the array's name ("gpc", "gpc_rate", "gpt") holding its first element,
// in place of the elements.
func luaArrays(t *sticktable.Table, m map[string]int64) {
	for _, a := range [...]struct{ name, prefix, suffix string }{{"gpc", "gpc", ""}, {"gpc_rate", "gpc", "_rate"}, {"gpt", "gpt", ""}} {
		n := t.ArrayLen(a.name)
		if n == 0 {
			continue
		}
		m[a.name] = m[a.prefix+"0"+a.suffix]
		for i := range n {
			delete(m, a.prefix+strconv.Itoa(i)+a.suffix)
		}
	}
}

// untrack releases the entry key of stick table table that a request's
// rules tracked (TXN:track_sc), as the request's exchange ends
// (stream.Env.Untrack).
func (s *Server) untrack(table, key string) {
	t := s.tables[table]
	if t == nil {
		return
	}
	if k, err := t.Key(key); err == nil {
		t.ConnClose(k)
	}
}
