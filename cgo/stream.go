package cgo

/*
#include "bridge.h"
*/
import "C"

import (
	"bytes"
	"strconv"
	"time"
	"unsafe"
)

// Op codes a coroutine yields with (le_stream.op).
const (
	OpDone    = C.LE_OP_DONE
	OpSleep   = C.LE_OP_SLEEP
	OpYield   = C.LE_OP_YIELD
	OpRecv    = C.LE_OP_RECV
	OpFlush   = C.LE_OP_FLUSH
	OpForward = C.LE_OP_FORWARD
	OpSocket  = C.LE_OP_SOCKET
	OpUpgrade = C.LE_OP_UPGRADE
	OpAfter   = C.LE_OP_AFTER
	OpInterim = C.LE_OP_INTERIM
	OpResBody = C.LE_OP_RES_BODY
)

// Stream flags (le_stream.flags).
const (
	FlagBodyEnd  = C.LE_F_BODY_END
	FlagStarted  = C.LE_F_STARTED
	FlagHeadSent = C.LE_F_HEAD_SENT
	FlagFailed   = C.LE_F_FAILED
	FlagSessVars = C.LE_F_SESS_VARS
	FlagAbort    = C.LE_F_ABORT
	FlagSockopt  = C.LE_F_SOCKOPT
	FlagForward  = C.LE_F_FORWARD
	FlagErrLog   = C.LE_F_ERR_LOG
	FlagSvcErr   = C.LE_F_SVC_ERR
	// FlagHooksAfter (set by Lua): the request has after_response hooks.
	// FlagAfter (set by Go): the resume runs them, the response is over.
	FlagHooksAfter = C.LE_F_HOOKS_AFTER
	FlagAfter      = C.LE_F_AFTER
	// FlagInspectOver (set by Go): the TCP connection's inspect delay
	// passed; the tcp-request rules' channel reads return what there is.
	FlagInspectOver = C.LE_F_INSPECT_OVER
	// FlagResInspectOver (set by Go): the backend's tcp-response inspect
	// delay passed, or it has none; the tcp-response rules run a last
	// time and their channel reads return what there is.
	FlagResInspectOver = C.LE_F_RES_INSPECT_OVER
	// FlagResEnd (set by Go): the server's response body ended, for the
	// Lua filters waiting with OpResBody.
	FlagResEnd = C.LE_F_RES_END
	// FlagReqFilter (set by Lua): Lua filters take the forwarded request's
	// body; what they pass on is in out.
	FlagReqFilter = C.LE_F_REQ_FILTER
)

// Stream is the C struct one coroutine shares with Go. Go writes the
// request with the Set/Add methods and reads the response after Resume.
// Slices returned by the read methods alias C memory and are valid until
// the next Resume or Reset.
type Stream struct {
	c *C.le_stream
}

func bytesOf(p *C.char, n C.uint32_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func bufBytes(b *C.le_buf) []byte { return bytesOf(b.p, b.len) }

// appendBuf copies p to the end of b, growing it in C when needed.
func appendBuf(b *C.le_buf, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if int(b.len)+len(p) > int(b.cap) {
		if C.le_buf_reserve(b, C.size_t(len(p))) != 0 {
			return false
		}
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(b.p)), int(b.cap))[b.len:], p)
	b.len += C.uint32_t(len(p))
	return true
}

func (s *Stream) headSpan(p []byte) C.le_span {
	off := s.c.head.len
	if !appendBuf(&s.c.head, p) {
		return C.le_span{}
	}
	return C.le_span{off: off, len: C.uint32_t(len(p))}
}

