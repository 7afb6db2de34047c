package lj

// The Go half of core.kv, core.bus, core.artifacts and ngx.shared
// (lj/lua/kv.lua).
//
// Embedded stores (shared/kv.Store) are called through the gate and
// return at once: no yield. Their reads have a fast path: each state
// keeps copies of the values it read, checked against a change counter
// of the key's slot (Shared.versions[versionKV + crc32(key) % kvSlots],
// bumped by the store after every change of a key in that slot) and
// trusted for at most a second, so that a key read only from copies
// still counts as used in the store's LRU order at least once a second.
//
// Remote operations (Redis, artifacts in a directory) yield: the script
// writes the operation into its stream (sock_op cgo.SockShared, sock_arg
// the operation, io its fields) and waits with OP_SOCKET, the op the
// stream's one dispatcher already hands to the host's stream.Sockets;
// the host performs it off the loop and writes the answer back
// (SharedRequest, SharedReply).

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/shared/kv"
)

// kvSlots is the number of change counters of the embedded stores' keys;
// their block starts at versionKV in the generation's versions.
const (
	kvSlots   = 1024
	versionKV = versionMaps + maxVersioned
)

// Store ids, as kv.lua names them: core.kv, core.artifacts, then the
// dictionaries of ngx.shared in the order of their names.
const (
	storeKV        = 1
	storeArtifacts = 2
	firstDict      = 3
)

// Stores are where the scripts' shared state lives. A nil store is
// remote: its operations yield, and the host performs them (SharedRequest).
type Stores struct {
	KV        *kv.Store            // core.kv; nil: remote (Redis)
	Artifacts *kv.Store            // core.artifacts; nil: remote (a directory, or Redis)
	Dicts     map[string]*kv.Store // ngx.shared's dictionaries, always embedded
	// RemoteBus says core.bus.emit yields for the host to publish (Redis);
	// else it hands the event to the host's bus through the gate
	// ("bus_emit", registered by the host).
	RemoteBus bool
	// Timeout bounds a script's wait for a remote operation.
	Timeout time.Duration
	// KVMaxValue and ArtifactMax are the limits errors name.
	KVMaxValue, ArtifactMax int64
}

// NewStore makes an embedded store whose changes reach the copies the
// states of sh (and of the generations that follow it) keep.
func (sh *Shared) NewStore(cfg kv.Config) (*kv.Store, error) {
	st, err := kv.New(cfg)
	if err != nil {
		return nil, err
	}
	st.OnChange(func(key string) {
		// sh.versions, read now: Next gives its Shared the block of the
		// generation it follows after making its default stores.
		v := sh.versions
		if key == "" {
			for i := range kvSlots {
				v.Bump(versionKV + i)
			}
			return
		}
		v.Bump(versionKV + kvSlot(key))
	})
	return st, nil
}

// kvSlot is the slot of key's change counter; kv.lua computes the same
// with the C crc32 (HAProxy's crc32 converter, CRC-32/IEEE).
func kvSlot(key string) int {
	return int(crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(key), len(key))) & (kvSlots - 1))
}

// defaultStores are the stores of a Shared made without SetStores (a
// state that stands alone: tests, checks): the configuration's defaults,
// embedded.
func (sh *Shared) defaultStores() Stores {
	kvs, _ := sh.NewStore(kv.Config{Size: 64 << 20, MaxValue: 1 << 20, TextNumbers: true})
	art, _ := sh.NewStore(kv.Config{Size: 64 << 20, MaxValue: 16 << 20})
	return Stores{KV: kvs, Artifacts: art, Timeout: time.Second, KVMaxValue: 1 << 20, ArtifactMax: 16 << 20}
}

// SetStores gives sh its stores (made with NewStore, or remote). Call it
// before any state of sh is made.
func (sh *Shared) SetStores(st Stores) {
	sh.stores = st
	sh.storeList = []*kv.Store{storeKV: st.KV, storeArtifacts: st.Artifacts}
	for _, name := range dictNames(st.Dicts) {
		sh.storeList = append(sh.storeList, st.Dicts[name])
	}
}

