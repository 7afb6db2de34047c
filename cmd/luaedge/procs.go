package main

import (
	"os"
	"runtime"
)

// spareProc makes sure the Go scheduler has a P more than the event loops
// use, unless the operator set GOMAXPROCS. A loop in a system call (a
// loopback write can take tens of µs) keeps its P; when no P is idle, the
// runtime's monitor takes that P away after 20 µs, hands it to another
// thread and back when the call returns, and keeps waking every 20 µs
// from then on. With one loop per CPU, that cost the edge bench a fifth
// of its CPU per request; a spare P stops it.
func spareProc(loops int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if runtime.GOMAXPROCS(0) <= loops {
		runtime.GOMAXPROCS(loops + 1)
	}
}
