//go:build invariants

package ws

// checkNoOutput asserts, in test builds (-tags invariants), that no
// handler left bytes in the connection's output buffer.
func checkNoOutput(h *Conn) {
	if h.out != nil {
		panic("ws: output buffer held between handlers")
	}
}
