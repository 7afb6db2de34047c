//go:build invariants

package http1

// checkNoOutput asserts, in test builds (-tags invariants), that no
// handler left bytes in the connection's output buffer.
func checkNoOutput(h *Conn) {
	if h.out != nil {
		panic("http1: output buffer held between handlers")
	}
}
