// Package lru is the recency list of the shared stores (shared/kv's Store
// and shared/sticktable's Table): a doubly linked list threaded through
// the entries themselves, so that marking an entry used costs a few
// pointer stores and allocates nothing. What counts as a use, when an
// entry expires and which one to evict stay with each store; this is only
// the order.
//
// A List and the Links of its entries belong to one shard of a store and
// are touched under that shard's lock only.
package lru

// Links are an entry's place in a List: a field of the entry type T.
//
// The links point at each other and each knows its entry, rather than
// the list reaching the links through a method of T: a method of a type
// parameter is called through the generic dictionary, which made moving
// an entry to the front four times slower.
type Links[T any] struct {
	newer, older *Links[T]
	entry        *T // set by PushFront
}

// Newer returns the entry next to this one towards the front (used more
// recently), nil at the front: with List.Back, a walk from the least
// recently used.
func (n *Links[T]) Newer() *T {
	if n.newer == nil {
		return nil
	}
	return n.newer.entry
}

// List orders entries from the most recently used (the front) to the
// least recently used (the back). The zero List is empty.
type List[T any] struct {
	front, back *Links[T]
}

// PushFront puts e, whose Links are n and in no list, at the front.
func (l *List[T]) PushFront(e *T, n *Links[T]) {
	n.entry = e
	l.push(n)
}

func (l *List[T]) push(n *Links[T]) {
	n.older, n.newer = l.front, nil
	if l.front != nil {
		l.front.newer = n
	} else {
		l.back = n
	}
	l.front = n
}

// Remove takes the entry of n out of l.
func (l *List[T]) Remove(n *Links[T]) {
	if n.newer != nil {
		n.newer.older = n.older
	} else {
		l.front = n.older
	}
	if n.older != nil {
		n.older.newer = n.newer
	} else {
		l.back = n.newer
	}
	n.newer, n.older = nil, nil
}

// MoveToFront marks the entry of n, which is in l, as the most recently
// used.
func (l *List[T]) MoveToFront(n *Links[T]) {
	if l.front != n {
		l.Remove(n)
		l.push(n)
	}
}

// Back returns the least recently used entry, nil when l is empty.
func (l *List[T]) Back() *T {
	if l.back == nil {
		return nil
	}
	return l.back.entry
}

// Clear empties l without touching its entries: for a store that drops
// them all at once.
func (l *List[T]) Clear() { l.front, l.back = nil, nil }
