package lj

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// evalScript runs code as a script in a new state and returns the global
// out as a string.
func evalScript(t *testing.T, code string) string {
	t.Helper()
	st, err := NewState(Options{Scripts: []Script{{Path: "t.lua", Code: []byte(code)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out, err := st.L.EvalInternal("return tostring(out)", "=test")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lua-http's example of http.zlib, and chunks fed one byte at a time.
func TestZlibRoundTrip(t *testing.T) {
	got := evalScript(t, `
local zlib = require("http.zlib")
local original = "the racecar raced around the racecar track"
local compressed = zlib.deflate()(original, true)
local uncompressed = zlib.inflate()(compressed, true)
assert(original == uncompressed)
assert(#compressed < #original or #original < 64)

local big = string.rep("luaedge streams ", 5000)
local d, parts = zlib.deflate(), {}
for i = 1, #big, 1000 do parts[#parts + 1] = d(big:sub(i, i + 999), false) end
parts[#parts + 1] = d("", true)
local z = table.concat(parts)
-- Each flushed piece inflates to the input so far.
local inf, got = zlib.inflate(), {}
for i = 1, #z do got[#got + 1] = inf(z:sub(i, i), i == #z) end
got = table.concat(got)
local again = pcall(inf, "", true)
out = table.concat({ tostring(got == big), #z < #big / 10 and "small" or "big", tostring(again) }, " ")
`)
	if got != "true small false" {
		t.Errorf("got %q", got)
	}
}

// What servers send: gzip and zlib streams made by Go's own writers.
func TestZlibInflateGoStreams(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 4096)
	var gz, zl bytes.Buffer
	gw := gzip.NewWriter(&gz)
	io.WriteString(gw, body)
	gw.Close()
	zw := zlib.NewWriter(&zl)
	io.WriteString(zw, body)
	zw.Close()
	got := evalScript(t, `
local zlib = require("http.zlib")
local function inflate_in(s, size)
	local f, parts = zlib.inflate(), {}
	for i = 1, #s, size do parts[#parts + 1] = f(s:sub(i, i + size - 1), i + size > #s) end
	return table.concat(parts)
end
local body = `+luaString(body)+`
out = tostring(inflate_in(`+luaString(gz.String())+`, 7) == body) .. " " .. tostring(inflate_in(`+luaString(zl.String())+`, 1000) == body)
`)
	if got != "true true" {
		t.Errorf("got %q", got)
	}
}

// Failures are errors; the output is bounded.
func TestZlibErrors(t *testing.T) {
	got := evalScript(t, `
local zlib = require("http.zlib")
local z = zlib.deflate()(string.rep("a", 100000), true)
local r = {}
local function try(...) local ok, err = pcall(...) r[#r + 1] = tostring(ok) .. ":" .. tostring(err):gsub("^t%.lua:%d+: ", "") end
try(zlib.inflate(1000), z, true)
try(zlib.inflate(), z:sub(1, #z - 4), true)
try(zlib.inflate(), "not a zlib stream at all", false)
local f = zlib.inflate()
f(z, true)
try(f, "", false)
try(zlib.inflate, -1)
try(zlib.inflate(), {}, true)
out = table.concat(r, "\n")
`)
	want := []string{
		"false:inflate: inflated data would exceed 1000 bytes",
		"false:inflate: invalid stream (it ends before its end)",
		"false:inflate: zlib: invalid header",
		"false:stream closed",
		"false:bad argument #1 to 'inflate' (positive number expected)",
		"false:bad argument #1 (string expected, got table)",
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// An inflater left mid-stream holds a goroutine until its closure is
// collected, or the state closes.
func TestZlibReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	st, err := NewState(Options{Scripts: []Script{{Path: "t.lua", Code: []byte(`
local zlib = require("http.zlib")
local z = zlib.deflate()(string.rep("a", 100000), true)
kept = {}
for i = 1, 20 do
	local f = zlib.inflate()
	f(z:sub(1, 10), false)
	kept[i] = f
end
for i = 1, 20 do
	local f = zlib.inflate()
	f(z:sub(1, 10), false)
end
collectgarbage("collect")
`)}}})
	if err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before+20, "20 inflaters kept, 20 collected")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before, "the state closed")
}

func waitGoroutines(t *testing.T, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines, want at most %d", when, runtime.NumGoroutine(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkZlibInflate inflates a 16 KiB JSON-like body (about 1 KiB
// compressed) through a new inflate closure per op, in one chunk and in
// 16 chunks: the cost of the goroutine hand-offs per chunk.
func BenchmarkZlibInflate(b *testing.B) {
	for _, chunks := range []int{1, 16} {
		b.Run(strconv.Itoa(chunks)+"chunks", func(b *testing.B) {
			st, err := NewState(Options{Scripts: []Script{{Path: "b.lua", Code: []byte(`
local zlib = require("http.zlib")
local body = string.rep('{"id":12345,"name":"luaedge","tags":["a","b"]},', 340)
local z = zlib.deflate()(body, true)
function bench(n, chunks)
	local size = math.ceil(#z / chunks)
	for _ = 1, n do
		local f = zlib.inflate()
		for i = 1, #z, size do f(z:sub(i, i + size - 1), i + size > #z) end
	end
end`)}}})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			b.ResetTimer()
			if err := st.L.LoadInternal([]byte("bench("+strconv.Itoa(b.N)+", "+strconv.Itoa(chunks)+")"), "=bench"); err != nil {
				b.Fatal(err)
			}
		})
	}
}
