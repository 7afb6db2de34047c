package lj

// The streams of http.zlib (lj/lua/http_zlib.lua): lua-http's inflate()
// and deflate() closures, each fed chunk by chunk, over klauspost/compress
// (the library proto/ws compresses with).
//
// Go's decompressors pull their input from an io.Reader and fail for good
// when it runs dry, while a script pushes its chunks as they arrive. So an
// inflater runs its decompressor on a goroutine of its own, which waits
// for the next chunk instead of failing; a gate call hands it a chunk and
// waits until it has inflated all it can of it. The loop waits for the
// decompression as it would for a computation of its own: no I/O happens
// there. A compressor needs no goroutine: each call writes and flushes.

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/luaedge/luaedge/cgo"
)

// MaxZlibStreams bounds the http.zlib streams one state holds at a time:
// each holds its window in Go memory (a compressor about 1 MiB), outside
// lua.memory_limit.
const MaxZlibStreams = 256

// DefaultInflateMax is how many bytes an inflate stream gives out at most
// when the script sets no limit: a small compressed body must not become
// gigabytes in memory.
const DefaultInflateMax = 64 << 20

// zstream is one inflate or deflate stream.
type zstream interface {
	// feed takes the next chunk (end: the last) and returns what it
	// produced.
	feed(p []byte, end bool) (out []byte, finished bool, err error)
	// close releases the stream (and its goroutine).
	close()
}

// zlibList is the streams of one state, by id (binding.zlib); ids are
// reused once freed (the Lua closure's finalizer). Used from the state's
// loop only.
type zlibList struct {
	list []zstream
	free []int
}

func (l *zlibList) add(z zstream) int {
	if n := len(l.free); n > 0 {
		id := l.free[n-1]
		l.free = l.free[:n-1]
		l.list[id] = z
		return id
	}
	l.list = append(l.list, z)
	return len(l.list) - 1
}

func (l *zlibList) get(id int64) zstream {
	if id < 0 || id >= int64(len(l.list)) {
		return nil
	}
	return l.list[id]
}

func (l *zlibList) remove(id int64) {
	z := l.get(id)
	if z == nil {
		return
	}
	z.close()
	l.list[id] = nil
	l.free = append(l.free, int(id))
}

func (l *zlibList) live() int { return len(l.list) - len(l.free) }

// closeAll releases every stream: the state is closing.
func (l *zlibList) closeAll() {
	for _, z := range l.list {
		if z != nil {
			z.close()
		}
	}
	l.list, l.free = nil, nil
}

// inflated is what an inflater's goroutine hands back: the bytes inflated
// since the last hand-back, and whether the stream ended (or failed).
type inflated struct {
	p   []byte
	end bool
	err error
}

// inflater inflates a zlib or gzip stream (told apart by its first two
// bytes, as zlib's automatic header detection does).
type inflater struct {
	in  chan []byte   // the next chunk; closed: no more input
	out chan inflated // buffered: the goroutine's last hand-back never waits
	// started: the goroutine runs (it starts with the first chunk);
	// ended: it has returned its last hand-back.
	started, ended bool
	max            int64

	// Owned by the goroutine between hand-overs (each channel operation
	// passes them to the other side).
	cur     []byte // input not yet read
	pending []byte // output not yet handed back
	total   int64
}

func newInflater(max int64) *inflater {
	return &inflater{in: make(chan []byte), out: make(chan inflated, 1), max: max}
}

func (z *inflater) feed(p []byte, end bool) ([]byte, bool, error) {
	if z.ended {
		return nil, true, errors.New("stream closed")
	}
	if !z.started {
		z.started = true
		z.cur = p
		go z.run()
	} else {
		z.in <- p
	}
	r := <-z.out
	if !r.end && end {
		close(z.in) // the stream is cut short: the goroutine reports it
		r2 := <-z.out
		r.p, r.end, r.err = append(r.p, r2.p...), true, r2.err
	}
	z.ended = r.end
	return r.p, r.end, r.err
}

func (z *inflater) close() {
	if z.started && !z.ended {
		close(z.in)
		<-z.out
	}
	z.ended = true
}

// more runs on the goroutine when its input ran out: it hands back the
// output so far and waits for the next chunk; false when there is none
// (the channel was closed).
func (z *inflater) more() bool {
	z.out <- inflated{p: z.pending}
	z.pending = nil
	p, ok := <-z.in
	z.cur = p
	return ok
}

