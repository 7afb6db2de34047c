package http1

import (
	"bytes"
	"encoding/base64"

	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/http2"
)

// H2CUpgrade is a request that asked to go on in HTTP/2 (Upgrade: h2c,
// RFC 7540 §3.2) and was answered 101: the connection is to be handed to
// HTTP/2 with Settings, the decoded HTTP2-Settings, and Request as its
// stream 1. It owns its bytes (copied from the loop's scratch request).
type H2CUpgrade struct {
	Settings []byte
	Request  http2.Event
}

// switchingToH2C is the answer to an upgrade that is taken.
const switchingToH2C = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"

// h2cUpgrade returns the upgrade the parsed request asks for, or nil when
// it asks for none or one that is ignored (RFC 9110 §7.8 lets a server
// ignore Upgrade): on a frontend without h2c, with a request body (the
// request would have to be read whole first), or with an HTTP2-Settings
// field missing, repeated or invalid.
func (h *Conn) h2cUpgrade() *H2CUpgrade {
	r := &h.l.req
	if !h.fe.UpgradeH2C || r.Upgrade == nil || !r.UpgradeTo("h2c") || r.HasBody() {
		return nil
	}
	var settings []byte
	n := 0
	for _, f := range r.Headers {
		if http1.EqualFold(f.Name, "http2-settings") {
			settings = f.Value
			n++
		}
	}
	if n != 1 {
		return nil
	}
	// base64url, padding optional (RFC 7540 §3.2.1 says without it).
	raw, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(settings, "=")))
	if err != nil || !http2.ValidSettings(raw) {
		return nil
	}
	up := &H2CUpgrade{Settings: raw, Request: http2.Event{
		Kind:          http2.EventRequest,
		Stream:        1,
		Method:        string(r.Method),
		Scheme:        "http",
		Authority:     string(r.Host),
		Path:          string(r.Target),
		ContentLength: r.ContentLength,
		End:           true,
	}}
	for _, f := range r.Headers {
		if connectionSpecific(f.Name) {
			continue
		}
		up.Request.Fields = append(up.Request.Fields, http2.Field{Name: string(bytes.ToLower(f.Name)), Value: string(f.Value)})
	}
	return up
}

// connectionSpecific reports the fields of HTTP/1 that HTTP/2 does not
// carry (RFC 9113 §8.2.2); host becomes :authority.
func connectionSpecific(name []byte) bool {
	for _, n := range [...]string{"connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection", "transfer-encoding", "te", "host"} {
		if http1.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// H2C returns the upgrade to HTTP/2 this connection answered 101 to, or
// nil: the caller hands the connection over (Handoff) and starts HTTP/2
// with it.
func (h *Conn) H2C() *H2CUpgrade {
	if h.rq == nil {
		return nil
	}
	return h.rq.h2c
}
