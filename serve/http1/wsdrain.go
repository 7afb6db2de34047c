package http1

import "github.com/luaedge/luaedge/proto/ws"

// A forwarded WebSocket's tunnel passes the frames untouched, but follows
// where each ends (proto/ws.Cursor), so that when the server stops or
// reloads it can close the WebSocket properly: a close frame (1001,
// "going away") to the server as if from the client, and to the client as
// if from the server, each between two frames of the other side's. From
// then on what either side sends that way is dropped, but for the close
// frame that answers ours; once both answered, the tunnel ends. All this
// within shutdown_timeout, after which the connection is closed anyway.
// (With ws_filters, serve/ws.Relay does the same from its parsed frames.)

// wsTunnel is the frame following of one tunnel; made with the tunnel,
// used on the connection's loop.
type wsTunnel struct {
	toServer, toClient ws.Cursor
	// closing: a close frame went by before the drain. The peers' own
	// closing handshake is under way: the drain adds nothing.
	closing  bool
	draining bool
	// Our close frame went to the server, to the client.
	sentServer, sentClient bool
	// The client's close frame, the server's, came after ours.
	clientAnswered, serverAnswered bool
}

// drainReason is the reason of our close frames.
const drainReason = "server shutting down"

// tunnelToServer passes what the client sent on to the server.
func (h *Conn) tunnelToServer(p []byte) {
	t := h.wst
	if !t.draining || t.closing {
		if t.toServer.Skip(p) > 0 {
			t.closing = true
		}
		h.st.Body(p)
		return
	}
	if !t.sentServer {
		n := t.toServer.Finish(p)
		if n > 0 {
			h.st.Body(p[:n])
		}
		p = p[n:]
		if !t.toServer.AtBoundary() {
			return
		}
		h.closeToServer()
	}
	if t.toServer.Skip(p) > 0 {
		t.clientAnswered = true
		h.drained()
	}
}

// tunnelToClient passes what the server sent on to the client; it
// reports false when it took p itself (the drain).
func (h *Conn) tunnelToClient(p []byte) bool {
	t := h.wst
	if !t.draining || t.closing {
		if t.toClient.Skip(p) > 0 {
			t.closing = true
		}
		return true
	}
	if !t.sentClient {
		n := t.toClient.Finish(p)
		h.out = append(h.outBuf(), p[:n]...)
		p = p[n:]
		if !t.toClient.AtBoundary() {
			return false
		}
		h.closeToClient()
	}
	if t.toClient.Skip(p) > 0 {
		t.serverAnswered = true
		h.drained()
	}
	return false
}

// DrainWebSocket closes a forwarded WebSocket at a stop or reload: each
// side gets our close frame now if no frame of the other's is cut, else
// once it ends. Other connections are left as they are.
func (h *Conn) DrainWebSocket() {
	if !h.tunnel || h.closed || h.closing {
		return
	}
	if h.busy {
		h.drainTunnel()
		return
	}
	h.busy = true
	h.drainTunnel()
	h.flush()
	h.busy = false
	h.afterWork()
}

// drainTunnel starts the drain, inside a handler of the connection.
func (h *Conn) drainTunnel() {
	if h.relay != nil {
		h.relay.Drain()
		return
	}
	t := h.wst
	if t.draining {
		return
	}
	t.draining = true
	if t.closing {
		return
	}
	if t.toServer.AtBoundary() {
		h.closeToServer()
	}
	if t.toClient.AtBoundary() {
		h.closeToClient()
	}
}

// closeToServer sends our close frame to the server, masked as a
// client's must be.
func (h *Conn) closeToServer() {
	var w ws.Writer
	w.Init(ws.Client, ws.Deflate{}, nil)
	h.st.Body(w.AppendClose(nil, ws.CloseGoingAway, drainReason))
	h.wst.sentServer = true
}

// closeToClient sends our close frame to the client.
func (h *Conn) closeToClient() {
	var w ws.Writer
	w.Init(ws.Server, ws.Deflate{}, nil)
	h.out = w.AppendClose(h.outBuf(), ws.CloseGoingAway, drainReason)
	h.wst.sentClient = true
}

// drained ends the tunnel once both sides answered our close frames: the
// server would close its end, but need not hurry; the end runs as a
// handler of its own, not under the upstream's relaying.
func (h *Conn) drained() {
	if t := h.wst; t.clientAnswered && t.serverAnswered {
		h.l.Env.Loop.Post(h.endTunnel)
	}
}

// endTunnel closes both sides of a tunnel.
func (h *Conn) endTunnel() {
	if h.closed {
		return
	}
	h.busy = true
	h.st.Close()
	h.closeNow()
	h.busy = false
	h.afterWork()
}
