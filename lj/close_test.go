package lj

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// vmRSS returns the process's resident memory in kB.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// A closed state gives back all its memory: a reload closes every state of
// the old generation, and a process reloaded for weeks must not grow.
func TestCloseFreesMemory(t *testing.T) {
	const states = 50
	grow := `local t = {} for i = 1, 50000 do t[i] = {i} end` // about 2 MiB
	before := vmRSS(t)
	for i := 0; i < states; i++ {
		s, err := NewState(Options{Scripts: []Script{{Path: "grow.lua", Code: []byte(grow)}}})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if grew := vmRSS(t) - before; grew > 20<<10 {
		t.Errorf("%d states of about 2 MiB each created and closed: RSS grew %d kB", states, grew)
	}
}
