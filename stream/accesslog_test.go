package stream

import (
	"strings"
	"testing"

	"github.com/luaedge/luaedge/accesslog"
)

// A line's level is chosen as HAProxy's strm_log chooses it: the one a
// script set, else err for an error on a frontend logging errors apart,
// else info.
func TestAccessLogLevel(t *testing.T) {
	for _, c := range []struct {
		name     string
		set      int // logState.level
		separate bool
		rec      accesslog.Record
		want     accesslog.Level
	}{
		{"normal", 0, true, accesslog.Record{Term: "--", Status: 200}, accesslog.LevelInfo},
		{"local answer", 0, true, accesslog.Record{Term: "LR", Status: 403}, accesslog.LevelInfo},
		{"error, not apart", 0, false, accesslog.Record{Term: "PR", Status: 400}, accesslog.LevelInfo},
		{"refused", 0, true, accesslog.Record{Term: "PR", Status: 400}, accesslog.LevelErr},
		{"client timeout", 0, true, accesslog.Record{Term: "cR", Status: 408}, accesslog.LevelErr},
		{"server's 503", 0, true, accesslog.Record{Term: "--", Status: 503}, accesslog.LevelErr},
		{"TCP", 0, true, accesslog.Record{TCP: true, Term: "--"}, accesslog.LevelInfo},
		{"retried", 0, true, accesslog.Record{Term: "--", Status: 200, Retries: 1}, accesslog.LevelErr},
		{"set debug", 7 + 1, true, accesslog.Record{Term: "PR", Status: 400}, accesslog.LevelDebug},
		{"set emerg", 0 + 1, false, accesslog.Record{Term: "--", Status: 200}, 0},
	} {
		lg := &AccessLog{SeparateErrors: c.separate}
		if got := lg.level(&logState{level: c.set, rec: c.rec}); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The entries a request's rules tracked are released one by one, by
// table and key, as its exchange ends.
func TestUntrackReleasesEachEntry(t *testing.T) {
	var got []string
	st := &Stream{env: &Env{Untrack: func(table, key string) { got = append(got, table+"/"+key) }}}
	st.untrack([]byte("www\x00127.0.0.1\x00api\x00k2\x00"))
	if strings.Join(got, " ") != "www/127.0.0.1 api/k2" {
		t.Errorf("released %q", got)
	}
}

// A line's counts: the process's and the frontend's connections and the
// backend's exchanges from the loops' counts, the server's requests in
// flight from the server; a request that went to no backend logs 0 for
// the backend and the server.
func TestLogConns(t *testing.T) {
	st := &Stream{env: &Env{Conns: fakeCounts{}}, fe: &Frontend{Index: 1}}
	l := &logState{be: 2, srv: fakeServer{}}
	st.logConns(l)
	if c := l.rec.Conns; c != (accesslog.Conns{Process: 10, Frontend: 1, Backend: 102, Server: 4}) {
		t.Errorf("conns %+v", c)
	}
	l = &logState{be: -1}
	st.logConns(l)
	if c := l.rec.Conns; c != (accesslog.Conns{Process: 10, Frontend: 1}) {
		t.Errorf("no backend: conns %+v", c)
	}
}

type fakeCounts struct{}

func (fakeCounts) Process() int64        { return 10 }
func (fakeCounts) Frontend(fe int) int64 { return int64(fe) }
func (fakeCounts) Backend(be int) int64  { return 100 + int64(be) }

type fakeServer struct{}

func (fakeServer) Name() string { return "s1" }
func (fakeServer) Active() int  { return 4 }
