package lj

// HAProxy maps and ACL pattern files, shared by every core of a generation
// (Shared.maps).
//
// A file is read once into a pattern reference (patRef): its entries, in
// file order; a reload's next generation takes the reference over while the
// file on disk is unchanged (reload.go). Each (file, match method) pair used by a script gets an index over
// those entries (mapExpr), built on first use and kept in step with runtime
// updates (core.set_map, del_map, add_acl, del_acl), so every core sees the
// same contents. Lua reaches all this through the gate (lj/lua/map.lua); Go
// callers use Shared.MapLookup, LoadMap and ACLMatch.
//
// Matching follows HAProxy 2.6 (doc/configuration.txt, "7.1.3. Matching
// strings" and the map converters):
//   - str: exact match;
//   - beg: the key is a prefix of the input, the longest key wins (HAProxy
//     keeps these keys in a prefix tree);
//   - sub, end: the key is a substring / suffix of the input;
//   - dir: the key, stripped of leading/trailing '/' and '?', appears in the
//     input delimited by '/' or '?' (or the ends of the input);
//   - dom: the same with the delimiters '/', '?', '.' and ':';
//   - reg: the key is a regular expression (Go RE2 syntax: see regex.go for
//     what PCRE has that RE2 lacks);
//   - int: the key is an integer or a range "min:max" (also "min-max",
//     ":max", "min:"), the input an integer;
//   - ip: the key is an IPv4 or IPv6 address or network (addr/bits, or an
//     IPv4 dotted mask); the most specific network wins; IPv4 inputs also
//     match IPv4-mapped IPv6 keys and IPv6 inputs that embed an IPv4 address
//     (::ffff:a.b.c.d, ::a.b.c.d, 2002:AABB:CCDD::) also match IPv4 keys.
// Except for str, beg and ip, the first matching entry in file order wins;
// entries added at run time come after those of the file.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/luaedge/luaedge/cgo"
)

// Match methods, numbered as HAProxy's (the values of Map._str and friends).
const (
	matchFound = iota
	matchBool
	matchInt
	matchIP
	matchBin
	matchLen
	matchStr
	matchBeg
	matchSub
	matchDir
	matchDom
	matchEnd
	matchReg
	matchRegm
	matchNum
)

var matchNames = [matchNum]string{"found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dir", "dom", "end", "reg", "regm"}

