package lj

// The runtime socket's ACL commands (show acl, get acl, add acl, del acl,
// clear acl, prepare acl, commit acl) on the ACL files of a generation,
// with versions as maps have them (mapsadmin.go): the same shared
// patterns that add-acl and del-acl rules and core.add_acl change, so
// that a change reaches the rules of every core before the command
// answers.
//
// The files a haproxy.cfg's ACLs load are declared when the generation
// starts (DeclareACLFile): those matched as they are now are read and
// indexed then; those whose patterns were compiled into the rules (-i,
// -m len...) are read too, to be listed, and refuse changes.

import (
	"errors"
	"fmt"
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
func (sh *Shared) ACLFiles() []MapFile { return sh.files(true) }

// ACLEntries returns the patterns of version v of an ACL file ("#ID" or
// its path), in file order, those added at run time last (Value is
// empty).
func (sh *Shared) ACLEntries(name string, v FileVersion) ([]MapEntry, error) {
	r, err := sh.findRef(name, true)
	if err != nil && !errors.Is(err, ErrFixedACL) {
		return nil, err
	}
	return r.entriesOf(v), nil
}

// ACLAdd adds a pattern to version v, even when the file has it already
// (HAProxy's add acl). A pattern that one of the file's match methods
// cannot read (not an address for an ip ACL, a bad regex) is refused
// with that method's error, whatever the version. At most MaxMapEntries
// (of all versions).
func (sh *Shared) ACLAdd(name string, v FileVersion, pattern string) error {
	r, err := sh.findRef(name, true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.future(v) {
		return ErrFutureVersion
	}
	if len(r.entries) >= MaxMapEntries {
		return fmt.Errorf("the ACL holds %d patterns, the most an ACL file may hold", len(r.entries))
	}
	e := &mapEntry{key: pattern, noValue: true}
	for _, x := range r.exprs {
		if err := newIndex(x.method).add(e); err != nil {
			return err
		}
	}
	r.addEntry(e, v)
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

// ACLClear deletes every pattern of version v of an ACL file.
func (sh *Shared) ACLClear(name string, v FileVersion) error {
	r, err := sh.findRef(name, true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearEntries(v.of(r))
	return nil
}

// ACLPrepare makes a new version of an ACL file, empty, and returns its
// number.
func (sh *Shared) ACLPrepare(name string) (uint32, error) {
	r, err := sh.findRef(name, true)
	if err != nil {
		return 0, err
	}
	return r.prepare(), nil
}

// ACLCommit makes version n of an ACL file the one its rules match, as
// MapCommit does.
func (sh *Shared) ACLCommit(name string, n uint32) error {
	r, err := sh.findRef(name, true)
	if err != nil {
		return err
	}
	return r.commit(n)
}

// ACLGet matches s against an ACL file with each match method its rules
// and scripts use in sh.
func (sh *Shared) ACLGet(name, s string) ([]Match, error) {
	r, err := sh.findRef(name, true)
	if err != nil {
		return nil, err
	}
	return sh.get(r, s), nil
}
