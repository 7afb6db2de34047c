package proxy

import (
	"bytes"
	"time"

	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/stream"
)

// queued is a request waiting in its backend's queue for a server under
// its maxconn: the stream's Upstream meanwhile. It keeps the request body
// that arrives (the client is throttled on it as on a server's backlog)
// and, once the backend gives it a server, opens the exchange and hands
// it everything, then passes each call on. It belongs to the stream's
// loop; only wake runs elsewhere.
type queued struct {
	p     *Pool
	b     *Backend
	st    *stream.Stream
	c     choice // how its server is chosen
	tk    *backend.Ticket
	timer *time.Timer // the backend's timeouts.queue

	up       stream.Upstream // the exchange, once a server took it
	body     []byte          // request body that arrived while waiting
	ended    bool            // and its end, with its trailers (copied)
	trailers []http1.Header
	gone     bool // abandoned, timed out, or the exchange could not open
}

// queue puts the request of st in backend b's queue, or forwards it at
// once if a server has room now.
func (p *Pool) queue(st *stream.Stream, b *Backend, src []byte) (stream.Upstream, int, string) {
	q := &queued{p: p, b: b, st: st, c: choice{key: src}}
	srv, tk := b.Queue(src, q.wake)
	switch {
	case srv != nil:
		return p.openOn(st, b, srv, q.c)
	case tk == nil:
		return nil, 503, "no server available in backend " + b.Name()
	}
	q.tk = tk
	st.LogQueued(tk.Pos)
	q.timer = p.loop.After(b.QueueTimeout, q.expire)
	return q, 0, ""
}

// queueFor is queue for a request that must go to srv (persist.go).
func (p *Pool) queueFor(st *stream.Stream, b *Backend, srv *backend.Server, c choice) (stream.Upstream, int, string) {
	q := &queued{p: p, b: b, st: st, c: c}
	srv, tk := b.QueueFor(srv, c.forced, q.wake)
	if srv != nil {
		return p.openOn(st, b, srv, c)
	}
	q.tk = tk
	st.LogQueued(tk.Pos)
	q.timer = p.loop.After(b.QueueTimeout, q.expire)
	return q, 0, ""
}

// wake is the backend giving the request a server, on the goroutine that
// freed it.
func (q *queued) wake(srv *backend.Server) { q.p.loop.Post(func() { q.assigned(srv) }) }

// assigned opens the exchange on srv, as a handler of the client's
// connection; the server goes back if the request is gone.
func (q *queued) assigned(srv *backend.Server) {
	if q.gone {
		srv.Done()
		return
	}
	q.timer.Stop()
	q.st.Handle(func() { q.open(srv) })
}

func (q *queued) open(srv *backend.Server) {
	u, status, why := q.p.openOn(q.st, q.b, srv, q.c)
	if u == nil {
		q.gone = true
		q.p.log.Warn("backend exchange failed", "backend", q.b.Name(), "server", srv.Name(), "err", why)
		q.st.UpstreamFailed(status)
		return
	}
	q.up = u
	if len(q.body) > 0 {
		u.Body(q.body)
		q.body = nil
	}
	if q.ended {
		u.EndBody(q.trailers)
		q.trailers = nil
	}
}

// expire answers 503 to a request still waiting after timeouts.queue.
func (q *queued) expire() {
	if q.up != nil || q.gone || !q.tk.Cancel() {
		return // a server came first: assigned follows
	}
	q.gone = true
	q.st.Handle(q.st.QueueTimedOut)
}

// Queued reports that the request still waits for a server.
func (q *queued) Queued() bool { return q.up == nil && !q.gone }

func (q *queued) Body(p []byte) {
	if q.up != nil {
		q.up.Body(p)
		return
	}
	q.body = append(q.body, p...)
}

func (q *queued) EndBody(trailers []http1.Header) {
	if q.up != nil {
		q.up.EndBody(trailers)
		return
	}
	q.ended = true
	for _, f := range trailers {
		q.trailers = append(q.trailers, http1.Header{Name: bytes.Clone(f.Name), Value: bytes.Clone(f.Value)})
	}
}

func (q *queued) Backlog() int {
	if q.up != nil {
		return q.up.Backlog()
	}
	return len(q.body)
}

func (q *queued) Abandon() {
	if q.up != nil {
		q.up.Abandon()
		return
	}
	if !q.gone {
		q.gone = true
		q.timer.Stop()
		q.tk.Cancel() // if a server came already, assigned gives it back
	}
}

func (q *queued) AbortOnClose() bool {
	return q.up == nil && q.b.AbortOnClose
}

func (q *queued) Resume() {
	if q.up != nil {
		q.up.Resume()
	}
}
