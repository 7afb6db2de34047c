package kv

import (
	"context"
	"errors"
	"strings"
	"time"
)

// OpCode is an operation a script waits for on a remote backend (Redis,
// or artifacts in a directory).
type OpCode uint8

// The operations: core.kv's, core.bus.emit, and core.artifacts'.
const (
	OpGet OpCode = iota + 1
	OpSet
	OpDelete
	OpList
	OpIncr
	OpEmit
	OpArtWrite
	OpArtRead
	OpArtExists
	OpArtDelete
	OpArtRename
	OpArtList
)

// Artifact reports whether c is an operation on artifacts.
func (c OpCode) Artifact() bool { return c >= OpArtWrite && c <= OpArtList }

// Op is one operation.
type Op struct {
	Code  OpCode
	Key   string        // the key, event name or artifact name; List, ArtList: the prefix
	Value string        // Set: the value; Emit: the data; ArtWrite: the content; ArtRename: the new name
	TTL   time.Duration // Set; Incr when it creates the key; 0: no expiry
	Delta float64       // Incr: what is added
	Init  float64       // Incr: what an absent key starts from
}

// Result is what an operation returned.
type Result struct {
	Found bool     // Get, ArtRead, ArtExists
	Value string   // Get, ArtRead
	Num   float64  // Incr
	Keys  []string // List, ArtList: sorted
	Err   error
}

// Backend performs operations; Do blocks until the operation is done or
// ctx ends, so callers run it on a goroutine of their own. It is safe for
// concurrent use.
type Backend interface {
	Do(ctx context.Context, op Op) Result
}

// MaxList is the most keys or artifact names one list returns.
const MaxList = 10000

// ErrBadName is the error of an artifact name that is not a relative path
// of plain segments.
var ErrBadName = errors.New("an artifact name is a relative path of segments separated by /, without empty, . or .. segments")

// CheckArtifactName checks an artifact's name. The same rule holds for
// every backend, so that scripts move between them unchanged: a name is a
// path relative to the artifacts' root ("reports/2024.json").
func CheckArtifactName(name string) error {
	if name == "" || len(name) > 1024 || strings.ContainsAny(name, "\x00\\") {
		return ErrBadName
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return ErrBadName
		}
	}
	return nil
}