// Reset clears the stream for a new request on connection connID that
// runs entry(arg).
func (s *Stream) Reset(entry, arg int, connID int64) {
	c := s.c
	c.conn_id = C.int64_t(connID)
	c.backend = -1
	c.head.len = 0
	c.method, c.target, c.path, c.query, c.authority = C.le_span{}, C.le_span{}, C.le_span{}, C.le_span{}, C.le_span{}
	c.src, c.dst, c.src_port, c.dst_port = C.le_span{}, C.le_span{}, 0, 0
	c.major, c.minor = 1, 1
	c.nfields = 0
	c.content_length = -1
	c.body.len, c.body_pos = 0, 0
	c.flags = 0
	c.entry, c.entry_arg = C.int32_t(entry), C.int32_t(arg)
	c.status = 0
	c.reason = C.le_span{}
	c.resp.len = 0
	c.nrfields = 0
	c.out.len = 0
	c.tos, c.mark = -1, -1
	c.log_level, c.term[0] = 0, 0
	c.stk_have, c.stk_none = 0, 0
	c.op = OpDone
	c.arg = 0
	c.err.len = 0
	c.logvars.len = 0
	c.srv_be, c.srv_id, c.stick.len, c.prst = -1, 0, 0, 0
	c.server_ms, c.tunnel_ms = 0, 0
	c.cache_use, c.cache_store, c.cache_hit = 0, 0, 0
	c.res_ver = 0
	c.service, c.untrack.len = 0, 0
	c.sock, c.io.len = 0, 0
	c.kind, c.stream_id = C.int32_t(KindHTTP1), 0
	c.scheme, c.protocol = C.le_span{}, C.le_span{}
	c.tls_version, c.tls_cipher, c.tls_sni, c.tls_alpn, c.tls_client = C.le_span{}, C.le_span{}, C.le_span{}, C.le_span{}, C.le_span{}
	c.pp_tlvs = C.le_span{}
	c.ntrailers, c.nrtrailers, c.nmsgs = 0, 0, 0
	c.ws_op, c.ws_code = 0, 0
}

// Held returns the bytes of C memory the stream's buffers hold (their
// capacities), whatever they hold now.
func (s *Stream) Held() int {
	c := s.c
	n := int(c.head.cap) + int(c.body.cap) + int(c.resp.cap) + int(c.out.cap) + int(c.io.cap) + int(c.err.cap) + int(c.logvars.cap) + int(c.stick.cap) + int(c.untrack.cap)
	n += int(c.fields_cap+c.rfields_cap+c.trailers_cap+c.rtrailers_cap) * int(unsafe.Sizeof(C.le_field{}))
	return n + int(c.msgs_cap)*int(unsafe.Sizeof(C.le_msg{}))
}

// Trim frees the buffers that grew past max bytes (a large request's
// body, a large response), so an idle pooled stream holds little; they
// grow again when needed. Call it between requests only: it invalidates
// every slice read from the stream. It costs a cgo call only when a
// buffer is over max.
func (s *Stream) Trim(max int) {
	c := s.c
	m := C.uint32_t(max)
	fm := C.uint32_t(max / int(unsafe.Sizeof(C.le_field{})))
	if c.head.cap > m || c.body.cap > m || c.resp.cap > m || c.out.cap > m || c.io.cap > m || c.err.cap > m || c.logvars.cap > m || c.stick.cap > m || c.untrack.cap > m ||
		c.fields_cap > fm || c.rfields_cap > fm || c.trailers_cap > fm || c.rtrailers_cap > fm ||
		int(c.msgs_cap)*int(unsafe.Sizeof(C.le_msg{})) > max {
		C.le_stream_trim(c, C.size_t(max))
	}
}

// SetRequestLine records method and target (split into path and query) and the version.
func (s *Stream) SetRequestLine(method, target, path, query []byte, major, minor int) {
	s.c.method = s.headSpan(method)
	s.c.target = s.headSpan(target)
	s.c.path = s.subSpan(s.c.target, target, path)
	s.c.query = s.subSpan(s.c.target, target, query)
	s.c.major, s.c.minor = C.int32_t(major), C.int32_t(minor)
}

// subSpan locates part inside the copy of whole at span: the parser hands
// path and query as sub-slices of the target, so they need no copy of
// their own. A part from elsewhere is copied.
func (s *Stream) subSpan(span C.le_span, whole, part []byte) C.le_span {
	if len(part) == 0 {
		return C.le_span{}
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(part))) - uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	if len(part) <= len(whole) && off <= uintptr(len(whole)-len(part)) {
		return C.le_span{off: span.off + C.uint32_t(off), len: C.uint32_t(len(part))}
	}
	return s.headSpan(part)
}

// SetAuthority records the host the request is for (Host header or :authority).
func (s *Stream) SetAuthority(host []byte) { s.c.authority = s.headSpan(host) }

