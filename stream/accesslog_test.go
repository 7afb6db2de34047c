package stream

import (
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
