package kv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Dir keeps artifacts as files under a directory (shared.artifacts.dir):
// an artifact "a/b.json" is the file ROOT/a/b.json. A write goes to a
// temporary file in the same folder, renamed over the artifact once
// complete, so a reader sees the old content or the new, never a part.
// Its methods do file I/O: callers run them on goroutines of their own.
type Dir struct {
	root string
	max  int64 // the largest artifact written; 0: no limit
}

// tmpPrefix starts the names of files being written; List skips them.
const tmpPrefix = ".luaedge-tmp-"

// NewDir keeps artifacts under root, which the first write creates if
// needed.
func NewDir(root string, maxSize int64) *Dir {
	return &Dir{root: root, max: maxSize}
}

func (d *Dir) path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

// Do performs an artifact operation (ArtWrite ... ArtList). ctx is not
// looked at: a file operation is not interrupted.
func (d *Dir) Do(_ context.Context, op Op) Result {
	if !op.Code.Artifact() {
		return Result{Err: fmt.Errorf("unknown operation %d", op.Code)}
	}
	if op.Code != OpArtList { // a list takes any prefix
		if err := CheckArtifactName(op.Key); err != nil {
			return Result{Err: err}
		}
	}
	switch op.Code {
	case OpArtWrite:
		return Result{Err: d.write(op.Key, op.Value)}
	case OpArtRead:
		b, err := os.ReadFile(d.path(op.Key))
		if errors.Is(err, fs.ErrNotExist) {
			return Result{}
		}
		return Result{Found: err == nil, Value: string(b), Err: err}
	case OpArtExists:
		fi, err := os.Stat(d.path(op.Key))
		if errors.Is(err, fs.ErrNotExist) {
			return Result{}
		}
		return Result{Found: err == nil && fi.Mode().IsRegular(), Err: err}
	case OpArtDelete:
		err := os.Remove(d.path(op.Key))
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotFound
		}
		return Result{Err: err}
	case OpArtRename:
		if err := CheckArtifactName(op.Value); err != nil {
			return Result{Err: err}
		}
		to := d.path(op.Value)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return Result{Err: err}
		}
		err := os.Rename(d.path(op.Key), to)
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotFound
		}
		return Result{Err: err}
	}
	keys, err := d.list(op.Key)
	return Result{Keys: keys, Err: err}
}

func (d *Dir) write(name, data string) error {
	if d.max > 0 && int64(len(data)) > d.max {
		return ErrTooLarge
	}
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// list returns the names of the artifacts that start with prefix, sorted,
// at most MaxList of them.
func (d *Dir) list(prefix string) ([]string, error) {
	var names []string
	if _, err := os.Stat(d.root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing written yet
	}
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	if len(names) > MaxList {
		names = names[:MaxList]
	}
	return names, err
}
