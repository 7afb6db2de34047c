package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// capture cookie NAME len N: the request's cookie and the response's
// Set-Cookie whose "name=value" starts with NAME, cut to N bytes, in %CC
// and %CS; the same lines as HAProxy 2.6's for the same requests.
func TestHAProxyCfgCaptureCookie(t *testing.T) {
	needBinary(t)
	// COOKIES answers with the Set-Cookie fields its path names.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/set":
			w.Header().Add("set-cookie", "SESSIONID=srv-0123456789abcdefghij; path=/; HttpOnly")
		case "/set2":
			w.Header().Add("set-cookie", "other=1; SESSIONID=attr")
			w.Header().Add("set-cookie", "SESSIONID = second ; path=/")
		case "/bare":
			w.Header().Add("set-cookie", "SESSIONID")
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	sc := hcScenario{
		name: "capture-cookie",
		cfg: `global
    nbthread 1
    log stdout format raw local0

defaults
    mode http
    log global
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:@PORT@
    capture cookie SESSIONID len 20
    log-format "LOG %CC %CS %ST %{+Q}r"
    http-request del-header cookie if { path /deleted }
    http-request deny if { path /deny }
    default_backend app

backend app
    server app1 @COOKIES@
`,
		steps: []hxStep{
			{conn: "a", req: hxReq{Path: "/set", Header: []string{"Cookie: a=1; SESSIONID=cli-0123456789abcdefghij; b=2"}}},
			{conn: "a", req: hxReq{Path: "/set2", Header: []string{"Cookie: SESSIONID = spaced ; x=y"}}},
			{conn: "a", req: hxReq{Path: "/none", Header: []string{"Cookie: x=1", "Cookie: $Version=1, SESSIONIDX=longer, SESSIONID=v"}}},
			{conn: "a", req: hxReq{Path: "/bare", Header: []string{"Cookie: SESSIONID; other=2"}}},
			{conn: "a", req: hxReq{Path: "/none"}},
			{conn: "a", req: hxReq{Path: "/deleted", Header: []string{"Cookie: SESSIONID=gone"}}},
			{conn: "a", req: hxReq{Path: "/deny", Header: []string{"Cookie: SESSIONID=denied"}}},
		},
	}
	want := []string{
		`LOG SESSIONID=cli-012345 SESSIONID=srv-012345 200 "GET /set HTTP/1.1"`,
		`LOG SESSIONID=spaced SESSIONID=second 200 "GET /set2 HTTP/1.1"`,
		`LOG SESSIONIDX=longer - 200 "GET /none HTTP/1.1"`,
		`LOG - - 200 "GET /bare HTTP/1.1"`,
		`LOG - - 200 "GET /none HTTP/1.1"`,
		`LOG - - 200 "GET /deleted HTTP/1.1"`,
		`LOG SESSIONID=denied - 403 "GET /deny HTTP/1.1"`,
	}
	backends := map[string]string{"COOKIES": srv.Listener.Addr().String()}
	hcLogsBoth(t, sc, backends, want)
}
