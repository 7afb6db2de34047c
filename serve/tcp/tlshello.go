package tcp

import (
	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/proto/tlshello"
)

// The req.ssl_* fetches of the tcp-request rules (lj/lua/fetches.lua)
// read a TCP client's first bytes with proto/tlshello.
func init() {
	lj.RegisterGoFunc("tls_hello", goTLSHello)
}

// The fetches goTLSHello reads, by the number fetches.lua passes.
const (
	helloType = iota + 1
	helloVersion
	helloSNI
	helloALPN
	helloECExt
	helloTicket
)

// goTLSHello(what, bytes) -> status, value...: the req.ssl_* fetch what
// over the first bytes of a TCP client (at most tlshello.BufSize of
// them). status is a tlshello.Status; with OK the value follows (every
// ALPN name, in order). Called by the tcp-request rules that inspect
// those bytes, a few times a connection.
func goTLSHello(c *cgo.Call) int {
	b := []byte(c.String(2))
	var st tlshello.Status
	switch c.Int(1) {
	case helloType:
		var v int
		v, st = tlshello.HelloType(b)
		c.PushNumber(float64(st))
		c.PushNumber(float64(v))
	case helloVersion:
		var v int
		v, st = tlshello.Version(b)
		c.PushNumber(float64(st))
		c.PushNumber(float64(v))
	case helloSNI:
		var v string
		v, st = tlshello.SNI(b)
		c.PushNumber(float64(st))
		c.PushString(v)
	case helloALPN:
		var names []string
		names, st = tlshello.ALPN(b)
		c.PushNumber(float64(st))
		for _, name := range names {
			c.PushString(name)
		}
		return 1 + len(names)
	case helloECExt:
		st = tlshello.ECExt(b)
		c.PushNumber(float64(st))
		c.PushBool(st == tlshello.OK)
	case helloTicket:
		var v int
		v, st = tlshello.SessionTicket(b)
		c.PushNumber(float64(st))
		c.PushNumber(float64(v))
	default:
		return c.Error("tls_hello: unknown fetch")
	}
	return 2
}
