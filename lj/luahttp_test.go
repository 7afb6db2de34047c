package lj

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runLuaCorpus runs testdata/name (a file defining run(emit)) in a
// luaedge state and returns the lines it emitted.
func runLuaCorpus(t *testing.T, name string) []string {
	t.Helper()
	corpus, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	code := string(corpus) + `
local lines = {}
run(function(s) lines[#lines + 1] = s end)
corpus_out = table.concat(lines, "\n")
`
	st, err := NewState(Options{Scripts: []Script{{Path: name, Code: []byte(code)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out, err := st.L.EvalInternal("return corpus_out", "=test")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(out, "\n")
}

// luaHTTPReference returns the interpreter lua-http runs in: the luajit
// third_party/luajit/build.sh built (Debian's luajit package would replace
// the LuaJIT nginx's Lua module needs), else PUC Lua 5.1; it skips the
// test when neither is there or lua-http is not installed.
func luaHTTPReference(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/share/lua/5.1/http/headers.lua"); err != nil {
		t.Skip("lua-http is not installed: not compared")
	}
	if built, _ := filepath.Glob("../third_party/luajit/build/luajit2-*/src/luajit"); len(built) > 0 {
		return built[0]
	}
	if p, err := exec.LookPath("lua5.1"); err == nil {
		return p
	}
	t.Skip("no luajit built nor lua5.1 on this machine: lua-http itself not compared")
	return ""
}

// compareWithLuaHTTP runs the corpus in luaedge, checks the lines in want
// (what lua-http gives, written down), then, where the system has lua-http
// (Debian's lua-http package, which the tests' dependencies install), runs
// the same corpus there and compares every line: luaedge's modules must
// answer as lua-http's do.
func compareWithLuaHTTP(t *testing.T, name string, want []string) {
	t.Helper()
	got := runLuaCorpus(t, name)
	all := strings.Join(got, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(all, w+"\n") {
			t.Errorf("no line %q in:\n%s", w, all)
		}
	}
	lua := luaHTTPReference(t)
	corpus, _ := os.ReadFile("testdata/" + name)
	cmd := exec.Command(lua, "-")
	cmd.Stdin = strings.NewReader(string(corpus) + "\nrun(print)\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s with lua-http: %v", lua, err)
	}
	ref := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	// Lines for luaedge only (where lua-http fails) are not compared.
	shared := got[:0:0]
	for _, g := range got {
		if !strings.HasPrefix(g, "luaedge-only ") {
			shared = append(shared, g)
		}
	}
	got = shared
	for i := 0; i < len(ref) || i < len(got); i++ {
		var r, g string
		if i < len(ref) {
			r = ref[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if r != g {
			t.Errorf("line %d:\nlua-http: %s\nluaedge:  %s", i+1, r, g)
		}
	}
}

func TestHTTPHeadersAsLuaHTTP(t *testing.T) {
	compareWithLuaHTTP(t, "http_headers_corpus.lua", []string{
		"get set-cookie #2 foo=bar baz=qux",
		"get missing #0",
		"sequence 2 foo=bar|baz=qux",
		"comma foo=bar,baz=qux nil",
		"upsert multi false 9 [:status=200 connection=keep-alive authorization=secret! x-open=v x-hidden=v! x-new=1 cookie=a=b! x-multi=1 x-multi=2]",
		"sort 7 [:authority=x :method=GET :path=/ a=2! a=2 b=1 b=2]",
	})
}

// Names are case-insensitive: stored lower-case, found in any case.
func TestHTTPHeadersNames(t *testing.T) {
	st, err := NewState(Options{Scripts: []Script{{Path: "h.lua", Code: []byte(`
local h = require("http.headers").new()
h:append("Content-Type", "text/plain")
h:upsert("X-Tag", "a")
h:upsert("x-tag", "b")
local name = h:geti(1)
out = name .. " " .. h:get("CONTENT-TYPE") .. " " .. h:get("x-tag") .. " " .. h:len() .. " " .. tostring(h:has("X-TAG"))
	.. " " .. tostring(pcall(h.append, h, 1, "x"))
`)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.L.EvalInternal("return out", "=test")
	if err != nil {
		t.Fatal(err)
	}
	if got != "content-type text/plain b 2 true false" {
		t.Errorf("got %q", got)
	}
}

func TestHTTPUtilAndCookieAsLuaHTTP(t *testing.T) {
	compareWithLuaHTTP(t, "http_util_corpus.lua", []string{
		"is_safe_method POST false",
		"is_ip 01.2.3.4 true",
		"split_authority localhost:8000 boolean:true string:localhost number:8000",
		"to_authority boolean:true string:[::1]:8080",
		"imf_date Thu, 01 Jan 1970 00:00:00 GMT / Tue, 14 Nov 2023 22:13:20 GMT / Tue, 29 Feb 2000 00:00:00 GMT",
		`maybe_quote string:"say \"hi\""`,
		"bake sid=x y; Expires=Tue, 14 Nov 2023 22:13:20 GMT; Domain=example.com; Path=/a%20b/c; Secure; HttpOnly; SameSite=Lax",
		"parse_setcookie 'a=b; Secure; HttpOnly' boolean:true string:a string:b {httponly=boolean:true,secure=boolean:true}",
		"lookup_for_request cart=1; sec=3; root=2",
		"luaedge-only lookup short a=1; c=3",
	})
}

// "http-stream" services register as HTTP services (use_service,
// txn.service, a frontend of mode http), accounted under their own
// function; another mode is an error naming the three.
func TestHTTPStreamRegistration(t *testing.T) {
	runLua(t, `
local function svc(stream) end
core.register_service("s", "http-stream", svc)
eq(I.services.s.mode, "http", "mode")
eq(I.service_id("s", "http"), I.services.s.id, "service_id")
eq(I.services.s.stats.fn, svc, "accounted function")
raises("mode must be 'http', 'tcp' or 'http-stream', got 'stream'", core.register_service, "t", "stream", svc)
raises("http.stream expected", function() return require("http.websocket").new_from_stream({}, nil) end)
`)
}

// Requests made from the same URI (whose parse new_from_uri keeps) are
// objects of their own: changing one changes neither the next one nor
// what the URI gives.
func TestHTTPRequestsFromOneURI(t *testing.T) {
	runLua(t, `
local request = require("http.request")
local uri = "https://user:pw@Example.COM:8443/a/b?q=1#frag"
local a = request.new_from_uri(uri)
a.headers:upsert(":path", "/changed")
a.headers:append("x-extra", "1")
a.port = 1
for i = 1, 2 do
	local b = request.new_from_uri(uri)
	eq(b.host, "example.com", "host")
	eq(b.port, 8443, "port")
	eq(b.tls, true, "tls")
	eq(b.headers:get(":path"), "/a/b?q=1", "path")
	eq(b.headers:get(":authority"), "example.com:8443", "authority")
	eq(b.headers:get("authorization"), "basic dXNlcjpwdw==", "authorization")
	eq(b.headers:has("x-extra"), false, "x-extra")
	eq(b.headers:len(), 6, "fields")
	eq(b:to_uri(true), "https://user:pw@example.com:8443/a/b?q=1", "to_uri")
end
eq(request.new_from_uri("http://h/"):to_uri(), "http://h/", "default port")
eq(pcall(request.new_from_uri, "ftp://h/"), false, "ftp")
eq(pcall(request.new_from_uri, "ftp://h/"), false, "ftp again")
`)
}
