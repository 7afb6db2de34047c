package ws

import (
	"io"
	"slices"
	"strconv"

	"github.com/klauspost/compress/flate"
)

// Deflate is a permessage-deflate agreement (RFC 7692 §7): the parameters
// of the server's response. The zero value means no compression.
type Deflate struct {
	On bool
	// ServerNoContextTakeover: the server compresses each message on its
	// own. Our responses always say so (§7.1.1.1 allows it), so a server
	// keeps no compressor per connection.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client compresses each message on its
	// own, so the server keeps no window for it. Accepted when offered.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits and ClientMaxWindowBits bound the LZ77 window of
	// each side's compressor to 2^bits bytes (8–15); 0 when the response
	// leaves the parameter out, which means 15.
	ServerMaxWindowBits uint8
	ClientMaxWindowBits uint8
}

// ExtensionName is the token of permessage-deflate in
// Sec-WebSocket-Extensions.
const ExtensionName = "permessage-deflate"

// sendBits returns the window bits the compressor of role may use.
func (d Deflate) sendBits(role Role) int {
	bits := d.ServerMaxWindowBits
	if role == Client {
		bits = d.ClientMaxWindowBits
	}
	if bits == 0 {
		return 15
	}
	return int(bits)
}

// peerWindow returns how many bytes of inflated messages role keeps
// between messages: the peer's window, or 0 when the peer compresses each
// message on its own.
func (d Deflate) peerWindow(role Role) int {
	if role == Server {
		if d.ClientNoContextTakeover {
			return 0
		}
		return 1 << d.sendBits(Client)
	}
	if d.ServerNoContextTakeover {
		return 0
	}
	return 1 << d.sendBits(Server)
}

// AppendExtension appends the response's Sec-WebSocket-Extensions value.
func (d Deflate) AppendExtension(dst []byte) []byte {
	dst = append(dst, ExtensionName...)
	if d.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if d.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if d.ServerMaxWindowBits != 0 {
		dst = append(dst, "; server_max_window_bits="...)
		dst = strconv.AppendUint(dst, uint64(d.ServerMaxWindowBits), 10)
	}
	if d.ClientMaxWindowBits != 0 {
		dst = append(dst, "; client_max_window_bits="...)
		dst = strconv.AppendUint(dst, uint64(d.ClientMaxWindowBits), 10)
	}
	return dst
}

// negotiateDeflate returns the agreement on the first permessage-deflate
// offer that can be accepted in values, the Sec-WebSocket-Extensions fields
// of a request in order (RFC 7692 §5), or the zero Deflate.
func negotiateDeflate(values [][]byte) Deflate {
	for _, v := range values {
		for e, rest := nextElem(v); e != nil; e, rest = nextElem(rest) {
			name, params := cut(e, ';')
			if !equalFold(trimOWS(name), ExtensionName) {
				continue
			}
			if d, ok := acceptDeflate(params); ok {
				return d
			}
		}
	}
	return Deflate{}
}

// acceptDeflate answers one permessage-deflate offer given its parameters
// (what follows the first ';', nil when none). An offer with an unknown,
// repeated or invalid parameter is declined (RFC 7692 §7.1).
func acceptDeflate(params []byte) (Deflate, bool) {
	p, ok := parseDeflateParams(params)
	// The client asks us to compress with a smaller window: we must, and
	// say so with the same value (§7.1.2.1); it must give one. If it says
	// which window it will compress with, we take it, which bounds the
	// window we keep for it (§7.1.2.2); without a value, it uses 15.
	if !ok || p.serverBitsGiven && p.serverBits == 0 {
		return Deflate{}, false
	}
	return Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: p.clientNoContext,
		ServerMaxWindowBits: p.serverBits, ClientMaxWindowBits: p.clientBits}, true
}

// ClientOffer is the permessage-deflate offer of our client: it
// compresses each message on its own (client_no_context_takeover, so the
// server keeps no window for it), and lets the server bound its window
// (client_max_window_bits without a value, RFC 7692 §7.1.2.2).
const ClientOffer = ExtensionName + "; client_no_context_takeover; client_max_window_bits"

