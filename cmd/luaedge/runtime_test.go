package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luaedge/luaedge/admin"
)

// runtimeLua serves, from each loop's state, which state it is (a table
// address made once per state) and what map m.map gives for the path;
// and registers two runtime commands.
const runtimeLua = `
local state = string.match(tostring({}), "0x%x+")
local m = Map.new("m.map", Map._str)
core.register_service("look", "http", function(applet)
	local body = "state=" .. state .. " map=" .. tostring(m:lookup(applet.path)) .. "\n"
	applet:add_header("content-length", #body)
	applet:start_response()
	applet:send(body)
end)
core.register_cli({"show", "lua", "state"}, "show lua state [<arg>]* : which state answers", function(applet, ...)
	applet:send("state " .. state .. " args " .. table.concat({...}, ",") .. "\n")
	core.msleep(10) -- a command may wait
	applet:send("after a sleep\n")
end)
core.register_cli({"lua", "boom"}, "lua boom : fails", function(applet)
	applet:send("partial\n")
	error("kaboom")
end)
`

const runtimeConfig = `workers: 2
runtime_socket: le.sock
admin: {bind: "127.0.0.1:@PORT9@", runtime: /runtime}
access_log: off
lua:
  load: [rt.lua]
frontends:
  - name: web
    bind: ["127.0.0.1:@PORT@"]
    use_service: lua.look
    stick_table: {type: ip, size: 100, expire: 10m, store: [http_req_cnt, gpc0, http_req_rate(10s)]}
    track: {key: src}
  - name: px
    bind: ["127.0.0.1:@PORT2@"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: a, address: "%s", weight: 1}
      - {name: b, address: "%s", weight: 3}
`

// runtimeServer starts luaedge with runtimeConfig and two backends that
// answer their name.
func runtimeServer(t *testing.T) (*server, *testBackend, *testBackend) {
	t.Helper()
	a := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := startBackend(t, "", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	s := startServer(t, fmt.Sprintf(runtimeConfig, a.addr, b.addr), map[string]string{"rt.lua": runtimeLua, "m.map": "/x one\n/y two\n"})
	return s, a, b
}

// rt sends a command line to the server's runtime socket; through socat
// when it is installed (as an operator's script would), else admin.Send.
func (s *server) rt(t *testing.T, line string) string {
	t.Helper()
	if socat, err := exec.LookPath("socat"); err == nil {
		cmd := exec.Command(socat, "stdio", "unix-connect:"+s.sock())
		cmd.Stdin = strings.NewReader(line + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q through socat: %v", line, err)
		}
		return string(out)
	}
	out, err := admin.Send(s.sock(), line, 30*time.Second)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return out
}

// expectRT checks a command's whole answer (HAProxy's: the text, then an
// empty line).
func (s *server) expectRT(t *testing.T, line, want string) {
	t.Helper()
	if got := s.rt(t, line); got != want+"\n" {
		t.Errorf("%q answered %q, want %q", line, got, want+"\n")
	}
}

// hits sends n requests through frontend px, each on a new connection,
// and counts the answers by body.
func hits(t *testing.T, s *server, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := getBody(s.addrOf("2"), "/")
		if err != nil {
			t.Fatal(err)
		}
		got[body]++
	}
	return got
}

