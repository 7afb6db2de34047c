package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// TLS is a connection that speaks TLS (crypto/tls) over a Plain one, or
// over another TLS (a client's TLS with a server inside the tunnel an
// https proxy opened). It is both the Conn protocol code uses, presenting
// the clear bytes, and the handler of the connection under it (the gnet
// connection, or the TLS under it), which it hands its events once the
// handshake is over.
//
// The handshake runs on a goroutine, never on the loop: crypto/tls's
// Handshake is a blocking call, and a slow or stalled peer must not hold a
// loop. The loop feeds it the bytes that arrive (wire.in) and writes what
// it produces (wire.out, posted to the loop). Once it is over, crypto/tls
// is driven from the loop only: records are decrypted as they arrive and
// encrypted as protocol code writes, through the same wire, which then
// reads the Plain connection's inbound bytes itself and never blocks.
//
// A TLS belongs to its loop like the Plain under it; only wire's locked
// fields are shared with the handshake goroutine, until the handshake ends.
type TLS struct {
	p     Layer
	tc    *tls.Conn
	w     *wire
	loop  Loop
	ready func(t *TLS, err error) Handler // called once, on the loop, when the handshake ends
	h     Handler                         // the protocol's handler; nil until the handshake succeeded
	timer *time.Timer                     // the handshake timeout

	// in holds the decrypted bytes from off on; the connection's own,
	// grown as records arrive and reused; Peek's slices alias it.
	in  []byte
	off int

	state     tls.ConnectionState // once the handshake succeeded
	facts     Facts               // made from state, once
	started   bool                // the handshake goroutine was started
	done      bool                // the handshake ended (ready was called)
	closed    bool                // OnClose has run
	sentClose bool                // close_notify was sent
	ended     bool                // the peer sent close_notify, or a record failed
	expired   bool                // the handshake timeout closed the connection
}

// Layer is a connection a TLS runs over: a Plain, or a TLS.
type Layer interface {
	Conn
	ProxyTLVs() []byte
	SetLinger(onoff, sec int) error
	paused() bool
}

// ErrHandshakeTimeout is the error ready gets when the handshake was not
// over within TLSOptions.Timeout.
var ErrHandshakeTimeout = errors.New("tls: handshake timeout")

// Handler receives a connection's events on its loop; it has the methods
// of eventloop.Handler.
type Handler interface {
	OnTraffic()
	OnClose(err error)
}

// Loop is what TLS needs of its event loop (an *eventloop.Loop).
type Loop interface {
	// Post runs fn on the loop; any goroutine may call it.
	Post(fn func())
	// After runs fn on the loop once d has passed.
	After(d time.Duration, fn func()) *time.Timer
}

// TLSOptions are what NewServerTLS and NewClientTLS need besides the
// connection.
type TLSOptions struct {
	Loop    Loop
	Pool    *HandshakePool
	Timeout time.Duration // of the handshake, from the connection's start; 0: none
}

// HandshakePool bounds how many handshakes compute at once, over every
// loop of a server. A handshake holds a slot while crypto/tls works and
// gives it back while it waits for the peer's next bytes, so peers that
// stall their handshakes take no slot from those that do not; handshakes
// beyond the bound wait for a slot, in turn.
type HandshakePool struct {
	slots chan struct{}
	// parked takes a handshake to a goroutine that ran one and waits for
	// the next (unbuffered: a send succeeds only when one waits). Its
	// stack has grown through crypto/tls already; a new goroutine's
	// would grow again, copied several times per handshake.
	parked chan *TLS
}

// NewHandshakePool makes a pool of n slots (n <= 0: 1).
func NewHandshakePool(n int) *HandshakePool {
	return &HandshakePool{slots: make(chan struct{}, max(n, 1)), parked: make(chan *TLS)}
}

func (p *HandshakePool) acquire() { p.slots <- struct{}{} }
func (p *HandshakePool) release() { <-p.slots }

// workerIdle is how long a goroutine that ran a handshake waits for
// another before it ends.
const workerIdle = 10 * time.Second

// run hands t's handshake to a parked goroutine, or to a new one.
func (p *HandshakePool) run(t *TLS) {
	select {
	case p.parked <- t:
	default:
		go p.worker(t)
	}
}

// worker runs t's handshake, then those handed to it while it waits,
// until none comes for workerIdle.
func (p *HandshakePool) worker(t *TLS) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		t.handshake()
		idle.Reset(workerIdle)
		select {
		case t = <-p.parked:
		case <-idle.C:
			return
		}
	}
}

