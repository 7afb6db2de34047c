package proxy

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/proto/http1"
	"github.com/luaedge/luaedge/proto/ws"
	"github.com/luaedge/luaedge/transport"
)

// The Go half of http.websocket's client (lj/lua/websocket_client.lua):
// WebSocket connections a script opens with new_from_uri and connect. As
// core.tcp() sockets, they live on the loop of the coroutine that opened
// them and belong to it (closed when it ends); each call parks the
// coroutine (OpSocket, with the LE_SOCK_WS_* operations) and the loop
// resumes it once done. Frames are read with proto/ws's Reader in the
// client role and written with its Writer, masked; permessage-deflate,
// when the server agrees to it, with the loop's Flate, which the loop's
// served WebSockets share.
//
// Data frames are parsed only while a receive waits, straight into the
// waiting stream's io buffer (the message's only copy before Lua's
// string); what arrives meanwhile stays in the connection's input, and
// reading pauses past inboundHigh. Control frames are answered as they
// arrive unless a data frame waits before them, so that a script that
// only sends still answers pings.

// Bounds of a client connection: the inbound bytes past which reading
// pauses while no receive waits, the backlog past which a send waits
// until it is under wsBacklogLow, and the buffers kept between messages.
const (
	inboundHigh   = 256 << 10
	wsBacklogHigh = 1 << 20
	wsBacklogLow  = 256 << 10
	wsBufKept     = 64 << 10
)

// wsClient is one WebSocket client connection of the loop. Used from the
// loop's goroutine only.
type wsClient struct {
	l     *Sockets
	id    int
	owner *cgo.Stream    // the request or task that opened it; closed with it
	c     transport.Conn // nil until connected (and its TLS handshake over), and once closed
	tls   *tls.Config    // wss: what the TLS is made with; nil: clear text
	tc    *transport.TLS // wss: the TLS over the connection, from its open

	// The opening handshake: the key and the subprotocols offered, the
	// request (until written).
	key       [ws.KeyLen]byte
	protocols string
	deflate   bool // permessage-deflate offered
	req       []byte
	open      bool // the server's 101 checked: frames from now on
	// limits bound what the server sends (the script's max_message, or
	// ws's defaults): a frame, and a message once inflated.
	limits ws.Limits

	r ws.Reader
	w ws.Writer
	// out assembles the frames of one call before they are written; kept
	// while it is small.
	out []byte
	// partial holds a message's first frames when the receive they went
	// to timed out: the next receive starts with them.
	partial []byte
	// dropped assembles the messages that arrive while close waits for
	// the server's close frame.
	dropped []byte

	wait      *sockWait
	paused    bool // reading paused: no receive waits and inboundHigh are buffered
	closeSent bool // our close frame is written: nothing more is sent
	closeRecv bool // the server's close frame arrived: nothing more is read
	failed    bool // the server broke the protocol: nothing more is read
	closing   bool // close waits for the server's close frame
	shut      bool // the TCP connection is ending (shutdown)
	gone      bool // the connection ended, or was never made
	told      bool // the script got the close: the client may be forgotten
	code      uint16
	reason    string
}

// wsConnect opens a client connection: data holds what
// websocket_client.lua wrote, one line each (the address to dial, the
// Host field, the target, the subprotocols offered, the largest message
// taken from the server (0: ws.DefaultMaxMessage), then extra header
// lines); flags 1: over TLS, 2: without verifying the server, 4: offering
// permessage-deflate (on a loop that has compressors).
func (l *Sockets) wsConnect(w *sockWait, data []byte, timeout time.Duration, flags int) {
	fail := func(msg string) {
		w.done(cgo.SockEFail, []byte("connect: "+msg))
		l.loop.Post(w.resume)
	}
	parts := strings.SplitN(string(data), "\n", 6)
	if len(parts) != 6 {
		fail("malformed request")
		return
	}
	addr, host, target, protocols, extra := parts[0], parts[1], parts[2], parts[3], parts[5]
	maxMessage, err := strconv.Atoi(parts[4])
	if err != nil || maxMessage < 0 {
		fail("malformed request")
		return
	}
	ta, err := dialAddrOf(addr)
	if err != nil {
		fail(err.Error())
		return
	}
	l.next++
	k := &wsClient{l: l, id: l.next, owner: w.s, wait: w, protocols: protocols, key: ws.NewKey(),
		deflate: flags&4 != 0 && l.flate != nil}
	// A message may come in one frame: the frame's bound is the message's.
	k.limits = ws.Limits{MaxFrame: maxMessage, MaxMessage: maxMessage}
	k.req = ws.AppendRequest(nil, target, host, k.key[:], protocols, extra, k.deflate)
	if flags&1 != 0 {
		name, _, _ := net.SplitHostPort(addr)
		k.tls = &tls.Config{ServerName: name, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: flags&2 != 0}
	}
	if err := l.loop.Dial(ta, k); err != nil {
		fail(err.Error())
		return
	}
	if l.ws == nil {
		l.ws = map[int]*wsClient{}
	}
	l.ws[k.id] = k
	if timeout > 0 {
		w.timer = l.loop.After(timeout, func() {
			if k.wait == w {
				k.wait = nil
				k.abort()
				delete(l.ws, k.id)
				w.done(cgo.SockETimeout, nil)
				w.resume()
			}
		})
	}
}

