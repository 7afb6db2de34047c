package proxy

import (
	"net/netip"
	"strconv"
	"syscall"

	"github.com/luaedge/luaedge/proto/socks"
)

// Tunnels of the scripts' HTTP client: the SOCKS5 negotiation with a
// proxy (lua-http's http.socks, as request.lua uses it), and the
// connection a script's own CONNECT opened, handed to it as a socket.

// socksStep is the answer of the SOCKS5 proxy a connection awaits.
type socksStep int

const (
	socksMethod socksStep = iota + 1 // the method it chose
	socksAuth                        // its verdict on the username and password
	socksReply                       // its reply to the CONNECT
)

// socksAnswer reads the SOCKS5 proxy's answers and sends what follows
// each; the tunnel opened, the connection to the server goes on in it.
// The errors are lua-http's (http.socks).
func (cc *clientConn) socksAnswer() {
	p := cc.tunnel
	for !cc.closed && cc.socksWait != 0 {
		b := p.Peek()
		var n int
		var err error
		switch cc.socksWait {
		case socksMethod:
			var method byte
			if n, method, err = socks.ParseMethod(b); n == 0 || err != nil {
				break
			}
			switch {
			case method == socks.MethodNone:
				cc.socksConnect()
			case method == socks.MethodPassword && (cc.key.proxyUser != "" || cc.key.proxyPass != ""):
				var auth []byte
				auth, err = socks.AppendPasswordAuth(cc.cl.head[:0], cc.key.proxyUser, cc.key.proxyPass)
				if err == nil {
					p.Write(auth)
					cc.socksWait = socksAuth
				}
			default:
				cc.failAll(&clientError{errno: syscall.EILSEQ, msg: "socks:negotiate: unknown authentication method"})
				return
			}
		case socksAuth:
			var ok bool
			if n, ok, err = socks.ParseAuthReply(b); n == 0 || err != nil {
				break
			}
			if !ok {
				cc.failAll(&clientError{errno: syscall.EACCES, msg: "username_password_auth: Permission denied"})
				return
			}
			cc.socksConnect()
		case socksReply:
			var code byte
			if n, code, err = socks.ParseReply(b); n == 0 || err != nil {
				break
			}
			if code != socks.Succeeded {
				cc.failAll(&clientError{errno: socksErrno(code),
					msg: "socks:negotiate: remote error " + strconv.Itoa(int(code)) + ": " + socks.ReplyText(code)})
				return
			}
			cc.socksWait, cc.tunnel = 0, nil
			p.Discard(n)
			cc.secure(p)
			return
		}
		if err != nil {
			cc.failAll(&clientError{errno: syscall.EILSEQ, msg: "socks:negotiate: " + err.Error()})
			return
		}
		if n == 0 {
			return
		}
		p.Discard(n)
	}
}

// socksConnect asks the SOCKS5 proxy for the tunnel to the server: by
// the address looked up here ("socks5"), or by name for the proxy to
// look up ("socks5h"; an address is sent as one).
func (cc *clientConn) socksConnect() {
	port := uint16(cc.key.port)
	b := cc.cl.head[:0]
	if a, err := netip.ParseAddr(cc.key.host); err == nil {
		b = socks.AppendConnectAddr(b, a, port)
	} else if cc.key.proxyScheme == "socks5" {
		b = socks.AppendConnectAddr(b, cc.target, port)
	} else if b, err = socks.AppendConnectName(b, cc.key.host, port); err != nil {
		cc.failAll(&clientError{errno: syscall.EINVAL, msg: "socks:negotiate: host name " + err.Error()})
		return
	}
	cc.tunnel.Write(b)
	cc.socksWait = socksReply
}

// socksErrno is the errno lua-http gives a SOCKS5 reply code; for a
// general failure, where it gives none, ECONNREFUSED, as for an HTTP
// proxy that refuses.
func socksErrno(code byte) syscall.Errno {
	switch code {
	case socks.GeneralFailure, socks.ConnectionRefused:
		return syscall.ECONNREFUSED
	case socks.NotAllowed:
		return syscall.EACCES
	case socks.NetworkUnreachable:
		return syscall.ENETUNREACH
	case socks.HostUnreachable:
		return syscall.EHOSTUNREACH
	case socks.TTLExpired:
		return syscall.ETIMEDOUT
	case socks.CommandNotSupported:
		return syscall.EOPNOTSUPP
	case socks.AddressTypeUnsupported:
		return syscall.EAFNOSUPPORT
	}
	return syscall.EPROTO
}

// handOver makes the tunnel that a 2xx answer to the script's CONNECT
// opened a socket of the script's (core.tcp()'s methods), with the
// exchange's id: the exchange ends with the head, the bytes after the
// head are the socket's first, and the client forgets the connection.
// The socket is closed with its request or task, by the script, or when
// its stream is let go before the script took it.
func (cc *clientConn) handOver(ex *exchange) {
	cc.ex = nil
	k := &luaSocket{l: cc.cl.sockets, id: ex.id, owner: ex.owner, c: cc.c}
	cc.cl.sockets.sockets[k.id] = k
	cc.sock = k
	r := &cc.resp
	ex.gotHead(r.Status, "1.1", r.Reason, len(r.Headers), func(i int) ([]byte, []byte) { return r.Headers[i].Name, r.Headers[i].Value })
	ex.end(0, nil)
	k.traffic()
}
