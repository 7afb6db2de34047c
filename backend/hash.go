package backend

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The hashing of HAProxy 2.6's balance source, uri, url_param and hdr:
// the same hash of the same bytes of the request, and the same server for
// it, so that a backend moved from HAProxy keeps its clients' servers.

// hashType is a backend's hash-type: how a hash becomes a server
// (map-based or consistent), with which function, avalanche or not.
// Read-only once made.
type hashType struct {
	consistent bool
	fn         func([]byte) uint32
	avalanche  bool
}

// CheckHashType reports whether a hash-type line (the words after
// "hash-type") is one New accepts; the error does not name the keyword.
func CheckHashType(line string) error {
	_, err := parseHashType(line)
	return err
}

// parseHashType reads HAProxy's "map-based|consistent [FUNCTION
// [avalanche]]"; "" is map-based. The function is sdbm by default, and
// consistent without a function adds the avalanche, as in HAProxy.
func parseHashType(line string) (hashType, error) {
	w := strings.Fields(line)
	ht := hashType{fn: hashSDBM}
	if len(w) == 0 {
		return ht, nil
	}
	switch w[0] {
	case "map-based":
	case "consistent":
		ht.consistent = true
	default:
		return ht, fmt.Errorf("want map-based or consistent, got %q", w[0])
	}
	if len(w) == 1 {
		ht.avalanche = ht.consistent
		return ht, nil
	}
	switch w[1] {
	case "sdbm":
	case "djb2":
		ht.fn = hashDJB2
	case "wt6":
		ht.fn = hashWT6
	case "crc32":
		ht.fn = hashCRC32
	default:
		return ht, fmt.Errorf("want a function sdbm, djb2, wt6 or crc32 after %s, got %q", w[0], w[1])
	}
	switch {
	case len(w) == 3 && w[2] == "avalanche":
		ht.avalanche = true
	case len(w) > 2:
		return ht, fmt.Errorf("only avalanche may follow the function, got %q", strings.Join(w[2:], " "))
	}
	return ht, nil
}

// sum hashes key with the backend's function, and its avalanche.
func (ht hashType) sum(key []byte) uint32 {
	return ht.mix(ht.fn(key))
}

// mix applies the avalanche to h when the hash-type has it.
func (ht hashType) mix(h uint32) uint32 {
	if ht.avalanche {
		return fullHash(h)
	}
	return h
}

func hashSDBM(key []byte) uint32 {
	var h uint32
	for _, c := range key {
		h = uint32(c) + h<<6 + h<<16 - h
	}
	return h
}

func hashDJB2(key []byte) uint32 {
	h := uint32(5381)
	for _, c := range key {
		h = h<<5 + h + uint32(c)
	}
	return h
}

// hashWT6 is HAProxy's wt6: two words rotated by amounts that depend on
// the input so far.
func hashWT6(key []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := uint32(6), uint32(18)
	for _, c := range key {
		t := uint32(c)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		t = h1<<step0 | h1>>(32-step0)
		h1 = h0<<step1 | h0>>(32-step1)
		h0 = t
		t = (h0>>16 ^ h1) & 0xffff
		step0 = t & 0x1f
		step1 = t >> 11
	}
	return h0 ^ h1
}

// hashCRC32 is the IEEE CRC-32, bit by bit as HAProxy computes it (the
// same value as hash/crc32's).
func hashCRC32(key []byte) uint32 {
	h := ^uint32(0)
	for _, c := range key {
		h ^= uint32(c)
		for range 8 {
			if h&1 != 0 {
				h = h>>1 ^ 0xedb88320
			} else {
				h >>= 1
			}
		}
	}
	return ^h
}

// fullHash is Bob Jenkins' integer avalanche as HAProxy's full_hash: the
// "avalanche" of a hash-type, and the positions of consistent hashing's
// points.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + a<<12
	a = (a ^ 0xc761c23c) ^ a>>19
	a = (a + 0x165667b1) + a<<5
	a = (a + 0xd3a2646c) ^ a<<9
	a = (a + 0xfd7046c5) + a<<3
	a = (a ^ 0xb55a4f09) ^ a>>16
	// Then spread over the whole circle by a large prime.
	return a * 3221225473
}

// sourceHash is balance source's hash of a client address ("ip:port",
// "[ip6]:port" or a bare address): the XOR of its 32-bit big-endian words
// (the IPv4 address itself), avalanched when the hash-type says so.
// ok is false for a key that is no address.
func (ht hashType) sourceHash(key []byte) (h uint32, ok bool) {
	a, err := netip.ParseAddr(string(hostPart(key)))
	if err != nil {
		return 0, false
	}
	if a.Is4() {
		b := a.As4()
		return ht.mix(binary.BigEndian.Uint32(b[:])), true
	}
	b := a.As16()
	for i := 0; i < 16; i += 4 {
		h ^= binary.BigEndian.Uint32(b[i:])
	}
	return ht.mix(h), true
}

// uriKey is what balance uri hashes of a request target: with path-only
// the path of an absolute URI, then up to '?' unless whole, at most
// maxLen bytes, and only depth directories when set.
func (bl *balance) uriKey(target []byte) []byte {
	if bl.pathOnly {
		target = targetPath(target)
	}
	if bl.maxLen > 0 && len(target) > bl.maxLen {
		target = target[:bl.maxLen]
	}
	slashes := 0
	for i, c := range target {
		switch {
		case c == '/':
			// The slash that starts directory depth+1 ends the key.
			slashes++
			if bl.depth > 0 && slashes == bl.depth+1 {
				return target[:i]
			}
		case c == '?' && !bl.whole:
			return target[:i]
		}
	}
	return target
}

