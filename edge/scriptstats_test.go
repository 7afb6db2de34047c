package edge

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// The counts of every loop's state add up: the init function ran once per
// loop, the task started once per loop, the service once per request.
func TestScriptStatsSumsTheLoops(t *testing.T) {
	ts := startTestServer(t)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	const n = 20
	for i := 0; i < n; i++ {
		resp, err := c.Get("http://" + ts.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := ts.ScriptStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, f := range stats {
		got[f.Kind+" "+f.Name] = f.Calls
	}
	want := map[string]int64{"service t": n, "init ": 2, "task ": 2}
	if len(got) != len(want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %d calls, want %d (all: %v)", k, got[k], w, got)
		}
	}
}