// maxHandshakeInput bounds the bytes handed to the handshake goroutine
// ahead of its reads: a client's flights are a few KiB, but a TLS 1.3
// client sends its request right after its last flight, without waiting
// for the server. What arrives beyond waits in the Plain connection,
// which stops reading until the handshake takes it or ends.
const maxHandshakeInput = 64 << 10

// NewServerTLS serves TLS with cfg on p, which has just been accepted;
// the caller makes the returned TLS the gnet connection's handler. The
// handshake starts when the client's first bytes arrive. When it ends,
// ready is called on the loop: with err nil, it returns the handler of
// the clear connection (nil closes it); with an error, the connection is
// closing and what it returns is ignored. A handshake not over within
// o.Timeout closes the connection.
func NewServerTLS(p *Plain, cfg *tls.Config, o TLSOptions, ready func(t *TLS, err error) Handler) *TLS {
	t := newTLS(p, o, ready)
	t.tc = tls.Server(t.w, cfg)
	return t
}

// NewClientTLS starts a client handshake with cfg on p, a connection
// just dialled (or a TLS whose handshake is over), as NewServerTLS does
// for a server; the handshake starts at once. The caller makes the TLS
// the handler of p's events.
func NewClientTLS(p Layer, cfg *tls.Config, o TLSOptions, ready func(t *TLS, err error) Handler) *TLS {
	t := newTLS(p, o, ready)
	t.tc = tls.Client(t.w, cfg)
	t.start()
	return t
}

func newTLS(p Layer, o TLSOptions, ready func(*TLS, error) Handler) *TLS {
	t := &TLS{p: p, loop: o.Loop, ready: ready}
	t.w = &wire{t: t, pool: o.Pool}
	t.w.cond = sync.NewCond(&t.w.mu)
	if o.Timeout > 0 {
		t.timer = o.Loop.After(o.Timeout, t.expire)
	}
	return t
}

// expire closes a connection whose handshake is not over in time.
func (t *TLS) expire() {
	if !t.done && !t.closed {
		t.expired = true
		t.p.Close()
	}
}

// start runs the handshake on a goroutine of the pool, which computes
// only when it holds a slot of the pool.
func (t *TLS) start() {
	t.started = true
	t.w.pool.run(t)
}

// handshake runs on the pool's goroutine until the handshake ends.
func (t *TLS) handshake() {
	w := t.w
	w.pool.acquire()
	w.holding = true
	err := t.tc.Handshake()
	if w.holding {
		w.holding = false
		w.pool.release()
	}
	// Under mu, so that the loop, which takes mu before it reads err,
	// sees every write the handshake made to tc.
	w.mu.Lock()
	w.err, w.finished = err, true
	w.mu.Unlock()
	t.loop.Post(t.handshakeDone)
}

// handshakeDone ends the handshake on the loop. The goroutine posted it
// after its last use of tc: from here on tc is the loop's.
func (t *TLS) handshakeDone() {
	t.flushHandshake()
	t.w.mu.Lock()
	err := t.w.err
	t.w.mu.Unlock()
	if t.done {
		return
	}
	if t.closed {
		// Closed while the handshake ran (OnClose left the outcome to
		// this): its error, if it failed, says more than the close.
		t.done = true
		switch {
		case t.expired:
			err = ErrHandshakeTimeout
		case err == nil:
			err = net.ErrClosed
		}
		t.ready(t, err)
		return
	}
	t.done = true
	if t.timer != nil {
		t.timer.Stop()
	}
	if err != nil {
		t.p.Close()
		t.ready(t, err)
		return
	}
	t.w.mu.Lock()
	t.w.onLoop = true
	t.w.mu.Unlock()
	if t.p.paused() {
		t.p.ResumeRead() // bytes held during the handshake are read below
	}
	t.state = t.tc.ConnectionState()
	t.facts = factsOf(&t.state)
	t.h = t.ready(t, nil)
	if t.h == nil {
		t.p.Close()
		return
	}
	// Records may have come with the peer's last flight.
	t.OnTraffic()
}

// flushHandshake writes what the handshake goroutine has produced.
func (t *TLS) flushHandshake() {
	w := t.w
	w.mu.Lock()
	out := w.out
	w.out, w.posted = nil, false
	w.mu.Unlock()
	if len(out) > 0 && !t.closed {
		t.p.Write(out)
	}
}