// SetAddrs records the client's address and the one it connected to.
func (s *Stream) SetAddrs(src []byte, srcPort int, dst []byte, dstPort int) {
	s.c.src = s.headSpan(src)
	s.c.dst = s.headSpan(dst)
	s.c.src_port, s.c.dst_port = C.int32_t(srcPort), C.int32_t(dstPort)
}

// LogLevel is the level of the request's access-log line a script set, in
// HAProxy's terms: 0 none, -1 silent (no line), else the syslog level + 1.
func (s *Stream) LogLevel() int { return int(s.c.log_level) }

// Term is the termination state a rule set for the request's line (two
// characters, HAProxy's %ts), "" when none did.
func (s *Stream) Term() string {
	if s.c.term[0] == 0 {
		return ""
	}
	return string([]byte{byte(s.c.term[0]), byte(s.c.term[1])})
}

// Sockopts returns the IP TOS and firewall mark a script asked for (-1: unchanged).
func (s *Stream) Sockopts() (tos, mark int) { return int(s.c.tos), int(s.c.mark) }

// SetContentLength records the declared body length (-1: unknown).
func (s *Stream) SetContentLength(n int64) { s.c.content_length = C.int64_t(n) }

// ContentLength is the request's Content-Length; -1 when it has none.
func (s *Stream) ContentLength() int64 { return int64(s.c.content_length) }

// AddField appends a request header field; the name is stored lower-case.
func (s *Stream) AddField(name, value []byte) bool {
	return s.addHeadField(&s.c.fields, &s.c.nfields, &s.c.fields_cap, name, value)
}

// addHeadField appends a field to a list whose names and values are copied
// into the request's head (the header fields, or the trailers); the name
// is stored lower-case.
func (s *Stream) addHeadField(list **C.le_field, n, capacity *C.uint32_t, name, value []byte) bool {
	if *n == *capacity {
		if C.le_fields_reserve(list, capacity, *n+1) != 0 {
			return false
		}
	}
	ns := s.headSpan(name)
	if ns.len != C.uint32_t(len(name)) {
		return false
	}
	lowerASCII(bufBytes(&s.c.head)[ns.off : ns.off+ns.len])
	vs := s.headSpan(value)
	f := (*C.le_field)(unsafe.Add(unsafe.Pointer(*list), uintptr(*n)*unsafe.Sizeof(C.le_field{})))
	f.name, f.value = ns, vs
	*n++
	return true
}

// AppendBody adds received body bytes for Lua to read, dropping what Lua
// has already read.
func (s *Stream) AppendBody(p []byte) bool {
	c := s.c
	if c.body_pos > 0 {
		rest := bufBytes(&c.body)[c.body_pos:]
		copy(unsafe.Slice((*byte)(unsafe.Pointer(c.body.p)), int(c.body.cap)), rest)
		c.body.len = C.uint32_t(len(rest))
		c.body_pos = 0
	}
	return appendBuf(&c.body, p)
}

// TakeBody returns the body bytes Lua has not read and marks them read;
// the slice is valid until the next AppendBody.
func (s *Stream) TakeBody() []byte {
	b := bufBytes(&s.c.body)[s.c.body_pos:]
	s.c.body_pos = s.c.body.len
	return b
}

// BodyUnread returns the body bytes received and not yet read by Lua.
func (s *Stream) BodyUnread() int { return int(s.c.body.len - s.c.body_pos) }

// Flags returns the stream flags.
func (s *Stream) Flags() uint32 { return uint32(s.c.flags) }

// SetFlag sets flag f.
func (s *Stream) SetFlag(f uint32) { s.c.flags |= C.uint32_t(f) }

// ClearFlag clears flag f.
func (s *Stream) ClearFlag(f uint32) { s.c.flags &^= C.uint32_t(f) }

// Op returns what the coroutine waits for, and its argument.
func (s *Stream) Op() (int, float64) { return int(s.c.op), float64(s.c.arg) }

// Status returns the response status the script set (0: none).
func (s *Stream) Status() int { return int(s.c.status) }

// Reason returns the reason phrase the script set, if any.
func (s *Stream) Reason() []byte {
	return bufBytes(&s.c.resp)[s.c.reason.off : s.c.reason.off+s.c.reason.len]
}

// NumRFields returns the number of response header fields the script added.
func (s *Stream) NumRFields() int { return int(s.c.nrfields) }

