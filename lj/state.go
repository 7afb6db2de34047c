// Package lj is the LuaJIT side of luaedge: one state per event loop, the
// embedded Lua half of the APIs (lua/*.lua), the operator's scripts, and the
// pool of coroutines that run requests.
//
// Lua globals are per state, so per core. What must be shared across cores
// (proc.* variables, and later maps, ACLs and stick tables) goes through Go.
package lj

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/luaedge/luaedge/cgo"
)

//go:embed lua/*.lua
var luaFS embed.FS

// The API files, run in this order after bridge.lua in every state.
var apiFiles = []string{"core.lua", "vars.lua", "applet_http.lua"}

// Entry functions a coroutine can run; keep in step with lj/lua/bridge.lua.
const (
	EntryHTTPService = 1
	EntryEndSession  = 2
)

// Script is one operator script: its path as configured (used in error
// messages) and its code.
type Script struct {
	Path string
	Code []byte
}

// ReadScripts reads the files of lua.load; relative paths are taken from dir.
func ReadScripts(dir string, paths []string) ([]Script, error) {
	scripts := make([]Script, 0, len(paths))
	for _, p := range paths {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		code, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		scripts = append(scripts, Script{Path: p, Code: code})
	}
	return scripts, nil
}

// Options configure a state.
type Options struct {
	Scripts     []Script
	MemoryLimit int64 // bytes; 0: none
}

// maxPooled bounds the idle coroutines a state keeps for reuse.
const maxPooled = 4096

// State is one LuaJIT state with the APIs and scripts loaded. It belongs to
// one event loop and is used from that loop's thread only.
type State struct {
	L    *cgo.State
	pool []*cgo.Thread
}

// NewState creates a state, loads the APIs, then runs the scripts' body
// context (their core.register_* calls). A script error names file:line.
func NewState(opts Options, id int) (*State, error) {
	L, err := cgo.NewState(opts.MemoryLimit, id)
	if err != nil {
		return nil, err
	}
	s := &State{L: L}
	if err := s.loadAPIs(); err != nil {
		L.Close()
		return nil, err
	}
	for _, sc := range opts.Scripts {
		if err := L.Load(sc.Code, "@"+sc.Path); err != nil {
			L.Close()
			return nil, fmt.Errorf("lua.load %s: %w", sc.Path, err)
		}
	}
	return s, nil
}

func (s *State) loadAPIs() error {
	code, err := luaFS.ReadFile("lua/bridge.lua")
	if err != nil {
		return err
	}
	if err := s.L.LoadBridge(code, "@luaedge/bridge.lua"); err != nil {
		return fmt.Errorf("luaedge bridge: %w", err)
	}
	if err := s.L.Load([]byte(goFuncTable()), "=luaedge/gofuncs"); err != nil {
		return err
	}
	for _, f := range apiFiles {
		code, err := luaFS.ReadFile("lua/" + f)
		if err != nil {
			return err
		}
		if err := s.L.Load(code, "@luaedge/"+f); err != nil {
			return fmt.Errorf("luaedge %s: %w", f, err)
		}
	}
	return nil
}

// ServiceID resolves a registered service of the given mode ("http", "tcp").
func (s *State) ServiceID(name, mode string) (int, error) {
	out, err := s.L.Eval("return require('luaedge.internal').service_id("+luaString(name)+", "+luaString(mode)+")", "=use_service")
	if err != nil {
		return 0, err
	}
	var id int
	if _, err := fmt.Sscan(out, &id); err != nil {
		return 0, fmt.Errorf("service %q: bad id %q", name, out)
	}
	return id, nil
}

// Thread returns an idle coroutine from the pool, or a new one.
func (s *State) Thread() (*cgo.Thread, error) {
	if n := len(s.pool); n > 0 {
		t := s.pool[n-1]
		s.pool = s.pool[:n-1]
		return t, nil
	}
	return s.L.NewThread()
}

// Release returns a coroutine whose entry function finished to the pool.
func (s *State) Release(t *cgo.Thread) {
	if len(s.pool) >= maxPooled {
		t.Free()
		return
	}
	s.pool = append(s.pool, t)
}

// Close frees the pooled coroutines and the state.
func (s *State) Close() {
	for _, t := range s.pool {
		t.Free()
	}
	s.pool = nil
	s.L.Close()
}

// luaString quotes s as a Lua string literal.
func luaString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\x00", `\0`).Replace(s) + "'"
}
