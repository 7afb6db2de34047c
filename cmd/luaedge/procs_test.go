package main

import (
	"os"
	"runtime"
	"testing"
)

func TestSpareProc(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set: spareProc leaves it")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	loops := runtime.GOMAXPROCS(0) + 2
	spareProc(loops)
	if got := runtime.GOMAXPROCS(0); got != loops+1 {
		t.Fatalf("GOMAXPROCS %d for %d loops, want %d", got, loops, loops+1)
	}
	spareProc(1) // never lowered
	if got := runtime.GOMAXPROCS(0); got != loops+1 {
		t.Fatalf("GOMAXPROCS lowered to %d", got)
	}
}
