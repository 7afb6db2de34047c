package httpenc

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
)

// State is one response's coding: which, at what level, and what its
// trailer needs (the checksum and length of what was compressed); for
// brotli, the writer it borrowed from the loop's Encoder. It belongs to
// the response's stream.
type State struct {
	coding  Coding
	level   int
	started bool   // the header went out
	crc     uint32 // gzip: CRC-32 of the uncompressed bytes
	adler   uint32 // deflate: Adler-32 of them
	size    uint32 // gzip: their length, modulo 2^32
	// br is brotli's writer, from the first piece until Finish or
	// Release give it back to the Encoder; nil before and after.
	br *brotli.Writer
}

// Start makes s code a response with c at level (gzip and deflate: 1 to
// 9; brotli: 0 to MaxQuality). s must hold no brotli writer (a response
// that ended was released).
func (s *State) Start(c Coding, level int) {
	*s = State{coding: c, level: level, adler: 1}
}

// Encoder compresses the responses of one event loop, one piece at a time:
// a compressor per gzip and deflate level in use (each about a megabyte,
// made on first use), the brotli writers no response holds, and the
// output of the last call. It is the loop's, used from its goroutine only.
type Encoder struct {
	w   [10]*flate.Writer // by level
	out []byte            // the last call's output; reused
	// brFree are brotli writers no response holds, by quality, at most
	// maxBrFree each. A writer's tables and window (about 0.6 MB at
	// quality 4, growing to 2.3 MB with a body of 100 KB or more) are
	// made on its first response and reused by the next: a reused
	// writer compresses without allocating.
	brFree [MaxQuality + 1][]*brotli.Writer
}

// maxKeep bounds the output buffer kept between calls: a large piece's
// buffer is let go.
const maxKeep = 256 << 10

// maxBrFree bounds the idle brotli writers a loop keeps per quality: a
// burst of concurrent brotli responses leaves at most this many writers
// (a few megabytes each) behind.
const maxBrFree = 8

// brWindow is the log2 of the brotli window: 256 KiB, where brotli's own
// default of 4 MiB made a writer that saw a 100 KB body take 10 MB instead
// of 2.3, for the same output (a match further back than 256 KiB is rare
// in a response).
const brWindow = 18

// Write collects the compressor's output (flate.Writer's destination).
func (e *Encoder) Write(p []byte) (int, error) {
	e.out = append(e.out, p...)
	return len(p), nil
}

// Compress compresses p as the next piece of s's body, the coding's
// header first if it has not gone out. Everything leaves: the piece ends
// with a sync flush, so the client can decode all that was sent (this
// costs a few bytes a piece). Pieces are compressed independently of one
// another (the dictionary is not carried over), which the format allows
// and which keeps no compressor per response. The result is valid until
// the next call on e.
func (e *Encoder) Compress(s *State, p []byte) []byte {
	e.reset()
	if s.coding == Brotli {
		return e.compressBrotli(s, p)
	}
	e.header(s)
	if len(p) == 0 {
		return e.out
	}
	w := e.w[s.level]
	if w == nil {
		// NewWriter fails only for a level out of range, which the
		// configuration refuses.
		w, _ = flate.NewWriter(e, s.level)
		e.w[s.level] = w
	} else {
		w.Reset(e)
	}
	_, _ = w.Write(p)
	_ = w.Flush()
	switch s.coding {
	case Gzip:
		s.crc = crc32.Update(s.crc, crc32.IEEETable, p)
		s.size += uint32(len(p))
	case Deflate:
		s.adler = updateAdler32(s.adler, p)
	}
	return e.out
}

// Finish ends s's body: a last empty block and the coding's trailer (the
// header first, for a body that had no piece). The result is valid until
// the next call on e.
func (e *Encoder) Finish(s *State) []byte {
	e.reset()
	if s.coding == Brotli {
		if s.br == nil {
			// A body without a piece: the empty stream (a 64 KiB
			// window, then an empty last meta-block) needs no writer.
			return append(e.out, emptyBrotli)
		}
		_ = s.br.Close()
		e.Release(s)
		return e.out
	}
	e.header(s)
	// A final block of fixed Huffman codes holding only its end.
	e.out = append(e.out, 0x03, 0x00)
	switch s.coding {
	case Gzip:
		e.out = binary.LittleEndian.AppendUint32(e.out, s.crc)
		e.out = binary.LittleEndian.AppendUint32(e.out, s.size)
	case Deflate:
		e.out = binary.BigEndian.AppendUint32(e.out, s.adler)
	}
	return e.out
}

// emptyBrotli is a whole brotli stream of nothing: WBITS 16 (one 0 bit),
// ISLAST, ISLASTEMPTY.
const emptyBrotli = 0x06

// compressBrotli compresses p as the next piece of a brotli body and
// flushes it, with the writer s holds (taken from the free list on the
// first piece). Unlike gzip's pieces, a later piece may refer to an
// earlier one: the window is the response's.
func (e *Encoder) compressBrotli(s *State, p []byte) []byte {
	if len(p) == 0 {
		return e.out
	}
	if s.br == nil {
		free := e.brFree[s.level]
		if n := len(free); n > 0 {
			s.br = free[n-1]
			e.brFree[s.level] = free[:n-1]
			s.br.Reset(e)
		} else {
			s.br = brotli.NewWriterOptions(e, brotli.WriterOptions{Quality: s.level, LGWin: brWindow})
		}
	}
	// Writing to e cannot fail.
	_, _ = s.br.Write(p)
	_ = s.br.Flush()
	return e.out
}

// Release gives back the brotli writer s holds, if any: its response
// ended (Finish does it) or was cut (the client went away, the server's
// body broke off, the script failed). A writer over the bound is left to
// the garbage collector.
func (e *Encoder) Release(s *State) {
	w := s.br
	if w == nil {
		return
	}
	s.br = nil
	if free := e.brFree[s.level]; len(free) < maxBrFree {
		e.brFree[s.level] = append(free, w)
	}
}

func (e *Encoder) reset() {
	if cap(e.out) > maxKeep {
		e.out = nil
	}
	e.out = e.out[:0]
}

// header appends the coding's header if it has not gone out.
func (e *Encoder) header(s *State) {
	if s.started {
		return
	}
	s.started = true
	switch s.coding {
	case Gzip:
		// No name, no time, "unknown" system; the extra flags say the
		// fastest or the smallest.
		xfl := byte(0)
		switch s.level {
		case 1:
			xfl = 4
		case 9:
			xfl = 2
		}
		e.out = append(e.out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255)
	case Deflate:
		// A 32 KiB window, no dictionary, the level's class; the check
		// bits make the pair a multiple of 31.
		flg := byte(0x9c)
		switch {
		case s.level == 1:
			flg = 0x01
		case s.level < 6:
			flg = 0x5e
		case s.level > 6:
			flg = 0xda
		}
		e.out = append(e.out, 0x78, flg)
	}
}

// updateAdler32 updates an Adler-32 checksum with p (hash/adler32 has no
// function to go on from a saved value without a hash object).
func updateAdler32(sum uint32, p []byte) uint32 {
	const mod = 65521
	// nmax is the most bytes before the sums must be reduced to stay in
	// 32 bits.
	const nmax = 5552
	a, b := sum&0xffff, sum>>16
	for len(p) > 0 {
		n := min(len(p), nmax)
		for _, c := range p[:n] {
			a += uint32(c)
			b += a
		}
		a %= mod
		b %= mod
		p = p[n:]
	}
	return b<<16 | a
}