// matchMethod returns the number of a method name ("str", "beg", ...).
func matchMethod(name string) (int, bool) {
	for i, n := range matchNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

func methodSupported(m int) bool {
	switch m {
	case matchInt, matchIP, matchStr, matchBeg, matchSub, matchDir, matchDom, matchEnd, matchReg, matchRegm:
		return true
	}
	return false
}

// mapEntry is one line of a map or ACL file, or one added at run time.
type mapEntry struct {
	key   string
	value string
	// noValue: the entry has no value (an ACL pattern); a map lookup that
	// finds it returns nothing, as in HAProxy.
	noValue bool
	line    int    // line in the file; 0 for entries added at run time
	gen     uint32 // the version it belongs to (patRef.curr when it is live)
}

// patRef is the contents of one file, shared by all its indexes, and by
// the next generation's while the file on disk is the one read (reload.go).
type patRef struct {
	mu   sync.RWMutex
	id   int    // in the order files were first read: "show map"'s #id
	name string // the path as first given, for messages
	acl  bool   // read as an ACL file (one pattern per line)
	// fixed, for an ACL file, says why it cannot change: an ACL of the
	// configuration compiled its patterns (DeclareACLFile); set once.
	fixed string
	file  fileSum // what was read; set once
	// entries are those of every version, in file order; the indexes of
	// exprs hold those of version curr only. curr is the version lookups
	// see, next the last one "prepare map" made (HAProxy's curr_gen and
	// next_gen: they start at 0 and wrap as uint32s).
	entries    []*mapEntry
	curr, next uint32
	exprs      []*mapExpr // of every generation using the file
}

// fileSum identifies the contents of a file; the zero value stands for a
// file that does not exist.
type fileSum struct {
	exists bool
	sha256 [sha256.Size]byte
}

// mapExpr is a file indexed for one match method.
type mapExpr struct {
	ref    *patRef
	id     int // in mapRegistry.list
	method int
	// ints: the lookups read the values as integers (the map_*_int
	// converters). HAProxy keeps such an index apart from the one of the
	// same file and method whose values are strings, and "get map" names
	// the values' type.
	ints     bool
	idx      mapIndex
	versions *cgo.Versions // the generation's change counters
}

// changed tells the states' copies of x's lookups (lj/lua/map.lua) that
// they are stale. Called with x.ref.mu held for writing, after the change.
func (x *mapExpr) changed() { x.versions.Bump(versionMaps + x.id) }

// mapIndex finds entries for one match method. add fails when the key is not
// valid for the method; del drops every entry with the key.
type mapIndex interface {
	add(e *mapEntry) error
	del(key string)
	lookup(s string) *mapEntry
}

// MaxMapEntries bounds the entries of one map or ACL file that scripts may
// reach by adding keys (core.set_map, core.add_acl): an add past it is a Lua
// error naming the limit. Entries read from the file count, but a file
// larger than this still loads (the operator wrote it).
const MaxMapEntries = 1 << 20

// mapRegistry is the map and ACL files of one generation (Shared.maps).
type mapRegistry struct {
	mu     sync.Mutex         // guards refs, exprs and nextID, and serialises adds to list
	refs   map[string]*patRef // by absolute path
	exprs  map[exprKey]int    // id in list
	nextID int                // the id of the next file read

	// list is the id -> expression table, replaced (never modified) when
	// an expression is added so lookups read it without a lock.
	list atomic.Pointer[[]*mapExpr]
}

type exprKey struct {
	path   string
	method int
	ints   bool
}

func (sh *Shared) absPath(p string) string {
	if !filepath.IsAbs(p) && sh.baseDir != "" {
		p = filepath.Join(sh.baseDir, p)
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// readPatFile parses a map file (key, then value) or an ACL file (the whole
// line is the pattern) the way HAProxy does: a '#' in the first column makes
// a comment, leading blanks are skipped, empty lines ignored; in a map the
// key is the first word and the value the rest of the line without its
// surrounding blanks.
// It also returns the sum of what it read.
func readPatFile(path string, acl bool) ([]*mapEntry, fileSum, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileSum{}, err
	}
	sum := fileSum{exists: true, sha256: sha256.Sum256(data)}
	var entries []*mapEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		l = strings.TrimLeft(l, " \t")
		if i := strings.IndexAny(l, "\r\n"); i >= 0 {
			l = l[:i]
		}
		if l == "" {
			continue
		}
		if acl {
			entries = append(entries, &mapEntry{key: l, noValue: true, line: line})
			continue
		}
		key, value := l, ""
		if i := strings.IndexAny(l, " \t"); i >= 0 {
			key, value = l[:i], strings.Trim(l[i:], " \t")
		}
		entries = append(entries, &mapEntry{key: key, value: value, line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fileSum{}, err
	}
	return entries, sum, nil
}

// ReadError is a map or ACL file that could not be read, as opposed to
// one with a line its match method or value type cannot take.
type ReadError struct{ msg string }

func (e *ReadError) Error() string { return e.msg }

// getRef returns the reference of a file, reading it on first use. When
// mayCreate is set a missing file makes an empty reference (core.set_map and
// friends on a file no map uses yet). Called with sh.maps.mu held.
func (sh *Shared) getRef(path string, acl, mayCreate bool) (*patRef, error) {
	abs := sh.absPath(path)
	if r := sh.maps.refs[abs]; r != nil {
		return r, nil
	}
	entries, sum, err := readPatFile(abs, acl)
	if err != nil {
		if !mayCreate || !errors.Is(err, os.ErrNotExist) {
			kind := "map"
			if acl {
				kind = "ACL"
			}
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &ReadError{fmt.Sprintf("%s: cannot read %s file: %v", path, kind, err)}
		}
		entries = nil
	}
	r := &patRef{id: sh.maps.nextID, name: path, acl: acl, file: sum, entries: entries}
	sh.maps.nextID++
	if sh.maps.refs == nil {
		sh.maps.refs = make(map[string]*patRef)
	}
	sh.maps.refs[abs] = r
	return r, nil
}

// openMap returns the id of the index of path for method (ints: its values
// are read as integers), loading the file and building the index on first
// use. Errors name the file and line.
func (sh *Shared) openMap(path string, method int, acl, ints bool) (int, error) {
	if method < 0 || method >= matchNum || !methodSupported(method) {
		return 0, fmt.Errorf("match method %d is not supported (use Map._str, _beg, _sub, _dir, _dom, _end, _reg, _int or _ip)", method)
	}
	sh.maps.mu.Lock()
	defer sh.maps.mu.Unlock()
	key := exprKey{sh.absPath(path), method, ints}
	if id, ok := sh.maps.exprs[key]; ok {
		return id, nil
	}
	ref, err := sh.getRef(path, acl, false)
	if err != nil {
		return 0, err
	}
	if ref.acl != acl && len(ref.entries) > 0 {
		if acl {
			return 0, fmt.Errorf("%s is already used as a map file, not an ACL file", path)
		}
		return 0, fmt.Errorf("%s is already used as an ACL file (core.add_acl), not a map file", path)
	}
	x := &mapExpr{ref: ref, method: method, ints: ints, idx: newIndex(method), versions: sh.versions}
	ref.mu.Lock()
	defer ref.mu.Unlock()
	for _, e := range ref.entries {
		if e.gen != ref.curr {
			continue
		}
		if err := x.idx.add(e); err != nil && e.line > 0 {
			return 0, fmt.Errorf("%s:%d: %v", path, e.line, err)
		}
		if ints && e.line > 0 && !intValue(e.value) {
			return 0, fmt.Errorf("%s:%d: unable to parse '%s' as an integer (a map_*_int converter reads the file's values as integers)", path, e.line, e.value)
		}
	}
	ref.exprs = append(ref.exprs, x)
	var list []*mapExpr
	if p := sh.maps.list.Load(); p != nil {
		list = append(list, *p...)
	}
	x.id = len(list)
	list = append(list, x)
	sh.maps.list.Store(&list)
	if sh.maps.exprs == nil {
		sh.maps.exprs = make(map[exprKey]int)
	}
	id := x.id
	sh.maps.exprs[key] = id
	return id, nil
}

// intValue reports whether a map's value reads as an integer where HAProxy
// reads one (read_int64, up to the end): an optional sign, then digits
// only, none (0) included; too many are clamped to the 64-bit limits.
func intValue(v string) bool {
	if v != "" && (v[0] == '+' || v[0] == '-') {
		v = v[1:]
	}
	return strings.Trim(v, "0123456789") == ""
}

func (sh *Shared) exprByID(id int64) *mapExpr {
	p := sh.maps.list.Load()
	if p == nil || id < 0 || id >= int64(len(*p)) {
		return nil
	}
	return (*p)[id]
}

// lookup returns the value of the entry matching s.
func (x *mapExpr) lookup(s string) (string, bool) {
	x.ref.mu.RLock()
	defer x.ref.mu.RUnlock()
	if x.method == matchRegm {
		return x.idx.(*regIndex).lookupExpand(s)
	}
	e := x.idx.lookup(s)
	if e == nil || e.noValue {
		return "", false
	}
	return e.value, true
}

func (x *mapExpr) match(s string) bool {
	x.ref.mu.RLock()
	defer x.ref.mu.RUnlock()
	return x.idx.lookup(s) != nil
}

// updateRef finds or creates the reference of path for a runtime update.
func (sh *Shared) updateRef(path string, acl bool) (*patRef, error) {
	sh.maps.mu.Lock()
	defer sh.maps.mu.Unlock()
	return sh.getRef(path, acl, true)
}

// setMap sets the value of every entry with key, or adds an entry (up to
// MaxMapEntries).
func (sh *Shared) setMap(path, key, value string, acl bool) error {
	r, err := sh.updateRef(path, acl)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed != "" {
		return fmt.Errorf("%s: %w: %s", path, ErrFixedACL, r.fixed)
	}
	found := false
	for _, e := range r.entries {
		if e.key == key {
			found = true
			if !acl {
				e.value, e.noValue = value, false
			}
		}
	}
	if !found {
		if len(r.entries) >= MaxMapEntries {
			return fmt.Errorf("%s holds %d entries, the most a map or ACL may hold (luaedge's limit, lj.MaxMapEntries): %q not added", path, len(r.entries), key)
		}
		e := &mapEntry{key: key, value: value, noValue: acl, gen: r.curr}
		r.entries = append(r.entries, e)
		// As in HAProxy, a key that is not valid for one of the file's
		// match methods (e.g. not an address for an ip map) is left out of
		// that index.
		for _, x := range r.exprs {
			_ = x.idx.add(e)
		}
	}
	for _, x := range r.exprs {
		x.changed()
	}
	return nil
}

// delMap drops every entry with key.
func (sh *Shared) delMap(path, key string, acl bool) error {
	r, err := sh.updateRef(path, acl)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed != "" {
		return fmt.Errorf("%s: %w: %s", path, ErrFixedACL, r.fixed)
	}
	kept := r.entries[:0]
	for _, e := range r.entries {
		if e.key != key {
			kept = append(kept, e)
		}
	}
	clear(r.entries[len(kept):])
	r.entries = kept
	for _, x := range r.exprs {
		x.idx.del(key)
		x.changed()
	}
	return nil
}

// MapLookup looks key up in the map file at path with a match method named as
// in HAProxy ("str", "beg", "sub", "dir", "dom", "end", "reg", "int", "ip").
// The file is read on first use and shared with the Lua side. It reports
// false when nothing matches or the map cannot be loaded (see LoadMap).
func (sh *Shared) MapLookup(path, method, key string) (string, bool) {
	m, ok := matchMethod(method)
	if !ok {
		return "", false
	}
	id, err := sh.openMap(path, m, false, false)
	if err != nil {
		return "", false
	}
	return sh.exprByID(int64(id)).lookup(key)
}

// LoadMap loads a map file for a match method, its values read as
// integers when ints is set (a map_*_int converter's), reporting errors
// with the file and line (a *ReadError when the file cannot be read);
// config checks use it before MapLookup.
func (sh *Shared) LoadMap(path, method string, ints bool) error {
	m, ok := matchMethod(method)
	if !ok {
		return fmt.Errorf("unknown match method %q", method)
	}
	_, err := sh.openMap(path, m, false, ints)
	return err
}

// ACLMatch reports whether s matches a pattern of the ACL file at path
// (one pattern per line) with the given match method.
func (sh *Shared) ACLMatch(path, method, s string) (bool, error) {
	m, ok := matchMethod(method)
	if !ok {
		return false, fmt.Errorf("unknown match method %q", method)
	}
	id, err := sh.openMap(path, m, true, false)
	if err != nil {
		return false, err
	}
	return sh.exprByID(int64(id)).match(s), nil
}

func newIndex(method int) mapIndex {
	switch method {
	case matchStr:
		return &strIndex{m: make(map[string][]*mapEntry)}
	case matchBeg:
		return &begIndex{m: make(map[string][]*mapEntry), lens: make(map[int]int)}
	case matchSub:
		return &listIndex{match: strings.Contains}
	case matchEnd:
		return &listIndex{match: strings.HasSuffix}
	case matchDir:
		return &listIndex{match: func(s, k string) bool { return matchWord(s, k, isDirDelim) }}
	case matchDom:
		return &listIndex{match: func(s, k string) bool { return matchWord(s, k, isDomDelim) }}
	case matchReg, matchRegm:
		return &regIndex{}
	case matchInt:
		return &intIndex{}
	case matchIP:
		return &ipIndex{}
	}
	return nil
}

// dropKey removes the entries with key from a slice, in place.
func dropKey(es []*mapEntry, key string) []*mapEntry {
	kept := es[:0]
	for _, e := range es {
		if e.key != key {
			kept = append(kept, e)
		}
	}
	clear(es[len(kept):])
	return kept
}

// strIndex: exact match, the first entry of a key wins.
type strIndex struct{ m map[string][]*mapEntry }

func (x *strIndex) add(e *mapEntry) error { x.m[e.key] = append(x.m[e.key], e); return nil }
func (x *strIndex) del(key string) {
	if es := dropKey(x.m[key], key); len(es) == 0 {
		delete(x.m, key)
	}
}
func (x *strIndex) lookup(s string) *mapEntry {
	if es := x.m[s]; len(es) > 0 {
		return es[0]
	}
	return nil
}

// begIndex: longest key that prefixes the input. Keys are grouped by length
// and the lengths tried from the longest.
type begIndex struct {
	m      map[string][]*mapEntry
	lens   map[int]int // key length -> number of keys
	sorted []int       // lengths, longest first
}

func (x *begIndex) resort() {
	x.sorted = x.sorted[:0]
	for l := range x.lens {
		x.sorted = append(x.sorted, l)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(x.sorted)))
}

func (x *begIndex) add(e *mapEntry) error {
	es := x.m[e.key]
	x.m[e.key] = append(es, e)
	if len(es) == 0 {
		x.lens[len(e.key)]++
		if x.lens[len(e.key)] == 1 {
			x.resort()
		}
	}
	return nil
}

func (x *begIndex) del(key string) {
	es, ok := x.m[key]
	if !ok {
		return
	}
	if es = dropKey(es, key); len(es) > 0 {
		x.m[key] = es
		return
	}
	delete(x.m, key)
	if x.lens[len(key)]--; x.lens[len(key)] == 0 {
		delete(x.lens, len(key))
		x.resort()
	}
}

func (x *begIndex) lookup(s string) *mapEntry {
	for _, l := range x.sorted {
		if l > len(s) {
			continue
		}
		if es := x.m[s[:l]]; len(es) > 0 {
			return es[0]
		}
	}
	return nil
}

// listIndex: the first entry in order whose key matches.
type listIndex struct {
	es    []*mapEntry
	match func(s, key string) bool
}

func (x *listIndex) add(e *mapEntry) error { x.es = append(x.es, e); return nil }
func (x *listIndex) del(key string)        { x.es = dropKey(x.es, key) }
func (x *listIndex) lookup(s string) *mapEntry {
	for _, e := range x.es {
		if x.match(s, e.key) {
			return e
		}
	}
	return nil
}

func isDirDelim(c byte) bool { return c == '/' || c == '?' }
func isDomDelim(c byte) bool { return c == '/' || c == '?' || c == '.' || c == ':' }

// matchWord reports whether key, without the delimiters at its ends, occurs
// in s starting at the start of s or after a delimiter and ending at the end
// of s or before a delimiter.
func matchWord(s, key string, delim func(byte) bool) bool {
	for len(key) > 0 && delim(key[0]) {
		key = key[1:]
	}
	for len(key) > 0 && delim(key[len(key)-1]) {
		key = key[:len(key)-1]
	}
	if key == "" {
		return s == ""
	}
	atStart := true
	for i := 0; i+len(key) <= len(s); i++ {
		if delim(s[i]) {
			atStart = true
			continue
		}
		if !atStart {
			continue
		}
		atStart = false
		if s[i:i+len(key)] == key && (i+len(key) == len(s) || delim(s[i+len(key)])) {
			return true
		}
	}
	return false
}

// regIndex: the first entry whose regex matches.
type regIndex struct{ items []regItem }

type regItem struct {
	e  *mapEntry
	re *regexp.Regexp
}

func (x *regIndex) add(e *mapEntry) error {
	re, err := compileRegex(e.key, true)
	if err != nil {
		return err
	}
	x.items = append(x.items, regItem{e, re})
	return nil
}

func (x *regIndex) del(key string) {
	kept := x.items[:0]
	for _, it := range x.items {
		if it.e.key != key {
			kept = append(kept, it)
		}
	}
	clear(x.items[len(kept):])
	x.items = kept
}

func (x *regIndex) lookup(s string) *mapEntry {
	for _, it := range x.items {
		if it.re.MatchString(s) {
			return it.e
		}
	}
	return nil
}

// lookupExpand is map_regm's lookup: the value of the first entry whose
// regex matches, its \0 to \9 replaced by the match and its groups.
func (x *regIndex) lookupExpand(s string) (string, bool) {
	for _, it := range x.items {
		m := it.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		if it.e.noValue {
			return "", false
		}
		v := it.e.value
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9' {
				if n := int(v[i+1] - '0'); n < len(m) {
					b.WriteString(m[n])
				}
				i++
				continue
			}
			b.WriteByte(v[i])
		}
		return b.String(), true
	}
	return "", false
}