// OnTraffic takes what arrived: during the handshake it goes to the
// handshake goroutine; after, the records are decrypted and the handler
// is told if they held bytes.
func (t *TLS) OnTraffic() {
	if !t.done {
		t.feedHandshake()
		return
	}
	if t.h == nil || t.ended {
		t.p.Discard(-1)
		return
	}
	before := len(t.in) - t.off
	t.decrypt()
	if len(t.in)-t.off > before {
		t.h.OnTraffic()
	}
	t.flush()
	if t.ended && !t.closed {
		// The peer ended its side (close_notify) or sent a bad record.
		t.p.Close()
	}
}

// feedHandshake hands the inbound bytes to the handshake goroutine,
// starting it with the first ones.
func (t *TLS) feedHandshake() {
	if t.done || t.closed {
		return // posted by the handshake goroutine, which has ended since
	}
	b := t.p.Peek()
	if len(b) == 0 {
		return
	}
	w := t.w
	w.mu.Lock()
	n := min(len(b), maxHandshakeInput-len(w.in))
	w.in = append(w.in, b[:n]...)
	w.held = n < len(b)
	w.cond.Signal()
	w.mu.Unlock()
	t.p.Discard(n)
	if n < len(b) {
		t.p.PauseRead()
	} else if t.p.paused() {
		t.p.ResumeRead()
	}
	if !t.started {
		t.start()
	}
}

// readChunk is the least free space decrypt reads records into.
const readChunk = 16 << 10

// decrypt reads every complete record buffered into t.in.
func (t *TLS) decrypt() {
	for {
		if t.off > 0 && t.off == len(t.in) {
			t.in, t.off = t.in[:0], 0
		}
		if cap(t.in)-len(t.in) < readChunk {
			if t.off > 0 && t.off >= len(t.in)/2 {
				n := copy(t.in, t.in[t.off:])
				t.in, t.off = t.in[:n], 0
			}
			if cap(t.in)-len(t.in) < readChunk {
				t.in = append(t.in, make([]byte, readChunk)...)[:len(t.in)]
			}
		}
		n, err := t.tc.Read(t.in[len(t.in):cap(t.in)])
		t.in = t.in[:len(t.in)+n]
		if err != nil {
			if !errors.Is(err, errWouldBlock) {
				t.ended = true
			}
			return
		}
	}
}

// flush writes the records crypto/tls produced on the loop (replies to
// post-handshake messages, or records of Write).
func (t *TLS) flush() {
	w := t.w
	if len(w.out) == 0 {
		return
	}
	if !t.closed {
		t.p.Write(w.out)
	}
	w.out = w.out[:0]
	if cap(w.out) > maxKeptOut {
		w.out = nil
	}
}

// maxKeptOut is the largest record buffer a connection keeps between
// writes; a larger one, grown by a large write, is let go.
const maxKeptOut = 64 << 10

// OnClose tells the handler, and wakes a handshake waiting for bytes.
func (t *TLS) OnClose(err error) {
	t.closed = true
	w := t.w
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
	if !t.done {
		// Closed during the handshake (its timeout, a peer that left):
		// whoever waits for it learns it failed. While the handshake's
		// goroutine runs, handshakeDone tells, once it ends (soon: its
		// reads fail from now on): a handshake that failed (a
		// certificate refused) has sent its alert, which the peer may
		// answer by closing before the goroutine returned its error,
		// which says more than the close.
		w.mu.Lock()
		running, failed := t.started && !w.finished, w.err
		w.mu.Unlock()
		if running {
			return
		}
		t.done = true
		switch {
		case t.expired:
			err = ErrHandshakeTimeout
		case failed != nil:
			err = failed // finished, handshakeDone not run yet
		case err == nil:
			err = net.ErrClosed
		}
		t.ready(t, err)
		return
	}
	if t.h != nil {
		t.h.OnClose(err)
	}
}

// Peek returns the decrypted bytes not yet discarded.
func (t *TLS) Peek() []byte { return t.in[t.off:] }

func (t *TLS) Discard(n int) {
	if n < 0 || n > len(t.in)-t.off {
		n = len(t.in) - t.off
	}
	t.off += n
	if t.off == len(t.in) {
		t.in, t.off = t.in[:0], 0
		if cap(t.in) > 4*readChunk {
			t.in = nil // a burst grew it: do not keep it
		}
	}
}

func (t *TLS) Inbound() int { return len(t.in) - t.off }

