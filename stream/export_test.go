package stream

// Compressing reports whether the stream holds a coding state (and, for
// brotli, the loop's writer it borrowed): for tests, which check that an
// exchange that ended, whole or cut, holds none.
func (st *Stream) Compressing() bool { return st.enc != nil }