// intIndex: the first entry whose integer or range holds the input.
type intIndex struct{ items []intItem }

type intItem struct {
	e      *mapEntry
	lo, hi int64
}

// parseIntRange parses "n", "min:max", "min-max", ":max", "min:" (HAProxy's
// integer patterns; the first ':' or '-' separates the bounds).
func parseIntRange(s string) (lo, hi int64, err error) {
	if s == "" {
		return 0, 0, errors.New("'' is not a number")
	}
	i := strings.IndexAny(s, ":-")
	if i < 0 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("'%s' is not a number", s)
		}
		return n, n, nil
	}
	bad := fmt.Errorf("'%s' is not a valid number range", s)
	lo, hi = math.MinInt64, math.MaxInt64
	if i > 0 {
		if lo, err = strconv.ParseInt(s[:i], 10, 64); err != nil {
			return 0, 0, bad
		}
	}
	if i < len(s)-1 {
		if hi, err = strconv.ParseInt(s[i+1:], 10, 64); err != nil {
			return 0, 0, bad
		}
	}
	if i == 0 && len(s) == 1 || lo > hi {
		return 0, 0, bad
	}
	return lo, hi, nil
}

// parseLuaInt reads an integer passed from Lua (a number converted to a
// string, possibly with a fraction, which is truncated).
func parseLuaInt(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64, true
	}
	if f <= math.MinInt64 {
		return math.MinInt64, true
	}
	return int64(f), true
}