// Servers: maintenance takes one out of rotation (no request reaches
// it), drain as well, ready brings it back; weights set the shares of
// round robin, for every loop at once; the state commands answer as
// HAProxy's.
func TestRuntimeServers(t *testing.T) {
	s, a, _ := runtimeServer(t)
	if got := hits(t, s, 40); got["a"] != 10 || got["b"] != 30 {
		t.Fatalf("weights 1 and 3 over 40 requests: %v", got)
	}
	s.expectRT(t, "get weight app/a", "1 (initial 1)\n")
	s.expectRT(t, "set server app/a state maint", "")
	before := a.hits.Load()
	if got := hits(t, s, 20); got["b"] != 20 || a.hits.Load() != before {
		t.Fatalf("with a in maintenance: %v, a was reached %d times", got, a.hits.Load()-before)
	}
	state := s.rt(t, "show servers state app")
	lines := strings.Split(state, "\n")
	if lines[0] != "1" || !strings.HasPrefix(lines[1], "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight ") {
		t.Fatalf("show servers state:\n%s", state)
	}
	// be_id 3: after the two frontends; a: running (2), forced maintenance (1).
	for i, want := range []string{"3 app 1 a 127.0.0.1 2 1 1 1 ", "3 app 2 b 127.0.0.1 2 0 3 3 "} {
		if !strings.HasPrefix(lines[2+i], want) {
			t.Errorf("show servers state, server %d: %q, want it to start with %q", i+1, lines[2+i], want)
		}
	}
	s.expectRT(t, "set server app/a state drain", "")
	if got := hits(t, s, 8); got["b"] != 8 {
		t.Fatalf("with a draining: %v", got)
	}
	s.expectRT(t, "enable server app/a", "")
	s.expectRT(t, "set server app/b weight 1", "")
	if got := hits(t, s, 20); got["a"] != 10 || got["b"] != 10 {
		t.Fatalf("weights 1 and 1: %v", got)
	}
	s.expectRT(t, "set weight app/b 300%", "")
	s.expectRT(t, "get weight app/b", "9 (initial 3)\n")
	s.expectRT(t, "disable server app/b", "")
	if got := hits(t, s, 5); got["a"] != 5 {
		t.Fatalf("b disabled: %v", got)
	}
	s.expectRT(t, "set server app/b state ready", "")
	s.expectRT(t, "set server app/b weight 0", "")
	if got := hits(t, s, 5); got["a"] != 5 {
		t.Fatalf("b at weight 0: %v", got)
	}
	// Bad commands: HAProxy's messages, and the server goes on.
	for line, want := range map[string]string{
		"set server app/a state up":     "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n",
		"set server app/a":              "usage: set server <backend>/<server> addr | health | state | weight\n",
		"set server app/a weight 257":   "Absolute weight can only be between 0 and 256 inclusive.\n",
		"set server app/a weight x":     "Empty weight string empty or preceded by garbage\n",
		"set weight app/a":              "Require <weight> or <weight%>.\n",
		"set server app state ready":    "Require 'backend/server'.\n",
		"set server nope/a state ready": "No such backend.\n",
		"get weight app/nope":           "No such server.\n",
		"show servers state nope":       "Can't find backend.\n",
		"set server app/a health maybe": "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n",
	} {
		s.expectRT(t, line, want)
	}
	if got := s.rt(t, "set server app/a addr 127.0.0.2"); got != "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n" {
		t.Errorf("set server addr: %q", got)
	}
	// New connections to a go there (pooled ones stay where they are).
	if got := s.rt(t, "show servers state app"); !strings.Contains(got, "\n3 app 1 a 127.0.0.2 ") {
		t.Errorf("show servers state after set server addr:\n%s", got)
	}
	if s.exited() {
		t.Fatalf("luaedge exited:\n%s", s.logs())
	}
}

// show info and show stat after known traffic: the counts are exact.
func TestRuntimeShowInfoStat(t *testing.T) {
	s, _, _ := runtimeServer(t)
	for i := 0; i < 6; i++ {
		mustGet(t, s.addr(), "/x")
	}
	hits(t, s, 4)
	// The connections' closes reach the server after the responses.
	var info map[string]string
	deadline := time.Now().Add(5 * time.Second)
	for {
		info = map[string]string{}
		out := s.rt(t, "show info")
		if !strings.HasSuffix(out, "\n\n") {
			t.Fatalf("show info does not end with an empty line: %q", out)
		}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				t.Fatalf("show info line %q", l)
			}
			info[k] = v
		}
		if info["CurrConns"] == "0" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for k, want := range map[string]string{"Name": "luaedge", "Nbthread": "2", "CumReq": "10", "CumConns": "10", "CurrConns": "0", "Generation": "1", "Stopping": "0"} {
		if info[k] != want {
			t.Errorf("show info %s = %q, want %q", k, info[k], want)
		}
	}
	if n, _ := strconv.Atoi(info["Uptime_sec"]); info["Pid"] == "" || n < 0 || info["LuaMemory_bytes"] == "0" {
		t.Errorf("show info: %v", info)
	}

	rows := statRows(t, s.rt(t, "show stat"))
	want := map[string]map[string]string{
		"web/FRONTEND": {"stot": "6", "req_tot": "6", "hrsp_2xx": "6", "status": "OPEN", "type": "0", "iid": "1", "mode": "http"},
		"px/FRONTEND":  {"stot": "4", "req_tot": "4", "hrsp_2xx": "4", "bout": "612", "iid": "2"}, // bytes out: heads included
		"app/a":        {"stot": "1", "lbtot": "1", "status": "no check", "weight": "1", "act": "1", "type": "2", "sid": "1", "iid": "3"},
		"app/b":        {"stot": "3", "status": "no check", "weight": "3", "sid": "2"},
		"app/BACKEND":  {"stot": "4", "lbtot": "4", "req_tot": "4", "hrsp_2xx": "4", "bout": "612", "status": "UP", "weight": "4", "act": "2", "algo": "roundrobin", "type": "1"},
	}
	for key, fields := range want {
		row, ok := rows[key]
		if !ok {
			t.Errorf("show stat has no line %s", key)
			continue
		}
		for f, v := range fields {
			if row[f] != v {
				t.Errorf("show stat %s %s = %q, want %q", key, f, row[f], v)
			}
		}
	}
	if rows := statRows(t, s.rt(t, "show stat app 4 -1")); len(rows) != 2 || rows["app/a"] == nil {
		t.Errorf("show stat app 4 -1: %v", rows)
	}
	s.expectRT(t, "show backend", "# name\napp\n")
}

