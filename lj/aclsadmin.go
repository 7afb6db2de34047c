package lj

// The runtime socket's ACL commands (show acl, add acl, del acl, clear
// acl) on the ACL files of a generation: the same shared patterns that
// add-acl and del-acl rules and core.add_acl change, so that a change
// reaches the rules of every core before the command answers.
//
// The files a haproxy.cfg's ACLs load are declared when the generation
// starts (DeclareACLFile): those matched as they are now are read and
// indexed then; those whose patterns were compiled into the rules (-i,
// -m len...) are read too, to be listed, and refuse changes.

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNoACL is the error of a name that is no ACL file in use.
var ErrNoACL = errors.New("unknown ACL")

// ErrFixedACL is the error of a change to an ACL file whose patterns are
// compiled into the rules.
var ErrFixedACL = errors.New("this ACL file cannot change at run time in luaedge")

// DeclareACLFile reads the ACL file at path: for an ACL that matches it
// with method ("str", "beg", "ip"...) as it is now when fixed is "", or,
// when fixed says why, one whose patterns are compiled into the rules
// (changes to it are refused with that reason). Errors name the file
// and line.
func (sh *Shared) DeclareACLFile(path, method, fixed string) error {
	if fixed == "" {
		_, err := sh.ACLMatch(path, method, "")
		return err
	}
	sh.maps.mu.Lock()
	defer sh.maps.mu.Unlock()
	r, err := sh.getRef(path, true, false)
	if err != nil {
		return err
	}
	if !r.acl {
		return fmt.Errorf("%s is already used as a map file, not an ACL file", path)
	}
	r.mu.Lock()
	r.fixed = fixed
	r.mu.Unlock()
	return nil
}

// ACLFiles returns the ACL files in use (those scripts and rules change,
// and those a configuration declared), by ID.
func (sh *Shared) ACLFiles() []MapFile {
	sh.maps.mu.Lock()
	var out []MapFile
	for abs, r := range sh.maps.refs {
		r.mu.RLock()
		if r.acl {
			out = append(out, MapFile{ID: r.id, Path: abs, Entries: len(r.entries)})
		}
		r.mu.RUnlock()
	}
	sh.maps.mu.Unlock()
	slices.SortFunc(out, func(a, b MapFile) int { return a.ID - b.ID })
	return out
}

// ACLEntries returns the patterns of an ACL file ("#ID" or its path), in
// file order, those added at run time last (Value is empty).
func (sh *Shared) ACLEntries(name string) ([]MapEntry, error) {
	r, err := sh.findRef(name, true)
	if err != nil && !errors.Is(err, ErrFixedACL) {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]MapEntry, len(r.entries))
	for i, e := range r.entries {
		out[i] = MapEntry{Ref: entryRef(e), Key: e.key}
	}
	return out, nil
}

// ACLAdd adds a pattern, even when the file has it already (HAProxy's add
// acl). A pattern that one of the file's match methods cannot read (not
// an address for an ip ACL, a bad regex) is refused with that method's
// error. At most MaxMapEntries.
func (sh *Shared) ACLAdd(name, pattern string) error {
	r, err := sh.findRef(name, true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= MaxMapEntries {
		return fmt.Errorf("the ACL holds %d patterns, the most an ACL file may hold", len(r.entries))
	}
	e := &mapEntry{key: pattern, noValue: true}
	for _, x := range r.exprs {
		if err := newIndex(x.method).add(e); err != nil {
			return err
		}
	}
	r.entries = append(r.entries, e)
	for _, x := range r.exprs {
		_ = x.idx.add(e)
		x.changed()
	}
	return nil
}

// ACLDel deletes the patterns keyOrRef names (a pattern, or "#Ref");
// false when there is none.
func (sh *Shared) ACLDel(name, keyOrRef string) (bool, error) {
	r, err := sh.findRef(name, true)
	if err != nil {
		return false, err
	}
	return r.delEntries(keyOrRef), nil
}

// ACLClear deletes every pattern of an ACL file.
func (sh *Shared) ACLClear(name string) error {
	r, err := sh.findRef(name, true)
	if err != nil {
		return err
	}
	r.clearEntries()
	return nil
}