func (x *intIndex) add(e *mapEntry) error {
	lo, hi, err := parseIntRange(e.key)
	if err != nil {
		return err
	}
	x.items = append(x.items, intItem{e, lo, hi})
	return nil
}

func (x *intIndex) del(key string) {
	kept := x.items[:0]
	for _, it := range x.items {
		if it.e.key != key {
			kept = append(kept, it)
		}
	}
	clear(x.items[len(kept):])
	x.items = kept
}

func (x *intIndex) lookup(s string) *mapEntry {
	n, ok := parseLuaInt(s)
	if !ok {
		return nil
	}
	for _, it := range x.items {
		if it.lo <= n && n <= it.hi {
			return it.e
		}
	}
	return nil
}

// ipNet is a parsed address pattern or input: IPv4 in the low 32 bits of v4
// (mask4 its netmask), or IPv6 in v6 with a prefix length.
type ipNet struct {
	is6   bool
	v4    uint32
	mask4 uint32
	v6    [16]byte
	bits  int
}

// parseMask4 parses an IPv4 netmask given as a bit count or dotted quad.
func parseMask4(s string) (uint32, bool) {
	if !strings.Contains(s, ".") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 32 || s == "" || s[0] == '+' || s[0] == '-' {
			return 0, false
		}
		return lenToMask4(n), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

func lenToMask4(n int) uint32 {
	if n <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - n)
}

