package cache

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fields is a Head made of "name: value" lines.
type fields []string

func (f fields) NumFields() int { return len(f) }
func (f fields) Field(i int) ([]byte, []byte) {
	n, v, _ := strings.Cut(f[i], ": ")
	return []byte(n), []byte(v)
}

var t0 = time.Unix(1700000000, 0)

func testCache() *Cache {
	return New(Config{Name: "c", TotalMaxSize: 1 << 20, MaxObjectSize: 4096, MaxAge: 60 * time.Second, ProcessVary: true})
}

func store(t *testing.T, c *Cache, uri string, req, res fields, body string, now time.Time) bool {
	t.Helper()
	p := c.Begin(Key([]byte(uri)), req, 200, []byte("OK"), res, int64(len(body)), now)
	if p == nil {
		return false
	}
	p.Write([]byte(body))
	p.Commit()
	return true
}

func TestKeyIsTheAbsoluteURI(t *testing.T) {
	c := testCache()
	store(t, c, "https://a.example/x?q=1", fields(nil), fields{"cache-control: max-age=10"}, "x", t0)
	if o, _ := c.Lookup(Key([]byte("https://a.example/x?q=1")), fields(nil), t0); o == nil || string(o.Body) != "x" {
		t.Fatalf("stored object not found: %v", o)
	}
	for _, other := range []string{"https://b.example/x?q=1", "https://a.example/x?q=2", "https://a.example/x"} {
		if o, _ := c.Lookup(Key([]byte(other)), fields(nil), t0); o != nil {
			t.Errorf("%s found the object of another URI", other)
		}
	}
}

func TestWhatIsStored(t *testing.T) {
	cases := []struct {
		res  fields
		want bool
	}{
		{fields{"cache-control: max-age=10"}, true},
		{fields{"cache-control: public"}, false}, // no freshness, no validator
		{fields{"etag: \"a\""}, true},
		{fields{"last-modified: Mon, 02 Jan 2006 15:04:05 GMT"}, true},
		{fields{"expires: Mon, 02 Jan 2006 15:04:05 GMT"}, true},
		{fields{"cache-control: max-age=10, no-store"}, false},
		{fields{"cache-control: private, max-age=10"}, false},
		{fields{"cache-control: no-cache", "cache-control: max-age=10"}, false},
		{fields{"cache-control: max-age=10", `cache-control: no-cache="set-cookie"`}, false},
		{fields{"cache-control: max-age=10", "pragma: no-cache"}, false},
		{fields{"cache-control: max-age=10", "vary: accept-encoding"}, true},
		{fields{"cache-control: max-age=10", "vary: user-agent"}, false},
		{fields{"cache-control: max-age=10", "age: 5"}, true},
		{fields{"cache-control: max-age=10", "age: 0"}, false},
		{fields{"cache-control: max-age=10", "age: 11"}, false},
		{fields{"cache-control: max-age=10", "set-cookie: a=b"}, true},
	}
	for _, tc := range cases {
		c := testCache()
		if got := store(t, c, "https://h/", fields(nil), tc.res, "b", t0); got != tc.want {
			t.Errorf("%q: stored %v, want %v", tc.res, got, tc.want)
		}
	}
	c := testCache()
	if c.Begin(Key([]byte("https://h/")), fields(nil), 404, nil, fields{"cache-control: max-age=10"}, 1, t0) != nil {
		t.Error("a 404 is stored")
	}
	noVary := New(Config{TotalMaxSize: 1 << 20, MaxAge: time.Minute})
	if store(t, noVary, "https://h/", fields(nil), fields{"cache-control: max-age=10", "vary: accept-encoding"}, "b", t0) {
		t.Error("a response with Vary is stored without process-vary")
	}
}