// targetPath is the path (and query) of a request target: the target
// itself in origin form, what follows the authority in absolute form
// (nothing when it has no path).
func targetPath(target []byte) []byte {
	if len(target) > 0 && target[0] == '/' {
		return target
	}
	s := string(target)
	i := strings.Index(s, "://")
	if i < 0 {
		return nil
	}
	j := strings.IndexByte(s[i+3:], '/')
	if j < 0 {
		return nil
	}
	return target[i+3+j:]
}

// urlParam is the value of query parameter name in a request target, as
// HAProxy finds it: the first "name=" after the '?' or an '&', its value
// up to the next '&' (possibly empty). ok is false without one.
func urlParam(target []byte, name string) (v []byte, ok bool) {
	q := slices.Index(target, '?')
	if q < 0 {
		return nil, false
	}
	rest := target[q+1:]
	for len(rest) > len(name) {
		if rest[len(name)] == '=' && string(rest[:len(name)]) == name {
			v = rest[len(name)+1:]
			if i := slices.Index(v, '&'); i >= 0 {
				v = v[:i]
			}
			return v, true
		}
		i := slices.Index(rest, '&')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	return nil, false
}

// domainOnly is what hdr(NAME) use_domain_only hashes of a value (a host
// name), as HAProxy scans it from the end: from the label before the
// last dot to that dot ("example" of "www.example.com"); the whole value
// without a dot past its first byte.
func domainOnly(v []byte) []byte {
	last := -1
	for i := len(v) - 1; i >= 1; i-- {
		if v[i] == '.' {
			last = i
			break
		}
	}
	if last < 0 {
		return v
	}
	// The byte before the last dot belongs to the label even if it is a
	// dot itself: HAProxy looks for the boundary from the one before.
	start := last - 1
	for start > 0 && v[start-1] != '.' {
		start--
	}
	return v[start:last]
}

// hashTable is what a hash maps onto: the servers' current weights as
// the hash-type counts them, and the map or the points made of them. It
// belongs to a serverSet, is guarded by Backend.mu, and is rebuilt when
// a pick sees the weights changed (a server down, drained, reweighted).
type hashTable struct {
	eweights []int // by primary: the effective weights it was built for
	gcd      int   // map-based: the weights' divisor (HAProxy's wmult)
	slots    []int // map-based: primary index by slot, total weight long
	points   []point
}

// point is one of a server's places on consistent hashing's circle.
type point struct {
	key     uint32
	primary int
}

// builtFor reports whether t was built for the effective weights now
// (in set.weights) and, if not, takes them.
func (t *hashTable) builtFor(w []int) bool {
	if slices.Equal(t.eweights, w) {
		return true
	}
	t.eweights = append(t.eweights[:0], w...)
	return false
}

// buildMap lays the servers out in total-weight slots as HAProxy's
// recalc_server_map does: at each slot every server gains its weight and
// the richest (the first among equals) takes the slot and pays the
// total, so that each server has as many slots as its weight, spread.
func (t *hashTable) buildMap() {
	tot := 0
	for _, w := range t.eweights {
		tot += w
	}
	t.slots = t.slots[:0]
	score := make([]int, len(t.eweights))
	for range tot {
		best, max := -1, 0
		for i, w := range t.eweights {
			if w == 0 {
				continue
			}
			score[i] += w
			// Go's division truncates toward zero as C's does.
			if v := (score[i] + tot) / tot; best < 0 || v > max {
				best, max = i, v
			}
		}
		t.slots = append(t.slots, best)
		score[best] -= tot
	}
}

// buildPoints places weight points per server on the circle, at
// fullHash(id*4096 + n) for the n-th, as HAProxy's lb_chash does.
func (t *hashTable) buildPoints(primaries []*Server) {
	t.points = t.points[:0]
	for i, w := range t.eweights {
		base := uint32(primaries[i].id) * 4096
		for n := range w {
			t.points = append(t.points, point{key: fullHash(base + uint32(n)), primary: i})
		}
	}
	slices.SortStableFunc(t.points, func(a, b point) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
}

// closest is the primary of the point nearest to h on the circle: the
// first at or after h, or the one before it when that is as near.
func (t *hashTable) closest(h uint32) int {
	n := len(t.points)
	next, _ := slices.BinarySearchFunc(t.points, h, func(p point, h uint32) int {
		switch {
		case p.key < h:
			return -1
		case p.key > h:
			return 1
		}
		return 0
	})
	if next == n {
		next = 0
	}
	prev := next - 1
	if prev < 0 {
		prev = n - 1
	}
	if h-t.points[prev].key <= t.points[next].key-h {
		return t.points[prev].primary
	}
	return t.points[next].primary
}

// gcdOf is the greatest common divisor of the non-zero weights, 1
// without any.
func gcdOf(weights []int) int {
	g := 0
	for _, w := range weights {
		for w != 0 {
			g, w = w, g%w
		}
	}
	if g == 0 {
		return 1
	}
	return g
}