// wsOp performs a send, receive or close on client id.
func (l *Sockets) wsOp(w *sockWait, id int, data []byte, timeout time.Duration) {
	k := l.ws[id]
	switch {
	case k == nil:
		w.done(cgo.SockEClosed, []byte("closed"))
		w.s.SetSockStatus(cgo.SockEClosed, int(ws.CloseAbnormal))
		l.loop.Post(w.resume)
		return
	case k.owner != w.s:
		w.done(cgo.SockEFail, []byte("this WebSocket belongs to another request or task"))
		l.loop.Post(w.resume)
		return
	}
	switch w.op {
	case cgo.SockWSSend:
		k.send(w, data, timeout)
	case cgo.SockWSRecv:
		k.receive(w, timeout)
	case cgo.SockWSClose:
		k.close(w, data, timeout)
	}
}

// DialFailed is called on the loop when the connection could not be made.
func (k *wsClient) DialFailed(err error) {
	k.gone = true
	k.connectFailed(err.Error())
}

// Opened is called on the loop when the dial completed; for wss the TLS
// handshake follows, on the pool's goroutines.
func (k *wsClient) Opened(c transport.Conn) {
	if k.gone {
		c.Close() // timed out, or its owner ended, while connecting
		return
	}
	p, ok := c.(*transport.Plain)
	if k.tls == nil || !ok {
		k.connected(c)
		return
	}
	o := transport.TLSOptions{Loop: k.l.loop, Pool: k.l.handshakes, Timeout: time.Minute}
	k.tc = transport.NewClientTLS(p, k.tls, o, func(t *transport.TLS, err error) transport.Handler {
		if err != nil {
			k.connectFailed(err.Error())
			return nil
		}
		k.connected(t)
		return (*wsClear)(k)
	})
}

// connected sends the opening handshake's request on c.
func (k *wsClient) connected(c transport.Conn) {
	k.c = c
	c.Write(k.req)
	k.req = nil
}

// connectFailed ends the connect the script waits on with msg.
func (k *wsClient) connectFailed(msg string) {
	w := k.wait
	if w == nil || w.op != cgo.SockWSConnect {
		return
	}
	k.wait = nil
	k.abort()
	delete(k.l.ws, k.id)
	w.done(cgo.SockEFail, []byte("connect: "+msg))
	k.l.loop.Post(w.resume)
}

// wsClear is a wsClient as the handler of its TLS connection's clear
// side: the gnet events go to the TLS, which decrypts and calls it.
type wsClear wsClient

func (c *wsClear) OnTraffic()    { (*wsClient)(c).traffic() }
func (c *wsClear) OnClose(error) { (*wsClient)(c).onClose() }

// OnTraffic is the gnet event of the connection: its TLS's, if any.
func (k *wsClient) OnTraffic() {
	if k.tc != nil {
		k.tc.OnTraffic()
		return
	}
	k.traffic()
}

// OnClose is the gnet event of the connection: its TLS's, if any.
func (k *wsClient) OnClose(err error) {
	if k.tc != nil {
		k.tc.OnClose(err)
		return
	}
	k.onClose()
}

func (k *wsClient) traffic() {
	if k.c == nil {
		return
	}
	if k.shut {
		k.c.Discard(-1)
		return
	}
	if !k.open && !k.handshake() {
		return
	}
	k.read()
}

