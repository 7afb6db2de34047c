package stream_test

import (
	"testing"

	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/stream"
)

// countBytes gives the loop one frontend's counters (index 0) for the
// test, and returns them.
func (e *env) countBytes(t *testing.T) *metrics.Frontend {
	stats := make([]metrics.Frontend, 1)
	e.do(t, func() { e.env.FrontendStats = stats })
	t.Cleanup(func() { e.do(t, func() { e.env.FrontendStats = nil }) })
	return &stats[0]
}

// The error answers a protocol writes itself count in the exchange's
// bytes out (%B, and the frontend's counter), as HAProxy counts them: a
// failure the stream asks for (Fail) and a request the protocol refuses
// once its request line was read.
func TestErrorAnswerBytes(t *testing.T) {
	e := start(t)
	stats := e.countBytes(t)
	fe := &stream.Frontend{Name: "fe", Default: -1}
	answer := []byte("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\n500\n")

	// An invalid head from the script: Fail(500).
	p := &proto{answer: answer}
	e.do(t, func() {
		st := stream.New(e.env, p, stream.KindHTTP, fe)
		p.st = st
		if err := st.Start(lj.EntryHTTP, e.progs["badname"], 1); err != nil {
			t.Fatal(err)
		}
		st.S().SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		st.BodyEnd(nil)
		st.Step()
	})
	e.waitFor(t, "the failure", p.over)
	e.do(t, func() {
		if p.String() != "fail 500" || stats.BytesOut.Load() != int64(len(answer)) || stats.Responses[4].Load() != 1 {
			t.Errorf("calls %s, %d bytes out, %d 5xx; want fail 500, %d bytes, one 5xx", p, stats.BytesOut.Load(), stats.Responses[4].Load(), len(answer))
		}
	})

	// No backend to forward to: 503.
	p = &proto{answer: answer[:20]}
	e.do(t, func() {
		st := stream.New(e.env, p, stream.KindHTTP, fe)
		p.st = st
		if err := st.Start(lj.EntryHTTP, e.forward, 1); err != nil {
			t.Fatal(err)
		}
		st.S().SetRequestLine([]byte("GET"), []byte("/"), []byte("/"), nil, 1, 1)
		st.BodyEnd(nil)
		st.Step()
	})
	e.waitFor(t, "the 503", p.over)
	e.do(t, func() {
		if p.String() != "fail 503" || stats.BytesOut.Load() != int64(len(answer)+20) {
			t.Errorf("calls %s, %d bytes out; want fail 503, %d bytes in all", p, stats.BytesOut.Load(), len(answer)+20)
		}
	})

	// A request refused before its request line was read (400): its
	// answer is not counted, as HAProxy's protocol layer answers it
	// outside any stream; one refused with its line (413) is.
	e.do(t, func() {
		st := stream.New(e.env, &proto{}, stream.KindHTTP, fe)
		before := stats.BytesOut.Load()
		st.Refuse(400, "bad request")
		st.LogBytesOut(90)
		st.Close()
		if got := stats.BytesOut.Load() - before; got != 0 || stats.Responses[3].Load() != 1 || stats.RequestErrors.Load() != 1 {
			t.Errorf("refused: %d bytes out, %d 4xx, %d request errors; want 0, 1, 1", got, stats.Responses[3].Load(), stats.RequestErrors.Load())
		}
		st = stream.New(e.env, &proto{}, stream.KindHTTP, fe)
		before = stats.BytesOut.Load()
		st.LogRequestLine([]byte("POST"), []byte("/"), 1, 1)
		st.Refuse(413, "too large")
		st.LogBytesOut(90)
		st.Close()
		if got := stats.BytesOut.Load() - before; got != 90 || stats.Responses[3].Load() != 2 {
			t.Errorf("refused with its line: %d bytes out, %d 4xx; want 90, 2", got, stats.Responses[3].Load())
		}
	})
}
