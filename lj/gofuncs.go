package lj

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/md5_crypt"    // $1$
	_ "github.com/GehirnInc/crypt/sha256_crypt" // $5$
	_ "github.com/GehirnInc/crypt/sha512_crypt" // $6$

	"github.com/luaedge/luaedge/cgo"
)

// The Go functions Lua reaches through the gate, by the name lj/lua/*.lua
// use for them (I.go.NAME).
var goFuncs = map[string]int{
	"log":     cgo.RegisterGoFunc(goLog),
	"var_get": cgo.RegisterGoFunc(goVarGet),
	"var_set": cgo.RegisterGoFunc(goVarSet),
	"uuid":    cgo.RegisterGoFunc(goUUID),
	"crypt":   cgo.RegisterGoFunc(goCryptCheck),
}

// goFuncTable is the Lua chunk that tells a state the ids of goFuncs.
func goFuncTable() string {
	names := make([]string, 0, len(goFuncs))
	for n := range goFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("local go = (...).go\n")
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

// goVarGet(name) -> value | nil: a proc.* variable of the caller's generation.
func goVarGet(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	v, ok := sh.procs.get(c.String(1))
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

// goVarSet(name, value): sets (nil: unsets) a proc.* variable of the
// caller's generation.
func goVarSet(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	name := c.String(1)
	var v any
	switch c.Type(2) {
	case cgo.TypeNil:
	case cgo.TypeBoolean:
		v = c.Bool(2)
	case cgo.TypeNumber:
		v = c.Number(2)
	case cgo.TypeString:
		v = c.String(2)
	default:
		return c.Error("set_var: a variable holds a string, number or boolean")
	}
	if !sh.procs.set(name, v) {
		return c.Error(fmt.Sprintf("set_var %s: proc.* variables would hold more than %d MiB together (luaedge's limit, lj.MaxProcVarBytes)", name, MaxProcVarBytes>>20))
	}
	sh.versions.Bump(versionProc)
	return 0
}

// goUUID() -> a random (version 4) UUID, the uuid fetch.
func goUUID(c *cgo.Call) int {
	var b [16]byte
	_, _ = rand.Read(b[:])  // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	c.PushString(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	return 1
}

// RegisterGoFunc makes fn callable from the Lua half of the APIs as
// I.gocall(I.go.NAME, ...). Call it from a package's init, before any
// state exists.
func RegisterGoFunc(name string, fn cgo.GoFunc) {
	goFuncs[name] = cgo.RegisterGoFunc(fn)
}

// goCryptCheck(password, hash) -> boolean: core.crypt_check. The hash is
// crypt(3)'s, $1$ (MD5), $5$ (SHA-256) or $6$ (SHA-512); another is
// false. It runs on the loop: thousands of rounds, a millisecond or so.
func goCryptCheck(c *cgo.Call) int {
	pass, hash := c.String(1), c.String(2)
	ok := false
	if crypt.IsHashSupported(hash) {
		ok = crypt.NewFromHash(hash).Verify(hash, []byte(pass)) == nil
	}
	c.PushBool(ok)
	return 1
}
