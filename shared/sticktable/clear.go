package sticktable

// Removing entries, for the runtime socket's "clear table".

// Known reports whether name is a counter a table can store ("gpc0",
// "http_req_rate", "gpc5"...).
func Known(name string) bool {
	_, ok := fieldByName(name)
	return ok
}

// Clear removes the entry of key (as returned by Key) unless connections
// hold it (conn_cur > 0, stored or not), as HAProxy's "clear table ...
// key" does. found is false when the key has no live entry; removed is
// false when it has one that is held.
func (t *Table) Clear(key string) (found, removed bool) {
	s, e := t.find(key, t.tick())
	if e == nil {
		return false, false
	}
	defer s.mu.Unlock()
	if e.refs > 0 {
		return true, false
	}
	t.remove(s, e)
	return true, true
}

// ClearMatching removes every live entry whose counters match all filters
// (none: every entry) and that no connection holds, and returns how many
// it removed. An invalid filter is an error, as in Dump.
func (t *Table) ClearMatching(filters []Filter) (int, error) {
	conds, err := t.parseFilters(filters)
	if err != nil {
		return 0, err
	}
	n := 0
	now := t.tick()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
	entries:
		for _, e := range s.m {
			if !t.live(s, e, now) {
				t.remove(s, e)
				continue
			}
			if e.refs > 0 {
				continue
			}
			for _, c := range conds {
				if !c.match(t.value(e, c.f, now)) {
					continue entries
				}
			}
			t.remove(s, e)
			n++
		}
		s.mu.Unlock()
	}
	return n, nil
}