// Stores returns sh's stores.
func (sh *Shared) Stores() Stores { return sh.stores }

func dictNames(d map[string]*kv.Store) []string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// busWait is the sock_arg of the bus subscribers' task waiting for
// events; the other values of sock_arg are kv.OpCode's.
const busWait = 100

// storesChunk is the Lua chunk that tells a state its stores (I.shared).
func (sh *Shared) storesChunk() string {
	st := sh.stores
	var b strings.Builder
	b.WriteString("local I = ...\nI.shared = {")
	fmt.Fprintf(&b, "kv = %v, artifacts = %v, remote_bus = %v, timeout_ms = %d, ", st.KV != nil, st.Artifacts != nil, st.RemoteBus, max(1, st.Timeout.Milliseconds()))
	fmt.Fprintf(&b, "slot_base = %d, slots = %d, max_list = %d, ", versionKV, kvSlots, kv.MaxList)
	fmt.Fprintf(&b, "KV = %d, ARTIFACTS = %d, dicts = {", storeKV, storeArtifacts)
	for i, name := range dictNames(st.Dicts) {
		fmt.Fprintf(&b, "[%s] = %d, ", luaString(name), firstDict+i)
	}
	b.WriteString("}, ops = {")
	for _, o := range []struct {
		name string
		code kv.OpCode
	}{
		{"get", kv.OpGet}, {"set", kv.OpSet}, {"delete", kv.OpDelete}, {"list", kv.OpList}, {"incr", kv.OpIncr},
		{"emit", kv.OpEmit}, {"art_write", kv.OpArtWrite}, {"art_read", kv.OpArtRead}, {"art_exists", kv.OpArtExists},
		{"art_delete", kv.OpArtDelete}, {"art_rename", kv.OpArtRename}, {"art_list", kv.OpArtList},
	} {
		fmt.Fprintf(&b, "%s = %d, ", o.name, o.code)
	}
	fmt.Fprintf(&b, "bus_wait = %d}}\n", busWait)
	return b.String()
}

func init() {
	for name, fn := range map[string]cgo.GoFunc{
		"kv_get": goKVGet, "kv_set": goKVSet, "kv_incr": goKVIncr, "kv_delete": goKVDelete,
		"kv_keys": goKVKeys, "kv_ttl": goKVTTL, "kv_expire": goKVExpire, "kv_flush": goKVFlush,
		"kv_rename": goKVRename, "kv_info": goKVInfo,
	} {
		goFuncs[name] = cgo.RegisterGoFunc(fn)
	}
}

// storeOf returns the embedded store argument 1 names, or nil with the
// gate's error pushed.
func storeOf(c *cgo.Call) (*kv.Store, int) {
	sh := sharedOf(c)
	if sh == nil {
		return nil, c.Error(errNoShared)
	}
	id := int(c.Int(1))
	if id < 1 || id >= len(sh.storeList) || sh.storeList[id] == nil {
		return nil, c.Error("luaedge: no embedded store " + strconv.Itoa(id))
	}
	return sh.storeList[id], 0
}

// checkName refuses a bad artifact name in store id; ok false: the gate's
// answer (nil, err) is pushed.
func checkName(c *cgo.Call, id int, name string) bool {
	if id != storeArtifacts {
		return true
	}
	if err := kv.CheckArtifactName(name); err != nil {
		c.PushNil()
		c.PushString(err.Error())
		return false
	}
	return true
}

// errText is what a script gets for a store's error.
func errText(sh *Shared, id int, err error) string {
	if errors.Is(err, kv.ErrTooLarge) {
		switch id {
		case storeKV:
			return fmt.Sprintf("too large (a key and value over shared.kv.max_value, %d bytes)", sh.stores.KVMaxValue)
		case storeArtifacts:
			return fmt.Sprintf("too large (over shared.artifacts.max_size, %d bytes)", sh.stores.ArtifactMax)
		}
		return "too large"
	}
	return err.Error()
}

// seconds reads argument i, a TTL in seconds (nil: none).
func seconds(c *cgo.Call, i int) time.Duration {
	if c.IsNoneOrNil(i) {
		return 0
	}
	s := c.Number(i)
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(math.Min(s, 1e9) * float64(time.Second))
}

