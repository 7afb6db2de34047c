package lj

import (
	"strconv"
	"testing"

	"github.com/luaedge/luaedge/cgo"
)

func init() {
	// gate_nop does nothing: BenchmarkGate measures the crossing alone.
	RegisterGoFunc("gate_nop", func(c *cgo.Call) int { return 0 })
	// test_host returns the name of the calling state's host (TestHost).
	RegisterGoFunc("test_host", func(c *cgo.Call) int {
		h, ok := Host(c).(interface{ Name() string })
		if !ok {
			c.PushNil()
			return 1
		}
		c.PushString(h.Name())
		return 1
	})
	// gate_shared finds the caller's generation, as most gate functions do.
	RegisterGoFunc("gate_shared", func(c *cgo.Call) int {
		if sharedOf(c) == nil {
			return c.Error(errNoShared)
		}
		return 0
	})
}

// BenchmarkGate is the cost of one Lua -> Go gate call (bridge.gocall):
// the C closure, the cgo callback, the lookup of the Go function and the
// context it reaches the calling state's data through.
func BenchmarkGate(b *testing.B) { benchGate(b, "gate_nop") }

// BenchmarkGateShared adds what a gate function pays to reach the calling
// state's data (Call.Value: the state's runtime/cgo.Handle).
func BenchmarkGateShared(b *testing.B) { benchGate(b, "gate_shared") }

func benchGate(b *testing.B, fn string) {
	s, err := NewState(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	code := "local I = ...\nlocal gocall, id = I.gocall, I.go." + fn + "\nfor i = 1, " + strconv.Itoa(b.N) + " do gocall(id) end\nreturn 0"
	if _, err := s.L.EvalInternal(code, "=bench"); err != nil {
		b.Fatal(err)
	}
}