// statRows parses show stat's CSV into its lines by pxname/svname.
func statRows(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	if !strings.HasPrefix(out, "# pxname,svname,") || !strings.HasSuffix(out, ",\n\n") {
		t.Fatalf("show stat:\n%s", out)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(strings.TrimSuffix(out, "\n"), "# "))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, name := range recs[0] {
			m[name] = rec[i]
		}
		rows[m["pxname"]+"/"+m["svname"]] = m
	}
	return rows
}

// lookAll asks web for path on new connections until both loops' states
// answered, and returns what each one's map gave.
func lookAll(t *testing.T, s *server, path string) map[string]string {
	t.Helper()
	seen := map[string]string{}
	for i := 0; len(seen) < 2; i++ {
		if i == 200 {
			t.Fatalf("200 connections reached only the states %v", seen)
		}
		body := mustGet(t, s.addr(), path)
		var state, value string
		if _, err := fmt.Sscanf(body, "state=%s map=%s", &state, &value); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
		seen[state] = value
	}
	return seen
}

// Maps: edits on the socket reach every loop's Lua lookups before the
// command answers; show map lists and dumps as HAProxy's.
func TestRuntimeMaps(t *testing.T) {
	s, _, _ := runtimeServer(t)
	for _, v := range lookAll(t, s, "/x") {
		if v != "one" {
			t.Fatalf("before the edits: %v", lookAll(t, s, "/x"))
		}
	}
	mapPath := filepath.Join(s.dir, "m.map")
	s.expectRT(t, "show map", "# id (file) description\n0 ("+mapPath+") pattern loaded from file '"+mapPath+"' used by map. curr_ver=0 next_ver=0 entry_cnt=2\n")
	s.expectRT(t, "set map m.map /x uno", "")
	s.expectRT(t, "add map #0 /z tres", "")
	s.expectRT(t, `add map m.map /sp two\ words`, "")
	for path, want := range map[string]string{"/x": "uno", "/z": "tres", "/sp": "two"} {
		for state, v := range lookAll(t, s, path) {
			if v != want {
				t.Errorf("%s on state %s: %q, want %q", path, state, v, want)
			}
		}
	}
	dump := s.rt(t, "show map m.map")
	var refs []string
	for _, l := range strings.Split(strings.TrimSuffix(dump, "\n\n"), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 || !strings.HasPrefix(f[0], "0x") {
			t.Fatalf("show map m.map: %q", dump)
		}
		refs = append(refs, f[0])
		if got := f[1] + " " + f[2]; got != map[int]string{0: "/x uno", 1: "/y two", 2: "/z tres", 3: "/sp two words"}[len(refs)-1] {
			t.Errorf("entry %d: %q", len(refs), got)
		}
	}
	s.expectRT(t, "del map m.map #"+refs[1], "")
	s.expectRT(t, "del map m.map /x", "")
	for path, want := range map[string]string{"/x": "nil", "/y": "nil", "/z": "tres"} {
		for state, v := range lookAll(t, s, path) {
			if v != want {
				t.Errorf("after del map, %s on state %s: %q, want %q", path, state, v, want)
			}
		}
	}
	s.expectRT(t, "clear map m.map", "")
	for state, v := range lookAll(t, s, "/z") {
		if v != "nil" {
			t.Errorf("after clear map, /z on state %s: %q", state, v)
		}
	}
	for line, want := range map[string]string{
		"show map nope.map":       "Unknown map identifier. Please use #<id> or <file>.\n",
		"add map m.map /k":        "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n",
		"set map m.map /nope v":   "entry not found.\n",
		"set map m.map #0x1 v":    "key or pattern not found.\n",
		"set map m.map /k":        "'set map' expects three parameters: map identifier, key and value.\n",
		"del map m.map /nope":     "Key not found.\n",
		"del map m.map":           "This command expects two parameters: map identifier and key.\n",
		"clear map #7":            "Unknown map identifier. Please use #<id> or <file>.\n",
		"add map nope.map /k v":   "Unknown map identifier. Please use #<id> or <file>.\n",
		"show map m.map extra ok": "",
	} {
		s.expectRT(t, line, want)
	}
	// A version prepared and filled is seen by no state until its commit,
	// then by every one at once (their copies of the lookup are dropped).
	s.expectRT(t, "add map m.map /z old", "")
	s.expectRT(t, "prepare map m.map", "New version created: 1\n")
	s.expectRT(t, "add map @1 m.map /z new", "")
	for state, v := range lookAll(t, s, "/z") {
		if v != "old" {
			t.Errorf("before commit map, /z on state %s: %q", state, v)
		}
	}
	s.expectRT(t, "commit map @1 m.map", "")
	for state, v := range lookAll(t, s, "/z") {
		if v != "new" {
			t.Errorf("after commit map, /z on state %s: %q", state, v)
		}
	}
	s.expectRT(t, "show map", "# id (file) description\n0 ("+mapPath+") pattern loaded from file '"+mapPath+"' used by map. curr_ver=1 next_ver=1 entry_cnt=1\n")
}