// RField returns response header field i.
func (s *Stream) RField(i int) (name, value []byte) {
	f := unsafe.Slice(s.c.rfields, int(s.c.nrfields))[i]
	b := bufBytes(&s.c.resp)
	return b[f.name.off : f.name.off+f.name.len], b[f.value.off : f.value.off+f.value.len]
}

// Out returns the response body bytes the script sent since the last ConsumeOut.
func (s *Stream) Out() []byte { return bufBytes(&s.c.out) }

// ConsumeOut marks the bytes of Out, and their message boundaries, as sent.
func (s *Stream) ConsumeOut() { s.c.out.len, s.c.nmsgs = 0, 0 }

// ClearErr empties the error message buffer.
func (s *Stream) ClearErr() { s.c.err.len = 0 }

// Err returns the error message and traceback of a failed entry function.
func (s *Stream) Err() []byte { return bufBytes(&s.c.err) }

// Addrs returns the addresses SetAddrs recorded.
func (s *Stream) Addrs() (src []byte, srcPort int, dst []byte, dstPort int) {
	return s.span(s.c.src), int(s.c.src_port), s.span(s.c.dst), int(s.c.dst_port)
}

// Version returns the request's HTTP version.
func (s *Stream) Version() (major, minor int) { return int(s.c.major), int(s.c.minor) }

// LogVars appends to dst the values Lua left for the access log (the
// logvars buffer): copies, nil for a variable that was not set. It
// reuses dst's slices' memory.
func (s *Stream) LogVars(dst [][]byte) [][]byte {
	b := bufBytes(&s.c.logvars)
	n := 0
	for len(b) > 0 {
		if b[0] == '-' {
			dst = appendVar(dst, n, nil)
			b, n = b[1:], n+1
			continue
		}
		i := bytes.IndexByte(b, ':')
		if i < 0 {
			break
		}
		k, err := strconv.Atoi(string(b[:i]))
		if err != nil || k > len(b)-i-1 {
			break
		}
		dst = appendVar(dst, n, b[i+1:i+1+k])
		b, n = b[i+1+k:], n+1
	}
	return dst
}

// appendVar sets dst[n] (n == len(dst)) to a copy of v, reusing the
// memory a former slice at that index had.
func appendVar(dst [][]byte, n int, v []byte) [][]byte {
	var old []byte
	if n < cap(dst) {
		old = dst[:n+1][n]
	}
	if v == nil {
		return append(dst, nil)
	}
	return append(dst, append(old[:0], v...))
}

// Method returns the request method (as a script may have changed it).
func (s *Stream) Method() []byte { return s.span(s.c.method) }

// Target returns the request-target (as a script may have changed it).
func (s *Stream) Target() []byte { return s.span(s.c.target) }

// Path returns the request path.
func (s *Stream) Path() []byte { return s.span(s.c.path) }

// Query returns the request's query (after "?").
func (s *Stream) Query() []byte { return s.span(s.c.query) }

// Authority returns the Host of the request.
func (s *Stream) Authority() []byte { return s.span(s.c.authority) }

func (s *Stream) span(sp C.le_span) []byte {
	return bufBytes(&s.c.head)[sp.off : sp.off+sp.len]
}

// NumFields returns the number of request header fields, deleted ones
// included (Field returns an empty name for those).
func (s *Stream) NumFields() int { return int(s.c.nfields) }

// Field returns request header field i; the name is lower-case, and empty
// when a script deleted the field.
func (s *Stream) Field(i int) (name, value []byte) {
	f := unsafe.Slice(s.c.fields, int(s.c.nfields))[i]
	b := bufBytes(&s.c.head)
	return b[f.name.off : f.name.off+f.name.len], b[f.value.off : f.value.off+f.value.len]
}

// Backend returns the backend a script chose (an index), or -1.
func (s *Stream) Backend() int { return int(s.c.backend) }

// SetBackend records the backend the request went to, for the scripts
// that read it afterwards (the be_name fetch in http-response rules).
func (s *Stream) SetBackend(i int) { s.c.backend = C.int32_t(i) }

// Persist returns the server the request's use-server or stick rules
// chose: its id in backend be; id 0 when they chose none.
func (s *Stream) Persist() (be, id int) { return int(s.c.srv_be), int(s.c.srv_id) }

