package backend

import "bytes"

// The pick* methods run with b.mu held and choose among the primaries only;
// Pick falls back to the backups.

// pickRoundRobin is smooth weighted round robin: every usable server gains
// its weight, the richest wins and pays the total back. Over sum(weights)
// picks each server is chosen weight times, interleaved as evenly as the
// weights allow. Ties go to the first in config order.
func (b *Backend) pickRoundRobin() *Server {
	var best *Server
	total := 0
	for i, s := range b.primaries {
		w := s.usableWeight()
		if w == 0 {
			continue
		}
		b.rrCur[i] += w
		total += w
		if best == nil || b.rrCur[i] > b.rrCur[best.idx] {
			best = s
		}
	}
	if best != nil {
		b.rrCur[best.idx] -= total
	}
	return best
}

// pickLeastConn picks the usable server with the fewest requests in flight
// per unit of weight. The scan starts after the last server picked and only
// a strictly better server replaces the candidate, so ties rotate.
func (b *Backend) pickLeastConn() *Server {
	n := len(b.primaries)
	var best *Server
	var bestActive, bestWeight int64
	for k := 0; k < n; k++ {
		s := b.primaries[(b.lcNext+k)%n]
		w := int64(s.usableWeight())
		if w == 0 {
			continue
		}
		a := s.active.Load()
		// a/w < bestActive/bestWeight without division.
		if best == nil || a*bestWeight < bestActive*w {
			best, bestActive, bestWeight = s, a, w
		}
	}
	if best != nil {
		b.lcNext = best.idx + 1
	}
	return best
}

// pickSource maps the hash of the client's address onto the cumulated
// weights of the servers that are up and ready (HAProxy's map-based
// hashing). A server at maxconn stays in the map, so that clients of other
// servers keep theirs; its own clients go to the next usable server.
func (b *Backend) pickSource(key []byte) *Server {
	total := 0
	for i, s := range b.primaries {
		// Read each weight once: SetWeight may run concurrently.
		b.weights[i] = s.eligibleWeight()
		total += b.weights[i]
	}
	if total == 0 {
		return nil
	}
	r := int(hashKey(hostPart(key)) % uint64(total))
	start := 0
	for i, w := range b.weights {
		if r < w {
			start = i
			break
		}
		r -= w
	}
	n := len(b.primaries)
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if b.weights[i] > 0 && b.primaries[i].usableWeight() > 0 {
			return b.primaries[i]
		}
	}
	return nil
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

// hashKey is 64-bit FNV-1a followed by a final avalanche, because FNV alone
// spreads addresses that differ in their last byte poorly over a modulo.
func hashKey(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
