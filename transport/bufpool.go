package transport

// BufPool keeps a loop's empty output buffers. A connection borrows one on
// the first write of a handler and puts it back, emptied, when it flushes
// before the handler returns: an idle connection holds none, and a buffer
// in the pool holds no bytes. Used from the loop's goroutine only.
type BufPool struct {
	free []*Buf
}

// Buf is an output buffer: a pointer to it is what a connection keeps (8
// bytes, where a slice takes 24) between its first write and its flush.
type Buf struct{ B []byte }

const (
	bufInitial = 4 << 10  // a response head and a small body
	bufKeepMax = 64 << 10 // larger buffers are dropped, not pooled
	bufPoolMax = 64       // buffers kept per loop
)

// Get returns an empty buffer.
func (p *BufPool) Get() *Buf {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return &Buf{B: make([]byte, 0, bufInitial)}
}

// Put takes back a buffer whose bytes were sent. Its length is reset, so
// nothing written into it can leave again.
func (p *BufPool) Put(b *Buf) {
	if cap(b.B) > bufKeepMax || len(p.free) >= bufPoolMax {
		return
	}
	b.B = b.B[:0]
	p.free = append(p.free, b)
}
