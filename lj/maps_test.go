package lj

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testShared holds the maps of the Go-side map tests; each test uses
// files of its own temporary directory.
var testShared = NewShared("", 1)

// writeFile writes a file in a fresh temporary directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPatFile(t *testing.T) {
	p := writeFile(t, "a.map", "# comment\n"+
		"   \t\n"+
		"key1 value one  \t\r\n"+
		"\t  key2\t\tv2\n"+
		"keyonly\n"+
		"  # not a comment (only column 0 is)\n"+
		"k5 a # b\n")
	es, _, err := readPatFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapEntry{
		{key: "key1", value: "value one", line: 3},
		{key: "key2", value: "v2", line: 4},
		{key: "keyonly", value: "", line: 5},
		{key: "#", value: "not a comment (only column 0 is)", line: 6},
		{key: "k5", value: "a # b", line: 7},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d entries: %+v", len(es), es)
	}
	for i, e := range es {
		if *e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, *e, want[i])
		}
	}
	acl, _, err := readPatFile(writeFile(t, "a.acl", "#c\n  /a b  \n\n/c\r\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(acl) != 2 || acl[0].key != "/a b  " || !acl[0].noValue || acl[1].key != "/c" || acl[1].line != 4 {
		t.Fatalf("acl entries %+v %+v", *acl[0], *acl[1])
	}
}

func lookupOK(t *testing.T, path, method, key, want string) {
	t.Helper()
	v, ok := testShared.MapLookup(path, method, key)
	if want == "<nil>" {
		if ok {
			t.Errorf("%s %s(%q) = %q, want no match", filepath.Base(path), method, key, v)
		}
		return
	}
	if !ok || v != want {
		t.Errorf("%s %s(%q) = %q, %v; want %q", filepath.Base(path), method, key, v, ok, want)
	}
}

