package kv_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaedge/luaedge/shared/kv"
	"github.com/luaedge/luaedge/shared/kv/redistest"
)

func newRedis(t *testing.T, srv *redistest.Server, prefix string) *kv.Redis {
	t.Helper()
	r := kv.NewRedis(kv.RedisConfig{Address: srv.Addr, Pool: 4, Timeout: 500 * time.Millisecond, Prefix: prefix, MaxArtifact: 1 << 10})
	t.Cleanup(func() { r.Close() })
	return r
}

func do(t *testing.T, r kv.Backend, op kv.Op) kv.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.Do(ctx, op)
}

func ok(t *testing.T, r kv.Backend, op kv.Op) kv.Result {
	t.Helper()
	res := do(t, r, op)
	if res.Err != nil {
		t.Fatalf("%+v: %v", op, res.Err)
	}
	return res
}

func TestRedisKV(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, "test:")
	if res := ok(t, r, kv.Op{Code: kv.OpGet, Key: "a"}); res.Found {
		t.Fatal("absent key found")
	}
	ok(t, r, kv.Op{Code: kv.OpSet, Key: "a", Value: "1\x00two"})
	if res := ok(t, r, kv.Op{Code: kv.OpGet, Key: "a"}); !res.Found || res.Value != "1\x00two" {
		t.Fatalf("get a: %+v", res)
	}
	// The key is under the prefix and the kv namespace.
	other := newRedis(t, srv, "other:")
	if res := ok(t, other, kv.Op{Code: kv.OpGet, Key: "a"}); res.Found {
		t.Fatal("a key of one prefix seen under another")
	}
	ok(t, r, kv.Op{Code: kv.OpSet, Key: "short", Value: "v", TTL: 50 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for ok(t, r, kv.Op{Code: kv.OpGet, Key: "short"}).Found {
		if time.Now().After(deadline) {
			t.Fatal("a key with a 50ms ttl still there after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range []string{"user:1", "user:2", "user*:3", "other"} {
		ok(t, r, kv.Op{Code: kv.OpSet, Key: k, Value: "v"})
	}
	if got := ok(t, r, kv.Op{Code: kv.OpList, Key: "user"}).Keys; !reflect.DeepEqual(got, []string{"user*:3", "user:1", "user:2"}) {
		t.Fatalf("list user: %q", got)
	}
	if got := ok(t, r, kv.Op{Code: kv.OpList, Key: "user*"}).Keys; !reflect.DeepEqual(got, []string{"user*:3"}) {
		t.Fatalf("list user* (a glob character in the prefix): %q", got)
	}
	ok(t, r, kv.Op{Code: kv.OpDelete, Key: "user:1"})
	ok(t, r, kv.Op{Code: kv.OpDelete, Key: "user:1"}) // absent: no error
	if ok(t, r, kv.Op{Code: kv.OpGet, Key: "user:1"}).Found {
		t.Fatal("deleted key found")
	}
}

func TestRedisIncr(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, "test:")
	if n := ok(t, r, kv.Op{Code: kv.OpIncr, Key: "n", Delta: 1}).Num; n != 1 {
		t.Fatalf("incr of an absent key from 0: %v", n)
	}
	if n := ok(t, r, kv.Op{Code: kv.OpIncr, Key: "n", Delta: 2.5, Init: 100}).Num; n != 3.5 {
		t.Fatalf("init only counts for an absent key: %v", n)
	}
	if n := ok(t, r, kv.Op{Code: kv.OpIncr, Key: "m", Delta: 1, Init: 10, TTL: 50 * time.Millisecond}).Num; n != 11 {
		t.Fatalf("incr with init 10: %v", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ok(t, r, kv.Op{Code: kv.OpGet, Key: "m"}).Found {
		if time.Now().After(deadline) {
			t.Fatal("the ttl given when incr created the key did not hold")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok(t, r, kv.Op{Code: kv.OpSet, Key: "s", Value: "7"})
	if n := ok(t, r, kv.Op{Code: kv.OpIncr, Key: "s", Delta: 1}).Num; n != 8 {
		t.Fatalf("incr of \"7\": %v", n)
	}
	if v := ok(t, r, kv.Op{Code: kv.OpGet, Key: "s"}).Value; v != "8" {
		t.Fatalf("a counter reads back as %q", v)
	}
	ok(t, r, kv.Op{Code: kv.OpSet, Key: "w", Value: "word"})
	if err := do(t, r, kv.Op{Code: kv.OpIncr, Key: "w", Delta: 1}).Err; !errors.Is(err, kv.ErrNotNumber) {
		t.Fatalf("incr of a word: %v", err)
	}
}

// testArtifacts runs the same checks on any artifact backend.
func testArtifacts(t *testing.T, b kv.Backend) {
	if res := ok(t, b, kv.Op{Code: kv.OpArtRead, Key: "a/b.txt"}); res.Found {
		t.Fatal("absent artifact found")
	}
	ok(t, b, kv.Op{Code: kv.OpArtWrite, Key: "a/b.txt", Value: "hello"})
	ok(t, b, kv.Op{Code: kv.OpArtWrite, Key: "a/c.txt", Value: "x"})
	ok(t, b, kv.Op{Code: kv.OpArtWrite, Key: "top", Value: ""})
	if res := ok(t, b, kv.Op{Code: kv.OpArtRead, Key: "a/b.txt"}); !res.Found || res.Value != "hello" {
		t.Fatalf("read: %+v", res)
	}
	if !ok(t, b, kv.Op{Code: kv.OpArtExists, Key: "top"}).Found || ok(t, b, kv.Op{Code: kv.OpArtExists, Key: "nope"}).Found {
		t.Fatal("exists")
	}
	if got := ok(t, b, kv.Op{Code: kv.OpArtList, Key: "a/"}).Keys; !reflect.DeepEqual(got, []string{"a/b.txt", "a/c.txt"}) {
		t.Fatalf("list a/: %q", got)
	}
	ok(t, b, kv.Op{Code: kv.OpArtRename, Key: "a/b.txt", Value: "d/e.txt"})
	if res := ok(t, b, kv.Op{Code: kv.OpArtRead, Key: "d/e.txt"}); res.Value != "hello" {
		t.Fatalf("renamed: %+v", res)
	}
	if err := do(t, b, kv.Op{Code: kv.OpArtRename, Key: "a/b.txt", Value: "x"}).Err; !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("rename of an absent artifact: %v", err)
	}
	ok(t, b, kv.Op{Code: kv.OpArtDelete, Key: "top"})
	if err := do(t, b, kv.Op{Code: kv.OpArtDelete, Key: "top"}).Err; !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("delete of an absent artifact: %v", err)
	}
	if got := ok(t, b, kv.Op{Code: kv.OpArtList}).Keys; !reflect.DeepEqual(got, []string{"a/c.txt", "d/e.txt"}) {
		t.Fatalf("list: %q", got)
	}
	for _, bad := range []string{"", "/abs", "a/../b", "a//b", "./a", "a\\b"} {
		if err := do(t, b, kv.Op{Code: kv.OpArtWrite, Key: bad, Value: "x"}).Err; !errors.Is(err, kv.ErrBadName) {
			t.Errorf("write %q: %v, want a bad name", bad, err)
		}
	}
	if err := do(t, b, kv.Op{Code: kv.OpArtWrite, Key: "big", Value: strings.Repeat("x", 1025)}).Err; !errors.Is(err, kv.ErrTooLarge) {
		t.Fatalf("write over the limit: %v", err)
	}
}

func TestRedisArtifacts(t *testing.T) {
	testArtifacts(t, newRedis(t, redistest.Start(t), "test:"))
}

func TestDirArtifacts(t *testing.T) {
	d := kv.NewDir(filepath.Join(t.TempDir(), "art"), 1<<10)
	if got := ok(t, d, kv.Op{Code: kv.OpArtList}).Keys; len(got) != 0 {
		t.Fatalf("list of a folder not made yet: %q", got)
	}
	testArtifacts(t, d)
}

// events collects what a bus subscription delivers.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(name, data string) {
	e.mu.Lock()
	e.got = append(e.got, name+"="+data)
	e.mu.Unlock()
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.got {
		if g == s {
			return true
		}
	}
	return false
}

func TestRedisBus(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newRedis(t, srv, "test:"), newRedis(t, srv, "test:")
	other := newRedis(t, srv, "other:")
	var onB, onOther events
	stop := b.Subscribe(onB.add, slog.Default())
	defer stop()
	stopOther := other.Subscribe(onOther.add, slog.Default())
	defer stopOther()
	// The subscription is made on its goroutine: publish until it is seen.
	deadline := time.Now().Add(5 * time.Second)
	for !onB.has("ev=data") {
		if time.Now().After(deadline) {
			t.Fatal("an event published on one client did not reach a subscriber of another within 5s")
		}
		ok(t, a, kv.Op{Code: kv.OpEmit, Key: "ev", Value: "data"})
		time.Sleep(20 * time.Millisecond)
	}
	if onOther.has("ev=data") {
		t.Fatal("an event reached a subscriber of another prefix")
	}
}

// TestRedisDown stops the server under a client: operations fail within
// the timeout with an error naming the server, and work again once it is
// back, as does the bus.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, "test:")
	var got events
	stop := r.Subscribe(got.add, slog.Default())
	defer stop()
	ok(t, r, kv.Op{Code: kv.OpSet, Key: "k", Value: "v"})
	srv.Stop()
	for i := 0; i < 10; i++ { // past the pool size: go-redis then fails at once
		start := time.Now()
		res := do(t, r, kv.Op{Code: kv.OpGet, Key: "k"})
		if res.Err == nil {
			t.Fatal("get with Redis down succeeded")
		}
		if !strings.Contains(res.Err.Error(), srv.Addr) {
			t.Fatalf("error does not name the server: %v", res.Err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("a failed get took %v, over twice the 500ms timeout", took)
		}
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for do(t, r, kv.Op{Code: kv.OpSet, Key: "k", Value: "again"}).Err != nil {
		if time.Now().After(deadline) {
			t.Fatal("operations still fail 10s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := ok(t, r, kv.Op{Code: kv.OpGet, Key: "k"}).Value; v != "again" {
		t.Fatalf("get after the restart: %q", v)
	}
	for !got.has("back=1") {
		if time.Now().After(deadline) {
			t.Fatal("the bus did not deliver again 10s after Redis came back")
		}
		do(t, r, kv.Op{Code: kv.OpEmit, Key: "back", Value: "1"})
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisSyncHashes(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, "test:")
	ctx := context.Background()
	ups := []kv.HashUpdate{
		{Key: "1.2.3.4", Add: []kv.Field{{Name: "http_req_cnt", N: 3}, {Name: "r:5", N: 2}}, Get: []string{"http_req_cnt", "r:5", "absent"}},
		{Key: "5.6.7.8", Set: []kv.Field{{Name: "gpt0", N: 9}}, Get: []string{"gpt0"}},
	}
	got, err := r.SyncHashes(ctx, "fleet", time.Minute, ups)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]int64{{3, 2, 0}, {9}}) {
		t.Fatalf("first exchange: %v", got)
	}
	got, err = r.SyncHashes(ctx, "fleet", 50*time.Millisecond, []kv.HashUpdate{
		{Key: "1.2.3.4", Set: []kv.Field{{Name: "gpc0", N: 0}}, Add: []kv.Field{{Name: "http_req_cnt", N: 1}, {Name: "gpc0", N: 4}}, Del: []string{"r:5"}, Get: []string{"http_req_cnt", "gpc0", "r:5"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]int64{{4, 4, 0}}) {
		t.Fatalf("second exchange: %v", got)
	}
	// The last exchange gave the hash a 50ms TTL.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = r.SyncHashes(ctx, "fleet", 0, []kv.HashUpdate{{Key: "1.2.3.4", Get: []string{"http_req_cnt"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got[0][0] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hash outlived its ttl")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
