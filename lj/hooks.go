package lj

// The Go half of the hook scripts (lj/lua/hooks.lua, docs/hooks.md):
// reading the script folders and the data store, loading the scripts into
// a state, giving frontends' programs their scripts, and the gate
// functions of log.* and data_store.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/luaedge/luaedge/cgo"
)

// HookNames are the files a hook script's folder may hold (NAME.lua),
// besides _shared.lua; keep in step with lj/lua/hooks.lua.
var HookNames = []string{
	"connect", "before_request", "after_request", "before_response", "after_response",
	"error", "close", "ws_open", "ws_msg", "ws_close", "flush",
}

// HookSet says which hooks some scripts have, one bit per HookNames
// entry (HookConnect...).
type HookSet uint32

// The bits of HookSet Go acts on.
const (
	HookConnect HookSet = 1 << 0
	HookClose   HookSet = 1 << 6
	HookWSOpen  HookSet = 1 << 7
	HookWSMsg   HookSet = 1 << 8
	HookWSClose HookSet = 1 << 9
	HookFlush   HookSet = 1 << 10
	// HookWS: any of the WebSocket hooks.
	HookWS = HookWSOpen | HookWSMsg | HookWSClose
)

// HookScript is one script's folder as read: its code by hook name
// ("_shared" for _shared.lua).
type HookScript struct {
	Name  string
	Dir   string // the folder, as error messages and chunk names show it
	Files map[string][]byte
}

// Has returns the hooks the script has.
func (h *HookScript) Has() HookSet {
	var set HookSet
	for i, n := range HookNames {
		if _, ok := h.Files[n]; ok {
			set |= 1 << i
		}
	}
	return set
}

// Hooks are a generation's hook scripts and data store, read once and
// shared, read-only, by every state.
type Hooks struct {
	// Scripts are the enabled scripts, in the order they run.
	Scripts []HookScript
	// data is the data store: file contents by slash-separated path
	// relative to its folder; nil when there is none.
	data map[string][]byte
}

// MaxDataStore bounds the bytes of the data store's files together: they
// are read into memory at start and reload, so that data_store never
// reads the disk on a loop.
const MaxDataStore = 64 << 20

// ReadHooks reads the folders of the scripts names (enabled, in the order
// they run) under dir, and the files under dataDir ("": no data store).
func ReadHooks(dir string, names []string, dataDir string) (*Hooks, error) {
	h := &Hooks{}
	for _, name := range names {
		sc, err := readHookScript(dir, name)
		if err != nil {
			return nil, err
		}
		h.Scripts = append(h.Scripts, sc)
	}
	if dataDir != "" {
		data, err := readDataStore(dataDir)
		if err != nil {
			return nil, fmt.Errorf("hooks.data_dir: %w", err)
		}
		h.data = data
	}
	return h, nil
}

func readHookScript(dir, name string) (HookScript, error) {
	folder := filepath.Join(dir, name)
	sc := HookScript{Name: name, Dir: folder, Files: map[string][]byte{}}
	entries, err := os.ReadDir(folder)
	if err != nil {
		return sc, fmt.Errorf("hooks.scripts.%s: %w", name, err)
	}
	known := map[string]bool{"_shared": true}
	for _, n := range HookNames {
		known[n] = true
	}
	for _, e := range entries {
		base, isLua := strings.CutSuffix(e.Name(), ".lua")
		if e.IsDir() || !isLua {
			continue // other files (notes, data) are the script's own business
		}
		file := filepath.Join(folder, e.Name())
		if !known[base] {
			return sc, fmt.Errorf("hooks.scripts.%s: %s: not a hook's name (%s, or _shared)", name, file, strings.Join(HookNames, ", "))
		}
		code, err := os.ReadFile(file)
		if err != nil {
			return sc, fmt.Errorf("hooks.scripts.%s: %w", name, err)
		}
		// As for lua.load: LuaJIT does not verify bytecode.
		if len(code) > 0 && code[0] == luaBytecodeMark {
			return sc, fmt.Errorf("hooks.scripts.%s: %s: a bytecode chunk; luaedge loads scripts as text only", name, file)
		}
		sc.Files[base] = code
	}
	return sc, nil
}

func readDataStore(dir string) (map[string][]byte, error) {
	data := map[string][]byte{}
	total := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if total += len(b); total > MaxDataStore {
			return fmt.Errorf("%s: the data store's files hold more than %d MiB (luaedge's limit, lj.MaxDataStore)", dir, MaxDataStore>>20)
		}
		rel, _ := filepath.Rel(dir, p)
		data[filepath.ToSlash(rel)] = b
		return nil
	})
	return data, err
}

// Has returns the hooks the scripts names have together.
func (h *Hooks) Has(names []string) HookSet {
	var set HookSet
	if h == nil {
		return 0
	}
	for i := range h.Scripts {
		for _, n := range names {
			if h.Scripts[i].Name == n {
				set |= h.Scripts[i].Has()
			}
		}
	}
	return set
}