// Write encrypts b into records and writes them. Before the handshake
// has succeeded, or once the connection is closing, b is dropped.
func (t *TLS) Write(b []byte) {
	if len(b) == 0 || !t.state.HandshakeComplete || t.closed || t.sentClose {
		return
	}
	// Encrypted a piece at a time, so that the record buffer stays small
	// and is reused: a large write would grow it past maxKeptOut and
	// leave a new one to allocate on every write.
	for len(b) > 0 {
		k := min(len(b), writePiece)
		_, _ = t.tc.Write(b[:k])
		t.flush()
		b = b[k:]
	}
}

// writePiece is how much Write encrypts at once: three full records,
// whose framing still fits the record buffer kept (maxKeptOut).
const writePiece = 3 * 16384

// Outbound is the encrypted bytes not yet taken by the kernel.
func (t *TLS) Outbound() int { return t.p.Outbound() }

// CloseWrite sends close_notify, then half-closes the TCP connection.
func (t *TLS) CloseWrite() {
	t.notifyClose()
	t.p.CloseWrite()
}

// notifyClose sends close_notify once, if the handshake succeeded.
func (t *TLS) notifyClose() {
	if t.sentClose || !t.state.HandshakeComplete || t.closed {
		return
	}
	t.sentClose = true
	_ = t.tc.CloseWrite()
	t.flush()
}

// Close sends close_notify and closes the connection (gnet writes what is
// queued first).
func (t *TLS) Close() {
	t.notifyClose()
	t.p.Close()
}

func (t *TLS) PauseRead()   { t.p.PauseRead() }
func (t *TLS) ResumeRead()  { t.p.ResumeRead() }
func (t *TLS) paused() bool { return t.p.paused() }

// Idle reports whether no byte waits: no clear byte, and nothing in the
// connection under it.
func (t *TLS) Idle() bool { return t.Inbound() == 0 && t.p.Idle() }

// Unread reports the socket's bytes not read yet: records, decrypted when
// the loop reads them.
func (t *TLS) Unread() bool { return t.p.Unread() }

func (t *TLS) SetSockopt(level, opt, value int) error { return t.p.SetSockopt(level, opt, value) }
func (t *TLS) RemoteAddr() net.Addr                   { return t.p.RemoteAddr() }
func (t *TLS) LocalAddr() net.Addr                    { return t.p.LocalAddr() }

// ProxyTLVs returns the TLVs of the PROXY header the connection under
// started with; nil: none.
func (t *TLS) ProxyTLVs() []byte { return t.p.ProxyTLVs() }

// SetLinger sets SO_LINGER on the connection under (see Plain.SetLinger).
func (t *TLS) SetLinger(onoff, sec int) error { return t.p.SetLinger(onoff, sec) }

// State is the connection's TLS state once the handshake succeeded.
func (t *TLS) State() *tls.ConnectionState { return &t.state }

// Facts are what the ssl_fc fetches tell of a connection, formatted once
// per connection.
type Facts struct {
	Version []byte // "TLSv1.2", "TLSv1.3"
	Cipher  []byte // OpenSSL's name of the cipher suite, as HAProxy gives it
	SNI     []byte // the server name the client sent
	ALPN    []byte // the protocol ALPN settled on
	// Client is the certificate the client presented (the ssl_c
	// fetches), its facts as ClientFacts encodes them; empty: none.
	Client []byte
}

// Facts returns the connection's facts once the handshake succeeded.
func (t *TLS) Facts() *Facts { return &t.facts }

func factsOf(st *tls.ConnectionState) Facts {
	f := Facts{SNI: []byte(st.ServerName), ALPN: []byte(st.NegotiatedProtocol)}
	switch st.Version {
	case tls.VersionTLS12:
		f.Version = []byte("TLSv1.2")
	case tls.VersionTLS13:
		f.Version = []byte("TLSv1.3")
	default:
		f.Version = []byte(tls.VersionName(st.Version))
	}
	name := tls.CipherSuiteName(st.CipherSuite)
	if o, ok := opensslNames[name]; ok {
		name = o
	}
	f.Cipher = []byte(name)
	if len(st.PeerCertificates) > 0 {
		f.Client = ClientFacts(st.PeerCertificates[0])
	}
	return f
}