// pushValue pushes v (as its text when text is true: core.kv's values
// are strings).
func pushValue(c *cgo.Call, v kv.Value, text bool) {
	switch {
	case text:
		c.PushString(v.Text())
	case v.Kind == kv.Number:
		c.PushNumber(v.Num)
	case v.Kind == kv.Bool:
		c.PushBool(v.Num != 0)
	default:
		c.PushString(v.Str)
	}
}

// kv_get(id, key, text) -> value, flags, expiry (Unix milliseconds, 0:
// none) | nil, 0, 0
func goKVGet(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	v, exp, ok := st.Get(c.String(2))
	if !ok {
		c.PushNil()
		c.PushNumber(0)
		c.PushNumber(0)
		return 3
	}
	pushValue(c, v, c.Bool(3))
	c.PushNumber(float64(v.Flags))
	if exp.IsZero() {
		c.PushNumber(0)
	} else {
		c.PushNumber(float64(exp.UnixMilli()))
	}
	return 3
}

// kv_set(id, key, value, ttl, flags, mode, noevict) -> true, nil,
// forcible | nil, err, forcible. mode: 0 set, 1 add, 2 replace.
func goKVSet(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	id, key := int(c.Int(1)), c.String(2)
	if !checkName(c, id, key) {
		return 2
	}
	v := kv.Value{Flags: uint32(c.Number(5))}
	switch c.Type(3) {
	case cgo.TypeString:
		v.Kind, v.Str = kv.String, c.String(3)
	case cgo.TypeNumber:
		v.Kind, v.Num = kv.Number, c.Number(3)
	case cgo.TypeBoolean:
		v.Kind = kv.Bool
		if c.Bool(3) {
			v.Num = 1
		}
	default:
		return c.Error("bad value type")
	}
	evicted, err := st.Set(key, v, seconds(c, 4), kv.SetMode(c.Int(6)), c.Bool(7))
	if err != nil {
		c.PushNil()
		c.PushString(errText(sharedOf(c), id, err))
	} else {
		c.PushBool(true)
		c.PushNil()
	}
	c.PushBool(evicted)
	return 3
}

// kv_incr(id, key, delta, init|nil, ttl) -> n, nil, forcible | nil, err, forcible
func goKVIncr(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	var init *float64
	if !c.IsNoneOrNil(4) {
		n := c.Number(4)
		init = &n
	}
	n, evicted, err := st.Incr(c.String(2), c.Number(3), init, seconds(c, 5))
	if err != nil {
		c.PushNil()
		c.PushString(errText(sharedOf(c), int(c.Int(1)), err))
	} else {
		c.PushNumber(n)
		c.PushNil()
	}
	c.PushBool(evicted)
	return 3
}

// kv_delete(id, key) -> found
func goKVDelete(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	c.PushBool(st.Delete(c.String(2)))
	return 1
}

// kv_keys(id, prefix, max) -> the keys as fields (appendField)
func goKVKeys(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	var b []byte
	for _, k := range st.Keys(c.String(2), int(c.Int(3))) {
		b = appendField(b, k)
	}
	c.PushString(string(b))
	return 1
}

// kv_ttl(id, key) -> seconds left (0: none) | nil, "not found"
func goKVTTL(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	left, ok := st.TTL(c.String(2))
	if !ok {
		c.PushNil()
		c.PushString("not found")
		return 2
	}
	c.PushNumber(left.Seconds())
	return 1
}

// kv_expire(id, key, ttl) -> true | nil, "not found"
func goKVExpire(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	if !st.Expire(c.String(2), seconds(c, 3)) {
		c.PushNil()
		c.PushString("not found")
		return 2
	}
	c.PushBool(true)
	return 1
}

// kv_flush(id, all, max) -> keys removed (flush_expired; 0 for flush_all)
func goKVFlush(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	if c.Bool(2) {
		st.FlushAll()
		c.PushNumber(0)
		return 1
	}
	c.PushNumber(float64(st.FlushExpired(int(c.Int(3)))))
	return 1
}

