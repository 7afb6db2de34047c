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

// maxKeptRequest bounds the request kept for the retries after a
// connection opened: HAProxy 2.6 retries only a request that fits in
// one buffer (tune.bufsize 16384 less tune.maxrewrite 1024).
const maxKeptRequest = 16384 - 1024

// answerRetried reports whether the exchange goes again after its
// server's answer failed in a way the backend's retry-on names: the
// request was kept whole and a retry is left.
func (u *Upstream) answerRetried(named bool) bool {
	return named && u.st != nil && u.kept != nil && !u.keeping && u.tries < u.be.Retries
}

// retry tries u's exchange again on a new connection after its
// connection failed with err (the tries-th failure): to the same server,
// after min(1 s, timeouts.connect) when it failed at once, or to another
// when redispatched. The new Upstream takes the request: its head (made
// again for another server: its cookie, its name header), then the body
// that was waiting to leave. It runs as a handler of the client's
// connection.
func (u *Upstream) retry(err error) {
	if u.closed || u.st == nil {
		return
	}
	u.p.log.Info("cannot connect to server; retrying", "backend", u.be.Name(), "server", u.srv.Name(), "retry", u.tries+1, "err", err)
	u.resend(u.pending, false, errors.Is(err, errConnectTimeout))
}

// retryAnswer sends u's exchange again, at once, on a new connection
// after the server's answer failed with err as the backend's retry-on
// names it (answerRetried said so): the kept request goes, to the same
// server or, redispatched, to another; the answer is dropped. It runs
// as a handler of the client's connection.
func (u *Upstream) retryAnswer(err error) {
	if u.closed || u.st == nil {
		return
	}
	u.p.log.Info("server's answer failed; retrying", "backend", u.be.Name(), "server", u.srv.Name(), "retry", u.tries+1, "err", err)
	u.resend(u.kept, true, false)
}

// resend makes a new Upstream for u's exchange, which sends req (the
// request head of u.headLen bytes, then body bytes) to u's server or,
// redispatched, to another. opened: u's connection had opened (a
// retry-on retry, sent at once); timedOut: it ran out of
// timeouts.connect (no turn-around wait).
func (u *Upstream) resend(req []byte, opened, timedOut bool) {
	st, p, b := u.st, u.p, u.be
	tries := u.tries + 1
	kept := u.kept
	if u.keeping {
		kept = nil // not whole: the body still streams to the new Upstream
	}
	srv := u.srv
	redispatch := redispatches(b, srv, u.choice, tries)
	if redispatch {
		if o := b.PickAvoiding(u.choice.key, srv); o != nil {
			srv = o
		}
	}
	if opened {
		u.srv.ReportAnswerRetry(srv != u.srv)
	} else {
		u.srv.ReportConnectRetry(srv != u.srv)
	}
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
		nu.pending = append(nu.pending, req...)
		nu.kept = kept
	} else {
		s := st.S()
		var key []byte
		if u.h2ws {
			key = u.key[:]
		}
		nu.persist = persistenceOf(s, b, srv, p.loop.Now().Unix())
		head := p.requestHead(s, nu.reqChunked, nu.upgrade, nu.upgrade && st.Frontend().WSFilters, key, &nu.persist, serverName{b.NameHeader, srv.Name()})
		nu.headLen = len(head)
		nu.pending = append(append(nu.pending, head...), req[u.headLen:]...)
		if kept != nil {
			nu.kept = append(append([]byte(nil), head...), kept[u.headLen:]...)
		}
		u.freeSlot() // the new server's was taken by PickAvoiding
		st.LogRedispatched(srv)
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
	// HAProxy waits only for a connection that failed at once, and when
	// the retry is on the same server: not when a round robin over
	// several servers redispatched it.
	if !opened && !timedOut && (!redispatch || !b.RoundRobin() || b.ActiveUp() <= 1) {
		nu.timer = p.loop.After(min(maxTurnAround, b.ConnectTimeout), start)
		return
	}
	start()
}