// Stick tables: show table lists and dumps as HAProxy's, with data
// filters and a key; clear table removes what no connection holds.
func TestRuntimeTables(t *testing.T) {
	s, _, _ := runtimeServer(t)
	for i := 0; i < 3; i++ {
		mustGet(t, s.addr(), "/x")
	}
	s.expectRT(t, "show table", "# table: web, type: ip, size:100, used:1\n")
	out := s.rt(t, "show table web")
	lines := strings.Split(strings.TrimSuffix(out, "\n\n"), "\n")
	// The client's entry: HAProxy's order of data types, rates with their
	// period; the connection of the last request may still be open.
	if len(lines) != 2 || lines[0] != "# table: web, type: ip, size:100, used:1" || !strings.HasPrefix(lines[1], "0x") ||
		!strings.Contains(lines[1], ": key=127.0.0.1 use=") || !strings.HasSuffix(lines[1], " gpc0=0 http_req_cnt=3 http_req_rate(10000)=3") {
		t.Fatalf("show table web:\n%s", out)
	}
	if out := s.rt(t, "show table web data.http_req_cnt gt 3"); out != "# table: web, type: ip, size:100, used:1\n\n" {
		t.Errorf("a filter no entry passes:\n%s", out)
	}
	if out := s.rt(t, "show table web data.http_req_cnt ge 3 key 127.0.0.1"); !strings.Contains(out, "key=127.0.0.1") {
		t.Errorf("a key:\n%s", out)
	}
	for line, want := range map[string]string{
		"show table nope":                     "No such table\n",
		"show table web data.nope eq 1":       "Filter entry #1: Unknown data type\n",
		"show table web data.conn_cnt eq 1":   "Filter entry #1: Data type not stored in this table\n",
		"show table web data.gpc0 is 1":       "Filter entry #1: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n",
		"show table web data.gpc0 eq x":       "Filter entry #1: Require a valid integer value to compare against\n",
		"show table web bogus":                "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n",
		"clear table":                         "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n",
		"clear table web key 127.0.0.1 extra": "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n",
		"show table web key not-an-ip":        "# table: web, type: ip, size:100, used:1\n",
	} {
		s.expectRT(t, line, want)
	}
	// Once no connection holds the entry, clear table removes it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s.rt(t, "clear table web key 127.0.0.1") == "\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the entry is still held 5 s after the last request")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.expectRT(t, "show table web", "# table: web, type: ip, size:100, used:0\n")
	mustGet(t, s.addr(), "/x")
	if !strings.Contains(s.rt(t, "show table web"), "http_req_cnt=1") {
		t.Error("the entry did not start again after clear table")
	}
}

