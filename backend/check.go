package backend

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"
)

// checkResult is the outcome of one health check. status uses HAProxy's
// check_status codes.
type checkResult struct {
	ok       bool
	status   string
	code     int // HTTP status, when one was read
	duration time.Duration
}

// maxStatusLine bounds how much of an http check's response is read while
// looking for the end of the status line.
const maxStatusLine = 1024

// aLongTimeAgo is a deadline in the past, to make blocked I/O return now.
var aLongTimeAgo = time.Unix(1, 0)

// checkLoop checks s every interval, after delay, until Stop or the
// server's deletion.
func (b *Backend) checkLoop(s *Server, delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-s.removed:
			return
		case <-t.C:
		}
		if !s.checksDisabled() {
			res := b.runCheck(s, b.check.Type)
			if b.ctx.Err() != nil {
				return // abandoned by Stop: not a verdict on the server
			}
			s.update(func() {
				if s.checksOff {
					return // disabled while the check ran
				}
				s.last = res
				s.result(res.ok)
			})
		}
		t.Reset(b.check.Interval)
	}
}

// probeLoop brings back a server that reported connect errors took down,
// when the backend has no active checks: a TCP probe every interval until
// the server is up again (by Rise probes or forced) or Stop. s.probing is
// cleared under the same lock that observes the server up, so that a later
// failure always finds no probe running and starts one.
func (b *Backend) probeLoop(s *Server) {
	t := time.NewTimer(b.check.Interval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			s.mu.Lock()
			s.probing = false
			s.mu.Unlock()
			return
		case <-s.removed:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.health >= b.check.Rise {
			s.probing = false
			s.mu.Unlock()
			return
		}
		off := s.checksOff
		s.mu.Unlock()
		if !off {
			res := b.runCheck(s, "tcp")
			if b.ctx.Err() != nil {
				continue // the select above clears probing and returns
			}
			done := false
			s.update(func() {
				if !s.checksOff {
					s.last = res
					s.result(res.ok)
				}
				if s.health >= b.check.Rise {
					s.probing = false
					done = true
				}
			})
			if done {
				return
			}
		}
		t.Reset(b.check.Interval)
	}
}

func (s *Server) checksDisabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checksOff
}

// runCheck runs one check of type typ ("tcp" or "http") against s's current
// address, bounded by the check timeout and by Stop.
func (b *Backend) runCheck(s *Server, typ string) checkResult {
	start := time.Now()
	res := b.probe(s, typ)
	res.duration = time.Since(start)
	return res
}

func (b *Backend) probe(s *Server, typ string) checkResult {
	ctx, cancel := context.WithTimeout(b.ctx, b.check.Timeout)
	defer cancel()
	addr := s.Addr()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return checkResult{status: "L4TOUT"}
		}
		return checkResult{status: "L4CON"}
	}
	defer conn.Close()
	// Dial honours ctx but net.Conn I/O does not: expire the deadline when
	// ctx ends, whether by timeout or Stop.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	defer stop()
	if len(s.checkHead) > 0 {
		// A server that takes the PROXY protocol wants its header first,
		// also from a check (as HAProxy sends it with send-proxy).
		if _, err := conn.Write(s.checkHead); err != nil {
			return checkResult{status: "SOCKERR"}
		}
	}
	if typ == "tcp" {
		return checkResult{ok: true, status: "L4OK"}
	}
	if s.tls != nil {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			if ctx.Err() != nil {
				return checkResult{status: "L6TOUT"}
			}
			return checkResult{status: "L6RSP"}
		}
		conn = tc
	}

	host := b.check.Host
	if host == "" {
		host = addr
	}
	req := "GET " + b.check.Path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		if ctx.Err() != nil {
			return checkResult{status: "L7TOUT"}
		}
		return checkResult{status: "SOCKERR"}
	}

	var buf [maxStatusLine]byte
	n := 0
	for {
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			code, ok := parseStatusLine(buf[:i])
			if !ok {
				return checkResult{status: "L7RSP"}
			}
			if b.statusOK(code) {
				return checkResult{ok: true, status: "L7OK", code: code}
			}
			return checkResult{status: "L7STS", code: code}
		}
		if n == len(buf) {
			return checkResult{status: "L7RSP"}
		}
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil && m == 0 {
			if ctx.Err() != nil {
				return checkResult{status: "L7TOUT"}
			}
			return checkResult{status: "L7RSP"}
		}
	}
}

func (b *Backend) statusOK(code int) bool {
	if b.check.ExpectStatus != 0 {
		return code == b.check.ExpectStatus
	}
	return code >= 200 && code < 400
}

// parseStatusLine returns the code of an HTTP/1.x status line such as
// "HTTP/1.1 200 OK\r" (the reason phrase is optional).
func parseStatusLine(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	const proto = "HTTP/1."
	if len(line) < len(proto)+5 || string(line[:len(proto)]) != proto || line[len(proto)+1] != ' ' {
		return 0, false
	}
	c := line[len(proto)+2:]
	if len(c) > 3 && c[3] != ' ' {
		return 0, false
	}
	if len(c) < 3 || c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0, false
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0'), true
}