func TestMapMethods(t *testing.T) {
	str := writeFile(t, "str.map", "example.com a\nexample.com b\nfoo bar\n")
	lookupOK(t, str, "str", "example.com", "a") // first of duplicates
	lookupOK(t, str, "str", "foo", "bar")
	lookupOK(t, str, "str", "Foo", "<nil>")
	lookupOK(t, str, "str", "fo", "<nil>")

	beg := writeFile(t, "beg.map", "/api v1\n/api/v2 v2\n/ root\n/api/v2 dup\n")
	lookupOK(t, beg, "beg", "/api/v2/users", "v2") // longest prefix
	lookupOK(t, beg, "beg", "/api/v1", "v1")
	lookupOK(t, beg, "beg", "/x", "root")
	lookupOK(t, beg, "beg", "x", "<nil>")

	sub := writeFile(t, "sub.map", "Googlebot google\nbot crawler\n")
	lookupOK(t, sub, "sub", "Mozilla Googlebot/2.1", "google") // first in file order
	lookupOK(t, sub, "sub", "a googlebot", "crawler")          // case-sensitive
	lookupOK(t, sub, "sub", "nothing", "<nil>")

	end := writeFile(t, "end.map", ".jpg image\n.example.com ex\ncom dotcom\n")
	lookupOK(t, end, "end", "a/b.jpg", "image")
	lookupOK(t, end, "end", "www.example.com", "ex")
	lookupOK(t, end, "end", "foo.com", "dotcom")
	lookupOK(t, end, "end", "a.jpeg", "<nil>")

	dir := writeFile(t, "dir.map", "/images/ img\nstatic/css css\n")
	lookupOK(t, dir, "dir", "/images/logo.png", "img")
	lookupOK(t, dir, "dir", "/a/images", "img")
	lookupOK(t, dir, "dir", "/x?images", "img")
	lookupOK(t, dir, "dir", "/myimages/x", "<nil>")
	lookupOK(t, dir, "dir", "/imagesx", "<nil>")
	lookupOK(t, dir, "dir", "/a/static/css/b.css", "css")
	lookupOK(t, dir, "dir", "/a/static/cssx", "<nil>")

	regm := writeFile(t, "regm.map", "^(.*)\\.(.*)$ \\1_AND_\\2\n^x(y)? [\\0|\\1|\\9|\\z]\n")
	lookupOK(t, regm, "regm", "example.org", "example_AND_org")
	lookupOK(t, regm, "regm", "x", "[x|||\\z]") // groups that did not match are empty
	lookupOK(t, regm, "regm", "nothing", "<nil>")

	dom := writeFile(t, "dom.map", "example.com ex\n.org org\n")
	lookupOK(t, dom, "dom", "www.example.com", "ex")
	lookupOK(t, dom, "dom", "example.com:8080", "ex")
	lookupOK(t, dom, "dom", "http://example.com/x", "ex")
	lookupOK(t, dom, "dom", "myexample.com", "<nil>")
	lookupOK(t, dom, "dom", "example.community", "<nil>")
	lookupOK(t, dom, "dom", "haproxy.org", "org")

	reg := writeFile(t, "reg.map", `^/api/v[0-9]+/ api
\.(png|jpg)$ img
.* any
`)
	lookupOK(t, reg, "reg", "/api/v12/x", "api")
	lookupOK(t, reg, "reg", "/a.png", "img")
	lookupOK(t, reg, "reg", "/zzz", "any")

	in := writeFile(t, "int.map", "200 ok\n300:399 redirect\n500- error\n:99 low\n404 notfound\n")
	lookupOK(t, in, "int", "200", "ok")
	lookupOK(t, in, "int", "302", "redirect")
	lookupOK(t, in, "int", "404", "notfound")
	lookupOK(t, in, "int", "150", "<nil>") // in no range
	lookupOK(t, in, "int", "503", "error")
	lookupOK(t, in, "int", "42", "low")
	lookupOK(t, in, "int", "302.7", "redirect")
	lookupOK(t, in, "int", "abc", "<nil>")

	ip := writeFile(t, "ip.map", `10.0.0.0/8 ten
10.1.0.0/16 ten-one
10.1.2.3 host
192.168.0.0/255.255.0.0 dotted
2001:db8::/32 doc
2001:db8:1::/48 doc1
::ffff:172.16.0.0/108 mapped
`)
	lookupOK(t, ip, "ip", "10.1.2.3", "host")
	lookupOK(t, ip, "ip", "10.1.9.9", "ten-one")
	lookupOK(t, ip, "ip", "10.200.0.1", "ten")
	lookupOK(t, ip, "ip", "192.168.44.1", "dotted")
	lookupOK(t, ip, "ip", "8.8.8.8", "<nil>")
	lookupOK(t, ip, "ip", "2001:db8:1::5", "doc1")
	lookupOK(t, ip, "ip", "2001:db8:2::5", "doc")
	lookupOK(t, ip, "ip", "::ffff:10.1.2.3", "host")   // mapped IPv6 input, IPv4 key
	lookupOK(t, ip, "ip", "2002:0a01:0203::1", "host") // 6to4
	lookupOK(t, ip, "ip", "172.16.3.4", "mapped")      // IPv4 input, mapped IPv6 key
	lookupOK(t, ip, "ip", "2a00::1", "<nil>")
	lookupOK(t, ip, "ip", "not an address", "<nil>")
	lookupOK(t, ip, "ip", "fe80::1%eth0", "<nil>")
}

func TestMapIPDefault(t *testing.T) {
	ip := writeFile(t, "def.map", "0.0.0.0/0 any4\n::/0 any6\n10.0.0.0/8 ten\n")
	lookupOK(t, ip, "ip", "8.8.8.8", "any4")
	lookupOK(t, ip, "ip", "10.0.0.8", "ten")
	lookupOK(t, ip, "ip", "2a00::1", "any6")
	lookupOK(t, ip, "ip", "::ffff:10.0.0.1", "any6") // the IPv6 table is tried first for IPv6 input
}

