package http1

// A forwarded WebSocket's tunnel passes the frames untouched, following
// where each ends (serve/ws.Tunnel), so that at a stop or reload it is
// closed properly with 1001 both ways; with ws_filters, serve/ws.Relay
// does the same from its parsed frames.

// DrainWebSocket closes a forwarded WebSocket at a stop or reload: each
// side gets our close frame now if no frame of the other's is cut, else
// once it ends. Other connections are left as they are.
func (h *Conn) DrainWebSocket() {
	if h.rq == nil || !h.rq.tunnel || h.closed || h.closing {
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
	if h.rq.relay != nil {
		h.rq.relay.Drain()
		return
	}
	h.rq.wst.Drain()
}

// endTunnel closes both sides of a tunnel once both answered the drain.
func (h *Conn) endTunnel() {
	if h.closed {
		return
	}
	h.busy = true
	h.rq.st.Close()
	h.closeNow()
	h.busy = false
	h.afterWork()
}
