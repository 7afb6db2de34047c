package sticktable

// Persistence: a table that stores server_id (and server_key) keeps, for
// each key, the server the key's requests go to, as HAProxy's stick
// rules do. Only this instance's loops read and write it: a shared
// table exchanges counters, not servers.

// StoresServer reports whether the table keeps a server per key
// (server_id in its store).
func (t *Table) StoresServer() bool { return t.has(cServerID) }

// StoreServer records that the requests of key go to the server with id
// (its id in its backend) and name: HAProxy's stick store, once the server
// took the request. The entry is created if needed and refreshed, and the
// server it named before, if any, is replaced. A table that does not
// store server_id keeps nothing.
func (t *Table) StoreServer(key string, id int, name string) {
	if !t.has(cServerID) {
		return
	}
	now := t.tick()
	s, e := t.acquire(key, now)
	e.serverID = int64(id)
	if t.has(cServerKey) {
		e.serverName = name
	}
	s.mu.Unlock()
}

// MatchServer returns the server the entry of key names, as HAProxy's
// stick match reads it: its name ("" when the table keeps none) and id (0:
// none). A live entry is refreshed whatever it names; ok is false when
// the key has none.
func (t *Table) MatchServer(key string) (id int, name string, ok bool) {
	now := t.tick()
	s, e := t.find(key, now)
	if e == nil {
		return 0, "", false
	}
	e.touched = now
	s.order.MoveToFront(&e.link)
	id, name = int(e.serverID), e.serverName
	s.mu.Unlock()
	return id, name, true
}

// ServerName returns the name of the server the entry of key names, ""
// when none or the key has no live entry, without refreshing it (show
// table's server_key).
func (t *Table) ServerName(key string) string {
	s, e := t.find(key, t.tick())
	if e == nil {
		return ""
	}
	name := e.serverName
	s.mu.Unlock()
	return name
}
