package config

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Hooks are the hook scripts: a folder per script under Dir, holding a
// Lua file per lifecycle event it handles (docs/hooks.md).
type Hooks struct {
	// Dir holds the script folders; relative to the configuration's
	// folder; default "hooks".
	Dir string `yaml:"dir"`
	// FlushInterval is how often each worker runs the scripts' flush.lua;
	// nil (left out): DefaultHookFlushInterval; 0: only when the server
	// stops or reloads.
	FlushInterval *Duration `yaml:"flush_interval"`
	// DataDir is the folder data_store reads, relative to the
	// configuration's folder; "": no data store.
	DataDir string `yaml:"data_dir"`
	// Scripts are the scripts that may run, by folder name; a folder not
	// named here is not loaded.
	Scripts map[string]HookScript `yaml:"scripts"`
}

// HookScript is one hook script's settings.
type HookScript struct {
	// Enabled: nil (left out) is true.
	Enabled *bool `yaml:"enabled"`
	// Priority orders the scripts: higher first; equal ones by name.
	Priority int `yaml:"priority"`
}

// On reports whether the script is enabled.
func (h HookScript) On() bool { return h.Enabled == nil || *h.Enabled }

// Defaults of the hooks' keys.
const (
	DefaultHooksDir          = "hooks"
	DefaultHookFlushInterval = 10 * time.Second
)

// FlushIntervalOr is flush_interval with its default.
func (h *Hooks) FlushIntervalOr() time.Duration {
	return orDefault(h.FlushInterval, DefaultHookFlushInterval)
}

// Enabled returns the names of the enabled scripts, in the order they
// run: higher priority first, then by name.
func (h *Hooks) Enabled() []string {
	if h == nil {
		return nil
	}
	var names []string
	for n, s := range h.Scripts {
		if s.On() {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := h.Scripts[names[i]], h.Scripts[names[j]]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return names[i] < names[j]
	})
	return names
}

// FrontendHooks returns the hook scripts that run on frontend f, in the
// order they run: those it names that are enabled, or, when it names
// none (hooks left out), every enabled one on an HTTP frontend.
func (c *Config) FrontendHooks(f *Frontend) []string {
	all := c.Hooks.Enabled()
	if f.Hooks == nil {
		if f.Mode != "http" {
			return nil
		}
		return all
	}
	var out []string
	for _, n := range all {
		for _, m := range f.Hooks {
			if n == m {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func (h *Hooks) setDefaults(c *Config) {
	setDefault(&h.Dir, DefaultHooksDir)
	h.Dir = c.path(h.Dir)
	h.DataDir = c.path(h.DataDir)
}

// hookName is what a script's folder may be called: no path separator,
// no leading dot or underscore (_annotations.lua and the like sit beside
// the folders).
var hookName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidHookName reports whether name can name a hook script.
func ValidHookName(name string) bool { return hookName.MatchString(name) }

// validateHooks checks hooks and the frontends' choice of scripts.
func (c *Config) validateHooks() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	h := c.Hooks
	if h != nil {
		if h.FlushIntervalOr() < 0 {
			bad("hooks.flush_interval: must be 0 (only at stop and reload) or more")
		}
		names := make([]string, 0, len(h.Scripts))
		for n := range h.Scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !ValidHookName(n) {
				bad("hooks.scripts.%s: a script's name is its folder's: letters, digits, '_', '.', '-', not starting with '_' or '.'", n)
			}
		}
	}
	for i, f := range c.Frontends {
		if f.Hooks == nil {
			continue
		}
		at := fmt.Sprintf("frontends[%d].hooks", i)
		if f.Mode != "http" && len(f.Hooks) > 0 {
			bad("%s: hook scripts run on HTTP frontends only", at)
		}
		for j, n := range f.Hooks {
			if h == nil {
				bad("%s[%d]: %q: there is no top-level hooks key", at, j, n)
				continue
			}
			if _, ok := h.Scripts[n]; !ok {
				bad("%s[%d]: no script %q in hooks.scripts", at, j, n)
			}
		}
	}
	return errs
}
