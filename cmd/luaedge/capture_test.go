package main

import (
	"path/filepath"
	"testing"
)

// The frontend keys haproxy.cfg's captures, http-after-response and
// track-scN rules map onto, used from luaedge.yaml with scripts:
// capture slots filled from the heads and by txn:capture_req, read by
// the capture fetches and the access log; http_after_response actions on
// a service's answer, a txn:done reply and an act.DENY; txn:track_sc
// counting each request of one connection in sticky counter 1; and a Lua
// fetch logged with %[lua.NAME].
func TestCapturesAfterResponseAndTrackSC(t *testing.T) {
	s := startServer(t, `workers: 1
lua: {load: [app.lua]}
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    stick_table: {type: string, size: 100, store: [conn_cnt, conn_cur, http_req_cnt, http_err_cnt]}
    capture:
      request: [{header: x-user, len: 3}, {len: 4}]
      response: [{header: x-svc, len: 10}]
    http_request: [lua.track]
    http_after_response: [lua.after]
    use_service: lua.svc
    access_log: {to: access.log, format: "%hr %hs %[capture.req.hdr(1)] %[lua.who] %ST"}
`, map[string]string{"app.lua": `
core.register_action("track", { "http-req" }, function(txn)
	txn:track_sc(1, txn.f:req_hdr("x-user"))
	txn:capture_req(1, txn.f:path())
	-- A service cannot read the capture fetches (HTTP fetches, as in HAProxy).
	txn:set_var("txn.cap", tostring(txn.f:capture_req_hdr(0)) .. "," .. tostring(txn.f:capture_req_hdr(1)))
	if txn.f:path() == "/deny" then return act.DENY end
	if txn.f:path() == "/done" then txn:done({ status = 404, body = "none\n" }) end
end)
core.register_action("after", { "http-res" }, function(txn)
	txn.http:res_set_header("x-after", tostring(txn.f:status()) .. " " .. tostring(txn.f:capture_req_hdr(0)))
end)
core.register_fetches("who", function(txn) return "fe=" .. txn.f:fe_name() end)
core.register_service("svc", "http", function(applet)
	local f = applet.f
	local body = string.format("cnt=%s cur=%s req=%s err=%s cap=%s", tostring(f:sc1_conn_cnt()), tostring(f:sc1_conn_cur()),
		tostring(f:sc1_http_req_cnt()), tostring(f:sc1_http_err_cnt()), applet:get_var("txn.cap"))
	applet:add_header("x-svc", "served")
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
`})
	c := hxDial(t, s.addr())
	for _, tc := range []struct {
		path string
		want hxWant
	}{
		{"/a", hxWant{Status: 200, Body: "cnt=1 cur=1 req=1 err=0 cap=bob,/a", Header: map[string]string{"x-after": "200 bob"}}},
		{"/deny", hxWant{Status: 403, AnyBody: true, Header: map[string]string{"x-after": "403 bob"}}},
		{"/done", hxWant{Status: 404, Body: "none\n", Header: map[string]string{"x-after": "404 bob"}}},
		{"/b", hxWant{Status: 200, Body: "cnt=4 cur=1 req=4 err=1 cap=bob,/b", Header: map[string]string{"x-after": "200 bob"}}},
	} {
		hxCheck(t, tc.path, c.do(hxReq{Path: tc.path, Header: []string{"X-User: bobby"}}), tc.want)
	}
	want := []string{
		"{bob|/a} {served} /a fe=web 200",
		"{bob|/den} {} /den fe=web 403",
		"{bob|/don} {} /don fe=web 404",
		"{bob|/b} {served} /b fe=web 200",
	}
	for i, line := range readLines(t, filepath.Join(s.dir, "access.log"), len(want)) {
		if line != want[i] {
			t.Errorf("access log line %d: %q, want %q", i, line, want[i])
		}
	}
}
