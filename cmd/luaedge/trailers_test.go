package main

import (
	"io"
	"strings"
	"testing"
)

// AppletHTTP:add_trailer (a luaedge addition) sends trailer fields after a
// body framed in chunks; fields that may not be trailers are dropped, and
// the connection goes on with the next request.
func TestResponseTrailers(t *testing.T) {
	lua := `
core.register_service("t", "http", function(applet)
	applet:set_status(200)
	applet:add_trailer("x-checksum", "abc123")
	applet:add_trailer("content-type", "text/evil")
	applet:start_response()
	applet:send("part one, ")
	applet:send("part two")
end)
`
	s := startServer(t, `workers: 1
lua:
  load: [t.lua]
frontends:
  - name: t
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.t
`, map[string]string{"t.lua": lua})
	c, _ := newClient(t)
	for i := 0; i < 2; i++ {
		resp, err := c.Get(s.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "part one, part two" {
			t.Fatalf("body %q, %v", body, err)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
			t.Errorf("trailer x-checksum = %q (trailers %v)", got, resp.Trailer)
		}
		if got := resp.Trailer.Get("Content-Type"); got != "" || strings.Contains(resp.Header.Get("Content-Type"), "evil") {
			t.Errorf("a content-type trailer was sent: %q", got)
		}
	}
}
