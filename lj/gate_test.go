package lj

import (
	"strconv"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

func init() {
	// gate_nop does nothing: BenchmarkGate measures the crossing alone.
	RegisterGoFunc("gate_nop", func(c *cgo.Call) int { return 0 })
}

// BenchmarkGate is the cost of one Lua -> Go gate call (bridge.gocall):
// the C closure, the cgo callback, the lookup of the Go function and the
// context it reaches the calling state's data through.
func BenchmarkGate(b *testing.B) {
	s, err := NewState(Options{}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	code := "local I = require('luaedge.internal')\nlocal gocall, id = I.gocall, I.go.gate_nop\nfor i = 1, " + strconv.Itoa(b.N) + " do gocall(id) end\nreturn 0"
	if _, err := s.L.Eval(code, "=bench"); err != nil {
		b.Fatal(err)
	}
}
