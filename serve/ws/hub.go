package ws

import (
	"sync/atomic"

	"github.com/luaedge/luaedge/proto/ws"
)

// Publishing (core.publish, ws:subscribe): each loop has its own Lua
// state, so connections on different loops share no Lua table; a message
// published on any loop is posted to every loop that has subscribers, and
// written there to each subscribed connection, framed once per loop (once
// per compression window in use), with no Lua run per recipient.
//
// Bounds: a loop takes at most MaxQueued bytes of publishes not yet
// delivered (more are dropped, and core.publish says so); a subscriber
// with more than MaxBacklog bytes unsent when a message comes is closed
// with 1008 rather than buffered for. A connection has at most MaxTopics
// subscriptions.
const (
	MaxQueued  = 64 << 20
	MaxBacklog = 1 << 20
	MaxTopics  = 256
)

// Hub is the publishing of one generation: its loops, by loop ID. It is
// shared by every loop; the topics are each loop's own (Loop.topics).
type Hub struct {
	loops []hubSlot
}

type hubSlot struct {
	loop   atomic.Pointer[Loop] // set once the loop is up
	queued atomic.Int64         // bytes posted to the loop, not delivered yet
}

// NewHub makes the hub of a generation of n loops.
func NewHub(n int) *Hub { return &Hub{loops: make([]hubSlot, n)} }

// Join makes l, the loop of ID id, one the hub delivers to. Call it on
// the loop, once its Env is set, before its first connection.
func (hb *Hub) Join(id int, l *Loop) {
	l.hub, l.hubID = hb, id
	l.topics = map[string]map[*Conn]struct{}{}
	hb.loops[id].loop.Store(l)
}

// Publish queues a message (op: ws.OpText or ws.OpBinary) for the
// subscribers of topic on every loop. msg must not change afterwards: the
// loops read it. It returns false when a loop dropped it (too much queued).
// Safe from any goroutine.
func (hb *Hub) Publish(topic string, msg []byte, op ws.Opcode) bool {
	ok := true
	n := int64(len(topic) + len(msg))
	for i := range hb.loops {
		sl := &hb.loops[i]
		l := sl.loop.Load()
		if l == nil || l.subs.Load() == 0 {
			continue
		}
		if sl.queued.Add(n) > MaxQueued {
			sl.queued.Add(-n)
			ok = false
			continue
		}
		l.Env.Loop.Post(func() {
			sl.queued.Add(-n)
			l.deliver(topic, msg, op)
		})
	}
	return ok
}

// variants is how many framings of one message a loop may need: without
// compression, and compressed with each window size (8 to 15 bits).
const variants = 9

// deliver writes a published message to the loop's subscribers of topic.
func (l *Loop) deliver(topic string, msg []byte, op ws.Opcode) {
	subs := l.topics[topic]
	if len(subs) == 0 {
		return
	}
	var frames [variants][]byte
	now := l.Env.Loop.Now()
	for h := range subs {
		if h.closed || h.closeSent {
			continue
		}
		if h.Backlog() > MaxBacklog {
			h.tooSlow()
			continue
		}
		v := h.variant
		if frames[v] == nil {
			d := ws.Deflate{}
			if v > 0 {
				d = ws.Deflate{On: true, ServerNoContextTakeover: true, ServerMaxWindowBits: uint8(v + 7)}
			}
			l.pubW.Init(ws.Server, d, &l.Flate)
			frames[v] = l.pubW.AppendMessage(l.pubBufs[v][:0], op, msg)
			l.pubBufs[v] = frames[v]
		}
		h.c.Write(frames[v])
		h.lastMsg = now
	}
	for v := range l.pubBufs {
		if cap(l.pubBufs[v]) > bodyKept {
			l.pubBufs[v] = nil
		}
	}
}

// Subscribe adds the connection to topic's subscribers on its loop; false
// when it has MaxTopics already or is closing.
func (h *Conn) Subscribe(topic string) bool {
	if h.closed || h.closeSent || h.l.topics == nil {
		return false
	}
	if _, ok := h.topics[topic]; ok {
		return true
	}
	if len(h.topics) >= MaxTopics {
		return false
	}
	if h.topics == nil {
		h.topics = map[string]struct{}{}
	}
	h.topics[topic] = struct{}{}
	subs := h.l.topics[topic]
	if subs == nil {
		subs = map[*Conn]struct{}{}
		h.l.topics[topic] = subs
	}
	subs[h] = struct{}{}
	h.l.subs.Add(1)
	return true
}

// Unsubscribe removes the connection from topic's subscribers.
func (h *Conn) Unsubscribe(topic string) {
	if _, ok := h.topics[topic]; !ok {
		return
	}
	delete(h.topics, topic)
	subs := h.l.topics[topic]
	delete(subs, h)
	if len(subs) == 0 {
		delete(h.l.topics, topic)
	}
	h.l.subs.Add(-1)
}

func (h *Conn) unsubscribeAll() {
	for t := range h.topics {
		h.Unsubscribe(t)
	}
}

// tooSlow closes a subscriber that does not read what is published: its
// close frame goes behind what it has not read yet, nothing is sent after
// it, and the connection closes when the client answers it or at the
// close timeout. Closing at once would drop the close frame with the
// backlog, and the client would not learn why.
func (h *Conn) tooSlow() {
	h.l.Env.Log.Debug("WebSocket subscriber too slow; closing", "remote", h.c.RemoteAddr())
	h.busy = true
	h.closeWith(ws.ClosePolicyViolation, "too slow")
	h.flush()
	h.busy = false
	h.afterWork()
}
