package accesslog

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes of the hand-over between the loops and a sink's writer: a loop
// hands its buffer over once it holds flushSize bytes (or at Flush); the
// writer's queue holds at most queueLen buffers, past which a loop drops
// the buffer it hands over.
const (
	flushSize = 32 << 10
	queueLen  = 256
)

// Sink is where lines go, with the goroutine that writes them. It is
// shared by the loops; they reach it only through Loop.
type Sink struct {
	id     int    // its buffer in each Loop
	Target string // as configured

	kind   sinkKind
	path   string // file, or the socket of unix:// and syslog://
	queue  chan []byte
	free   chan []byte
	reopen chan struct{}
	done   chan struct{}
	once   sync.Once
	// started: Start ran; written before the loops run, read after.
	started bool

	// Owned by the writer goroutine once Start has run.
	w    io.Writer
	file *os.File
	conn net.Conn
	hdr  []byte // syslog: the header after the PRI
	msg  []byte // syslog: the message being sent

	// dropped counts lines lost because the writer fell behind: written
	// by a loop only when it drops a buffer, not per line.
	dropped atomic.Int64
	// errors counts writes that failed (a full disk, a syslog socket gone).
	errors atomic.Int64
}

type sinkKind uint8

const (
	toStdout sinkKind = iota
	toStderr
	toFile
	toSyslogUDP
	toSyslogUnix
)