// answerDeflate checks a server's answer to ClientOffer, the parameters of
// its permessage-deflate element (RFC 7692 §7.1): each at most once, the
// window bits with a value (8 to 15). The server may add
// server_no_context_takeover and server_max_window_bits though we did not
// ask for them.
func answerDeflate(params []byte) (Deflate, bool) {
	p, ok := parseDeflateParams(params)
	if !ok || p.serverBitsGiven && p.serverBits == 0 || p.clientBitsGiven && p.clientBits == 0 {
		return Deflate{}, false
	}
	return Deflate{On: true, ServerNoContextTakeover: p.serverNoContext, ClientNoContextTakeover: p.clientNoContext,
		ServerMaxWindowBits: p.serverBits, ClientMaxWindowBits: p.clientBits}, true
}

// deflateParams are the parameters of one permessage-deflate element, an
// offer's or an answer's.
type deflateParams struct {
	serverNoContext, clientNoContext bool
	serverBitsGiven, clientBitsGiven bool
	serverBits, clientBits           uint8 // 0 when given without a value
}

// parseDeflateParams parses params (what follows the element's first ';',
// nil when none). It reports false for an unknown or repeated parameter,
// a value on a *_no_context_takeover, or a window size that is not 8 to
// 15; whether a *_max_window_bits needs its value is the caller's to say.
func parseDeflateParams(params []byte) (deflateParams, bool) {
	var d deflateParams
	for params != nil {
		var p []byte
		p, params = cut(params, ';')
		name, value := cut(p, '=')
		name = trimOWS(name)
		hasValue := value != nil
		if hasValue {
			value = trimOWS(value)
			// A value may be a quoted string (RFC 6455 §9.1); ours are
			// digits, which need no escapes.
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
		}
		var seen *bool
		var bits *uint8
		switch {
		case equalFold(name, "server_no_context_takeover"):
			seen = &d.serverNoContext
		case equalFold(name, "client_no_context_takeover"):
			seen = &d.clientNoContext
		case equalFold(name, "server_max_window_bits"):
			seen, bits = &d.serverBitsGiven, &d.serverBits
		case equalFold(name, "client_max_window_bits"):
			seen, bits = &d.clientBitsGiven, &d.clientBits
		default:
			return deflateParams{}, false
		}
		if *seen || hasValue && bits == nil {
			return deflateParams{}, false
		}
		*seen = true
		if hasValue {
			b, ok := windowBits(value)
			if !ok {
				return deflateParams{}, false
			}
			*bits = b
		}
	}
	return d, true
}

// windowBits parses a *_max_window_bits value: 8 to 15, without leading
// zeros (RFC 7692 §7.1.2).
func windowBits(v []byte) (uint8, bool) {
	switch {
	case len(v) == 1 && (v[0] == '8' || v[0] == '9'):
		return v[0] - '0', true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + v[1] - '0', true
	}
	return 0, false
}

// compressLevel is klauspost/compress's BestSpeed. Measured on a 1 KiB
// JSON message (BenchmarkCompress, two shared cores): 4 to 7 µs against 9
// to 12 µs for compress/flate at the same level, for 235 bytes of output
// against 218; inflating costs the same with either (BenchmarkInflate). Its
// writer is also the smallest (0.8 MB against 1.2 MB), and only its writers
// can bound their window, as server_max_window_bits asks.
const compressLevel = flate.BestSpeed

// Flate is one loop's compressors and decompressor: compressing and
// inflating finish within one call of a Writer or a Reader, so the
// connections of a loop share them, and no connection holds a compressor
// (about 1 MB each) or a decompressor (about 40 KiB). It must be used by one
// goroutine at a time: its loop's. The zero value is ready; a compressor
// per window size asked for, and the decompressor, are made on first use.
type Flate struct {
	writers [8]*flate.Writer // by window bits - 8
	out     sink             // what the writers write to: the caller's buffer, during one call
	reader  io.ReadCloser    // a flate.Resetter
	src     source           // what the reader reads, during one call
}

