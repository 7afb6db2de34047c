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
	Syslog Syslog // its header, tag, host name and length

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
	w     io.Writer
	file  *os.File
	conn  net.Conn
	pid   string
	stamp []byte // the header after the PRI, for one buffer
	msg   []byte // the messages of one buffer (one line at a time to a socket)

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
// syslog://HOST:PORT (UDP), unix:///PATH (a Unix datagram socket, as
// /dev/log) or a file, appended to (a relative path is taken from dir);
// y says how each line is written (to a socket, one message each). It
// opens nothing until Start.
func New(id int, target, dir string, y Syslog) (*Sink, error) {
	s := &Sink{id: id, Target: target, Syslog: y, queue: make(chan []byte, queueLen), free: make(chan []byte, queueLen),
		reopen: make(chan struct{}, 1), done: make(chan struct{}), pid: strconv.Itoa(os.Getpid())}
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

// out writes a buffer of lines: as they are to a stream or file without
// header or length; else each with its header, cut at its length, and to
// a socket each as one message.
func (s *Sink) out(b []byte) {
	sock := s.kind == toSyslogUDP || s.kind == toSyslogUnix
	y := &s.Syslog
	if !sock && y.Header == HeaderRaw && y.Len == 0 {
		if _, err := s.w.Write(b); err != nil {
			s.errors.Add(1)
		}
		return
	}
	if sock && s.conn == nil {
		c, err := net.Dial("unixgram", s.path)
		if err != nil {
			s.errors.Add(1)
			return
		}
		s.conn = c
	}
	s.stamp = y.stamp(s.stamp[:0], time.Now(), s.pid)
	s.msg = s.msg[:0]
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var pri uint8
		if y.Header.hasPri() {
			pri, line = line[0], line[1:]
		}
		s.msg = y.appendMessage(s.msg, pri, s.stamp, line)
		if !sock {
			continue
		}
		if _, err := s.conn.Write(s.msg); err != nil {
			s.errors.Add(1)
			if s.kind == toSyslogUnix {
				s.conn.Close()
				s.conn = nil // dialled again for the next buffer
				return
			}
		}
		s.msg = s.msg[:0]
	}
	if !sock {
		if _, err := s.w.Write(s.msg); err != nil {
			s.errors.Add(1)
		}
	}
}

// Loop is one event loop's side of the sinks: a buffer per sink, filled
// by the loop's requests. It belongs to that loop and is used from its
// goroutine only (or once it has stopped).
type Loop struct {
	bufs  [][]byte // by sink id
	sinks []*Sink
	line  []byte // the line being written, formatted once for its targets
}

// NewLoop makes a loop's buffers for sinks (indexed by their id).
func NewLoop(sinks []*Sink) *Loop {
	return &Loop{bufs: make([][]byte, len(sinks)), sinks: sinks}
}

// Target is one of the places a frontend's lines go (one log line of
// HAProxy's): its sink, the levels it takes and the facility it gives,
// and its sampling (nil: every line). Shared by the loops.
type Target struct {
	Sink   *Sink
	Levels Levels
	Sample *Sample
}

// Write formats r with f, once, into the loop's buffer of each target
// whose levels take a line at level, handing a buffer to its writer once
// it is full. A sink whose header shows the line's PRI holds it as one
// byte before each line, for its writer.
func (l *Loop) Write(ts []Target, f *Format, r *Record, level Level) {
	formatted := false
	for i := range ts {
		t := &ts[i]
		pri, ok := t.Levels.Priority(level)
		if !ok || (t.Sample != nil && !t.Sample.take()) {
			continue
		}
		if !formatted {
			l.line = f.Append(l.line[:0], r)
			formatted = true
		}
		s := t.Sink
		b := l.bufs[s.id]
		if b == nil {
			b = s.buffer()
		}
		if s.Syslog.Header.hasPri() {
			b = append(b, pri)
		}
		b = append(b, l.line...)
		if len(b) >= flushSize {
			s.hand(b)
			b = nil
		}
		l.bufs[s.id] = b
	}
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
