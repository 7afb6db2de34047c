package ws

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// cursorStream is frames of every length encoding, masked (a client's)
// or not, close frames among them, and where each ends.
func cursorStream(role Role) (stream []byte, ends map[int]bool, closes int) {
	var w Writer
	w.Init(role, Deflate{}, nil)
	ends = map[int]bool{0: true}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 150; i++ {
		switch rng.IntN(6) {
		case 0:
			stream = w.AppendClose(stream, CloseGoingAway, "bye")
			closes++
		case 1:
			stream = w.AppendPing(stream, nil)
		case 2:
			stream = w.AppendFrame(stream, false, OpText, make([]byte, rng.IntN(126)))
		case 3:
			stream = w.AppendMessage(stream, OpBinary, make([]byte, 126+rng.IntN(70000)))
		default:
			stream = w.AppendMessage(stream, OpText, make([]byte, rng.IntN(300)))
		}
		ends[len(stream)] = true
	}
	return stream, ends, closes
}

// Fed in pieces cut anywhere, the cursor is at a boundary exactly where a
// frame ends, and counts the close frames.
func TestCursorSkip(t *testing.T) {
	for _, role := range []Role{Server, Client} {
		stream, ends, closes := cursorStream(role)
		rng := rand.New(rand.NewPCG(3, 4))
		var c Cursor
		got := 0
		for pos := 0; pos < len(stream); {
			n := min(1+rng.IntN(40), len(stream)-pos)
			if rng.IntN(10) == 0 {
				n = min(1+rng.IntN(100000), len(stream)-pos)
			}
			got += c.Skip(stream[pos : pos+n])
			pos += n
			if c.AtBoundary() != ends[pos] {
				t.Fatalf("role %d, at %d: AtBoundary %v, a frame ends there: %v", role, pos, c.AtBoundary(), ends[pos])
			}
		}
		if got != closes {
			t.Fatalf("role %d: %d closes counted, %d sent", role, got, closes)
		}
	}
}

// Finish goes exactly to the end of the frame going by.
func TestCursorFinish(t *testing.T) {
	stream, ends, _ := cursorStream(Client)
	var sorted []int
	for e := range ends {
		sorted = append(sorted, e)
	}
	slices.Sort(sorted)
	rng := rand.New(rand.NewPCG(5, 6))
	var c Cursor
	for pos := 0; pos < len(stream); {
		n := min(1+rng.IntN(300), len(stream)-pos)
		c.Skip(stream[pos : pos+n])
		pos += n
		rest := stream[pos:min(len(stream), pos+1+rng.IntN(100000))]
		want := 0
		if !ends[pos] {
			next := sorted[sort.SearchInts(sorted, pos)] // the first end after pos
			want = min(next-pos, len(rest))
		}
		probe := c
		if got := probe.Finish(rest); got != want {
			t.Fatalf("at %d: Finish %d, the frame ends after %d", pos, got, want)
		}
		if want < len(rest) && !probe.AtBoundary() {
			t.Fatalf("at %d: not at a boundary after Finish", pos)
		}
	}
}