func TestMapOddMask(t *testing.T) {
	ip := writeFile(t, "odd.map", "10.0.0.1/255.0.0.255 odd\n10.0.0.0/8 ten\n")
	lookupOK(t, ip, "ip", "10.9.9.1", "ten") // the prefix table comes first
	lookupOK(t, ip, "ip", "11.9.9.9", "<nil>")
	ip2 := writeFile(t, "odd2.map", "10.0.0.1/255.0.0.255 odd\n")
	lookupOK(t, ip2, "ip", "10.9.9.1", "odd")
	lookupOK(t, ip2, "ip", "10.9.9.2", "<nil>")
}

func TestMapLoadErrors(t *testing.T) {
	for _, tc := range []struct{ method, content, want string }{
		{"ip", "10.0.0.0/8 a\nnot-an-ip b\n", "bad.map:2: 'not-an-ip' is not a valid IPv4 or IPv6 address"},
		{"ip", "10.0.0.0/33 a\n", "bad.map:1: '10.0.0.0/33' is not a valid"},
		{"int", "12 a\n\nx3 b\n", "bad.map:3: 'x3' is not a number"},
		{"int", "9:3 a\n", "bad.map:1: '9:3' is not a valid number range"},
		{"reg", "ok a\n(?=x) b\n", "bad.map:2: regex '(?=x)': lookahead"},
		{"reg", "a( b\n", "bad.map:1: regex 'a(': missing closing )"},
	} {
		p := writeFile(t, "bad.map", tc.content)
		err := testShared.LoadMap(p, tc.method, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want %q", tc.method, tc.content, err, tc.want)
		}
		// the same file still loads for an exact match
		if err := testShared.LoadMap(p, "str", false); err != nil {
			t.Error(err)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.map")
	var unreadable *ReadError
	if err := testShared.LoadMap(missing, "str", false); !errors.As(err, &unreadable) || !strings.Contains(err.Error(), "missing.map: cannot read map file: no such file or directory") {
		t.Errorf("missing: %v", err)
	}
	// map_*_int: a value that does not read as an integer, as HAProxy's
	// read_int64 reads it to the end, is refused with its line; the same
	// file loads for strings.
	p := writeFile(t, "ints.map", "a 1\nb -2\nc +3\nd\ne -\nf 99999999999999999999\ng 1.5\n")
	if err := testShared.LoadMap(p, "str", true); err == nil || errors.As(err, &unreadable) || !strings.Contains(err.Error(), "ints.map:7: unable to parse '1.5' as an integer") {
		t.Errorf("ints: %v", err)
	}
	if err := testShared.LoadMap(p, "beg", false); err != nil {
		t.Errorf("strings: %v", err)
	}
	if err := testShared.LoadMap(missing, "nope", false); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := testShared.openMap(missing, matchLen, false, false); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("len: %v", err)
	}
}

func TestMapSharedAndUpdates(t *testing.T) {
	p := writeFile(t, "u.map", "example.com one\n/static st\n")
	lookupOK(t, p, "str", "example.com", "one")
	lookupOK(t, p, "beg", "/static/x", "st")

	// a relative path names the same file as the absolute one
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := testShared.setMap(rel, "example.com", "two", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, p, "str", "example.com", "two")
	if err := testShared.setMap(p, "/static/img", "img", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, p, "beg", "/static/img/a", "img") // added to the existing beg index
	lookupOK(t, p, "str", "/static/img", "img")
	lookupOK(t, p, "end", "a/static/img", "img") // an index built after the update sees it
	if err := testShared.delMap(p, "/static/img", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, p, "beg", "/static/img/a", "st")
	lookupOK(t, p, "end", "a/static/img", "<nil>")
	if err := testShared.delMap(p, "/static", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, p, "beg", "/static/img/a", "<nil>")

	// a file never loaded: created empty, then readable by any method
	fresh := filepath.Join(t.TempDir(), "fresh.map")
	if err := testShared.setMap(fresh, "10.0.0.0/8", "ten", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, fresh, "ip", "10.2.3.4", "ten")
	if err := testShared.setMap(fresh, "junk", "x", false); err != nil { // not an address: kept out of the ip index
		t.Fatal(err)
	}
	lookupOK(t, fresh, "str", "junk", "x")
	lookupOK(t, fresh, "ip", "10.2.3.4", "ten")
	if err := testShared.delMap(fresh, "10.0.0.0/8", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, fresh, "ip", "10.2.3.4", "<nil>")

	// a file never loaded but present on disk is read first
	disk := writeFile(t, "disk.map", "a 1\n")
	if err := testShared.setMap(disk, "b", "2", false); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, disk, "str", "a", "1")
	lookupOK(t, disk, "str", "b", "2")
}

