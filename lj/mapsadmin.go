package lj

// The runtime socket's map commands (show map, add map, set map, del map,
// clear map) on the map files of a generation. They change the entries
// every generation sharing the file sees, and bump the change counters
// so that every core's copies of the lookups are dropped before the
// command answers, as core.set_map does.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrNoMap is the error of a map name that is no map file in use.
var ErrNoMap = errors.New("unknown map")

// MapFile is a map file in use, as "show map" lists it.
type MapFile struct {
	ID      int    // "#ID" names it too
	Path    string // absolute
	Entries int
}

// MapEntry is an entry of a map file. Ref identifies the entry while it
// exists (HAProxy shows the entry's address there; "#Ref" names it in
// set map and del map).
type MapEntry struct {
	Ref        string
	Key, Value string
}

// MapFiles returns the map files scripts use (ACL files left out), by ID.
func (sh *Shared) MapFiles() []MapFile {
	sh.maps.mu.Lock()
	var out []MapFile
	for abs, r := range sh.maps.refs {
		r.mu.RLock()
		if !r.acl {
			out = append(out, MapFile{ID: r.id, Path: abs, Entries: len(r.entries)})
		}
		r.mu.RUnlock()
	}
	sh.maps.mu.Unlock()
	slices.SortFunc(out, func(a, b MapFile) int { return a.ID - b.ID })
	return out
}

// mapRef finds a map file by "#ID", by its path as the scripts gave it,
// or by its absolute path (relative paths start from the generation's
// folder, as the scripts' do).
func (sh *Shared) mapRef(name string) (*patRef, error) { return sh.findRef(name, false) }

// findRef finds a map file (acl false) or an ACL file as mapRef says.
func (sh *Shared) findRef(name string, acl bool) (*patRef, error) {
	sh.maps.mu.Lock()
	defer sh.maps.mu.Unlock()
	var found *patRef
	if id, ok := strings.CutPrefix(name, "#"); ok {
		n, err := strconv.Atoi(id)
		for _, r := range sh.maps.refs {
			if err == nil && r.id == n {
				found = r
			}
		}
	} else if r := sh.maps.refs[sh.absPath(name)]; r != nil {
		found = r
	}
	switch {
	case found == nil || found.acl != acl:
		if acl {
			return nil, ErrNoACL
		}
		return nil, ErrNoMap
	case found.fixed != "":
		return found, fmt.Errorf("%w: %s: %s", ErrFixedACL, found.name, found.fixed)
	}
	return found, nil
}

// entryRef is what MapEntry.Ref shows of e.
func entryRef(e *mapEntry) string { return fmt.Sprintf("%p", e) }

// MapEntries returns the entries of a map file, in file order, those
// added at run time last.
func (sh *Shared) MapEntries(name string) ([]MapEntry, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]MapEntry, len(r.entries))
	for i, e := range r.entries {
		out[i] = MapEntry{Ref: entryRef(e), Key: e.key, Value: e.value}
	}
	return out, nil
}

// MapAdd adds an entry, even when the key has one already (HAProxy's add
// map); a lookup finds the first. At most MaxMapEntries.
func (sh *Shared) MapAdd(name, key, value string) error {
	r, err := sh.mapRef(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= MaxMapEntries {
		return fmt.Errorf("the map holds %d entries, the most a map may hold", len(r.entries))
	}
	e := &mapEntry{key: key, value: value}
	r.entries = append(r.entries, e)
	for _, x := range r.exprs {
		_ = x.idx.add(e) // a key not valid for a method stays out of its index, as in setMap
		x.changed()
	}
	return nil
}

// selects reports whether e is what keyOrRef names: "#Ref" an entry,
// anything else the entries of that key.
func selects(e *mapEntry, keyOrRef string) bool {
	if ref, ok := strings.CutPrefix(keyOrRef, "#"); ok {
		return entryRef(e) == ref
	}
	return e.key == keyOrRef
}

// MapSet sets the value of the entries keyOrRef names (a key, or "#Ref");
// false when there is none.
func (sh *Shared) MapSet(name, keyOrRef, value string) (bool, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for _, e := range r.entries {
		if selects(e, keyOrRef) {
			e.value, e.noValue, found = value, false, true
		}
	}
	if found {
		for _, x := range r.exprs {
			x.changed()
		}
	}
	return found, nil
}

// MapDel deletes the entries keyOrRef names (a key, or "#Ref"); false
// when there is none.
func (sh *Shared) MapDel(name, keyOrRef string) (bool, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return false, err
	}
	return r.delEntries(keyOrRef), nil
}

// delEntries deletes the entries of r keyOrRef names; false when there is
// none.
func (r *patRef) delEntries(keyOrRef string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var key string
	kept := r.entries[:0]
	for _, e := range r.entries {
		if selects(e, keyOrRef) {
			key = e.key
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == len(r.entries) {
		return false
	}
	clear(r.entries[len(kept):])
	r.entries = kept
	// The indexes drop every entry of the key; those still in the file
	// (another entry of the key than the one deleted) go back in order.
	for _, x := range r.exprs {
		x.idx.del(key)
		for _, e := range r.entries {
			if e.key == key {
				_ = x.idx.add(e)
			}
		}
		x.changed()
	}
	return true
}

// MapClear deletes every entry of a map file.
func (sh *Shared) MapClear(name string) error {
	r, err := sh.mapRef(name)
	if err != nil {
		return err
	}
	r.clearEntries()
	return nil
}

func (r *patRef) clearEntries() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.entries)
	r.entries = nil
	for _, x := range r.exprs {
		x.idx = newIndex(x.method)
		x.changed()
	}
}
