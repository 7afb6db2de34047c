package lj

import (
	"os"
	"os/exec"
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

// compareWithLuaHTTP runs the corpus in luaedge, checks the lines in want
// (what lua-http gives, written down), then, where the system has LuaJIT
// and lua-http (Debian's luajit and lua-http packages, which the tests'
// dependencies install), runs the same corpus there and compares every
// line: luaedge's modules must answer as lua-http's do.
func compareWithLuaHTTP(t *testing.T, name string, want []string) {
	t.Helper()
	got := runLuaCorpus(t, name)
	all := strings.Join(got, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(all, w+"\n") {
			t.Errorf("no line %q in:\n%s", w, all)
		}
	}
	luajit, err := exec.LookPath("luajit")
	if err != nil {
		t.Skip("no luajit on this machine: lua-http itself not compared")
	}
	if _, err := os.Stat("/usr/share/lua/5.1/http/headers.lua"); err != nil {
		t.Skip("lua-http is not installed for luajit: not compared")
	}
	corpus, _ := os.ReadFile("testdata/" + name)
	cmd := exec.Command(luajit, "-")
	cmd.Stdin = strings.NewReader(string(corpus) + "\nrun(print)\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("luajit with lua-http: %v", err)
	}
	ref := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
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
