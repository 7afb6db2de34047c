//go:build invariants

package http1

// checkNoOutput asserts, in test builds (-tags invariants), that no
// handler left bytes in the connection's output buffer.
func checkNoOutput(h *Conn) {
	if h.out != nil {
		panic("http1: output buffer held between handlers")
	}
}

// checkClean asserts that a request taken from the loop's pool is as
// giveBack left it: nothing wrote to it after it was given back.
func checkClean(rq *request) {
	if *rq != (request{st: rq.st, dec: rq.dec}) || rq.dec != nil && len(rq.dec.Trailers()) > 0 {
		panic("http1: a request in the pool was written to")
	}
}

// checkOver asserts that a request given back has no server answering
// it (its stream checks the rest as it is detached).
func checkOver(rq *request) {
	if rq.up != nil {
		panic("http1: a request given back while a server answers it")
	}
}
