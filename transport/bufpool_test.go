package transport

import "testing"

func TestBufPoolGetIsEmpty(t *testing.T) {
	var p BufPool
	b := p.Get().B
	if len(b) != 0 || cap(b) < bufInitial {
		t.Fatalf("new buffer: len %d cap %d, want 0 and at least %d", len(b), cap(b), bufInitial)
	}
}

// A buffer given back with bytes in it comes out of the pool empty: the
// bytes one connection wrote cannot leave on another.
func TestBufPoolPutResetsLength(t *testing.T) {
	var p BufPool
	o := p.Get()
	o.B = append(o.B, "secret of connection A"...)
	b := o.B
	p.Put(o)
	got := p.Get().B
	if len(got) != 0 {
		t.Fatalf("pooled buffer has %d bytes: %q", len(got), got)
	}
	if cap(got) != cap(b) || &got[:1][0] != &b[0] {
		t.Fatal("the buffer put back was not reused")
	}
	// Appending to it overwrites what was there, it never follows it.
	got = append(got, 'x')
	if string(got) != "x" {
		t.Fatalf("append to a pooled buffer: %q", got)
	}
}

func TestBufPoolDropsBigBuffers(t *testing.T) {
	var p BufPool
	big := make([]byte, 10, bufKeepMax+1)
	p.Put(&Buf{B: big})
	if len(p.free) != 0 {
		t.Fatalf("a %d-byte buffer was pooled", cap(big))
	}
	edge := make([]byte, 0, bufKeepMax)
	p.Put(&Buf{B: edge})
	if len(p.free) != 1 {
		t.Fatalf("a buffer of exactly %d bytes was dropped", bufKeepMax)
	}
	if b := p.Get().B; cap(b) != bufKeepMax {
		t.Fatalf("Get returned cap %d, want the pooled %d", cap(b), bufKeepMax)
	}
}

func TestBufPoolBounded(t *testing.T) {
	var p BufPool
	for i := 0; i < bufPoolMax*2; i++ {
		p.Put(&Buf{B: make([]byte, 1, 16)})
	}
	if len(p.free) != bufPoolMax {
		t.Fatalf("pool holds %d buffers, want at most %d", len(p.free), bufPoolMax)
	}
	// Every buffer taken out is empty; once the pool is empty Get makes new ones.
	for i := 0; i < bufPoolMax; i++ {
		if b := p.Get().B; len(b) != 0 || cap(b) != 16 {
			t.Fatalf("buffer %d: len %d cap %d", i, len(b), cap(b))
		}
	}
	if b := p.Get().B; cap(b) != bufInitial {
		t.Fatalf("Get from an empty pool: cap %d, want %d", cap(b), bufInitial)
	}
	// Get clears the slot it takes from, so the pool keeps no reference.
	p.Put(&Buf{B: make([]byte, 0, 8)})
	p.Get()
	if full := p.free[:cap(p.free)]; full[0] != nil {
		t.Fatal("the pool still references a buffer it handed out")
	}
}

func TestBufPoolGetPutAllocs(t *testing.T) {
	var p BufPool
	p.Put(p.Get())
	if n := testing.AllocsPerRun(100, func() {
		o := p.Get()
		o.B = append(o.B, "abc"...)
		p.Put(o)
	}); n != 0 {
		t.Fatalf("Get/Put allocates %v times", n)
	}
}
