package proxy

import (
	"errors"
	"time"

	"github.com/luaedge/luaedge/backend"
)

// choice is how a request's server was chosen, which its connection
// retries need: the balancing key, and whether persistence (a cookie, a
// stick or use-server rule: HAProxy's direct) or a forced persistence
// (force-persist, option persist) named the server.
type choice struct {
	key            []byte
	direct, forced bool
}

// maxTurnAround bounds the wait before a connection goes again to a
// server that failed at once (refused, reset): HAProxy waits
// min(1 s, timeout connect) so as not to hammer it.
const maxTurnAround = time.Second

// redispatches reports whether the retry after the tries-th failed
// attempt on srv goes to another server, as HAProxy 2.6 decides it
// (stream_choose_redispatch): only with option redispatch and no forced
// persistence, when srv is down or in maintenance, on the retries the
// interval names, or at every retry of a request no persistence chose
// in a round-robin backend with more than one server up.
func redispatches(b *Backend, srv *backend.Server, c choice, tries int) bool {
	if b.Redispatch == 0 || c.forced {
		return false
	}
	if !srv.Persistent() {
		return true
	}
	// 2.6 counts the retries done before this one: 0 at the first, which
	// every interval names.
	done := tries - 1
	if every := b.Redispatch; every > 0 && done%every == 0 {
		return true
	}
	if d := b.Retries + 1 + b.Redispatch; b.Redispatch < 0 && d > 0 && done%d == 0 {
		return true
	}
	return !c.direct && b.RoundRobin() && b.ActiveUp() > 1
}

// retry tries u's exchange again on a new connection after its
// connection failed with err (the tries-th failure): to the same server,
// after min(1 s, timeouts.connect) when it failed at once, or to another
// when redispatched. The new Upstream takes the request: its head (made
// again for another server: its cookie, its name header), then the body
// that was waiting to leave. It runs as a handler of the client's
// connection.
func (u *Upstream) retry(err error) {
	st := u.st
	if u.closed || st == nil {
		return
	}
	p, b := u.p, u.be
	tries := u.tries + 1
	timedOut := errors.Is(err, errConnectTimeout)
	p.log.Info("cannot connect to server; retrying", "backend", b.Name(), "server", u.srv.Name(), "retry", tries, "err", err)
	srv := u.srv
	redispatch := redispatches(b, srv, u.choice, tries)
	if redispatch {
		if o := b.PickAvoiding(u.choice.key, srv); o != nil {
			srv = o
		}
	}
	u.srv.ReportConnectRetry(srv != u.srv)
	target, fixed, terr := dialTarget(st, srv)
	addr, aerr := dialAddrOf(target)
	if terr != nil || aerr != nil {
		if srv != u.srv {
			srv.Done()
		}
		u.tries = b.Retries // no other attempt: the exchange fails
		u.connectFailed(errors.Join(terr, aerr))
		return
	}

	nu := &Upstream{p: p, be: b, serverConn: serverConn{srv: srv, private: !fixed}}
	nu.receiveFn = nu.receive
	nu.st, nu.slot = st, true
	nu.reqChunked, nu.upgrade, nu.h2ws, nu.key = u.reqChunked, u.upgrade, u.h2ws, u.key
	nu.method = append(nu.method, u.method...)
	nu.timeout, nu.tunnelTimeout = u.timeout, u.tunnelTimeout
	nu.choice, nu.tries = u.choice, tries
	nu.sendProxy(st)
	if srv == u.srv {
		nu.persist, nu.headLen = u.persist, u.headLen
		nu.pending = append(nu.pending, u.pending...)
	} else {
		s := st.S()
		var key []byte
		if u.h2ws {
			key = u.key[:]
		}
		nu.persist = persistenceOf(s, b, srv, p.loop.Now().Unix())
		head := p.requestHead(s, nu.reqChunked, nu.upgrade, nu.upgrade && st.Frontend().WSFilters, key, &nu.persist, serverName{b.NameHeader, srv.Name()})
		nu.headLen = len(head)
		nu.pending = append(append(nu.pending, head...), u.pending[u.headLen:]...)
		u.freeSlot() // the new server's was taken by PickAvoiding
		st.LogRedispatched(srv.Name())
	}
	u.slot = false
	u.st = nil
	u.close()
	st.UpstreamRetried(nu)

	start := func() {
		if nu.closed {
			return
		}
		if err := nu.dial(addr); err != nil {
			nu.connectFailed(err)
			return
		}
		nu.deadline = p.loop.Now().Add(nu.timeout)
		p.ups[nu] = struct{}{}
	}
	// HAProxy waits only for a failure at once, and when the retry is
	// on the same server: not when a round robin over several servers
	// redispatched it.
	if !timedOut && (!redispatch || !b.RoundRobin() || b.ActiveUp() <= 1) {
		nu.timer = p.loop.After(min(maxTurnAround, b.ConnectTimeout), start)
		return
	}
	start()
}
