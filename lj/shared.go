package lj

import (
	"sync"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/shared/kv"
)

// Shared is what every Lua state of one generation shares across cores:
// the proc.* variables, the map and ACL files with their indexes, the
// change counters of the fast paths (fastpath.go), and facts about the
// generation (its number of loops, the folder relative map paths are taken
// from). The edge makes one per generation and passes it to each of that
// generation's states in Options.Shared; a gate call reaches it through the
// calling state's binding, never through a package variable, so two
// generations, or two servers in one process, never see each other's data.
//
// Its methods are safe for concurrent use by every loop.
type Shared struct {
	// Set by NewShared, read-only after.
	baseDir  string
	threads  int
	versions *cgo.Versions // counters bumped atomically by the writers below

	procs *procVars   // proc.* variables; its own lock; shared with the next generation
	maps  mapRegistry // map and ACL files; its own locks

	// The stores of core.kv, core.artifacts and ngx.shared (kv.go), set
	// before the first state is made, read-only after; storeList by id.
	stores    Stores
	storeList []*kv.Store
}

// NewShared makes the shared data of a generation. baseDir is the folder
// relative map and ACL paths are taken from (the configuration file's, as
// for lua.load; "" means the working directory); threads is its number of
// event loops, which core.get_info reports as Nbthread.
func NewShared(baseDir string, threads int) *Shared {
	if threads < 1 {
		threads = 1
	}
	sh := &Shared{
		baseDir:  baseDir,
		threads:  threads,
		versions: cgo.NewVersions(versionKV + kvSlots),
		procs:    &procVars{},
	}
	sh.SetStores(sh.defaultStores())
	return sh
}

// binding is the value each state is bound to (cgo.NewState): what its
// gate calls reach through cgo.Call.Value. It belongs to one state, lives
// as long as it, and is used from that state's loop only (regexes needs no
// lock for that reason).
type binding struct {
	shared  *Shared
	host    any
	regexes regexList
	zlib    zlibList // http.zlib streams
	// stats collects what the scripts' accounting reports while
	// State.ScriptStats runs (nil otherwise).
	stats *[]FuncStats
	// hooks are the generation's hook scripts and data store (nil: none).
	hooks *Hooks
}

// bindingOf returns the binding of the state that made the gate call c.
// Every state lj creates has one; nil only for a state made elsewhere.
func bindingOf(c *cgo.Call) *binding {
	b, _ := c.Value().(*binding)
	return b
}

// sharedOf returns the Shared of the state that made the gate call c.
func sharedOf(c *cgo.Call) *Shared {
	if b := bindingOf(c); b != nil {
		return b.shared
	}
	return nil
}

// Host returns the host value of the state that made the gate call c
// (Options.Host): how a gate function registered by another package finds
// its own per-loop data. nil when the state was given none.
func Host(c *cgo.Call) any {
	if b := bindingOf(c); b != nil {
		return b.host
	}
	return nil
}

// errNoShared is the gate's answer when a state has no binding.
const errNoShared = "luaedge: this Lua state has no shared data"

// MaxProcVarBytes bounds what the proc.* variables of one generation hold
// together: the bytes of their names and string values (8 for a number or
// a boolean). A script that would pass it gets a Lua error naming the
// limit; without one, a script storing per-request data in proc.* would
// grow the process without end, outside every state's memory_limit.
const MaxProcVarBytes = 64 << 20

// procVars holds the proc.* variables of one generation, shared by every
// core. Each state keeps copies of those it read (lj/lua/vars.lua), valid
// while the counter versionProc of the generation's versions does not
// move: every write bumps it.
type procVars struct {
	mu    sync.RWMutex
	m     map[string]any // string, float64 or bool
	bytes int64          // sum of procVarSize over m
}

// procVarSize is what a variable counts against MaxProcVarBytes.
func procVarSize(name string, v any) int64 {
	if s, ok := v.(string); ok {
		return int64(len(name) + len(s))
	}
	return int64(len(name) + 8)
}

func (p *procVars) get(name string) (any, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	v, ok := p.m[name]
	return v, ok
}

// set stores v under name (nil deletes it); false when the store would
// pass MaxProcVarBytes, which leaves the old value in place.
func (p *procVars) set(name string, v any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var old int64
	if o, ok := p.m[name]; ok {
		old = procVarSize(name, o)
	}
	if v == nil {
		delete(p.m, name)
		p.bytes -= old
		return true
	}
	n := procVarSize(name, v)
	if p.bytes-old+n > MaxProcVarBytes {
		return false
	}
	if p.m == nil {
		p.m = make(map[string]any)
	}
	p.m[name] = v
	p.bytes += n - old
	return true
}
