package backend

import (
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

func TestHashFunctions(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func([]byte) uint32
		in   string
		want uint32
	}{
		{"sdbm", hashSDBM, "", 0},
		{"sdbm", hashSDBM, "a", 97},
		{"sdbm", hashSDBM, "ab", 98 + 97<<6 + 97<<16 - 97},
		{"djb2", hashDJB2, "", 5381},
		{"djb2", hashDJB2, "a", 5381*33 + 97},
		{"wt6", hashWT6, "", 0xa53c965a ^ 0x5ca6953a},
	} {
		if got := c.fn([]byte(c.in)); got != c.want {
			t.Errorf("%s(%q) = %#x, want %#x", c.name, c.in, got, c.want)
		}
	}
	for _, in := range []string{"", "a", "/static/img.png", strings.Repeat("xyz", 100)} {
		if got, want := hashCRC32([]byte(in)), crc32.ChecksumIEEE([]byte(in)); got != want {
			t.Errorf("crc32(%q) = %#x, want %#x", in, got, want)
		}
	}
	if a, b := fullHash(1), fullHash(2); a == b || a == 1 {
		t.Errorf("fullHash(1) = %#x, fullHash(2) = %#x", a, b)
	}
}

func TestParseHashType(t *testing.T) {
	for line, want := range map[string]string{
		"":                        "map sdbm",
		"map-based":               "map sdbm",
		"consistent":              "consistent sdbm avalanche",
		"consistent sdbm":         "consistent sdbm",
		"map-based djb2":          "map djb2",
		"map-based wt6 avalanche": "map wt6 avalanche",
		"consistent crc32":        "consistent crc32",
	} {
		ht, err := parseHashType(line)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		got := "map"
		if ht.consistent {
			got = "consistent"
		}
		for name, fn := range map[string]func([]byte) uint32{"sdbm": hashSDBM, "djb2": hashDJB2, "wt6": hashWT6, "crc32": hashCRC32} {
			if fmt.Sprintf("%p", fn) == fmt.Sprintf("%p", ht.fn) {
				got += " " + name
			}
		}
		if ht.avalanche {
			got += " avalanche"
		}
		if got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
	for _, line := range []string{"avalanche", "map-based avalanche", "consistent md5", "map-based sdbm avalanche more", "ring"} {
		if err := CheckHashType(line); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
}

// What each algorithm hashes of a request's key.
func TestHashedKey(t *testing.T) {
	for _, c := range []struct{ balance, key, want string }{
		{"uri", "/a/b/c?x=1", "/a/b/c"},
		{"uri whole", "/a/b/c?x=1", "/a/b/c?x=1"},
		{"uri len 4", "/a/b/c?x=1", "/a/b"},
		{"uri depth 2", "/a/b/c?x=1", "/a/b"},
		{"uri depth 2", "/a?b/c/d", "/a"},
		{"uri depth 2 whole", "/a?b/c/d", "/a?b/c"},
		{"uri", "http://h.example/p?q", "http://h.example/p"},
		{"uri path-only", "http://h.example/p?q", "/p"},
		{"uri path-only whole", "http://h.example/p?q", "/p?q"},
		{"uri path-only", "http://h.example", ""},
		{"url_param id", "/p?a=1&id=42&z", "42"},
		{"url_param id", "/p?id=&a=1", ""},
		{"url_param id", "/p?xid=1&id=7", "7"},
		{"hdr(host) use_domain_only", "www.example.com", "example"},
		{"hdr(host) use_domain_only", "example.com", "example"},
		{"hdr(host) use_domain_only", "localhost", "localhost"},
		{"hdr(host) use_domain_only", ".com", ".com"},
		{"hdr(host)", "www.example.com", "www.example.com"},
	} {
		bl, err := parseBalance(c.balance)
		if err != nil {
			t.Fatalf("%s: %v", c.balance, err)
		}
		if got, ok := bl.hashed([]byte(c.key)); !ok || string(got) != c.want {
			t.Errorf("%s of %q: %q %v, want %q", c.balance, c.key, got, ok, c.want)
		}
	}
	for _, c := range []struct{ balance, key string }{
		{"url_param id", "/p"}, {"url_param id", "/p?ident=1"}, {"url_param id", "/p?id"}, {"hdr(x)", ""},
	} {
		bl, _ := parseBalance(c.balance)
		if got, ok := bl.hashed([]byte(c.key)); ok {
			t.Errorf("%s of %q: %q, want nothing", c.balance, c.key, got)
		}
	}
	for _, line := range []string{"uri len", "uri len 0", "uri depth x", "uri first", "url_param id check_post", "hdr(host) other"} {
		if err := CheckBalance(line); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
}

// The map lays the servers out by weight as HAProxy's: a a b for 2 and
// 1, and the weights divided by their common divisor.
func TestHashMap(t *testing.T) {
	tb := hashTable{eweights: []int{2, 1}}
	tb.buildMap()
	if fmt.Sprint(tb.slots) != "[0 0 1]" {
		t.Errorf("weights 2,1: %v", tb.slots)
	}
	b := mustNew(t, Config{Name: "x", Balance: "uri", Servers: []ServerConfig{
		{Name: "a", Address: "10.0.0.1:80", Weight: 4}, {Name: "b", Address: "10.0.0.2:80", Weight: 6},
	}})
	b.Pick([]byte("/")).Done()
	if tb := b.set.Load().table; len(tb.slots) != 5 {
		t.Errorf("weights 4,6: %d slots, want 5", len(tb.slots))
	}
}

// A server going down is left out of the map or the circle, and its
// keys come back to it when it is up again; with consistent hashing the
// keys of the other servers stay where they were.
func TestHashServerDown(t *testing.T) {
	for _, ht := range []string{"map-based", "consistent"} {
		b := mustNew(t, Config{Name: "x", Balance: "uri", HashType: ht, Servers: servers(1, 2, 3)})
		where := func() []string {
			var out []string
			for i := range 200 {
				s := b.Pick(fmt.Appendf(nil, "/k%d", i))
				out = append(out, s.Name())
				s.Done()
			}
			return out
		}
		before := where()
		b.Server("b").SetAdminState(AdminMaint)
		down := where()
		for i, s := range down {
			if s == "b" {
				t.Fatalf("%s: key %d went to b in maintenance", ht, i)
			}
			if ht == "consistent" && before[i] != "b" && s != before[i] {
				t.Errorf("%s: key %d moved from %s to %s", ht, i, before[i], s)
			}
		}
		b.Server("b").SetAdminState(AdminReady)
		if after := where(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: keys moved after b came back", ht)
		}
	}
}