// opensslNames are OpenSSL's names of the TLS 1.2 suites crypto/tls
// implements (TLS 1.3 suites have one name in both).
var opensslNames = map[string]string{
	"TLS_RSA_WITH_3DES_EDE_CBC_SHA":                 "DES-CBC3-SHA",
	"TLS_RSA_WITH_AES_128_CBC_SHA":                  "AES128-SHA",
	"TLS_RSA_WITH_AES_256_CBC_SHA":                  "AES256-SHA",
	"TLS_RSA_WITH_AES_128_CBC_SHA256":               "AES128-SHA256",
	"TLS_RSA_WITH_AES_128_GCM_SHA256":               "AES128-GCM-SHA256",
	"TLS_RSA_WITH_AES_256_GCM_SHA384":               "AES256-GCM-SHA384",
	"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA":           "ECDHE-RSA-DES-CBC3-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA":          "ECDHE-ECDSA-AES128-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA":          "ECDHE-ECDSA-AES256-SHA",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA":            "ECDHE-RSA-AES128-SHA",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA":            "ECDHE-RSA-AES256-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256":       "ECDHE-ECDSA-AES128-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256":         "ECDHE-RSA-AES128-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":         "ECDHE-RSA-AES128-GCM-SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":       "ECDHE-ECDSA-AES128-GCM-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384":         "ECDHE-RSA-AES256-GCM-SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384":       "ECDHE-ECDSA-AES256-GCM-SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256":   "ECDHE-RSA-CHACHA20-POLY1305",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}

// wire is the net.Conn crypto/tls reads and writes. During the handshake
// its Read waits for the bytes the loop feeds (in), and its Write queues
// for the loop (out); both under mu. Once the handshake is over (onLoop),
// it is called on the loop only: Read takes what is left of in, then the
// Plain connection's inbound bytes, and never blocks; Write appends to out,
// which TLS.flush writes.
type wire struct {
	t    *TLS
	pool *HandshakePool

	mu     sync.Mutex
	cond   *sync.Cond // signalled when in grows or the connection closes
	in     []byte
	out    []byte
	posted bool // a flushHandshake is posted to the loop
	held   bool // the loop holds inbound bytes that did not fit in in
	closed bool
	onLoop bool
	err    error // the handshake's outcome, once finished
	// finished: the handshake's goroutine has returned (and posted
	// handshakeDone).
	finished bool

	holding bool // the handshake goroutine holds a slot; that goroutine's only
}

// errWouldBlock is what Read returns on the loop when no byte is buffered:
// temporary, so crypto/tls keeps the connection usable and reads on next
// time.
var errWouldBlock = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls: no bytes buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func (w *wire) Read(b []byte) (int, error) {
	w.mu.Lock()
	if w.onLoop {
		n := copy(b, w.in)
		w.in = w.in[n:]
		if len(w.in) == 0 {
			w.in = nil
		}
		w.mu.Unlock()
		if n == 0 {
			n = copy(b, w.t.p.Peek())
			w.t.p.Discard(n)
		}
		if n == 0 {
			return 0, errWouldBlock
		}
		return n, nil
	}
	for len(w.in) == 0 && !w.closed {
		if w.holding {
			w.holding = false
			w.pool.release()
		}
		w.cond.Wait()
	}
	if len(w.in) == 0 {
		w.mu.Unlock()
		return 0, net.ErrClosed
	}
	n := copy(b, w.in)
	w.in = w.in[n:]
	if len(w.in) == 0 && w.held {
		// The loop holds more: have it hand them over.
		w.held = false
		w.t.loop.Post(w.t.feedHandshake)
	}
	w.mu.Unlock()
	if !w.holding {
		w.pool.acquire()
		w.holding = true
	}
	return n, nil
}

func (w *wire) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, net.ErrClosed
	}
	w.out = append(w.out, b...)
	if !w.onLoop && !w.posted {
		w.posted = true
		w.t.loop.Post(w.t.flushHandshake)
	}
	return len(b), nil
}

func (w *wire) Close() error                     { return nil }
func (w *wire) LocalAddr() net.Addr              { return w.t.p.LocalAddr() }
func (w *wire) RemoteAddr() net.Addr             { return w.t.p.RemoteAddr() }
func (w *wire) SetDeadline(time.Time) error      { return nil }
func (w *wire) SetReadDeadline(time.Time) error  { return nil }
func (w *wire) SetWriteDeadline(time.Time) error { return nil }

// KernelTLS reports whether the kernel offers TLS offload (the "tls"
// upper-layer protocol). luaedge does not use it: records are encrypted
// and decrypted by crypto/tls on the loops either way.
func KernelTLS() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
	return err == nil && strings.Contains(" "+strings.TrimSpace(string(b))+" ", " tls ")
}
