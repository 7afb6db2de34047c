package main

// The HTTP requests of the end-to-end tests: a client, a request whose
// body is read to its end, on the test's goroutine (get, do, send: a
// failure ends the test) or on another (fetch, fetchGet, getAsync: the
// error is returned).

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// newClient returns an HTTP client with a transport of its own.
func newClient(t *testing.T) (*http.Client, *http.Transport) {
	tr := &http.Transport{
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// h2cClient is an HTTP/2 client that speaks h2c with prior knowledge:
// every request goes on one connection.
func h2cClient(t *testing.T) (*http.Client, *http2.Transport) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// get does a GET and returns the response (body read and closed) and body.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	return do(t, c, http.MethodGet, url, "")
}

// do does a request with body (none when "") as get does.
func do(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, c, req)
}

// send does req as get does: for a request with headers or a body of its
// own.
func send(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, body, err := fetch(c, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// fetch does req and reads the body to its end, or to its first error,
// and closes it; it returns the error of the request or of the body (then
// with the response and what was read). It calls nothing of the test, so
// a goroutine of the test's may use it.
func fetch(c *http.Client, req *http.Request) (*http.Response, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		err = fmt.Errorf("reading the body: %w", err)
	}
	return resp, string(b), err
}

// fetchGet does a GET with fetch.
func fetchGet(c *http.Client, url string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	return fetch(c, req)
}

// fetched is what fetch returned.
type fetched struct {
	resp *http.Response
	body string
	err  error
}

// getAsync does a GET with fetch on a goroutine of its own: for a request
// still under way while the test does something else (a stop, a reload).
func getAsync(c *http.Client, url string) <-chan fetched {
	done := make(chan fetched, 1)
	go func() {
		var f fetched
		f.resp, f.body, f.err = fetchGet(c, url)
		done <- f
	}()
	return done
}

func wantResponse(t *testing.T, what string, resp *http.Response, body string, status int, wantBody string) {
	t.Helper()
	if resp.StatusCode != status || body != wantBody {
		t.Errorf("%s: got %d %q, want %d %q", what, resp.StatusCode, abbrev(body), status, abbrev(wantBody))
	}
}