// New makes the sink that target names: stdout, stderr,
// syslog://HOST:PORT (RFC 5424 over UDP), unix:///PATH (RFC 5424 over a
// Unix datagram socket, as /dev/log) or a file, appended to (a relative
// path is taken from dir). It opens nothing until Start.
func New(id int, target, dir string) (*Sink, error) {
	s := &Sink{id: id, Target: target, queue: make(chan []byte, queueLen), free: make(chan []byte, queueLen),
		reopen: make(chan struct{}, 1), done: make(chan struct{})}
	switch {
	case target == "stdout":
		s.kind, s.w = toStdout, os.Stdout
	case target == "stderr":
		s.kind, s.w = toStderr, os.Stderr
	case strings.HasPrefix(target, "syslog://"):
		s.kind, s.path = toSyslogUDP, strings.TrimPrefix(target, "syslog://")
		if _, _, err := net.SplitHostPort(s.path); err != nil {
			return nil, fmt.Errorf("%s: want syslog://HOST:PORT: %v", target, err)
		}
	case strings.HasPrefix(target, "unix://"):
		s.kind, s.path = toSyslogUnix, strings.TrimPrefix(target, "unix://")
		if s.path == "" {
			return nil, fmt.Errorf("%s: want unix:///PATH", target)
		}
		// Dialled by the writer: the syslog daemon may start after us.
	case target == "":
		return nil, fmt.Errorf("empty target: want stdout, stderr, a file, syslog://HOST:PORT or unix:///PATH")
	default:
		s.kind, s.path = toFile, target
		if dir != "" && !strings.HasPrefix(target, "/") {
			s.path = dir + "/" + target
		}
	}
	return s, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// Start opens a file (an error if it cannot be) or a syslog address (an
// error if it does not resolve), and runs the writer goroutine until
// Close. A Unix socket is dialled by the writer: the syslog daemon may
// start after luaedge.
func (s *Sink) Start() error {
	switch s.kind {
	case toFile:
		f, err := openFile(s.path)
		if err != nil {
			return err
		}
		s.file, s.w = f, f
	case toSyslogUDP:
		c, err := net.Dial("udp", s.path)
		if err != nil {
			return err
		}
		s.conn = c
	}
	s.started = true
	go s.write()
	return nil
}

// Reopen asks the writer to reopen a file (after a rotation moved it);
// the lines before go to the old file, those after to the new one. Other
// sinks ignore it.
func (s *Sink) Reopen() {
	select {
	case s.reopen <- struct{}{}:
	default: // one is pending already
	}
}

// Close writes what the loops handed over and stops the writer; the loops
// must have stopped handing buffers over (their last Flush done).
func (s *Sink) Close() {
	if !s.started {
		return
	}
	s.once.Do(func() { close(s.queue) })
	<-s.done
}

// Dropped is how many lines were dropped because the writer fell behind.
func (s *Sink) Dropped() int64 { return s.dropped.Load() }

// Errors is how many writes failed.
func (s *Sink) Errors() int64 { return s.errors.Load() }

func (s *Sink) write() {
	defer close(s.done)
	defer s.shut()
	for {
		select {
		case b, ok := <-s.queue:
			if !ok {
				return
			}
			s.out(b)
			select {
			case s.free <- b[:0]:
			default:
			}
		case <-s.reopen:
			s.reopenFile()
		}
	}
}

func (s *Sink) shut() {
	if s.file != nil {
		s.file.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
}

func (s *Sink) reopenFile() {
	if s.kind != toFile {
		return
	}
	f, err := openFile(s.path)
	if err != nil {
		s.errors.Add(1)
		fmt.Fprintf(os.Stderr, "access log: reopening %s: %v\n", s.path, err)
		return
	}
	s.file.Close()
	s.file, s.w = f, f
}

// out writes a buffer of lines.
func (s *Sink) out(b []byte) {
	switch s.kind {
	case toSyslogUDP, toSyslogUnix:
		s.syslog(b)
	default:
		if _, err := s.w.Write(b); err != nil {
			s.errors.Add(1)
		}
	}
}

// syslog sends each line as one RFC 5424 message: the PRI the loop put
// before it (Loop.Write), the app name luaedge, no structured data.
func (s *Sink) syslog(b []byte) {
	if s.conn == nil {
		c, err := net.Dial("unixgram", s.path)
		if err != nil {
			s.errors.Add(1)
			return
		}
		s.conn = c
	}
	// hdr is what follows the PRI, the same for the buffer's lines.
	s.hdr = append(s.hdr[:0], "1 "...)
	s.hdr = time.Now().UTC().AppendFormat(s.hdr, "2006-01-02T15:04:05.000000Z")
	s.hdr = append(s.hdr, ' ')
	s.hdr = append(s.hdr, hostname...)
	s.hdr = append(s.hdr, " luaedge "...)
	s.hdr = strconv.AppendInt(s.hdr, int64(os.Getpid()), 10)
	s.hdr = append(s.hdr, " - - "...)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		s.msg = append(s.msg[:0], '<')
		s.msg = strconv.AppendUint(s.msg, uint64(line[0]), 10)
		s.msg = append(s.msg, '>')
		s.msg = append(append(s.msg, s.hdr...), line[1:]...)
		if _, err := s.conn.Write(s.msg); err != nil {
			s.errors.Add(1)
			if s.kind == toSyslogUnix {
				s.conn.Close()
				s.conn = nil // dialled again for the next buffer
				return
			}
		}
	}
}

// Loop is one event loop's side of the sinks: a buffer per sink, filled
// by the loop's requests. It belongs to that loop and is used from its
// goroutine only (or once it has stopped).
type Loop struct {
	bufs  [][]byte // by sink id
	sinks []*Sink
}

// NewLoop makes a loop's buffers for sinks (indexed by their id).
func NewLoop(sinks []*Sink) *Loop {
	return &Loop{bufs: make([][]byte, len(sinks)), sinks: sinks}
}

// Write formats r with f into the loop's buffer for s, handing the buffer
// to s's writer once it is full. pri is the line's syslog PRI
// (Levels.Priority): a syslog sink's buffer holds it as one byte before
// each line, for its writer; the others do not write it.
func (l *Loop) Write(s *Sink, f *Format, r *Record, pri uint8) {
	b := l.bufs[s.id]
	if b == nil {
		b = s.buffer()
	}
	if s.kind == toSyslogUDP || s.kind == toSyslogUnix {
		b = append(b, pri)
	}
	b = f.Append(b, r)
	if len(b) >= flushSize {
		s.hand(b)
		b = nil
	}
	l.bufs[s.id] = b
}

// Flush hands every buffer holding lines to its writer: the loop calls it
// periodically, so that lines leave even when traffic is light.
func (l *Loop) Flush() {
	for i, b := range l.bufs {
		if len(b) > 0 {
			l.sinks[i].hand(b)
			l.bufs[i] = nil
		}
	}
}

// buffer returns an empty buffer, one the writer is done with if any.
func (s *Sink) buffer() []byte {
	select {
	case b := <-s.free:
		return b
	default:
		return make([]byte, 0, flushSize+flushSize/2)
	}
}

// hand queues b for the writer, or drops it if the queue is full: the
// loop does not wait for a slow sink.
func (s *Sink) hand(b []byte) {
	select {
	case s.queue <- b:
	default:
		s.dropped.Add(int64(bytes.Count(b, []byte{'\n'})))
	}
}
