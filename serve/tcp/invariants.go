//go:build invariants

package tcp

// checkNoOutput asserts, in test builds (-tags invariants), that no
// handler left bytes in the connection's output buffer.
func checkNoOutput(t *Conn) {
	if t.out != nil {
		panic("tcp: output buffer held between handlers")
	}
}