// parseMask6 parses an IPv6 netmask given as a bit count or an address
// (ffff:ffff::); it returns the mask bytes.
func parseMask6(s string) ([16]byte, bool) {
	var m [16]byte
	if !strings.Contains(s, ":") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 128 || s == "" || s[0] == '+' || s[0] == '-' {
			return m, false
		}
		return lenToMask6(n), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return m, false
	}
	return a.As16(), true
}

func lenToMask6(n int) [16]byte {
	var m [16]byte
	for i := 0; i < 16 && n > 0; i++ {
		if n >= 8 {
			m[i] = 0xff
			n -= 8
		} else {
			m[i] = byte(0xff << (8 - n))
			n = 0
		}
	}
	return m
}

// parseNet parses "addr", "addr/bits" or, for IPv4, "addr/dotted.mask".
// IPv4 is tried first, as HAProxy does; an address without a mask is a host.
func parseNet(s string) (ipNet, bool) {
	addr, mask, hasMask := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return ipNet{}, false
	}
	if a.Is4() {
		m := ^uint32(0)
		if hasMask {
			var ok bool
			if m, ok = parseMask4(mask); !ok {
				return ipNet{}, false
			}
		}
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		return ipNet{v4: v, mask4: m}, true
	}
	n := 128
	if hasMask {
		var err error
		if n, err = strconv.Atoi(mask); err != nil || n < 0 || n > 128 || mask == "" || mask[0] == '+' || mask[0] == '-' {
			return ipNet{}, false
		}
	}
	return ipNet{is6: true, v6: a.As16(), bits: n}, true
}

