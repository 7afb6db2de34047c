package ws

import "github.com/luaedge/luaedge/proto/ws"

// Tunnel is a forwarded WebSocket tunnelled without ws_filters: the
// frames pass untouched both ways, but it follows where each ends
// (proto/ws.Cursor), so that when the server stops or reloads it can
// close the WebSocket properly: a close frame (1001, "going away") to the
// server as if from the client, and to the client as if from the server,
// each between two frames of the other side's. From then on what either
// side sends that way is dropped, but for the close frame that answers
// ours; once both answered, Drained is called. The client's protocol
// (serve/http1, or serve/http2 for an extended CONNECT) bounds all this
// with shutdown_timeout. (With ws_filters, Relay does the same from its
// parsed frames.)
//
// A Tunnel belongs to the client connection, on its loop.
type Tunnel struct {
	// ToServer and ToClient send bytes on; Drained is called, as a task
	// of its own, once both sides answered the drain's close frames.
	ToServer, ToClient func([]byte)
	Drained            func()
	Post               func(func())

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

// drainReason is the reason of the drain's close frames.
const drainReason = "server shutting down"

// FromClient passes what the client sent on to the server.
func (t *Tunnel) FromClient(p []byte) {
	if !t.draining || t.closing {
		if t.toServer.Skip(p) > 0 {
			t.closing = true
		}
		t.ToServer(p)
		return
	}
	if !t.sentServer {
		n := t.toServer.Finish(p)
		if n > 0 {
			t.ToServer(p[:n])
		}
		p = p[n:]
		if !t.toServer.AtBoundary() {
			return
		}
		t.closeToServer()
	}
	if t.toServer.Skip(p) > 0 {
		t.clientAnswered = true
		t.answered()
	}
}

// FromServer passes what the server sent on to the client.
func (t *Tunnel) FromServer(p []byte) {
	if !t.draining || t.closing {
		if t.toClient.Skip(p) > 0 {
			t.closing = true
		}
		t.ToClient(p)
		return
	}
	if !t.sentClient {
		n := t.toClient.Finish(p)
		if n > 0 {
			t.ToClient(p[:n])
		}
		p = p[n:]
		if !t.toClient.AtBoundary() {
			return
		}
		t.closeToClient()
	}
	if t.toClient.Skip(p) > 0 {
		t.serverAnswered = true
		t.answered()
	}
}

// Drain closes the WebSocket at a stop or reload: each side gets our
// close frame now if no frame of the other's is cut, else once it ends.
func (t *Tunnel) Drain() {
	if t.draining {
		return
	}
	t.draining = true
	if t.closing {
		return
	}
	if t.toServer.AtBoundary() {
		t.closeToServer()
	}
	if t.toClient.AtBoundary() {
		t.closeToClient()
	}
}

// closeToServer sends our close frame to the server, masked as a
// client's must be.
func (t *Tunnel) closeToServer() {
	var w ws.Writer
	w.Init(ws.Client, ws.Deflate{}, nil)
	t.ToServer(w.AppendClose(nil, ws.CloseGoingAway, drainReason))
	t.sentServer = true
}

// closeToClient sends our close frame to the client.
func (t *Tunnel) closeToClient() {
	var w ws.Writer
	w.Init(ws.Server, ws.Deflate{}, nil)
	t.ToClient(w.AppendClose(nil, ws.CloseGoingAway, drainReason))
	t.sentClient = true
}

// answered ends the tunnel once both sides answered our close frames:
// the server would close its end, but need not hurry; the end runs as a
// task of its own, not under the relaying of what a side sent.
func (t *Tunnel) answered() {
	if t.clientAnswered && t.serverAnswered {
		t.Post(t.Drained)
	}
}
