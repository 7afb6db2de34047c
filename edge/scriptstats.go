package edge

import (
	"context"

	"github.com/luaedge/luaedge/lj"
)

// ScriptStats sums over the loops what each loop's Lua state counted for
// the functions the scripts registered (lj.FuncStats: calls, errors,
// timeouts, time, allocations), one entry per function, in the order the
// first loop to answer registered them. Each loop reads its own state,
// between two of its events. If a loop has not answered when ctx ends
// (one held by a script that never yields), ScriptStats returns ctx's
// error with the sums of the loops that did.
func (s *Server) ScriptStats(ctx context.Context) ([]lj.FuncStats, error) {
	type result struct {
		stats []lj.FuncStats
		err   error
	}
	loops := s.loopStates()
	results := make(chan result, len(loops))
	for _, ls := range loops {
		ls.loop.Post(func() {
			st, err := ls.lua.ScriptStats()
			results <- result{st, err}
		})
	}
	var sum []lj.FuncStats
	index := map[string]int{}
	for range loops {
		select {
		case r := <-results:
			if r.err != nil {
				return sum, r.err
			}
			for i := range r.stats {
				f := &r.stats[i]
				if j, ok := index[f.Key()]; ok {
					sum[j].Add(f)
					continue
				}
				index[f.Key()] = len(sum)
				sum = append(sum, *f)
			}
		case <-ctx.Done():
			return sum, ctx.Err()
		}
	}
	return sum, nil
}