// PersistForce and PersistIgnore are what a request's force-persist or
// ignore-persist rule decided (le_stream.prst).
const (
	PersistForce  = 1
	PersistIgnore = 2
)

// PersistRule is what the backend's force-persist and ignore-persist rules
// decided for the request: 0, PersistForce or PersistIgnore.
func (s *Stream) PersistRule() int { return int(s.c.prst) }

// SetServer records id, a server of the request's backend, as the one
// that took the request (HAProxy's target): from then on srv_id names it,
// for the response's stick store-response rules.
func (s *Stream) SetServer(id int) { s.c.srv_be, s.c.srv_id = s.c.backend, C.int32_t(id) }

// Timeouts are the server and tunnel timeouts a script set for this
// request (TXN:set_timeout); 0: the backend's.
func (s *Stream) Timeouts() (server, tunnel time.Duration) {
	return time.Duration(s.c.server_ms) * time.Millisecond, time.Duration(s.c.tunnel_ms) * time.Millisecond
}

// StickStores returns the request's pending stick stores, "TABLE\0KEY\0"
// each (le_stream.stick). The bytes are the stream's: valid until the
// next request, or the next resume of its coroutine.
func (s *Stream) StickStores() []byte { return bufBytes(&s.c.stick) }

// AddStickStore appends a pending stick store of key in table (the
// backend's stick rules of the configuration, as Lua's stick_store
// does), unless the request has one for that table: HAProxy applies the
// first store of each table. It returns whether it added it.
func (s *Stream) AddStickStore(table, key string) bool {
	if s.HasStickStore(table) {
		return false
	}
	b := &s.c.stick
	return appendBuf(b, []byte(table)) && appendBuf(b, []byte{0}) && appendBuf(b, []byte(key)) && appendBuf(b, []byte{0})
}

// HasStickStore reports whether the request has a pending stick store
// for table.
func (s *Stream) HasStickStore(table string) bool {
	b := bufBytes(&s.c.stick)
	for len(b) > 0 {
		t, rest, _ := bytes.Cut(b, []byte{0})
		if string(t) == table {
			return true
		}
		_, b, _ = bytes.Cut(rest, []byte{0})
	}
	return false
}

// Cache returns the caches the request's rules asked to look it up in
// and to store its response in (indexes; -1: none).
func (s *Stream) Cache() (use, store int) { return int(s.c.cache_use) - 1, int(s.c.cache_store) - 1 }

// TakeUntracked appends to dst the stick entries the request's rules
// tracked, "TABLE\0KEY\0" each, for its end to release, and empties the
// list: a coroutine that goes on (after_response hooks) hands each entry
// over once.
func (s *Stream) TakeUntracked(dst []byte) []byte {
	dst = append(dst, bufBytes(&s.c.untrack)...)
	s.c.untrack.len = 0
	return dst
}

// Service is the id of the Lua service that answers the request (TCP:
// the session), as its registration numbered it; 0: none.
func (s *Stream) Service() int { return int(s.c.service) }

// SetCacheHit records that the response comes from cache i.
func (s *Stream) SetCacheHit(i int) { s.c.cache_hit = C.int32_t(i + 1) }

// SetResponse records a response head that came from elsewhere (a
// backend), for http-response rules to see and change: it replaces the
// status, reason and fields.
func (s *Stream) SetResponse(status int, reason []byte) {
	c := s.c
	c.resp.len, c.nrfields = 0, 0
	c.status = C.int32_t(status)
	off := c.resp.len
	if appendBuf(&c.resp, reason) {
		c.reason = C.le_span{off: off, len: C.uint32_t(len(reason))}
	}
}

// SetResponseVersion records the version of the server's response head
// SetResponse recorded (capture.res.ver).
func (s *Stream) SetResponseVersion(major, minor int) { s.c.res_ver = C.int32_t(major*10 + minor) }