// ReadByte and Read are the decompressor's source: they wait for chunks
// instead of running dry.
func (z *inflater) ReadByte() (byte, error) {
	for len(z.cur) == 0 {
		if !z.more() {
			return 0, io.EOF
		}
	}
	b := z.cur[0]
	z.cur = z.cur[1:]
	return b, nil
}

func (z *inflater) Read(p []byte) (int, error) {
	for len(z.cur) == 0 {
		if !z.more() {
			return 0, io.EOF
		}
	}
	n := copy(p, z.cur)
	z.cur = z.cur[n:]
	return n, nil
}

// run is the goroutine: it inflates until the stream ends or fails, and
// hands back its output before each wait for input and at the end.
func (z *inflater) run() {
	err := z.inflate()
	if errors.Is(err, io.EOF) {
		err = nil
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("invalid stream (it ends before its end)")
	}
	z.out <- inflated{p: z.pending, end: true, err: err}
	z.pending = nil
}

func (z *inflater) inflate() error {
	// Two bytes tell gzip (1f 8b) from zlib.
	for len(z.cur) < 2 {
		prev := z.cur
		if !z.more() {
			return io.ErrUnexpectedEOF
		}
		z.cur = append(prev, z.cur...)
	}
	var r io.Reader
	if z.cur[0] == 0x1f && z.cur[1] == 0x8b {
		g, err := gzip.NewReader(z)
		if err != nil {
			return err
		}
		g.Multistream(false)
		r = g
	} else {
		zr, err := zlib.NewReader(z)
		if err != nil {
			return err
		}
		r = zr
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		z.total += int64(n)
		if z.total > z.max {
			return fmt.Errorf("inflated data would exceed %d bytes", z.max)
		}
		z.pending = append(z.pending, buf[:n]...)
		if err != nil {
			return err
		}
	}
}

// deflater compresses into the zlib format; each chunk is flushed, so
// what it returns decompresses to everything given so far.
type deflater struct {
	buf    bytes.Buffer
	w      *zlib.Writer
	closed bool
}

func newDeflater() *deflater {
	d := &deflater{}
	d.w = zlib.NewWriter(&d.buf)
	return d
}

func (d *deflater) feed(p []byte, end bool) ([]byte, bool, error) {
	if d.closed {
		return nil, true, errors.New("stream closed")
	}
	if _, err := d.w.Write(p); err != nil {
		return nil, false, err
	}
	var err error
	if end {
		d.closed = true
		err = d.w.Close()
	} else {
		err = d.w.Flush()
	}
	out := bytes.Clone(d.buf.Bytes())
	d.buf.Reset()
	return out, end, err
}

func (d *deflater) close() { d.closed = true }

func zlibOf(c *cgo.Call) *zlibList {
	if b := bindingOf(c); b != nil {
		return &b.zlib
	}
	return nil
}

func init() {
	goFuncs["zlib_new"] = cgo.RegisterGoFunc(goZlibNew)
	goFuncs["zlib_feed"] = cgo.RegisterGoFunc(goZlibFeed)
	goFuncs["zlib_free"] = cgo.RegisterGoFunc(goZlibFree)
}

// goZlibNew(inflate, max) -> id: a stream; max bounds an inflater's
// output (0: DefaultInflateMax).
func goZlibNew(c *cgo.Call) int {
	l := zlibOf(c)
	if l == nil {
		return c.Error(errNoShared)
	}
	if l.live() >= MaxZlibStreams {
		return c.Error(fmt.Sprintf("http.zlib: this core holds %d streams, luaedge's limit (lj.MaxZlibStreams)", MaxZlibStreams))
	}
	var z zstream
	if c.Bool(1) {
		max := c.Int(2)
		if max <= 0 {
			max = DefaultInflateMax
		}
		z = newInflater(max)
	} else {
		z = newDeflater()
	}
	c.PushNumber(float64(l.add(z)))
	return 1
}

// goZlibFeed(id, chunk, end) -> output, finished
func goZlibFeed(c *cgo.Call) int {
	var z zstream
	if l := zlibOf(c); l != nil {
		z = l.get(c.Int(1))
	}
	if z == nil {
		return c.Error("http.zlib: this stream was freed")
	}
	out, finished, err := z.feed([]byte(c.String(2)), c.Bool(3))
	if err != nil {
		return c.Error(err.Error())
	}
	c.PushString(string(out))
	c.PushBool(finished)
	return 2
}

// goZlibFree(id)
func goZlibFree(c *cgo.Call) int {
	if l := zlibOf(c); l != nil {
		l.remove(c.Int(1))
	}
	return 0
}
