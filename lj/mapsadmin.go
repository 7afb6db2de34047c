package lj

// The runtime socket's map commands (show map, get map, add map, set map,
// del map, clear map, prepare map, commit map) on the map files of a
// generation. They change the entries every generation sharing the file
// sees, and bump the change counters so that every core's copies of the
// lookups are dropped before the command answers, as core.set_map does.
//
// Versions are HAProxy's: "prepare map" makes a new version number,
// "add map @N" fills it out of the lookups' sight, and "commit map @N"
// makes it the one lookups see, dropping the older ones, under the
// file's lock: a lookup on any core sees the old entries or the new
// ones, never a mix.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrNoMap is the error of a map name that is no map file in use.
var ErrNoMap = errors.New("unknown map")

// Errors of versions.
var (
	ErrFutureVersion = errors.New("version number in the future")
	ErrVersionRange  = errors.New("version number out of range")
)

// MapFile is a map file in use, as "show map" lists it.
type MapFile struct {
	ID         int    // "#ID" names it too
	Path       string // absolute
	Curr, Next uint32 // the version lookups see, the last one prepared
	Entries    int    // of every version
}

// FileVersion names the version of a file a command acts on ("@N" on the
// runtime socket); the zero FileVersion is the one lookups see.
type FileVersion struct {
	N   uint32
	Set bool
}

// of returns the version number v names in r.
func (v FileVersion) of(r *patRef) uint32 {
	if v.Set {
		return v.N
	}
	return r.curr
}

// files returns the map files (acl false) or ACL files in use, by ID.
func (sh *Shared) files(acl bool) []MapFile {
	sh.maps.mu.Lock()
	var out []MapFile
	for abs, r := range sh.maps.refs {
		r.mu.RLock()
		if r.acl == acl {
			out = append(out, MapFile{ID: r.id, Path: abs, Curr: r.curr, Next: r.next, Entries: len(r.entries)})
		}
		r.mu.RUnlock()
	}
	sh.maps.mu.Unlock()
	slices.SortFunc(out, func(a, b MapFile) int { return a.ID - b.ID })
	return out
}

// MapEntry is an entry of a map file. Ref identifies the entry while it
// exists (HAProxy shows the entry's address there; "#Ref" names it in
// set map and del map).
type MapEntry struct {
	Ref        string
	Key, Value string
}

// MapFiles returns the map files scripts use (ACL files left out), by ID.
func (sh *Shared) MapFiles() []MapFile { return sh.files(false) }

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

// MapEntries returns the entries of version v of a map file, in file
// order, those added at run time last.
func (sh *Shared) MapEntries(name string, v FileVersion) ([]MapEntry, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return nil, err
	}
	return r.entriesOf(v), nil
}

func (r *patRef) entriesOf(v FileVersion) []MapEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gen := v.of(r)
	var out []MapEntry
	for _, e := range r.entries {
		if e.gen == gen {
			out = append(out, MapEntry{Ref: entryRef(e), Key: e.key, Value: e.value})
		}
	}
	return out
}

// MapAdd adds an entry to version v, even when the key has one already
// (HAProxy's add map); a lookup finds the first. At most MaxMapEntries
// (of all versions).
func (sh *Shared) MapAdd(name string, v FileVersion, key, value string) error {
	r, err := sh.mapRef(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.future(v) {
		return ErrFutureVersion
	}
	if len(r.entries) >= MaxMapEntries {
		return fmt.Errorf("the map holds %d entries, the most a map may hold", len(r.entries))
	}
	r.addEntry(&mapEntry{key: key, value: value}, v)
	return nil
}

// future reports whether v is after the last version prepared (HAProxy
// compares them as wrapping numbers).
func (r *patRef) future(v FileVersion) bool { return v.Set && int32(v.N-r.next) > 0 }

// addEntry appends e to version v of r, and to the indexes when v is the
// one lookups see (a key not valid for a method stays out of its index,
// as in setMap). Called with r.mu held for writing.
func (r *patRef) addEntry(e *mapEntry, v FileVersion) {
	e.gen = v.of(r)
	r.entries = append(r.entries, e)
	if e.gen != r.curr {
		return
	}
	for _, x := range r.exprs {
		_ = x.idx.add(e)
		x.changed()
	}
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
			if e.key == key && e.gen == r.curr {
				_ = x.idx.add(e)
			}
		}
		x.changed()
	}
	return true
}