// kv_rename(id, from, to) -> true | nil, err
func goKVRename(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	id, from, to := int(c.Int(1)), c.String(2), c.String(3)
	if !checkName(c, id, from) || !checkName(c, id, to) {
		return 2
	}
	if err := st.Rename(from, to); err != nil {
		c.PushNil()
		c.PushString(errText(sharedOf(c), id, err))
		return 2
	}
	c.PushBool(true)
	return 1
}

// kv_info(id) -> capacity, bytes used
func goKVInfo(c *cgo.Call) int {
	st, r := storeOf(c)
	if st == nil {
		return r
	}
	c.PushNumber(float64(st.Config().Size))
	c.PushNumber(float64(st.Used()))
	return 2
}

// appendField appends s as one field of the answers (and requests) of
// shared operations: its length in decimal, ":", its bytes.
func appendField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// fields splits what appendField made.
func fields(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == 0 || i > 10 || i >= len(b) || b[i] != ':' {
			return nil, errors.New("malformed shared operation")
		}
		n, _ := strconv.Atoi(string(b[:i]))
		if n > len(b)-i-1 {
			return nil, errors.New("malformed shared operation")
		}
		out = append(out, string(b[i+1:i+1+n]))
		b = b[i+1+n:]
	}
	return out, nil
}

// SharedRequest reads the operation the coroutine of s waits for (a
// Socket operation cgo.SockShared): its five fields are the key, the
// value, the TTL in milliseconds, the delta and the initial value of an
// incr. waitsForEvents reports instead that the bus subscribers' task
// waits for events (BusEvents answers it).
func SharedRequest(s *cgo.Stream) (op kv.Op, waitsForEvents bool, err error) {
	_, _, arg, _, data := s.SockOp()
	if arg == busWait {
		return kv.Op{}, true, nil
	}
	if arg < int(kv.OpGet) || arg > int(kv.OpArtList) {
		return op, false, fmt.Errorf("unknown shared operation %d", arg)
	}
	f, err := fields(data)
	if err != nil || len(f) != 5 {
		return op, false, errors.New("malformed shared operation")
	}
	ttl, _ := strconv.ParseFloat(f[2], 64)
	delta, _ := strconv.ParseFloat(f[3], 64)
	init, _ := strconv.ParseFloat(f[4], 64)
	return kv.Op{Code: kv.OpCode(arg), Key: f[0], Value: f[1], TTL: time.Duration(ttl * float64(time.Millisecond)), Delta: delta, Init: init}, false, nil
}

// SharedReply records for the script what op returned: the value found,
// the number, the keys, as fields; an error as the Socket class's failure
// (cgo.SockEFail and its message).
func SharedReply(s *cgo.Stream, op kv.Op, res kv.Result) {
	if res.Err != nil {
		s.SetSockResult(0, cgo.SockEFail, []byte(res.Err.Error()))
		return
	}
	var b []byte
	switch op.Code {
	case kv.OpGet, kv.OpArtRead:
		if res.Found {
			b = appendField(b, res.Value)
		}
	case kv.OpArtExists:
		if res.Found {
			b = appendField(b, "")
		}
	case kv.OpIncr:
		b = appendField(b, kv.FormatNumber(res.Num))
	case kv.OpList, kv.OpArtList:
		for _, k := range res.Keys {
			b = appendField(b, k)
		}
	}
	s.SetSockResult(0, cgo.SockOK, b)
}

// SharedFail records that an operation failed with msg; timedOut makes it
// the Socket class's timeout (cgo.SockETimeout).
func SharedFail(s *cgo.Stream, timedOut bool, msg string) {
	res := cgo.SockEFail
	if timedOut {
		res = cgo.SockETimeout
	}
	s.SetSockResult(0, res, []byte(msg))
}

// BusEvent is one event of core.bus.
type BusEvent struct{ Name, Data string }

// BusEvents hands events to the bus subscribers' task waiting on s.
func BusEvents(s *cgo.Stream, evs []BusEvent) {
	var b []byte
	for _, e := range evs {
		b = appendField(b, e.Name)
		b = appendField(b, e.Data)
	}
	s.SetSockResult(0, cgo.SockOK, b)
}
