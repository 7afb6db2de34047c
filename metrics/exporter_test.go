package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// The retries and redispatches of each server (wretr, wredis) are
// exported under HAProxy's exporter names, and the backend's are its
// servers' summed.
func TestExporterRetries(t *testing.T) {
	s := sample(1, 10)
	s.Backends[0].Servers[0].Retries, s.Backends[0].Servers[0].Redispatches = 2, 3
	srv := httptest.NewServer(Handler(func(context.Context) *Snapshot { return s }))
	defer srv.Close()
	r, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, line := range []string{
		`luaedge_server_retry_warnings_total{proxy="app",server="s1"} 2`,
		`luaedge_server_redispatch_warnings_total{proxy="app",server="s1"} 3`,
		`luaedge_server_retry_warnings_total{proxy="app",server="s2"} 6`,
		`luaedge_server_redispatch_warnings_total{proxy="app",server="s2"} 1`,
		`luaedge_backend_retry_warnings_total{proxy="app"} 8`,
		`luaedge_backend_redispatch_warnings_total{proxy="app"} 4`,
		"# TYPE luaedge_backend_retry_warnings_total counter",
		"# TYPE luaedge_server_redispatch_warnings_total counter",
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("no %q in:\n%s", line, body)
		}
	}
}
