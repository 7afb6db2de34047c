package admin

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HTTP is the admin listener: an HTTP server on an address of its own,
// on its own goroutines (it is never on the data path), serving the
// handlers the program gives it (the Prometheus metrics).
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