// loadHooks loads every script into the state (I.hooks_load): each file
// compiled into a function with the script's environment, _shared.lua
// run first.
func (s *State) loadHooks(h *Hooks) error {
	for _, sc := range h.Scripts {
		var files, names strings.Builder
		files.WriteString("{")
		names.WriteString("{")
		keys := make([]string, 0, len(sc.Files))
		for k := range sc.Files {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			files.WriteString("[" + luaString(k) + "]=" + luaString(string(sc.Files[k])) + ",")
			names.WriteString("[" + luaString(k) + "]=" + luaString("@"+filepath.Join(sc.Dir, k+".lua")) + ",")
		}
		files.WriteString("}")
		names.WriteString("}")
		code := "(...).hooks_load(" + luaString(sc.Name) + ", " + files.String() + ", " + names.String() + ")"
		if err := s.L.LoadInternal([]byte(code), "=luaedge/hooks_load"); err != nil {
			msg, _, _ := strings.Cut(err.Error(), "\nstack traceback:")
			return fmt.Errorf("hooks.scripts.%s: %s", sc.Name, msg)
		}
	}
	return nil
}

// SetHooks gives program id the hook scripts names, in the order they
// run (none: the program runs as it was).
func (s *State) SetHooks(id int, names []string) error {
	if len(names) == 0 {
		return nil
	}
	return s.L.LoadInternal([]byte("(...).program_hooks("+strconv.Itoa(id)+", "+luaList(names)+")"), "=luaedge/program_hooks")
}

// WSHookChain has the ws_filters chain id (0: none) also run the
// WebSocket hooks of program prog, on the messages of a forwarded
// WebSocket and when it opens and closes; it returns the chain's id.
func (s *State) WSHookChain(id, prog int) (int, error) {
	out, err := s.L.EvalInternal("return (...).ws_hooks("+strconv.Itoa(id)+", "+strconv.Itoa(prog)+")", "=luaedge/ws_hooks")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

func init() {
	goFuncs["hook_log"] = cgo.RegisterGoFunc(goHookLog)
	goFuncs["data_store"] = cgo.RegisterGoFunc(goDataStore)
}

// goHookLog(level, script, msg, key, value, ...): log.* of a hook script.
// trace goes out at debug, audit at info, each marked with an attribute
// of its name.
func goHookLog(c *cgo.Call) int {
	level := slog.LevelInfo
	args := []any{"source", "hook", "script", c.String(2)}
	switch lv := c.String(1); lv {
	case "trace":
		level = slog.LevelDebug
		args = append(args, "trace", true)
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	case "audit":
		args = append(args, "audit", true)
	}
	for i := 4; i+1 <= c.NArgs(); i += 2 {
		key := c.String(i)
		switch c.Type(i + 1) {
		case cgo.TypeNumber:
			args = append(args, key, c.Number(i+1))
		case cgo.TypeBoolean:
			args = append(args, key, c.Bool(i+1))
		default:
			args = append(args, key, c.String(i+1))
		}
	}
	slog.Log(context.Background(), level, c.String(3), args...)
	return 0
}

// errNoDataStore is what data_store's functions return without
// hooks.data_dir.
var errNoDataStore = errors.New("data_store: no hooks.data_dir is configured")

// goDataStore(op, name[, exts]): data_store.exists (true or false),
// read (the contents, or nil and why), list (names separated by "\n",
// or nil and why).
func goDataStore(c *cgo.Call) int {
	b := bindingOf(c)
	var data map[string][]byte
	if b != nil && b.hooks != nil {
		data = b.hooks.data
	}
	op, name := c.String(1), c.String(2)
	if data == nil {
		if op == "exists" {
			c.PushBool(false)
			return 1
		}
		c.PushNil()
		c.PushString(errNoDataStore.Error())
		return 2
	}
	clean := path.Clean("/" + name)[1:]
	switch op {
	case "exists":
		_, ok := data[clean]
		c.PushBool(ok)
		return 1
	case "read":
		v, ok := data[clean]
		if !ok {
			c.PushNil()
			c.PushString("data_store.read: " + name + ": no such file")
			return 2
		}
		c.PushString(string(v))
		return 1
	case "list":
		var exts []string
		if e := c.String(3); e != "" {
			exts = strings.Split(e, "\n")
		}
		prefix := clean
		if prefix != "" {
			prefix += "/"
		}
		var out []string
		folder := prefix == ""
		for p := range data {
			rest, ok := strings.CutPrefix(p, prefix)
			if !ok {
				continue
			}
			folder = true
			if strings.Contains(rest, "/") || !hasExt(rest, exts) {
				continue
			}
			out = append(out, rest)
		}
		if !folder {
			c.PushNil()
			c.PushString("data_store.list: " + name + ": no such folder")
			return 2
		}
		sort.Strings(out)
		c.PushString(strings.Join(out, "\n"))
		return 1
	}
	return c.Error("data_store: unknown operation " + op)
}

// hasExt reports whether name ends with one of exts ("json" and ".json"
// alike); no exts: any name.
func hasExt(name string, exts []string) bool {
	if len(exts) == 0 {
		return true
	}
	for _, e := range exts {
		if strings.HasSuffix(name, "."+strings.TrimPrefix(e, ".")) {
			return true
		}
	}
	return false
}