// handshake reads the server's answer to the opening handshake; it
// reports whether the connection is open.
func (k *wsClient) handshake() bool {
	var resp http1.Response
	n, err := resp.Parse(k.c.Peek(), []byte("GET"), http1.Limits{})
	if errors.Is(err, http1.ErrIncomplete) {
		return false
	}
	if err != nil {
		k.connectFailed(err.Error())
		return false
	}
	var a ws.Answer
	for _, h := range resp.Headers {
		a.AddField(h.Name, h.Value)
	}
	protocol, d, err := a.Check(resp.Status, k.key[:], k.protocols, k.deflate)
	if err == ws.ErrNotSwitching {
		k.connectFailed("the server answered " + strconv.Itoa(resp.Status) + " " + string(resp.Reason) + ", not 101")
		return false
	}
	if err != nil {
		k.connectFailed(err.Error())
		return false
	}
	k.c.Discard(n)
	k.open = true
	// Compressed messages are inflated up to the largest message (1009
	// past it), whatever they would inflate to.
	k.r.Init(ws.Client, k.limits, d, k.l.flate)
	k.w.Init(ws.Client, d, k.l.flate)
	if w := k.wait; w != nil && w.op == cgo.SockWSConnect {
		k.wait = nil
		if w.timer != nil {
			w.timer.Stop()
		}
		w.s.SetSockResult(k.id, cgo.SockOK, []byte(protocol))
		k.l.loop.Post(w.resume)
	}
	return true
}

// read parses the frames that arrived: control frames are answered here,
// data frames go to the waiting receive (or are dropped while close
// waits), and stay in the input while none waits.
func (k *wsClient) read() {
	for k.c != nil && !k.closeRecv && !k.failed && !k.shut {
		if k.c.Inbound() < max(1, k.r.Need()) {
			break // nothing, or not the whole of the frame begun
		}
		in := k.c.Peek()
		w := k.wait
		recv := w != nil && w.op == cgo.SockWSRecv
		if !recv && !k.closing && !ws.Opcode(in[0]&0x0f).IsControl() {
			break // a data frame waits for a receive
		}
		var msg []byte
		switch {
		case recv:
			b, ok := w.s.IORoom(min(len(in), k.maxFrame()+14))
			if !ok {
				k.fail(ws.CloseInternalError, "out of memory")
				return
			}
			msg = b
		case k.closing:
			msg = k.dropped
		}
		ev, n, err := k.r.Next(in, &msg)
		if err == ws.ErrIncomplete {
			break
		}
		if err != nil {
			code := ws.CloseProtocolError
			var e *ws.Error
			if errors.As(err, &e) {
				code = e.Code
			}
			k.fail(code, err.Error())
			return
		}
		switch ev.Op {
		case ws.OpPing:
			if !k.closeSent {
				k.write(k.w.AppendPong(k.out[:0], ev.Payload))
			}
		case ws.OpClose:
			k.closeRecv = true
			k.code, k.reason = ev.Code, string(ev.Payload)
			if !k.closeSent {
				k.closeSent = true
				k.write(k.w.AppendClose(k.out[:0], ev.Code, k.reason)) // the RFC's echo
			}
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			if !recv {
				k.dropped = msg[:0]
				if ev.Op == ws.OpContinuation {
					k.dropped = msg
				}
				break
			}
			if !w.s.SetIO(msg) {
				k.fail(ws.CloseInternalError, "out of memory")
				return
			}
			if ev.Op != ws.OpContinuation {
				kind := cgo.MsgText
				if ev.Op == ws.OpBinary {
					kind = cgo.MsgBinary
				}
				k.finish(w, cgo.SockOK, kind)
			}
		}
		k.c.Discard(n)
		if k.closeRecv {
			k.closed()
		}
	}
	if cap(k.dropped) > wsBufKept {
		k.dropped = nil
	}
	k.throttle()
}

// maxFrame is the largest frame payload taken from the server.
func (k *wsClient) maxFrame() int {
	if k.limits.MaxFrame > 0 {
		return k.limits.MaxFrame
	}
	return ws.DefaultMaxFrame
}

