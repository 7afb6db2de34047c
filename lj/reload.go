package lj

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
)

// Next makes the shared data of the generation that follows sh on a
// reload, with threads loops; baseDir is as for NewShared. What the
// scripts built at run time carries over:
//
//   - the proc.* variables: the two generations share one set, so a write
//     made while the old one drains is seen by both;
//   - the change counters, so that such a write also reaches the copies
//     the other generation's states keep (map indexes of the two
//     generations may share a counter: a change to one then only costs the
//     other's copies a gate call);
//   - every map and ACL file whose contents on disk are still those sh
//     read (or that is still missing, for one a script created), with the
//     entries scripts and the runtime API set or deleted, except the ACL
//     files whose patterns sh's rules compiled. A file changed on disk is read
//     afresh by the next generation, on first use.
//
// sh keeps serving its own states. Call Release on whichever of the two
// is dropped once its states are closed.
func (sh *Shared) Next(baseDir string, threads int) *Shared {
	next := NewShared(baseDir, threads)
	next.versions = sh.versions
	next.procs = sh.procs
	sh.maps.mu.Lock()
	refs := maps.Clone(sh.maps.refs)
	next.maps.nextID = sh.maps.nextID
	// A file whose patterns sh's rules compiled is read afresh: the next
	// configuration says again how its ACLs use it (fixed is set under
	// sh.maps.mu).
	maps.DeleteFunc(refs, func(_ string, r *patRef) bool { return r.fixed != "" })
	sh.maps.mu.Unlock()
	// Files are read outside the lock: sh's loops may be opening maps.
	for abs, r := range refs {
		if sumOf(abs) != r.file {
			delete(refs, abs)
		}
	}
	next.maps.refs = refs
	return next
}

// sumOf returns the sum of the file at path; a file that cannot be read
// counts as missing, which makes it differ from any file read.
func sumOf(path string) fileSum {
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fileSum{exists: true} // unreadable: never equal to a sum read
		}
		return fileSum{}
	}
	return fileSum{exists: true, sha256: sha256.Sum256(data)}
}

// Release detaches sh's map indexes from the files it shares with other
// generations, so that their updates stop maintaining them and they can be
// freed. Call it once the states using sh are closed.
func (sh *Shared) Release() {
	p := sh.maps.list.Load()
	if p == nil {
		return
	}
	for _, x := range *p {
		r := x.ref
		r.mu.Lock()
		r.exprs = slices.DeleteFunc(r.exprs, func(y *mapExpr) bool { return y == x })
		r.mu.Unlock()
	}
}