func TestRequestRules(t *testing.T) {
	cases := []struct {
		method       string
		minor        int
		req          fields
		lookup, stor bool
	}{
		{"GET", 1, fields(nil), true, true},
		{"HEAD", 1, nil, true, false},
		{"POST", 1, nil, false, false},
		{"GET", 0, nil, false, false},
		{"GET", 1, fields{"authorization: Basic x"}, false, false},
		{"GET", 1, fields{"cache-control: no-cache"}, false, true},
		{"GET", 1, fields{"cache-control: no-store"}, true, false},
		{"GET", 1, fields{"pragma: no-cache"}, false, true},
		{"GET", 1, fields{"pragma: no-cache", "cache-control: foo"}, true, true},
	}
	for _, tc := range cases {
		r := CheckRequest([]byte(tc.method), 1, tc.minor, tc.req)
		if r.Lookup != tc.lookup || r.Store != tc.stor {
			t.Errorf("%s 1.%d %q: %+v, want lookup %v store %v", tc.method, tc.minor, tc.req, r, tc.lookup, tc.stor)
		}
	}
}

func TestFreshness(t *testing.T) {
	c := testCache()
	store(t, c, "https://h/a", fields(nil), fields{"cache-control: max-age=5"}, "a", t0)
	store(t, c, "https://h/b", fields(nil), fields{"cache-control: max-age=500"}, "b", t0) // capped at 60
	store(t, c, "https://h/c", fields(nil), fields{"cache-control: s-maxage=3, max-age=100"}, "c", t0)
	store(t, c, "https://h/d", fields(nil), fields{"expires: " + t0.Add(20*time.Second).UTC().Format(http1123)}, "d", t0)
	store(t, c, "https://h/e", fields(nil), fields{"cache-control: max-age=30", "age: 10"}, "e", t0)
	check := func(uri string, at time.Duration, want bool) {
		t.Helper()
		o, _ := c.Lookup(Key([]byte(uri)), fields(nil), t0.Add(at))
		if (o != nil) != want {
			t.Errorf("%s after %v: found %v, want %v", uri, at, o != nil, want)
		}
	}
	check("https://h/a", 4*time.Second, true)
	check("https://h/a", 5*time.Second, false)
	check("https://h/b", 59*time.Second, true)
	check("https://h/b", 60*time.Second, false)
	check("https://h/c", 2*time.Second, true)
	check("https://h/c", 3*time.Second, false)
	check("https://h/d", 19*time.Second, true)
	check("https://h/d", 20*time.Second, false)
	o, _ := c.Lookup(Key([]byte("https://h/e")), fields(nil), t0.Add(2*time.Second))
	if o == nil || o.Age(t0.Add(2*time.Second)) != 12 {
		t.Fatalf("age of e: %v", o)
	}
	for _, f := range o.Fields {
		if string(f.Name) == "age" {
			t.Error("the server's Age is stored")
		}
	}
}

func TestSizeBoundsAndEviction(t *testing.T) {
	c := New(Config{TotalMaxSize: 10000, MaxObjectSize: 3000, MaxAge: time.Minute})
	res := fields{"cache-control: max-age=60"}
	if store(t, c, "https://h/big", fields(nil), res, strings.Repeat("x", 3000), t0) {
		t.Error("an object over max-object-size (content-length) is stored")
	}
	// Over the limit as the body comes, length unknown.
	p := c.Begin(Key([]byte("https://h/big2")), fields(nil), 200, nil, res, -1, t0)
	p.Write(make([]byte, 2000))
	p.Write(make([]byte, 2000))
	p.Commit()
	if o, _ := c.Lookup(Key([]byte("https://h/big2")), fields(nil), t0); o != nil {
		t.Error("an object that outgrew max-object-size is stored")
	}
	for i := 0; i < 5; i++ {
		store(t, c, fmt.Sprintf("https://h/%d", i), fields(nil), res, strings.Repeat("x", 2500), t0)
		if i == 2 {
			c.Lookup(Key([]byte("https://h/0")), fields(nil), t0) // 0 is used: 1 is the least recently used
		}
	}
	if c.Used() > 10000 {
		t.Fatalf("used %d > total", c.Used())
	}
	for i, want := range []bool{true, false, false, true, true} {
		if o, _ := c.Lookup(Key([]byte(fmt.Sprintf("https://h/%d", i))), fields(nil), t0); (o != nil) != want {
			t.Errorf("object %d: found %v, want %v", i, o != nil, want)
		}
	}
}

