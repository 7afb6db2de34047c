package edge

import "github.com/luaedge/luaedge/metrics"

// connCounts are the loops' counters of the frontends and backends, which
// the access log's %ac %fc %bc sum over every loop (stream.ConnCounts).
// Each loop's slices are made before the loops start and never replaced;
// each loop writes only its own, and any loop reads them all.
type connCounts struct {
	frontends [][]metrics.Frontend // by loop ID, then frontend index
	backends  [][]metrics.Backend  // by loop ID, then backend index
}

func newConnCounts(loops, frontends, backends int) *connCounts {
	c := &connCounts{frontends: make([][]metrics.Frontend, loops), backends: make([][]metrics.Backend, loops)}
	for i := range loops {
		c.frontends[i] = make([]metrics.Frontend, frontends)
		c.backends[i] = make([]metrics.Backend, backends)
	}
	return c
}

// Process is how many client connections are open, over every frontend.
func (c *connCounts) Process() int64 {
	var n int64
	for _, l := range c.frontends {
		for i := range l {
			n += l[i].Sessions.Load()
		}
	}
	return n
}

// Frontend is how many client connections frontend fe has open.
func (c *connCounts) Frontend(fe int) int64 {
	var n int64
	for _, l := range c.frontends {
		n += l[fe].Sessions.Load()
	}
	return n
}

// Backend is how many exchanges are in backend be.
func (c *connCounts) Backend(be int) int64 {
	var n int64
	for _, l := range c.backends {
		n += l[be].Current.Load()
	}
	return n
}
