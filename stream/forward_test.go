package stream_test

import (
	"testing"

	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/stream"
)

// upstream is the test's Upstream: it records what the stream sends it.
type upstream struct {
	body      []byte
	ends      int
	abandoned int
	resumed   int
}

func (u *upstream) Body(p []byte)          { u.body = append(u.body, p...) }
func (u *upstream) EndBody([]http1.Header) { u.ends++ }
func (u *upstream) Backlog() int           { return 0 }
func (u *upstream) Abandon()               { u.abandoned++ }
func (u *upstream) Resume()                { u.resumed++ }
func (u *upstream) AbortOnClose() bool     { return false }

// backends is the test's Backends: it opens u, or refuses with status.
type backends struct {
	opened []int
	refuse int
	u      *upstream
}

func (b *backends) Open(st *stream.Stream, be int, src []byte) (stream.Upstream, int, string) {
	b.opened = append(b.opened, be)
	if b.refuse != 0 {
		return nil, b.refuse, "refused by the test"
	}
	return b.u, 0, ""
}

func (b *backends) Tunnel(*stream.Stream, int, []byte) (stream.Tunnel, string) {
	return nil, "no tunnels in this test"
}

// useBackends makes b the loop's Backends (nil: none).
func (e *env) useBackends(t *testing.T, b stream.Backends) {
	e.do(t, func() { e.env.Backends = b })
	t.Cleanup(func() { e.do(t, func() { e.env.Backends = nil }) })
}

// A request goes to the backend its frontend's routes pick: the first
// route whose host (port ignored, case-insensitive) and path prefix match,
// else the default.
func TestForwardRoutes(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	e.useBackends(t, b)
	fe := &stream.Frontend{Name: "fe", Default: 0, Routes: []stream.Route{
		{Host: "api.example", PathPrefix: []byte("/v1"), Backend: 1},
		{PathPrefix: []byte("/static"), Backend: 2},
	}}
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"api.example", "/v1/users", 1},
		{"API.Example:8443", "/v1", 1},
		{"api.example", "/v2", 0},
		{"other.example", "/static/a.css", 2},
		{"other.example", "/", 0},
		{"[::1]:80", "/v1", 0},
	} {
		p := &proto{}
		st := e.run(t, p, fe, e.forward, request{host: tc.host, path: tc.path})
		e.do(t, func() {
			if len(b.opened) == 0 || b.opened[len(b.opened)-1] != tc.want {
				t.Errorf("%s%s: opened %v, want backend %d last", tc.host, tc.path, b.opened, tc.want)
			}
			if p.String() != "forwarded" || !st.Forwarding() || !st.Running() {
				t.Errorf("%s%s: calls %s forwarding %v", tc.host, tc.path, p, st.Forwarding())
			}
			// The client goes away: the exchange is abandoned.
			abandoned := b.u.abandoned
			st.Close()
			if b.u.abandoned != abandoned+1 || p.String() != "forwarded,forwarded nil" || st.Forwarding() {
				t.Errorf("Close while forwarding: calls %s abandoned %d", p, b.u.abandoned-abandoned)
			}
		})
	}
}

// A request that cannot be forwarded is answered by the stream: 503 with
// no backend to send it to, else the status Open gives when it fails.
func TestForwardRefused(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	for _, tc := range []struct {
		name string
		be   stream.Backends
		fe   *stream.Frontend
		want string
	}{
		{"no Backends", nil, &stream.Frontend{Default: 0}, "fail 503"},
		{"no route", b, &stream.Frontend{Default: -1}, "fail 503"},
		{"no connection", &backends{refuse: 502}, &stream.Frontend{Default: 0}, "fail 502"},
		{"no server", &backends{refuse: 503}, &stream.Frontend{Default: 0}, "fail 503"},
	} {
		e.do(t, func() { e.env.Backends = tc.be })
		p := &proto{}
		st := e.run(t, p, tc.fe, e.forward, request{})
		e.do(t, func() {
			if p.String() != tc.want || st.Running() || st.Forwarding() {
				t.Errorf("%s: calls %s running %v, want %s", tc.name, p, st.Running(), tc.want)
			}
		})
	}
	e.do(t, func() { e.env.Backends = nil })
	if len(b.opened) != 0 {
		t.Errorf("Open called with no route: %v", b.opened)
	}
}