// AddRField appends a response header field; the name is stored
// lower-case, as scripts see names (HTTP:res_get_headers).
func (s *Stream) AddRField(name, value []byte) bool {
	c := s.c
	if c.nrfields == c.rfields_cap {
		if C.le_fields_reserve(&c.rfields, &c.rfields_cap, c.nrfields+1) != 0 {
			return false
		}
	}
	off := c.resp.len
	if !appendBuf(&c.resp, name) || !appendBuf(&c.resp, value) {
		return false
	}
	lowerASCII(bufBytes(&c.resp)[off : off+C.uint32_t(len(name))])
	f := (*C.le_field)(unsafe.Add(unsafe.Pointer(c.rfields), uintptr(c.nrfields)*unsafe.Sizeof(C.le_field{})))
	f.name = C.le_span{off: off, len: C.uint32_t(len(name))}
	f.value = C.le_span{off: off + C.uint32_t(len(name)), len: C.uint32_t(len(value))}
	c.nrfields++
	return true
}

func lowerASCII(b []byte) {
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
}

// Socket operations (Stream.SockOp) and results (SetSockResult).
const (
	SockConnect   = C.LE_SOCK_CONNECT
	SockSend      = C.LE_SOCK_SEND
	SockRecv      = C.LE_SOCK_RECV
	SockClose     = C.LE_SOCK_CLOSE
	SockWSConnect = C.LE_SOCK_WS_CONNECT
	SockWSSend    = C.LE_SOCK_WS_SEND
	SockWSRecv    = C.LE_SOCK_WS_RECV
	SockWSClose   = C.LE_SOCK_WS_CLOSE
	SockOK        = C.LE_SOCK_OK
	SockEFail     = C.LE_SOCK_EFAIL
	SockETimeout  = C.LE_SOCK_ETIMEOUT
	SockEClosed   = C.LE_SOCK_ECLOSED
	// The shared state's remote operations.
	SockShared = C.LE_SOCK_SHARED
	// The HTTP client's operations.
	SockHTTP      = C.LE_SOCK_HTTP
	SockHTTPRead  = C.LE_SOCK_HTTP_READ
	SockResolve   = C.LE_SOCK_RESOLVE
	SockHTTPWrite = C.LE_SOCK_HTTP_WRITE
)

// SockOp returns the Socket operation the coroutine waits on: the socket
// id, the operation, its argument, its timeout, and its bytes (address or
// data, valid until SetSockResult).
func (s *Stream) SockOp() (id, op, arg int, timeout time.Duration, data []byte) {
	c := s.c
	return int(c.sock), int(c.sock_op), int(c.sock_arg), time.Duration(c.sock_ms) * time.Millisecond, bufBytes(&c.io)
}

// SetSockResult records the outcome of a Socket operation: the socket id
// (for connect), a result code and the bytes Lua gets back.
func (s *Stream) SetSockResult(id, res int, data []byte) {
	c := s.c
	c.sock, c.sock_res = C.int32_t(id), C.int32_t(res)
	c.io.len = 0
	appendBuf(&c.io, data)
}

// SetSockArg writes n in sock_arg, for Lua to read with a result (the
// length of an HTTP response's trailers at the end of io).
func (s *Stream) SetSockArg(n int) { s.c.sock_arg = C.int32_t(n) }

// SetSockStatus records the outcome of a Socket operation whose bytes
// are already in io (IORoom, SetIO): a result code and the argument Lua
// reads back (a WebSocket message's type, or a close code).
func (s *Stream) SetSockStatus(res, arg int) {
	s.c.sock_res, s.c.sock_arg = C.int32_t(res), C.int32_t(arg)
}

// IORoom returns the io buffer's bytes as a slice of its C memory with
// room for n more, for a message appended in place, as BodyRoom does for
// the body; ok is false when C memory ran out. Pass what was appended to
// SetIO.
func (s *Stream) IORoom(n int) (b []byte, ok bool) { return bufRoom(&s.c.io, n) }

// SetIO makes b the io buffer's bytes: b is what IORoom returned,
// appended to (copied in if append moved it to Go memory).
func (s *Stream) SetIO(b []byte) bool { return setBuf(&s.c.io, b) }

// bufRoom returns b's bytes as a slice of its C memory with room for n
// more; ok is false when C memory ran out.
func bufRoom(b *C.le_buf, n int) ([]byte, bool) {
	if n > 0 && int(b.cap)-int(b.len) < n && C.le_buf_reserve(b, C.size_t(n)) != 0 {
		return nil, false
	}
	if b.cap == 0 {
		return nil, true
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.p)), int(b.cap))[:b.len], true
}

