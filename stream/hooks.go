package stream

import (
	"github.com/luaedge/luaedge/cgo"
)

// afterResponse runs the after_response hooks of th, whose response was
// handed to the client's protocol (the coroutine waits with OpAfter): on
// a later turn of the loop, once the handler that ended the response has
// flushed it, so that the hooks never hold its bytes back, and in a
// stream of its own, so that the connection goes on with its next request
// meanwhile. The request's outcome was acted on already: its flags are
// cleared for the hooks' run, and FlagAfter tells a coroutine that waited
// for a server's head that none came.
func afterResponse(env *Env, th *cgo.Thread) {
	th.S.ClearFlag(cgo.FlagFailed | cgo.FlagAbort | cgo.FlagErrLog | cgo.FlagForward)
	th.S.SetFlag(cgo.FlagAfter)
	st := New(env, hookProtocol{env: env}, KindTask, nil)
	st.th = th
	st.gen++
	st.park(0)
}

// RunHooks runs hook entry (lj.EntryConnect, EntryClose, EntryFlush) with
// arg (a frontend's program, or why a flush runs) for connection connID,
// in a coroutine of its own; fill writes what its hooks read into its
// stream. done (nil: none) is called once it has run, with finish true
// when a hook called set_finish (connect: the connection closes). Most
// runs are over when RunHooks returns; one whose hook waits (a remote
// store) goes on from the loop.
func RunHooks(env *Env, entry, arg int, connID int64, fill func(*cgo.Stream), done func(finish bool)) {
	st := New(env, hookProtocol{env: env, done: done}, KindTask, nil)
	if err := st.Start(entry, arg, connID); err != nil {
		env.Log.Error("no coroutine for hook scripts", "err", err)
		if done != nil {
			done(false)
		}
		return
	}
	if fill != nil {
		fill(st.S())
	}
	st.Step()
}

// hookProtocol is what is below a run of hooks outside a request's
// stream: nothing to send to; its end is reported to done.
type hookProtocol struct {
	env  *Env
	done func(finish bool)
}

func (h hookProtocol) SendHead(*Head)         {}
func (h hookProtocol) SendData([]byte)        {}
func (h hookProtocol) SendTrailers(*Trailers) {}
func (h hookProtocol) WaitBody() bool         { return false }
func (h hookProtocol) BodyConsumed(int)       {}
func (h hookProtocol) Backlog() int           { return 0 }
func (h hookProtocol) SetSockopts(int, int)   {}
func (h hookProtocol) Handle(fn func())       { fn() }
func (h hookProtocol) Forwarded(Upstream)     {}

// EndResponse: the hooks ran. Abort: one called set_finish. Fail: the run
// failed (logged by the stream).
func (h hookProtocol) EndResponse() { h.end(false) }
func (h hookProtocol) Abort()       { h.end(true) }
func (h hookProtocol) Fail(int)     { h.end(false) }

func (h hookProtocol) end(finish bool) {
	if h.done != nil {
		h.done(finish)
	}
}
