package edge

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luaedge/luaedge/metrics"
)

// A scrape of /metrics, in-process: the snapshot (a task on each loop
// included) and the exposition. It logs the CPU one costs the process
// and checks it is far under 1 % of a core at one scrape a second.
func TestScrapeCost(t *testing.T) {
	backend := startFixedBackend(t)
	ts := serveBenchCase(t, "hello-log", backend)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := benchRequest(t, "hello-log")
	buf := make([]byte, 64<<10)
	for i := 0; i < 100; i++ {
		roundTrip(t, c, req, buf)
	}
	h := metrics.Handler(ts.Snapshot)
	scrape := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	if body := scrape(); !strings.Contains(body, `luaedge_frontend_http_requests_total{proxy="bench"} 100`) ||
		!strings.Contains(body, `luaedge_lua_function_calls_total{kind="service",name="hello-world"`) {
		t.Fatalf("exposition:\n%s", body)
	}
	const n = 200
	before := processCPU(t)
	start := time.Now()
	for i := 0; i < n; i++ {
		scrape()
	}
	per := (processCPU(t) - before) / n
	t.Logf("one scrape: %v of CPU, %v of wall time; at one a second, %.3f %% of a core", per, time.Since(start)/n, per.Seconds()*100)
	if per > 2*time.Millisecond {
		t.Errorf("a scrape takes %v of CPU", per)
	}

	// The stats history's sample, taken every second: the counters only,
	// no task on the loops.
	before = processCPU(t)
	for i := 0; i < n; i++ {
		if c := ts.Counters(); c.Frontends[0].Requests != 100 {
			t.Fatalf("Counters: %+v", c.Frontends[0])
		}
	}
	per = (processCPU(t) - before) / n
	t.Logf("one sample of the counters: %v of CPU", per)
	if per > 200*time.Microsecond {
		t.Errorf("a sample of the counters takes %v of CPU", per)
	}
}

func processCPU(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