// throttle pauses reading while no receive waits and inboundHigh bytes
// are buffered, and reads again once one waits.
func (k *wsClient) throttle() {
	if k.c == nil {
		return
	}
	w := k.wait
	taking := k.closing || w != nil && w.op == cgo.SockWSRecv
	switch {
	case !taking && !k.paused && k.c.Inbound() >= inboundHigh:
		k.paused = true
		k.c.PauseRead()
	case taking && k.paused:
		k.paused = false
		k.c.ResumeRead()
	}
}

// write sends frames assembled in out.
func (k *wsClient) write(out []byte) {
	k.out = out[:0]
	if k.c != nil {
		k.c.Write(out)
	}
	if cap(k.out) > wsBufKept {
		k.out = nil
	}
}

// finish ends the operation w of the script with res; arg is what Lua
// reads back in sock_arg. io holds what goes with it.
func (k *wsClient) finish(w *sockWait, res, arg int) {
	k.wait = nil
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.s.SetSockStatus(res, arg)
	k.l.loop.Post(w.resume)
}

// end ends the operation w of the script with res and data in io.
func (k *wsClient) end(w *sockWait, res int, data []byte) {
	k.wait = nil
	w.done(res, data)
	k.l.loop.Post(w.resume)
}

// fail closes the connection with code after the server broke the
// protocol (or C memory ran out): a close frame, then the end of the TCP
// connection. The script learns it as a close with that code.
func (k *wsClient) fail(code uint16, reason string) {
	k.failed = true
	k.code, k.reason = code, reason
	if !k.closeSent {
		k.closeSent = true
		k.write(k.w.AppendClose(k.out[:0], code, ""))
	}
	k.closed()
	k.shutdown()
}

// closed tells a waiting receive (or close) that the WebSocket is
// closed: the server's close frame came, the protocol failed, or the
// connection ended.
func (k *wsClient) closed() {
	w := k.wait
	if w == nil {
		k.shutdown()
		return
	}
	switch w.op {
	case cgo.SockWSRecv:
		k.tell(w)
	case cgo.SockWSClose:
		k.closing = false
		k.end(w, cgo.SockOK, nil)
		k.told = true
		k.forget()
	case cgo.SockWSSend:
		k.end(w, cgo.SockEClosed, []byte("closed"))
	}
	k.shutdown()
}

// tell ends receive w with the close: its code (1006 when the connection
// ended without a close frame) in sock_arg, its reason in io.
func (k *wsClient) tell(w *sockWait) {
	code, reason := k.code, k.reason
	if code == 0 {
		code, reason = ws.CloseAbnormal, "connection closed"
	}
	w.s.SetSockResult(0, cgo.SockEClosed, []byte(reason))
	k.finish(w, cgo.SockEClosed, int(code))
	k.told = true
	k.forget()
}

// forget drops a client whose connection ended and whose script knows.
func (k *wsClient) forget() {
	if k.gone && k.wait == nil && (k.told || !k.open) {
		delete(k.l.ws, k.id)
	}
}

// shutdown ends the TCP connection once what was written (our close
// frame) has left, so that no reset overtakes it; the server closes its
// end then (RFC 6455 §7.1.1), or transport.Linger later the connection is
// closed anyway.
func (k *wsClient) shutdown() {
	c := k.c
	if c == nil || k.shut {
		return
	}
	k.shut = true
	after := func(d time.Duration, fn func()) { k.l.loop.After(d, fn) }
	transport.CloseWriteWhenSent(after, c, func() bool { return k.c != c })
	k.l.loop.After(transport.Linger, func() {
		if k.c == c {
			c.Close()
		}
	})
}

// abort closes the connection at once, wherever it is.
func (k *wsClient) abort() {
	k.gone = true
	switch {
	case k.c != nil:
		k.c.Close()
	case k.tc != nil:
		k.tc.Close() // during the TLS handshake
	}
}

// onClose: the connection ended.
func (k *wsClient) onClose() {
	k.c = nil
	k.gone = true
	if w := k.wait; w != nil && w.op == cgo.SockWSConnect {
		k.connectFailed("the connection closed during the handshake")
		return
	}
	k.closed()
	k.forget()
}