// parseAddr parses an input address (no mask) as HAProxy casts a string
// to an address: a leading IPv4 address first, whatever follows it
// ("10.1.1.1, 192.0.2.7", an X-Forwarded-For value, is 10.1.1.1), then
// the whole string as an IPv6 address.
func parseAddr(s string) (ipNet, bool) {
	if v, ok := leadingIPv4(s); ok {
		return ipNet{v4: v, mask4: ^uint32(0)}, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return ipNet{}, false
	}
	if a.Is4() {
		b := a.As4()
		return ipNet{v4: uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), mask4: ^uint32(0)}, true
	}
	return ipNet{is6: true, v6: a.As16(), bits: 128}, true
}

// leadingIPv4 reads the dotted quad s starts with, up to the first
// character that is neither a digit nor a dot (HAProxy's buf2ip).
func leadingIPv4(s string) (uint32, bool) {
	var v, octet uint32
	octets, digit := 0, false
scan:
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			octet = octet*10 + uint32(c-'0')
			if octet > 255 {
				return 0, false
			}
			if !digit {
				if octets++; octets > 4 {
					return 0, false
				}
				digit = true
			}
		case c == '.' && digit && octets < 4:
			v, octet, digit = v<<8|octet, 0, false
		case c == '.':
			return 0, false
		default:
			break scan // the address ends here
		}
	}
	if octets < 4 {
		return 0, false
	}
	return v<<8 | octet, true
}

