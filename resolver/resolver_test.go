package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer is a DNS server on a free UDP port: svc.test has an A and an
// AAAA record (TTL 30 s and 60 s), v4.test only an A record behind a CNAME
// (TTLs 10 s and 20 s); every other name does not exist. It counts the
// questions it gets.
type testServer struct {
	addr    string
	queries atomic.Int32
}

func startDNS(t *testing.T) *testServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: pc.LocalAddr().String()}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		ts.queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		rr := func(s string) dns.RR {
			x, err := dns.NewRR(s)
			if err != nil {
				t.Error(err)
			}
			return x
		}
		switch {
		case q.Name == "svc.test." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, rr("svc.test. 30 IN A 127.0.0.7"))
		case q.Name == "svc.test." && q.Qtype == dns.TypeAAAA:
			m.Answer = append(m.Answer, rr("svc.test. 60 IN AAAA ::1"))
		case q.Name == "v4.test." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, rr("v4.test. 20 IN CNAME svc.test."), rr("svc.test. 10 IN A 127.0.0.8"))
		case q.Name == "v4.test.":
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ts
}

func newResolver(t *testing.T, ts *testServer) *Resolver {
	t.Helper()
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# test\n192.0.2.1 fromhosts.test alias.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Nameservers: []string{ts.addr}, HostsFile: hosts, ResolvConf: filepath.Join(t.TempDir(), "none"), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLookupGivesAddressesAndTheirTTL(t *testing.T) {
	ts := startDNS(t)
	r := newResolver(t, ts)
	addrs, ttl, err := r.Lookup(context.Background(), "svc.test")
	if err != nil || len(addrs) != 2 || addrs[0] != netip.MustParseAddr("127.0.0.7") || addrs[1] != netip.MustParseAddr("::1") {
		t.Fatalf("svc.test: %v %v", addrs, err)
	}
	if ttl != 30*time.Second {
		t.Fatalf("ttl %v, want the smaller of 30 s and 60 s", ttl)
	}
	// The CNAME's TTL counts too; no AAAA is not an error when A exists.
	addrs, ttl, err = r.Lookup(context.Background(), "v4.test")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.8") || ttl != 10*time.Second {
		t.Fatalf("v4.test: %v %v %v", addrs, ttl, err)
	}
	_, ttl, err = r.Lookup(context.Background(), "nothing.test")
	if !errors.Is(err, ErrNotFound) || ttl != DefaultNegativeTTL {
		t.Fatalf("nothing.test: %v %v", ttl, err)
	}
}

func TestLookupTimesOutOnASilentServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r, err := New(Config{Nameservers: []string{pc.LocalAddr().String()}, ResolvConf: "/nonexistent", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = r.Lookup(context.Background(), "svc.test")
	if err == nil || errors.Is(err, ErrNotFound) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// The cache answers from its entries while they are fresh, asks once for
// many waiting, and asks again once the TTL has passed.
func TestCacheHonoursTTL(t *testing.T) {
	ts := startDNS(t)
	r := newResolver(t, ts)
	now := time.Now()
	loop := make(chan func(), 16)
	c := r.NewCache(func(fn func()) { loop <- fn }, func() time.Time { return now })
	run := func() { (<-loop)() } // one posted task, as the loop would run it

	var got [][]netip.Addr
	done := func(a []netip.Addr, err error) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	c.Resolve("svc.test", done)
	c.Resolve("SVC.test.", done) // the same name: no second lookup
	if len(got) != 0 {
		t.Fatal("a lookup answered before its answer came")
	}
	run()
	if len(got) != 2 || ts.queries.Load() != 2 { // A and AAAA
		t.Fatalf("got %v after %d queries", got, ts.queries.Load())
	}
	c.Resolve("svc.test", done)
	if len(got) != 3 || ts.queries.Load() != 2 {
		t.Fatalf("a fresh entry was not used: %d answers, %d queries", len(got), ts.queries.Load())
	}
	now = now.Add(31 * time.Second)
	c.Resolve("svc.test", done)
	run()
	if len(got) != 4 || ts.queries.Load() != 4 {
		t.Fatalf("an expired entry was used: %d answers, %d queries", len(got), ts.queries.Load())
	}
	// Addresses and the hosts file answer at once, without a query.
	c.Resolve("10.1.2.3", done)
	c.Resolve("alias.test", done)
	if len(got) != 6 || got[4][0].String() != "10.1.2.3" || got[5][0].String() != "192.0.2.1" || ts.queries.Load() != 4 {
		t.Fatalf("got %v", got[4:])
	}
	// A name that does not exist is kept for the negative TTL.
	var errs []error
	c.Resolve("nothing.test", func(_ []netip.Addr, err error) { errs = append(errs, err) })
	run()
	q := ts.queries.Load()
	c.Resolve("nothing.test", func(_ []netip.Addr, err error) { errs = append(errs, err) })
	if len(errs) != 2 || !errors.Is(errs[1], ErrNotFound) || ts.queries.Load() != q {
		t.Fatalf("negative answer: %v, %d queries then %d", errs, q, ts.queries.Load())
	}
}

func TestServerAddr(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.1": "10.0.0.1:53", "10.0.0.1:5353": "10.0.0.1:5353", "::1": "[::1]:53", "[::1]:54": "[::1]:54"} {
		if got, err := ServerAddr(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"dns.example:53", "10.0.0.1:x", ""} {
		if _, err := ServerAddr(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