// A script's command (core.register_cli), through socat, luaedge admin
// and the admin listener's runtime path; show sess; bad and odd input
// never crash the server.
func TestRuntimeLuaCLIAndMore(t *testing.T) {
	s, _, _ := runtimeServer(t)
	got := s.rt(t, `show lua state one two\ words`)
	if !strings.HasPrefix(got, "state 0x") || !strings.HasSuffix(got, " args show,lua,state,one,two words\nafter a sleep\n\n") {
		t.Errorf("a script's command: %q", got)
	}
	if h := s.rt(t, "help"); !strings.Contains(h, "\n  show lua state [<arg>]* : which state answers\n") || !strings.Contains(h, "  show stat [<proxy> <type> <sid>] ") {
		t.Errorf("help:\n%s", h)
	}
	s.expectRT(t, "lua boom", "partial\n")
	s.waitLog(t, 5*time.Second, "kaboom")

	out, err := exec.Command(luaedgeBin, "admin", "-s", s.sock(), "show", "lua", "state", "a b").Output()
	if err != nil || !strings.HasSuffix(string(out), " args show,lua,state,a b\nafter a sleep\n\n") {
		t.Errorf("luaedge admin with words: %v %q", err, out)
	}
	out, err = exec.Command(luaedgeBin, "admin", "-s", s.sock(), "show version;show backend").Output()
	if err != nil || !strings.HasSuffix(string(out), "\n\n# name\napp\n\n") {
		t.Errorf("luaedge admin with one line: %v %q", err, out)
	}
	cmd := exec.Command(luaedgeBin, "admin", "-s", s.sock(), "frobnicate")
	out, err = cmd.Output()
	if cmd.ProcessState.ExitCode() != 1 || !strings.HasPrefix(string(out), "Unknown command, but maybe one of the following ones is a better match:\n") {
		t.Errorf("luaedge admin frobnicate: %v %q", err, out)
	}

	r, err := http.Post("http://"+s.addrOf("9")+"/runtime", "text/plain", strings.NewReader("get weight app/b\nshow lua state x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.HasPrefix(string(body), "3 (initial 3)\n\nstate 0x") {
		t.Errorf("POST /runtime: %q", body)
	}

	// show sess: the open connection, on its loop, in HAProxy's shape.
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	list := s.rt(t, "show sess")
	var id string
	for _, l := range strings.Split(list, "\n") {
		if strings.Contains(l, "src="+c.LocalAddr().String()+" fe=web mode=http/1.1 loop=") {
			id, _, _ = strings.Cut(l, ":")
		}
	}
	if id == "" {
		t.Fatalf("show sess does not list the open connection %s:\n%s", c.LocalAddr(), list)
	}
	if d := s.rt(t, "show sess "+id); !strings.HasPrefix(d, id+": [") || !strings.Contains(d, "source="+c.LocalAddr().String()) {
		t.Errorf("show sess %s:\n%s", id, d)
	}
	s.expectRT(t, "show sess 0x1", "Session not found.\n")

	// Odd input: empty words, long lines, many commands, unknown ones.
	for _, line := range []string{"", ";;;", "show", "show table web data.gpc0 eq", "set", `\`, "help show", strings.Repeat("a ", 2000),
		"show stat 1 2", "show stat x y z", "show sess nope", "set map", "clear table web data.gpc0 gt 0 key x y"} {
		_ = s.rt(t, line)
	}
	if got := s.rt(t, "show version;show backend"); !strings.HasSuffix(got, "\n\n# name\napp\n\n") {
		t.Errorf("after odd input: %q", got)
	}
	if s.exited() {
		t.Fatalf("luaedge exited:\n%s", s.logs())
	}
}

// What the runtime socket changed survives a reload where the docs say
// it does: a server's state and weight (its configuration unchanged), a
// map's entries (its file unchanged), a table's entries.
func TestRuntimeReload(t *testing.T) {
	s, a, _ := runtimeServer(t)
	s.expectRT(t, "set server app/a state maint", "")
	s.expectRT(t, "set server app/b weight 2", "")
	s.expectRT(t, "set map m.map /x kept", "")
	mustGet(t, s.addr(), "/x")
	s.mustReload(t)
	if got := s.rt(t, "show info"); !strings.Contains(got, "\nGeneration: 2\n") {
		t.Errorf("show info after the reload:\n%s", got)
	}
	s.expectRT(t, "get weight app/b", "2 (initial 3)\n")
	before := a.hits.Load()
	if got := hits(t, s, 6); got["b"] != 6 || a.hits.Load() != before {
		t.Errorf("after the reload, a in maintenance: %v", got)
	}
	for state, v := range lookAll(t, s, "/x") {
		if v != "kept" {
			t.Errorf("after the reload, /x on state %s: %q", state, v)
		}
	}
	if !strings.Contains(s.rt(t, "show table web"), "http_req_cnt=") {
		t.Error("the table's entry did not survive the reload")
	}
}
