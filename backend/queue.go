package backend

import "bytes"

// The backend's queue, as HAProxy's: a request that finds every usable
// server at its maxconn waits, first come first served, until one of
// them finishes a request (or takes more: a raised maxconn or weight, a
// server back up or ready). A request that finds no usable server at all
// (down, in maintenance, draining, weight 0) is not queued: the caller
// answers 503 at once.

// Ticket is a request waiting in its backend's queue.
type Ticket struct {
	b    *Backend
	key  []byte
	want *Server // QueueFor's server; nil: any the balancing picks
	// forced: the request waits for want whatever its state (option
	// persist, force-persist).
	forced bool
	wake   func(*Server)
	// Pos is how many requests were waiting before this one when it
	// came (HAProxy's %bq).
	Pos int
	// Written under b.mu: served (srv set) or cancelled ends the wait.
	srv       *Server
	cancelled bool
}

// Queue is Pick for a request that may wait: it returns the server
// chosen now, or the request's place in the queue; both nil when no
// server could take it even once free (then the caller answers 503).
// When the request reaches the head of the queue and a server is free,
// wake is called with that server, counted as picked (Done it), on the
// goroutine that freed it: wake must not block.
func (b *Backend) Queue(key []byte, wake func(*Server)) (*Server, *Ticket) {
	b.mu.Lock()
	if len(b.queue) == 0 {
		if s := b.pickLocked(key); s != nil {
			b.mu.Unlock()
			return s, nil
		}
	}
	if !b.queueable() {
		b.mu.Unlock()
		return nil, nil
	}
	return nil, b.enqueue(&Ticket{b: b, key: bytes.Clone(key), wake: wake})
}

// QueueFor is Queue for a request that must go to s (a use-server rule or
// a stick table chose it, and s is Persistent): s now, counted as picked,
// when it is below its maxconn and nobody waits; else the request's place
// in the queue, served when s has room, in the queue's order. Should s be
// down or in maintenance by then, the request takes any server, as Queue's,
// unless forced (HAProxy's option persist and force-persist: s may be
// down or in maintenance, and the request waits for it).
func (b *Backend) QueueFor(s *Server, forced bool, wake func(*Server)) (*Server, *Ticket) {
	b.mu.Lock()
	if len(b.queue) == 0 && s.hasRoom() {
		b.take(s)
		b.mu.Unlock()
		return s, nil
	}
	return nil, b.enqueue(&Ticket{b: b, want: s, forced: forced, wake: wake})
}

// PickServer is QueueFor for a request that does not wait: s, counted as
// picked, when it has room and nobody waits; else nil.
func (b *Backend) PickServer(s *Server) *Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 || !s.hasRoom() {
		return nil
	}
	b.take(s)
	return s
}

// enqueue appends t to the queue and serves what can be; it unlocks b.mu.
func (b *Backend) enqueue(t *Ticket) *Ticket {
	t.Pos = len(b.queue)
	b.queue = append(b.queue, t)
	n := b.qlen.Add(1)
	if n > b.qmax.Load() {
		b.qmax.Store(n)
	}
	// A request that finished between the pick above and the append saw
	// nobody waiting: look again now that t is in the queue.
	served := b.serveQueue()
	b.mu.Unlock()
	wakeAll(served)
	return t
}

// Cancel takes the request out of the queue (its client left, or it
// waited too long). It returns false if a server was given to it
// already: wake has been or will be called, and that server must be
// Done.
func (t *Ticket) Cancel() bool {
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.srv != nil || t.cancelled {
		return false
	}
	t.cancelled = true
	for i, q := range b.queue {
		if q == t {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			b.qlen.Add(-1)
			break
		}
	}
	return true
}

// queueable reports whether a request no server can take now could be
// taken once one has room: some server is usable but for its maxconn.
// b.mu is held.
func (b *Backend) queueable() bool {
	for _, s := range b.Servers() {
		if s.eligibleWeight() > 0 {
			return true
		}
	}
	return false
}

// dispatch gives the servers that have room to the requests waiting
// first, if any wait.
func (b *Backend) dispatch() {
	if b.qlen.Load() == 0 {
		return
	}
	b.mu.Lock()
	served := b.serveQueue()
	b.mu.Unlock()
	wakeAll(served)
}

// serveQueue gives a server to each waiting request that can have one, in
// the queue's order, and returns them; b.mu is held. A request for any
// server that finds none leaves those behind it waiting, but for the ones
// waiting for their own server (QueueFor), which go as soon as it has room.
func (b *Backend) serveQueue() []*Ticket {
	var served []*Ticket
	blocked := false
	for i := 0; i < len(b.queue); {
		t := b.queue[i]
		var s *Server
		switch {
		case t.want != nil && (t.forced || t.want.Persistent()):
			if t.want.hasRoom() {
				s = t.want
				b.take(s)
			}
		case !blocked:
			if s = b.pickLocked(t.key); s == nil {
				blocked = true
			}
		}
		if s == nil {
			i++
			continue
		}
		b.queue = append(b.queue[:i], b.queue[i+1:]...)
		b.qlen.Add(-1)
		t.srv = s
		served = append(served, t)
	}
	return served
}

func wakeAll(served []*Ticket) {
	for _, t := range served {
		t.wake(t.srv)
	}
}

// QueueLen is how many requests wait in the queue; QueueMax the most that
// ever waited at once.
func (b *Backend) QueueLen() int { return int(b.qlen.Load()) }

func (b *Backend) QueueMax() int { return int(b.qmax.Load()) }
