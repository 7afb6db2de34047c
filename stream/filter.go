package stream

import (
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/transport"
)

// filtering is the state of a forwarded response whose body goes through
// Lua filters (lj/lua/filter.lua): once the http-response rules and the
// filters' http_headers are done, the coroutine waits with OpResBody
// instead of ending. Each piece of the server's body is appended to the
// stream's body buffer (C memory; the filters' input, counted in
// Backlog so that the server is throttled while they hold much of it)
// and the coroutine resumed; what the filters pass on comes back in out.
// It belongs to the stream, for one exchange.
type filtering struct {
	// req: the request's filters take its body (cgo.FlagReqFilter): it
	// reaches the stream as a script's does, and what they pass on goes
	// to the server from out, until the coroutine waits for the
	// response head (OpForward).
	req bool
	// headWaits: the server's head came while req: it waits for the
	// request's filters to end (ResponseRulesRunning holds its body).
	headWaits bool
	on        bool
	// headHeld: the response head has not left yet. It goes with the
	// filters' first bytes (or at the end), so that a filter failing on
	// the first piece closes the connection without an answer, as
	// HAProxy's does.
	headHeld bool
	// trailers are the server's trailer fields, copied (the upstream's
	// buffer is reused) to follow the filtered body.
	trailers []http1.Header
}

// afterReqFilterStep acts on a step of the request's filters; false
// when they answered the request instead (a failure): the exchange is
// dropped and the step goes on as a script's answer.
func (st *Stream) afterReqFilterStep(op int, arg float64) bool {
	s := st.th.S
	if s.Flags()&cgo.FlagReqFilter == 0 && op != cgo.OpForward {
		st.flt.req = false
		st.fwd.drop(st)
		return false
	}
	st.flt.req = true
	if st.fwd.up == nil {
		st.startForward()
		if st.fwd.up == nil {
			st.flt.req = false // answered (503...)
			return true
		}
	}
	u := st.fwd.up
	if out := s.Out(); len(out) > 0 {
		u.Body(out)
		s.ConsumeOut()
	}
	switch op {
	case cgo.OpForward:
		// Done with the request's body: the exchange goes on as any.
		st.flt.req = false
		s.ClearFlag(cgo.FlagReqFilter)
		var tr []http1.Header
		for i := range s.NumTrailers() {
			name, value := s.Trailer(i)
			tr = append(tr, http1.Header{Name: append([]byte(nil), name...), Value: append([]byte(nil), value...)})
		}
		u.EndBody(tr)
		st.down.Forwarded(u)
		st.bodyHandedOn()
		if st.flt.headWaits {
			st.flt.headWaits = false
			st.UpstreamHead()
		}
	case cgo.OpRecv:
		// More of the client's body, once the server took what went.
		if u.Backlog() >= transport.HighWater {
			st.park(transport.Recheck)
		} else if !st.down.WaitBody() {
			st.park(0)
		}
	case cgo.OpSleep:
		st.park(time.Duration(arg * float64(time.Millisecond)))
	default:
		st.park(yieldDelay)
	}
	return true
}

// startFiltering is the http-response step that ended with OpResBody.
func (st *Stream) startFiltering() {
	st.fwd.parkedForHead = false
	st.flt = filtering{on: true, headHeld: true}
	if u := st.fwd.up; u != nil {
		u.Resume()
	}
}

// filterData hands a piece of the server's body to the filters.
func (st *Stream) filterData(p []byte) {
	th := st.th
	if th == nil {
		return
	}
	if !th.S.AppendBody(p) {
		st.fwd.drop(st)
		st.End()
		st.logEnd("SD", 0, "out of memory for the filters' body")
		st.down.Abort()
		return
	}
	if op, _ := th.S.Op(); op == cgo.OpResBody {
		st.Step()
	} // else a filter waits on its wake time: the bytes wait with it
}

// filterTrailers keeps the server's trailers for after the filtered body.
func (st *Stream) filterTrailers(list []http1.Header) {
	t := make([]http1.Header, len(list))
	for i, h := range list {
		t[i] = http1.Header{Name: append([]byte(nil), h.Name...), Value: append([]byte(nil), h.Value...)}
	}
	st.flt.trailers = t
}

// filterEnd tells the filters that the server's body ended.
func (st *Stream) filterEnd() {
	st.fwd.up = nil
	st.down.Forwarded(nil)
	th := st.th
	if th == nil {
		return
	}
	th.S.SetFlag(cgo.FlagResEnd)
	if op, _ := th.S.Op(); op == cgo.OpResBody {
		st.Step()
	}
}

// afterFilterStep sends what the filters passed on and acts on what they
// wait for; once they are done (after the body's end) the response ends.
func (st *Stream) afterFilterStep(op int, arg float64) {
	if len(st.th.S.Out()) > 0 || op == cgo.OpDone {
		if st.flt.headHeld && !st.releaseHead() {
			return
		}
		st.sendOut()
	}
	switch op {
	case cgo.OpResBody:
		// filterData or filterEnd resumes it.
	case cgo.OpDone:
		st.finishCoding()
		if t := st.flt.trailers; len(t) > 0 && !st.noBody {
			tr := &st.env.trailers
			*tr = Trailers{list: t}
			st.down.SendTrailers(tr)
		}
		st.End()
		st.logEnd("--", 0, "")
		st.down.EndResponse()
	case cgo.OpSleep:
		st.park(time.Duration(arg * float64(time.Millisecond)))
	default:
		st.park(0)
	}
}

// releaseHead sends the response head the filters held.
func (st *Stream) releaseHead() bool {
	st.flt.headHeld = false
	if st.sendHead() {
		return true
	}
	st.fwd.drop(st)
	st.answered(502)
	st.End()
	st.fail("IH", 502, "invalid response head")
	return false
}