func TestVary(t *testing.T) {
	c := testCache()
	u := "https://h/v"
	gz := fields{"cache-control: max-age=60", "vary: accept-encoding", "content-encoding: gzip"}
	plain := fields{"cache-control: max-age=60", "vary: accept-encoding"}
	store(t, c, u, fields{"accept-encoding: gzip, br"}, gz, "gz", t0)
	store(t, c, u, fields{"accept-encoding: br"}, plain, "plain", t0)
	for _, tc := range []struct {
		ae   fields
		want string
	}{
		{fields{"accept-encoding: gzip"}, "gz"},
		{fields{"accept-encoding: br"}, "plain"},
		{fields{"accept-encoding: identity;q=0, gzip"}, "gz"},
		{fields{"accept-encoding: identity;q=0, br"}, ""},
	} {
		o, _ := c.Lookup(Key([]byte(u)), tc.ae, t0)
		got := ""
		if o != nil {
			got = string(o.Body)
		}
		if got != tc.want && !(tc.want == "gz" && got == "plain") {
			t.Errorf("%q: got %q, want %q", tc.ae, got, tc.want)
		}
	}
	if store(t, c, "https://h/z", fields(nil), fields{"cache-control: max-age=60", "vary: accept-encoding", "content-encoding: foo"}, "z", t0) {
		t.Error("a response in an unknown coding that varies on accept-encoding is stored")
	}
}

func TestMaxSecondaryEntries(t *testing.T) {
	c := New(Config{TotalMaxSize: 1 << 20, MaxAge: time.Minute, ProcessVary: true, MaxSecondaryEntries: 2})
	res := fields{"cache-control: max-age=60", "vary: referer"}
	n := 0
	for i := 0; i < 4; i++ {
		if store(t, c, "https://h/r", fields{fmt.Sprintf("referer: /%d", i)}, res, "r", t0) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d variants stored, want 2", n)
	}
}

func TestConditional(t *testing.T) {
	c := testCache()
	lm := t0.Add(-time.Hour).UTC().Format(http1123)
	store(t, c, "https://h/c", fields(nil), fields{"cache-control: max-age=60", `etag: "v1"`, "last-modified: " + lm}, "c", t0)
	key := Key([]byte("https://h/c"))
	for _, tc := range []struct {
		req  fields
		want bool
	}{
		{fields(nil), false},
		{fields{`if-none-match: "v1"`}, true},
		{fields{`if-none-match: W/"v1"`}, true},
		{fields{`if-none-match: "v0", "v1"`}, true},
		{fields{`if-none-match: "v2"`}, false},
		{fields{"if-none-match: *"}, true},
		{fields{"if-modified-since: " + lm}, true},
		{fields{"if-modified-since: " + t0.Add(-2*time.Hour).UTC().Format(http1123)}, false},
		{fields{`if-none-match: "v2"`, "if-modified-since: " + lm}, false},
	} {
		if _, nm := c.Lookup(key, tc.req, t0); nm != tc.want {
			t.Errorf("%q: 304 %v, want %v", tc.req, nm, tc.want)
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestInvalidate(t *testing.T) {
	c := testCache()
	store(t, c, "https://h/i", fields(nil), fields{"cache-control: max-age=60"}, "i", t0)
	c.Invalidate(Key([]byte("https://h/i")))
	if o, _ := c.Lookup(Key([]byte("https://h/i")), fields(nil), t0); o != nil || c.Used() != 0 {
		t.Errorf("invalidated object found (%v) or counted (%d)", o, c.Used())
	}
}

// TestConcurrentLoops stores, looks up and evicts from several goroutines,
// as loops do (run with -race).
func TestConcurrentLoops(t *testing.T) {
	c := New(Config{TotalMaxSize: 64 << 10, MaxObjectSize: 8 << 10, MaxAge: time.Minute, ProcessVary: true})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				uri := fmt.Sprintf("https://h/%d", i%97)
				if o, _ := c.Lookup(Key([]byte(uri)), fields(nil), t0); o != nil {
					if len(o.Body) != 1000+i%97 {
						t.Errorf("%s: body of %d bytes", uri, len(o.Body))
						return
					}
					continue
				}
				store(t, c, uri, fields(nil), fields{"cache-control: max-age=60"}, strings.Repeat("x", 1000+i%97), t0)
			}
		}(g)
	}
	wg.Wait()
	if u := c.Used(); u > 64<<10 {
		t.Errorf("used %d past the total", u)
	}
	if len(c.Entries(t0)) == 0 {
		t.Error("nothing stored")
	}
}
