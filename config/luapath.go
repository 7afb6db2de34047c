package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultLuaPath is lua.path when left out: modules beside the
// configuration file, then LuaJIT's default directories (";;").
const DefaultLuaPath = "?.lua;?/init.lua;;"

// MinLuaMemoryLimit is the least lua.memory_limit a state can start
// with: luaedge's own Lua code takes about 1 MiB of each state before
// any script is loaded.
const MinLuaMemoryLimit = 2 << 20

// resolvePaths makes lua.path's and lua.cpath's relative templates
// relative to dir (the configuration's folder), so that require finds
// the same modules whatever the working directory. ";;" stays, for the
// state to replace with LuaJIT's defaults.
func (l *Lua) resolvePaths(dir string) {
	setDefault(&l.Path, DefaultLuaPath)
	l.Path = resolveTemplates(l.Path, dir)
	l.CPath = resolveTemplates(l.CPath, dir)
}

func resolveTemplates(list, dir string) string {
	if dir == "" {
		return list
	}
	parts := strings.Split(list, ";")
	for i, p := range parts {
		if p != "" && !filepath.IsAbs(p) {
			parts[i] = filepath.Join(dir, p)
		}
	}
	return strings.Join(parts, ";")
}

func (l *Lua) validateMemory() []error {
	var errs []error
	if l.MemoryLimit < MinLuaMemoryLimit {
		errs = append(errs, fmt.Errorf("lua.memory_limit: %s is too small: luaedge's own Lua code needs about 1MiB of each state before any script; give at least 2MiB (the default is 256MiB)", sizeWords(int64(l.MemoryLimit))))
	}
	if l.CPath != "" && !l.UnsafeFFI {
		errs = append(errs, fmt.Errorf("lua.cpath: C modules can only be loaded with lua.unsafe_ffi: true (and not by the static binary, which cannot link them: see docs/lua-api.md, Built-in modules)"))
	}
	return errs
}

// sizeWords writes n bytes as the largest whole unit.
func sizeWords(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