// contiguousLen returns the prefix length of a netmask, or -1 when its bits
// are not contiguous.
func contiguousLen(m uint32) int {
	n := bits.LeadingZeros32(^m)
	if lenToMask4(n) != m {
		return -1
	}
	return n
}

func mask6(a [16]byte, n int) [16]byte {
	m := lenToMask6(n)
	for i := range a {
		a[i] &= m[i]
	}
	return a
}

// ipIndex: longest prefix match, per family; IPv4 keys whose dotted mask is
// not contiguous are checked in order after the prefix tables, as HAProxy
// does with its list.
type ipIndex struct {
	v4     [33]map[uint32][]*mapEntry
	v4lens []int // longest first
	v4odd  []ipOdd
	v6     [129]map[[16]byte][]*mapEntry
	v6lens []int
}

type ipOdd struct {
	e        *mapEntry
	ip, mask uint32
}

func insertLen(lens []int, n int) []int {
	for _, l := range lens {
		if l == n {
			return lens
		}
	}
	lens = append(lens, n)
	sort.Sort(sort.Reverse(sort.IntSlice(lens)))
	return lens
}

func removeLen(lens []int, n int) []int {
	for i, l := range lens {
		if l == n {
			return append(lens[:i], lens[i+1:]...)
		}
	}
	return lens
}

func (x *ipIndex) add(e *mapEntry) error {
	n, ok := parseNet(e.key)
	if !ok {
		return fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", e.key)
	}
	if !n.is6 {
		l := contiguousLen(n.mask4)
		if l < 0 {
			x.v4odd = append(x.v4odd, ipOdd{e, n.v4 & n.mask4, n.mask4})
			return nil
		}
		if x.v4[l] == nil {
			x.v4[l] = make(map[uint32][]*mapEntry)
		}
		k := n.v4 & n.mask4
		x.v4[l][k] = append(x.v4[l][k], e)
		x.v4lens = insertLen(x.v4lens, l)
		return nil
	}
	if x.v6[n.bits] == nil {
		x.v6[n.bits] = make(map[[16]byte][]*mapEntry)
	}
	k := mask6(n.v6, n.bits)
	x.v6[n.bits][k] = append(x.v6[n.bits][k], e)
	x.v6lens = insertLen(x.v6lens, n.bits)
	return nil
}

func (x *ipIndex) del(key string) {
	n, ok := parseNet(key)
	if !ok {
		return
	}
	if !n.is6 {
		l := contiguousLen(n.mask4)
		if l < 0 {
			kept := x.v4odd[:0]
			for _, it := range x.v4odd {
				if it.e.key != key {
					kept = append(kept, it)
				}
			}
			x.v4odd = kept
			return
		}
		t := x.v4[l]
		k := n.v4 & n.mask4
		if es := dropKey(t[k], key); len(es) > 0 {
			t[k] = es
		} else if t != nil {
			delete(t, k)
			if len(t) == 0 {
				x.v4lens = removeLen(x.v4lens, l)
			}
		}
		return
	}
	t := x.v6[n.bits]
	k := mask6(n.v6, n.bits)
	if es := dropKey(t[k], key); len(es) > 0 {
		t[k] = es
	} else if t != nil {
		delete(t, k)
		if len(t) == 0 {
			x.v6lens = removeLen(x.v6lens, n.bits)
		}
	}
}

func (x *ipIndex) lookup4(v uint32) *mapEntry {
	for _, l := range x.v4lens {
		if es := x.v4[l][v&lenToMask4(l)]; len(es) > 0 {
			return es[0]
		}
	}
	for _, it := range x.v4odd {
		if v&it.mask == it.ip {
			return it.e
		}
	}
	return nil
}

func (x *ipIndex) lookup6(a [16]byte) *mapEntry {
	for _, l := range x.v6lens {
		if es := x.v6[l][mask6(a, l)]; len(es) > 0 {
			return es[0]
		}
	}
	return nil
}

func (x *ipIndex) lookup(s string) *mapEntry {
	in, ok := parseAddr(s)
	if !ok {
		return nil
	}
	if !in.is6 {
		if e := x.lookup4(in.v4); e != nil {
			return e
		}
		var a [16]byte
		a[10], a[11] = 0xff, 0xff
		a[12], a[13], a[14], a[15] = byte(in.v4>>24), byte(in.v4>>16), byte(in.v4>>8), byte(in.v4)
		return x.lookup6(a)
	}
	if e := x.lookup6(in.v6); e != nil {
		return e
	}
	a := in.v6
	zero8 := true
	for _, b := range a[:8] {
		if b != 0 {
			zero8 = false
		}
	}
	switch {
	case zero8 && (a[8]|a[9]|a[10]|a[11] == 0 || a[8]|a[9] == 0 && a[10]&a[11] == 0xff):
		// ::a.b.c.d (IPv4-compatible) or ::ffff:a.b.c.d (IPv4-mapped)
		return x.lookup4(uint32(a[12])<<24 | uint32(a[13])<<16 | uint32(a[14])<<8 | uint32(a[15]))
	case a[0] == 0x20 && a[1] == 0x02:
		// 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD
		return x.lookup4(uint32(a[2])<<24 | uint32(a[3])<<16 | uint32(a[4])<<8 | uint32(a[5]))
	}
	return nil
}