// sink appends what a compressor writes to the caller's buffer.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// writer returns the compressor for a window of 2^bits bytes.
func (f *Flate) writer(bits int) *flate.Writer {
	w := f.writers[bits-8]
	if w == nil {
		// Neither call can fail: the level and sizes are valid.
		if bits == 15 {
			w, _ = flate.NewWriter(&f.out, compressLevel)
		} else {
			w, _ = flate.NewWriterWindow(&f.out, 1<<bits)
		}
		f.writers[bits-8] = w
	}
	return w
}

// compress appends p compressed as a message on its own (RFC 7692 §7.2.1):
// deflate blocks ending in a sync flush, without the flush's final
// 00 00 ff ff.
func (f *Flate) compress(dst, p []byte, bits int) []byte {
	w := f.writer(bits)
	f.out.b = dst
	w.Reset(&f.out)
	// The sink never fails, so neither do these.
	w.Write(p)
	w.Flush()
	dst = f.out.b
	f.out.b = nil
	return dst[:len(dst)-4]
}

// inflateTail is what follows a message's compressed bytes for the
// decompressor: the 00 00 ff ff the sender dropped (RFC 7692 §7.2.2), then
// an empty final block, so that the decompressor ends with io.EOF where the
// message ends. A message that ends with a final block of its own
// (§7.2.3.4) ends there, and the tail is not read.
var inflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// source is a message's compressed bytes then inflateTail, as an
// io.ByteReader so that the decompressor reads no further than it needs
// and wraps no buffer around it.
type source struct {
	p    []byte
	tail int
}

func (s *source) ReadByte() (byte, error) {
	if len(s.p) > 0 {
		c := s.p[0]
		s.p = s.p[1:]
		return c, nil
	}
	if s.tail < len(inflateTail) {
		s.tail++
		return inflateTail[s.tail-1], nil
	}
	return 0, io.EOF
}

func (s *source) Read(b []byte) (int, error) {
	if len(s.p) > 0 {
		n := copy(b, s.p)
		s.p = s.p[n:]
		return n, nil
	}
	if s.tail < len(inflateTail) {
		n := copy(b, inflateTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// inflate appends to dst the message compressed in p, the peer's window
// being dict (empty when it keeps no context). Inflating stops at limit+1
// bytes: a message inflating to more is refused with CloseTooBig, however
// much more it would have made (a decompression bomb costs us limit bytes).
func (f *Flate) inflate(dst, p, dict []byte, limit int) ([]byte, error) {
	f.src = source{p: p}
	if f.reader == nil {
		f.reader = flate.NewReader(&f.src)
	}
	f.reader.(flate.Resetter).Reset(&f.src, dict)
	defer func() { f.src = source{} }()
	start := len(dst)
	for {
		got := len(dst) - start
		if len(dst) == cap(dst) {
			// Compressed text commonly inflates three to ten times.
			want := max(2*got, 4*len(p), 512)
			dst = slices.Grow(dst, min(want, limit+1-got))
		}
		room := dst[len(dst):cap(dst)]
		if left := limit + 1 - got; len(room) > left {
			room = room[:left]
		}
		n, err := f.reader.Read(room)
		dst = dst[:len(dst)+n]
		switch {
		case len(dst)-start > limit:
			return dst, errInflateTooBig
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, errInflate
		}
	}
}

// slideWindow appends out to win, a peer's window of size bytes, keeping
// at least its last size bytes. win has room for twice the window, so the
// bytes kept are moved once per window's worth of messages, not per
// message.
func slideWindow(win, out []byte, size int) []byte {
	if len(out) >= size {
		return append(win[:0], out[len(out)-size:]...)
	}
	if cap(win) < 2*size {
		grown := make([]byte, len(win), 2*size)
		copy(grown, win)
		win = grown
	}
	if len(win)+len(out) > cap(win) {
		keep := size - len(out)
		win = win[:copy(win, win[len(win)-keep:])]
	}
	return append(win, out...)
}