// setBuf makes p the bytes of b: p is what bufRoom returned, appended to.
// Appended within its room, p is still in the C buffer and only the
// length changes; grown past it (append moved it to Go memory), it is
// copied in.
func setBuf(b *C.le_buf, p []byte) bool {
	if b.cap > 0 && len(p) > 0 && unsafe.Pointer(&p[0]) == unsafe.Pointer(b.p) {
		b.len = C.uint32_t(len(p))
		return true
	}
	b.len = 0
	return appendBuf(b, p)
}

// StickSlots is the number of stick counters a stream carries (le_stream.stk).
const StickSlots = 16

// SetStick records the client's stick counter i for the fetches to read
// without a gate call: its value, or stored false when the table does not
// keep that counter. Go calls it before the first resume of a request;
// Lua drops the values when the request yields or writes a counter.
func (s *Stream) SetStick(i int, v int64, stored bool) {
	if i < 0 || i >= StickSlots {
		return
	}
	bit := C.uint32_t(1) << uint(i)
	s.c.stk[i] = C.double(v)
	s.c.stk_have |= bit
	if stored {
		s.c.stk_none &^= bit
	} else {
		s.c.stk_none |= bit
	}
}

// Kind is the protocol a stream came on (le_stream.kind).
type Kind int

// Stream kinds.
const (
	KindHTTP1     Kind = C.LE_KIND_HTTP1
	KindHTTP2     Kind = C.LE_KIND_HTTP2
	KindTCP       Kind = C.LE_KIND_TCP
	KindWebSocket Kind = C.LE_KIND_WEBSOCKET
)

// Message flags (Stream.Message): what a message of Out is.
const (
	MsgText   = C.LE_MSG_TEXT
	MsgBinary = C.LE_MSG_BINARY
	MsgClose  = C.LE_MSG_CLOSE
	MsgPing   = C.LE_MSG_PING
	MsgPong   = C.LE_MSG_PONG
	MsgReply  = C.LE_MSG_REPLY
)

// SetKind records the protocol of the stream; Go sets it with the request
// (Reset makes it KindHTTP1).
func (s *Stream) SetKind(k Kind) { s.c.kind = C.int32_t(k) }

// Kind returns the protocol of the stream.
func (s *Stream) Kind() Kind { return Kind(s.c.kind) }

// SetStreamID records the HTTP/2 stream id; Go sets it with the request of
// an HTTP/2 stream (Reset makes it 0, as for the other kinds).
func (s *Stream) SetStreamID(id uint32) { s.c.stream_id = C.uint32_t(id) }

// StreamID returns the HTTP/2 stream id, 0 for other kinds.
func (s *Stream) StreamID() uint32 { return uint32(s.c.stream_id) }

// SetScheme records the request's scheme ("http" or "https"; the :scheme
// of HTTP/2, or what the listener is), copied into the request's head.
// Go sets it with the request; unset, scripts see "http".
func (s *Stream) SetScheme(scheme []byte) { s.c.scheme = s.headSpan(scheme) }

// Scheme returns the scheme set with the request (empty: none was).
func (s *Stream) Scheme() []byte { return s.span(s.c.scheme) }

// SetTLS records the TLS of the client connection (the ssl_fc and ssl_c
// fetches), copied into the request's head: its version ("TLSv1.3"),
// cipher suite, SNI, ALPN protocol, and the facts of the client's
// certificate (transport.ClientFacts; empty: none). Go sets it with the
// request; unset, the connection is clear text.
func (s *Stream) SetTLS(version, cipher, sni, alpn, client []byte) {
	s.c.tls_version = s.headSpan(version)
	s.c.tls_cipher = s.headSpan(cipher)
	s.c.tls_sni = s.headSpan(sni)
	s.c.tls_alpn = s.headSpan(alpn)
	if len(client) > 0 {
		s.c.tls_client = s.headSpan(client)
	}
}

// SetProxyTLVs records the TLVs of the client connection's PROXY v2
// header (the fc_pp_* fetches), copied into the request's head. Go sets
// them with the request when the header had any.
func (s *Stream) SetProxyTLVs(tlvs []byte) { s.c.pp_tlvs = s.headSpan(tlvs) }