// startForward opens an exchange for a request and checks it went out.
func (e *env) startForward(t *testing.T, b *backends, r request) (*proto, *stream.Stream) {
	t.Helper()
	p := &proto{}
	st := e.run(t, p, &stream.Frontend{Name: "fe", Default: 0}, e.forward, r)
	e.do(t, func() {
		if p.String() != "forwarded" || p.forwarded[0] != stream.Upstream(b.u) {
			t.Errorf("calls %s, want forwarded to the test's upstream", p)
		}
	})
	return p, st
}

// upstreamHead gives the stream a server's response head.
func upstreamHead(st *stream.Stream, status int, fields ...string) {
	s := st.S()
	s.SetResponse(status, []byte("Reason"))
	for i := 0; i+1 < len(fields); i += 2 {
		s.AddRField([]byte(fields[i]), []byte(fields[i+1]))
	}
	st.UpstreamHead()
}

// The request body goes to the upstream; the server's response is relayed
// under the same rules as a script's: its content-length bounds the body.
func TestForwardRelay(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	e.useBackends(t, b)
	p, st := e.startForward(t, b, request{method: "POST", body: true})
	e.do(t, func() {
		st.Body([]byte("req-"))
		st.Body([]byte("body"))
		st.BodyEnd(nil)
		if string(b.u.body) != "req-body" || b.u.ends != 1 {
			t.Errorf("upstream got body %q, %d ends", b.u.body, b.u.ends)
		}
		upstreamHead(st, 201, "content-length", "4", "x-from", "server")
		if p.String() != "forwarded,head" || st.Running() {
			t.Errorf("after the head: calls %s running %v", p, st.Running())
		}
		if h := p.heads[0]; h.status != 201 || h.length != 4 || h.noBody {
			t.Errorf("head %+v", h)
		}
		st.UpstreamData([]byte("da"))
		st.UpstreamData([]byte("ta and more")) // past the content-length
		st.UpstreamEnd()
		if string(p.data) != "data" {
			t.Errorf("relayed %q, want \"data\"", p.data)
		}
		if p.String() != "forwarded,head,data,data,forwarded nil,end" || st.Forwarding() {
			t.Errorf("calls %s forwarding %v", p, st.Forwarding())
		}
		if b.u.abandoned != 0 {
			t.Error("a completed exchange was abandoned")
		}
	})
}

// The answer to a HEAD request, or a 204 or 304, carries no body bytes,
// whatever the server sends.
func TestForwardNoBody(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	e.useBackends(t, b)
	for _, tc := range []struct {
		head   bool
		status int
	}{{true, 200}, {false, 204}, {false, 304}} {
		p, st := e.startForward(t, b, request{head: tc.head})
		e.do(t, func() {
			upstreamHead(st, tc.status, "content-length", "4")
			st.UpstreamData([]byte("body"))
			st.UpstreamEnd()
			if len(p.data) != 0 || !p.heads[0].noBody || p.String() != "forwarded,head,forwarded nil,end" {
				t.Errorf("HEAD %v status %d: calls %s data %q head %+v", tc.head, tc.status, p, p.data, p.heads[0])
			}
		})
	}
}

// A server failing before its head is answered with the status it gives;
// a head with an invalid field is a 502 and the exchange is abandoned.
func TestForwardFailures(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	e.useBackends(t, b)
	p, st := e.startForward(t, b, request{})
	e.do(t, func() {
		st.UpstreamFailed(504)
		if p.String() != "forwarded,forwarded nil,fail 504" || st.Running() || st.Forwarding() {
			t.Errorf("UpstreamFailed: calls %s", p)
		}
	})
	p, st = e.startForward(t, b, request{})
	e.do(t, func() {
		abandoned := b.u.abandoned
		upstreamHead(st, 200, "bad field", "x")
		if p.String() != "forwarded,forwarded nil,fail 502" || b.u.abandoned != abandoned+1 || st.Running() {
			t.Errorf("invalid head: calls %s abandoned %d", p, b.u.abandoned-abandoned)
		}
	})
}

// Backlog and Handle are the protocol's.
func TestStreamDelegates(t *testing.T) {
	e := start(t)
	p := &proto{backlog: 1234}
	e.do(t, func() {
		st := stream.New(e.env, p, stream.KindHTTP, nil)
		if st.Backlog() != 1234 {
			t.Errorf("Backlog() = %d", st.Backlog())
		}
		ran := false
		st.Handle(func() { ran = true })
		if !ran || p.handled != 1 {
			t.Error("Handle did not go through the protocol")
		}
		if st.Running() || st.S() != nil || st.Forwarding() || st.Tunnel() != nil {
			t.Error("a new stream is not idle")
		}
	})
}
