package edge

import (
	"unsafe"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/proto/ws"
)

// The Go half of WebSocket:subscribe, unsubscribe and core.publish
// (lj/lua/websocket.lua); the delivery is serve/ws's Hub.

func init() {
	lj.RegisterGoFunc("ws_subscribe", goWSSubscribe)
	lj.RegisterGoFunc("ws_publish", goWSPublish)
}

// ws_subscribe(conn_id, topic, on) -> ok: subscribes (on true) or
// unsubscribes the WebSocket connection conn_id of the caller's loop.
func goWSSubscribe(c *cgo.Call) int {
	ls, ok := lj.Host(c).(*loopState)
	if !ok {
		return c.Error("WebSocket:subscribe: no server")
	}
	h := ls.ws.Conn(c.Int(1))
	if h == nil {
		c.PushBool(false)
		return 1
	}
	if !c.Bool(3) {
		h.Unsubscribe(c.String(2))
		c.PushBool(true)
		return 1
	}
	c.PushBool(h.Subscribe(c.String(2)))
	return 1
}

// ws_publish(topic, data, binary) -> queued: core.publish.
func goWSPublish(c *cgo.Call) int {
	s := serverOf(c)
	if s == nil {
		return c.Error("core.publish: no server")
	}
	op := ws.OpText
	if c.Bool(3) {
		op = ws.OpBinary
	}
	// The string is the message's one copy out of Lua: the loops only read it.
	msg := c.String(2)
	c.PushBool(s.hub.Publish(c.String(1), unsafe.Slice(unsafe.StringData(msg), len(msg)), op))
	return 1
}
