package admin

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// HTTP is the admin listener: an HTTP server on an address of its own,
// on its own goroutines (it is never on the data path), serving the
// handlers the program gives it (the Prometheus metrics, the stats page,
// the runtime API).
type HTTP struct {
	srv *http.Server
	ln  net.Listener
}

// ListenHTTP listens on addr and serves routes (by exact path) until
// Close; other paths get 404.
func ListenHTTP(addr string, routes map[string]http.Handler, log *slog.Logger) (*HTTP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for path, h := range routes {
		mux.Handle(path, h)
	}
	h := &HTTP{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	return h, nil
}

// Addr is the address it listens on.
func (h *HTTP) Addr() net.Addr { return h.ln.Addr() }

// Close stops the listener and the requests in progress.
func (h *HTTP) Close() error { return h.srv.Close() }

// ServeHTTP answers the command lines of a POST's body (at most 16 KiB)
// as the socket answers one line each: every answer followed by an empty
// line; a line ending in "<<" takes the lines up to an empty one as its
// payload. It is the runtime API on the admin listener (admin.runtime), for
// clients that cannot reach the Unix socket.
func (r *Runtime) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST the command lines", http.StatusMethodNotAllowed)
		return
	}
	// A page of another site open in a browser near the listener could
	// post commands to it (a form needs no preflight): what a browser
	// sends from another origin is refused.
	if o := req.Header.Get("Origin"); o != "" && !sameHost(o, req.Host) {
		http.Error(w, "commands from another origin are refused", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxLine))
	if err != nil {
		http.Error(w, errLine.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var out strings.Builder
	lines := strings.Split(string(body), "\n")
	next := func() (string, error) {
		if len(lines) == 0 {
			return "", io.EOF
		}
		l := lines[0]
		lines = lines[1:]
		return l, nil
	}
	for len(lines) > 0 {
		line, _ := next()
		cmds := Split(line)
		withPayload := opensPayload(line, cmds)
		var payload string
		if withPayload {
			var err error
			if payload, err = readPayload(next); err != nil {
				break // a command whose payload did not end is not run
			}
		}
		for i, words := range cmds {
			switch words[0] {
			case "prompt", "quit":
				continue // a request is one exchange
			}
			if withPayload && i == len(cmds)-1 {
				out.WriteString(r.ExecPayload(words[:len(words)-1], payload))
			} else {
				out.WriteString(r.Exec(words))
			}
			out.WriteString("\n")
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, out.String())
}

// sameHost reports whether the origin (scheme://host[:port]) names host.
func sameHost(origin, host string) bool {
	_, h, ok := strings.Cut(origin, "://")
	return ok && h == host
}
