package lj

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/luaedge/luaedge/cgo"
)

// The Go functions Lua reaches through the gate, by the name lj/lua/*.lua
// use for them (I.go.NAME).
var goFuncs = map[string]int{
	"log":     cgo.RegisterGoFunc(goLog),
	"var_get": cgo.RegisterGoFunc(goVarGet),
	"var_set": cgo.RegisterGoFunc(goVarSet),
}

// goFuncTable is the Lua chunk that tells a state the ids of goFuncs.
func goFuncTable() string {
	names := make([]string, 0, len(goFuncs))
	for n := range goFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("local go = require('luaedge.internal').go\n")
	for _, n := range names {
		fmt.Fprintf(&b, "go.%s = %d\n", n, goFuncs[n])
	}
	return b.String()
}

// slogLevel maps HAProxy's syslog levels to slog's.
func slogLevel(level int64) slog.Level {
	switch {
	case level <= 3: // emerg, alert, crit, err
		return slog.LevelError
	case level == 4: // warning
		return slog.LevelWarn
	case level <= 6: // notice, info
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// goLog(level, msg): core.log and friends.
func goLog(c *cgo.Call) int {
	slog.Log(context.Background(), slogLevel(c.Int(1)), c.String(2), "source", "lua")
	return 0
}

// procVars holds proc.* variables, shared by every core. Each state keeps
// copies of those it read (lj/lua/vars.lua), valid while the counter
// versionProc of sharedVersions does not move: every write bumps it.
var procVars sync.Map

func goVarGet(c *cgo.Call) int {
	v, ok := procVars.Load(c.String(1))
	if !ok {
		c.PushNil()
		return 1
	}
	switch v := v.(type) {
	case string:
		c.PushString(v)
	case float64:
		c.PushNumber(v)
	case bool:
		c.PushBool(v)
	}
	return 1
}

func goVarSet(c *cgo.Call) int {
	name := c.String(1)
	switch c.Type(2) {
	case cgo.TypeNil:
		procVars.Delete(name)
	case cgo.TypeBoolean:
		procVars.Store(name, c.Bool(2))
	case cgo.TypeNumber:
		procVars.Store(name, c.Number(2))
	case cgo.TypeString:
		procVars.Store(name, c.String(2))
	default:
		return c.Error("set_var: a variable holds a string, number or boolean")
	}
	sharedVersions.Bump(versionProc)
	return 0
}

// RegisterGoFunc makes fn callable from the Lua half of the APIs as
// I.gocall(I.go.NAME, ...). Call it from a package's init, before any
// state exists.
func RegisterGoFunc(name string, fn cgo.GoFunc) {
	goFuncs[name] = cgo.RegisterGoFunc(fn)
}
