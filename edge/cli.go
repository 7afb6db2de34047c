package edge

import (
	"context"
	"errors"
	"time"

	"github.com/luaedge/luaedge/cgo"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/stream"
)

// Runtime-socket commands registered by scripts (core.register_cli). Each
// loop's state registers them; a command runs on the first loop, as a
// stream of its own (a coroutine that may sleep or use sockets, under the
// CPU limits), whose output is the answer.

// CLIs returns the commands the scripts registered, as the first loop's
// state has them; the i-th is RunCLI's i+1.
func (s *Server) CLIs() []lj.CLI {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clis
}

// maxCLIOutput bounds the answer of a script's command; what it sends
// past that is dropped.
const maxCLIOutput = 16 << 20

// ErrCLITimeout is RunCLI's error when the command did not end in time:
// its coroutine is stopped.
var ErrCLITimeout = errors.New("the Lua command did not end in time")

// RunCLI runs the id-th command (from 1) with the command's words on the
// first loop and returns what it sent. failed is set when the function
// raised an error (logged with its traceback, as a task's): the answer is
// what it sent before. If ctx ends first, the coroutine is stopped and
// the error is ErrCLITimeout.
func (s *Server) RunCLI(ctx context.Context, id int, words []string) (answer string, failed bool, err error) {
	s.mu.Lock()
	ls := s.loops[0]
	s.mu.Unlock()
	if ls == nil {
		return "", false, errors.New("the server is not serving yet")
	}
	done := make(chan cliResult, 1)
	p := &cliProtocol{done: done}
	ls.loop.Post(func() {
		st := stream.New(&ls.env, p, stream.KindTCP, nil)
		p.st = st
		if err := st.Start(lj.EntryCLI, id, 0); err != nil {
			p.finish(false, err)
			return
		}
		th := st.S()
		line := lj.CLIWords(words)
		th.SetRequestLine(nil, line, line, nil, 0, 0)
		th.SetFlag(cgo.FlagBodyEnd) // no input: receive and getline find the end
		st.Step()
	})
	select {
	case r := <-done:
		return r.out, r.failed, r.err
	case <-ctx.Done():
		ls.loop.Post(func() {
			if !p.ended {
				p.st.Close()
				p.finish(false, ErrCLITimeout)
			}
		})
		// A loop that stopped runs no task: do not wait for it long.
		select {
		case r := <-done:
			return r.out, r.failed, r.err
		case <-time.After(stopGrace):
			return "", false, ErrCLITimeout
		}
	}
}

type cliResult struct {
	out    string
	failed bool
	err    error
}

// cliProtocol is what is below a command's stream: its answer. It is used
// on the first loop only, but for done.
type cliProtocol struct {
	st    *stream.Stream
	out   []byte
	ended bool
	done  chan<- cliResult // buffered: finish never blocks the loop
}

func (p *cliProtocol) finish(failed bool, err error) {
	if p.ended {
		return
	}
	p.ended = true
	p.done <- cliResult{out: string(p.out), failed: failed, err: err}
}

func (p *cliProtocol) SendData(b []byte) {
	if len(p.out)+len(b) > maxCLIOutput {
		b = b[:max(0, maxCLIOutput-len(p.out))]
	}
	p.out = append(p.out, b...)
}

func (p *cliProtocol) EndResponse()                  { p.finish(false, nil) }
func (p *cliProtocol) Abort()                        { p.finish(false, nil) }
func (p *cliProtocol) Fail(int)                      { p.finish(true, nil) }
func (p *cliProtocol) SendHead(*stream.Head)         {}
func (p *cliProtocol) SendTrailers(*stream.Trailers) {}
func (p *cliProtocol) WaitBody() bool                { return false }
func (p *cliProtocol) BodyConsumed(int)              {}
func (p *cliProtocol) Backlog() int                  { return 0 }
func (p *cliProtocol) SetSockopts(int, int)          {}
func (p *cliProtocol) Handle(fn func())              { fn() }
func (p *cliProtocol) Forwarded(stream.Upstream)     {}
