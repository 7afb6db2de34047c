// Lua filters (core.register_filter, filter lua.NAME) on luaedge and on
// HAProxy 2.6: headers added on the request and the response, response
// bodies rewritten piece by piece (chunked and with a content-length), a
// frontend without the filter on the same loop, and filters that fail.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const filterLua = `
Upper = {}
Upper.id = "upper"
Upper.flags = filter.FLT_CFG_FL_HTX
Upper.__index = Upper

-- new is called on the declaration's copy of the class, which the
-- registered function gave its arguments.
function Upper:new()
  return setmetatable({ tag = self.tag }, { __index = self })
end

function Upper:start_analyze(txn, chn)
  if chn:is_resp() or txn.sf:path():find("^/echo") then filter.register_data_filter(self, chn) end
end

function Upper:http_headers(txn, msg)
  if msg.channel:is_resp() then
    msg:add_header("x-filter-res", self.tag)
    if self.append then msg:del_header("content-length") end
  else
    msg:add_header("x-filter-req", self.tag)
    self.append = txn.sf:path():find("append") ~= nil
    self.grow = txn.sf:path():find("grow") ~= nil
    if self.grow then msg:del_header("content-length") end
  end
  return filter.CONTINUE
end

function Upper:http_payload(txn, msg)
  local b = msg:body()
  if b and #b > 0 then msg:set(b:upper()) end
  if self.append and msg:eom() then msg:append("[end]") end
  if self.grow and not msg:is_resp() and msg:eom() then msg:append("!") end
end

core.register_filter("upper", Upper, function(cls, args)
  cls.tag = table.concat(args, "+")
  return cls
end)

Bad = {}
Bad.flags = filter.FLT_CFG_FL_HTX
Bad.__index = Bad

function Bad:new() return setmetatable({}, Bad) end

function Bad:start_analyze(txn, chn)
  if chn:is_resp() then filter.register_data_filter(self, chn) end
end

function Bad:http_headers(txn, msg)
  if not msg.channel:is_resp() then self.path = txn.sf:path() end
  local resp = msg.channel:is_resp()
  if self.path == "/req-err" and not resp then error("failing on the request") end
  if self.path == "/res-err" and resp then error("failing on the response") end
  if self.path == "/ret-err" and resp then return filter.ERROR end
end

function Bad:http_payload(txn, msg)
  if self.path == "/pay-err" then error("failing on the body") end
end

core.register_filter("bad", Bad, function(cls, args) return cls end)
`

const filterCfg = `global
    nbthread 1
    lua-load flt.lua

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend filtered
    bind 127.0.0.1:@PORT@
    filter lua.upper a1 b2
    filter lua.bad
    default_backend app

frontend plain
    bind 127.0.0.1:@PORTP@
    default_backend app

backend app
    server s1 @FLT@
