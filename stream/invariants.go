//go:build invariants

package stream

// checkOver asserts, in test builds (-tags invariants), that a stream
// given back to its protocol's pool (Detach) has ended its exchange:
// nothing of it may run on behalf of the next borrower.
func checkOver(st *Stream) {
	if st.th != nil || st.timer != nil || st.fwd != (forward{}) || st.enc != nil || st.ws != nil || st.log != nil {
		panic("stream: detached while its exchange goes on")
	}
}

// checkDetached asserts that a stream lent again (Attach) is as Detach
// left it: nothing wrote to it while it was in the pool.
func checkDetached(st *Stream) {
	if st.down != nil || st.fe != nil || st.Src != nil || st.sessVars || st.unread != 0 || st.ran != 0 ||
		st.isHead || st.headSent || st.noBody || st.respLeft != 0 {
		panic("stream: a detached stream was written to")
	}
	checkOver(st)
}
