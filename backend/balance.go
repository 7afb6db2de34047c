package backend

import (
	"bytes"
	"math/rand/v2"
)

// The pick* functions run with b.mu held and choose among the set's
// primaries only; Pick falls back to the backups.

// pickRoundRobin is smooth weighted round robin: every usable server gains
// its weight, the richest wins and pays the total back. Over sum(weights)
// picks each server is chosen weight times, interleaved as evenly as the
// weights allow. Ties go to the first in config order.
func pickRoundRobin(set *serverSet) *Server {
	var best *Server
	total := 0
	for _, s := range set.primaries {
		w := s.usableWeight()
		if w == 0 {
			continue
		}
		s.rrCur += w
		total += w
		if best == nil || s.rrCur > best.rrCur {
			best = s
		}
	}
	if best != nil {
		best.rrCur -= total
	}
	return best
}

// pickLeastConn picks the usable server with the fewest requests in flight
// per unit of weight. The scan starts after the last server picked and only
// a strictly better server replaces the candidate, so ties rotate.
func (b *Backend) pickLeastConn(set *serverSet) *Server {
	n := len(set.primaries)
	var best *Server
	var bestActive, bestWeight int64
	next := 0
	for k := 0; k < n; k++ {
		i := (b.lcNext + k) % n
		s := set.primaries[i]
		w := int64(s.usableWeight())
		if w == 0 {
			continue
		}
		a := s.active.Load()
		// a/w < bestActive/bestWeight without division.
		if best == nil || a*bestWeight < bestActive*w {
			best, bestActive, bestWeight, next = s, a, w, i+1
		}
	}
	if best != nil {
		b.lcNext = next
	}
	return best
}

// pickHash maps hash h (of the client's address, or of the request's
// key) onto the servers that are up and ready as HAProxy does: the slot
// h modulo the total weight of the map (map-based), or the nearest point
// on the circle (consistent). A server at maxconn keeps its place, so
// that clients of other servers keep theirs; its own clients go to the
// next usable server.
func pickHash(set *serverSet, ht hashType, h uint32) *Server {
	t := &set.table
	for i, s := range set.primaries {
		// Read each weight once: SetWeight may run concurrently.
		w := s.eligibleWeight()
		if ht.consistent {
			w *= 16 // HAProxy's BE_WEIGHT_SCALE: 16 points per unit
		} else {
			w = (w + t.gcd - 1) / t.gcd
		}
		set.weights[i] = w
	}
	if !t.builtFor(set.weights) {
		if ht.consistent {
			t.buildPoints(set.primaries)
		} else {
			t.buildMap()
		}
	}
	var start int
	switch {
	case ht.consistent && len(t.points) > 0:
		start = t.closest(h)
	case !ht.consistent && len(t.slots) > 0:
		start = t.slots[h%uint32(len(t.slots))]
	default:
		return nil
	}
	n := len(set.primaries)
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if set.weights[i] > 0 && set.primaries[i].usableWeight() > 0 {
			return set.primaries[i]
		}
	}
	return nil
}

// hashed is what of a request's key (Pick's) the algorithm hashes; ok is
// false when the request has nothing to hash (no key, no such parameter,
// an empty field): it then goes round robin, as in HAProxy.
func (bl *balance) hashed(key []byte) (k []byte, ok bool) {
	if key == nil {
		return nil, false
	}
	switch bl.algo {
	case algoURI:
		return bl.uriKey(key), true
	case algoURLParam:
		return urlParam(key, bl.param)
	case algoHeader:
		if len(key) == 0 {
			return nil, false
		}
		if bl.domainOnly {
			return domainOnly(key), true
		}
		return key, true
	}
	return nil, false
}

// hostPart strips a port from "host:port" or "[v6]:port"; anything else,
// such as a bare IPv6 address, is returned whole.
func hostPart(key []byte) []byte {
	if len(key) > 0 && key[0] == '[' {
		if i := bytes.IndexByte(key, ']'); i > 0 {
			return key[1:i]
		}
		return key
	}
	if i := bytes.IndexByte(key, ':'); i >= 0 && bytes.IndexByte(key[i+1:], ':') < 0 {
		return key[:i]
	}
	return key
}

// pickFirst picks the first usable server in config order: the others
// take requests only once it is at its maxconn.
func pickFirst(set *serverSet) *Server {
	for _, s := range set.primaries {
		if s.usableWeight() > 0 {
			return s
		}
	}
	return nil
}

// pickRandom draws two usable servers at random, each by its weight, and
// picks the one with fewer requests in flight per unit of weight.
func pickRandom(set *serverSet) *Server {
	total := 0
	for i, s := range set.primaries {
		set.weights[i] = s.usableWeight()
		total += set.weights[i]
	}
	if total == 0 {
		return nil
	}
	draw := func() *Server {
		r := rand.IntN(total)
		for i, w := range set.weights {
			if r < w {
				return set.primaries[i]
			}
			r -= w
		}
		return nil
	}
	a, b := draw(), draw()
	// a's load against b's, by weight, without division.
	if b.active.Load()*int64(a.usableWeight()) < a.active.Load()*int64(b.usableWeight()) {
		return b
	}
	return a
}