`

// filterBackend answers with its body in three pieces, each flushed:
// chunked for paths holding "chunk", else with a content-length. It
// says whether the filter's request header reached it. On /slow it
// sends the first piece, then waits for release before the others.
func filterBackend(t *testing.T, release <-chan struct{}) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pieces := []string{"hello ", "piece ", "world\n"}
		if strings.HasPrefix(r.URL.Path, "/echo") {
			b, _ := io.ReadAll(r.Body)
			pieces = []string{"got=", string(b), fmt.Sprintf(" (%d, %q)\n", r.ContentLength, r.TransferEncoding)}
		}
		w.Header().Set("content-type", "text/plain")
		w.Header().Set("x-req-filter", r.Header.Get("x-filter-req"))
		if !strings.Contains(r.URL.Path, "chunk") {
			w.Header().Set("content-length", fmt.Sprint(len(strings.Join(pieces, ""))))
		}
		for i, p := range pieces {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
			if i == 0 && r.URL.Path == "/slow" {
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
			}
		}
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func TestHAProxyCfgLuaFilters(t *testing.T) {
	needBinary(t)
	backends := map[string]string{"FLT": filterBackend(t, nil)}
	upper := func(body string) hxWant {
		return hxWant{Status: 200, Body: body, Header: map[string]string{"x-filter-res": "a1+b2", "x-req-filter": "a1+b2"}}
	}
	sc := hcScenario{
		name: "filters",
		cfg:  filterCfg,
		made: map[string]string{"flt.lua": filterLua},
		steps: []hxStep{
			{name: "chunked body rewritten", req: hxReq{Path: "/chunk"}, want: upper("HELLO PIECE WORLD\n")},
			{name: "content-length body rewritten", req: hxReq{Path: "/len"}, want: upper("HELLO PIECE WORLD\n")},
			{name: "appended at the end, chunked", req: hxReq{Path: "/chunk-append"}, want: upper("HELLO PIECE WORLD\n[end]")},
			{name: "appended at the end, content-length removed", req: hxReq{Path: "/len-append"}, want: upper("HELLO PIECE WORLD\n[end]")},
			{name: "keep-alive 1", conn: "k", req: hxReq{Path: "/chunk"}, want: upper("HELLO PIECE WORLD\n")},
			{name: "keep-alive 2", conn: "k", req: hxReq{Path: "/len"}, want: upper("HELLO PIECE WORLD\n")},
			{name: "frontend without filters", front: "P", req: hxReq{Path: "/chunk"},
				want: hxWant{Status: 200, Body: "hello piece world\n", Header: map[string]string{"x-filter-res": "", "x-req-filter": ""}}},
			{name: "error on the request: 400", req: hxReq{Path: "/req-err"}, want: hxWant{Status: 400, AnyBody: true}},
			{name: "error on the response: closed", req: hxReq{Path: "/res-err"}, want: hxWant{Closed: true}},
			{name: "filter.ERROR on the response: closed", req: hxReq{Path: "/ret-err"}, want: hxWant{Closed: true}},
			{name: "error on the body: closed", req: hxReq{Path: "/pay-err"}, want: hxWant{Closed: true}},
			{name: "request body, content-length", req: hxReq{Method: "POST", Path: "/echo", Body: "some body"},
				want: upper("GOT=SOME BODY (9, [])\n")},
			{name: "request body grown, content-length removed", req: hxReq{Method: "POST", Path: "/echo-grow", Body: "some body"},
				want: upper("GOT=SOME BODY! (-1, [\"CHUNKED\"])\n")},
			{name: "request without a body", req: hxReq{Path: "/echo"}, want: upper("GOT= (0, [])\n")},
			{name: "after the errors", req: hxReq{Path: "/chunk"}, want: upper("HELLO PIECE WORLD\n")},
			{name: "after the errors, without filters", front: "P", req: hxReq{Path: "/len"},
				want: hxWant{Status: 200, Body: "hello piece world\n", Header: map[string]string{"x-filter-res": ""}}},
		},
	}
	hcRunCompare(t, sc, backends)
}

// A filtered response waits halfway for its server while another client
// of the same loop, on the frontend without filters, gets its own
// response whole and unchanged; then the first one ends, rewritten.
func TestHAProxyCfgLuaFilterConcurrent(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "filters-concurrent", cfg: filterCfg, made: map[string]string{"flt.lua": filterLua}}
	release := make(chan struct{}, 4)
	backends := map[string]string{"FLT": filterBackend(t, release)}
	hcCheckBoth(t, sc, backends, func(who string, addr func(string) string) {
		c, err := net.DialTimeout("tcp", addr(""), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		first := make([]byte, len("HELLO "))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "HELLO " {
			t.Fatalf("%s: first piece %q, %v", who, first, err)
		}
		other, err := http.Get("http://" + addr("P") + "/chunk")
		if err != nil {
			t.Fatalf("%s: other client: %v", who, err)
		}
		body, _ := io.ReadAll(other.Body)
		other.Body.Close()
		if string(body) != "hello piece world\n" || other.Header.Get("x-filter-res") != "" {
			t.Errorf("%s: other client got %q (x-filter-res %q)", who, body, other.Header.Get("x-filter-res"))
		}
		release <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != "PIECE WORLD\n" {
			t.Errorf("%s: rest %q, %v", who, rest, err)
		}
		if got := resp.Header.Get("x-filter-res"); got != "a1+b2" {
			t.Errorf("%s: x-filter-res %q", who, got)
		}
	})
}

// A chunked request body, in pieces, goes through the request's filters
// on its way to the server.
func TestHAProxyCfgLuaFilterChunkedRequest(t *testing.T) {
	needBinary(t)
	sc := hcScenario{name: "filters-chunked", cfg: filterCfg, made: map[string]string{"flt.lua": filterLua}}
	backends := map[string]string{"FLT": filterBackend(t, nil)}
	hcCheckBoth(t, sc, backends, func(who string, addr func(string) string) {
		c, err := net.DialTimeout("tcp", addr(""), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
		io.WriteString(c, "3\r\nefg\r\n0\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := "GOT=ABCDEFG (-1, [\"CHUNKED\"])\n"; string(body) != want {
			t.Errorf("%s: %d %q, want %q", who, resp.StatusCode, body, want)
		}
	})
}
