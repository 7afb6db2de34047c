//go:build invariants

package http2

// checkNoOutput asserts, in test builds (-tags invariants), that a handler
// leaves no bytes queued for the client of an open connection (called as
// it returns: the server preface is queued before the first one), unless
// they are held because the client does not read (flush).
func checkNoOutput(h *Conn) {
	if !h.closed && !h.ending && !h.outHeld && h.h2.Pending() > 0 {
		panic("http2: output queued between handlers")
	}
}