func TestACLFiles(t *testing.T) {
	p := writeFile(t, "bad.acl", "# bots\n10.0.0.0/8\n192.168.1.1\n")
	for _, tc := range []struct {
		in   string
		want bool
	}{{"10.1.1.1", true}, {"192.168.1.1", true}, {"192.168.1.2", false}} {
		if got, err := testShared.ACLMatch(p, "ip", tc.in); err != nil || got != tc.want {
			t.Errorf("ACLMatch(%s) = %v, %v", tc.in, got, err)
		}
	}
	if err := testShared.setMap(p, "192.168.1.2", "", true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := testShared.ACLMatch(p, "ip", "192.168.1.2"); !ok {
		t.Error("add_acl not seen")
	}
	if err := testShared.delMap(p, "10.0.0.0/8", true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := testShared.ACLMatch(p, "ip", "10.1.1.1"); ok {
		t.Error("del_acl not seen")
	}
	// an ACL pattern has no value: a map lookup finds nothing
	if _, err := testShared.openMap(p, matchStr, false, false); err == nil {
		t.Error("ACL file opened as a map")
	}
	m := writeFile(t, "m.map", "a 1\n")
	if err := testShared.setMap(m, "b", "", true); err != nil {
		t.Fatal(err)
	}
	lookupOK(t, m, "str", "b", "<nil>")
}

func TestMatchWord(t *testing.T) {
	for _, tc := range []struct {
		s, key string
		want   bool
	}{
		{"/a/b/c", "b", true},
		{"/a/b/c", "/b/", true},
		{"/a/b/c", "a/b", true},
		{"/a/bb/c", "b", false},
		{"b", "b", true},
		{"", "", true},
		{"/", "/", false},
		{"ab", "b", false},
	} {
		if got := matchWord(tc.s, tc.key, isDirDelim); got != tc.want {
			t.Errorf("matchWord(%q, %q) = %v", tc.s, tc.key, got)
		}
	}
}

func TestParseIntRange(t *testing.T) {
	for _, tc := range []struct {
		s      string
		lo, hi int64
		ok     bool
	}{
		{"5", 5, 5, true}, {"1:3", 1, 3, true}, {"1-3", 1, 3, true}, {"7:", 7, 1<<63 - 1, true},
		{":7", -1 << 63, 7, true}, {"-7", -1 << 63, 7, true}, {":", 0, 0, false}, {"", 0, 0, false},
		{"a", 0, 0, false}, {"3:1", 0, 0, false},
	} {
		lo, hi, err := parseIntRange(tc.s)
		if (err == nil) != tc.ok || tc.ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("parseIntRange(%q) = %d, %d, %v", tc.s, lo, hi, err)
		}
	}
}

// Lookups from many goroutines while others update: run with -race.
func TestMapConcurrent(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "10.%d.0.0/16 net%d\n", i, i)
	}
	p := writeFile(t, "c.map", b.String())
	if err := testShared.LoadMap(p, "ip", false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				testShared.MapLookup(p, "ip", fmt.Sprintf("10.%d.1.1", i%250))
				testShared.MapLookup(p, "str", "10.1.0.0/16")
			}
		}()
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := fmt.Sprintf("172.%d.%d.0/24", g, i)
				_ = testShared.setMap(p, k, "x", false)
				if i%2 == 0 {
					_ = testShared.delMap(p, k, false)
				}
			}
		}(g)
	}
	wg.Wait()
	lookupOK(t, p, "ip", "172.3.199.9", "x")
	lookupOK(t, p, "ip", "172.3.198.9", "<nil>")
	lookupOK(t, p, "ip", "10.7.3.3", "net7")
}
