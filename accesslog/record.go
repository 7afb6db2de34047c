// Package accesslog writes the access log: one line per HTTP request and
// per TCP session, in a format compiled once from HAProxy's log-format
// variables (or the default, or JSON), to stdout, stderr, a file or
// syslog. Lines are formatted on the loop that served the request into a
// buffer of that loop's own; full buffers (and, periodically, partial
// ones) go to the sink's writer goroutine. A loop never waits for the
// sink: when the writer falls behind, the buffers that do not fit in its
// queue are dropped and counted.
package accesslog

import "time"

// Record is what one request (or TCP session) leaves in the log. It
// belongs to the stream that fills it, on that stream's loop; the slices
// are the stream's buffers, reused for its next request, and valid until
// Loop.Write returns.
type Record struct {
	TCP bool // a TCP session, not an HTTP request

	// Start is when the request's first byte arrived (TCP: when the
	// connection was accepted).
	Start time.Time

	ClientIP   []byte
	ClientPort int
	FrontIP    []byte // the address the client connected to
	FrontPort  int
	Frontend   string
	Backend    string // "" when not forwarded
	Server     string // "" when no server was chosen

	// Timers in the manner of HAProxy's, -1 when the stage was not
	// reached: TR until the head was complete, Tw in the backend's queue,
	// Tc to connect to the server, Tr for the server's response head after
	// the connection, Ta the whole exchange.
	TR, Tw, Tc, Tr, Ta time.Duration

	// Queued: the request waited in its backend's queue, behind
	// BackendQueue others (%bq).
	Queued       bool
	BackendQueue int
	// Retries counts the times the request was sent again on a new
	// connection (%rc); Redispatched: one of them went to another server
	// (%rc then starts with a +, as HAProxy's).
	Retries      int
	Redispatched bool

	Status int // HTTP status sent; 0: none (TCP, or the client left first)
	// NoRequest: the line is a connection's that failed before it could
	// carry a request (HTTP/2: before its client preface), which HAProxy
	// logs without a stream: %ST is 0, not -1.
	NoRequest bool
	// BytesOut counts the response's head and body bytes sent to the
	// client (TCP: all bytes), as HAProxy's %B; luaedge's own error
	// answers (400, 408, 503...) count 0.
	BytesOut int64
	BytesIn  int64 // request body bytes read from the client (TCP: all bytes)
	// Term is the termination state, HAProxy's two characters: what ended
	// the session (C client, S server, P proxy, I internal error, R
	// resource, c and s client and server timeouts, - normal) and in what
	// state (R request, C connect, H response head, D data, - normal).
	Term string

	Method, Target []byte // empty: no valid request line
	Major, Minor   int

	// Cause says why an exchange ended in an error (a protocol error, a
	// script's error message): "" when it did not.
	Cause string
	// Conns are the current connection counts when the line is written,
	// read only for a format that logs them (Format.Conns).
	Conns Conns

	// Vars are the values of the variables the format names
	// (Format.Vars), in that order; nil when the script set none.
	Vars [][]byte
}

// Conns are the counts HAProxy logs as %ac %fc %bc %sc, over every loop
// of the process, as they are when the line is written: client
// connections of the process and of the line's frontend, the logged one
// among them; requests in the line's backend and on its server, the
// logged one no longer among them.
type Conns struct {
	Process, Frontend, Backend, Server int64
}
