package edge

import (
	"context"
	"iter"
	"net"
	"slices"
	"time"

	servetcp "github.com/luaedge/luaedge/serve/tcp"
	"github.com/luaedge/luaedge/transport"
)

// The client connections of a loop, for the runtime socket's "show
// sess": each is linked into its loop's list as it is accepted and out
// of it as it closes. The links cost an HTTP connection 16 bytes and no
// allocation (a map of them would cost about 140 bytes each); the lists
// are the loop's, used on its goroutine only.

// Session is a client connection as show sess lists it.
type Session struct {
	ID       int64 // the connection's id, unique in the process
	Loop     int   // 1-based
	Frontend string
	Mode     string // "tcp", "http/1.1", "h2", "websocket"
	Source   net.Addr
	Age      time.Duration
}

// tcpConn is a TCP frontend's connection handler, linked into its loop's
// list.
type tcpConn struct {
	*servetcp.Conn
	ls         *loopState
	f          *frontend
	c          transport.Conn
	id         int64
	accepted   uint32 // seconds since the loop started
	closed     bool
	prev, next *tcpConn
}

// OnPeerEOF lets the session of a client that ended its side go on
// (eventloop.HalfCloser).
func (t *tcpConn) OnPeerEOF() bool {
	return t.Conn.OnPeerEOF(t.OnTraffic, t.OnClose)
}

func (t *tcpConn) OnClose(err error) {
	t.closed = true
	t.ls.dropTCP(t)
	t.Conn.OnClose(err)
}

// sinceStart is now in seconds since the loop started.
func (ls *loopState) sinceStart() uint32 {
	return uint32(ls.loop.Now().Sub(ls.started) / time.Second)
}

func (ls *loopState) addHTTP(w *httpConn) {
	w.next = ls.httpConns
	if w.next != nil {
		w.next.prev = w
	}
	ls.httpConns = w
}

func (ls *loopState) dropHTTP(w *httpConn) {
	if w.prev != nil {
		w.prev.next = w.next
	} else if ls.httpConns == w {
		ls.httpConns = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}

func (ls *loopState) addTCP(t *tcpConn) {
	t.next = ls.tcpConns
	if t.next != nil {
		t.next.prev = t
	}
	ls.tcpConns = t
}

func (ls *loopState) dropTCP(t *tcpConn) {
	if t.prev != nil {
		t.prev.next = t.next
	} else if ls.tcpConns == t {
		ls.tcpConns = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

// httpList walks the loop's HTTP connections. The body may close the
// connection it is given, which takes it out of the list (the walk has
// its successor already), not another one.
func (ls *loopState) httpList() iter.Seq[*httpConn] {
	return func(yield func(*httpConn) bool) {
		for w := ls.httpConns; w != nil; {
			next := w.next
			if !yield(w) {
				return
			}
			w = next
		}
	}
}

// tcpList is httpList for the TCP connections.
func (ls *loopState) tcpList() iter.Seq[*tcpConn] {
	return func(yield func(*tcpConn) bool) {
		for t := ls.tcpConns; t != nil; {
			next := t.next
			if !yield(t) {
				return
			}
			t = next
		}
	}
}

// sessions lists the loop's client connections; on its goroutine.
func (ls *loopState) sessions() []Session {
	now := uint32(time.Since(ls.started) / time.Second)
	var out []Session
	add := func(id int64, f *frontend, c transport.Conn, accepted uint32, mode string) {
		out = append(out, Session{ID: id, Loop: ls.loop.ID + 1, Frontend: f.cfg.Name, Mode: mode, Source: c.RemoteAddr(),
			Age: time.Duration(now-min(accepted, now)) * time.Second})
	}
	for w := ls.httpConns; w != nil; w = w.next {
		mode := "http/1.1"
		switch {
		case w.ws() != nil:
			mode = "websocket"
		case w.h2 != nil:
			mode = "h2"
		}
		add(w.id(), w.f, w.c(), w.accepted, mode)
	}
	for t := ls.tcpConns; t != nil; t = t.next {
		add(t.id, t.f, t.c, t.accepted, "tcp")
	}
	return out
}

// Sessions lists the client connections of every loop (each loop lists
// its own, between two of its events), oldest first. A loop that has not
// answered when ctx ends is left out.
func (s *Server) Sessions(ctx context.Context) []Session {
	loops := s.loopStates()
	lists := make(chan []Session, len(loops))
	for _, ls := range loops {
		ls.loop.Post(func() { lists <- ls.sessions() })
	}
	var all []Session
wait:
	for range loops {
		select {
		case l := <-lists:
			all = append(all, l...)
		case <-ctx.Done():
			break wait
		}
	}
	slices.SortFunc(all, func(a, b Session) int {
		if a.Age != b.Age {
			return int(b.Age - a.Age)
		}
		return int(a.ID - b.ID)
	})
	return all
}