// send frames the message in data (its type in the op's argument) and
// writes it; the script waits while the server has more than
// wsBacklogHigh unread, up to timeout.
func (k *wsClient) send(w *sockWait, data []byte, timeout time.Duration) {
	if k.gone || k.closeSent || k.c == nil {
		w.done(cgo.SockEClosed, []byte("closed"))
		k.l.loop.Post(w.resume)
		return
	}
	switch w.arg {
	case cgo.MsgText:
		k.write(k.w.AppendMessage(k.out[:0], ws.OpText, data))
	case cgo.MsgBinary:
		k.write(k.w.AppendMessage(k.out[:0], ws.OpBinary, data))
	case cgo.MsgPing:
		k.write(k.w.AppendPing(k.out[:0], data[:min(len(data), ws.MaxControlPayload)]))
	case cgo.MsgPong:
		k.write(k.w.AppendPong(k.out[:0], data[:min(len(data), ws.MaxControlPayload)]))
	}
	w.done(cgo.SockOK, nil)
	if k.c == nil || k.c.Outbound() <= wsBacklogHigh {
		k.l.loop.Post(w.resume)
		return
	}
	// The server reads slowly: the script waits until it caught up.
	k.wait = w
	var deadline time.Time
	if timeout > 0 {
		deadline = k.l.loop.Now().Add(timeout)
	}
	var check func()
	check = func() {
		if k.wait != w {
			return
		}
		switch {
		case k.c == nil:
			k.end(w, cgo.SockEClosed, []byte("closed"))
		case k.c.Outbound() <= wsBacklogLow:
			k.end(w, cgo.SockOK, nil)
		case !deadline.IsZero() && !k.l.loop.Now().Before(deadline):
			k.end(w, cgo.SockETimeout, nil)
		default:
			k.l.loop.After(transport.Recheck, check)
		}
	}
	k.l.loop.After(transport.Recheck, check)
}

// receive waits for the next message, up to timeout.
func (k *wsClient) receive(w *sockWait, timeout time.Duration) {
	if k.c == nil || k.closeRecv || k.failed {
		k.wait = w
		k.tell(w)
		return
	}
	// The message starts with what a receive that timed out left.
	io, ok := w.s.IORoom(len(k.partial))
	if !ok || !w.s.SetIO(append(io[:0], k.partial...)) {
		w.done(cgo.SockEFail, []byte("out of memory"))
		k.l.loop.Post(w.resume)
		return
	}
	k.partial = k.partial[:0]
	if cap(k.partial) > wsBufKept {
		k.partial = nil
	}
	k.wait = w
	if timeout > 0 {
		w.timer = k.l.loop.After(timeout, func() {
			if k.wait != w {
				return
			}
			k.wait = nil
			k.partial = append(k.partial, w.s.IO()...)
			w.done(cgo.SockETimeout, nil)
			w.resume()
		})
	}
	k.read()
}

// close sends a close frame with the payload in data (code and reason)
// and waits up to timeout for the server's, dropping the messages that
// arrive meanwhile; then the connection ends.
func (k *wsClient) close(w *sockWait, data []byte, timeout time.Duration) {
	if !k.closeSent && k.c != nil {
		k.closeSent = true
		code := ws.CloseNoStatus
		if len(data) >= 2 {
			code = binary.BigEndian.Uint16(data)
			data = data[2:]
		}
		k.write(k.w.AppendClose(k.out[:0], code, string(data)))
	}
	if k.c == nil || k.closeRecv || k.failed {
		k.shutdown()
		delete(k.l.ws, k.id)
		k.end(w, cgo.SockOK, nil)
		return
	}
	k.wait, k.closing = w, true
	if timeout > 0 {
		w.timer = k.l.loop.After(timeout, func() {
			if k.wait != w {
				return
			}
			k.wait, k.closing = nil, false
			k.abort()
			delete(k.l.ws, k.id)
			w.done(cgo.SockOK, nil)
			w.resume()
		})
	}
	k.read()
}

// closeOwned closes a client its owner left open: a close frame (1001)
// if it is open, then the end of the connection.
func (k *wsClient) closeOwned() {
	if w := k.wait; w != nil && w.timer != nil {
		w.timer.Stop()
	}
	k.wait = nil
	delete(k.l.ws, k.id)
	if !k.open || k.c == nil {
		k.abort()
		return
	}
	if !k.closeSent {
		k.closeSent = true
		k.write(k.w.AppendClose(k.out[:0], ws.CloseGoingAway, ""))
	}
	k.shutdown()
}
