package ws

import (
	"errors"
	"strings"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/ws"
)

// Offer returns the client's handshake as the request fields of stream s
// carry it, and the script's choices for the answer: permessage-deflate,
// asked for with 1 in ws_op (and allowed by f), and the subprotocols it
// listed in io (comma-separated). serve/http1 checks them with
// ws.Offer.Accept, serve/http2 with AcceptConnect; then Refusal.
func (f *Frontend) Offer(s *cgo.Stream) (ws.Offer, ws.Options) {
	var o ws.Offer
	for i, n := 0, s.NumFields(); i < n; i++ {
		o.AddField(s.Field(i))
	}
	opt := ws.Options{Deflate: f.Deflate && s.WSOp() == 1}
	if list := string(s.IO()); list != "" {
		opt.Protocols = strings.Split(list, ",")
	}
	return o, opt
}

// Refusal returns the status and reason to refuse an upgrade with, or 0
// to go on: err is what checking the offer returned (the status of a
// ws.HandshakeError, else 400); then a draining server (503); then f's
// bound on WebSocket connections (503). Going on, the connection has
// taken its place under the bound (Admit).
func (f *Frontend) Refusal(err error, draining bool) (status int, why string) {
	switch {
	case err != nil:
		status = 400
		var he *ws.HandshakeError
		if errors.As(err, &he) {
			status = he.Status
		}
		return status, err.Error()
	case draining:
		return 503, "the server is shutting down"
	case !f.Admit():
		return 503, "the frontend has its maximum of WebSocket connections"
	}
	return 0, ""
}