// MapClear deletes every entry of version v of a map file.
func (sh *Shared) MapClear(name string, v FileVersion) error {
	r, err := sh.mapRef(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearEntries(v.of(r))
	return nil
}

// clearEntries deletes the entries of version gen. Called with r.mu held
// for writing.
func (r *patRef) clearEntries(gen uint32) {
	r.entries = slices.DeleteFunc(r.entries, func(e *mapEntry) bool { return e.gen == gen })
	if gen != r.curr {
		return
	}
	for _, x := range r.exprs {
		x.idx = newIndex(x.method)
		x.changed()
	}
}

// MapPrepare makes a new version of a map file, empty, and returns its
// number.
func (sh *Shared) MapPrepare(name string) (uint32, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return 0, err
	}
	return r.prepare(), nil
}

func (r *patRef) prepare() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	return r.next
}

// MapCommit makes version n of a map file the one lookups see, and
// deletes the older versions; n must be one "prepare" made since the
// last commit (ErrVersionRange).
func (sh *Shared) MapCommit(name string, n uint32) error {
	r, err := sh.mapRef(name)
	if err != nil {
		return err
	}
	return r.commit(n)
}

// commit switches r to version n in one step under r.mu: the indexes are
// rebuilt from its entries and every core's copies dropped before the
// lock is released. The versions deleted are the 2^31-1 before n, as
// HAProxy's; those after n stay for a later commit.
func (r *patRef) commit(n uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n-(r.curr+1) >= r.next-r.curr {
		return ErrVersionRange
	}
	r.curr = n
	last := n - 1
	first := last - math.MaxInt32
	r.entries = slices.DeleteFunc(r.entries, func(e *mapEntry) bool { return e.gen-first <= last-first })
	for _, x := range r.exprs {
		x.idx = newIndex(x.method)
		for _, e := range r.entries {
			if e.gen == n {
				_ = x.idx.add(e)
			}
		}
		x.changed()
	}
	return nil
}

// Match is what a lookup of a value finds in a file with one of the
// match methods it is used with ("get map", "get acl").
type Match struct {
	Method string // "str", "beg", "ip"...
	Found  bool
	Tree   bool // the entry is in a tree index (HAProxy's idx=tree)
	Entry  MapEntry
	// NoValue: the entry has no value (an ACL pattern).
	NoValue bool
	// ValueType is HAProxy's name of the values' type for the lookups:
	// "sint" for the map_*_int converters', else "str".
	ValueType string
}

// MapGet looks s up in a map file with each match method its lookups use
// in sh, in the order they were first used.
func (sh *Shared) MapGet(name, s string) ([]Match, error) {
	r, err := sh.mapRef(name)
	if err != nil {
		return nil, err
	}
	return sh.get(r, s), nil
}

// get looks s up in the indexes of r that sh's lookups use.
func (sh *Shared) get(r *patRef, s string) []Match {
	var mine []*mapExpr
	if p := sh.maps.list.Load(); p != nil {
		mine = *p
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Match
	for _, x := range mine {
		if x.ref != r {
			continue
		}
		m := Match{Method: matchNames[x.method], ValueType: "str"}
		if x.ints {
			m.ValueType = "sint"
		}
		if e := x.idx.lookup(s); e != nil {
			m.Found, m.Tree, m.NoValue = true, inTree(x.method, e.key), e.noValue
			m.Entry = MapEntry{Ref: entryRef(e), Key: e.key, Value: e.value}
		}
		out = append(out, m)
	}
	return out
}

// inTree reports whether HAProxy keeps an entry of key in a tree for
// method: exact and prefix matches, and addresses with a contiguous mask;
// the other methods try their entries in a list.
func inTree(method int, key string) bool {
	switch method {
	case matchStr, matchBeg:
		return true
	case matchIP:
		n, ok := parseNet(key)
		return ok && (n.is6 || contiguousLen(n.mask4) >= 0)
	}
	return false
}