// The gate functions (lj/lua/map.lua).
func init() {
	goFuncs["map_open"] = cgo.RegisterGoFunc(goMapOpen)
	goFuncs["map_lookup"] = cgo.RegisterGoFunc(goMapLookup)
	goFuncs["map_update"] = cgo.RegisterGoFunc(goMapUpdate)
	goFuncs["map_snapshot"] = cgo.RegisterGoFunc(goMapSnapshot)
	goFuncs["acl_match"] = cgo.RegisterGoFunc(goACLMatch)
}

// maxSnapshot bounds the entries of a map a state copies whole.
const maxSnapshot = 4096

// snapshot returns every key of an exact-match (str) index with the value
// a lookup of it returns, encoded for lj/lua/map.lua as "<len> key<len>
// value" pairs, a value length of -1 meaning no value; ok is false for
// other match methods and for indexes larger than maxSnapshot, which
// states cache lookup by lookup instead.
func (x *mapExpr) snapshot() (string, bool) {
	si, ok := x.idx.(*strIndex)
	if !ok {
		return "", false
	}
	x.ref.mu.RLock()
	defer x.ref.mu.RUnlock()
	if len(si.m) > maxSnapshot {
		return "", false
	}
	var b []byte
	for k, es := range si.m {
		if len(es) == 0 {
			continue
		}
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(b, ' ')
		b = append(b, k...)
		if es[0].noValue {
			b = append(b, "-1 "...)
			continue
		}
		b = strconv.AppendInt(b, int64(len(es[0].value)), 10)
		b = append(b, ' ')
		b = append(b, es[0].value...)
	}
	return string(b), true
}

// goMapSnapshot(id) -> encoded entries | nil: see mapExpr.snapshot.
func goMapSnapshot(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	x := sh.exprByID(c.Int(1))
	if x == nil {
		return c.Error("map_snapshot: unknown map id")
	}
	s, ok := x.snapshot()
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushString(s)
	return 1
}

// goMapOpen(path, method[, acl[, ints]]) -> id | nil, err
func goMapOpen(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	id, err := sh.openMap(c.String(1), int(c.Int(2)), c.Bool(3), c.Bool(4))
	if err != nil {
		c.PushNil()
		c.PushString(err.Error())
		return 2
	}
	c.PushNumber(float64(id))
	return 1
}

// goMapLookup(id, key) -> value | nil
func goMapLookup(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	x := sh.exprByID(c.Int(1))
	if x == nil {
		return c.Error("map_lookup: unknown map id")
	}
	v, ok := x.lookup(c.String(2))
	if !ok {
		c.PushNil()
		return 1
	}
	c.PushString(v)
	return 1
}

// goACLMatch(id, s) -> whether s matches a pattern of the ACL file of
// index id.
func goACLMatch(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	x := sh.exprByID(c.Int(1))
	if x == nil {
		return c.Error("acl_match: unknown ACL id")
	}
	c.PushBool(x.match(c.String(2)))
	return 1
}

// goMapUpdate(op, path, key[, value]) -> true | nil, err
// op: "set_map", "del_map", "add_acl", "del_acl".
func goMapUpdate(c *cgo.Call) int {
	sh := sharedOf(c)
	if sh == nil {
		return c.Error(errNoShared)
	}
	path, key := c.String(2), c.String(3)
	var err error
	switch op := c.String(1); op {
	case "set_map":
		err = sh.setMap(path, key, c.String(4), false)
	case "del_map":
		err = sh.delMap(path, key, false)
	case "add_acl":
		err = sh.setMap(path, key, "", true)
	case "del_acl":
		err = sh.delMap(path, key, true)
	default:
		return c.Error("map_update: unknown operation " + op)
	}
	if err != nil {
		c.PushNil()
		c.PushString(err.Error())
		return 2
	}
	c.PushBool(true)
	return 1
}
