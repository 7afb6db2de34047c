package sticktable

import "math/bits"

// freqCtr counts events over a period the way HAProxy's freq_ctr does: it
// keeps the count of the current period and of the previous one, and reads
// as the current count plus the previous count weighted by the part of the
// current period that has not elapsed yet. Times are ticks in nanoseconds.
type freqCtr struct {
	start int64 // tick at which the current period began
	curr  int64 // events in the current period
	prev  int64 // events in the previous period
}

// rotate moves to the period holding now.
func (f *freqCtr) rotate(now, period int64) {
	elapsed := now - f.start
	if elapsed < period {
		return
	}
	if elapsed < 2*period {
		f.prev = f.curr
		f.start += period
	} else {
		// At least one whole period went by without events.
		f.prev = 0
		f.start = now
	}
	f.curr = 0
}

// add records n events at now.
func (f *freqCtr) add(now, period, n int64) {
	f.rotate(now, period)
	f.curr += n
}

// read returns the events per period at now without changing f.
func (f *freqCtr) read(now, period int64) int64 {
	elapsed := max(now-f.start, 0)
	curr, prev := f.curr, f.prev
	if elapsed >= period {
		if elapsed >= 2*period {
			return 0
		}
		prev, curr = curr, 0
		elapsed -= period
	}
	if prev <= 0 {
		return curr
	}
	// prev * remaining / period in 128 bits: the quotient is at most prev,
	// so the division cannot overflow.
	hi, lo := bits.Mul64(uint64(prev), uint64(period-elapsed))
	q, _ := bits.Div64(hi, lo, uint64(period))
	return curr + int64(q)
}