// SetProtocol records the :protocol pseudo-header of an extended CONNECT
// (RFC 8441, e.g. "websocket"), copied into the request's head. Go sets it
// with the request.
func (s *Stream) SetProtocol(p []byte) { s.c.protocol = s.headSpan(p) }

// Protocol returns the :protocol of an extended CONNECT, or nothing.
func (s *Stream) Protocol() []byte { return s.span(s.c.protocol) }

// AddTrailer appends a request trailer field (name stored lower-case),
// copied into the request's head. Go adds them when the body has ended,
// before it resumes the coroutine with LE_F_BODY_END.
func (s *Stream) AddTrailer(name, value []byte) bool {
	return s.addHeadField(&s.c.trailers, &s.c.ntrailers, &s.c.trailers_cap, name, value)
}

// NumTrailers returns the number of request trailer fields.
func (s *Stream) NumTrailers() int { return int(s.c.ntrailers) }

// Trailer returns request trailer field i.
func (s *Stream) Trailer(i int) (name, value []byte) {
	f := unsafe.Slice(s.c.trailers, int(s.c.ntrailers))[i]
	b := bufBytes(&s.c.head)
	return b[f.name.off : f.name.off+f.name.len], b[f.value.off : f.value.off+f.value.len]
}

// NumRTrailers returns the number of response trailer fields the script
// added (le_add_rtrailer); Go sends them after the last body bytes.
func (s *Stream) NumRTrailers() int { return int(s.c.nrtrailers) }

// RTrailer returns response trailer field i (name lower-case).
func (s *Stream) RTrailer(i int) (name, value []byte) {
	f := unsafe.Slice(s.c.rtrailers, int(s.c.nrtrailers))[i]
	b := bufBytes(&s.c.resp)
	return b[f.name.off : f.name.off+f.name.len], b[f.value.off : f.value.off+f.value.len]
}

// NumMessages returns the number of message boundaries the script put in
// Out (le_end_msg) since the last ConsumeOut; bytes of Out after the last
// boundary belong to a message not ended yet.
func (s *Stream) NumMessages() int { return int(s.c.nmsgs) }

// Message returns boundary i: the message is Out()[previous end:end] and
// flags says what it is (MsgText, MsgBinary, MsgClose).
func (s *Stream) Message(i int) (end int, flags uint8) {
	m := unsafe.Slice(s.c.msgs, int(s.c.nmsgs))[i]
	return int(m.end), uint8(m.flags)
}

// WSOp returns le_stream.ws_op: before an upgrade, 1 when the script
// asks for permessage-deflate; after it, the type of the message waiting
// in the body for Lua (MsgText, MsgBinary), MsgClose once the connection
// closed, 0 when Lua took the last one.
func (s *Stream) WSOp() int { return int(s.c.ws_op) }

// WSCode returns le_stream.ws_code.
func (s *Stream) WSCode() int { return int(s.c.ws_code) }

// SetWS writes ws_op, ws_code and io (the upgrade's outcome, or a close).
func (s *Stream) SetWS(op, code int, io []byte) bool {
	c := s.c
	c.ws_op, c.ws_code = C.int32_t(op), C.int32_t(code)
	c.io.len = 0
	return appendBuf(&c.io, io)
}

// IO returns the bytes in io (valid until the next resume).
func (s *Stream) IO() []byte { return bufBytes(&s.c.io) }

// BodyRoom returns the body buffer's bytes as a slice of its C memory with
// room for n more, for a WebSocket message appended in place; ok is false
// when C memory ran out. Pass what was appended to SetBody.
func (s *Stream) BodyRoom(n int) (b []byte, ok bool) {
	s.c.body_pos = 0
	return bufRoom(&s.c.body, n)
}

// SetBody makes b the body: b is what BodyRoom returned, appended to
// (copied in if append moved it to Go memory).
func (s *Stream) SetBody(b []byte) bool { return setBuf(&s.c.body, b) }

// TrimBody frees the body buffer if it holds more than max bytes, so that
// an idle WebSocket keeps no large message's buffer. The body must be
// empty (nothing may point into it).
func (s *Stream) TrimBody(max int) {
	if int(s.c.body.cap) > max {
		C.le_buf_trim(&s.c.body, C.size_t(max))
	}
}
