//go:build !race

package httpenc

import "testing"

// A brotli response whose writer is reused allocates nothing. Not under
// the race detector: the brotli package's sync.Pools drop their items at
// random there.
func TestBrotliReuseAllocates(t *testing.T) {
	var e Encoder
	var s State
	s.Start(Brotli, 4)
	e.Compress(&s, text(100<<10)) // the writer's tables and window are made once
	e.Finish(&s)
	piece := text(10 << 10)
	if n := testing.AllocsPerRun(20, func() {
		s.Start(Brotli, 4)
		e.Compress(&s, piece)
		e.Finish(&s)
	}); n != 0 {
		t.Errorf("a brotli response with a reused writer allocates %v times", n)
	}
}
